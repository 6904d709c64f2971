"""Block evaluations in one thread against several (issue 5):
python bench/bench_threads.py [--staff N] [--attackers public|all] [--repeat K].

Whole protection runs on a shared 2-core machine vary by more than the threads save (the
same command gave 56 to 78 s), so this benchmark times the block evaluations inside one
process: it runs the public protection of the synthetic staff of bench/bench_protect.py
(one year, all 42 tables) and replays each of its block evaluations
(``herkomst.audit._block_evaluate``: the block rounds of the suppression and the screening
audits) ``repeat`` times with one thread and with ``threads`` threads, alternately, on a copy
of the round cache, checking that both give the same intervals. Prints JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--staff", type=int, default=30_000)
    ap.add_argument("--attackers", default="public")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import herkomst.audit as audit_mod
    from bench_protect import _tabulated  # type: ignore[import-not-found]
    from herkomst._highs import THREADS_ENV
    from herkomst.authorization import load_authorization
    from herkomst.protect import protect_public

    cells = _tabulated(args.staff, None)
    real = audit_mod._block_evaluate
    calls: list[dict[str, Any]] = []

    def timed(*a: Any, **k: Any) -> Any:
        times: dict[str, list[float]] = {"1": [], str(args.threads): []}
        seen: list[Any] = []
        for _ in range(args.repeat):
            for t in times:
                os.environ[THREADS_ENV] = t
                k2 = dict(k, cache=copy.deepcopy(k.get("cache")))
                a2 = list(a)
                a2[10] = audit_mod._Stats()  # the stats argument: counted apart
                t0 = time.perf_counter()
                ev = real(*a2, **k2)
                times[t].append(round(time.perf_counter() - t0, 3))
                seen.append((ev.lo, ev.hi, ev.ok))
        if any(x != seen[0] for x in seen[1:]):
            raise SystemExit("the block evaluations differ between thread counts")
        calls.append({"targets": int(a[4].shape[0]), "seconds": times})
        os.environ[THREADS_ENV] = str(args.threads)
        return real(*a, **k)

    audit_mod._block_evaluate = timed
    t0 = time.perf_counter()
    protect_public(cells, load_authorization(), "public", attackers=args.attackers, method="blocks")
    total = {t: round(sum(min(c["seconds"][t]) for c in calls), 3) for t in calls[0]["seconds"]}
    print(json.dumps({
        "staff": args.staff, "attackers": args.attackers, "cpus": os.cpu_count(),
        "evaluations": calls, "best_of_repeats_total": total,
        "wall_s": round(time.perf_counter() - t0, 1),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
