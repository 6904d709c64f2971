"""One hand-made file per defect: the reason code, the row and the column, and the accounting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herkomst import Engine, ValidationOptions, load_dataset
from herkomst.codes import make_ssin
from herkomst.errors import MissingColumn, MissingFile, UnreadableFile, UsageError
from herkomst.validate import Dataset

TODAY = dt.date(2024, 6, 30)

# A small consistent family: grandfather -> father -> child, and the child's mother.
GF = make_ssin(dt.date(1930, 3, 1), 1)
FA = make_ssin(dt.date(1960, 5, 1), 3)
MO = make_ssin(dt.date(1962, 8, 2), 2)
CH = make_ssin(dt.date(1990, 1, 15), 5)
KID2000 = make_ssin(dt.date(2003, 4, 9), 7)  # post-2000 check-digit rule

PERSONS_HEADER = "ssin,sex,birth_date,birth_country,father_ssin,mother_ssin,registration_date"
PERSONS = [
    f"{GF},M,1930-03-01,IT,,,1956-01-01",
    f"{FA},M,1960-05-01,BE,{GF},,1960-05-01",
    f"{MO},F,1962-08-02,BE,,,1962-08-02",
    f"{CH},M,1990-01-15,BE,{FA},{MO},1990-01-15",
    f"{KID2000},F,2003-04-09,BE,{CH},,2003-04-09",
]
NATS_HEADER = "ssin,nationality,valid_from"
NATS = [
    f"{GF},IT,1930-03-01",
    f"{FA},BE,1960-05-01",
    f"{MO},BE,1962-08-02",
    f"{CH},BE,1990-01-15",
    f"{KID2000},BE,2003-04-09",
]
EMP_HEADER = "ssin,year,employer_id,authority,nace,worker_class,regime"
EMP = [
    f"{CH},2020,0200000001,23,84111,3,F",
    f"{FA},2020,0200000002,,46190,2,P",
]
RES = ["ssin,year,region", f"{CH},2020,BE-VLG"]
EDU = ["ssin,level,field", f"{CH},7,04"]
PERSONNEL_HEADER = "ssin,year,policy_domain,entity,level"
PERSONNEL = [f"{CH},2020,OMG,OMG-VMM,A"]
ENTITIES_HEADER = "entity,entity_name,policy_domain,policy_domain_name,employer_id"
ENTITIES = ["OMG-VMM,Vlaamse Milieumaatschappij,OMG,Omgeving,0200000001"]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


Build = Callable[..., Dataset]


@pytest.fixture
def build(tmp_path: Path) -> Build:
    """Write the clean files with some lines replaced or added, then validate them."""

    def _build(
        persons: list[str] | None = None,
        nats: list[str] | None = None,
        emp: list[str] | None = None,
        personnel: list[str] | None = None,
        entities: list[str] | None = None,
    ) -> Dataset:
        dwh = tmp_path / "dwh"
        dwh.mkdir(exist_ok=True)
        write(dwh / "persons.csv", [PERSONS_HEADER, *(persons if persons is not None else PERSONS)])
        write(dwh / "nationalities.csv", [NATS_HEADER, *(nats if nats is not None else NATS)])
        write(dwh / "employment.csv", [EMP_HEADER, *(emp if emp is not None else EMP)])
        write(dwh / "residence.csv", RES)
        write(dwh / "education.csv", EDU)
        pers = write(
            tmp_path / "personnel.csv",
            [PERSONNEL_HEADER, *(personnel if personnel is not None else PERSONNEL)],
        )
        ents = write(
            tmp_path / "entities.csv",
            [ENTITIES_HEADER, *(entities if entities is not None else ENTITIES)],
        )
        eng = Engine()
        return load_dataset(eng, dwh, pers, ents, ValidationOptions(today=TODAY))

    return _build


def findings(data: Dataset) -> list[tuple[str, int, str | None, str, str]]:
    f = data.report.findings
    return list(
        zip(
            f.column("table").to_pylist(),
            f.column("row").to_pylist(),
            f.column("column").to_pylist(),
            f.column("reason").to_pylist(),
            f.column("action").to_pylist(),
            strict=True,
        )
    )


def test_clean_files_have_no_findings(build: Build) -> None:
    data = build()
    assert findings(data) == []
    assert data.report.rejected == 0
    assert data.engine.count("persons") == 5
    assert data.engine.rows("SELECT worker_class FROM employment ORDER BY worker_class") == [
        (2,),
        (3,),
    ]


def test_separators_are_accepted_and_normalised(build: Build) -> None:
    dotted = f"{CH[:2]}.{CH[2:4]}.{CH[4:6]}-{CH[6:9]}.{CH[9:]}"
    rows = [*PERSONS[:3], PERSONS[3].replace(CH, dotted, 1), PERSONS[4]]
    data = build(persons=rows)
    assert findings(data) == []
    assert (CH,) in data.engine.rows("SELECT ssin FROM persons")


# (description, which input, replacement lines, expected findings)
CASES: list[tuple[str, str, list[str], list[tuple[str, int, str | None, str, str]]]] = [
    (
        "bad check digits",
        "persons",
        [*PERSONS, f"{CH[:9]}{(int(CH[9:]) + 1) % 100:02d},F,1990-01-15,BE,,,"],
        [("persons", 6, "ssin", "INVALID_SSIN", "reject")],
    ),
    (
        "unknown country code in nationalities rejects the row",
        "nats",
        [*NATS, f"{CH},ZZ,2000-01-01"],
        [("nationalities", 6, "nationality", "UNKNOWN_COUNTRY", "reject")],
    ),
    (
        "unknown birth country nullifies the value",
        "persons",
        [PERSONS[0].replace(",IT,", ",QQ,"), *PERSONS[1:]],
        [("persons", 1, "birth_country", "UNKNOWN_COUNTRY", "nullify")],
    ),
    (
        "duplicated person, identical copy",
        "persons",
        [*PERSONS, PERSONS[2]],
        [("persons", 6, "ssin", "DUPLICATE_ROW", "reject")],
    ),
    (
        "duplicated person, conflicting copies",
        "persons",
        [*PERSONS, PERSONS[2].replace(",F,", ",M,")],
        [
            ("persons", 3, "ssin", "CONFLICTING_DUPLICATE", "reject"),
            # the child's mother is now unknown: the link is treated as not linked
            ("persons", 4, "mother_ssin", "PARENT_NOT_IN_PERSONS", "nullify"),
            ("persons", 6, "ssin", "CONFLICTING_DUPLICATE", "reject"),
            # and her nationality row has no person any more
            ("nationalities", 3, "ssin", "UNKNOWN_PERSON", "reject"),
        ],
    ),
    (
        "two nationality rows on the same day",
        "nats",
        [*NATS, f"{CH},NL,1990-01-15"],
        [
            ("nationalities", 4, "ssin", "CONFLICTING_DUPLICATE", "reject"),
            ("nationalities", 6, "ssin", "CONFLICTING_DUPLICATE", "reject"),
        ],
    ),
    (
        "a job twice",
        "emp",
        [*EMP, EMP[0]],
        [("employment", 3, "ssin", "DUPLICATE_ROW", "reject")],
    ),
    (
        "parent not in persons",
        "persons",
        [
            *PERSONS[:2],
            PERSONS[2],
            PERSONS[3].replace(MO, make_ssin(dt.date(1961, 1, 1), 8)),
            PERSONS[4],
        ],
        [("persons", 4, "mother_ssin", "PARENT_NOT_IN_PERSONS", "nullify")],
    ),
    (
        "parent born less than 12 years before the child",
        "persons",
        [
            *PERSONS[:4],
            PERSONS[4].replace(f",{CH},", f",{MO},").replace("2003-04-09", "1970-04-09", 1),
        ],
        [("persons", 5, "father_ssin", "PARENT_TOO_YOUNG", "nullify")],
    ),
    (
        "nationality before birth",
        "nats",
        [*NATS, f"{CH},NL,1985-01-01"],
        [("nationalities", 6, "valid_from", "NATIONALITY_BEFORE_BIRTH", "reject")],
    ),
    (
        "nationality in the future",
        "nats",
        [*NATS, f"{CH},NL,2030-01-01"],
        [("nationalities", 6, "valid_from", "FUTURE_DATE", "reject")],
    ),
    (
        "year in the future",
        "emp",
        [*EMP, f"{CH},2031,0200000001,23,84111,3,F"],
        [("employment", 3, "year", "FUTURE_YEAR", "reject")],
    ),
    (
        "personnel row whose SSIN is unknown",
        "personnel",
        [*PERSONNEL, f"{make_ssin(dt.date(1980, 2, 2), 11)},2020,OMG,OMG-VMM,B"],
        [("personnel", 2, "ssin", "UNKNOWN_PERSON", "reject")],
    ),
    (
        "unknown entity",
        "personnel",
        [f"{CH},2020,OMG,OMG-XXX,A"],
        [("personnel", 1, "entity", "UNKNOWN_ENTITY", "reject")],
    ),
    (
        "personnel year without employment data",
        "personnel",
        [f"{CH},2019,OMG,OMG-VMM,A"],
        [("personnel", 1, "year", "YEAR_NOT_IN_DATA", "reject")],
    ),
    (
        "entity employer without jobs",
        "entities",
        [*ENTITIES, "OMG-X,Iets,OMG,Omgeving,0299999999"],
        [("entities", 2, "employer_id", "EMPLOYER_WITHOUT_JOBS", "warn")],
    ),
    (
        "invalid code values",
        "emp",
        [f"{CH},2020,0200000001,99,8411,7,X", EMP[1]],
        [
            ("employment", 1, "authority", "INVALID_VALUE", "nullify"),
            ("employment", 1, "nace", "INVALID_VALUE", "nullify"),
            ("employment", 1, "regime", "INVALID_VALUE", "nullify"),
            ("employment", 1, "worker_class", "INVALID_VALUE", "nullify"),
        ],
    ),
    (
        "a date that is not ISO",
        "persons",
        [PERSONS[0].replace("1930-03-01", "01/03/1930"), *PERSONS[1:]],
        [("persons", 1, "birth_date", "INVALID_DATE", "nullify")],
    ),
    (
        "a missing required value",
        "nats",
        [*NATS, f"{CH},,2000-01-01"],
        [("nationalities", 6, "nationality", "MISSING_VALUE", "reject")],
    ),
    (
        "truncated last line",
        "emp",
        [EMP[0], f"{FA},2020,02000"],
        [("employment", 2, None, "MALFORMED_ROW", "reject")],
    ),
]


@pytest.mark.parametrize(("what", "which", "lines", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_defect_is_found(
    build: Build,
    what: str,
    which: str,
    lines: list[str],
    expected: list[tuple[str, int, str | None, str, str]],
) -> None:
    data = build(**{which: lines})
    assert findings(data) == expected, what
    # every row accounted for
    for counts in data.report.tables.values():
        assert counts.accepted + counts.corrected + counts.rejected == counts.rows
    total_rows = sum(c.rows for c in data.report.tables.values())
    assert total_rows == data.report.as_dict()["totals"]["rows"]


def test_parent_cycle_of_any_length_is_rejected(build: Build) -> None:
    a = make_ssin(dt.date(1950, 1, 1), 21)
    b = make_ssin(dt.date(1950, 1, 2), 23)
    c = make_ssin(dt.date(1950, 1, 3), 25)
    # a -> b -> c -> a with unknown birth dates (the age check cannot break the cycle)
    rows = [
        *PERSONS,
        f"{a},M,,BE,{b},,",
        f"{b},M,,BE,{c},,",
        f"{c},M,,BE,{a},,",
        f"{make_ssin(dt.date(1980, 1, 1), 27)},M,1980-01-01,BE,{a},,",
    ]
    data = build(persons=rows)
    got = findings(data)
    assert ("persons", 6, "father_ssin", "ANCESTOR_CYCLE", "reject") in got
    assert ("persons", 7, "father_ssin", "ANCESTOR_CYCLE", "reject") in got
    assert ("persons", 8, "father_ssin", "ANCESTOR_CYCLE", "reject") in got
    # the child of a cycle member stays, with the link treated as not linked
    assert ("persons", 9, "father_ssin", "PARENT_REJECTED", "nullify") in got
    assert data.engine.count("persons") == 6


def test_own_parent(build: Build) -> None:
    rows = [*PERSONS[:2], PERSONS[2].replace(",,,1962", f",,{MO},1962"), *PERSONS[3:]]
    data = build(persons=rows)
    assert findings(data) == [("persons", 3, "mother_ssin", "OWN_PARENT", "nullify")]


def test_latin1_csv_is_read_with_a_note(build: Build, tmp_path: Path) -> None:
    data = build(entities=["OMG-VMM,Milieu \u00e9\u00e8,OMG,Omgeving,0200000001"])
    (tmp_path / "entities.csv").write_bytes(
        (ENTITIES_HEADER + "\nOMG-VMM,Milieu \u00e9\u00e8,OMG,Omgeving,0200000001\n").encode(
            "latin-1"
        )
    )
    eng = Engine()
    data = load_dataset(
        eng,
        tmp_path / "dwh",
        tmp_path / "personnel.csv",
        tmp_path / "entities.csv",
        ValidationOptions(today=TODAY),
    )
    assert any("Latin-1" in n for n in data.report.notes)
    assert eng.rows("SELECT entity_name FROM entities") == [("Milieu \u00e9\u00e8",)]


def test_bom_is_accepted(build: Build, tmp_path: Path) -> None:
    build()
    p = tmp_path / "dwh" / "residence.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    data = load_dataset(Engine(), tmp_path / "dwh", options=ValidationOptions(today=TODAY))
    assert data.engine.rows("SELECT region FROM residence") == [("BE-VLG",)]


def test_nis_codes_through_a_mapping_file(build: Build, tmp_path: Path) -> None:
    build(nats=[*NATS, f"{CH},354,2000-01-01", f"{CH},999,2001-01-01"])
    cmap = write(tmp_path / "nis.csv", ["nis_code,iso_code", "150,BE", "354,MA"])
    data = load_dataset(
        Engine(), tmp_path / "dwh", options=ValidationOptions(today=TODAY, country_map=cmap)
    )
    assert findings(data) == [("nationalities", 7, "nationality", "UNKNOWN_NIS_CODE", "reject")]
    assert ("MA",) in data.engine.rows("SELECT nationality FROM nationalities")


def test_parquet_input_with_numeric_ssin(tmp_path: Path) -> None:
    dwh = tmp_path / "dwh"
    dwh.mkdir()
    pq.write_table(
        pa.table(
            {
                "ssin": pa.array([int(KID2000)], pa.int64()),
                "sex": ["F"],
                "birth_date": pa.array([dt.date(2003, 4, 9)]),
                "birth_country": ["BE"],
                "father_ssin": pa.array([None], pa.string()),
                "mother_ssin": pa.array([None], pa.string()),
                "registration_date": pa.array([dt.date(2003, 4, 9)]),
                "extra": [1],
            }
        ),
        dwh / "persons.parquet",
    )
    write(dwh / "nationalities.csv", [NATS_HEADER, NATS[4]])
    write(dwh / "employment.csv", [EMP_HEADER])
    data = load_dataset(Engine(), dwh, options=ValidationOptions(today=TODAY))
    assert data.engine.rows("SELECT ssin FROM persons") == [(KID2000,)]
    assert any("extra" in n for n in data.report.notes)


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (
            lambda d: (d / "persons.csv").unlink(),
            MissingFile,
            r"required table 'persons' not found",
        ),
        (
            lambda d: write(d / "nationalities.csv", ["ssin,valid_from", f"{CH},1990-01-15"]),
            MissingColumn,
            r"nationalities.csv: required column 'nationality' missing",
        ),
        (
            lambda d: (d / "employment.csv").write_bytes(b""),
            UnreadableFile,
            r"employment.csv: file is empty",
        ),
        (
            lambda d: (d / "persons.parquet").write_bytes(b"PAR1 not really"),
            UsageError,
            r"both persons.parquet and persons.csv",
        ),
    ],
)
def test_fatal_file_problems(
    build: Build,
    tmp_path: Path,
    mutate: Callable[[Path], object],
    error: type[Exception],
    match: str,
) -> None:
    build()
    mutate(tmp_path / "dwh")
    with pytest.raises(error, match=match):
        load_dataset(Engine(), tmp_path / "dwh", options=ValidationOptions(today=TODAY))


def test_corrupt_parquet_is_unreadable(build: Build, tmp_path: Path) -> None:
    build()
    (tmp_path / "dwh" / "education.csv").unlink()
    (tmp_path / "dwh" / "education.parquet").write_bytes(b"PAR1 garbage garbage PAR1")
    with pytest.raises(UnreadableFile, match=r"education.parquet: not a readable Parquet file"):
        load_dataset(Engine(), tmp_path / "dwh", options=ValidationOptions(today=TODAY))
