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
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .engine import Engine
from .errors import CheckFailed, ExitCode, HerkomstError, InternalError
from .validate import ValidationOptions, ValidationReport, format_finding, load_dataset

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
        from .errors import UsageError

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
