"""What the two definitions' person-level link adds to the public attacker (a diagnostic).

Run: ``.venv/bin/python tools/cross_definition_check.py RELEASE_DIR`` (a public release folder
with ``cells.parquet`` and ``manifest.json``). Prints JSON.

Every person has a class under ``eu15`` and one under ``eu`` (docs/origin.md). Whether self or
a parent is unknown does not depend on the definition, so a person is ``unknown_parents``
or ``outside`` under both, or ``inside``, ``unknown_grandparents`` or ``outside`` under both
(the United Kingdom makes ``inside`` -> ``outside`` possible, the later members ``outside`` ->
``inside``). Counting the persons of one row, this gives two inequalities the published
rules let anyone write down (Hall's condition on that bipartite table; the others follow
from them and the shared total):

    up(eu15) <= up(eu) + out(eu)        up(eu) <= up(eu15) + out(eu15)

Since 3 December 2026 the audit models them, as equalities with hidden link quantities
(``herkomst._cells.with_link_rows``; docs/protection.md, "Cross-definition modelling").
This script states them the other way, as two inequality rows per row of the tables over
the release without its link rows, and solves for every ``1-5`` cell the public attacker's
exact interval (HiGHS, the LP relaxation, with published values, labels, withheld
entities' bounds and rounded percentages, as the audit states them) with the inequalities,
then without them for the cells that do not reach both 1 and 4. It lists the cells whose
interval the inequalities narrow and, when the folder holds the audit's exact
``audit.parquet`` (``herkomst audit --exact``), every ``1-5`` cell whose interval there
differs from the one with the inequalities here (none expected: the two formulations
describe the same set). Slow (two LPs per cell on the whole release).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from herkomst._cells import LINK_STATUS, build_structure
from herkomst._highs import colwise_model
from herkomst.audit import (
    _knowledge,
    _read_manifest,
    attacker_view,
    read_cells,
    withheld_in_manifest,
)
from herkomst.authorization import load_authorization

ROW_KEY = ("year", "scope", "policy_domain", "entity", "breakdown", "sex", "age_class",
           "level", "position", "regime")  # fmt: skip


def main(release: Path) -> dict[str, Any]:
    rules = load_authorization().public
    cells = read_cells(release / "cells.parquet")
    view = attacker_view(cells, withheld_in_manifest(_read_manifest(release)))
    # the equalities only: the link rows are the audit's formulation of what this script
    # states as inequalities
    view = view.filter(pc.invert(pc.fill_null(pc.equal(view["status"], LINK_STATUS), False)))
    s = build_structure(view)
    k = _knowledge(view, s, rules)
    unk = ~k.known
    col = np.full(s.n_q, -1, dtype=np.int64)
    col[unk] = np.arange(int(unk.sum()))
    nv = int(unk.sum())
    inf = highspy.kHighsInf

    rows_r: list[np.ndarray] = []
    rows_c: list[np.ndarray] = []
    rows_v: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []

    def add(qs: list[int], coefs: list[float], lower: float, upper: float) -> None:
        const = sum(c * float(k.value[q]) for q, c in zip(qs, coefs, strict=True) if k.known[q])
        free = [(int(col[q]), c) for q, c in zip(qs, coefs, strict=True) if not k.known[q]]
        r = len(lo)
        rows_r.append(np.full(len(free), r, dtype=np.int64))
        rows_c.append(np.array([f for f, _ in free], dtype=np.int64))
        rows_v.append(np.array([c for _, c in free], dtype=np.float64))
        lo.append(lower - const)
        hi.append(upper - const)

    # every additive relation (the structure's own matrix), the published values moved to
    # the right-hand side
    mr, mc, mv = s.matrix()
    pub = k.known[mc]
    const_r = np.zeros(s.n_rel)
    np.add.at(const_r, mr[pub], mv[pub] * k.value[mc[pub]])
    rows_r.append(mr[~pub])
    rows_c.append(col[mc[~pub]])
    rows_v.append(mv[~pub])
    lo.extend((-const_r).tolist())
    hi.extend((-const_r).tolist())
    # rounded percentages: p_lo * T <= n <= p_hi * T
    for n_q, t_q, p_lo, p_hi in zip(k.p_n, k.p_t, k.p_lo, k.p_hi, strict=True):
        add([int(n_q), int(t_q)], [1.0, -float(p_lo)], 0.0, inf)
        add([int(n_q), int(t_q)], [1.0, -float(p_hi)], -inf, 0.0)
    n_equal = len(lo)
    keys = [c for c in ROW_KEY if c in view.column_names]
    cols = {c: view[c].to_pylist() for c in (*keys, "definition", "origin")}
    where: dict[tuple[Any, ...], int] = {}
    for i in range(view.num_rows):
        where[(tuple(cols[c][i] for c in keys), cols["definition"][i], cols["origin"][i])] = int(
            s.qid[i]
        )
    for key in sorted({w[0] for w in where}, key=repr):
        found = {(d, o): where.get((key, d, o)) for d in ("eu15", "eu")
                 for o in ("unknown_parents", "outside")}  # fmt: skip
        qs = {dk: v for dk, v in found.items() if v is not None}
        if len(qs) < len(found):
            continue
        for a, b in (("eu15", "eu"), ("eu", "eu15")):
            add(
                [qs[(a, "unknown_parents")], qs[(b, "unknown_parents")], qs[(b, "outside")]],
                [1.0, -1.0, -1.0], -inf, 0.0,
            )  # fmt: skip

    all_r, all_c, all_v = np.concatenate(rows_r), np.concatenate(rows_c), np.concatenate(rows_v)

    def model(n_rows: int) -> highspy.Highs:
        first = all_r < n_rows
        r, c, v = all_r[first], all_c[first], all_v[first]
        return colwise_model(
            r, c, v, np.zeros(nv), k.lb[unk], np.minimum(k.ub[unk], inf),
            np.array(lo[:n_rows]), np.array(hi[:n_rows]),
        )  # fmt: skip

    small = np.array([x == rules.small_label for x in view["shown"].to_pylist()], dtype=bool)
    targets = sorted({int(q) for q in s.qid[small] if unk[q]})

    def intervals(h: highspy.Highs, qs: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        prev = -1
        for q in qs:
            ends = []
            for sign in (1.0, -1.0):
                # only the previous target's cost and this one's change (one index each)
                cq = int(col[q])
                idx = [cq] if prev in (-1, cq) else [prev, cq]
                cost = [sign] if prev in (-1, cq) else [0.0, sign]
                h.changeColsCost(len(idx), np.array(idx, dtype=np.int32), np.array(cost))
                prev = cq
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    raise SystemExit(f"LP not optimal for quantity {q}: {h.getModelStatus()}")
                ends.append(sign * h.getInfo().objective_function_value)
            out.append((float(np.ceil(ends[0] - 1e-6)), float(np.floor(ends[1] + 1e-6))))
        return out

    # with the inequalities first: a cell that still reaches both ends of its label (1 and
    # 4) reaches them without (a superset): only the others need the second pass
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    with_ineq = dict(zip(targets, intervals(model(len(lo)), targets), strict=True))
    short = [q for q in targets if with_ineq[q][0] > smin or with_ineq[q][1] < smax]
    without = dict(zip(short, intervals(model(n_equal), short), strict=True))
    narrowed = []
    for tq in short:
        w_o, w_i = without[tq], with_ineq[tq]
        if w_o != w_i:
            i = int(np.nonzero(s.qid == tq)[0][0])
            cell = {
                c: cols[c][i] for c in (*keys, "definition", "origin") if cols[c][i] is not None
            }
            narrowed.append({"cell": cell, "without": w_o, "with": w_i})
    out: dict[str, Any] = {
        "release": str(release),
        "unknowns": nv,
        "inequalities": len(lo) - n_equal,
        "small_cells": len(targets),
        "short_of_1_to_4_with": len(short),
        "narrowed": narrowed,
    }
    audit_file = release / "audit.parquet"
    if audit_file.exists():
        a = pq.read_table(audit_file)
        a = a.filter(
            pc.and_(
                pc.and_(pc.equal(a["attacker"], "public"), pc.equal(a["target"], "small")),
                pc.fill_null(a["exact"], False),
            )
        )
        akeys = [*keys, "definition", "origin"]
        got = {tuple(r[c] for c in akeys): (r["lower"], r["upper"]) for r in a.to_pylist()}
        differ = []
        compared = 0
        for tq in targets:
            i = int(np.nonzero(s.qid == tq)[0][0])
            key = tuple(cols[c][i] for c in akeys)
            if key not in got:
                continue
            compared += 1
            if got[key] != with_ineq[tq]:
                differ.append({"cell": dict(zip(akeys, key, strict=True)),
                               "audit": got[key], "here": with_ineq[tq]})  # fmt: skip
        out["compared_with_audit"] = compared
        out["differ_from_audit"] = differ
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: tools/cross_definition_check.py RELEASE_DIR")
    print(json.dumps(main(Path(sys.argv[1])), indent=2, default=str))
