"""The disclosure audit: what an attacker can learn about every hidden cell of a release.

Written independently of the suppression code (:mod:`herkomst.protect`): it reads only a
published cell table (or a release folder), rebuilds the additive relations from the cell
keys (:mod:`herkomst._cells`) and, for every masked cell and every cell of a withheld entity,
computes the attacker's feasible interval with linear programs (HiGHS via ``highspy``):
minimise and maximise the cell subject to

- every additive relation between cells (origin parts, breakdowns, ``all`` margins, scopes;
  the ``total`` cells of every definition are one quantity);
- every published value (this release, and earlier releases from the ledger);
- what the labels say to an attacker who knows the rules: ``1-5`` is 1..4; a plain ``x`` is at
  least 5 (zeros are never complementary suppressions) or at least 0 when zeros are
  sensitive; a withheld entity's cell is at least 0 and its total at most 49;
- the rounded percentages shown (``(p - 0.05)/100 T <= n <= (p + 0.05)/100 T``);
- for an insider (``insider:<entity>``), the entity's exact cells.

Only unpublished quantities are variables; relations with one unknown are solved by
substitution first (classic differencing), then connected components are solved separately.
Bounds are rounded to integers (the attacker knows counts are integers); the LP relaxation
can only make the attacker weaker than an integer-programming attacker (documented in
``docs/protection.md``).

Requirement (``[audience.public.requirement]`` of the authorization): a ``1-5`` cell's
interval is the whole 1..4; a withheld entity's cell is never pinned, and when it may be
small (its lower bound is below 5) its interval reaches 1 and 4. A bound that the labels
alone force (a ``1-5`` total over several ``1-5`` parts) or a published zero above the cell
cannot be undone by suppression: those are counted apart, not failures.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import _hypercubes
from ._cells import (
    KEY_COLUMNS,
    LEVEL_ADMINISTRATION,
    LEVEL_DOMAIN,
    LEVEL_ENTITY,
    LINK_STATUS,
    RELATION_KINDS,
    BoolArray,
    FloatArray,
    IntArray,
    Structure,
    Units,
    breakdown_of,
    build_structure,
    build_units,
    check_links,
    conform,
    substructure,
    with_link_rows,
)
from ._highs import DeviationLP, colwise_model, map_independent
from .authorization import Authorization, PublicRules, load_authorization
from .errors import CheckFailed, InputError, InternalError, UsageError

EPS = 1e-6
WITHHELD_STATUS = "withheld_entity"
# ``method="auto"`` would audit by blocks (with the true cells) from this many quantities on.
# Not yet: the blocks do not settle enough cells of sparse ``all`` tables (docs/protection.md,
# "Blocks: status"), so the default stays the global audit; ``method="blocks"`` asks for it.
BLOCKS_FROM = 2**62
# partner domains tried per target in the witnesses' two-domain tiers (_WitnessLP._solve)
PAIR_PARTNERS = 2
INSIDERS = "insider:*"  # block audit: every insider other than the cell's own entity


def _eq(arr: pa.ChunkedArray | pa.Array, value: str) -> BoolArray:
    """``arr == value`` as a numpy bool array (nulls are False)."""
    m = pc.fill_null(pc.equal(arr, value), False)
    out: BoolArray = np.asarray(m.to_numpy(zero_copy_only=False), dtype=bool)
    return out


class Target(StrEnum):
    SMALL = "small"  # shown as the small label (1-5)
    WITHHELD = "withheld"  # a cell of a withheld entity (absent from the release)
    SUPPRESSED = "suppressed"  # shown as x (complementary suppression, or a sensitive zero)


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "fail"
    NOT_SMALL = "not_small"  # a withheld cell known to be at least 5, and not pinned
    LABEL_LIMITED = "label_limited"  # the labels alone force a narrower interval
    # a published 0 lies above the cell (for an official: the labels leave the others none)
    ZERO_BELOW_ZERO = "zero_below_published_zero"
    ZERO_PINNED = "zero_pinned"  # pinned to 0 by differencing (not a person)
    NO_REQUIREMENT = "no_requirement"
    ESCALATED = "escalated"  # not settled by the blocks: judged by the global audit (rows apart)


@dataclass(frozen=True)
class AuditResult:
    """Per-target intervals (no true values) and a summary."""

    cells: pa.Table
    summary: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.summary["passed"])

    @property
    def failures(self) -> pa.Table:
        return self.cells.filter(pc.invert(self.cells["passed"]))

    def raise_if_failed(self) -> None:
        if not self.passed:
            first = self.failures.slice(0, 1).to_pylist()[0]
            where = ", ".join(f"{k}={first[k]}" for k in KEY_COLUMNS if first[k] is not None)
            raise CheckFailed(
                f"audit failed: {self.summary['failed']} cell(s) fall short of the requirement "
                f"(first: attacker {first['attacker']}, {first['target']} cell {where}, "
                f"attacker interval [{first['lower']:g}, {first['upper']:g}]); "
                "see audit.parquet"
            )


# -- the attacker's view ---------------------------------------------------------------------


def withheld_from(published: pa.Table, truth: pa.Table) -> list[dict[str, Any]]:
    """Entities present in ``truth`` and absent from ``published``, per year."""

    def ents(t: pa.Table) -> set[tuple[int, str, str]]:
        e = t.filter(pc.equal(t["scope"], "entity"))
        cols = e.select(["year", "policy_domain", "entity"]).group_by(
            ["year", "policy_domain", "entity"]
        )
        return {
            (int(r["year"]), str(r["policy_domain"]), str(r["entity"]))
            for r in cols.aggregate([]).to_pylist()
        }

    gone = sorted(ents(truth) - ents(published))
    return [{"year": y, "policy_domain": d, "entity": e} for y, d, e in gone]


def attacker_view(published: pa.Table, withheld: Sequence[dict[str, Any]]) -> pa.Table:
    """The published cells plus one unknown copy per withheld unit, then the link rows of
    every row (:func:`herkomst._cells.with_link_rows`: what the attacker knows of how the
    two EU definitions classify the same persons).

    A withheld entity's copy holds every combination of its domain's cells; a withheld policy
    domain (an entry without ``entity``) holds every combination of the administration's, and
    an entity withheld inside a withheld domain takes the combinations of the domain's copy.
    """
    pub = conform(published)
    parts = [pub]
    domain_copy: dict[tuple[int, str], pa.Table] = {}
    for w in withheld:
        if w.get("entity") is not None:
            continue
        adm = pub.filter(
            pc.and_(pc.equal(pub["scope"], "administration"), pc.equal(pub["year"], w["year"]))
        )
        if adm.num_rows == 0:
            raise InputError(
                f"withheld policy domain {w['policy_domain']} ({w['year']}): the "
                "administration has no cells in the release"
            )
        copy = _unknown_copy(adm, "policy_domain", str(w["policy_domain"]), None)
        domain_copy[(int(w["year"]), str(w["policy_domain"]))] = copy
        parts.append(copy)
    for w in withheld:
        if w.get("entity") is None:
            continue
        dom = domain_copy.get((int(w["year"]), str(w["policy_domain"])))
        if dom is None:
            dom = pub.filter(
                pc.and_(
                    pc.and_(
                        pc.equal(pub["scope"], "policy_domain"), pc.equal(pub["year"], w["year"])
                    ),
                    pc.equal(pub["policy_domain"], w["policy_domain"]),
                )
            )
        if dom.num_rows == 0:
            raise InputError(
                f"withheld entity {w['entity']} ({w['year']}): its policy domain "
                f"{w['policy_domain']} has no cells in the release"
            )
        parts.append(_unknown_copy(dom, "entity", str(w["policy_domain"]), str(w["entity"])))
    return with_link_rows(pa.concat_tables(parts))


def _unknown_copy(src: pa.Table, scope: str, domain: str, entity: str | None) -> pa.Table:
    """``src``'s combinations for another unit, every count unknown (status withheld)."""
    n = src.num_rows
    cols = {c: src[c] for c in src.column_names}
    cols["scope"] = pa.array([scope] * n, pa.string())
    cols["policy_domain"] = pa.array([domain] * n, pa.string())
    cols["entity"] = pa.array([entity] * n, pa.string())
    cols["count"] = pa.nulls(n, pa.int64())
    cols["percent"] = pa.nulls(n, pa.float64())
    cols["shown"] = pa.nulls(n, pa.string())
    cols["status"] = pa.array([WITHHELD_STATUS] * n, pa.string())
    return pa.table(cols, schema=src.schema)


@dataclass
class _Knowledge:
    """What the attacker knows about every quantity."""

    known: BoolArray
    value: FloatArray
    lb: FloatArray
    ub: FloatArray
    # rounded-percentage constraints: n between plo*T and phi*T
    p_n: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    p_t: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    p_lo: FloatArray = field(default_factory=lambda: np.zeros(0))
    p_hi: FloatArray = field(default_factory=lambda: np.zeros(0))


def _str_col(t: pa.Table, name: str) -> list[str | None]:
    return [None if v is None else str(v) for v in t[name].to_pylist()]


def _first_conflict(q: IntArray, v: FloatArray, n_q: int) -> int | None:
    """A quantity given two different values, if any."""
    if q.shape[0] == 0:
        return None
    order = np.lexsort((v, q))
    qs, vs = q[order], v[order]
    bad = (qs[1:] == qs[:-1]) & (np.abs(vs[1:] - vs[:-1]) > EPS)
    if bad.any():
        return int(qs[1:][bad][0])
    return None


def _knowledge(view: pa.Table, s: Structure, rules: PublicRules) -> _Knowledge:
    n_q = s.n_q
    known = np.zeros(n_q, dtype=bool)
    value = np.full(n_q, np.nan)
    lb = np.zeros(n_q)
    ub = np.full(n_q, np.inf)
    shown = _str_col(view, "shown")
    status = _str_col(view, "status")
    counts = view["count"].to_numpy(zero_copy_only=False).astype(np.float64)
    percent = view["percent"].to_numpy(zero_copy_only=False).astype(np.float64)
    is_small = np.array([x == rules.small_label for x in shown], dtype=bool)
    is_x = np.array([x == rules.suppressed_label for x in shown], dtype=bool)
    is_withheld = np.array([x == WITHHELD_STATUS for x in status], dtype=bool)
    is_link = np.array([x == LINK_STATUS for x in status], dtype=bool)
    has_count = ~np.isnan(counts)
    pub_rows = np.nonzero(has_count)[0]
    conflict = _first_conflict(s.qid[pub_rows], counts[pub_rows], n_q)
    if conflict is not None:
        raise CheckFailed(
            "release is inconsistent: two published cells of one quantity (the same people) "
            "carry different counts"
        )
    known[s.qid[pub_rows]] = True
    value[s.qid[pub_rows]] = counts[pub_rows]
    unlabelled = ~has_count & ~is_small & ~is_x & ~is_withheld & ~is_link
    if unlabelled.any():
        i = int(np.argmax(unlabelled))
        raise InputError(
            f"cell row {i}: no count and shown '{shown[i]}' is neither "
            f"'{rules.small_label}' nor '{rules.suppressed_label}'"
        )
    q_small = s.qid[is_small & ~has_count]
    np.maximum.at(lb, q_small, rules.small_count_min)
    np.minimum.at(ub, q_small, rules.small_count_max)
    q_x = s.qid[is_x & ~has_count]
    np.maximum.at(lb, q_x, rules.hidden_lower)
    # A withheld entity's total is below the minimum entity size (the rule is public).
    ent_total = (
        is_withheld
        & np.array([c == "entity" for c in _str_col(view, "scope")])
        & np.array([b == "total" for b in _str_col(view, "breakdown")])
        & np.array([o == "total" for o in _str_col(view, "origin")])
    )
    np.minimum.at(ub, s.qid[ent_total], max(rules.min_entity_size - 1, 0))
    lb[known] = value[known]
    ub[known] = value[known]
    k = _Knowledge(known, value, lb, ub)
    # Rounded percentages shown next to a hidden count or a hidden row total.
    prow = np.nonzero(~np.isnan(percent))[0]
    if prow.shape[0]:
        k.p_n, k.p_t, k.p_lo, k.p_hi = _percent_constraints(view, s, prow, percent)
    return k


def _percent_constraints(
    view: pa.Table, s: Structure, prow: IntArray, percent: FloatArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """(n, T, lo, hi): a shown percentage p of count n in a row of total T.

    The percentage is rounded half away from zero to one decimal, so 100 n / T lies in
    [p - 0.05, p + 0.05) (for p = 0: [0, 0.05)).
    """
    coder = s.coder
    # The row total of a cell is the same key with origin = total.
    d_origin = coder.digits(view)["origin"]
    total_digit = coder.code("origin", "total")
    tcode = s.rcode[prow] + (total_digit - d_origin[prow]) * coder.mult["origin"]
    order = np.argsort(s.rcode, kind="stable")
    pos = np.minimum(np.searchsorted(s.rcode[order], tcode), s.rcode.shape[0] - 1)
    found = s.rcode[order][pos] == tcode
    prow, pos = prow[found], pos[found]
    trow = order[pos]
    p = percent[prow]
    lo = np.maximum(p - 0.05, 0.0) / 100.0 - EPS
    hi = (p + 0.05) / 100.0 + EPS
    keep = s.qid[prow] != s.qid[trow]
    return s.qid[prow][keep], s.qid[trow][keep], lo[keep], hi[keep]


def _label_caps(s: Structure, k: _Knowledge, rules: PublicRules, view: pa.Table) -> FloatArray:
    """Upper bounds forced by the labels and published zeros alone (no differencing).

    A ``1-5`` cell is at most 4; a published 0 is 0; a term is at most its total's cap minus
    the lower bounds of the other terms. Suppression cannot widen an interval beyond these.
    """
    cap = np.full(s.n_q, np.inf)
    shown = _str_col(view, "shown")
    is_small = np.array([x == rules.small_label for x in shown], dtype=bool)
    np.minimum.at(cap, s.qid[is_small], float(rules.small_count_max))
    zero = k.known & (k.value == 0)
    cap[zero] = 0.0
    lbs = np.where(k.known, k.value, k.lb)
    n = s.n_rel
    if n == 0:
        return cap
    counts = np.diff(s.rel_ptr)
    rel_of_term = np.repeat(np.arange(n, dtype=np.int64), counts)
    sum_lb = np.add.reduceat(lbs[s.rel_terms], s.rel_ptr[:-1]) if s.rel_terms.size else np.zeros(n)
    sum_lb = np.where(counts > 0, sum_lb, 0.0)
    for _ in range(12):
        cand = cap[s.rel_total][rel_of_term] - (sum_lb[rel_of_term] - lbs[s.rel_terms])
        before = cap.copy()
        np.minimum.at(cap, s.rel_terms, cand)
        cap = np.maximum(cap, 0.0)
        if np.array_equal(before, cap):
            break
    return cap


def _label_floors(s: Structure, k: _Knowledge) -> FloatArray:
    """Lower bounds forced by the labels alone: a total is at least the sum of its parts'
    label bounds (``unknown`` over two ``1-5`` parts is at least 2)."""
    floor = np.where(k.known, k.value, k.lb)
    if s.n_rel == 0 or s.rel_terms.size == 0:
        return floor
    counts = np.diff(s.rel_ptr)
    for _ in range(12):
        sums = np.add.reduceat(floor[s.rel_terms], s.rel_ptr[:-1])
        sums = np.where(counts > 0, sums, 0.0)
        before = floor.copy()
        np.maximum.at(floor, s.rel_total, sums)
        if np.array_equal(before, floor):
            break
    return np.where(k.known, 0.0, floor)


# -- solving -----------------------------------------------------------------------------------


@dataclass
class _Stats:
    lp_solves: int = 0
    components: int = 0
    largest_component: int = 0
    derived: int = 0
    seconds_lp: float = 0.0

    def add(self, other: _Stats) -> None:
        """Count in the work of ``other`` (one of the independent evaluations run in
        threads, each with its own counters)."""
        self.lp_solves += other.lp_solves
        self.components += other.components
        self.largest_component = max(self.largest_component, other.largest_component)
        self.derived += other.derived
        self.seconds_lp += other.seconds_lp


def _propagate(
    s: Structure, known: BoolArray, value: FloatArray, lb: FloatArray, ub: FloatArray
) -> int:
    """Solve relations with one unknown (differencing) until none is left; return how many."""
    rel, q, coef = s.members()
    derived = 0
    for _ in range(1000):
        unk = ~known[q]
        cnt = np.bincount(rel, weights=unk.astype(np.float64), minlength=s.n_rel)
        rhs = -np.bincount(
            rel, weights=np.where(unk, 0.0, coef * np.nan_to_num(value[q])), minlength=s.n_rel
        )
        single = cnt == 1
        if not single.any():
            break
        m = unk & single[rel]
        qs, vals = q[m], rhs[rel[m]] / coef[m]
        order = np.argsort(qs, kind="stable")
        qs, vals = qs[order], vals[order]
        first = np.concatenate([[True], qs[1:] != qs[:-1]]) if qs.size else np.zeros(0, bool)
        qs, vals = qs[first], vals[first]
        if ((vals < lb[qs] - EPS) | (vals > ub[qs] + EPS)).any():
            raise CheckFailed(
                "release is inconsistent with its rules: a cell computed from published "
                "totals falls outside what its label allows"
            )
        known[qs] = True
        value[qs] = vals
        derived += int(qs.shape[0])
    return derived


def _components(
    s: Structure, known: BoolArray, p_n: IntArray, p_t: IntArray
) -> tuple[IntArray, BoolArray]:
    """Component label per quantity (unknowns linked by a relation or a percentage)."""
    rel, q, _ = s.members()
    unk = ~known[q]
    cnt = np.bincount(rel, weights=unk.astype(np.float64), minlength=s.n_rel)
    multi = cnt >= 2
    m = unk & multi[rel]
    er, eq = rel[m], q[m]
    pm = ~known[p_n] & ~known[p_t]
    lab = np.arange(s.n_q, dtype=np.int64)
    for _ in range(10000):
        before = lab.copy()
        if er.size:
            rmin = np.full(s.n_rel, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(rmin, er, lab[eq])
            np.minimum.at(lab, eq, rmin[er])
        if pm.any():
            a, b = p_n[pm], p_t[pm]
            mn = np.minimum(lab[a], lab[b])
            np.minimum.at(lab, a, mn)
            np.minimum.at(lab, b, mn)
        lab = lab[lab]
        if np.array_equal(before, lab):
            break
    return lab, multi


class _ComponentLP:
    """One connected component as a HiGHS model, re-solved with changing objectives."""

    def __init__(
        self,
        cols: IntArray,
        s: Structure,
        k_known: BoolArray,
        k_value: FloatArray,
        lb: FloatArray,
        ub: FloatArray,
        rels: IntArray,
        pcons: IntArray,
        p_n: IntArray,
        p_t: IntArray,
        p_lo: FloatArray,
        p_hi: FloatArray,
        targets: IntArray,
        t_lo: FloatArray,
        t_hi: FloatArray,
        stats: _Stats,
    ) -> None:
        self.stats = stats
        self.cols = cols
        local = {int(q): i for i, q in enumerate(cols)}
        nx = cols.shape[0]
        nt = targets.shape[0]
        self.nx, self.nt = nx, nt
        self.tcol = np.array([local[int(q)] for q in targets], dtype=np.int64)
        r_idx: list[IntArray] = []
        c_idx: list[IntArray] = []
        vals: list[FloatArray] = []
        row_lo: list[FloatArray] = []
        row_hi: list[FloatArray] = []
        nrow = 0
        self.eq: tuple[IntArray, IntArray, FloatArray, FloatArray] = (
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0),
        )
        self.lb, self.ub = lb[cols].copy(), ub[cols].copy()
        # additive relations
        if rels.size:
            starts, ends = s.rel_ptr[rels], s.rel_ptr[rels + 1]
            lens = ends - starts + 1
            ridx = np.repeat(np.arange(rels.shape[0], dtype=np.int64), lens)
            offs = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(
                np.cumsum(lens) - lens, lens
            )
            is_tot = offs == 0
            term_pos = np.repeat(starts, lens) + offs - 1
            mq = np.where(is_tot, s.rel_total[rels][ridx], s.rel_terms[np.maximum(term_pos, 0)])
            coef = np.where(is_tot, 1.0, -1.0)
            kn = k_known[mq]
            rhs: FloatArray = -np.bincount(
                ridx,
                weights=np.where(kn, coef * np.nan_to_num(k_value[mq]), 0.0),
                minlength=rels.shape[0],
            ).astype(np.float64)
            u = ~kn
            r_idx.append(ridx[u])
            c_idx.append(np.array([local[int(q)] for q in mq[u]], dtype=np.int64))
            cu: FloatArray = coef[u].astype(np.float64)
            vals.append(cu)
            self.eq = (ridx[u].astype(np.int64), c_idx[-1], cu, rhs.copy())
            row_lo.append(rhs)
            row_hi.append(rhs.copy())
            nrow += rels.shape[0]
        # percentages: n - lo*T >= 0 and n - hi*T <= 0 (both unknown here)
        if pcons.size:
            a = np.array([local[int(q)] for q in p_n[pcons]], dtype=np.int64)
            b = np.array([local[int(q)] for q in p_t[pcons]], dtype=np.int64)
            npc = pcons.shape[0]
            rows_lo = nrow + np.arange(npc)
            rows_hi = nrow + npc + np.arange(npc)
            r_idx += [rows_lo, rows_lo, rows_hi, rows_hi]
            c_idx += [a, b, a, b]
            vals += [np.ones(npc), -p_lo[pcons], np.ones(npc), -p_hi[pcons]]
            row_lo += [np.zeros(npc), np.full(npc, -np.inf)]
            row_hi += [np.full(npc, np.inf), np.zeros(npc)]
            nrow += 2 * npc
        # aux: z_t <= x_t (z_t <= t_hi) and w_t >= x_t (w_t >= t_lo) for batch certification
        tr = np.arange(nt, dtype=np.int64)
        zc, wc = nx + tr, nx + nt + tr
        rz, rw = nrow + tr, nrow + nt + tr
        r_idx += [rz, rz, rw, rw]
        c_idx += [zc, self.tcol, wc, self.tcol]
        vals += [np.ones(nt), -np.ones(nt), np.ones(nt), -np.ones(nt)]
        row_lo += [np.full(nt, -np.inf), np.zeros(nt)]
        row_hi += [np.zeros(nt), np.full(nt, np.inf)]
        nrow += 2 * nt
        ncol = nx + 2 * nt
        inf = highspy.kHighsInf
        h = colwise_model(
            np.concatenate(r_idx), np.concatenate(c_idx), np.concatenate(vals), np.zeros(ncol),
            np.concatenate([lb[cols], np.full(nt, -inf), t_lo]),
            np.concatenate([ub[cols], t_hi, np.full(nt, inf)]),
            np.concatenate(row_lo), np.concatenate(row_hi),
        )  # fmt: skip
        self.h = h
        self.first = True
        self.ncol = ncol
        self.cost_cols: IntArray = np.zeros(0, dtype=np.int64)

    def _solve(self, cols: IntArray, costs: FloatArray) -> tuple[str, float, FloatArray | None]:
        h = self.h
        if self.cost_cols.size:
            h.changeColsCost(
                int(self.cost_cols.size),
                self.cost_cols.astype(np.int32),
                np.zeros(self.cost_cols.size),
            )
        if cols.size:
            h.changeColsCost(int(cols.size), cols.astype(np.int32), costs.astype(np.float64))
        self.cost_cols = cols
        t0 = time.perf_counter()
        h.run()
        if self.first:
            # Later solves change only the objective: primal simplex from the last basis.
            self.first = False
            h.setOptionValue("presolve", "off")
            h.setOptionValue("simplex_strategy", 4)
        self.stats.seconds_lp += time.perf_counter() - t0
        self.stats.lp_solves += 1
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kOptimal:
            x = np.asarray(h.getSolution().col_value, dtype=np.float64)
            return "optimal", float(h.getInfo().objective_function_value), x
        if st in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return "unbounded", -math.inf, None
        if st == highspy.HighsModelStatus.kInfeasible:
            raise CheckFailed(
                "release is inconsistent with its rules: no table fits the published cells, "
                "labels and totals (a hidden x cell may be 0 where the rules say at least 5)"
            )
        raise InternalError(f"HiGHS ended with status {h.modelStatusToString(st)}")

    def outer_bounds(self, rounds: int = 40) -> tuple[FloatArray, FloatArray]:
        """Sound bounds by propagating every relation's interval arithmetic (no LP)."""
        r, c, a, b = self.eq
        return _interval_propagation(r, c, a, b, self.lb.copy(), self.ub.copy(), rounds)

    def feasible(self) -> FloatArray:
        _, _, x = self._solve(np.zeros(0, np.int64), np.zeros(0))
        assert x is not None
        return x[: self.nx]

    def batch_min(self, which: IntArray) -> FloatArray | None:
        """Minimise the sum of max(x_t, t_lo) over the given targets: a witness point."""
        _, _, x = self._solve(self.nx + self.nt + which, np.ones(which.size))
        return None if x is None else x[: self.nx]

    def batch_max(self, which: IntArray) -> FloatArray | None:
        """Maximise the sum of min(x_t, t_hi) over the given targets: a witness point."""
        _, _, x = self._solve(self.nx + which, -np.ones(which.size))
        return None if x is None else x[: self.nx]

    def extreme(self, t: int, sense: int) -> tuple[float, FloatArray | None]:
        """min (sense=+1) or max (sense=-1) of target t, and the optimal point (a witness)."""
        status, obj, x = self._solve(np.array([self.tcol[t]]), np.array([float(sense)]))
        if status == "unbounded":
            return (math.inf if sense < 0 else -math.inf), None
        return obj * sense, (None if x is None else x[: self.nx])


def _intervals(
    s: Structure,
    k: _Knowledge,
    targets: IntArray,
    t_lo: FloatArray,
    t_hi: FloatArray,
    exact: bool,
    stats: _Stats,
    decide: Any = None,
    not_small_from: float = 5.0,
    settle: bool = True,
    decide_inner: Any = None,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """For each target quantity: (lower, upper, exact). When not exact, the attacker's
    interval contains [lower, upper] (witnessed), which meets the thresholds.
    ``decide_inner`` (default ``decide``) judges a witnessed interval: it must only get
    easier as the interval widens (see :func:`_solve_targets`)."""
    known = k.known.copy()
    value = k.value.copy()
    lb, ub = k.lb.copy(), k.ub.copy()
    stats.derived += _propagate(s, known, value, lb, ub)
    # percentages with one side known become bounds
    p_n, p_t, p_lo, p_hi = k.p_n, k.p_t, k.p_lo, k.p_hi
    if p_n.size:
        kn, kt = known[p_n], known[p_t]
        m = ~kn & kt
        np.maximum.at(lb, p_n[m], p_lo[m] * value[p_t[m]])
        np.minimum.at(ub, p_n[m], p_hi[m] * value[p_t[m]])
        m = kn & ~kt
        np.maximum.at(lb, p_t[m], value[p_n[m]] / p_hi[m])
        pos = m & (p_lo > 0)
        np.minimum.at(ub, p_t[pos], value[p_n[pos]] / p_lo[pos])
    lab, multi = _components(s, known, p_n, p_t)
    nt = targets.shape[0]
    lo = np.full(nt, np.nan)
    hi = np.full(nt, np.nan)
    ex = np.zeros(nt, dtype=bool)
    tk = known[targets]
    lo[tk] = value[targets[tk]]
    hi[tk] = value[targets[tk]]
    ex[tk] = True
    # unknowns outside every multi-unknown relation and percentage: their own bounds
    rel, q, _ = s.members()
    linked = np.zeros(s.n_q, dtype=bool)
    linked[q[multi[rel] & ~known[q]]] = True
    if p_n.size:
        pm = ~known[p_n] & ~known[p_t]
        linked[p_n[pm]] = True
        linked[p_t[pm]] = True
    lone = ~tk & ~linked[targets]
    lo[lone] = lb[targets[lone]]
    hi[lone] = ub[targets[lone]]
    ex[lone] = True
    todo = np.nonzero(~tk & linked[targets])[0]
    if todo.size == 0:
        return lo, hi, ex
    comp_of_t = lab[targets[todo]]
    unk_q = np.nonzero(~known & linked)[0]
    comp_of_q = lab[unk_q]
    q_order = np.argsort(comp_of_q, kind="stable")
    unk_q, comp_of_q = unk_q[q_order], comp_of_q[q_order]
    multi_rels = np.nonzero(multi)[0]
    rel_comp = lab[_first_unknown_member(s, known, multi_rels)]
    r_order = np.argsort(rel_comp, kind="stable")
    multi_rels, rel_comp = multi_rels[r_order], rel_comp[r_order]
    pc_idx = np.zeros(0, dtype=np.int64)
    pc_comp = np.zeros(0, dtype=np.int64)
    if p_n.size:
        pc_idx = np.nonzero(~known[p_n] & ~known[p_t])[0]
        pc_comp = lab[p_n[pc_idx]]
    for comp in np.unique(comp_of_t):
        tsel = todo[comp_of_t == comp]
        a, b = np.searchsorted(comp_of_q, [comp, comp + 1])
        cols = unk_q[a:b]
        ra, rb = np.searchsorted(rel_comp, [comp, comp + 1])
        rels = multi_rels[ra:rb]
        pcons = pc_idx[pc_comp == comp]
        stats.components += 1
        stats.largest_component = max(stats.largest_component, int(cols.size))
        tq = targets[tsel]
        model = _ComponentLP(
            cols, s, known, value, lb, ub, rels, pcons, p_n, p_t, p_lo, p_hi,
            tq, t_lo[tsel], t_hi[tsel], stats,
        )  # fmt: skip
        _solve_targets(
            model, tsel, t_lo, t_hi, exact, lo, hi, ex, decide, not_small_from, settle,
            decide_inner,
        )  # fmt: skip
    return lo, hi, ex


def _first_unknown_member(s: Structure, known: BoolArray, rels: IntArray) -> IntArray:
    """For each relation, one unknown quantity in it (they all share a component)."""
    tot = s.rel_total[rels]
    out = tot.copy()
    need = known[tot]
    for r_i in np.nonzero(need)[0]:
        r = rels[r_i]
        terms = s.rel_terms[s.rel_ptr[r] : s.rel_ptr[r + 1]]
        out[r_i] = terms[~known[terms]][0]
    return out


def _solve_targets(
    model: _ComponentLP,
    tsel: IntArray,
    t_lo: FloatArray,
    t_hi: FloatArray,
    exact: bool,
    lo: FloatArray,
    hi: FloatArray,
    ex: BoolArray,
    decide: Any = None,
    not_small_from: float = 5.0,
    settle: bool = True,
    decide_inner: Any = None,
) -> None:
    """Intervals of a component's targets (``settle=False``: undecided targets keep their
    witnessed inner interval instead of two exact LPs).

    Witness points (feasible LP solutions) give an inner interval the attacker cannot
    exclude; bound propagation gives a sound outer interval. A target passes without its own
    LPs only when ``decide_inner`` passes its inner interval (a condition that only gets
    easier as the interval widens, so that the attacker's interval, which contains it,
    passes too) or when its outer lower bound shows it is at least ``not_small_from`` and
    the witnesses show it is not pinned. The full requirement (``decide``) is not such a
    condition: a withheld cell witnessed at 24 and 44 is "not small" by it, yet the
    attacker's interval may reach 2 (found by comparing with the exact audit). Every other
    target is solved exactly (two LPs), as are all when ``exact`` is asked.
    """
    if decide_inner is None:
        decide_inner = decide
    nt = tsel.size
    tl, th = t_lo[tsel], t_hi[tsel]
    x0 = model.feasible()
    w_lo = x0[model.tcol].copy()
    w_hi = x0[model.tcol].copy()
    f_lo_all, f_hi_all = model.outer_bounds()
    f_lo, f_hi = f_lo_all[model.tcol], f_hi_all[model.tcol]
    if not exact:
        for _ in range(8):
            need = np.nonzero((w_lo > tl + EPS) & (f_lo <= tl + EPS))[0]
            if need.size == 0:
                break
            x = model.batch_min(need)
            if x is None:
                break
            v = x[model.tcol]
            gained = int(((v <= tl + EPS) & (w_lo > tl + EPS)).sum())
            w_lo, w_hi = np.minimum(w_lo, v), np.maximum(w_hi, v)
            if gained == 0:
                break
        for _ in range(8):
            need = np.nonzero((w_hi < th - EPS) & (f_hi >= th - EPS))[0]
            if need.size == 0:
                break
            x = model.batch_max(need)
            if x is None:
                break
            v = x[model.tcol]
            gained = int(((v >= th - EPS) & (w_hi < th - EPS)).sum())
            w_lo, w_hi = np.minimum(w_lo, v), np.maximum(w_hi, v)
            if gained == 0:
                break
    if decide is not None and not exact:
        wi_lo, wi_hi = _int_bounds(w_lo, w_hi)
        fo_lo = np.ceil(f_lo - EPS)
        inner = decide_inner(tsel, wi_lo, wi_hi)
        # a lower bound of at least 5 settles a withheld cell's smallness
        mixed = decide(tsel, fo_lo, wi_hi) & (fo_lo >= not_small_from) & (wi_hi > wi_lo)
        sure_pass = inner | mixed
        # A failure is always confirmed by its two exact LPs: the propagated outer bounds
        # are sound but the requirement is not monotone in the interval (a withheld cell
        # known to be >= 5 passes), and a failure must name the attacker's true interval.
    else:
        sure_pass = np.zeros(nt, dtype=bool)
    done = np.zeros(nt, dtype=bool)
    for i in range(nt):
        g = tsel[i]
        if not done[i] and not exact and decide is not None and i > 0:
            # every optimal point found so far is a witness for the other targets too
            wi_lo, wi_hi = _int_bounds(w_lo[i : i + 1], w_hi[i : i + 1])
            sure_pass[i] |= bool(decide_inner(tsel[i : i + 1], wi_lo, wi_hi)[0])
        if sure_pass[i]:
            lo[g], hi[g], ex[g] = w_lo[i], w_hi[i], False
            continue
        if not settle:
            lo[g], hi[g], ex[g] = w_lo[i], w_hi[i], False
            continue
        lo[g], xa = model.extreme(i, +1)
        hi[g], xb = model.extreme(i, -1)
        ex[g] = True
        done[i] = True
        for x in (xa, xb):
            if x is not None:
                v = x[model.tcol]
                w_lo, w_hi = np.minimum(w_lo, v), np.maximum(w_hi, v)


# -- the audit --------------------------------------------------------------------------------


def _int_bounds(lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    return np.ceil(lo - EPS), np.floor(hi + EPS)


def _evaluate(
    target: list[Target],
    lo: FloatArray,
    hi: FloatArray,
    cap: FloatArray,
    rules: PublicRules,
    floor: FloatArray | None = None,
    own: FloatArray | None = None,
) -> tuple[list[Outcome], BoolArray]:
    """Each target's outcome from the attacker's interval ``[lo, hi]``, the label limits
    ``cap`` and ``floor`` and, for an official, ``own``: the official's own share of the cell
    (of a withheld policy domain's cell, the official's entity's cell; else 0). A withheld
    cell pinned to the official's own share tells the official only that the others have
    nobody there: it is judged as a zero pinned by differencing."""
    req = rules.requirement
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    outcomes: list[Outcome] = []
    fl = np.zeros(len(target)) if floor is None else floor
    mine = np.zeros(len(target)) if own is None else own
    for i, t in enumerate(target):
        a, b, c, f = lo[i], hi[i], cap[i], fl[i]
        if t is Target.SMALL:
            if not req.small_full_range:
                outcomes.append(Outcome.NO_REQUIREMENT)
            elif a <= max(smin, f) and b >= min(smax, c):
                limited = c < smax or f > smin
                outcomes.append(Outcome.LABEL_LIMITED if limited else Outcome.OK)
            else:
                outcomes.append(Outcome.FAIL)
        elif t is Target.WITHHELD:
            o = mine[i]
            if c <= o and b <= o:
                outcomes.append(Outcome.ZERO_BELOW_ZERO)
            elif b <= o:
                outcomes.append(
                    Outcome.FAIL if req.zero_pinned_is_disclosure else Outcome.ZERO_PINNED
                )
            elif a >= b:
                outcomes.append(Outcome.FAIL if req.withheld_not_pinned else Outcome.OK)
            elif a >= smax + 1:
                outcomes.append(Outcome.NOT_SMALL)
            elif not req.withheld_small_full_range:
                outcomes.append(Outcome.OK)
            elif a <= max(smin, f) and b >= min(smax, c):
                limited = c < smax or f > smin
                outcomes.append(Outcome.LABEL_LIMITED if limited else Outcome.OK)
            else:
                outcomes.append(Outcome.FAIL)
        elif rules.zeros_sensitive:
            if c <= 0 and b <= 0:
                outcomes.append(Outcome.ZERO_BELOW_ZERO)
            else:
                outcomes.append(Outcome.OK if a < b else Outcome.FAIL)
        else:
            outcomes.append(Outcome.NO_REQUIREMENT)
    passed = np.array([o is not Outcome.FAIL for o in outcomes], dtype=bool)
    return outcomes, passed


def _thresholds(
    target: list[Target], cap: FloatArray, rules: PublicRules
) -> tuple[FloatArray, FloatArray]:
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    t_lo = np.full(len(target), smin)
    t_hi = np.maximum(np.minimum(smax, cap), smin + 1)
    for i, t in enumerate(target):
        if t is Target.SUPPRESSED:
            t_lo[i], t_hi[i] = 0.0, 1.0
    return t_lo, t_hi


def _ledger_knowledge(
    ledger: pa.Table, s: Structure, k: _Knowledge, rules: PublicRules
) -> IntArray:
    led = conform(ledger)
    code = s.coder.encode(led)
    order = np.argsort(s.rcode, kind="stable")
    pos = np.minimum(np.searchsorted(s.rcode[order], code), max(s.rcode.shape[0] - 1, 0))
    hit = (code >= 0) & (s.rcode[order][pos] == code)
    rows = order[pos[hit]]
    q = s.qid[rows]
    cnt = led["count"].to_numpy(zero_copy_only=False).astype(np.float64)[hit]
    shown = [x for x, h in zip(_str_col(led, "shown"), hit, strict=True) if h]
    has = ~np.isnan(cnt)
    k.known[q[has]] = True
    k.value[q[has]] = cnt[has]
    k.lb[q[has]] = cnt[has]
    k.ub[q[has]] = cnt[has]
    small = np.array([x == rules.small_label for x in shown], dtype=bool) & ~has
    np.maximum.at(k.lb, q[small], rules.small_count_min)
    np.minimum.at(k.ub, q[small], rules.small_count_max)
    out: IntArray = q[has]
    return out


# -- the block decomposition -------------------------------------------------------------------
#
# Soundness (docs/protection.md, "Blocks"): F is the attacker's feasible set; for a set U of
# units, F_U is F with every hidden quantity outside U fixed at its true value. The truth lies
# in F_U and F_U is a subset of F, so an interval over F_U lies inside the interval over F:
# a requirement met over F_U (an inner bound) is met over F. An insider of an entity outside
# U knows a subset of what F_U fixes, so the same pass covers that insider too.


@dataclass(frozen=True)
class _Block:
    units: tuple[int, ...]
    entities: frozenset[int]


class _BlockPlan:
    """The blocks of a release and the home blocks of every target (deterministic)."""

    def __init__(self, units: Units, weight: FloatArray) -> None:
        self.u = units
        self.weight = weight
        self.blocks: list[_Block] = []
        self._index: dict[tuple[int, ...], int] = {}
        lv = units.level
        self.ents_of: dict[int, list[int]] = {}
        for e in np.nonzero(lv == LEVEL_ENTITY)[0].tolist():
            self.ents_of.setdefault(int(units.domain[e]), []).append(int(e))
        for d in self.ents_of:
            self.ents_of[d].sort(key=lambda e: units.name[e])
        self.doms_of: dict[int, list[int]] = {}
        for d in np.nonzero(lv == LEVEL_DOMAIN)[0].tolist():
            self.doms_of.setdefault(int(units.year[d]), []).append(int(d))
        for y in self.doms_of:
            self.doms_of[y].sort(key=lambda d: units.name[d])

    def block(self, members: Sequence[int]) -> int:
        key = tuple(sorted({int(m) for m in members if m >= 0}))
        b = self._index.get(key)
        if b is None:
            b = len(self.blocks)
            ents = frozenset(m for m in key if self.u.level[m] == LEVEL_ENTITY)
            self.blocks.append(_Block(key, ents))
            self._index[key] = b
        return b

    def _biggest(self, d: int, avoid: set[int]) -> int:
        ents = [e for e in self.ents_of.get(d, []) if e not in avoid]
        if not ents:
            return -1
        return max(ents, key=lambda e: (self.weight[e], self.u.name[e]))

    def partners(self, e: int) -> list[tuple[int, int]]:
        """Two (partner domain, one of its entities) pairs for entity ``e``, entities distinct."""
        u = self.u
        d = int(u.domain[e])
        doms = self.doms_of.get(int(u.year[e]), [])
        if d not in doms or len(doms) < 2:
            return []
        i = doms.index(d)
        d1, d2 = doms[(i + 1) % len(doms)], doms[(i - 1) % len(doms)]
        e1 = self._biggest(d1, set())
        e2 = self._biggest(d2, {e1})
        return [(d1, e1), (d2, e2)]

    def cross(self, e: int, admin: bool) -> list[int]:
        """Blocks {entity, its domain, a partner domain, one of its entities} (+ the
        administration): the administration (or everything above) fixed."""
        u = self.u
        d = int(u.domain[e])
        a = int(u.admin[e]) if admin else -1
        out = [self.block([a, d, e, d2, e2]) for d2, e2 in self.partners(e)]
        return out or [self.block([a, d, e])]

    def entity_homes(self, e: int) -> list[int]:
        ents = self.ents_of.get(int(self.u.domain[e]), [e])
        if len(ents) >= 3:
            i = ents.index(e)
            return [
                self.block([ents[i - 1], e]),
                self.block([e, ents[(i + 1) % len(ents)]]),
            ]
        return self.cross(e, admin=False)


def _relaxed_bounds(
    base: _Knowledge, relaxable: BoolArray, rules: PublicRules
) -> tuple[FloatArray, FloatArray]:
    """Bounds of every quantity in the protection-limit problem (every relaxable published
    count an x at least ``hidden_lower``; zeros, the grand total and the ledger known)."""
    lo = np.where(base.known, base.value, base.lb)
    hi = np.where(base.known, base.value, base.ub)
    lo = np.where(relaxable, float(rules.hidden_lower), lo)
    hi = np.where(relaxable, np.inf, hi)
    return lo, hi


def limit_outer_bounds(
    s: Structure, base: _Knowledge, relaxable: BoolArray, rules: PublicRules, rounds: int = 60
) -> tuple[FloatArray, FloatArray]:
    """Sound outer bounds of every quantity in the protection-limit problem (every relaxable
    published count an ``x``), by interval arithmetic over every relation until nothing
    changes (no LP). The exact limit lies inside them, so a requirement narrowed to these
    bounds is never looser than the one narrowed to the exact limit."""
    lo, hi = _relaxed_bounds(base, relaxable, rules)
    rel, q, coef = s.members()
    return _interval_propagation(
        rel, q, coef, np.zeros(s.n_rel), lo.astype(np.float64), hi.astype(np.float64), rounds
    )


def _interval_propagation(
    r: IntArray,
    c: IntArray,
    a: FloatArray,
    b: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    rounds: int,
) -> tuple[FloatArray, FloatArray]:
    """Sound outer bounds of ``x`` under the rows ``sum a x[c] = b[r]`` (one entry per
    (row, column, coefficient)), by interval arithmetic until nothing changes (no LP)."""
    if r.size == 0:
        return lo, hi
    nr = b.shape[0]
    for _ in range(rounds):
        t_lo = np.where(a > 0, lo[c], -hi[c])
        t_hi = np.where(a > 0, hi[c], -lo[c])
        inf_lo, inf_hi = np.isinf(t_lo), np.isinf(t_hi)
        s_lo = np.bincount(r, np.where(inf_lo, 0.0, t_lo), nr)
        s_hi = np.bincount(r, np.where(inf_hi, 0.0, t_hi), nr)
        n_lo = np.bincount(r, inf_lo.astype(np.float64), nr)
        n_hi = np.bincount(r, inf_hi.astype(np.float64), nr)
        o_lo = np.where(n_lo[r] - inf_lo > 0, -np.inf, s_lo[r] - np.where(inf_lo, 0.0, t_lo))
        o_hi = np.where(n_hi[r] - inf_hi > 0, np.inf, s_hi[r] - np.where(inf_hi, 0.0, t_hi))
        # a*x = b - others
        y_lo, y_hi = b[r] - o_hi, b[r] - o_lo
        x_lo = np.where(a > 0, y_lo, -y_hi)
        x_hi = np.where(a > 0, y_hi, -y_lo)
        new_lo, new_hi = lo.copy(), hi.copy()
        np.maximum.at(new_lo, c, x_lo - EPS)
        np.minimum.at(new_hi, c, x_hi + EPS)
        if np.allclose(new_lo, lo, atol=1e-9, equal_nan=True) and np.allclose(
            new_hi, hi, atol=1e-9, equal_nan=True
        ):
            break
        lo, hi = new_lo, new_hi
    return lo, hi


def narrow_to_limit(
    cap: FloatArray, floor: FloatArray, lim_lo: FloatArray, lim_hi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Caps and floors narrowed to (outer bounds of) the protection limit."""
    c: FloatArray = np.minimum(cap, np.floor(lim_hi + EPS))
    f: FloatArray = np.maximum(floor, np.ceil(lim_lo - EPS))
    return c, f


class _InsiderLimit:
    """Sound outer bounds of an insider's protection limit: the entity-in-domain relation
    with the insider's hidden cells known, for domain cells, for the cells of the other
    entities of the insider's domain, and (with the domain-in-administration relation above
    it) for administration cells."""

    def __init__(
        self, s: Structure, units: Units, base: _Knowledge, relaxable: BoolArray,
        truth: FloatArray, rules: PublicRules,
    ) -> None:  # fmt: skip
        self.s, self.u, self.truth = s, units, truth
        self.rlo, self.rhi = _relaxed_bounds(base, relaxable, rules)
        self.hidden = ~base.known
        ent = RELATION_KINDS.index("entity_in_domain")
        dom = RELATION_KINDS.index("domain_in_administration")
        self.by_total: dict[int, dict[int, int]] = {ent: {}, dom: {}}
        for kind in (ent, dom):
            rr = np.nonzero(s.rel_kind == kind)[0]
            self.by_total[kind] = dict(zip(s.rel_total[rr].tolist(), rr.tolist(), strict=True))
        self.ent, self.dom = ent, dom
        self.sib = _sibling_relations(s)

    def terms(self, kind: int, q: int) -> IntArray:
        r = self.by_total[kind].get(int(q))
        if r is None:
            return np.zeros(0, dtype=np.int64)
        out: IntArray = self.s.rel_terms[self.s.rel_ptr[r] : self.s.rel_ptr[r + 1]]
        return out

    def _sum(self, qs: IntArray, f: int) -> tuple[float, float]:
        own = (self.u.q_unit[qs] == f) & self.hidden[qs]
        lo = np.where(own, self.truth[qs], self.rlo[qs])
        hi = np.where(own, self.truth[qs], self.rhi[qs])
        return float(lo.sum()), float(hi.sum())

    def interval(self, q: int, f: int) -> tuple[float, float]:
        level = self.u.level[self.u.q_unit[q]]
        lo, hi = float(self.rlo[q]), float(self.rhi[q])
        r = int(self.sib[q])
        if level == LEVEL_ENTITY and r >= 0 and self.u.domain[f] == self.u.domain[self.u.q_unit[q]]:
            # an entity cell: its domain cell minus the other entities' (the insider's known)
            tot = int(self.s.rel_total[r])
            t = self.s.rel_terms[self.s.rel_ptr[r] : self.s.rel_ptr[r + 1]]
            t = t[t != q]
            a, b = self._sum(t, f)
            lo = max(lo, float(self.rlo[tot]) - b)
            hi = min(hi, float(self.rhi[tot]) - a)
        elif level == LEVEL_DOMAIN:
            t = self.terms(self.ent, q)
            if t.size:
                a, b = self._sum(t, f)
                lo, hi = max(lo, a), min(hi, b)
        elif level == LEVEL_ADMINISTRATION:
            t = self.terms(self.dom, q)
            if t.size:
                los = self.rlo[t].copy()
                his = self.rhi[t].copy()
                mine = self.u.q_unit[t] == self.u.domain[f]
                for j in np.nonzero(mine)[0]:
                    a, b = self.interval(int(t[j]), f)
                    los[j], his[j] = a, b
                lo, hi = max(lo, float(los.sum())), min(hi, float(his.sum()))
        return lo, hi


def _holders(lim: _InsiderLimit, q: int, level: int, truth: FloatArray) -> list[int]:
    """Entity units holding hidden cells below a domain or administration cell, largest first."""
    if level == LEVEL_DOMAIN:
        t = lim.terms(lim.ent, q)
    else:
        t = np.zeros(0, dtype=np.int64)
        for dq in lim.terms(lim.dom, q)[
            np.argsort(-truth[lim.terms(lim.dom, q)], kind="stable")
        ].tolist():
            if lim.hidden[dq]:
                t = np.concatenate([t, lim.terms(lim.ent, dq)])
    t = t[lim.hidden[t]]
    order = np.lexsort((lim.u.q_unit[t], -truth[t]))
    seen: list[int] = []
    for e in lim.u.q_unit[t[order]].tolist():
        if e not in seen:
            seen.append(int(e))
    return seen


def _term_relations(s: Structure, kind_name: str) -> IntArray:
    """Per quantity: the relation of kind ``kind_name`` it is a term of (-1: none)."""
    kind = RELATION_KINDS.index(kind_name)
    out = np.full(s.n_q, -1, dtype=np.int64)
    counts = np.diff(s.rel_ptr)
    rel_of_term = np.repeat(np.arange(s.n_rel, dtype=np.int64), counts)
    m = s.rel_kind[rel_of_term] == kind
    out[s.rel_terms[m]] = rel_of_term[m]
    return out


def _sibling_relations(s: Structure) -> IntArray:
    """Per quantity: the entity-in-domain relation it is a term of (-1: none)."""
    return _term_relations(s, "entity_in_domain")


@dataclass(frozen=True)
class _Room:
    """What a partner cell's room to move is judged from: a hidden cell within its label, a
    published one as an ``x``."""

    hidden: BoolArray
    truth: FloatArray
    units: Units
    lb: FloatArray
    ub: FloatArray
    hidden_lower: float

    def rank(self, terms: IntArray, then: FloatArray | None = None) -> list[int]:
        """The units of the cells ``terms``, those with most room to move both ways first
        (at most 3 each way counts), then by ``then`` (ascending), then by unit
        (deterministic); each unit once."""
        h, v = self.hidden[terms], self.truth[terms]
        down = np.where(h, v - self.lb[terms], v - self.hidden_lower)
        up = np.where(h, self.ub[terms] - v, np.inf)
        score = np.minimum(np.maximum(down, 0.0), 3.0) + np.minimum(np.maximum(up, 0.0), 3.0)
        qu = self.units.q_unit[terms]
        order = np.lexsort((qu, -score) if then is None else (qu, then, -score))
        out: list[int] = []
        for u in qu[order].tolist():
            if u not in out:
                out.append(int(u))
        return out


def _siblings(s: Structure, sib_rel: IntArray, q: int, room: _Room) -> list[int]:
    """Target-driven partners of an entity cell: the other entities of its policy domain whose
    cell of the same key is non-zero, those with most room to move both ways first (a hidden
    cell within its label, a published one as an ``x``), then by unit (deterministic). A block
    {entity, partner} with the domain fixed can move the target only against such a cell."""
    r = int(sib_rel[q])
    if r < 0:
        return []
    terms = s.rel_terms[s.rel_ptr[r] : s.rel_ptr[r + 1]]
    terms = terms[(terms != q) & (room.truth[terms] > 0)]
    if terms.size == 0:
        return []
    return room.rank(terms)


def _uncovered_targets(
    plan: _BlockPlan,
    units: Units,
    tq: IntArray,
    homes: list[list[int]],
    ok: dict[tuple[int, int], bool],
    which: Iterable[int],
) -> set[int]:
    """The targets of ``which`` whose passing homes leave the public or some insider
    uncovered: no passing home, or every passing home holds some partner entity (whose
    insider the block does not cover)."""
    out: set[int] = set()
    for i in which:
        passing = [b for b in homes[i] if ok.get((i, b), False)]
        if not passing:
            out.add(i)
            continue
        shared = set(plan.blocks[passing[0]].entities)
        for b in passing[1:]:
            shared &= plan.blocks[b].entities
        u = int(units.q_unit[tq[i]])
        if units.level[u] == LEVEL_ENTITY:
            shared.discard(u)
        if shared:
            out.add(i)
    return out


def _cousins(
    s: Structure, sib_rel: IntArray, maps: tuple[IntArray, IntArray], q: int, room: _Room
) -> list[int]:
    """Target-driven partners of an entity cell in *other* policy domains: the entities whose
    cell of the same key is non-zero, most room first, then the smaller domain cell (cheaper
    to hide), then by unit (deterministic). A block {entity, its domain, cousin, the cousin's
    domain} with the administration fixed moves the target against such a cell and the two
    domain cells against each other: the move a target needs when its origin is rare in its
    own domain (no sibling holds its key)."""
    r = int(sib_rel[q])
    if r < 0:
        return []
    qd = int(s.rel_total[r])
    dom_of_term, ent_of_total = maps
    r2 = int(dom_of_term[qd])
    if r2 < 0:
        return []
    doms = s.rel_terms[s.rel_ptr[r2] : s.rel_ptr[r2 + 1]]
    doms = doms[(doms != qd) & (room.truth[doms] > 0)]
    cand: list[int] = []
    dcell: list[int] = []
    for dq in doms.tolist():
        rr = int(ent_of_total[dq])
        if rr < 0:
            continue
        terms = s.rel_terms[s.rel_ptr[rr] : s.rel_ptr[rr + 1]]
        terms = terms[room.truth[terms] > 0]
        cand += terms.tolist()
        dcell += [dq] * int(terms.size)
    if not cand:
        return []
    terms = np.array(cand, dtype=np.int64)
    dc = np.array(dcell, dtype=np.int64)
    return room.rank(terms, np.where(room.hidden[dc], 0.0, room.truth[dc]))


def partner_maps(s: Structure) -> tuple[IntArray, IntArray]:
    """What :func:`partner_domains` finds a cell's domain cell and its administration
    relation by: per quantity its entity-in-domain relation as a term and its
    domain-in-administration relation as a term (-1: none)."""
    return _sibling_relations(s), _term_relations(s, "domain_in_administration")


def partner_domains(
    s: Structure, units: Units, maps: tuple[IntArray, IntArray], q: int,
    room: Callable[[IntArray], FloatArray],
) -> list[int]:  # fmt: skip
    """The policy domains that may give way when entity or domain cell ``q`` moves beyond
    its own policy domain: under the administration's cell of ``q``'s key, the target's
    domain cell can move only against another domain's cell of the same key, so these are
    the other domains whose cell of that key has ``room`` (per quantity, how far it may move
    the other way) of at least 1; most room first (at most 3 counts), then by unit
    (deterministic). Empty for an administration cell."""
    sib_rel, dom_of_term = maps
    qd = q
    if units.level[units.q_unit[q]] == LEVEL_ENTITY:
        r = int(sib_rel[q])
        if r < 0:
            return []
        qd = int(s.rel_total[r])
    r2 = int(dom_of_term[qd])
    if r2 < 0:
        return []
    doms = s.rel_terms[s.rel_ptr[r2] : s.rel_ptr[r2 + 1]]
    doms = doms[doms != qd]
    free = room(doms)
    ok = free >= 1.0 - EPS
    doms, free = doms[ok], np.minimum(free[ok], 3.0)
    du = units.q_unit[doms]
    order = np.lexsort((du, -free))
    return [int(x) for x in du[order]]


def _rel_maps(s: Structure) -> tuple[IntArray, IntArray]:
    """Per quantity: the domain-in-administration relation it is a term of, and the
    entity-in-domain relation it is the total of (-1: none)."""
    ent = RELATION_KINDS.index("entity_in_domain")
    term_of = _term_relations(s, "domain_in_administration")
    total_of = np.full(s.n_q, -1, dtype=np.int64)
    er = np.nonzero(s.rel_kind == ent)[0]
    total_of[s.rel_total[er]] = er
    return term_of, total_of


def _trivial(
    kind: IntArray, r_lo: FloatArray, r_hi: FloatArray, cap: FloatArray, rules: PublicRules
) -> BoolArray:
    """Targets that meet the requirement whatever the interval: an x without requirement, a
    cell below a published zero, a 1-5 cell whose label limits leave one value (the truth)."""
    z = cap <= 0
    small = (r_lo >= r_hi) | (not rules.requirement.small_full_range)
    sup = z | (not rules.zeros_sensitive)
    out: BoolArray = np.where(kind == 0, small, np.where(kind == 1, z, sup))
    return out


def _block_pass(
    kind: IntArray, lo: FloatArray, hi: FloatArray, r_lo: FloatArray, r_hi: FloatArray,
    cap: FloatArray, floor: FloatArray, rules: PublicRules,
) -> BoolArray:  # fmt: skip
    """The requirement as a condition that only gets easier as the interval widens (so that
    a pass over a block, an inner interval, implies a pass over the attacker's whole set).

    ``kind``: 0 small (1-5), 1 withheld, 2 suppressed (x)."""
    req = rules.requirement
    full = (lo <= r_lo + EPS) & (hi >= r_hi - EPS)
    small = full | (r_lo >= r_hi) if req.small_full_range else np.ones(lo.shape, bool)
    not_pinned = lo < hi - EPS
    if req.withheld_small_full_range:
        wh = not_pinned & (full | (floor >= rules.small_count_max + 1))
    else:
        wh = not_pinned if req.withheld_not_pinned else np.ones(lo.shape, bool)
    wh = wh | (cap <= 0)
    sup = (not_pinned | (cap <= 0)) if rules.zeros_sensitive else np.ones(lo.shape, bool)
    out: BoolArray = np.where(kind == 0, small, np.where(kind == 1, wh, sup))
    return out


def _block_pass_one(
    kind: int, lo: float, hi: float, r_lo: float, r_hi: float, cap: float, floor: float,
    rules: PublicRules,
) -> bool:  # fmt: skip
    """:func:`_block_pass` for one target (the insiders' loop calls it hundreds of thousands
    of times; ``tests/unit/test_limit_bounds.py`` checks the two agree)."""
    req = rules.requirement
    full = lo <= r_lo + EPS and hi >= r_hi - EPS
    if kind == 0:
        return (full or r_lo >= r_hi) if req.small_full_range else True
    not_pinned = lo < hi - EPS
    if kind == 1:
        if cap <= 0:
            return True
        if req.withheld_small_full_range:
            return not_pinned and (full or floor >= rules.small_count_max + 1)
        return not_pinned if req.withheld_not_pinned else True
    return (not_pinned or cap <= 0) if rules.zeros_sensitive else True


@dataclass
class _BlockEval:
    """Targets (one per quantity), their home blocks and the block intervals."""

    units: Units
    plan: _BlockPlan
    lim: _InsiderLimit
    tq: IntArray
    kind: IntArray
    r_lo: FloatArray
    r_hi: FloatArray
    homes: list[list[int]]
    lo: dict[tuple[int, int], float]
    hi: dict[tuple[int, int], float]
    ok: dict[tuple[int, int], bool]
    largest: int
    vertical: dict[int, list[int]]  # target -> its blocks {entity, domain, administration}


@dataclass(frozen=True)
class _BlockJob:
    """One block of an evaluation: its targets (``ti``), units, the targets' requirement keys,
    the block's cached intervals (``memo``, ``sizes``: shared with the round cache) and the
    targets not in the cache (``todo``, positions in ``ti``)."""

    block: int
    ti: IntArray
    units: tuple[int, ...]
    keys: list[tuple[Any, ...]]
    memo: dict[tuple[Any, ...], tuple[float, float]]
    sizes: list[int]
    todo: IntArray


def _block_evaluate(
    s: Structure,
    base: _Knowledge,
    truth: FloatArray,
    rules: PublicRules,
    tq: IntArray,
    kind: IntArray,
    cap: FloatArray,
    floor: FloatArray,
    relaxable: BoolArray,
    units: Units,
    stats: _Stats,
    settle: bool = True,
    first_holder_only: bool = False,
    vertical: bool = True,
    cache: dict[tuple[Any, ...], Any] | None = None,
    skip: BoolArray | None = None,
) -> _BlockEval:
    """Home blocks of every target and the public attacker's interval over each.

    With ``vertical``, every entity target also gets the block {entity, its domain, the
    administration} (``_BlockEval.vertical``; a domain target the block of its domain, the
    administration and its first holder): it holds no other entity, so a pass there
    certifies an entity target for the public and for every insider at once (a withheld
    entity's target gets a partner entity in it too: the domain's size is published, the
    entity's is not, so its cells move against the partner's: two such blocks, with two
    different partners, so that one serves each partner's insider); it is the home of a
    target whose key no other entity can give way on (a rare row of a rare origin whose
    other holders sit at the floor of their labels), at the cost of hiding domain and
    administration cells.

    ``cache`` keeps each block's intervals between calls on releases that only hide more:
    a block whose units hide no more cells than at the last call keeps the intervals of
    the targets whose requirement is unchanged. Targets in ``skip`` (certified already, by
    hypercube witnesses) get no block."""
    hidden = ~base.known
    tcap, tfloor = cap[tq], floor[tq]
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    r_lo = np.maximum(smin, tfloor)
    r_hi = np.minimum(smax, tcap)
    weight = np.zeros(units.n_units)
    np.add.at(weight, units.q_unit, hidden.astype(np.float64))
    plan = _BlockPlan(units, weight)
    lim = _InsiderLimit(s, units, base, relaxable, truth, rules)
    t_unit = units.q_unit[tq]
    t_level = units.level[t_unit]
    trivial = _trivial(kind, r_lo, r_hi, tcap, rules)
    if skip is not None:
        trivial = trivial | skip
    sib_rel = _sibling_relations(s)
    maps = _rel_maps(s)
    room = _Room(hidden, truth, units, base.lb, base.ub, float(rules.hidden_lower))
    homes: list[list[int]] = []
    vert: dict[int, list[int]] = {}
    for i in range(tq.shape[0]):
        u, lvl = int(t_unit[i]), int(t_level[i])
        if trivial[i]:
            homes.append([])
            continue
        if lvl == LEVEL_ENTITY:
            mates = _siblings(s, sib_rel, int(tq[i]), room)
            hb_e = {plan.block([u, m]) for m in mates[:2]}
            if len(mates) < 2:
                cous = _cousins(s, sib_rel, maps, int(tq[i]), room)
                d = int(units.domain[u])
                for c in cous[: 2 - len(mates)]:
                    hb_e.add(plan.block([u, d, c, int(units.domain[c])]))
            hb_list = sorted(hb_e) if hb_e else plan.entity_homes(u)
            a = int(units.admin[u])
            if vertical and a >= 0:
                d = int(units.domain[u])
                # a withheld entity's size is not published: the domain's is, so its cells
                # move against a partner's, in other cells (the domain's and the
                # administration's cells of both keys hidden)
                if kind[i] == 1:
                    pair = mates[:2] or [plan._biggest(d, {u})]
                    if len(pair) < 2:
                        pair.append(plan._biggest(d, {u, pair[0]}))
                    vert[i] = [plan.block([a, d, u, m]) for m in dict.fromkeys(pair) if m >= 0]
                else:
                    vert[i] = [plan.block([a, d, u])]
                hb_list = sorted(set(hb_list) | set(vert[i]))
            homes.append(hb_list)
            continue
        hs = _holders(lim, int(tq[i]), lvl, truth)
        if not hs:
            d = u if lvl == LEVEL_DOMAIN else -1
            hs = [plan._biggest(d, set())] if d >= 0 else []
        hb: list[int] = []
        for h in hs[: 1 if first_holder_only else 2]:
            if h >= 0:
                hb += plan.cross(h, admin=lvl == LEVEL_ADMINISTRATION)
        a = int(units.admin[u])
        if vertical and lvl == LEVEL_DOMAIN and hs and hs[0] >= 0 and a >= 0:
            vert[i] = [plan.block([a, u, hs[0]])]
            hb += vert[i]
        elif vertical and lvl == LEVEL_ADMINISTRATION:
            # the administration alone (every domain held at the truth): its own tables,
            # e.g. an `all` table published for the administration only
            vert[i] = [plan.block([u])]
            hb += vert[i]
        homes.append(sorted(set(hb)))
    res_lo: dict[tuple[int, int], float] = {}
    res_hi: dict[tuple[int, int], float] = {}
    res_ok: dict[tuple[int, int], bool] = {}
    largest = 0

    def run(blk_t: dict[int, list[int]]) -> None:
        nonlocal largest
        jobs: list[_BlockJob] = []
        for b in sorted(blk_t):
            ti = np.array(blk_t[b], dtype=np.int64)
            bunits = plan.blocks[b].units
            version = float(weight[np.array(bunits, dtype=np.int64)].sum())
            keys = [
                (int(tq[i]), int(kind[i]), float(r_lo[i]), float(r_hi[i]), float(tcap[i]),
                 float(tfloor[i]))
                for i in ti.tolist()
            ]  # fmt: skip
            memo: dict[tuple[Any, ...], tuple[float, float]] = {}
            sizes: list[int] = [0]
            if cache is not None:
                got = cache.get(("block", *bunits))
                if got is not None and got[0] == version:
                    memo, sizes = got[1], got[2]
                else:
                    cache[("block", *bunits)] = (version, memo, sizes)
            todo = np.array([j for j, key in enumerate(keys) if key not in memo], dtype=np.int64)
            jobs.append(_BlockJob(b, ti, bunits, keys, memo, sizes, todo))

        # each block's LPs are its own: the blocks are evaluated in threads, their results
        # taken in the blocks' order (the same whatever the number of threads)
        def evaluate(job: _BlockJob) -> tuple[tuple[FloatArray, FloatArray, int], _Stats]:
            tj = job.ti[job.todo]
            own = _Stats()
            got = _block_intervals(
                s, units, base, truth, hidden, job.units, tq[tj], r_lo[tj], r_hi[tj],
                kind[tj], tcap[tj], tfloor[tj], rules, own, settle,
            )  # fmt: skip
            return got, own

        work = [job for job in jobs if job.todo.size]
        for job, ((lo_b, hi_b, nvar), own) in zip(
            work, map_independent(evaluate, work), strict=True
        ):
            stats.add(own)
            job.sizes[0] = max(job.sizes[0], nvar)
            for j, lo_j, hi_j in zip(job.todo.tolist(), lo_b.tolist(), hi_b.tolist(), strict=True):
                job.memo[job.keys[j]] = (lo_j, hi_j)
        for job in jobs:
            b, ti, keys, memo, sizes = job.block, job.ti, job.keys, job.memo, job.sizes
            largest = max(largest, sizes[0])
            lo_b = np.array([memo[key][0] for key in keys])
            hi_b = np.array([memo[key][1] for key in keys])
            ok = _block_pass(kind[ti], lo_b, hi_b, r_lo[ti], r_hi[ti], tcap[ti], tfloor[ti], rules)
            for j, i in enumerate(ti.tolist()):
                res_lo[(i, b)], res_hi[(i, b)], res_ok[(i, b)] = lo_b[j], hi_b[j], bool(ok[j])

    # the other homes first; the vertical ones only for the targets they leave uncovered
    first: dict[int, list[int]] = {}
    for i, hb in enumerate(homes):
        for b in hb:
            if b not in vert.get(i, ()):
                first.setdefault(b, []).append(i)
    run(first)
    second: dict[int, list[int]] = {}
    for i in sorted(_uncovered_targets(plan, units, tq, homes, res_ok, vert)):
        for b in vert[i]:
            second.setdefault(b, []).append(i)
    run(second)
    return _BlockEval(
        units, plan, lim, tq, kind, r_lo, r_hi, homes, res_lo, res_hi, res_ok, largest, vert
    )


class _WitnessModel:
    """One witness LP (see :class:`_WitnessLP`) over a structure: ``up``/``dn`` how far each
    quantity may move (0: fixed), ``w`` the cost of moving it one unit; the HiGHS model holds
    the quantities that may move only (:class:`herkomst._highs.DeviationLP`)."""

    def __init__(self, s: Structure, up: FloatArray, dn: FloatArray, w: FloatArray) -> None:
        r, c, v = s.matrix()
        self.n, self.up, self.dn, self.w = s.n_q, up, dn, w
        self.lp = DeviationLP(r, c, v, s.n_q, np.zeros(s.n_rel), np.zeros(s.n_rel))

    @property
    def solves(self) -> int:
        return self.lp.solves

    def solve(self, q: int, dv: float, fixed: IntArray) -> tuple[IntArray, FloatArray] | None:
        """The quantities a witness moving ``q`` by ``dv`` moves, and their deviations
        (None: no witness)."""
        up, dn = self.up, self.dn
        if fixed.size:
            up, dn = up.copy(), dn.copy()
            up[fixed] = 0.0
            dn[fixed] = 0.0
        return self.lp.solve(up, dn, self.w, q, dv)


@dataclass
class _LocalBlock:
    """A witness block: its structure, global quantity ids, which quantities may move, their
    components, and the witness LP of each component asked for so far."""

    s: Structure
    gq: IntArray
    free: BoolArray
    lab: IntArray
    models: dict[int, tuple[_WitnessModel, IntArray]]


class _WitnessLP:
    """Sparse witnesses, for what the blocks leave.

    One LP: deviations ``d = dp - dm`` of the true table with ``A d = 0``, hidden quantities
    within what the attacker knows of them (labels, bounds), published ones fixed, the
    target's deviation fixed to reach its goal, minimising the weighted ``sum |d|`` so that
    the witness moves few cells (an entity's cells cost more than a domain's or the
    administration's, so that it leaves other entities alone where it can). A feasible point
    is a table the attacker cannot exclude, so the goal is in the attacker's interval: sound.
    The LP is tried first over the target's policy domain (its entities and the domain,
    then with the administration; every other unit held at the truth: an inner bound, as
    for the blocks; for an administration cell, the administration alone), then, for the
    public, over the target's breakdown and the ``total`` breakdown of the whole release
    (every other quantity held at the truth), then over the whole release. For an
    insider, the entity's hidden cells are fixed too; the public witness is reused when it leaves them untouched, and a second witness with every entity
    the first one moves held at the truth covers every other insider. Only when no
    percentage constrains a hidden cell (they are not modelled here)."""

    def __init__(
        self, s: Structure, base: _Knowledge, truth: FloatArray, units: Units,
        memo: dict[tuple[Any, ...], Any] | None = None, breakdown: IntArray | None = None,
        targets: BoolArray | None = None,
    ) -> None:  # fmt: skip
        # witnesses found stay witnesses while the suppression only hides more (the cells
        # they move stay hidden, the published ones stay as they are): kept across calls
        self.memo: dict[tuple[Any, ...], Any] = {} if memo is None else memo
        self.s, self.n, self.truth, self.units = s, s.n_q, truth, units
        hidden = ~base.known
        self.up = np.where(hidden, np.maximum(base.ub - truth, 0.0), 0.0)
        self.dn = np.where(hidden, np.maximum(truth - base.lb, 0.0), 0.0)
        self.up = np.minimum(self.up, highspy.kHighsInf)
        self.hidden = hidden
        self.lb, self.ub = base.lb, base.ub
        ent = units.level[units.q_unit] == LEVEL_ENTITY
        # a link quantity is no cell: moving it costs nothing
        self.w = np.where(hidden & ~s.dependent(), np.where(ent, 1.0, 0.25), 0.0)
        self._global: _WitnessModel | None = None
        self._local: dict[tuple[int, ...], _LocalBlock] = {}
        # the relations the two-domain tiers find partner domains by (built when first used)
        self._rel_maps: tuple[IntArray, IntArray] | None = None
        # per quantity its breakdown (-1: the total breakdown, -2: none single), for the
        # breakdown tier of the whole release (:meth:`_breakdown_model`)
        self.breakdown = breakdown
        self._by_breakdown: dict[int, tuple[_WitnessModel, IntArray]] = {}
        self.breakdown_found = 0
        self.pair_found = 0
        self.public: dict[tuple[int, float, bool], tuple[IntArray, FloatArray] | None] = {}
        self.second_tried: set[tuple[int, float]] = set()
        # per (target, goal, tier) the quantities held fixed in each LP that found no witness
        self.failed: dict[tuple[Any, ...], list[IntArray]] = {}
        self.of_unit: dict[int, IntArray] = {}
        self.offered_ok = 0
        # whether an official's witnesses may use the tiers over the whole release
        self.insider_whole = False
        # whether a target (the public's or an official's pair) may be certified by a new
        # LP (else only by the witnesses found so far)
        self.new_lps = True
        # the quantities witnesses are kept for (None: every hidden one)
        self.targets = targets
        self._take_offered(s)

    def _take_offered(self, s: Structure) -> None:
        """Points offered by the caller (the suppression's repair LPs, under
        ``("points", fingerprint)`` in the memo: ``(q, goal) -> [(quantities, deviations)]``)
        become witnesses once this audit has checked them itself: every quantity they move
        hidden, within what the attacker knows of it, every relation kept, the target at the
        goal. Checked once; a point stays a witness while the suppression only hides more."""
        offered: dict[tuple[int, float], list[tuple[IntArray, FloatArray]]] | None = (
            self.memo.get(("points", s.fingerprint()))
        )  # fmt: skip
        if not offered:
            return
        seen: set[tuple[int, float, int]] = self.memo.setdefault(("points_seen", self.n), set())
        qs: list[int] = []
        gs: list[float] = []
        idxs: list[IntArray] = []
        devs: list[FloatArray] = []
        for (q, goal), pts in offered.items():
            for j, (idx, dev) in enumerate(pts):
                if (q, goal, j) in seen:
                    continue
                seen.add((q, goal, j))
                if idx.size == 0 or idx.max() >= self.n or idx.min() < 0:
                    continue
                qs.append(q)
                gs.append(goal)
                idxs.append(idx.astype(np.int64))
                devs.append(np.asarray(dev, dtype=np.float64))
        if not qs:
            return
        ptr = np.concatenate([[0], np.cumsum([a.size for a in idxs])]).astype(np.int64)
        batch = _hypercubes.Points(
            np.array(qs, dtype=np.int64), np.array(gs), ptr, np.concatenate(idxs),
            np.concatenate(devs),
        )  # fmt: skip
        ok = _hypercubes.check(s, self.hidden, self.truth, self.lb, self.ub, batch)
        for j in np.nonzero(ok)[0].tolist():
            self._keep_point(idxs[j], devs[j])
            self.offered_ok += 1

    @property
    def solves(self) -> int:
        n = self._global.solves if self._global is not None else 0
        n += sum(m.solves for m, _ in self._by_breakdown.values())
        return n + sum(m.solves for b in self._local.values() for m, _ in b.models.values())

    @staticmethod
    def make(
        s: Structure, base: _Knowledge, truth: FloatArray, units: Units,
        memo: dict[tuple[Any, ...], Any] | None = None, breakdown: IntArray | None = None,
        targets: BoolArray | None = None,
    ) -> _WitnessLP | None:  # fmt: skip
        if base.p_n.size and (~base.known[base.p_n] | ~base.known[base.p_t]).any():
            return None
        return _WitnessLP(s, base, truth, units, memo, breakdown, targets)

    def _local_model(
        self, d: int, q: int, admin: bool, partner: int = -1
    ) -> tuple[_WitnessModel, IntArray]:
        """The witness LP of ``q`` over policy domain ``d`` (its entities and itself, with
        the administration when ``admin``; with policy domain ``partner`` and its entities
        too when given) or, for the administration ``d``, over the administration alone:
        only the component of ``q`` among the block's hidden quantities (nothing else can
        move with it)."""
        u = self.units
        key = (d, admin) if partner < 0 else (d, admin, partner)
        blk = self._local.get(key)
        if blk is None:
            if u.level[d] == LEVEL_ADMINISTRATION:
                bu = np.array([d], dtype=np.int64)
            else:
                doms = [d] if partner < 0 else [d, partner]
                bu = np.nonzero(np.isin(u.domain, doms) | np.isin(np.arange(u.n_units), doms))[0]
                if admin and u.admin[d] >= 0:
                    bu = np.concatenate([bu, [u.admin[d]]])
            inside = np.zeros(u.n_units, dtype=bool)
            inside[bu] = True
            ls, gq = substructure(self.s, u.relations_of(bu))
            free = inside[u.q_unit[gq]] & self.hidden[gq]
            none = np.zeros(0, dtype=np.int64)
            lab, _ = _components(ls, ~free, none, none)
            blk = _LocalBlock(ls, gq, free, lab, {})
            self._local[key] = blk
        c = int(blk.lab[int(np.searchsorted(blk.gq, q))])
        got = blk.models.get(c)
        if got is None:
            memb = blk.free & (blk.lab == c)
            rel_l, q_l, _ = blk.s.members()
            rsel = np.unique(rel_l[memb[q_l]])
            ls2, sub = substructure(blk.s, rsel, np.nonzero(memb)[0])
            g2 = blk.gq[sub]
            up = np.where(memb[sub], self.up[g2], 0.0)
            dn = np.where(memb[sub], self.dn[g2], 0.0)
            got = (_WitnessModel(ls2, up, dn, self.w[g2]), g2)
            blk.models[c] = got
        return got

    def _solve(
        self, q: int, goal: float, fixed: IntArray, whole: bool = True
    ) -> tuple[IntArray, FloatArray] | None:
        """The quantities a witness with ``q = goal`` moves and their deviations (None: no
        witness), kept as a witness for every hidden quantity it moves
        (:meth:`_keep_point`); over the whole release too only when ``whole`` (it is slow:
        the insiders' witnesses do without, what they leave goes to the global audit)."""
        dv = goal - float(self.truth[q])
        u = self.units
        home = int(u.q_unit[q])
        d = home if u.level[home] != LEVEL_ENTITY else int(u.domain[home])
        tiers: list[tuple[Any, ...]] = []
        if d >= 0:
            admins = [False, True] if u.level[home] != LEVEL_ADMINISTRATION else [True]
            tiers += [("local", d, a) for a in admins]
        if whole:
            if d >= 0 and u.level[d] == LEVEL_DOMAIN:
                # two policy domains with the administration: what one domain gains, another
                # gives up under the administration's published cells (a fraction of the
                # whole release's LP; docs/protection.md, "Two-domain tiers")
                tiers += [("pair", d, p) for p in self._partners_of(q, dv)[:PAIR_PARTNERS]]
            tiers += [("breakdown",), ("global",)]
        for tier in tiers:
            if tier[0] == "local":
                got: tuple[_WitnessModel, IntArray] | None = self._local_model(d, q, tier[2])
            elif tier[0] == "pair":
                got = self._local_model(d, q, True, tier[2])
            elif tier[0] == "breakdown":
                got = self._breakdown_model(q)
            else:
                if self._global is None:
                    self._global = _WitnessModel(self.s, self.up, self.dn, self.w)
                got = (self._global, np.arange(self.n, dtype=np.int64))
            if got is None:
                continue
            model, gq = got
            lf = np.searchsorted(gq, fixed)
            inside = (lf < gq.shape[0]) & (gq[np.minimum(lf, gq.shape[0] - 1)] == fixed)
            # what this LP holds fixed; with more held fixed an LP that failed fails again
            # (its feasible set only shrinks): not solved again
            held = lf[inside]
            key = (q, goal, tier)
            if any(np.isin(f, held).all() for f in self.failed.get(key, ())):
                continue
            point = model.solve(int(np.searchsorted(gq, q)), dv, held)
            if point is not None:
                if tier[0] == "breakdown":
                    self.breakdown_found += 1
                elif tier[0] == "pair":
                    self.pair_found += 1
                out: IntArray = gq[point[0]]
                self._keep_point(out, point[1])
                return out, point[1]
            self.failed.setdefault(key, []).append(held)
        return None

    def _partners_of(self, q: int, dv: float) -> list[int]:
        """The partner domains of :meth:`_solve`'s two-domain tiers (:func:`partner_domains`,
        hidden cells within what the attacker knows of them)."""
        if self._rel_maps is None:
            self._rel_maps = partner_maps(self.s)

        def room(qs: IntArray) -> FloatArray:
            r = self.truth[qs] - self.lb[qs] if dv > 0 else self.ub[qs] - self.truth[qs]
            out: FloatArray = np.where(self.hidden[qs], r, 0.0)
            return out

        return partner_domains(self.s, self.units, self._rel_maps, q, room)

    def _breakdown_model(self, q: int) -> tuple[_WitnessModel, IntArray] | None:
        """The witness LP over the whole release restricted to the hidden quantities of
        ``q``'s breakdown and of the ``total`` breakdown (every other quantity held at the
        truth: an inner bound, as for the blocks), a fraction of the whole release's LP;
        None when ``q`` belongs to no single breakdown but ``total`` and ``all``."""
        if self.breakdown is None:
            return None
        bd = int(self.breakdown[q])
        if bd < 0:
            return None
        if bd not in self._by_breakdown:
            inside = (self.breakdown == bd) | (self.breakdown == -1)
            memb = inside & self.hidden
            rel_g, q_g, _ = self.s.members()
            rels = np.unique(rel_g[memb[q_g]])
            ls, gq = substructure(self.s, rels, np.nonzero(memb)[0])
            m = memb[gq]
            self._by_breakdown[bd] = (
                _WitnessModel(
                    ls,
                    np.where(m, self.up[gq], 0.0),
                    np.where(m, self.dn[gq], 0.0),
                    self.w[gq],
                ),
                gq,
            )
        return self._by_breakdown[bd]

    def certify(
        self, q: int, kind: int, r_lo: float, r_hi: float, insider_unit: int,
        cap: float = math.inf, floor: float = 0.0, not_small_from: float = 5.0,
    ) -> bool:  # fmt: skip
        """Whether witnesses meet the requirement (as :func:`_block_pass` states it) of a
        1-5 cell (both ends of ``[r_lo, r_hi]``) or a withheld cell (both ends, and a value
        other than the truth: not pinned; only the latter when known to be at least
        ``not_small_from``) for the public (``insider_unit`` -1) or for the insider of that
        entity unit."""
        if kind == 0 and r_lo >= r_hi:
            return True  # the labels (or the insider's limit) leave the truth only
        if kind == 2 or (kind == 1 and cap <= 0):
            return kind == 1
        goals = self.goals(q, kind, r_lo, r_hi, floor, not_small_from)
        for goal in dict.fromkeys(goals):
            key = (q, goal)
            # every witness found for this goal, as the set of units it moves
            found: list[frozenset[int]] | None = self._witnesses(q, goal)
            if found is None:
                whole = insider_unit < 0 or self.insider_whole
                if (q, goal, whole) not in self.public:
                    if not self.new_lps:
                        return False
                    self.public[(q, goal, whole)] = self._solve(
                        q, goal, np.zeros(0, dtype=np.int64), whole
                    )  # fmt: skip
                first = self.public[(q, goal, whole)]
                if first is None:
                    return False
                found = [self._touched(first[0])]
            if insider_unit < 0 or any(insider_unit not in t for t in found):
                continue  # a witness that leaves the insider's cells alone serves him too
            if not self.new_lps:
                return False
            # A second witness with every entity the first one moves held at the truth
            # (but the target's own) covers every insider the first one does not: an
            # insider knows no more than that.
            if key not in self.second_tried:
                self.second_tried.add(key)
                home = int(self.units.q_unit[q])
                ents = [
                    u for u in found[0] if u != home and self.units.level[u] == LEVEL_ENTITY
                ]  # fmt: skip
                second = self._solve(
                    q, goal, self._cells_of(ents, q), whole=self.insider_whole
                )  # fmt: skip
                if second is not None and insider_unit not in self._touched(second[0]):
                    continue
            third = self._solve(
                q, goal, self._cells_of([insider_unit], q), whole=self.insider_whole
            )  # fmt: skip
            if third is None:
                return False
        return True

    def goals(
        self, q: int, kind: int, r_lo: float, r_hi: float, floor: float, not_small_from: float
    ) -> list[float]:
        """The values a witness must give ``q`` for its requirement: both ends of
        ``[r_lo, r_hi]`` other than the truth, unless ``q`` is a withheld cell known to be
        at least ``not_small_from``; for a withheld cell left without a goal, one value next
        to the truth (not pinned: below it when it can be)."""
        v = float(self.truth[q])
        goals: list[float] = []
        if not (kind == 1 and floor >= not_small_from):
            goals = [g for g in (r_hi, r_lo) if abs(g - v) >= EPS]
        if kind == 1 and not goals:
            goals = [v - 1.0 if v - 1.0 >= float(self.lb[q]) - EPS else v + 1.0]
        return goals

    def hypercubes(
        self, view: pa.Table, tq: IntArray, kind: IntArray, cap: FloatArray,
        floor: FloatArray, smin: float, smax: float,
    ) -> tuple[BoolArray, FloatArray, FloatArray, dict[str, int]]:  # fmt: skip
        """Structured witnesses (:mod:`herkomst._hypercubes`: hypercubes, then person
        transfers) for the 1-5 targets ``tq`` at both ends of their requirement (the labels
        narrowed by ``cap``/``floor``) and for the withheld entities' targets at the goals
        of :meth:`certify`, checked here (:func:`herkomst._hypercubes.check`: every
        relation, every bound) and kept as witnesses. Returns which targets they certify
        for the public and every official (each goal reached by witnesses whose entities,
        the target's own aside, have none in common), the interval they prove (an inner
        bound), and counts."""
        r_lo = np.maximum(smin, floor[tq])
        r_hi = np.minimum(smax, cap[tq])
        v = self.truth[tq]
        small = (kind == 0) & (r_lo < r_hi)
        goal_lo = np.where(small & (np.abs(r_lo - v) > EPS), r_lo, np.nan)
        goal_hi = np.where(small & (np.abs(r_hi - v) > EPS), r_hi, np.nan)
        # a withheld entity's cell: the goals of :meth:`certify`, the furthest on each side
        # of the truth (a witness reaching it reaches the nearer ones: :meth:`_witnesses`)
        u = self.units
        wh = (kind == 1) & (cap[tq] > 0) & (u.level[u.q_unit[tq]] == LEVEL_ENTITY)
        for i in np.nonzero(wh)[0].tolist():
            gs = self.goals(int(tq[i]), 1, float(r_lo[i]), float(r_hi[i]), float(floor[tq[i]]),
                            smax + 1)  # fmt: skip
            below = [g for g in gs if g < v[i]]
            above = [g for g in gs if g > v[i]]
            goal_lo[i] = min(below) if below else np.nan
            goal_hi[i] = max(above) if above else np.nan
        want = small | wh
        info = {"proposed": 0, "checked": 0, "certified": 0, "transfers": 0}
        scene = _hypercubes.Scene.of(
            view, self.s, self.units, self.hidden, self.truth, self.lb, self.ub
        )  # fmt: skip
        # what each family proposed on this very scene (the same hidden cells and bounds:
        # the final audit after a screening that hid nothing more) proposes nothing new
        h = hashlib.blake2b(digest_size=16)
        for arr in (self.hidden, self.lb, self.ub):
            h.update(np.ascontiguousarray(arr).tobytes())
        for family in (_hypercubes.propose, _hypercubes.transfers):
            todo = want & ~self._covered(tq, goal_lo, goal_hi)
            if family is _hypercubes.transfers:
                todo &= wh
            done: set[tuple[int, float, float]] = self.memo.setdefault(
                ("proposed", family.__name__, self.n, h.hexdigest()), set()
            )  # fmt: skip
            keys = list(zip(tq.tolist(), np.nan_to_num(goal_lo, nan=-1.0).tolist(),
                            np.nan_to_num(goal_hi, nan=-1.0).tolist(), strict=True))  # fmt: skip
            todo &= np.array([k not in done for k in keys], dtype=bool)
            if not todo.any():
                continue
            done.update(k for k, t in zip(keys, todo.tolist(), strict=True) if t)
            pts = _hypercubes.in_parts(family, scene, tq[todo], goal_lo[todo], goal_hi[todo])
            ok = _hypercubes.check(self.s, self.hidden, self.truth, self.lb, self.ub, pts)
            info["proposed"] += pts.n
            info["checked"] += int(ok.sum())
            if family is _hypercubes.transfers:
                info["transfers"] = int(ok.sum())
            for j in np.nonzero(ok)[0].tolist():
                a, b = int(pts.ptr[j]), int(pts.ptr[j + 1])
                self._keep_point(pts.idx[a:b], pts.dev[a:b])
        pre = want & self._covered(tq, goal_lo, goal_hi)
        lo = np.fmin(v, np.fmin(goal_lo, goal_hi))
        hi = np.fmax(v, np.fmax(goal_lo, goal_hi))
        info["certified"] = int(pre.sum())
        return pre, lo, hi, info

    def _covered(self, tq: IntArray, goal_lo: FloatArray, goal_hi: FloatArray) -> BoolArray:
        """Per target, whether kept witnesses reach each goal (NaN: none) for the public and
        every official: for each goal, no entity but the target's own is moved by all of
        its witnesses."""
        out = np.zeros(tq.shape[0], dtype=bool)
        u = self.units
        for i, q in enumerate(tq.tolist()):
            goals = [g for g in (goal_lo[i], goal_hi[i]) if not math.isnan(g)]
            if not goals:
                continue
            home = int(u.q_unit[q])
            ok = True
            for g in goals:
                found = self._witnesses(q, float(g))
                if found is None:
                    ok = False
                    break
                common = frozenset.intersection(*found) - {home}
                if any(u.level[x] == LEVEL_ENTITY for x in common):
                    ok = False
                    break
            out[i] = ok
        return out

    def _keep(self, q: int, goal: float, units: frozenset[int]) -> None:
        self.memo.setdefault(("witnesses", self.n, q, goal), []).append(units)
        self.memo.setdefault(("witness_goals", self.n, q), set()).add(goal)

    def _keep_point(self, idx: IntArray, dev: FloatArray) -> None:
        """A checked point (quantities ``idx`` moved by ``dev``) as a witness for every
        target it moves (every hidden quantity unless :attr:`targets` says which), at the
        value it gives it: a feasible table of the attacker is a witness for each of its
        cells, not only for the one it was looked for."""
        units = self._touched(idx)
        mv = (np.abs(dev) > EPS) & self.hidden[idx]
        if self.targets is not None:
            mv &= self.targets[idx]
        qs = idx[mv]
        values = np.round(self.truth[qs] + dev[mv], 6)
        for q, g in zip(qs.tolist(), values.tolist(), strict=True):
            self._keep(q, g, units)

    def _witnesses(self, q: int, goal: float) -> list[frozenset[int]] | None:
        """The units moved by every witness reaching ``goal`` or beyond it (from the truth):
        the attacker's feasible set is convex and holds the truth, so the point between the
        truth and such a witness that puts ``q`` at ``goal`` is feasible and moves no other
        unit."""
        v = float(self.truth[q])
        sign = 1.0 if goal > v else -1.0
        out: list[frozenset[int]] = []
        for g in sorted(self.memo.get(("witness_goals", self.n, q), ())):
            if sign * (g - goal) >= -EPS:
                out += self.memo[("witnesses", self.n, q, g)]
        return out or None

    def _touched(self, moved: IntArray) -> frozenset[int]:
        return frozenset(np.unique(self.units.q_unit[moved]).tolist())

    def _cells_of(self, units: Sequence[int], q: int) -> IntArray:
        """The hidden quantities of ``units`` but ``q``."""
        parts = []
        for u in units:
            own = self.of_unit.get(u)
            if own is None:
                own = np.nonzero(self.hidden & (self.units.q_unit == u))[0]
                self.of_unit[u] = own
            parts.append(own)
        if not parts:
            return np.zeros(0, dtype=np.int64)
        out = np.concatenate(parts)
        res: IntArray = out[out != q]
        return res


def _audit_blocks(
    view: pa.Table,
    s: Structure,
    base: _Knowledge,
    truth_q: FloatArray,
    rules: PublicRules,
    rows: IntArray,
    kind_code: IntArray,
    cap: FloatArray,
    floor: FloatArray,
    relaxable: BoolArray,
    attackers: list[str],
    stats: _Stats,
    round_cache: dict[tuple[Any, ...], Any] | None = None,
    screen: bool = False,
) -> tuple[
    list[pa.Table],
    dict[str, dict[str, Any]],
    dict[str, BoolArray],
    dict[str, Any],
    dict[str, tuple[FloatArray, FloatArray]],
]:
    """The block audit: every target certified for the public and every insider by blocks;
    what the blocks cannot certify is returned (``restrict``) for the global audit, with the
    ends of its requirement per attacker (``ends``: the labels narrowed by sound outer bounds
    of the protection limit, and of the insider's)."""
    t0 = time.perf_counter()
    units = build_units(view, s)
    truth = np.where(base.known, base.value, np.nan_to_num(truth_q, nan=0.0))
    tq_all = s.qid[rows]
    # one target per quantity (the origin totals of both definitions are one quantity)
    _, first = np.unique(tq_all, return_index=True)
    tq = tq_all[np.sort(first)]
    kind = kind_code[np.sort(first)]
    tcap, tfloor = cap[tq], floor[tq]
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    want_public = "public" in attackers
    insiders = [a for a in attackers if a.startswith("insider:")]
    want_ins = {a.split(":", 1)[1] for a in insiders}
    ent_unit = {
        units.name[int(e)]: int(e)
        for e in np.nonzero(units.level == LEVEL_ENTITY)[0]
    }  # fmt: skip
    # hypercube witnesses first (docs/protection.md, "Hypercube witnesses"): a target they
    # certify for the public and every official needs no block
    targets = np.zeros(s.n_q, dtype=bool)
    targets[tq] = True
    wit = _WitnessLP.make(s, base, truth, units, round_cache, breakdown_of(view, s), targets)
    if wit is not None:
        # an official's witnesses over the whole release too, unless screening: then no LP
        # at all, for the public or an official, for a target that the witnesses found so
        # far (hypercubes, transfers, the repair's points) do not cover; it goes to the
        # suppression's repair, whose points serve every attacker they leave alone
        wit.insider_whole = not screen
        wit.new_lps = not screen
    pre = np.zeros(tq.shape[0], dtype=bool)
    pre_lo = pre_hi = np.zeros(tq.shape[0])
    hyper: dict[str, int] = {"proposed": 0, "checked": 0, "certified": 0, "transfers": 0}
    if wit is not None:
        pre, pre_lo, pre_hi, hyper = wit.hypercubes(view, tq, kind, cap, floor, smin, smax)
    t_hyper = time.perf_counter()
    ev = _block_evaluate(
        s, base, truth, rules, tq, kind, cap, floor, relaxable, units, stats, cache=round_cache,
        skip=pre,
    )  # fmt: skip
    t_eval = time.perf_counter()
    plan, lim, homes = ev.plan, ev.lim, ev.homes
    res_lo, res_hi, res_ok = ev.lo, ev.hi, ev.ok
    r_lo, r_hi = ev.r_lo, ev.r_hi
    t_unit = units.q_unit[tq]
    t_level = units.level[t_unit]
    nb = len(plan.blocks)
    largest = ev.largest
    # certification
    nt = tq.shape[0]
    pub_ok = np.zeros(nt, dtype=bool)
    ins_ok = np.zeros(nt, dtype=bool)
    best_lo = np.full(nt, np.nan)
    best_hi = np.full(nt, np.nan)
    esc_pub = np.zeros(nt, dtype=bool)
    esc_ins: dict[str, list[int]] = {}
    # an escalated insider pair's requirement ends (narrowed by the insider's limit)
    ends_ins: dict[tuple[str, int], tuple[float, float]] = {}
    n_limit = 0
    trivial = _trivial(kind, r_lo, r_hi, tcap, rules)
    # every target certified by its home blocks for the public and every insider
    for i in range(nt):
        hb = homes[i]
        if trivial[i]:
            pub_ok[i] = ins_ok[i] = True
            continue
        if pre[i]:
            # witnessed at every goal of the requirement: the interval holds them
            pub_ok[i] = ins_ok[i] = True
            best_lo[i], best_hi[i] = pre_lo[i], pre_hi[i]
            continue
        passing = [b for b in hb if res_ok.get((i, b), False)]
        evaluated = [b for b in hb if (i, b) in res_lo]
        if evaluated:
            pick = passing[0] if passing else evaluated[0]
            best_lo[i], best_hi[i] = res_lo[(i, pick)], res_hi[(i, pick)]
        pub_ok[i] = bool(passing)
        esc_pub[i] = want_public and not passing
        own = int(t_unit[i]) if t_level[i] == LEVEL_ENTITY else -1
        if passing:
            exposed = set(plan.blocks[passing[0]].entities)
            for b in passing[1:]:
                exposed &= plan.blocks[b].entities
        else:
            exposed = {int(e) for e in ent_unit.values()}
        exposed.discard(own)
        names = sorted(units.name[e] for e in exposed if units.name[e] in want_ins)
        left: list[str] = []
        for name in names:
            f = ent_unit[name]
            a, bnd = lim.interval(int(tq[i]), f)
            rl = max(float(r_lo[i]), smin, float(np.ceil(a - EPS)))
            rh = min(float(r_hi[i]), smax, float(np.floor(bnd + EPS)))
            ok_f = False
            pinned = float(np.ceil(a - EPS)) >= float(np.floor(bnd + EPS))
            if (kind[i] == 0 and rl >= rh) or (kind[i] == 1 and pinned):
                # the insider's protection limit leaves one value: no suppression helps
                ok_f = True
                n_limit += 1
            else:
                for b in hb:
                    if f in plan.blocks[b].entities or (i, b) not in res_lo:
                        continue
                    if _block_pass_one(
                        int(kind[i]), res_lo[(i, b)], res_hi[(i, b)], rl, rh, float(tcap[i]),
                        float(tfloor[i]), rules,
                    ):  # fmt: skip
                        ok_f = True
                        break
            if not ok_f:
                left.append(name)
                ends_ins[(name, i)] = (rl, rh)
        ins_ok[i] = not left
        for name in left:
            esc_ins.setdefault(name, []).append(i)

    # what no block certified: sparse witnesses (domain first, then the whole release)
    t_certify = time.perf_counter()
    n_wit = 0
    if wit is not None:
        for i in np.nonzero(esc_pub)[0].tolist():
            if wit.certify(
                int(tq[i]), int(kind[i]), float(r_lo[i]), float(r_hi[i]), -1,
                float(tcap[i]), float(tfloor[i]), smax + 1,
            ):  # fmt: skip
                esc_pub[i] = False
                pub_ok[i] = True
                n_wit += 1
        for name in sorted(esc_ins):
            f = ent_unit[name]
            rest: list[int] = []
            for i in esc_ins[name]:
                a, bnd = lim.interval(int(tq[i]), f)
                rl = max(float(r_lo[i]), smin, float(np.ceil(a - EPS)))
                rh = min(float(r_hi[i]), smax, float(np.floor(bnd + EPS)))
                if wit.certify(
                    int(tq[i]), int(kind[i]), rl, rh, f, float(tcap[i]), float(tfloor[i]),
                    smax + 1,
                ):  # fmt: skip
                    n_wit += 1
                else:
                    rest.append(i)
            esc_ins[name] = rest
        esc_ins = {k: v for k, v in esc_ins.items() if v}
        ins_ok[:] = True
        for v in esc_ins.values():
            ins_ok[np.array(v, dtype=np.int64)] = False
    # rows of the result: one per target row and attacker class
    q_to_t = np.full(s.n_q, -1, dtype=np.int64)
    q_to_t[tq] = np.arange(nt)
    ti_rows = q_to_t[tq_all]
    kinds_l = [(Target.SMALL, Target.WITHHELD, Target.SUPPRESSED)[int(c)] for c in kind_code]
    parts: list[pa.Table] = []
    summaries: dict[str, dict[str, Any]] = {}
    lo_r, hi_r = _int_bounds(best_lo[ti_rows], best_hi[ti_rows])
    classes = (["public"] if want_public else []) + ([INSIDERS] if insiders else [])
    for att in classes:
        ok = (pub_ok if att == "public" else ins_ok)[ti_rows]
        outcomes = [
            Outcome.OK if o else Outcome.ESCALATED for o in ok.tolist()
        ]  # fmt: skip
        for j, kd in enumerate(kinds_l):
            if kd is Target.SUPPRESSED and not rules.zeros_sensitive:
                outcomes[j] = Outcome.NO_REQUIREMENT
        passed = np.ones(rows.shape[0], dtype=bool)  # escalated cells are judged globally
        parts.append(
            _result_table(view, rows, att, kinds_l, lo_r, hi_r, np.zeros(rows.shape[0], bool),
                          cap[tq_all], outcomes, passed, floor[tq_all])
        )  # fmt: skip
        summaries[att] = _attacker_summary(kinds_l, lo_r, hi_r, outcomes, passed, view, rows)
    restrict: dict[str, BoolArray] = {}
    ends: dict[str, tuple[FloatArray, FloatArray]] = {}
    if want_public:
        restrict["public"] = esc_pub[ti_rows]
        ends["public"] = (r_lo[ti_rows], r_hi[ti_rows])
    for name, idx in sorted(esc_ins.items()):
        m = np.zeros(nt, dtype=bool)
        m[np.array(idx, dtype=np.int64)] = True
        restrict[f"insider:{name}"] = m[ti_rows]
        e_lo, e_hi = r_lo.copy(), r_hi.copy()
        for i in idx:
            e_lo[i], e_hi[i] = ends_ins[(name, i)]
        ends[f"insider:{name}"] = (e_lo[ti_rows], e_hi[ti_rows])
    info = {
        "blocks": nb,
        "largest_block_unknowns": largest,
        "escalated_public": int(esc_pub.sum()),
        "escalated_insider_pairs": int(sum(len(v) for v in esc_ins.values())),
        "insider_limit_settled": n_limit,
        "witnessed": n_wit,
        "witness_lps": 0 if wit is None else wit.solves,
        "witness_breakdown": 0 if wit is None else wit.breakdown_found,
        "witness_pair": 0 if wit is None else wit.pair_found,
        "points_taken": 0 if wit is None else wit.offered_ok,
        "hypercubes_proposed": hyper["proposed"],
        "hypercubes_checked": hyper["checked"],
        "hypercube_certified": hyper["certified"],
        "transfers_checked": hyper["transfers"],
        "seconds_blocks": round(time.perf_counter() - t0, 3),
        "seconds_hypercubes": round(t_hyper - t0, 3),
        "seconds_block_lps": round(t_eval - t_hyper, 3),
        "seconds_witness_lps": round(time.perf_counter() - t_certify, 3),
    }
    return parts, summaries, restrict, info, ends


def _block_intervals(
    s: Structure,
    units: Units,
    base: _Knowledge,
    truth: FloatArray,
    hidden: BoolArray,
    block_units: tuple[int, ...],
    tq: IntArray,
    r_lo: FloatArray,
    r_hi: FloatArray,
    kind: IntArray,
    cap: FloatArray,
    floor: FloatArray,
    rules: PublicRules,
    stats: _Stats,
    settle: bool = True,
) -> tuple[FloatArray, FloatArray, int]:
    """The public attacker's intervals of ``tq`` over F_U (outside the block fixed at the
    truth): (lower, upper, unknowns)."""
    bu = np.array(block_units, dtype=np.int64)
    in_block = np.zeros(units.n_units, dtype=bool)
    in_block[bu] = True
    rels = units.relations_of(bu)
    p_n, p_t = base.p_n, base.p_t
    extra = tq
    pm = np.zeros(0, dtype=bool)
    if p_n.size:
        var_n = hidden[p_n] & in_block[units.q_unit[p_n]]
        var_t = hidden[p_t] & in_block[units.q_unit[p_t]]
        pm = var_n | var_t
        extra = np.concatenate([tq, p_n[pm], p_t[pm]])
    ls, gq = substructure(s, rels, extra)
    var = hidden[gq] & in_block[units.q_unit[gq]]
    lk = _Knowledge(
        known=~var,
        value=np.where(var, np.nan, truth[gq]),
        lb=np.where(var, base.lb[gq], truth[gq]),
        ub=np.where(var, base.ub[gq], truth[gq]),
    )
    if pm.any():
        lk.p_n = np.searchsorted(gq, p_n[pm])
        lk.p_t = np.searchsorted(gq, p_t[pm])
        lk.p_lo, lk.p_hi = base.p_lo[pm], base.p_hi[pm]
    lt = np.searchsorted(gq, tq)
    t_hi = np.maximum(r_hi, r_lo + 1)
    t_lo = np.where(kind == 2, 0.0, r_lo)
    t_hi = np.where(kind == 2, 1.0, t_hi)

    def decide(idx: IntArray, a: FloatArray, b: FloatArray) -> BoolArray:
        return _block_pass(kind[idx], a, b, r_lo[idx], r_hi[idx], cap[idx], floor[idx], rules)

    lo, hi, _ = _intervals(ls, lk, lt, t_lo, t_hi, False, stats, decide, math.inf, settle)
    lo_i, hi_i = _int_bounds(lo, hi)
    return lo_i, hi_i, int(var.sum())


def audit(
    cells_published: pa.Table,
    cells_true: pa.Table | None,
    authorization: Authorization,
    attacker: str = "public",
    ledger: pa.Table | None = None,
    withheld: Sequence[dict[str, Any]] | None = None,
    exact: bool = False,
    method: str = "auto",
    limit_cache: dict[tuple[str, int, int], tuple[float, float, bool]] | None = None,
    screen: bool = False,
    round_cache: dict[tuple[Any, ...], Any] | None = None,
) -> AuditResult:
    """Audit a published cell table against the authorization's public requirement.

    ``cells_true`` (optional, never written anywhere) supplies an insider's exact cells and
    lets the audit check that every true value lies in its interval (a self-check). The
    withheld entities come from ``withheld`` or, when absent, from comparing with
    ``cells_true``. ``attacker`` is ``public``, ``insider:<entity>`` or ``all`` (public and
    every entity's leading official). ``exact=True`` computes every interval exactly
    (otherwise a cell whose witnessed interval already meets the requirement is not
    optimised further). ``limit_cache`` keeps the protection limits of failed cells between
    calls on releases of the same cells (the limit does not depend on which published counts
    are hidden: it hides them all); the suppression's repair rounds pass one.
    ``screen=True`` (block audit only, for the suppression's rounds): what neither a block
    nor a sparse witness certifies is reported failed at its true value (goals for the repair;
    ``label_cap``/``label_floor`` then hold the requirement's ends the blocks worked to, the
    labels narrowed by outer bounds of the protection limit) instead of being settled by the
    global exact LPs. ``round_cache`` (block audit) keeps the sparse witnesses found and the
    blocks' intervals between calls on releases that only hide more (the suppression's
    rounds): a feasible point stays feasible when more cells are hidden, and a block whose
    units hide nothing new keeps its intervals. Points the caller puts there (``("points",
    structure fingerprint)``: the suppression's repair LPs) are checked and used as
    witnesses.
    """
    t0 = time.perf_counter()
    rules = authorization.public
    if withheld is None:
        withheld = withheld_from(cells_published, cells_true) if cells_true is not None else []
    view = attacker_view(cells_published, withheld)
    s = build_structure(view)
    base = _knowledge(view, s, rules)
    # What no suppression can undo: published zeros, the never-suppressed grand total and
    # the ledger stay known; every other published count could at most become an x.
    relaxable = base.known & (base.value >= rules.hidden_lower) & (base.value > 0)
    relaxable[_grand_total(view, s)] = False
    if ledger is not None and ledger.num_rows:
        relaxable[_ledger_knowledge(ledger, s, base, rules)] = False
    cap = _label_caps(s, base, rules, view)
    floor = _label_floors(s, base)
    truth_q: FloatArray | None = None
    if cells_true is not None:
        truth_q = _truth_by_quantity(cells_true, s)
        check_links(s, truth_q, view)
    shown_a = view["shown"]
    status_a = view["status"]
    is_w = _eq(status_a, WITHHELD_STATUS)
    counts_null = np.isnan(view["count"].to_numpy(zero_copy_only=False).astype(np.float64))
    is_s = counts_null & ~is_w & _eq(shown_a, rules.small_label)
    is_x = counts_null & ~is_w & ~is_s & _eq(shown_a, rules.suppressed_label)
    rows = np.nonzero(is_w | is_s | is_x)[0].astype(np.int64)
    kind_code = np.where(is_w[rows], 1, np.where(is_s[rows], 0, 2))
    _kinds = (Target.SMALL, Target.WITHHELD, Target.SUPPRESSED)
    target_kind: list[Target] = [_kinds[int(c)] for c in kind_code]
    entity_col = _str_col(view, "entity")
    scope_col = _str_col(view, "scope")
    attackers = _attackers(attacker, view, rows, scope_col, entity_col, truth_q)
    stats = _Stats()
    parts: list[pa.Table] = []
    summaries: dict[str, dict[str, Any]] = {}
    public_comp: IntArray | None = None
    if method not in ("auto", "blocks", "global"):
        raise UsageError(f"audit method '{method}': use auto, blocks or global")
    use_blocks = method == "blocks" or (
        method == "auto" and not exact and truth_q is not None and s.n_q >= BLOCKS_FROM
    )
    restrict: dict[str, BoolArray] | None = None
    block_info: dict[str, Any] = {}
    if use_blocks:
        if truth_q is None:
            raise UsageError(
                "the block audit needs the true cells (the service release) to fix what lies "
                "outside each block; pass them (truth=...) or use the global audit"
            )
        if exact:
            raise UsageError("the block audit gives inner bounds; exact=True is the global audit")
        b_cap, b_floor = narrow_to_limit(
            cap, floor, *limit_outer_bounds(s, base, relaxable, rules)
        )  # fmt: skip
        bparts, bsumm, restrict, block_info, ends = _audit_blocks(
            view, s, base, truth_q, rules, rows, kind_code, b_cap, b_floor, relaxable,
            attackers, stats, round_cache, screen,
        )  # fmt: skip
        parts += bparts
        summaries.update(bsumm)
        attackers = sorted(restrict, key=lambda a: (a != "public", a))
        if screen:
            assert truth_q is not None
            for att in attackers:
                sel = restrict[att]
                if not sel.any():
                    continue
                trows = rows[sel]
                kinds_s = [target_kind[j] for j in np.nonzero(sel)[0]]
                # a withheld entity's copy holds every combination of its domain: those its
                # true table lacks are 0
                tv = np.nan_to_num(truth_q[s.qid[trows]], nan=0.0)
                outs = [
                    Outcome.NO_REQUIREMENT
                    if kd is Target.SUPPRESSED and not rules.zeros_sensitive
                    else Outcome.FAIL
                    for kd in kinds_s
                ]  # fmt: skip
                ok = np.array([o is not Outcome.FAIL for o in outs], dtype=bool)
                zeros = np.zeros(trows.shape[0], dtype=bool)
                # the requirement's ends the blocks and witnesses worked to (the labels
                # narrowed by outer bounds of the protection limit): the repair's goals
                e_lo, e_hi = ends[att]
                parts.append(
                    _result_table(view, trows, att, kinds_s, tv, tv, zeros,
                                  np.minimum(cap[s.qid[trows]], e_hi[sel]), outs, ok,
                                  np.maximum(floor[s.qid[trows]], e_lo[sel]))
                )  # fmt: skip
                summaries[att] = _attacker_summary(kinds_s, tv, tv, outs, ok, view, trows)
            attackers = []
    for att in attackers:
        if restrict is not None and not restrict[att].any():
            continue
        k = _Knowledge(
            base.known.copy(), base.value.copy(), base.lb.copy(), base.ub.copy(),
            base.p_n, base.p_t, base.p_lo, base.p_hi,
        )  # fmt: skip
        sel = np.ones(rows.shape[0], dtype=bool) if restrict is None else restrict[att].copy()
        share = np.zeros(s.n_q)
        if att.startswith("insider:"):
            ent = att.split(":", 1)[1]
            assert truth_q is not None
            own = _eq(view["scope"], "entity") & _eq(view["entity"], ent)
            own_q = np.unique(s.qid[own])
            # a withheld entity's copy holds every combination of its domain: the ones its
            # true table lacks have nobody (0), which its official knows
            wq = np.unique(s.qid[own & is_w])
            truth_q[wq] = np.nan_to_num(truth_q[wq], nan=0.0)
            if np.isnan(truth_q[own_q]).any():
                raise InternalError(f"insider {ent}: true cells missing for some of its cells")
            k.known[own_q] = True
            k.value[own_q] = truth_q[own_q]
            k.lb[own_q] = truth_q[own_q]
            k.ub[own_q] = truth_q[own_q]
            sel &= ~own[rows]
            share = _own_share(s, own_q, truth_q)
            # Only components the insider's knowledge touches can change.
            if public_comp is None:
                public_comp = _public_components(s, base)
            touched = np.zeros(s.n_q, dtype=bool)
            touched[np.isin(public_comp, public_comp[own_q])] = True
            sel &= touched[s.qid[rows]]
        kinds = [target_kind[j] for j in np.nonzero(sel)[0]]
        trows = rows[sel]
        tq = s.qid[trows]
        tcap = cap[tq]
        tfloor = floor[tq]
        town = share[tq]
        t_lo, t_hi = _thresholds(kinds, tcap, rules)
        t_lo = np.maximum(t_lo, np.where([kd is Target.SUPPRESSED for kd in kinds], 0.0, tfloor))
        if not exact and not rules.zeros_sensitive:
            # x cells carry no requirement: only compute their intervals when asked.
            keep = np.array([kd is not Target.SUPPRESSED for kd in kinds], dtype=bool)
        else:
            keep = np.ones(len(kinds), dtype=bool)
        lo = np.full(len(kinds), np.nan)
        hi = np.full(len(kinds), np.nan)
        ex = np.zeros(len(kinds), dtype=bool)
        if keep.any():
            kk = [kd for kd, kp in zip(kinds, keep, strict=True) if kp]
            kcap, kfloor, kown = tcap[keep], tfloor[keep], town[keep]

            def decide(
                idx: IntArray,
                a: FloatArray,
                b: FloatArray,
                kk: list[Target] = kk,
                kcap: FloatArray = kcap,
                kfloor: FloatArray = kfloor,
                kown: FloatArray = kown,
            ) -> BoolArray:
                _, ok = _evaluate(
                    [kk[int(j)] for j in idx], a, b, kcap[idx], rules, kfloor[idx], kown[idx]
                )  # fmt: skip
                return ok

            kcode = kind_code[sel][keep]
            k_lo = np.maximum(float(rules.small_count_min), kfloor)
            k_hi = np.minimum(float(rules.small_count_max), kcap)

            def decide_inner(
                idx: IntArray, a: FloatArray, b: FloatArray, kcode: IntArray = kcode,
                k_lo: FloatArray = k_lo, k_hi: FloatArray = k_hi, kcap: FloatArray = kcap,
                kfloor: FloatArray = kfloor,
            ) -> BoolArray:  # fmt: skip
                return _block_pass(
                    kcode[idx], a, b, k_lo[idx], k_hi[idx], kcap[idx], kfloor[idx], rules
                )  # fmt: skip

            # what the blocks leave is settled exactly (two LPs per cell)
            lo_k, hi_k, ex_k = _intervals(
                s, k, tq[keep], t_lo[keep], t_hi[keep], exact or use_blocks, stats, decide,
                float(rules.small_count_max + 1), decide_inner=decide_inner,
            )  # fmt: skip
            lo[keep], hi[keep], ex[keep] = lo_k, hi_k, ex_k
        lo_i, hi_i = _int_bounds(lo, hi)
        if truth_q is not None:
            tv = truth_q[tq]
            chk = keep & ex & ~np.isnan(tv)
            bad = chk & ((tv < lo_i - EPS) | (tv > hi_i + EPS))
            if bad.any():
                j = int(np.nonzero(bad)[0][0])
                raise InternalError(
                    f"audit: a true value lies outside its attacker interval "
                    f"[{lo_i[j]:g}, {hi_i[j]:g}] (row {int(trows[j])})"
                )
        outcomes, passed = _evaluate(kinds, lo_i, hi_i, tcap, rules, tfloor, town)
        redo = np.nonzero(~passed & ~ex & keep)[0]
        if redo.size:
            # a failure always reports the attacker's exact interval (two LPs per cell)
            r_lo, r_hi, _ = _intervals(
                s, k, tq[redo], t_lo[redo], t_hi[redo], True, stats
            )  # fmt: skip
            lo_i[redo], hi_i[redo] = _int_bounds(r_lo, r_hi)
            ex[redo] = True
            outcomes, passed = _evaluate(kinds, lo_i, hi_i, tcap, rules, tfloor, town)
        if not passed.all():
            tcap, tfloor = tcap.copy(), tfloor.copy()
            outcomes, passed = _limit_recheck(
                s, k, relaxable, rules, kinds, tq, lo_i, hi_i, tcap, tfloor, town, stats,
                None if limit_cache is None else (limit_cache, att),
            )  # fmt: skip
        passed &= keep | np.array([kd is Target.SUPPRESSED for kd in kinds], dtype=bool)
        parts.append(
            _result_table(view, trows, att, kinds, lo_i, hi_i, ex, tcap, outcomes, passed, tfloor)
        )
        summaries[att] = _attacker_summary(kinds, lo_i, hi_i, outcomes, passed, view, trows)
    cells = pa.concat_tables(parts) if parts else _result_table(
        view, np.zeros(0, np.int64), "public", [], np.zeros(0), np.zeros(0),
        np.zeros(0, bool), np.zeros(0), [], np.zeros(0, bool), np.zeros(0),
    )  # fmt: skip
    failed = int(sum(v["failed"] for v in summaries.values()))
    summary: dict[str, Any] = {
        "passed": failed == 0,
        "failed": failed,
        "attackers": summaries,
        "requirement": {
            "small_full_range": rules.requirement.small_full_range,
            "withheld_not_pinned": rules.requirement.withheld_not_pinned,
            "withheld_small_full_range": rules.requirement.withheld_small_full_range,
            "zero_pinned_is_disclosure": rules.requirement.zero_pinned_is_disclosure,
            "hidden_x_means_at_least": rules.hidden_lower,
        },
        "withheld_entities": sum(w.get("entity") is not None for w in withheld),
        "withheld_domains": sum(w.get("entity") is None for w in withheld),
        "relations": s.n_rel,
        "quantities": s.n_q,
        "lp_solves": stats.lp_solves,
        "components": stats.components,
        "largest_component": stats.largest_component,
        "derived_by_differencing": stats.derived,
        "seconds": round(time.perf_counter() - t0, 3),
        "seconds_lp": round(stats.seconds_lp, 3),
        "exact": exact,
        "method": "blocks" if use_blocks else "global",
        **({"blocks": block_info} if use_blocks else {}),
        "authorization": authorization.id,
    }
    return AuditResult(cells, summary)


def _grand_total(view: pa.Table, s: Structure) -> IntArray:
    m = pc.and_(
        pc.and_(pc.equal(view["scope"], "administration"), pc.equal(view["breakdown"], "total")),
        pc.equal(view["origin"], "total"),
    )
    rows = np.asarray(pc.fill_null(m, False).to_numpy(zero_copy_only=False), dtype=bool)
    out: IntArray = np.unique(s.qid[rows])
    return out


def _limit_recheck(
    s: Structure,
    k: _Knowledge,
    relaxable: BoolArray,
    rules: PublicRules,
    kinds: list[Target],
    tq: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    cap: FloatArray,
    floor: FloatArray,
    own: FloatArray,
    stats: _Stats,
    cache: tuple[dict[tuple[str, int, int], tuple[float, float, bool]], str] | None = None,
) -> tuple[list[Outcome], BoolArray]:
    """Judge failed cells against the protection limit, in place in ``cap`` and ``floor``.

    The limit is the attacker's interval when every published count that the rules would
    let become an ``x`` were one (published zeros, the grand total, the ledger and an
    insider's own cells stay known; no percentages). No suppression can do better, so a
    cell at its limit is counted apart (label limited), not failed.
    """
    outcomes, passed = _evaluate(kinds, lo, hi, cap, rules, floor, own)
    idx = np.nonzero(~passed)[0]
    if idx.size == 0:
        return outcomes, passed
    rel = relaxable & k.known & (k.value >= rules.hidden_lower)
    k2 = _Knowledge(k.known & ~rel, k.value.copy(), k.lb.copy(), k.ub.copy())
    k2.lb[rel] = float(rules.hidden_lower)
    k2.ub[rel] = np.inf
    k2.value[rel] = np.nan
    smin, smax = float(rules.small_count_min), float(rules.small_count_max)
    want_lo = np.maximum(smin, floor[idx])
    want_hi = np.minimum(smax, cap[idx])
    sup = np.array([kinds[int(j)] is Target.SUPPRESSED for j in idx], dtype=bool)
    want_lo = np.where(sup, 0.0, want_lo)
    want_hi = np.where(sup, 1.0, np.maximum(want_hi, want_lo))

    def reaches(sel: IntArray, a: FloatArray, b: FloatArray) -> BoolArray:
        # the limit leaves the requirement as it is: no exact LP needed for this cell
        out: BoolArray = (a <= want_lo[sel] + EPS) & (b >= want_hi[sel] - EPS)
        return out

    # Witnesses settle most limits (the limit problem hides every relaxable count, so it is
    # loose); only the cells whose limit may narrow the requirement get their two exact LPs.
    n = idx.size
    l_lo, l_hi = np.full(n, np.nan), np.full(n, np.nan)
    l_ex = np.zeros(n, dtype=bool)
    todo = np.ones(n, dtype=bool)
    if cache is not None:
        store, att = cache
        for c in range(n):
            hit = store.get((att, s.n_q, int(tq[idx[c]])))
            if hit is None:
                continue
            a, b, e = hit
            if e or reaches(np.array([c]), np.array([a]), np.array([b]))[0]:
                l_lo[c], l_hi[c], l_ex[c], todo[c] = a, b, e, False
    sub = np.nonzero(todo)[0]
    if sub.size:

        def reaches_sub(sel: IntArray, a: FloatArray, b: FloatArray) -> BoolArray:
            return reaches(sub[sel], a, b)

        c_lo, c_hi, c_ex = _intervals(
            s, k2, tq[idx[sub]], want_lo[sub], want_hi[sub], False, stats, reaches_sub
        )  # fmt: skip
        c_lo, c_hi = _int_bounds(c_lo, c_hi)
        l_lo[sub], l_hi[sub], l_ex[sub] = c_lo, c_hi, c_ex
        if cache is not None:
            store, att = cache
            for c in sub.tolist():
                store[(att, s.n_q, int(tq[idx[c]]))] = (
                    float(l_lo[c]),
                    float(l_hi[c]),
                    bool(l_ex[c]),
                )
    narrowing = l_ex & ~reaches(np.arange(idx.size), l_lo, l_hi)
    cap[idx] = np.where(narrowing, np.minimum(cap[idx], l_hi), cap[idx])
    floor[idx] = np.where(narrowing, np.maximum(floor[idx], l_lo), floor[idx])
    outcomes, passed = _evaluate(kinds, lo, hi, cap, rules, floor, own)
    at_limit = (lo <= floor + EPS) & (hi >= cap - EPS)
    fix = ~passed & at_limit
    for j in np.nonzero(fix)[0]:
        outcomes[int(j)] = Outcome.LABEL_LIMITED
    passed = passed | fix
    return outcomes, passed


def _own_share(s: Structure, own_q: IntArray, truth_q: FloatArray) -> FloatArray:
    """Per quantity, an official's own share: for a policy domain's cell, the official's
    entity's cell with the same key when it is one of the domain's entities (its
    ``entity_in_domain`` relation, :func:`_sibling_relations`); 0 elsewhere."""
    share = np.zeros(s.n_q)
    rel = _sibling_relations(s)[own_q]
    m = rel >= 0
    np.add.at(share, s.rel_total[rel[m]], truth_q[own_q[m]])
    return share


def _public_components(s: Structure, base: _Knowledge) -> IntArray:
    known = base.known.copy()
    value = base.value.copy()
    _propagate(s, known, value, base.lb.copy(), base.ub.copy())
    lab, _ = _components(s, known, base.p_n, base.p_t)
    return lab


def _truth_by_quantity(truth: pa.Table, s: Structure) -> FloatArray:
    t = conform(truth)
    code = s.coder.encode(t)
    order = np.argsort(s.rcode, kind="stable")
    pos = np.minimum(np.searchsorted(s.rcode[order], code), max(s.rcode.shape[0] - 1, 0))
    hit = (code >= 0) & (s.rcode[order][pos] == code)
    out = np.full(s.n_q, np.nan)
    cnt = t["count"].to_numpy(zero_copy_only=False).astype(np.float64)
    out[s.qid[order[pos[hit]]]] = cnt[hit]
    # Withheld-entity copies that the true table lacks (an empty combination) are 0.
    return s.derive(out)


def _attackers(
    attacker: str,
    view: pa.Table,
    rows: IntArray,
    scope_col: list[str | None],
    entity_col: list[str | None],
    truth_q: FloatArray | None,
) -> list[str]:
    if attacker == "public":
        return ["public"]
    if attacker != "all" and not attacker.startswith("insider:"):
        raise UsageError(f"unknown attacker '{attacker}': use public, insider:<entity> or all")
    if truth_q is None:
        raise UsageError(
            f"attacker '{attacker}' needs the true cells (the service release) to know what "
            "the insider knows; pass them (truth=...)"
        )
    ents = sorted({e for sc, e in zip(scope_col, entity_col, strict=True) if sc == "entity" and e})
    if attacker == "all":
        hidden_ents = sorted(
            {entity_col[int(i)] for i in rows if scope_col[int(i)] == "entity"} - {None}
        )  # type: ignore[type-var]
        return ["public", *(f"insider:{e}" for e in hidden_ents)]
    ent = attacker.split(":", 1)[1]
    if ent not in ents:
        raise UsageError(f"insider '{ent}': no such entity in the release (known: {len(ents)})")
    return [attacker]


def _result_table(
    view: pa.Table,
    trows: IntArray,
    att: str,
    kinds: list[Target],
    lo: FloatArray,
    hi: FloatArray,
    ex: BoolArray,
    cap: FloatArray,
    outcomes: list[Outcome],
    passed: BoolArray,
    floor: FloatArray,
) -> pa.Table:
    keys = view.select(list(KEY_COLUMNS)).take(pa.array(trows, pa.int64()))
    n = trows.shape[0]
    cols: dict[str, pa.Array] = {"attacker": pa.array([att] * n, pa.string())}
    for c in KEY_COLUMNS:
        cols[c] = keys[c].combine_chunks() if n else pa.array([], keys.schema.field(c).type)
    cols["target"] = pa.array([t.value for t in kinds], pa.string())
    cols["lower"] = pa.array(lo, pa.float64())
    cols["upper"] = pa.array(hi, pa.float64())
    cols["exact"] = pa.array(ex, pa.bool_())
    cols["label_cap"] = pa.array(cap, pa.float64())
    cols["label_floor"] = pa.array(floor, pa.float64())
    cols["outcome"] = pa.array([o.value for o in outcomes], pa.string())
    cols["passed"] = pa.array(passed, pa.bool_())
    return pa.table(cols)


def _attacker_summary(
    kinds: list[Target],
    lo: FloatArray,
    hi: FloatArray,
    outcomes: list[Outcome],
    passed: BoolArray,
    view: pa.Table,
    trows: IntArray,
) -> dict[str, Any]:
    by_target = Counter(t.value for t in kinds)
    by_outcome = Counter(o.value for o in outcomes)
    judged = [
        i
        for i, o in enumerate(outcomes)
        if o in (Outcome.OK, Outcome.FAIL, Outcome.LABEL_LIMITED) and not np.isnan(lo[i])
    ]
    worst: dict[str, Any] | None = None
    if judged:
        i = min(judged, key=lambda j: (hi[j] - lo[j], j))
        row = view.select(list(KEY_COLUMNS)).slice(int(trows[i]), 1).to_pylist()[0]
        worst = {
            "cell": {k: v for k, v in row.items() if v is not None},
            "target": kinds[i].value,
            "lower": float(lo[i]),
            "upper": float(hi[i]),
        }
    return {
        "targets": dict(sorted(by_target.items())),
        "outcomes": dict(sorted(by_outcome.items())),
        "failed": int((~passed).sum()),
        "worst_interval": worst,
    }


# -- release folders ---------------------------------------------------------------------------


def _read_manifest(release_dir: Path) -> dict[str, Any]:
    path = release_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


def withheld_in_manifest(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    prot = manifest.get("protection", manifest)
    if not isinstance(prot, dict):
        return []
    out: list[dict[str, Any]] = []
    for key in ("withheld_domains", "withheld_entities"):
        w = prot.get(key, [])
        out += list(w) if isinstance(w, list) else []
    return out


def read_cells(path: Path) -> pa.Table:
    if path.is_dir():
        path = path / "cells.parquet"
    if not path.is_file():
        raise InputError(f"{path}: no cells.parquet in the release folder")
    return pq.read_table(path)


def audit_release(
    release_dir: Path,
    attacker: str = "public",
    truth: Path | None = None,
    ledger: pa.Table | None = None,
    authorization: Authorization | None = None,
    write: bool = True,
    exact: bool = False,
) -> AuditResult:
    """Audit a public release folder; write ``audit.parquet`` and ``audit.json`` into it.

    The folder's ``cells.parquet`` and ``manifest.json`` (its withheld entities and its
    authorization id) are all a public audit needs. ``truth`` (a service release folder or
    its ``cells.parquet``) is needed for insider attackers. Raises nothing on a failed audit:
    call :meth:`AuditResult.raise_if_failed` (the CLI turns it into exit code 1).
    """
    release_dir = Path(release_dir)
    if not release_dir.is_dir():
        raise InputError(f"{release_dir}: release folder not found")
    manifest = _read_manifest(release_dir)
    if authorization is None:
        auth_id = manifest.get("authorization", {})
        ident = auth_id.get("id") if isinstance(auth_id, dict) else auth_id
        authorization = load_authorization(str(ident) if ident else "13-71")
    audience = str(manifest.get("audience", "public"))
    if audience != "public":
        raise UsageError(
            f"{release_dir}: audience '{audience}' releases are exact by authorization; "
            "only public releases are audited"
        )
    published = read_cells(release_dir)
    cells_true = read_cells(truth) if truth is not None else None
    result = audit(
        published,
        cells_true,
        authorization,
        attacker=attacker,
        ledger=ledger,
        withheld=withheld_in_manifest(manifest),
        exact=exact,
    )
    if write:
        write_audit(result, release_dir)
    return result


def without_timings(value: Any) -> Any:
    """``value`` without its wall-clock timings (keys ``seconds*``), so that what is written
    is byte-identical for the same inputs; the timings stay in the returned summaries."""
    if isinstance(value, Mapping):
        return {k: without_timings(v) for k, v in value.items() if not str(k).startswith("seconds")}
    if isinstance(value, list | tuple):
        return [without_timings(v) for v in value]
    return value


def write_audit(result: AuditResult, release_dir: Path) -> list[Path]:
    """Write ``audit.parquet`` (intervals, no true values) and ``audit.json`` (summary, without
    timings: the same release and attackers give byte-identical files)."""
    release_dir.mkdir(parents=True, exist_ok=True)
    p1 = release_dir / "audit.parquet"
    pq.write_table(result.cells, p1, compression="zstd")
    p2 = release_dir / "audit.json"
    text = json.dumps(without_timings(result.summary), indent=2, sort_keys=True, default=str)
    p2.write_text(text + "\n")
    return [p1, p2]
