"""Work on more than one core (herkomst._parallel) and the witness families cut into parts
(herkomst._hypercubes.in_parts): the same results as one call in one process."""

from __future__ import annotations

import os
import random
import threading

import numpy as np
import pytest

from herkomst import _hypercubes
from herkomst._cells import build_structure, build_units
from herkomst._highs import map_independent
from herkomst._hypercubes import Points, Scene, check, in_parts, propose, transfers
from herkomst._parallel import Worker, can_fork, map_forked
from herkomst.errors import InternalError

from ..cellmaker import make_cells, random_persons


def _square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_results_in_order_and_children_are_other_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")
    got = map_forked(_square, [3, 4, 5])
    assert [v for v, _ in got] == [9, 16, 25]
    pids = [p for _, p in got]
    assert pids[0] == os.getpid()
    if can_fork():
        # each item after the first in its own child
        assert len(set(pids)) == 3
    else:  # pragma: no cover - a platform without fork or a single core
        assert set(pids) == {os.getpid()}


def test_one_process_when_told_or_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")
    assert {p for _, p in map_forked(_square, [1, 2], parallel=False)} == {os.getpid()}
    monkeypatch.setenv("HERKOMST_LP_THREADS", "1")
    assert not can_fork()
    assert map_forked(_square, [1, 2]) == [(1, os.getpid()), (4, os.getpid())]


def test_not_from_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # a fork from a thread would leave the other threads' locks behind in the child
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")
    out: list[list[tuple[int, int]]] = []
    t = threading.Thread(target=lambda: out.append(map_forked(_square, [1, 2])))
    t.start()
    t.join()
    assert out == [[(1, os.getpid()), (4, os.getpid())]]


def _fails_on_two(x: int) -> int:
    if x == 2:
        raise ValueError("two is not allowed")
    return x


def test_a_child_s_failure_is_raised_in_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")
    with pytest.raises((InternalError, ValueError), match="two is not allowed"):
        map_forked(_fails_on_two, [1, 2])
    if can_fork():
        with pytest.raises(InternalError, match="forked worker failed: ValueError"):
            map_forked(_fails_on_two, [1, 2])


def _scene() -> tuple[Scene, np.ndarray, np.ndarray, np.ndarray]:
    """A random release of four entities (two policy domains) with every entity cell of
    `total` and `sex` hidden, and as targets every hidden cell, one goal above and one
    below the truth where the bounds allow."""
    people = random_persons(random.Random(3), 160, {"E1": "D1", "E2": "D1", "E3": "D2", "E4": "D2"})
    view = make_cells(people, definitions=("eu15",), breakdowns=("total", "sex"))
    s = build_structure(view)
    units = build_units(view, s)
    truth = np.zeros(s.n_q)
    hidden = np.zeros(s.n_q, dtype=bool)
    for i, r in enumerate(view.to_pylist()):
        q = int(s.qid[i])
        truth[q] = r["count"]
        hidden[q] = r["scope"] == "entity" and r["breakdown"] in ("total", "sex")
    lb = np.where(hidden, 0.0, truth)
    ub = np.where(hidden, np.inf, truth)
    sc = Scene.of(view, s, units, hidden, truth, lb, ub)
    tq = np.nonzero(hidden)[0].astype(np.int64)
    lo = np.where(truth[tq] >= 1, truth[tq] - 1, np.nan)
    hi = truth[tq] + 2
    return sc, tq, lo, hi


def _as_set(pts: Points) -> set[tuple[int, float, tuple[tuple[int, float], ...]]]:
    out = set()
    for j in range(pts.n):
        a, b = int(pts.ptr[j]), int(pts.ptr[j + 1])
        moves = tuple(zip(pts.idx[a:b].tolist(), pts.dev[a:b].tolist(), strict=True))
        out.add((int(pts.q[j]), float(pts.goal[j]), moves))
    return out


@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_parts_give_the_points_of_one_call(
    monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    monkeypatch.setenv("HERKOMST_LP_THREADS", threads)
    monkeypatch.setattr(_hypercubes, "FORK_TARGETS", 0)
    sc, tq, lo, hi = _scene()
    one_t = transfers(sc, tq, lo, hi)
    parts_t = in_parts(transfers, sc, tq, lo, hi)
    assert one_t.n > 10
    # transfers: the same points in the same order
    for field in ("q", "goal", "ptr", "idx", "dev"):
        assert np.array_equal(getattr(one_t, field), getattr(parts_t, field)), field
    # propose: the same points, grouped by part
    one_p = propose(sc, tq, lo, hi)
    parts_p = in_parts(propose, sc, tq, lo, hi)
    assert one_p.n > 10
    assert parts_p.n == one_p.n
    assert _as_set(parts_p) == _as_set(one_p)
    assert check(sc.s, sc.hidden, sc.truth, sc.lb, sc.ub, parts_p).all()
    # no target: no point
    none = in_parts(propose, sc, tq[:0], lo[:0], hi[:0])
    assert none.n == 0
    assert none.ptr.tolist() == [0]


class _Tally:
    """A worker's state: what it was sent so far (in the child, its own copy)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def serve(self, x: int) -> tuple[list[int], int]:
        if x < 0:
            raise ValueError("negative")
        self.seen.append(x)
        return list(self.seen), os.getpid()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_worker_answers_in_order_and_keeps_its_state(
    monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    monkeypatch.setenv("HERKOMST_LP_THREADS", threads)
    tally = _Tally()
    with Worker(tally.serve) as w:
        assert w.forked == can_fork()
        w.send(1)
        w.send(2)  # two in hand at once
        first, pid = w.receive()
        second, _ = w.receive()
        w.send(3)
        third, _ = w.receive()
    # the same answers in a child or here, one request after the other
    assert (first, second, third) == ([1], [1, 2], [1, 2, 3])
    assert (pid != os.getpid()) == can_fork()
    # a child's requests change the child's state only
    assert tally.seen == ([] if can_fork() else [1, 2, 3])


def test_a_worker_s_failure_and_an_unread_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")
    if not can_fork():  # pragma: no cover - a platform without fork or a single core
        pytest.skip("no fork here")
    w = Worker(_Tally().serve)
    w.send(-1)
    with pytest.raises(InternalError, match="forked worker failed: ValueError: negative"):
        w.receive()
    # it goes on serving after a failure; an answer not read is dropped at the end
    w.send(4)
    assert w.receive()[0] == [4]
    w.send(5)
    w.close()
    w.close()  # twice is harmless


def test_a_refused_fork_serves_here(monkeypatch: pytest.MonkeyPatch) -> None:
    # out of processes or memory: the requests are served in this process, same answers
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")

    def refuse() -> int:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    tally = _Tally()
    with Worker(tally.serve) as w:
        assert not w.forked
        w.send(7)
        assert w.receive() == ([7], os.getpid())
    assert map_forked(_square, [2, 3]) == [(4, os.getpid()), (9, os.getpid())]


def _doubled_in_threads(xs: list[int]) -> list[int]:
    return map_independent(lambda x: 2 * x, xs)


def test_a_child_may_use_the_lp_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # the parent's pool of LP threads exists, but not its threads in a forked child: the
    # child starts a pool of its own (it would wait for ever on the parent's)
    monkeypatch.setenv("HERKOMST_LP_THREADS", "2")
    assert map_independent(lambda x: x + 1, [1, 2, 3]) == [2, 3, 4]
    assert map_forked(_doubled_in_threads, [[1, 2], [3, 4, 5]]) == [[2, 4], [6, 8, 10]]
