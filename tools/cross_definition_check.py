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
interval the inequalities narrow, and compares the intervals with the inequalities with
the audit's own exact intervals of the same cells (``herkomst.audit._intervals`` on the
view with the link rows): none should differ, the two formulations describe the same
set. Slow (two LPs per cell and formulation on the whole release).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pyarrow.compute as pc

from herkomst._cells import LINK_STATUS, build_structure
from herkomst._highs import colwise_model
from herkomst.audit import (
    _intervals,
    _knowledge,
    _read_manifest,
    _Stats,
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
    # the audit's own model (the link quantities) for the same cells
    view_l = attacker_view(cells, withheld_in_manifest(_read_manifest(release)))
    s_l = build_structure(view_l)
    k_l = _knowledge(view_l, s_l, rules)
    order = np.argsort(s_l.rcode, kind="stable")
    code = s_l.coder.encode(view.select(view_l.column_names))
    rows_of = {int(q): int(np.nonzero(s.qid == q)[0][0]) for q in targets}
    pos = np.searchsorted(s_l.rcode[order], code[[rows_of[q] for q in targets]])
    tq_l = s_l.qid[order[pos]]
    n_t = len(targets)
    a_lo, a_hi, _ = _intervals(
        s_l, k_l, tq_l.astype(np.int64), np.full(n_t, smin), np.full(n_t, smax), True, _Stats()
    )
    differ = []
    for j, tq in enumerate(targets):
        got = (float(np.ceil(a_lo[j] - 1e-6)), float(np.floor(a_hi[j] + 1e-6)))
        if got != with_ineq[tq]:
            i = rows_of[tq]
            cell = {
                c: cols[c][i] for c in (*keys, "definition", "origin") if cols[c][i] is not None
            }
            differ.append({"cell": cell, "audit": got, "inequalities": with_ineq[tq]})
    out["compared_with_audit"] = n_t
    out["differ_from_audit"] = differ
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: tools/cross_definition_check.py RELEASE_DIR")
    print(json.dumps(main(Path(sys.argv[1])), indent=2, default=str))
