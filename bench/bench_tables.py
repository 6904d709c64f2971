"""Benchmark of the diversity tables (issue 4): python bench/bench_tables.py [--staff N].

Builds a Flemish-sized staff (~30,000 a year, 75 entities in 10 policy domains, 14 years)
with parents and grandparents in the register, straight into the validated tables with
numpy (no files, no validation), then times:

- one year: population -> origin (herkomst.origin.derive_origin) -> all 42 tables;
- 14 years in one run (one definition date), no cache;
- the 14-year run again with the cache filled (every year reused);
- tabulation alone (the GROUPING SETS query) against a bare DuckDB GROUP BY over the same
  person-year rows;
- writing the service release (parquet, csv, workbook) for one year.

Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from herkomst.engine import Engine, EngineSettings
from herkomst.release import build_tables
from herkomst.tabulate import (
    TableParams,
    attach_origin,
    build_population,
    compute_cells,
    herkomst_origin,
    tabulate_cells,
)

YEARS = tuple(range(2010, 2024))
DOMAINS = ("KBBJ", "FB", "EWI", "OV", "WVG", "CJSM", "WSE", "LV", "MOW", "OMG")
DOMAIN_WEIGHT = (0.06, 0.08, 0.03, 0.09, 0.16, 0.07, 0.16, 0.07, 0.15, 0.13)
# Countries: Belgian, EU-15, later EU, outside the EU.
BE = "BE"
EU15 = ("NL", "FR", "DE", "IT", "ES", "PT", "GB")
EU_LATER = ("PL", "RO", "BG", "HR")
NON_EU = ("MA", "TR", "CD", "DZ", "RU", "US", "CN")


def _ssins(start: int, n: int) -> pa.Array:
    # Distinct 11-digit identifiers (the validated tables hold 11 digits; no checksum needed).
    return pa.array([f"{v:011d}" for v in range(start, start + n)], pa.string())


def _nationality(rng: np.random.Generator, n: int, p_foreign: float) -> np.ndarray:
    pool = np.array((BE, *EU15, *EU_LATER, *NON_EU))
    weights = np.array(
        [1 - p_foreign]
        + [p_foreign * 0.35 / len(EU15)] * len(EU15)
        + [p_foreign * 0.15 / len(EU_LATER)] * len(EU_LATER)
        + [p_foreign * 0.50 / len(NON_EU)] * len(NON_EU)
    )
    return rng.choice(pool, size=n, p=weights / weights.sum())


def make_population(engine: Engine, staff: int, seed: int = 20231231) -> dict[str, int]:
    """Validated tables for ``staff`` people a year over :data:`YEARS`."""
    rng = np.random.default_rng(seed)
    pool = int(staff * 1.6)  # everyone who is staff in some year
    n_gp, n_p = 4 * pool, 2 * pool
    ids_gp = 10_000_000_000
    ids_p = ids_gp + n_gp
    ids_s = ids_p + n_p
    # Grandparents (fathers' and mothers' parents), parents, staff.
    gp = _ssins(ids_gp, n_gp)
    par = _ssins(ids_p, n_p)
    stf = _ssins(ids_s, pool)
    gp_birth = rng.integers(1900 * 365, 1945 * 365, n_gp)
    p_birth = rng.integers(1925 * 365, 1975 * 365, n_p)
    s_birth = rng.integers(1945 * 365, 2005 * 365, pool)

    def linked(idx: np.ndarray, arr: pa.Array, p_missing: float) -> pa.Array:
        out = arr.take(pa.array(idx)).to_pylist()
        miss = rng.random(len(idx)) < p_missing
        return pa.array([None if m else v for v, m in zip(out, miss, strict=True)], pa.string())

    p_father = linked(np.arange(0, n_p) * 2 % n_gp, gp, 0.35)
    p_mother = linked((np.arange(0, n_p) * 2 + 1) % n_gp, gp, 0.35)
    s_father = linked(np.arange(0, pool) * 2, par, 0.05)
    s_mother = linked(np.arange(0, pool) * 2 + 1, par, 0.05)
    nulls = pa.nulls

    def days(d: np.ndarray) -> pa.Array:
        return pa.array(d.astype("int32"), pa.date32())

    sex = rng.choice(np.array(["M", "F"]), size=pool + n_p + n_gp, p=[0.41, 0.59])
    persons = pa.table(
        {
            "ssin": pa.concat_arrays([stf, par, gp]),
            "sex": pa.array(sex),
            "birth_date": pa.concat_arrays(
                [days(s_birth - 719162), days(p_birth - 719162), days(gp_birth - 719162)]
            ),
            "birth_country": pa.array(_nationality(rng, pool + n_p + n_gp, 0.12)),
            "father_ssin": pa.concat_arrays([s_father, p_father, nulls(n_gp, pa.string())]),
            "mother_ssin": pa.concat_arrays([s_mother, p_mother, nulls(n_gp, pa.string())]),
            "registration_date": pa.concat_arrays(
                [days(s_birth - 719162), days(p_birth - 719162), nulls(n_gp, pa.date32())]
            ),
        }
    )
    everyone = persons.column("ssin").combine_chunks()
    births = persons.column("birth_date").combine_chunks()
    first = _nationality(rng, len(everyone), 0.10)
    nat_ssin = [everyone]
    nat_code = [pa.array(first)]
    nat_from = [births]
    # A quarter of the foreign-born become Belgian later.
    became = np.flatnonzero((first != BE) & (rng.random(len(first)) < 0.25))
    nat_ssin.append(everyone.take(pa.array(became)))
    nat_code.append(pa.array([BE] * len(became)))
    later = np.asarray(births.take(pa.array(became)).cast(pa.int32())) + rng.integers(
        3000, 12000, len(became)
    )
    nat_from.append(pa.array(later.astype("int32"), pa.date32()))
    # Some grandparents have no nationality row (unknown).
    nationalities = pa.table(
        {
            "ssin": pa.concat_arrays(nat_ssin),
            "nationality": pa.concat_arrays(nat_code),
            "valid_from": pa.concat_arrays(nat_from),
        }
    )
    keep = np.ones(nationalities.num_rows, bool)
    keep[pool + n_p : pool + n_p + n_gp] = rng.random(n_gp) > 0.1
    nationalities = nationalities.filter(pa.array(keep))

    # Entities: 75, sized by domain weight.
    entities: list[dict[str, Any]] = []
    for di, d in enumerate(DOMAINS):
        for k in range(1 + round(74 * DOMAIN_WEIGHT[di])):
            if len(entities) < 75:
                entities.append(
                    {
                        "entity": f"{d}-E{k:02d}",
                        "entity_name": f"Entiteit {k} van {d}",
                        "policy_domain": d,
                        "policy_domain_name": f"Beleidsdomein {d}",
                        "employer_id": f"{200000000 + len(entities):010d}",
                    }
                )
    ent_w = rng.dirichlet(np.ones(len(entities)) * 0.8)
    home = rng.choice(len(entities), size=pool, p=ent_w)
    level = rng.choice(np.array(["A", "B", "C", "D"]), size=pool, p=[0.31, 0.34, 0.21, 0.14])
    statutory = rng.random(pool) < 0.69
    part = rng.random(pool) < 0.25
    pl_rows: dict[str, list[Any]] = {
        k: [] for k in ("ssin", "year", "policy_domain", "entity", "level")
    }
    em_rows: dict[str, list[Any]] = {
        k: []
        for k in ("ssin", "year", "employer_id", "authority", "nace", "worker_class", "regime")
    }
    stf_list = stf.to_pylist()
    for y in YEARS:
        chosen = rng.choice(pool, size=staff, replace=False)
        for i in chosen:
            e = entities[home[i]]
            pl_rows["ssin"].append(stf_list[i])
            pl_rows["year"].append(y)
            pl_rows["policy_domain"].append(e["policy_domain"])
            pl_rows["entity"].append(e["entity"])
            pl_rows["level"].append(str(level[i]))
            if rng.random() < 0.98:
                em_rows["ssin"].append(stf_list[i])
                em_rows["year"].append(y)
                em_rows["employer_id"].append(e["employer_id"])
                em_rows["authority"].append("23")
                em_rows["nace"].append("84130")
                em_rows["worker_class"].append(3 if statutory[i] else 2)
                em_rows["regime"].append("P" if part[i] else "F")
    personnel = pa.table(pl_rows)
    employment = pa.table(em_rows)
    for name, table in (
        ("persons", persons),
        ("nationalities", nationalities),
        ("personnel", personnel),
        ("employment", employment),
        ("entities", pa.Table.from_pylist(entities)),
    ):
        engine.register(f"{name}__bench", table)
        cast = {
            "year": "INTEGER",
            "worker_class": "INTEGER",
        }
        cols = ", ".join(
            f"CAST({c} AS {cast[c]}) AS {c}" if c in cast else c for c in table.column_names
        )
        engine.create_table(name, f'SELECT {cols} FROM "{name}__bench"')
        engine.con.unregister(f"{name}__bench")
    return {
        "persons": persons.num_rows,
        "nationalities": nationalities.num_rows,
        "personnel": personnel.num_rows,
        "employment": employment.num_rows,
        "entities": len(entities),
    }


CPU: dict[str, float] = {}


def timed(fn: Callable[[], Any], repeat: int = 3, name: str = "") -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (the process CPU time of that run in ``CPU[name]``)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t
        if wall < best:
            best = wall
            if name:
                CPU[name] = time.process_time() - c
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=30_000)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    ap.add_argument("--memory-limit", default="640MB", help="DuckDB memory_limit (default 640MB)")
    args = ap.parse_args(argv)
    gen_on = dt.date(2024, 6, 30)
    eng = Engine(EngineSettings(threads=args.threads, memory_limit=args.memory_limit))
    t = time.perf_counter()
    sizes = make_population(eng, args.staff)
    gen_s = time.perf_counter() - t
    last = YEARS[-1]
    one = TableParams(years=(last,), generated_on=gen_on)
    many = TableParams(years=YEARS, generated_on=gen_on)
    results: dict[str, Any] = {"staff_per_year": args.staff, "inputs": sizes, "generate_s": gen_s}

    t1, _ = timed(lambda: compute_cells(eng, one), name="one_year")
    results["one_year_s"] = t1
    results["one_year_cells"] = eng.count("cells")
    results["one_year_tables"] = 2 * 7 * 3
    t14, _ = timed(lambda: compute_cells(eng, many), repeat=1, name="fourteen_years")
    results["fourteen_years_s"] = t14
    results["fourteen_years_cells"] = eng.count("cells")

    cache = Path(tempfile.mkdtemp(prefix="herkomst-bench-"))
    try:
        compute_cells(eng, many, cache_dir=cache)
        tc, res = timed(lambda: compute_cells(eng, many, cache_dir=cache), repeat=1, name="cached")
        results["fourteen_years_cached_s"] = tc
        results["fourteen_years_cached_reused"] = len(res.reused_years)
        # Tabulation alone vs a bare group-by over the same person-year rows (one year).
        build_population(eng, one, out_table="bstaff")
        attach_origin(eng, one, "bstaff", herkomst_origin(one, None), out_table="bstaff_origin")
        tt, _ = timed(
            lambda: tabulate_cells(eng, one, "bstaff_origin", out_table="bcells"), 5, "tabulate"
        )
        bare_sql = (
            "CREATE OR REPLACE TABLE bare AS SELECT year, policy_domain, entity, sex, age_class,"
            " level, position, regime, eu15, eu, count(*) AS n FROM bstaff_origin"
            " GROUP BY year, policy_domain, entity, sex, age_class, level, position, regime, eu15, eu"
        )
        tb, _ = timed(lambda: eng.execute(bare_sql), 5, "bare")
        results["tabulate_only_s"] = tt
        results["bare_groupby_s"] = tb
        results["ratio_tabulate_to_bare"] = tt / tb if tb else None
        results["ratio_one_year_to_bare"] = t1 / tb if tb else None
        out = cache / "release"
        tr, rel = timed(
            lambda: build_tables(eng, one, None, out, cache_dir=cache / "c2", use_cache=False),
            repeat=1,
            name="release",
        )
        results["one_year_release_s"] = tr
        results["one_year_release_bytes"] = {
            k: v["bytes"] for k, v in rel.release.manifest["files"].items()
        }
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    results["peak_rss_mib"] = peak / 2**20
    results["cpu_s"] = CPU
    results["load_average"] = list(os.getloadavg())
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    ok = t1 < 2 and t14 < 10 and peak < 2**30
    print("targets (1 year < 2 s, 14 years < 10 s, peak < 1 GiB):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
