"""Reconciliation of the tables on random populations, and an independent plain-Python count.

Each example draws a small staff (random entities, domains, ages, sexes, levels, jobs and
origin classes, some out of range or missing from the register), builds every table, and
checks that the tables add up in every direction and equal a count made person by person.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herkomst.engine import Engine
from herkomst.tabulate import TableParams, compute_cells

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tables_data import Dataset, HandOrigin, ssin_for

YEAR = 2022
CLASSES = ("inside", "outside", "unknown_parents", "unknown_grandparents")
VARIABLES = ("sex", "age_class", "level", "position", "regime")
ENTITIES = [
    {"entity": f"D{d}-E{e}", "entity_name": f"E{e}", "policy_domain": f"D{d}",
     "policy_domain_name": f"Domein {d}", "employer_id": f"{1000000000 + 10 * d + e:010d}"}
    for d in range(3)
    for e in range(2)
]  # fmt: skip


@dataclass(frozen=True)
class Person:
    entity: int
    sex: str | None
    age: int
    level: str | None
    job: tuple[int | None, str | None] | None  # (worker_class, regime) at the entity's employer
    in_register: bool
    eu15: str
    eu: str


people = st.builds(
    Person,
    entity=st.integers(0, len(ENTITIES) - 1),
    sex=st.sampled_from(["M", "F", "F", None]),
    age=st.integers(15, 70),
    level=st.sampled_from(["A", "B", "C", "D", None]),
    job=st.one_of(
        st.none(),
        st.tuples(st.sampled_from([1, 2, 3, 3, 4, None]), st.sampled_from(["F", "P", None])),
    ),
    in_register=st.sampled_from([True, True, True, True, False]),
    eu15=st.sampled_from(CLASSES),
    eu=st.sampled_from(CLASSES),
)


def age_class(age: int) -> str:
    for lo, hi in ((18, 24), (25, 34), (35, 44), (45, 54), (55, 65)):
        if lo <= age <= hi:
            return f"{lo}-{hi}"
    raise AssertionError(age)


def person_vars(p: Person) -> dict[str, str]:
    wc, reg = p.job if p.job is not None else (None, None)
    return {
        "sex": p.sex or "unknown",
        "age_class": age_class(p.age),
        "level": p.level or "unknown",
        "position": "unknown" if wc is None else ("statutory" if wc == 3 else "contractual"),
        "regime": {"F": "full_time", "P": "part_time"}.get(reg or "", "unknown"),
    }


def build(staff: list[Person]) -> tuple[Engine, list[Person]]:
    ds = Dataset(entities=ENTITIES)
    origin: dict[str, dict[str, str]] = {}
    for i, p in enumerate(staff):
        birth = dt.date(YEAR - p.age, 1 + i % 12, 1 + i % 28)
        s = ssin_for(i, birth)
        ent = ENTITIES[p.entity]
        ds.personnel.append({"ssin": s, "year": YEAR, "policy_domain": ent["policy_domain"],
                             "entity": ent["entity"], "level": p.level})  # fmt: skip
        if p.in_register:
            ds.persons.append({"ssin": s, "sex": p.sex, "birth_date": birth})
            origin[s] = {"eu15": p.eu15, "eu": p.eu}
        if p.job is not None:
            ds.employment.append({"ssin": s, "year": YEAR, "employer_id": ent["employer_id"],
                                  "worker_class": p.job[0], "regime": p.job[1]})  # fmt: skip
    eng = Engine()
    ds.load(eng)
    params = TableParams(years=(YEAR,), generated_on=dt.date(2024, 1, 1))
    compute_cells(eng, params, origin_step=HandOrigin({YEAR: origin}))
    kept = [p for p in staff if p.in_register and 18 <= p.age <= 65]
    return eng, kept


def cells(eng: Engine) -> dict[tuple[Any, ...], tuple[int, Decimal | None]]:
    rows = eng.rows(
        "SELECT definition, scope, policy_domain, entity, breakdown, sex, age_class, level,"
        " position, regime, origin, count, percent FROM cells"
    )
    return {tuple(r[:11]): (int(r[11]), r[12]) for r in rows}


def expected(kept: list[Person]) -> Counter[tuple[Any, ...]]:
    """Plain-Python count of every nonzero cell, person by person."""
    out: Counter[tuple[Any, ...]] = Counter()
    for p in kept:
        v = person_vars(p)
        ent = ENTITIES[p.entity]
        units = (
            ("administration", None, None),
            ("policy_domain", ent["policy_domain"], None),
            ("entity", ent["policy_domain"], ent["entity"]),
        )
        for d, cls in (("eu15", p.eu15), ("eu", p.eu)):
            origins = [cls, "total"] + (["unknown"] if cls.startswith("unknown_") else [])
            for unit, origin in itertools.product(units, origins):
                out[(d, *unit, "total", None, None, None, None, None, origin)] += 1
                for var in VARIABLES:
                    cats = tuple(v[x] if x == var else None for x in VARIABLES)
                    out[(d, *unit, var, *cats, origin)] += 1
                out[(d, *unit, "all", *(v[x] for x in VARIABLES), origin)] += 1
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(people, min_size=1, max_size=30))
def test_tables_reconcile(staff: list[Person]) -> None:
    eng, kept = build(staff)
    got = cells(eng)
    want = expected(kept)

    # 1. Every nonzero cell equals the person-by-person count; every other cell is a zero.
    for key, n in want.items():
        assert got[key][0] == n, key
    for key, (n, _) in got.items():
        assert n == want.get(key, 0), key
    if not kept:
        assert not got
        return

    # 2. Origin: total = inside + outside + unknown; unknown = its two parts.
    rows: dict[tuple[Any, ...], dict[str, tuple[int, Decimal | None]]] = defaultdict(dict)
    for key, val in got.items():
        rows[key[:10]][key[10]] = val
    for key, r in rows.items():
        assert set(r) == {"inside", "outside", "unknown", *CLASSES[2:], "total"}, key
        c = {o: v[0] for o, v in r.items()}
        assert c["total"] == c["inside"] + c["outside"] + c["unknown"], key
        assert c["unknown"] == c["unknown_parents"] + c["unknown_grandparents"], key
        # Percentages: share of the row total, summing to 100 within rounding.
        if c["total"] == 0:
            assert all(v[1] is None for v in r.values()), key
        else:
            p = {o: v[1] for o, v in r.items()}
            assert p["total"] == Decimal("100.0")
            assert abs(sum(p[o] or 0 for o in ("inside", "outside", "unknown")) - 100) <= Decimal(
                "0.15"
            )
            assert abs(
                (p["unknown_parents"] or 0) + (p["unknown_grandparents"] or 0) - (p["unknown"] or 0)
            ) <= Decimal("0.1")

    # 3. Every breakdown sums to the row total of its unit (the `total` breakdown).
    sums: Counter[tuple[Any, ...]] = Counter()
    for (d, scope, pd, ent, b, *_cats, origin), (n, _) in got.items():
        if b != "total":
            sums[(d, scope, pd, ent, b, origin)] += n
    for (d, scope, pd, ent, b, origin), n in sums.items():
        total = got[(d, scope, pd, ent, "total", None, None, None, None, None, origin)][0]
        assert n == total, (d, scope, pd, ent, b, origin)

    # 4. The `all` cells with X = v sum to the X breakdown's cell X = v.
    margins: Counter[tuple[Any, ...]] = Counter()
    for (d, scope, pd, ent, b, *cats, origin), (n, _) in got.items():
        if b == "all":
            for i, var in enumerate(VARIABLES):
                one = tuple(cats[j] if j == i else None for j in range(5))
                margins[(d, scope, pd, ent, var, *one, origin)] += n
    for key, n in margins.items():
        assert got[key][0] == n, key

    # 5. Entities sum to their policy domain, domains to the administration.
    up: Counter[tuple[Any, ...]] = Counter()
    for (d, scope, pd, _ent, *rest), (n, _) in got.items():
        if scope == "entity":
            up[(d, "policy_domain", pd, None, *rest)] += n
        elif scope == "policy_domain":
            up[(d, "administration", None, None, *rest)] += n
    for key, n in up.items():
        assert got.get(key, (0, None))[0] == n, key

    # 6. The frame: per unit, each breakdown lists exactly the categories seen in the unit,
    #    and the combination is their full product.
    for unit_scope in ("administration", "policy_domain", "entity"):
        units: dict[tuple[Any, ...], list[Person]] = defaultdict(list)
        for p in kept:
            ent = ENTITIES[p.entity]
            key = {"administration": (None, None), "policy_domain": (ent["policy_domain"], None),
                   "entity": (ent["policy_domain"], ent["entity"])}[unit_scope]  # fmt: skip
            units[key].append(p)
        for (pd, ent), members in units.items():
            seen = {var: {person_vars(p)[var] for p in members} for var in VARIABLES}
            for var in VARIABLES:
                listed = {k[5 + VARIABLES.index(var)] for k in got
                          if k[:5] == ("eu15", unit_scope, pd, ent, var) and k[10] == "total"}  # fmt: skip
                assert listed == seen[var]
            combos = sum(
                1 for k in got if k[:5] == ("eu15", unit_scope, pd, ent, "all") and k[10] == "total"
            )
            expected_combos = 1
            for var in VARIABLES:
                expected_combos *= len(seen[var])
            assert combos == expected_combos
    eng.close()
