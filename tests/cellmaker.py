"""A plain-Python tabulator for protection tests: persons -> cells in the contract's layout.

Independent of herkomst.tabulate (a dictionary group-by), with the same frame rule: each
unit (administration, domain, entity) has a row for every category of a variable observed in
that unit, and its ``all`` table is the cross product of those categories.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

VARIABLES = ("sex", "age_class", "level", "position", "regime")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "sex": ("M", "F", "unknown"),
    "age_class": ("18-24", "25-34", "35-44", "45-54", "55-65"),
    "level": ("A", "B", "C", "D"),
    "position": ("statutory", "contractual", "unknown"),
    "regime": ("full_time", "part_time", "unknown"),
}
CLASSES = ("inside", "outside", "unknown_parents", "unknown_grandparents")
ORIGINS = ("inside", "outside", "unknown", "unknown_parents", "unknown_grandparents", "total")


def _pct(n: int, t: int) -> float | None:
    if t == 0:
        return None
    x = 100.0 * n / t
    return float(int(x * 10 + 0.5 + 1e-9)) / 10


def _origins_of(cls: str) -> tuple[str, ...]:
    return (cls, "unknown", "total") if cls.startswith("unknown_") else (cls, "total")


def make_cells(
    persons: Iterable[Mapping[str, Any]],
    definitions: Sequence[str] = ("eu15", "eu"),
    breakdowns: Sequence[str] = ("total", *VARIABLES, "all"),
) -> pa.Table:
    """Cells of every table; a person has ``year, policy_domain, entity``, the five variables
    and one origin class per definition (``origin_eu15``, ``origin_eu``)."""
    people = list(persons)
    units: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for p in people:
        y = p["year"]
        for key in (
            (y, "administration", None, None),
            (y, "policy_domain", p["policy_domain"], None),
            (y, "entity", p["policy_domain"], p["entity"]),
        ):
            units.setdefault(key, []).append(p)
    rows: list[dict[str, Any]] = []
    for (year, scope, pd, ent), members in units.items():
        cats = {v: [c for c in CATEGORIES[v] if any(m[v] == c for m in members)] for v in VARIABLES}
        for d in definitions:
            counts: Counter[tuple[Any, ...]] = Counter()
            for m in members:
                for o in _origins_of(m[f"origin_{d}"]):
                    for b in breakdowns:
                        if b == "total":
                            combo: tuple[Any, ...] = (None,) * 5
                        elif b == "all":
                            combo = tuple(m[v] for v in VARIABLES)
                        else:
                            combo = tuple(m[v] if v == b else None for v in VARIABLES)
                        counts[(b, combo, o)] += 1
            for b in breakdowns:
                if b == "total":
                    combos: list[tuple[Any, ...]] = [(None,) * 5]
                elif b == "all":
                    combos = list(itertools.product(*(cats[v] for v in VARIABLES)))
                else:
                    combos = [tuple(c if v == b else None for v in VARIABLES) for c in cats[b]]
                for combo in combos:
                    tot = counts[(b, combo, "total")]
                    for o in ORIGINS:
                        n = counts[(b, combo, o)]
                        row = {
                            "year": year,
                            "definition": d,
                            "scope": scope,
                            "policy_domain": pd,
                            "entity": ent,
                            "breakdown": b,
                            **dict(zip(VARIABLES, combo, strict=True)),
                            "origin": o,
                            "count": n,
                            "percent": _pct(n, tot),
                            "shown": str(n),
                            "status": "published",
                        }
                        rows.append(row)
    schema = pa.schema(
        [
            ("year", pa.int32()),
            ("definition", pa.string()),
            ("scope", pa.string()),
            ("policy_domain", pa.string()),
            ("entity", pa.string()),
            ("breakdown", pa.string()),
            *((v, pa.string()) for v in VARIABLES),
            ("origin", pa.string()),
            ("count", pa.int64()),
            ("percent", pa.float64()),
            ("shown", pa.string()),
            ("status", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def random_persons(
    rng: random.Random,
    n: int,
    entities: Mapping[str, str],
    year: int = 2023,
    weights: Sequence[float] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """``n`` random staff spread over ``entities`` (entity -> policy domain)."""
    ents = sorted(entities)
    out = []
    for _ in range(n):
        e = rng.choices(ents, weights=weights)[0] if weights else rng.choice(ents)
        cls15 = rng.choices(CLASSES, weights=(80, 12, 5, 3))[0]
        cls = cls15 if cls15 != "inside" or rng.random() > 0.05 else "outside"
        p = {
            "year": year,
            "policy_domain": entities[e],
            "entity": e,
            "origin_eu15": cls15,
            "origin_eu": cls,
        }
        for v in VARIABLES:
            p[v] = rng.choice(CATEGORIES[v][:2]) if v != "age_class" else rng.choice(CATEGORIES[v])
        if fixed:
            p.update(fixed)
        out.append(p)
    return out


def sex_origin_people(entity: str, counts: Mapping[tuple[str, str], int]) -> list[dict[str, Any]]:
    """``counts[(sex, origin)]`` persons of ``entity`` (policy domain D1, 2023, origin in
    the eu15 definition), every other variable the same for all: hand-worked releases."""
    out = []
    for (sex, origin), n in counts.items():
        for _ in range(n):
            p = {"year": 2023, "policy_domain": "D1", "entity": entity, "origin_eu15": origin}
            p.update(
                sex=sex, age_class="25-34", level="A", position="statutory", regime="full_time"
            )
            out.append(p)
    return out


def every_table(auth: Any) -> Any:
    """``auth`` with the public's sparse-table rule off (``max_small_share = 1``).

    The tests' populations are tiny (a hundred people in five entities): under the default
    rule most of their breakdowns would be withheld as close to microdata, and the linked
    tables the suppression and the audit must handle (the ``all`` table against the single
    breakdowns, above all) would never be published. The rule has its own tests."""
    import dataclasses

    return dataclasses.replace(auth, public=dataclasses.replace(auth.public, max_small_share=1.0))
