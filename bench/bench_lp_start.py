"""The start of the protection's deviation LPs, from the last basis or from the slack basis
(issue 5): python bench/bench_lp_start.py [--staff N] [--repeat K].

Runs the public protection of the synthetic staff of bench/bench_protect.py (one year, all 42
tables, every attacker, the blocks method) once, in one process (``HERKOMST_LP_THREADS=1``:
the repair's goals ahead are searched here, not in a forked worker), recording every solve of
:class:`herkomst._highs.DeviationLP` (the repair's sub-LPs and the audit's witness LPs) with
its model, then replays the same solves in the same order on fresh models, ``repeat`` times
each way, alternately: warm (each solve from the last solve's basis) and cold (from the
slack basis, the default). Checks that both ways find a point for the same solves. Prints
JSON: seconds, simplex iterations and points found per way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))


def _record(staff: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    from bench_protect import _tabulated  # type: ignore[import-not-found]
    from herkomst import _highs
    from herkomst.authorization import load_authorization
    from herkomst.protect import protect_public

    models: list[tuple[Any, ...]] = []
    calls: list[tuple[Any, ...]] = []
    base = _highs.DeviationLP

    class Recording(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.model_id = len(models)
            models.append(args)

        def solve(
            self, up: Any, dn: Any, cost: Any, target: int, dv: float, reserve: Any = None
        ) -> Any:
            got = super().solve(up, dn, cost, target, dv, reserve)
            keep = None if reserve is None else reserve.copy()
            calls.append((self.model_id, up.copy(), dn.copy(), cost.copy(), target, dv, keep))
            return got

    import herkomst.audit as audit_mod
    import herkomst.protect as protect_mod

    saved = (audit_mod.DeviationLP, protect_mod.DeviationLP)
    audit_mod.DeviationLP = protect_mod.DeviationLP = Recording
    # every solve in this process (the repair's worker would solve its goals in a child)
    os.environ["HERKOMST_LP_THREADS"] = "1"
    try:
        protect_public(
            _tabulated(staff, None), load_authorization(), "public", attackers="all",
            method="blocks",
        )  # fmt: skip
    finally:
        audit_mod.DeviationLP, protect_mod.DeviationLP = saved
    return models, calls


def _replay(
    models: list[tuple[Any, ...]], calls: list[tuple[Any, ...]], warm: bool
) -> dict[str, Any]:
    from herkomst._highs import DeviationLP

    lps: dict[int, DeviationLP] = {}
    seconds, iterations, found = 0.0, 0, []
    for mid, up, dn, cost, target, dv, reserve in calls:
        lp = lps.get(mid)
        if lp is None:
            lp = lps[mid] = DeviationLP(*models[mid])
            lp.warm_start = warm
        t = time.perf_counter()
        got = lp.solve(up, dn, cost, target, dv, reserve)
        seconds += time.perf_counter() - t
        assert lp._h is not None
        iterations += int(lp._h.getInfo().simplex_iteration_count)
        found.append(got is not None)
    return {"seconds": round(seconds, 2), "iterations": iterations, "found": found}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--staff", type=int, default=30000)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    models, calls = _record(a.staff)
    runs: dict[str, list[dict[str, Any]]] = {"warm": [], "cold": []}
    for _ in range(a.repeat):
        for way in ("warm", "cold"):
            runs[way].append(_replay(models, calls, way == "warm"))
    same = all(r["found"] == runs["warm"][0]["found"] for w in runs.values() for r in w)
    out = {
        "staff": a.staff,
        "models": len(models),
        "solves": len(calls),
        "same_points_found": same,
        "points_found": int(np.sum(runs["cold"][0]["found"])),
        "load": list(os.getloadavg()),
    }
    for way, rs in runs.items():
        out[way] = [{k: r[k] for k in ("seconds", "iterations")} for r in rs]
    print(json.dumps(out, indent=2))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
