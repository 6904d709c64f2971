"""The origin SQL agrees person for person with the plain-Python reference (tests/reference_origin.py)."""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from herkomst.engine import Engine
from herkomst.origin import OriginParams, derive_origin, derive_origin_years, migration_rules
from herkomst.rules import RuleSet
from reference_origin import Person, Reference, load_register, sets_for

EU_CODES = ["NL", "FR", "DE", "GB", "IT", "PL", "RO", "HR", "CZ", "SK", "AT"]
OTHER_CODES = ["MA", "TR", "CD", "DZ", "US", "SY", "CN", "BR", "RU", "UA", "XK"]
FORMER = ["DDDE", "CSHH", "SUHH", "YUCS", "CSXX"]
# Mostly Belgian, as in the register, so that every class of every definition occurs.
CODES = ["BE"] * 150 + EU_CODES * 4 + OTHER_CODES + FORMER
REF = dt.date(2015, 12, 31)


def random_date(rng: random.Random, lo: int, hi: int) -> dt.date:
    return dt.date(rng.randint(lo, hi), rng.randint(1, 12), rng.randint(1, 28))


def random_register(
    rng: random.Random, n: int
) -> tuple[list[Person], list[tuple[str, str, dt.date]]]:
    ssins = [f"P{i:06d}" for i in range(n)]

    def parent() -> str | None:
        r = rng.random()
        if r < 0.1:
            return None
        if r < 0.13:
            return f"X{rng.randint(0, 999):06d}"  # an SSIN that is not in persons
        return rng.choice(ssins)  # any person: chains, shared parents, even cycles

    persons = [
        Person(
            ssin=s,
            father=parent(),
            mother=parent(),
            birth_country=rng.choice([None, "BE", "BE", *CODES]),
            registration_date=rng.choice([None, random_date(rng, 1960, 2020)]),
        )
        for s in ssins
    ]
    nats: list[tuple[str, str, dt.date]] = []
    for s in ssins:
        k = rng.choice([0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3])
        dates = set()
        while len(dates) < k:
            dates.add(random_date(rng, 1930, 2025))
        nats += [(s, rng.choice(CODES), d) for d in sorted(dates)]
    # nationality rows of persons that are not in persons are ignored
    nats.append(("X000001", "MA", dt.date(1970, 1, 1)))
    return persons, nats


@pytest.fixture(scope="module")
def engine() -> Engine:
    eng = Engine()
    yield eng  # type: ignore[misc]
    eng.close()


def check(engine: Engine, seed: int, n: int, eu_date: dt.date, scoped: bool) -> None:
    rng = random.Random(seed)
    persons, nats = random_register(rng, n)
    load_register(engine, persons, nats)
    rules = RuleSet()
    params = OriginParams(reference_date=REF, eu_date=eu_date, generated_on=dt.date(2024, 5, 1))
    ref = Reference(persons, nats, REF, sets_for(rules, eu_date), migration_rules(rules))
    population = None
    if scoped:
        scope = [*rng.sample([p.ssin for p in persons], n // 3), "Z000001", "Z000002"]
        engine.execute("CREATE OR REPLACE TABLE scope_t (ssin VARCHAR)")
        engine.execute("INSERT INTO scope_t SELECT unnest(?)", [scope])
        population = "scope_t"
        expected_ssins = sorted(set(scope))
    else:
        expected_ssins = sorted(p.ssin for p in persons)
    derive_origin(engine, params, rules, population=population)
    got = {r["ssin"]: r for r in engine.arrow("SELECT * FROM origin").to_pylist()}
    assert sorted(got) == expected_ssins
    mismatches = []
    for ssin in expected_ssins:
        want = ref.classify(ssin)
        if got[ssin] != want:
            diff = {k: (got[ssin][k], want[k]) for k in want if got[ssin][k] != want[k]}
            mismatches.append((ssin, diff))
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize(
    ("seed", "eu_date"),
    [
        (1, dt.date(2024, 5, 1)),
        (2, dt.date(2019, 6, 30)),
        (3, dt.date(2003, 1, 1)),
        (4, dt.date(2020, 1, 31)),
        (5, dt.date(2020, 2, 1)),
    ],
)
def test_sql_matches_reference_whole_register(engine: Engine, seed: int, eu_date: dt.date) -> None:
    check(engine, seed, 1500, eu_date, scoped=False)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_sql_matches_reference_population(engine: Engine, seed: int) -> None:
    check(engine, seed, 1500, dt.date(2024, 5, 1), scoped=True)


@pytest.mark.parametrize("seed", [21, 22])
def test_all_years_in_one_pass_match_reference(engine: Engine, seed: int) -> None:
    """derive_origin_years (used by the tables) equals the reference on each year's date."""
    rng = random.Random(seed)
    persons, nats = random_register(rng, 800)
    load_register(engine, persons, nats)
    rules = RuleSet()
    eu_date = dt.date(2024, 5, 1)
    years = [2005, 2012, 2015, 2020]
    pairs = [(y, p.ssin) for y in years for p in rng.sample(persons, 300)]
    engine.execute("CREATE OR REPLACE TABLE scope_y (year INTEGER, ssin VARCHAR)")
    engine.execute(
        "INSERT INTO scope_y SELECT unnest(?), unnest(?)",
        [[y for y, _ in pairs], [s for _, s in pairs]],
    )
    params = OriginParams(reference_date=REF, eu_date=eu_date, generated_on=dt.date(2024, 5, 1))
    name = derive_origin_years(engine, params, "scope_y", rules, out_table="origin_years")
    got = {(r["year"], r["ssin"]): r for r in engine.arrow(f"SELECT * FROM {name}").to_pylist()}
    assert sorted(got) == sorted(set(pairs))
    refs = {
        y: Reference(
            persons, nats, dt.date(y, 12, 31), sets_for(rules, eu_date), migration_rules(rules)
        )
        for y in years
    }
    mismatches = []
    for year, ssin in sorted(set(pairs)):
        want = refs[year].classify(ssin)
        row = got[(year, ssin)]
        diff = {k: (row[k], want[k]) for k in want if row.get(k) != want[k]}
        if diff:
            mismatches.append((year, ssin, diff))
    assert not mismatches, mismatches[:5]
