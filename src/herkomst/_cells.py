"""The long cell layout of a release and the additive relations between its cells.

This module knows only the *layout* (CONTRACT.md "Releases written by the system"): the key
columns, and which cells add up to which. It rebuilds the relations from the cell keys alone,
so that the audit can work from a published release without knowing how it was protected.

Relations (``total = sum of terms``), for every year and definition:

- origin: ``total = inside + outside + unknown``; ``unknown = unknown_parents +
  unknown_grandparents``;
- single breakdown X: the X cells of a row sum to the ``total`` breakdown cell;
- ``all``: for each variable X, the ``all`` cells with X = v sum to the X-breakdown cell X = v;
- scope: the entity cells of a policy domain sum to the domain cell; the domain cells sum to
  the administration cell;
- definitions: the ``origin = total`` cells of every definition count the same people, so
  they are one quantity (one variable, one decision to show or hide);
- the person-level link of ``eu15`` and ``eu`` (:func:`with_link_rows`): whether self or a
  parent is unknown does not depend on the definition, so ``unknown_parents`` under one is
  at most ``unknown_parents + outside`` under the other. Each such inequality is an equality
  over two hidden *link quantities* per row and definition ``D`` (the other one ``D'``):
  ``a(D) = unknown_parents(D) + outside(D)`` and ``a(D) = unknown_parents(D') + s(D')``,
  the slack ``s(D')`` at least 0 (it counts the persons ``unknown_parents`` or ``outside``
  under ``D`` and not ``unknown_parents`` under ``D'``). The link rows are never
  published; their quantities are functions of the cells (``Structure.dep_*``). (One slack
  per row with the row's total, ``total = unknown_parents(D') + inside(D) +
  unknown_grandparents(D) + s(D')``, says the same with fewer quantities, but bounds
  propagate badly through its large terms: the four-breakdown benchmark took 132 s
  instead of 86 s.)

Keys are coded as mixed-radix integers (one digit per key column), so building the relations
of half a million cells is a few numpy sorts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError, InternalError
from .tabulate import CONTRACT_COLUMNS, VARIABLES

#: The key columns of a cell (the contract's columns before count, percent, shown, status).
KEY_COLUMNS: tuple[str, ...] = CONTRACT_COLUMNS[:12]
CELL_COLUMNS: tuple[str, ...] = CONTRACT_COLUMNS
ORIGIN_PARTS: tuple[str, ...] = ("inside", "outside", "unknown")
UNKNOWN_PARTS: tuple[str, ...] = ("unknown_parents", "unknown_grandparents")

#: The two definitions linked person by person (docs/protection.md, "Cross-definition
#: modelling"): a person is ``unknown_parents`` or ``outside`` under both, or ``inside``,
#: ``unknown_grandparents`` or ``outside`` under both.
LINKED_DEFINITIONS: tuple[str, str] = ("eu15", "eu")
#: Origins of the link rows (never published): ``unknown_parents + outside`` of the row's
#: definition, and the slack of the row's definition against the other one's sum.
LINK_SUM = "~link:unknown_parents+outside"
LINK_SLACK = "~link:slack"
LINK_ORIGINS: tuple[str, str] = (LINK_SUM, LINK_SLACK)
#: The status of a link row in an attacker's view.
LINK_STATUS = "link"
#: The link quantities of one row and definition ``D`` as functions of its cells: (origin
#: of the link row, whether that row is of the other definition ``D'``, terms (of ``D'``?,
#: origin, coefficient)). ``a(D) = up(D) + out(D)``; ``s(D') = up(D) + out(D) - up(D')``.
#: The one statement of the link both the structure (:func:`_link_relations`) and the
#: structured witnesses (``herkomst._hypercubes``) use.
LINK_FORMULAS: tuple[tuple[str, bool, tuple[tuple[bool, str, float], ...]], ...] = (
    (LINK_SUM, False, ((False, "unknown_parents", 1.0), (False, "outside", 1.0))),
    (
        LINK_SLACK,
        True,
        ((False, "unknown_parents", 1.0), (False, "outside", 1.0), (True, "unknown_parents", -1.0)),
    ),
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _no_ints() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _no_floats() -> FloatArray:
    return np.zeros(0, dtype=np.float64)


def _zero_ptr() -> IntArray:
    return np.zeros(1, dtype=np.int64)


class KeyCoder:
    """Codes the key columns of cell tables as one int64 per cell (-1: not representable)."""

    def __init__(self, table: pa.Table) -> None:
        missing = [c for c in KEY_COLUMNS if c not in table.column_names]
        if missing:
            raise InputError(f"cell table lacks column(s) {', '.join(missing)}")
        self.values: dict[str, list[str]] = {}
        self.mult: dict[str, int] = {}
        m = 1
        for col in reversed(KEY_COLUMNS):
            arr = pc.cast(table[col], pa.string())
            vals = sorted(v for v in pc.unique(arr).to_pylist() if v is not None)
            if col == "origin":
                vals = sorted(set(vals) | {"total", "unknown"})
            if col == "breakdown":
                vals = sorted(set(vals) | {"total", *VARIABLES})
            if col == "scope":
                vals = sorted(set(vals) | {"administration", "policy_domain", "entity"})
            self.values[col] = vals
            self.mult[col] = m
            m *= len(vals) + 1
        if m >= 2**62:
            raise InternalError("too many distinct key values to code cells as int64")

    def code(self, col: str, value: str | None) -> int:
        """The digit of ``value`` in column ``col`` (0 for null, -1 if unknown)."""
        if value is None:
            return 0
        vals = self.values[col]
        i = int(np.searchsorted(np.array(vals, dtype=object), value))
        return i + 1 if i < len(vals) and vals[i] == value else -1

    def digits(self, table: pa.Table) -> dict[str, IntArray]:
        out: dict[str, IntArray] = {}
        for col in KEY_COLUMNS:
            arr = pc.cast(table[col], pa.string())
            dict_arr = pa.array(self.values[col], pa.string())
            found = pc.fill_null(pc.index_in(arr, value_set=dict_arr), -1)
            idx = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
            isnull = np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)
            d = np.where(idx < 0, -1, idx + 1)
            out[col] = np.where(isnull, 0, d).astype(np.int64)
        return out

    def encode(self, table: pa.Table) -> IntArray:
        d = self.digits(table)
        bad = np.zeros(table.num_rows, dtype=bool)
        code = np.zeros(table.num_rows, dtype=np.int64)
        for col in KEY_COLUMNS:
            bad |= d[col] < 0
            code += np.where(d[col] < 0, 0, d[col]) * self.mult[col]
        return np.where(bad, -1, code)


@dataclass(frozen=True)
class Structure:
    """Quantities and additive relations of a cell table.

    ``qid[i]`` is the quantity of row ``i`` (rows of different definitions with origin
    ``total`` share one quantity). Relation ``r`` says ``q[rel_total[r]] = sum of
    q[rel_terms[rel_ptr[r]:rel_ptr[r + 1]]]``.
    """

    coder: KeyCoder
    rcode: IntArray  # per row: coded key
    qid: IntArray  # per row: quantity
    n_q: int
    rel_total: IntArray
    rel_ptr: IntArray
    rel_terms: IntArray
    rel_kind: IntArray  # index into RELATION_KINDS
    # the link quantities, functions of the cells: dep_q[i] is the sum of
    # dep_coef[k] * q[dep_terms[k]] over k in dep_ptr[i]:dep_ptr[i + 1] (none in a
    # substructure)
    dep_q: IntArray = field(default_factory=_no_ints)
    dep_ptr: IntArray = field(default_factory=_zero_ptr)
    dep_terms: IntArray = field(default_factory=_no_ints)
    dep_coef: FloatArray = field(default_factory=_no_floats)

    @property
    def n_rel(self) -> int:
        return int(self.rel_total.shape[0])

    def dependent(self) -> BoolArray:
        """Per quantity, whether it is a link quantity (a function of the cells)."""
        out = np.zeros(self.n_q, dtype=bool)
        out[self.dep_q] = True
        return out

    def derive(self, values: FloatArray) -> FloatArray:
        """``values`` with every link quantity computed from the cells (a missing cell, NaN,
        counts 0: an empty combination of a withheld entity's copy)."""
        out = values.copy()
        if self.dep_q.size:
            v = np.nan_to_num(values[self.dep_terms], nan=0.0) * self.dep_coef
            out[self.dep_q] = np.add.reduceat(v, self.dep_ptr[:-1])
        return out

    def link_rows(
        self, gq: IntArray | None = None
    ) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
        """The link quantities as rows over the cells, ``dep_q[i] = sum coef * q[terms]``:
        (row, column, coefficient, the link quantity of each row). With ``gq`` (sorted
        global ids of an LP's columns) the columns are positions in ``gq``, terms outside it
        are dropped (held at the truth: they do not move) and so are rows left without
        terms. An LP of deviations bounds row ``i`` by ``[lb - v, ub - v]`` of its link
        quantity: the link's inequality with no link column (faster for the simplex than the
        equalities over the link quantities)."""
        n_t = np.diff(self.dep_ptr)
        row = np.repeat(np.arange(self.dep_q.size, dtype=np.int64), n_t)
        col, coef = self.dep_terms, self.dep_coef
        if gq is not None:
            pos = np.minimum(np.searchsorted(gq, col), max(gq.size - 1, 0))
            inside = gq[pos] == col if gq.size else np.zeros(col.size, dtype=bool)
            row, col, coef = row[inside], pos[inside], coef[inside]
        used, r = np.unique(row, return_inverse=True)
        return r.reshape(-1).astype(np.int64), col.astype(np.int64), coef, self.dep_q[used]

    def derive_deltas(
        self, point: IntArray, idx: IntArray, dev: FloatArray
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """The link quantities' deviations implied by sparse deviations of the cells
        (``point[k]`` moves quantity ``idx[k]`` by ``dev[k]``; link quantities among them are
        ignored): (point, link quantity, deviation), the non-zero ones."""
        empty = (_no_ints(), _no_ints(), _no_floats())
        if self.dep_q.size == 0 or idx.size == 0:
            return empty
        dep = self.dependent()
        # per cell, the (link, coefficient) pairs it enters
        n_t = np.diff(self.dep_ptr)
        link_of = np.repeat(self.dep_q, n_t)
        o = np.argsort(self.dep_terms, kind="stable")
        tq, lq, cf = self.dep_terms[o], link_of[o], self.dep_coef[o]
        keep = ~dep[idx]
        point, idx, dev = point[keep], idx[keep], dev[keep]
        lo = np.searchsorted(tq, idx, side="left")
        hi = np.searchsorted(tq, idx, side="right")
        cnt = hi - lo
        if cnt.sum() == 0:
            return empty
        rep = np.repeat(np.arange(idx.size, dtype=np.int64), cnt)
        mem = np.repeat(lo - np.cumsum(np.concatenate([[0], cnt[:-1]])), cnt) + np.arange(
            int(cnt.sum()), dtype=np.int64
        )
        key = point[rep] * self.n_q + lq[mem]
        uk, inv = np.unique(key, return_inverse=True)
        val = np.bincount(inv.reshape(-1), weights=cf[mem] * dev[rep], minlength=uk.size)
        nz = np.abs(val) > 1e-12
        pts: IntArray = (uk[nz] // self.n_q).astype(np.int64)
        qs: IntArray = (uk[nz] % self.n_q).astype(np.int64)
        vals: FloatArray = val[nz].astype(np.float64)
        return pts, qs, vals

    def fingerprint(self) -> str:
        """A digest of the rows' keys and quantities and of the relations: two structures
        with the same fingerprint number their quantities the same way."""
        h = hashlib.sha256()
        for a in (self.rcode, self.qid, self.rel_total, self.rel_ptr, self.rel_terms):
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        return h.hexdigest()

    def members(self) -> tuple[IntArray, IntArray, FloatArray]:
        """All (relation, quantity, coefficient) triples; totals +1, terms -1."""
        n = self.n_rel
        counts = np.diff(self.rel_ptr)
        rel_of_term = np.repeat(np.arange(n, dtype=np.int64), counts)
        rel = np.concatenate([np.arange(n, dtype=np.int64), rel_of_term])
        q = np.concatenate([self.rel_total, self.rel_terms])
        coef = np.concatenate([np.ones(n), -np.ones(self.rel_terms.shape[0])])
        return rel, q, coef

    def matrix(self, links: bool = True) -> tuple[IntArray, IntArray, FloatArray]:
        """The relations as a sparse matrix (row, quantity, coefficient): duplicates summed,
        zeros dropped (a quantity may appear twice in one relation). ``links=False`` leaves
        the link relations' rows empty (for LPs that state the link as inequality rows
        over the cells instead: :meth:`link_rows`)."""
        n = self.n_q
        rel, q, coef = self.members()
        if not links:
            keep = ~np.isin(self.rel_kind[rel], _LINK_KINDS)
            rel, q, coef = rel[keep], q[keep], coef[keep]
        key = rel * n + q
        uk, inv = np.unique(key, return_inverse=True)
        val = np.bincount(inv.reshape(-1), weights=coef, minlength=uk.size)
        nz = val != 0
        uk, val = uk[nz], val[nz]
        return uk // n, uk % n, val


RELATION_KINDS: tuple[str, ...] = (
    "origin",
    "unknown",
    *(f"breakdown:{v}" for v in VARIABLES),
    *(f"all:{v}" for v in VARIABLES),
    "entity_in_domain",
    "domain_in_administration",
    "link_sum",
    "link_cross",
)
_LINK_KINDS = np.array(
    [RELATION_KINDS.index("link_sum"), RELATION_KINDS.index("link_cross")], dtype=np.int64
)


def _relation_specs() -> list[tuple[str, str, tuple[str, ...], dict[str, str | None]]]:
    """(kind, term filter column, allowed values, overrides of the parent key)."""
    specs: list[tuple[str, str, tuple[str, ...], dict[str, str | None]]] = [
        ("origin", "origin", ORIGIN_PARTS, {"origin": "total"}),
        ("unknown", "origin", UNKNOWN_PARTS, {"origin": "unknown"}),
    ]
    for v in VARIABLES:
        specs.append((f"breakdown:{v}", "breakdown", (v,), {"breakdown": "total", v: None}))
    for v in VARIABLES:
        over: dict[str, str | None] = {"breakdown": v}
        over.update({w: None for w in VARIABLES if w != v})
        specs.append((f"all:{v}", "breakdown", ("all",), over))
    specs.append(
        ("entity_in_domain", "scope", ("entity",), {"scope": "policy_domain", "entity": None})
    )
    specs.append(
        (
            "domain_in_administration",
            "scope",
            ("policy_domain",),
            {"scope": "administration", "policy_domain": None},
        )
    )
    return specs


def build_structure(table: pa.Table) -> Structure:
    """Quantities and relations of a cell table, from its keys only."""
    n = table.num_rows
    coder = KeyCoder(table)
    digits = coder.digits(table)
    rcode = np.zeros(n, dtype=np.int64)
    for col in KEY_COLUMNS:
        if (digits[col] < 0).any():  # pragma: no cover - the coder saw every value
            raise InternalError(f"uncoded value in column {col}")
        rcode += digits[col] * coder.mult[col]
    order = np.argsort(rcode, kind="stable")
    sorted_codes = rcode[order]
    if n > 1 and (np.diff(sorted_codes) == 0).any():
        dup = int(order[int(np.argmax(np.diff(sorted_codes) == 0))])
        raise InputError(
            f"cell table has duplicate keys (row {dup}): one row per cell of every table expected"
        )
    # Quantities: origin-total rows of every definition are one quantity.
    total_code = coder.code("origin", "total")
    is_total = digits["origin"] == total_code
    qcode = rcode - np.where(is_total, digits["definition"] * coder.mult["definition"], 0)
    _, first, inv = np.unique(qcode, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0], dtype=np.int64)
    qid = rank[inv.reshape(-1)]
    n_q = int(first.shape[0])

    groups: list[IntArray] = []
    parents: list[IntArray] = []
    terms: list[IntArray] = []
    kinds: list[IntArray] = []
    ndef = len(coder.values["definition"]) + 1
    link_codes = [c for c in (coder.code("origin", o) for o in LINK_ORIGINS) if c > 0]
    is_link = np.isin(digits["origin"], link_codes)
    for k, (kind, col, allowed, over) in enumerate(_relation_specs()):
        codes = [coder.code(col, a) for a in allowed]
        mask = np.isin(digits[col], [c for c in codes if c > 0]) & ~is_link
        if not mask.any():
            continue
        rows = np.nonzero(mask)[0]
        pcode = rcode[rows].copy()
        ok = np.ones(rows.shape[0], dtype=bool)
        for ocol, oval in over.items():
            newd = coder.code(ocol, oval)
            if newd < 0:
                ok[:] = False
                break
            pcode += (newd - digits[ocol][rows]) * coder.mult[ocol]
        pos = np.searchsorted(sorted_codes, pcode)
        pos = np.minimum(pos, n - 1)
        found = ok & (sorted_codes[pos] == pcode)
        rows = rows[found]
        prow = order[pos[found]]
        disc = digits["definition"][rows] if kind in ("origin", "unknown") else np.zeros_like(rows)
        group = (k * n_q + qid[prow]) * ndef + disc
        groups.append(group)
        parents.append(qid[prow])
        terms.append(qid[rows])
        kinds.append(np.full(rows.shape[0], k, dtype=np.int64))
    deps = _link_relations(coder, digits, rcode, order, sorted_codes, qid, is_link)
    if deps is not None:
        k_sum, k_cross = RELATION_KINDS.index("link_sum"), RELATION_KINDS.index("link_cross")
        for k, tq in ((k_sum, deps.terms_sum), (k_cross, deps.terms_cross)):
            for j in range(tq.shape[1]):
                groups.append((k * n_q + deps.a_q) * ndef)
                parents.append(deps.a_q)
                terms.append(tq[:, j])
                kinds.append(np.full(deps.a_q.shape[0], k, dtype=np.int64))
    if not groups:
        empty = np.zeros(0, dtype=np.int64)
        return Structure(coder, rcode, qid, n_q, empty, np.zeros(1, np.int64), empty, empty)
    g = np.concatenate(groups)
    p = np.concatenate(parents)
    t = np.concatenate(terms)
    kd = np.concatenate(kinds)
    # One pair per (relation, term); relations in a deterministic order.
    pair = np.lexsort((t, g))
    g, p, t, kd = g[pair], p[pair], t[pair], kd[pair]
    keep = np.ones(g.shape[0], dtype=bool)
    keep[1:] = (g[1:] != g[:-1]) | (t[1:] != t[:-1])
    g, p, t, kd = g[keep], p[keep], t[keep], kd[keep]
    starts = np.nonzero(np.concatenate([[True], g[1:] != g[:-1]]))[0]
    rel_ptr = np.concatenate([starts, [g.shape[0]]]).astype(np.int64)
    return Structure(
        coder=coder,
        rcode=rcode,
        qid=qid,
        n_q=n_q,
        rel_total=p[starts].astype(np.int64),
        rel_ptr=rel_ptr,
        rel_terms=t.astype(np.int64),
        rel_kind=kd[starts].astype(np.int64),
        dep_q=_no_ints() if deps is None else deps.dep_q,
        dep_ptr=_zero_ptr() if deps is None else deps.dep_ptr,
        dep_terms=_no_ints() if deps is None else deps.dep_terms,
        dep_coef=_no_floats() if deps is None else deps.dep_coef,
    )


class _Links(NamedTuple):
    a_q: IntArray  # per LINK_SUM row: its quantity
    terms_sum: IntArray  # (rows, 2): unknown_parents(D), outside(D)
    terms_cross: IntArray  # (rows, 2): unknown_parents(D'), slack(D')
    dep_q: IntArray
    dep_ptr: IntArray
    dep_terms: IntArray
    dep_coef: FloatArray


def _link_relations(
    coder: KeyCoder,
    digits: dict[str, IntArray],
    rcode: IntArray,
    order: IntArray,
    sorted_codes: IntArray,
    qid: IntArray,
    is_link: BoolArray,
) -> _Links | None:
    """The link relations of the ``LINK_SUM`` rows (:func:`with_link_rows`): per row of
    definition ``D`` (the other one ``D'``), its quantity ``a``, the terms of
    ``a = unknown_parents(D) + outside(D)`` and of ``a = unknown_parents(D') + slack(D')``
    (two columns each), and the link quantities as functions of the cells:
    ``a = up(D) + out(D)``, ``slack(D') = up(D) + out(D) - up(D')``. None without link rows."""
    c_sum = coder.code("origin", LINK_SUM)
    if c_sum <= 0 or not is_link.any():
        return None
    rows = np.nonzero(digits["origin"] == c_sum)[0]
    d_def = digits["definition"][rows]
    other = np.zeros_like(d_def)
    d0, d1 = (coder.code("definition", d) for d in LINKED_DEFINITIONS)
    other[d_def == d0] = d1
    other[d_def == d1] = d0
    n = rcode.shape[0]

    def find(origin: str, definition: IntArray | None) -> IntArray:
        code = rcode[rows] + (coder.code("origin", origin) - c_sum) * coder.mult["origin"]
        if definition is not None:
            code = code + (definition - d_def) * coder.mult["definition"]
        pos = np.minimum(np.searchsorted(sorted_codes, code), n - 1)
        hit = sorted_codes[pos] == code
        if not hit.all() or (other == 0).any():
            raise InternalError("a link row without its cells (with_link_rows makes both)")
        out: IntArray = qid[order[pos]]
        return out

    a_q = qid[rows]
    terms_sum = np.stack([find("unknown_parents", None), find("outside", None)], axis=1)
    terms_cross = np.stack([find("unknown_parents", other), find(LINK_SLACK, other)], axis=1)
    # the link quantities as functions of the cells (LINK_FORMULAS, relative to D)
    dq: list[IntArray] = []
    dt: list[IntArray] = []
    dc: list[FloatArray] = []
    dn: list[IntArray] = []
    for origin, of_other, formula in LINK_FORMULAS:
        dq.append(find(origin, other if of_other else None))
        cols = [find(o, other if o_other else None) for o_other, o, _ in formula]
        dt.append(np.stack(cols, axis=1).reshape(-1))
        dc.append(np.tile([c for _, _, c in formula], a_q.shape[0]))
        dn.append(np.full(a_q.shape[0], len(formula), dtype=np.int64))
    dep_ptr = np.concatenate([[0], np.cumsum(np.concatenate(dn))]).astype(np.int64)
    return _Links(
        a_q, terms_sum, terms_cross, np.concatenate(dq), dep_ptr, np.concatenate(dt),
        np.concatenate(dc).astype(np.float64),
    )  # fmt: skip


def check_links(s: Structure, values: FloatArray, view: pa.Table) -> None:
    """Raise :class:`InputError` when the true cells ``values`` (per quantity, the link
    quantities derived) give a link slack below 0: no person-level classification does.
    Names the row's key (no count: the message may leave the warehouse)."""
    dep = s.dependent()
    bad = np.nonzero(dep & (values < -1e-9))[0]
    if bad.size == 0:
        return
    row = int(np.nonzero(s.qid == int(bad[0]))[0][0])
    key = ", ".join(
        f"{c}={view[c][row].as_py()}"
        for c in KEY_COLUMNS
        if c not in ("origin", "definition") and view[c][row].as_py() is not None
    )
    raise InputError(
        f"cells ({key}): unknown_parents under one of {' and '.join(LINKED_DEFINITIONS)} "
        "exceeds unknown_parents + outside under the other, which no person-level "
        "classification gives (whether self or a parent is unknown does not depend on the "
        "definition)"
    )


def with_link_rows(table: pa.Table) -> pa.Table:
    """``table`` (the contract's columns) plus the link rows of every row that both linked
    definitions tabulate (``unknown_parents`` and ``outside`` under each): per definition
    one ``LINK_SUM`` and one ``LINK_SLACK`` row with the row's key, no count, no label and
    status ``LINK_STATUS`` (hidden quantities at least 0 that no release holds). Unchanged
    when a linked definition is absent."""
    if pc.any(pc.is_in(table["origin"], pa.array(LINK_ORIGINS, pa.string()))).as_py():
        raise InputError(
            f"cell table holds a reserved origin ({' or '.join(LINK_ORIGINS)}): not a release"
        )
    defs = set(pc.unique(table["definition"]).to_pylist())
    if not set(LINKED_DEFINITIONS) <= defs:
        return table
    coder = KeyCoder(table)
    d = coder.digits(table)
    code = coder.encode(table)
    # the row's key: every key column but the definition and the origin
    key = code - d["definition"] * coder.mult["definition"] - d["origin"] * coder.mult["origin"]
    ok = code >= 0
    have = None
    for o in ("unknown_parents", "outside"):
        for x in LINKED_DEFINITIONS:
            m = ok & (d["origin"] == coder.code("origin", o))
            m &= d["definition"] == coder.code("definition", x)
            keys = np.unique(key[m])
            have = keys if have is None else np.intersect1d(have, keys)
    assert have is not None
    up = ok & (d["origin"] == coder.code("origin", "unknown_parents"))
    in_def = np.isin(d["definition"], [coder.code("definition", x) for x in LINKED_DEFINITIONS])
    sel = up & in_def & np.isin(key, have)
    base = table.filter(pa.array(sel))
    parts = [table]
    for o in LINK_ORIGINS:
        cols = {c: base[c] for c in base.column_names}
        m = base.num_rows
        cols["origin"] = pa.array([o] * m, table.schema.field("origin").type)
        for c in ("count", "percent", "shown"):
            cols[c] = pa.nulls(m, table.schema.field(c).type)
        cols["status"] = pa.array([LINK_STATUS] * m, table.schema.field("status").type)
        parts.append(pa.table(cols, schema=table.schema))
    return pa.concat_tables(parts)


def empty_cells() -> pa.Table:
    """An empty table in the contract's long layout."""
    fields = [pa.field(c, pa.string()) for c in KEY_COLUMNS]
    fields[0] = pa.field("year", pa.int32())
    fields += [
        pa.field("count", pa.int64()),
        pa.field("percent", pa.float64()),
        pa.field("shown", pa.string()),
        pa.field("status", pa.string()),
    ]
    return pa.schema(fields).empty_table()


def conform(table: pa.Table) -> pa.Table:
    """The contract's columns in order and types (year int32, count int64, percent double)."""
    missing = [c for c in KEY_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(f"cell table lacks column(s) {', '.join(missing)}")
    schema = empty_cells().schema
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(pc.cast(table[f.name], f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def round_half_away(x: FloatArray, digits: int = 1) -> FloatArray:
    """Round half away from zero (what the contract asks of percentages)."""
    f = 10.0**digits
    # The tiny nudge undoes binary representation error (12.25 stored as 12.2499999...).
    out: FloatArray = np.sign(x) * np.floor(np.abs(x) * f + 0.5 + 1e-9) / f
    return out


# -- units and blocks (the block decomposition of docs/protection.md) --------------------------

LEVEL_ADMINISTRATION, LEVEL_DOMAIN, LEVEL_ENTITY = 0, 1, 2


@dataclass(frozen=True)
class Units:
    """The units of a cell table: the administration, each policy domain and each entity, per
    year. Every quantity belongs to exactly one unit (the origin ``total`` cells shared by
    the definitions belong to the same unit)."""

    q_unit: IntArray  # per quantity: its unit
    year: IntArray  # per unit: the year (as coded)
    level: IntArray  # per unit: LEVEL_ADMINISTRATION, LEVEL_DOMAIN or LEVEL_ENTITY
    domain: IntArray  # per unit: the unit of its policy domain (-1 for the administration)
    admin: IntArray  # per unit: the administration unit of its year (-1 if absent)
    name: tuple[str, ...]  # per unit: entity code, policy-domain code or "administration"
    unit_rel_ptr: IntArray  # CSR: relations with a member in unit u are
    unit_rel: IntArray  # unit_rel[unit_rel_ptr[u]:unit_rel_ptr[u + 1]]

    @property
    def n_units(self) -> int:
        return int(self.year.shape[0])

    def relations_of(self, units: IntArray) -> IntArray:
        parts = [self.unit_rel[self.unit_rel_ptr[u] : self.unit_rel_ptr[u + 1]] for u in units]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        out: IntArray = np.unique(np.concatenate(parts))
        return out


def build_units(table: pa.Table, s: Structure) -> Units:
    """The units of ``table`` (the table ``s`` was built from)."""
    coder = s.coder
    d = coder.digits(table)
    key = np.stack([d["year"], d["scope"], d["policy_domain"], d["entity"]], axis=1)
    ukeys, row_unit = np.unique(key, axis=0, return_inverse=True)
    row_unit = row_unit.reshape(-1).astype(np.int64)
    q_unit = np.full(s.n_q, -1, dtype=np.int64)
    q_unit[s.qid] = row_unit
    dom_vals = coder.values["policy_domain"]
    ent_vals = coder.values["entity"]
    n = ukeys.shape[0]
    level = np.zeros(n, dtype=np.int64)
    names: list[str] = []
    index: dict[tuple[int, int, int, int], int] = {
        (int(a), int(b), int(c), int(e)): i for i, (a, b, c, e) in enumerate(ukeys)
    }
    sc_admin = coder.code("scope", "administration")
    sc_dom = coder.code("scope", "policy_domain")
    for i, (_, sc, dm, en) in enumerate(ukeys):
        if sc == sc_admin:
            level[i] = LEVEL_ADMINISTRATION
            names.append("administration")
        elif sc == sc_dom:
            level[i] = LEVEL_DOMAIN
            names.append(dom_vals[int(dm) - 1] if dm > 0 else "")
        else:
            level[i] = LEVEL_ENTITY
            names.append(ent_vals[int(en) - 1] if en > 0 else "")
    domain = np.full(n, -1, dtype=np.int64)
    admin = np.full(n, -1, dtype=np.int64)
    for i, (yr, _, dm, _) in enumerate(ukeys):
        a = index.get((int(yr), sc_admin, 0, 0), -1)
        admin[i] = a
        if level[i] == LEVEL_DOMAIN:
            domain[i] = i
        elif level[i] == LEVEL_ENTITY:
            domain[i] = index.get((int(yr), sc_dom, int(dm), 0), -1)
    rel, q, _ = s.members()
    pair = np.unique(q_unit[q] * max(s.n_rel, 1) + rel)
    pu, pr = pair // max(s.n_rel, 1), pair % max(s.n_rel, 1)
    ptr = np.searchsorted(pu, np.arange(n + 1)).astype(np.int64)
    return Units(
        q_unit=q_unit,
        year=ukeys[:, 0].astype(np.int64),
        level=level,
        domain=domain,
        admin=admin,
        name=tuple(names),
        unit_rel_ptr=ptr,
        unit_rel=pr.astype(np.int64),
    )


def breakdown_of(view: pa.Table, s: Structure) -> IntArray:
    """Per quantity the index of its breakdown among the view's sorted breakdown names; -1
    for a quantity of the ``total`` breakdown (every breakdown's margin), -2 for one of the
    ``all`` table or of more than one breakdown (the sub-LPs of the repair and the audit's
    breakdown witnesses work over one breakdown and the ``total`` breakdown)."""
    bds = view["breakdown"].to_pylist()
    names = sorted({b for b in bds if b is not None})
    code = {b: i for i, b in enumerate(names)}
    rows = np.array([code.get(b, -2) for b in bds], dtype=np.int64)
    lo = np.full(s.n_q, len(names), dtype=np.int64)
    hi = np.full(s.n_q, -1, dtype=np.int64)
    np.minimum.at(lo, s.qid, rows)
    np.maximum.at(hi, s.qid, rows)
    out: IntArray = np.where(lo == hi, lo, -2)
    if "all" in code:
        out[out == code["all"]] = -2
    if "total" in code:
        out[out == code["total"]] = -1
    return out


def substructure(
    s: Structure, rels: IntArray, extra: IntArray | None = None
) -> tuple[Structure, IntArray]:
    """The relations ``rels`` of ``s`` as a structure of their own.

    Returns the local structure and, per local quantity, its global quantity (sorted); the
    quantities ``extra`` are included even when in none of the relations.
    """
    starts, ends = s.rel_ptr[rels], s.rel_ptr[rels + 1]
    lens = ends - starts
    tot = s.rel_total[rels]
    idx = np.repeat(starts - np.cumsum(np.concatenate([[0], lens[:-1]])), lens) + np.arange(
        int(lens.sum()), dtype=np.int64
    )
    terms = s.rel_terms[idx] if idx.size else np.zeros(0, dtype=np.int64)
    parts = [tot, terms] + ([extra] if extra is not None else [])
    gq: IntArray = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    local = Structure(
        coder=s.coder,
        rcode=np.zeros(0, dtype=np.int64),
        qid=np.zeros(0, dtype=np.int64),
        n_q=int(gq.shape[0]),
        rel_total=np.searchsorted(gq, tot).astype(np.int64),
        rel_ptr=ptr,
        rel_terms=np.searchsorted(gq, terms).astype(np.int64),
        rel_kind=s.rel_kind[rels].astype(np.int64),
    )
    return local, gq
