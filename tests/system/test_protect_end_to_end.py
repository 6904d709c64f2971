"""End to end on herkomst.tabulate's own output: service cells -> public release -> audit.

A small staff in three entities of two policy domains (one entity under 50 staff, withheld),
built in the validated tables and tabulated by :func:`herkomst.tabulate.compute_cells` with a
hand-made origin step; the public release must pass the independent audit for the public and
every insider, and the entity release must hold exactly its entity's exact cells.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

import pyarrow.compute as pc

from herkomst.audit import audit
from herkomst.authorization import load_authorization
from herkomst.engine import Engine
from herkomst.protect import protect_public
from herkomst.tabulate import TableParams, compute_cells

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tables_data import Dataset, HandOrigin, ssin_for

YEAR = 2023
ENTITIES = [
    {"entity": "D1-A", "entity_name": "A", "policy_domain": "D1", "policy_domain_name": "Een",
     "employer_id": "1000000001"},
    {"entity": "D1-B", "entity_name": "B", "policy_domain": "D1", "policy_domain_name": "Een",
     "employer_id": "1000000002"},
    {"entity": "D1-C", "entity_name": "C", "policy_domain": "D1", "policy_domain_name": "Een",
     "employer_id": "1000000003"},
    {"entity": "D2-D", "entity_name": "D", "policy_domain": "D2", "policy_domain_name": "Twee",
     "employer_id": "1000000004"},
]  # fmt: skip
SIZES = {"D1-A": 70, "D1-B": 60, "D1-C": 12, "D2-D": 55}
CLASSES = ("inside", "outside", "unknown_parents", "unknown_grandparents")


def _dataset() -> tuple[Dataset, HandOrigin]:
    rng = random.Random(5)
    ds = Dataset(entities=ENTITIES)
    origin: dict[str, dict[str, str]] = {}
    i = 0
    for ent in ENTITIES:
        for _ in range(SIZES[ent["entity"]]):
            i += 1
            birth = dt.date(YEAR - rng.randint(20, 64), 5, 1)
            s = ssin_for(i, birth)
            ds.persons.append({"ssin": s, "sex": rng.choice("MF"), "birth_date": birth})
            ds.personnel.append(
                {"ssin": s, "year": YEAR, "policy_domain": ent["policy_domain"],
                 "entity": ent["entity"], "level": rng.choice("AB")}
            )  # fmt: skip
            ds.employment.append(
                {"ssin": s, "year": YEAR, "employer_id": ent["employer_id"], "authority": "23",
                 "nace": "84130", "worker_class": 3, "regime": "F"}
            )  # fmt: skip
            c = rng.choices(CLASSES, weights=(80, 12, 5, 3))[0]
            origin[s] = {"eu15": c, "eu": c if c != "inside" or rng.random() > 0.05 else "outside"}
    return ds, HandOrigin({YEAR: origin})


def test_public_and_entity_release_of_tabulated_cells() -> None:
    ds, hand = _dataset()
    eng = Engine()
    ds.load(eng)
    params = TableParams(years=(YEAR,), generated_on=dt.date(2024, 1, 1))
    res = compute_cells(eng, params, origin_step=hand)
    # three of the seven breakdowns (a release of fewer tables is a valid release; the
    # relations are rebuilt from the keys), to keep the test fast
    cells = eng.arrow(f"SELECT * FROM {res.relation} WHERE breakdown IN ('total', 'sex', 'level')")
    auth = load_authorization()
    published, summary, result = protect_public(cells, auth, "public", attackers="all")
    assert result is not None
    assert result.passed
    assert [w["entity"] for w in summary["withheld_entities"]] == ["D1-C"]
    assert "D1-C" not in set(published["entity"].to_pylist())
    again = audit(
        published, cells, auth, attacker="all", withheld=summary["withheld_entities"], exact=True
    )
    assert again.passed, again.failures.slice(0, 3).to_pylist()
    ent, esum, _ = protect_public(cells, auth, "entity:D1-C")
    assert set(ent["entity"].to_pylist()) == {"D1-C"}
    assert esum["personal_data"] is True
    n = cells.filter(pc.fill_null(pc.equal(cells["entity"], "D1-C"), False)).num_rows
    assert ent.num_rows == n


def test_cli_audit_prints_no_solver_banner(tmp_path: Path) -> None:
    """`herkomst audit` prints its own lines only: no "Running HiGHS" banner (the first
    HiGHS object of a process prints one on the C standard output)."""
    import json
    import subprocess

    import pyarrow.parquet as pq

    from tests.cellmaker import make_cells, random_persons

    people = random_persons(random.Random(2), 160, {"E1": "D1", "E2": "D1", "E3": "D1"})
    cells = make_cells(people, definitions=("eu15",), breakdowns=("total",))
    published, summary, _ = protect_public(cells, load_authorization(), "public")
    rel = tmp_path / "public"
    rel.mkdir()
    pq.write_table(published, rel / "cells.parquet")
    manifest = {"audience": "public", "authorization": {"id": "13-71"},
                "protection": {"withheld_entities": summary["withheld_entities"]}}  # fmt: skip
    (rel / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    exe = Path(sys.executable).parent / "herkomst"
    proc = subprocess.run(
        [str(exe), "audit", str(rel)], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "audit passed" in proc.stdout
    assert "HiGHS" not in proc.stdout + proc.stderr


def test_cli_audits_a_release_with_a_withheld_domain(tmp_path: Path) -> None:
    """A release whose protection withheld a policy domain (the property test's seed 9999:
    two entities under 50 staff that expose each other) audits from its folder: the manifest's
    `withheld_domains` tells the audit; without them the folder is refused, not misjudged."""
    import json
    import subprocess

    import pyarrow.parquet as pq

    from tests.cellmaker import every_table, make_cells, random_persons

    entities = {"E1": "D1", "E2": "D1", "E3": "D1", "E4": "D2", "E5": "D2"}
    people = random_persons(random.Random(9999), 120, entities, weights=[1, 1, 1, 1, 1])
    cells = make_cells(people, breakdowns=("total", "sex"))
    # the rule on tables close to microdata off: it would withhold this tiny staff's sex table
    published, summary, _ = protect_public(cells, every_table(load_authorization()), "public")
    assert [w["policy_domain"] for w in summary["withheld_domains"]] == ["D2"]
    rel = tmp_path / "public"
    rel.mkdir()
    pq.write_table(published, rel / "cells.parquet")
    exe = Path(sys.executable).parent / "herkomst"
    full = {k: summary[k] for k in ("withheld_entities", "withheld_domains")}
    partial = {"withheld_entities": summary["withheld_entities"]}
    for protection, code, says in ((full, 0, "audit passed"), (partial, 2, "D2")):
        manifest = {"audience": "public", "authorization": {"id": "13-71"},
                    "protection": protection}  # fmt: skip
        (rel / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        proc = subprocess.run(
            [str(exe), "audit", str(rel)], capture_output=True, text=True, check=False, timeout=300
        )
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert says in proc.stdout + proc.stderr


def test_the_public_workbook_says_what_is_withheld(tmp_path: Path) -> None:
    """The Dutch notes sheet of a public release names what the protection left out: the
    small entities and the breakdown close to microdata (here `all`, with its share counted
    from the cells)."""
    import openpyxl

    from herkomst.release import write_release

    ds, hand = _dataset()
    with Engine() as eng:
        ds.load(eng)
        params = TableParams(years=(YEAR,), generated_on=dt.date(2024, 1, 1))
        res = compute_cells(eng, params, origin_step=hand)
        cells = eng.arrow(
            f"SELECT * FROM {res.relation} WHERE breakdown IN ('total', 'sex', 'all')"
        )
        auth = load_authorization()
        published, summary, _ = protect_public(cells, auth, "public", attackers="public")
        eng.register("pub", published)
        base = {"generated_on": "2024-01-01", "authorization": auth.provenance()}
        write_release(eng, "pub", tmp_path / "public", {**base, "protection": summary}, "public")
    # the share by hand: non-zero `all` cells from 1 to 4 outside the withheld entity
    rows = [
        r
        for r in cells.to_pylist()
        if r["breakdown"] == "all" and r["entity"] != "D1-C" and r["count"] > 0
    ]
    share = sum(1 <= r["count"] <= 4 for r in rows) / len(rows)
    wb = openpyxl.load_workbook(tmp_path / "public" / "tabellen.xlsx", read_only=True)
    notes = [str(r[0]) for r in wb["Toelichting"].iter_rows(values_only=True) if r[0]]
    at = notes.index("Bescherming")
    assert notes[at + 1] == (
        "Entiteiten met minder dan 50 personeelsleden worden niet getoond (1 entiteit; "
        "manifest.json noemt ze)."
    )
    assert notes[at + 2] == (
        f"De uitsplitsing naar combinatie wordt voor {YEAR} niet gepubliceerd: {share:.0%} van "
        "haar cellen met minstens één persoon telt één tot vier personen, zodat ze bijna een "
        "lijst van personen is."
    )
    # the sheets: the published breakdowns only
    assert wb.sheetnames[2:] == ["EU-15 totaal", "EU-15 geslacht", "EU totaal", "EU geslacht"]
