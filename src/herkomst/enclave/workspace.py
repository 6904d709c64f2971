"""The enclave's workspace of a project, on the warehouse side.

Layout (``<warehouse>/enclave/<project>/``, every folder 0700, every file 0600, except where
the sandbox needs to read or write, see ``docs/enclave.md``)::

    data/                 the staged full-population dataset (population.parquet,
                          codebook.json, manifest.json); group-readable by the sandbox group
    runs/<run-id>/        one folder per run: outbox/ (what the script wrote), scratch/
                          (emptied after the run), stdout, stderr, record.json
    outputs/<name>/       checked outputs: the output's files, check.json (the check results),
                          state.json (pending / approved / rejected, with the decisions)
    superseded/           outputs replaced by a later one of the same name, kept for the audit
    released/<name>/      copies of the outputs approved and exported (with their membership
                          files), the ``released`` set the differencing check compares against
    log.jsonl             the hash-chained audit log (:mod:`herkomst.enclave.auditlog`)

The project's vault and the phase-1 delivery stay where :mod:`herkomst.extract` keeps them
(``<warehouse>/vault/``, ``<warehouse>/staging/``) and are never mounted into a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..extract._vault import check_project_id

ENCLAVE_DIR = "enclave"
#: The uid and gid a run executes as when the supervisor runs as root (no account uses it):
#: the run's processes are then counted apart (RLIMIT_NPROC) and own nothing else.
SANDBOX_UID = 64123
SANDBOX_GID = 64123
#: Internal files of an output that never leave the enclave.
INTERNAL_FILES = frozenset({"membership.parquet"})
RECORD_FILES = frozenset({"output.json", "check.json", "state.json"})


class OutputState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def is_root() -> bool:
    return os.geteuid() == 0


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Write a file 0600, atomically (temporary file and rename)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    write_private(path, json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None


def lock_down(path: Path) -> None:
    """Give a tree to the current user only: folders 0700, files 0600 (symlinks removed)."""
    if path.is_symlink():
        path.unlink()
        return
    uid, gid = os.geteuid(), os.getegid()
    for p in [path, *path.rglob("*")]:
        if p.is_symlink():
            p.unlink()
            continue
        with contextlib.suppress(FileNotFoundError):
            if is_root():
                os.chown(p, uid, gid, follow_symlinks=False)
            p.chmod(0o700 if p.is_dir() else 0o600)


@dataclass(frozen=True)
class Workspace:
    """The enclave folders of one project."""

    warehouse: Path
    project: str

    def __post_init__(self) -> None:
        check_project_id(self.project)

    @property
    def root(self) -> Path:
        return self.warehouse / ENCLAVE_DIR / self.project

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def superseded(self) -> Path:
        return self.root / "superseded"

    @property
    def released(self) -> Path:
        return self.root / "released"

    @property
    def log(self) -> Path:
        return self.root / "log.jsonl"

    @property
    def population(self) -> Path:
        return self.data / "population.parquet"

    def create(self) -> Workspace:
        private_dir(self.warehouse / ENCLAVE_DIR)
        for d in (self.root, self.runs, self.outputs, self.superseded, self.released):
            private_dir(d)
        return self

    def require_staged(self) -> None:
        if not self.population.is_file():
            raise UsageError(
                f"project '{self.project}' has no staged data in {self.root}; run "
                f"`herkomst enclave stage --project {self.project}` first"
            )

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    def output_dir(self, name: str) -> Path:
        return self.outputs / name

    def output_names(self) -> list[str]:
        if not self.outputs.is_dir():
            return []
        return sorted(p.name for p in self.outputs.iterdir() if p.is_dir())

    def released_dirs(self) -> list[Path]:
        if not self.released.is_dir():
            return []
        return sorted(p for p in self.released.iterdir() if p.is_dir())

    def iter_outputs(self) -> Iterator[tuple[str, Path]]:
        for name in self.output_names():
            yield name, self.output_dir(name)


def copy_tree_private(src: Path, dst: Path) -> None:
    """Copy an output folder (regular files and folders only), then lock it down."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True, ignore_dangling_symlinks=True)
    lock_down(dst)
