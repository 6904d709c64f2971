"""Reading authorization files (TOML) the same way everywhere: found by id or path, decoded
strictly, every key typed and every unknown key refused (fail closed), errors naming the
file and the section."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import RuleError
from . import BUNDLED


def authorization_path(name_or_path: str | Path, rules_dir: Path | None = None) -> Path:
    """``13-71`` -> the bundled ``authorization_13-71.toml`` (or the one in ``rules_dir``);
    a path with a suffix is taken as it is."""
    path = Path(name_or_path)
    if not path.suffix:
        filename = f"authorization_{name_or_path}.toml"
        path = BUNDLED / filename
        if rules_dir is not None and (rules_dir / filename).is_file():
            path = rules_dir / filename
    if not path.is_file():
        raise RuleError(f"{path}: authorization file not found")
    return path


def read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    """The parsed file and its bytes (for the hash recorded with every delivery)."""
    raw = path.read_bytes()
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"{path}: not a valid TOML file ({exc})") from None


def req(d: Mapping[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    """``d[key]``, which must exist and be of ``typ`` (a bool is not an int)."""
    if key not in d:
        raise RuleError(f"{where}: missing key '{key}'")
    v = d[key]
    if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
        raise RuleError(f"{where}: key '{key}' has the wrong type ({type(v).__name__})")
    return v


def no_unknown(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise RuleError(f"{where}: unknown key(s) {', '.join(extra)}")


def section(d: Mapping[str, Any], key: str, allowed: set[str], where: str) -> dict[str, Any]:
    """The table ``[key]`` of ``d`` with only ``allowed`` keys."""
    sect = req(d, key, dict, where)
    no_unknown(sect, allowed, f"{where} [{key}]")
    return dict(sect)
