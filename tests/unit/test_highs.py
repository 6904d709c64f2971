"""HiGHS stays silent: nothing of the solver reaches our command lines' standard output."""

from __future__ import annotations

import subprocess
import sys

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
