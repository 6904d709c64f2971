"""The propagated outer bounds of the protection limit contain the exact limit (LPs)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from herkomst import audit as A
from herkomst._cells import build_structure
from herkomst.authorization import load_authorization

from ..cellmaker import every_table, make_cells, random_persons
from .test_audit_attacks import _naive, _people

AUTH = every_table(load_authorization())
RULES = AUTH.public


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_outer_limit_contains_exact_limit(seed: int) -> None:
    ents = {"E1": "D1", "E2": "D1", "E3": "D1", "E4": "D2", "E5": "D2"}
    people = random_persons(random.Random(seed), 160, ents, weights=[40, 30, 3, 20, 7])
    view = _naive(make_cells(people, breakdowns=("total", "sex")))
    s = build_structure(view)
    base = A._knowledge(view, s, RULES)
    relaxable = base.known & (base.value >= RULES.hidden_lower) & (base.value > 0)
    relaxable[A._grand_total(view, s)] = False
    lo, hi = A.limit_outer_bounds(s, base, relaxable, RULES)
    # the exact limit, by two LPs per quantity of the relaxed problem (as _limit_recheck)
    rel = relaxable & base.known
    k2 = A._Knowledge(base.known & ~rel, base.value.copy(), base.lb.copy(), base.ub.copy())
    k2.lb[rel] = float(RULES.hidden_lower)
    k2.ub[rel] = np.inf
    k2.value[rel] = np.nan
    targets = np.nonzero(~base.known | rel)[0].astype(np.int64)
    assert targets.size > 20
    n = targets.size
    e_lo, e_hi, ex = A._intervals(
        s, k2, targets, np.zeros(n), np.ones(n), True, A._Stats()
    )  # fmt: skip
    assert ex.all()
    assert (lo[targets] <= e_lo + 1e-6).all()
    assert (hi[targets] >= e_hi - 1e-6).all()
    # and the bounds are not vacuous: the labels and zeros tighten some of them
    assert np.isfinite(hi[targets]).any()


def test_narrow_to_limit_only_tightens() -> None:
    cap = np.array([4.0, np.inf, 3.0])
    floor = np.array([1.0, 0.0, 2.0])
    c, f = A.narrow_to_limit(cap, floor, np.array([0.0, 2.2, 2.0]), np.array([9.0, 6.7, 2.5]))
    assert c.tolist() == [4.0, 6.0, 2.0]
    assert f.tolist() == [1.0, 3.0, 2.0]


def test_block_partners_hold_the_same_key() -> None:
    """An entity cell's partners are the domain's entities with a non-zero cell of the same
    key, most room first: E2 (nobody outside the EU-15) is never a partner of E1's
    `outside` cell; E3 (9 people outside, room both ways as an x) comes before E4 (1 person,
    a 1-5 cell that cannot go down)."""
    people = (
        _people(2, "E1", "D", "outside")
        + _people(60, "E1", "D", "inside")
        + _people(70, "E2", "D", "inside")
        + _people(9, "E3", "D", "outside")
        + _people(60, "E3", "D", "inside")
        + _people(1, "E4", "D", "outside")
        + _people(60, "E4", "D", "inside")
    )
    view = _naive(make_cells(people, definitions=("eu15",), breakdowns=("total",)))
    s = build_structure(view)
    base = A._knowledge(view, s, RULES)
    units = A.build_units(view, s)
    truth = A._truth_by_quantity(
        make_cells(people, definitions=("eu15",), breakdowns=("total",)), s
    )
    ent = A._str_col(view, "entity")
    org = A._str_col(view, "origin")
    row = next(i for i in range(view.num_rows) if ent[i] == "E1" and org[i] == "outside")
    q = int(s.qid[row])
    room = A._Room(~base.known, truth, units, base.lb, base.ub, float(RULES.hidden_lower))
    mates = A._siblings(s, A._sibling_relations(s), q, room)
    assert [units.name[m] for m in mates] == ["E3", "E4"]


@pytest.mark.parametrize("seed", [4, 5])
def test_insider_limit_contains_exact_insider_limit(seed: int) -> None:
    """The insider's outer limit of the other entities' cells of his domain (the domain cell
    minus the others, his own known) contains his exact limit (two LPs per cell)."""
    ents = {"E1": "D1", "E2": "D1", "E3": "D1", "E4": "D2", "E5": "D2"}
    people = random_persons(random.Random(seed), 160, ents, weights=[40, 30, 6, 20, 7])
    cells = make_cells(people, breakdowns=("total", "sex"))
    view = _naive(cells)
    s = build_structure(view)
    base = A._knowledge(view, s, RULES)
    units = A.build_units(view, s)
    truth = np.nan_to_num(A._truth_by_quantity(cells, s), nan=0.0)
    relaxable = base.known & (base.value >= RULES.hidden_lower) & (base.value > 0)
    relaxable[A._grand_total(view, s)] = False
    lim = A._InsiderLimit(s, units, base, relaxable, truth, RULES)
    rel = relaxable & base.known
    checked = narrowed = 0
    for name in ("E1", "E2"):
        f = units.name.index(name)
        own = (units.q_unit == f) & ~base.known
        k2 = A._Knowledge(base.known & ~rel, base.value.copy(), base.lb.copy(), base.ub.copy())
        k2.lb[rel] = float(RULES.hidden_lower)
        k2.ub[rel] = np.inf
        k2.value[rel] = np.nan
        k2.known = k2.known | own
        k2.value[own] = k2.lb[own] = k2.ub[own] = truth[own]
        others = (units.level[units.q_unit] == A.LEVEL_ENTITY) & (units.q_unit != f)
        same = units.domain[units.q_unit] == units.domain[f]
        targets = np.nonzero(~base.known & others & same)[0].astype(np.int64)
        n = targets.size
        e_lo, e_hi, ex = A._intervals(s, k2, targets, np.zeros(n), np.ones(n), True, A._Stats())
        assert ex.all()
        for j, q in enumerate(targets.tolist()):
            a, b = lim.interval(q, f)
            assert a <= e_lo[j] + 1e-6, (name, q, a, e_lo[j])
            assert b >= e_hi[j] - 1e-6, (name, q, b, e_hi[j])
            checked += 1
            narrowed += int(b < base.ub[q] - 1e-6 or a > base.lb[q] + 1e-6)
    assert checked > 10
    assert narrowed > 0


def test_block_pass_one_agrees_with_block_pass() -> None:
    """The scalar requirement of the insiders' loop is the vectorised one, value for value:
    every kind, on a grid of intervals, requirement ends, caps and floors, under the default
    rules and with each requirement switched off and zeros sensitive."""
    from dataclasses import replace

    from herkomst.authorization import Requirement

    variants = [RULES, replace(RULES, zeros_sensitive=True)] + [
        replace(RULES, requirement=replace(Requirement(), **{flag: False}))
        for flag in ("small_full_range", "withheld_not_pinned", "withheld_small_full_range")
    ]
    vals = [0.0, 1.0, 2.5, 4.0, 5.0, 7.0]
    grid = np.array(
        [
            (k, lo, hi, rl, rh, cap, fl)
            for k in (0, 1, 2)
            for lo in vals
            for hi in vals
            for rl in (1.0, 2.0, 4.0)
            for rh in (1.0, 3.0, 4.0)
            for cap in (0.0, 3.0, 49.0)
            for fl in (0.0, 1.0, 5.0)
            if lo <= hi
        ]
    )
    for rules in variants:
        vec = A._block_pass(
            grid[:, 0].astype(np.int64), grid[:, 1], grid[:, 2], grid[:, 3], grid[:, 4],
            grid[:, 5], grid[:, 6], rules,
        )  # fmt: skip
        one = [A._block_pass_one(int(r[0]), *map(float, r[1:]), rules) for r in grid]
        assert vec.tolist() == one
        assert 0 < sum(one) < len(one)  # both outcomes occur


def test_partner_domains_hold_the_same_key_with_room() -> None:
    """The two-domain tiers' partners of an entity cell are the other policy domains whose
    cell of the same key can give way, most room first (at most 3 counts), then by unit:
    for E1's `outside` cell going up, D2 (9 people outside) and D5 (12) tie at 3 and come in
    unit order before D4 (2); D3 (nobody outside) cannot go down. The room function is asked
    about exactly the other domains' `outside` cells; an administration cell has none."""
    people = (
        _people(2, "E1", "D1", "outside") + _people(60, "E1", "D1", "inside")
        + _people(9, "E2", "D2", "outside") + _people(60, "E2", "D2", "inside")
        + _people(70, "E3", "D3", "inside")
        + _people(2, "E4", "D4", "outside") + _people(60, "E4", "D4", "inside")
        + _people(12, "E5", "D5", "outside") + _people(60, "E5", "D5", "inside")
    )  # fmt: skip
    cells = make_cells(people, definitions=("eu15",), breakdowns=("total",))
    view = _naive(cells)
    s = build_structure(view)
    units = A.build_units(view, s)
    truth = A._truth_by_quantity(cells, s)
    ent = A._str_col(view, "entity")
    org = A._str_col(view, "origin")
    scope = A._str_col(view, "scope")
    dom = A._str_col(view, "policy_domain")
    row = next(i for i in range(view.num_rows) if ent[i] == "E1" and org[i] == "outside")
    asked: list[int] = []

    def room(qs: np.ndarray) -> np.ndarray:  # the partner goes down by what the target gains
        asked.extend(qs.tolist())
        out: np.ndarray = truth[qs]
        return out

    maps = A.partner_maps(s)
    got = A.partner_domains(s, units, maps, int(s.qid[row]), room)
    assert [units.name[u] for u in got] == ["D2", "D5", "D4"]
    expect = {
        int(s.qid[i]) for i in range(view.num_rows)
        if scope[i] == "policy_domain" and org[i] == "outside" and dom[i] != "D1"
    }  # fmt: skip
    assert set(asked) == expect
    assert len(expect) == 4
    adm = next(
        i for i in range(view.num_rows) if scope[i] == "administration" and org[i] == "outside"
    )  # fmt: skip
    assert A.partner_domains(s, units, maps, int(s.qid[adm]), room) == []
