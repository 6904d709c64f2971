"""Mitigations a researcher applies to a failing output, making a new output to re-check.

- :func:`suppress`: hide the failing cells (count and statistic shown as ``x``) and as many
  complementary cells as needed so that no hidden small count can be recovered from the
  totals, nor from the project's released outputs. The pattern is verified by the
  differencing LP (:mod:`herkomst.enclave.differencing`), not by a rule of thumb: a cell is
  added (the smallest non-zero cell sharing a total with a revealed one; zeros are never
  complementary cells, since the attacker is assumed to know which combinations are empty)
  until no hidden small count is revealed.
- :func:`coarsen`: merge categories of one variable (e.g. two age classes) and rebuild the
  table and its membership from the cells (no access to the data needed; quantiles cannot be
  merged this way: re-make them from the data with the coarser class).

Both write ``<outbox>/<new name>/`` with ``derived_from`` and ``mitigation`` in the record; the
original output is left unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InputError, UsageError
from . import api
from .differencing import check_differencing
from .outputs import (
    COUNT_KINDS,
    MEMBERSHIP_FILE,
    Cell,
    OutputKind,
    OutputRecord,
    read_output,
    valid_name,
)
from .rules import CheckRules

_ID = re.compile(r"^(?:r(\d+)|T)(?:c(\d+)|T)?$")


def _resolve(output: str | Path, outbox: str | Path | None) -> Path:
    p = Path(output)
    if p.is_dir():
        return p
    if isinstance(output, str) and valid_name(output):
        d = api._outbox(outbox) / output
        if d.is_dir():
            return d
    raise UsageError(f"no output {str(output)!r} (give its name in the outbox or its folder)")


def _siblings(rec: OutputRecord, cell_id: str) -> list[str]:
    """Cells that share a total with ``cell_id``: interior ones first, then totals."""
    ids = [c.id for c in rec.cells]
    m = _ID.match(cell_id)
    if rec.kind not in COUNT_KINDS or m is None:
        return [i for i in ids if i != cell_id]
    row, col = m.group(1), m.group(2)
    has_cols = bool(rec.query.cols)
    interior: list[str] = []
    totals: list[str] = []
    for i in ids:
        if i == cell_id:
            continue
        mi = _ID.match(i)
        if mi is None:
            continue
        r, c = mi.group(1), mi.group(2)
        is_total = i == "T" or i.endswith("T") or i.startswith("T")
        if not has_cols:
            (totals if is_total else interior).append(i)
            continue
        if row is not None and col is not None:  # interior r{i}c{j}
            if not is_total and (r == row or c == col):
                interior.append(i)
            elif i in (f"r{row}T", f"Tc{col}"):
                totals.append(i)
        elif row is not None:  # row total r{i}T
            if i.endswith("T") and r is not None and i != "T":
                interior.append(i)
            elif i == "T":
                totals.append(i)
        elif col is not None:  # column total Tc{j}
            if i.startswith("Tc"):
                interior.append(i)
            elif i == "T":
                totals.append(i)
    return interior + totals


def plan_suppression(
    rec: OutputRecord,
    output_dir: Path,
    rules: CheckRules,
    primary: Sequence[str],
    released: Sequence[Path] = (),
) -> tuple[str, ...]:
    """The cells to hide: ``primary`` and the complementary cells that protect them."""
    for c in primary:
        rec.cell(c)
    others = []
    for d in released:
        r = read_output(Path(d))
        if r.name != rec.name and r.membership:
            others.append((r, Path(d)))
    hidden = set(primary)
    counts = {c.id: c.count for c in rec.cells}
    for _ in range(len(rec.cells) + 1):
        cand = _with_suppressed(rec, hidden)
        if not rec.membership:
            return tuple(sorted(hidden))
        res = check_differencing([(cand, output_dir), *others], rules.threshold, guard=True)
        small = sorted({c for f in res.findings if f.kind != "narrow" for c in f.cells})
        narrow = sorted({c for f in res.findings if f.kind == "narrow" for c in f.cells})
        if not small:
            return tuple(sorted(hidden, key=[c.id for c in rec.cells].index))
        progress = False
        for c in small + narrow:
            if c not in hidden:
                hidden.add(c)
                progress = True
                continue
            options = [s for s in _siblings(rec, c) if s not in hidden and counts[s] > 0]
            if options:
                best = min(options, key=lambda s: (counts[s], s))
                hidden.add(best)
                progress = True
        if not progress:
            break
    raise InputError(
        f"output {rec.name}: no suppression pattern protects the small cells; coarsen instead"
    )


def _with_suppressed(rec: OutputRecord, hidden: set[str]) -> OutputRecord:
    cells = tuple(replace(c, suppressed=c.suppressed or c.id in hidden) for c in rec.cells)
    return replace(rec, cells=cells)


def _csv_of(rec: OutputRecord) -> str:
    if rec.kind in COUNT_KINDS:
        return api.count_table_csv(rec)
    if rec.kind == OutputKind.MAGNITUDE:
        return api.magnitude_csv(rec)
    if rec.kind == OutputKind.QUANTILES:
        return api.quantiles_csv(rec)
    raise UsageError(f"output {rec.name}: a {rec.kind.value} output cannot be mitigated here")


def _write(rec: OutputRecord, membership: pa.Table, outbox: Path) -> Path:
    out = api._Output(rec.name, outbox)
    try:
        out.write_text("table.csv", _csv_of(rec))
        return out.finish(rec, membership)
    except BaseException:
        out.abort()
        raise


def suppress(
    output: str | Path,
    cells: Sequence[str] | None = None,
    *,
    rules: CheckRules | None = None,
    released: Sequence[Path] = (),
    name: str | None = None,
    outbox: str | Path | None = None,
) -> Path:
    """Hide ``cells`` (default: the cells below the threshold) and complementary cells.

    Writes ``<name or original-suppressed>`` next to the original (or in ``outbox``).
    """
    rules = rules or CheckRules()
    src = _resolve(output, outbox)
    rec = read_output(src)
    if rec.kind not in COUNT_KINDS | {OutputKind.MAGNITUDE, OutputKind.QUANTILES}:
        raise UsageError(f"output {rec.name}: a {rec.kind.value} output cannot be suppressed")
    primary = (
        list(cells)
        if cells is not None
        else [c.id for c in rec.cells if not c.suppressed and 0 < c.count < rules.threshold]
    )
    if not primary:
        raise UsageError(f"output {rec.name}: no cell to suppress")
    hidden = plan_suppression(rec, src, rules, primary, released)
    comp = [c for c in hidden if c not in primary]
    new = replace(
        _with_suppressed(rec, set(hidden)),
        name=name or f"{rec.name}-suppressed",
        derived_from=rec.name,
        mitigation=(
            f"suppressed {', '.join(primary)}"
            + (f"; complementary {', '.join(comp)}" if comp else "")
        ),
        files=("table.csv",),
    )
    mem = pq.read_table(src / MEMBERSHIP_FILE)
    return _write(new, mem, Path(outbox) if outbox is not None else src.parent)


def coarsen(
    output: str | Path,
    variable: str,
    groups: Mapping[str, Sequence[str]],
    *,
    name: str | None = None,
    outbox: str | Path | None = None,
) -> Path:
    """Merge categories of ``variable``: ``groups`` maps a new label to the old categories."""
    src = _resolve(output, outbox)
    rec = read_output(src)
    dims = (*rec.query.rows, *rec.query.cols)
    if rec.kind == OutputKind.QUANTILES:
        raise UsageError(
            f"output {rec.name}: quantiles cannot be merged from cells; re-make the output "
            "from the data with the coarser classes"
        )
    if rec.kind not in COUNT_KINDS | {OutputKind.MAGNITUDE}:
        raise UsageError(f"output {rec.name}: a {rec.kind.value} output cannot be coarsened")
    if variable not in dims:
        raise UsageError(f"output {rec.name} is not grouped by {variable!r} ({', '.join(dims)})")
    seen = {v for c in rec.interior for d, v in c.key if d == variable}
    mapping: dict[str, str] = {}
    for new_label, olds in groups.items():
        if not isinstance(new_label, str) or not new_label:
            raise UsageError("a merged category needs a non-empty label")
        for o in olds:
            if o not in seen:
                raise UsageError(f"{variable} has no category {o!r} in {rec.name}")
            if o in mapping:
                raise UsageError(f"category {o!r} is merged twice")
            mapping[o] = new_label
    if not mapping:
        raise UsageError("nothing to merge")

    def newkey(c: Cell) -> tuple[str, ...]:
        return tuple(mapping.get(v, v) if d == variable else v for d, v in c.key)

    old_to_new: dict[str, str] = {}
    if rec.kind in COUNT_KINDS:
        got: dict[tuple[str, ...], int] = {}
        for c in rec.interior:
            k = newkey(c)
            got[k] = got.get(k, 0) + c.count
        cells, ids = api.build_count_cells(rec.query.rows, rec.query.cols, got)
        for c in rec.interior:
            old_to_new[c.id] = ids[newkey(c)]
        if rec.kind == OutputKind.PERCENTAGES:
            cells = api.with_percent(cells, rec.query.margin or "row", bool(rec.query.cols))
        new_cells = tuple(cells)
    else:
        merged: dict[tuple[str, ...], list[Cell]] = {}
        for c in rec.interior:
            merged.setdefault(newkey(c), []).append(c)
        stat = rec.query.statistic or "sum"
        out: list[Cell] = []
        for j, k in enumerate(sorted(merged)):
            group = merged[k]
            n = sum(c.count for c in group)
            s = sum(c.sum or 0.0 for c in group)
            top = tuple(
                sorted((t for c in group for t in c.top), reverse=True)[: api.TOP_CONTRIBUTORS]
            )
            out.append(
                Cell(
                    id=f"g{j}",
                    key=tuple(zip(rec.query.rows, k, strict=True)),
                    count=n,
                    stats=((stat, s if stat == "sum" else s / n),),
                    sum=s,
                    top=top,
                    negatives=sum(c.negatives for c in group),
                )
            )
            for c in group:
                old_to_new[c.id] = f"g{j}"
        new_cells = tuple(out)
    desc = "; ".join(f"{lab} = {' + '.join(olds)}" for lab, olds in groups.items())
    new = replace(
        rec,
        name=name or f"{rec.name}-coarsened",
        cells=new_cells,
        derived_from=rec.name,
        mitigation=f"merged {variable}: {desc}",
        files=("table.csv",),
    )
    mem = pq.read_table(src / MEMBERSHIP_FILE)
    olds_ids = pa.array(list(old_to_new), pa.string())
    news_ids = pa.array(list(old_to_new.values()), pa.string())
    idx = pc.index_in(mem["cell"], value_set=olds_ids)
    mem = mem.set_column(2, "cell", news_ids.take(idx))
    return _write(new, mem, Path(outbox) if outbox is not None else src.parent)
