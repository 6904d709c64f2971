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

import highspy
import numpy as np
import numpy.typing as npt

_lock = threading.Lock()
_banner_done = False


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
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = n_row
    inf = highspy.kHighsInf
    lp.col_cost_ = cost
    lp.col_lower_ = np.maximum(col_lo, -inf)
    lp.col_upper_ = np.minimum(col_hi, inf)
    lp.row_lower_ = np.maximum(row_lo, -inf)
    lp.row_upper_ = np.minimum(row_hi, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(c, np.arange(n_col + 1)).astype(np.int32)
    lp.a_matrix_.index_ = r.astype(np.int32)
    lp.a_matrix_.value_ = v.astype(np.float64)
    if integer_cols:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * integer_cols + [
            highspy.HighsVarType.kContinuous
        ] * (n_col - integer_cols)
    h = new_highs()
    h.passModel(lp)
    return h
