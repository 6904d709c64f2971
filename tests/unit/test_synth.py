"""The synthetic population: determinism, contract shape, realism targets, planted defects.

Shares are recomputed here independently of the generator (DuckDB over the written files,
and a plain-Python version of the seed-000 origin rule).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from stdnum.be import ssn as stdnum_ssn

import herkomst
from herkomst import Engine, ValidationOptions
from herkomst.contract import SPECS, VALIDATED_TYPES
from herkomst.errors import UsageError
from herkomst.synth import PlantedDefect, SynthParams, SynthSummary, synthesize

SMALL = 20_000
TABLES = (
    "persons",
    "nationalities",
    "employment",
    "residence",
    "education",
    "personnel",
    "entities",
)
# EU member states today (EU-27), plus the former states the default rules count inside.
EU_NOW = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "DDDE",
        "CSHH",
    ]
)


@pytest.fixture(scope="module")
def flanders(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return synthesize(SynthParams(seed=20231231), tmp_path_factory.mktemp("flanders"))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return synthesize(SynthParams(seed=5, scale=SMALL), tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return synthesize(
        SynthParams(seed=5, scale=SMALL, with_defects=True), tmp_path_factory.mktemp("defects")
    )


def _con(summary: SynthSummary) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for table, path in summary.files.items():
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
    return con


# -- determinism ------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files(small: SynthSummary, tmp_path: Path) -> None:
    again = synthesize(SynthParams(seed=5, scale=SMALL), tmp_path)
    for table in TABLES:
        assert small.files[table].read_bytes() == again.files[table].read_bytes(), table
    assert small.sha256 == again.sha256


def test_different_seed_differs(small: SynthSummary, tmp_path: Path) -> None:
    other = synthesize(SynthParams(seed=6, scale=SMALL), tmp_path)
    for table in ("persons", "nationalities", "employment", "personnel"):
        assert other.sha256[table] != small.sha256[table], table
    # The entity list is fixed except for the enterprise numbers.
    assert other.sha256["entities"] != small.sha256["entities"]


def test_layout_and_progress(small: SynthSummary, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    synthesize(SynthParams(seed=1, scale=5_000), tmp_path, lambda s, d, t: calls.append((s, d, t)))
    for t in ("persons", "nationalities", "employment", "residence", "education"):
        assert (tmp_path / "dwh" / f"{t}.parquet").is_file()
    assert (tmp_path / "personnel.parquet").is_file()
    assert (tmp_path / "entities.parquet").is_file()
    assert calls[0] == ("staff", 0, calls[0][2])
    assert calls[-1][1] == calls[-1][2]


def test_csv_holds_the_same_data_as_parquet(small: SynthSummary, tmp_path: Path) -> None:
    csv = synthesize(SynthParams(seed=5, scale=SMALL, fmt="csv"), tmp_path)
    assert csv.files["persons"] == tmp_path / "dwh" / "persons.csv"
    for table in TABLES:
        assert csv.rows[table] == small.rows[table], table
    first = csv.files["persons"].read_text(encoding="utf-8").splitlines()[:2]
    assert first[0] == "ssin,sex,birth_date,birth_country,father_ssin,mother_ssin,registration_date"
    fields = first[1].split(",")
    dt.date.fromisoformat(fields[2])  # ISO date
    opts = pcsv.ConvertOptions(
        column_types={"ssin": "string", "father_ssin": "string", "mother_ssin": "string"},
        strings_can_be_null=True,
    )
    from_csv = pcsv.read_csv(csv.files["persons"], convert_options=opts)
    from_pq = pq.read_table(small.files["persons"])
    assert from_csv.column("ssin").to_pylist() == from_pq.column("ssin").to_pylist()
    assert from_csv.column("father_ssin").null_count == from_pq.column("father_ssin").null_count


# -- the contract ----------------------------------------------------------------------------
def test_columns_and_types_match_the_contract(small: SynthSummary) -> None:
    con = _con(small)
    for table in TABLES:
        described = con.execute(f"DESCRIBE {table}").fetchall()
        assert tuple(r[0] for r in described) == SPECS[table].column_names, table
        assert {r[0]: r[1] for r in described} == VALIDATED_TYPES[table], table


def test_codes_are_in_their_lists(small: SynthSummary) -> None:
    con = _con(small)
    auth = {r[0] for r in con.execute("SELECT DISTINCT authority FROM employment").fetchall()}
    allowed = set(SPECS["employment"].column("authority").allowed) | {None}
    assert auth <= allowed
    assert any(a is None for a in auth)
    assert any(a and a < "09" for a in auth)
    assert any(a and a >= "30" for a in auth)
    assert con.execute(
        "SELECT count(*) FROM employment WHERE length(nace) <> 5 OR length(employer_id) <> 10"
        " OR worker_class NOT IN (1, 2, 3, 4) OR regime NOT IN ('F', 'P')"
    ).fetchone() == (0,)
    assert {r[0] for r in con.execute("SELECT DISTINCT region FROM residence").fetchall()} == {
        "BE-VLG", "BE-WAL", "BE-BRU", None
    }  # fmt: skip
    levels = {r[0] for r in con.execute("SELECT DISTINCT level FROM education").fetchall()}
    assert levels <= {str(i) for i in range(9)} | {None}
    fields = {r[0] for r in con.execute("SELECT DISTINCT field FROM education").fetchall()}
    assert fields <= {f"{i:02d}" for i in range(11)} | {None}
    assert con.execute(
        "SELECT count(*) FROM (SELECT ssin, year, employer_id FROM employment GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone() == (0,)


def test_ssins_are_valid_and_unique(flanders: SynthSummary) -> None:
    con = _con(flanders)
    assert con.execute("SELECT count(*) = count(DISTINCT ssin) FROM persons").fetchone() == (True,)
    sample = [
        r[0]
        for r in con.execute(
            "SELECT ssin FROM persons USING SAMPLE reservoir(3000 ROWS) REPEATABLE (1)"
        ).fetchall()
    ]
    assert all(stdnum_ssn.is_valid(s) for s in sample)
    assert all(len(s) == 11 and s.isdigit() for s in sample)
    bis = con.execute(
        "SELECT ssin FROM persons WHERE CAST(substr(ssin, 3, 2) AS INT) > 12 LIMIT 200"
    ).fetchall()
    assert len(bis) == 200
    assert all(stdnum_ssn.is_valid(r[0]) for r in bis)
    assert con.execute(
        "SELECT count(*) FROM persons WHERE father_ssin NOT IN (SELECT ssin FROM persons)"
        " OR mother_ssin NOT IN (SELECT ssin FROM persons)"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT count(*) FROM personnel WHERE ssin NOT IN (SELECT ssin FROM persons)"
    ).fetchone() == (0,)


# -- the Flemish government ----------------------------------------------------------------------
_STAFF_SQL = """
SELECT p.year, p.level, s.sex, e.worker_class, e.regime, p.year - year(s.birth_date) AS age
FROM personnel p
JOIN persons s USING (ssin)
JOIN entities n USING (entity)
JOIN employment e ON e.ssin = p.ssin AND e.year = p.year AND e.employer_id = n.employer_id
"""


def test_staff_shares(flanders: SynthSummary) -> None:
    con = _con(flanders)
    con.execute(f"CREATE VIEW staff AS {_STAFF_SQL}")
    n2019 = con.execute("SELECT count(*) FROM staff WHERE year = 2019").fetchone()
    assert n2019 is not None
    shares = dict(
        con.execute(
            "SELECT level, count(*) / sum(count(*)) OVER () FROM staff WHERE year = 2019 GROUP BY level"
        ).fetchall()
    )
    for level, target in {"A": 0.31, "B": 0.34, "C": 0.21, "D": 0.14}.items():
        assert shares[level] == pytest.approx(target, abs=0.03), level
    row = con.execute(
        "SELECT avg((sex = 'F')::INT), avg((worker_class = 3)::INT), avg((regime = 'P')::INT),"
        " avg((age BETWEEN 18 AND 65)::INT), sum((age NOT BETWEEN 18 AND 65)::INT)"
        " FROM staff WHERE year = 2019"
    ).fetchone()
    assert row is not None
    women, statutory, part_time, in_age, outside = row
    assert women == pytest.approx(0.59, abs=0.02)
    assert statutory == pytest.approx(0.69, abs=0.03)
    assert 0.15 <= part_time <= 0.30
    assert in_age > 0.99
    assert outside > 0
    assert all(
        w in (2, 3) for (w,) in con.execute("SELECT DISTINCT worker_class FROM staff").fetchall()
    )
    by_year = dict(con.execute("SELECT year, count(*) FROM personnel GROUP BY year").fetchall())
    assert sorted(by_year) == list(range(2010, 2024))
    assert by_year[2023] == pytest.approx(29_500, abs=300)
    assert len(set(by_year.values())) > 10  # the years differ
    # Entries and exits: people leave and join every year.
    churn = con.execute(
        "SELECT count(*) FROM personnel a WHERE year = 2019"
        " AND NOT EXISTS (SELECT 1 FROM personnel b WHERE b.ssin = a.ssin AND b.year = 2018)"
    ).fetchone()
    assert churn is not None
    assert 0.03 * by_year[2019] < churn[0] < 0.2 * by_year[2019]


def test_every_staff_row_has_its_flemish_job(flanders: SynthSummary) -> None:
    con = _con(flanders)
    missing = con.execute(
        "SELECT count(*) FROM personnel p JOIN entities n USING (entity) WHERE NOT EXISTS ("
        " SELECT 1 FROM employment e WHERE e.ssin = p.ssin AND e.year = p.year"
        " AND e.employer_id = n.employer_id AND e.authority IN ('23', '24') AND e.nace LIKE '84%')"
    ).fetchone()
    assert missing == (0,)


def test_entities_and_domains(flanders: SynthSummary) -> None:
    con = _con(flanders)
    sizes = [
        n
        for (n,) in con.execute(
            "SELECT count(*) FROM personnel WHERE year = 2023 GROUP BY entity"
        ).fetchall()
    ]
    assert 70 <= len(sizes) <= 80
    assert sum(n < 50 for n in sizes) >= 10
    assert 2 <= sum(n > 2000 for n in sizes) <= 5
    domains = dict(
        con.execute(
            "SELECT policy_domain, count(*) FROM personnel WHERE year = 2023 GROUP BY 1"
        ).fetchall()
    )
    assert set(domains) == {"KBBJ", "FB", "EWI", "OV", "WVG", "CJSM", "WSE", "LV", "MOW", "OMG"}
    for big in ("WVG", "WSE", "MOW", "OMG"):
        assert domains[big] > 4400, big
    assert min(domains, key=lambda d: domains[d]) == "EWI"
    ents = con.execute(
        "SELECT count(*), count(DISTINCT employer_id), bool_and(entity LIKE policy_domain || '-%') FROM entities"
    ).fetchone()
    assert ents is not None
    assert ents[0] == ents[1]
    assert ents[2]


# -- origins --------------------------------------------------------------------------------------
def _non_eu_shares(summary: SynthSummary) -> dict[int, float]:
    """Seed-000 rule, plain Python: own current or first nationality, or that of a parent, or
    of at least two grandparents, outside the EU (unknown nationalities do not count)."""
    years = (2013, 2018, 2019, 2020, 2021)
    # DuckDB only fetches the rows of the staff's families; the rule itself is Python below.
    con = _con(summary)
    con.execute(
        f"CREATE TABLE s AS SELECT DISTINCT ssin FROM personnel WHERE year IN {years};"
        "CREATE TABLE p AS SELECT father_ssin AS ssin FROM persons WHERE ssin IN (FROM s)"
        " UNION SELECT mother_ssin FROM persons WHERE ssin IN (FROM s);"
        "CREATE TABLE fam AS FROM s UNION FROM p"
        " UNION SELECT father_ssin FROM persons WHERE ssin IN (FROM p)"
        " UNION SELECT mother_ssin FROM persons WHERE ssin IN (FROM p)"
    )
    parents: dict[str, tuple[str | None, str | None]] = {
        s: (f, m)
        for s, f, m in con.execute(
            "SELECT ssin, father_ssin, mother_ssin FROM persons WHERE ssin IN (FROM fam)"
        ).fetchall()
    }
    nats: dict[str, list[tuple[dt.date, str]]] = defaultdict(list)
    for s, n, since in con.execute(
        "SELECT ssin, nationality, valid_from FROM nationalities WHERE ssin IN (FROM fam)"
    ).fetchall():
        nats[s].append((since, n))
    for rows in nats.values():
        rows.sort()

    def outside(ssin: str, ref: dt.date) -> bool:
        rows = nats.get(ssin)
        if not rows:
            return False
        current = [n for since, n in rows if since <= ref]
        return rows[0][1] not in EU_NOW or (bool(current) and current[-1] not in EU_NOW)

    def non_eu(ssin: str, ref: dt.date) -> bool:
        if outside(ssin, ref):
            return True
        ps = [p for p in parents.get(ssin, (None, None)) if p]
        if any(outside(p, ref) for p in ps):
            return True
        gps = [g for p in ps for g in parents.get(p, (None, None)) if g]
        return sum(outside(g, ref) for g in gps) >= 2

    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for ssin, year in con.execute(
        f"SELECT ssin, year FROM personnel WHERE year IN {years}"
    ).fetchall():
        c = counts[year]
        c[0] += non_eu(ssin, dt.date(year, 12, 31))
        c[1] += 1
    return {y: c[0] / c[1] for y, c in counts.items()}


def test_non_eu_background_share_of_staff(flanders: SynthSummary) -> None:
    shares = _non_eu_shares(flanders)
    research = [shares[y] for y in (2018, 2019, 2020, 2021)]
    assert 0.09 <= sum(research) / 4 <= 0.13
    assert 0.02 <= shares[2013] <= 0.05
    assert shares[2021] > shares[2018] > shares[2013]  # newer hires are more diverse


def test_register_has_the_awkward_cases(flanders: SynthSummary) -> None:
    con = _con(flanders)
    nat = dict(
        con.execute(
            "SELECT nationality, count(DISTINCT ssin) FROM nationalities GROUP BY 1"
        ).fetchall()
    )
    for code in (
        "SUHH",
        "YUCS",
        "CSHH",
        "GB",
        "MA",
        "TR",
        "IT",
        "ES",
        "GR",
        "CD",
        "PL",
        "RO",
        "SY",
        "AF",
        "IQ",
        "ER",
    ):
        assert nat.get(code, 0) > 0, code

    def q(sql: str) -> Any:
        row = con.execute(sql).fetchone()
        assert row is not None
        return row[0]

    assert q("SELECT count(*) FROM persons WHERE ssin NOT IN (SELECT ssin FROM nationalities)") > 0
    # naturalisations: a BE row after a non-BE row
    assert (
        q(
            "SELECT count(DISTINCT a.ssin) FROM nationalities a JOIN nationalities b USING (ssin)"
            " WHERE a.nationality <> 'BE' AND b.nationality = 'BE' AND b.valid_from > a.valid_from"
        )
        > 1000
    )
    assert (
        q("SELECT count(*) FROM persons WHERE birth_country <> 'BE' AND registration_date IS NULL")
        > 0
    )
    assert (
        q(
            "SELECT count(*) FROM persons WHERE birth_country <> 'BE' AND registration_date > birth_date"
        )
        > 0
    )
    # parents are unlinked far more often for staff born abroad
    linked = dict(
        con.execute(
            "SELECT s.birth_country = 'BE', avg((s.mother_ssin IS NOT NULL)::INT) FROM persons s"
            " WHERE s.ssin IN (SELECT ssin FROM personnel) GROUP BY 1"
        ).fetchall()
    )
    assert linked[True] > 0.8
    assert 1 - linked[False] > 5 * (1 - linked[True])
    # consistency (no defects planted): nationality never before birth, parents older
    assert (
        q(
            "SELECT count(*) FROM nationalities n JOIN persons p USING (ssin) WHERE n.valid_from < p.birth_date"
        )
        == 0
    )
    for parent in ("father_ssin", "mother_ssin"):
        too_young = q(
            f"SELECT count(*) FROM persons c JOIN persons f ON f.ssin = c.{parent}"
            " WHERE f.birth_date > c.birth_date - INTERVAL 15 YEAR"
        )
        assert too_young == 0, parent
    assert q("SELECT max(registration_date) FROM persons") <= dt.date(2023, 12, 31)


def _parent_gaps(summary: SynthSummary) -> dict[str, tuple[int, int, int, int, int]]:
    """Per parent column: links, links into the grandparents' generation, and links where the
    parent is born less than 15, 16 or 17 calendar years before the child."""
    con = _con(summary)
    out = {}
    for parent in ("father_ssin", "mother_ssin"):
        row = con.execute(
            f"SELECT count(*),"
            f" count(*) FILTER (WHERE c.ssin IN (SELECT father_ssin FROM persons"
            f"  UNION ALL SELECT mother_ssin FROM persons)),"
            f" count(*) FILTER (WHERE p.birth_date > c.birth_date - INTERVAL 15 YEAR),"
            f" count(*) FILTER (WHERE p.birth_date > c.birth_date - INTERVAL 16 YEAR),"
            f" count(*) FILTER (WHERE p.birth_date > c.birth_date - INTERVAL 17 YEAR)"
            f" FROM persons c JOIN persons p ON p.ssin = c.{parent}"
        ).fetchone()
        assert row is not None
        out[parent] = row
    return out


def test_parents_are_at_least_15_years_older(flanders: SynthSummary, tmp_path: Path) -> None:
    # Also with the years from 2000, where the oldest staff's grandparents would fall before
    # 1870 (the floor used to squeeze them to within a few years of their children).
    early = synthesize(SynthParams(seed=11, scale=60_000, first_year=2000), tmp_path)
    for summary in (flanders, early):
        for parent, (links, upper, under15, under16, under17) in _parent_gaps(summary).items():
            assert links > 5_000, parent
            assert upper > 1_000, parent  # parents with linked parents: both generations
            assert under15 == 0, parent
            # what the generator promises: at least 17 calendar years for both parents
            assert under16 == under17 == 0, parent


def test_flanders_validates_without_findings(flanders: SynthSummary) -> None:
    dataset = herkomst.load_dataset(
        Engine(),
        flanders.out / "dwh",
        flanders.files["personnel"],
        flanders.files["entities"],
        ValidationOptions(today=dt.date(2024, 6, 30)),
    )
    report = dataset.report
    assert report.reason_counts() == {}
    assert report.findings.num_rows == 0
    assert report.rejected == 0
    assert report.corrected == 0


# -- defects ------------------------------------------------------------------------------------
def _cell(summary: SynthSummary, d: PlantedDefect) -> object:
    table = pq.read_table(summary.files[d.table], columns=[d.column])
    assert 1 <= d.row <= table.num_rows
    return table.column(d.column)[d.row - 1].as_py()


def test_defects_are_planted_where_reported(defective: SynthSummary, small: SynthSummary) -> None:
    assert small.defects == ()
    found = {d.what.split(" (")[0]: d for d in defective.defects}
    assert len(defective.defects) == 10
    con = _con(defective)
    bad = found["SSIN with invalid check digits"]
    assert not stdnum_ssn.is_valid(str(_cell(defective, bad)))
    assert _cell(defective, found["unknown country code 'ZZ'"]) == "ZZ"
    dup = found["duplicated person"]
    assert con.execute(
        "SELECT count(*) FROM persons WHERE ssin = ?", [_cell(defective, dup)]
    ).fetchone() == (2,)
    cycle = found["parent cycle"]
    child = _cell(defective, cycle)
    father_of_child = con.execute(
        "SELECT father_ssin FROM persons WHERE ssin = ?", [child]
    ).fetchone()
    grandfather = (
        pq.read_table(defective.files["persons"]).slice(cycle.row - 1, 1).column("ssin")[0].as_py()
    )
    assert father_of_child == (grandfather,)
    assert _cell(defective, found["registration date in the future"]) == dt.date(2099, 6, 30)
    ghost = _cell(defective, found["SSIN not in the register"])
    assert stdnum_ssn.is_valid(str(ghost))
    assert con.execute("SELECT count(*) FROM persons WHERE ssin = ?", [ghost]).fetchone() == (0,)
    entity = _cell(defective, found["entity not in the entity list"])
    assert con.execute("SELECT count(*) FROM entities WHERE entity = ?", [entity]).fetchone() == (
        0,
    )
    assert con.execute(
        "SELECT count(*) FROM (SELECT ssin, year, employer_id FROM employment GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone() == (1,)
    assert con.execute(
        "SELECT count(*) FROM nationalities n JOIN persons p USING (ssin) WHERE n.valid_from < p.birth_date"
    ).fetchone() == (1,)
    assert con.execute(
        "SELECT count(*) FROM persons c JOIN persons f ON f.ssin = c.father_ssin WHERE f.birth_date >= c.birth_date"
    ).fetchone() == (1,)  # the cycle's grandfather has no birth date
    assert {d.table for d in defective.defects} == {
        "persons",
        "nationalities",
        "employment",
        "personnel",
    }


# -- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed -1 is not allowed"),
        ({"seed": 1, "scale": "wallonia"}, "scale 'wallonia' is not allowed"),
        ({"seed": 1, "scale": 10}, "scale 10 is not allowed"),
        ({"seed": 1, "fmt": "xlsx"}, "format 'xlsx' is not allowed"),
        ({"seed": 1, "first_year": 2015, "last_year": 2012}, "years 2015-2012 are not allowed"),
        ({"seed": 1, "last_year": 2030}, "years 2010-2030 are not allowed"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        SynthParams(**kwargs)  # type: ignore[arg-type]


def test_scale_as_text_number_and_fewer_years(tmp_path: Path) -> None:
    s = synthesize(SynthParams(seed=3, scale="6000", first_year=2018, last_year=2021), tmp_path)
    assert sorted(s.staff_by_year) == [2018, 2019, 2020, 2021]
    years = pq.read_table(s.files["employment"], columns=["year"]).column("year").to_pylist()
    assert min(years) == 2018
    assert max(years) == 2021
    assert 3_000 < s.persons < 12_000
