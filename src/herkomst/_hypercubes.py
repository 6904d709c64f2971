"""Hypercube witnesses: tables the attacker cannot exclude, built from moves of people.

The audit proves that a masked cell can take a value ``g`` by exhibiting a *witness*: a
table that agrees with everything published and with every label, satisfies every additive
relation, and has the cell at ``g`` (docs/protection.md, "Sparse witnesses"). Linear
programs find witnesses for any release but cost tens of milliseconds each; this module
builds them by construction, for many cells at once, the way the hypercube method of
statistical disclosure control (Repsilber; Giessing and Repsilber 2002, GHMITER in
tau-Argus) builds its suppression patterns.

A person counts in one cell of every table: for each unit of the chain entity, policy
domain, administration, in the row of each breakdown that his variables select, in the
``total`` column and in his origin's column in every definition (with ``unknown`` when the
origin is one of its parts). Any signed sum of such *person vectors* keeps every additive
relation. For a target ``(u, row X = v of a single breakdown X, origin a)`` the moves are

- the *origin swap* (eight persons): ``+ (u, v, a) - (u, v, b) - (u, v', a) + (u, v', b)``
  and the same with the opposite sign in a partner unit, ``v'`` another category of ``X``
  and ``b`` another origin of the definition: the ``total`` column, the ``total``
  breakdown, the other variables' breakdowns and the other definitions cancel;
- the *row move* (four persons): a person of origin ``a`` (and some origin in every other
  definition) moves from row ``v'`` to row ``v`` in ``u`` and the other way in the partner:
  the ``total`` column and the other definition's columns of both rows move too (the only
  move for a target of the ``total`` column).

The partner is another entity of the same policy domain for an entity's cell (the domain
and the administration cancel), then an entity of another domain (both domains' cells
move); an entity of another domain for a domain's cell; none for the administration's cells
(an entity, its domain and the administration move together). Targets whose scope has an
``all`` table are not served: their people's combination rows would move too.

A witness is a sum of at most three such moves (a 1-5 label spans three steps), every cell
it moves unpublished and within what the attacker knows of it (labels, bounds). This module
only proposes witnesses: the audit checks each one itself (:func:`check`: every relation of
its structure, every bound) before it uses it, so a wrong proposal can cost a witness, never
soundness. For the officials: a witness that leaves an entity's cells untouched serves that
entity's official (he knows no more than his own cells); two witnesses with disjoint
partners serve every official.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ._cells import (
    LEVEL_ADMINISTRATION,
    LEVEL_DOMAIN,
    LEVEL_ENTITY,
    ORIGIN_PARTS,
    UNKNOWN_PARTS,
    BoolArray,
    FloatArray,
    IntArray,
    Structure,
    Units,
)
from .tabulate import VARIABLES

#: candidates handled at once (memory: about 60 cells of 8 arrays per candidate)
CHUNK = 40_000


@dataclass(frozen=True)
class Points:
    """Proposed witnesses: point ``j`` puts target quantity ``q[j]`` at ``goal[j]`` by moving
    quantities ``idx[ptr[j]:ptr[j+1]]`` by ``dev[ptr[j]:ptr[j+1]]`` from the truth."""

    q: IntArray
    goal: FloatArray
    ptr: IntArray
    idx: IntArray
    dev: FloatArray

    @property
    def n(self) -> int:
        return int(self.q.shape[0])


#: a column of a move: (definition, origin, coefficient); definition None: the target's
Column = tuple[str | None, str, float]


def _column_moves(
    origins: list[str], definitions: list[str]
) -> dict[tuple[str, str], list[list[Column]]]:
    """Per (definition, target origin), the column vectors of the moves that change the
    target by +1 when its row gains one person and another row loses one.

    - *origin swaps* (the eight-person hypercube): the row gains one person of origin ``a``
      and one of origin ``b`` leaves it (the other way round in the other row): only ``a``,
      ``b`` and ``unknown`` (when one of them is one of its parts) of the target's
      definition change; the ``total`` column and the other definitions do not;
    - *row moves* (the four-person cross): a person moves between the rows with every
      origin he has: the ``total`` column, his origin ``a`` in the target's definition and
      an origin ``c`` in every other definition (each with ``unknown`` where it is a part).
    """
    leaves = [o for o in (*ORIGIN_PARTS, *UNKNOWN_PARTS) if o != "unknown" and o in origins]
    has_unknown = "unknown" in origins

    def person(dfn: str | None, a: str) -> list[Column]:
        out: list[Column] = [(dfn, a, 1.0)]
        if a in UNKNOWN_PARTS and has_unknown:
            out.append((dfn, "unknown", 1.0))
        return out

    def swap(a: str, b: str) -> list[Column]:
        acc: dict[tuple[str | None, str], float] = {}
        for sign, o in ((1.0, a), (-1.0, b)):
            for dfn, col, c in person(None, o):
                acc[(dfn, col)] = acc.get((dfn, col), 0.0) + sign * c
        return [(dfn, col, c) for (dfn, col), c in acc.items() if c]

    moves: dict[tuple[str, str], list[list[Column]]] = {}
    for dfn in definitions:
        others = [x for x in definitions if x != dfn]
        # the other definitions' origins of a moved person: every combination
        other_sets: list[list[Column]] = [[]]
        for o_d in others:
            other_sets = [acc + person(o_d, c) for acc in other_sets for c in leaves]

        def row_moves(
            a_list: list[str], others_sets: list[list[Column]] = other_sets
        ) -> list[list[Column]]:
            return [
                [(None, "total", 1.0), *person(None, a), *rest]
                for a in a_list
                for rest in others_sets
            ]

        for a in leaves:
            moves[(dfn, a)] = [swap(a, b) for b in leaves if b != a] + row_moves([a])
        if has_unknown:
            moves[(dfn, "unknown")] = [
                swap(a, b) for a in UNKNOWN_PARTS if a in leaves for b in leaves
                if b not in UNKNOWN_PARTS
            ] + row_moves([a for a in UNKNOWN_PARTS if a in leaves])  # fmt: skip
        moves[(dfn, "total")] = row_moves(leaves)
    return moves


def propose(
    view: pa.Table,
    s: Structure,
    units: Units,
    hidden: BoolArray,
    truth: FloatArray,
    lb: FloatArray,
    ub: FloatArray,
    tq: IntArray,
    goal_lo: FloatArray,
    goal_hi: FloatArray,
) -> Points:
    """Witnesses for the targets ``tq`` (quantities) at each of their goals (``goal_lo``,
    ``goal_hi``; NaN: none). A witness is a sum of hypercubes (:func:`_greedy`: at most three,
    a 1-5 label spans three steps), moving only unpublished quantities (``hidden``) within
    ``lb``/``ub``. Per target and goal: a first witness, and a second one that moves none of
    the entities the first moves (the target's own aside), so that the two serve every
    official. Deterministic: candidates in a fixed order, ties to the first."""
    coder = s.coder
    n_rows = view.num_rows
    d = coder.digits(view)
    mult = coder.mult
    # representative row of each quantity (its first row) and of each unit
    q_row = np.full(s.n_q, -1, dtype=np.int64)
    q_row[s.qid[::-1]] = np.arange(n_rows, dtype=np.int64)[::-1]
    row_unit = units.q_unit[s.qid]
    u_row = np.full(units.n_units, -1, dtype=np.int64)
    u_row[row_unit[::-1]] = np.arange(n_rows, dtype=np.int64)[::-1]
    ur = np.maximum(u_row, 0)
    unit_code = (
        d["scope"][ur] * mult["scope"]
        + d["policy_domain"][ur] * mult["policy_domain"]
        + d["entity"][ur] * mult["entity"]
    )
    order = np.argsort(s.rcode, kind="stable")
    sorted_codes = s.rcode[order]
    # (scope, breakdown) pairs the release has: a cell absent from a table the release has
    # is a zero the attacker knows; one of a table it lacks constrains nothing
    pair_radix = len(coder.values["breakdown"]) + 1
    present = np.unique(d["scope"] * pair_radix + d["breakdown"])
    present_set = set(present.tolist())

    ovals = coder.values["origin"]
    dvals = coder.values["definition"]
    moves = _column_moves(ovals, dvals)
    bd_all = coder.code("breakdown", "all")
    var_bd = {x: coder.code("breakdown", x) for x in VARIABLES}
    var_cats = {x: np.arange(1, len(coder.values[x]) + 1, dtype=np.int64) for x in VARIABLES}
    ent_units = np.nonzero(units.level == LEVEL_ENTITY)[0]
    ents_of: dict[int, IntArray] = {}
    for dm in np.unique(units.domain[ent_units]).tolist():
        ents_of[int(dm)] = ent_units[units.domain[ent_units] == dm]

    # candidates: (target, variable, new category, origin move, units with signs)
    c_t: list[IntArray] = []
    c_x: list[IntArray] = []
    c_v2: list[IntArray] = []
    c_m: list[IntArray] = []
    c_u: list[IntArray] = []  # (n, 4) units, -1 padded
    c_s: list[FloatArray] = []  # (n, 4) unit signs
    move_list: list[list[tuple[int, int, float]]] = []
    move_id: dict[tuple[tuple[int, int, float], ...], int] = {}

    def mid(vec: list[Column], dfn: str) -> int:
        key = tuple(
            (coder.code("definition", dfn if dd is None else dd), coder.code("origin", o), c)
            for dd, o, c in vec
        )  # fmt: skip
        if key not in move_id:
            move_id[key] = len(move_list)
            move_list.append(list(key))
        return move_id[key]

    orig_name = {coder.code("origin", o): o for o in ovals}
    var_names = list(VARIABLES)
    var_mult = np.array([mult[x] for x in var_names], dtype=np.int64)
    for i, q in enumerate(tq.tolist()):
        if np.isnan(goal_lo[i]) and np.isnan(goal_hi[i]):
            continue
        r = int(q_row[q])
        if r < 0:
            continue
        oname = orig_name.get(int(d["origin"][r]))
        dname = dvals[int(d["definition"][r]) - 1] if d["definition"][r] > 0 else None
        if oname is None or dname is None or (dname, oname) not in moves:
            continue
        bd = int(d["breakdown"][r])
        if bd_all > 0 and int(d["scope"][r]) * pair_radix + bd_all in present_set:
            # the `all` table at the target's scope: its people's combination rows would
            # move too (measured, not built: docs/protection.md, "Hypercube witnesses")
            continue
        xs = [j for j, x in enumerate(var_names) if var_bd[x] == bd]
        if not xs:
            continue
        u = int(units.q_unit[q])
        lvl = int(units.level[u])
        if lvl == LEVEL_ENTITY:
            # partners in the target's domain first (the domain does not move), then in the
            # other domains (both domains' cells move)
            dm = int(units.domain[u])
            mates = ents_of.get(dm, np.zeros(0, np.int64))
            mates = mates[mates != u]
            far = ent_units[
                (units.domain[ent_units] != dm) & (units.year[ent_units] == units.year[u])
            ]
            nm, nf = mates.size, far.size
            uu = np.concatenate([
                np.stack([np.full(nm, u), mates, np.full(nm, -1), np.full(nm, -1)], axis=1),
                np.stack([np.full(nf, u), np.full(nf, dm), far, units.domain[far]], axis=1),
            ])  # fmt: skip
            ss = np.concatenate([
                np.tile(np.array([1.0, -1.0, 0.0, 0.0]), (nm, 1)),
                np.tile(np.array([1.0, 1.0, -1.0, -1.0]), (nf, 1)),
            ])  # fmt: skip
        elif lvl == LEVEL_DOMAIN:
            own = ents_of.get(u, np.zeros(0, np.int64))
            other = ent_units[units.domain[ent_units] != u]
            e1 = np.repeat(own, other.size)
            e2 = np.tile(other, own.size)
            uu = np.stack([e1, np.full(e1.size, u), e2, units.domain[e2]], axis=1)
            ss = np.tile(np.array([1.0, 1.0, -1.0, -1.0]), (e1.size, 1))
        elif lvl == LEVEL_ADMINISTRATION:
            e1 = ent_units[units.year[ent_units] == units.year[u]]
            uu = np.stack([e1, units.domain[e1], np.full(e1.size, u), np.full(e1.size, -1)], axis=1)
            ss = np.tile(np.array([1.0, 1.0, 1.0, 0.0]), (e1.size, 1))
        else:  # pragma: no cover - every unit has a level
            continue
        if uu.shape[0] == 0:
            continue
        # the rows the move goes to (X = v2); every unit of a candidate must hold the
        # target's row and the row it goes to (an absent row is a zero the attacker knows)
        jv = [
            (j, v2, (v2 - int(d[var_names[j]][r])) * int(var_mult[j]))
            for j in xs
            for v2 in var_cats[var_names[j]].tolist()
            if v2 != int(d[var_names[j]][r])
        ]
        if not jv:
            continue
        shift = np.array([0] + [sh for _, _, sh in jv], dtype=np.int64)
        codes = (
            int(s.rcode[r]) - int(unit_code[u])
            + unit_code[np.maximum(uu, 0)][:, :, None] + shift[None, None, :]
        )  # fmt: skip
        pos = np.minimum(np.searchsorted(sorted_codes, codes), sorted_codes.size - 1)
        ex = (sorted_codes[pos] == codes) | (uu < 0)[:, :, None]
        ok_pair = ex[:, :, 1:].all(axis=1) & ex[:, :, 0].all(axis=1)[:, None]
        pu, pj = np.nonzero(ok_pair)
        if pu.size == 0:
            continue
        mv = [mid(vec, dname) for vec in moves[(dname, oname)]]
        nm = len(mv)
        jv_a = np.array([(j, v2) for j, v2, _ in jv], dtype=np.int64)
        n_c = pu.size * nm
        c_t.append(np.full(n_c, i, dtype=np.int64))
        c_x.append(np.repeat(jv_a[pj, 0], nm))
        c_v2.append(np.repeat(jv_a[pj, 1], nm))
        c_m.append(np.tile(np.array(mv, dtype=np.int64), pu.size))
        c_u.append(np.repeat(uu[pu].astype(np.int64), nm, axis=0))
        c_s.append(np.repeat(ss[pu], nm, axis=0))
    empty_i = np.zeros(0, dtype=np.int64)
    if not c_t:
        return Points(empty_i, np.zeros(0), np.zeros(1, np.int64), empty_i, np.zeros(0))
    ct = np.concatenate(c_t)
    cx = np.concatenate(c_x)
    cv2 = np.concatenate(c_v2)
    cm = np.concatenate(c_m)
    cu = np.concatenate(c_u)
    cs = np.concatenate(c_s)

    # per move: definition and origin digits and coefficients, padded
    width = max(len(v) for v in move_list)
    mo = np.zeros((len(move_list), width), dtype=np.int64)
    mc = np.zeros((len(move_list), width))
    for k, vec2 in enumerate(move_list):
        for col, (dd, o, c) in enumerate(vec2):
            mo[k, col] = dd * mult["definition"] + o * mult["origin"]
            mc[k, col] = c
    t_row = q_row[tq]
    year_def = d["year"][t_row] * mult["year"]
    var_dig = np.stack([d[x][t_row] for x in var_names], axis=1)  # (targets, 5)
    bd_code_x = np.array([var_bd[x] for x in var_names], dtype=np.int64) * mult["breakdown"]
    scope_of_unit = d["scope"][ur]

    # structurally valid candidates (every cell they move unpublished, none absent from a
    # table the release has), compacted: candidate k moves quantities
    # kq[kp[k]:kp[k+1]] with coefficients kc[...]
    keep_c: list[IntArray] = []
    keep_n: list[IntArray] = []
    keep_q: list[IntArray] = []
    keep_f: list[FloatArray] = []
    # chunks of about CHUNK candidates, whole targets each (candidates are grouped by target)
    lo_c = 0
    while lo_c < ct.size:
        hi_c = min(lo_c + CHUNK, ct.size)
        hi_c = int(np.searchsorted(ct, ct[hi_c - 1], side="right"))
        sl = slice(lo_c, hi_c)
        lo_c = hi_c
        t, x, v2, m, uu_c, ss_c = ct[sl], cx[sl], cv2[sl], cm[sl], cu[sl], cs[sl]
        n = t.shape[0]
        v1 = var_dig[t, x]
        # rows: X = v (+) and X = v2 (-) of X's breakdown
        xm = var_mult[x]
        bdx = bd_code_x[x]
        rows_code = np.stack([bdx + v1 * xm, bdx + v2 * xm], axis=1)
        rows_sign = np.tile(np.array([1.0, -1.0]), (n, 1))
        rows_bd = np.stack([bdx // mult["breakdown"]] * 2, axis=1)
        # cells: units (4) x rows (2) x columns
        code = (
            year_def[t][:, None, None, None]
            + unit_code[np.maximum(uu_c, 0)][:, :, None, None]
            + rows_code[:, None, :, None]
            + mo[m][:, None, None, :]
        )
        coef = ss_c[:, :, None, None] * rows_sign[:, None, :, None] * mc[m][:, None, None, :]
        coef = np.where((uu_c >= 0)[:, :, None, None], coef, 0.0)
        scope_c = np.broadcast_to(scope_of_unit[np.maximum(uu_c, 0)][:, :, None, None], code.shape)
        bd_c = np.broadcast_to(rows_bd[:, None, :, None], code.shape)
        code, coef = code.reshape(n, -1), coef.reshape(n, -1)
        scope_c, bd_c = scope_c.reshape(n, -1), bd_c.reshape(n, -1)
        pos = np.minimum(np.searchsorted(sorted_codes, code), sorted_codes.size - 1)
        found = sorted_codes[pos] == code
        qc = np.where(found, s.qid[order[pos]], -1)
        live = coef != 0
        bad = np.zeros(n, dtype=bool)
        absent = live & ~found
        if absent.any():
            ai = np.nonzero(absent)
            needed = np.isin(scope_c[ai] * pair_radix + bd_c[ai], present)
            bad[ai[0][needed]] = True
        live &= found
        bad |= (live & ~hidden[np.maximum(qc, 0)]).any(axis=1)
        good = np.nonzero(~bad)[0]
        if good.size == 0:
            continue
        lv = live[good]
        keep_c.append(good + sl.start)
        keep_n.append(lv.sum(axis=1))
        keep_q.append(qc[good][lv])
        keep_f.append(coef[good][lv])
    empty_pts = Points(empty_i, np.zeros(0), np.zeros(1, np.int64), empty_i, np.zeros(0))
    if not keep_c:
        return empty_pts
    kcand = np.concatenate(keep_c)
    kp = np.concatenate([[0], np.cumsum(np.concatenate(keep_n))]).astype(np.int64)
    kq = np.concatenate(keep_q)
    kc = np.concatenate(keep_f)
    kt = ct[kcand]  # target of each kept candidate (non-decreasing)
    ents = np.where((cu[kcand] >= 0) & (units.level[np.maximum(cu[kcand], 0)] == LEVEL_ENTITY),
                    cu[kcand], -1)  # fmt: skip
    own = np.where(units.level[units.q_unit[tq]] == LEVEL_ENTITY, units.q_unit[tq], -2)
    ents = np.where(ents == own[kt][:, None], -1, ents)

    out_q: list[IntArray] = []
    out_goal: list[FloatArray] = []
    out_k: list[IntArray] = []  # per point its hypercubes (kept-candidate index) and steps
    out_m: list[FloatArray] = []
    out_pid: list[IntArray] = []
    n_pts = 0
    for goals, sign in ((goal_hi, 1.0), (goal_lo, -1.0)):
        need = np.abs(goals - truth[tq])
        need = np.where(np.isnan(goals), 0.0, need)
        need = np.where(need > 1e-9, need, 0.0)
        first_ents: IntArray | None = None
        for rnd in range(2):
            pk, pm, pt = _greedy(
                kt, kp, kq, kc, ents, need, sign, truth, lb, ub, first_ents
            )  # fmt: skip
            reached = np.zeros(tq.size)
            np.add.at(reached, pt, pm)
            done = (need > 0) & (np.abs(reached - need) <= 1e-9)
            sel = done[pt]
            if sel.any():
                ti = np.nonzero(done)[0]
                pid_of = np.full(tq.size, -1, dtype=np.int64)
                pid_of[ti] = n_pts + np.arange(ti.size)
                out_q.append(tq[ti])
                out_goal.append(goals[ti])
                out_k.append(pk[sel])
                out_m.append(pm[sel])
                out_pid.append(pid_of[pt[sel]])
                n_pts += ti.size
            if rnd == 0:
                # the entities each first point moves, for the second (disjoint) point
                first_ents = np.full((tq.size, 0), -1, dtype=np.int64)
                if sel.any():
                    width = int(np.bincount(pt[sel]).max()) * 4
                    first_ents = np.full((tq.size, width), -1, dtype=np.int64)
                    order_t = np.argsort(pt[sel], kind="stable")
                    ptt = pt[sel][order_t]
                    e_rows = ents[pk[sel][order_t]]  # (k, 4)
                    slot = np.arange(ptt.size) - np.searchsorted(ptt, ptt)
                    for col in range(4):
                        first_ents[ptt, slot * 4 + col] = e_rows[:, col]
                need = np.where(done, need, 0.0)
    if n_pts == 0:
        return empty_pts
    pk_all = np.concatenate(out_k)
    pm_all = np.concatenate(out_m)
    pid_all = np.concatenate(out_pid)
    # each point: the sum of its hypercubes, per quantity
    rep, mem = _members(kp, pk_all)
    key = pid_all[rep] * s.n_q + kq[mem]
    uk, inv = np.unique(key, return_inverse=True)
    val = np.bincount(inv.reshape(-1), weights=kc[mem] * pm_all[rep], minlength=uk.size)
    goal_all = np.concatenate(out_goal)
    sign_all = np.where(goal_all > truth[np.concatenate(out_q)], 1.0, -1.0)
    val = val * sign_all[uk // s.n_q]
    nz = np.abs(val) > 1e-12
    uk, val = uk[nz], val[nz]
    pid_u = uk // s.n_q
    ptr = np.searchsorted(pid_u, np.arange(n_pts + 1)).astype(np.int64)
    return Points(np.concatenate(out_q), goal_all, ptr, uk % s.n_q, val)


def _members(ptr: IntArray, which: IntArray) -> tuple[IntArray, IntArray]:
    """The members of the CSR groups ``which`` (group ``g`` holds ``ptr[g]:ptr[g+1]``): per
    member, the position in ``which`` of its group and its index."""
    cnt = ptr[which + 1] - ptr[which]
    rep = np.repeat(np.arange(which.size, dtype=np.int64), cnt)
    offs = np.arange(rep.size, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return rep, ptr[which][rep] + offs


def _greedy(
    kt: IntArray, kp: IntArray, kq: IntArray, kc: FloatArray, ents: IntArray,
    need: FloatArray, sign: float, truth: FloatArray, lb: FloatArray, ub: FloatArray,
    avoid: IntArray | None,
) -> tuple[IntArray, FloatArray, IntArray]:  # fmt: skip
    """Sums of hypercubes moving each target by ``need`` (in direction ``sign``): per round,
    every target still short takes the hypercube that moves it furthest within every bound,
    given what its earlier hypercubes moved (at most 3 rounds: a 1-5 label spans 3 steps).
    Among those that move it equally far, the first.
    ``avoid`` (per target, entities): hypercubes moving one of them are not used. Returns
    (hypercube, step, target) triples."""
    n_q = truth.shape[0]
    cand_ok = np.ones(kt.size, dtype=bool)
    if avoid is not None:
        for col in range(ents.shape[1]):
            e = ents[:, col]
            hit = (e >= 0) & (avoid[kt] == e[:, None]).any(axis=1)
            cand_ok &= ~hit
        cand_ok &= (avoid[kt] >= 0).any(axis=1)
    left = need.copy()
    acc_k = np.zeros(0, dtype=np.int64)  # keys target * n_q + q
    acc_v: FloatArray = np.zeros(0)
    pk: list[IntArray] = []
    pm: list[FloatArray] = []
    pt: list[IntArray] = []
    cnt = np.diff(kp)
    rep = np.repeat(np.arange(kt.size), cnt)
    for _ in range(3):
        active = cand_ok & (left[kt] > 1e-9)
        if not active.any():
            break
        cells = active[rep]
        ci = np.nonzero(cells)[0]
        cand = rep[ci]
        q = kq[ci]
        f = kc[ci] * sign
        key = kt[cand] * n_q + q
        y = truth[q].copy()
        if acc_k.size:
            pos = np.minimum(np.searchsorted(acc_k, key), acc_k.size - 1)
            y += np.where(acc_k[pos] == key, acc_v[pos], 0.0)
        # how far this hypercube can move: every cell within its bounds
        room = np.where(f > 0, (ub[q] - y) / np.where(f > 0, f, 1.0),
                        (y - lb[q]) / np.where(f < 0, -f, 1.0))  # fmt: skip
        m_c = np.full(kt.size, np.inf)
        np.minimum.at(m_c, cand, np.floor(room + 1e-9))
        m_c = np.where(active, np.minimum(m_c, left[kt]), 0.0)
        m_c = np.maximum(m_c, 0.0)
        # per target the candidate that moves it furthest (the first one among equals)
        o = np.lexsort((np.arange(kt.size), -m_c, kt))
        best = o[np.concatenate([[True], kt[o][1:] != kt[o][:-1]])]
        best = best[m_c[best] > 0]
        if best.size == 0:
            break
        step = m_c[best]
        pk.append(best)
        pm.append(step)
        pt.append(kt[best])
        left[kt[best]] -= step
        # accumulate what they move
        r2, mem = _members(kp, best)
        nk = kt[best][r2] * n_q + kq[mem]
        nv = kc[mem] * sign * step[r2]
        allk = np.concatenate([acc_k, nk])
        allv = np.concatenate([acc_v, nv])
        acc_k, inv = np.unique(allk, return_inverse=True)
        acc_v = np.bincount(inv.reshape(-1), weights=allv, minlength=acc_k.size).astype(np.float64)
    if not pk:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(pk), np.concatenate(pm), np.concatenate(pt)


def check(
    s: Structure, hidden: BoolArray, truth: FloatArray, lb: FloatArray, ub: FloatArray,
    pts: Points,
) -> BoolArray:  # fmt: skip
    """Per point, whether it is a table the attacker cannot exclude with its target at its
    goal: every quantity it moves unpublished and within its bounds, every relation of
    ``s`` kept (``A d = 0``), the target moved to the goal. Vectorised over the points."""
    n = pts.n
    if n == 0:
        return np.zeros(0, dtype=bool)
    counts = np.diff(pts.ptr)
    pid = np.repeat(np.arange(n, dtype=np.int64), counts)
    idx, dev = pts.idx, pts.dev
    ok = np.ones(n, dtype=bool)
    bad = ~hidden[idx]
    y = truth[idx] + dev
    bad |= (y < lb[idx] - 1e-6) | (y > ub[idx] + 1e-6)
    ok[pid[bad]] = False
    at = idx == pts.q[pid]
    n_at = np.bincount(pid[at], minlength=n)
    ok &= n_at == 1
    reach = np.zeros(n)
    reach[pid[at]] = truth[idx[at]] + dev[at]
    ok &= np.abs(reach - pts.goal) <= 1e-6
    # A d = 0: expand every moved quantity to its relations
    rel, q, coef = s.members()
    o = np.argsort(q, kind="stable")
    rq, qq, cq = rel[o], q[o], coef[o]
    qptr = np.searchsorted(qq, np.arange(s.n_q + 1))
    rep, mem = _members(qptr, idx)
    key = pid[rep] * max(s.n_rel, 1) + rq[mem]
    uk, inv = np.unique(key, return_inverse=True)
    res = np.bincount(inv.reshape(-1), weights=cq[mem] * dev[rep], minlength=uk.size)
    off = np.abs(res) > 1e-6
    ok[uk[off] // max(s.n_rel, 1)] = False
    return ok
