"""Properties of the extract's risk measures and sample draw, against plain-Python references."""

from __future__ import annotations

import itertools
from collections import Counter

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herkomst import Engine
from herkomst.extract import RiskParams, Vault, draw_sample, risk_report, suda_weight

KEYS = ("a", "b", "c", "d")

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from([2020, 2021]),
        st.sampled_from(["x", "y"]),
        st.sampled_from(["p", "q", "r"]),
        st.sampled_from(["u", "v"]),
        st.sampled_from(["1", "2", "3"]),
        st.sampled_from(["S", "T", "U"]),
    ),
    min_size=1,
    max_size=40,
)


def reference(rows: list[tuple[object, ...]], max_size: int) -> dict[str, object]:
    """Brute force: classes, uniques, l, and minimal sample uniques per record."""
    full = Counter((r[0], *r[1:5]) for r in rows)
    sens: dict[tuple[object, ...], set[object]] = {}
    for r in rows:
        sens.setdefault((r[0], *r[1:5]), set()).add(r[5])
    unique_on: dict[int, set[tuple[int, ...]]] = {i: set() for i in range(len(rows))}
    for size in range(1, max_size + 1):
        for combo in itertools.combinations(range(4), size):
            c = Counter((r[0], *(r[1 + i] for i in combo)) for r in rows)
            for i, r in enumerate(rows):
                if c[(r[0], *(r[1 + j] for j in combo))] == 1:
                    unique_on[i].add(combo)
    msus = {
        i: [s for s in subsets if not any(set(t) < set(s) for t in subsets)]
        for i, subsets in unique_on.items()
    }
    scores = [sum(suda_weight(len(s), 4, max_size) for s in m) for m in msus.values() if m]
    return {
        "k": min(full.values()),
        "classes": len(full),
        "uniques": sum(1 for v in full.values() if v == 1),
        "l_min": min(len(v) for v in sens.values()),
        "records_with_msu": sum(1 for m in msus.values() if m),
        "msus": sum(len(m) for m in msus.values()),
        "max_score": max(scores, default=0),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, max_size=st.integers(1, 3))
def test_risk_measures_match_the_brute_force_reference(
    rows: list[tuple[object, ...]], max_size: int
) -> None:
    eng = Engine()
    cols = ["year", *KEYS, "s"]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)})
    eng.register("t_in", table.append_column("pid", pa.array(range(len(rows)), pa.int64())))
    eng.create_table("t", "SELECT * FROM t_in")
    got = risk_report(eng, "t", RiskParams(keys=KEYS, max_msu_size=max_size), sensitive="s")
    want = reference(rows, max_size)
    assert got.overall["k"] == want["k"]
    assert got.overall["classes"] == want["classes"]
    assert got.overall["sample_uniques"] == want["uniques"]
    assert got.overall["l_min"] == want["l_min"]
    assert got.suda["records_with_msu"] == want["records_with_msu"]
    assert got.suda["msus"] == want["msus"]
    assert got.suda["max_score"] == want["max_score"]
    eng.close()


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    n=st.integers(1, 200),
    seed=st.integers(0, 2**32),
)
def test_draw_sample_allocation(sizes: list[int], n: int, seed: int) -> None:
    strata = [f"h{i}" for i, s in enumerate(sizes) for _ in range(s)]
    ssins = [f"{i:011d}" for i in range(len(strata))]
    picked, alloc = draw_sample(strata, ssins, n, seed, "federal")
    total = len(strata)
    assert len(picked) == len(set(picked)) == min(n, total)
    assert sum(a for a, _ in alloc.values()) == min(n, total)
    for h, (got, big) in alloc.items():
        assert got <= big
        assert abs(got - min(n, total) * big / total) < 1  # proportional allocation
        assert sum(1 for i in picked if strata[i] == h) == got
    assert draw_sample(strata, ssins, n, seed, "federal") == (picked, alloc)


@settings(max_examples=30, deadline=None)
@given(batches=st.lists(st.sets(st.integers(0, 60), max_size=25), min_size=1, max_size=4))
def test_vault_numbers_stay_a_permutation_and_never_change(
    batches: list[set[int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    vault = Vault(tmp_path_factory.mktemp("vault"), bytes(32))
    seen: dict[str, int] = {}
    for batch in batches:
        got = vault.assign("prop", [f"{i:011d}" for i in batch])
        for s, n in got.items():
            assert seen.setdefault(s, n) == n  # a number never changes
        stored = vault.load("prop")
        assert sorted(stored.values()) == list(range(1, len(stored) + 1))
