"""Benchmark of public protection + audit (issue 5): python bench/bench_protect.py [--staff N].

Builds the synthetic staff of bench/bench_tables.py (75 entities in 10 policy domains),
tabulates one year (both default definitions, all 42 tables) with herkomst.tabulate, then
times :func:`herkomst.protect.protect_public` (suppression + audit for the attackers asked)
under a wall-clock limit, and compares the heuristic with the exact MIP yardstick on small
plain-Python populations (tests/cellmaker.py) where the MIP finishes. ``--busy N`` keeps N
cores busy with spinning processes during the runs (a loaded machine). Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))


def _tabulated(staff: int, breakdowns: tuple[str, ...] | None) -> Any:
    from bench_tables import make_population  # type: ignore[import-not-found]
    from herkomst.engine import Engine
    from herkomst.tabulate import TableParams, compute_cells

    eng = Engine()
    make_population(eng, staff)
    res = compute_cells(eng, TableParams(years=(2023,), generated_on=dt.date(2024, 6, 30)))
    where = ""
    if breakdowns:
        # "b" keeps breakdown b at every scope, "b@s1+s2" only at those scopes
        preds = []
        for b in breakdowns:
            name, _, scopes = b.partition("@")
            pred = f"breakdown = '{name}'"
            if scopes:
                pred += " AND scope IN (" + ", ".join(f"'{x}'" for x in scopes.split("+")) + ")"
            preds.append(f"({pred})")
        where = " WHERE " + " OR ".join(preds)
    return eng.arrow(f"SELECT * FROM {res.relation}{where}")


def _protect(
    staff: int, breakdowns: tuple[str, ...] | None, attackers: str, method: str, q: Any
) -> None:
    from herkomst.authorization import load_authorization
    from herkomst.protect import protect_public

    cells = _tabulated(staff, breakdowns)
    t = time.perf_counter()
    published, summ, _ = protect_public(
        cells, load_authorization(), "public", attackers=attackers, method=method
    )
    q.put(
        {
            "cells": cells.num_rows,
            "seconds": round(time.perf_counter() - t, 2),
            "primary": summ["masked_primary_quantities"],
            "secondary": summ["masked_secondary_quantities"],
            "withheld_entities": len(summ["withheld_entities"]),
            # breakdowns withheld from the public as close to microdata (max_small_share)
            "withheld_tables": [
                {k: w[k] for k in ("year", "breakdown", "small_cells", "nonzero_cells")}
                for w in summ.get("withheld_tables", [])
            ],
            "audit_rounds": sum(1 for r in summ["rounds"] if r["step"].startswith("audit")),
            "fallback": len(summ["fallback"]),
            "largest_component": summ["audit"]["largest_component"],
            "lp_solves": summ["audit"]["lp_solves"],
            "method": method,
            "blocks": summ["audit"].get("blocks"),
            "published_nonzero": _published_nonzero(published),
            "release_sha256": _release_hash(published),
            "rounds": [
                {k: v for k, v in r.items() if isinstance(v, (int, float, str))}
                for r in summ["rounds"]
            ],
        }
    )


def _release_hash(published: Any) -> str:
    """The first 16 hex digits of the SHA-256 of the release's cells in key order (CSV):
    two runs released the same cells when these agree."""
    import hashlib
    import io

    import pyarrow.csv as pacsv

    from herkomst._cells import KEY_COLUMNS

    buf = io.BytesIO()
    pacsv.write_csv(published.sort_by([(c, "ascending") for c in KEY_COLUMNS]), buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()[:16]


def _published_nonzero(published: Any) -> dict[str, str]:
    """Information loss per scope: non-zero cells published / non-zero cells in the release
    (withheld entities' cells are not in it)."""
    import pyarrow.compute as pc

    out: dict[str, str] = {}
    for scope in ("administration", "policy_domain", "entity"):
        t = published.filter(pc.equal(published["scope"], scope))
        nonzero = pc.invert(pc.equal(pc.fill_null(t["count"], 1), 0))
        shown = pc.and_(nonzero, pc.is_valid(t["count"]))
        out[scope] = f"{pc.sum(shown).as_py() or 0} of {pc.sum(nonzero).as_py() or 0}"
    return out


def timed_run(
    staff: int,
    breakdowns: tuple[str, ...] | None,
    attackers: str,
    limit: float,
    method: str = "repair",
) -> dict[str, Any]:
    """Run in a child process so that the wall-clock limit can stop it."""
    q: Any = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(
        target=_protect, args=(staff, breakdowns, attackers, method, q)
    )
    t = time.perf_counter()
    p.start()
    p.join(limit)
    out: dict[str, Any] = {"staff": staff, "breakdowns": breakdowns or "all 7",
                           "attackers": attackers, "method": method}  # fmt: skip
    if p.is_alive():
        p.terminate()
        p.join()
        out.update({"finished": False, "limit_s": limit})
    else:
        out.update({"finished": True, **q.get()})
    out["wall_s"] = round(time.perf_counter() - t, 2)
    return out


def _spin() -> None:
    while True:
        pass


def busy(n: int) -> list[Any]:
    """``n`` processes that keep a core each busy (a loaded machine), until terminated."""
    procs = [mp.get_context("fork").Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    return procs


def yardstick(seeds: int = 3) -> list[dict[str, Any]]:
    from tests.cellmaker import make_cells, random_persons

    from herkomst.authorization import load_authorization
    from herkomst.protect import compare_methods

    ents = {"E1": "D1", "E2": "D1", "E3": "D1", "E4": "D2", "E5": "D2"}
    out = []
    for bd, n in ((("total",), 200), (("total", "sex"), 300)):
        for seed in range(1, seeds + 1):
            people = random_persons(random.Random(seed), n, ents, weights=[40, 30, 3, 20, 7])
            cells = make_cells(people, breakdowns=bd)
            r = compare_methods(cells, load_authorization(), attackers="public")
            out.append({"breakdowns": bd, "staff": n, "seed": seed, "cells": cells.num_rows, **r})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--staff", type=int, nargs="*", default=[30_000])
    ap.add_argument(
        "--breakdowns", default="",
        help="comma list; default all 7; b@scope1+scope2 keeps b at those scopes only",
    )  # fmt: skip
    ap.add_argument("--attackers", default="all")
    ap.add_argument("--limit", type=float, default=600.0, help="seconds per run")
    ap.add_argument("--no-yardstick", action="store_true")
    ap.add_argument("--method", default="repair", help="repair (global), blocks or heuristic")
    ap.add_argument(
        "--busy", type=int, default=0,
        help="keep this many cores busy with spinning processes during the runs",
    )  # fmt: skip
    args = ap.parse_args(argv)
    bd = tuple(args.breakdowns.split(",")) if args.breakdowns else None
    res: dict[str, Any] = {"load_before": os.getloadavg(), "busy_cores": args.busy}
    spinners = busy(args.busy)
    try:
        res["runs"] = [
            timed_run(n, bd, args.attackers, args.limit, args.method) for n in args.staff
        ]
    finally:
        for sp in spinners:
            sp.terminate()
            sp.join()
    if not args.no_yardstick:
        res["yardstick"] = yardstick()
    res["load_after"] = os.getloadavg()
    print(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
