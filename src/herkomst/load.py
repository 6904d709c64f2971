"""Reading the contract's input files into the engine, untyped, with their row numbers.

Each input file becomes a raw table ``raw_<name>`` of text columns (one per contract column,
in the contract's order; absent optional columns are null) plus ``_row``, the 1-based number
of the data row in its file (the header is not counted; CSV line = row + 1). Typing and all
checks happen in :mod:`herkomst.validate`; later stages read only the validated tables that
:func:`load_dataset` leaves in the engine.

File-level problems are fatal and raise one-line errors (exit 2): a missing required file or
column, a table given twice (CSV and Parquet), an unreadable or empty file. A CSV line that
cannot be parsed (too few or too many fields, a broken quote, a truncated last line) is a
row-level problem: the row is rejected with reason ``MALFORMED_ROW`` and the rest is read.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .contract import ALL_TABLES, REQUIRED_DWH, SPECS, Kind, TableSpec
from .engine import Engine
from .errors import InputError, MissingColumn, MissingFile, UnreadableFile, UsageError

FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Malformed:
    """A CSV line that could not be split into the header's fields."""

    row: int
    reason: str


@dataclass(frozen=True)
class LoadedFile:
    """What reading one input file produced."""

    table: str
    path: Path
    fmt: str
    sha256: str
    rows_read: int  # data rows in the file, malformed ones included
    encoding: str
    extra_columns: tuple[str, ...] = ()
    absent_optional: tuple[str, ...] = ()
    malformed: tuple[Malformed, ...] = field(default=())

    def provenance(self) -> dict[str, object]:
        return {
            "table": self.table,
            "file": self.path.name,
            "format": self.fmt,
            "sha256": self.sha256,
            "rows": self.rows_read,
        }


def find_table_file(directory: Path, table: str) -> Path | None:
    """The file holding ``table`` in ``directory`` (``table.parquet`` or ``table.csv``)."""
    found = [
        directory / f"{table}.{ext}" for ext in FORMATS if (directory / f"{table}.{ext}").is_file()
    ]
    if len(found) > 1:
        raise UsageError(
            f"{directory}: both {found[0].name} and {found[1].name} found; keep one file per table"
        )
    return found[0] if found else None


def dwh_files(dwh: Path) -> dict[str, Path]:
    """Locate the data-warehouse tables in ``dwh``; the required ones must be there."""
    if not dwh.is_dir():
        raise MissingFile(f"{dwh}: data-warehouse folder not found")
    files: dict[str, Path] = {}
    for spec in ALL_TABLES:
        if spec.source != "--dwh":
            continue
        path = find_table_file(dwh, spec.name)
        if path is None:
            if spec.name in REQUIRED_DWH:
                raise MissingFile(
                    f"{dwh}: required table '{spec.name}' not found "
                    f"(expected {spec.name}.parquet or {spec.name}.csv)"
                )
            continue
        files[spec.name] = path
    return files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_file(engine: Engine, spec: TableSpec, path: Path) -> LoadedFile:
    """Read one input file into ``raw_<table>``."""
    if not path.is_file():
        raise MissingFile(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise UnreadableFile(f"{path}: file is empty")
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "parquet":
        return _read_parquet(engine, spec, path)
    if suffix == "csv":
        return _read_csv(engine, spec, path)
    raise UsageError(f"{path}: unknown format '.{suffix}' (expected .parquet or .csv)")


def _q(path: Path) -> str:
    return str(path).replace("'", "''")


def _check_columns(
    spec: TableSpec, path: Path, header: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names = [h.strip().lower() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UnreadableFile(f"{path}: column '{dupes[0]}' appears twice in the header")
    missing = [c.name for c in spec.columns if c.name not in names and (c.required or c.key)]
    if missing:
        raise MissingColumn(
            f"{path}: required column '{missing[0]}' missing "
            f"(table {spec.name} needs {', '.join(c.name for c in spec.columns if c.required or c.key)})"
        )
    extra = tuple(n for n in names if n not in spec.column_names)
    absent = tuple(c for c in spec.column_names if c not in names)
    return extra, absent


def _read_parquet(engine: Engine, spec: TableSpec, path: Path) -> LoadedFile:
    try:
        schema = engine.rows(f"DESCRIBE SELECT * FROM read_parquet('{_q(path)}')")
    except duckdb.Error as exc:
        raise UnreadableFile(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
    types = {str(r[0]).strip().lower(): str(r[1]).upper() for r in schema}
    original = {str(r[0]).strip().lower(): str(r[0]) for r in schema}
    extra, absent = _check_columns(spec, path, [str(r[0]) for r in schema])
    selects = []
    for col in spec.columns:
        if col.name in absent:
            selects.append(f'CAST(NULL AS VARCHAR) AS "{col.name}"')
            continue
        src = '"' + original[col.name].replace('"', '""') + '"'
        typ = types[col.name]
        if col.kind is Kind.SSIN and _is_integer_type(typ):
            # A numeric SSIN column loses the leading zero of births in 2000-2009.
            expr = f"lpad(CAST({src} AS VARCHAR), 11, '0')"
        elif col.kind is Kind.DATE and ("DATE" in typ or "TIMESTAMP" in typ):
            expr = f"CAST(CAST({src} AS DATE) AS VARCHAR)"
        else:
            expr = f"CAST({src} AS VARCHAR)"
        selects.append(f'{expr} AS "{col.name}"')
    sql = (
        f"SELECT CAST(file_row_number + 1 AS BIGINT) AS _row, {', '.join(selects)} "
        f"FROM read_parquet('{_q(path)}', file_row_number = true)"
    )
    try:
        engine.create_table(f"raw_{spec.name}", sql)
    except duckdb.Error as exc:
        raise UnreadableFile(f"{path}: cannot read ({_first_line(exc)})") from None
    rows = engine.count(f"raw_{spec.name}")
    return LoadedFile(
        table=spec.name,
        path=path,
        fmt="parquet",
        sha256=sha256_file(path),
        rows_read=rows,
        encoding="parquet",
        extra_columns=extra,
        absent_optional=absent,
    )


def _is_integer_type(typ: str) -> bool:
    return typ in {
        "BIGINT",
        "INTEGER",
        "HUGEINT",
        "UBIGINT",
        "DECIMAL(11,0)",
        "DOUBLE",
    } or typ.startswith("DECIMAL")


def _detect_encoding(path: Path) -> str:
    """'utf-8' when the whole file decodes as UTF-8 (a BOM is allowed), else 'latin-1'."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def _read_header(path: Path, encoding: str) -> list[str]:
    with path.open(
        "r", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    ) as fh:
        first = fh.readline()
    if not first.strip():
        raise UnreadableFile(f"{path}: no header row")
    try:
        return next(csv.reader(io.StringIO(first)))
    except (csv.Error, StopIteration):
        raise UnreadableFile(f"{path}: the header row cannot be read as CSV") from None


def _read_csv(engine: Engine, spec: TableSpec, path: Path) -> LoadedFile:
    encoding = _detect_encoding(path)
    header = _read_header(path, encoding)
    extra, absent = _check_columns(spec, path, header)
    names = [h.strip().lower() for h in header]
    # Every column as text, in the file's order, under normalised names.
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names))) + "}"
    options = (
        f"header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"columns = {columns}, store_rejects = true, ignore_errors = true, "
        f"rejects_table = 'rejects_{spec.name}', rejects_scan = 'rejects_scan_{spec.name}', "
        f"encoding = '{'utf-8' if encoding == 'utf-8' else 'latin-1'}', nullstr = ''"
    )
    index = {n: i for i, n in enumerate(names)}
    selects = []
    for col in spec.columns:
        if col.name in absent:
            selects.append(f'CAST(NULL AS VARCHAR) AS "{col.name}"')
        else:
            selects.append(f'c{index[col.name]} AS "{col.name}"')
    staged = f"stage_{spec.name}"
    try:
        engine.execute(f"DROP TABLE IF EXISTS rejects_{spec.name}")
        engine.execute(f"DROP TABLE IF EXISTS rejects_scan_{spec.name}")
        engine.create_table(
            staged, f"SELECT {', '.join(selects)} FROM read_csv('{_q(path)}', {options})"
        )
        bad = engine.rows(
            f"SELECT DISTINCT line, error_type FROM rejects_{spec.name} ORDER BY line"
        )
    except duckdb.Error as exc:
        raise UnreadableFile(f"{path}: cannot read as CSV ({_first_line(exc)})") from None
    malformed_lines: dict[int, str] = {}
    for line, error_type in bad:
        malformed_lines.setdefault(int(line), str(error_type))
    accepted = engine.count(staged)
    total = accepted + len(malformed_lines)
    # Data row numbers: the accepted rows are, in order, the rows not rejected.
    engine.register("_malformed_rows", _rows_table([line - 1 for line in malformed_lines]))
    engine.create_table(
        f"raw_{spec.name}",
        f"""
        WITH s AS (SELECT *, row_number() OVER (ORDER BY rowid) AS _k FROM {staged}),
             good AS (
                SELECT r.range AS _row, row_number() OVER (ORDER BY r.range) AS _k
                FROM range(1, {total + 1}) r
                WHERE r.range NOT IN (SELECT row FROM _malformed_rows)
             )
        SELECT CAST(good._row AS BIGINT) AS _row, {", ".join(f's."{c}"' for c in spec.column_names)}
        FROM s JOIN good USING (_k)
        ORDER BY good._row
        """,
    )
    engine.execute(f"DROP TABLE {staged}")
    engine.con.unregister("_malformed_rows")
    if engine.count(f"raw_{spec.name}") != accepted:  # pragma: no cover - defensive
        raise UnreadableFile(f"{path}: row numbering failed (multi-line fields are not supported)")
    return LoadedFile(
        table=spec.name,
        path=path,
        fmt="csv",
        sha256=sha256_file(path),
        rows_read=total,
        encoding="utf-8" if encoding == "utf-8" else "latin-1",
        extra_columns=extra,
        absent_optional=absent,
        malformed=tuple(
            Malformed(row=line - 1, reason=_malformed_reason(kind))
            for line, kind in sorted(malformed_lines.items())
        ),
    )


def _rows_table(rows: list[int]) -> object:
    import pyarrow as pa

    return pa.table({"row": pa.array(rows, type=pa.int64())})


def _malformed_reason(error_type: str) -> str:
    return {
        "MISSING COLUMNS": "too few fields (a truncated line?)",
        "TOO MANY COLUMNS": "too many fields",
        "UNQUOTED VALUE": "a quote inside an unquoted field",
        "LINE SIZE OVER MAXIMUM": "line too long",
        "INVALID UNICODE": "invalid characters",
    }.get(error_type.upper(), error_type.lower())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def spec(name: str) -> TableSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise InputError(f"unknown table '{name}'") from None
