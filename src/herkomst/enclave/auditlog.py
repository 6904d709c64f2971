"""The enclave's audit log: append-only JSON lines, each entry chained to the one before.

Every stage, run, check, decision and export of a project appends one entry to
``<workspace>/log.jsonl``::

    {"seq": 7, "time": "2024-03-04T10:11:12.123456+00:00", "actor": "supervisor",
     "action": "approve", "details": {...}, "alg": "sha256", "prev": "<hash of entry 6>",
     "hash": "<hash of this entry>"}

``hash`` is SHA-256 (or HMAC-SHA256 under a key, ``alg = "hmac-sha256"``) of the entry's
canonical JSON without ``hash`` (sorted keys, no spaces). The first entry's ``prev`` is the
hash of the project id, so a log copied to another project does not verify. A side file
``log.head`` keeps the last ``seq`` and ``hash``.

:func:`verify_log` walks the chain and names the first bad entry: a changed entry (its hash
does not match), a removed or reordered one (a ``seq`` out of order, a ``prev`` that is not
the previous entry's hash), an unreadable line, or entries cut off the end (fewer than
``log.head`` says). Limits, said plainly: someone who can write the folder can rewrite the
whole chain and the head consistently with plain SHA-256; with an HMAC key kept outside the
workspace (``HERKOMST_ENCLAVE_LOG_KEY``) they cannot without the key. The hashes each export
writes into its ``results.json`` anchor the chain outside the enclave as well.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError

LOG_KEY_ENV = "HERKOMST_ENCLAVE_LOG_KEY"
ALG_SHA = "sha256"
ALG_HMAC = "hmac-sha256"


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def genesis(project: str) -> str:
    return hashlib.sha256(b"herkomst-enclave-log:" + project.encode()).hexdigest()


def _digest(body: Mapping[str, Any], key: bytes | None) -> str:
    raw = canonical(body)
    if key is None:
        return hashlib.sha256(raw).hexdigest()
    return hmac.new(key, raw, hashlib.sha256).hexdigest()


def read_log_key(path: Path | None = None) -> bytes | None:
    """The HMAC key from a file or ``HERKOMST_ENCLAVE_LOG_KEY`` (None: plain SHA-256)."""
    if path is not None:
        if not path.is_file():
            raise UsageError(f"{path}: log key file not found")
        text = path.read_text("utf-8").strip()
    else:
        text = os.environ.get(LOG_KEY_ENV, "").strip()
        if not text:
            return None
    if len(text) < 32:
        raise UsageError("the log key must be at least 32 characters (e.g. 64 hex digits)")
    return text.encode()


@dataclass(frozen=True)
class LogEntry:
    seq: int
    time: str
    actor: str
    action: str
    details: Mapping[str, Any]
    alg: str
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "details": dict(self.details),
            "alg": self.alg,
            "prev": self.prev,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class LogCheck:
    """The verdict of :func:`verify_log`."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str = ""
    head: str = ""

    def message(self) -> str:
        if self.ok:
            return f"log verified: {self.entries} entries, head {self.head[:16]}"
        return f"log broken at entry {self.first_bad_seq}: {self.reason}"


class AuditLog:
    """The append-only, hash-chained log of one project's enclave."""

    def __init__(self, path: Path, project: str, key: bytes | None = None) -> None:
        self.path = path
        self.project = project
        self.key = key
        self.head_path = path.with_name(path.name.replace(".jsonl", "") + ".head")

    @contextmanager
    def _locked(self) -> Iterator[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _last(self) -> tuple[int, str]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, genesis(self.project)
        with self.path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            back = min(size, 65536)
            while True:
                fh.seek(size - back)
                lines = fh.read(back).splitlines()
                if len(lines) > 1 or back == size:
                    break
                back = min(size, back * 4)
        try:
            last = json.loads(lines[-1])
            return int(last["seq"]), str(last["hash"])
        except (ValueError, KeyError, TypeError, IndexError):
            raise InputError(
                f"{self.path}: the last entry is unreadable; run `herkomst enclave verify-log`"
            ) from None

    def append(self, actor: str, action: str, details: Mapping[str, Any]) -> LogEntry:
        """Append one entry (under an exclusive lock) and return it."""
        with self._locked() as fd:
            seq, prev = self._last()
            body: dict[str, Any] = {
                "seq": seq + 1,
                "time": dt.datetime.now(dt.UTC).isoformat(),
                "actor": actor,
                "action": action,
                "details": json.loads(json.dumps(dict(details), default=str)),
                "alg": ALG_SHA if self.key is None else ALG_HMAC,
                "prev": prev,
            }
            digest = _digest(body, self.key)
            entry = LogEntry(hash=digest, **body)
            os.write(fd, canonical(entry.as_dict()) + b"\n")
            os.fsync(fd)
            head = canonical({"seq": entry.seq, "hash": digest}) + b"\n"
            tmp = self.head_path.with_name(self.head_path.name + ".tmp")
            hfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(hfd, "wb") as fh:
                fh.write(head)
            os.replace(tmp, self.head_path)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry as written (unverified; see :meth:`verify`)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text("utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"unreadable": line[:80]})
        return out

    def head(self) -> tuple[int, str]:
        return self._last()

    def verify(self) -> LogCheck:
        return verify_log(self.path, self.project, self.key)


def verify_log(path: Path, project: str, key: bytes | None = None) -> LogCheck:
    """Walk the chain; the first changed, removed, reordered or unreadable entry fails it."""
    if not path.exists():
        return LogCheck(ok=True, entries=0, head=genesis(project))
    prev = genesis(project)
    expected = 1
    n = 0
    for lineno, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            return LogCheck(False, n, expected, f"line {lineno} is empty")
        try:
            entry = json.loads(line)
            seq = entry["seq"]
            body = {k: v for k, v in entry.items() if k != "hash"}
            stored = entry["hash"]
            alg = entry["alg"]
        except (ValueError, KeyError, TypeError):
            return LogCheck(False, n, expected, f"line {lineno} is not a log entry")
        if not isinstance(seq, int):
            return LogCheck(False, n, expected, f"line {lineno} has no whole-number seq")
        if alg == ALG_HMAC and key is None:
            raise UsageError(
                f"{path}: the log is keyed (HMAC); give the key ({LOG_KEY_ENV} or --log-key-file)"
            )
        if alg not in (ALG_SHA, ALG_HMAC):
            return LogCheck(False, n, seq, f"unknown hash algorithm '{alg}'")
        digest = _digest(body, key if alg == ALG_HMAC else None)
        if not hmac.compare_digest(digest, str(stored)):
            return LogCheck(False, n, seq, "the entry was changed (its hash does not match)")
        if seq != expected:
            return LogCheck(
                False,
                n,
                seq,
                f"seq {seq} where {expected} was expected: an entry was removed or reordered",
            )
        if entry["prev"] != prev:
            return LogCheck(
                False, n, seq, "it does not follow the entry before it (removed or reordered)"
            )
        if key is not None and alg != ALG_HMAC:
            return LogCheck(False, n, seq, "an unkeyed entry in a keyed log")
        prev = str(stored)
        expected += 1
        n += 1
    head_path = path.with_name(path.name.replace(".jsonl", "") + ".head")
    if head_path.exists():
        try:
            head = json.loads(head_path.read_text("utf-8"))
            head_seq, head_hash = int(head["seq"]), str(head["hash"])
        except (ValueError, KeyError, TypeError):
            return LogCheck(False, n, n + 1, f"{head_path.name} is unreadable")
        if head_seq > n or (head_seq == n and head_hash != prev):
            return LogCheck(
                False,
                n,
                n + 1 if head_seq > n else n,
                f"{head_path.name} records {head_seq} entries; entries were cut off the end",
            )
    return LogCheck(ok=True, entries=n, head=prev)
