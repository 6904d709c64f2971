"""The tables of a hand-worked population against a golden file worked out by hand.

The population (tests/tables_data.py) is twelve staff in two entities of one policy domain
plus six personnel rows that stay out; ``tests/golden/tables_2023.csv`` holds the expected
rows, typed in from the person list. Origin comes from a hand-made table (test data).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from herkomst.engine import Engine
from herkomst.errors import InputError, RuleError, UsageError
from herkomst.rules import RuleSet
from herkomst.tabulate import (
    TableParams,
    age_classes,
    build_population,
    compute_cells,
    percent_sql,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tables_data import GOLDEN_ACCOUNTING, golden_dataset

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "tables_2023.csv"
ORIGINS = ("inside", "outside", "unknown", "unknown_parents", "unknown_grandparents", "total")
KEYS = ("definition", "scope", "policy_domain", "entity", "breakdown", "sex", "age_class",
        "level", "position", "regime")  # fmt: skip
PARAMS = TableParams(years=(2023,), generated_on=dt.date(2024, 5, 1))


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine()
    ds, origin = golden_dataset()
    ds.load(eng)
    compute_cells(eng, PARAMS, origin_step=origin)
    yield eng
    eng.close()


def golden() -> dict[tuple[str, ...], dict[str, str]]:
    lines = [ln for ln in GOLDEN.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return {tuple(r[k] for k in KEYS): r for r in csv.DictReader(lines)}


def computed(engine: Engine, where: str) -> dict[tuple[str, ...], dict[str, str]]:
    cols = ", ".join(KEYS)
    rows = engine.rows(f"SELECT {cols}, origin, count, percent FROM cells WHERE {where}")
    out: dict[tuple[str, ...], dict[str, str]] = {}
    for r in rows:
        key = tuple("" if v is None else str(v) for v in r[: len(KEYS)])
        origin, count, percent = r[len(KEYS) :]
        row = out.setdefault(key, {})
        row[origin] = str(count)
        row[f"p_{origin}"] = "" if percent is None else str(percent)
    return out


def test_accounting_counts_every_personnel_row() -> None:
    eng = Engine()
    ds, _ = golden_dataset()
    ds.load(eng)
    pop = build_population(eng, PARAMS)
    assert [a.to_dict() for a in pop.accounting] == [GOLDEN_ACCOUNTING]
    assert eng.count("staff") == 12


def test_golden_rows_match(engine: Engine) -> None:
    want = golden()
    got = computed(engine, "true")
    for key, row in want.items():
        assert key in got, f"missing row {key}"
        for o in ORIGINS:
            assert got[key][o] == row[o], (key, o)
            assert got[key][f"p_{o}"] == row[f"p_{o}"], (key, f"p_{o}")


def test_golden_covers_whole_tables(engine: Engine) -> None:
    # eu15 without the combination, the VMM combination, and eu totals: exactly these rows.
    want = set(golden())
    got = set(computed(engine, "definition = 'eu15' AND breakdown <> 'all'"))
    got |= set(computed(engine, "definition = 'eu15' AND entity = 'OMG-VMM' AND breakdown = 'all'"))
    got |= set(computed(engine, "definition = 'eu' AND breakdown = 'total'"))
    assert got == want


def test_combination_frame_is_the_cartesian_product_of_observed_categories(engine: Engine) -> None:
    # Administration: sex M/F/unknown, 5 age classes, levels A-D, 3 positions, 3 regimes.
    n = engine.scalar(
        "SELECT count(*) FROM cells WHERE definition = 'eu15' AND scope = 'administration'"
        " AND breakdown = 'all' AND origin = 'total'"
    )
    assert n == 3 * 5 * 4 * 3 * 3
    # Most of those rows are explicit zeros; their percentages are null.
    zeros = engine.scalar(
        "SELECT count(*) FROM cells WHERE definition = 'eu15' AND scope = 'administration'"
        " AND breakdown = 'all' AND origin = 'total' AND count = 0 AND percent IS NULL"
    )
    # Twelve people in ten combinations (persons 7, 10 and 12 share one).
    assert zeros == n - 10


def test_table_count_and_service_columns(engine: Engine) -> None:
    tables = engine.rows("SELECT DISTINCT definition, breakdown, scope FROM cells")
    assert len(tables) == 2 * 7 * 3
    bad = engine.scalar(
        "SELECT count(*) FROM cells WHERE status <> 'published' OR shown <> CAST(count AS VARCHAR)"
    )
    assert bad == 0
    names = engine.rows(
        "SELECT DISTINCT scope, policy_domain_name, entity_name, reference_date FROM cells"
        " ORDER BY 1, 3"
    )
    assert names == [
        ("administration", None, None, dt.date(2023, 12, 31)),
        ("entity", "Omgeving", "Agentschap voor Natuur en Bos", dt.date(2023, 12, 31)),
        ("entity", "Omgeving", "Vlaamse Milieumaatschappij", dt.date(2023, 12, 31)),
        ("policy_domain", "Omgeving", None, dt.date(2023, 12, 31)),
    ]


def _half_away(count: int, total: int) -> Decimal:
    # Independent oracle: exact fraction, then half away from zero at one decimal.
    tenths = Fraction(1000 * count, total)
    whole = int(tenths)
    if tenths - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(whole) / 10


@pytest.mark.parametrize(
    ("count", "total", "expected"),
    [
        (1, 16, "6.3"),  # 6.25: half away from zero, not to even (6.2)
        (3, 16, "18.8"),  # 18.75
        (1, 80, "1.3"),  # 1.25
        (1, 400, "0.3"),  # 0.25
        (1, 2000, "0.1"),  # 0.05
        (201, 2000, "10.1"),  # 10.05 is 10.04999... in binary floating point
        (1, 3, "33.3"),
        (2, 3, "66.7"),
        (1, 7, "14.3"),
        (0, 5, "0.0"),
        (5, 5, "100.0"),
        (1, 32, "3.1"),  # 3.125 rounds on the tenths: 3.1
        (12_345, 40_000, "30.9"),  # 30.8625
        (7, 8, "87.5"),
    ],
)
def test_percent_rounds_half_away_from_zero(count: int, total: int, expected: str) -> None:
    eng = Engine()
    got = eng.scalar(f"SELECT {percent_sql(str(count), str(total))}")
    assert got == Decimal(expected) == _half_away(count, total)


def test_percent_matches_exact_oracle_on_a_grid() -> None:
    eng = Engine()
    rows = eng.rows(
        f"SELECT c, t, {percent_sql('c', 't')} FROM range(0, 200) a(t), range(0, 200) b(c)"
        " WHERE c <= t"
    )
    for c, t, p in rows:
        if t == 0:
            assert p is None
        else:
            assert p == _half_away(int(c), int(t)), (c, t)


def test_age_classes_must_be_contiguous_and_cover_the_range(tmp_path: Path) -> None:
    (tmp_path / "age_classes.csv").write_text(
        "age_class,min_age,max_age,label_nl\n18-29,18,29,a\n31-65,31,65,b\n", encoding="utf-8"
    )
    with pytest.raises(RuleError, match="gap between 18-29 and 31-65"):
        age_classes(RuleSet(tmp_path).table("age_classes"), 18, 65)
    (tmp_path / "age_classes.csv").write_text(
        "age_class,min_age,max_age,label_nl\n18-40,18,40,a\n35-65,35,65,b\n", encoding="utf-8"
    )
    with pytest.raises(RuleError, match="overlap"):
        age_classes(RuleSet(tmp_path).table("age_classes"), 18, 65)
    (tmp_path / "age_classes.csv").write_text(
        "age_class,min_age,max_age,label_nl\n20-65,20,65,a\n", encoding="utf-8"
    )
    with pytest.raises(RuleError, match="population is aged 18-65"):
        age_classes(RuleSet(tmp_path).table("age_classes"), 18, 65)
    (tmp_path / "age_classes.csv").write_text(
        "age_class,min_age,max_age,label_nl\nyoung,18,65,a\n", encoding="utf-8"
    )
    with pytest.raises(RuleError, match="must read '18-65'"):
        age_classes(RuleSet(tmp_path).table("age_classes"), 18, 65)


def test_bundled_age_classes() -> None:
    labels = [a.label for a in age_classes(RuleSet().table("age_classes"), 18, 65)]
    assert labels == ["18-24", "25-34", "35-44", "45-54", "55-65"]


def test_params_are_checked() -> None:
    with pytest.raises(UsageError, match="no year asked for"):
        TableParams(years=(), generated_on=dt.date(2024, 1, 1))
    with pytest.raises(UsageError, match="breakdown gender not known"):
        TableParams(years=(2023,), generated_on=dt.date(2024, 1, 1), breakdowns=("gender",))
    with pytest.raises(UsageError, match="definition eu27 not known"):
        TableParams(years=(2023,), generated_on=dt.date(2024, 1, 1), definitions=("eu27",))
    with pytest.raises(UsageError, match="age range 70-65"):
        TableParams(years=(2023,), generated_on=dt.date(2024, 1, 1), min_age=70)


def test_a_year_without_personnel_rows_is_refused() -> None:
    eng = Engine()
    ds, _ = golden_dataset()
    ds.load(eng)
    with pytest.raises(InputError, match=r"no row for year\(s\) 2022 \(years present: 2023\)"):
        build_population(eng, TableParams(years=(2022, 2023), generated_on=dt.date(2024, 1, 1)))


@pytest.mark.parametrize(
    ("breakdowns", "scopes"),
    [
        (("total", "sex", "level"), ("administration", "policy_domain", "entity")),
        (("regime",), ("entity",)),
        (("all", "position"), ("administration",)),
        (("total",), ("policy_domain",)),
    ],
)
def test_a_subset_of_tables_equals_those_tables_of_the_full_run(
    engine: Engine, breakdowns: tuple[str, ...], scopes: tuple[str, ...]
) -> None:
    # Asking for fewer breakdowns or scopes changes which tables exist, never their cells.
    eng = Engine()
    ds, origin = golden_dataset()
    ds.load(eng)
    params = TableParams(
        years=(2023,), generated_on=dt.date(2024, 5, 1), breakdowns=breakdowns, scopes=scopes
    )
    compute_cells(eng, params, origin_step=origin)
    b_in = ", ".join(f"'{b}'" for b in breakdowns)
    s_in = ", ".join(f"'{s}'" for s in scopes)
    want = computed(engine, f"breakdown IN ({b_in}) AND scope IN ({s_in})")
    assert want
    assert computed(eng, "true") == want
    eng.close()
