"""The run: plan, employers, the staff chunk, labour-market chunks, files, summary."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from ._arrow import (
    DWH_TABLES,
    F64,
    TOP_TABLES,
    SsinAllocator,
    TableSink,
    codes,
    day,
    ints,
    random_day_in_year,
    table_path,
    years_to_days,
)
from ._defects import plant
from ._flanders import DOMAINS, ENTITIES, ENTITY_DOMAIN, LEVELS, simulate_staff, staff_profiles
from ._labour import (
    Employers,
    Jobs,
    build_employers,
    education_columns,
    education_level,
    employment_columns,
    job_panel,
    residence_columns,
)
from ._params import (
    FAMILIES_PER_CHUNK,
    JOBS_PER_FAMILY_YEAR,
    PlantedDefect,
    SynthParams,
    SynthSummary,
    plan_for,
)
from ._population import PROFILES, EgoSpec, build_lineage

Progress = Callable[[str, int, int], None]

# Purposes of the random streams (SeedSequence spawn keys); never renumber.
_EMPLOYERS, _STAFF, _STAFF_LINEAGE, _STAFF_JOBS, _LM, _DEFECTS = range(6)

# Origin profile weights of the labour market (families), by profile name.
_LM_PROFILE_W = {
    "BE": 0.68, "NL": 0.03, "FR": 0.04, "DE": 0.01, "IT": 0.04, "ES": 0.01, "GR": 0.005,
    "PT": 0.01, "EU13": 0.035, "CS": 0.005, "MA": 0.045, "TR": 0.025, "MAGHREB": 0.01,
    "CD": 0.01, "AFRICA": 0.01, "YU": 0.012, "SU": 0.008, "REFUGEE": 0.012, "GB": 0.005,
    "ASIA": 0.01, "AMERICAS": 0.008, "MIDEAST": 0.012,
}  # fmt: skip


def _rng(seed: int, purpose: int, chunk: int = 0) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(purpose, chunk)))
    )


def _entity_columns(emp: Employers) -> dict[str, pa.Array]:
    doms = list(DOMAINS)
    return {
        "entity": pa.array([e.code for e in ENTITIES]),
        "entity_name": pa.array([e.name for e in ENTITIES]),
        "policy_domain": pa.array([doms[d] for d in ENTITY_DOMAIN]),
        "policy_domain_name": pa.array([DOMAINS[doms[d]] for d in ENTITY_DOMAIN]),
        "employer_id": emp.ids.slice(0, len(ENTITIES)),
    }


def synthesize(params: SynthParams, out: Path, progress: Progress | None = None) -> SynthSummary:
    """Write a synthetic register, personnel list and entity list into ``out``."""
    started = time.perf_counter()
    report: Progress = progress or (lambda _stage, _done, _total: None)
    plan = plan_for(params)
    years = range(params.first_year, params.last_year + 1)
    end = day(params.last_year, 12, 31)
    out = Path(out)
    fmt = params.fmt
    names = (*DWH_TABLES, *TOP_TABLES)
    sinks = {t: TableSink(t, table_path(out, t, fmt), fmt) for t in names}
    alloc = SsinAllocator()
    defects: list[PlantedDefect] = []
    total_steps = plan.chunks + 1
    try:
        jobs_per_year = JOBS_PER_FAMILY_YEAR * plan.lm_families + 30_000 * plan.staff_factor
        emp = build_employers(_rng(params.seed, _EMPLOYERS), jobs_per_year)
        sinks["entities"].write(_entity_columns(emp))

        # -- chunk 0: the Flemish government staff --------------------------------------------
        report("staff", 0, total_steps)
        staff = simulate_staff(_rng(params.seed, _STAFF), plan.staff_factor, years)
        srng = _rng(params.seed, _STAFF_LINEAGE)
        n_staff = len(staff.birth)
        spec = EgoSpec(
            birth=staff.birth,
            male=staff.male,
            family=np.arange(n_staff, dtype=np.int64),
            profile=staff_profiles(srng, staff.hire_year),
            ceiling=staff.hire_year - 1,
            end=end,
        )
        lin = build_lineage(srng, alloc, spec)
        jrng = _rng(params.seed, _STAFF_JOBS)
        first_level = np.zeros(n_staff, np.int16)
        first_level[staff.pid[::-1]] = staff.level[::-1]
        edu = education_level(jrng, lin.ego_group, first_level)
        ny = len(years)
        in_flemish = np.zeros((n_staff, ny), np.bool_)
        in_flemish[staff.pid, staff.year - years[0]] = True
        other = job_panel(
            jrng, emp, years, lin.ego_birth, lin.ego_male, lin.ego_group, lin.ego_arrival,
            edu <= 3, available=~in_flemish,
        )  # fmt: skip
        second = jrng.random(len(staff.pid)) < 0.01
        flemish = Jobs(
            person=staff.pid,
            year=staff.year,
            employer=staff.entity.astype(np.int64),
            worker_class=np.where(staff.statutory, 3, 2),
            part_time=staff.part_time,
        )
        extra = Jobs(
            person=staff.pid[second],
            year=staff.year[second],
            employer=emp.sample(jrng, np.full(int(second.sum()), 2, np.int8)),
            worker_class=np.full(int(second.sum()), 2),
            part_time=np.ones(int(second.sum()), np.bool_),
        )
        jobs = Jobs.concat([flemish, other, extra]).sorted()
        worked = np.zeros((n_staff, ny), np.bool_)
        worked[jobs.person, jobs.year - years[0]] = True
        doms = pa.array(list(DOMAINS))
        tables = {
            "persons": dict(lin.persons),
            "nationalities": dict(lin.nationalities),
            "employment": employment_columns(lin.ego_ssin, jobs, emp),
            "residence": residence_columns(
                jrng, lin.ego_ssin, years, lin.ego_reg, lin.ego_group, True, worked
            ),
            "education": education_columns(
                jrng, lin.ego_ssin, edu, lin.ego_arrival != lin.ego_birth
            ),
            "personnel": {
                "ssin": lin.ego_ssin.take(pa.array(staff.pid)),
                "year": ints(staff.year),
                "policy_domain": codes(doms, ENTITY_DOMAIN[staff.entity]),
                "entity": pa.array([e.code for e in ENTITIES]).take(pa.array(staff.entity)),
                "level": codes(pa.array(LEVELS), staff.level),
            },
        }
        if params.with_defects:
            defects = plant(
                _rng(params.seed, _DEFECTS), alloc, tables, lin.ssin, lin.birth, lin.father,
                np.r_[lin.ego_male, np.zeros(len(lin.ssin) - lin.n_egos, np.bool_)],
                lin.n_egos, lin.nat_person,
            )  # fmt: skip
        for name, cols in tables.items():
            sinks[name].write(cols)
        staff_by_year = {
            int(y): int(c) for y, c in zip(*np.unique(staff.year, return_counts=True), strict=True)
        }
        del tables, lin, staff, jobs, other
        report("staff", 1, total_steps)

        # -- labour-market chunks -------------------------------------------------------------
        lm_w = np.array([_LM_PROFILE_W.get(p.name, 0.0) for p in PROFILES])
        lm_cum = np.cumsum(lm_w / lm_w.sum())
        for c in range(plan.chunks):
            n_fam = min(FAMILIES_PER_CHUNK, plan.lm_families - c * FAMILIES_PER_CHUNK)
            _labour_chunk(_rng(params.seed, _LM, c), alloc, emp, sinks, years, end, n_fam, lm_cum)
            report("labour market", c + 2, total_steps)
    finally:
        for s in sinks.values():
            s.close()

    files = {t: sinks[t].path for t in names}
    return SynthSummary(
        out=out,
        params=params,
        files=files,
        rows={t: sinks[t].rows for t in names},
        sha256={t: _sha256(p) for t, p in files.items()},
        staff_by_year=staff_by_year,
        defects=tuple(defects),
        seconds=time.perf_counter() - started,
    )


def _labour_chunk(
    rng: np.random.Generator,
    alloc: SsinAllocator,
    emp: Employers,
    sinks: dict[str, TableSink],
    years: range,
    end: int,
    n_fam: int,
    lm_cum: F64,
) -> None:
    size = 1 + (rng.random(n_fam)[:, None] > np.array([0.35, 0.7, 0.9])).sum(1)
    fam = np.repeat(np.arange(n_fam, dtype=np.int64), size)
    # First children are born between 64 years before the first year and 19 years before the
    # last (1946-2004 for 2010-2023), skewed a little to the older cohorts so that the number
    # of jobs stays nearly flat over the years.
    span = len(years) + 45
    first_birth_year = (years[-1] - 19 - span * rng.beta(1.5, 1.3, n_fam)).astype(np.int64)
    e0 = random_day_in_year(rng, first_birth_year)
    starts = np.cumsum(size) - size
    rank = np.arange(len(fam)) - starts[fam]
    gaps = years_to_days(rank * (1.2 + 3.5 * rng.random(len(fam))))
    # Nobody is younger than 18 at the end; a sibling who would be is born on a day of that
    # last year instead (no pile of births on 31 December).
    latest = day(years[-1] - 18, 12, 31)
    room = np.clip(latest - e0[fam], 0, 364)
    birth = e0[fam] + gaps
    birth = np.where(
        birth > latest, latest - np.floor(rng.random(len(fam)) * room).astype(np.int64), birth
    )
    male = rng.random(len(fam)) < 0.52
    profile = np.minimum((rng.random(n_fam)[:, None] > lm_cum).sum(1), len(PROFILES) - 1).astype(
        np.int16
    )
    spec = EgoSpec(
        birth=birth,
        male=male,
        family=fam,
        profile=profile,
        ceiling=np.full(n_fam, years[-1]),
        end=end,
    )
    lin = build_lineage(rng, alloc, spec)
    edu = education_level(rng, lin.ego_group, None)
    jobs = job_panel(
        rng, emp, years, lin.ego_birth, lin.ego_male, lin.ego_group, lin.ego_arrival, edu <= 3
    ).sorted()
    worked = np.zeros((lin.n_egos, len(years)), np.bool_)
    worked[jobs.person, jobs.year - years[0]] = True
    sinks["persons"].write(lin.persons)
    sinks["nationalities"].write(lin.nationalities)
    sinks["employment"].write(employment_columns(lin.ego_ssin, jobs, emp))
    sinks["residence"].write(
        residence_columns(rng, lin.ego_ssin, years, lin.ego_reg, lin.ego_group, False, worked)
    )
    sinks["education"].write(
        education_columns(rng, lin.ego_ssin, edu, lin.ego_arrival != lin.ego_birth)
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
