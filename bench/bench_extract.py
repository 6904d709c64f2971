"""Benchmark of research extracts: python bench/bench_extract.py [--scale S] [--target-k K].

Synthesises a population (or takes ``--data DIR`` written by ``herkomst synth``), loads it,
then builds one extract per population (sample 10,000, seed 7) with its risk report and, with
``--target-k``, the risk reduction; prints the time of each step and the main risk measures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from herkomst import Engine, ValidationOptions, load_dataset
from herkomst.extract import (
    ExtractParams,
    RiskParams,
    build_extract,
    load_extract_authorization,
    new_vault_key,
    parse_vault_key,
)
from herkomst.synth import SynthParams, synthesize


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--scale", default="flanders", help="flanders, belgium or a number of persons")
    ap.add_argument("--data", type=Path, default=None, help="an existing synth folder")
    ap.add_argument("--target-k", type=int, default=None, help="reduce to this k")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="herkomst-bench-extract-"))
    data = args.data
    try:
        if data is None:
            scale = int(args.scale) if args.scale.isdigit() else args.scale
            synthesize(SynthParams(seed=1, scale=scale), tmp / "synth")
            data = tmp / "synth"
        with Engine() as eng:
            t0 = time.perf_counter()
            ds = load_dataset(eng, data / "dwh", options=ValidationOptions())
            print(f"load {time.perf_counter() - t0:.1f} s")
            auth = load_extract_authorization("23-224")
            key = parse_vault_key(new_vault_key())
            for pop in auth.populations:
                t0 = time.perf_counter()
                params = ExtractParams(
                    project=f"bench-{pop}",
                    population=pop,
                    sample_size=auth.sample_max,
                    seed=7,
                    warehouse=tmp / "warehouse",
                    delivered_on=dt.date(2024, 3, 1),
                    risk=RiskParams(target_k=args.target_k),
                )
                res = build_extract(eng, auth, params, tmp / pop, key, inputs=ds.inputs())
                assert res.risk is not None
                o = res.risk.overall
                line = (
                    f"{pop}: {time.perf_counter() - t0:.1f} s (risk report "
                    f"{res.risk.seconds:.1f} s); population {res.population_size}, "
                    f"{res.persons} persons, {res.rows} person-years; k {o['k']}, "
                    f"sample uniques {o['sample_uniques']}, max risk {o['max_risk']:.3f}, "
                    f"expected re-identifications {o['expected_reidentifications']:.0f}"
                )
                red = res.risk.reduction
                if red is not None:
                    line += (
                        f"; {len(red.recodings)} recodings, {red.suppressed_total} of "
                        f"{red.cells} key values suppressed, {red.removed_records} records out"
                    )
                print(line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
