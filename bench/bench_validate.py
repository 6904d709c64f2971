"""Benchmark of loading and validating the contract: python bench/bench_validate.py [--scale S].

Synthesises a population (or takes ``--data DIR`` written by ``herkomst synth``), then
times ``herkomst.load_dataset`` (reading every file, every check, the row accounting) and
reports rows per second and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from herkomst import Engine, EngineSettings, ValidationOptions, load_dataset
from herkomst.synth import SynthParams, synthesize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="flanders", help="flanders, belgium or a number of persons")
    ap.add_argument("--data", type=Path, default=None, help="an existing synth folder")
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit")
    args = ap.parse_args()
    tmp: Path | None = None
    data = args.data
    if data is None:
        tmp = Path(tempfile.mkdtemp(prefix="herkomst-bench-validate-"))
        scale = int(args.scale) if args.scale.isdigit() else args.scale
        synthesize(SynthParams(seed=20231231, scale=scale), tmp)
        data = tmp
    try:
        load = os.getloadavg()
        t0, c0 = time.perf_counter(), time.process_time()
        with Engine(EngineSettings(memory_limit=args.memory_limit)) as eng:
            ds = load_dataset(
                eng,
                data / "dwh",
                data / "personnel.parquet",
                data / "entities.parquet",
                ValidationOptions(today=dt.date(2024, 6, 30)),
            )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = ds.report.as_dict()["totals"]["rows"]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        print(
            f"| {args.scale} | {rows:,} | {wall:.1f} | {cpu:.1f} | {rows / wall:,.0f} | "
            f"{peak:.2f} GiB | {load[0]:.1f} | {ds.report.rejected} |"
        )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
