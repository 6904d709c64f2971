"""Validating the data contract: every input row accepted, corrected or rejected, with a reason.

The checks run as set-based SQL in the engine. Each finding names the table, the file, the
data row (1-based, header not counted), the column and a reason code from :class:`Reason`.
A finding either rejects the row (it is left out of the validated tables) or nullifies one
value (the row is kept and that fact becomes unknown), as the reason's action says. The
report accounts for every row of every file: ``accepted``, ``accepted_with_corrections`` or
``rejected``. No finding and no message carries an SSIN.

Order of the checks (later checks see the result of earlier ones):

1. parsing: types, SSIN check digits, country, region and code lists, required values;
2. duplicates on each table's key;
3. persons: future dates, registration before birth; parent links (not in persons, own
   parent, born after the child or less than 12 years before); ancestor cycles of any length;
4. references: rows of other tables whose person, entity or employer is unknown;
5. impossible facts elsewhere: a nationality before birth or in the future, years in the
   future or outside the data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import codes
from .contract import ALL_TABLES, SPECS, VALIDATED_TYPES, Column, Kind, TableSpec
from .engine import Engine
from .errors import InternalError
from .load import LoadedFile, dwh_files, read_file

Progress = Callable[[str], None]


class Action(StrEnum):
    REJECT = "reject"  # the row is excluded
    NULLIFY = "nullify"  # the value becomes null (unknown); the row is kept
    WARN = "warn"  # the row is kept unchanged


class Reason(StrEnum):
    """Reason codes of row-level findings. The message says what is wrong, never the SSIN."""

    MALFORMED_ROW = "MALFORMED_ROW"
    MISSING_VALUE = "MISSING_VALUE"
    INVALID_SSIN = "INVALID_SSIN"
    INVALID_DATE = "INVALID_DATE"
    INVALID_YEAR = "INVALID_YEAR"
    INVALID_VALUE = "INVALID_VALUE"
    UNKNOWN_COUNTRY = "UNKNOWN_COUNTRY"
    UNKNOWN_NIS_CODE = "UNKNOWN_NIS_CODE"
    UNKNOWN_REGION = "UNKNOWN_REGION"
    DUPLICATE_ROW = "DUPLICATE_ROW"
    CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
    FUTURE_DATE = "FUTURE_DATE"
    REGISTRATION_BEFORE_BIRTH = "REGISTRATION_BEFORE_BIRTH"
    OWN_PARENT = "OWN_PARENT"
    PARENT_NOT_IN_PERSONS = "PARENT_NOT_IN_PERSONS"
    PARENT_TOO_YOUNG = "PARENT_TOO_YOUNG"
    ANCESTOR_CYCLE = "ANCESTOR_CYCLE"
    PARENT_REJECTED = "PARENT_REJECTED"
    UNKNOWN_PERSON = "UNKNOWN_PERSON"
    NATIONALITY_BEFORE_BIRTH = "NATIONALITY_BEFORE_BIRTH"
    FUTURE_YEAR = "FUTURE_YEAR"
    YEAR_OUT_OF_RANGE = "YEAR_OUT_OF_RANGE"
    YEAR_NOT_IN_DATA = "YEAR_NOT_IN_DATA"
    UNKNOWN_ENTITY = "UNKNOWN_ENTITY"
    DOMAIN_MISMATCH = "DOMAIN_MISMATCH"
    EMPLOYER_WITHOUT_JOBS = "EMPLOYER_WITHOUT_JOBS"


MESSAGES: dict[Reason, str] = {
    Reason.MALFORMED_ROW: "the line cannot be split into the header's fields",
    Reason.MISSING_VALUE: "a required value is empty",
    Reason.INVALID_SSIN: "not a valid national-register or BIS number (format or check digits)",
    Reason.INVALID_DATE: "not an ISO date YYYY-MM-DD",
    Reason.INVALID_YEAR: "not a year",
    Reason.INVALID_VALUE: "value not allowed for this column",
    Reason.UNKNOWN_COUNTRY: "not an ISO 3166-1 alpha-2 code, XK, or a former-state code",
    Reason.UNKNOWN_NIS_CODE: "a 3-digit NIS country code that the mapping file does not list",
    Reason.UNKNOWN_REGION: "not BE-BRU, BE-VLG or BE-WAL",
    Reason.DUPLICATE_ROW: "the same row appears earlier in the file; this copy is left out",
    Reason.CONFLICTING_DUPLICATE: "the key appears more than once with different values; all copies are left out",
    Reason.FUTURE_DATE: "date after the validation date",
    Reason.REGISTRATION_BEFORE_BIRTH: "registered before being born",
    Reason.OWN_PARENT: "a person is given as his or her own parent",
    Reason.PARENT_NOT_IN_PERSONS: "the parent is not in persons (or was rejected); the link is treated as not linked",
    Reason.PARENT_TOO_YOUNG: "the parent is born after the child or less than 12 years before",
    Reason.ANCESTOR_CYCLE: "the person is his or her own ancestor through the parent links",
    Reason.PARENT_REJECTED: "the parent's own row was rejected; the link is treated as not linked",
    Reason.UNKNOWN_PERSON: "the person is not in persons (or was rejected)",
    Reason.NATIONALITY_BEFORE_BIRTH: "nationality valid from before the person's birth",
    Reason.FUTURE_YEAR: "year after the validation date",
    Reason.YEAR_OUT_OF_RANGE: "year outside the data period",
    Reason.YEAR_NOT_IN_DATA: "no employment data for this year",
    Reason.UNKNOWN_ENTITY: "the entity is not in the entity list",
    Reason.DOMAIN_MISMATCH: "the policy domain differs from the entity list's",
    Reason.EMPLOYER_WITHOUT_JOBS: "no job at this employer in employment",
}


@dataclass(frozen=True)
class ValidationOptions:
    """Parameters of a validation run."""

    today: dt.date = field(default_factory=dt.date.today)
    first_year: int = 1990  # years before this are outside the data
    country_map: Path | None = None  # NIS -> ISO mapping (nis_code,iso_code)
    min_parent_age: int = 12

    def __post_init__(self) -> None:
        if not 1900 <= self.first_year <= self.today.year:
            raise ValueError("first_year must lie between 1900 and the validation date")
        if not 0 <= self.min_parent_age <= 30:
            raise ValueError("min_parent_age must lie between 0 and 30")


@dataclass
class TableCounts:
    table: str
    file: str
    rows: int = 0
    accepted: int = 0
    corrected: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "file": self.file,
            "rows": self.rows,
            "accepted": self.accepted,
            "accepted_with_corrections": self.corrected,
            "rejected": self.rejected,
        }


@dataclass
class ValidationReport:
    """Every row of every file, accounted for."""

    options: ValidationOptions
    files: list[LoadedFile]
    tables: dict[str, TableCounts]
    findings: pa.Table  # table, file, row, column, reason, action, value
    notes: list[str]

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables.values())

    @property
    def corrected(self) -> int:
        return sum(t.corrected for t in self.tables.values())

    def reason_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {}
        for tbl, reason, action in zip(
            self.findings.column("table").to_pylist(),
            self.findings.column("reason").to_pylist(),
            self.findings.column("action").to_pylist(),
            strict=True,
        ):
            out.setdefault(tbl, Counter())[f"{reason}:{action}"] += 1
        return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}

    def as_dict(self) -> dict[str, Any]:
        return {
            "validation_date": self.options.today.isoformat(),
            "files": [f.provenance() | {"encoding": f.encoding} for f in self.files],
            "tables": [self.tables[t].as_dict() for t in sorted(self.tables)],
            "totals": {
                "rows": sum(t.rows for t in self.tables.values()),
                "accepted": sum(t.accepted for t in self.tables.values()),
                "accepted_with_corrections": self.corrected,
                "rejected": self.rejected,
            },
            "reasons": {r.value: {"message": MESSAGES[r]} for r in Reason},
            "reason_counts": self.reason_counts(),
            "notes": self.notes,
            "findings": self.findings.to_pylist(),
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n", "utf-8")


@dataclass(frozen=True)
class Dataset:
    """The validated tables in an engine, with the report that produced them."""

    engine: Engine
    report: ValidationReport
    tables: frozenset[str]

    def inputs(self) -> list[dict[str, object]]:
        return [f.provenance() for f in self.report.files]


# --------------------------------------------------------------------------------------------
# Entry point


def load_dataset(
    engine: Engine,
    dwh: Path,
    personnel: Path | None = None,
    entities: Path | None = None,
    options: ValidationOptions | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Read, check and keep the contract's tables; the only way later stages get data."""
    opts = options or ValidationOptions()
    say = progress or (lambda _msg: None)
    paths: dict[str, Path] = dwh_files(dwh)
    if (personnel is None) != (entities is None):
        from .errors import UsageError

        raise UsageError("--personnel and --entities go together: give both or neither")
    if personnel is not None and entities is not None:
        paths["personnel"] = personnel
        paths["entities"] = entities
    nis = codes.read_nis_map(opts.country_map) if opts.country_map else None
    v = _Validator(engine, opts, nis)
    files: list[LoadedFile] = []
    for spec in ALL_TABLES:
        if spec.name in paths:
            say(f"reading {paths[spec.name].name}")
            files.append(read_file(engine, spec, paths[spec.name]))
    v.run(files, say)
    return Dataset(engine=engine, report=v.report(files), tables=frozenset(paths))


# --------------------------------------------------------------------------------------------
# The checks


class _Validator:
    def __init__(self, engine: Engine, opts: ValidationOptions, nis: codes.NisMap | None) -> None:
        self.e = engine
        self.o = opts
        self.nis = nis
        self.present: dict[str, LoadedFile] = {}
        self.notes: list[str] = []
        self.rejected: dict[str, int] = {}  # rejections already applied to each work table
        self.e.execute(
            "CREATE OR REPLACE TABLE findings (tbl VARCHAR, _row BIGINT, col VARCHAR, "
            "reason VARCHAR, action VARCHAR, value VARCHAR)"
        )
        # Country tokens accepted in the input: ISO / XK / former states as themselves, and the
        # NIS codes of the user's mapping (an empty ISO code there means unknown).
        known = sorted(codes.country_names())
        pairs = sorted((nis.codes if nis else {}).items())
        self.e.register(
            "ref_country_lookup",
            pa.table(
                {
                    "token": pa.array(known + [p[0] for p in pairs], pa.string()),
                    "iso": pa.array(known + [p[1] or None for p in pairs], pa.string()),
                }
            ),
        )

    # -- bookkeeping ---------------------------------------------------------------------
    def add(self, sql: str) -> None:
        """Append findings: ``sql`` selects (tbl, _row, col, reason, action, value)."""
        self.e.execute(f"INSERT INTO findings {sql}")

    def rebuild(self, table: str) -> None:
        """Drop newly rejected rows from ``work_<table>`` (nothing to do when there are none)."""
        rejected = int(
            self.e.scalar(
                f"SELECT count(*) FROM findings WHERE tbl = '{table}' AND action = 'reject'"
            )
        )
        if rejected == self.rejected.get(table, 0):
            return
        self.rejected[table] = rejected
        self.e.create_table(
            f"work_{table}",
            f"SELECT * FROM work_{table} w WHERE w._row NOT IN "
            f"(SELECT _row FROM findings WHERE tbl = '{table}' AND action = 'reject') ORDER BY w._row",
        )

    def nullify(self, table: str, column: str, reason: Reason) -> None:
        """Set ``column`` to null in ``work_<table>`` for the rows with that finding."""
        where = f"tbl = '{table}' AND col = '{column}' AND reason = '{reason.value}'"
        if not int(self.e.scalar(f"SELECT count(*) FROM findings WHERE {where}")):
            return
        cols = ", ".join(
            f"CASE WHEN f._row IS NOT NULL THEN NULL ELSE w.{c} END AS {c}"
            if c == column
            else f"w.{c}"
            for c in ["_row", *SPECS[table].column_names]
        )
        self.e.create_table(
            f"work_{table}",
            f"SELECT {cols} FROM work_{table} w LEFT JOIN "
            f"(SELECT DISTINCT _row FROM findings WHERE {where}) f ON w._row = f._row ORDER BY w._row",
        )

    # -- the run --------------------------------------------------------------------------
    def run(self, files: list[LoadedFile], say: Progress) -> None:
        for f in files:
            self.present[f.table] = f
            if f.extra_columns:
                self.notes.append(
                    f"{f.path.name}: unknown column(s) ignored: {', '.join(f.extra_columns)}"
                )
            if f.encoding == "latin-1":
                self.notes.append(f"{f.path.name}: not valid UTF-8; read as Latin-1 (ISO-8859-1)")
            if f.malformed:
                self.e.register(
                    "_malformed",
                    pa.table({"_row": pa.array([m.row for m in f.malformed], pa.int64())}),
                )
                self.add(
                    f"SELECT '{f.table}', _row, NULL, 'MALFORMED_ROW', 'reject', NULL FROM _malformed"
                )
                self.e.con.unregister("_malformed")
        say("parsing and checking values")
        for name in self.present:
            self.parse(SPECS[name])
        say("checking duplicates")
        for name in self.present:
            self.duplicates(SPECS[name])
        say("checking persons and parent links")
        self.persons()
        say("checking references")
        self.references()
        # Tables not supplied are created empty so later stages can rely on them.
        for spec in ALL_TABLES:
            if spec.name not in self.present:
                cols = ", ".join(
                    f"CAST(NULL AS {t}) AS {c}" for c, t in VALIDATED_TYPES[spec.name].items()
                )
                self.e.create_table(spec.name, f"SELECT {cols} WHERE false")
        for name in self.present:
            types = VALIDATED_TYPES[name]
            cols = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
            self.e.create_table(name, f"SELECT {cols} FROM work_{name} ORDER BY _row")

    # -- 1. parsing -------------------------------------------------------------------------
    def parse(self, spec: TableSpec) -> None:
        """Type every column; one finding per bad value.

        Three steps keep it fast on millions of rows: normalise each text once; check each
        distinct SSIN once; look country codes up by a join.
        """
        norm = []
        for col in spec.columns:
            t = f"NULLIF(trim(r.{col.name}), '')"
            if col.kind is Kind.SSIN:
                expr = codes.compact_sql(t)
            elif col.kind in (Kind.COUNTRY, Kind.REGION):
                expr = f"upper({t})"
            else:
                expr = t
            norm.append(f"{expr} AS {col.name}")
            if col.kind is not Kind.SSIN:
                norm.append(f"substr(r.{col.name}, 1, 40) AS {col.name}__raw")
        self.e.create_table(
            f"norm_{spec.name}", f"SELECT _row, {', '.join(norm)} FROM raw_{spec.name} r"
        )
        ssin_cols = [c.name for c in spec.columns if c.kind is Kind.SSIN]
        if ssin_cols:
            distinct = " UNION ".join(
                f"SELECT {c} AS v FROM norm_{spec.name} WHERE {c} IS NOT NULL" for c in ssin_cols
            )
            self.e.create_table(
                "_ssin_ok",
                f"SELECT v, {codes.ssin_sql('v', self.o.today.year)} AS ok "
                f"FROM (SELECT DISTINCT v FROM ({distinct}) u) d",
            )
        parsed: list[str] = []
        errors: list[str] = []
        joins: list[str] = []
        for col in spec.columns:
            value, error, join = self._parse_column(col)
            parsed.append(f"{value} AS {col.name}")
            errors.append(f"{error} AS {col.name}__e")
            joins.extend(join)
        self.e.create_table(
            f"parsed_{spec.name}",
            f"SELECT n._row, {', '.join(parsed)}, {', '.join(errors)}, "
            + ", ".join(f"n.{c.name}__raw" for c in spec.columns if c.kind is not Kind.SSIN)
            + f" FROM norm_{spec.name} n {' '.join(joins)}",
        )
        for col in spec.columns:
            action = Action.REJECT if (col.key or col.required) else Action.NULLIFY
            value = "NULL" if col.kind is Kind.SSIN else f"{col.name}__raw"
            self.add(
                f"SELECT '{spec.name}', _row, '{col.name}', {col.name}__e, '{action.value}', {value} "
                f"FROM parsed_{spec.name} WHERE {col.name}__e IS NOT NULL"
            )
        self.e.create_table(
            f"work_{spec.name}",
            f"SELECT _row, {', '.join(c.name for c in spec.columns)} FROM parsed_{spec.name} "
            f"WHERE _row NOT IN (SELECT _row FROM findings WHERE tbl = '{spec.name}' "
            f"AND action = 'reject') ORDER BY _row",
        )
        self.rejected[spec.name] = int(
            self.e.scalar(
                f"SELECT count(*) FROM findings WHERE tbl = '{spec.name}' AND action = 'reject'"
            )
        )
        for name in (f"parsed_{spec.name}", f"norm_{spec.name}", "_ssin_ok"):
            self.e.execute(f"DROP TABLE IF EXISTS {name}")

    def _parse_column(self, col: Column) -> tuple[str, str, list[str]]:
        """SQL for the parsed value (null when bad), the reason code (null when fine), joins."""
        t = f"n.{col.name}"
        missing = (
            f"WHEN {t} IS NULL THEN {repr(Reason.MISSING_VALUE.value) if col.required else 'NULL'}"
        )
        if col.kind is Kind.SSIN:
            alias = f"s_{col.name}"
            ok = f"{alias}.ok"
            return (
                f"CASE WHEN {ok} THEN {t} END",
                f"CASE {missing} WHEN {ok} THEN NULL ELSE 'INVALID_SSIN' END",
                [f"LEFT JOIN _ssin_ok {alias} ON {t} = {alias}.v"],
            )
        if col.kind is Kind.DATE:
            d = f"TRY_CAST({t} AS DATE)"
            ok = f"({d} IS NOT NULL AND CAST({d} AS VARCHAR) = {t})"
            return (
                f"CASE WHEN {ok} THEN {d} END",
                f"CASE {missing} WHEN {ok} THEN NULL ELSE 'INVALID_DATE' END",
                [],
            )
        if col.kind is Kind.YEAR:
            y = f"TRY_CAST({t} AS INTEGER)"
            ok = f"({y} BETWEEN 1800 AND 2200 AND CAST({y} AS VARCHAR) = {t})"
            return (
                f"CASE WHEN {ok} THEN {y} END",
                f"CASE {missing} WHEN {ok} THEN NULL ELSE 'INVALID_YEAR' END",
                [],
            )
        if col.kind is Kind.COUNTRY:
            alias = f"c_{col.name}"
            is_nis = f"(length({t}) = 3 AND length(translate({t}, '0123456789', '')) = 0)"
            return (
                f"{alias}.iso",
                f"CASE {missing} WHEN {alias}.token IS NOT NULL THEN NULL "
                f"WHEN {is_nis} THEN 'UNKNOWN_NIS_CODE' ELSE 'UNKNOWN_COUNTRY' END",
                [f"LEFT JOIN ref_country_lookup {alias} ON {t} = {alias}.token"],
            )
        if col.kind is Kind.REGION:
            ok = f"{t} IN ({', '.join(repr(r) for r in codes.REGIONS)})"
            return (
                f"CASE WHEN {ok} THEN {t} END",
                f"CASE {missing} WHEN {ok} THEN NULL ELSE 'UNKNOWN_REGION' END",
                [],
            )
        if col.kind is Kind.CODE:
            if col.allowed:
                ok = f"{t} IN ({', '.join(repr(a) for a in col.allowed)})"
            elif col.digits:
                ok = (
                    f"(length({t}) = {col.digits} AND length(translate({t}, '0123456789', '')) = 0)"
                )
            else:  # pragma: no cover - contract specs always give one
                raise InternalError(f"code column {col.name} has no allowed values")
            return (
                f"CASE WHEN {ok} THEN {t} END",
                f"CASE {missing} WHEN {ok} THEN NULL ELSE 'INVALID_VALUE' END",
                [],
            )
        if col.kind is Kind.TEXT:
            return t, f"CASE {missing} ELSE NULL END", []
        raise InternalError(f"no parser for column kind {col.kind}")  # pragma: no cover

    # -- 2. duplicates ------------------------------------------------------------------------
    def duplicates(self, spec: TableSpec) -> None:
        key = ", ".join(spec.unique)
        rest = [c for c in spec.column_names if c not in spec.unique]
        sig = (
            "concat_ws('|', "
            + ", ".join(f"coalesce(CAST({c} AS VARCHAR), '~')" for c in rest)
            + ")"
            if rest
            else "''"
        )
        # Only keys that occur more than once are looked at closely.
        self.e.create_table(
            "_dupkeys", f"SELECT {key} FROM work_{spec.name} GROUP BY {key} HAVING count(*) > 1"
        )
        self.e.create_table(
            "_dups",
            f"""
            SELECT _row, n, k, lo <> hi AS conflicting FROM (
                SELECT _row, count(*) OVER (PARTITION BY {key}) AS n,
                       row_number() OVER (PARTITION BY {key} ORDER BY _row) AS k,
                       min({sig}) OVER (PARTITION BY {key}) AS lo,
                       max({sig}) OVER (PARTITION BY {key}) AS hi
                FROM work_{spec.name} JOIN _dupkeys USING ({key})
            ) d
            """,
        )
        first = spec.unique[0]
        self.add(
            f"SELECT '{spec.name}', _row, '{first}', "
            f"CASE WHEN conflicting THEN 'CONFLICTING_DUPLICATE' ELSE 'DUPLICATE_ROW' END, "
            f"'reject', NULL FROM _dups WHERE conflicting OR k > 1"
        )
        self.e.execute("DROP TABLE _dups")
        self.e.execute("DROP TABLE _dupkeys")
        self.rebuild(spec.name)

    # -- 3. persons -------------------------------------------------------------------------
    def persons(self) -> None:
        today = f"DATE '{self.o.today.isoformat()}'"
        for col in ("birth_date", "registration_date"):
            self.add(
                f"SELECT 'persons', _row, '{col}', 'FUTURE_DATE', 'nullify', CAST({col} AS VARCHAR) "
                f"FROM work_persons WHERE {col} > {today}"
            )
            self.nullify("persons", col, Reason.FUTURE_DATE)
        self.add(
            "SELECT 'persons', _row, 'registration_date', 'REGISTRATION_BEFORE_BIRTH', 'nullify', "
            "CAST(registration_date AS VARCHAR) FROM work_persons WHERE registration_date < birth_date"
        )
        self.nullify("persons", "registration_date", Reason.REGISTRATION_BEFORE_BIRTH)
        years = int(self.o.min_parent_age)
        for parent in ("father_ssin", "mother_ssin"):
            self.add(
                f"SELECT 'persons', _row, '{parent}', 'OWN_PARENT', 'nullify', NULL "
                f"FROM work_persons WHERE {parent} = ssin"
            )
            self.nullify("persons", parent, Reason.OWN_PARENT)
            self.add(
                f"SELECT 'persons', c._row, '{parent}', 'PARENT_NOT_IN_PERSONS', 'nullify', NULL "
                f"FROM work_persons c WHERE c.{parent} IS NOT NULL AND c.{parent} NOT IN "
                f"(SELECT ssin FROM work_persons)"
            )
            self.nullify("persons", parent, Reason.PARENT_NOT_IN_PERSONS)
            self.add(
                f"SELECT 'persons', c._row, '{parent}', 'PARENT_TOO_YOUNG', 'nullify', NULL "
                f"FROM work_persons c JOIN work_persons p ON c.{parent} = p.ssin "
                f"WHERE p.birth_date > c.birth_date - INTERVAL {years} YEAR"
            )
            self.nullify("persons", parent, Reason.PARENT_TOO_YOUNG)
        self.cycles()

    def cycles(self) -> None:
        """Reject persons who are their own ancestor, whatever the cycle's length.

        Set-based peeling: a link whose parent has no parent of its own, or whose child has
        no child of its own, cannot lie on a cycle; drop such links until none is left to
        drop (one round per generation). What remains is tiny; an exact search on it keeps
        only the persons who reach themselves.
        """
        self.e.create_table(
            "_links",
            "SELECT ssin AS child, father_ssin AS parent FROM work_persons WHERE father_ssin IS NOT NULL "
            "UNION ALL SELECT ssin, mother_ssin FROM work_persons WHERE mother_ssin IS NOT NULL",
        )
        before = -1
        while True:
            n = self.e.count("_links")
            if n == before or n == 0:
                break
            before = n
            self.e.create_table(
                "_links",
                "SELECT * FROM _links WHERE parent IN (SELECT child FROM _links) "
                "AND child IN (SELECT parent FROM _links)",
            )
        rest = self.e.rows("SELECT child, parent FROM _links ORDER BY child, parent")
        self.e.execute("DROP TABLE _links")
        if not rest:
            return
        graph: dict[str, list[str]] = {}
        for child, parent in rest:
            graph.setdefault(child, []).append(parent)
        on_cycle = sorted(node for node in graph if _reaches(graph, node, node))
        if not on_cycle:
            return
        self.e.register("_cycle", pa.table({"ssin": pa.array(on_cycle, pa.string())}))
        self.add(
            "SELECT 'persons', _row, CASE WHEN father_ssin IN (SELECT ssin FROM _cycle) "
            "THEN 'father_ssin' ELSE 'mother_ssin' END, 'ANCESTOR_CYCLE', 'reject', NULL "
            "FROM work_persons WHERE ssin IN (SELECT ssin FROM _cycle)"
        )
        self.e.con.unregister("_cycle")
        self.rebuild("persons")
        for parent in ("father_ssin", "mother_ssin"):
            self.add(
                f"SELECT 'persons', _row, '{parent}', 'PARENT_REJECTED', 'nullify', NULL "
                f"FROM work_persons WHERE {parent} IS NOT NULL AND {parent} NOT IN "
                f"(SELECT ssin FROM work_persons)"
            )
            self.nullify("persons", parent, Reason.PARENT_REJECTED)

    # -- 4./5. references and impossible facts ------------------------------------------------
    def references(self) -> None:
        today = f"DATE '{self.o.today.isoformat()}'"
        for name in ("nationalities", "employment", "residence", "education", "personnel"):
            if name not in self.present:
                continue
            self.add(
                f"SELECT '{name}', _row, 'ssin', 'UNKNOWN_PERSON', 'reject', NULL FROM work_{name} "
                f"WHERE ssin NOT IN (SELECT ssin FROM work_persons)"
            )
            self.rebuild(name)
        if "nationalities" in self.present:
            self.add(
                "SELECT 'nationalities', n._row, 'valid_from', 'NATIONALITY_BEFORE_BIRTH', 'reject', "
                "CAST(n.valid_from AS VARCHAR) FROM work_nationalities n "
                "JOIN work_persons p ON n.ssin = p.ssin WHERE n.valid_from < p.birth_date"
            )
            self.add(
                "SELECT 'nationalities', _row, 'valid_from', 'FUTURE_DATE', 'reject', "
                f"CAST(valid_from AS VARCHAR) FROM work_nationalities WHERE valid_from > {today}"
            )
            self.rebuild("nationalities")
        year_now = self.o.today.year
        for name in ("employment", "residence", "personnel"):
            if name not in self.present:
                continue
            self.add(
                f"SELECT '{name}', _row, 'year', CASE WHEN year > {year_now} THEN 'FUTURE_YEAR' "
                f"ELSE 'YEAR_OUT_OF_RANGE' END, 'reject', CAST(year AS VARCHAR) FROM work_{name} "
                f"WHERE year > {year_now} OR year < {int(self.o.first_year)}"
            )
            self.rebuild(name)
        if "personnel" in self.present:
            self.add(
                "SELECT 'personnel', _row, 'year', 'YEAR_NOT_IN_DATA', 'reject', CAST(year AS VARCHAR) "
                "FROM work_personnel WHERE year NOT IN (SELECT DISTINCT year FROM work_employment)"
            )
            self.rebuild("personnel")
            self.add(
                "SELECT 'personnel', _row, 'entity', 'UNKNOWN_ENTITY', 'reject', substr(entity, 1, 40) "
                "FROM work_personnel WHERE entity NOT IN (SELECT entity FROM work_entities)"
            )
            self.rebuild("personnel")
            self.add(
                "SELECT 'personnel', p._row, 'policy_domain', 'DOMAIN_MISMATCH', 'reject', "
                "substr(p.policy_domain, 1, 40) FROM work_personnel p JOIN work_entities e "
                "ON p.entity = e.entity WHERE p.policy_domain <> e.policy_domain"
            )
            self.rebuild("personnel")
        if "entities" in self.present:
            self.add(
                "SELECT 'entities', _row, 'employer_id', 'EMPLOYER_WITHOUT_JOBS', 'warn', employer_id "
                "FROM work_entities WHERE employer_id NOT IN (SELECT employer_id FROM work_employment)"
            )

    # -- the report ---------------------------------------------------------------------------
    def report(self, files: list[LoadedFile]) -> ValidationReport:
        findings = self.e.arrow(
            """
            SELECT f.tbl AS "table", m.file AS file, f._row AS "row", f.col AS "column",
                   f.reason, f.action, f.value
            FROM findings f JOIN _files m ON f.tbl = m.tbl
            ORDER BY m.ord, f._row, f.col, f.reason
            """
            if self._register_files(files)
            else "SELECT 1 WHERE false"
        )
        per_row = {
            (str(t), str(a)): int(n)
            for t, a, n in self.e.rows(
                """
                SELECT tbl, worst, count(*) FROM (
                    SELECT tbl, _row, CASE WHEN bool_or(action = 'reject') THEN 'reject'
                                           WHEN bool_or(action = 'nullify') THEN 'nullify'
                                           ELSE 'warn' END AS worst
                    FROM findings GROUP BY tbl, _row) g
                GROUP BY tbl, worst
                """
            )
        }
        tables: dict[str, TableCounts] = {}
        for f in files:
            rejected = per_row.get((f.table, "reject"), 0)
            corrected = per_row.get((f.table, "nullify"), 0)
            kept = self.e.count(f.table)
            counts = TableCounts(
                table=f.table,
                file=f.path.name,
                rows=f.rows_read,
                accepted=f.rows_read - rejected - corrected,
                corrected=corrected,
                rejected=rejected,
            )
            if kept != counts.accepted + counts.corrected:
                raise InternalError(
                    f"{f.path.name}: {kept} rows kept but {counts.accepted + counts.corrected} "
                    "accounted as accepted"
                )
            tables[f.table] = counts
        return ValidationReport(
            options=self.o, files=files, tables=tables, findings=findings, notes=self.notes
        )

    def _register_files(self, files: list[LoadedFile]) -> bool:
        self.e.register(
            "_files",
            pa.table(
                {
                    "tbl": pa.array([f.table for f in files], pa.string()),
                    "file": pa.array([f.path.name for f in files], pa.string()),
                    "ord": pa.array(list(range(len(files))), pa.int32()),
                }
            ),
        )
        return True


def _reaches(graph: dict[str, list[str]], start: str, target: str) -> bool:
    """Whether ``target`` is an ancestor of ``start`` in the (small) residual graph."""
    seen: set[str] = set()
    stack = list(graph.get(start, []))
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    return False


def format_finding(row: dict[str, Any]) -> str:
    """One line for a finding: ``persons.csv, row 12, column ssin: INVALID_SSIN (...)``."""
    where = f"{row['file']}, row {row['row']}"
    if row.get("column"):
        where += f", column {row['column']}"
    reason = Reason(row["reason"])
    value = f" [{row['value']}]" if row.get("value") else ""
    return f"{where}: {reason.value} ({MESSAGES[reason]}){value} -> {row['action']}"
