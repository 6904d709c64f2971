"""``herkomst enclave``: stage, run, review, export and verify-log (a thin layer).

Each command parses its options and calls one library function of :mod:`herkomst.enclave`;
errors become one-line messages and exit codes in :func:`herkomst.cli.main`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .._options import VaultKeyFileOpt, WarehouseOpt
from ..errors import CheckFailed, UsageError

app = typer.Typer(
    help="The secure research environment (phase 2 of 23/224): stage a project's full "
    "population, run researchers' scripts in a sandbox, review and export checked outputs.",
    no_args_is_help=True,
)
out = Console()

ProjectOpt = Annotated[str, typer.Option("--project", help="Project id (as in the register).")]
LogKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--log-key-file",
        help="File with the audit log's HMAC key (else HERKOMST_ENCLAVE_LOG_KEY; none: SHA-256).",
    ),
]


def _actor(given: str | None) -> str:
    if given:
        return given
    return os.environ.get("SUDO_USER") or getpass.getuser()


def _log_key(path: Path | None) -> bytes | None:
    from .auditlog import read_log_key

    return read_log_key(path)


@app.command()
def stage(
    project: ProjectOpt,
    dwh: Annotated[
        Path, typer.Option("--dwh", help="Data-warehouse folder (persons, employment, ...).")
    ],
    warehouse: WarehouseOpt = Path("warehouse"),
    population: Annotated[
        str | None,
        typer.Option("--population", help="federal, other_public or private (checked)."),
    ] = None,
    vault_key_file: VaultKeyFileOpt = None,
    staged_on: Annotated[
        str | None, typer.Option("--staged-on", help="Staging date (default today).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who stages (the log).")] = None,
    log_key_file: LogKeyOpt = None,
) -> None:
    """Stage the project's full population with its extract's variables and classes."""
    from ..extract import read_vault_key
    from .stage import StageParams
    from .stage import stage as do_stage

    day = dt.date.today()
    if staged_on is not None:
        try:
            day = dt.date.fromisoformat(staged_on)
        except ValueError:
            raise UsageError(f"--staged-on: '{staged_on}' is not a date YYYY-MM-DD") from None
    result = do_stage(
        StageParams(
            project=project,
            warehouse=warehouse,
            dwh=dwh,
            population=population,
            staged_on=day,
            actor=_actor(actor),
        ),
        read_vault_key(vault_key_file),
        log_key=_log_key(log_key_file),
    )
    out.print(
        f"staged: {result.persons:,} persons ({result.rows:,} person-years); "
        f"{result.kept:,} kept their number, {result.numbered_on:,} numbered on",
        soft_wrap=True,
    )
    out.print(f"workspace: {result.workspace.root}", soft_wrap=True)


@app.command()
def run(
    script: Annotated[Path, typer.Argument(help="The researcher's Python script.")],
    project: ProjectOpt,
    warehouse: WarehouseOpt = Path("warehouse"),
    actor: Annotated[str | None, typer.Option("--actor", help="The researcher (the log).")] = None,
    log_key_file: LogKeyOpt = None,
) -> None:
    """Run SCRIPT in the sandbox on the staged data, then check its outputs."""
    from .sandbox import RunParams, run_script

    result = run_script(
        RunParams(project=project, warehouse=warehouse, script=script, actor=_actor(actor)),
        log_key=_log_key(log_key_file),
    )
    rec = result.record
    out.print(
        f"run {result.run_id}: exit status {result.exit_status}"
        + (" (wall time exceeded: killed)" if result.timed_out else "")
        + f", {rec['seconds']:.1f} s",
        soft_wrap=True,
    )
    for name, status in result.outputs.items():
        out.print(f"output {name}: {status} (pending review)", soft_wrap=True)
    for name, why in result.refused.items():
        out.print(f"not kept: {name}: {why}", soft_wrap=True)
    attempts = rec["denied"]["audit_hook"]["attempts_total"]
    if attempts:
        out.print(f"attempts beyond the sandbox's rules seen: {attempts} (see record.json)")
    out.print(f"run folder: {result.run_dir}", soft_wrap=True)
    if result.exit_status != 0:
        raise CheckFailed(
            f"the script did not finish normally (exit status {result.exit_status}); "
            f"see {result.run_dir / 'stderr'}"
        )


@app.command()
def review(
    project: ProjectOpt,
    warehouse: WarehouseOpt = Path("warehouse"),
    approve: Annotated[
        str | None, typer.Option("--approve", help="Approve this pending output.")
    ] = None,
    reject: Annotated[
        str | None, typer.Option("--reject", help="Reject this pending output.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required).")] = None,
    justification: Annotated[
        str | None,
        typer.Option("--justification", help="Why an exception to a failed rule is safe."),
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="The supervisor (default: the user).")
    ] = None,
    log_key_file: LogKeyOpt = None,
) -> None:
    """List pending outputs with their checks; approve or reject one with a reason."""
    from .review import decide, pending
    from .workspace import Workspace

    ws = Workspace(warehouse, project)
    key = _log_key(log_key_file)
    if approve and reject:
        raise UsageError("give --approve or --reject, not both")
    if approve or reject:
        name = approve or reject
        assert name is not None
        item = decide(
            ws,
            name,
            approve=bool(approve),
            reason=reason or "",
            reviewer=_actor(reviewer),
            justification=justification,
            log_key=key,
        )
        out.print(f"output {item.name}: {item.state} (check status {item.status})")
        return
    items = pending(ws, actor=_actor(reviewer), log_key=key)
    if not items:
        out.print("no pending output")
        return
    table = Table(title=f"Pending outputs of {project}")
    for col in ("output", "kind", "status", "rules", "run"):
        table.add_column(col)
    for i in items:
        rules = ", ".join(f"{c['rule']}={c['status']}" for c in i.checks)
        table.add_row(i.name, i.kind, str(i.status), rules, i.run)
    out.print(table)
    for i in items:
        for c in i.checks:
            if c["status"] != "pass":
                out.print(f"{i.name}: {c['rule']} {c['status']}: {c['detail']}", soft_wrap=True)
        for s in i.suggestions:
            out.print(f"{i.name}: suggestion: {s}", soft_wrap=True)


@app.command()
def export(
    project: ProjectOpt,
    out_dir: Annotated[Path, typer.Option("--out", help="Empty folder to export to.")],
    warehouse: WarehouseOpt = Path("warehouse"),
    actor: Annotated[str | None, typer.Option("--actor", help="Who exports.")] = None,
    log_key_file: LogKeyOpt = None,
) -> None:
    """Export the approved outputs with results.json (ACRO layout) and SHA256SUMS."""
    from .review import export as do_export
    from .workspace import Workspace

    result = do_export(
        Workspace(warehouse, project), out_dir, actor=_actor(actor), log_key=_log_key(log_key_file)
    )
    out.print(
        f"exported {len(result.outputs)} output(s) ({', '.join(result.outputs)}) to "
        f"{result.out_dir}",
        soft_wrap=True,
    )


@app.command("verify-log")
def verify_log(
    project: ProjectOpt,
    warehouse: WarehouseOpt = Path("warehouse"),
    log_key_file: LogKeyOpt = None,
) -> None:
    """Verify the project's hash-chained audit log (exit 1 at the first bad entry)."""
    from .auditlog import verify_log as do_verify
    from .workspace import Workspace

    ws = Workspace(warehouse, project)
    check = do_verify(ws.log, project, _log_key(log_key_file))
    if not check.ok:
        raise CheckFailed(check.message())
    out.print(check.message())
