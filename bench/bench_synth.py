"""Benchmark the synthetic population generator: wall time and peak memory per scale.

    .venv/bin/python bench/bench_synth.py                 # flanders and belgium
    .venv/bin/python bench/bench_synth.py --scale flanders --out /tmp/synth-bench

Each scale runs in its own child process so that the peak resident set size
(``resource.getrusage``) belongs to that scale alone. Prints one Markdown table row per
scale, ready for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = (
    "| scale | persons | jobs/year (mean) | files (MiB) | seconds | peak RSS (GiB) |\n"
    "|---|---:|---:|---:|---:|---:|"
)


def run_one(scale: str, out: Path, seed: int, fmt: str) -> str:
    from herkomst.synth import SynthParams, synthesize

    scale_arg: str | int = int(scale) if scale.isdigit() else scale
    params = SynthParams(seed=seed, scale=scale_arg, fmt=fmt)  # type: ignore[arg-type]
    started = time.perf_counter()
    summary = synthesize(params, out)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    years = params.last_year - params.first_year + 1
    size = sum(p.stat().st_size for p in summary.files.values()) / 2**20
    return (
        f"| {scale} | {summary.rows['persons']:,} | {summary.rows['employment'] // years:,} "
        f"| {size:,.0f} | {seconds:,.1f} | {peak_kib / 2**20:.2f} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="append", help="flanders, belgium or a number (repeatable)")
    ap.add_argument("--seed", type=int, default=20231231)
    ap.add_argument("--format", dest="fmt", default="parquet", choices=("parquet", "csv"))
    ap.add_argument("--out", type=Path, help="output folder (default: a temporary one, removed)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    scales = args.scale or ["flanders", "belgium"]
    if args.child:
        print(run_one(scales[0], args.out, args.seed, args.fmt), flush=True)
        return 0
    print(f"<!-- {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()} -->")
    print(HEADER)
    for scale in scales:
        tmp = (
            Path(tempfile.mkdtemp(prefix=f"synth-{scale}-"))
            if args.out is None
            else args.out / scale
        )
        try:
            cmd = [sys.executable, __file__, "--child", "--scale", scale, "--seed", str(args.seed),
                   "--format", args.fmt, "--out", str(tmp)]  # fmt: skip
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            print(done.stdout.strip().splitlines()[-1], flush=True)
        finally:
            if args.out is None:
                shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
