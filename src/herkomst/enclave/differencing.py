"""Differencing across outputs: what an attacker learns by combining published counts.

*Threat*: two outputs each safe on their own (counts by age 18-24 / 25-64 and by 18-25 /
26-64) together reveal a small group (the 25-year-olds) by subtraction; more generally any
set of published counts, totals and suppressions can pin a group down.

*Method* (the idea of the protected-releases audit, :mod:`herkomst.audit`, applied to the
records behind the outputs). Each output's ``membership.parquet`` says which interior cell
every record fell in. An **atom** is a distinct combination (cell of output 1, cell of output
2, ...) over the records (a record absent from an output, e.g. filtered out, has no cell
there); every published count is the sum of the counts of the atoms it covers, and so is every
suppressed cell. The attacker knows the published counts, that atom counts are >= 0, and
(conservatively) which combinations occur at all. For a *target* (an atom, or a suppressed
cell) we find the attacker's interval ``[min, max]`` with linear programs (HiGHS via
``highspy``), rounded inwards to integers. A target whose true count is 1..threshold-1 is
**revealed** when its interval excludes 0 and is narrower than the threshold
(``max - min < threshold``, e.g. pinned).

Only targets that can be revealed are solved: atoms and suppressed cells with a true count of
1..threshold-1, excluding an atom that *is* a published cell (every record of some published
cell lies in it: the count threshold of that output already judges it). Connected components
(atoms linked by a published count or a target) are solved separately; objectives are batched:
one LP minimises the sum of all candidate targets and every target the optimum puts at 0 is
certified safe; one LP maximises the sum of ``min(target, lower + threshold)`` and every target
reaching the cap is certified safe; only the rest are solved one by one. ``exact=True`` solves
the min and max of every target one by one (used by the tests against brute force).

The LP is the relaxation of the attacker's integer problem, so it can only make the attacker
weaker: for two outputs (two partitions of the records, a network matrix) its rounded bounds
equal the integer bounds; for three or more they may be wider (documented limit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import highspy
import numpy as np

from .._highs import new_highs
from ..errors import InputError, InternalError
from .outputs import MEMBERSHIP_FILE, OutputRecord

EPS = 1e-6
SEP = "\x1f"


@dataclass(frozen=True)
class Constraint:
    """A published count: the sum of the atoms ``atoms`` is ``value``."""

    atoms: tuple[int, ...]
    value: int


@dataclass(frozen=True)
class Interval:
    """The attacker's interval of one target, rounded to integers (hi may be inf).

    When not ``exact`` the interval is a witnessed inner bound: the attacker's interval
    contains ``[lo, hi]``; it is exact at the end that decides (a lower bound of 0, or a width
    below the threshold).
    """

    lo: float
    hi: float
    exact: bool


def revealed(iv: Interval, truth: int, threshold: int) -> bool:
    """A small true count that the attacker can bound away from 0 within the threshold."""
    return 1 <= truth <= threshold - 1 and iv.lo >= 1 and iv.hi - iv.lo < threshold


@dataclass
class _Stats:
    lp_solves: int = 0
    components: int = 0
    largest_component: int = 0


def _components(n_atoms: int, groups: Sequence[Sequence[int]]) -> np.ndarray:
    parent = np.arange(n_atoms, dtype=np.int64)

    def find(a: int) -> int:
        root = a
        while parent[root] != root:
            root = int(parent[root])
        while parent[a] != root:
            nxt = int(parent[a])
            parent[a] = root
            a = nxt
        return root

    for g in groups:
        if len(g) < 2:
            continue
        r0 = find(int(g[0]))
        for a in g[1:]:
            r = find(int(a))
            if r != r0:
                parent[r] = r0
    return np.array([find(a) for a in range(n_atoms)], dtype=np.int64)


class _ComponentLP:
    """Atoms x >= 0 with the published equalities, plus z_t <= sum(target t) per target."""

    def __init__(
        self,
        atoms: np.ndarray,
        constraints: Sequence[Constraint],
        targets: Sequence[np.ndarray],
        stats: _Stats,
    ) -> None:
        self.stats = stats
        local = {int(a): i for i, a in enumerate(atoms)}
        nx, nt = len(atoms), len(targets)
        self.nx, self.nt = nx, nt
        self.targets = [np.array([local[int(a)] for a in t], dtype=np.int64) for t in targets]
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        lo: list[float] = []
        hi: list[float] = []
        r = 0
        for c in constraints:
            for a in c.atoms:
                rows.append(r)
                cols.append(local[a])
                vals.append(1.0)
            lo.append(float(c.value))
            hi.append(float(c.value))
            r += 1
        inf = highspy.kHighsInf
        for t, ta in enumerate(self.targets):
            rows.append(r)
            cols.append(nx + t)
            vals.append(1.0)
            for a in ta:
                rows.append(r)
                cols.append(int(a))
                vals.append(-1.0)
            lo.append(-inf)
            hi.append(0.0)
            r += 1
        ncol = nx + nt
        R = np.array(rows, dtype=np.int64)
        C = np.array(cols, dtype=np.int64)
        V = np.array(vals, dtype=np.float64)
        order = np.lexsort((R, C))
        R, C, V = R[order], C[order], V[order]
        lp = highspy.HighsLp()
        lp.num_col_ = ncol
        lp.num_row_ = r
        lp.col_cost_ = np.zeros(ncol)
        lp.col_lower_ = np.zeros(ncol)
        lp.col_upper_ = np.concatenate([np.full(nx, inf), np.zeros(nt)])
        lp.row_lower_ = np.array(lo, dtype=np.float64)
        lp.row_upper_ = np.array(hi, dtype=np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(C, np.arange(ncol + 1)).astype(np.int32)
        lp.a_matrix_.index_ = R.astype(np.int32)
        lp.a_matrix_.value_ = V
        h = new_highs()
        h.passModel(lp)
        self.h = h
        self.ncol = ncol

    def solve(self, cost: np.ndarray, z_upper: np.ndarray) -> tuple[bool, np.ndarray]:
        """Minimise cost @ (x, z) with z_t <= z_upper[t]; (bounded, solution)."""
        h = self.h
        idx = np.arange(self.ncol, dtype=np.int32)
        h.changeColsCost(self.ncol, idx, cost.astype(np.float64))
        zi = np.arange(self.nx, self.ncol, dtype=np.int32)
        if self.nt:
            h.changeColsBounds(self.nt, zi, np.zeros(self.nt), z_upper.astype(np.float64))
        h.run()
        self.stats.lp_solves += 1
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kOptimal:
            return True, np.asarray(h.getSolution().col_value, dtype=np.float64)
        if st in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return False, np.zeros(self.ncol)
        if st == highspy.HighsModelStatus.kInfeasible:
            raise InputError(
                "the published counts are inconsistent with the records behind them "
                "(a membership file or an output record was changed?)"
            )
        raise InternalError(f"HiGHS ended with status {h.modelStatusToString(st)}")

    def value(self, x: np.ndarray, t: int) -> float:
        return float(x[self.targets[t]].sum())

    def minimise_targets(self, which: Sequence[int]) -> np.ndarray:
        cost = np.zeros(self.ncol)
        for t in which:
            np.add.at(cost, self.targets[t], 1.0)
        ok, x = self.solve(cost, np.zeros(self.nt))
        if not ok:  # cannot happen: the objective is bounded below by 0
            raise InternalError("minimising non-negative counts was unbounded")
        return x

    def maximise_capped(self, which: Sequence[int], caps: np.ndarray) -> np.ndarray:
        cost = np.zeros(self.ncol)
        upper = np.zeros(self.nt)
        for t in which:
            cost[self.nx + t] = -1.0
            upper[t] = caps[t]
        ok, x = self.solve(cost, upper)
        if not ok:
            raise InternalError("a capped maximisation was unbounded")
        return x

    def maximise_target(self, t: int) -> float:
        cost = np.zeros(self.ncol)
        cost[self.targets[t]] = -1.0
        ok, x = self.solve(cost, np.zeros(self.nt))
        return self.value(x, t) if ok else math.inf


def _lo_int(v: float) -> float:
    return float(max(0, math.ceil(v - EPS)))


def _hi_int(v: float) -> float:
    return v if math.isinf(v) else float(math.floor(v + EPS))


def intervals(
    n_atoms: int,
    constraints: Sequence[Constraint],
    targets: Sequence[Sequence[int]],
    threshold: int,
    *,
    exact: bool = False,
    stats: _Stats | None = None,
    truth: Sequence[int] | None = None,
) -> list[Interval]:
    """The attacker's interval of every target (a set of atoms) given the published counts.

    ``truth`` (the targets' true counts, a feasible point) widens a batched, inexact interval
    to contain it.
    """
    stats = stats or _Stats()
    tarr = [np.array(sorted(set(t)), dtype=np.int64) for t in targets]
    comp = _components(n_atoms, [c.atoms for c in constraints] + [list(t) for t in tarr])
    out: list[Interval | None] = [None] * len(tarr)
    constrained = np.zeros(n_atoms, dtype=bool)
    for c in constraints:
        constrained[list(c.atoms)] = True
    by_comp: dict[int, list[int]] = {}
    for i, t in enumerate(tarr):
        if t.size == 0:
            out[i] = Interval(0.0, 0.0, True)
        elif not constrained[t].all():
            out[i] = Interval(0.0, math.inf, True)  # a free atom: unbounded, can be 0
        else:
            by_comp.setdefault(int(comp[t[0]]), []).append(i)
    cons_by_comp: dict[int, list[Constraint]] = {}
    for c in constraints:
        if c.atoms:
            cons_by_comp.setdefault(int(comp[c.atoms[0]]), []).append(c)
    for root in sorted(by_comp):
        tids = by_comp[root]
        atoms = np.nonzero(comp == root)[0]
        stats.components += 1
        stats.largest_component = max(stats.largest_component, int(atoms.size))
        lp = _ComponentLP(atoms, cons_by_comp.get(root, []), [tarr[i] for i in tids], stats)
        res = _solve_component(lp, threshold, exact)
        for k, i in enumerate(tids):
            out[i] = res[k]
    res = [iv if iv is not None else Interval(0.0, math.inf, True) for iv in out]
    if truth is not None:
        res = [
            iv if iv.exact else Interval(iv.lo, max(iv.hi, float(t)), False)
            for iv, t in zip(res, truth, strict=True)
        ]
    return res


def _solve_component(lp: _ComponentLP, threshold: int, exact: bool) -> list[Interval]:
    nt = lp.nt
    lo = np.full(nt, np.nan)
    lo_exact = np.zeros(nt, dtype=bool)
    # lower bounds: batch-certify 0, then one by one
    active = list(range(nt))
    while active and not exact:
        x = lp.minimise_targets(active)
        zero = [t for t in active if lp.value(x, t) <= EPS]
        for t in zero:
            lo[t], lo_exact[t] = 0.0, True
        active = [t for t in active if t not in set(zero)]
        if not zero or len(active) <= 1:
            break
    for t in active:
        x = lp.minimise_targets([t])
        lo[t], lo_exact[t] = _lo_int(lp.value(x, t)), True
    hi = np.full(nt, np.nan)
    hi_exact = np.zeros(nt, dtype=bool)
    if exact:
        for t in range(nt):
            hi[t], hi_exact[t] = _hi_int(lp.maximise_target(t)), True
        return [Interval(float(lo[t]), float(hi[t]), True) for t in range(nt)]
    # upper bounds matter only for targets bounded away from 0
    need = [t for t in range(nt) if lo[t] >= 1]
    for t in range(nt):
        if lo[t] < 1:
            hi[t] = lo[t]  # witnessed point; the decision (lower bound 0) is exact
    caps = np.where(np.isnan(lo), 0.0, lo + threshold)
    while need:
        x = lp.maximise_capped(need, caps)
        wide = [t for t in need if x[lp.nx + t] >= caps[t] - EPS]
        for t in wide:
            hi[t] = _hi_int(max(lp.value(x, t), caps[t]))
        need = [t for t in need if t not in set(wide)]
        if not wide or len(need) <= 1:
            break
    for t in need:
        x = lp.maximise_capped([t], caps)
        z = float(x[lp.nx + t])
        if z >= caps[t] - EPS:
            hi[t] = _hi_int(max(lp.value(x, t), caps[t]))
        else:
            hi[t], hi_exact[t] = _hi_int(z), True
    return [
        Interval(float(lo[t]), float(hi[t]), bool(lo_exact[t] and hi_exact[t])) for t in range(nt)
    ]


# -- outputs -> atoms --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A small group the combination of outputs reveals."""

    kind: str  # "atom" or "suppressed"
    label: str
    truth: int
    lo: float
    hi: float
    outputs: tuple[str, ...]
    cells: tuple[str, ...]  # cells of the output under check that hold it


@dataclass(frozen=True)
class DifferencingResult:
    findings: tuple[Finding, ...]
    outputs: tuple[str, ...]
    atoms: int
    targets: int
    components: int
    lp_solves: int
    seconds: float


def _atoms(
    records: Sequence[tuple[OutputRecord, Path]],
) -> tuple[list[dict[int, str]], list[int]]:
    con = duckdb.connect()
    parts = []
    for i, (rec, d) in enumerate(records):
        p = Path(d) / MEMBERSHIP_FILE
        if not p.is_file():
            raise InputError(f"{p}: missing (output {rec.name} cannot be checked for differencing)")
        path = str(p).replace("'", "''")
        try:
            cols = {
                r[0]: r[1]
                for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
            }
            if not {"seq_no", "year", "cell"} <= set(cols):
                raise InputError(f"{p}: needs columns seq_no, year, cell")
            dup = con.execute(
                f"SELECT count(*) - count(DISTINCT (seq_no, year)) FROM read_parquet('{path}')"
            ).fetchone()
        except duckdb.Error as e:
            raise InputError(f"{p}: unreadable ({str(e).splitlines()[0]})") from None
        if dup is None or dup[0] != 0:
            raise InputError(f"{p}: a record falls in more than one cell")
        parts.append(
            f"SELECT {i} AS o, seq_no, year, CAST(cell AS VARCHAR) AS cell "
            f"FROM read_parquet('{path}')"
        )
    sql = (
        f"WITH m AS ({' UNION ALL '.join(parts)}), "
        "r AS (SELECT string_agg(CAST(o AS VARCHAR) || chr(30) || cell, chr(31) ORDER BY o) "
        "AS combo FROM m GROUP BY seq_no, year) "
        "SELECT combo, count(*) AS n FROM r GROUP BY combo ORDER BY combo"
    )
    rows = con.execute(sql).fetchall()
    atoms: list[dict[int, str]] = []
    truth: list[int] = []
    for combo, n in rows:
        cells: dict[int, str] = {}
        for part in str(combo).split(SEP):
            o, c = part.split("\x1e", 1)
            cells[int(o)] = c
        atoms.append(cells)
        truth.append(int(n))
    return atoms, truth


def check_differencing(
    records: Sequence[tuple[OutputRecord, Path]],
    threshold: int,
    *,
    exact: bool = False,
    guard: bool = False,
) -> DifferencingResult:
    """Check the first output together with all the others (already released).

    ``records``: (record, output folder) pairs, the output under check first; each needs its
    ``membership.parquet``. ``guard``: also report the first output's suppressed cells of any
    size whose interval is narrower than the threshold (kind ``narrow``): a complementary
    cell the attacker can pin protects nothing (used when planning suppressions).
    """
    t0 = time.perf_counter()
    atoms, truth = _atoms(records)
    n = len(atoms)
    # atoms per (output, interior cell)
    where: dict[tuple[int, str], list[int]] = {}
    for a, cells in enumerate(atoms):
        for o, c in cells.items():
            where.setdefault((o, c), []).append(a)
    constraints: list[Constraint] = []
    covered = np.zeros(n, dtype=bool)
    targets: list[tuple[str, str, list[int], int, tuple[str, ...]]] = []
    for o, (rec, _) in enumerate(records):
        for cell in rec.cells:
            parts = cell.parts if cell.total else (cell.id,)
            members = sorted(a for p in parts for a in where.get((o, p), []))
            tv = sum(truth[a] for a in members)
            if tv != cell.count:
                raise InputError(
                    f"output {rec.name}: cell {cell.id} counts {cell.count} but its "
                    f"membership holds {tv} records (changed after it was made?)"
                )
            if cell.suppressed:
                if 1 <= cell.count <= threshold - 1:
                    own: tuple[str, ...] = (cell.id,) if o == 0 else ()
                    targets.append(
                        ("suppressed", f"{rec.name}: {cell.label}", members, cell.count, own)
                    )
                continue
            constraints.append(Constraint(tuple(members), cell.count))
            if len(members) == 1:
                covered[members[0]] = True
            elif members:
                nz = [a for a in members if truth[a] > 0]
                if len(nz) == 1:
                    covered[nz[0]] = True
    cell_of = {(o, c.id): c for o, (rec, _) in enumerate(records) for c in rec.cells}
    for a, cells in enumerate(atoms):
        if covered[a] or not 1 <= truth[a] <= threshold - 1:
            continue
        label = " & ".join(
            f"{records[o][0].name}: {cell_of[(o, c)].label}" if (o, c) in cell_of else f"{o}:{c}"
            for o, c in sorted(cells.items())
        )
        own_a: tuple[str, ...] = (cells[0],) if 0 in cells else ()
        targets.append(("atom", label, [a], truth[a], own_a))
    stats = _Stats()
    ivs = intervals(
        n,
        constraints,
        [t[2] for t in targets],
        threshold,
        exact=exact,
        stats=stats,
        truth=[t[3] for t in targets],
    )
    findings = []
    if guard:
        rec0 = records[0][0]
        big = [x for x in rec0.cells if x.suppressed and x.count >= threshold]
        sets = [
            sorted(a for p in (x.parts if x.total else (x.id,)) for a in where.get((0, p), []))
            for x in big
        ]
        givs = intervals(n, constraints, sets, threshold, exact=True, stats=stats)
        for big_cell, giv in zip(big, givs, strict=True):
            if giv.hi - giv.lo < threshold:
                findings.append(
                    Finding(
                        "narrow",
                        f"{rec0.name}: {big_cell.label}",
                        big_cell.count,
                        giv.lo,
                        giv.hi,
                        (rec0.name,),
                        (big_cell.id,),
                    )
                )
    names = tuple(r.name for r, _ in records)
    for (kind, label, members, tv, own), iv in zip(targets, ivs, strict=True):
        if revealed(iv, tv, threshold):
            involved = tuple(sorted({names[o] for a in members for o in atoms[a]}, key=names.index))
            findings.append(Finding(kind, label, tv, iv.lo, iv.hi, involved, own))
    return DifferencingResult(
        findings=tuple(findings),
        outputs=names,
        atoms=n,
        targets=len(targets),
        components=stats.components,
        lp_solves=stats.lp_solves,
        seconds=time.perf_counter() - t0,
    )
