"""Persons, families and nationality histories, three generations deep, vectorised.

A *family* is a couple of parents with one or more children (the *egos*: staff members or
people on the labour market). Each parent has a couple of parents of his or her own (the
grandparents). A family has an origin *profile* (Belgian, or one of the migration waves in
:data:`PROFILES`); a foreign family has a side (both parents, or only the father's or the
mother's lineage) and a *migrant generation*: the egos themselves, their parents, or their
grandparents came to Belgium, in a year inside the wave's period. Birth countries,
registration dates, nationality histories (first nationality, former states and their
successors, acquisition of Belgian nationality) and which parents are linked in the register
all follow from that. See ``docs/synthetic.md`` for the rules and their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ._arrow import (
    F64,
    I16,
    I64,
    NULL_DAY,
    B,
    SsinAllocator,
    codes,
    dates,
    day,
    digit_strings,
    random_day_in_year,
    year_of,
    years_before,
    years_to_days,
)


@dataclass(frozen=True)
class Profile:
    """One origin: the countries, the arrival period and how families of it look."""

    name: str
    countries: tuple[tuple[str, float], ...]
    wave: tuple[int, int]  # arrival years (inclusive)
    generation: tuple[float, float, float]  # weight: egos / parents / grandparents migrated
    endogamy: float  # share of families where both parents are of this origin
    naturalise: float  # a migrant acquires Belgian nationality (given time)
    acquire: float  # a child born here with a foreign first nationality acquires it later
    group: str  # "be", "eu" or "noneu": used for region and sector choices
    border: float = 0.0  # share of first-generation workers who live abroad (cross-border)


PROFILES: tuple[Profile, ...] = (
    Profile("BE", (("BE", 1.0),), (1900, 2023), (0, 0, 0), 1, 0, 0, "be"),
    Profile("NL", (("NL", 1.0),), (1950, 2023), (0.6, 0.25, 0.15), 0.35, 0.15, 0.5, "eu", 0.35),
    Profile("FR", (("FR", 1.0),), (1950, 2023), (0.6, 0.25, 0.15), 0.35, 0.15, 0.5, "eu", 0.3),
    Profile(
        "DE",
        (("DE", 0.85), ("LU", 0.15)),
        (1950, 2023),
        (0.6, 0.25, 0.15),
        0.35,
        0.15,
        0.5,
        "eu",
        0.2,
    ),
    Profile("IT", (("IT", 1.0),), (1946, 1975), (0.05, 0.45, 0.5), 0.6, 0.45, 0.7, "eu"),
    Profile("ES", (("ES", 1.0),), (1956, 1975), (0.05, 0.45, 0.5), 0.6, 0.4, 0.7, "eu"),
    Profile("GR", (("GR", 1.0),), (1956, 1975), (0.05, 0.45, 0.5), 0.7, 0.4, 0.7, "eu"),
    Profile("PT", (("PT", 1.0),), (1965, 1995), (0.2, 0.5, 0.3), 0.7, 0.35, 0.7, "eu"),
    Profile(
        "EU13",
        (("PL", 0.45), ("RO", 0.35), ("BG", 0.15), ("HU", 0.05)),
        (2004, 2023),
        (0.9, 0.1, 0),
        0.8,
        0.2,
        0.6,
        "eu",
    ),
    Profile("CS", (("CZ", 0.5), ("SK", 0.5)), (1968, 2023), (0.6, 0.3, 0.1), 0.6, 0.4, 0.7, "eu"),
    Profile("MA", (("MA", 1.0),), (1964, 2015), (0.2, 0.45, 0.35), 0.85, 0.8, 0.9, "noneu"),
    Profile("TR", (("TR", 1.0),), (1964, 2015), (0.2, 0.45, 0.35), 0.9, 0.7, 0.85, "noneu"),
    Profile(
        "MAGHREB",
        (("DZ", 0.6), ("TN", 0.4)),
        (1965, 2015),
        (0.3, 0.45, 0.25),
        0.7,
        0.7,
        0.85,
        "noneu",
    ),
    Profile(
        "CD",
        (("CD", 0.75), ("RW", 0.15), ("BI", 0.1)),
        (1960, 2023),
        (0.5, 0.4, 0.1),
        0.6,
        0.7,
        0.85,
        "noneu",
    ),
    Profile(
        "AFRICA",
        (("CM", 0.25), ("GN", 0.25), ("SN", 0.15), ("NG", 0.15), ("GH", 0.1), ("ET", 0.1)),
        (1990, 2023),
        (0.8, 0.2, 0),
        0.7,
        0.6,
        0.85,
        "noneu",
    ),
    Profile(
        "YU",
        (("RS", 0.3), ("BA", 0.2), ("XK", 0.2), ("MK", 0.15), ("HR", 0.1), ("ME", 0.05)),
        (1965, 2005),
        (0.45, 0.4, 0.15),
        0.8,
        0.7,
        0.85,
        "noneu",
    ),
    Profile(
        "SU",
        (("RU", 0.45), ("UA", 0.3), ("AM", 0.15), ("GE", 0.1)),
        (1992, 2023),
        (0.85, 0.15, 0),
        0.8,
        0.6,
        0.85,
        "noneu",
    ),
    Profile(
        "REFUGEE",
        (("SY", 0.35), ("AF", 0.25), ("IQ", 0.2), ("ER", 0.1), ("SO", 0.1)),
        (2000, 2023),
        (0.95, 0.05, 0),
        0.95,
        0.5,
        0.85,
        "noneu",
    ),
    Profile("GB", (("GB", 1.0),), (1960, 2023), (0.7, 0.2, 0.1), 0.4, 0.2, 0.5, "eu"),
    Profile(
        "ASIA",
        (("IN", 0.3), ("CN", 0.3), ("PH", 0.1), ("VN", 0.1), ("TH", 0.2)),
        (1975, 2023),
        (0.7, 0.25, 0.05),
        0.6,
        0.5,
        0.85,
        "noneu",
    ),
    Profile(
        "AMERICAS",
        (("US", 0.3), ("BR", 0.3), ("CO", 0.15), ("CL", 0.1), ("CA", 0.15)),
        (1970, 2023),
        (0.75, 0.2, 0.05),
        0.4,
        0.4,
        0.7,
        "noneu",
    ),
    Profile(
        "MIDEAST",
        (("IR", 0.25), ("LB", 0.25), ("PS", 0.2), ("PK", 0.3)),
        (1980, 2023),
        (0.7, 0.3, 0),
        0.85,
        0.6,
        0.85,
        "noneu",
    ),
)
PROFILE_INDEX: dict[str, int] = {p.name: i for i, p in enumerate(PROFILES)}
GROUPS = ("be", "eu", "noneu")
PROFILE_GROUP = np.array([GROUPS.index(p.group) for p in PROFILES], dtype=np.int16)

# Former states: (former code, born before, succession date); CSXX in between for RS/ME/XK.
_YU_END, _SU_END, _CS_END, _CSXX_END = (
    day(1992, 4, 27),
    day(1991, 12, 26),
    day(1993, 1, 1),
    day(2006, 6, 5),
)
FORMER: dict[str, tuple[str, int, int]] = {
    **dict.fromkeys(("BA", "HR", "MK", "SI"), ("YUCS", _YU_END, _YU_END)),
    **dict.fromkeys(("RS", "ME", "XK"), ("YUCS", _YU_END, _CSXX_END)),
    **dict.fromkeys(("RU", "UA", "AM", "GE"), ("SUHH", _SU_END, _SU_END)),
    **dict.fromkeys(("CZ", "SK"), ("CSHH", _CS_END, _CS_END)),
}
# Belgians born abroad (former colony, neighbours).
_BE_BORN_ABROAD = ("CD", "NL", "FR", "DE")

COUNTRIES: tuple[str, ...] = tuple(
    sorted(
        {c for p in PROFILES for c, _ in p.countries}
        | {"YUCS", "SUHH", "CSHH", "CSXX"}
        | set(FORMER)
        | set(_BE_BORN_ABROAD)
    )
)
CIDX: dict[str, int] = {c: i for i, c in enumerate(COUNTRIES)}
COUNTRY_VOCAB = pa.array(COUNTRIES, type=pa.string())
BE = CIDX["BE"]

# Per-profile country tables, padded: codes and cumulative weights.
_L = max(len(p.countries) for p in PROFILES)
_PC_CODE = np.zeros((len(PROFILES), _L), dtype=np.int16)
_PC_CUM = np.ones((len(PROFILES), _L))
for _i, _p in enumerate(PROFILES):
    _w = np.array([w for _, w in _p.countries])
    _PC_CODE[_i, : len(_w)] = [CIDX[c] for c, _ in _p.countries]
    _PC_CUM[_i, : len(_w)] = np.cumsum(_w / _w.sum())
_WAVE = np.array([p.wave for p in PROFILES], dtype=np.int64)
_GEN = np.array([p.generation for p in PROFILES])
_ENDO = np.array([p.endogamy for p in PROFILES])
_NATUR = np.array([p.naturalise for p in PROFILES])
_ACQ = np.array([p.acquire for p in PROFILES])
_BORDER = np.array([p.border for p in PROFILES])

# Former-state lookup per country index: former code index (-1 none), born-before, succession.
_F_CODE = np.full(len(COUNTRIES), -1, dtype=np.int16)
_F_BEFORE = np.zeros(len(COUNTRIES), dtype=np.int64)
_F_SUCC = np.zeros(len(COUNTRIES), dtype=np.int64)
_CSXX_FIRST = np.zeros(len(COUNTRIES), dtype=np.bool_)
for _c, (_code, _before, _succ) in FORMER.items():
    _F_CODE[CIDX[_c]], _F_BEFORE[CIDX[_c]], _F_SUCC[CIDX[_c]] = CIDX[_code], _before, _succ
    _CSXX_FIRST[CIDX[_c]] = _succ == _CSXX_END


@dataclass
class EgoSpec:
    """What the caller fixes about the egos; families are contiguous runs of ``family``."""

    birth: I64
    male: B
    family: I64  # family index per ego, non-decreasing, 0..n_families-1
    profile: I16  # per family
    ceiling: I64  # per family: latest arrival year for egos who migrate themselves
    end: int  # day number of the last reference date: no event after it


@dataclass
class People:
    """One person group's attributes (all of them, linked or not)."""

    birth: I64
    male: B
    abroad: B  # born abroad
    country: I16  # birth country index
    reg: I64  # registration day or NULL_DAY
    nat0: I16  # first nationality
    succ: I16  # successor nationality (-1 none)
    succ_day: I64
    be_day: I64  # acquisition of Belgian nationality or NULL_DAY


@dataclass
class Lineage:
    """A chunk's persons and nationality rows, plus what the labour model needs of the egos."""

    persons: dict[str, pa.Array]
    nationalities: dict[str, pa.Array]
    ssin: I64  # every written person, in persons order
    birth: I64
    father: I64  # -1 = not linked
    n_egos: int
    ego_ssin: pa.Array  # strings
    ego_birth: I64
    ego_male: B
    ego_reg: I64
    ego_group: I16
    ego_profile: I16
    ego_arrival: I64  # day the ego came to Belgium (birth when born here), NULL if never
    nat_person: I64  # per nationality row: index of its person in persons order


def _foreign(birth: I64, country: I16) -> tuple[I16, I16, I64]:
    """First nationality for a person of ``country`` born on ``birth`` (former states)."""
    fcode = _F_CODE[country]
    former = (fcode >= 0) & (birth < _F_BEFORE[country])
    csxx = _CSXX_FIRST[country] & (birth >= _YU_END) & (birth < _CSXX_END)
    nat0 = np.where(former, fcode, np.where(csxx, CIDX["CSXX"], country)).astype(np.int16)
    succ = np.where(former | csxx, country, -1).astype(np.int16)
    # YUCS -> CSXX for RS/ME/XK born before 1992 is kept to one step: YUCS -> country in 2006.
    succ_day = np.where(former | csxx, _F_SUCC[country], NULL_DAY).astype(np.int64)
    return nat0, succ, succ_day


def _acquire(
    rng: np.random.Generator, take: B, earliest: I64, spread_years: float, end: int
) -> I64:
    when = earliest + years_to_days(rng.random(len(take)) * spread_years)
    return np.where(take & (when <= end) & (earliest != NULL_DAY), when, NULL_DAY)


def _pick_country(rng: np.random.Generator, profile: I16) -> I16:
    u = rng.random(len(profile))
    k = (u[:, None] > _PC_CUM[profile]).sum(axis=1)
    return np.asarray(_PC_CODE[profile, np.minimum(k, _L - 1)], dtype=np.int16)


_FLOOR = day(1870, 1, 1)  # nobody is born earlier, unless a child born before 1887 needs it
MIN_PARENT_AGE = 17  # whole calendar years, for mothers and fathers, at every birth


def _ages(rng: np.random.Generator, n: int, mean: float, sd: float, lo: float, hi: float) -> I64:
    return years_to_days(np.clip(rng.normal(mean, sd, n), lo, hi))


def _parent_birth(rng: np.random.Generator, child: I64, wanted: I64) -> I64:
    """Birth days near ``wanted`` for the parents of persons born on ``child``.

    A parent is at least :data:`MIN_PARENT_AGE` calendar years older than the child (as
    ``child - INTERVAL 17 YEAR`` counts). A parent who would be born before 1870 is instead
    born on a uniformly drawn day between 1870 and that latest date (so there is no pile of
    births on 1 January 1870), or on the latest date when the child is born before 1887.
    """
    latest = years_before(child, MIN_PARENT_AGE)
    b = np.minimum(wanted, latest)
    room = np.maximum(latest - _FLOOR, 0)
    spread = latest - np.floor(rng.random(len(child)) * room).astype(np.int64)
    return np.asarray(np.where(b < _FLOOR, spread, b), dtype=np.int64)


def _belgian(rng: np.random.Generator, birth: I64, male: B) -> People:
    n = len(birth)
    abroad = rng.random(n) < 0.012
    alt = rng.integers(0, len(_BE_BORN_ABROAD), n)
    ctry = np.where(abroad, np.array([CIDX[c] for c in _BE_BORN_ABROAD])[alt], BE).astype(np.int16)
    return People(
        birth,
        male,
        abroad,
        ctry,
        birth.copy(),
        np.full(n, BE, np.int16),
        np.full(n, -1, np.int16),
        np.full(n, NULL_DAY),
        np.full(n, NULL_DAY),
    )


def _merge(mask: B, a: People, b: People) -> People:
    """``a`` where ``mask``, else ``b``."""
    return People(*(np.where(mask, x, y) for x, y in zip(_fields(a), _fields(b), strict=True)))


def _fields(p: People) -> tuple[npt.NDArray[Any], ...]:
    return (p.birth, p.male, p.abroad, p.country, p.reg, p.nat0, p.succ, p.succ_day, p.be_day)


def _migrant(
    rng: np.random.Generator, birth: I64, male: B, country: I16, reg: I64, natur: F64, end: int
) -> People:
    """Born abroad; registered on ``reg`` (NULL: stayed abroad)."""
    nat0, succ, succ_day = _foreign(birth, country)
    earliest = np.where(reg == NULL_DAY, NULL_DAY, np.maximum(reg + 5 * 365, birth + 16 * 365))
    be_day = _acquire(rng, rng.random(len(birth)) < natur, earliest, 12.0, end)
    succ_ok = (succ >= 0) & (succ_day <= end) & ((be_day == NULL_DAY) | (be_day > succ_day))
    return People(
        birth,
        male,
        np.ones(len(birth), np.bool_),
        country,
        reg,
        nat0,
        np.where(succ_ok, succ, -1).astype(np.int16),
        np.where(succ_ok, succ_day, NULL_DAY),
        be_day,
    )


def _born_here(
    rng: np.random.Generator,
    birth: I64,
    male: B,
    country: I16,
    parent_be: B,
    parent_born_here: B,
    acquire: F64,
    end: int,
) -> People:
    """Born in Belgium into a foreign lineage: Belgian at birth or later (nationality law)."""
    n = len(birth)
    third = (birth >= day(1992, 1, 1)) & parent_born_here
    declared = (birth >= day(1985, 1, 1)) & (rng.random(n) < 0.3)
    be_birth = parent_be | third | declared
    nat0, succ, succ_day = _foreign(birth, country)
    earliest = np.maximum(birth + years_to_days(12 + rng.random(n) * 6), day(1985, 1, 1))
    be_day = _acquire(rng, ~be_birth & (rng.random(n) < acquire), earliest, 8.0, end)
    succ_ok = (
        ~be_birth & (succ >= 0) & (succ_day <= end) & ((be_day == NULL_DAY) | (be_day > succ_day))
    )
    return People(
        birth,
        male,
        np.zeros(n, np.bool_),
        np.full(n, BE, np.int16),
        birth.copy(),
        np.where(be_birth, BE, nat0).astype(np.int16),
        np.where(succ_ok, succ, -1).astype(np.int16),
        np.where(succ_ok, succ_day, NULL_DAY),
        np.where(be_birth, NULL_DAY, be_day),
    )


def _is_be_on(p: People, when: I64) -> B:
    return np.asarray(
        (p.nat0 == BE) | ((p.be_day != NULL_DAY) & (p.be_day <= when)), dtype=np.bool_
    )


def build_lineage(rng: np.random.Generator, alloc: SsinAllocator, spec: EgoSpec) -> Lineage:
    """Parents, grandparents, birth countries, nationalities and links for the egos."""
    fam = spec.family
    n_fam = len(spec.profile)
    n_ego = len(fam)
    starts = np.flatnonzero(np.r_[True, fam[1:] != fam[:-1]])
    e0 = np.minimum.reduceat(spec.birth, starts)
    b0y = year_of(e0)

    # -- births of the older generations ---------------------------------------------------
    # Mothers are 17-42 at the first birth; fathers mostly a little older than mothers. Both
    # are at least 17 calendar years older than the first (so every) child, and likewise one
    # generation up; the later siblings are born after ``e0``.
    mother_b = _parent_birth(rng, e0, e0 - _ages(rng, n_fam, 28.0, 4.5, 17, 42))
    father_b = _parent_birth(rng, e0, mother_b - _ages(rng, n_fam, 2.5, 3.5, -6, 15))
    gp_b: dict[str, I64] = {}
    for side, pb in (("F", father_b), ("M", mother_b)):
        gm = _parent_birth(rng, pb, pb - _ages(rng, n_fam, 27.0, 5.0, 17, 42))
        gp_b[side + "M"] = gm
        gp_b[side + "F"] = _parent_birth(rng, pb, gm - _ages(rng, n_fam, 3.0, 3.5, -6, 15))

    # -- migration: side, generation, arrival -----------------------------------------------
    prof = spec.profile.astype(np.int64)
    foreign = prof != 0
    country = _pick_country(rng, spec.profile)
    endo = rng.random(n_fam) < _ENDO[prof]
    father_side = rng.random(n_fam) < 0.5
    ref_pb = year_of(np.where(endo | father_side, father_b, mother_b))
    ref_gb = year_of(np.where(endo | father_side, gp_b["FF"], gp_b["MF"]))
    ws, we = _WAVE[prof, 0], _WAVE[prof, 1]
    lo = np.stack(
        [np.maximum(ws, b0y), np.maximum(ws, ref_pb + 16), np.maximum(ws, ref_gb + 16)], 1
    )
    hi = np.stack(
        [
            np.minimum.reduce([we, b0y + 45, spec.ceiling]),
            np.minimum.reduce([we, b0y, spec.ceiling]),
            np.minimum(we, ref_pb + 12),
        ],
        1,
    )
    w = _GEN[prof] * (lo <= hi)
    tot = w.sum(1)
    foreign &= tot > 0
    cum = np.cumsum(w, 1) / np.where(tot > 0, tot, 1)[:, None]
    gen = np.minimum((rng.random(n_fam)[:, None] > cum).sum(1), 2)
    gen = np.where(foreign, gen, -1)
    prof = np.where(foreign, prof, 0)
    pick = np.clip(gen, 0, 2)
    lo_g, hi_g = lo[np.arange(n_fam), pick], hi[np.arange(n_fam), pick]
    arr_year = lo_g + np.floor(rng.random(n_fam) * (hi_g - lo_g + 1)).astype(np.int64)
    arrival = random_day_in_year(rng, np.where(foreign, arr_year, 2000))
    arrival = np.where(gen == 0, np.maximum(arrival, e0 + 30), arrival)
    arrival = np.where(gen == 1, np.minimum(arrival, e0 - 30), arrival)
    both = foreign & (endo | (gen == 0))
    f_side = foreign & (both | father_side)
    m_side = foreign & (both | ~father_side)
    natur, acq = _NATUR[prof], _ACQ[prof]

    # -- grandparents -------------------------------------------------------------------------
    gps: dict[str, People] = {}
    for key in ("FF", "FM", "MF", "MM"):
        side_foreign = f_side if key[0] == "F" else m_side
        b = gp_b[key]
        male = np.full(n_fam, key[1] == "F")
        moved = side_foreign & (gen == 2)
        reg = np.where(
            moved,
            np.maximum(
                arrival + (0 if key[1] == "F" else years_to_days(rng.random(n_fam) * 2)), b + 30
            ),
            NULL_DAY,
        )
        gps[key] = _merge(
            side_foreign,
            _migrant(rng, b, male, country, reg, natur, spec.end),
            _belgian(rng, b, male),
        )

    # -- parents ------------------------------------------------------------------------------
    parents: dict[str, People] = {}
    minor_arrival = (gen == 0) & (year_of(arrival) - b0y < 18)
    for key, b, side_foreign in (("F", father_b, f_side), ("M", mother_b, m_side)):
        male = np.full(n_fam, key == "F")
        gpf, gpm = gps[key + "F"], gps[key + "M"]
        born_abroad = side_foreign & ((gen == 1) | (gen == 0) | ((gen == 2) & (b < arrival)))
        jitter = 0 if key == "F" else years_to_days(rng.random(n_fam) * 3)
        reg = np.select(
            [gen == 2, gen == 1, minor_arrival],
            [np.maximum(arrival, b + 30), np.minimum(arrival + jitter, e0 - 30), arrival],
            NULL_DAY,
        )
        reg = np.where(side_foreign, reg, NULL_DAY)
        mig = _migrant(rng, b, male, country, reg, natur, spec.end)
        here = _born_here(
            rng,
            b,
            male,
            country,
            _is_be_on(gpf, b) | _is_be_on(gpm, b),
            np.zeros(n_fam, np.bool_),
            acq,
            spec.end,
        )
        parents[key] = _merge(born_abroad, mig, _merge(side_foreign, here, _belgian(rng, b, male)))

    # -- egos ---------------------------------------------------------------------------------
    e_gen, e_country, e_arrival = gen[fam], country[fam], arrival[fam]
    e_foreign = foreign[fam]
    e_abroad = e_foreign & (e_gen == 0) & (spec.birth < e_arrival)
    border = e_abroad & (rng.random(n_ego) < _BORDER[prof][fam])
    e_reg = np.where(border, NULL_DAY, e_arrival)
    fa, mo = parents["F"], parents["M"]
    p_be = _is_be_on(_take(fa, fam), spec.birth) | _is_be_on(_take(mo, fam), spec.birth)
    p_here = (~fa.abroad[fam] & f_side[fam]) | (~mo.abroad[fam] & m_side[fam])
    egos = _merge(
        e_abroad,
        _migrant(rng, spec.birth, spec.male, e_country, e_reg, natur[fam], spec.end),
        _merge(
            e_foreign,
            _born_here(rng, spec.birth, spec.male, e_country, p_be, p_here, acq[fam], spec.end),
            _belgian(rng, spec.birth, spec.male),
        ),
    )

    # -- links --------------------------------------------------------------------------------
    e0_abroad = e_abroad[starts]
    pl = np.where(
        e0_abroad,
        np.where(minor_arrival, 0.6, 0.05),
        np.clip(0.55 + 0.03 * (b0y - 1945), 0.55, 0.97),
    )
    u = rng.random(n_fam)
    link_m = u < pl
    link_f = u < pl * 0.96
    links: dict[str, B] = {"F": link_f, "M": link_m}
    for key in ("F", "M"):
        p = parents[key]
        py = year_of(p.birth)
        gl = np.where(
            p.abroad,
            np.where(p.reg != NULL_DAY, 0.15, 0.05),
            np.clip(0.2 + 0.025 * (py - 1920), 0.15, 0.9),
        )
        ug = rng.random(n_fam)
        links[key + "M"] = links[key] & (ug < gl)
        links[key + "F"] = links[key] & (ug < gl * 0.97)

    # -- SSINs ----------------------------------------------------------------------------------
    order = ("F", "M", "FF", "FM", "MF", "MM")
    groups: list[tuple[People, B]] = [(egos, np.ones(n_ego, np.bool_))]
    groups += [((parents[k] if len(k) == 1 else gps[k]), links[k]) for k in order]
    sel = [_take(p, np.flatnonzero(m)) for p, m in groups]
    allp = People(*(np.concatenate(x) for x in zip(*(_fields(p) for p in sel), strict=True)))
    n_all = len(allp.birth)
    unregistered = allp.abroad & (allp.reg == NULL_DAY)
    kind = np.where(
        unregistered,
        np.where(rng.random(n_all) < 0.15, 1, 2),
        np.where(allp.abroad & (rng.random(n_all) < 0.08), 2, 0),
    ).astype(np.int8)
    ssin, new_birth = alloc.assign(allp.birth, allp.male, kind)
    allp.reg = np.where(allp.reg == allp.birth, new_birth, allp.reg)
    allp.birth = new_birth

    # Position of every group member in the written list (-1 when not linked).
    pos: dict[str, I64] = {}
    offset = n_ego
    for k, (_, m) in zip(order, groups[1:], strict=True):
        idx = np.full(len(m), -1, np.int64)
        idx[m] = offset + np.arange(int(m.sum()))
        offset += int(m.sum())
        pos[k] = idx

    def link(child_fam: I64, key: str) -> I64:
        p = pos[key][child_fam]
        return np.where(p >= 0, ssin[np.maximum(p, 0)], -1)

    ef = np.arange(n_fam)
    fam_of = [fam] + [ef[links[k]] for k in order]
    father = np.concatenate(
        [link(fam_of[0], "F")]
        + [link(fam_of[1], "FF"), link(fam_of[2], "MF")]
        + [np.full(len(f), -1, np.int64) for f in fam_of[3:]]
    )
    mother = np.concatenate(
        [link(fam_of[0], "M")]
        + [link(fam_of[1], "FM"), link(fam_of[2], "MM")]
        + [np.full(len(f), -1, np.int64) for f in fam_of[3:]]
    )

    sex = np.where(allp.male, 0, 1)
    sex_null = (kind == 1) & (np.arange(n_all) >= n_ego) & (rng.random(n_all) < 0.5)
    ssin_str = digit_strings(ssin, 11)
    persons = {
        "ssin": ssin_str,
        "sex": codes(pa.array(["M", "F"]), np.where(sex_null, -1, sex)),
        "birth_date": dates(allp.birth),
        "birth_country": codes(COUNTRY_VOCAB, allp.country),
        "father_ssin": digit_strings(np.maximum(father, 0), 11, father >= 0),
        "mother_ssin": digit_strings(np.maximum(mother, 0), 11, mother >= 0),
        "registration_date": dates(allp.reg),
    }

    # -- nationality rows -------------------------------------------------------------------------
    role_p = np.r_[np.full(n_ego, 0.002), np.full(offset - n_ego, 0.0)]
    role_p[n_ego:] = 0.01
    role_p[n_ego + int(links["F"].sum()) + int(links["M"].sum()) :] = 0.03
    has_nat = rng.random(n_all) >= role_p
    who = np.arange(n_all)
    r1 = has_nat
    r2 = has_nat & (allp.succ >= 0)
    r3 = has_nat & (allp.be_day != NULL_DAY)
    n_who = np.concatenate([who[r1], who[r2], who[r3]])
    n_code = np.concatenate([allp.nat0[r1], allp.succ[r2], np.full(int(r3.sum()), BE, np.int16)])
    n_day = np.concatenate([allp.birth[r1], allp.succ_day[r2], allp.be_day[r3]])
    o = np.lexsort((n_day, n_who))
    nationalities = {
        "ssin": ssin_str.take(pa.array(n_who[o])),
        "nationality": codes(COUNTRY_VOCAB, n_code[o]),
        "valid_from": dates(n_day[o]),
    }

    e_arr = np.where(e_abroad, np.where(border, NULL_DAY, e_arrival), allp.birth[:n_ego])
    return Lineage(
        persons=persons,
        nationalities=nationalities,
        ssin=ssin,
        birth=allp.birth,
        father=father,
        n_egos=n_ego,
        ego_ssin=ssin_str.slice(0, n_ego),
        ego_birth=allp.birth[:n_ego],
        ego_male=spec.male,
        ego_reg=allp.reg[:n_ego],
        ego_group=PROFILE_GROUP[prof[fam]],
        ego_profile=prof[fam].astype(np.int16),
        ego_arrival=e_arr,
        nat_person=n_who[o],
    )


def _take(p: People, idx: I64) -> People:
    return People(*(x[idx] for x in _fields(p)))
