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
