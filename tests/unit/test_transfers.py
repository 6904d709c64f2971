"""Person transfers (herkomst._hypercubes.transfers) on hand-worked releases.

A withheld entity's size is not published, so its cells can move against a partner of the
same policy domain: people go from the partner to the entity with every row and origin they
count in. The cells come from the plain-Python tabulator of tests/cellmaker.py; the expected
points are worked out by hand from the people below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from herkomst._cells import build_structure, build_units
from herkomst._hypercubes import Points, Scene, check, transfers

from ..cellmaker import make_cells, sex_origin_people

Key = tuple[str, str, str]  # (entity, row: "total" or the sex, origin column)


class _Release:
    """Cells of `total` and `sex` (one definition); the entities' cells hidden (lower bound
    0, no upper bound) but for ``published`` ones."""

    def __init__(
        self, people: list[dict[str, Any]], breakdowns: tuple[str, ...] = ("total", "sex"),
        published: set[Key] | None = None,
    ) -> None:  # fmt: skip
        self.view = make_cells(people, definitions=("eu15",), breakdowns=breakdowns)
        self.s = build_structure(self.view)
        self.units = build_units(self.view, self.s)
        self.q_of: dict[Key, int] = {}
        self.truth = np.zeros(self.s.n_q)
        self.hidden = np.zeros(self.s.n_q, dtype=bool)
        for i, r in enumerate(self.view.to_pylist()):
            q = int(self.s.qid[i])
            self.truth[q] = r["count"]
            if r["scope"] == "entity" and r["breakdown"] in ("total", "sex"):
                row = "total" if r["breakdown"] == "total" else r["sex"]
                self.q_of[(r["entity"], row, r["origin"])] = q
                self.hidden[q] = True
        for key in published or set():
            self.hidden[self.q_of[key]] = False
        self.lb = np.where(self.hidden, 0.0, self.truth)
        self.ub = np.where(self.hidden, np.inf, self.truth)

    def transfers(self, key: Key, lo: float, hi: float) -> Points:
        q = np.array([self.q_of[key]], dtype=np.int64)
        return transfers(self.scene(), q, np.array([lo]), np.array([hi]))

    def scene(self) -> Scene:
        return Scene.of(self.view, self.s, self.units, self.hidden, self.truth, self.lb, self.ub)

    def moves(self, pts: Points, j: int) -> dict[Key, float]:
        name = {q: k for k, q in self.q_of.items()}
        seg = slice(int(pts.ptr[j]), int(pts.ptr[j + 1]))
        return {name[int(q)]: float(d) for q, d in zip(pts.idx[seg], pts.dev[seg], strict=True)}

    def ok(self, pts: Points) -> bool:
        return bool(check(self.s, self.hidden, self.truth, self.lb, self.ub, pts).all())


def _person(entity: str, sex: str, n: float) -> dict[Key, float]:
    """The cells a person of origin `outside` and sex ``sex`` counts in, times ``n``."""
    return {
        (entity, row, col): n for row in ("total", sex) for col in ("total", "outside")
    }  # fmt: skip


W = {("F", "inside"): 2, ("M", "inside"): 3}


def test_a_person_moves_from_the_partner_with_most_room_then_from_another() -> None:
    """(W, F, outside) = 0 reaches 3: three persons (F, outside) come from B (room 6: its
    F-outside cell), the first witness; the second uses another partner, A (room 4)."""
    a = {("F", "outside"): 4, ("M", "inside"): 10, ("F", "inside"): 5}
    b = {("F", "outside"): 6, ("M", "inside"): 8, ("M", "outside"): 3}
    rel = _Release(
        sex_origin_people("W", W) + sex_origin_people("A", a) + sex_origin_people("B", b)
    )
    pts = rel.transfers(("W", "F", "outside"), np.nan, 3.0)
    assert pts.n == 2
    assert rel.moves(pts, 0) == {**_person("W", "F", 3.0), **_person("B", "F", -3.0)}
    assert rel.moves(pts, 1) == {**_person("W", "F", 3.0), **_person("A", "F", -3.0)}
    assert rel.ok(pts)


def test_the_source_leaves_from_another_row_and_a_mover_changes_rows() -> None:
    """No partner can give a (F, outside) person: A has none, B's total row is published.
    A gives two (M, outside) persons and B moves two outside persons from F to M (its sex
    rows only): W gains two (F, outside), the domain's cells do not move."""
    a = {("M", "outside"): 3, ("F", "inside"): 5}
    b = {("F", "outside"): 4, ("M", "outside"): 2, ("F", "inside"): 3, ("M", "inside"): 6}
    total_b = {("B", "total", c) for c in ("total", "inside", "outside")}
    rel = _Release(
        sex_origin_people("W", W) + sex_origin_people("A", a) + sex_origin_people("B", b),
        published=total_b,
    )
    pts = rel.transfers(("W", "F", "outside"), np.nan, 2.0)
    assert pts.n == 1
    want = {**_person("W", "F", 2.0), **_person("A", "M", -2.0)}
    want.update({("B", "M", "total"): 2.0, ("B", "M", "outside"): 2.0})
    want.update({("B", "F", "total"): -2.0, ("B", "F", "outside"): -2.0})
    assert rel.moves(pts, 0) == want
    assert rel.ok(pts)


def test_bounds_bind() -> None:
    """With the target's upper bound at 1 (what the attacker knows), 2 is out of reach; a
    published cell of the only partner leaves nothing to move."""
    a = {("F", "outside"): 4, ("M", "inside"): 10}
    rel = _Release(sex_origin_people("W", W) + sex_origin_people("A", a))
    rel.ub[rel.q_of[("W", "F", "outside")]] = 1.0
    assert rel.transfers(("W", "F", "outside"), np.nan, 2.0).n == 0
    rel2 = _Release(
        sex_origin_people("W", W) + sex_origin_people("A", a), published={("A", "F", "outside")}
    )
    assert rel2.transfers(("W", "F", "outside"), np.nan, 2.0).n == 0


def test_downwards_and_not_with_an_all_table() -> None:
    """(W, M, inside) = 3 goes to 1 by sending two (M, inside) persons to A; with an `all`
    table the rows would have to make a combination row: nothing is proposed."""
    a = {("F", "outside"): 4, ("M", "inside"): 10}
    rel = _Release(sex_origin_people("W", W) + sex_origin_people("A", a))
    pts = rel.transfers(("W", "M", "inside"), 1.0, np.nan)
    cells = {(e, row, c): s for e, s in (("W", -2.0), ("A", 2.0))
             for row in ("total", "M") for c in ("total", "inside")}  # fmt: skip
    assert pts.n == 1
    assert rel.moves(pts, 0) == cells
    assert rel.ok(pts)
    rel_all = _Release(
        sex_origin_people("W", W) + sex_origin_people("A", a), breakdowns=("total", "sex", "all")
    )
    assert rel_all.transfers(("W", "M", "inside"), 1.0, np.nan).n == 0


def test_an_exchange_when_the_partner_size_is_published() -> None:
    """A's `total` column is published, so no person can leave it; W and A can still swap
    persons: W gains two (F, outside) and loses two (F, inside), A the other way round, in
    the total row and the F row (origin columns only)."""
    a = {("F", "outside"): 3, ("M", "inside"): 4}
    totals = {("A", row, "total") for row in ("total", "F", "M")}
    rel = _Release(sex_origin_people("W", W) + sex_origin_people("A", a), published=totals)
    pts = rel.transfers(("W", "F", "outside"), np.nan, 2.0)
    assert pts.n == 1
    want = {
        (e, row, col): s * (1.0 if col == "outside" else -1.0)
        for e, s in (("W", 2.0), ("A", -2.0))
        for row in ("total", "F")
        for col in ("outside", "inside")
    }
    assert rel.moves(pts, 0) == want
    assert rel.ok(pts)
    # a `total` cell is not moved by an exchange: nothing to propose for W's F total
    assert rel.transfers(("W", "F", "total"), np.nan, 5.0).n == 0
