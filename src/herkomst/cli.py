"""The ``herkomst`` command line: a thin layer over the library.

Each command parses its options, calls one library function and prints for people with
Rich. Errors become a one-line message on stderr and the exit code of
:class:`herkomst.errors.ExitCode`, in :func:`main` only.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from ._options import VaultKeyFileOpt, WarehouseOpt
from .enclave.cli import app as enclave_app
from .engine import Engine
from .errors import CheckFailed, ExitCode, HerkomstError, InternalError, MissingFile, UsageError
from .validate import Dataset, ValidationOptions, ValidationReport, format_finding, load_dataset

if TYPE_CHECKING:
    from .origin import OriginParams

app = typer.Typer(
    name="herkomst",
    help="Origin and migration background from the register; protected diversity tables; "
    "research extracts. Exit codes: 0 ok, 1 check failed, 2 bad input or usage, 3 bug.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"herkomst {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """herkomst: origin, diversity tables and disclosure control for the social-security DWH."""


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    """A Rich progress display on stderr (silent when stderr is not a terminal)."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled or not err.is_terminal,
    ) as bar:
        yield bar


DwhOpt = Annotated[
    Path,
    typer.Option(
        "--dwh", help="Folder with persons, nationalities, employment[, residence, education]."
    ),
]
PersonnelOpt = Annotated[
    Path | None, typer.Option("--personnel", help="The employer's personnel list (CSV or Parquet).")
]
EntitiesOpt = Annotated[
    Path | None, typer.Option("--entities", help="The entity reference list (CSV or Parquet).")
]
CountryMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--country-map", help="CSV nis_code,iso_code to accept 3-digit NIS country codes."
    ),
]
TodayOpt = Annotated[
    str | None,
    typer.Option(
        "--today", help="Validation date (YYYY-MM-DD) for future-date checks; default today."
    ),
]


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option}: '{value}' is not a date YYYY-MM-DD") from None


def validation_options(country_map: Path | None, today: str | None) -> ValidationOptions:
    day = _date(today, "--today")
    if day is None:
        return ValidationOptions(country_map=country_map)
    return ValidationOptions(country_map=country_map, today=day)


@app.command()
def validate(
    dwh: DwhOpt,
    personnel: PersonnelOpt = None,
    entities: EntitiesOpt = None,
    country_map: CountryMapOpt = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write the JSON report (every row accounted for) here."),
    ] = None,
    today: TodayOpt = None,
    show: Annotated[int, typer.Option("--show", help="How many findings to list.")] = 20,
) -> None:
    """Read and check the input tables; exit 1 when rows were rejected."""
    opts = validation_options(country_map, today)
    with Engine() as eng, progress_bar() as bar:
        task = bar.add_task("validating", total=None)
        data = load_dataset(
            eng, dwh, personnel, entities, opts, progress=lambda m: bar.update(task, description=m)
        )
    rep = data.report
    if report is not None:
        rep.write_json(report)
    print_report(rep, show)
    if report is not None:
        out.print(f"report: {report}")
    if rep.rejected:
        raise CheckFailed(f"{rep.rejected} row(s) rejected; see the findings above or the report")


@app.command()
def synth(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write dwh/*, personnel and entities into.")
    ],
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives byte-identical files.")
    ],
    scale: Annotated[
        str,
        typer.Option(
            "--scale", help="flanders, belgium (about 12 million persons) or a number of persons."
        ),
    ] = "flanders",
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    with_defects: Annotated[
        bool,
        typer.Option(
            "--with-defects", help="Plant a few data-quality problems for validate to find."
        ),
    ] = False,
) -> None:
    """Write a synthetic register, Flemish personnel list and entity list (2010-2023)."""
    from .synth import SynthParams, synthesize

    params = SynthParams(
        seed=seed,
        scale=int(scale) if scale.isdigit() else scale,
        fmt=fmt,  # type: ignore[arg-type]  # validated by SynthParams
        with_defects=with_defects,
    )
    with progress_bar() as bar:
        task = bar.add_task("synthesising", total=None)

        def step(stage: str, done: int, total: int) -> None:
            bar.update(task, description=f"synthesising: {stage}", completed=done, total=total)

        summary = synthesize(params, out_dir, progress=step)
    table = Table(title=f"Synthetic population (seed {seed}, scale {scale})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name, path in summary.files.items():
        table.add_row(name, f"{summary.rows[name]:,}", str(path))
    out.print(table)
    if summary.defects:
        out.print(f"planted {len(summary.defects)} data-quality problem(s) (--with-defects)")
    out.print(f"written to {out_dir} in {summary.seconds:.1f} s")


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the demo's data and outputs.")
    ] = Path("out/demo"),
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the synthetic population.")
    ] = 20231231,
) -> None:
    """Run the whole pipeline on a synthetic Flemish government (what `make demo` does)."""
    from .demo import run_demo

    with progress_bar() as bar:
        task = bar.add_task("demo", total=None)
        result = run_demo(out_dir, seed, say=lambda m: bar.update(task, description=m))
    for line in result.lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if result.comparison:
        cmp = Table(title="Staff with a migration background: published (real) vs synthetic")
        for col in (
            "year",
            "definition of the time",
            "published %",
            "synthetic %",
            "synthetic % (eu)",
        ):
            cmp.add_column(col, justify="left" if col.startswith("def") else "right")
        for year, definition, published, ours, eu in result.comparison:
            cmp.add_row(
                str(year),
                definition,
                f"{published:.1f}",
                "-" if ours is None else f"{ours:.1f}",
                "-" if eu is None else f"{eu:.1f}",
            )
        out.print(cmp)
    table = Table(title="Demo outputs")
    table.add_column("what")
    table.add_column("where")
    for what, where in result.outputs.items():
        table.add_row(what, str(where))
    out.print(table)


origin_app = typer.Typer(
    help="Origin and migration background under every definition (warehouse side only).",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(origin_app, name="origin")
app.add_typer(enclave_app, name="enclave")

DefinitionsOpt = Annotated[
    str | None,
    typer.Option(
        "--definitions",
        help="Comma-separated: eu15,eu,flanders2016,statbel,national_origin,migration_background "
        "(default: all).",
    ),
]
EuDateOpt = Annotated[
    str | None,
    typer.Option(
        "--eu-date", help="Date on which EU membership is read for 'eu' (default: today)."
    ),
]
RulesOpt = Annotated[
    Path | None, typer.Option("--rules", help="Folder of rule tables overriding the bundled ones.")
]


def _origin_params(year: int, definitions: str | None, eu_date: str | None) -> OriginParams:
    from .origin import DEFAULT_DEFINITIONS, OriginParams

    defs = (
        tuple(d.strip() for d in definitions.split(",") if d.strip())
        if definitions
        else DEFAULT_DEFINITIONS
    )
    return OriginParams.for_year(year, definitions=defs, eu_date=_date(eu_date, "--eu-date"))


def _load(
    eng: Engine,
    dwh: Path,
    personnel: Path | None,
    entities: Path | None,
    country_map: Path | None,
    today: str | None,
    bar: Progress,
) -> Dataset:
    task = bar.add_task("loading", total=None)
    data = load_dataset(
        eng,
        dwh,
        personnel,
        entities,
        validation_options(country_map, today),
        progress=lambda m: bar.update(task, description=m),
    )
    bar.remove_task(task)
    if data.report.rejected:
        err.print(
            f"note: {data.report.rejected:,} input row(s) rejected by validation and left out "
            "(run 'herkomst validate' for the list)",
            soft_wrap=True,
        )
    return data


@origin_app.callback()
def origin(
    ctx: typer.Context,
    dwh: Annotated[Path | None, typer.Option("--dwh", help="The data-warehouse folder.")] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Reference year (31 December).")
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Parquet file to write.")] = None,
    definitions: DefinitionsOpt = None,
    eu_date: EuDateOpt = None,
    persons: Annotated[
        str, typer.Option("--persons", help="Who is in scope: personnel, employed or all.")
    ] = "employed",
    personnel: PersonnelOpt = None,
    entities: EntitiesOpt = None,
    country_map: CountryMapOpt = None,
    rules: RulesOpt = None,
    today: TodayOpt = None,
) -> None:
    """Derive origin per person (with the trail of what decided it) and write it as Parquet.

    The file holds SSINs and trails: it is for audit on the warehouse side, never released.
    """
    if ctx.invoked_subcommand is not None:
        return
    from .origin import origin_to_parquet, population_relation
    from .rules import RuleSet

    if dwh is None or year is None or out_file is None:
        raise UsageError("herkomst origin needs --dwh, --year and --out (or a subcommand: compare)")
    params = _origin_params(year, definitions, eu_date)
    with Engine() as eng, progress_bar() as bar:
        _load(eng, dwh, personnel, entities, country_map, today, bar)
        task = bar.add_task("deriving origin", total=None)
        scope = population_relation(eng, persons, year)
        run = origin_to_parquet(eng, params, out_file, RuleSet(rules), population=scope)
        bar.remove_task(task)
    table = Table(title=f"Origin on {params.reference_date} ({run.rows:,} persons, {persons})")
    table.add_column("definition")
    table.add_column("class")
    table.add_column("persons", justify="right")
    table.add_column("%", justify="right")
    for definition, counts in run.counts.items():
        total = sum(counts.values()) or 1
        for cls, n in counts.items():
            table.add_row(definition, cls, f"{n:,}", f"{100 * n / total:.1f}")
    out.print(table)
    out.print(f"written: {run.path}")


@origin_app.command("compare")
def origin_compare(
    first: Annotated[str, typer.Argument(help="First definition (rows).")],
    second: Annotated[str, typer.Argument(help="Second definition (columns).")],
    origin_file: Annotated[
        Path | None,
        typer.Option("--origin", help="An origin Parquet file written by 'herkomst origin'."),
    ] = None,
    dwh: Annotated[Path | None, typer.Option("--dwh", help="Or: derive from this folder.")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Reference year, with --dwh.")] = None,
    eu_date: EuDateOpt = None,
    persons: Annotated[
        str, typer.Option("--persons", help="personnel, employed or all.")
    ] = "employed",
    personnel: PersonnelOpt = None,
    entities: EntitiesOpt = None,
    rules: RulesOpt = None,
) -> None:
    """Print the crosstab of two definitions: how the operationalisation changes who counts."""
    from .origin import compare, crosstab_text, derive_origin, population_relation
    from .rules import RuleSet

    with Engine() as eng:
        if origin_file is not None:
            if not origin_file.is_file():
                raise MissingFile(f"{origin_file}: origin file not found")
            eng.create_table("origin", f"SELECT * FROM read_parquet('{_sql_path(origin_file)}')")
        elif dwh is not None and year is not None:
            params = _origin_params(year, f"{first},{second}", eu_date)
            with progress_bar() as bar:
                _load(eng, dwh, personnel, entities, None, None, bar)
                scope = population_relation(eng, persons, year)
                derive_origin(eng, params, RuleSet(rules), population=scope)
        else:
            raise UsageError("give --origin FILE, or --dwh DIR with --year Y")
        out.print(
            crosstab_text(compare(eng, "origin", first, second)),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _years(year: int | None, years: str | None) -> tuple[int, ...]:
    if (year is None) == (years is None):
        raise UsageError("give exactly one of --year Y or --years FIRST-LAST")
    if year is not None:
        return (year,)
    assert years is not None
    first, sep, last = years.partition("-")
    if not (first.strip().isdigit() and (not sep or last.strip().isdigit())):
        raise UsageError(f"--years: '{years}' is not a range like 2014-2023")
    lo, hi = int(first), int(last) if sep else int(first)
    if lo > hi:
        raise UsageError(f"--years: {lo} comes after {hi}")
    return tuple(range(lo, hi + 1))


@app.command()
def tables(
    dwh: DwhOpt,
    personnel: Annotated[Path, typer.Option("--personnel", help="The employer's personnel list.")],
    entities: Annotated[Path, typer.Option("--entities", help="The entity reference list.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Release folder to write.")],
    year: Annotated[int | None, typer.Option("--year", help="One reference year.")] = None,
    years: Annotated[
        str | None,
        typer.Option("--years", help="A historical series, e.g. 2014-2023 (one definition date)."),
    ] = None,
    definitions: Annotated[
        str,
        typer.Option("--definitions", help="Comma-separated origin definitions (default eu15,eu)."),
    ] = "eu15,eu",
    eu_date: EuDateOpt = None,
    min_age: Annotated[int, typer.Option("--min-age", help="Youngest age included.")] = 18,
    max_age: Annotated[int, typer.Option("--max-age", help="Oldest age included.")] = 65,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="Cache folder (default: <out>/../.herkomst-cache)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Compute every year anew.")] = False,
    country_map: CountryMapOpt = None,
    rules: RulesOpt = None,
    today: TodayOpt = None,
    audience: Annotated[
        str,
        typer.Option(
            "--audience",
            help="service (every cell exact), entity:<code> (that entity's leading official) "
            "or public (protected and audited).",
        ),
    ] = "service",
    authorization: Annotated[
        str, typer.Option("--authorization", help="Authorization id (e.g. 13-71) or a TOML file.")
    ] = "13-71",
    breakdowns: Annotated[
        str | None,
        typer.Option("--breakdowns", help="Comma-separated breakdowns (default: all seven)."),
    ] = None,
    scopes: Annotated[
        str | None,
        typer.Option("--scopes", help="Comma-separated scopes (default: all three)."),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Ledger folder of what each audience already received (public releases "
            "are protected together with it and added to it).",
        ),
    ] = None,
    attackers: Annotated[
        str,
        typer.Option(
            "--attackers", help="Public audit: public, insider:<entity> or all (default)."
        ),
    ] = "all",
    generated_on: Annotated[
        str | None,
        typer.Option(
            "--generated-on", help="Generation date YYYY-MM-DD (default today; EU = members then)."
        ),
    ] = None,
) -> None:
    """Write the diversity tables of the staff for one audience (default 'service')."""
    from .authorization import load_authorization
    from .ledger import Ledger
    from .release import build_tables
    from .rules import RuleSet
    from .tabulate import BREAKDOWNS, SCOPES, TableParams

    params = TableParams(
        years=_years(year, years),
        generated_on=_date(generated_on, "--generated-on") or dt.date.today(),
        definitions=_list(definitions),
        breakdowns=_list(breakdowns) if breakdowns else BREAKDOWNS,
        scopes=_list(scopes) if scopes else SCOPES,
        min_age=min_age,
        max_age=max_age,
        eu_date=_date(eu_date, "--eu-date"),
    )
    auth = load_authorization(authorization)
    with Engine() as eng, progress_bar() as bar:
        data = _load(eng, dwh, personnel, entities, country_map, today, bar)
        task = bar.add_task(f"tables for {len(params.years)} year(s)", total=None)
        result = build_tables(
            eng,
            params,
            RuleSet(rules),
            out_dir,
            inputs={"files": data.inputs()},
            cache_dir=cache,
            use_cache=not no_cache,
            extra_manifest={"validation": data.report.as_dict()["totals"]},
            audience=audience,
            authorization=auth,
            ledger=Ledger(ledger) if ledger is not None else None,
            attackers=attackers,
        )
        bar.remove_task(task)
    if result.reused_years:
        out.print(
            f"reused from the cache (inputs and rules unchanged): "
            f"{', '.join(map(str, result.reused_years))}"
        )
    if result.computed_years:
        out.print(f"computed: {', '.join(map(str, result.computed_years))}")
    prot = result.protection
    out.print(f"{result.release.audience} release: {result.release.out_dir} "
              f"({result.release.rows:,} cells)")  # fmt: skip
    if result.audit is not None:
        out.print(
            f"protection: {prot['masked_primary_quantities']:,} cells shown as "
            f"'{auth.public.small_label}', {prot['masked_secondary_quantities']:,} complementary "
            f"suppressions, {len(prot['withheld_entities'])} entity(ies) and "
            f"{len(prot.get('withheld_domains', []))} policy domain(s) withheld"
            + "".join(
                f", the {w['breakdown']} tables ({w['year']}) withheld as close to microdata"
                for w in prot.get("withheld_tables", [])
            )
            + "; audit passed "
            f"({result.audit.summary['failed']} failures)"
        )
    elif prot.get("not_covered_by_authorization"):
        out.print(f"[yellow]note:[/] {prot['note']}")
    elif prot.get("personal_data"):
        out.print(f"[yellow]personal data, not anonymous:[/] {prot.get('personal_data_note', '')}")


@app.command()
def audit(
    release: Annotated[Path, typer.Argument(help="A public release folder.")],
    attacker: Annotated[
        str,
        typer.Option(
            "--attacker", help="public, insider:<entity> (needs --truth) or all (needs --truth)."
        ),
    ] = "public",
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="The service release of the same tables (warehouse side): what an insider "
            "knows of his or her own entity, and a self-check of the intervals.",
        ),
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Solve every interval exactly (two LPs per cell).")
    ] = False,
) -> None:
    """Audit a public release: the attacker's interval of every masked or withheld cell.

    Writes audit.parquet and audit.json into the release folder; exit 1 when a cell falls
    short of the authorization's requirement.
    """
    from .audit import audit_release

    result = audit_release(release, attacker=attacker, truth=truth, exact=exact)
    summ = result.summary
    for att, a in sorted(summ["attackers"].items()):
        n = sum(int(v) for v in a["targets"].values())
        out.print(f"{att}: {n:,} cells audited, {a['failed']:,} short of the requirement")
    if result.passed:
        out.print(f"[green]audit passed[/]: {release}/audit.json")
    result.raise_if_failed()


@app.command()
def extract(
    dwh: DwhOpt,
    population: Annotated[
        str, typer.Option("--population", help="federal, other_public or private.")
    ],
    sample: Annotated[
        int, typer.Option("--sample", help="Persons to sample (authorized maximum).")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample draw.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder of the extract to deliver.")],
    warehouse: WarehouseOpt = Path("warehouse"),
    authorization: Annotated[
        str, typer.Option("--authorization", help="Authorization id (e.g. 23-224) or a TOML file.")
    ] = "23-224",
    project: Annotated[
        str | None,
        typer.Option("--project", help="Project id (default: <authorization>-<population>)."),
    ] = None,
    design: Annotated[
        str,
        typer.Option("--design", help="simple, stratified_sex_age or stratified_first_year."),
    ] = "simple",
    target_k: Annotated[
        int | None,
        typer.Option(
            "--target-k", help="Reduce the risk to k-anonymity >= K (recoding, suppression)."
        ),
    ] = None,
    vault_key_file: VaultKeyFileOpt = None,
    delivered_on: Annotated[
        str | None, typer.Option("--delivered-on", help="Delivery date (default today).")
    ] = None,
    rules: RulesOpt = None,
) -> None:
    """Write a pseudonymised research extract with its codebook, manifest and risk report."""
    from .extract import extract_from_dwh

    with progress_bar() as bar:
        bar.add_task("building the extract", total=None)
        result = extract_from_dwh(
            dwh,
            out_dir,
            warehouse,
            population,
            sample,
            seed,
            authorization=authorization
            if not authorization.endswith(".toml")
            else Path(authorization),
            project=project,
            design=design,
            target_k=target_k,
            key_file=vault_key_file,
            delivered_on=_date(delivered_on, "--delivered-on"),
            rules_dir=rules,
        )
    out.print(
        f"extract: {result.persons:,} persons ({result.rows:,} person-years) sampled from "
        f"{result.population_size:,}; delivery {result.delivery}",
        soft_wrap=True,
    )
    if result.risk is not None:
        o = result.risk.overall
        out.print(
            f"risk: k = {o['k']}, sample uniques = {o['sample_uniques']:,} (see risk_report.md)",
            soft_wrap=True,
        )
    out.print(f"written: {result.out_dir}")


@app.command()
def retention(
    today: Annotated[
        str, typer.Option("--today", help="The date to apply retention on (YYYY-MM-DD).")
    ],
    warehouse: WarehouseOpt = Path("warehouse"),
) -> None:
    """Destroy expired projects' vault keys, mappings and staged copies; list owed confirmations."""
    from .extract import retention as apply_retention

    day = _date(today, "--today")
    assert day is not None
    report = apply_retention(warehouse, day)
    for project, record in report.destroyed.items():
        out.print(f"destroyed: project {project} ({len(record)} item(s) recorded)")
    if not report.destroyed:
        out.print("nothing has expired")
    for p in report.pending_confirmations:
        out.print(
            f"awaiting confirmation of destruction: project {p.project}, delivery {p.delivery} "
            f"of {p.delivered_on} to {p.recipient}",
            soft_wrap=True,
        )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def print_report(rep: ValidationReport, show: int) -> None:
    table = Table(title="Validation", show_lines=False)
    for col in ("file", "rows", "accepted", "corrected", "rejected"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for f in rep.files:
        t = rep.tables[f.table]
        table.add_row(
            t.file, f"{t.rows:,}", f"{t.accepted:,}", f"{t.corrected:,}", f"{t.rejected:,}"
        )
    out.print(table)
    for note in rep.notes:
        out.print(f"[yellow]note[/]: {note}")
    rows = rep.findings.slice(0, show).to_pylist()
    for row in rows:
        out.print(format_finding(row), markup=False, highlight=False, soft_wrap=True)
    if rep.findings.num_rows > show:
        out.print(f"... and {rep.findings.num_rows - show:,} more finding(s)")


def main() -> None:
    """Entry point: run the app and map every error to its exit code, never a traceback."""
    try:
        app(standalone_mode=False)
    except HerkomstError as exc:
        err.print(f"error: {exc.message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(int(ExitCode.BAD_INPUT))
    except typer.TyperException as exc:  # usage errors found while parsing the command line
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:  # pragma: no cover - every parsing error has show()
            err.print(f"error: {exc}", markup=False, highlight=False)
        code = getattr(exc, "exit_code", int(ExitCode.BAD_INPUT))
        sys.exit(int(ExitCode.BAD_INPUT) if code else 0)
    except Exception as exc:
        if os.environ.get("HERKOMST_DEBUG"):
            raise
        # The exception's text may quote data values: only its type is shown.
        bug = InternalError(
            f"unexpected {type(exc).__name__}; rerun with HERKOMST_DEBUG=1 for details"
        )
        err.print(f"error: {bug.message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(int(ExitCode.INTERNAL))
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
