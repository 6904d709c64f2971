"""The rules of the secure research environment (phase 2 of deliberation 23/224), as data.

Two sections of the extract authorization (``rules/authorization_<id>.toml``) govern the
enclave: ``[enclave]`` (the limits of a researcher's run: wall time, memory, processes) and
``[output_checking]`` (the small-cell risk analysis every output goes through before it may
leave the bank, with SACRO's rules of thumb as the defaults: threshold 10, (n,k) dominance with
n=2, k=0.9, p-ratio 10%, at least 10 residual degrees of freedom, zeros and full cells flagged).

:func:`load_enclave_rules` validates both sections and fails closed (:class:`RuleError`): a
missing section, a missing or unknown key, a value of the wrong type or out of range.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import RuleError
from ..rules._toml import authorization_path, no_unknown, read_toml

DEFAULT_AUTHORIZATION = "23-224"


class Status(StrEnum):
    """The verdict of one rule on one output, and of the output (the worst of its rules)."""

    PASS = "pass"
    REVIEW = "review"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:  # pass < review < fail
        if isinstance(other, Status):
            return self.rank < other.rank
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Status):
            return self.rank <= other.rank
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Status):
            return self.rank > other.rank
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Status):
            return self.rank >= other.rank
        return NotImplemented

    @staticmethod
    def worst(statuses: Any) -> Status:
        """The worst of ``statuses`` (an iterable of Status); PASS when empty."""
        out = Status.PASS
        for s in statuses:
            if Status(s).rank > out.rank:
                out = Status(s)
        return out


_RANK = {Status.PASS: 0, Status.REVIEW: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class RunLimits:
    """Limits of one researcher run inside the sandbox."""

    wall_seconds: int
    memory_mb: int
    max_processes: int
    clause: str


@dataclass(frozen=True)
class CheckRules:
    """Thresholds of the output checks (SACRO's rules of thumb as defaults)."""

    threshold: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.9
    p_ratio: float = 0.10
    min_dof: int = 10
    zeros: Status = Status.REVIEW
    full_cells: Status = Status.REVIEW
    differencing: bool = True
    clause: str = ""


@dataclass(frozen=True)
class EnclaveRules:
    """The validated enclave sections of one authorization file."""

    authorization_id: str
    run: RunLimits
    checking: CheckRules
    path: Path
    sha256: str

    def provenance(self) -> dict[str, Any]:
        return {
            "authorization": self.authorization_id,
            "file": self.path.name,
            "sha256": self.sha256,
            "run": dataclasses.asdict(self.run),
            "checking": {
                f.name: (
                    str(getattr(self.checking, f.name))
                    if isinstance(getattr(self.checking, f.name), Status)
                    else getattr(self.checking, f.name)
                )
                for f in dataclasses.fields(self.checking)
            },
        }


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    if key not in data:
        raise RuleError(f"{where}: missing section [{key}] (the enclave needs it)")
    sect = data[key]
    if not isinstance(sect, dict):
        raise RuleError(f"{where}: [{key}] must be a table")
    return dict(sect)


def _typed(sect: dict[str, Any], key: str, typ: type, where: str) -> Any:
    if key not in sect:
        raise RuleError(f"{where}: missing key '{key}'")
    v = sect[key]
    if typ is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, typ) or (typ is not bool and isinstance(v, bool)):
        raise RuleError(
            f"{where}: key '{key}' must be {typ.__name__}, not {type(v).__name__} ({v!r})"
        )
    return v


def _check_rules(sect: dict[str, Any], where: str) -> CheckRules:
    fields = {f.name: f for f in dataclasses.fields(CheckRules)}
    no_unknown(sect, set(fields), where)
    if "clause" not in sect:
        raise RuleError(f"{where}: missing key 'clause'")
    values: dict[str, Any] = {}
    for name, value in sect.items():
        default = fields[name].default
        if isinstance(default, Status):
            if not isinstance(value, str) or value not in {s.value for s in Status}:
                raise RuleError(f"{where}: key '{name}' must be one of pass, review, fail")
            values[name] = Status(value)
        else:
            values[name] = _typed(sect, name, type(default), where)
    rules = CheckRules(**values)
    if rules.threshold < 1:
        raise RuleError(f"{where}: threshold must be at least 1")
    if rules.dominance_n < 1:
        raise RuleError(f"{where}: dominance_n must be at least 1")
    if not 0.0 < rules.dominance_k <= 1.0:
        raise RuleError(f"{where}: dominance_k must be in (0, 1]")
    if not 0.0 <= rules.p_ratio < 1.0:
        raise RuleError(f"{where}: p_ratio must be in [0, 1)")
    if rules.min_dof < 0:
        raise RuleError(f"{where}: min_dof must be at least 0")
    return rules


def _run_limits(sect: dict[str, Any], where: str) -> RunLimits:
    allowed = {"wall_seconds", "memory_mb", "max_processes", "clause"}
    no_unknown(sect, allowed, where)
    limits = RunLimits(
        wall_seconds=_typed(sect, "wall_seconds", int, where),
        memory_mb=_typed(sect, "memory_mb", int, where),
        max_processes=_typed(sect, "max_processes", int, where),
        clause=_typed(sect, "clause", str, where),
    )
    if not 1 <= limits.wall_seconds <= 86_400:
        raise RuleError(f"{where}: wall_seconds must be between 1 and 86400")
    if not 64 <= limits.memory_mb <= 1_048_576:
        raise RuleError(f"{where}: memory_mb must be between 64 and 1048576")
    if not 1 <= limits.max_processes <= 4096:
        raise RuleError(f"{where}: max_processes must be between 1 and 4096")
    return limits


def load_enclave_rules(name_or_path: str | Path = DEFAULT_AUTHORIZATION) -> EnclaveRules:
    """Load ``[enclave]`` and ``[output_checking]`` of an authorization; fail closed."""
    path = authorization_path(name_or_path)
    data, raw = read_toml(path)
    w = path.name
    auth_id = data.get("id")
    if not isinstance(auth_id, str) or not auth_id:
        raise RuleError(f"{w}: missing key 'id'")
    run = _run_limits(_table(data, "enclave", w), f"{w} [enclave]")
    checking = _check_rules(_table(data, "output_checking", w), f"{w} [output_checking]")
    return EnclaveRules(
        authorization_id=auth_id,
        run=run,
        checking=checking,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
