"""The project register and retention: what was delivered to whom, until when, and destruction.

The register is a DuckDB file on the warehouse side (``<warehouse>/register.duckdb``):

- ``projects``: project, authorization (id, SHA-256), recipient, population, created, retention
  end (the authorization's, or a recorded extension's), status (``active`` / ``destroyed``);
- ``deliveries``: every extract written for a project, with the SHA-256 of each file, where it
  was staged, and when the recipient confirmed its destruction;
- ``extensions``: a later retention end, only with the reference of the decision that allows it;
- ``destructions``: what :func:`retention` destroyed, when, and the SHA-256 of the record.

:func:`retention` (``herkomst retention --today DATE``) destroys, for every project whose
retention end lies before ``today``, the vault key and mapping and the staged copies of its
deliveries, writes a destruction record (JSON) and lists the deliveries whose recipients must
still confirm destruction on their side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb

from ..errors import AuthorizationError, UsageError
from ._vault import Vault, check_project_id

REGISTER_FILE = "register.duckdb"
VAULT_DIR = "vault"
DESTRUCTION_DIR = "destruction"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS projects (
        project VARCHAR PRIMARY KEY, authorization_id VARCHAR, authorization_sha256 VARCHAR,
        recipient VARCHAR, population VARCHAR, created_on DATE, retention_end DATE,
        status VARCHAR, destroyed_on DATE)""",
    """CREATE TABLE IF NOT EXISTS deliveries (
        project VARCHAR, delivery INTEGER, delivered_on DATE, staged_at VARCHAR,
        files VARCHAR, manifest_sha256 VARCHAR, recipient_confirmed_on DATE,
        confirmation_ref VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS extensions (
        project VARCHAR, decided_on DATE, previous_end DATE, new_end DATE, decision_ref VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS destructions (
        project VARCHAR, destroyed_on DATE, record_file VARCHAR, record_sha256 VARCHAR)""",
)


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    DESTROYED = "destroyed"


@dataclass(frozen=True)
class Project:
    project: str
    authorization_id: str
    recipient: str
    population: str
    created_on: dt.date
    retention_end: dt.date
    status: ProjectStatus


@dataclass(frozen=True)
class PendingConfirmation:
    project: str
    delivery: int
    delivered_on: dt.date
    recipient: str
    manifest_sha256: str


@dataclass(frozen=True)
class RetentionReport:
    today: dt.date
    destroyed: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pending_confirmations: tuple[PendingConfirmation, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "destroyed": dict(self.destroyed),
            "pending_confirmations": [
                {
                    "project": p.project,
                    "delivery": p.delivery,
                    "delivered_on": p.delivered_on.isoformat(),
                    "recipient": p.recipient,
                    "manifest_sha256": p.manifest_sha256,
                }
                for p in self.pending_confirmations
            ],
        }


@contextmanager
def open_register(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The project register of a warehouse folder (created when absent)."""
    warehouse.mkdir(parents=True, exist_ok=True, mode=0o700)
    con = duckdb.connect(str(warehouse / REGISTER_FILE))
    try:
        for stmt in _SCHEMA:
            con.execute(stmt)
        yield con
    finally:
        con.close()


def get_project(warehouse: Path, project: str) -> Project | None:
    with open_register(warehouse) as con:
        row = con.execute(
            "SELECT project, authorization_id, recipient, population, created_on, retention_end,"
            " status FROM projects WHERE project = ?",
            [project],
        ).fetchone()
    if row is None:
        return None
    return Project(row[0], row[1], row[2], row[3], row[4], row[5], ProjectStatus(row[6]))


def ensure_project(
    warehouse: Path,
    project: str,
    authorization_id: str,
    authorization_sha256: str,
    recipient: str,
    population: str,
    retention_end: dt.date,
    today: dt.date,
) -> Project:
    """Register a project on its first delivery; check a later delivery belongs to it."""
    check_project_id(project)
    existing = get_project(warehouse, project)
    if existing is None:
        with open_register(warehouse) as con:
            con.execute(
                "INSERT INTO projects VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [
                    project,
                    authorization_id,
                    authorization_sha256,
                    recipient,
                    population,
                    today,
                    retention_end,
                    ProjectStatus.ACTIVE.value,
                ],
            )
        got = get_project(warehouse, project)
        assert got is not None
        return got
    if existing.status is ProjectStatus.DESTROYED:
        raise AuthorizationError(
            f"project '{project}' was destroyed at the end of its retention; start a new project"
        )
    if (existing.authorization_id, existing.population) != (authorization_id, population):
        raise UsageError(
            f"project '{project}' belongs to authorization {existing.authorization_id}, "
            f"population {existing.population}; use another project id for "
            f"{authorization_id}, population {population}"
        )
    return existing


def record_delivery(
    warehouse: Path,
    project: str,
    delivered_on: dt.date,
    staged_at: Path,
    files: Mapping[str, str],
    manifest_sha256: str,
) -> int:
    with open_register(warehouse) as con:
        row = con.execute(
            "SELECT coalesce(max(delivery), 0) + 1 FROM deliveries WHERE project = ?", [project]
        ).fetchone()
        number = int(row[0]) if row else 1
        con.execute(
            "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
            [
                project,
                number,
                delivered_on,
                str(staged_at.resolve()),
                json.dumps(dict(sorted(files.items()))),
                manifest_sha256,
            ],
        )
    return number


def extend_retention(
    warehouse: Path, project: str, new_end: dt.date, decision_ref: str, decided_on: dt.date
) -> Project:
    """A later retention end; only with the reference of the decision that allows it."""
    if not decision_ref.strip():
        raise AuthorizationError(
            f"extending the retention of project '{project}' needs the reference of the "
            "decision that allows it (points 5 and 18 of deliberation 23/224)"
        )
    current = get_project(warehouse, project)
    if current is None:
        raise UsageError(f"project '{project}' is not in the register")
    if current.status is ProjectStatus.DESTROYED:
        raise AuthorizationError(f"project '{project}' is destroyed; it cannot be extended")
    if new_end <= current.retention_end:
        raise UsageError(
            f"new retention end {new_end} is not after the current one {current.retention_end}"
        )
    with open_register(warehouse) as con:
        con.execute(
            "INSERT INTO extensions VALUES (?, ?, ?, ?, ?)",
            [project, decided_on, current.retention_end, new_end, decision_ref.strip()],
        )
        con.execute("UPDATE projects SET retention_end = ? WHERE project = ?", [new_end, project])
    got = get_project(warehouse, project)
    assert got is not None
    return got


def confirm_destruction(
    warehouse: Path, project: str, delivery: int, confirmed_on: dt.date, reference: str
) -> None:
    """Record that the recipient confirmed destroying a delivery."""
    if not reference.strip():
        raise UsageError("a recipient's confirmation needs a reference (letter, e-mail id)")
    with open_register(warehouse) as con:
        con.execute(
            "UPDATE deliveries SET recipient_confirmed_on = ?, confirmation_ref = ? "
            "WHERE project = ? AND delivery = ?",
            [confirmed_on, reference.strip(), project, delivery],
        )


def _remove_staged(path: Path, project: str) -> bool:
    """Remove a staged delivery folder, but only when its manifest names this project."""
    manifest = path / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("project") != project:
        return False
    shutil.rmtree(path)
    return True


#: The enclave's workspaces (phase 2), ``herkomst.enclave.workspace.ENCLAVE_DIR``.
ENCLAVE_DIR = "enclave"
#: What of a project's enclave workspace holds personal data (the staged population, runs,
#: outputs with their membership files); the hash-chained log and the released outputs'
#: anonymous files stay as the record of what was done and released.
ENCLAVE_PERSONAL = ("data", "runs", "outputs", "superseded")


def _remove_enclave_data(warehouse: Path, project: str) -> list[str]:
    """Remove the personal data of a project's enclave workspace; what was removed."""
    root = warehouse / ENCLAVE_DIR / project
    removed: list[str] = []
    if not root.is_dir():
        return removed
    for name in ENCLAVE_PERSONAL:
        path = root / name
        if path.exists():
            shutil.rmtree(path)
            removed.append(name)
    for member in sorted((root / "released").glob("*/membership.parquet")):
        member.unlink()
        removed.append(f"released/{member.parent.name}/membership.parquet")
    return removed


def retention(warehouse: Path, today: dt.date) -> RetentionReport:
    """Destroy what has expired on the warehouse side; list confirmations still owed."""
    destroyed: dict[str, dict[str, Any]] = {}
    with open_register(warehouse) as con:
        expired = [
            (r[0], r[1], r[2])
            for r in con.execute(
                "SELECT project, retention_end, recipient FROM projects "
                "WHERE status = 'active' AND retention_end < ? ORDER BY project",
                [today],
            ).fetchall()
        ]
        staged = {
            p: [
                (int(r[0]), str(r[1]))
                for r in con.execute(
                    "SELECT delivery, staged_at FROM deliveries WHERE project = ? ORDER BY 1",
                    [p],
                ).fetchall()
            ]
            for p, _, _ in expired
        }
    for project, end, recipient in expired:
        vault_files = Vault.destroy_files(warehouse / VAULT_DIR, project)
        removed = [
            {"delivery": d, "staged_at": where}
            for d, where in staged[project]
            if _remove_staged(Path(where), project)
        ]
        record = {
            "project": project,
            "recipient": recipient,
            "retention_end": end.isoformat(),
            "destroyed_on": today.isoformat(),
            "vault_files_destroyed": vault_files,
            "staged_copies_removed": removed,
            "enclave_removed": _remove_enclave_data(warehouse, project),
            "note": "warehouse-side destruction; the recipient must confirm destruction of "
            "every delivery on its side",
        }
        text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
        out = warehouse / DESTRUCTION_DIR / f"{project}-{today.isoformat()}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, "utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        with open_register(warehouse) as con:
            con.execute(
                "INSERT INTO destructions VALUES (?, ?, ?, ?)", [project, today, out.name, digest]
            )
            con.execute(
                "UPDATE projects SET status = 'destroyed', destroyed_on = ? WHERE project = ?",
                [today, project],
            )
        destroyed[project] = record | {"record_file": out.name, "record_sha256": digest}
    with open_register(warehouse) as con:
        pending = tuple(
            PendingConfirmation(r[0], int(r[1]), r[2], r[3], r[4])
            for r in con.execute(
                "SELECT d.project, d.delivery, d.delivered_on, p.recipient, d.manifest_sha256 "
                "FROM deliveries d JOIN projects p USING (project) "
                "WHERE p.status = 'destroyed' AND d.recipient_confirmed_on IS NULL "
                "ORDER BY 1, 2"
            ).fetchall()
        )
    return RetentionReport(today=today, destroyed=destroyed, pending_confirmations=pending)
