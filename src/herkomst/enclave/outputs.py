"""The output record: what a researcher's output is, and everything checking needs about it.

Every output made with the researcher API (:mod:`herkomst.enclave.api`) is a folder
``<outbox>/<name>/`` with

- ``output.json``: this record (:meth:`OutputRecord.to_json`): the kind, the query (filters,
  grouping variables, value variable, statistic), every cell with its underlying count (and for
  magnitude cells the sum, the number of negative values and the top contributors' *values*,
  never their sequence numbers), the model's degrees of freedom, the files it made;
- the files the researcher sees (``table.csv``, ``coefficients.csv``, a figure, a free file),
  listed in ``files``;
- ``membership.parquet`` (``seq_no``, ``year``, ``cell``): the interior cell each record fell
  in, for the differencing check.

``output.json`` (contributors' values) and ``membership.parquet`` (sequence numbers) are
internal to the enclave: only the files listed in ``files`` may ever be exported.

:func:`read_output` validates a record and fails with a one-line :class:`InputError` naming the
file on anything malformed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import InputError

FORMAT = "herkomst.enclave.output/1"
RECORD_FILE = "output.json"
MEMBERSHIP_FILE = "membership.parquet"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
INTERNAL_FILES = frozenset({RECORD_FILE, MEMBERSHIP_FILE})


class OutputKind(StrEnum):
    FREQUENCY = "frequency"
    CROSSTAB = "crosstab"
    PERCENTAGES = "percentages"
    MAGNITUDE = "magnitude"
    QUANTILES = "quantiles"
    REGRESSION = "regression"
    FIGURE = "figure"
    FREE_FILE = "free_file"


COUNT_KINDS = frozenset({OutputKind.FREQUENCY, OutputKind.CROSSTAB, OutputKind.PERCENTAGES})
TABLE_KINDS = COUNT_KINDS | {OutputKind.MAGNITUDE, OutputKind.QUANTILES}
FILE_KINDS = frozenset({OutputKind.FIGURE, OutputKind.FREE_FILE})


def valid_name(name: str) -> bool:
    return bool(NAME_RE.match(name))


@dataclass(frozen=True)
class Query:
    """How the output was computed (what a reviewer needs to judge it)."""

    rows: tuple[str, ...] = ()
    cols: tuple[str, ...] = ()
    where: str | None = None
    value: str | None = None
    statistic: str | None = None  # sum, mean, percent, quantiles, ols
    margin: str | None = None  # percentages: row or col
    quantiles: tuple[float, ...] = ()
    regressors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cell:
    """One cell of a table output (interior or total).

    ``id`` is what ``membership.parquet`` refers to (interior cells only); a total lists the
    interior cells it adds up in ``parts``. ``stats`` holds the published statistic(s) of the
    cell (percent, sum, mean, quantiles). ``sum``, ``top`` and ``negatives`` are the magnitude
    evidence (the top contributors' values, largest first).
    """

    id: str
    key: tuple[tuple[str, str], ...]
    count: int
    total: bool = False
    parts: tuple[str, ...] = ()
    stats: tuple[tuple[str, float | None], ...] = ()
    sum: float | None = None
    top: tuple[float, ...] = ()
    negatives: int = 0
    suppressed: bool = False

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.key) or "all"

    def stat(self, name: str) -> float | None:
        return dict(self.stats).get(name)


@dataclass(frozen=True)
class Coefficient:
    name: str
    estimate: float
    std_error: float


@dataclass(frozen=True)
class Model:
    """A regression result: coefficients and standard errors, n and residual dof."""

    n: int
    dof: int
    rank: int
    coefficients: tuple[Coefficient, ...]
    r_squared: float | None = None


@dataclass(frozen=True)
class OutputRecord:
    name: str
    kind: OutputKind
    query: Query = field(default_factory=Query)
    cells: tuple[Cell, ...] = ()
    model: Model | None = None
    files: tuple[str, ...] = ()
    description: str = ""
    membership: bool = False
    derived_from: str | None = None  # the output a mitigation was applied to
    mitigation: str | None = None
    run: str | None = None

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise InputError(
                f"output name {self.name!r} is not allowed: use 1-64 letters, digits, "
                "'_' or '-', starting with a letter or digit"
            )
        ids = [c.id for c in self.cells]
        if len(set(ids)) != len(ids):
            raise InputError(f"output {self.name}: duplicate cell ids")
        interior = {c.id for c in self.cells if not c.total}
        for c in self.cells:
            if c.count < 0:
                raise InputError(f"output {self.name}: cell {c.id} has a negative count")
            if c.total and not set(c.parts) <= interior:
                raise InputError(f"output {self.name}: total {c.id} names unknown cells")
        for f in self.files:
            if not FILE_RE.match(f) or f in INTERNAL_FILES:
                raise InputError(f"output {self.name}: file name {f!r} is not allowed")

    def cell(self, cell_id: str) -> Cell:
        for c in self.cells:
            if c.id == cell_id:
                return c
        raise InputError(f"output {self.name} has no cell {cell_id!r}")

    @property
    def interior(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if not c.total)

    # -- serialisation -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        q = self.query
        return {
            "format": FORMAT,
            "name": self.name,
            "kind": str(self.kind),
            "description": self.description,
            "query": {
                "rows": list(q.rows),
                "cols": list(q.cols),
                "where": q.where,
                "value": q.value,
                "statistic": q.statistic,
                "margin": q.margin,
                "quantiles": list(q.quantiles),
                "regressors": list(q.regressors),
            },
            "cells": [
                {
                    "id": c.id,
                    "key": [[k, v] for k, v in c.key],
                    "count": c.count,
                    "total": c.total,
                    "parts": list(c.parts),
                    "stats": [[k, v] for k, v in c.stats],
                    "sum": c.sum,
                    "top": list(c.top),
                    "negatives": c.negatives,
                    "suppressed": c.suppressed,
                }
                for c in self.cells
            ],
            "model": None
            if self.model is None
            else {
                "n": self.model.n,
                "dof": self.model.dof,
                "rank": self.model.rank,
                "r_squared": self.model.r_squared,
                "coefficients": [
                    {"name": k.name, "estimate": k.estimate, "std_error": k.std_error}
                    for k in self.model.coefficients
                ],
            },
            "files": list(self.files),
            "membership": MEMBERSHIP_FILE if self.membership else None,
            "derived_from": self.derived_from,
            "mitigation": self.mitigation,
            "run": self.run,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, data: Any, where: str = "output.json") -> OutputRecord:
        return _parse(data, where)


# -- parsing (fail closed, one line naming the file) ------------------------------------------


class _Bad(Exception):
    pass


def _get(d: Any, key: str, typ: type | tuple[type, ...], path: str, optional: bool = False) -> Any:
    if not isinstance(d, dict):
        raise _Bad(f"{path} must be an object")
    if key not in d:
        raise _Bad(f"missing key {path}.{key}")
    v = d[key]
    if v is None and optional:
        return None
    if isinstance(v, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,)):
        raise _Bad(f"{path}.{key} has the wrong type")
    if not isinstance(v, typ):
        raise _Bad(f"{path}.{key} has the wrong type ({type(v).__name__})")
    return v


def _num(v: Any, path: str, optional: bool = False) -> float | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _Bad(f"{path} must be a finite number")
    return float(v)


def _strs(v: Any, path: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _Bad(f"{path} must be a list of strings")
    return tuple(v)


def _pairs(v: Any, path: str, numeric: bool) -> tuple[tuple[str, Any], ...]:
    if not isinstance(v, list):
        raise _Bad(f"{path} must be a list of pairs")
    out: list[tuple[str, Any]] = []
    for i, p in enumerate(v):
        if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)):
            raise _Bad(f"{path}[{i}] must be a [name, value] pair")
        if numeric:
            out.append((p[0], _num(p[1], f"{path}[{i}]", optional=True)))
        else:
            if not isinstance(p[1], str):
                raise _Bad(f"{path}[{i}] value must be a string")
            out.append((p[0], p[1]))
    return tuple(out)


def _parse(data: Any, where: str) -> OutputRecord:
    try:
        fmt = _get(data, "format", str, "output")
        if fmt != FORMAT:
            raise _Bad(f"format is {fmt!r}, expected {FORMAT!r}")
        kind_s = _get(data, "kind", str, "output")
        try:
            kind = OutputKind(kind_s)
        except ValueError:
            raise _Bad(
                f"unknown kind {kind_s!r} (one of {', '.join(k.value for k in OutputKind)})"
            ) from None
        qd = _get(data, "query", dict, "output")
        qs = _get(qd, "quantiles", list, "query")
        query = Query(
            rows=_strs(_get(qd, "rows", list, "query"), "query.rows"),
            cols=_strs(_get(qd, "cols", list, "query"), "query.cols"),
            where=_get(qd, "where", str, "query", optional=True),
            value=_get(qd, "value", str, "query", optional=True),
            statistic=_get(qd, "statistic", str, "query", optional=True),
            margin=_get(qd, "margin", str, "query", optional=True),
            quantiles=tuple(float(_num(x, "query.quantiles") or 0.0) for x in qs),
            regressors=_strs(_get(qd, "regressors", list, "query"), "query.regressors"),
        )
        cells: list[Cell] = []
        for i, cd in enumerate(_get(data, "cells", list, "output")):
            p = f"cells[{i}]"
            count = _get(cd, "count", int, p)
            cells.append(
                Cell(
                    id=_get(cd, "id", str, p),
                    key=_pairs(_get(cd, "key", list, p), f"{p}.key", numeric=False),
                    count=count,
                    total=_get(cd, "total", bool, p),
                    parts=_strs(_get(cd, "parts", list, p), f"{p}.parts"),
                    stats=_pairs(_get(cd, "stats", list, p), f"{p}.stats", numeric=True),
                    sum=_num(cd.get("sum"), f"{p}.sum", optional=True),
                    top=tuple(float(_num(x, f"{p}.top") or 0.0) for x in _get(cd, "top", list, p)),
                    negatives=_get(cd, "negatives", int, p),
                    suppressed=_get(cd, "suppressed", bool, p),
                )
            )
        md = _get(data, "model", dict, "output", optional=True)
        model = None
        if md is not None:
            coefs = tuple(
                Coefficient(
                    name=_get(c, "name", str, f"model.coefficients[{j}]"),
                    estimate=float(_num(c.get("estimate"), "estimate") or 0.0),
                    std_error=float(_num(c.get("std_error"), "std_error") or 0.0),
                )
                for j, c in enumerate(_get(md, "coefficients", list, "model"))
            )
            model = Model(
                n=_get(md, "n", int, "model"),
                dof=_get(md, "dof", int, "model"),
                rank=_get(md, "rank", int, "model"),
                coefficients=coefs,
                r_squared=_num(md.get("r_squared"), "model.r_squared", optional=True),
            )
        membership = _get(data, "membership", str, "output", optional=True)
        if membership not in (None, MEMBERSHIP_FILE):
            raise _Bad(f"membership must be {MEMBERSHIP_FILE!r} or null")
        return OutputRecord(
            name=_get(data, "name", str, "output"),
            kind=kind,
            query=query,
            cells=tuple(cells),
            model=model,
            files=_strs(_get(data, "files", list, "output"), "files"),
            description=_get(data, "description", str, "output"),
            membership=membership is not None,
            derived_from=_get(data, "derived_from", str, "output", optional=True),
            mitigation=_get(data, "mitigation", str, "output", optional=True),
            run=_get(data, "run", str, "output", optional=True),
        )
    except _Bad as e:
        raise InputError(f"{where}: malformed output record: {e}") from None
    except InputError as e:
        raise InputError(f"{where}: {e.message}") from None


def read_output(output_dir: Path) -> OutputRecord:
    """The validated record of an output folder (a one-line InputError naming the file)."""
    path = Path(output_dir) / RECORD_FILE
    if not path.is_file():
        raise InputError(f"{path}: no output record (not an output folder?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e.msg if hasattr(e, 'msg') else e})") from None
    rec = _parse(data, str(path))
    if rec.name != path.parent.name:
        raise InputError(f"{path}: names output {rec.name!r} but lives in {path.parent.name!r}")
    for f in rec.files:
        if not (path.parent / f).is_file():
            raise InputError(f"{path}: lists file {f!r}, which is missing")
    if rec.membership and not (path.parent / MEMBERSHIP_FILE).is_file():
        raise InputError(f"{path}: {MEMBERSHIP_FILE} is missing")
    return rec
