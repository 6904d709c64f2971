"""Vectorised building blocks: dates as day numbers, SSINs, Arrow columns, table sinks.

Everything here works on whole numpy arrays; nothing loops over persons in Python.
Dates are ``int64`` day numbers since 1970-01-01 (negative before); :data:`NULL_DAY`
marks a missing date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ..errors import InternalError

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I16 = npt.NDArray[np.int16]
B = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]

NULL_DAY = np.int64(-(1 << 40))
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def day(year: int, month: int = 1, dom: int = 1) -> int:
    """The day number of one calendar date."""
    return dt.date(year, month, dom).toordinal() - _EPOCH_ORDINAL


def year_start(years: npt.NDArray[np.integer]) -> I64:
    """Day number of 1 January of each year."""
    y = np.asarray(years, dtype=np.int64) - 1970
    return y.astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def ymd(days: I64) -> tuple[I64, I64, I64]:
    """Year, month (1-12) and day of month of day numbers."""
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    dom = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, dom


def year_of(days: I64) -> I64:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def random_day_in_year(rng: np.random.Generator, years: npt.NDArray[np.integer]) -> I64:
    start = year_start(np.asarray(years))
    length = year_start(np.asarray(years) + 1) - start
    return start + np.floor(rng.random(len(start)) * length).astype(np.int64)


def years_before(days: I64, years: int) -> I64:
    """The same calendar date ``years`` years earlier (29 February -> 28 February).

    This is the latest birth date of someone at least ``years`` old on ``days``, the way
    ``date - INTERVAL n YEAR`` counts.
    """
    y, m, dom = ymd(days)
    month = ((y - years - 1970) * 12 + m - 1).astype("datetime64[M]")
    first = month.astype("datetime64[D]").astype(np.int64)
    length = (month + 1).astype("datetime64[D]").astype(np.int64) - first
    return np.asarray(first + np.minimum(dom, length) - 1, dtype=np.int64)


def years_to_days(years: F64) -> I64:
    """Durations in (fractional) years to whole days."""
    return np.round(years * 365.25).astype(np.int64)


# -- SSIN -------------------------------------------------------------------------------
_SERIALS_PER_SEX = 499  # 001..997 odd for men, 002..998 even for women
_KEYS = 2 * 100 * 12 * 31 * 2 * 3


class SsinAllocator:
    """Hands out unique, valid SSINs across all chunks of one run, deterministically.

    The serial of a number counts births per (encoded date, sex, number kind). When a day
    is full the person's birth date moves one day on (and the caller sees the new date).
    Births a century apart share a key when they would share the nine leading digits.
    Kinds: 0 national-register number, 1 BIS number with month + 20, 2 BIS with month + 40.
    """

    def __init__(self) -> None:
        self.used = np.zeros(_KEYS, dtype=np.int32)

    def assign(self, birth: I64, male: B, kind: npt.NDArray[np.int8]) -> tuple[I64, I64]:
        """Return (ssin as int64, possibly adjusted birth day numbers)."""
        birth = birth.copy()
        out = np.zeros(len(birth), dtype=np.int64)
        pending = np.arange(len(birth))
        for _ in range(400):
            if len(pending) == 0:
                return out, birth
            y, m, d = ymd(birth[pending])
            era = (y >= 2000).astype(np.int64)
            sex = np.where(male[pending], 0, 1).astype(np.int64)
            k = kind[pending].astype(np.int64)
            key = ((((era * 100 + y % 100) * 12 + (m - 1)) * 31 + (d - 1)) * 2 + sex) * 3 + k
            order = np.argsort(key, kind="stable")
            sk = key[order]
            first = np.searchsorted(sk, sk, side="left")
            rank = np.empty(len(sk), dtype=np.int64)
            rank[order] = np.arange(len(sk)) - first
            idx = self.used[key] + rank
            ok = idx < _SERIALS_PER_SEX
            serial = 2 * idx + np.where(sex == 0, 1, 2)
            bis = np.select([k == 1, k == 2], [20, 40], 0)
            head = (y % 100) * 10_000_000 + (m + bis) * 100_000 + d * 1000 + serial
            base = head + np.where(era == 1, 2_000_000_000, 0)
            value = head * 100 + (97 - base % 97)
            out[pending[ok]] = value[ok]
            self.used += np.bincount(key[ok], minlength=_KEYS).astype(np.int32)
            pending = pending[~ok]
            birth[pending] += 1
        raise InternalError("could not allocate unique SSINs")


# -- Arrow columns ----------------------------------------------------------------------
def digit_strings(values: I64, width: int, valid: B | None = None) -> pa.Array:
    """Zero-padded decimal strings of fixed width (SSINs, enterprise numbers)."""
    n = len(values)
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digs = np.ascontiguousarray(((values[:, None] // pows) % 10 + 48).astype(np.uint8))
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(digs))
    if valid is not None and not bool(valid.all()):
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.string()))
    return arr


def codes(vocab: pa.Array, idx: npt.NDArray[np.integer]) -> pa.Array:
    """Strings from a vocabulary by index; a negative index is null."""
    idx32 = np.asarray(idx, dtype=np.int32)
    null = idx32 < 0
    return vocab.take(pa.array(np.where(null, 0, idx32), type=pa.int32(), mask=null))


def dates(days: I64) -> pa.Array:
    null = days == NULL_DAY
    return pa.array(np.where(null, 0, days).astype(np.int32), type=pa.date32(), mask=null)


def ints(values: npt.NDArray[np.integer]) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int32), type=pa.int32())


# -- output tables ------------------------------------------------------------------------
S = pa.string()
SCHEMAS: dict[str, pa.Schema] = {
    "persons": pa.schema(
        [
            ("ssin", S),
            ("sex", S),
            ("birth_date", pa.date32()),
            ("birth_country", S),
            ("father_ssin", S),
            ("mother_ssin", S),
            ("registration_date", pa.date32()),
        ]
    ),
    "nationalities": pa.schema([("ssin", S), ("nationality", S), ("valid_from", pa.date32())]),
    "employment": pa.schema(
        [
            ("ssin", S),
            ("year", pa.int32()),
            ("employer_id", S),
            ("authority", S),
            ("nace", S),
            ("worker_class", pa.int32()),
            ("regime", S),
        ]
    ),
    "residence": pa.schema([("ssin", S), ("year", pa.int32()), ("region", S)]),
    "education": pa.schema([("ssin", S), ("level", S), ("field", S)]),
    "personnel": pa.schema(
        [("ssin", S), ("year", pa.int32()), ("policy_domain", S), ("entity", S), ("level", S)]
    ),
    "entities": pa.schema(
        [
            ("entity", S),
            ("entity_name", S),
            ("policy_domain", S),
            ("policy_domain_name", S),
            ("employer_id", S),
        ]
    ),
}
DWH_TABLES = ("persons", "nationalities", "employment", "residence", "education")
TOP_TABLES = ("personnel", "entities")


def table_path(out: Path, name: str, fmt: str) -> Path:
    return (out / "dwh" / f"{name}.{fmt}") if name in DWH_TABLES else (out / f"{name}.{fmt}")


@dataclass
class TableSink:
    """Streams one table to Parquet or CSV, chunk by chunk; counts the rows."""

    name: str
    path: Path
    fmt: Literal["parquet", "csv"]
    rows: int = 0

    def __post_init__(self) -> None:
        schema = SCHEMAS[self.name]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pq: pq.ParquetWriter | None = None
        self._csv: pcsv.CSVWriter | None = None
        self._file: BinaryIO | None = None
        if self.fmt == "parquet":
            self._pq = pq.ParquetWriter(
                self.path, schema, compression="zstd", write_statistics=True
            )
        else:
            # Codes and numbers never need quotes; entity names contain commas. The header
            # is written here, unquoted (Arrow would quote it).
            quoting = "needed" if self.name == "entities" else "none"
            opts = pcsv.WriteOptions(include_header=False, delimiter=",", quoting_style=quoting)
            self._file = self.path.open("wb")
            self._file.write((",".join(schema.names) + "\n").encode("utf-8"))
            self._csv = pcsv.CSVWriter(self._file, schema, write_options=opts)

    def write(self, columns: dict[str, pa.Array]) -> None:
        schema = SCHEMAS[self.name]
        if list(columns) != schema.names:
            raise InternalError(f"{self.name}: columns {list(columns)} != {schema.names}")
        table = pa.Table.from_arrays(list(columns.values()), schema=schema)
        if table.num_rows == 0:
            return
        if self._pq is not None:
            self._pq.write_table(table, row_group_size=1 << 20)
        elif self._csv is not None:
            self._csv.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._csv is not None:
            self._csv.close()
        if self._file is not None:
            self._file.close()
