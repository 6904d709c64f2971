"""The data contract: the input tables herkomst reads, as data.

This mirrors ``docs/contract.md`` (copied from the project's shared CONTRACT.md). A
:class:`Column` says how a raw text value is parsed; the loader and the validator work from
these specs only, so adding an optional column is a one-line change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a column's raw value is parsed and checked."""

    SSIN = "ssin"  # INSZ/NISS, separators allowed, stored as 11 digits
    DATE = "date"  # ISO YYYY-MM-DD
    YEAR = "year"  # integer calendar year
    INT = "int"
    COUNTRY = "country"  # ISO 3166-1 alpha-2, XK, ISO 3166-3 former states, or a mapped NIS code
    REGION = "region"  # BE-BRU / BE-VLG / BE-WAL
    CODE = "code"  # text from a closed list (``allowed``) or of ``digits`` digits
    TEXT = "text"  # free text


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False  # a null is a row-level error
    key: bool = False  # part of the row's identity: a bad value rejects the row
    allowed: tuple[str, ...] = ()
    digits: int | None = None  # the value must be exactly this many digits


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...]  # what identifies a row (duplicates are reported)
    source: str  # which command-line option supplies it

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


AUTHORITY_CODES: tuple[str, ...] = tuple(f"{g}{i}" for g in ("0",) for i in range(1, 9)) + tuple(
    f"{g}{i}" for g in ("2", "3", "4", "5") for i in range(0, 9)
)

PERSONS = TableSpec(
    name="persons",
    columns=(
        Column("ssin", Kind.SSIN, required=True, key=True),
        Column("sex", Kind.CODE, allowed=("M", "F")),
        Column("birth_date", Kind.DATE),
        Column("birth_country", Kind.COUNTRY),
        Column("father_ssin", Kind.SSIN),
        Column("mother_ssin", Kind.SSIN),
        Column("registration_date", Kind.DATE),
    ),
    unique=("ssin",),
    source="--dwh",
)

NATIONALITIES = TableSpec(
    name="nationalities",
    columns=(
        Column("ssin", Kind.SSIN, required=True, key=True),
        Column("nationality", Kind.COUNTRY, required=True, key=True),
        Column("valid_from", Kind.DATE, required=True, key=True),
    ),
    unique=("ssin", "valid_from"),
    source="--dwh",
)

EMPLOYMENT = TableSpec(
    name="employment",
    columns=(
        Column("ssin", Kind.SSIN, required=True, key=True),
        Column("year", Kind.YEAR, required=True, key=True),
        Column("employer_id", Kind.CODE, required=True, key=True, digits=10),
        Column("authority", Kind.CODE, allowed=AUTHORITY_CODES),
        Column("nace", Kind.CODE, digits=5),
        Column("worker_class", Kind.CODE, allowed=("1", "2", "3", "4")),
        Column("regime", Kind.CODE, allowed=("F", "P")),
    ),
    unique=("ssin", "year", "employer_id"),
    source="--dwh",
)

RESIDENCE = TableSpec(
    name="residence",
    columns=(
        Column("ssin", Kind.SSIN, required=True, key=True),
        Column("year", Kind.YEAR, required=True, key=True),
        Column("region", Kind.REGION),
    ),
    unique=("ssin", "year"),
    source="--dwh",
)

EDUCATION = TableSpec(
    name="education",
    columns=(
        Column("ssin", Kind.SSIN, required=True, key=True),
        Column("level", Kind.CODE, allowed=tuple(str(i) for i in range(9))),
        Column("field", Kind.CODE, allowed=tuple(f"{i:02d}" for i in range(11))),
    ),
    unique=("ssin",),
    source="--dwh",
)

PERSONNEL = TableSpec(
    name="personnel",
    columns=(
        Column("ssin", Kind.SSIN, required=True, key=True),
        Column("year", Kind.YEAR, required=True, key=True),
        Column("policy_domain", Kind.TEXT, required=True, key=True),
        Column("entity", Kind.TEXT, required=True, key=True),
        Column("level", Kind.CODE, allowed=("A", "B", "C", "D")),
    ),
    unique=("ssin", "year"),
    source="--personnel",
)

ENTITIES = TableSpec(
    name="entities",
    columns=(
        Column("entity", Kind.TEXT, required=True, key=True),
        Column("entity_name", Kind.TEXT),
        Column("policy_domain", Kind.TEXT, required=True, key=True),
        Column("policy_domain_name", Kind.TEXT),
        Column("employer_id", Kind.CODE, required=True, key=True, digits=10),
    ),
    unique=("entity",),
    source="--entities",
)

DWH_TABLES: tuple[TableSpec, ...] = (PERSONS, NATIONALITIES, EMPLOYMENT, RESIDENCE, EDUCATION)
ALL_TABLES: tuple[TableSpec, ...] = (*DWH_TABLES, PERSONNEL, ENTITIES)
#: The register tables a run cannot do without; residence and education are optional.
REQUIRED_DWH: tuple[str, ...] = ("persons", "nationalities", "employment")
SPECS: dict[str, TableSpec] = {t.name: t for t in ALL_TABLES}

# Typed layout of the validated tables every later stage reads (DuckDB types).
VALIDATED_TYPES: dict[str, dict[str, str]] = {
    "persons": {
        "ssin": "VARCHAR",
        "sex": "VARCHAR",
        "birth_date": "DATE",
        "birth_country": "VARCHAR",
        "father_ssin": "VARCHAR",
        "mother_ssin": "VARCHAR",
        "registration_date": "DATE",
    },
    "nationalities": {"ssin": "VARCHAR", "nationality": "VARCHAR", "valid_from": "DATE"},
    "employment": {
        "ssin": "VARCHAR",
        "year": "INTEGER",
        "employer_id": "VARCHAR",
        "authority": "VARCHAR",
        "nace": "VARCHAR",
        "worker_class": "INTEGER",
        "regime": "VARCHAR",
    },
    "residence": {"ssin": "VARCHAR", "year": "INTEGER", "region": "VARCHAR"},
    "education": {"ssin": "VARCHAR", "level": "VARCHAR", "field": "VARCHAR"},
    "personnel": {
        "ssin": "VARCHAR",
        "year": "INTEGER",
        "policy_domain": "VARCHAR",
        "entity": "VARCHAR",
        "level": "VARCHAR",
    },
    "entities": {
        "entity": "VARCHAR",
        "entity_name": "VARCHAR",
        "policy_domain": "VARCHAR",
        "policy_domain_name": "VARCHAR",
        "employer_id": "VARCHAR",
    },
}
