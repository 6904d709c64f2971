"""Benchmark of herkomst.origin: every definition on a synthetic register.

Self-contained: the register is generated with DuckDB SQL (no dependency on herkomst.synth).

    .venv/bin/python bench/bench_origin.py --scale flanders   # 30,000 staff in a 210,000 register
    .venv/bin/python bench/bench_origin.py --scale belgium    # 12,000,000 persons, all in scope
    .venv/bin/python bench/bench_origin.py --scale 1000000    # any register size, all in scope

Prints one JSON line: timings (seconds), the ratio to a plain scan of the same columns, and the
peak resident memory of the process (the register itself included). Each scale should run in
its own process so that the peak memory is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import time

from herkomst.engine import Engine, EngineSettings
from herkomst.origin import OriginParams, derive_origin

# One person per row, oldest first: a person's parents sit about a generation (a quarter of the
# register) earlier. 12% of parent links are missing. Nationalities: 80% Belgian, 7% EU,
# 13% non-EU; a tenth of the non-Belgians become Belgian twenty years after birth.
_PERSONS = """
CREATE OR REPLACE TABLE persons AS
SELECT ssin, sex, birth_date,
       CASE WHEN h % 100 < 85 THEN 'BE' WHEN h % 100 < 92 THEN 'FR' ELSE 'MA' END AS birth_country,
       CASE WHEN i >= {gen} AND h % 100 >= 12
            THEN printf('%011d', i - {gen} - CAST((h // 100) % {spread} AS BIGINT)) END
           AS father_ssin,
       CASE WHEN i >= {gen} AND (h // 7) % 100 >= 12
            THEN printf('%011d', i - {gen} - CAST((h // 1000) % {spread} AS BIGINT)) END
           AS mother_ssin,
       CASE WHEN h % 10 > 0 THEN birth_date END AS registration_date
FROM (
    SELECT i, printf('%011d', i) AS ssin, CAST(hash(i) % 1000000007 AS BIGINT) AS h,
           CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex,
           DATE '1900-01-01' + CAST(i * 40000 // {n} AS INTEGER) AS birth_date
    FROM range({n}) t(i)
) p
"""

_NATIONALITIES = """
CREATE OR REPLACE TABLE nationalities AS
WITH first AS (
    SELECT ssin, birth_date, CAST(hash(ssin) % 1000 AS BIGINT) AS h FROM persons
)
SELECT ssin,
       CASE WHEN h < 800 THEN 'BE'
            ELSE (['FR', 'NL', 'IT', 'PL', 'RO', 'GB', 'DE', 'ES', 'MA', 'TR', 'CD', 'DZ',
                   'SY', 'US', 'RU', 'CN', 'XK', 'SUHH', 'YUCS', 'CSHH'])[1 + h % 20]
       END AS nationality,
       birth_date AS valid_from
FROM first
WHERE h >= 5
UNION ALL
SELECT ssin, 'BE', birth_date + INTERVAL 20 YEAR
FROM first
WHERE h >= 800 AND h % 10 = 0
"""

#: The baseline: copy the columns origin reads into new tables (a plain scan that also writes).
_SCAN = (
    "CREATE OR REPLACE TABLE _scan_p AS SELECT ssin, father_ssin, mother_ssin, birth_country,"
    " registration_date FROM persons",
    "CREATE OR REPLACE TABLE _scan_n AS SELECT ssin, nationality, valid_from FROM nationalities",
)


def scan(engine: Engine) -> None:
    for sql in _SCAN:
        engine.execute(sql)


def build(engine: Engine, n: int) -> None:
    gen = max(n // 4, 1)
    engine.execute(_PERSONS.format(n=n, gen=gen, spread=max(gen // 2, 1)))
    engine.execute(_NATIONALITIES)


def timed(fn: object) -> float:
    assert callable(fn)
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="flanders", help="flanders, belgium, or a number")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-limit", default="5GB", help="DuckDB memory_limit (default 5GB)")
    ap.add_argument("--temp-dir", default=None, help="DuckDB spill folder")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    ap.add_argument(
        "--no-trails", action="store_true", help="classes and facts only (as the tables use it)"
    )
    args = ap.parse_args(argv)
    load_start = [round(x, 2) for x in os.getloadavg()]
    if args.scale == "flanders":
        n, staff = 210_000, 30_000
    elif args.scale == "belgium":
        n, staff = 12_000_000, 0
    else:
        n, staff = int(args.scale), 0
    eng = Engine(
        EngineSettings(
            threads=args.threads, memory_limit=args.memory_limit, temp_directory=args.temp_dir
        )
    )
    cpu0 = time.process_time()
    t_build = timed(lambda: build(eng, n))
    population = None
    if staff:
        # The staff are the youngest persons; their parents and grandparents are in the register.
        eng.execute(
            f"CREATE OR REPLACE TABLE staff AS SELECT ssin FROM persons"
            f" WHERE CAST(ssin AS BIGINT) >= {n - staff}"
        )
        population = "staff"
    params = OriginParams(
        reference_date=dt.date(2023, 12, 31),
        generated_on=dt.date(2024, 5, 1),
        trails=not args.no_trails,
    )
    runs, cpus = [], []
    for _ in range(args.repeat):
        c0 = time.process_time()
        runs.append(timed(lambda: derive_origin(eng, params, population=population)))
        cpus.append(time.process_time() - c0)
    scans = [timed(lambda: scan(eng)) for _ in range(args.repeat)]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "scale": args.scale,
        "persons": eng.count("persons"),
        "nationality_rows": eng.count("nationalities"),
        "in_scope": eng.count("origin"),
        "build_s": round(t_build, 2),
        "origin_s_best": round(min(runs), 3),
        "origin_s_all": [round(r, 3) for r in runs],
        "origin_cpu_s_best": round(min(cpus), 3),
        "scan_s_best": round(min(scans), 3),
        "ratio_to_scan": round(min(runs) / min(scans), 1),
        "peak_rss_gib": round(peak_kib / 1024 / 1024, 2),
        "threads": eng.scalar("SELECT current_setting('threads')"),
        "memory_limit": args.memory_limit,
        "trails": params.trails,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "load_average_at_start": load_start,
        "total_cpu_s": round(time.process_time() - cpu0, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(result))
    eng.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
