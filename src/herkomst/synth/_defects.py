"""Deliberate data-quality problems (``--with-defects``), planted in the first chunk.

Each problem is one cell or one extra row, placed so that a validator has exactly one
thing to report for it; the returned :class:`PlantedDefect` says where (table, 1-based data
row, column). Edits in place come first; extra rows are appended at the end of the chunk,
so no planted row number moves.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..codes import is_valid_ssin
from ._arrow import I64, B, SsinAllocator, day, digit_strings
from ._params import PlantedDefect

Columns = dict[str, pa.Array]
_TODAY = dt.date(2024, 1, 1)


def _set(cols: Columns, column: str, row: int, value: object) -> None:
    arr = cols[column]
    mask = np.zeros(len(arr), np.bool_)
    mask[row] = True
    cols[column] = pc.if_else(pa.array(mask), pa.scalar(value, arr.type), arr)


def _append_row(cols: Columns, row: int, changes: dict[str, object] | None = None) -> int:
    """Append a copy of ``row`` (with ``changes``); return the new row's 0-based index."""
    n = len(next(iter(cols.values())))
    for name, arr in cols.items():
        extra = arr.take(pa.array([row]))
        if changes and name in changes:
            extra = pa.array([changes[name]], type=arr.type)
        cols[name] = pa.concat_arrays([arr, extra])
    return n


def _bad_check(ssin: str) -> str:
    for step in range(1, 97):
        cand = f"{ssin[:9]}{(int(ssin[9:]) + step) % 100:02d}"
        if not is_valid_ssin(cand, today=_TODAY):
            return cand
    raise AssertionError("unreachable: 96 different check digits cannot all be valid")


def plant(
    rng: np.random.Generator,
    alloc: SsinAllocator,
    tables: dict[str, Columns],
    ssin: I64,
    birth: I64,
    father: I64,
    male: B,
    n_egos: int,
    nat_person: I64,
) -> list[PlantedDefect]:
    """Plant one defect of each kind into ``tables`` (edited in place)."""
    persons, nats, jobs, staff = (
        tables["persons"], tables["nationalities"], tables["employment"], tables["personnel"]
    )  # fmt: skip
    out: list[PlantedDefect] = []
    linked = np.flatnonzero(father[:n_egos] >= 0)
    e_after, e_country, e_future = (int(x) for x in rng.choice(linked, 3, replace=False))

    # 1. an SSIN with wrong check digits (employment)
    r = int(rng.integers(0, len(jobs["ssin"])))
    _set(jobs, "ssin", r, _bad_check(jobs["ssin"][r].as_py()))
    out.append(PlantedDefect("employment", r + 1, "ssin", "SSIN with invalid check digits"))

    # 2. an unknown country code
    _set(persons, "birth_country", e_country, "ZZ")
    out.append(
        PlantedDefect("persons", e_country + 1, "birth_country", "unknown country code 'ZZ'")
    )

    # 3. a parent cycle: a grandfather's father is his own son. The grandfather's birth date
    #    is blanked so that the cycle is the only thing wrong (else the son is also too young).
    order = np.argsort(ssin)
    row_of = order[np.searchsorted(ssin[order], np.maximum(father, 0))]
    has_gf = (father >= 0) & (father[row_of] >= 0)
    cands = np.flatnonzero(has_gf[:n_egos])
    f_row = int(row_of[int(cands[0])])
    g_row = int(row_of[f_row])
    _set(persons, "father_ssin", g_row, persons["ssin"][f_row].as_py())
    _set(persons, "birth_date", g_row, None)
    out.append(
        PlantedDefect(
            "persons",
            g_row + 1,
            "father_ssin",
            "parent cycle (a grandfather's father is his son; his birth date is blank)",
        )
    )

    # 4. a father born after the child
    younger = np.flatnonzero(male[:n_egos] & (birth[:n_egos] > birth[e_after] + 365))
    if len(younger) == 0:  # pragma: no cover - only at absurdly small scales
        younger = np.flatnonzero(male[:n_egos] & (birth[:n_egos] > birth[e_after]))
    y_row = int(younger[0])
    _set(persons, "father_ssin", e_after, persons["ssin"][y_row].as_py())
    out.append(PlantedDefect("persons", e_after + 1, "father_ssin", "father born after the child"))

    # 5. a date in the future
    _set(persons, "registration_date", e_future, dt.date(2099, 6, 30))
    out.append(
        PlantedDefect(
            "persons",
            e_future + 1,
            "registration_date",
            "registration date in the future (2099-06-30)",
        )
    )

    # 6. a nationality that starts before the person's birth
    ego_rows = np.flatnonzero(nat_person < n_egos)
    nr = int(ego_rows[int(rng.integers(0, len(ego_rows)))])
    before = int(birth[nat_person[nr]]) - 400
    _set(nats, "valid_from", nr, dt.date(1970, 1, 1) + dt.timedelta(days=before))
    out.append(
        PlantedDefect("nationalities", nr + 1, "valid_from", "nationality valid from before birth")
    )

    # 7. an unknown entity on the personnel list
    pr = int(rng.integers(0, len(staff["ssin"])))
    dom = staff["policy_domain"][pr].as_py()
    _set(staff, "entity", pr, f"{dom}-ONBEKEND")
    out.append(PlantedDefect("personnel", pr + 1, "entity", "entity not in the entity list"))

    # -- appended rows ------------------------------------------------------------------------
    # 8. a duplicated person
    dup = int(rng.integers(0, n_egos))
    new = _append_row(persons, dup)
    out.append(PlantedDefect("persons", new + 1, "ssin", "duplicated person"))

    # 9. a duplicated job
    jr = int(rng.integers(0, len(jobs["ssin"])))
    if jr == r:
        jr = (jr + 1) % len(jobs["ssin"])
    new = _append_row(jobs, jr)
    out.append(
        PlantedDefect("employment", new + 1, "ssin", "duplicated job (ssin, year, employer_id)")
    )

    # 10. a personnel row whose SSIN is not in the register (a valid, never-issued number)
    ghost, _ = alloc.assign(
        np.array([day(1979, 3, 14)], np.int64), np.array([True]), np.zeros(1, np.int8)
    )
    ghost_str = digit_strings(ghost, 11)[0].as_py()
    sr = pr + 1 if pr + 1 < len(staff["ssin"]) else 0
    new = _append_row(staff, sr, {"ssin": ghost_str})
    out.append(PlantedDefect("personnel", new + 1, "ssin", "SSIN not in the register"))
    return out
