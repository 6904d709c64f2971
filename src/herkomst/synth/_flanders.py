"""The Flemish government: policy domains, entities, and a yearly staff panel.

Sizes follow the figures in DOMAIN.md (about 29,500 staff at the end of 2023, ten policy
domains, about 75 entities; WVG, WSE, MOW, OMG each over 4,000 FTE, EWI about 670 FTE;
levels A 31% / B 34% / C 21% / D 14%; 69% statutory; 59% women). Entity names are those of
real entities where one came to mind; sizes per entity and the yearly path are invented.
The panel is simulated year by year (one vectorised step per year, never per person):
exits by age and contract, moves between entities of a domain, promotions, appointments
as civil servant, and hires that fill each entity up to its yearly target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._arrow import I16, I64, B, random_day_in_year
from ._population import PROFILE_INDEX, PROFILES

DOMAINS: dict[str, str] = {
    "KBBJ": "Kanselarij, Bestuur, Buitenlandse Zaken en Justitie",
    "FB": "Financiën en Begroting",
    "EWI": "Economie, Wetenschap en Innovatie",
    "OV": "Onderwijs en Vorming",
    "WVG": "Welzijn, Volksgezondheid en Gezin",
    "CJSM": "Cultuur, Jeugd en Media",
    "WSE": "Werk en Sociale Economie",
    "LV": "Landbouw en Visserij",
    "MOW": "Mobiliteit en Openbare Werken",
    "OMG": "Omgeving",
}


@dataclass(frozen=True)
class Entity:
    code: str
    name: str
    size: int  # headcount at the end of 2023 (before scaling to the 29,500 total)
    authority: str  # 23 departments and agencies, 24 public-interest bodies
    nace: str


def _e(code: str, name: str, size: int, authority: str = "23", nace: str = "") -> Entity:
    domain = code.split("-")[0]
    default = {"KBBJ": "84112", "FB": "84112", "OV": "84120", "WVG": "84120", "CJSM": "84120"}
    return Entity(code, name, size, authority, nace or default.get(domain, "84130"))


ENTITIES: tuple[Entity, ...] = (
    _e("KBBJ-DKB", "Departement Kanselarij en Buitenland", 420),
    _e("KBBJ-FAC", "Agentschap Facilitair Bedrijf", 1150),
    _e("KBBJ-DV", "Agentschap Digitaal Vlaanderen", 520),
    _e("KBBJ-AJH", "Agentschap Justitie en Handhaving", 610, nace="84230"),
    _e("KBBJ-ABB", "Agentschap Binnenlands Bestuur", 190),
    _e("KBBJ-AGO", "Agentschap Overheidspersoneel", 140),
    _e("KBBJ-STAT", "Statistiek Vlaanderen", 45),
    _e("KBBJ-AUDIT", "Audit Vlaanderen", 38),
    _e("KBBJ-VTC", "Vlaamse Toezichtcommissie", 9, "24"),
    _e("KBBJ-DBRC", "Dienst van de Bestuursrechtscolleges", 60, nace="84230"),
    _e("KBBJ-VVI", "Vlaams Vredesinstituut", 12, "24"),
    _e("KBBJ-CBT", "Commissie voor Bestuurlijk Toezicht", 14, "24"),
    _e("FB-DFB", "Departement Financiën en Begroting", 380),
    _e("FB-VLABEL", "Vlaamse Belastingdienst", 1150),
    _e("FB-IF", "Inspectie van Financiën", 48),
    _e("FB-VEB", "Vlaams Energiebedrijf", 35, "24"),
    _e("FB-VFF", "Vlaams Financieringsfonds", 12, "24"),
    _e("FB-VAS", "Vlaams Agentschap Schuldbeheer", 27),
    _e("FB-VFP", "Vlaams Fonds voor de Pensioenen", 22, "24"),
    _e("EWI-DEWI", "Departement Economie, Wetenschap en Innovatie", 230),
    _e("EWI-VLAIO", "Agentschap Innoveren en Ondernemen", 390),
    _e("EWI-FWO", "Fonds Wetenschappelijk Onderzoek - Vlaanderen", 95, "24"),
    _e("EWI-HERM", "Hermesfonds", 14, "24"),
    _e("EWI-VRWI", "Vlaamse Raad voor Wetenschap en Innovatie", 11, "24"),
    _e("EWI-HERC", "Herculesstichting", 6, "24"),
    _e("OV-DOV", "Departement Onderwijs en Vorming", 1000),
    _e("OV-AGODI", "Agentschap voor Onderwijsdiensten", 420),
    _e(
        "OV-AHOVOKS",
        "Agentschap voor Hoger Onderwijs, Volwassenenonderwijs, Kwalificaties en Studietoelagen",
        520,
    ),
    _e("OV-INSP", "Onderwijsinspectie", 230),
    _e("OV-AGION", "Agentschap voor Infrastructuur in het Onderwijs", 70, "24"),
    _e("OV-VLOR", "Vlaamse Onderwijsraad", 36, "24"),
    _e("WVG-DZ", "Departement Zorg", 520),
    _e("WVG-OPG", "Agentschap Opgroeien", 2150, "24"),
    _e("WVG-VAPH", "Vlaams Agentschap voor Personen met een Handicap", 260, "24"),
    _e("WVG-ZI", "Zorginspectie", 160),
    _e("WVG-VSB", "Vlaamse Sociale Bescherming", 120, "24"),
    _e("WVG-AZG", "Agentschap Zorg en Gezondheid", 900),
    _e("WVG-AII", "Agentschap Integratie en Inburgering", 700, "24"),
    _e("WVG-VIPA", "Vlaams Infrastructuurfonds voor Persoonsgebonden Aangelegenheden", 28, "24"),
    _e("WVG-SAR", "Strategische Adviesraad Welzijn, Gezondheid en Gezin", 11, "24"),
    _e("CJSM-DCJM", "Departement Cultuur, Jeugd en Media", 420),
    _e("CJSM-SPORT", "Sport Vlaanderen", 760, "24"),
    _e("CJSM-VRM", "Vlaamse Regulator voor de Media", 21, "24"),
    _e("CJSM-LIT", "Literatuur Vlaanderen", 24, "24"),
    _e("CJSM-VAF", "Vlaams Audiovisueel Fonds", 34, "24"),
    _e("CJSM-JR", "Vlaamse Jeugdraad", 7, "24"),
    _e("CJSM-AKE", "Agentschap Kunsten en Erfgoed", 140),
    _e("WSE-DWSE", "Departement Werk en Sociale Economie", 420),
    _e("WSE-VDAB", "Vlaamse Dienst voor Arbeidsbemiddeling en Beroepsopleiding", 4500, "24"),
    _e("WSE-SYN", "Syntra Vlaanderen", 110, "24"),
    _e("WSE-SERV", "Sociaal-Economische Raad van Vlaanderen", 45, "24"),
    _e("WSE-ESF", "Europees Sociaal Fonds Vlaanderen", 58),
    _e("WSE-VSAW", "Vlaams Subsidieagentschap voor Werk en Sociale Economie", 170),
    _e("LV-DLV", "Departement Landbouw en Visserij", 560),
    _e("LV-ILVO", "Instituut voor Landbouw-, Visserij- en Voedingsonderzoek", 330),
    _e("LV-VLAM", "Vlaams Centrum voor Agro- en Visserijmarketing", 42, "24"),
    _e("LV-SALV", "Strategische Adviesraad voor Landbouw en Visserij", 8, "24"),
    _e("LV-VIF", "Vlaams Visserijfonds", 16, "24"),
    _e("MOW-DMOW", "Departement Mobiliteit en Openbare Werken", 860),
    _e("MOW-AWV", "Agentschap Wegen en Verkeer", 2200),
    _e("MOW-DVW", "De Vlaamse Waterweg", 1050, "24"),
    _e("MOW-MDK", "Agentschap Maritieme Dienstverlening en Kust", 480),
    _e("MOW-MORA", "Mobiliteitsraad van Vlaanderen", 8, "24"),
    _e("MOW-VIF", "Vlaams Infrastructuurfonds", 15, "24"),
    _e("MOW-VVC", "Vlaams Verkeerscentrum", 85),
    _e("OMG-DOMG", "Departement Omgeving", 950),
    _e("OMG-ANB", "Agentschap Natuur en Bos", 930),
    _e("OMG-VMM", "Vlaamse Milieumaatschappij", 980, "24"),
    _e("OMG-OVAM", "Openbare Vlaamse Afvalstoffenmaatschappij", 420, "24"),
    _e("OMG-VLM", "Vlaamse Landmaatschappij", 600, "24"),
    _e("OMG-OE", "Agentschap Onroerend Erfgoed", 380),
    _e("OMG-INBO", "Instituut voor Natuur- en Bosonderzoek", 290),
    _e("OMG-VEKA", "Vlaams Energie- en Klimaatagentschap", 140),
    _e("OMG-VREG", "Vlaamse Regulator van de Elektriciteits- en Gasmarkt", 95, "24"),
    _e("OMG-MINA", "Minaraad", 14, "24"),
    _e("OMG-SARO", "Strategische Adviesraad Ruimte en Onroerend Erfgoed", 9, "24"),
)
TOTAL_2023 = 29_500
LEVELS = ("A", "B", "C", "D")
LEVEL_SHARES = np.array([0.31, 0.34, 0.21, 0.14])
ENTITY_DOMAIN = np.array([list(DOMAINS).index(e.code.split("-")[0]) for e in ENTITIES], np.int16)
# Women's share tilts by domain (log-odds); the intercept is solved so the total is 59%.
_SEX_TILT = {"MOW": -0.9, "OMG": -0.5, "LV": -0.4, "FB": 0.0, "EWI": 0.1, "KBBJ": 0.0,
             "OV": 0.5, "WVG": 0.9, "CJSM": 0.1, "WSE": 0.5}  # fmt: skip
# Yearly headcount relative to 2023 (invented: savings around 2015, growth afterwards).
_TREND = (
    (2000, 1.04),
    (2010, 1.04),
    (2013, 1.0),
    (2015, 0.955),
    (2017, 0.955),
    (2020, 0.98),
    (2023, 1.0),
)


# Relative weight of the diverse profiles among hires, by hire year (invented, calibrated).
_DIVERSITY = (
    (2009, 0.0),
    (2011, 0.2),
    (2013, 0.6),
    (2015, 1.0),
    (2017, 1.0),
    (2019, 0.6),
    (2023, 0.6),
)


def trend(year: int) -> float:
    xs, ys = zip(*_TREND, strict=True)
    return float(np.interp(year, xs, ys))


def staff_profile_weights(hire_year: I64) -> npt.NDArray[np.float64]:
    """Origin profile weights of staff by hire year (rows sum to 1).

    Staff hired before about 2008 are rarely of non-EU background; the share of non-EU
    profiles among hires rises to about a quarter in 2013-2016 and settles near a fifth
    (calibrated so the seed-000 rule gives ~3-4% of staff in 2013 and ~10-12% in 2018-2021).
    """
    base = {"BE": 0.93, "NL": 0.02, "FR": 0.01, "DE": 0.004, "IT": 0.02, "ES": 0.006, "GR": 0.003,
            "PT": 0.002, "EU13": 0.002, "CS": 0.001, "MA": 0.005, "TR": 0.003, "MAGHREB": 0.001,
            "CD": 0.003, "YU": 0.001, "GB": 0.002, "ASIA": 0.001, "AMERICAS": 0.001, "MIDEAST": 0.001}  # fmt: skip
    diverse = {"MA": 0.085, "TR": 0.05, "MAGHREB": 0.012, "CD": 0.025, "AFRICA": 0.012, "YU": 0.018,
               "SU": 0.012, "REFUGEE": 0.012, "GB": 0.006, "ASIA": 0.012, "AMERICAS": 0.008,
               "MIDEAST": 0.015, "EU13": 0.012}  # fmt: skip
    w_base = np.zeros(len(PROFILES))
    w_div = np.zeros(len(PROFILES))
    for k, v in base.items():
        w_base[PROFILE_INDEX[k]] = v
    for k, v in diverse.items():
        w_div[PROFILE_INDEX[k]] = v
    k_div = w_div.sum()
    w_base /= w_base.sum()
    w_div /= k_div
    xs, ys = zip(*_DIVERSITY, strict=True)
    s = np.interp(hire_year.astype(np.float64), xs, ys)[:, None] * k_div
    return np.asarray((1 - s) * w_base + s * w_div)


@dataclass
class StaffPanel:
    """Staff persons and their (person, year) rows."""

    birth: I64  # per person
    male: B
    hire_year: I64
    pid: I64  # per person-year
    year: I64
    entity: I16
    level: I16
    statutory: B
    part_time: B


def targets(rng: np.random.Generator, factor: float, years: range) -> npt.NDArray[np.int64]:
    sizes = np.array([e.size for e in ENTITIES], dtype=np.float64)
    sizes *= TOTAL_2023 / sizes.sum()
    growth = rng.normal(0.0, 0.015, len(ENTITIES))
    out = np.zeros((len(ENTITIES), len(years)), dtype=np.int64)
    for j, y in enumerate(years):
        raw = sizes * (1 + growth) ** (y - 2023)
        raw *= TOTAL_2023 * factor * trend(y) / raw.sum()
        out[:, j] = np.maximum(1, np.round(raw)).astype(np.int64)
    return out


def _women_share(sizes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    tilt = np.array([_SEX_TILT[list(DOMAINS)[d]] for d in ENTITY_DOMAIN])
    lo, hi = -3.0, 3.0
    for _ in range(60):  # bisection on the intercept over 76 entities
        mid = (lo + hi) / 2
        p = 1 / (1 + np.exp(-(mid + tilt)))
        if (p * sizes).sum() / sizes.sum() < 0.59:
            lo = mid
        else:
            hi = mid
    return np.asarray(1 / (1 + np.exp(-((lo + hi) / 2 + tilt))))


def _draw_level(rng: np.random.Generator, probs: npt.NDArray[np.float64]) -> I16:
    cum = np.cumsum(probs, axis=1)
    return np.asarray(np.minimum((rng.random(len(probs))[:, None] > cum).sum(1), 3), dtype=np.int16)


def simulate_staff(rng: np.random.Generator, factor: float, years: range) -> StaffPanel:
    """Year-end staff of every entity, ``years`` inclusive, at ``factor`` times real size."""
    tgt = targets(rng, factor, years)
    n_ent = len(ENTITIES)
    sizes = tgt[:, -1].astype(np.float64)
    p_women = _women_share(sizes)
    lvl_noise = np.exp(rng.normal(0, 0.15, (n_ent, 4)))
    lvl_p = LEVEL_SHARES * lvl_noise
    lvl_p /= lvl_p.sum(1, keepdims=True)
    dom_weights = [np.flatnonzero(d == ENTITY_DOMAIN) for d in range(len(DOMAINS))]

    first = years[0]
    # Persons (grown by appending hires each year).
    birth: list[I64] = []
    male: list[B] = []
    hire: list[I64] = []
    pyear_rows: list[tuple[I64, I64, I16, I16, B]] = []

    def new_people(
        ent: I16, year: int, age: I64, tenure: I64, stat_p: npt.NDArray[np.float64]
    ) -> tuple[I64, I16, B]:
        n = len(ent)
        start = sum(len(b) for b in birth)
        birth.append(random_day_in_year(rng, year - age))
        male.append(rng.random(n) >= p_women[ent])
        hire.append(year - tenure)
        return (
            np.arange(start, start + n, dtype=np.int64),
            _draw_level(rng, lvl_p[ent]),
            rng.random(n) < stat_p,
        )

    ent0 = np.repeat(np.arange(n_ent, dtype=np.int16), tgt[:, 0])
    age0 = (20 + 45 * rng.beta(2.6, 2.0, len(ent0))).astype(np.int64)
    ten0 = np.floor(rng.random(len(ent0)) * np.clip(age0 - 21, 0, 35)).astype(np.int64)
    pid, level, stat = new_people(ent0, first, age0, ten0, 0.5 + 0.35 * np.minimum(ten0 / 10, 1))
    entity = ent0
    pyear_rows.append((pid, np.full(len(pid), first), entity, level, stat))

    for j, y in enumerate(years[1:], start=1):
        b_year = (
            np.concatenate(birth)[pid]
            .astype("datetime64[D]")
            .astype("datetime64[Y]")
            .astype(np.int64)
            + 1970
        )
        age = y - b_year
        tenure = y - np.concatenate(hire)[pid]
        h = 0.03 + np.where(stat, 0.0, 0.05) + np.where(age < 30, 0.04, 0.0)
        h = np.where(age >= 60, 0.17, h)
        h = np.where(age >= 63, 0.35, h)
        h = np.where(age >= 65, 0.65, h)
        h = np.where(age >= 68, 1.0, h)
        stay = rng.random(len(pid)) >= h
        pid, entity, level, stat, tenure = (
            pid[stay],
            entity[stay],
            level[stay],
            stat[stay],
            tenure[stay],
        )
        move = rng.random(len(pid)) < 0.025
        if move.any():
            dom = ENTITY_DOMAIN[entity[move]]
            new = np.empty(int(move.sum()), np.int16)
            for d, members in enumerate(dom_weights):
                sel = dom == d
                w = sizes[members] / sizes[members].sum()
                new[sel] = members[
                    np.minimum(
                        np.searchsorted(np.cumsum(w), rng.random(int(sel.sum()))), len(members) - 1
                    )
                ]
            entity = entity.copy()
            entity[move] = new
        promote = (rng.random(len(pid)) < 0.006) & (level >= 2)  # C -> B, D -> C
        level = np.where(promote, level - 1, level).astype(np.int16)
        stat = stat | ((tenure >= 1) & (rng.random(len(pid)) < 0.045))
        have = np.bincount(entity, minlength=n_ent)
        gap = np.maximum(tgt[:, j] - have, 0)
        ent_h = np.repeat(np.arange(n_ent, dtype=np.int16), gap)
        nh = len(ent_h)
        age_h = np.clip(np.round(20.5 + rng.gamma(2.0, 4.8, nh)), 18, 62).astype(np.int64)
        age_h = np.where(rng.random(nh) < 0.003, 17, age_h)
        pid_h, lvl_h, stat_h = new_people(ent_h, y, age_h, np.zeros(nh, np.int64), np.full(nh, 0.3))
        pid = np.concatenate([pid, pid_h])
        entity = np.concatenate([entity, ent_h])
        level = np.concatenate([level, lvl_h])
        stat = np.concatenate([stat, stat_h])
        pyear_rows.append((pid, np.full(len(pid), y), entity, level, stat))

    b = np.concatenate(birth)
    m = np.concatenate(male)
    py_pid = np.concatenate([r[0] for r in pyear_rows])
    py_year = np.concatenate([r[1] for r in pyear_rows]).astype(np.int64)
    b_year = b.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    age = py_year - b_year[py_pid]
    women = ~m[py_pid]
    p_part = np.where(women, 0.28 + 0.1 * ((age >= 30) & (age < 45)), 0.06 + 0.12 * (age >= 58))
    u_person = rng.random(len(b))
    part = u_person[py_pid] < p_part
    return StaffPanel(
        birth=b,
        male=m,
        hire_year=np.concatenate(hire),
        pid=py_pid,
        year=py_year,
        entity=np.concatenate([r[2] for r in pyear_rows]).astype(np.int16),
        level=np.concatenate([r[3] for r in pyear_rows]).astype(np.int16),
        statutory=np.concatenate([r[4] for r in pyear_rows]),
        part_time=part,
    )


def staff_profiles(rng: np.random.Generator, hire_year: I64) -> I16:
    w = staff_profile_weights(hire_year)
    cum = np.cumsum(w, axis=1)
    k = (rng.random(len(hire_year))[:, None] > cum).sum(1)
    return np.asarray(np.minimum(k, len(PROFILES) - 1), dtype=np.int16)
