"""Properties of the differencing LP (herkomst.enclave.differencing) against brute force.

Records fall in one cell of each of 2 or 3 outputs (partitions, with the totals published);
atoms are the combinations that occur. For every atom the LP's interval must contain the true
count; with exact solves it must equal the integer bounds found by enumerating every
non-negative integer assignment consistent with the published counts (two outputs: a network
matrix, so the LP bounds are integral) or contain them (three outputs: the LP relaxation can
only widen the attacker's view); the batched solver must reach the same verdicts.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from herkomst.enclave.differencing import Constraint, intervals, revealed

THRESHOLD = 3


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, list[tuple[int, ...]], list[int]]:
    n_out = draw(st.sampled_from([2, 2, 3]))
    n_cells = [draw(st.integers(1, 3)) for _ in range(n_out)]
    n_rec = draw(st.integers(1, 9))
    recs = [tuple(draw(st.integers(0, k - 1)) for k in n_cells) for _ in range(n_rec)]
    return n_out, recs, n_cells


def _system(
    n_out: int, recs: list[tuple[int, ...]], n_cells: list[int]
) -> tuple[list[tuple[int, ...]], list[int], list[Constraint]]:
    count = Counter(recs)
    atoms = sorted(count)
    truth = [count[a] for a in atoms]
    cons = []
    for o in range(n_out):
        for c in range(n_cells[o]):
            members = tuple(i for i, a in enumerate(atoms) if a[o] == c)
            if members:
                cons.append(Constraint(members, sum(truth[i] for i in members)))
    cons.append(Constraint(tuple(range(len(atoms))), sum(truth)))  # the grand total
    return atoms, truth, cons


def _brute(n_atoms: int, cons: list[Constraint]) -> tuple[np.ndarray, np.ndarray]:
    ub = [min(c.value for c in cons if i in c.atoms) for i in range(n_atoms)]
    grids = np.array(list(itertools.product(*[range(u + 1) for u in ub])), dtype=np.int64)
    ok = np.ones(len(grids), dtype=bool)
    for c in cons:
        ok &= grids[:, list(c.atoms)].sum(axis=1) == c.value
    feasible = grids[ok]
    return feasible.min(axis=0), feasible.max(axis=0)


@settings(max_examples=120, deadline=None)
@given(cases())
def test_intervals_contain_truth_and_match_brute_force(
    case: tuple[int, list[tuple[int, ...]], list[int]],
) -> None:
    n_out, recs, n_cells = case
    atoms, truth, cons = _system(n_out, recs, n_cells)
    targets = [[i] for i in range(len(atoms))]
    exact = intervals(len(atoms), cons, targets, THRESHOLD, exact=True)
    lo_int, hi_int = _brute(len(atoms), cons)
    for i, iv in enumerate(exact):
        assert iv.lo <= truth[i] <= iv.hi
        assert iv.lo <= lo_int[i]
        assert iv.hi >= hi_int[i]
        if n_out == 2:
            assert (iv.lo, iv.hi) == (lo_int[i], hi_int[i])
    batched = intervals(len(atoms), cons, targets, THRESHOLD, truth=truth)
    for i, (b, e) in enumerate(zip(batched, exact, strict=True)):
        # a witnessed inner interval, the truth inside, and the same verdict
        assert e.lo <= b.lo <= truth[i] <= b.hi <= e.hi
        assert revealed(b, truth[i], THRESHOLD) == revealed(e, truth[i], THRESHOLD)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_sums_of_atoms_match_brute_force(
    case: tuple[int, list[tuple[int, ...]], list[int]],
) -> None:
    """Targets that are sets of atoms (suppressed cells): first output's cells, hidden."""
    n_out, recs, n_cells = case
    atoms, truth, cons = _system(n_out, recs, n_cells)
    hidden = [tuple(i for i, a in enumerate(atoms) if a[0] == c) for c in range(n_cells[0])]
    hidden = [h for h in hidden if h]
    published = [c for c in cons if c.atoms not in hidden]
    ivs = intervals(len(atoms), published, [list(h) for h in hidden], THRESHOLD, exact=True)
    ub = [
        min([c.value for c in published if i in c.atoms] or [sum(truth)]) for i in range(len(atoms))
    ]
    grids = np.array(list(itertools.product(*[range(u + 1) for u in ub])), dtype=np.int64)
    ok = np.ones(len(grids), dtype=bool)
    for c in published:
        ok &= grids[:, list(c.atoms)].sum(axis=1) == c.value
    feasible = grids[ok]
    for h, iv in zip(hidden, ivs, strict=True):
        s = feasible[:, list(h)].sum(axis=1)
        t = sum(truth[i] for i in h)
        assert iv.lo <= t <= iv.hi
        assert iv.lo <= s.min()
        assert iv.hi >= s.max()
        if n_out == 2:
            assert iv.lo == s.min()
