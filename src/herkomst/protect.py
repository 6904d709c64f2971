"""Disclosure control per audience (advice 13/71): exact, one entity, or public.

- ``service``: every cell exact.
- ``entity:<code>``: exactly that entity's cells, exact whatever its size; the summary says
  the release is personal data, not anonymous (advice 13/71, points 14-15).
- ``public``: entities under the minimum size withheld (absent); counts 1-4 labelled ``1-5``
  with their percentage hidden (primary); then complementary (secondary) suppression over the
  whole linked set at once (every breakdown, scope and definition; an origin ``total`` is one
  quantity for every definition) until the independent LP audit (:mod:`herkomst.audit`)
  passes for the public and for every entity's leading official (insider), together with what
  the audience already received (the ledger).

Complementary suppression (:func:`protect_public`, deterministic) has four methods
(docs/protection.md):

- ``repair`` (the default): audit-driven attacking-table LPs (:class:`_Repair`, HiGHS): for
  each cell and side that falls short in the audit, the cheapest set of published cells
  whose hiding makes the missing value possible (cost ``1 + count`` per unit, zeros and the
  administration grand total never); repeated until the audit passes, then the exact audit.
- ``heuristic``: local rules first (interval arithmetic per relation, at least three hidden
  cells in an entity-in-domain relation; :func:`_local_fixpoint`), then the same repair.
- ``blocks``: a conservative decomposition for large releases (:func:`_protect_blocks`,
  the block audit of :mod:`herkomst.audit`); what the screening leaves goes to the repair,
  whose points (looked for over the target's breakdown first, :class:`_SubLP`) the audit
  checks and uses as witnesses; the exact block audit decides what is left.
- ``exact``: the mixed-integer yardstick (:func:`_exact_mip`, :func:`compare_methods`) for
  how many cells the heuristics hide too many, on problems small enough.

Percentages: a percentage is shown only with its count and its row total (a rounded
percentage times a published total narrows a hidden count, and a percentage of a published
count narrows a hidden total), never for a masked cell.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._cells import (
    KEY_COLUMNS,
    LINK_STATUS,
    BoolArray,
    FloatArray,
    IntArray,
    Structure,
    breakdown_of,
    build_structure,
    build_units,
    check_links,
    conform,
    substructure,
)
from ._highs import DeviationLP, colwise_model
from ._parallel import Worker
from .audit import (
    BLOCKS_FROM,
    PAIR_PARTNERS,
    WITHHELD_STATUS,
    AuditResult,
    attacker_view,
    audit,
    partner_domains,
    partner_maps,
)
from .authorization import Audience, AudienceKind, Authorization, PublicRules
from .errors import AuthorizationError, CheckFailed, InputError, InternalError
from .ledger import Ledger

STATUS_PUBLISHED = "published"
STATUS_PRIMARY = "masked_primary"
STATUS_SECONDARY = "masked_secondary"

# hidden classes: primary, withheld, secondary, link quantity (0 = published)
_P, _W, _S, _L = 1, 2, 3, 4


def _to_table(cells: Any) -> pa.Table:
    if isinstance(cells, pa.Table):
        return cells
    for name in ("fetch_arrow_table", "to_arrow_table", "arrow"):
        fn = getattr(cells, name, None)
        if fn is not None:
            out = fn()
            if isinstance(out, pa.RecordBatchReader):
                out = out.read_all()
            if isinstance(out, pa.Table):
                return out
    raise InputError(f"cells: a pyarrow Table or a DuckDB relation expected, got {type(cells)}")


def _check_allowed(cells: pa.Table, auth: Authorization, audience: Audience) -> None:
    def vals(c: str) -> list[str]:
        return [v for v in pc.unique(cells[c]).to_pylist() if v is not None]

    auth.check(audience, vals("definition"), vals("breakdown"), vals("scope"))


def protect_public(
    cells: Any,
    authorization: Authorization,
    audience: str | Audience,
    ledger: Ledger | pa.Table | None = None,
    *,
    method: str = "repair",
    attackers: str = "all",
    max_rounds: int = 40,
) -> tuple[pa.Table, dict[str, Any], AuditResult | None]:
    """Protect the service cells for an audience: (cells to release, summary, audit result).

    For ``public`` the returned cells have passed the audit (else :class:`CheckFailed`) and
    the :class:`AuditResult` is returned; other audiences get ``None`` (exact by authorization).
    """
    t0 = time.perf_counter()
    aud = audience if isinstance(audience, Audience) else Audience.parse(audience)
    table = conform(_to_table(cells))
    _check_allowed(table, authorization, aud)
    rules = authorization.audience_rules(aud)
    base: dict[str, Any] = {
        "audience": str(aud),
        "authorization": authorization.provenance(),
        "clause": rules.clause,
        "personal_data": rules.personal_data,
    }
    if aud.kind is AudienceKind.SERVICE:
        base.update({"cells": table.num_rows, "exact": True, "protection": "none (exact)"})
        return table, base, None
    if aud.kind is AudienceKind.ENTITY:
        mask = pc.and_(pc.equal(table["scope"], "entity"), pc.equal(table["entity"], aud.entity))
        out = table.filter(pc.fill_null(mask, False))
        if out.num_rows == 0:
            raise AuthorizationError(
                f"audience '{aud}': no entity '{aud.entity}' in the cells "
                f"(authorization {authorization.id}, {rules.clause}: one entity's own cells)"
            )
        base.update(
            {
                "cells": out.num_rows,
                "exact": True,
                "entity": aud.entity,
                "protection": "none (exact, one entity)",
                "personal_data_note": rules.personal_data_note,
            }
        )
        return out, base, None
    led = ledger
    if isinstance(ledger, Ledger):
        led = ledger.load(aud, pc.unique(table["year"]).to_pylist())
    assert led is None or isinstance(led, pa.Table)
    # in key order: the suppression must not depend on the order the engine returned the
    # cells in (a multi-threaded query without ORDER BY differs from run to run)
    table = table.sort_by([(c, "ascending") for c in KEY_COLUMNS])
    out, summary, result = _protect_public(table, authorization, led, method, attackers, max_rounds)
    summary.update(base)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return out, summary, result


# -- the public audience -----------------------------------------------------------------------


@dataclass
class _State:
    """The suppression problem on the attacker's view of the release."""

    view: pa.Table
    s: Structure
    v: FloatArray  # true value per quantity
    cls: IntArray  # 0 published, _P, _W, _S, _L
    lb: FloatArray
    ub: FloatArray
    forbidden: BoolArray  # may never become a complementary suppression
    admin: BoolArray  # a quantity of the administration's tables
    rules: PublicRules


def _withheld(table: pa.Table, rules: PublicRules) -> list[dict[str, Any]]:
    m = pc.and_(
        pc.and_(pc.equal(table["scope"], "entity"), pc.equal(table["breakdown"], "total")),
        pc.equal(table["origin"], "total"),
    )
    sizes = table.filter(pc.fill_null(m, False)).select(
        ["year", "policy_domain", "entity", "count"]
    )
    seen: dict[tuple[int, str, str], int] = {}
    for r in sizes.to_pylist():
        seen[(int(r["year"]), str(r["policy_domain"]), str(r["entity"]))] = int(r["count"] or 0)
    return [
        {
            "year": y,
            "policy_domain": d,
            "entity": e,
            "reason": f"fewer than {rules.min_entity_size} staff",
        }
        for (y, d, e), n in sorted(seen.items())
        if n < rules.min_entity_size
    ]


def _sparse_tables(
    table: pa.Table, rules: PublicRules, withheld: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The breakdowns (per year) close to microdata for the public: more than
    ``rules.max_small_share`` of the non-zero cells the public could receive (every scope,
    both definitions, entities below the size threshold left out) from ``small_count_min``
    to ``small_count_max``. ``total`` is never one of them (the other tables' margins)."""
    if rules.max_small_share >= 1.0 or table.num_rows == 0:
        return []
    keep = ~_rows_of(table, _withheld_keys(withheld))
    counts = table["count"].to_numpy(zero_copy_only=False).astype(np.float64)
    small = (counts >= rules.small_count_min) & (counts <= rules.small_count_max)
    t = pa.table(
        {
            "year": table["year"],
            "breakdown": table["breakdown"],
            "small": pa.array(small & keep),
            "nonzero": pa.array((counts > 0) & keep),
        }
    )
    agg = t.group_by(["year", "breakdown"]).aggregate([("small", "sum"), ("nonzero", "sum")])
    out: list[dict[str, Any]] = []
    for r in sorted(agg.to_pylist(), key=lambda r: (r["year"], r["breakdown"])):
        n_small, n_nonzero = int(r["small_sum"] or 0), int(r["nonzero_sum"] or 0)
        if r["breakdown"] == "total" or n_nonzero == 0:
            continue
        share = n_small / n_nonzero
        if share > rules.max_small_share:
            out.append(
                {
                    "year": int(r["year"]),
                    "breakdown": str(r["breakdown"]),
                    "small_cells": n_small,
                    "nonzero_cells": n_nonzero,
                    "small_share": round(share, 4),
                    "reason": f"more than {rules.max_small_share:g} of its non-zero cells "
                    f"from {rules.small_count_min} to {rules.small_count_max}: close to "
                    "microdata",
                }
            )
    return out


def _rows_of(table: pa.Table, keys: list[dict[str, Any]]) -> BoolArray:
    """Whether each row matches one of ``keys`` (column -> value, every one equal)."""
    out = np.zeros(table.num_rows, dtype=bool)
    for key in keys:
        m = np.ones(table.num_rows, dtype=bool)
        for col, value in key.items():
            eq = pc.fill_null(pc.equal(table[col], value), False)
            m &= np.asarray(eq.to_numpy(zero_copy_only=False), dtype=bool)
        out |= m
    return out


def _withheld_keys(withheld: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The row keys of withheld entities and of withheld policy domains' own cells."""
    return [
        {"year": w["year"], "entity": w["entity"]}
        if w.get("entity") is not None
        else {"year": w["year"], "scope": "policy_domain", "policy_domain": w["policy_domain"]}
        for w in withheld
    ]


def _table_keys(sparse: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The row keys of the tables withheld as close to microdata."""
    return [{"year": w["year"], "breakdown": w["breakdown"]} for w in sparse]


def _without_tables(table: pa.Table, sparse: list[dict[str, Any]]) -> pa.Table:
    """``table`` without the rows of the withheld (year, breakdown) tables."""
    drop = _rows_of(table, _table_keys(sparse))
    return table.filter(pa.array(~drop)) if drop.any() else table


def _build_state(
    table: pa.Table, rules: PublicRules, withheld: list[dict[str, Any]], ledger: pa.Table | None
) -> _State:
    pub0 = table.filter(pa.array(~_rows_of(table, _withheld_keys(withheld))))
    view = attacker_view(pub0, withheld)
    s = build_structure(view)
    # true value per quantity (absent combinations of a withheld entity are 0)
    v = np.zeros(s.n_q)
    code = s.coder.encode(table)
    order = np.argsort(s.rcode, kind="stable")
    pos = np.minimum(np.searchsorted(s.rcode[order], code), s.rcode.shape[0] - 1)
    hit = (code >= 0) & (s.rcode[order][pos] == code)
    counts = table["count"].to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isnan(counts).any():
        raise InputError("cells for protection must carry every count (the service cells)")
    v[s.qid[order[pos[hit]]]] = counts[hit]
    cls = np.zeros(s.n_q, dtype=np.int64)
    lb = np.zeros(s.n_q)
    ub = np.full(s.n_q, np.inf)
    status = view["status"].to_pylist()
    wrow = np.array([st == WITHHELD_STATUS for st in status], dtype=bool)
    small = (v >= rules.small_count_min) & (v <= rules.small_count_max)
    qw = np.unique(s.qid[wrow])
    cls[small] = _P
    cls[qw] = _W
    lb[cls == _P] = rules.small_count_min
    ub[cls == _P] = rules.small_count_max
    bd = view["breakdown"].to_pylist()
    org = view["origin"].to_pylist()
    sc = view["scope"].to_pylist()
    wtot = wrow & np.array(
        [
            a == "entity" and b == "total" and o == "total"
            for a, b, o in zip(sc, bd, org, strict=True)
        ]
    )
    ub[s.qid[wtot]] = max(rules.min_entity_size - 1, 0)
    if rules.zeros_sensitive:
        cls[(v == 0) & (cls == 0)] = _S
    forbidden = np.zeros(s.n_q, dtype=bool)
    if not rules.zeros_sensitive:
        forbidden |= v == 0
    if "administration_total" in rules.never_suppress:
        grand = np.array(
            [
                a == "administration" and b == "total" and o == "total"
                for a, b, o in zip(sc, bd, org, strict=True)
            ],
            dtype=bool,
        )
        forbidden[s.qid[grand]] = True
    if ledger is not None and ledger.num_rows:
        lcode = s.coder.encode(conform(ledger))
        lpos = np.minimum(np.searchsorted(s.rcode[order], lcode), s.rcode.shape[0] - 1)
        lhit = (lcode >= 0) & (s.rcode[order][lpos] == lcode)
        lcount = ledger["count"].to_numpy(zero_copy_only=False).astype(np.float64)
        known = lhit & ~np.isnan(lcount)
        lq = s.qid[order[lpos[known]]]
        if (np.abs(v[lq] - lcount[known]) > 0.5).any():
            raise CheckFailed(
                "the ledger holds different counts for cells of this year: revising an "
                "already published year is not supported (differencing the two versions "
                "is not modelled); start a new ledger only with the data protection officer's consent"
            )
        forbidden[lq] = True
    # the link quantities (functions of the cells, never published): hidden, at least 0
    v = s.derive(v)
    dep = s.dependent()
    check_links(s, v, view)
    cls[dep] = _L
    lb[dep] = 0.0
    ub[dep] = np.inf
    _set_bounds(cls, lb, ub, rules)
    admin = np.zeros(s.n_q, dtype=bool)
    admin[s.qid[np.array([a == "administration" for a in sc], dtype=bool)]] = True
    return _State(view, s, v, cls, lb, ub, forbidden, admin, rules)


def _set_bounds(cls: IntArray, lb: FloatArray, ub: FloatArray, rules: PublicRules) -> None:
    sec = cls == _S
    lb[sec] = rules.hidden_lower
    ub[sec] = np.inf


def _local_failures(st: _State) -> tuple[IntArray, IntArray, FloatArray]:
    """Relations whose own arithmetic leaves a target cell short: (relation, target, gap).

    gap > 0: the target needs that much more room upwards; gap < 0: downwards; gap = 0: any
    additional suppression (pinned, or an insider-exposed entity relation).
    """
    s, rules = st.s, st.rules
    rel, q, coef = s.members()
    hidden = st.cls[q] > 0
    lo_c = np.where(coef > 0, st.lb[q], -st.ub[q])
    hi_c = np.where(coef > 0, st.ub[q], -st.lb[q])
    lo_c = np.where(hidden, lo_c, coef * st.v[q])
    hi_c = np.where(hidden, hi_c, coef * st.v[q])
    n = s.n_rel
    inf_lo = np.isinf(lo_c)
    inf_hi = np.isinf(hi_c)
    s_lo = np.bincount(rel, weights=np.where(inf_lo, 0.0, lo_c), minlength=n)
    s_hi = np.bincount(rel, weights=np.where(inf_hi, 0.0, hi_c), minlength=n)
    n_lo = np.bincount(rel, weights=inf_lo.astype(np.float64), minlength=n)
    n_hi = np.bincount(rel, weights=inf_hi.astype(np.float64), minlength=n)
    n_hidden = np.bincount(rel, weights=hidden.astype(np.float64), minlength=n)
    # others' sum interval, for every member
    o_lo = np.where(n_lo[rel] - inf_lo > 0, -np.inf, s_lo[rel] - np.where(inf_lo, 0.0, lo_c))
    o_hi = np.where(n_hi[rel] - inf_hi > 0, np.inf, s_hi[rel] - np.where(inf_hi, 0.0, hi_c))
    # coef*x = -others
    x_lo = np.where(coef > 0, -o_hi, o_lo)
    x_hi = np.where(coef > 0, -o_lo, o_hi)
    x_lo = np.maximum(x_lo, st.lb[q])
    x_hi = np.minimum(x_hi, st.ub[q])
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    c = st.cls[q]
    is_p, is_w = c == _P, c == _W
    gap = np.zeros(rel.shape[0])
    fail = np.zeros(rel.shape[0], dtype=bool)
    # primary: the whole label range
    up = is_p & (x_hi < smax - 1e-9)
    down = is_p & (x_lo > smin + 1e-9)
    # withheld: not pinned; when possibly small, reach 1 and 4
    pinned = is_w & (x_hi - x_lo < 1 - 1e-9) & (x_hi > 1e-9)
    maybe_small = is_w & (x_lo < smax + 1 - 1e-9) & (x_hi > 1e-9)
    up |= maybe_small & (x_hi < smax - 1e-9)
    down |= maybe_small & (x_lo > smin + 1e-9)
    if rules.zeros_sensitive:
        pinned |= (c == _S) & (x_hi - x_lo < 1 - 1e-9)
    gap = np.where(up, smax - x_hi, gap)
    gap = np.where(down & ~up, -(x_lo - smin), gap)
    fail = up | down | pinned
    # an insider knows one entity: an entity-in-domain relation needs three hidden cells
    kind_ent = s.rel_kind == _kind_index("entity_in_domain")
    ins = kind_ent[rel] & (n_hidden[rel] > 0) & (n_hidden[rel] < 3) & hidden & (c != _S)
    fail |= ins
    gap = np.where(ins & ~(up | down), 0.0, gap)
    m = np.nonzero(fail)[0]
    return rel[m], q[m], gap[m]


def _kind_index(name: str) -> int:
    from ._cells import RELATION_KINDS

    return RELATION_KINDS.index(name)


def _choose(st: _State, rels: IntArray, gaps: FloatArray) -> IntArray:
    """For each failing relation, its cheapest published member (deterministic)."""
    if rels.size == 0:
        return np.zeros(0, dtype=np.int64)
    s = st.s
    # one gap per relation: the largest upward need, else any
    order = np.lexsort((-np.abs(gaps), rels))
    rels, gaps = rels[order], gaps[order]
    first = np.concatenate([[True], rels[1:] != rels[:-1]])
    rels, gaps = rels[first], gaps[first]
    rel, q, coef = s.members()
    sel = np.isin(rel, rels)
    rel, q, coef = rel[sel], q[sel], coef[sel]
    cand = (st.cls[q] == 0) & ~st.forbidden[q]
    rel, q, coef = rel[cand], q[cand], coef[cand]
    if rel.size == 0:
        return np.zeros(0, dtype=np.int64)
    g = gaps[np.searchsorted(rels, rel)]
    room_up = np.where(coef > 0, np.inf, st.v[q] - st.rules.hidden_lower)
    fixes = (g <= 0) | (room_up >= g - 1e-9)
    key = np.lexsort((q, st.v[q], ~fixes, rel))
    rel, q = rel[key], q[key]
    first = np.concatenate([[True], rel[1:] != rel[:-1]])
    out: IntArray = np.unique(q[first])
    return out


def _hide(st: _State, qs: IntArray) -> int:
    qs = qs[st.cls[qs] == 0]
    st.cls[qs] = _S
    _set_bounds(st.cls, st.lb, st.ub, st.rules)
    return int(qs.size)


def _derivable(st: _State) -> IntArray:
    """Relations through which an attacker computes a hidden cell by chained differencing.

    Elimination as the audit starts it: a relation with one unknown gives it away; the cell
    is then known and may give away the next. Cells given away as 0 below a published 0 are
    left alone (no suppression can protect them).
    """
    s = st.s
    rel, q, _ = s.members()
    known = st.cls == 0
    out: list[IntArray] = []
    for _ in range(1000):
        unk = ~known[q]
        cnt = np.bincount(rel, weights=unk.astype(np.float64), minlength=s.n_rel)
        single = cnt == 1
        if not single.any():
            break
        m = unk & single[rel]
        qs = q[m]
        # relations that derive a nonzero cell, or a cell of a relation with a published
        # nonzero member (something could be hidden)
        useful = (st.v[qs] > 0) & (st.cls[qs] != _L)
        out.append(rel[m][useful])
        known[qs] = True
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def _local_fixpoint(st: _State, max_iter: int = 500) -> int:
    added = 0
    for _ in range(max_iter):
        rels, _, gaps = _local_failures(st)
        pick = _choose(st, rels, gaps)
        n = _hide(st, pick)
        if n == 0:
            drels = _derivable(st)
            n = _hide(st, _choose(st, drels, np.zeros(drels.size)))
            if n == 0:
                break
        added += n
    return added


def _published_table(st: _State) -> pa.Table:
    """The release as the public sees it (withheld entities absent)."""
    view, s, rules = st.view, st.s, st.rules
    keep = np.array(
        [x != WITHHELD_STATUS and x != LINK_STATUS for x in view["status"].to_pylist()],
        dtype=bool,
    )
    q = s.qid
    cls = st.cls[q]
    counts = st.v[q]
    # percentages: only with a published count and a published row total
    origin_d = s.coder.digits(view)["origin"]
    tcode = s.rcode + (s.coder.code("origin", "total") - origin_d) * s.coder.mult["origin"]
    order = np.argsort(s.rcode, kind="stable")
    pos = np.minimum(np.searchsorted(s.rcode[order], tcode), s.rcode.shape[0] - 1)
    found = s.rcode[order][pos] == tcode
    tq = q[order[pos]]
    total_pub = found & (st.cls[tq] == 0)
    pct = view["percent"].to_numpy(zero_copy_only=False).astype(np.float64)
    show_pct = (cls == 0) & total_pub & ~np.isnan(pct)
    if rules.zeros_sensitive:
        show_pct &= counts > 0
    shown = np.where(
        cls == 0,
        np.char.mod("%d", counts.astype(np.int64)),
        np.where(cls == _P, rules.small_label, rules.suppressed_label),
    )
    status = np.where(
        cls == 0, STATUS_PUBLISHED, np.where(cls == _P, STATUS_PRIMARY, STATUS_SECONDARY)
    )
    out = view.set_column(
        view.column_names.index("count"),
        "count",
        pa.array(np.where(cls == 0, counts, np.nan), pa.float64(), from_pandas=True).cast(
            pa.int64()
        ),
    )
    out = out.set_column(
        out.column_names.index("percent"),
        "percent",
        pa.array(np.where(show_pct, pct, np.nan), pa.float64(), from_pandas=True),
    )
    out = out.set_column(
        out.column_names.index("shown"), "shown", pa.array(shown.tolist(), pa.string())
    )
    out = out.set_column(
        out.column_names.index("status"), "status", pa.array(status.tolist(), pa.string())
    )
    return out.filter(pa.array(keep))


@dataclass(frozen=True)
class _Found:
    """What one search of the repair's sub-LPs found: the point (the quantities it moves and
    their deviations; None: no point), the sub-LP solves and their seconds, and whether the
    point came from a sub-LP over two policy domains."""

    point: tuple[IntArray, FloatArray] | None
    solves: int
    seconds: float
    pair: bool


class _Repair:
    """The attacking-table LP of audit-driven repair (one HiGHS model, re-solved).

    Deviations ``d = y - v`` from the true table ``v`` with ``A d = 0`` over every additive
    relation: ``y`` is another table the attacker cannot tell apart from the truth once every
    quantity with a non-zero deviation is hidden. A hidden quantity may move within what its
    label says (free); a published candidate may move at a cost of ``1 + v`` per unit (hiding
    small counts first) and only to values its new label ``x`` allows (at least 5, or 0 when
    zeros are sensitive); zeros, the grand total, ledger cells and, for an insider, the
    insider's own cells are fixed. Fixing the target's deviation to ``goal - v`` and
    minimising the cost gives the cheapest set of cells to hide so that ``goal`` becomes a
    value the attacker cannot exclude. Hiding more later only removes constraints, so the
    witness stays valid: repair is monotone and converges.
    """

    def __init__(self, st: _State) -> None:
        self.st = st
        s = st.s
        n = s.n_q
        self.n = n
        r, c, val, row_lo, row_hi = _deviation_rows(st, s.matrix(links=False), s.n_rel, None)
        # columns: d+ (0..n-1), d- (n..2n-1); the link quantities' columns stay at 0 (their
        # inequalities are rows over the cells)
        h = colwise_model(
            np.concatenate([r, r]), np.concatenate([c, c + n]), np.concatenate([val, -val]),
            np.zeros(2 * n), np.zeros(2 * n), np.zeros(2 * n), row_lo, row_hi,
        )  # fmt: skip
        self.dep = st.cls == _L
        self.h = h
        self.solves = 0
        self.reused = 0
        self.idx = np.arange(2 * n, dtype=np.int32)
        # every quantity the last optimal point moved (the candidates among them get hidden)
        # and by how much
        self.moved: IntArray = np.zeros(0, dtype=np.int64)
        self.delta: FloatArray = np.zeros(0)
        # every point found, per (target, goal): kept across rounds (hiding more keeps a
        # point a point), reused for other attackers and offered to the audit as witnesses
        self.points: dict[tuple[int, float], list[tuple[IntArray, FloatArray]]] = {}
        # per quantity every point that moves it: (its deviation there, the point's moved
        # quantities), for :meth:`served`
        self.by_quantity: dict[int, list[tuple[float, IntArray]]] = {}
        # (attacker, target, goal) no hiding can reach: stays so (the LP already lets every
        # candidate move)
        self.unreachable: set[tuple[str, int, float]] = set()
        # per quantity its breakdown's index (-1: the total breakdown, the all table, or a
        # quantity of more than one breakdown), for the sub-LPs of :meth:`free_point`
        bd = breakdown_of(st.view, s)
        self.in_total: BoolArray = bd == -1
        self.breakdown_of: IntArray = np.where(bd >= 0, bd, -1)
        # the sub-LPs per lane: lane 0 (this process) serves the goal at hand, lane 1 (a
        # forked worker: :meth:`start_ahead`) the goal searched ahead at the same time; each
        # lane's models see only its own solves, so what they find does not depend on timing
        self.lanes: tuple[dict[tuple[int, ...], _SubLP], ...] = ({}, {})
        self._ahead_known: dict[str, BoolArray] = {}
        # per quantity the unit of its policy domain (-1: the administration's)
        units = build_units(st.view, s)
        self.units = units
        self.domain_of: IntArray = units.domain[units.q_unit]
        self.maps: tuple[IntArray, IntArray] = partner_maps(st.s)
        self.sub_solves = 0
        self.sub_seconds = 0.0
        # points found by the sub-LPs over two policy domains
        self.pair_found = 0
        # goals searched ahead (:meth:`start_ahead`), and those whose search was used
        self.ahead = 0
        self.ahead_used = 0

    def add_point(self, target: int, goal: float) -> None:
        """Keeps the last point found (``moved``/``delta``) for ``target = goal`` (offered to
        the audit as a witness) and for every quantity it moves (:meth:`served`)."""
        self.points.setdefault((target, goal), []).append((self.moved, self.delta))
        for m, d in zip(self.moved.tolist(), self.delta.tolist(), strict=True):
            self.by_quantity.setdefault(m, []).append((d, self.moved))

    def served(self, target: int, goal: float, fixed: BoolArray) -> bool:
        """Whether a point found so far moves ``target`` to ``goal`` or beyond it (from the
        truth) and none of the quantities ``fixed``: the attacker's feasible set is convex
        and holds the truth, so the point between the truth and that one that puts
        ``target`` at ``goal`` is one too, and it moves nothing else. Whatever goal the
        point was looked for: a table the attacker cannot exclude is a witness for each of
        its cells (the audit keeps it so too)."""
        dv = goal - float(self.st.v[target])
        for d, moved in self.by_quantity.get(target, ()):
            if d * dv > 0 and abs(d) >= abs(dv) - 1e-6 and not fixed[moved].any():
                return True
        return False

    def local_solve(self, target: int, goal: float, fixed: BoolArray) -> IntArray | None:
        """:meth:`solve` over the sub-LPs of :meth:`free_point` first, where published
        candidates inside may move at their cost (every other quantity at the truth, so the
        point is one of the whole release, at a cost at least the whole release LP's), then
        over the whole release. Returns the candidates to hide (None: not even the whole
        release's LP reaches the goal); sets ``moved``/``delta``."""
        if self.take(self.search(target, goal, fixed, hide=True)):
            out: IntArray = self.moved[self.st.cls[self.moved] == 0]
            return out
        return self.solve(target, goal, fixed)

    def free_point(self, target: int, goal: float, fixed: BoolArray) -> bool:
        """A point that hides nothing (the goal is already within reach), looked for first
        over the target's breakdown and the ``total`` breakdown alone, then over those with
        every breakdown of the target's policy domain (every other quantity held at the
        truth: such a point is a point of the whole release, and the LP is a fraction of its
        size; the second holds the persons a withheld entity's cell needs from its domain's
        other entities, with their rows of the target's breakdown in other domains). Sets
        ``moved``/``delta`` when found."""
        return self.take(self.search(target, goal, fixed))

    def search(self, target: int, goal: float, fixed: BoolArray, hide: bool = False) -> _Found:
        """:meth:`free_point`'s search (with ``hide``, :meth:`local_solve`'s) on lane 0,
        counted; :meth:`take` makes its point the last one found."""
        found = self._search(target, goal, fixed, hide=hide, lane=0)
        self.count(found)
        return found

    def count(self, found: _Found) -> None:
        """Counts a search's sub-LP solves and their seconds (a worker's too)."""
        self.sub_solves += found.solves
        self.sub_seconds += found.seconds

    def start_ahead(self) -> Worker:
        """The worker that searches goals ahead (:meth:`serve_ahead`, lane 1) while this
        process searches the goal at hand: a child forked now, which sees the state as it is
        and is told of every cell hidden since (where the machine has one core, or no fork,
        the same requests are served here, one after the other, with the same answers).
        Lane 1's sub-LPs start empty, in the child and here alike."""
        self.lanes = (self.lanes[0], {})
        self._ahead_known = {}
        return Worker(self.serve_ahead)

    def serve_ahead(self, request: tuple[IntArray, int, float, str]) -> _Found:
        """A request to the worker of :meth:`start_ahead`: (cells hidden since the last
        request, target, goal, attacker). Hides those cells in the worker's state (no
        change here: they are hidden already), then searches a free point on lane 1."""
        hidden, target, goal, attacker = request
        if hidden.size:
            _hide(self.st, hidden)
        fixed = _insider_known(self.st, attacker, self._ahead_known)
        return self._search(target, goal, fixed, hide=False, lane=1)

    def take(self, found: _Found) -> bool:
        """Makes the point of a search (:meth:`search`, :meth:`serve_ahead`) the last one
        found (``moved``/``delta``); False when it found none."""
        if found.point is None:
            return False
        self.moved, self.delta = found.point
        self.pair_found += int(found.pair)
        return True

    def _search(self, target: int, goal: float, fixed: BoolArray, hide: bool, lane: int) -> _Found:
        """The sub-LPs of :meth:`free_point` (with ``hide``, :meth:`local_solve`'s) for
        ``target = goal``, over the sub-LPs of ``lane``, until one finds a point. Reads the
        state and writes only the lane's sub-LPs."""
        subs = self.lanes[lane]
        bd = int(self.breakdown_of[target])
        keys: list[tuple[int, ...]] = [(bd, -1)] if bd >= 0 else []
        dom = int(self.domain_of[target])
        if dom >= 0 and (bd >= 0 or self.in_total[target]):
            keys.append((bd, dom))
        if dom >= 0:
            # every breakdown of two policy domains: what the target's domain gains, another
            # gives up under the administration's published cells (docs/protection.md,
            # "Two-domain tiers")
            keys += self._partners(target, goal, fixed, hide)
        solves, seconds = 0, 0.0
        for key in keys:
            sub = subs.get(key)
            if sub is None:
                if len(key) == 2:
                    inside = self.bd_mask(key[0]) if key[0] >= 0 else self.in_total.copy()
                    if key[1] >= 0:
                        inside |= self.domain_of == key[1]
                else:
                    inside = np.isin(self.domain_of, key[1:])
                sub = _SubLP(self.st, inside)
                subs[key] = sub
            t0 = time.perf_counter()
            got = sub.solve(target, goal, fixed, hide)
            solves += 1
            seconds += time.perf_counter() - t0
            if got is not None:
                return _Found(got, solves, seconds, key[0] == -3)
        return _Found(None, solves, seconds, False)

    def _partners(
        self, target: int, goal: float, fixed: BoolArray, hide: bool
    ) -> list[tuple[int, int, int]]:
        """The sub-LPs over two policy domains (every breakdown) for ``target``: the
        target's domain with each of the first :data:`PAIR_PARTNERS` partner domains of
        :func:`herkomst.audit.partner_domains` (their cell of the target's key hidden, or
        with ``hide`` a candidate to hide, with room to move the other way)."""
        st = self.st
        dv = goal - float(st.v[target])

        def room(qs: IntArray) -> FloatArray:
            hidden = (st.cls[qs] > 0) & ~fixed[qs]
            r = st.v[qs] - st.lb[qs] if dv > 0 else st.ub[qs] - st.v[qs]
            if hide:
                cand = (st.cls[qs] == 0) & ~st.forbidden[qs] & ~fixed[qs]
                r = np.where(cand, st.v[qs] - st.rules.hidden_lower if dv > 0 else np.inf, r)
                hidden |= cand
            out: FloatArray = np.where(hidden, r, 0.0)
            return out

        dom = int(self.domain_of[target])
        found = partner_domains(st.s, self.units, self.maps, target, room)
        return [(-3, dom, p) for p in found[:PAIR_PARTNERS]]

    def bd_mask(self, bd: int) -> BoolArray:
        """The quantities of breakdown ``bd`` and of the ``total`` breakdown."""
        out: BoolArray = (self.breakdown_of == bd) | self.in_total
        return out

    def reach(self, target: int, goal: float, fixed: BoolArray) -> bool:
        """Whether ``target = goal`` is possible with every candidate hidden."""
        st = self.st
        cls, forb = st.cls.copy(), st.forbidden
        try:
            st.cls = np.where((cls == 0) & ~forb & ~fixed, _S, cls)
            lb, ub = st.lb.copy(), st.ub.copy()
            _set_bounds(st.cls, st.lb, st.ub, st.rules)
            return self.solve(target, goal, fixed) is not None
        finally:
            st.cls, st.lb, st.ub = cls, lb, ub

    def solve(self, target: int, goal: float, fixed: BoolArray) -> IntArray | None:
        """Published quantities to hide so that ``target = goal`` stays possible (None: not
        possible by hiding any candidate)."""
        st, n = self.st, self.n
        hidden = st.cls > 0
        inf = highspy.kHighsInf
        up = np.where(hidden, st.ub - st.v, inf)
        dn = np.where(hidden, st.v - st.lb, st.v - st.rules.hidden_lower)
        cand = ~hidden & ~st.forbidden & ~fixed
        up = np.where((cand | (hidden & ~fixed)) & ~self.dep, up, 0.0)
        dn = np.where((cand | (hidden & ~fixed)) & ~self.dep, np.maximum(dn, 0.0), 0.0)
        up = np.minimum(np.nan_to_num(up, posinf=inf), inf)
        lo = np.zeros(2 * n)
        hi = np.concatenate([up, dn])
        dv = goal - st.v[target]
        lo[target] = hi[target] = max(dv, 0.0)
        lo[n + target] = hi[n + target] = max(-dv, 0.0)
        cost = np.where(cand, 1.0 + st.v, 0.0)
        h = self.h
        h.changeColsBounds(2 * n, self.idx, lo, hi)
        h.changeColsCost(2 * n, self.idx, np.concatenate([cost, cost]))
        h.run()
        if self.solves == 0:
            # later solves change bounds and costs: simplex from the last basis
            h.setOptionValue("presolve", "off")
        self.solves += 1
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        moved = (x[:n] + x[n:]) > 1e-7
        self.moved = np.nonzero(moved)[0].astype(np.int64)
        self.delta = (x[:n] - x[n:])[self.moved]
        out: IntArray = np.nonzero(moved & cand)[0].astype(np.int64)
        return out


def _deviation_rows(
    st: _State,
    matrix: tuple[IntArray, IntArray, FloatArray],
    n_rel: int,
    gq: IntArray | None,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """The rows of an LP of deviations from the truth: the relations (``matrix``, its link
    relations left out) equal to 0, then each link quantity's inequality over the cells
    (:meth:`Structure.link_rows`; ``gq``: the LP's columns as global ids, None for every
    quantity), its deviation between ``lb - v`` and ``ub - v``. Returns (row, column,
    coefficient, row lower bounds, row upper bounds)."""
    r, c, val = matrix
    lr, lc, lv, lq = st.s.link_rows(gq)
    row_lo = np.concatenate([np.zeros(n_rel), st.lb[lq] - st.v[lq]])
    row_hi = np.concatenate([np.zeros(n_rel), st.ub[lq] - st.v[lq]])
    return (
        np.concatenate([r, lr + n_rel]),
        np.concatenate([c, lc]),
        np.concatenate([val, lv]),
        row_lo,
        row_hi,
    )


class _SubLP:
    """The attacking-table LP of :class:`_Repair` over some quantities only (every other
    one held at the truth), looking for a point that hides nothing: hidden quantities move
    within their labels, published ones stay."""

    def __init__(self, st: _State, inside: BoolArray) -> None:
        self.st = st
        rel, q, _ = st.s.members()
        rels = np.unique(rel[inside[q]])
        ls, gq = substructure(st.s, rels)
        self.gq = gq
        # the link quantities' columns stay at 0 (their inequalities are rows over the cells)
        self.inside = inside[gq] & (st.cls[gq] != _L)
        n = ls.n_q
        self.n = n
        r, c, val, row_lo, row_hi = _deviation_rows(st, ls.matrix(links=False), ls.n_rel, gq)
        # moving an entity's cell costs more than a domain's or the administration's: the
        # point moves few cells and leaves other entities alone where it can, so that it
        # serves more officials (as the audit's sparse witnesses)
        ent = np.zeros(st.s.n_q, dtype=bool)
        rows = pc.equal(st.view["scope"], "entity").to_numpy(zero_copy_only=False)
        ent[st.s.qid[rows]] = True
        self.w = np.where(ent[gq], 1.0, 0.25)
        self.lp = DeviationLP(r, c, val, n, row_lo, row_hi)
        # the same LP where published candidates may move at a cost (built when first used)
        self.lp_hide: DeviationLP | None = None
        self.rows = (r, c, val, row_lo, row_hi)

    @property
    def solves(self) -> int:
        return self.lp.solves + (0 if self.lp_hide is None else self.lp_hide.solves)

    def solve(
        self, target: int, goal: float, fixed: BoolArray, hide: bool = False
    ) -> tuple[IntArray, FloatArray] | None:
        """A point with ``target = goal`` that moves quantities inside only: hidden ones
        within their labels and, with ``hide``, published candidates as :class:`_Repair`
        lets them move, at its cost ``1 + v`` (each moved candidate is to be hidden)."""
        st, gq = self.st, self.gq
        free = (st.cls[gq] > 0) & ~fixed[gq] & self.inside
        up = np.where(free, np.minimum(st.ub[gq] - st.v[gq], highspy.kHighsInf), 0.0)
        dn = np.where(free, np.maximum(st.v[gq] - st.lb[gq], 0.0), 0.0)
        lp, cost = self.lp, self.w
        # what later solves may move: every quantity inside hidden or hidable, whoever the
        # attacker
        reserve = ((st.cls[gq] > 0) | ~st.forbidden[gq]) & self.inside
        if hide:
            cand = (st.cls[gq] == 0) & ~st.forbidden[gq] & ~fixed[gq] & self.inside
            up = np.where(cand, highspy.kHighsInf, up)
            dn = np.where(cand, np.maximum(st.v[gq] - st.rules.hidden_lower, 0.0), dn)
            if self.lp_hide is None:
                self.lp_hide = DeviationLP(*self.rows[:3], self.n, *self.rows[3:])
            lp = self.lp_hide
            # the whole LP's costs; the free points' weights, small, break its ties
            cost = np.where(cand, 1.0 + st.v[gq], 0.0) + 1e-3 * self.w
        got = lp.solve(up, dn, cost, int(np.searchsorted(gq, target)), goal - st.v[target], reserve)
        if got is None:
            return None
        moved, dev = got
        return gq[moved].astype(np.int64), dev


#: goals the repair's worker may have in hand at once (:class:`_Ahead`)
AHEAD_DEPTH = 4


class _Ahead:
    """The goals the repair searches ahead, in a worker (:meth:`_Repair.start_ahead`, lane
    1), while this process searches others (lane 0).

    Before each goal that needs a search, the worker is handed the next goals that need one
    (not served by the points found so far, none handed out yet) until it has
    :data:`AHEAD_DEPTH` in hand; those goals go to the two lanes in turn, so each lane
    searches about half of them and the worker's queue evens out their times. A goal of
    lane 0 is searched here at its turn; a goal of lane 1 takes the worker's answer. Which
    goal goes to which lane, and what each lane's sub-LPs have solved before, follow from the
    goals' order and the points found: the answers do not depend on timing, or on whether
    the worker is a child process or (one core, no fork) this one. A point found ahead stays
    a point whatever is hidden in between (hiding only frees cells); an answer for a goal
    served by its turn is dropped. The worker learns of the cells hidden here with its next
    goal, and searches each goal on the state as it was when the goal was handed out."""

    def __init__(self, repair: _Repair, n_goals: int, settled: Callable[[int], bool]) -> None:
        self.repair = repair
        self.n_goals = n_goals
        self.settled = settled
        self.worker: Worker | None = None
        # (goal, ``added`` when handed out), in the order the worker answers
        self.pending: deque[tuple[int, int]] = deque()
        self.answers: dict[int, tuple[_Found, int]] = {}
        self.given: set[int] = set()
        self.frontier = -1
        self.turn = 0
        self.hidden_since: list[IntArray] = []

    def fill(self, k: int, goals: list[tuple[str, int, float]], added: int) -> None:
        """Hands the worker the goals after ``k`` that need a search, in turn with this
        process, until it has :data:`AHEAD_DEPTH` in hand."""
        j = max(k, self.frontier)
        # goals handed out and not yet passed (the answers for passed ones, served by their
        # turn, are read and dropped when a later answer is needed)
        live = sum(1 for g, _ in self.pending if g > k)
        while live < AHEAD_DEPTH:
            j += 1
            while j < self.n_goals and (j in self.given or self.settled(j)):
                j += 1
            if j >= self.n_goals:
                break
            self.frontier = j
            self.given.add(j)
            self.turn += 1
            if self.turn % 2:
                continue  # lane 0: searched here at its turn
            if self.worker is None:
                self.worker = self.repair.start_ahead()
                self.hidden_since.clear()  # the child sees them hidden
            since = (
                np.concatenate(self.hidden_since) if self.hidden_since else np.zeros(0, np.int64)
            )
            self.hidden_since.clear()
            self.worker.send((since, goals[j][1], goals[j][2], goals[j][0]))
            self.pending.append((j, added))
            self.repair.ahead += 1
            live += 1

    def result(self, k: int) -> tuple[_Found, int] | None:
        """The worker's answer for goal ``k`` (waiting for it) and ``added`` when ``k`` was
        handed out; None when ``k`` was not the worker's."""
        if k not in self.answers and any(j == k for j, _ in self.pending):
            assert self.worker is not None
            while True:
                j, stamp = self.pending.popleft()
                found = self.worker.receive()
                self.repair.count(found)
                if j == k:
                    self.answers[j] = (found, stamp)
                    break
        return self.answers.pop(k, None)

    def hidden(self, cells: IntArray) -> None:
        """Cells hidden here (the worker hides them before its next goal)."""
        self.hidden_since.append(cells)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


def _failure_goals(
    st: _State, result: AuditResult, far: set[tuple[str, int, float]] | None = None
) -> list[tuple[str, int, float]]:
    """(attacker, quantity, goal) for every failed cell and direction, in a fixed order.

    A withheld cell the failure shows at 5 or more (its interval an inner bound) gets the
    goal of not being pinned; unless its labels say it is at least 5, the audit also asks
    that it may be as small as the small-count range (:func:`herkomst.audit._block_pass`).
    Those far goals go to ``far`` too (when given): the repair looks for a free point for
    them, hiding nothing for them (the final audit settles them)."""
    fails = result.failures
    if fails.num_rows == 0:
        return []
    s, rules = st.s, st.rules
    code = s.coder.encode(conform(fails))
    order = np.argsort(s.rcode, kind="stable")
    pos = np.minimum(np.searchsorted(s.rcode[order], code), s.rcode.shape[0] - 1)
    hit = (code >= 0) & (s.rcode[order][pos] == code)
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    goals: set[tuple[str, int, float]] = set()
    rows = fails.select(["attacker", "target", "lower", "upper", "label_cap", "label_floor"])
    for i, r in enumerate(rows.to_pylist()):
        if not hit[i]:
            raise InternalError("audit failure on a cell the suppression does not know")
        q = int(s.qid[order[pos[i]]])
        v = float(st.v[q])
        lo, hi = float(r["lower"]), float(r["upper"])
        want_lo = max(smin, float(r["label_floor"]))
        want_hi = min(smax, float(r["label_cap"]))
        att = str(r["attacker"])
        small = r["target"] == "small" or lo < smax + 1
        if r["target"] == "suppressed" or (r["target"] == "withheld" and not small):
            if lo >= hi:  # pinned: make a neighbouring value possible
                goals.add((att, q, v + 1 if v + 1 <= st.ub[q] else v - 1))
            if far is not None and r["target"] == "withheld" and want_lo < smax + 1:
                for g in (want_hi, want_lo):
                    if (g < lo or g > hi) and st.lb[q] - 1e-9 <= g <= st.ub[q] + 1e-9:
                        goals.add((att, q, g))
                        far.add((att, q, g))
            continue
        if hi < want_hi:
            goals.add((att, q, want_hi))
        if lo > want_lo:
            goals.add((att, q, want_lo))
        if r["target"] == "withheld" and lo >= hi and hi >= want_hi and lo <= want_lo:
            goals.add((att, q, v + 1 if v + 1 <= st.ub[q] else v - 1))
    return sorted(goals)


def _insider_known(st: _State, attacker: str, cache: dict[str, BoolArray]) -> BoolArray:
    if attacker in cache:
        return cache[attacker]
    known = np.zeros(st.s.n_q, dtype=bool)
    if attacker.startswith("insider:"):
        ent = attacker.split(":", 1)[1]
        m = pc.and_(pc.equal(st.view["scope"], "entity"), pc.equal(st.view["entity"], ent))
        rows = np.asarray(pc.fill_null(m, False).to_numpy(zero_copy_only=False), dtype=bool)
        known[np.unique(st.s.qid[rows])] = True
    cache[attacker] = known
    return known


def _repair_from_audit(
    st: _State,
    result: AuditResult,
    repair: _Repair,
    fallback: list[dict[str, Any]],
    hide_all: bool = True,
    local: bool = False,
) -> int:
    """Audit-driven repair: an attacking-table LP per failed cell and direction; when no set
    of hidable cells can help (LP infeasible), hide every candidate of the cell's relations
    (the fallback, reported) unless ``hide_all`` is false (the screening rounds of the blocks,
    whose failures include cells at their protection limit: left to the final audit).
    ``local`` (the blocks): the LP over the target's breakdown, then over its policy domain's
    breakdowns, before the whole release's (:meth:`_Repair.local_solve`).

    A point found for one attacker's goal is reused for another attacker's goal it reaches
    (the same cell or any other it moves, at the value it gives it or a nearer one:
    :meth:`_Repair.served`) when it moves none of the latter's own cells: once its
    candidates are hidden, every quantity it moves is hidden and within its label, so that
    official cannot exclude it either (the LP is skipped; the cells hidden are those the
    per-goal LPs would hide when they find the same point)."""
    cache: dict[str, BoolArray] = {}
    added = 0
    far: set[tuple[str, int, float]] = set()
    goals = _failure_goals(st, result, far if local else None)
    # goals a point found so far serves (stays so: points are only added)
    served: set[int] = set()

    def settled(k: int) -> bool:
        """Whether goal ``k`` needs no search now: out of its cell's range, out of reach, or
        served by a point found so far."""
        att, q, goal = goals[k]
        if goal < st.lb[q] - 1e-9 or goal > st.ub[q] + 1e-9:
            return True
        if (att, q, goal) in repair.unreachable:
            return True
        if k not in served and repair.served(q, goal, _insider_known(st, att, cache)):
            served.add(k)
        return k in served

    ahead = _Ahead(repair, len(goals), settled)
    try:
        for k, (att, q, goal) in enumerate(goals):
            if goal < st.lb[q] - 1e-9 or goal > st.ub[q] + 1e-9:
                continue
            if (att, q, goal) in repair.unreachable:
                continue
            if settled(k):  # served by a point found so far
                repair.reused += 1
                continue
            known = _insider_known(st, att, cache)
            # the worker's next goals are handed out before this one is searched here
            ahead.fill(k, goals, added)
            got = ahead.result(k)
            if got is not None and got[0].point is None and got[1] != added:
                # searched ahead in vain, and cells were hidden since: search again
                got = None
            if got is None:
                got = (repair.search(q, goal, known), added)
            else:
                repair.ahead_used += 1
            free = repair.take(got[0])
            if (att, q, goal) in far:
                if free:
                    repair.add_point(q, goal)
                continue
            if free:
                pick: IntArray | None = np.zeros(0, dtype=np.int64)
            elif local:
                pick = repair.local_solve(q, goal, known)
            else:
                pick = repair.solve(q, goal, known)
            if pick is not None:
                repair.add_point(q, goal)
            else:
                repair.unreachable.add((att, q, goal))
            if pick is None and not hide_all:
                continue
            if pick is None:
                rel, qq, _ = st.s.members()
                rels = np.unique(rel[qq == q])
                pick = np.unique(qq[np.isin(rel, rels)])
                pick = pick[(st.cls[pick] == 0) & ~st.forbidden[pick]]
                fallback.append(
                    {"attacker": att, "quantity": q, "goal": goal, "hidden": int(pick.size)}
                )
            ahead.hidden(pick)
            added += _hide(st, pick)
    finally:
        ahead.close()
    return added


def _protect_public(
    table: pa.Table,
    auth: Authorization,
    ledger: pa.Table | None,
    method: str,
    attackers: str,
    max_rounds: int,
    domains: tuple[tuple[int, str], ...] = (),
) -> tuple[pa.Table, dict[str, Any], AuditResult]:
    rules = auth.public
    sparse = _sparse_tables(table, rules, _withheld(table, rules))
    if sparse:
        if ledger is not None and ledger.num_rows and _rows_of(ledger, _table_keys(sparse)).any():
            raise CheckFailed(
                "the ledger holds cells of a breakdown now withheld from the public as close "
                "to microdata for the same year ("
                + ", ".join(f"{w['breakdown']} {w['year']}" for w in sparse)
                + "): differencing the two is not modelled; raise public.max_small_share "
                "or start a new ledger only with the data protection officer's consent"
            )
        table = _without_tables(table, sparse)
        if table.num_rows == 0:
            raise AuthorizationError(
                "audience 'public': every breakdown asked for is withheld as close to "
                "microdata ("
                + ", ".join(f"{w['breakdown']} {w['year']}: {w['small_share']:.0%}" for w in sparse)
                + f" of the non-zero cells from {rules.small_count_min} to "
                f"{rules.small_count_max}; max_small_share {rules.max_small_share:g} in "
                f"authorization {auth.id}): ask for other breakdowns, `total` among them"
            )
    withheld = _withheld(table, rules) + [
        {
            "year": y,
            "policy_domain": d,
            "reason": "its cells let the officials of its entities recover each other's "
            "withheld cells whatever else is hidden",
        }
        for y, d in domains
    ]
    st = _build_state(table, rules, withheld, ledger)
    n_primary = int((st.cls == _P).sum())
    rounds: list[dict[str, Any]] = []
    t_local = time.perf_counter()
    big = method == "blocks" or (method == "repair" and st.s.n_q >= BLOCKS_FROM)
    block_rounds: list[dict[str, Any]] = []
    if method == "heuristic":
        added = _local_fixpoint(st)
    elif method in ("repair", "blocks") and big:
        block_rounds = [_protect_blocks(st)]
        added = int(block_rounds[0]["added"])
    elif method == "repair":
        added = 0
    elif method == "exact":
        mip = _exact_mip(st)
        added = int(mip["hidden"])
    else:
        raise InputError(f"method '{method}': use heuristic, repair, blocks or exact")
    rounds.append(
        {"step": method, "added": added, "seconds": round(time.perf_counter() - t_local, 3)}
    )
    if method == "exact":
        rounds[-1]["mip"] = mip
    if big:
        rounds[-1]["blocks"] = block_rounds
    audit_method = "blocks" if big else "global"
    result: AuditResult | None = None
    repair: _Repair | None = None
    fallback: list[dict[str, Any]] = []
    limits: dict[tuple[str, int, int], tuple[float, float, bool]] = {}
    audit_cache: dict[tuple[Any, ...], Any] = {}
    for _ in range(max_rounds):
        if repair is not None and big:
            # the repair's points, offered to the audit as witnesses (it checks them)
            audit_cache[("points", st.s.fingerprint())] = repair.points
        published = _published_table(st)
        t_a = time.perf_counter()
        result = audit(
            published, table, auth, attacker=attackers, ledger=ledger, withheld=withheld,
            method=audit_method, limit_cache=limits, screen=big, round_cache=audit_cache,
        )  # fmt: skip
        rounds.append(
            {
                "step": "audit",
                "failed": result.summary["failed"],
                "seconds": round(time.perf_counter() - t_a, 3),
            }
        )
        if big:
            # the repair's points the audit checked and used as witnesses
            info = result.summary["blocks"]
            rounds[-1]["points_taken"] = int(info.get("points_taken", 0))
            rounds[-1].update({k: v for k, v in info.items() if k.startswith("seconds_")})
        if result.passed and big:
            # blocks and sparse witnesses certified every target (inner bounds, feasible
            # points): a pass is a pass
            break
        if result.passed:
            # the fast audit settles cells by witnesses and outer bounds; a release is only
            # returned once the exact audit (two LPs per undecided cell) agrees
            result = audit(
                published, table, auth, attacker=attackers, ledger=ledger, withheld=withheld,
                exact=True,
            )  # fmt: skip
            rounds.append({"step": "audit_exact", "failed": result.summary["failed"]})
            if result.passed:
                break
        t_r = time.perf_counter()
        if repair is None:
            repair = _Repair(st)
        if big:
            # what the screening could not certify goes to the global attacking-table LP: a
            # goal already within reach costs nothing (its point hides no cell) and, like
            # every point it finds, becomes a witness for the next screening (the audit
            # checks it) for every attacker whose cells it leaves alone
            found = sum(len(p) for p in repair.points.values())
            n = _repair_from_audit(st, result, repair, fallback, hide_all=False, local=True)
            new = sum(len(p) for p in repair.points.values()) - found
            rounds.append(
                {
                    "step": "repair_screened",
                    "added": n,
                    "points_new": new,
                    "lp_solves": repair.solves,
                    "sub_lp_solves": repair.sub_solves,
                    "sub_lp_seconds": round(repair.sub_seconds, 3),
                    "sub_lp_pair_points": repair.pair_found,
                    "goals_ahead": repair.ahead,
                    "goals_ahead_used": repair.ahead_used,
                    "points_reused": repair.reused,
                    "seconds": round(time.perf_counter() - t_r, 3),
                }
            )
            if n > 0 or new > 0:
                continue
            # nothing new: the goals left are out of reach (a cell at its protection limit)
            # or met only as the exact LPs show; the block audit with the global exact LPs
            # for what it leaves is the arbiter, and its failures (real ones) get the global
            # attacking-table LP
            result = audit(
                published, table, auth, attacker=attackers, ledger=ledger, withheld=withheld,
                method=audit_method, limit_cache=limits, round_cache=audit_cache,
            )  # fmt: skip
            rounds.append({"step": "audit_blocks_exact", "failed": result.summary["failed"]})
            if result.passed:
                break
            t_r = time.perf_counter()
            n = _repair_from_audit(st, result, repair, fallback, hide_all=False, local=True)
            rounds.append(
                {
                    "step": "repair_global",
                    "added": n,
                    "lp_solves": repair.solves,
                    "points_reused": repair.reused,
                    "seconds": round(time.perf_counter() - t_r, 3),
                }
            )
            if n == 0:
                break
            continue
        n = _repair_from_audit(st, result, repair, fallback)
        rounds.append(
            {
                "step": "repair",
                "added": n,
                "lp_solves": repair.solves,
                "points_reused": repair.reused,
                "seconds": round(time.perf_counter() - t_r, 3),
            }
        )
        if n == 0:
            # nothing left to hide: the exact audit (every undecided interval solved by two
            # LPs) is the arbiter; the fast audit's outer bounds may be conservative
            result = audit(
                published, table, auth, attacker=attackers, ledger=ledger, withheld=withheld,
                exact=True,
            )  # fmt: skip
            rounds.append({"step": "audit_exact", "failed": result.summary["failed"]})
            break
    assert result is not None
    if not result.passed:
        more = _domains_to_withhold(result, domains)
        if more:
            # a domain made only of entities that expose each other (its 1-5 labels and the
            # officials' own cells pin a withheld cell): withhold the domain's cells too and
            # protect again from the start (deterministic: the same failures, the same domains)
            return _protect_public(
                table, auth, ledger, method, attackers, max_rounds, domains + more
            )  # fmt: skip
        result.raise_if_failed()
    published = _published_table(st)
    n_secondary = int((st.cls == _S).sum())
    hidden_zero = int(((st.cls == _S) & (st.v == 0)).sum())
    summary: dict[str, Any] = {
        "method": method,
        "exact": False,
        "cells": published.num_rows,
        "withheld_entities": [w for w in withheld if w.get("entity") is not None],
        "withheld_domains": [w for w in withheld if w.get("entity") is None],
        "withheld_tables": sparse,
        "quantities": st.s.n_q,
        "masked_primary_quantities": n_primary,
        "masked_secondary_quantities": n_secondary - hidden_zero,
        "masked_zero_quantities": hidden_zero,
        "withheld_quantities": int((st.cls == _W).sum()),
        "status_counts": dict(
            sorted(
                (str(k), int(v))
                for k, v in zip(
                    *np.unique(
                        np.array(published["status"].to_pylist(), dtype=object), return_counts=True
                    ),
                    strict=True,
                )
            )
        ),
        "rules": {
            "min_entity_size": rules.min_entity_size,
            "small_counts": [rules.small_count_min, rules.small_count_max],
            "small_label": rules.small_label,
            "suppressed_label": rules.suppressed_label,
            "zeros_sensitive": rules.zeros_sensitive,
            "zeros_complementary": rules.zeros_sensitive,
            "max_small_share": rules.max_small_share,
            "percent_shown": "only with a published count and a published row total",
        },
        "rounds": rounds,
        "fallback": fallback,
        "audit": result.summary,
        "ledger_cells": 0 if ledger is None else ledger.num_rows,
    }
    return published, summary, result


def _domains_to_withhold(
    result: AuditResult, done: tuple[tuple[int, str], ...]
) -> tuple[tuple[int, str], ...]:
    """The policy domains of the withheld entities' cells that still fall short, in order."""
    f = result.failures
    if f.num_rows == 0:
        return ()
    m = pc.and_(pc.equal(f["target"], "withheld"), pc.equal(f["scope"], "entity"))
    rows = f.filter(pc.fill_null(m, False)).select(["year", "policy_domain"]).to_pylist()
    found = {(int(r["year"]), str(r["policy_domain"])) for r in rows}
    return tuple(sorted(found - set(done)))


# -- the exact yardstick -----------------------------------------------------------------------


def _exact_goals(st: _State) -> list[tuple[int, float]]:
    """(quantity, goal) pairs the exact model must make possible (public attacker): each
    1-5 cell and each withheld cell that may be small at both ends of 1..4 (as far as the
    rules allow at all: the reach with every candidate hidden), and every other withheld cell
    one unit off its value."""
    rep = _Repair(st)
    smin, smax = float(st.rules.small_count_min), float(st.rules.small_count_max)
    none = np.zeros(st.s.n_q, dtype=bool)
    goals: list[tuple[int, float]] = []
    for q in np.nonzero((st.cls == _P) | (st.cls == _W))[0].tolist():
        v = float(st.v[q])
        if v > smax:
            for g in (v - 1, v + 1):
                if st.lb[q] <= g <= st.ub[q] and rep.reach(q, g, none):
                    goals.append((q, g))
                    break
            continue
        lo = smin if st.cls[q] == _P else 0.0
        for g in (smin, smax):
            gg = g
            while gg != v and not rep.reach(q, gg, none):
                gg += 1.0 if gg < v else -1.0
            if gg != v or g == v:
                goals.append((q, max(gg, lo)))
    return sorted(set(goals))


def _exact_mip(st: _State, time_limit: float = 60.0) -> dict[str, Any]:
    """Minimum number of complementary suppressions against the public attacker (MIP).

    The compact Fischetti-Salazar model: a binary ``z_p`` per candidate (cost 1) and, for
    every (target, goal) of :func:`_exact_goals`, an attacking table ``d`` with ``A d = 0``
    that reaches the goal and moves a candidate only if it is hidden (``|d_p| <= M z_p``).
    Small problems only (one copy of the table per goal); the insiders are left to the
    audit-driven repair that follows. Hides the optimal (or best found) pattern.
    """
    goals = _exact_goals(st)
    s, n = st.s, st.s.n_q
    cand = (st.cls == 0) & ~st.forbidden
    cq = np.nonzero(cand)[0]
    ncand = cq.size
    cidx = np.full(n, -1, dtype=np.int64)
    cidx[cq] = np.arange(ncand)
    rel, q, coef = s.members()
    big = float(max(st.v.max(), 1.0))
    hidden = st.cls > 0
    up0 = np.where(hidden, np.minimum(st.ub - st.v, big), big)
    dn0 = np.where(hidden, st.v - st.lb, np.maximum(st.v - st.rules.hidden_lower, 0.0))
    up0 = np.where(hidden | cand, up0, 0.0)
    dn0 = np.where(hidden | cand, np.maximum(dn0, 0.0), 0.0)
    ng = len(goals)
    ncol = ncand + ng * 2 * n
    col_lo = np.zeros(ncol)
    col_hi = np.ones(ncol)
    cost = np.zeros(ncol)
    cost[:ncand] = 1.0
    R: list[IntArray] = []
    C: list[IntArray] = []
    V: list[FloatArray] = []
    row_lo: list[FloatArray] = []
    row_hi: list[FloatArray] = []
    nrow = 0
    for k, (t, g) in enumerate(goals):
        base = ncand + k * 2 * n
        up, dn = up0.copy(), dn0.copy()
        dv = g - st.v[t]
        col_lo[base : base + n] = 0.0
        col_hi[base : base + n] = up
        col_hi[base + n : base + 2 * n] = dn
        col_lo[base + t] = col_hi[base + t] = max(dv, 0.0)
        col_lo[base + n + t] = col_hi[base + n + t] = max(-dv, 0.0)
        R += [rel + nrow, rel + nrow]
        C += [base + q, base + n + q]
        V += [coef, -coef]
        row_lo.append(np.zeros(s.n_rel))
        row_hi.append(np.zeros(s.n_rel))
        nrow += s.n_rel
        # d+_p + d-_p - M z_p <= 0 for candidates
        rr = nrow + np.arange(ncand, dtype=np.int64)
        R += [rr, rr, rr]
        C += [base + cq, base + n + cq, np.arange(ncand, dtype=np.int64)]
        V += [np.ones(ncand), np.ones(ncand), -np.full(ncand, big)]
        row_lo.append(np.full(ncand, -np.inf))
        row_hi.append(np.zeros(ncand))
        nrow += ncand
    out: dict[str, Any] = {"goals": ng, "candidates": int(ncand), "columns": int(ncol)}
    if ng == 0:
        out.update({"status": "optimal", "hidden": 0, "bound": 0.0})
        return out
    h = colwise_model(
        np.concatenate(R), np.concatenate(C), np.concatenate(V), cost, col_lo, col_hi,
        np.concatenate(row_lo), np.concatenate(row_hi), integer_cols=int(ncand),
    )  # fmt: skip
    h.setOptionValue("time_limit", float(time_limit))
    h.run()
    stt = h.getModelStatus()
    info = h.getInfo()
    out["status"] = h.modelStatusToString(stt)
    out["bound"] = float(info.mip_dual_bound)
    if stt not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
        raise InternalError(f"exact suppression: HiGHS status {out['status']}")
    x = np.asarray(h.getSolution().col_value)
    if x.size == 0 or info.primal_solution_status == 0:
        raise CheckFailed("exact suppression: no solution within the time limit")
    out["hidden"] = _hide(st, cq[x[:ncand] > 0.5])
    return out


def compare_methods(
    cells: Any, authorization: Authorization, attackers: str = "public"
) -> dict[str, Any]:
    """Complementary suppressions of the heuristic against the exact (MIP) method."""
    out: dict[str, Any] = {}
    for m in ("heuristic", "repair", "exact"):
        t0 = time.perf_counter()
        _, summ, _ = protect_public(cells, authorization, "public", method=m, attackers=attackers)
        out[m] = {
            "secondary": summ["masked_secondary_quantities"],
            "primary": summ["masked_primary_quantities"],
            "seconds": round(time.perf_counter() - t0, 3),
        }
    return out


# -- block decomposition (large releases) ------------------------------------------------------


def _current_knowledge(st: _State) -> tuple[Any, BoolArray, FloatArray, FloatArray]:
    """What the public knows of the current pattern: (knowledge, relaxable, caps, floors)."""
    from .audit import (
        _grand_total,
        _knowledge,
        _label_caps,
        _label_floors,
        limit_outer_bounds,
        narrow_to_limit,
    )

    view = _current_view(st)
    base = _knowledge(view, st.s, st.rules)
    relaxable = base.known & (base.value >= st.rules.hidden_lower) & (base.value > 0)
    relaxable[_grand_total(view, st.s)] = False
    relaxable &= ~st.forbidden
    cap, floor = narrow_to_limit(
        _label_caps(st.s, base, st.rules, view),
        _label_floors(st.s, base),
        *limit_outer_bounds(st.s, base, relaxable, st.rules),
    )
    return base, relaxable, cap, floor


def _current_view(st: _State) -> pa.Table:
    """The attacker's view of the current pattern (withheld copies and link rows included,
    in the rows' order of ``st.view``)."""
    pub = _published_table(st)
    parts = [pub]
    for status in (WITHHELD_STATUS, LINK_STATUS):
        rows = np.asarray(
            pc.fill_null(pc.equal(st.view["status"], status), False).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        parts.append(st.view.filter(pa.array(rows)).cast(pub.schema))
    return pa.concat_tables(parts)


def _block_goals(
    kind: int, lo: float, hi: float, r_lo: float, r_hi: float, v: float, ub: float
) -> list[float]:
    """Values the target must be able to take in the block."""
    goals: list[float] = []
    if kind == 0 or (kind == 1 and r_lo < r_hi):
        if hi < r_hi:
            goals.append(r_hi)
        if lo > r_lo:
            goals.append(r_lo)
    if kind == 1 and lo >= hi and not goals:
        goals.append(v + 1 if v + 1 <= ub else v - 1)
    return goals


def _repair_in_block(st: _State, ev: Any, b: int, fails: list[tuple[int, float]]) -> int:
    """Batched attacking-table LPs inside block ``b`` (everything outside fixed): one LP for
    the goals above the true values and one for those below (see :func:`_batch_attack`)."""
    bu = np.array(ev.plan.blocks[b].units, dtype=np.int64)
    in_block = np.zeros(ev.units.n_units, dtype=bool)
    in_block[bu] = True
    rels = ev.units.relations_of(bu)
    tq = np.array([q for q, _ in fails], dtype=np.int64)
    ls, gq = substructure(st.s, rels, tq)
    inside = in_block[ev.units.q_unit[gq]]
    # the administration's cells are the headline figures: the block phase hides them only
    # in the administration's own block (its own small cells); what else needs them goes on
    # to the screening audit and the global repair, where they are candidates at full cost
    keep = st.admin[gq] & (bu.shape[0] > 1)
    added = 0
    for up in (True, False):
        goals = [(int(np.searchsorted(gq, q)), g) for q, g in fails if (g > st.v[q]) == up]
        if not goals:
            continue
        cls = st.cls[gq]
        pick = _batch_attack(
            ls, st.v[gq], cls > 0, st.lb[gq], st.ub[gq],
            inside & ~st.forbidden[gq] & ~keep & (cls == 0), inside, goals,
            float(st.rules.hidden_lower),
        )  # fmt: skip
        if pick.size:
            added += _hide(st, gq[pick])
    return added


def _batch_attack(
    s: Structure,
    v: FloatArray,
    hidden: BoolArray,
    lb: FloatArray,
    ub: FloatArray,
    cand: BoolArray,
    free: BoolArray,
    goals: list[tuple[int, float]],
    hidden_lower: float,
) -> IntArray:
    """One attacking-table LP for many goals at once: deviations ``d = dp - dm`` with
    ``A d = 0``; hidden quantities (where ``free``) move within their labels at no cost,
    candidates at ``1 + v`` per unit and only to values an ``x`` allows; every other quantity
    is fixed. Each goal ``(q, g)`` earns a large reward per unit of ``d_q`` towards ``g`` (up
    to reaching it), so the LP reaches every goal it can, jointly, at the least cost of
    candidates moved. Returns the candidates that move (to hide): after hiding them the
    LP's point is a witness for every goal it reached. Joint goals may hide more than goal by
    goal would; it is one LP instead of one per goal."""
    m = len(goals)
    r, c, val = s.matrix()
    gq = np.array([g[0] for g in goals], dtype=np.int64)
    need = np.array([g[1] for g in goals], dtype=np.float64) - v[gq]
    sign = np.sign(need)
    inf = highspy.kHighsInf
    mov = hidden & free
    up = np.where(mov, ub - v, np.where(cand, inf, 0.0))
    dn = np.where(mov, v - lb, np.where(cand, np.maximum(v - hidden_lower, 0.0), 0.0))
    up = np.minimum(np.nan_to_num(np.maximum(up, 0.0), posinf=inf), inf)
    dn = np.minimum(np.nan_to_num(np.maximum(dn, 0.0), posinf=inf), inf)
    # a quantity that cannot move has d = 0 and drops out of A d = 0: the LP holds only
    # the quantities that can move (and the goals') and the relations among them
    keep = (up > 0) | (dn > 0)
    keep[gq] = True
    cols = np.nonzero(keep)[0].astype(np.int64)
    n = int(cols.shape[0])
    local = np.full(s.n_q, -1, dtype=np.int64)
    local[cols] = np.arange(n)
    sel = keep[c]
    used, r = np.unique(r[sel], return_inverse=True)
    r = r.reshape(-1).astype(np.int64)
    c, val = local[c[sel]], val[sel]
    nrel = int(used.shape[0])
    up, dn, vk = up[cols], dn[cols], v[cols]
    cost = np.where(cand[cols], 1.0 + vk, 0.0)
    lq = local[gq]
    # columns: dp (n), dm (n), reward (m); rows: relations, then one row per goal
    reward = 1e6
    goal_rows = nrel + np.arange(m)
    h = colwise_model(
        np.concatenate([r, r, goal_rows, goal_rows, goal_rows]),
        np.concatenate([c, c + n, 2 * n + np.arange(m), lq, n + lq]),
        np.concatenate([val, -val, np.ones(m), -sign, sign]),
        np.concatenate([cost, cost, np.full(m, -reward)]),
        np.zeros(2 * n + m),
        np.concatenate([up, dn, np.abs(need)]),
        np.concatenate([np.zeros(nrel), np.full(m, -inf)]),
        np.zeros(nrel + m),
    )
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.zeros(0, dtype=np.int64)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    moved = (x[:n] + x[n : 2 * n]) > 1e-7
    out: IntArray = cols[np.nonzero(moved & cand[cols])[0]].astype(np.int64)
    return out


def _protect_blocks(st: _State) -> dict[str, Any]:
    """Complementary suppression block by block (public attacker over F_U; see
    :mod:`herkomst.audit`): one evaluation of every block, then a repair of each failing
    block for its goals. What this pass leaves (a vertical home, a goal no block repair
    reaches) goes to the screening audits and the global repair. One pass, not rounds until
    every target passes: the first round hid 7,904 of 8,190 cells on the 42 tables, and
    later rounds, block by block, hid 159 more where the global repair needs fewer (one
    pass hides 8,076 in all, in about the same time; docs/benchmarks.md, 4 December 2026,
    second session)."""
    from .audit import _block_evaluate, _Stats

    t0 = time.perf_counter()
    units = build_units(st.view, st.s)
    base, relaxable, cap, floor = _current_knowledge(st)
    tq = np.nonzero((st.cls == _P) | (st.cls == _W))[0].astype(np.int64)
    kind = np.where(st.cls[tq] == _W, 1, 0).astype(np.int64)
    stats = _Stats()
    ev = _block_evaluate(
        st.s, base, st.v, st.rules, tq, kind, cap, floor, relaxable, units, stats,
        settle=False, first_holder_only=True,
    )  # fmt: skip
    t_eval = time.perf_counter() - t0
    per_block: dict[int, list[tuple[int, float]]] = {}
    for (i, b), ok in sorted(ev.ok.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        # a vertical home is left to the screening: the cheaper pair blocks come first
        if ok or b in ev.vertical.get(i, ()):
            continue
        q = int(tq[i])
        for g in _block_goals(
            int(kind[i]), ev.lo[(i, b)], ev.hi[(i, b)], float(ev.r_lo[i]),
            float(ev.r_hi[i]), float(st.v[q]), float(st.ub[q]),
        ):  # fmt: skip
            if st.lb[q] - 1e-9 <= g <= st.ub[q] + 1e-9:
                per_block.setdefault(b, []).append((q, g))
    added = sum(_repair_in_block(st, ev, b, per_block[b]) for b in sorted(per_block))
    return {
        "step": "blocks",
        "blocks": len(ev.plan.blocks),
        "failing_blocks": len(per_block),
        "goals": sum(len(v) for v in per_block.values()),
        "added": added,
        "lp_solves": stats.lp_solves,
        "seconds_evaluate": round(t_eval, 3),
        "seconds": round(time.perf_counter() - t0, 3),
    }
