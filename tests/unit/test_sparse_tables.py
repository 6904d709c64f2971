"""Tables close to microdata (``public.max_small_share``): withheld from the public whole.

The expected decisions are counted here in plain Python from the cells (not with the
protection's own code), and the release without them must still pass the exact audit.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from herkomst import _hypercubes
from herkomst.audit import audit
from herkomst.authorization import load_authorization
from herkomst.errors import AuthorizationError, CheckFailed, RuleError
from herkomst.protect import protect_public
from herkomst.rules import BUNDLED

from ..cellmaker import every_table, make_cells, random_persons

AUTH = load_authorization()
ENTITIES = {"E1": "D1", "E2": "D1", "E3": "D2", "E4": "D2"}


def _cells() -> pa.Table:
    # E4 has 28 staff (withheld); the others about 120 each
    people = random_persons(random.Random(0), 400, ENTITIES, weights=[5, 5, 5, 1])
    return make_cells(people, breakdowns=("total", "sex", "level", "all"))


def _shares(cells: pa.Table) -> dict[str, tuple[int, int]]:
    """Per breakdown: (cells from 1 to 4, non-zero cells) the public could receive."""
    rows = cells.to_pylist()
    size = {
        r["entity"]: r["count"]
        for r in rows
        if r["scope"] == "entity" and r["breakdown"] == "total" and r["origin"] == "total"
    }
    out: dict[str, list[int]] = {}
    for r in rows:
        if r["scope"] == "entity" and size[r["entity"]] < 50:
            continue
        a = out.setdefault(r["breakdown"], [0, 0])
        a[0] += 1 <= r["count"] <= 4
        a[1] += r["count"] > 0
    return {k: (a, b) for k, (a, b) in out.items()}


def _with_share(share: float) -> Any:
    return dataclasses.replace(AUTH, public=dataclasses.replace(AUTH.public, max_small_share=share))


def test_a_breakdown_close_to_microdata_is_withheld_and_the_rest_passes_the_audit() -> None:
    cells = _cells()
    shares = _shares(cells)
    # hand check of the population: the full combination is close to microdata, the single
    # breakdowns are not
    assert shares["all"][0] / shares["all"][1] > 0.85
    assert max(a / b for k, (a, b) in shares.items() if k != "all") < 0.35
    published, summary, result = protect_public(cells, AUTH, "public", attackers="all")
    assert result is not None
    assert result.passed
    small, nonzero = shares["all"]
    assert summary["withheld_tables"] == [
        {
            "year": 2023,
            "breakdown": "all",
            "small_cells": small,
            "nonzero_cells": nonzero,
            "small_share": round(small / nonzero, 4),
            "reason": "more than 0.5 of its non-zero cells from 1 to 4: close to microdata",
        }
    ]
    # absent from the release at every scope, not present with nulls (the contract)
    assert "all" not in set(published["breakdown"].to_pylist())
    assert set(published["breakdown"].to_pylist()) == {"total", "sex", "level"}
    # the audit, given every true cell (all tables, the `all` ones included), agrees exactly
    again = audit(
        published, cells, AUTH, attacker="all", withheld=summary["withheld_entities"], exact=True
    )
    assert again.passed


def test_the_threshold_is_a_strict_upper_bound_and_one_publishes_every_table() -> None:
    cells = _cells()
    small, nonzero = _shares(cells)["all"]
    at = small / nonzero
    from herkomst.protect import _sparse_tables, _withheld

    rules_at = _with_share(at).public
    rules_below = _with_share(at - 1e-9).public
    assert _sparse_tables(cells, rules_at, _withheld(cells, rules_at)) == []
    got = _sparse_tables(cells, rules_below, _withheld(cells, rules_below))
    assert [w["breakdown"] for w in got] == ["all"]
    # below every single breakdown's share as well: all but `total` go
    low = _with_share(0.01).public
    assert [w["breakdown"] for w in _sparse_tables(cells, low, _withheld(cells, low))] == [
        "all",
        "level",
        "sex",
    ]
    off = every_table(AUTH).public
    assert _sparse_tables(cells, off, _withheld(cells, off)) == []


def test_a_ledger_holding_a_now_withheld_table_is_refused() -> None:
    cells = _cells()
    earlier = cells.filter(pc.equal(cells["breakdown"], "all"))
    with pytest.raises(CheckFailed, match="ledger holds cells of a breakdown now withheld"):
        protect_public(cells, AUTH, "public", ledger=earlier)


def test_a_public_release_of_withheld_tables_only_is_refused_with_a_reason() -> None:
    cells = _cells()
    only_all = cells.filter(pc.equal(cells["breakdown"], "all"))
    small, nonzero = _shares(cells)["all"]
    share = f"{small / nonzero:.0%}"
    with pytest.raises(AuthorizationError, match=f"all 2023: {share} of the non-zero cells"):
        protect_public(only_all, AUTH, "public")


@pytest.mark.parametrize(
    ("value", "match"),
    [("true", "wrong type"), ("0", "max_small_share"), ("1.5", "max_small_share"), ('"a"', "type")],
)
def test_the_rule_fails_closed(tmp_path: Path, value: str, match: str) -> None:
    text = (BUNDLED / "authorization_13-71.toml").read_text(encoding="utf-8")
    old = "max_small_share = 0.5"
    assert old in text
    bad = tmp_path / "authorization_bad.toml"
    bad.write_text(text.replace(old, f"max_small_share = {value}", 1), encoding="utf-8")
    with pytest.raises(RuleError, match=match):
        load_authorization(bad)
    assert load_authorization().public.max_small_share == 0.5


def test_the_release_is_the_same_with_the_lps_in_one_thread_or_two(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the blocks' LPs run in threads (herkomst._highs.map_independent; on this population
    # eight evaluations of 2 to 10 blocks), the repair hands goals ahead to a forked
    # worker, and the screening's witnesses are built in forked parts (every call here, not
    # only the large ones): byte for byte the same release, the same suppressions, as in
    # one thread and one process
    monkeypatch.setattr(_hypercubes, "FORK_TARGETS", 0)
    cells = _cells()
    got = []
    for threads in ("1", "2"):
        monkeypatch.setenv("HERKOMST_LP_THREADS", threads)
        got.append(protect_public(cells, AUTH, "public", attackers="all", method="blocks"))
    (one, s1, _), (two, s2, _) = got
    assert one.equals(two)
    assert s1["masked_secondary_quantities"] == s2["masked_secondary_quantities"] > 0

    # the same searches too (their seconds aside)
    def searches(summary: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in r.items() if "seconds" not in k}
            for r in summary["rounds"]
            if r["step"] == "repair_screened"
        ]

    assert searches(s1) == searches(s2)
    assert searches(s2)[0]["goals_ahead_used"] > 0
