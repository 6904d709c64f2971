"""herkomst tables end to end with the real origin step (herkomst.origin.derive_origin)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from herkomst.engine import Engine
from herkomst.origin import OriginParams, derive_origin
from herkomst.release import build_tables
from herkomst.tabulate import TableParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tables_data import Dataset, ssin_for

YEAR = 2023
ENTITY = {"entity": "WSE-VDAB", "entity_name": "VDAB", "policy_domain": "WSE",
          "policy_domain_name": "Werk en Sociale Economie", "employer_id": "0300000001"}  # fmt: skip


def family_dataset() -> Dataset:
    """Six staff whose origin follows from their own, parents' and grandparents' nationality."""
    ds = Dataset(entities=[ENTITY])
    n = iter(range(1, 900))

    def person(nat: str | None, father: str | None = None, mother: str | None = None,
               born: int = 1950) -> str:  # fmt: skip
        birth = dt.date(born, 3, 1)
        s = ssin_for(next(n), birth)
        ds.persons.append({"ssin": s, "sex": "F", "birth_date": birth,
                           "father_ssin": father, "mother_ssin": mother})  # fmt: skip
        if nat is not None:
            ds.nationalities.append({"ssin": s, "nationality": nat, "valid_from": birth})
        return s

    def parents(gp_nat: str | None, linked: bool = True) -> tuple[str, str]:
        if not linked:
            return person("BE", born=1955), person("BE", born=1957)
        return (
            person("BE", person(gp_nat, born=1925), person(gp_nat, born=1927), born=1955),
            person("BE", person("BE", born=1925), person("BE", born=1927), born=1957),
        )

    staff = [
        person("BE", *parents("BE"), born=1985),  # inside
        person("MA", born=1985),  # outside: own nationality
        person("BE", born=1985),  # parents unknown (not linked)
        person("BE", *parents("BE", linked=False), born=1985),  # grandparents unknown
        person("BE", *parents("MA"), born=1985),  # outside: two grandparents
        person("PL", born=1985),  # outside the EU-15; for the EU, parents unknown
    ]
    for s in staff:
        ds.personnel.append({"ssin": s, "year": YEAR, "policy_domain": "WSE",
                             "entity": "WSE-VDAB", "level": "B"})  # fmt: skip
        ds.employment.append({"ssin": s, "year": YEAR, "employer_id": "0300000001",
                              "authority": "24", "nace": "84130", "worker_class": 3,
                              "regime": "F"})  # fmt: skip
    return ds


def totals(manifest_dir: Path, eng: Engine) -> dict[tuple[str, str], int]:
    rows = eng.rows(
        f"SELECT definition, origin, count FROM read_parquet('{manifest_dir / 'cells.parquet'}')"
        " WHERE scope = 'administration' AND breakdown = 'total'"
    )
    return {(d, o): int(c) for d, o, c in rows}


def test_tables_with_the_real_origin(tmp_path: Path) -> None:
    eng = Engine()
    family_dataset().load(eng)
    params = TableParams(years=(YEAR,), generated_on=dt.date(2024, 6, 30))
    result = build_tables(eng, params, None, tmp_path / "out", cache_dir=tmp_path / "cache")
    got = totals(tmp_path / "out", eng)
    want: dict[tuple[str, str], int] = {
        ("eu15", "inside"): 1, ("eu15", "outside"): 3, ("eu15", "unknown"): 2,
        ("eu15", "unknown_parents"): 1, ("eu15", "unknown_grandparents"): 1,
        ("eu15", "total"): 6,
        # The Pole is inside the EU himself; his parents are not linked: parents unknown.
        ("eu", "inside"): 1, ("eu", "outside"): 2, ("eu", "unknown"): 3,
        ("eu", "unknown_parents"): 2, ("eu", "unknown_grandparents"): 1, ("eu", "total"): 6,
    }  # fmt: skip
    assert got == want
    # The same as origin's own per-person result for the staff.
    eng.create_table("pop", "SELECT ssin FROM personnel")
    derive_origin(
        eng,
        OriginParams(
            reference_date=dt.date(YEAR, 12, 31),
            definitions=("eu15", "eu"),
            generated_on=dt.date(2024, 6, 30),
        ),
        population="pop",
        out_table="direct",
    )
    for d in ("eu15", "eu"):
        for cls, count in eng.rows(f"SELECT {d}, count(*) FROM direct GROUP BY 1"):
            assert got[(d, cls)] == count
    manifest: dict[str, Any] = json.loads((tmp_path / "out" / "manifest.json").read_text())
    names = {r["name"] for r in manifest["rules"]}
    assert {"age_classes", "eu_membership", "former_states"} <= names
    # A second run reuses the year, and the manifest keeps origin's rule tables.
    eng2 = Engine()
    family_dataset().load(eng2)
    again = build_tables(eng2, params, None, tmp_path / "out2", cache_dir=tmp_path / "cache")
    assert again.reused_years == (YEAR,)
    assert result.computed_years == (YEAR,)
    manifest2 = json.loads((tmp_path / "out2" / "manifest.json").read_text())
    assert {r["name"] for r in manifest2["rules"]} == names
    for f in ("cells.parquet", "cells.csv", "tabellen.xlsx"):
        assert (tmp_path / "out" / f).read_bytes() == (tmp_path / "out2" / f).read_bytes()
