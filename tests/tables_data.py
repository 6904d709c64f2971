"""Test data for the tables: validated input tables built by hand, and a hand-made origin step.

Tests of tabulation alone build the ``origin`` table by hand (test data, not origin logic):
:class:`HandOrigin` is an origin step that writes the classes it was given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from herkomst.codes import make_ssin
from herkomst.contract import VALIDATED_TYPES
from herkomst.engine import Engine

_ARROW = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "INTEGER": pa.int32(),
}


def put_table(engine: Engine, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Create validated table ``name`` (types of ``VALIDATED_TYPES``) from dict rows."""
    types = VALIDATED_TYPES[name]
    schema = pa.schema([pa.field(c, _ARROW[t]) for c, t in types.items()])
    table = pa.Table.from_pylist([{c: r.get(c) for c in types} for r in rows], schema=schema)
    engine.register(f"{name}__in", table)
    cols = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
    engine.create_table(name, f'SELECT {cols} FROM "{name}__in"')
    engine.con.unregister(f"{name}__in")


def ssin_for(i: int, birth: dt.date | None = None) -> str:
    """A valid SSIN for test person ``i`` (serial 1..998)."""
    return make_ssin(birth or dt.date(1970, 1, 1), 1 + (i % 998))


@dataclass
class Dataset:
    persons: list[dict[str, Any]] = field(default_factory=list)
    nationalities: list[dict[str, Any]] = field(default_factory=list)
    employment: list[dict[str, Any]] = field(default_factory=list)
    personnel: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def load(self, engine: Engine) -> None:
        for name in ("persons", "nationalities", "employment", "personnel", "entities"):
            put_table(engine, name, getattr(self, name))
        put_table(engine, "residence", [])
        put_table(engine, "education", [])


@dataclass
class HandOrigin:
    """An origin step returning hand-given classes: ``classes[year][ssin][definition]``."""

    classes: Mapping[int, Mapping[str, Mapping[str, str]]]
    definitions: Sequence[str] = ("eu15", "eu")
    calls: list[int] = field(default_factory=list)

    def __call__(
        self, engine: Engine, reference_date: dt.date, population: str, out_table: str
    ) -> str:
        year = reference_date.year
        self.calls.append(year)
        given = self.classes[year]
        schema = pa.schema(
            [pa.field("ssin", pa.string())] + [pa.field(d, pa.string()) for d in self.definitions]
        )
        table = pa.Table.from_pylist(
            [{"ssin": s, **{d: c[d] for d in self.definitions}} for s, c in sorted(given.items())],
            schema=schema,
        )
        engine.register(f"{out_table}__in", table)
        engine.create_table(
            out_table,
            f'SELECT i.* FROM "{out_table}__in" i WHERE i.ssin IN (SELECT ssin FROM "{population}")',
        )
        engine.con.unregister(f"{out_table}__in")
        return out_table


# -- the golden population (docs/tables.md and tests/golden/tables_2023.csv) --------------

ANB = {
    "entity": "OMG-ANB",
    "entity_name": "Agentschap voor Natuur en Bos",
    "policy_domain": "OMG",
    "policy_domain_name": "Omgeving",
    "employer_id": "0200000001",
}
VMM = {
    "entity": "OMG-VMM",
    "entity_name": "Vlaamse Milieumaatschappij",
    "policy_domain": "OMG",
    "policy_domain_name": "Omgeving",
    "employer_id": "0200000002",
}

# number: (entity, sex, age on 31 Dec 2023, level, worker_class or None = no job, regime,
#          eu15 class, eu class)
GOLDEN_STAFF: dict[
    int, tuple[dict[str, str], str | None, int, str | None, int | None, str | None, str, str]
] = {
    1: (ANB, "M", 30, "A", 3, "F", "inside", "inside"),
    2: (ANB, "F", 40, "B", 3, "P", "outside", "outside"),
    3: (ANB, "F", 24, "C", 2, "F", "inside", "inside"),
    4: (ANB, "M", 55, "A", 3, "F", "unknown_parents", "unknown_parents"),
    5: (ANB, "F", 65, "D", 1, "P", "outside", "inside"),
    6: (ANB, None, 18, "B", 2, "F", "unknown_grandparents", "unknown_grandparents"),
    7: (ANB, "F", 45, "A", 3, "F", "inside", "inside"),
    8: (ANB, "F", 33, "B", None, None, "inside", "inside"),
    9: (VMM, "M", 50, "A", 3, "F", "inside", "inside"),
    10: (VMM, "F", 46, "A", 3, "F", "outside", "outside"),
    11: (VMM, "M", 47, "A", 4, "F", "outside", "inside"),
    12: (VMM, "F", 52, "A", 3, "F", "inside", "inside"),
}


def golden_dataset() -> tuple[Dataset, HandOrigin]:
    """Twelve staff in two entities of one domain, plus six rows that stay out, in 2023."""
    ds = Dataset(entities=[ANB, VMM])
    origin: dict[str, dict[str, str]] = {}
    year = 2023
    for i, (ent, sex, age, level, wclass, regime, eu15, eu) in GOLDEN_STAFF.items():
        birth = dt.date(year - age, 6, 15)
        s = ssin_for(i, birth)
        ds.persons.append({"ssin": s, "sex": sex, "birth_date": birth})
        domain = "MOW" if i == 3 else ent["policy_domain"]  # listed in the wrong domain
        ds.personnel.append(
            {
                "ssin": s,
                "year": year,
                "policy_domain": domain,
                "entity": ent["entity"],
                "level": level,
            }
        )
        if wclass is not None:
            ds.employment.append(
                {
                    "ssin": s,
                    "year": year,
                    "employer_id": ent["employer_id"],
                    "authority": "23",
                    "nace": "84130",
                    "worker_class": wclass,
                    "regime": regime,
                }
            )
        origin[s] = {"eu15": eu15, "eu": eu}
    # Person 8 has a job, but at another employer: no job at the entity's employer.
    s8 = ssin_for(8, dt.date(year - 33, 6, 15))
    ds.employment.append(
        {
            "ssin": s8,
            "year": year,
            "employer_id": "0999999999",
            "authority": None,
            "nace": "62010",
            "worker_class": 2,
            "regime": "F",
        }
    )
    # Person 1 listed a second time, in the other entity: duplicated (the OMG-ANB copy stays).
    s1 = ssin_for(1, dt.date(year - 30, 6, 15))
    ds.personnel.append(
        {"ssin": s1, "year": year, "policy_domain": "OMG", "entity": "OMG-VMM", "level": "B"}
    )
    # Out of the age range: 66 and 17 on 31 December.
    for i, age in ((13, 66), (14, 17)):
        birth = dt.date(year - age, 12, 31)
        s = ssin_for(i, birth)
        ds.persons.append({"ssin": s, "sex": "M", "birth_date": birth})
        ds.personnel.append(
            {"ssin": s, "year": year, "policy_domain": "OMG", "entity": "OMG-ANB", "level": "C"}
        )
    # Not in the register.
    ds.personnel.append(
        {
            "ssin": ssin_for(15),
            "year": year,
            "policy_domain": "OMG",
            "entity": "OMG-VMM",
            "level": "A",
        }
    )
    # An entity missing from the entity list.
    s16 = ssin_for(16, dt.date(1980, 3, 3))
    ds.persons.append({"ssin": s16, "sex": "F", "birth_date": dt.date(1980, 3, 3)})
    ds.personnel.append(
        {"ssin": s16, "year": year, "policy_domain": "OMG", "entity": "OMG-XXX", "level": "A"}
    )
    # No birth date.
    s17 = ssin_for(17)
    ds.persons.append({"ssin": s17, "sex": "F", "birth_date": None})
    ds.personnel.append(
        {"ssin": s17, "year": year, "policy_domain": "OMG", "entity": "OMG-ANB", "level": "A"}
    )
    for row in ds.persons:  # the rows that stay out in 2023 get a class too (other years)
        origin.setdefault(row["ssin"], {"eu15": "inside", "eu": "inside"})
    return ds, HandOrigin({year: origin})


GOLDEN_ACCOUNTING = {
    "year": 2023,
    "personnel_rows": 18,
    "in_tables": 12,
    "duplicated": 1,
    "entity_unknown": 1,
    "not_in_register": 1,
    "no_birth_date": 1,
    "out_of_age_range": 2,
    "no_job_at_employer": 1,
    "worker_class_unknown": 0,
    "regime_unknown": 0,
    "sex_unknown": 1,
    "level_unknown": 0,
    "policy_domain_mismatch": 1,
}
