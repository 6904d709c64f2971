"""Staging a project's full-population dataset in the enclave (phase 2 of 23/224).

:func:`stage` builds, with the same code as the phase-1 extract (:func:`build_extract` with
``whole_population=True``), one row per person and year of the *whole* population, with
exactly the variables and class schemes of the project's last delivered extract (read from
its manifest). Sequence numbers come from the project's vault: the persons of the phase-1
sample keep theirs, everyone else is numbered on (N+1, ...) in a random order drawn by the
operating system's CSPRNG (never in SSIN order). The result goes to the workspace's ``data/``
as ``population.parquet`` (``seq_no``, ``year``, the variables), ``codebook.json`` and
``manifest.json``; nothing else of the build is kept. The stage is written to the audit log
with the SHA-256 of every staged file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import AuthorizationError, InputError, UsageError
from ..extract import ExtractParams, Vault, build_extract, load_extract_authorization
from ..extract._retention import VAULT_DIR, ProjectStatus, get_project, open_register
from ..rules import RuleSet
from .auditlog import AuditLog
from .rules import load_enclave_rules
from .workspace import SANDBOX_GID, Workspace, is_root, private_dir, write_json


@dataclass(frozen=True)
class StageParams:
    """What to stage: a project of the register, from a data-warehouse folder."""

    project: str
    warehouse: Path
    dwh: Path
    population: str | None = None  # checked against the project's when given
    staged_on: dt.date = field(default_factory=dt.date.today)
    actor: str = "operator"


@dataclass(frozen=True)
class StageResult:
    workspace: Workspace
    persons: int
    rows: int
    kept: int  # persons who already had a number (the phase-1 sample, earlier stagings)
    numbered_on: int  # persons numbered now
    variables: dict[str, str]
    files: dict[str, str]  # staged file -> SHA-256


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def delivered_variables(warehouse: Path, project: str) -> tuple[dict[str, str], Path]:
    """The variables and schemes of the project's last delivery (from its staged manifest)."""
    with open_register(warehouse) as con:
        row = con.execute(
            "SELECT staged_at FROM deliveries WHERE project = ? ORDER BY delivery DESC LIMIT 1",
            [project],
        ).fetchone()
    if row is None:
        raise UsageError(
            f"project '{project}' has no delivered extract: phase 2 stages the variables and "
            "classes of the phase-1 extract (run `herkomst extract` first)"
        )
    manifest = Path(str(row[0])) / "manifest.json"
    try:
        data = json.loads(manifest.read_text("utf-8"))
        variables = {str(k): str(v) for k, v in data["variables"].items()}
    except (OSError, ValueError, KeyError, AttributeError):
        raise InputError(
            f"{manifest}: the manifest of the last delivery of '{project}' is missing or "
            "unreadable; it names the variables and classes to stage"
        ) from None
    if data.get("project") != project:
        raise InputError(f"{manifest}: this manifest is not of project '{project}'")
    return variables, manifest


def stage(
    params: StageParams,
    vault_key: bytes,
    engine: Engine | None = None,
    rules: RuleSet | None = None,
    log_key: bytes | None = None,
) -> StageResult:
    """Stage the project's full population in its enclave workspace (see the module doc)."""
    from ..validate import ValidationOptions, load_dataset

    ws = Workspace(params.warehouse, params.project)
    project = get_project(params.warehouse, params.project)
    if project is None:
        raise UsageError(
            f"project '{params.project}' is not in the register of {params.warehouse}; the "
            "enclave stages a project after its phase-1 extract"
        )
    if project.status is ProjectStatus.DESTROYED:
        raise AuthorizationError(
            f"project '{params.project}' was destroyed at the end of its retention; "
            "nothing can be staged"
        )
    if params.population is not None and params.population != project.population:
        raise UsageError(
            f"project '{params.project}' is of population '{project.population}', "
            f"not '{params.population}'"
        )
    auth = load_extract_authorization(project.authorization_id, rules=rules)
    enclave_rules = load_enclave_rules(auth.path)  # phase 2 needs [enclave]: fail closed
    variables, manifest_path = delivered_variables(params.warehouse, params.project)
    vault = Vault(params.warehouse / VAULT_DIR, vault_key)
    before = set(vault.load(params.project))
    ws.create()
    build = private_dir(ws.root / ".build")
    shutil.rmtree(build)
    own = engine is None
    eng = engine or Engine()
    try:
        dataset = load_dataset(eng, params.dwh, options=ValidationOptions())
        result = build_extract(
            eng,
            auth,
            ExtractParams(
                project=params.project,
                population=project.population,
                sample_size=1,  # not used: the whole population
                seed=0,
                warehouse=params.warehouse,
                variables=tuple(variables.items()),
                delivered_on=params.staged_on,
                risk=None,
                csv=False,
                whole_population=True,
            ),
            build,
            vault_key,
            rules=rules,
            inputs=dataset.inputs(),
        )
        after = vault.load(params.project)
        staged = private_dir(ws.root / ".staged")
        shutil.rmtree(staged)
        private_dir(staged)
        src = str(build / "extract.parquet").replace("'", "''")
        eng.write_parquet(
            f"SELECT pid AS seq_no, * EXCLUDE (pid) FROM read_parquet('{src}') "
            "ORDER BY seq_no, year",
            staged / "population.parquet",
        )
        book = json.loads((build / "codebook.json").read_text("utf-8"))
        for entry in book["variables"]:
            if entry["name"] == "pid":
                entry["name"] = "seq_no"
                entry["label"] = (
                    "sequence number of the person (meaningless, random; the same as in the "
                    "phase-1 extract for the persons of the sample)"
                )
        write_json(staged / "codebook.json", book)
        manifest: dict[str, Any] = dict(result.manifest)
        for key in ("design", "files", "counts"):
            manifest.pop(key, None)
        manifest |= {
            "kind": "enclave_population",
            "counts": {
                "persons": result.persons,
                "person_years": result.rows,
                "kept_numbers": len(before),
                "numbered_on": len(after) - len(before),
            },
            "phase_1_manifest": manifest_path.name,
            "staged_on": params.staged_on.isoformat(),
            "enclave": enclave_rules.provenance(),
        }
        manifest.pop("delivered_on", None)
        write_json(staged / "manifest.json", manifest)
        files = {n: _sha256(staged / n) for n in ("population.parquet", "codebook.json")}
        files["manifest.json"] = _sha256(staged / "manifest.json")
        if ws.data.exists():
            shutil.rmtree(ws.data)
        os.replace(staged, ws.data)
        _open_to_sandbox(ws.data)
    finally:
        shutil.rmtree(build, ignore_errors=True)
        shutil.rmtree(ws.root / ".staged", ignore_errors=True)
        if own:
            eng.close()
    AuditLog(ws.log, params.project, log_key).append(
        params.actor,
        "stage",
        {
            "population": project.population,
            "authorization": {"id": auth.id, "sha256": auth.sha256},
            "enclave_rules_sha256": enclave_rules.sha256,
            "persons": result.persons,
            "person_years": result.rows,
            "kept_numbers": len(before),
            "numbered_on": len(after) - len(before),
            "variables": variables,
            "files": files,
            "inputs": result.manifest.get("inputs", []),
            "staged_on": params.staged_on.isoformat(),
        },
    )
    return StageResult(
        workspace=ws,
        persons=result.persons,
        rows=result.rows,
        kept=len(before),
        numbered_on=len(after) - len(before),
        variables=variables,
        files=files,
    )


def _open_to_sandbox(data: Path) -> None:
    """``data/`` 0750 and its files 0640, group = the sandbox group (root) or 0700/0600.

    The workspace above is 0700, so nobody else on the host reaches these files; the group
    lets the run (which executes as the sandbox uid/gid when the supervisor is root) read them.
    """
    root = is_root()
    for p in [data, *data.iterdir()]:
        if root:
            os.chown(p, 0, SANDBOX_GID)
            p.chmod(0o750 if p.is_dir() else 0o640)
        else:
            p.chmod(0o700 if p.is_dir() else 0o600)
