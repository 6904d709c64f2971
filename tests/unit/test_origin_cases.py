"""Hand-worked cases: every branch of every origin definition, with the expected class and trail.

Each case is one family: the person (``self``), the parents (``father``, ``mother``) and the
grandparents (``ff`` father's father, ``fm`` father's mother, ``mf``, ``mm``). By default every
member is linked and Belgian from birth; a case overrides members: a list of
``(nationality, valid_from)`` rows, ``[]`` for a linked person without nationality rows, or
``None`` for a member who is not linked. Reference date 2023-12-31 and EU date 2024-05-01
unless the case says otherwise.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from herkomst.engine import Engine
from herkomst.origin import OriginParams, derive_origin
from reference_origin import Person, load_register

Rows = list[tuple[str, str]]
ROLES = ("self", "father", "mother", "ff", "fm", "mf", "mm")
BIRTH_YEAR = {"self": 1985, "father": 1955, "mother": 1957, "ff": 1925, "fm": 1927, "mf": 1929}
REF = dt.date(2023, 12, 31)
EU_DATE = dt.date(2024, 5, 1)


def be(role: str) -> Rows:
    return [("BE", f"{BIRTH_YEAR.get(role, 1930)}-03-01")]


def nat(code: str, date: str = "1950-01-01") -> Rows:
    return [(code, date)]


@dataclass(frozen=True)
class Case:
    name: str
    family: dict[str, Rows | None]
    expect: dict[str, tuple[str, str]]  # definition -> (class, trail)
    ref: dt.date = REF
    eu_date: dt.date = EU_DATE
    birth_country: str | None = "BE"
    registration: str | None = "1985-03-01"
    extra: dict[str, str] = field(default_factory=dict)  # other exact column values


INSIDE4 = ("inside", "self, father and mother inside; grandparents: 4 inside")
BELGIAN = "self BE now and born BE; father and mother born BE"

CASES = [
    # -- eu15 / eu (seed 000) --------------------------------------------------------------------
    Case("all Belgian", {}, {"eu15": INSIDE4, "eu": INSIDE4}),
    Case(
        "one Moroccan grandparent is inside",
        {"mm": nat("MA")},
        {
            "eu15": ("inside", "self, father and mother inside; grandparents: 1 outside, 3 inside"),
            "eu": ("inside", "self, father and mother inside; grandparents: 1 outside, 3 inside"),
        },
    ),
    Case(
        "two Moroccan grandparents is outside",
        {"ff": nat("MA"), "mm": nat("MA")},
        {
            "eu15": ("outside", "grandparents: 2 outside, 2 inside"),
            "eu": ("outside", "grandparents: 2 outside, 2 inside"),
        },
    ),
    Case(
        "a grandparent who was Moroccan first counts as outside",
        {"ff": [("MA", "1925-01-01"), ("BE", "1970-01-01")], "fm": nat("TR")},
        {"eu": ("outside", "grandparents: 2 outside, 2 inside")},
    ),
    Case(
        "British father, generated after Brexit",
        {"father": nat("GB", "1955-01-01")},
        {"eu15": INSIDE4, "eu": ("outside", "father.current_nationality=GB")},
        eu_date=dt.date(2021, 6, 1),
    ),
    Case(
        "British father, generated in 2019",
        {"father": nat("GB", "1955-01-01")},
        {"eu15": INSIDE4, "eu": INSIDE4},
        eu_date=dt.date(2019, 6, 1),
    ),
    Case(
        "British father, last day of UK membership",
        {"father": nat("GB", "1955-01-01")},
        {"eu": INSIDE4},
        eu_date=dt.date(2020, 1, 31),
    ),
    Case(
        "British father, first day after UK membership",
        {"father": nat("GB", "1955-01-01")},
        {"eu": ("outside", "father.current_nationality=GB")},
        eu_date=dt.date(2020, 2, 1),
    ),
    Case(
        "Polish mother: inside eu, outside eu15",
        {"mother": nat("PL", "1957-01-01")},
        {"eu15": ("outside", "mother.current_nationality=PL"), "eu": INSIDE4},
    ),
    Case(
        "Polish mother before the 2004 enlargement",
        {"mother": nat("PL", "1957-01-01")},
        {"eu": ("outside", "mother.current_nationality=PL")},
        eu_date=dt.date(2004, 4, 30),
    ),
    Case(
        "Croatian grandparents count from 2013-07-01",
        {"mf": nat("HR"), "mm": nat("HR")},
        {"eu": ("outside", "grandparents: 2 outside, 2 inside")},
        eu_date=dt.date(2013, 6, 30),
    ),
    Case(
        "no parents linked, EU nationality",
        {"self": nat("FR", "1985-03-01"), "father": None, "mother": None},
        {
            "eu15": ("unknown_parents", "father: not linked"),
            "eu": ("unknown_parents", "father: not linked"),
        },
    ),
    Case(
        "no parents linked, non-EU nationality is outside",
        {"self": nat("MA", "1985-03-01"), "father": None, "mother": None},
        {"eu": ("outside", "self.current_nationality=MA")},
    ),
    Case(
        "three known EU grandparents and one unknown is inside",
        {"mm": None},
        {"eu": ("inside", "self, father and mother inside; grandparents: 3 inside, 1 unknown")},
    ),
    Case(
        "grandparent linked without nationality rows counts as unknown",
        {"mm": []},
        {"eu": ("inside", "self, father and mother inside; grandparents: 3 inside, 1 unknown")},
    ),
    Case(
        "one non-EU and one unknown grandparent is unknown",
        {"ff": nat("MA"), "mm": None},
        {"eu": ("unknown_grandparents", "grandparents: 1 outside, 2 inside, 1 unknown")},
    ),
    Case(
        "two unknown grandparents is unknown",
        {"mf": None, "mm": None},
        {"eu": ("unknown_grandparents", "grandparents: 2 inside, 2 unknown")},
    ),
    Case(
        "own first nationality outside",
        {"self": [("MA", "1985-03-01"), ("BE", "2005-06-01")]},
        {"eu": ("outside", "self.first_nationality=MA")},
    ),
    Case(
        "own nationality unknown counts with the parents",
        {"self": []},
        {"eu": ("unknown_parents", "self: no nationality known")},
    ),
    Case(
        "mother linked without nationality",
        {"mother": []},
        {"eu15": ("unknown_parents", "mother: no nationality known")},
    ),
    Case(
        "father's rows all start after the reference date",
        {"father": nat("BE", "2024-06-01")},
        {"eu": ("unknown_parents", "father: no nationality in force on the reference date")},
    ),
    Case(
        "an unknown parent does not stop a proof by the other parent",
        {"father": None, "mother": nat("MA", "1957-01-01")},
        {"eu": ("outside", "mother.current_nationality=MA")},
    ),
    Case(
        "an unknown parent does not stop a proof by two grandparents",
        {"father": None, "mf": nat("TR"), "mm": nat("TR")},
        {"eu": ("outside", "grandparents: 2 outside, 2 unknown")},
    ),
    Case(
        "a parent's parents unknown because that parent is not linked",
        {"father": None},
        {"eu": ("unknown_parents", "father: not linked")},
    ),
    Case(
        "mother's first nationality outside, Belgian now",
        {"mother": [("CD", "1957-01-01"), ("BE", "1980-01-01")]},
        {"eu": ("outside", "mother.first_nationality=CD")},
    ),
    Case(
        "nationality after the reference date is ignored for the current one",
        {"self": [("BE", "1985-03-01"), ("US", "2024-02-01")]},
        {"eu": INSIDE4, "statbel": ("belgian_background", BELGIAN)},
    ),
    Case(
        "nationality before the reference date is the current one",
        {"self": [("BE", "1985-03-01"), ("US", "2020-02-01")]},
        {
            "eu": ("outside", "self.current_nationality=US"),
            "statbel": ("non_belgian", "self.current_nationality=US"),
            "national_origin": ("US", "self.current_nationality=US"),
        },
    ),
    # -- former states ---------------------------------------------------------------------------
    Case(
        "East German father counts as German",
        {"father": nat("DDDE", "1955-01-01")},
        {"eu15": INSIDE4, "eu": INSIDE4},
        extra={"national_origin_class": "DE", "national_origin_group": "eu14"},
    ),
    Case(
        "Czechoslovak father: inside eu, outside eu15",
        {"father": nat("CSHH", "1955-01-01")},
        {"eu15": ("outside", "father.current_nationality=CSHH"), "eu": INSIDE4},
        extra={"national_origin_group": "eu13"},
    ),
    Case(
        "Czechoslovak father before CZ and SK joined",
        {"father": nat("CSHH", "1955-01-01")},
        {"eu": ("outside", "father.current_nationality=CSHH")},
        eu_date=dt.date(2003, 12, 31),
    ),
    Case(
        "Soviet father",
        {"father": nat("SUHH", "1955-01-01")},
        {
            "eu15": ("outside", "father.current_nationality=SUHH"),
            "eu": ("outside", "father.current_nationality=SUHH"),
        },
    ),
    Case(
        "Yugoslav mother",
        {"mother": nat("YUCS", "1957-01-01")},
        {"eu": ("outside", "mother.current_nationality=YUCS")},
    ),
    Case(
        "Serbia-and-Montenegro grandparents",
        {"ff": nat("CSXX"), "fm": nat("CSXX")},
        {"eu15": ("outside", "grandparents: 2 outside, 2 inside")},
    ),
    # -- flanders2016 ----------------------------------------------------------------------------
    Case("flanders: all Belgian", {}, {"flanders2016": ("without_background", BELGIAN)}),
    Case(
        "flanders: own current nationality",
        {"self": nat("NL", "1985-03-01")},
        {"flanders2016": ("with_background", "self.current_nationality=NL")},
    ),
    Case(
        "flanders: own first nationality",
        {"self": [("NL", "1985-03-01"), ("BE", "2010-01-01")]},
        {"flanders2016": ("with_background", "self.first_nationality=NL")},
    ),
    Case(
        "flanders: father's first nationality",
        {"father": [("IT", "1955-03-01"), ("BE", "1990-01-01")]},
        {"flanders2016": ("with_background", "father.first_nationality=IT")},
    ),
    Case(
        "flanders: mother's first nationality",
        {"mother": nat("TR", "1957-01-01")},
        {"flanders2016": ("with_background", "mother.first_nationality=TR")},
    ),
    Case(
        "flanders: grandparents do not count",
        {"ff": nat("MA"), "fm": nat("MA"), "mf": nat("MA"), "mm": nat("MA")},
        {
            "flanders2016": ("without_background", BELGIAN),
            "eu": ("outside", "grandparents: 4 outside"),
        },
    ),
    Case(
        "flanders: own nationality unknown",
        {"self": []},
        {"flanders2016": ("unknown_nationality", "self: no nationality known")},
    ),
    Case(
        "flanders: mother not linked",
        {"mother": None},
        {"flanders2016": ("unknown_parents", "mother: not linked")},
    ),
    Case(
        "flanders: father without nationality rows",
        {"father": []},
        {"flanders2016": ("unknown_parents", "father: no nationality known")},
    ),
    # -- statbel ---------------------------------------------------------------------------------
    Case("statbel: Belgian background", {}, {"statbel": ("belgian_background", BELGIAN)}),
    Case(
        "statbel: non-Belgian",
        {"self": nat("FR", "1985-03-01")},
        {"statbel": ("non_belgian", "self.current_nationality=FR")},
    ),
    Case(
        "statbel: naturalised",
        {"self": [("MA", "1985-03-01"), ("BE", "2012-05-01")]},
        {"statbel": ("foreign_background", "self.first_nationality=MA")},
    ),
    Case(
        "statbel: naturalised after the reference date is still non-Belgian",
        {"self": [("MA", "1985-03-01"), ("BE", "2012-05-01")]},
        {"statbel": ("non_belgian", "self.current_nationality=MA")},
        ref=dt.date(2010, 12, 31),
    ),
    Case(
        "statbel: father born non-Belgian",
        {"father": [("MA", "1955-01-01"), ("BE", "1990-01-01")]},
        {"statbel": ("foreign_background", "father.first_nationality=MA")},
    ),
    Case(
        "statbel: mother born non-Belgian",
        {"mother": nat("NL", "1957-01-01")},
        {"statbel": ("foreign_background", "mother.first_nationality=NL")},
    ),
    Case(
        "statbel: own nationality unknown",
        {"self": [], "father": nat("MA", "1955-01-01")},
        {"statbel": ("unknown", "self: no nationality known")},
    ),
    Case(
        "statbel: parent unknown",
        {"father": None},
        {"statbel": ("unknown", "father: not linked")},
    ),
    # -- national origin -------------------------------------------------------------------------
    Case(
        "national origin: father's first nationality",
        {"father": [("MA", "1955-01-01"), ("BE", "1990-01-01")], "mother": nat("TR", "1957-01-01")},
        {"national_origin": ("MA", "father.first_nationality=MA")},
        extra={"national_origin_class": "MA", "national_origin_group": "maghreb"},
    ),
    Case(
        "national origin: mother's when the father is Belgian",
        {"mother": nat("TR", "1957-01-01")},
        {"national_origin": ("TR", "mother.first_nationality=TR")},
        extra={"national_origin_class": "TR", "national_origin_group": "eu_candidates"},
    ),
    Case(
        "national origin: mother's when the father is unknown",
        {"father": None, "mother": nat("CD", "1957-01-01")},
        {"national_origin": ("CD", "mother.first_nationality=CD")},
        extra={"national_origin_class": "CD_RW_BI", "national_origin_group": "other_african"},
    ),
    Case(
        "national origin: own first nationality",
        {"self": [("PL", "1985-03-01"), ("BE", "2015-01-01")]},
        {"national_origin": ("PL", "self.first_nationality=PL")},
        extra={"national_origin_class": "PL", "national_origin_group": "eu13"},
    ),
    Case(
        "national origin: own current nationality",
        {"self": [("BE", "1985-03-01"), ("US", "2010-01-01")]},
        {"national_origin": ("US", "self.current_nationality=US")},
        extra={"national_origin_class": "NORTH_AMERICA", "national_origin_group": "north_american"},
    ),
    Case(
        "national origin: Belgian",
        {},
        {"national_origin": ("BE", BELGIAN)},
        extra={"national_origin_class": "BE", "national_origin_group": "belgian"},
    ),
    Case(
        "national origin: born Belgian, a parent unknown",
        {"mother": None},
        {"national_origin": (None, "born BE; mother: not linked")},  # type: ignore[dict-item]
        extra={"national_origin_class": "NOT_ASSIGNABLE", "national_origin_group": "undetermined"},
    ),
    Case(
        "national origin: no nationality at all",
        {"self": []},
        {"national_origin": (None, "self: no nationality known")},  # type: ignore[dict-item]
        extra={"national_origin_class": "UNDETERMINED", "national_origin_group": "undetermined"},
    ),
    # -- migration background --------------------------------------------------------------------
    Case(
        "migration: none",
        {},
        {
            "migration_background": (
                "no_migration_background",
                "rule 1: now=BE, born=BE, parents_born=all_BE, origin=BE, birth_country=BE,"
                " years since acquisition=unknown, years since registration=38",
            )
        },
    ),
    Case(
        "migration: second generation, EU",
        {"mother": nat("IT", "1957-01-01")},
        {
            "migration_background": (
                "second_generation_eu",
                "rule 2: now=BE, born=BE, parents_born=any_non_BE, origin=EU, birth_country=BE,"
                " years since acquisition=unknown, years since registration=38",
            )
        },
    ),
    Case(
        "migration: second generation, non-EU",
        {"father": nat("MA", "1955-01-01")},
        {"migration_background": ("second_generation_non_eu", "")},
    ),
    Case(
        "migration: Belgian by acquisition, under 5 years",
        {"self": [("MA", "1985-03-01"), ("BE", "2020-05-01")]},
        {
            "migration_background": (
                "belgian_by_acquisition_under_5",
                "rule 4: now=BE, born=non_BE, parents_born=all_BE, origin=non_EU,"
                " birth_country=abroad, years since acquisition=3, years since registration=18",
            )
        },
        birth_country="MA",
        registration="2005-01-01",
        extra={"fact_acquisition_year": 2020, "fact_registration_year": 2005},  # type: ignore[dict-item]
    ),
    Case(
        "migration: Belgian by acquisition, 5 years or more",
        {"self": [("MA", "1985-03-01"), ("BE", "2018-05-01")]},
        {"migration_background": ("belgian_by_acquisition_5_plus", "")},
    ),
    Case(
        "migration: Belgian again after losing it (born Belgian: no background)",
        {"self": [("BE", "1985-03-01"), ("US", "2005-01-01"), ("BE", "2021-01-01")]},
        {"migration_background": ("no_migration_background", "")},
        extra={"fact_acquisition_year": 2021},  # type: ignore[dict-item]
    ),
    Case(
        "migration: non-Belgian registered under 5 years",
        {"self": nat("RO", "1985-03-01")},
        {"migration_background": ("non_belgian_registered_under_5", "")},
        registration="2021-09-01",
    ),
    Case(
        "migration: non-Belgian registered 5 years or more",
        {"self": nat("RO", "1985-03-01")},
        {"migration_background": ("non_belgian_registered_5_plus", "")},
        registration="2018-12-31",
    ),
    Case(
        "migration: non-Belgian never registered",
        {"self": nat("NL", "1985-03-01")},
        {"migration_background": ("non_belgian_not_registered", "")},
        registration=None,
    ),
    Case(
        "migration: undetermined",
        {"self": []},
        {"migration_background": ("undetermined", "")},
    ),
]


def build(case: Case, prefix: str) -> tuple[list[Person], list[tuple[str, str, dt.date]]]:
    fam: dict[str, Rows | None] = {r: be(r) for r in ROLES}
    fam.update(case.family)
    for parent, kids in (("father", ("ff", "fm")), ("mother", ("mf", "mm"))):
        if fam[parent] is None:
            for k in kids:
                fam[k] = None
    ssin = {r: f"{prefix}{r}" for r in ROLES if fam[r] is not None}
    parents = {"self": ("father", "mother"), "father": ("ff", "fm"), "mother": ("mf", "mm")}
    persons, nats = [], []
    for role, rows in fam.items():
        if rows is None:
            continue
        f, m = parents.get(role, (None, None))
        persons.append(
            Person(
                ssin=ssin[role],
                father=ssin.get(f) if f else None,
                mother=ssin.get(m) if m else None,
                birth_country=case.birth_country if role == "self" else None,
                registration_date=dt.date.fromisoformat(case.registration)
                if role == "self" and case.registration
                else None,
            )
        )
        nats += [(ssin[role], code, dt.date.fromisoformat(d)) for code, d in rows]
    return persons, nats


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, object]]:
    """Run every case: one SQL run per (reference date, EU date), all families together."""
    runs: dict[tuple[dt.date, dt.date], list[int]] = defaultdict(list)
    for i, case in enumerate(CASES):
        runs[(case.ref, case.eu_date)].append(i)
    out: dict[str, dict[str, object]] = {}
    eng = Engine()
    try:
        for (ref, eu_date), idx in runs.items():
            persons, nats = [], []
            for i in idx:
                p, n = build(CASES[i], f"C{i:03d}")
                persons += p
                nats += n
            load_register(eng, persons, nats)
            eng.execute("CREATE OR REPLACE TABLE scope_t (ssin VARCHAR)")
            eng.execute("INSERT INTO scope_t SELECT unnest(?)", [[f"C{i:03d}self" for i in idx]])
            params = OriginParams(reference_date=ref, eu_date=eu_date)
            derive_origin(eng, params, population="scope_t")
            for row in eng.arrow("SELECT * FROM origin").to_pylist():
                out[str(row["ssin"])] = row
    finally:
        eng.close()
    return out


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.name for c in CASES])
def test_case(results: dict[str, dict[str, object]], index: int) -> None:
    case = CASES[index]
    row = results[f"C{index:03d}self"]
    for definition, (klass, trail) in case.expect.items():
        assert row[definition] == klass, (definition, row[f"{definition}_trail"])
        if trail:
            assert row[f"{definition}_trail"] == trail, definition
    for column, value in case.extra.items():
        assert row[column] == value, column


def test_person_not_in_register() -> None:
    eng = Engine()
    try:
        load_register(eng, [Person("A")], [("A", "BE", dt.date(1980, 1, 1))])
        eng.execute("CREATE TABLE scope_t AS SELECT 'nobody' AS ssin")
        derive_origin(eng, OriginParams(reference_date=REF), population="scope_t")
        row = eng.arrow("SELECT * FROM origin").to_pylist()[0]
    finally:
        eng.close()
    assert row["eu15"] == "unknown_parents"
    assert row["eu15_trail"] == "self: not in persons"
    assert row["national_origin_class"] == "UNDETERMINED"


def test_trails_never_hold_an_ssin(results: dict[str, dict[str, object]]) -> None:
    for row in results.values():
        for key, value in row.items():
            if key.endswith("_trail"):
                assert "C0" not in str(value), (key, value)
                assert "C1" not in str(value), (key, value)


def test_every_class_of_every_fixed_definition_is_covered(
    results: dict[str, dict[str, object]],
) -> None:
    from herkomst.origin import FIXED_CLASSES, classes

    seen: dict[str, set[object]] = defaultdict(set)
    for row in results.values():
        for d in ("eu15", "eu", "flanders2016", "statbel", "migration_background"):
            seen[d].add(row[d])
    for d, wanted in FIXED_CLASSES.items():
        assert set(wanted) <= seen[d.value], d
    assert set(classes("migration_background")) <= seen["migration_background"]
