"""Output checking: SACRO's rules of thumb, percentages on their counts, and differencing.

:func:`check_output` reads an output folder (:mod:`herkomst.enclave.outputs`) and judges it
with the thresholds of the authorization (:class:`~herkomst.enclave.rules.CheckRules`). Each
rule gives ``pass``, ``review`` or ``fail`` (:class:`~herkomst.enclave.rules.Status`) with the
cells it concerns; the output's status is the worst. Rules (``docs/output_checking.md``):

==============  ======================================================================
threshold       every published count (cells, totals, the counts behind percentages,
                means and quantiles) is 0 or at least ``threshold``; fail otherwise
zeros           published zero counts: ``rules.zeros`` (review by default)
full_cells      a row or column total held by one cell (class disclosure):
                ``rules.full_cells`` (review by default)
dominance_nk    magnitude cells: the ``dominance_n`` largest contributors hold less than
                ``dominance_k`` of the cell; fail otherwise (review with negative values)
p_ratio         magnitude cells: the contributors after the two largest hold at least
                ``p_ratio`` of the largest; fail otherwise
dof             regressions: residual degrees of freedom at least ``min_dof``
manual          figures and free files: always review (nothing can be checked)
differencing    together with every released output of the project (and the output's own
                totals and suppressions) no small group is revealed
                (:mod:`herkomst.enclave.differencing`)
==============  ======================================================================

Suggestions name a mitigation the researcher can apply (:mod:`herkomst.enclave.mitigate`) and
re-check: suppression with complementary cells, or merging categories.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .differencing import DifferencingResult, check_differencing
from .outputs import (
    COUNT_KINDS,
    FILE_KINDS,
    Cell,
    OutputKind,
    OutputRecord,
    read_output,
)
from .rules import CheckRules, Status

MAX_LISTED = 5


@dataclass(frozen=True)
class RuleCheck:
    rule: str
    status: Status
    detail: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class CheckedOutput:
    name: str
    kind: str
    status: Status
    checks: tuple[RuleCheck, ...]
    suggestions: tuple[str, ...]
    files: tuple[str, ...]
    sha256: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": str(self.status),
            "checks": [
                {
                    "rule": c.rule,
                    "status": str(c.status),
                    "detail": c.detail,
                    "cells": list(c.cells),
                }
                for c in self.checks
            ],
            "suggestions": list(self.suggestions),
            "files": list(self.files),
            "sha256": dict(sorted(self.sha256.items())),
        }

    def check(self, rule: str) -> RuleCheck:
        for c in self.checks:
            if c.rule == rule:
                return c
        raise KeyError(rule)


def _listing(rec: OutputRecord, ids: Sequence[str], what: str = "") -> str:
    cells = [rec.cell(i) for i in ids]
    shown = "; ".join(f"{c.label}{what and f' ({what_of(c, what)})'}" for c in cells[:MAX_LISTED])
    more = f"; and {len(cells) - MAX_LISTED} more" if len(cells) > MAX_LISTED else ""
    return shown + more


def what_of(c: Cell, what: str) -> str:
    if what == "count":
        return f"n={c.count}"
    return what


def _published(rec: OutputRecord) -> list[Cell]:
    return [c for c in rec.cells if not c.suppressed]


# -- the rules ---------------------------------------------------------------------------------


def threshold_rule(rec: OutputRecord, rules: CheckRules) -> RuleCheck:
    bad = [c.id for c in _published(rec) if 0 < c.count < rules.threshold]
    if not bad:
        return RuleCheck(
            "threshold", Status.PASS, f"every published count is 0 or >= {rules.threshold}", ()
        )
    behind = {
        OutputKind.PERCENTAGES: " (the counts behind the percentages)",
        OutputKind.MAGNITUDE: " (the records behind the cells)",
        OutputKind.QUANTILES: " (the records behind the quantiles)",
    }.get(rec.kind, "")
    return RuleCheck(
        "threshold",
        Status.FAIL,
        f"{len(bad)} cell(s) below the threshold {rules.threshold}{behind}: "
        + _listing(rec, bad, "count"),
        tuple(bad),
    )


def zeros_rule(rec: OutputRecord, rules: CheckRules) -> RuleCheck:
    zero = [c.id for c in _published(rec) if c.count == 0]
    if not zero:
        return RuleCheck("zeros", Status.PASS, "no zero cells", ())
    return RuleCheck(
        "zeros",
        rules.zeros,
        f"{len(zero)} zero cell(s) (class disclosure: nobody in the group): " + _listing(rec, zero),
        tuple(zero),
    )


def full_cells_rule(rec: OutputRecord, rules: CheckRules) -> RuleCheck:
    by_id = {c.id: c for c in rec.cells}
    has_cols = bool(rec.query.cols)
    full: list[str] = []
    for t in rec.cells:
        if not t.total or t.suppressed or t.count == 0 or len(t.parts) < 2:
            continue
        if has_cols and t.id == "T":
            continue  # the rows and columns already say it
        for p in t.parts:
            c = by_id[p]
            if not c.suppressed and c.count == t.count and p not in full:
                full.append(p)
    if not full:
        return RuleCheck("full_cells", Status.PASS, "no row or column held by one cell", ())
    return RuleCheck(
        "full_cells",
        rules.full_cells,
        f"{len(full)} cell(s) hold their whole row or column (everyone in the group shares "
        "the category: class disclosure): " + _listing(rec, full, "count"),
        tuple(full),
    )


def dominance_rules(rec: OutputRecord, rules: CheckRules) -> list[RuleCheck]:
    n, k, p = rules.dominance_n, rules.dominance_k, rules.p_ratio
    neg = [c.id for c in _published(rec) if c.negatives > 0]
    nk: list[str] = []
    pr: list[str] = []
    lacking: list[str] = []
    for c in _published(rec):
        if c.negatives > 0 or c.sum is None:
            continue
        if len(c.top) < min(n, c.count):
            lacking.append(c.id)
            continue
        total = c.sum
        if total > 0 and sum(c.top[:n]) / total >= k:
            nk.append(c.id)
        top1 = c.top[0] if c.top else 0.0
        rest = total - sum(c.top[:2])
        if top1 > 0 and rest / top1 < p:
            pr.append(c.id)
    out = []
    for rule, bad, text in (
        ("dominance_nk", nk, f"the {n} largest contributors hold >= {k:g} of the cell"),
        ("p_ratio", pr, f"the others hold < {p:g} of the largest contributor"),
    ):
        parts: list[str] = []
        status = Status.PASS
        if lacking:
            status = Status.FAIL
            parts.append(
                f"{len(lacking)} cell(s) record fewer contributors than the rule needs "
                f"(n={n}): re-make the output with this version of herkomst"
            )
        if bad:
            status = Status.FAIL
            parts.append(f"{len(bad)} cell(s) where {text}: " + _listing(rec, bad))
        if neg:
            status = max(status, Status.REVIEW)
            parts.append(
                f"{len(neg)} cell(s) with negative values, where dominance is not defined "
                "(a reviewer decides): " + _listing(rec, neg)
            )
        detail = "; ".join(parts) if parts else f"no cell where {text}"
        out.append(RuleCheck(rule, status, detail, (*lacking, *bad, *neg)))
    return out


def dof_rule(rec: OutputRecord, rules: CheckRules) -> RuleCheck:
    if rec.model is None:
        raise InputError(f"output {rec.name}: a regression without its model")
    d = rec.model.dof
    if d < rules.min_dof:
        return RuleCheck(
            "dof",
            Status.FAIL,
            f"residual degrees of freedom {d} < {rules.min_dof} (n={rec.model.n}, "
            f"rank {rec.model.rank})",
            ("model",),
        )
    return RuleCheck("dof", Status.PASS, f"residual degrees of freedom {d} >= {rules.min_dof}", ())


def differencing_rule(
    rec: OutputRecord,
    output_dir: Path,
    released: Sequence[Path],
    rules: CheckRules,
) -> tuple[RuleCheck, DifferencingResult]:
    others = []
    seen = {rec.name}
    for d in released:
        r = read_output(Path(d))
        if r.name in seen or not r.membership:
            continue
        seen.add(r.name)
        others.append((r, Path(d)))
    res = check_differencing([(rec, output_dir), *others], rules.threshold)
    with_ = f"with {len(others)} released output(s)" if others else "on its own"
    if not res.findings:
        return (
            RuleCheck(
                "differencing",
                Status.PASS,
                f"no small group revealed {with_} ({res.atoms} atoms, {res.lp_solves} LPs)",
                (),
            ),
            res,
        )
    shown = "; ".join(
        f"{f.label} (n={f.truth}, attacker's interval [{f.lo:g}, {f.hi:g}])"
        for f in res.findings[:MAX_LISTED]
    )
    more = f"; and {len(res.findings) - MAX_LISTED} more" if len(res.findings) > MAX_LISTED else ""
    cells = tuple(sorted({c for f in res.findings for c in f.cells}))
    return (
        RuleCheck(
            "differencing",
            Status.FAIL,
            f"{len(res.findings)} small group(s) revealed {with_}: {shown}{more}",
            cells,
        ),
        res,
    )


# -- suggestions -------------------------------------------------------------------------------


def _merge_suggestion(rec: OutputRecord, cell_ids: Sequence[str]) -> list[str]:
    """Name the categories to merge: for each failing cell, its smallest category and the
    neighbouring category with the smaller total."""
    dims = [*rec.query.rows, *rec.query.cols]
    totals: dict[str, dict[str, int]] = {d: {} for d in dims}
    for c in rec.interior:
        for d, v in c.key:
            totals[d][v] = totals[d].get(v, 0) + c.count
    out: list[str] = []
    for cid in cell_ids:
        c = rec.cell(cid)
        cand = [(totals[d][v], d, v) for d, v in c.key if v in totals.get(d, {})]
        if not cand:
            continue
        _, d, v = min(cand)
        cats = sorted(totals[d])
        if len(cats) < 2:
            continue
        i = cats.index(v)
        nbrs = [cats[j] for j in (i - 1, i + 1) if 0 <= j < len(cats)]
        w = min(nbrs, key=lambda x: (totals[d][x], x))
        a, b = sorted((v, w))
        s = (
            f"coarsen: merge {d} '{a}' with '{b}': "
            f"mitigate.coarsen('{rec.name}', '{d}', {{'{a}+{b}': ['{a}', '{b}']}})"
        )
        if s not in out:
            out.append(s)
    return out[:MAX_LISTED]


def _suggestions(
    rec: OutputRecord,
    output_dir: Path,
    checks: Sequence[RuleCheck],
    released: Sequence[Path],
    rules: CheckRules,
) -> tuple[str, ...]:
    from . import mitigate

    failing = {c.rule: c for c in checks if c.status == Status.FAIL}
    out: list[str] = []
    primary = sorted(
        {
            cid
            for r in ("threshold", "dominance_nk", "p_ratio", "differencing")
            if r in failing
            for cid in failing[r].cells
        }
    )
    if primary and rec.kind in COUNT_KINDS | {OutputKind.MAGNITUDE, OutputKind.QUANTILES}:
        try:
            plan = mitigate.plan_suppression(rec, output_dir, rules, primary, released)
        except InputError as e:
            out.append(f"suppress: not possible ({e.message})")
        else:
            comp = [c for c in plan if c not in primary]
            txt = f"suppress: hide {', '.join(primary)}"
            if comp:
                txt += f" and, so that they cannot be recovered, {', '.join(comp)}"
            out.append(f"{txt}: mitigate.suppress('{rec.name}', cells={primary!r})")
        if rec.kind != OutputKind.REGRESSION:
            out += _merge_suggestion(rec, [c for c in primary if not rec.cell(c).total] or primary)
    if "differencing" in failing and not primary:
        out.append(
            "differencing: use the category boundaries of the released outputs named above, "
            "or do not release this output"
        )
    if "dof" in failing:
        out.append("dof: use fewer regressors or more observations (a wider selection)")
    return tuple(out)


# -- the entry point ---------------------------------------------------------------------------


def _sha256(d: Path) -> dict[str, str]:
    out = {}
    for p in sorted(d.iterdir()):
        if p.is_file():
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def check_record(
    rec: OutputRecord,
    output_dir: Path,
    rules: CheckRules,
    released: Sequence[Path] = (),
) -> tuple[RuleCheck, ...]:
    """The rule checks of one record (its membership read from ``output_dir``)."""
    checks: list[RuleCheck] = []
    if rec.kind in FILE_KINDS:
        checks.append(
            RuleCheck(
                "manual",
                Status.REVIEW,
                f"a {rec.kind.value.replace('_', ' ')} cannot be checked automatically: "
                f"a reviewer must look at it ({rec.description})",
                (),
            )
        )
        return tuple(checks)
    if rec.kind == OutputKind.REGRESSION:
        checks.append(dof_rule(rec, rules))
    else:
        checks.append(threshold_rule(rec, rules))
    if rec.kind in COUNT_KINDS:
        checks.append(zeros_rule(rec, rules))
        checks.append(full_cells_rule(rec, rules))
    if rec.kind == OutputKind.MAGNITUDE:
        checks += dominance_rules(rec, rules)
    if rules.differencing and rec.membership:
        checks.append(differencing_rule(rec, output_dir, released, rules)[0])
    return tuple(checks)


def check_output(
    output_dir: Path, rules: CheckRules, released: Sequence[Path] = ()
) -> CheckedOutput:
    """Check one output folder, together with the project's released outputs."""
    output_dir = Path(output_dir)
    rec = read_output(output_dir)
    checks = check_record(rec, output_dir, rules, released)
    status = Status.worst(c.status for c in checks)
    suggestions = (
        _suggestions(rec, output_dir, checks, released, rules) if status == Status.FAIL else ()
    )
    return CheckedOutput(
        name=rec.name,
        kind=rec.kind.value,
        status=status,
        checks=checks,
        suggestions=suggestions,
        files=rec.files,
        sha256=_sha256(output_dir),
    )
