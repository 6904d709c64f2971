"""One way to make a HiGHS solver: silent, single-threaded, seeded.

highspy 1.16 prints its banner ("Running HiGHS ...") on standard output when the first
``Highs`` object of a process is constructed, before any option can be set (HiGHS issues
#1702, #2749). Our command lines print only their own results, so the first construction
runs with file descriptor 1 pointed at /dev/null; every solver is then made quiet
(``output_flag`` false) before it is used.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import highspy
import numpy as np
import numpy.typing as npt

from .errors import InternalError, UsageError

_lock = threading.Lock()
_banner_done = False
_pool: tuple[int, ThreadPoolExecutor] | None = None
_T = TypeVar("_T")
_R = TypeVar("_R")

THREADS_ENV = "HERKOMST_LP_THREADS"
_POOL_NAME = "herkomst-lp"


def lp_threads() -> int:
    """How many independent LPs run at once: the cores this process may use, at most 4
    (``HERKOMST_LP_THREADS`` overrides, 1 for none in parallel; with 1,
    :mod:`herkomst._parallel` forks no worker either)."""
    raw = os.environ.get(THREADS_ENV)
    if raw is not None and raw.strip():
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"{THREADS_ENV}={raw!r}: expected a whole number of 1 or more")
        return n
    usable = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    return max(1, min(4, usable))


def _forget_pool() -> None:
    # a forked child has none of the pool's threads: a map there would wait for ever
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def map_independent(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(x) for x in items]``, on :func:`lp_threads` threads when there are more than one
    (HiGHS releases the GIL while it solves). ``fn`` must not depend on the other calls: each
    builds and solves its own HiGHS models and writes nothing shared. Then the results, in
    the order of ``items``, are the same whatever the number of threads; an exception of a
    call is raised here, the first in the order of ``items``. Called from one of the pool's
    threads, it runs in that thread (a pool waiting on itself would deadlock)."""
    global _pool
    n = lp_threads()
    if n == 1 or len(items) < 2 or threading.current_thread().name.startswith(_POOL_NAME):
        return [fn(x) for x in items]
    with _lock:
        if _pool is None or _pool[0] != n:
            if _pool is not None:
                _pool[1].shutdown()
            _pool = (n, ThreadPoolExecutor(n, thread_name_prefix=_POOL_NAME))
        pool = _pool[1]
    return list(pool.map(fn, items))


def new_highs(threads: int = 1, seed: int = 0) -> highspy.Highs:
    """A quiet HiGHS instance (no banner, no log), deterministic for the same model."""
    global _banner_done
    with _lock:
        if not _banner_done:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                h = highspy.Highs()  # type: ignore[no-untyped-call]
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            _banner_done = True
        else:
            h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("threads", threads)
    h.setOptionValue("random_seed", seed)
    return h


def colwise_model(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    vals: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    col_lo: npt.NDArray[np.float64],
    col_hi: npt.NDArray[np.float64],
    row_lo: npt.NDArray[np.float64],
    row_hi: npt.NDArray[np.float64],
    integer_cols: int = 0,
) -> highspy.Highs:
    """A quiet solver (:func:`new_highs`) holding the LP ``row_lo <= A x <= row_hi``,
    ``col_lo <= x <= col_hi``, minimise ``cost . x``; ``A`` given as triplets in any order.
    The first ``integer_cols`` columns are integer (a MIP). Infinite bounds may be given as
    ``numpy.inf``."""
    n_col, n_row = int(cost.shape[0]), int(row_lo.shape[0])
    o = np.lexsort((rows, cols))
    r, c, v = rows[o], cols[o], vals[o]
    inf = highspy.kHighsInf
    integrality = np.zeros(n_col, dtype=np.int32)
    integrality[:integer_cols] = int(highspy.HighsVarType.kInteger)
    h = new_highs()
    # the arrays passed as they are (a HighsLp's fields are copied element by element: 2.5
    # times the time on a model of the protection's size)
    status = h.passModel(
        n_col, n_row, int(r.size), int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), 0.0, np.ascontiguousarray(cost, dtype=np.float64),
        np.maximum(col_lo, -inf), np.minimum(col_hi, inf), np.maximum(row_lo, -inf),
        np.minimum(row_hi, inf), np.searchsorted(c, np.arange(n_col)).astype(np.int32),
        r.astype(np.int32), v.astype(np.float64), integrality,
    )  # fmt: skip
    if status == highspy.HighsStatus.kError:
        raise InternalError(f"HiGHS refused a model of {n_col} columns and {n_row} rows")
    return h


class DeviationLP:
    """``min c . (p + m)`` over deviations ``d = p - m`` of a table from its truth, subject
    to ``row_lo <= A d <= row_hi``, ``0 <= p <= up``, ``0 <= m <= dn``: the witness and
    attacking-table LPs of protect and audit.

    Only the columns that may move are in the HiGHS model: a column with ``up = dn = 0``
    is 0 and drops out of every row, and a row left without a column must hold at 0 (the
    truth satisfies every row). On the sparse releases of the protection most columns are
    fixed (published cells); the model over the others solves in a fraction of the time.
    The model is kept between solves (only the bounds that change are passed) while the
    columns that may move stay within it, and rebuilt over the union when more may move.
    Each solve starts from the slack basis: faster here than from the last solve's basis
    (``warm_start``, kept for bench/bench_lp_start.py)."""

    warm_start = False

    def __init__(
        self,
        rows: npt.NDArray[np.int64],
        cols: npt.NDArray[np.int64],
        vals: npt.NDArray[np.float64],
        n: int,
        row_lo: npt.NDArray[np.float64],
        row_hi: npt.NDArray[np.float64],
    ) -> None:
        if (row_lo > 1e-9).any() or (row_hi < -1e-9).any():
            raise InternalError("a deviation LP's rows must hold at d = 0 (the truth)")
        o = np.argsort(cols, kind="stable")
        self._r, self._v = rows[o], vals[o]
        self._ptr = np.searchsorted(cols[o], np.arange(n + 1)).astype(np.int64)
        self.n = n
        self._row_lo, self._row_hi = row_lo, row_hi
        self._in: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._h: highspy.Highs | None = None
        self._cost: npt.NDArray[np.float64] | None = None
        self.solves = 0
        self.builds = 0

    def _build(self, cols: npt.NDArray[np.int64]) -> None:
        starts, ends = self._ptr[cols], self._ptr[cols + 1]
        lens = ends - starts
        at = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        idx = at + np.arange(int(lens.sum()), dtype=np.int64)
        r = self._r[idx]
        c = np.repeat(np.arange(cols.size, dtype=np.int64), lens)
        v = self._v[idx]
        used, r_loc = np.unique(r, return_inverse=True)
        k = cols.size
        self._h = colwise_model(
            np.concatenate([r_loc, r_loc]), np.concatenate([c, c + k]), np.concatenate([v, -v]),
            np.zeros(2 * k), np.zeros(2 * k), np.zeros(2 * k), self._row_lo[used],
            self._row_hi[used],
        )  # fmt: skip
        # every solve changes a few bounds of a small model: no presolve
        self._h.setOptionValue("presolve", "off")
        self._in = cols
        self._cost = None
        self._lo: npt.NDArray[np.float64] | None = None
        self._hi: npt.NDArray[np.float64] | None = None
        self._idx = np.arange(2 * k, dtype=np.int32)
        self.builds += 1

    def solve(
        self,
        up: npt.NDArray[np.float64],
        dn: npt.NDArray[np.float64],
        cost: npt.NDArray[np.float64],
        target: int,
        dv: float,
        reserve: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
        """The columns an optimal point with ``d[target] = dv`` moves and their deviations
        (None: no such point). ``up``, ``dn`` and ``cost`` are per column of the whole
        table. The model holds the columns that may move (non-zero bounds); when it has to
        be built again, also those of ``reserve`` (columns later solves may move: the model
        is built once for them, not again for each)."""
        may = (up > 0) | (dn > 0)
        may[target] = True
        need = np.nonzero(may)[0]
        if self._h is None or not np.isin(need, self._in, assume_unique=True).all():
            if reserve is not None:
                may |= reserve
            self._build(np.union1d(np.nonzero(may)[0], self._in))
        h, cols = self._h, self._in
        assert h is not None
        k = cols.size
        c2 = np.concatenate([cost[cols], cost[cols]])
        if self._cost is None or not np.array_equal(c2, self._cost):
            h.changeColsCost(2 * k, self._idx, c2)
            self._cost = c2
        hi = np.concatenate([up[cols], dn[cols]])
        lo = np.zeros(2 * k)
        t = int(np.searchsorted(cols, target))
        lo[t] = hi[t] = max(dv, 0.0)
        lo[k + t] = hi[k + t] = max(-dv, 0.0)
        hi = np.minimum(hi, highspy.kHighsInf)
        if self._lo is None or self._hi is None:
            h.changeColsBounds(2 * k, self._idx, lo, hi)
        else:
            # only the bounds that differ from the last solve's
            ch = np.nonzero((lo != self._lo) | (hi != self._hi))[0].astype(np.int32)
            if ch.size:
                h.changeColsBounds(int(ch.size), ch, lo[ch], hi[ch])
        self._lo, self._hi = lo, hi
        # from the slack basis, not the last solve's: 12 % more simplex iterations but cheaper
        # ones, 27 % less time on a replay of one protection run's LPs
        # (bench/bench_lp_start.py; docs/benchmarks.md, 4 December 2026, fourth session)
        if not self.warm_start:
            h.clearSolver()
        h.run()
        self.solves += 1
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        moved = np.nonzero((x[:k] + x[k:]) > 1e-7)[0]
        return cols[moved], (x[:k] - x[k:])[moved]
