"""Hypercube witnesses (herkomst._hypercubes) on hand-worked releases.

The cells come from the plain-Python tabulator of tests/cellmaker.py; the expected points are
worked out by hand from the people below, and the checker is shown to reject every way a
point can be wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from herkomst._cells import build_structure, build_units
from herkomst._hypercubes import Points, Scene, check, propose

from ..cellmaker import make_cells, sex_origin_people

E1 = {("F", "outside"): 2, ("F", "inside"): 5, ("M", "outside"): 6, ("M", "inside"): 7}
E2 = {("F", "outside"): 6, ("F", "inside"): 5, ("M", "outside"): 6, ("M", "inside"): 5}
# the eight cells of the hypercube {E1, E2} x {F, M} x {outside, inside}, sign of each for a
# move of the target (E1, F, outside) upwards
CUBE = {
    ("E1", "F", "outside"): 1, ("E1", "F", "inside"): -1,
    ("E1", "M", "outside"): -1, ("E1", "M", "inside"): 1,
    ("E2", "F", "outside"): -1, ("E2", "F", "inside"): 1,
    ("E2", "M", "outside"): 1, ("E2", "M", "inside"): -1,
}  # fmt: skip


class _Release:
    """Cells of `total` and `sex` (one definition) with the given cells hidden."""

    def __init__(self, people: list[dict[str, Any]], hide: set[tuple[str, str, str]]) -> None:
        self.view = make_cells(people, definitions=("eu15",), breakdowns=("total", "sex"))
        self.s = build_structure(self.view)
        self.units = build_units(self.view, self.s)
        rows = self.view.to_pylist()
        self.q_of: dict[tuple[str, str, str], int] = {}
        self.truth = np.zeros(self.s.n_q)
        for i, r in enumerate(rows):
            q = int(self.s.qid[i])
            self.truth[q] = r["count"]
            if r["scope"] == "entity" and r["breakdown"] == "sex":
                self.q_of[(r["entity"], r["sex"], r["origin"])] = q
        self.hidden = np.zeros(self.s.n_q, dtype=bool)
        for key in hide:
            self.hidden[self.q_of[key]] = True
        self.lb = np.where(self.hidden, 0.0, self.truth)
        self.ub = np.where(self.hidden, np.inf, self.truth)

    def propose(self, key: tuple[str, str, str], lo: float, hi: float) -> Points:
        q = np.array([self.q_of[key]], dtype=np.int64)
        return propose(self.scene(), q, np.array([lo]), np.array([hi]))

    def scene(self) -> Scene:
        return Scene.of(self.view, self.s, self.units, self.hidden, self.truth, self.lb, self.ub)

    def moves(self, pts: Points, j: int) -> dict[tuple[str, str, str], float]:
        name = {q: k for k, q in self.q_of.items()}
        seg = slice(int(pts.ptr[j]), int(pts.ptr[j + 1]))
        return {name[int(q)]: float(d) for q, d in zip(pts.idx[seg], pts.dev[seg], strict=True)}


def _release(hide: set[tuple[str, str, str]] | None = None) -> _Release:
    return _Release(
        sex_origin_people("E1", E1) + sex_origin_people("E2", E2),
        set(CUBE) if hide is None else hide,
    )


def test_the_hypercube_is_the_hand_worked_point() -> None:
    """(E1, F, outside) = 2 reaches 4 by moving the eight cells of the cube by 2 and 1 by
    moving them by 1 the other way; nothing else can move (every other cell is published)."""
    rel = _release()
    pts = rel.propose(("E1", "F", "outside"), 1.0, 4.0)
    got = {float(pts.goal[j]): rel.moves(pts, j) for j in range(pts.n)}
    assert got == {
        4.0: {k: 2.0 * s for k, s in CUBE.items()},
        1.0: {k: -1.0 * s for k, s in CUBE.items()},
    }
    assert check(rel.s, rel.hidden, rel.truth, rel.lb, rel.ub, pts).all()


def test_check_rejects_every_wrong_point() -> None:
    rel = _release()
    pts = rel.propose(("E1", "F", "outside"), np.nan, 4.0)
    assert pts.n == 1

    def with_(**kw: Any) -> Points:
        f = {k: getattr(pts, k).copy() for k in ("q", "goal", "ptr", "idx", "dev")}
        f.update(kw)
        return Points(**f)

    dropped = with_(idx=pts.idx[:-1], dev=pts.dev[:-1], ptr=np.array([0, pts.idx.size - 1]))
    other_goal = with_(goal=np.array([3.0]))
    published = rel.hidden.copy()
    published[rel.q_of[("E2", "M", "inside")]] = False
    tight_lb = rel.lb.copy()
    tight_lb[rel.q_of[("E1", "M", "outside")]] = 5.0  # 6 - 2 = 4 < 5
    verdicts = {
        "as proposed": bool(check(rel.s, rel.hidden, rel.truth, rel.lb, rel.ub, pts)[0]),
        "a cell dropped (a relation broken)": bool(
            check(rel.s, rel.hidden, rel.truth, rel.lb, rel.ub, dropped)[0]
        ),
        "another goal": bool(check(rel.s, rel.hidden, rel.truth, rel.lb, rel.ub, other_goal)[0]),
        "a moved cell published": bool(check(rel.s, published, rel.truth, rel.lb, rel.ub, pts)[0]),
        "a bound crossed": bool(check(rel.s, rel.hidden, rel.truth, tight_lb, rel.ub, pts)[0]),
    }
    assert verdicts == {
        "as proposed": True,
        "a cell dropped (a relation broken)": False,
        "another goal": False,
        "a moved cell published": False,
        "a bound crossed": False,
    }


def test_bounds_bind_and_steps_add_up() -> None:
    """A corner at 1 with a 1-5 label (floor 1) cannot go down: no point upwards. With room
    for one step only in each of two cubes (two partners), the point is their sum."""
    rel = _release()
    rel.lb[rel.q_of[("E1", "F", "inside")]] = 5.0  # its label's floor: it cannot go down
    assert rel.propose(("E1", "F", "outside"), np.nan, 4.0).n == 0
    # three entities: E2 and E3 each give room for one step only
    e2 = {("F", "outside"): 1, ("F", "inside"): 5, ("M", "outside"): 6, ("M", "inside"): 5}
    e3 = dict(e2)
    people = sex_origin_people("E1", E1) + sex_origin_people("E2", e2) + sex_origin_people("E3", e3)
    cells = {(e, sx, o) for e in ("E1", "E2", "E3") for sx in "FM" for o in ("inside", "outside")}
    rel3 = _Release(people, cells)
    for e in ("E2", "E3"):
        rel3.lb[rel3.q_of[(e, "F", "outside")]] = 0.0  # 1 -> 0 allowed
    pts = rel3.propose(("E1", "F", "outside"), np.nan, 4.0)
    assert pts.n >= 1
    first = rel3.moves(pts, 0)
    assert first[("E1", "F", "outside")] == 2.0
    assert first[("E2", "F", "outside")] == -1.0
    assert first[("E3", "F", "outside")] == -1.0
    assert check(rel3.s, rel3.hidden, rel3.truth, rel3.lb, rel3.ub, pts).all()


def test_two_points_with_disjoint_partners_serve_every_official() -> None:
    """With three entities, the target's two points move disjoint partners (E2, then E3), so
    every official other than the target's own has one that leaves his cells alone."""
    people = sex_origin_people("E1", E1) + sex_origin_people("E2", E2) + sex_origin_people("E3", E2)
    cells = {(e, sx, o) for e in ("E1", "E2", "E3") for sx in "FM" for o in ("inside", "outside")}
    rel = _Release(people, cells)
    pts = rel.propose(("E1", "F", "outside"), np.nan, 4.0)
    partners = [{k[0] for k in rel.moves(pts, j)} - {"E1"} for j in range(pts.n)]
    assert partners == [{"E2"}, {"E3"}]
    assert check(rel.s, rel.hidden, rel.truth, rel.lb, rel.ub, pts).all()


def test_nothing_is_proposed_for_published_neighbours() -> None:
    rel = _release(hide={("E1", "F", "outside")})
    assert rel.propose(("E1", "F", "outside"), 1.0, 4.0).n == 0


def test_empty_target_list() -> None:
    rel = _release()
    pts = propose(rel.scene(), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    assert pts.n == 0
    assert check(rel.s, rel.hidden, rel.truth, rel.lb, rel.ub, pts).shape == (0,)
