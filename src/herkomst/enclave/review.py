"""Review, release decisions and export of a project's outputs.

- :func:`pending` re-checks every pending output against the outputs released so far (the
  differencing check depends on them) and lists them with their check results.
- :func:`decide` approves or rejects one pending output, with the reviewer and a reason;
  approving an output whose status is ``fail`` also needs a written justification. The
  decision records the SHA-256 of every file of the output; an approved output is copied to
  ``released/`` (with its membership file) so that later outputs are checked against it.
- :func:`export` copies only approved outputs, and only the files researchers see (never
  ``output.json``, with its contributors' values, nor ``membership.parquet``, with sequence
  numbers), after re-verifying every file against the approval record (a changed, added or
  removed file refuses the whole export) and re-checking each output against the outputs
  approved before it; it writes ``results.json`` in ACRO's layout (so SACRO's viewer can read
  it) with herkomst's fields, and ``SHA256SUMS``.

Every re-check, decision and export is appended to the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import CheckFailed, InputError, UsageError
from .auditlog import AuditLog
from .rules import Status, load_enclave_rules
from .workspace import (
    INTERNAL_FILES,
    RECORD_FILES,
    OutputState,
    Workspace,
    copy_tree_private,
    private_dir,
    read_json,
    write_json,
)

#: ACRO's output types, for results.json (SACRO's viewer groups by them).
ACRO_TYPES = {
    "frequency": "table",
    "crosstab": "table",
    "percentages": "table",
    "magnitude": "table",
    "quantiles": "table",
    "regression": "regression",
    "figure": "custom",
    "free_file": "custom",
}
MIN_JUSTIFICATION = 20


@dataclass(frozen=True)
class ReviewItem:
    """One output as the reviewer sees it."""

    name: str
    run: str
    state: OutputState
    status: Status
    kind: str
    checks: tuple[Mapping[str, Any], ...]
    suggestions: tuple[str, ...]
    files: tuple[str, ...]
    decisions: tuple[Mapping[str, Any], ...]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def output_hashes(out_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of an output folder except its state (which decisions change)."""
    return {
        p.relative_to(out_dir).as_posix(): _sha256(p)
        for p in sorted(out_dir.rglob("*"))
        if p.is_file() and p.name != "state.json"
    }


def _item(ws: Workspace, name: str) -> ReviewItem:
    d = ws.output_dir(name)
    state = read_json(d / "state.json")
    check = read_json(d / "check.json")
    return ReviewItem(
        name=name,
        run=str(state.get("run", "")),
        state=OutputState(state["state"]),
        status=Status(check["status"]),
        kind=str(check.get("kind", "")),
        checks=tuple(check.get("checks", [])),
        suggestions=tuple(check.get("suggestions", [])),
        files=tuple(check.get("files", [])),
        decisions=tuple(state.get("decisions", [])),
    )


def outputs(ws: Workspace) -> list[ReviewItem]:
    """Every output of the project with its state and check results."""
    return [_item(ws, n) for n in ws.output_names()]


def _released_before(ws: Workspace, name: str | None = None) -> list[Path]:
    """Released outputs (approved), in approval order, up to (excluding) ``name``."""
    order: list[tuple[str, Path]] = []
    for d in ws.released_dirs():
        try:
            approved_at = read_json(d / "state.json")["decisions"][-1]["time"]
        except (InputError, KeyError, IndexError, TypeError):
            approved_at = ""
        order.append((approved_at, d))
    order.sort()
    out: list[Path] = []
    for _, d in order:
        if d.name == name:
            break
        out.append(d)
    return out


def _recheck(
    ws: Workspace, name: str, actor: str, log: AuditLog, released: Sequence[Path]
) -> Status:
    """Check a pending output again against ``released``; store and log a changed result."""
    from .checking import check_output

    rules = load_enclave_rules(_authorization(ws))
    d = ws.output_dir(name)
    old = read_json(d / "check.json")
    result = check_output(d, rules.checking, released=released)
    new = result.to_json()
    if new != old:
        write_json(d / "check.json", new)
        state = read_json(d / "state.json")
        state["status"] = str(result.status)
        write_json(d / "state.json", state)
        log.append(
            actor,
            "check",
            {
                "output": name,
                "recheck": True,
                "status": str(result.status),
                "previous_status": old.get("status"),
                "rules": {c.rule: str(c.status) for c in result.checks},
                "checked_against_released": [p.name for p in released],
                "files": output_hashes(d),
            },
        )
    return result.status


def _authorization(ws: Workspace) -> str:
    from ..extract._retention import get_project

    project = get_project(ws.warehouse, ws.project)
    if project is None:
        raise UsageError(f"project '{ws.project}' is not in the register")
    return project.authorization_id


def pending(
    ws: Workspace, actor: str = "reviewer", log_key: bytes | None = None
) -> list[ReviewItem]:
    """Re-check and list the pending outputs (against every output released so far)."""
    log = AuditLog(ws.log, ws.project, log_key)
    released = _released_before(ws)
    items = []
    for name in ws.output_names():
        item = _item(ws, name)
        if item.state is OutputState.PENDING:
            _recheck(ws, name, actor, log, released)
            items.append(_item(ws, name))
    return items


def decide(
    ws: Workspace,
    name: str,
    approve: bool,
    reason: str,
    reviewer: str,
    justification: str | None = None,
    log_key: bytes | None = None,
) -> ReviewItem:
    """Approve or reject one pending output (see the module doc)."""
    if name not in ws.output_names():
        raise UsageError(
            f"project '{ws.project}' has no output named '{name}' "
            f"(outputs: {', '.join(ws.output_names()) or 'none'})"
        )
    item = _item(ws, name)
    if item.state is not OutputState.PENDING:
        raise UsageError(
            f"output '{name}' is already {item.state}; a decision is final (run the script "
            "again to submit a new version under a new name)"
        )
    if not reason.strip():
        raise UsageError("a decision needs a reason (--reason)")
    if not reviewer.strip():
        raise UsageError("a decision needs the reviewer's name (--reviewer)")
    log = AuditLog(ws.log, ws.project, log_key)
    status = _recheck(ws, name, reviewer, log, _released_before(ws)) if approve else item.status
    just = (justification or "").strip()
    if approve and status is Status.FAIL and len(just) < MIN_JUSTIFICATION:
        failed = ", ".join(str(c["rule"]) for c in _item(ws, name).checks if c["status"] == "fail")
        raise UsageError(
            f"output '{name}' fails the rule(s) {failed}: approving it as an exception needs a "
            f"written justification of at least {MIN_JUSTIFICATION} characters (--justification)"
        )
    d = ws.output_dir(name)
    hashes = output_hashes(d)
    verb = "approve" if approve else "reject"
    decision: dict[str, Any] = {
        "decision": verb,
        "reviewer": reviewer.strip(),
        "reason": reason.strip(),
        "justification": just or None,
        "status_at_decision": str(status),
        "time": _now(),
        "sha256": hashes,
    }
    state = read_json(d / "state.json")
    state["state"] = (OutputState.APPROVED if approve else OutputState.REJECTED).value
    state["decisions"] = [*state.get("decisions", []), decision]
    write_json(d / "state.json", state)
    if approve:
        copy_tree_private(d, ws.released / name)
    log.append(
        reviewer.strip(),
        verb,
        {
            "output": name,
            "status": str(status),
            "reason": decision["reason"],
            "justification": decision["justification"],
            "files": hashes,
        },
    )
    return _item(ws, name)


def _verify_approved(ws: Workspace, name: str) -> tuple[dict[str, Any], list[str]]:
    """The approval decision and the problems of an approved output's files (empty: intact)."""
    d = ws.output_dir(name)
    state = read_json(d / "state.json")
    approvals = [x for x in state.get("decisions", []) if x.get("decision") == "approve"]
    if not approvals:
        return {}, [f"{name}: no approval decision recorded"]
    approval = approvals[-1]
    recorded: dict[str, str] = dict(approval.get("sha256", {}))
    now = output_hashes(d)
    problems = []
    for f in sorted(set(recorded) | set(now)):
        if f not in now:
            problems.append(f"{name}/{f} was removed after approval")
        elif f not in recorded:
            problems.append(f"{name}/{f} was added after approval")
        elif now[f] != recorded[f]:
            problems.append(f"{name}/{f} changed after approval (SHA-256 differs)")
    return approval, problems


def _acro_summary(checks: Sequence[Mapping[str, Any]], status: str) -> tuple[str, dict[str, Any]]:
    counts = {"threshold": 0, "p-ratio": 0, "nk-rule": 0, "all-values-are-same": 0}
    parts = []
    for c in checks:
        rule = str(c.get("rule", ""))
        n = len(c.get("cells", []))
        if c.get("status") != "pass":
            parts.append(
                f"{rule}: {c.get('status')} ({n} cells)" if n else f"{rule}: {c.get('status')}"
            )
        if "threshold" in rule:
            counts["threshold"] += n
        elif "p_ratio" in rule or "p-ratio" in rule:
            counts["p-ratio"] += n
        elif "dominance" in rule or "nk" in rule:
            counts["nk-rule"] += n
    summary = status + (("; " + "; ".join(parts)) if parts else "")
    return summary, {"summary": {"suppressed": False, "negative": 0, "missing": 0, **counts}}


def _outcome(checks: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """ACRO's ``outcome`` shape (column -> row -> value): rule -> cell -> status."""
    out: dict[str, dict[str, str]] = {}
    for c in checks:
        cells = c.get("cells", [])
        if cells:
            out[str(c["rule"])] = {str(cell): str(c["status"]) for cell in cells}
    return out


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    outputs: tuple[str, ...]
    files: Mapping[str, str]  # exported file -> SHA-256
    results_sha256: str


def export(
    ws: Workspace, out_dir: Path, actor: str = "supervisor", log_key: bytes | None = None
) -> ExportResult:
    """Export the approved outputs (see the module doc); refuse everything on any problem."""
    approved = [i for i in outputs(ws) if i.state is OutputState.APPROVED]
    if not approved:
        raise UsageError(f"project '{ws.project}' has no approved output to export")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise UsageError(f"{out_dir}: the export folder is not empty; give an empty or new folder")
    from .checking import check_output

    rules = load_enclave_rules(_authorization(ws))
    log = AuditLog(ws.log, ws.project, log_key)
    problems: list[str] = []
    approvals: dict[str, dict[str, Any]] = {}
    checks: dict[str, dict[str, Any]] = {}
    for item in approved:
        approval, bad = _verify_approved(ws, item.name)
        problems += bad
        approvals[item.name] = approval
        if bad:
            continue
        d = ws.output_dir(item.name)
        now = check_output(d, rules.checking, released=_released_before(ws, item.name))
        at_approval = Status(approval["status_at_decision"])
        if now.status > at_approval:
            problems.append(
                f"{item.name}: its check is now {now.status}, {at_approval} when approved; "
                "review it again"
            )
        checks[item.name] = read_json(d / "check.json")
        for f in item.files:
            if f in INTERNAL_FILES or f in RECORD_FILES or "/" in f or f.startswith("."):
                problems.append(f"{item.name}/{f}: an internal file cannot be exported")
            elif not (d / f).is_file():
                problems.append(f"{item.name}/{f}: listed but missing")
    if problems:
        log.append(actor, "export-refused", {"problems": problems, "out": str(out_dir)})
        raise CheckFailed(f"export refused: {'; '.join(problems)}")
    private_dir(out_dir)
    head_seq, head_hash = log.head()
    files: dict[str, str] = {}
    results: dict[str, Any] = {}
    for item in approved:
        d = ws.output_dir(item.name)
        approval = approvals[item.name]
        record = read_json(d / "output.json")
        dest = out_dir / item.name
        dest.mkdir(mode=0o700)
        names = []
        for f in item.files:
            shutil.copyfile(d / f, dest / f)
            os.chmod(dest / f, 0o600)
            rel = f"{item.name}/{f}"
            files[rel] = _sha256(dest / f)
            if files[rel] != approval["sha256"].get(f):
                raise CheckFailed(f"export refused: {rel} changed while copying")
            names.append(rel)
        check = checks[item.name]
        summary, sdc = _acro_summary(check.get("checks", []), str(check["status"]))
        results[item.name] = {
            "uid": item.name,
            "status": str(check["status"]),
            "type": ACRO_TYPES.get(item.kind, "custom"),
            "properties": {"method": item.kind},
            "files": [{"name": n, "sdc": sdc} for n in names],
            "outcome": _outcome(check.get("checks", [])),
            "command": json.dumps(record.get("query", {}), sort_keys=True),
            "summary": summary,
            "timestamp": approval["time"],
            "comments": [approval["reason"]],
            "exception": approval.get("justification") or "",
            # herkomst's fields
            "herkomst": {
                "state": "approved",
                "status": str(check["status"]),
                "checks": check.get("checks", []),
                "suggestions": check.get("suggestions", []),
                "reviewer": approval["reviewer"],
                "reason": approval["reason"],
                "justification": approval.get("justification"),
                "decided_at": approval["time"],
                "run": item.run,
                "sha256": {n: files[n] for n in names},
            },
        }
    exported_at = _now()
    doc: dict[str, Any] = {
        "version": __version__,
        "results": results,
        "herkomst": {
            "format": "ACRO results.json layout (SACRO viewer), with herkomst fields",
            "project": ws.project,
            "exported_at": exported_at,
            "exported_by": actor,
            "audit_log_head": {"seq": head_seq, "hash": head_hash},
        },
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    (out_dir / "results.json").write_text(text, "utf-8")
    results_sha = hashlib.sha256(text.encode()).hexdigest()
    files["results.json"] = results_sha
    sums = "".join(f"{h}  {n}\n" for n, h in sorted(files.items()))
    (out_dir / "SHA256SUMS").write_text(sums, "utf-8")
    for item in approved:
        d = ws.output_dir(item.name)
        state = read_json(d / "state.json")
        state.setdefault("exports", []).append({"time": exported_at, "out": str(out_dir)})
        write_json(d / "state.json", state)
    log.append(
        actor,
        "export",
        {
            "out": str(out_dir),
            "outputs": [i.name for i in approved],
            "files": files,
            "results_sha256": results_sha,
            "sha256sums_sha256": hashlib.sha256(sums.encode()).hexdigest(),
        },
    )
    return ExportResult(
        out_dir=out_dir,
        outputs=tuple(i.name for i in approved),
        files=files,
        results_sha256=results_sha,
    )
