"""Independent work on more than one core: forked child processes.

numpy holds the GIL through most of the audit's witness construction (many small array
operations per target), so threads do not help there (:func:`map_forked`); the repair's
searches run ahead in a :class:`Worker` that answers a queue of them in order. A child
forked at the moment of the call sees the parent's memory as it is (copy on write, nothing
pickled on the way in) and sends back only its results, pickled through a pipe.

The work is always cut into the same parts and the same requests, whether they run in a
child or here, one after the other (one core, ``HERKOMST_LP_THREADS=1``, a platform without
``fork``): the results are the same on every machine.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._highs import lp_threads
from .errors import InternalError

_T = TypeVar("_T")
_R = TypeVar("_R")

# the parent's ends of the pipes of the workers alive: a child forked later closes them,
# or a worker forked before it would never see its requests end
_parent_fds: set[int] = set()


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
    forked for it (a :class:`Worker`), all at once where :func:`can_fork` (and
    ``parallel``: false for work too small to pay for a fork), else one after the other.
    ``fn`` must read what it needs and write nothing the caller uses (a child's writes stay
    in the child); its result must pickle. A child's exception is raised here as
    :class:`~herkomst.errors.InternalError` naming it; every child has ended on return."""
    if len(items) < 2 or not parallel or not can_fork():
        return [fn(x) for x in items]
    workers: list[Worker] = []
    try:
        for x in items[1:]:
            w = Worker(fn)
            workers.append(w)
            w.send(x)
        first = fn(items[0])
        return [first, *(w.receive() for w in workers)]
    finally:
        for w in workers:
            w.close()


class Worker:
    """A child process forked at construction that answers requests one by one, in order,
    with ``serve`` (run on the parent's memory as it was at the fork and on what the
    requests before changed in the child). Where :func:`can_fork` says no (or with
    ``parallel`` false), ``serve`` runs here when a request is sent: the same requests in the
    same order give the same answers either way. Use as a context manager (the child ends
    on exit)."""

    def __init__(self, serve: Callable[[Any], Any], parallel: bool = True) -> None:
        self._serve = serve
        self._inline: list[Any] = []
        self._pid: int | None = None
        if not (parallel and can_fork()):
            return
        r_req, w_req = os.pipe()
        r_res, w_res = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            # no fork here (out of processes or memory): served here, the same answers
            for fd in (r_req, w_req, r_res, w_res):
                os.close(fd)
            return
        if pid == 0:  # pragma: no cover - the child; its answers are checked in the parent
            code = 0
            try:
                for fd in (w_req, r_res, *_parent_fds):
                    os.close(fd)
                with os.fdopen(r_req, "rb") as inp, os.fdopen(w_res, "wb") as out:
                    while True:
                        try:
                            request = pickle.load(inp)
                        except EOFError:
                            break
                        try:
                            answer: tuple[bool, Any] = (True, serve(request))
                        except BaseException as e:  # every failure goes back to the parent
                            answer = (False, f"{type(e).__name__}: {e}")
                        pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
                        out.flush()
            except BaseException:  # the parent sees the missing answer
                code = 1
            finally:
                os._exit(code)
        os.close(r_req)
        os.close(w_res)
        self._pid = pid
        _parent_fds.update((w_req, r_res))
        self._fds = (w_req, r_res)
        self._out = os.fdopen(w_req, "wb")
        self._in = os.fdopen(r_res, "rb")

    @property
    def forked(self) -> bool:
        """Whether the requests go to a child process."""
        return self._pid is not None

    def send(self, request: Any) -> None:
        """Hands ``request`` to the worker (its answer comes from :meth:`receive`)."""
        if self._pid is None:
            self._inline.append(self._serve(request))
            return
        pickle.dump(request, self._out, protocol=pickle.HIGHEST_PROTOCOL)
        self._out.flush()

    def receive(self) -> Any:
        """The answer to the oldest request not yet received."""
        if self._pid is None:
            return self._inline.pop(0)
        try:
            ok, value = pickle.load(self._in)
        except EOFError:
            raise InternalError("a forked worker ended without an answer") from None
        if not ok:
            raise InternalError(f"a forked worker failed: {value}")
        return value

    def close(self) -> None:
        """Ends the child (after the answers sent so far; unread ones are dropped)."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        _parent_fds.difference_update(self._fds)
        self._out.close()
        self._in.close()
        os.waitpid(pid, 0)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
