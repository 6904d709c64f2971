"""Rule tables as versioned, validated data.

Every domain rule herkomst applies (EU membership, former states, country classes, origin
groups, age classes, audiences and thresholds, authorizations) is a data file in this folder,
listed in ``index.toml`` with its version, columns, sources and whether its content is
confirmed by a source. :func:`load` validates a table against its index entry and fails
closed: a missing file, a missing column or an empty required value is a :class:`RuleError`.

A user can point herkomst at another folder (``--rules DIR``) holding some or all tables;
each table comes from the user's folder when present there, otherwise from the bundled one.
Every output's manifest records which tables were used with their version and SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RuleError

BUNDLED = Path(__file__).resolve().parent


@dataclass(frozen=True)
class RuleTable:
    """One validated rule table."""

    name: str
    version: str
    path: Path
    sha256: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, str], ...]
    confirmed: bool
    sources: tuple[str, ...] = ()
    description: str = ""

    def __iter__(self) -> Iterator[Mapping[str, str]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[str]:
        return [r[name] for r in self.rows]

    def provenance(self) -> dict[str, Any]:
        """What a manifest records about this table."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "source": "bundled" if self.path.parent == BUNDLED else "user",
            "confirmed": self.confirmed,
        }


@dataclass(frozen=True)
class RuleSet:
    """Where rule tables come from: an optional user folder over the bundled one."""

    user_dir: Path | None = None
    _cache: dict[str, RuleTable] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise RuleError(f"{self.user_dir}: rules folder not found")

    def table(self, name: str) -> RuleTable:
        if name not in self._cache:
            self._cache[name] = load(name, self.user_dir)
        return self._cache[name]

    def provenance(self) -> list[dict[str, Any]]:
        return [self._cache[k].provenance() for k in sorted(self._cache)]


def index() -> dict[str, dict[str, Any]]:
    """The bundled index of rule tables."""
    with (BUNDLED / "index.toml").open("rb") as fh:
        data = tomllib.load(fh)
    tables = data.get("table", {})
    if not isinstance(tables, dict):
        raise RuleError("rules/index.toml: [table.*] sections expected")
    return tables


def load(name: str, user_dir: Path | None = None) -> RuleTable:
    """Load and validate one rule table by name."""
    entries = index()
    if name not in entries:
        raise RuleError(f"unknown rule table '{name}' (known: {', '.join(sorted(entries))})")
    entry = entries[name]
    filename = str(entry["file"])
    path = BUNDLED / filename
    if user_dir is not None and (user_dir / filename).is_file():
        path = user_dir / filename
    if not path.is_file():
        raise RuleError(f"{path}: rule table '{name}' not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RuleError(f"{path}: rule table is not UTF-8") from None
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = tuple(reader.fieldnames or ())
    columns = tuple(entry["columns"])
    missing = [c for c in columns if c not in header]
    if missing:
        raise RuleError(f"{path}: rule table '{name}' lacks column(s) {', '.join(missing)}")
    optional = set(entry.get("optional", []))
    rows: list[dict[str, str]] = []
    for i, row in enumerate(reader, start=1):
        clean = {c: (row.get(c) or "").strip() for c in header}
        for c in columns:
            if c not in optional and not clean[c]:
                raise RuleError(f"{path}: row {i}, column {c}: empty value in rule table '{name}'")
        rows.append(clean)
    key = entry.get("key")
    if key:
        keycols = [key] if isinstance(key, str) else list(key)
        seen: set[tuple[str, ...]] = set()
        for i, r in enumerate(rows, start=1):
            k = tuple(r[c] for c in keycols)
            if k in seen:
                raise RuleError(f"{path}: row {i}: duplicate key {k} in rule table '{name}'")
            seen.add(k)
    return RuleTable(
        name=name,
        version=str(entry["version"]),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        columns=header,
        rows=tuple(rows),
        confirmed=bool(entry.get("confirmed", False)),
        sources=tuple(entry.get("sources", [])),
        description=str(entry.get("description", "")),
    )
