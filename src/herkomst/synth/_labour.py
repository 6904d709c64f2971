"""The wider labour market: employers, yearly jobs, residence and education.

Employers form one registry per run (enterprise numbers with valid mod-97 check digits,
an organising authority for public employers, a NACE-BEL code, a Pareto size weight).
A person's jobs are spells: each year a job continues unless the person changes employer
(9% a year) or stops working; whether someone works in a year follows a persistent
latent propensity, lower for people of non-EU background (as in the federal
socio-economic monitoring). Everything is drawn on (persons x years) matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ._arrow import F64, I16, I64, NULL_DAY, B, codes, digit_strings, ints, year_of
from ._flanders import ENTITIES

FEDERAL, OTHER_PUBLIC, PRIVATE = 0, 1, 2
AUTHORITIES: tuple[str, ...] = tuple(f"0{i}" for i in range(1, 9)) + tuple(
    f"{g}{i}" for g in "2345" for i in range(9)
)
_FED_W = {
    "01": 0.42,
    "02": 0.04,
    "03": 0.12,
    "04": 0.12,
    "05": 0.01,
    "06": 0.11,
    "07": 0.17,
    "08": 0.01,
}
_SUB_W = (0.2, 0.12, 0.05, 0.0, 0.06, 0.12, 0.13, 0.29, 0.03)  # x0..x8 (23 = personnel list only)
_REG_W = {"2": 0.55, "3": 0.3, "4": 0.13, "5": 0.02}
_NACE_BY_AUTH_DIGIT: dict[str, tuple[tuple[str, float], ...]] = {
    "01": (("84111", 0.8), ("84230", 0.15), ("84240", 0.05)),
    "02": (("84230", 0.6), ("84240", 0.4)),
    "03": (("49100", 0.4), ("53100", 0.4), ("61100", 0.2)),
    "04": (("84300", 0.6), ("84111", 0.2), ("86101", 0.2)),
    "05": (("94910", 1.0),),
    "06": (("84220", 1.0),),
    "07": (("84240", 1.0),),
    "08": (("84240", 1.0),),
    "0": (("84114", 0.85), ("93110", 0.05), ("91011", 0.1)),
    "1": (("87301", 0.4), ("88101", 0.2), ("88991", 0.4)),
    "2": (("38110", 0.3), ("35130", 0.2), ("36000", 0.2), ("84130", 0.3)),
    "3": (("84112", 0.7), ("84130", 0.3)),
    "4": (("84130", 0.4), ("49310", 0.3), ("60200", 0.1), ("72190", 0.2)),
    "5": (("85310", 0.5), ("85201", 0.4), ("85321", 0.1)),
    "6": (("85201", 0.6), ("85310", 0.4)),
    "7": (("85201", 0.45), ("85310", 0.45), ("85320", 0.1)),
    "8": (("84113", 1.0),),
}
_PRIVATE_NACE: tuple[tuple[str, float], ...] = (
    ("47111", 5), ("47190", 2), ("46900", 4), ("56101", 4), ("41201", 4), ("43221", 3),
    ("43320", 2), ("49410", 4), ("52100", 3), ("62010", 4), ("64190", 3), ("65120", 2),
    ("69201", 2), ("70220", 3), ("78201", 8), ("81210", 5), ("86101", 6), ("87301", 3),
    ("88101", 4), ("88911", 2), ("10710", 2), ("10130", 1), ("20141", 2), ("24100", 1),
    ("25620", 2), ("28990", 2), ("29100", 2), ("45111", 2), ("55100", 1), ("96021", 1),
    ("94110", 2), ("33120", 1), ("68100", 1), ("82990", 2), ("80100", 2), ("71121", 2),
)  # fmt: skip
NACE_CODES: tuple[str, ...] = tuple(
    sorted(
        {c for v in _NACE_BY_AUTH_DIGIT.values() for c, _ in v}
        | {c for c, _ in _PRIVATE_NACE}
        | {e.nace for e in ENTITIES}
    )
)
NACE_VOCAB = pa.array(NACE_CODES, type=pa.string())
AUTH_VOCAB = pa.array(AUTHORITIES, type=pa.string())
REGION_VOCAB = pa.array(["BE-VLG", "BE-WAL", "BE-BRU"], type=pa.string())
REGIME_VOCAB = pa.array(["F", "P"], type=pa.string())
LEVEL_VOCAB = pa.array([str(i) for i in range(9)], type=pa.string())
FIELD_VOCAB = pa.array([f"{i:02d}" for i in range(11)], type=pa.string())


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> list[str]:
    w = np.array([x for _, x in table], dtype=np.float64)
    k = rng.choice(len(table), size=n, p=w / w.sum())
    return [table[i][0] for i in k]


@dataclass
class Employers:
    """The employer registry; the first ``len(ENTITIES)`` rows are the Flemish entities."""

    ids: pa.Array
    authority: I16  # index into AUTHORITIES, -1 = private
    nace: I16
    sector: npt.NDArray[np.int8]
    cum: dict[int, tuple[I64, F64]]  # sector -> (employer indices, cumulative weights)

    def sample(self, rng: np.random.Generator, sector: npt.NDArray[np.int8]) -> I64:
        out = np.zeros(len(sector), dtype=np.int64)
        for s, (members, cum) in self.cum.items():
            sel = sector == s
            k = np.searchsorted(cum, rng.random(int(sel.sum())) * cum[-1], side="right")
            out[sel] = members[np.minimum(k, len(members) - 1)]
        return out


def build_employers(rng: np.random.Generator, jobs_per_year: float) -> Employers:
    n_ent = len(ENTITIES)
    n_fed = int(np.clip(jobs_per_year / 1500, 8, 70))
    n_pub = int(max(30, jobs_per_year / 250))
    n_priv = int(max(100, jobs_per_year / 14))
    n = n_ent + n_fed + n_pub + n_priv
    body = rng.choice(18_000_000, size=n, replace=False).astype(np.int64) + 2_000_000
    ids = body * 100 + (97 - body % 97)

    auth: list[str] = [e.authority for e in ENTITIES]
    nace: list[str] = [e.nace for e in ENTITIES]
    fed_auth = _pick(rng, tuple(_FED_W.items()), n_fed)
    auth += fed_auth
    nace += [_pick(rng, _NACE_BY_AUTH_DIGIT[a], 1)[0] for a in fed_auth]
    reg = _pick(rng, tuple(_REG_W.items()), n_pub)
    sub = _pick(rng, tuple((str(i), w) for i, w in enumerate(_SUB_W)), n_pub)
    auth += [r + s for r, s in zip(reg, sub, strict=True)]
    nace += [_pick(rng, _NACE_BY_AUTH_DIGIT[s], 1)[0] for s in sub]
    nace += _pick(rng, _PRIVATE_NACE, n_priv)
    sector = np.r_[
        np.full(n_ent, -1),
        np.full(n_fed, FEDERAL),
        np.full(n_pub, OTHER_PUBLIC),
        np.full(n_priv, PRIVATE),
    ].astype(np.int8)
    weight = (1 - rng.random(n)) ** (-1 / 1.1)
    weight = np.minimum(weight, 5000.0)
    cum: dict[int, tuple[I64, F64]] = {}
    for s in (FEDERAL, OTHER_PUBLIC, PRIVATE):
        members = np.flatnonzero(sector == s)
        cum[s] = (members, np.cumsum(weight[members]))
    a_idx = {a: i for i, a in enumerate(AUTHORITIES)}
    n_idx = {c: i for i, c in enumerate(NACE_CODES)}
    authority = np.array([a_idx[a] for a in auth] + [-1] * n_priv, dtype=np.int16)
    return Employers(
        ids=digit_strings(ids, 10),
        authority=authority,
        nace=np.array([n_idx[c] for c in nace], dtype=np.int16),
        sector=sector,
        cum=cum,
    )


@dataclass
class Jobs:
    """Job rows: person index, year, employer index, worker class, part-time."""

    person: I64
    year: I64
    employer: I64
    worker_class: I64
    part_time: B

    @staticmethod
    def concat(parts: list[Jobs]) -> Jobs:
        return Jobs(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("person", "year", "employer", "worker_class", "part_time")
            )
        )

    def sorted(self) -> Jobs:
        o = np.lexsort((self.employer, self.year, self.person))
        return Jobs(
            self.person[o], self.year[o], self.employer[o], self.worker_class[o], self.part_time[o]
        )


_SECTOR_P = np.array([[0.045, 0.22, 0.735], [0.02, 0.12, 0.86], [0.015, 0.1, 0.885]])
_EMP_Z = np.array([1.7507, 1.4758, 0.8416])  # standard-normal quantiles of 0.96, 0.93, 0.80
_SECOND_P = 0.08  # a second, part-time private job in a working year


def job_panel(
    rng: np.random.Generator,
    emp: Employers,
    years: range,
    birth: I64,
    male: B,
    group: I16,
    arrival: I64,
    low_edu: B,
    available: B | None = None,
) -> Jobs:
    """Yearly jobs of people outside the Flemish personnel list (or outside their spell)."""
    n, ny = len(birth), len(years)
    yv = np.array(list(years), dtype=np.int64)
    age = yv[None, :] - year_of(birth)[:, None]
    entry = np.where(low_edu, 18, 21) + rng.integers(0, 4, n)
    leave = np.clip(np.round(rng.normal(61.5, 2.6, n)), 55, 67)
    present = (arrival == NULL_DAY)[:, None] | (year_of(arrival)[:, None] <= yv[None, :])
    window = (age >= entry[:, None]) & (age <= leave[:, None]) & present
    if available is not None:
        window &= available
    z = rng.standard_normal(n)[:, None] * 0.85 + rng.standard_normal((n, ny)) * 0.527
    works = window & (z < _EMP_Z[group][:, None])

    u = rng.random(n)
    cs = np.cumsum(_SECTOR_P[group], axis=1)
    sector = np.minimum((u[:, None] > cs).sum(1), 2).astype(np.int8)
    switch = rng.random((n, ny)) < 0.09
    switch[:, 0] = True
    spell = np.maximum.accumulate(np.where(switch, np.arange(ny)[None, :], 0), axis=1)
    cand = emp.sample(rng, np.repeat(sector, ny)).reshape(n, ny)
    employer = np.take_along_axis(cand, spell, axis=1)
    uc = np.take_along_axis(rng.random((n, ny)), spell, axis=1)
    s2 = sector[:, None]
    wc = np.where(
        s2 == PRIVATE,
        np.where(uc < 0.02, 4, np.where(uc < 0.02 + np.where(low_edu, 0.6, 0.2)[:, None], 1, 2)),
        np.where(uc < np.where(s2 == FEDERAL, 0.6, 0.45), 3, np.where(uc > 0.88, 1, 2)),
    )
    p_part = np.where(male, 0.1, 0.4)[:, None] + np.where(age >= 58, 0.12, 0.0)
    part = rng.random(n)[:, None] < p_part
    pi, yi = np.nonzero(works)
    main = Jobs(pi, yv[yi], employer[pi, yi], wc[pi, yi], part[pi, yi])
    # A second, part-time job for some.
    second = works & (rng.random((n, ny)) < _SECOND_P)
    si, syi = np.nonzero(second)
    e2 = emp.sample(rng, np.full(len(si), PRIVATE, np.int8))
    keep = e2 != employer[si, syi]
    wc2 = np.where(rng.random(len(si)) < 0.5, 1, 2)
    extra = Jobs(si[keep], yv[syi[keep]], e2[keep], wc2[keep], np.ones(int(keep.sum()), np.bool_))
    return Jobs.concat([main, extra])


def employment_columns(ssin: pa.Array, jobs: Jobs, emp: Employers) -> dict[str, pa.Array]:
    return {
        "ssin": ssin.take(pa.array(jobs.person)),
        "year": ints(jobs.year),
        "employer_id": emp.ids.take(pa.array(jobs.employer)),
        "authority": codes(AUTH_VOCAB, emp.authority[jobs.employer]),
        "nace": codes(NACE_VOCAB, emp.nace[jobs.employer]),
        "worker_class": ints(jobs.worker_class),
        "regime": codes(REGIME_VOCAB, jobs.part_time.astype(np.int8)),
    }


_REGION_P = {  # VLG, WAL, BRU by origin group; staff live mostly in Flanders
    "be": (0.62, 0.30, 0.08), "eu": (0.45, 0.25, 0.30), "noneu": (0.35, 0.20, 0.45),
    "staff_be": (0.90, 0.03, 0.07), "staff_other": (0.70, 0.04, 0.26),
}  # fmt: skip


def residence_columns(
    rng: np.random.Generator,
    ssin: pa.Array,
    years: range,
    reg: I64,
    group: I16,
    staff: bool,
    worked: B,
) -> dict[str, pa.Array]:
    """One row per person and year once registered (region), or while working unregistered (null)."""
    n, ny = len(reg), len(years)
    yv = np.array(list(years), dtype=np.int64)
    if staff:
        p = np.where((group == 0)[:, None], _REGION_P["staff_be"], _REGION_P["staff_other"])
    else:
        p = np.array([_REGION_P[g] for g in ("be", "eu", "noneu")])[group]
    cs = np.cumsum(p, axis=1)
    base = np.minimum((rng.random(n)[:, None] > cs).sum(1), 2)
    moved = np.minimum((rng.random(n)[:, None] > cs).sum(1), 2)
    move_year = np.where(rng.random(n) < 0.12, rng.integers(0, ny, n), ny)
    region = np.where(np.arange(ny)[None, :] >= move_year[:, None], moved[:, None], base[:, None])
    registered = (reg != NULL_DAY)[:, None] & (
        year_of(np.where(reg == NULL_DAY, 0, reg))[:, None] <= yv[None, :]
    )
    row = registered | worked
    pi, yi = np.nonzero(row)
    r = np.where(registered[pi, yi], region[pi, yi], -1)
    return {"ssin": ssin.take(pa.array(pi)), "year": ints(yv[yi]), "region": codes(REGION_VOCAB, r)}


_LM_LEVEL = {
    0: (0.01, 0.04, 0.12, 0.30, 0.06, 0.03, 0.20, 0.21, 0.03),
    1: (0.02, 0.05, 0.12, 0.30, 0.05, 0.03, 0.19, 0.21, 0.03),
    2: (0.05, 0.10, 0.17, 0.30, 0.05, 0.02, 0.12, 0.16, 0.03),
}
_STAFF_LEVEL = (  # ISCED level probabilities by staff level A, B, C, D
    (0, 0, 0, 0, 0, 0, 0.05, 0.9, 0.05),
    (0, 0, 0, 0, 0, 0.1, 0.75, 0.15, 0),
    (0, 0, 0, 0.6, 0.3, 0, 0.1, 0, 0),
    (0.05, 0.1, 0.4, 0.45, 0, 0, 0, 0, 0),
)
_FIELD_P = (0.0, 0.08, 0.08, 0.10, 0.20, 0.05, 0.06, 0.20, 0.03, 0.15, 0.05)


def education_level(rng: np.random.Generator, group: I16, staff_level: I16 | None) -> I64:
    n = len(group)
    if staff_level is not None:
        p = np.array(_STAFF_LEVEL)[staff_level]
    else:
        p = np.array([_LM_LEVEL[g] for g in range(3)])[group]
    cs = np.cumsum(p, axis=1)
    return np.asarray(np.minimum((rng.random(n)[:, None] > cs).sum(1), 8), dtype=np.int64)


def education_columns(
    rng: np.random.Generator, ssin: pa.Array, level: I64, abroad: B
) -> dict[str, pa.Array]:
    n = len(level)
    has_row = rng.random(n) >= 0.04
    level_known = rng.random(n) >= np.where(abroad, 0.2, 0.04)
    cs = np.cumsum(_FIELD_P)
    field = np.minimum((rng.random(n)[:, None] > cs / cs[-1]).sum(1), 10)
    field = np.where((level <= 3) & (rng.random(n) < 0.5), 0, field)
    field = np.where(level_known & (rng.random(n) >= 0.05), field, -1)
    idx = np.flatnonzero(has_row)
    return {
        "ssin": ssin.take(pa.array(idx)),
        "level": codes(LEVEL_VOCAB, np.where(level_known, level, -1)[idx]),
        "field": codes(FIELD_VOCAB, field[idx]),
    }
