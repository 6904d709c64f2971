"""The whole pipeline on a synthetic population: what ``make demo`` runs.

Every stage is the same library call the CLI makes; the demo only chains them and says
where each output is.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .audit import audit_release
from .engine import Engine
from .extract import extract_from_dwh, new_vault_key, retention
from .ledger import Ledger
from .origin import OriginParams, compare, crosstab_text, derive_origin, origin_to_parquet
from .release import build_tables
from .rules import RuleSet
from .synth import SynthParams, synthesize
from .tabulate import TableParams, build_population
from .validate import ValidationOptions, load_dataset

Say = Callable[[str], None]

#: The class that counts as "with a migration background" under each published definition.
BACKGROUND_CLASS = {"eu": "outside", "eu15": "outside", "flanders2016": "with_background"}
DEMO_YEARS = (2014, 2023)
#: The extract is delivered inside 23/224's retention period; retention is then applied on a
#: date after its end (2024-12-31).
EXTRACT_DELIVERED_ON = dt.date(2024, 3, 1)
RETENTION_CHECK_ON = dt.date(2025, 1, 15)
ORIGIN_YEAR = 2021
#: The tables of the demo's public release. The protection of all 42 tables of a Flemish-sized
#: staff takes about two minutes (docs/protection.md, "Status and limits"), so the demo keeps
#: its public release small; a public release of fewer tables is a valid release (the audit
#: rebuilds the relations from the keys).
PUBLIC_DEMO_BREAKDOWNS = ("total", "sex")


@dataclass
class DemoResult:
    """Where the demo put things, stage by stage."""

    out: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    comparison: list[tuple[int, str, float, float | None, float | None]] = field(
        default_factory=list
    )  # year, published definition, published %, our % (that definition), our % (eu)


def staff_shares(
    engine: Engine, year: int, definitions: tuple[str, ...], rules: RuleSet, generated_on: dt.date
) -> dict[str, float]:
    """Share (%) of the year's staff (as in the tables) with a background, per definition.

    A person of unknown origin counts in the denominator, as in the published figures.
    """
    params = TableParams(years=(year,), generated_on=generated_on)
    staff = build_population(engine, params, rules, out_table="demo_staff").relation
    engine.create_table("demo_scope", f"SELECT DISTINCT ssin FROM {staff}")
    origin = derive_origin(
        engine,
        OriginParams.for_year(year, definitions=definitions, generated_on=generated_on),
        rules,
        population="demo_scope",
        out_table="demo_origin",
    )
    shares: dict[str, float] = {}
    for d in definitions:
        n, hit = engine.rows(
            f"SELECT count(*), sum(CASE WHEN {d} = '{BACKGROUND_CLASS[d]}' THEN 1 ELSE 0 END) "
            f"FROM {origin}"
        )[0]
        shares[d] = 100.0 * int(hit or 0) / int(n) if n else 0.0
    return shares


def run_demo(out: Path, seed: int, say: Say | None = None) -> DemoResult:
    """Synthesise the Flemish government, validate it and run every stage on it."""
    tell = say or (lambda _m: None)
    result = DemoResult(out=out)
    today = dt.date.today()
    rules = RuleSet()
    data_dir = out / "data"
    tell("synthesising the Flemish government and a labour market")
    summary = synthesize(SynthParams(seed=seed, scale="flanders"), data_dir)
    result.outputs["synthetic data"] = data_dir
    with Engine() as eng:
        tell("validating the input tables")
        data = load_dataset(
            eng,
            data_dir / "dwh",
            summary.files["personnel"],
            summary.files["entities"],
            ValidationOptions(),
        )
        report = out / "validation.json"
        data.report.write_json(report)
        result.outputs["validation report"] = report
        totals = data.report.as_dict()["totals"]
        result.lines.append(
            f"validation: {totals['rows']:,} rows read, {totals['rejected']:,} rejected, "
            f"{totals['accepted_with_corrections']:,} corrected"
        )

        tell(f"deriving origin for the staff of {ORIGIN_YEAR} under every definition")
        eng.create_table(
            "demo_personnel", f"SELECT DISTINCT ssin FROM personnel WHERE year = {ORIGIN_YEAR}"
        )
        origin_file = out / f"origin_{ORIGIN_YEAR}.parquet"
        run = origin_to_parquet(
            eng,
            OriginParams.for_year(ORIGIN_YEAR, generated_on=today),
            origin_file,
            rules,
            population="demo_personnel",
        )
        result.outputs[f"origin per person {ORIGIN_YEAR} (warehouse side only)"] = origin_file
        result.lines.append(f"origin of the {run.rows:,} staff of {ORIGIN_YEAR}, eu15 x eu:")
        result.lines.append(crosstab_text(compare(eng, "origin", "eu15", "eu")))

        tell("comparing with the published figures")
        for row in rules.table("published_figures"):
            year = int(row["year"])
            defs = tuple(dict.fromkeys((row["definition"], "eu")))
            shares = staff_shares(eng, year, defs, rules, today)
            result.comparison.append(
                (
                    year,
                    row["definition"],
                    float(row["percent"]),
                    shares[row["definition"]],
                    shares["eu"],
                )
            )

        first, last = DEMO_YEARS
        tell(f"diversity tables {first}-{last} (service release)")
        release_dir = out / "releases" / "service"
        tables = build_tables(
            eng,
            TableParams(years=tuple(range(first, last + 1)), generated_on=today),
            rules,
            release_dir,
            inputs={"files": data.inputs()},
            cache_dir=out / ".herkomst-cache",
            extra_manifest={"validation": totals},
        )
        result.outputs[f"service release {first}-{last}"] = release_dir
        result.lines.append(
            f"service release: {tables.release.rows:,} cells in 42 tables a year; years computed "
            f"{', '.join(map(str, tables.computed_years)) or 'none'}, reused from the cache "
            f"{', '.join(map(str, tables.reused_years)) or 'none'}"
        )
        demo_protected(eng, out, release_dir, today, rules, {"files": data.inputs()}, result, tell)
        tell("pseudonymised research extract (federal population, deliberation 23/224)")
        demo_extract(out, data_dir, seed, result)
    return result


def demo_protected(
    eng: Engine,
    out: Path,
    service_dir: Path,
    today: dt.date,
    rules: RuleSet,
    inputs: dict[str, object],
    result: DemoResult,
    tell: Say,
) -> None:
    """The last year's releases for an entity's leading official and for the public, and
    the public one's audit against every attacker (the public and each official)."""
    year = DEMO_YEARS[1]
    params = TableParams(years=(year,), generated_on=today)
    entity = str(
        eng.scalar(
            f"SELECT entity FROM personnel WHERE year = {year} "
            "GROUP BY entity ORDER BY count(*) DESC, entity LIMIT 1"
        )
    )
    tell(f"release {year} for the leading official of {entity} (exact, personal data)")
    ent_dir = out / "releases" / f"entity-{entity}"
    ent = build_tables(
        eng, params, rules, ent_dir, inputs=inputs, cache_dir=out / ".herkomst-cache",
        audience=f"entity:{entity}",
    )  # fmt: skip
    result.outputs[f"entity release {year} ({entity})"] = ent_dir
    result.lines.append(
        f"entity release {entity}: {ent.release.rows:,} cells of that entity only, exact; "
        "the manifest marks it as personal data"
    )
    tell(
        f"public release {year} ({', '.join(PUBLIC_DEMO_BREAKDOWNS)}): withheld entities, 1-5 "
        "labels, complementary suppression, audit"
    )
    pub_dir = out / "releases" / "public"
    ledger_dir = out / "ledger"
    if ledger_dir.exists():  # the demo starts a new ledger on every run
        shutil.rmtree(ledger_dir)
    pub = build_tables(
        eng, replace(params, breakdowns=PUBLIC_DEMO_BREAKDOWNS), rules, pub_dir, inputs=inputs,
        cache_dir=out / ".herkomst-cache", audience="public", ledger=Ledger(ledger_dir),
        attackers="all",
    )  # fmt: skip
    prot = pub.protection
    result.outputs[f"public release {year} (audited)"] = pub_dir
    result.lines.append(
        f"public release {year}: {prot['masked_primary_quantities']:,} cells shown as 1-5, "
        f"{prot['masked_secondary_quantities']:,} complementary suppressions, "
        f"{len(prot['withheld_entities'])} entities under 50 staff withheld"
        + (
            f", {len(prot['withheld_domains'])} policy domain(s) withheld"
            if prot.get("withheld_domains")
            else ""
        )
        + "".join(
            f", the {w['breakdown']} tables withheld ({w['small_share']:.0%} of their "
            "non-zero cells 1 to 4)"
            for w in prot.get("withheld_tables", [])
        )
    )
    tell("auditing the public release again from its folder (herkomst audit)")
    audited = audit_release(pub_dir, attacker="all", truth=service_dir)
    audited.raise_if_failed()
    summ = audited.summary
    result.lines.append(
        f"audit of the public release: {len(summ['attackers'])} attackers (the public and "
        f"every entity's official), {summ['failed']} cells short of the requirement: passed"
    )


def demo_extract(out: Path, data_dir: Path, seed: int, result: DemoResult) -> None:
    """A federal sample extract delivered within the retention period, then its destruction.

    The demo's warehouse side (project register, vault) is made anew on every run, with a
    fresh key in a file readable only by its owner, as an operator would keep it.
    """
    warehouse = out / "warehouse"
    if warehouse.exists():
        shutil.rmtree(warehouse)
    warehouse.mkdir(parents=True, mode=0o700)
    key_file = warehouse / "vault.key"
    key_file.write_text(new_vault_key() + "\n")
    key_file.chmod(0o600)
    target = warehouse / "staging" / "23-224-federal"
    received = out / "delivered" / "23-224-federal"
    if received.exists():
        shutil.rmtree(received)
    delivered = extract_from_dwh(
        data_dir / "dwh",
        target,
        warehouse,
        "federal",
        10_000,
        seed,
        key_file=key_file,
        delivered_on=EXTRACT_DELIVERED_ON,
    )
    # The transfer to the researchers: they keep their copy; the warehouse's staged copy is
    # destroyed with the project's keys when retention ends.
    shutil.copytree(target, received)
    result.outputs["federal research extract, as the researchers received it"] = received
    line = (
        f"extract: {delivered.persons:,} persons, {delivered.rows:,} person-years, "
        f"from a population of {delivered.population_size:,}"
    )
    if delivered.risk is not None:
        line += (
            f"; risk report: k = {delivered.risk.overall['k']}, "
            f"sample uniques = {delivered.risk.overall['sample_uniques']:,}"
        )
    result.lines.append(line)
    demo_enclave(out, data_dir, warehouse, key_file, result)  # phase 2, before retention
    report = retention(warehouse, RETENTION_CHECK_ON)
    result.lines.append(
        f"retention on {RETENTION_CHECK_ON}: destroyed the vault of "
        f"{', '.join(report.destroyed) or 'nothing'}; "
        f"{len(report.pending_confirmations)} delivery(ies) await the recipient's confirmation"
    )
    result.outputs["project register and destruction records"] = warehouse


#: Phase 2 is staged inside the retention period too.
ENCLAVE_STAGED_ON = dt.date(2024, 6, 3)


def demo_enclave(
    out: Path, data_dir: Path, warehouse: Path, key_file: Path, result: DemoResult
) -> None:
    """Phase 2 of 23/224: the federal project's full population in the enclave.

    Stages the project, runs the sample research script (a safe table, a risky table and a
    differencing pair) in the sandbox, shows the check results, approves the safe table,
    re-checks the rest against it (the differencing pair is caught), rejects the risky one,
    exports the approved output and verifies the audit log.
    """
    from importlib.resources import files

    from .enclave.auditlog import verify_log
    from .enclave.review import decide, export, pending
    from .enclave.sandbox import RunParams, run_script
    from .enclave.stage import StageParams, stage
    from .extract import read_vault_key

    project = "23-224-federal"
    staged = stage(
        StageParams(
            project=project,
            warehouse=warehouse,
            dwh=data_dir / "dwh",
            population="federal",
            staged_on=ENCLAVE_STAGED_ON,
            actor="demo operator",
        ),
        read_vault_key(key_file),
    )
    ws = staged.workspace
    result.lines.append(
        f"enclave: staged {staged.persons:,} persons ({staged.rows:,} person-years) of "
        f"{project}; {staged.kept:,} kept their phase-1 number, {staged.numbered_on:,} numbered on"
    )
    script = Path(str(files("herkomst.enclave.examples").joinpath("demo_research.py")))
    run = run_script(RunParams(project, warehouse, script, actor="demo researcher"))
    attempts = run.record["denied"]["audit_hook"]["attempts_total"]
    result.lines.append(
        f"enclave run {run.run_id}: exit status {run.exit_status} in {run.record['seconds']:.1f} s, "
        f"{len(run.outputs)} outputs, {attempts} attempt(s) beyond the sandbox seen"
    )
    for name, status in run.outputs.items():
        result.lines.append(f"  checked {name}: {status}")
    decide(ws, "staff_by_age", True, "every count is at least 10", "demo supervisor")
    result.lines.append("  approved staff_by_age (released); re-checking the pending outputs:")
    for item in pending(ws, actor="demo supervisor"):
        rules = ", ".join(f"{c['rule']} {c['status']}" for c in item.checks)
        result.lines.append(f"  {item.name}: {item.status} ({rules})")
        for c in item.checks:
            if c["status"] == "fail":
                result.lines.append(f"    {c['rule']}: {c['detail'][:150]}")
        if item.suggestions:
            result.lines.append(f"    suggestion: {item.suggestions[0][:150]}")
    for name, why in (
        ("origin_by_region", "cells below the threshold of 10"),
        ("staff_by_age_known_region", "with staff_by_age it reveals small groups"),
    ):
        decide(ws, name, False, why, "demo supervisor")
    exported = out / "enclave-export" / project
    if exported.exists():
        shutil.rmtree(exported)
    done = export(ws, exported, actor="demo supervisor")
    check = verify_log(ws.log, project)
    result.lines.append(
        f"enclave export: {', '.join(done.outputs)} with results.json and SHA256SUMS; "
        f"{check.message()}"
    )
    result.outputs["enclave workspace (warehouse side: data, runs, outputs, log)"] = ws.root
    result.outputs["enclave run record"] = run.run_dir / "record.json"
    result.outputs["enclave export (approved outputs only)"] = exported
