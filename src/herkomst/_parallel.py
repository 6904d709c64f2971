"""Independent numpy work on more than one core: forked child processes.

numpy holds the GIL through most of the audit's witness construction (many small array
operations per target), so threads do not help there. A child forked at the moment of the
call sees the parent's memory as it is (copy on write, nothing pickled on the way in) and
sends back only its result, pickled through a pipe.

The work is always cut into the same parts, whether they run in parallel or one after the
other (one core, ``HERKOMST_LP_THREADS=1``, a platform without ``fork``): the results are
the same on every machine.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from ._highs import lp_threads
from .errors import InternalError

_T = TypeVar("_T")
_R = TypeVar("_R")


def can_fork() -> bool:
    """Whether :func:`map_forked` runs its parts in parallel here: Linux (``fork`` without
    the platform's caveats), more than one core for this process (:func:`lp_threads`), and
    the main thread (a thread of the LP pool that forked would leave the others' locks
    behind in the child)."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and lp_threads() > 1
        and threading.current_thread() is threading.main_thread()
    )


def map_forked(fn: Callable[[_T], _R], items: Sequence[_T], parallel: bool = True) -> list[_R]:
    """``[fn(x) for x in items]``: ``items[0]`` in this process, each other item in a child
    forked for it, all at once where :func:`can_fork` (and ``parallel``: false for work too
    small to pay for a fork), else one after the other. ``fn`` must
    read what it needs and write nothing the caller uses (a child's writes stay in the
    child); its result must pickle. A child's exception is raised here as
    :class:`~herkomst.errors.InternalError` naming it (after every child has ended)."""
    if len(items) < 2 or not parallel or not can_fork():
        return [fn(x) for x in items]
    children: list[tuple[int, int]] = []
    for x in items[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its result is checked in the parent
            code = 0
            try:
                os.close(r)
                try:
                    data = pickle.dumps((True, fn(x)), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException as e:
                    data = pickle.dumps((False, f"{type(e).__name__}: {e}"))
                with os.fdopen(w, "wb") as f:
                    f.write(data)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, r))
    try:
        first = fn(items[0])
    finally:
        got: list[tuple[bool, object] | None] = []
        for pid, r in children:
            with os.fdopen(r, "rb") as f:
                data = f.read()
            os.waitpid(pid, 0)
            got.append(pickle.loads(data) if data else None)
    out: list[_R] = [first]
    for g in got:
        if g is None:
            raise InternalError("a forked worker ended without a result")
        ok, value = g
        if not ok:
            raise InternalError(f"a forked worker failed: {value}")
        out.append(value)  # type: ignore[arg-type]
    return out
