"""Benchmark of the enclave's outputs and output checking at national scale.

    python bench/bench_enclave.py [--records 1000000] [--seed 1]

Writes a staged-like population (``seq_no``, ``year``, classed variables; random, one row per
person and year) and times, with the researcher API and :func:`check_output`:
a crosstab (origin group x region x year), its check alone, a second crosstab that overlaps
it, and the second one's check against the first one released (the differencing LP over the
records' atoms), a magnitude table and its check. Prints JSON (seconds, atoms, verdicts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def population(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    groups = np.array(["BE", "EU14", "EU13", "MAGHREB", "OTHER_AF", "TURKEY", "ASIA", "AMERICA"])
    regions = np.array(["Brussels", "Flanders", "Wallonia", "unknown"])
    ages = np.array(["18-24", "25-34", "35-44", "45-54", "55-64"])
    return pa.table(
        {
            "seq_no": np.arange(1, n + 1, dtype=np.int64),
            "year": rng.integers(2010, 2022, n).astype(np.int32),
            "national_origin_group": groups[
                rng.choice(8, n, p=[0.7, 0.1, 0.05, 0.06, 0.03, 0.03, 0.02, 0.01])
            ],
            "region": regions[rng.choice(4, n, p=[0.15, 0.55, 0.299, 0.001])],
            "age_class": ages[rng.integers(0, 5, n)],
            "wage": rng.lognormal(8, 0.4, n).round(2),
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    from herkomst import enclave as he
    from herkomst.enclave.checking import check_output
    from herkomst.enclave.rules import load_enclave_rules

    rules = load_enclave_rules().checking
    res: dict[str, Any] = {"records": args.records, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "population.parquet"
        pq.write_table(population(args.records, args.seed), data_file)
        outbox = Path(tmp) / "outbox"
        outbox.mkdir()
        data = he.dataset(data_file)

        def timed(key: str, fn: Any) -> Any:
            t = time.perf_counter()
            value = fn()
            res[key] = round(time.perf_counter() - t, 2)
            return value

        a = timed(
            "crosstab_s",
            lambda: he.crosstab(data, ["national_origin_group", "region"], "year",
                                name="a", outbox=outbox),
        )  # fmt: skip
        ca = timed("check_alone_s", lambda: check_output(a, rules))
        b = timed(
            "crosstab_overlap_s",
            lambda: he.crosstab(data, ["national_origin_group", "age_class"], "year",
                                name="b", where="region <> 'unknown'", outbox=outbox),
        )  # fmt: skip
        cb = timed("check_with_released_s", lambda: check_output(b, rules, released=[a]))
        m = timed(
            "magnitude_s",
            lambda: he.magnitude(data, "wage", ["region", "year"], name="m", outbox=outbox),
        )
        cm = timed("check_magnitude_s", lambda: check_output(m, rules, released=[a, b]))
        res["verdicts"] = {"a": ca.status.value, "b": cb.status.value, "m": cm.status.value}
    res["load_after"] = os.getloadavg()
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
