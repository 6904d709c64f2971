"""Running a researcher's script in isolation (bubblewrap) against the staged data.

The run, from the outside in:

- **Supervisor** (:func:`run_script`, the ``herkomst enclave run`` process): makes the run
  folder, starts the sandbox, enforces the wall time (kills the whole sandbox when it is up),
  captures stdout and stderr to files, then copies and checks every output and writes the run
  record and the audit-log entries.
- **Privilege drop** (when the supervisor is root): a private mount namespace (``unshare
  --mount``) where the folders the run needs are bound onto empty mount points of a per-run
  folder the sandbox user can traverse, then ``setpriv`` to the sandbox uid/gid
  (:data:`~herkomst.enclave.workspace.SANDBOX_UID`) without groups or capabilities. Running as
  its own uid is what makes the process limit real: Linux never applies ``RLIMIT_NPROC`` to
  uid 0, even inside a user namespace.
- **Limits** (``prlimit``): address space (``RLIMIT_AS`` = memory), processes and threads
  (``RLIMIT_NPROC``), the size of any file written (``RLIMIT_FSIZE``), no core dumps.
- **Sandbox** (``bwrap``): new user, mount, pid, network, ipc, uts and cgroup namespaces
  (``--unshare-all``: no network at all, only a loopback), no capabilities, a new session,
  killed with its parent; a read-only empty root with only ``/usr`` (and the host's
  ``/bin``, ``/lib`` links), the Python installation, the virtual environment and the herkomst
  package (read-only, at their own paths), ``/data`` (read-only: the staged dataset),
  ``/job/script.py`` (read-only), ``/outbox`` and ``/scratch`` (the run's own folders, the only
  writable places besides a private ``/tmp`` in memory), a private ``/proc`` and a minimal
  ``/dev``. The vault, the register, the phase-1 delivery, the other projects and the rest of
  the workspace are simply not there.
- **Inside**: :func:`run_inside` installs a Python audit hook that writes every attempt beyond
  the rules it sees (network, writing outside ``/outbox``, ``/scratch``, ``/tmp``, reading
  outside the mounted folders, starting programs) to a channel file, then runs the script.

The run record (``runs/<run-id>/record.json``) says what was run (script SHA-256), under which
limits, when, with which exit status, what the audit hook and stderr show of denied attempts,
and which outputs were made with their check status. What it cannot know: an attempt the
script makes with a means that does not pass through Python's audit hooks (a C extension,
``ctypes``, a program it starts) and then hides by catching the error; the sandbox still
makes such attempts fail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import AuthorizationError, InputError, UsageError
from ..extract._retention import ProjectStatus, get_project
from .auditlog import AuditLog
from .rules import EnclaveRules, RunLimits, load_enclave_rules
from .workspace import (
    RECORD_FILES,
    SANDBOX_GID,
    SANDBOX_UID,
    OutputState,
    Workspace,
    copy_tree_private,
    is_root,
    lock_down,
    private_dir,
    read_json,
    write_json,
)

#: The largest file a run may write (RLIMIT_FSIZE): stdout, stderr and outputs included.
FILE_SIZE_LIMIT = 1 << 30
#: Lines of stderr kept in the run record (the whole stderr stays in the run folder).
STDERR_TAIL = 40
#: The most audit-hook events kept in the record (the channel file keeps them all).
MAX_EVENTS = 500
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_DENIED_RE = re.compile(
    r"(PermissionError|Permission denied|Read-only file system|Network is unreachable|"
    r"Temporary failure in name resolution|Name or service not known|gaierror|"
    r"No such file or directory|MemoryError|Cannot allocate memory|BlockingIOError|"
    r"Resource temporarily unavailable|can't start new thread|File too large|"
    r"Operation not permitted|Errno)"
)
INSTALL_HINT = (
    "bubblewrap (bwrap) is not installed: install the Debian package bubblewrap "
    "(`make install` does it when run as root, else `sudo apt-get install -y bubblewrap`)"
)


@dataclass(frozen=True)
class RunParams:
    """One run: a project's staged data and a researcher's script."""

    project: str
    warehouse: Path
    script: Path
    actor: str = "researcher"
    limits: RunLimits | None = None  # None: the authorization's; only lower ones are allowed


@dataclass(frozen=True)
class RunResult:
    run_id: str
    run_dir: Path
    exit_status: int | None
    timed_out: bool
    outputs: Mapping[str, str]  # output name -> check status
    refused: Mapping[str, str]  # output name -> why it was not kept
    record: Mapping[str, Any]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_run_id() -> str:
    return _now().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise UsageError(INSTALL_HINT)
    return found


def free_sandbox_uid(span: int = 256) -> int:
    """A sandbox uid no running process uses (each run gets its own: RLIMIT_NPROC counts per
    uid, so two concurrent runs must not share one)."""
    busy: set[int] = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                busy.add(entry.stat().st_uid)
    for uid in range(SANDBOX_UID, SANDBOX_UID + span):
        if uid not in busy:
            return uid
    raise UsageError(f"no free sandbox uid in {SANDBOX_UID}-{SANDBOX_UID + span - 1}")


def _check_limits(asked: RunLimits | None, authorized: RunLimits) -> RunLimits:
    if asked is None:
        return authorized
    for name in ("wall_seconds", "memory_mb", "max_processes"):
        if getattr(asked, name) > getattr(authorized, name):
            raise AuthorizationError(
                f"run limit {name} = {getattr(asked, name)} is above the authorized "
                f"{getattr(authorized, name)} ([enclave], {authorized.clause})"
            )
    return asked


def _python_roots() -> list[Path]:
    """What the script's Python needs, read-only: the installation, the venv, the package."""
    import herkomst

    roots: list[Path] = []
    for p in (
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix),
        Path(sys.prefix).resolve(),
        Path(herkomst.__file__).resolve().parent.parent,
    ):
        if p == Path("/usr") or str(p).startswith("/usr/"):
            continue
        if not any(p == r or r in p.parents for r in roots):
            roots = [r for r in roots if p not in r.parents]
            roots.append(p)
    return roots


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


@dataclass(frozen=True)
class _Mount:
    source: Path
    dest: str
    writable: bool = False


def _mounts(ws: Workspace, run_dir: Path) -> list[_Mount]:
    mounts = [_Mount(Path("/usr"), "/usr")]
    for p in _python_roots():
        mounts.append(_Mount(p, str(p)))
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        if Path(name).is_file():
            mounts.append(_Mount(Path(name).resolve(), name))
    mounts += [
        _Mount(ws.data, "/data"),
        _Mount(run_dir / "job", "/job"),
        _Mount(run_dir / "outbox", "/outbox", writable=True),
        _Mount(run_dir / "scratch", "/scratch", writable=True),
    ]
    return mounts


def _bwrap_args(
    mounts: Sequence[_Mount], sources: Sequence[str], env: Mapping[str, str]
) -> list[str]:
    args = [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
    ]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / top
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{top}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{top}"]
    # /tmp first: a bind below /tmp (a checkout or venv under /tmp) must lie on top of it
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for m, src in zip(mounts, sources, strict=True):
        args += ["--bind" if m.writable else "--ro-bind", src, m.dest]
    args += ["--remount-ro", "/"]
    args += ["--chdir", "/scratch", "--clearenv"]
    for k, v in env.items():
        args += ["--setenv", k, v]
    return args


def _limits_args(limits: RunLimits) -> list[str]:
    return [
        "prlimit",
        f"--as={limits.memory_mb * 1024 * 1024}",
        f"--nproc={limits.max_processes}",
        f"--fsize={FILE_SIZE_LIMIT}",
        "--core=0",
        "--",
    ]


def _command(
    ws: Workspace,
    run_dir: Path,
    limits: RunLimits,
    env: Mapping[str, str],
    stage_dir: Path,
    uid: int,
) -> tuple[list[str], dict[str, Any]]:
    """The argv of the whole run, and a description of the sandbox for the record."""
    bwrap = bwrap_path()
    mounts = _mounts(ws, run_dir)
    python = [sys.executable, "-B", "-s", "-P", "-c", _INNER, "/job/script.py"]
    root = is_root()
    if root:
        # bind every source onto an empty mount point the sandbox user can traverse, inside a
        # private mount namespace (nobody else sees these mounts); the sources themselves
        # stay behind 0700 folders
        points = []
        lines = ["set -eu"]
        for i, m in enumerate(mounts):
            point = stage_dir / f"m{i}"
            if m.source.is_dir():
                point.mkdir(mode=0o755)
            else:
                point.touch(mode=0o644)
            points.append(str(point))
            lines.append(f"mount --bind {shlex.quote(str(m.source))} {shlex.quote(str(point))}")
        inner = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={SANDBOX_GID}",
            "--clear-groups",
            "--",
            *_limits_args(limits),
            bwrap,
            *_bwrap_args(mounts, points, env),
            *python,
        ]
        lines.append("exec " + shlex.join(inner))
        argv = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            "\n".join(lines),
        ]
    else:
        argv = [
            *_limits_args(limits),
            bwrap,
            *_bwrap_args(mounts, [str(m.source) for m in mounts], env),
            *python,
        ]
    desc = {
        "tool": "bubblewrap",
        "bwrap": bwrap,
        "namespaces": "user, mount, pid, network, ipc, uts, cgroup (--unshare-all)",
        "network": "none (a new network namespace with only loopback)",
        "capabilities": "none (--cap-drop ALL)",
        "uid": uid,
        "gid": SANDBOX_GID if root else os.getegid(),
        "privilege_drop": "setpriv from root in a private mount namespace" if root else "none",
        "mounts": [
            {"path": m.dest, "access": "read-write" if m.writable else "read-only"} for m in mounts
        ]
        + [
            {"path": "/tmp", "access": "read-write (private, in memory)"},
            {"path": "/", "access": "read-only (empty)"},
        ],
        "file_size_limit": FILE_SIZE_LIMIT,
    }
    return argv, desc


def _prepare_run_dir(ws: Workspace, run_id: str, script: Path, uid: int) -> Path:
    run_dir = private_dir(ws.run_dir(run_id))
    job = run_dir / "job"
    job.mkdir(mode=0o750)
    shutil.copyfile(script, job / "script.py")
    (job / "script.py").chmod(0o640)
    for d in ("outbox", "scratch"):
        (run_dir / d).mkdir(mode=0o700)
    if is_root():
        os.chown(job, 0, SANDBOX_GID)
        os.chown(job / "script.py", 0, SANDBOX_GID)
        for d in ("outbox", "scratch"):
            os.chown(run_dir / d, uid, SANDBOX_GID)
    return run_dir


def _read_channel(path: Path) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    started = ended = False
    unreadable = 0
    total = 0
    exit_code: Any = None
    if path.exists():
        for line in path.read_text("utf-8", errors="replace").splitlines():
            try:
                e = json.loads(line)
                kind = e["event"]
            except (ValueError, KeyError, TypeError):
                unreadable += 1
                continue
            if kind == "start":
                started = True
            elif kind == "end":
                ended = True
                exit_code = e.get("exit")
            else:
                total += 1
                key = json.dumps(e, sort_keys=True)
                if key not in seen and len(events) < MAX_EVENTS:
                    seen.add(key)
                    events.append(e)
    status = (
        "complete (start and end markers)"
        if started and ended
        else "incomplete: the script ended abnormally (killed, out of memory) or closed the "
        "channel, so later attempts may be missing"
        if started
        else "never started: the sandbox or the interpreter failed before the script"
    )
    return {
        "channel": status,
        "started": started,
        "ended": ended,
        "script_exit": exit_code,
        "attempts": events,
        "attempts_total": total,
        "unreadable_lines": unreadable,
    }


def _stderr_evidence(path: Path) -> tuple[list[str], list[str]]:
    text = path.read_text("utf-8", errors="replace") if path.exists() else ""
    lines = text.splitlines()
    denied = [ln.strip()[:300] for ln in lines if _DENIED_RE.search(ln)]
    return lines[-STDERR_TAIL:], denied[:MAX_EVENTS]


def _supersede(ws: Workspace, name: str, run_id: str) -> None:
    old = ws.output_dir(name)
    if old.exists():
        private_dir(ws.superseded)
        os.replace(old, ws.superseded / f"{name}@{run_id}")


def output_state(out_dir: Path) -> dict[str, Any]:
    return dict(read_json(out_dir / "state.json"))


def collect_outputs(
    ws: Workspace,
    run_id: str,
    run_dir: Path,
    rules: EnclaveRules,
    actor: str,
    log: AuditLog,
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Copy every output of the run's outbox to ``outputs/``, check it, mark it pending."""
    outbox = run_dir / "outbox"
    checked: dict[str, str] = {}
    refused: dict[str, str] = {}
    loose: list[str] = []
    for entry in sorted(outbox.iterdir()):
        if not entry.is_dir():
            loose.append(entry.name)
            continue
        name = entry.name
        if name.startswith(".") and name.endswith(".partial"):
            refused[name[:100]] = "unfinished: the script stopped while writing this output"
            continue
        if not _NAME_RE.fullmatch(name):
            refused[name[:100]] = "not an allowed output name"
            continue
        if not (entry / "output.json").is_file():
            refused[name] = "no output.json: not written with the herkomst.enclave API"
            continue
        existing = ws.output_dir(name)
        if existing.exists():
            state = output_state(existing).get("state")
            if state == OutputState.APPROVED:
                refused[name] = "an approved output has this name; write it under a new name"
                continue
        for reserved in RECORD_FILES - {"output.json"}:
            if (entry / reserved).exists():
                refused[name] = f"the output holds a file named {reserved}, which is reserved"
                break
        if name in refused:
            continue
        from .checking import check_output

        staging = private_dir(ws.root / ".incoming") / name
        copy_tree_private(entry, staging)
        try:
            result = check_output(staging, rules.checking, released=ws.released_dirs())
        except InputError as exc:
            shutil.rmtree(staging)
            refused[name] = f"the output cannot be checked: {exc.message}"
            continue
        _supersede(ws, name, run_id)
        os.replace(staging, ws.output_dir(name))
        out_dir = ws.output_dir(name)
        check = result.to_json()
        write_json(out_dir / "check.json", check)
        files = {
            p.relative_to(out_dir).as_posix(): _sha256_file(p)
            for p in sorted(out_dir.rglob("*"))
            if p.is_file() and p.name not in {"state.json"}
        }
        write_json(
            out_dir / "state.json",
            {
                "name": name,
                "run": run_id,
                "state": OutputState.PENDING.value,
                "status": str(result.status),
                "checked_at": _now().isoformat(),
                "decisions": [],
            },
        )
        checked[name] = str(result.status)
        log.append(
            "herkomst (automatic check)",
            "check",
            {
                "run": run_id,
                "output": name,
                "kind": result.kind,
                "status": str(result.status),
                "rules": {c.rule: str(c.status) for c in result.checks},
                "files": files,
                "checked_against_released": [p.name for p in ws.released_dirs()],
                "submitted_by": actor,
            },
        )
    return checked, refused, loose


def run_script(params: RunParams, log_key: bytes | None = None) -> RunResult:
    """Run the script in the sandbox, then check its outputs (see the module doc)."""
    ws = Workspace(params.warehouse.resolve(), params.project)
    ws.require_staged()
    project = get_project(params.warehouse, params.project)
    if project is None:
        raise UsageError(f"project '{params.project}' is not in the register")
    if project.status is ProjectStatus.DESTROYED:
        raise AuthorizationError(
            f"project '{params.project}' was destroyed at the end of its retention; no run"
        )
    if not params.script.is_file():
        raise UsageError(f"{params.script}: script not found")
    rules = load_enclave_rules(project.authorization_id)
    limits = _check_limits(params.limits, rules.run)
    roots = _python_roots()
    if _inside(ws.root.resolve(), roots):
        raise UsageError(
            f"{ws.root}: the workspace lies inside the Python installation or the herkomst "
            "package, which every run can read; put the warehouse elsewhere"
        )
    run_id = new_run_id()
    script_sha = _sha256_file(params.script)
    uid = free_sandbox_uid() if is_root() else os.geteuid()
    run_dir = _prepare_run_dir(ws, run_id, params.script, uid)
    channel = run_dir / "audit_hook.jsonl"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/scratch",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": "/tmp",
        "HERKOMST_ENCLAVE_DATA": "/data",
        "HERKOMST_ENCLAVE_OUTBOX": "/outbox",
        "HERKOMST_ENCLAVE_SCRATCH": "/scratch",
        "HERKOMST_ENCLAVE_RUN": run_id,
    }
    stage_dir = Path(tempfile.mkdtemp(prefix="herkomst-enclave-"))
    stage_dir.chmod(0o711)
    log = AuditLog(ws.log, params.project, log_key)
    started = _now()
    t0 = time.monotonic()
    timed_out = False
    try:
        ch_fd = os.open(channel, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        env["HERKOMST_ENCLAVE_AUDIT_FD"] = str(ch_fd)
        argv, sandbox = _command(ws, run_dir, limits, env, stage_dir, uid)
        with (run_dir / "stdout").open("wb") as so, (run_dir / "stderr").open("wb") as se:
            os.chmod(run_dir / "stdout", 0o600)
            os.chmod(run_dir / "stderr", 0o600)
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=so,
                    stderr=se,
                    pass_fds=(ch_fd,),
                    start_new_session=True,
                )
            except FileNotFoundError as exc:
                raise UsageError(f"cannot start the sandbox: {exc.filename} not found") from None
            finally:
                os.close(ch_fd)
            try:
                code: int | None = proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code = proc.returncode
    finally:
        _unmount_points(stage_dir)
    duration = time.monotonic() - t0
    ended = _now()
    hook = _read_channel(channel)
    tail, denied = _stderr_evidence(run_dir / "stderr")
    if not hook["started"] and not timed_out:
        msg = " ".join(tail[-3:]) or f"exit status {code}"
        if "bwrap" in msg or "setpriv" in msg or "unshare" in msg or "prlimit" in msg:
            _finish_failed(run_dir, log, params, run_id, script_sha, msg)
            raise UsageError(f"the sandbox could not start: {msg}")
    scratch_files = [p for p in (run_dir / "scratch").rglob("*") if p.is_file()]
    scratch_bytes = sum(p.stat().st_size for p in scratch_files if not p.is_symlink())
    shutil.rmtree(run_dir / "scratch", ignore_errors=True)
    lock_down(run_dir)
    checked, refused, loose = collect_outputs(ws, run_id, run_dir, rules, params.actor, log)
    record: dict[str, Any] = {
        "run": run_id,
        "project": params.project,
        "actor": params.actor,
        "script": {"name": params.script.name, "sha256": script_sha},
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "seconds": round(duration, 3),
        "limits": asdict(limits),
        "sandbox": sandbox,
        "exit_status": code,
        "timed_out": timed_out,
        "killed_by_signal": (signal.Signals(-code).name if code is not None and code < 0 else None),
        "stdout": {
            "bytes": (run_dir / "stdout").stat().st_size,
            "sha256": _sha256_file(run_dir / "stdout"),
        },
        "stderr": {
            "bytes": (run_dir / "stderr").stat().st_size,
            "sha256": _sha256_file(run_dir / "stderr"),
            "tail": tail,
        },
        "denied": {
            "audit_hook": hook,
            "errors_in_stderr": denied,
            "note": (
                "attempts are seen by a Python audit hook inside the sandbox (before the "
                "operating system refuses them) and by the errors the script printed; an "
                "attempt made outside Python's audit events and hidden by the script is not "
                "seen, but the sandbox makes it fail all the same"
            ),
        },
        "scratch": {"files": len(scratch_files), "bytes": scratch_bytes, "kept": False},
        "outputs": checked,
        "refused_outputs": refused,
        "loose_files": loose,
    }
    write_json(run_dir / "record.json", record)
    log.append(
        params.actor,
        "run",
        {
            "run": run_id,
            "script": params.script.name,
            "script_sha256": script_sha,
            "exit_status": code,
            "timed_out": timed_out,
            "seconds": round(duration, 3),
            "limits": asdict(limits),
            "outputs": checked,
            "refused_outputs": refused,
            "attempts_seen": hook["attempts_total"] + len(denied),
            "record_sha256": _sha256_file(run_dir / "record.json"),
            "stdout_sha256": record["stdout"]["sha256"],
            "stderr_sha256": record["stderr"]["sha256"],
        },
    )
    return RunResult(
        run_id=run_id,
        run_dir=run_dir,
        exit_status=code,
        timed_out=timed_out,
        outputs=checked,
        refused=refused,
        record=record,
    )


def _finish_failed(
    run_dir: Path, log: AuditLog, params: RunParams, run_id: str, script_sha: str, msg: str
) -> None:
    lock_down(run_dir)
    record = {"run": run_id, "script_sha256": script_sha, "error": f"sandbox did not start: {msg}"}
    write_json(run_dir / "record.json", record)
    log.append(params.actor, "run-failed", record)


def _unmount_points(stage_dir: Path) -> None:
    """Remove the per-run mount points (the mounts died with their private namespace)."""
    for p in sorted(stage_dir.iterdir()) if stage_dir.exists() else []:
        if p.is_dir() and not p.is_symlink():
            try:
                p.rmdir()
            except OSError:
                continue
        else:
            p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        stage_dir.rmdir()


# -- inside the sandbox ---------------------------------------------------------------------

_INNER = "from herkomst.enclave.sandbox import run_inside; run_inside()"

_WRITABLE = ("/outbox", "/scratch", "/tmp")


def run_inside() -> None:  # pragma: no cover - runs inside the sandbox (tested end to end)
    """Install the audit hook, then run ``sys.argv[1]`` as ``__main__``."""
    import runpy
    import traceback

    script = sys.argv[1]
    fd = int(os.environ.pop("HERKOMST_ENCLAVE_AUDIT_FD", "-1"))
    readable = (
        *_WRITABLE,
        "/data",
        "/job",
        "/usr",
        "/proc/self",
        "/dev",
        *map(str, _python_roots()),
    )
    python = ("/usr", *map(str, _python_roots()))
    state = {"busy": False}

    def emit(event: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            os.write(fd, (json.dumps(event, default=repr) + "\n").encode())

    def under(path: str, roots: Sequence[str]) -> bool:
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)

    def norm(p: Any) -> str | None:
        if isinstance(p, int):
            return None
        try:
            s = os.fsdecode(p)
        except TypeError:
            return None
        return os.path.normpath(os.path.join(os.getcwd(), s)) if s else None

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if state["busy"]:
            return
        state["busy"] = True
        try:
            if event == "open":
                path = norm(args[0])
                if path is None:
                    return
                mode = args[1] if len(args) > 1 else "r"
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                    flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
                )
                if writing and not under(path, _WRITABLE):
                    emit({"event": "write_outside_outbox", "path": path})
                elif writing and not os.path.isdir(os.path.dirname(path)):
                    # e.g. a host path under /tmp, which is private and empty in the sandbox
                    emit({"event": "write_not_found", "path": path})
                elif not writing and not under(path, readable):
                    emit({"event": "read_outside_mounts", "path": path})
                elif not writing and not under(path, python) and not os.path.exists(path):
                    # e.g. a host path under /tmp, which is private and empty in the sandbox
                    emit({"event": "read_not_found", "path": path})
            elif event in ("socket.connect", "socket.sendto", "socket.bind"):
                emit({"event": "network", "call": event, "address": repr(args[1])[:200]})
            elif event == "socket.getaddrinfo":
                emit({"event": "network", "call": event, "address": repr(args[0])[:200]})
            elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn"):
                emit({"event": "start_program", "call": event, "what": repr(args[0])[:200]})
            elif event in (
                "os.remove",
                "os.rename",
                "os.mkdir",
                "os.rmdir",
                "os.chmod",
                "os.chown",
                "os.symlink",
                "os.link",
                "os.truncate",
                "os.utime",
            ):
                path = norm(args[0])
                if path is not None and not under(path, _WRITABLE):
                    emit({"event": "write_outside_outbox", "call": event, "path": path})
            elif event in ("os.listdir", "os.scandir"):
                path = norm(args[0]) if args and args[0] is not None else None
                if path is not None and not under(path, readable) and path != "/":
                    emit({"event": "read_outside_mounts", "call": event, "path": path})
            elif event == "ctypes.dlopen":
                emit({"event": "native_code", "call": event, "what": repr(args[0])[:200]})
        finally:
            state["busy"] = False

    emit({"event": "start", "script": script})
    sys.addaudithook(hook)
    sys.argv = [script]
    code: Any = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if exc.code is not None else 0
    except BaseException:
        traceback.print_exc()
        code = 1
    emit({"event": "end", "exit": code if isinstance(code, int) else 1})
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)
