"""Properties of the origin definitions on random families (Hypothesis).

Each example draws a batch of families (a person, parents, grandparents), derives origin for
the whole batch in one SQL run on one engine per module, and checks the properties person by
person. A family member is ``None`` (not linked), ``[]`` (linked, no nationality rows) or a
list of ``(nationality, year)`` rows.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from herkomst.engine import Engine
from herkomst.origin import OriginParams, derive_origin
from reference_origin import Person, load_register

ROLES = ("self", "father", "mother", "ff", "fm", "mf", "mm")
PARENTS = {"self": ("father", "mother"), "father": ("ff", "fm"), "mother": ("mf", "mm")}
REF = dt.date(2020, 12, 31)
CODES = ["BE", "BE", "BE", "FR", "GB", "PL", "HR", "MA", "TR", "CSHH", "DDDE", "SUHH"]
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Family = dict[str, list[tuple[str, int]] | None]

rows_st = st.lists(
    st.tuples(st.sampled_from(CODES), st.integers(1930, 2025)),
    min_size=1,
    max_size=2,
    unique_by=lambda r: r[1],
)
member_st = st.one_of(st.none(), st.just([]), rows_st, rows_st, rows_st)


@st.composite
def family_st(draw: st.DrawFn) -> Family:
    fam: Family = {r: draw(member_st) for r in ROLES}
    if fam["self"] is None:
        fam["self"] = []
    for parent, (g1, g2) in (("father", ("ff", "fm")), ("mother", ("mf", "mm"))):
        if fam[parent] is None:
            fam[g1] = fam[g2] = None
    return fam


families_st = st.lists(family_st(), min_size=10, max_size=40)


def register(
    batch: list[Family], tag: str
) -> Iterator[tuple[Person, list[tuple[str, str, dt.date]]]]:
    for i, fam in enumerate(batch):
        ssin = {r: f"{tag}{i:03d}{r}" for r in ROLES if fam[r] is not None}
        for role, rows in fam.items():
            if rows is None:
                continue
            f, m = PARENTS.get(role, (None, None))
            person = Person(ssin[role], ssin.get(f) if f else None, ssin.get(m) if m else None)
            yield person, [(ssin[role], c, dt.date(y, 6, 1)) for c, y in rows]


def run(
    engine: Engine, batches: dict[str, list[Family]], eu_date: dt.date
) -> dict[str, dict[str, dict[str, object]]]:
    """Derive origin for several batches at once; result[tag][family index as str] = row."""
    persons: list[Person] = []
    nats: list[tuple[str, str, dt.date]] = []
    for tag, batch in batches.items():
        for person, rows in register(batch, tag):
            persons.append(person)
            nats += rows
    load_register(engine, persons, nats)
    engine.execute(
        "CREATE OR REPLACE TABLE scope_t AS SELECT ssin FROM persons WHERE ssin LIKE '%self'"
    )
    derive_origin(engine, OriginParams(REF, eu_date=eu_date), population="scope_t")
    out: dict[str, dict[str, dict[str, object]]] = {tag: {} for tag in batches}
    for row in engine.arrow("SELECT * FROM origin").to_pylist():
        ssin = str(row["ssin"])
        out[ssin[0]][str(int(ssin[1:4]))] = row
    return out


def fill(fam: Family, roles: list[str], code: str, year: int = 1950) -> Family:
    """Turn the unknown facts of ``roles`` into known ones (a linked member with rows)."""
    new = dict(fam)
    for r in roles:
        if new[r] in (None, []):
            new[r] = [(code, year)]
    return new


def unknown_roles(fam: Family) -> list[str]:
    """Members whose every fact is unknown (not linked, or linked without rows)."""
    out = []
    for r in ROLES:
        parent = next((p for p, kids in PARENTS.items() if r in kids), None)
        if fam[r] in (None, []) and (parent is None or fam[parent] is not None):
            out.append(r)
    return out


DEFINITE = {
    "eu15": {"inside", "outside"},
    "eu": {"inside", "outside"},
    "flanders2016": {"with_background", "without_background"},
    "statbel": {"non_belgian", "foreign_background", "belgian_background"},
}


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine()
    yield eng
    eng.close()


@SETTINGS
@given(batch=families_st, data=st.data())
def test_learning_an_unknown_fact_never_changes_a_definite_verdict(
    engine: Engine, batch: list[Family], data: st.DataObject
) -> None:
    filled = []
    for fam in batch:
        roles = unknown_roles(fam)
        if roles:
            role = data.draw(st.sampled_from(roles))
            fam = fill(fam, [role], data.draw(st.sampled_from(CODES)))
        filled.append(fam)
    res = run(engine, {"A": batch, "B": filled}, dt.date(2021, 6, 1))
    for i in res["A"]:
        before, after = res["A"][i], res["B"][i]
        for d, definite in DEFINITE.items():
            if before[d] in definite:
                assert after[d] == before[d], (d, batch[int(i)], filled[int(i)])


@SETTINGS
@given(batch=families_st)
def test_outside_never_rests_on_an_unknown_fact(engine: Engine, batch: list[Family]) -> None:
    # Filling every unknown with a Belgian cannot undo an outside verdict; with a Moroccan it
    # cannot undo an inside verdict.
    to_in = [fill(f, unknown_roles(f), "BE") for f in batch]
    to_in = [fill(f, unknown_roles(f), "BE") for f in to_in]  # grandparents of new parents
    to_out = [fill(f, unknown_roles(f), "MA") for f in batch]
    res = run(engine, {"A": batch, "I": to_in, "O": to_out}, dt.date(2021, 6, 1))
    for i, row in res["A"].items():
        for d in ("eu15", "eu"):
            if row[d] == "outside":
                assert res["I"][i][d] == "outside", (d, batch[int(i)])
                trail = str(row[f"{d}_trail"])
                assert "nationality=" in trail or trail.startswith("grandparents: ")
                if trail.startswith("grandparents: "):
                    assert int(trail.split(": ")[1].split(" ")[0]) >= 2
            if row[d] == "inside":
                assert res["O"][i][d] == "inside", (d, batch[int(i)])
            if row[d] == "unknown_grandparents":
                assert row[f"{d}_trail"].startswith("grandparents: ")  # type: ignore[union-attr]


@SETTINGS
@given(batch=families_st)
def test_outside_eu_is_outside_eu15_unless_british(engine: Engine, batch: list[Family]) -> None:
    res = run(engine, {"A": batch}, dt.date(2024, 6, 1))
    for i, row in res["A"].items():
        if row["eu"] == "outside" and row["eu15"] != "outside":
            codes = {c for rows in batch[int(i)].values() if rows for c, _ in rows}
            assert "GB" in codes, batch[int(i)]
            # Without the British nationalities, the person is not outside eu.
        if row["eu15"] == "inside" and row["eu"] != "inside":
            codes = {c for rows in batch[int(i)].values() if rows for c, _ in rows}
            assert "GB" in codes, batch[int(i)]


@SETTINGS
@given(
    batch=families_st,
    dates=st.lists(
        st.sampled_from(
            [dt.date(1995, 1, 1), dt.date(2004, 5, 1), dt.date(2007, 1, 1), dt.date(2020, 1, 31)]
        ),
        min_size=2,
        max_size=2,
    ),
)
def test_widening_the_inside_set_never_moves_inside_to_outside(
    engine: Engine, batch: list[Family], dates: list[dt.date]
) -> None:
    # Before Brexit, membership only grows with the date, and EU-15 is the smallest set.
    early, late = sorted(dates)
    a = run(engine, {"A": batch}, early)["A"]
    b = run(engine, {"A": batch}, late)["A"]
    order = {"inside": 0, "unknown_grandparents": 1, "unknown_parents": 1, "outside": 2}
    for i in a:
        assert order[str(b[i]["eu"])] <= order[str(a[i]["eu"])], batch[int(i)]
        assert order[str(a[i]["eu"])] <= order[str(a[i]["eu15"])], batch[int(i)]
        if a[i]["eu"] == "inside":
            assert b[i]["eu"] == "inside"
        if b[i]["eu"] == "outside":
            assert a[i]["eu"] == "outside"
