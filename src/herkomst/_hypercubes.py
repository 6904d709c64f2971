"""Structured witnesses: tables the attacker cannot exclude, built from moves of people.

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

A withheld entity's size is not published, so its cells can also move with whole persons:
:func:`transfers` moves people between it and the other entities of its domain, in every
breakdown's row they count in (with a third entity changing rows, or two persons of
different origins exchanged, where no partner holds the target's row and origin).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ._cells import (
    LEVEL_ADMINISTRATION,
    LEVEL_DOMAIN,
    LEVEL_ENTITY,
    LINK_FORMULAS,
    LINK_SUM,
    LINKED_DEFINITIONS,
    ORIGIN_PARTS,
    UNKNOWN_PARTS,
    BoolArray,
    FloatArray,
    IntArray,
    Structure,
    Units,
)
from ._parallel import map_forked
from .tabulate import VARIABLES

#: transfers a person-transfer witness adds up at most (the rarest cells need one person
#: from each of several entities)
TRANSFER_ROUNDS = 8

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


@dataclass(frozen=True)
class _Target:
    """A target of :func:`transfers` and one of its goals: its entity ``w`` and domain
    ``dw`` (indices into the dense arrays), the direction and the persons to move, its
    breakdown row (``forced``: group, row), the origin combinations and exchanges that move
    its column, the entities of its domain and the movers (those, then the other domains')."""

    w: int
    dw: int
    sign: float
    need: float
    forced: tuple[int, int]
    allowed: BoolArray
    x_allowed: BoolArray
    mates: IntArray
    movers: IntArray


@dataclass(frozen=True)
class Scene:
    """What the witnesses are built in: the structure and units of the attacker's view of
    the release, what is hidden, the truth and what the attacker knows of each
    quantity (``lb``/``ub``), with the lookups both families use (the key digits of every
    row, the first row of each quantity and of each unit, the sorted row codes)."""

    s: Structure
    units: Units
    hidden: BoolArray
    truth: FloatArray
    lb: FloatArray
    ub: FloatArray
    digits: dict[str, IntArray]
    q_row: IntArray
    u_row: IntArray
    order: IntArray
    sorted_codes: IntArray

    @staticmethod
    def of(
        view: pa.Table, s: Structure, units: Units, hidden: BoolArray, truth: FloatArray,
        lb: FloatArray, ub: FloatArray,
    ) -> Scene:  # fmt: skip
        n_rows = view.num_rows
        rows = np.arange(n_rows, dtype=np.int64)[::-1]
        q_row = np.full(s.n_q, -1, dtype=np.int64)
        q_row[s.qid[::-1]] = rows
        u_row = np.full(units.n_units, -1, dtype=np.int64)
        u_row[units.q_unit[s.qid][::-1]] = rows
        order = np.argsort(s.rcode, kind="stable")
        return Scene(
            s, units, hidden, truth, lb, ub, s.coder.digits(view), q_row, u_row, order,
            s.rcode[order],
        )  # fmt: skip

    def quantities(self, codes: IntArray) -> IntArray:
        """The quantity of the row with each coded key (-1: no such row)."""
        sc = self.sorted_codes
        pos = np.minimum(np.searchsorted(sc, codes), sc.size - 1)
        out: IntArray = np.where(sc[pos] == codes, self.s.qid[self.order[pos]], -1)
        return out


#: a column of a move: (definition, origin, coefficient); definition None: the target's
Column = tuple[str | None, str, float]

_LINKED_CLASSES = ("unknown_parents", "outside")


def _linked(origins: list[str], definitions: list[str]) -> bool:
    """Whether the release's structure has the link rows of the two EU definitions."""
    return set(LINKED_DEFINITIONS) <= set(definitions) and LINK_SUM in origins


def valid_pair(c15: str, c_eu: str) -> bool:
    """Whether one person can have class ``c15`` under ``eu15`` and ``c_eu`` under ``eu``:
    ``unknown_parents`` under one is ``unknown_parents`` or ``outside`` under the other
    (docs/protection.md, "Cross-definition modelling")."""
    up = "unknown_parents"
    return not (c15 == up and c_eu not in _LINKED_CLASSES) and not (
        c_eu == up and c15 not in _LINKED_CLASSES
    )


def _link_columns(combo: dict[str, str]) -> list[Column]:
    """The link quantities one person of the classes ``combo`` (definition -> class) counts
    in, from ``herkomst._cells.LINK_FORMULAS``: per definition ``D`` (the other ``D'``)
    the sum ``a(D)`` (1 when ``unknown_parents`` or ``outside`` under ``D``) and the slack
    ``s(D')`` (that, less 1 when ``unknown_parents`` under ``D'``)."""
    out: list[Column] = []
    a, b = LINKED_DEFINITIONS
    for dfn, other in ((a, b), (b, a)):
        for origin, of_other, formula in LINK_FORMULAS:
            coef = sum(c for o_other, o, c in formula if combo[other if o_other else dfn] == o)
            if coef:
                out.append((other if of_other else dfn, origin, coef))
    return out


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
    linked = _linked(origins, definitions)

    def person(dfn: str | None, a: str) -> list[Column]:
        out: list[Column] = [(dfn, a, 1.0)]
        if a in UNKNOWN_PARTS and has_unknown:
            out.append((dfn, "unknown", 1.0))
        return out

    def links(dfn: str, a: str, others: dict[str, str]) -> list[Column]:
        """The link columns of a person of class ``a`` under ``dfn`` and ``others``."""
        if not linked or dfn not in LINKED_DEFINITIONS:
            return []
        return _link_columns({**others, dfn: a})

    def valid(dfn: str, a: str, others: dict[str, str]) -> bool:
        if not linked or dfn not in LINKED_DEFINITIONS:
            return True
        combo = {**others, dfn: a}
        return valid_pair(combo[LINKED_DEFINITIONS[0]], combo[LINKED_DEFINITIONS[1]])

    def swap(dfn: str, a: str, b: str) -> list[Column]:
        # one person of class a comes, one of class b leaves, each with the same classes
        # under the other definitions (`outside`: a pair with every class)
        same = {o: "outside" for o in definitions if o != dfn}
        acc: dict[tuple[str | None, str], float] = {}
        for sign, o in ((1.0, a), (-1.0, b)):
            for dd, col, c in [*person(None, o), *links(dfn, o, same)]:
                key = (None if dd == dfn else dd, col)
                acc[key] = acc.get(key, 0.0) + sign * c
        return [(dd, col, c) for (dd, col), c in acc.items() if c]

    moves: dict[tuple[str, str], list[list[Column]]] = {}
    for dfn in definitions:
        others = [x for x in definitions if x != dfn]
        # the other definitions' origins of a moved person: every combination
        other_sets: list[tuple[list[Column], dict[str, str]]] = [([], {})]
        for o_d in others:
            other_sets = [
                (acc + person(o_d, c), {**cls, o_d: c}) for acc, cls in other_sets for c in leaves
            ]

        def row_moves(
            a_list: list[str],
            others_sets: list[tuple[list[Column], dict[str, str]]] = other_sets,
            dfn: str = dfn,
        ) -> list[list[Column]]:
            out: list[list[Column]] = []
            for a in a_list:
                for rest, cls in others_sets:
                    if not valid(dfn, a, cls):
                        continue
                    lk = [(None if dd == dfn else dd, col, c) for dd, col, c in links(dfn, a, cls)]
                    out.append([(None, "total", 1.0), *person(None, a), *rest, *lk])
            return out

        for a in leaves:
            moves[(dfn, a)] = [swap(dfn, a, b) for b in leaves if b != a] + row_moves([a])
        if has_unknown:
            moves[(dfn, "unknown")] = [
                swap(dfn, a, b) for a in UNKNOWN_PARTS if a in leaves for b in leaves
                if b not in UNKNOWN_PARTS
            ] + row_moves([a for a in UNKNOWN_PARTS if a in leaves])  # fmt: skip
        moves[(dfn, "total")] = row_moves(leaves)
    return moves


def propose(sc: Scene, tq: IntArray, goal_lo: FloatArray, goal_hi: FloatArray) -> Points:
    """Witnesses for the targets ``tq`` (quantities) at each of their goals (``goal_lo``,
    ``goal_hi``; NaN: none). A witness is a sum of hypercubes (:func:`_greedy`: at most three,
    a 1-5 label spans three steps), moving only unpublished quantities (``hidden``) within
    ``lb``/``ub``. Per target and goal: a first witness, and a second one that moves none of
    the entities the first moves (the target's own aside), so that the two serve every
    official. Deterministic: candidates in a fixed order, ties to the first."""
    s, units, hidden, truth, lb, ub = sc.s, sc.units, sc.hidden, sc.truth, sc.lb, sc.ub
    coder = s.coder
    d = sc.digits
    mult = coder.mult
    q_row = sc.q_row
    ur = np.maximum(sc.u_row, 0)
    unit_code = (
        d["scope"][ur] * mult["scope"]
        + d["policy_domain"][ur] * mult["policy_domain"]
        + d["entity"][ur] * mult["entity"]
    )
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
    mv_of: dict[tuple[str, str], list[int]] = {}  # the moves of each (definition, origin)

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
        # which rows each unit holds, looked up once per unit (a candidate's units repeat:
        # the target's own in every one, a domain in every partner of that domain)
        uq, inv = np.unique(np.maximum(uu, 0), return_inverse=True)
        codes = int(s.rcode[r]) - int(unit_code[u]) + unit_code[uq][:, None] + shift[None, :]
        ex = (sc.quantities(codes) >= 0)[inv.reshape(uu.shape)] | (uu < 0)[:, :, None]
        ok_pair = ex[:, :, 1:].all(axis=1) & np.asarray(ex[:, :, 0].all(axis=1))[:, None]
        pu, pj = np.nonzero(ok_pair)
        if pu.size == 0:
            continue
        if (dname, oname) not in mv_of:
            mv_of[(dname, oname)] = [mid(vec, dname) for vec in moves[(dname, oname)]]
        mv = mv_of[(dname, oname)]
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
    n_units1 = int(units.n_units) + 1
    n_moves = len(move_list)
    n_var = len(var_names)
    n_cat = int(max(v.size for v in var_cats.values())) + 1

    def cells(
        t: IntArray, x: IntArray, v2: IntArray, m: IntArray, uu_c: IntArray, ss_c: FloatArray
    ) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
        """Per candidate, its cells: units (``uu_c``'s columns) x rows (2) x columns,
        flattened: (quantity or -1, coefficient, scope digit of the unit, breakdown digit of
        the row)."""
        n = t.shape[0]
        v1 = var_dig[t, x]
        # rows: X = v (+) and X = v2 (-) of X's breakdown
        xm = var_mult[x]
        bdx = bd_code_x[x]
        rows_code = np.stack([bdx + v1 * xm, bdx + v2 * xm], axis=1)
        rows_sign = np.tile(np.array([1.0, -1.0]), (n, 1))
        rows_bd = np.stack([bdx // mult["breakdown"]] * 2, axis=1)
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
        return (
            sc.quantities(code.reshape(n, -1)),
            coef.reshape(n, -1),
            scope_c.reshape(n, -1),
            bd_c.reshape(n, -1),
        )

    def bad_of(
        qc: IntArray, coef: FloatArray, scope_c: IntArray, bd_c: IntArray
    ) -> tuple[BoolArray, BoolArray]:
        """Per row of cells: whether one moves a published cell or one absent from a table
        the release has; and which cells move (``live``: a non-zero coefficient, present)."""
        found = qc >= 0
        live = coef != 0
        bad = np.zeros(qc.shape[0], dtype=bool)
        absent = live & ~found
        if absent.any():
            ai = np.nonzero(absent)
            needed = np.isin(scope_c[ai] * pair_radix + bd_c[ai], present)
            bad[ai[0][needed]] = True
        live &= found
        bad |= (live & ~hidden[np.maximum(qc, 0)]).any(axis=1)
        return bad, live

    # chunks of about CHUNK candidates, whole targets each (candidates are grouped by target)
    lo_c = 0
    while lo_c < ct.size:
        hi_c = min(lo_c + CHUNK, ct.size)
        hi_c = int(np.searchsorted(ct, ct[hi_c - 1], side="right"))
        sl = slice(lo_c, hi_c)
        lo_c = hi_c
        t, x, v2, m, uu_c, ss_c = ct[sl], cx[sl], cv2[sl], cm[sl], cu[sl], cs[sl]
        n = t.shape[0]
        # A candidate is bad when one of its units' cells is. Unit slot by slot, among the
        # candidates still good, each (target, move, unit) is checked once (the target's own
        # unit comes back in every candidate of a move, a domain in many), and only the good
        # candidates get their cells in full.
        move_key = ((t * n_var + x) * n_cat + v2) * n_moves + m
        alive = np.ones(n, dtype=bool)
        for k in range(uu_c.shape[1]):
            idx = np.nonzero(alive & (uu_c[:, k] >= 0) & (ss_c[:, k] != 0))[0]
            if idx.size == 0:
                continue
            key = move_key[idx] * n_units1 + uu_c[idx, k] + 1
            uk, first, inv = np.unique(key, return_index=True, return_inverse=True)
            f = idx[first]
            one = uu_c[f, k][:, None]  # the slot's unit alone
            slot_bad, _ = bad_of(*cells(t[f], x[f], v2[f], m[f], one, np.ones((uk.size, 1))))
            alive[idx[slot_bad[inv.reshape(-1)]]] = False
        good = np.nonzero(alive)[0]
        if good.size == 0:
            continue
        qc, coef, scope_c, bd_c = cells(t[good], x[good], v2[good], m[good], uu_c[good], ss_c[good])
        bad_g, lv = bad_of(qc, coef, scope_c, bd_c)
        assert not bad_g.any()
        keep_c.append(good + sl.start)
        keep_n.append(lv.sum(axis=1))
        keep_q.append(qc[lv])
        keep_f.append(coef[lv])
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


#: the parts :func:`in_parts` cuts the targets into (whatever the cores: the same points)
PARTS = 2
#: targets below which :func:`in_parts` runs its parts one after the other (a fork of the
#: audit's process costs about a quarter of a second)
FORK_TARGETS = 500


def in_parts(
    family: Callable[[Scene, IntArray, FloatArray, FloatArray], Points], sc: Scene,
    tq: IntArray, goal_lo: FloatArray, goal_hi: FloatArray,
) -> Points:  # fmt: skip
    """``family(sc, tq, goal_lo, goal_hi)`` (:func:`propose` or :func:`transfers`) over
    :data:`PARTS` runs of consecutive targets, on as many cores as the machine gives
    (:func:`herkomst._parallel.map_forked`), the points concatenated in the order of the
    parts. Each target's witnesses are built from the scene alone, none from another
    target's, so these are the points of one call over every target (:func:`transfers`'s
    in the same order; :func:`propose`'s grouped by part, its rounds within each)."""
    cut = np.linspace(0, tq.size, PARTS + 1).round().astype(np.int64)
    parts = [(int(a), int(b)) for a, b in itertools.pairwise(cut.tolist()) if b > a]
    got = map_forked(
        lambda ab: family(sc, tq[ab[0] : ab[1]], goal_lo[ab[0] : ab[1]], goal_hi[ab[0] : ab[1]]),
        parts,
        parallel=tq.size >= FORK_TARGETS,
    )
    if len(got) == 1:
        return got[0]
    if not got:
        return family(sc, tq, goal_lo, goal_hi)
    sizes = np.array([p.idx.size for p in got], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return Points(
        np.concatenate([p.q for p in got]),
        np.concatenate([p.goal for p in got]),
        np.concatenate([got[0].ptr[:1]] + [p.ptr[1:] + o for p, o in zip(got, offs, strict=True)]),
        np.concatenate([p.idx for p in got]),
        np.concatenate([p.dev for p in got]),
    )


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
    ``s`` kept (``A d = 0``), the target moved to the goal. The link quantities are set
    from the cells the point moves (``Structure.derive_deltas``), so a proposal that breaks
    the two definitions' person-level link fails on a slack below 0. Vectorised over the
    points."""
    n = pts.n
    if n == 0:
        return np.zeros(0, dtype=bool)
    counts = np.diff(pts.ptr)
    pid = np.repeat(np.arange(n, dtype=np.int64), counts)
    idx, dev = pts.idx, pts.dev
    if s.dep_q.size:
        # the link quantities move as the cells say (a proposal need not give them)
        dp, dq, dd = s.derive_deltas(pid, idx, dev)
        cell = ~s.dependent()[idx]
        pid = np.concatenate([pid[cell], dp])
        idx = np.concatenate([idx[cell], dq])
        dev = np.concatenate([dev[cell], dd])
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


def transfers(sc: Scene, tq: IntArray, goal_lo: FloatArray, goal_hi: FloatArray) -> Points:
    """*Person transfers* for targets of entity cells (a withheld entity's, whose size is not
    published): people move between the target's entity ``w`` and a partner ``p`` of the
    same policy domain (the domain and the administration do not move), each with one
    origin per definition and, in every breakdown the entities have, one row. A person
    counts in one row of each single-variable breakdown and in the ``total`` breakdown, in
    the ``total`` column and in his origin's column of every definition: every relation
    holds, and without an ``all`` table each breakdown's row can be chosen on its own (with
    one, the rows must make a combination row: not served). The target's own breakdown row
    and column are fixed by the target; every other row is the one with the most room in
    both units. Three kinds of step:

    - the *transfer*: a person of the target's row and column comes from ``p``;
    - the transfer *with a mover*: the person leaves ``p`` from another row ``v2`` of the
      target's variable, and a third entity (the *mover*) has a person of the same origins
      go from the target's row to ``v2`` (its rows of that breakdown only); a mover of
      another domain moves both domains' two rows too;
    - the *exchange*: ``w`` and ``p`` swap a person of the target's origin for one of
      another origin, in the same rows (origin columns only; not for a ``total`` cell).

    A witness adds up at most :data:`TRANSFER_ROUNDS` steps, each the one that goes
    furthest within every bound (transfers first, then movers of the target's domain,
    others', exchanges; among equals the first). Per target and goal: a first witness and,
    for each entity it moves, one that leaves that entity alone, so that every official
    has one he cannot exclude. Only proposals: the audit checks each (:func:`check`)."""
    s, units, hidden, truth, lb, ub = sc.s, sc.units, sc.hidden, sc.truth, sc.lb, sc.ub
    coder = s.coder
    mult = coder.mult
    empty_i = np.zeros(0, dtype=np.int64)
    empty = Points(empty_i, np.zeros(0), np.zeros(1, np.int64), empty_i, np.zeros(0))
    if tq.size == 0:
        return empty
    d = sc.digits
    q_row = sc.q_row
    ent_rows = d["scope"] == coder.code("scope", "entity")
    bd_present = set(np.unique(d["breakdown"][ent_rows]).tolist())
    bd_total = coder.code("breakdown", "total")
    if bd_total not in bd_present or coder.code("breakdown", "all") in bd_present:
        return empty
    # the rows a person counts in: the total row, then one row per category of each
    # variable whose breakdown the entities have; ``groups``: the rows of each breakdown
    row_off = [bd_total * mult["breakdown"]]
    groups: list[IntArray] = [np.zeros(1, dtype=np.int64)]
    group_of_var: dict[int, int] = {}
    for j, x in enumerate(VARIABLES):
        b = coder.code("breakdown", x)
        if b not in bd_present:
            continue
        first = len(row_off)
        for v in range(1, len(coder.values[x]) + 1):
            row_off.append(b * mult["breakdown"] + v * mult[x])
        group_of_var[j] = len(groups)
        groups.append(np.arange(first, len(row_off), dtype=np.int64))
    # the columns: `total` (one quantity for every definition), then each definition's
    # origins
    dvals = coder.values["definition"]
    ovals = coder.values["origin"]
    leaves = [o for o in (*ORIGIN_PARTS, *UNKNOWN_PARTS) if o != "unknown" and o in ovals]
    has_unknown = "unknown" in ovals
    if not dvals or not leaves:
        return empty
    col_off = [coder.code("definition", dvals[0]) * mult["definition"]
               + coder.code("origin", "total") * mult["origin"]]  # fmt: skip
    col_at: dict[tuple[int, str], int] = {}
    for di, dname in enumerate(dvals):
        for o in ovals:
            if o == "total":
                continue
            col_at[(di, o)] = len(col_off)
            col_off.append(
                coder.code("definition", dname) * mult["definition"]
                + coder.code("origin", o) * mult["origin"]
            )
    n_col = len(col_off)
    # origin combinations (one leaf per definition) and the columns a person of each counts in
    combos = list(itertools.product(leaves, repeat=len(dvals)))
    linked = _linked(ovals, dvals)
    if linked:
        # only the pairs of classes one person can have, and the link quantities he
        # counts in (for such a pair each 0 or 1)
        i0, i1 = (dvals.index(x) for x in LINKED_DEFINITIONS)
        combos = [c for c in combos if valid_pair(c[i0], c[i1])]
    cmask = np.zeros((len(combos), n_col), dtype=bool)
    cmask[:, 0] = True
    for c, combo in enumerate(combos):
        for di, o in enumerate(combo):
            cmask[c, col_at[(di, o)]] = True
            if o in UNKNOWN_PARTS and has_unknown:
                cmask[c, col_at[(di, "unknown")]] = True
        if linked:
            for ldef, o, coef in _link_columns(dict(zip(dvals, combo, strict=True))):
                cmask[c, col_at[(dvals.index(str(ldef)), o)]] = coef > 0
    combo_arr = np.array(combos, dtype=object).reshape(len(combos), len(dvals))
    # exchanges: a person of combination cy comes, one of cx leaves, in the same rows: the
    # columns of cy only gain, those of cx only lose (`total` and shared ones do not move)
    xpairs = [(cy, cx) for cy in range(len(combos)) for cx in range(len(combos)) if cy != cx]
    x_in = np.array([cmask[cy] & ~cmask[cx] for cy, cx in xpairs], dtype=bool)
    x_out = np.array([cmask[cx] & ~cmask[cy] for cy, cx in xpairs], dtype=bool)

    # every entity's and policy domain's quantities, rows x columns (-1: absent), and the
    # room of each to move
    ent_units = np.nonzero((units.level == LEVEL_ENTITY) | (units.level == LEVEL_DOMAIN))[0]
    e_index = np.full(units.n_units, -1, dtype=np.int64)
    e_index[ent_units] = np.arange(ent_units.size)
    is_ent = units.level[ent_units] == LEVEL_ENTITY
    u_row = sc.u_row
    er = np.maximum(u_row[ent_units], 0)
    base = (
        d["year"][er] * mult["year"] + d["scope"][er] * mult["scope"]
        + d["policy_domain"][er] * mult["policy_domain"] + d["entity"][er] * mult["entity"]
    )  # fmt: skip
    code = (
        base[:, None, None]
        + np.array(row_off, dtype=np.int64)[None, :, None]
        + np.array(col_off, dtype=np.int64)[None, None, :]
    )
    qd = np.where((u_row[ent_units] >= 0)[:, None, None], sc.quantities(code), -1)
    qs = np.maximum(qd, 0)
    movable = (qd >= 0) & hidden[qs]
    room_up = np.where(movable, np.maximum(ub[qs] - truth[qs], 0.0), 0.0)
    room_dn = np.where(movable, np.maximum(truth[qs] - lb[qs], 0.0), 0.0)

    orig_name = {coder.code("origin", o): o for o in ovals}
    var_bd = {coder.code("breakdown", x): j for j, x in enumerate(VARIABLES)}

    def mates_of(w: int) -> tuple[IntArray, IntArray]:
        """The other entities of ``w``'s domain, and the entities of the other domains of
        its year."""
        u = int(ent_units[w])
        dom = units.domain[ent_units]
        yr = units.year[ent_units] == units.year[u]
        m = np.nonzero(is_ent & (dom == units.domain[u]) & (ent_units != u))[0]
        f = np.nonzero(is_ent & yr & (dom != units.domain[u]))[0]
        return m.astype(np.int64), f.astype(np.int64)

    def cmin(room: FloatArray) -> FloatArray:
        """Per row and origin combination: the least room of the combination's columns."""
        out: FloatArray = np.where(cmask, room[..., None, :], np.inf).min(axis=-1)
        return out

    def xmin(gain: FloatArray, lose: FloatArray) -> FloatArray:
        """Per row and exchange: the least room of the columns that gain and that lose."""
        a = np.where(x_in, gain[..., None, :], np.inf).min(axis=-1)
        b = np.where(x_out, lose[..., None, :], np.inf).min(axis=-1)
        out: FloatArray = np.minimum(a, b)
        return out

    def rooms(
        w: int, sign: float, up: FloatArray, dn: FloatArray, mates: IntArray, movers: IntArray
    ) -> tuple[FloatArray, ...]:
        """Per (row, combination): persons that can come into ``w`` and into and out of its
        domain; per (mate, row, combination) that can leave a mate; per (mover, row,
        combination) that can come into and leave a mover, and its domain when it is
        another (inf for a mate); per (row, exchange) and (mate, row, exchange) the
        persons ``w`` and a mate can exchange. For ``sign`` +; the other way round for -."""
        into, out_of = (up, dn) if sign > 0 else (dn, up)
        dw = int(e_index[units.domain[ent_units[w]]])
        dm = e_index[units.domain[ent_units[movers]]]
        far = (dm != dw)[:, None, None]
        return (
            cmin(into[w]), cmin(out_of[mates]), cmin(into[movers]), cmin(out_of[movers]),
            cmin(into[dw]), cmin(out_of[dw]),
            np.where(far, cmin(into[dm]), np.inf), np.where(far, cmin(out_of[dm]), np.inf),
            xmin(into[w], out_of[w]), xmin(out_of[mates], into[mates]),
        )  # fmt: skip

    def refresh(
        rm: tuple[FloatArray, ...], tgt: _Target, up: FloatArray, dn: FloatArray,
        changed: set[int],
    ) -> tuple[FloatArray, ...]:  # fmt: skip
        """:func:`rooms` after a step that moved the units ``changed``: their parts only
        (the arrays copied, not changed in place: the first round's are cached)."""
        into, out_of = (up, dn) if tgt.sign > 0 else (dn, up)
        out = list(rm)
        dm = e_index[units.domain[ent_units[tgt.movers]]]
        far = dm != tgt.dw

        def put(k: int, idx: Any, val: FloatArray) -> None:
            if out[k] is rm[k]:
                out[k] = rm[k].copy()
            out[k][idx] = val

        for e in sorted(changed):
            if e == tgt.w:
                put(0, slice(None), cmin(into[e]))
                put(8, slice(None), xmin(into[e], out_of[e]))
            if e == tgt.dw:
                put(4, slice(None), cmin(into[e]))
                put(5, slice(None), cmin(out_of[e]))
            j = np.nonzero(tgt.mates == e)[0]
            if j.size:
                put(1, j, cmin(out_of[e])[None])
                put(9, j, xmin(out_of[e], into[e])[None])
            k = np.nonzero(tgt.movers == e)[0]
            if k.size:
                put(2, k, cmin(into[e])[None])
                put(3, k, cmin(out_of[e])[None])
            k = np.nonzero(far & (dm == e))[0]
            if k.size:
                put(6, k, cmin(into[e])[None])
                put(7, k, cmin(out_of[e])[None])
        return tuple(out)

    def choose(
        rm: tuple[FloatArray, ...], n_mates: int, forced: tuple[int, int],
        allowed: BoolArray, x_allowed: BoolArray, skip: BoolArray, skip_mv: BoolArray,
        left: float,
    ) -> tuple[int, int, int, int, list[int], float] | None:  # fmt: skip
        """The transfer that goes furthest: (source mate, row of the target's variable it
        leaves from (-2: an exchange), mover that moves between that row and the target's
        (-1: none), origin combination (or exchange), rows, persons). Movers of the target's
        domain first: one of another domain moves both domains' rows too, and is taken only
        when it goes further; then exchanges, taken only when they go further still."""
        cw, co, ci_m, co_m, ci_d, co_d, ci_d2, co_d2, xw, xp = rm
        pair = np.minimum(cw[None], co)  # (mates, rows, combinations)
        steps: list[FloatArray] = []
        rows_of: list[IntArray] = []
        for g, g_rows in enumerate(groups):
            if g == forced[0]:
                continue
            blk = pair[:, g_rows, :]
            steps.append(blk.max(axis=1))
            rows_of.append(g_rows[blk.argmax(axis=1)])
        other = np.minimum.reduce(steps) if steps else np.full(pair[:, 0, :].shape, np.inf)
        ok = allowed[None, :] & ~skip[:, None]
        rt = forced[1]
        plain = np.where(ok, np.floor(np.minimum(other, pair[:, rt, :]) + 1e-9), 0.0)
        best: tuple[float, int, tuple[int, int, int]] = (float(plain.max()), -1, (0, 0, 0))
        # the source leaves from another row v2 of the target's variable; a mover moves a
        # person of the same origins from the target's row to v2 (rows only)
        n_mv = skip_mv.size
        same = np.zeros((skip.size, n_mv), dtype=bool)
        same[:, :n_mates] = np.eye(skip.size, n_mates, dtype=bool)
        if forced[0] > 0:
            for v2 in groups[forced[0]].tolist():
                if v2 == rt:
                    continue
                src = np.minimum(np.minimum(other, cw[rt][None, :]), co[:, v2, :])
                # (movers, combinations); a mover of another domain moves both domains
                mover = np.minimum.reduce(
                    [ci_m[:, v2, :], co_m[:, rt, :], ci_d2[:, v2, :], co_d2[:, rt, :]]
                )  # fmt: skip
                mover[n_mates:] = np.minimum(
                    mover[n_mates:], np.minimum(ci_d[rt], co_d[v2])[None, :]
                )  # fmt: skip
                val = np.minimum(src[:, None, :], mover[None, :, :])
                val = np.where(
                    ok[:, None, :] & ~skip_mv[None, :, None] & ~same[:, :, None],
                    np.floor(val + 1e-9), 0.0,
                )  # fmt: skip
                for lo_m, hi_m in ((0, n_mates), (n_mates, n_mv)):
                    if hi_m <= lo_m:
                        continue
                    part = val[:, lo_m:hi_m, :]
                    m_v = float(part.max())
                    if m_v > best[0]:
                        p_, p2_, c_ = np.unravel_index(int(np.argmax(part)), part.shape)
                        best = (m_v, v2, (int(p_), int(p2_) + lo_m, int(c_)))
        rows_x: list[IntArray] = []
        if x_allowed.any():
            pairx = np.minimum(xw[None], xp)  # (mates, rows, exchanges)
            steps_x: list[FloatArray] = []
            for g, g_rows in enumerate(groups):
                blk = pairx[:, [rt] if g == forced[0] else g_rows, :]
                steps_x.append(blk.max(axis=1))
                rows_x.append((np.array([rt]) if g == forced[0] else g_rows)[blk.argmax(axis=1)])
            val_x = np.minimum.reduce(steps_x)
            val_x = np.where(x_allowed[None, :] & ~skip[:, None], np.floor(val_x + 1e-9), 0.0)
            if float(val_x.max()) > best[0]:
                p_, k_ = np.unravel_index(int(np.argmax(val_x)), val_x.shape)
                best = (float(val_x.max()), -2, (int(p_), -1, int(k_)))
        if best[0] <= 0:
            return None
        m = float(min(best[0], left))
        n_c = allowed.size
        if best[1] == -2:
            p, _, k_x = best[2]
            return p, -2, -1, k_x, [int(r[p, k_x]) for r in rows_x], m
        if best[1] < 0:
            p, c = divmod(int(np.argmax(plain)), n_c)
            p2, v2 = -1, rt
        else:
            v2 = best[1]
            p, p2, c = best[2]
        rows = [0] * len(groups)
        k = 0
        for g in range(len(groups)):
            if g == forced[0]:
                rows[g] = rt
            else:
                rows[g] = int(rows_of[k][p, c])
                k += 1
        return p, v2, p2, c, rows, m

    cache: dict[tuple[int, float], tuple[FloatArray, ...]] = {}

    def witness(tgt: _Target, used: BoolArray) -> tuple[dict[int, float], list[int]] | None:
        """At most TRANSFER_ROUNDS transfers, each the one that goes furthest, moving none of the
        entities ``used``: the quantities moved and the entities moved (None: the goal is
        out of reach)."""
        w, sign, forced = tgt.w, tgt.sign, tgt.forced
        up, dn = room_up, room_dn
        left = tgt.need
        dev: dict[int, float] = {}
        partners: list[int] = []
        if (w, sign) not in cache:
            cache[(w, sign)] = rooms(w, sign, up, dn, tgt.mates, tgt.movers)
        rm = cache[(w, sign)]
        for _ in range(TRANSFER_ROUNDS):
            got = choose(
                rm, tgt.mates.size, forced, tgt.allowed, tgt.x_allowed, used[tgt.mates],
                used[tgt.movers], left,
            )  # fmt: skip
            if got is None:
                return None
            p, v2, p2, c, rows, m = got
            pe = int(tgt.mates[p])
            partners.append(pe)
            moves: list[tuple[int, list[int], float, IntArray]]
            if v2 == -2:
                # an exchange: the same rows, origin columns only
                gain, lose = np.nonzero(x_in[c])[0], np.nonzero(x_out[c])[0]
                moves = [(w, rows, sign, gain), (w, rows, -sign, lose),
                         (pe, rows, -sign, gain), (pe, rows, sign, lose)]  # fmt: skip
            else:
                cols = np.nonzero(cmask[c])[0]
                rt = rows[forced[0]]
                src_rows = [v2 if gi == forced[0] else rv for gi, rv in enumerate(rows)]
                moves = [(w, rows, sign, cols), (pe, src_rows, -sign, cols)]
                if p2 >= 0:
                    e2 = int(tgt.movers[p2])
                    partners.append(e2)
                    moves += [(e2, [v2], sign, cols), (e2, [rt], -sign, cols)]
                    d2 = int(e_index[units.domain[ent_units[e2]]])
                    if d2 != tgt.dw:
                        # the mover's domain and the target's move too
                        moves += [(tgt.dw, [rt], sign, cols), (tgt.dw, [v2], -sign, cols),
                                  (d2, [v2], sign, cols), (d2, [rt], -sign, cols)]  # fmt: skip
            up, dn = up.copy(), dn.copy()
            for e, rws, sg, cls in moves:
                rr = np.repeat(np.array(rws, dtype=np.int64), cls.size)
                cc = np.tile(cls, len(rws))
                for qq in qd[e, rr, cc].tolist():
                    dev[qq] = dev.get(qq, 0.0) + sg * m
                up[e, rr, cc] -= sg * m
                dn[e, rr, cc] += sg * m
            left -= m
            if left <= 1e-9:
                return dev, partners
            rm = refresh(rm, tgt, up, dn, {e for e, _, _, _ in moves})
        return None

    out_q: list[int] = []
    out_goal: list[float] = []
    out_idx: list[IntArray] = []
    out_dev: list[FloatArray] = []
    for i, q in enumerate(tq.tolist()):
        r = int(q_row[q])
        u = int(units.q_unit[q])
        if r < 0 or units.level[u] != LEVEL_ENTITY:
            continue
        w = int(e_index[u])
        bd = int(d["breakdown"][r])
        if bd == bd_total:
            forced = (0, 0)
        elif bd in var_bd and var_bd[bd] in group_of_var:
            j = var_bd[bd]
            g = group_of_var[j]
            forced = (g, int(groups[g][int(d[VARIABLES[j]][r]) - 1]))
        else:
            continue
        oname = orig_name.get(int(d["origin"][r]))
        di = int(d["definition"][r]) - 1
        if oname is None or di < 0:
            continue
        if oname == "total":
            allowed = np.ones(len(combos), dtype=bool)
            x_allowed = np.zeros(len(xpairs), dtype=bool)  # an exchange keeps the total
        else:
            if oname == "unknown":
                allowed = np.isin(combo_arr[:, di], list(UNKNOWN_PARTS))
            else:
                allowed = combo_arr[:, di] == oname
            x_allowed = x_in[:, col_at[(di, oname)]]
        mates, far = mates_of(w)
        if mates.size == 0:
            continue
        movers = np.concatenate([mates, far])
        dw = int(e_index[units.domain[ent_units[w]]])
        for goal in (goal_hi[i], goal_lo[i]):
            if np.isnan(goal) or abs(goal - truth[q]) <= 1e-9:
                continue
            sign = 1.0 if goal > truth[q] else -1.0
            need = abs(goal - float(truth[q]))
            tgt = _Target(w, dw, sign, need, forced, allowed, x_allowed, mates, movers)
            # a first witness; then, for each entity it moves, one that leaves that entity
            # alone (that entity's official cannot exclude it)
            wit1 = witness(tgt, np.zeros(ent_units.size, dtype=bool))
            if wit1 is None:
                continue
            found = [wit1]
            for e in sorted(set(wit1[1])):
                avoid = np.zeros(ent_units.size, dtype=bool)
                avoid[e] = True
                wit_e = witness(tgt, avoid)
                if wit_e is not None and wit_e[0] not in [f[0] for f in found]:
                    found.append(wit_e)
            for dev, _ in found:
                keys = np.array(sorted(k for k, v in dev.items() if abs(v) > 1e-12), dtype=np.int64)
                out_q.append(q)
                out_goal.append(float(goal))
                out_idx.append(keys)
                out_dev.append(np.array([dev[int(k)] for k in keys.tolist()]))
    if not out_q:
        return empty
    ptr = np.concatenate([[0], np.cumsum([a.size for a in out_idx])]).astype(np.int64)
    return Points(
        np.array(out_q, dtype=np.int64), np.array(out_goal), ptr, np.concatenate(out_idx),
        np.concatenate(out_dev),
    )  # fmt: skip
