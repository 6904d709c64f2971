"""Identifiers and code lists: SSINs, countries, regions, NIS country codes.

SSIN checks follow python-stdnum (``stdnum.be.ssn``: national-register and BIS numbers,
the post-2000 check-digit rule included). For single values we call stdnum directly. For
millions of rows the same rule runs as one SQL expression (:func:`ssin_sql`); a property test
keeps the two in agreement on random and edge-case numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pycountry
from stdnum.be import ssn as stdnum_ssn

from .errors import InputError, MissingColumn, MissingFile, UnreadableFile

SSIN_SEPARATORS = " -."
REGIONS: tuple[str, ...] = ("BE-BRU", "BE-VLG", "BE-WAL")

#: Codes the contract accepts beyond ISO 3166-1 alpha-2.
EXTRA_COUNTRIES: dict[str, str] = {"XK": "Kosovo"}
FORMER_STATES: tuple[str, ...] = ("SUHH", "YUCS", "CSHH", "DDDE", "CSXX")


def compact_ssin(value: str) -> str:
    """Strip the usual separators (``85.07.30-033.61`` -> ``85073003361``)."""
    return str(stdnum_ssn.compact(value))


def is_valid_ssin(value: str, today: dt.date | None = None) -> bool:
    """True when ``value`` is a valid national-register or BIS number.

    ``today`` fixes the date the post-2000 rule looks at (stdnum uses the system date).
    """
    if today is None:
        return bool(stdnum_ssn.is_valid(value))
    return _is_valid_ssin_on(compact_ssin(value), today)


def _is_valid_ssin_on(number: str, today: dt.date) -> bool:
    # Same rule as stdnum.be.nn/bis, with "today" as a parameter (kept in step with ssin_sql).
    if len(number) != 11 or not number.isdigit() or int(number) == 0:
        return False
    month = int(number[2:4])
    if not (0 <= month <= 12 or 20 <= month <= 32 or 40 <= month <= 52):
        return False
    check = int(number[9:])
    if 97 - int(number[:9]) % 97 == check:
        return True
    return int(number[:2]) + 2000 <= today.year and 97 - int("2" + number[:9]) % 97 == check


def ssin_sql(column: str, current_year: int) -> str:
    """A SQL boolean expression: is the already-compacted ``column`` a valid SSIN?

    Spark- and DuckDB-compatible (``regexp_like`` is avoided: ``rlike`` differs between them,
    so the digit test uses ``length`` and ``translate``).
    """
    c = column
    nine = f"TRY_CAST(substr({c}, 1, 9) AS BIGINT)"
    check = f"TRY_CAST(substr({c}, 10, 2) AS INTEGER)"
    month = f"TRY_CAST(substr({c}, 3, 2) AS INTEGER)"
    return (
        f"(length({c}) = 11 AND length(translate({c}, '0123456789', '')) = 0"
        f" AND {c} <> '00000000000'"
        f" AND ({month} BETWEEN 0 AND 12 OR {month} BETWEEN 20 AND 32 OR {month} BETWEEN 40 AND 52)"
        f" AND COALESCE(97 - {nine} % 97 = {check}"
        f" OR (TRY_CAST(substr({c}, 1, 2) AS INTEGER) + 2000 <= {int(current_year)}"
        f" AND 97 - (2000000000 + {nine}) % 97 = {check}), false))"
    )


def compact_sql(column: str) -> str:
    """SQL that strips SSIN separators and surrounding blanks (as stdnum's ``compact``)."""
    return f"replace(replace(replace(trim({column}), ' ', ''), '-', ''), '.', '')"


def make_ssin(birth: dt.date, serial: int, bis: int = 0) -> str:
    """Build a valid SSIN for a birth date and a 3-digit serial (odd men, even women).

    ``bis`` is 0 for a national-register number, 20 or 40 for a BIS number.
    """
    if not 1 <= serial <= 998:
        raise ValueError("serial must be in 1..998")
    head = f"{birth.year % 100:02d}{birth.month + bis:02d}{birth.day:02d}{serial:03d}"
    base = int(("2" if birth.year >= 2000 else "") + head)
    return f"{head}{97 - base % 97:02d}"


@cache
def country_names() -> Mapping[str, str]:
    """Every country code the contract accepts, with an English name."""
    names: dict[str, str] = {c.alpha_2: c.name for c in pycountry.countries}
    names.update(EXTRA_COUNTRIES)
    for code in FORMER_STATES:
        hist = pycountry.historic_countries.get(alpha_4=code)
        if hist is None:  # pragma: no cover - pycountry always has these five
            raise InputError(f"pycountry lacks the former state {code}")
        names[code] = hist.name
    return names


@dataclass(frozen=True)
class NisMap:
    """A user-supplied NIS -> ISO mapping (``nis_code,iso_code``)."""

    path: Path
    codes: Mapping[str, str]


def read_nis_map(path: Path) -> NisMap:
    """Read and check a NIS code mapping file; fail with a one-line message if it is wrong."""
    if not path.is_file():
        raise MissingFile(f"{path}: country-code mapping file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    reader = csv.DictReader(text.splitlines())
    fields = reader.fieldnames or []
    for col in ("nis_code", "iso_code"):
        if col not in fields:
            raise MissingColumn(f"{path}: column '{col}' missing (have: {', '.join(fields)})")
    known = country_names()
    codes: dict[str, str] = {}
    for i, row in enumerate(reader, start=1):
        nis = (row["nis_code"] or "").strip()
        iso = (row["iso_code"] or "").strip().upper()
        if not (len(nis) == 3 and nis.isdigit()):
            raise InputError(f"{path}: row {i}, column nis_code: '{nis}' is not a 3-digit NIS code")
        if iso and iso not in known:
            raise InputError(f"{path}: row {i}, column iso_code: unknown country code '{iso}'")
        if nis in codes and codes[nis] != iso:
            raise InputError(f"{path}: row {i}, column nis_code: {nis} mapped twice")
        codes[nis] = iso
    return NisMap(path=path, codes=codes)
