"""HiGHS stays silent: nothing of the solver reaches our command lines' standard output."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from herkomst._highs import colwise_model, lp_threads, map_independent
from herkomst.errors import InternalError, UsageError

CODE = """
import highspy, numpy as np
from herkomst._highs import new_highs
h = new_highs()
lp = highspy.HighsLp()
lp.num_col_ = 1
lp.col_cost_ = np.array([1.0])
lp.col_lower_ = np.array([2.0])
lp.col_upper_ = np.array([5.0])
h.passModel(lp)
h.run()
print("x =", h.getSolution().col_value[0])
new_highs()
"""


def test_no_banner_or_log_on_stdout() -> None:
    # A fresh process: the banner is printed by the first construction only.
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout == "x = 2.0\n"
    assert "HiGHS" not in done.stderr


def test_a_plain_first_construction_would_print_the_banner() -> None:
    # The reason for new_highs: if this ever stops printing, the redirect can go.
    code = "import highspy; highspy.Highs()"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "Running HiGHS" in done.stdout


# -- independent LPs in threads ---------------------------------------------------------------


def _lp_min(bound: float) -> tuple[float, str]:
    """min x + y s.t. x + y >= bound, 0 <= x <= 3, 0 <= y: its own model, the optimum and
    the thread that solved it."""
    h = colwise_model(
        np.array([0, 0]), np.array([0, 1]), np.array([1.0, 1.0]), np.array([1.0, 1.0]),
        np.zeros(2), np.array([3.0, np.inf]), np.array([bound]), np.array([np.inf]),
    )  # fmt: skip
    h.run()
    return h.getInfo().objective_function_value, threading.current_thread().name


def test_independent_lps_in_threads_give_the_results_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bounds = [float(b) for b in range(40)]
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")
    got = map_independent(_lp_min, bounds)
    assert [v for v, _ in got] == bounds  # the optimum is the bound: a hand-worked LP
    assert {t for _, t in got} <= {f"herkomst-lp_{i}" for i in range(2)}
    monkeypatch.setenv("HERKOMST_LP_THREADS", "1")
    alone = map_independent(_lp_min, bounds)
    assert [v for v, _ in alone] == bounds
    assert {t for _, t in alone} == {"MainThread"}


def test_a_bad_thread_count_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw in ("0", "two", "-1"):
        monkeypatch.setenv("HERKOMST_LP_THREADS", raw)
        with pytest.raises(UsageError, match="HERKOMST_LP_THREADS"):
            lp_threads()
    monkeypatch.setenv("HERKOMST_LP_THREADS", "3")
    assert lp_threads() == 3


# -- the model as passed to HiGHS -------------------------------------------------------------


def _mip(integer_cols: int) -> float:
    """max x + y s.t. 2x + 2y <= 3, 0 <= x <= 5, 0 <= y <= 0.3, the first ``integer_cols``
    columns integer."""
    h = colwise_model(
        np.array([0, 0]), np.array([1, 0]), np.array([2.0, 2.0]), np.array([-1.0, -1.0]),
        np.zeros(2), np.array([5.0, 0.3]), np.array([-np.inf]), np.array([3.0]),
        integer_cols=integer_cols,
    )  # fmt: skip
    h.run()
    return -float(h.getInfo().objective_function_value)


def test_integer_columns_are_the_first_ones() -> None:
    # hand-worked: the LP optimum is 1.5 (x = 1.2, y = 0.3); with x integer x = 1 and
    # y = 0.3 (1.3; were y the integer one instead, y = 0 and x = 1.5 would give 1.5); with
    # both integer x = 1, y = 0
    assert _mip(0) == pytest.approx(1.5)
    assert _mip(1) == pytest.approx(1.3)
    assert _mip(2) == pytest.approx(1.0)


def test_a_model_highs_refuses_is_an_internal_error() -> None:
    # the same entry twice: HiGHS refuses the matrix (it used to leave an empty model)
    with pytest.raises(InternalError, match="HiGHS refused"):
        colwise_model(
            np.array([0, 0]), np.array([0, 0]), np.array([1.0, 1.0]), np.array([1.0]),
            np.zeros(1), np.ones(1), np.array([0.0]), np.array([1.0]),
        )  # fmt: skip
