"""Public releases of random small populations pass an audit written apart from suppression.

Each example draws a small staff (plain-Python cells of :mod:`tests.cellmaker`, independent
of herkomst.tabulate), protects it for the public with :func:`herkomst.protect.protect_public`
and audits the result with :func:`herkomst.audit.audit` in exact mode, for the public and for
every entity's leading official (insider). The audit rebuilds the relations from the cell keys
and knows nothing of how the cells were chosen.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from herkomst.audit import AuditResult, audit, withheld_in_manifest
from herkomst.authorization import load_authorization
from herkomst.protect import protect_public

from ..cellmaker import every_table, make_cells, random_persons

AUTH = every_table(load_authorization())
ENTITIES = {"E1": "D1", "E2": "D1", "E3": "D1", "E4": "D2", "E5": "D2"}


def _cells(seed: int, n: int, weights: list[int]) -> pa.Table:
    rng = random.Random(seed)
    persons = random_persons(rng, n, ENTITIES, weights=weights)
    return make_cells(persons, breakdowns=("total", "sex"))


POPULATIONS = {
    "seed": st.integers(0, 10_000),
    "n": st.integers(120, 260),
    "weights": st.lists(st.integers(1, 40), min_size=5, max_size=5),
}


@settings(
    max_examples=1, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(**POPULATIONS)
def test_public_release_passes_an_independent_audit(seed: int, n: int, weights: list[int]) -> None:
    _check_public(seed, n, weights)


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**POPULATIONS)
@example(seed=0, n=204, weights=[1, 1, 1, 1, 1])  # once passed the fast audit, not the exact
@example(seed=9999, n=120, weights=[1, 1, 1, 1, 1])  # needs a withheld policy domain (D2)
# E4's official pins a cell of the withheld domain D2 to E4's own count (E5 has nobody
# there): before it was judged as pinning a person, and no suppression could clear it
@example(seed=97, n=120, weights=[1, 1, 1, 1, 1])
def test_public_release_passes_an_independent_audit_many(
    seed: int, n: int, weights: list[int]
) -> None:
    _check_public(seed, n, weights)


def _check_public(seed: int, n: int, weights: list[int]) -> None:
    cells = _cells(seed, n, weights)
    published, summary, _ = protect_public(cells, AUTH, "public", attackers="all")
    withheld = withheld_in_manifest(summary)
    res = audit(published, cells, AUTH, attacker="all", withheld=withheld, exact=True)
    assert res.passed, res.failures.slice(0, 3).to_pylist()
    # what the public sees: no withheld entity, no count from 1 to 4, zeros shown as 0
    gone = {w["entity"] for w in summary["withheld_entities"]}
    assert not gone & set(pc.unique(published["entity"]).to_pylist())
    # a withheld policy domain's own cells are absent (its published entities stay)
    domains = published.filter(pc.equal(published["scope"], "policy_domain"))
    withheld_domains = {w["policy_domain"] for w in summary["withheld_domains"]}
    assert not withheld_domains & set(pc.unique(domains["policy_domain"]).to_pylist())
    counts = published["count"].to_numpy(zero_copy_only=False)
    shown = published["count"].drop_null().to_numpy()
    assert not ((shown >= 1) & (shown <= 4)).any()
    assert len(counts) == published.num_rows
    x = published.filter(pc.equal(published["shown"], "x"))
    truth = {
        tuple(r[c] for c in ("definition", "scope", "policy_domain", "entity", "breakdown",
                             "sex", "origin")): r["count"]
        for r in cells.to_pylist()
    }  # fmt: skip
    for r in x.to_pylist():
        key = tuple(
            r[c]
            for c in (
                "definition",
                "scope",
                "policy_domain",
                "entity",
                "breakdown",
                "sex",
                "origin",
            )
        )
        assert truth[key] >= 5  # an x is never a zero nor a small count


def test_under_protected_release_fails_the_audit() -> None:
    cells = _cells(3, 200, [40, 30, 3, 20, 7])
    published, summary, _ = protect_public(cells, AUTH, "public", attackers="public")
    # undo the complementary suppressions: only the 1-5 labels remain
    truth = cells.to_pylist()
    index = {tuple(r[c] for c in cells.column_names[:12]): r for r in truth}
    rows = published.to_pylist()
    for r in rows:
        if r["shown"] == "x":
            t = index[tuple(r[c] for c in published.column_names[:12])]
            r["count"], r["shown"], r["status"] = t["count"], str(t["count"]), "published"
    naive = pa.Table.from_pylist(rows, schema=published.schema)
    again, _, _ = protect_public(cells, AUTH, "public", attackers="public")
    assert again.equals(published)  # deterministic
    withheld = withheld_in_manifest(summary)
    assert audit(published, cells, AUTH, withheld=withheld).passed
    assert not audit(naive, cells, AUTH, withheld=withheld).passed


def test_protection_does_not_depend_on_the_row_order() -> None:
    """The engine returns cells in no fixed order (a multi-threaded query without ORDER BY):
    the same cells in another order give the same release."""
    cells = _cells(4, 200, [40, 30, 3, 20, 7])
    published, _, _ = protect_public(cells, AUTH, "public", attackers="all")
    order = list(range(cells.num_rows))
    random.Random(7).shuffle(order)
    shuffled = cells.take(pa.array(order))
    assert not shuffled.equals(cells)
    again, _, _ = protect_public(shuffled, AUTH, "public", attackers="all")
    assert again.equals(published)


def test_entity_release_holds_exactly_one_entity() -> None:
    cells = _cells(1, 150, [10, 10, 10, 10, 10])
    out, summary, _ = protect_public(cells, AUTH, "entity:E2")
    assert set(out["entity"].to_pylist()) == {"E2"}
    assert set(out["scope"].to_pylist()) == {"entity"}
    assert summary["personal_data"] is True
    exact = cells.filter(pc.fill_null(pc.equal(cells["entity"], "E2"), False))
    assert out["count"].to_pylist() == exact["count"].to_pylist()


# -- the block decomposition against the global exact audit ---------------------------------

BLOCK_ENTITIES = {
    "E1": "D1", "E2": "D1", "E3": "D1", "E4": "D2", "E5": "D2", "E6": "D3", "E7": "D3",
}  # fmt: skip


def _block_cells(seed: int) -> pa.Table:
    rng = random.Random(seed)
    weights = [rng.randint(1, 40) for _ in BLOCK_ENTITIES]
    persons = random_persons(rng, rng.randint(150, 300), BLOCK_ENTITIES, weights=weights)
    return make_cells(persons, breakdowns=("total", "sex"))


@settings(max_examples=1, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
@given(seed=st.integers(0, 10_000))
def test_block_release_passes_the_global_exact_audit(seed: int) -> None:
    """Releases protected by blocks (method="blocks") pass the global exact audit, for the
    public and every insider: the cross-check that the block argument is implemented right."""
    cells = _block_cells(seed)
    published, summary, result = protect_public(cells, AUTH, "public", method="blocks")
    assert result is not None
    assert result.passed
    assert result.summary["method"] == "blocks"
    withheld = withheld_in_manifest(summary)
    res = audit(published, cells, AUTH, attacker="all", withheld=withheld, exact=True)
    assert res.summary["method"] == "global"
    assert res.passed, res.failures.slice(0, 3).to_pylist()


@settings(max_examples=1, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
@given(seed=st.integers(0, 10_000), undo=st.floats(0.0, 1.0))
@example(seed=165, undo=0.05)
def test_block_audit_never_passes_what_the_global_audit_fails(seed: int, undo: float) -> None:
    """Under-protected releases (some complementary suppressions undone): every cell the
    block audit settles without the global LP passes the global exact audit, and both audits
    reach the same verdict."""
    cells = _block_cells(seed)
    published, summary, _ = protect_public(cells, AUTH, "public", method="blocks")
    weak = _weakened(published, cells, undo, random.Random(seed))
    withheld = withheld_in_manifest(summary)
    glob = audit(weak, cells, AUTH, attacker="all", withheld=withheld, exact=True)
    blk = audit(weak, cells, AUTH, attacker="all", withheld=withheld, method="blocks")
    assert blk.passed == glob.passed
    _assert_settles_no_failure(blk, glob, published.column_names[:12])


@settings(max_examples=1, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
@given(**POPULATIONS, undo=st.sampled_from([0.1, 0.3]))
@example(seed=2201, n=136, weights=[17, 8, 32, 29, 31], undo=0.3)
def test_fast_audit_never_passes_what_the_exact_audit_fails(
    seed: int, n: int, weights: list[int], undo: float
) -> None:
    """The global audit without ``exact`` settles a cell by its witnessed (inner) interval
    only with a condition that stays true as the interval widens. Judged by the full
    requirement instead, a withheld cell of E4 witnessed at 24 and 44 was "not small" for
    E1's official, while the official's exact interval is 2 to 49: it may be small and
    does not reach 1 (the example; 8 such pairs there, found by comparing the two audits)."""
    cells = _cells(seed, n, weights)
    published, summary, _ = protect_public(cells, AUTH, "public", attackers="all")
    weak = _weakened(published, cells, undo, random.Random(seed))
    withheld = withheld_in_manifest(summary)
    exact = audit(weak, cells, AUTH, attacker="all", withheld=withheld, exact=True)
    fast = audit(weak, cells, AUTH, attacker="all", withheld=withheld, method="global")
    assert not exact.passed  # the weakened release gives the test something to find
    keys = published.column_names[:12]

    def failed(res: AuditResult) -> set[tuple[Any, ...]]:
        return {(r["attacker"], *(r[c] for c in keys)) for r in res.failures.to_pylist()}

    assert failed(exact) <= failed(fast)


def _weakened(published: pa.Table, cells: pa.Table, undo: float, rng: random.Random) -> pa.Table:
    """The release with each complementary suppression undone (its true count published)
    with probability ``undo``."""
    keys = published.column_names[:12]
    truth = {tuple(r[c] for c in keys): r for r in cells.to_pylist()}
    rows = published.to_pylist()
    for r in rows:
        if r["shown"] == "x" and rng.random() < undo:
            t = truth[tuple(r[c] for c in keys)]
            r["count"], r["shown"], r["status"] = t["count"], str(t["count"]), "published"
    return pa.Table.from_pylist(rows, schema=published.schema)


def _assert_settles_no_failure(blk: AuditResult, glob: AuditResult, keys: list[str]) -> None:
    """No cell-attacker pair the block audit settles fails the global exact audit (cells
    told apart by the release's ``keys``)."""
    settled = {
        (tuple(r[c] for c in keys), r["attacker"])
        for r in blk.cells.to_pylist()
        if r["outcome"] == "ok"
    }  # fmt: skip
    for r in glob.failures.to_pylist():
        key = tuple(r[c] for c in keys)
        assert (key, r["attacker"]) not in settled
        if r["attacker"].startswith("insider:"):
            assert (key, "insider:*") not in settled  # every insider but the cell's own


def _nine_entities(seed: int) -> pa.Table:
    """Cells of 1,500 persons in nine entities of three policy domains, `total`, `sex` and
    `level`."""
    entities = {f"E{i}": f"D{i % 3}" for i in range(9)}
    persons = random_persons(
        random.Random(seed), 1500, entities, weights=[3, 2, 2, 1, 1, 1, 1, 1, 1]
    )  # fmt: skip
    return make_cells(persons, breakdowns=("total", "sex", "level"))


def test_block_phase_keeps_the_administration_cells() -> None:
    """The block phase hides none of the administration's cells when the administration has
    no small cell of its own (before: the blocks {entity, domain, administration} hid 44 of
    its 55 quantities in this population, the headline figures of the release)."""
    from herkomst._cells import LINK_STATUS
    from herkomst.protect import _S, KEY_COLUMNS, _build_state, _protect_blocks, _withheld

    cells = _nine_entities(0)
    cells = cells.sort_by([(c, "ascending") for c in KEY_COLUMNS])
    rules = AUTH.public
    state = _build_state(cells, rules, _withheld(cells, rules), None)
    # the administration's quantities from the cell keys, not from the state's own mask
    # (its cells, not the link rows of the two definitions)
    rows = pc.and_(
        pc.equal(state.view["scope"], "administration"),
        pc.not_equal(state.view["status"], LINK_STATUS),
    ).to_numpy(zero_copy_only=False)
    admin = np.unique(state.s.qid[rows])
    assert admin.size == 55
    small = cells.filter(pc.equal(cells["scope"], "administration"))["count"].to_pylist()
    assert not [c for c in small if 1 <= c <= 4]  # no small cell in the administration
    assert _protect_blocks(state)["added"] > 0  # the phase did hide cells elsewhere
    assert not (state.cls[admin] == _S).any()


def test_block_protection_publishes_the_administration_table() -> None:
    """The whole block protection of that population publishes every administration cell:
    neither the block phase nor the repair hides them (before: 42 of its 60 cells hidden by
    a local repair that treated them as candidates); only the global repair LP may, at
    their full cost."""
    cells = _nine_entities(0)
    published, _, result = protect_public(cells, AUTH, "public", method="blocks")
    assert result is not None
    assert result.passed
    admin = published.filter(pc.equal(published["scope"], "administration"))
    assert admin.num_rows == 60
    assert admin["count"].null_count == 0


def test_global_repair_reuses_points_and_passes_the_exact_audit() -> None:
    """The block rounds' global repair reuses a point found for one official's goal for
    another official with the same goal when it moves none of the latter's cells (the LP is
    skipped), and its points serve the next screening as witnesses (the audit checks them).
    The release still passes the global exact audit for the public and every official,
    computed apart from the repair."""
    cells = _nine_entities(2)
    published, summary, result = protect_public(cells, AUTH, "public", method="blocks")
    assert result is not None
    assert result.passed
    steps = ("repair_screened", "repair_global")
    repairs = [r for r in summary["rounds"] if r["step"] in steps]
    assert repairs
    assert sum(r["points_reused"] for r in repairs) > 0
    withheld = withheld_in_manifest(summary)
    res = audit(published, cells, AUTH, attacker="all", withheld=withheld, exact=True)
    assert res.passed, res.failures.slice(0, 3).to_pylist()
    taken = sum(r.get("points_taken", 0) for r in summary["rounds"] if r["step"] == "audit")
    assert taken > 0  # the screening used the repair's points as witnesses


def _nine_entities_blocked() -> tuple[pa.Table, list[dict[str, Any]], Any, Any, Any]:
    """The nine entities' cells (seed 0), their withheld entities, the state after the block
    phase, its repair and the mask of no quantity."""
    from herkomst.protect import KEY_COLUMNS, _build_state, _protect_blocks, _Repair, _withheld

    cells = _nine_entities(0).sort_by([(c, "ascending") for c in KEY_COLUMNS])
    withheld = _withheld(cells, AUTH.public)
    state = _build_state(cells, AUTH.public, withheld, None)
    _protect_blocks(state)
    return cells, withheld, state, _Repair(state), np.zeros(state.s.n_q, dtype=bool)


def test_audit_checks_the_points_it_is_offered() -> None:
    """A point of the repair LP is a witness for the audit only once the audit has checked
    it: the point is taken once the cells it moves are hidden; the same point before (it
    moves published cells), with one deviation changed (a relation broken), for another
    goal, or for a structure numbered differently is refused."""
    from herkomst._cells import build_structure, build_units
    from herkomst.audit import _knowledge, _truth_by_quantity, _WitnessLP, attacker_view
    from herkomst.protect import _P, _hide, _published_table

    cells, withheld, state, repair, none = _nine_entities_blocked()
    rules = AUTH.public

    def offered(points: dict[tuple[int, float], list[tuple[object, object]]], fp: str) -> int:
        view = attacker_view(_published_table(state), withheld)
        s = build_structure(view)
        base = _knowledge(view, s, rules)
        truth = np.where(base.known, base.value, np.nan_to_num(_truth_by_quantity(cells, s)))
        memo = {("points", fp or s.fingerprint()): points}
        return _WitnessLP(s, base, truth, build_units(view, s), memo).offered_ok

    point = None
    for q in np.nonzero(state.cls == _P)[0].tolist():
        goal = 4.0 if state.v[q] < 4 else 1.0
        pick = repair.solve(q, goal, none)
        if pick is not None and pick.size > 0:
            point = (q, goal, repair.moved.copy(), repair.delta.copy(), pick)
            break
    assert point is not None
    q, goal, idx, dev, pick = point
    before = offered({(q, goal): [(idx, dev)]}, "")
    _hide(state, pick)
    broken = dev.copy()
    broken[np.nonzero(idx != q)[0][0]] += 1.0
    other = 2.0 if goal != 2.0 else 3.0
    taken = {
        "before hiding": before,
        "real": offered({(q, goal): [(idx, dev)]}, ""),
        "broken": offered({(q, goal): [(idx, broken)]}, ""),
        "other goal": offered({(q, other): [(idx, dev)]}, ""),
        "other numbering": offered({(q, goal): [(idx, dev)]}, "0" * 64),
    }
    assert taken == {
        "before hiding": 0, "real": 1, "broken": 0, "other goal": 0, "other numbering": 0
    }  # fmt: skip


def test_a_point_is_a_witness_for_every_cell_it_moves() -> None:
    """A repair point found for one goal serves every hidden cell it moves, at the value it
    gives it or any nearer one: the point between the truth and it (scaled) passes the
    audit's own check (every relation, every bound) for each such cell and value. The repair
    (:meth:`_Repair.served`) and the audit (offered points, kept for every cell they move)
    both reuse it so; neither reuses it for a value beyond its reach or for an official
    whose cells it moves."""
    from herkomst._cells import build_structure, build_units
    from herkomst._hypercubes import Points, check
    from herkomst.audit import _knowledge, _truth_by_quantity, _WitnessLP, attacker_view
    from herkomst.protect import _P, _published_table, _Repair

    cells, withheld, state, repair, none = _nine_entities_blocked()
    rules = AUTH.public
    hidden = state.cls > 0
    view = attacker_view(_published_table(state), withheld)
    s = build_structure(view)
    assert s.fingerprint() == state.s.fingerprint()
    base = _knowledge(view, s, rules)
    truth = np.where(base.known, base.value, np.nan_to_num(_truth_by_quantity(cells, s)))
    others = 0
    for q in np.nonzero(state.cls == _P)[0].tolist()[:40]:
        goal = 4.0 if state.v[q] < 4 else 1.0
        if not repair.free_point(q, goal, none):
            continue
        idx, dev = repair.moved.copy(), repair.delta.copy()
        single = _Repair(state)  # this point alone
        single.moved, single.delta = idx, dev
        single.add_point(q, goal)
        wit = _WitnessLP(
            s,
            base,
            truth,
            build_units(view, s),
            {("points", s.fingerprint()): {(q, goal): [(idx, dev)]}},
        )
        assert wit.offered_ok == 1
        for j in np.nonzero(np.abs(dev) > 1e-6)[0].tolist():
            q2, d2 = int(idx[j]), float(dev[j])
            if q2 == q or not hidden[q2]:
                continue
            v2 = float(state.v[q2])
            whole = np.floor(abs(d2) + 1e-6)
            if whole < 1:
                continue
            others += 1
            goal2 = v2 + np.sign(d2) * whole
            # the scaled point, checked on its own
            lam = (goal2 - v2) / d2
            pts = Points(np.array([q2]), np.array([goal2]), np.array([0, idx.size]), idx, lam * dev)
            assert check(state.s, hidden, state.v, state.lb, state.ub, pts).all()
            assert single.served(q2, goal2, none)
            assert wit._witnesses(q2, goal2) is not None
            # not beyond the point, not for an official whose cells it moves
            assert not single.served(q2, v2 + d2 + np.sign(d2), none)
            assert wit._witnesses(q2, v2 + d2 + np.sign(d2)) is None
            moved_cells = np.zeros(state.s.n_q, dtype=bool)
            moved_cells[idx[0]] = True
            assert not single.served(q2, goal2, moved_cells)
    assert others > 0


def _withheld_entities_state() -> Any:
    """The suppression's state of 300 persons in nine entities of three policy domains, the
    six small ones under the public's minimum size (`total`, `sex`, `level`)."""
    from herkomst.protect import KEY_COLUMNS, _build_state, _withheld

    entities = {f"E{i}": f"D{i % 3}" for i in range(9)}
    persons = random_persons(
        random.Random(5), 300, entities, weights=[10, 8, 8, 1, 1, 1, 1, 1, 1]
    )  # fmt: skip
    cells = make_cells(persons, breakdowns=("total", "sex", "level"))
    cells = cells.sort_by([(c, "ascending") for c in KEY_COLUMNS])
    return _build_state(cells, AUTH.public, _withheld(cells, AUTH.public), None)


def test_repair_goals_ask_a_withheld_cell_for_the_small_range() -> None:
    """A withheld cell the screening shows pinned at 5 or more gets, besides the goal of a
    neighbouring value, the two ends of the small-count range as *far* goals when its labels
    do not say it is at least 5 (the audit's requirement, :func:`_block_pass_one`, asks that
    it may be that small); labels that say so leave the neighbouring value alone, and
    without ``far`` (the global repair) the goals are as before."""
    from herkomst.audit import AuditResult, _block_pass_one
    from herkomst.protect import _W, KEY_COLUMNS, _failure_goals

    state = _withheld_entities_state()
    rows = np.nonzero((state.cls[state.s.qid] == _W) & (state.v[state.s.qid] >= 6))[0]
    assert rows.size > 0
    r = int(rows[0])
    q = int(state.s.qid[r])
    v = float(state.v[q])

    def goals(
        floor: float, far: set[tuple[str, int, float]] | None
    ) -> list[tuple[str, int, float]]:
        row = state.view.select(KEY_COLUMNS).slice(r, 1)
        for name, value in (
            ("attacker", "public"), ("target", "withheld"), ("lower", v), ("upper", v),
            ("label_cap", 4.0), ("label_floor", floor), ("passed", False),
        ):  # fmt: skip
            row = row.append_column(name, pa.array([value]))
        return _failure_goals(state, AuditResult(row, {"passed": False}), far)

    far: set[tuple[str, int, float]] = set()
    assert goals(1.0, far) == [("public", q, 1.0), ("public", q, 4.0), ("public", q, v + 1)]
    assert far == {("public", q, 1.0), ("public", q, 4.0)}
    # the audit's own requirement: pinned fails; not pinned but short of the range fails;
    # the range reached passes; labels saying 5 or more ask no range
    rules = AUTH.public
    assert not _block_pass_one(1, v, v, 1.0, 4.0, 4.0, 1.0, rules)
    assert not _block_pass_one(1, v - 1, v + 1, 1.0, 4.0, 4.0, 1.0, rules)
    assert _block_pass_one(1, 1.0, v + 1, 1.0, 4.0, 4.0, 1.0, rules)
    assert _block_pass_one(1, v - 1, v + 1, 1.0, 4.0, 4.0, 5.0, rules)
    far.clear()
    assert goals(5.0, far) == [("public", q, v + 1)]
    assert far == set()
    assert goals(1.0, None) == [("public", q, v + 1)]


def _weakened_block_audits(
    seed: int, undos: tuple[float, ...], rng: int, cells: pa.Table | None = None
) -> list[dict[str, Any]]:
    """The block audit's summaries of the release of ``cells`` (by default the nine
    entities', seed ``seed``) weakened with each ``undo``; each weakened release fails the
    global exact audit (the undoing exposed something), and no pair the block audit settles
    fails it."""
    cells = _nine_entities(seed) if cells is None else cells
    published, summary, _ = protect_public(cells, AUTH, "public", method="blocks")
    withheld = withheld_in_manifest(summary)
    out = []
    for undo in undos:
        weak = _weakened(published, cells, undo, random.Random(rng))
        blk = audit(weak, cells, AUTH, attacker="all", withheld=withheld, method="blocks")
        glob = audit(weak, cells, AUTH, attacker="all", withheld=withheld, exact=True)
        assert not glob.passed
        _assert_settles_no_failure(blk, glob, published.column_names[:12])
        out.append(blk.summary["blocks"])
    return out


def test_two_domain_witnesses_never_pass_what_the_global_audit_fails() -> None:
    """The block audit's witnesses over two policy domains with the administration (every
    other cell held at the truth), tried after the target's own domain, are used on
    under-protected releases (some complementary suppressions undone) and settle no
    cell-attacker pair the global exact audit fails."""
    infos = _weakened_block_audits(1, (0.02, 0.05), 7)
    # the two-domain tier certified cells the domain tiers could not
    assert sum(i["witness_pair"] for i in infos) > 0


def test_breakdown_witnesses_never_pass_what_the_global_audit_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The block audit's witnesses over one breakdown and the `total` breakdown of the whole
    release (every other cell held at the truth), tried before the whole release's LP, are
    used on under-protected releases (some complementary suppressions undone) and settle no
    cell-attacker pair the global exact audit fails. The two-domain tier, tried before them,
    finds these cells' witnesses first: it is switched off here."""
    monkeypatch.setattr("herkomst.audit.PAIR_PARTNERS", 0)
    infos = _weakened_block_audits(1, (0.02, 0.05), 7)
    # the breakdown tier certified cells the domain tiers could not
    assert sum(i["witness_breakdown"] for i in infos) > 0
    assert sum(i["witness_pair"] for i in infos) == 0


def test_hypercube_witnesses_never_pass_what_the_global_audit_fails() -> None:
    """The block audit's hypercube witnesses (tried before any block, herkomst._hypercubes)
    certify cells of under-protected releases (some complementary suppressions undone) and
    settle no cell-attacker pair the global exact audit fails; the audit's check accepts
    every proposal."""
    infos = _weakened_block_audits(2, (0.02, 0.1), 11)
    assert all(i["hypercubes_checked"] == i["hypercubes_proposed"] for i in infos)
    assert sum(i["hypercube_certified"] for i in infos) > 0


def test_transfer_witnesses_never_pass_what_the_global_audit_fails() -> None:
    """Person transfers between a withheld entity and its domain's other entities (tried
    before any block for the withheld entities' cells, herkomst._hypercubes.transfers)
    certify cells of under-protected releases with two withheld entities in each domain,
    and settle no cell-attacker pair the global exact audit fails."""
    entities = {f"E{i}": f"D{i % 3}" for i in range(9)}
    persons = random_persons(
        random.Random(5), 300, entities, weights=[10, 8, 8, 1, 1, 1, 1, 1, 1]
    )  # fmt: skip
    cells = make_cells(persons, breakdowns=("total", "sex"))
    infos = _weakened_block_audits(0, (0.1,), 3, cells)
    assert all(i["hypercubes_checked"] == i["hypercubes_proposed"] for i in infos)
    assert sum(i["transfers_checked"] for i in infos) > 0


def test_repair_domain_tier_points_are_points_of_the_whole_release() -> None:
    """The repair's free points over the target's breakdown and its policy domain's
    breakdowns, or over every breakdown of two policy domains (every other quantity at the
    truth), are points of the whole release: checked against every relation and bound by the
    audit's check, and the whole-release LP hides nothing for the same goal. On withheld
    entities' cells some are found only there, some only over two domains."""
    from herkomst._hypercubes import Points, check
    from herkomst.protect import _W, _protect_blocks, _Repair

    state = _withheld_entities_state()
    _protect_blocks(state)
    repair = _Repair(state)
    none = np.zeros(state.s.n_q, dtype=bool)
    hidden = state.cls > 0
    found = by_domain = 0
    for q in np.nonzero(state.cls == _W)[0].tolist()[:60]:
        goal = float(state.v[q] + 1)
        if not repair.free_point(q, goal, none):
            continue
        found += 1
        bd = int(repair.breakdown_of[q])
        inside = repair.bd_mask(bd) if bd >= 0 else repair.in_total
        by_domain += int((~inside[repair.moved]).any())  # moves other breakdowns' cells
        pts = Points(
            np.array([q]), np.array([goal]), np.array([0, repair.moved.size]),
            repair.moved, repair.delta,
        )  # fmt: skip
        assert check(state.s, hidden, state.v, state.lb, state.ub, pts).all()
        pick = repair.solve(q, goal, none)
        assert pick is not None
        assert pick.size == 0
    assert found > by_domain > 0  # both tiers found points
    assert by_domain > repair.pair_found > 0  # and the two-domain tier some of them


def test_repair_local_points_hide_no_less_than_the_whole_release_lp() -> None:
    """The blocks' repair looks for its point over the target's breakdown (then its policy
    domain's) before the whole release, published candidates there moving at their cost:
    once its picks are hidden the point is one of the whole release (the audit's check),
    and it never hides cells cheaper than the whole release's LP for the same goal (that
    LP's optimum is a lower bound: every local point is one of its points)."""
    from herkomst._hypercubes import Points, check
    from herkomst.protect import _P, KEY_COLUMNS, _build_state, _protect_blocks, _Repair
    from herkomst.protect import _withheld as withheld_of

    cells = _nine_entities(1).sort_by([(c, "ascending") for c in KEY_COLUMNS])
    state = _build_state(cells, AUTH.public, withheld_of(cells, AUTH.public), None)
    _protect_blocks(state)
    repair = _Repair(state)
    none = np.zeros(state.s.n_q, dtype=bool)
    local = cheaper = 0
    for q in np.nonzero(state.cls == _P)[0].tolist()[:80]:
        goal = 4.0 if state.v[q] < 4 else 1.0
        if repair.free_point(q, goal, none):
            continue
        solves = repair.solves
        pick = repair.local_solve(q, goal, none)
        if pick is None or repair.solves > solves:
            continue  # the whole release's LP answered
        local += 1
        hidden = (state.cls > 0).copy()
        hidden[pick] = True
        moved, delta = repair.moved, repair.delta
        assert hidden[moved].all()
        pts = Points(np.array([q]), np.array([goal]), np.array([0, moved.size]), moved, delta)
        assert check(state.s, hidden, state.v, state.lb, state.ub, pts).all()
        whole = repair.solve(q, goal, none)
        assert whole is not None
        cost_local = float((1.0 + state.v[pick]).sum())
        cost_whole = float((1.0 + state.v[whole]).sum())
        assert cost_local >= cost_whole - 1e-6
        cheaper += int(cost_local > cost_whole + 1e-6)
    assert local > 0
