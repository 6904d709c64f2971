"""The risk report of an extract: hand-worked cases, a series oracle, and pycanon for k and l."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import herkomst
from herkomst import Engine, UsageError, ValidationOptions
from herkomst.extract import (
    ExtractParams,
    RiskParams,
    build_catalog,
    build_extract,
    load_extract_authorization,
    parse_vault_key,
    reduce_risk,
    risk_report,
    suda_weight,
)
from herkomst.rules import RuleSet
from herkomst.synth import SynthParams, synthesize


def make(engine: Engine, rows: list[dict[str, object]], pi: float | None = None) -> None:
    engine.register("t_in", pa.Table.from_pylist(rows))
    engine.create_table("t", "SELECT * FROM t_in")
    if pi is not None:
        pids = sorted({r["pid"] for r in rows})  # type: ignore[type-var]
        engine.register("w_in", pa.table({"pid": pids, "inclusion_probability": [pi] * len(pids)}))
        engine.create_table("w", "SELECT * FROM w_in")


# Six records of 2020 on keys a, b; s is the sensitive attribute.
#   (x,p): r1 A, r2 B      f=2, l=2
#   (x,q): r3 A            f=1 (sample unique), l=1; its MSU is {a, b}
#   (y,q): r4, r5, r6 A    f=3, l=1 (homogeneous)
HAND = [
    {"pid": 1, "year": 2020, "a": "x", "b": "p", "s": "A"},
    {"pid": 2, "year": 2020, "a": "x", "b": "p", "s": "B"},
    {"pid": 3, "year": 2020, "a": "x", "b": "q", "s": "A"},
    {"pid": 4, "year": 2020, "a": "y", "b": "q", "s": "A"},
    {"pid": 5, "year": 2020, "a": "y", "b": "q", "s": "A"},
    {"pid": 6, "year": 2020, "a": "y", "b": "q", "s": "A"},
]


def test_hand_worked_case() -> None:
    eng = Engine()
    make(eng, HAND, pi=0.5)
    r = risk_report(eng, "t", RiskParams(keys=("a", "b")), sensitive="s", weights_relation="w")
    o = r.overall
    assert (o["k"], o["classes"], o["sample_uniques"]) == (1, 3, 1)
    assert o["records_below_small_class"] == 3  # classes of 1 and 2 records (< 3)
    # p = f / F = 0.5 everywhere (weights 2):
    r1 = math.log(2)  # f = 1: p/(1-p) ln(1/p)
    r2 = 0.5 / 0.25 * (0.5 * math.log(0.5) + 0.5)  # f = 2
    r3 = 0.5 / (3 - 0.5)  # f = 3
    assert o["max_risk"] == pytest.approx(r1)
    assert o["expected_reidentifications"] == pytest.approx(r1 + 2 * r2 + 3 * r3)
    assert o["records_above_threshold"] == 6  # every risk > 0.1
    assert (o["l_min"], o["homogeneous_classes"], o["records_in_l1_classes"]) == (1, 1, 4)
    assert r.suda["records_with_msu"] == 1
    assert r.suda["records_by_smallest_msu"] == {2: 1}
    assert r.suda["msus_per_variable"] == {"a": 1, "b": 1}
    assert r.suda["max_score"] == 1  # A = 2 keys, bound M = 2: weight of a size-2 MSU is 1


def test_census_risk_is_one_over_f() -> None:
    eng = Engine()
    make(eng, HAND)
    r = risk_report(eng, "t", RiskParams(keys=("a", "b")))
    assert r.overall["max_risk"] == pytest.approx(1.0)
    assert r.overall["expected_reidentifications"] == pytest.approx(3.0)  # one per class


def negbin_risk(f: int, p: float, terms: int = 4000) -> float:
    """E(1/F | f) with F - f ~ NegBin(f, p): the quantity sdcMicro's formulas approximate."""
    total, log_p = 0.0, math.log(p)
    for j in range(terms):
        log_c = math.lgamma(f + j) - math.lgamma(j + 1) - math.lgamma(f)
        total += math.exp(log_c + f * log_p + j * math.log1p(-p)) / (f + j)
    return total


@pytest.mark.parametrize("f", [1, 2, 3, 5])
@pytest.mark.parametrize("pi", [0.05, 0.2, 0.5, 0.9])
def test_individual_risk_against_the_negative_binomial_series(f: int, pi: float) -> None:
    eng = Engine()
    make(eng, [{"pid": i, "year": 2020, "a": "x"} for i in range(f)], pi=pi)
    got = risk_report(eng, "t", RiskParams(keys=("a",)), weights_relation="w").overall["max_risk"]
    want = negbin_risk(f, pi)
    # exact for f = 1, 2; Franconi-Polettini approximation within 5 % from f = 3
    assert got == pytest.approx(want, rel=1e-6 if f <= 2 else 0.05)


def test_suda_weight() -> None:
    assert suda_weight(1, 11, 3) == 10 * 9
    assert suda_weight(2, 11, 3) == 9
    assert suda_weight(3, 11, 3) == 1


def test_equivalence_classes_are_per_year() -> None:
    eng = Engine()
    make(eng, [{"pid": 1, "year": 2020, "a": "x"}, {"pid": 1, "year": 2021, "a": "x"}])
    assert risk_report(eng, "t", RiskParams(keys=("a",))).overall["k"] == 1


def test_unknown_key_is_refused() -> None:
    eng = Engine()
    make(eng, HAND)
    with pytest.raises(UsageError, match="key variable"):
        risk_report(eng, "t", RiskParams(keys=("a", "zz")))


def test_reduction_by_global_recoding() -> None:
    catalog = build_catalog(RuleSet())
    rows = [
        {"pid": i, "year": 2020, "registration_year": y, "sex": "M"}
        for i, y in enumerate([2001, 2002, 2003, 2006, 2007, 2008])
    ]
    eng = Engine()
    make(eng, rows)
    schemes = {
        "registration_year": catalog["registration_year"].scheme("year"),
        "sex": catalog["sex"].scheme("sex"),
    }
    red = reduce_risk(
        eng,
        "t",
        RiskParams(keys=("registration_year", "sex"), target_k=3),
        ["registration_year", "sex"],
        catalog,
        schemes,
        "t_red",
    )
    assert [(s.variable, s.to_scheme, s.k_after) for s in red.recodings] == [
        ("registration_year", "period_5y", 3)
    ]
    assert red.suppressed_total == 0
    assert red.removed_records == 0
    assert (
        sorted(r[0] for r in eng.rows("SELECT registration_year FROM t_red"))
        == ["2000-2004"] * 3 + ["2005-2009"] * 3
    )


def test_reduction_by_local_suppression() -> None:
    catalog = build_catalog(RuleSet())
    # five records share sex M and region BE-VLG; one has BE-WAL: suppress its region
    rows = [{"pid": i, "year": 2020, "sex": "M", "region": "BE-VLG"} for i in range(5)]
    rows.append({"pid": 9, "year": 2020, "sex": "M", "region": "BE-WAL"})
    rows += [{"pid": 10 + i, "year": 2020, "sex": "M", "region": "*"} for i in range(2)]
    eng = Engine()
    make(eng, rows)
    schemes = {"sex": catalog["sex"].scheme("sex"), "region": catalog["region"].scheme("region")}
    red = reduce_risk(
        eng,
        "t",
        RiskParams(keys=("sex", "region"), target_k=3),
        ["sex", "region"],
        catalog,
        schemes,
        "t_red",
    )
    assert red.recodings == ()
    assert red.suppressed == {"sex": 0, "region": 1}
    assert red.after["k"] == 3
    assert red.removed_records == 0
    assert eng.scalar("SELECT region FROM t_red WHERE pid = 9") == "*"


# -- pycanon, an independent implementation, on a real extract -----------------------------------


@pytest.fixture(scope="module")
def extract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("risk")
    synthesize(SynthParams(seed=1, scale=5000), base / "synth")
    eng = Engine()
    herkomst.load_dataset(eng, base / "synth" / "dwh", options=ValidationOptions())
    params = ExtractParams(
        project="risk",
        population="other_public",
        sample_size=500,
        seed=2,
        warehouse=base / "wh",
        delivered_on=dt.date(2024, 6, 1),
    )
    res = build_extract(
        eng, load_extract_authorization(), params, base / "out", parse_vault_key("33" * 32)
    )
    eng.close()
    return res.out_dir


@pytest.mark.parametrize(
    "keys", [("sex", "age_class"), ("sex", "age_class", "region", "education_level"), None]
)
def test_k_and_l_agree_with_pycanon(extract_dir: Path, keys: tuple[str, ...] | None) -> None:
    from pycanon import anonymity  # the independent oracle (requirements-oracles.lock)

    table = pq.read_table(extract_dir / "extract.parquet")
    params = RiskParams() if keys is None else RiskParams(keys=keys)
    eng = Engine()
    eng.register("t_in", table)
    eng.create_table("t", "SELECT * FROM t_in")
    ours = risk_report(eng, "t", params, sensitive="national_origin_group")
    df = table.to_pandas()
    qi = ["year", *params.keys]
    for c in qi:
        df[c] = df[c].astype("object").where(df[c].notna(), "<null>").astype(str)
    assert ours.overall["k"] == anonymity.k_anonymity(df, qi)
    assert ours.overall["l_min"] == anonymity.l_diversity(df, qi, ["national_origin_group"])
