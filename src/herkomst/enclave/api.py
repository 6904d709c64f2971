"""The researcher API used inside an enclave run: read the staged data, make outputs.

Inside a run (``herkomst enclave run``) the sandbox provides ``$HERKOMST_ENCLAVE_DATA`` (the
staged ``population.parquet``, one row per ``seq_no`` and ``year``) and
``$HERKOMST_ENCLAVE_OUTBOX`` (the only writable place that can leave). Outside a run (tests,
trying a script on the phase-1 sample) pass ``path=`` and ``outbox=`` explicitly.

Every output maker computes from the records itself, so that it knows the underlying count of
every cell, the top contributors of every magnitude cell and which records fell in which cell
(``membership.parquet``, for the differencing check). Each writes ``<outbox>/<name>/`` (see
:mod:`herkomst.enclave.outputs`) atomically: a failing maker leaves nothing behind.

Grouping variables are read as text (``NULL`` becomes ``(null)``); value variables as double
(rows whose value is null or NaN are left out and not counted). ``where`` is a SQL condition
over the data's columns (DuckDB dialect), recorded with the output. Deterministic: the same
data and calls give byte-identical files (sums are taken in sorted order; quantiles are
interpolated, ``quantile_cont``, so that no single record's value is printed as such).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InputError, MissingFile, UsageError
from .outputs import (
    MEMBERSHIP_FILE,
    RECORD_FILE,
    Cell,
    Coefficient,
    Model,
    OutputKind,
    OutputRecord,
    Query,
    valid_name,
)

DATA_ENV = "HERKOMST_ENCLAVE_DATA"
OUTBOX_ENV = "HERKOMST_ENCLAVE_OUTBOX"
RUN_ENV = "HERKOMST_ENCLAVE_RUN"
DATA_FILE = "population.parquet"
TOP_CONTRIBUTORS = 2
ALL = "(all)"
NULL = "(null)"
SEP = "\x1f"
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf")
MAX_FREE_FILE_BYTES = 100 * 1024 * 1024
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Relation = duckdb.DuckDBPyRelation


# -- data and outbox ---------------------------------------------------------------------------


def dataset(path: str | Path | None = None) -> Relation:
    """The staged population as a DuckDB relation (``seq_no``, ``year``, the variables).

    ``path``: a parquet file or a folder holding ``population.parquet``; by default
    ``$HERKOMST_ENCLAVE_DATA/population.parquet``.
    """
    if path is None:
        root = os.environ.get(DATA_ENV)
        if not root:
            raise UsageError(
                f"no data: set {DATA_ENV} (done by `herkomst enclave run`) or pass dataset(path=...)"
            )
        path = Path(root)
    p = Path(path)
    if p.is_dir():
        p = p / DATA_FILE
    if not p.is_file():
        raise MissingFile(f"{p}: the staged dataset does not exist")
    try:
        rel = duckdb.connect().read_parquet(str(p))
    except duckdb.Error as e:
        raise InputError(f"{p}: cannot be read as Parquet ({str(e).splitlines()[0]})") from None
    _require_identity(rel)
    return rel


def _outbox(outbox: str | Path | None) -> Path:
    if outbox is None:
        env = os.environ.get(OUTBOX_ENV)
        if not env:
            raise UsageError(
                f"no outbox: set {OUTBOX_ENV} (done by `herkomst enclave run`) or pass outbox=..."
            )
        outbox = env
    box = Path(outbox)
    if not box.is_dir():
        raise MissingFile(f"{box}: the outbox does not exist")
    return box


def _require_identity(rel: Relation) -> None:
    cols = set(rel.columns)
    if not {"seq_no", "year"} <= cols:
        raise UsageError(
            "the data must keep the columns seq_no and year (each record's identity, needed "
            "by the differencing check); filter with where=... instead of dropping them"
        )


def _names(x: str | Sequence[str], what: str) -> tuple[str, ...]:
    out = (x,) if isinstance(x, str) else tuple(x)
    for v in out:
        if not isinstance(v, str) or not _IDENT.match(v):
            raise UsageError(f"{what}: {v!r} is not a column name")
    return out


def _check_columns(rel: Relation, cols: Sequence[str]) -> None:
    have = set(rel.columns)
    missing = [c for c in cols if c not in have]
    if missing:
        raise UsageError(
            f"unknown column(s) {', '.join(missing)}; the data has {', '.join(rel.columns)}"
        )
    if {"seq_no"} & set(cols):
        raise UsageError("seq_no cannot be tabulated or used as a value (it identifies persons)")


def _where(where: str | None) -> str:
    if where is None:
        return "TRUE"
    if not isinstance(where, str) or ";" in where or not where.strip():
        raise UsageError(f"where must be one SQL condition, not {where!r}")
    return f"({where})"


def _q(col: str) -> str:
    return '"' + col + '"'


def _run(rel: Relation, sql: str) -> pa.Table:
    try:
        res = rel.query("herkomst_data", sql)
    except duckdb.Error as e:
        raise UsageError(f"the query failed: {str(e).splitlines()[0]}") from None
    if res is None:
        raise UsageError("the query returned no result")
    try:
        return res.to_arrow_table()
    except duckdb.Error as e:
        raise UsageError(f"the query failed: {str(e).splitlines()[0]}") from None


class _Output:
    """Writes one output folder atomically (a partial folder renamed at the end)."""

    def __init__(self, name: str, outbox: str | Path | None) -> None:
        if not isinstance(name, str) or not valid_name(name):
            raise UsageError(
                f"output name {name!r} is not allowed: use 1-64 letters, digits, '_' or '-', "
                "starting with a letter or digit"
            )
        self.box = _outbox(outbox)
        self.final = self.box / name
        if self.final.exists():
            raise UsageError(f"an output named {name!r} already exists: names must be unique")
        self.tmp = self.box / f".{name}.partial"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self.name = name

    def write_text(self, file: str, text: str) -> None:
        (self.tmp / file).write_text(text, encoding="utf-8", newline="")

    def finish(self, record: OutputRecord, membership: pa.Table | None) -> Path:
        if membership is not None:
            pq.write_table(membership, self.tmp / MEMBERSHIP_FILE, compression="zstd")
        self.write_text(RECORD_FILE, record.dumps())
        self.tmp.rename(self.final)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return repr(float(v))


def _run_id() -> str | None:
    return os.environ.get(RUN_ENV) or None


# -- grouped evidence --------------------------------------------------------------------------


def _base_sql(dims: Sequence[str], value: str | None, where: str | None) -> str:
    parts = ["seq_no", "year"]
    parts += [f"coalesce(CAST({_q(d)} AS VARCHAR), '{NULL}') AS d{i}" for i, d in enumerate(dims)]
    cond = _where(where)
    if value is not None:
        parts.append(f"CAST({_q(value)} AS DOUBLE) AS v")
        cond += f" AND {_q(value)} IS NOT NULL AND NOT isnan(CAST({_q(value)} AS DOUBLE))"
    return f"SELECT {', '.join(parts)} FROM herkomst_data WHERE {cond}"


def _key_strings(t: pa.Table, n: int) -> pa.Array:
    if n == 0:
        return pa.array([""] * t.num_rows, pa.string())
    if n == 1:
        return t["d0"].combine_chunks()
    return pc.binary_join_element_wise(*[t[f"d{i}"] for i in range(n)], SEP).combine_chunks()


def _membership(rel: Relation, base: str, n_dims: int, keys: list[str], ids: list[str]) -> pa.Table:
    dcols = "".join(f", d{i}" for i in range(n_dims))
    t = _run(rel, f"WITH b AS ({base}) SELECT seq_no, year{dcols} FROM b ORDER BY seq_no, year")
    idx = pc.index_in(_key_strings(t, n_dims), value_set=pa.array(keys, pa.string()))
    cell = pa.array(ids, pa.string()).take(idx)
    return pa.table(
        {
            "seq_no": t["seq_no"].cast(pa.int64()),
            "year": t["year"].cast(pa.int32()),
            "cell": cell,
        }
    )


def _prepare(
    data: Relation, dims: Sequence[str], value: str | None, where: str | None
) -> tuple[Relation, str]:
    if not isinstance(data, duckdb.DuckDBPyRelation):
        raise UsageError("data must be a DuckDB relation (from herkomst.enclave.dataset())")
    _require_identity(data)
    _check_columns(data, [*dims, *([value] if value else [])])
    if len(set(dims)) != len(dims):
        raise UsageError("a variable is used twice in the grouping")
    return data, _base_sql(dims, value, where)


# -- counts: frequency, crosstab, percentages --------------------------------------------------


def build_count_cells(
    rows: tuple[str, ...], cols: tuple[str, ...], got: dict[tuple[str, ...], int]
) -> tuple[list[Cell], dict[tuple[str, ...], str]]:
    """The cells of a count table from the counts of the value combinations seen.

    Interior cells are every (row key, column key) pair of the keys seen (zeros included),
    ids ``r{i}c{j}`` (``r{i}`` without columns); totals ``r{i}T``, ``Tc{j}`` and ``T``.
    Returns the cells and the id of every interior key.
    """
    dims = (*rows, *cols)
    nr = len(rows)
    rkeys = sorted({k[:nr] for k in got})
    ckeys = sorted({k[nr:] for k in got}) if cols else [()]
    cells: list[Cell] = []
    ids: dict[tuple[str, ...], str] = {}
    row_parts: dict[int, list[str]] = {i: [] for i in range(len(rkeys))}
    col_parts: dict[int, list[str]] = {j: [] for j in range(len(ckeys))}
    for i, rk in enumerate(rkeys):
        for j, ck in enumerate(ckeys):
            cid = f"r{i}c{j}" if cols else f"r{i}"
            n = got.get((*rk, *ck), 0)
            cells.append(Cell(id=cid, key=tuple(zip(dims, (*rk, *ck), strict=True)), count=n))
            ids[(*rk, *ck)] = cid
            row_parts[i].append(cid)
            col_parts[j].append(cid)
    count = {c.id: c.count for c in cells}
    allc = tuple((c, ALL) for c in cols)
    allr = tuple((r, ALL) for r in rows)
    if cols:
        for i, rk in enumerate(rkeys):
            p = tuple(row_parts[i])
            cells.append(
                Cell(
                    id=f"r{i}T",
                    key=(*zip(rows, rk, strict=True), *allc),
                    count=sum(count[x] for x in p),
                    total=True,
                    parts=p,
                )
            )
        for j, ck in enumerate(ckeys):
            p = tuple(col_parts[j])
            cells.append(
                Cell(
                    id=f"Tc{j}",
                    key=(*allr, *zip(cols, ck, strict=True)),
                    count=sum(count[x] for x in p),
                    total=True,
                    parts=p,
                )
            )
    cells.append(
        Cell(
            id="T",
            key=(*allr, *allc),
            count=sum(count.values()),
            total=True,
            parts=tuple(ids.values()),
        )
    )
    return cells, ids


def _count_cells(
    data: Relation,
    rows: tuple[str, ...],
    cols: tuple[str, ...],
    where: str | None,
) -> tuple[list[Cell], pa.Table]:
    dims = (*rows, *cols)
    rel, base = _prepare(data, dims, None, where)
    dsel = ", ".join(f"d{i}" for i in range(len(dims)))
    t = _run(rel, f"WITH b AS ({base}) SELECT {dsel}, count(*) AS n FROM b GROUP BY ALL")
    got: dict[tuple[str, ...], int] = {}
    dvals = [t[f"d{i}"].to_pylist() for i in range(len(dims))]
    for j, n in enumerate(t["n"].to_pylist()):
        got[tuple(str(dv[j]) for dv in dvals)] = int(n)
    cells, ids = build_count_cells(rows, cols, got)
    keys = [SEP.join(k) for k in ids]
    mem = _membership(rel, base, len(dims), keys, list(ids.values()))
    return cells, mem


_ID = re.compile(r"^(?:r(\d+)|T)(?:c(\d+)|T)?$")


def _denominator(cell_id: str, margin: str, has_cols: bool) -> str:
    """The cell whose count is 100% for ``cell_id`` (ids r{i}c{j}, r{i}T, Tc{j}, T, r{i})."""
    m = _ID.match(cell_id)
    if m is None or not has_cols:
        return "T"
    row, col = m.group(1), m.group(2)
    if margin == "row":
        return f"r{row}T" if row is not None else "T"
    return f"Tc{col}" if col is not None else "T"


def with_percent(cells: list[Cell], margin: str, has_cols: bool) -> list[Cell]:
    count = {c.id: c.count for c in cells}
    out = []
    for c in cells:
        denom = count[_denominator(c.id, margin, has_cols)]
        pct = None if denom == 0 else round(100.0 * c.count / denom, 2)
        out.append(
            Cell(
                id=c.id,
                key=c.key,
                count=c.count,
                total=c.total,
                parts=c.parts,
                stats=(("percent", pct),),
            )
        )
    return out


def count_table_csv(rec: OutputRecord) -> str:
    """The researcher's CSV of a count table (long format; totals as ``(all)``)."""
    dims = [*rec.query.rows, *rec.query.cols]
    pct = rec.kind == OutputKind.PERCENTAGES
    header = [*dims, "count", *(["percent"] if pct else [])]
    rows: list[list[Any]] = []
    for c in rec.cells:
        vals = [v for _, v in c.key]
        if c.suppressed:
            rows.append([*vals, "x", *(["x"] if pct else [])])
            continue
        p = c.stat("percent")
        rows.append([*vals, c.count, *([("" if p is None else f"{p:.2f}")] if pct else [])])
    return _csv(header, rows)


def _count_output(
    kind: OutputKind,
    data: Relation,
    rows: str | Sequence[str],
    cols: str | Sequence[str],
    name: str,
    where: str | None,
    description: str,
    outbox: str | Path | None,
    margin: str | None = None,
) -> Path:
    r = _names(rows, "rows")
    c = _names(cols, "cols")
    if not r:
        raise UsageError("a table needs at least one row variable")
    if kind != OutputKind.FREQUENCY and not c:
        raise UsageError("a crosstab needs at least one column variable (or use frequency)")
    out = _Output(name, outbox)
    try:
        cells, mem = _count_cells(data, r, c, where)
        stat = None
        if margin is not None:
            if margin not in ("row", "col"):
                raise UsageError(f"margin must be 'row' or 'col', not {margin!r}")
            cells = with_percent(cells, margin, bool(c))
            stat = "percent"
        rec = OutputRecord(
            name=name,
            kind=kind,
            query=Query(rows=r, cols=c, where=where, statistic=stat or "count", margin=margin),
            cells=tuple(cells),
            files=("table.csv",),
            description=description,
            membership=True,
            run=_run_id(),
        )
        out.write_text("table.csv", count_table_csv(rec))
        return out.finish(rec, mem)
    except BaseException:
        out.abort()
        raise


def frequency(
    data: Relation,
    variables: str | Sequence[str],
    *,
    name: str,
    where: str | None = None,
    description: str = "",
    outbox: str | Path | None = None,
) -> Path:
    """Counts by one variable (or the combinations of several), with the total."""
    return _count_output(
        OutputKind.FREQUENCY, data, variables, (), name, where, description, outbox
    )


def crosstab(
    data: Relation,
    rows: str | Sequence[str],
    cols: str | Sequence[str],
    *,
    name: str,
    where: str | None = None,
    description: str = "",
    outbox: str | Path | None = None,
) -> Path:
    """Counts by rows x columns (every combination of the values seen), with the totals."""
    return _count_output(OutputKind.CROSSTAB, data, rows, cols, name, where, description, outbox)


def percentages(
    data: Relation,
    rows: str | Sequence[str],
    cols: str | Sequence[str],
    *,
    margin: str = "row",
    name: str,
    where: str | None = None,
    description: str = "",
    outbox: str | Path | None = None,
) -> Path:
    """Row (``margin="row"``) or column percentages of a crosstab, with the counts behind."""
    return _count_output(
        OutputKind.PERCENTAGES, data, rows, cols, name, where, description, outbox, margin
    )


# -- magnitude and quantiles -------------------------------------------------------------------


def _grouped(
    data: Relation, value: str, by: tuple[str, ...], where: str | None, aggs: str
) -> tuple[Relation, str, pa.Table, list[str], list[str]]:
    rel, base = _prepare(data, by, value, where)
    dsel = ", ".join(f"d{i}" for i in range(len(by)))
    lead = f"{dsel}, " if by else ""
    group = "GROUP BY ALL ORDER BY ALL" if by else ""
    t = _run(rel, f"WITH b AS ({base}) SELECT {lead}count(*) AS n, {aggs} FROM b {group}")
    if not by and t.num_rows and t["n"][0].as_py() == 0:
        t = t.slice(0, 0)
    keys = [SEP.join(str(t[f"d{i}"][j].as_py()) for i in range(len(by))) for j in range(t.num_rows)]
    ids = [f"g{j}" for j in range(t.num_rows)]
    return rel, base, t, keys, ids


def magnitude(
    data: Relation,
    value: str,
    by: str | Sequence[str] = (),
    *,
    stat: str = "sum",
    name: str,
    where: str | None = None,
    description: str = "",
    outbox: str | Path | None = None,
) -> Path:
    """Sum or mean of ``value`` per group, with each cell's count, sum and top contributors."""
    if stat not in ("sum", "mean"):
        raise UsageError(f"stat must be 'sum' or 'mean', not {stat!r}")
    b = _names(by, "by")
    (v,) = _names(value, "value")
    out = _Output(name, outbox)
    try:
        aggs = (
            "sum(v ORDER BY v) AS s, max(v, "
            f"{TOP_CONTRIBUTORS}) AS top, count(*) FILTER (WHERE v < 0) AS neg"
        )
        rel, base, t, keys, ids = _grouped(data, v, b, where, aggs)
        cells = []
        for j in range(t.num_rows):
            key = tuple((d, str(t[f"d{i}"][j].as_py())) for i, d in enumerate(b))
            n = int(t["n"][j].as_py())
            s = float(t["s"][j].as_py())
            val = s if stat == "sum" else s / n
            cells.append(
                Cell(
                    id=ids[j],
                    key=key,
                    count=n,
                    stats=((stat, val),),
                    sum=s,
                    top=tuple(float(x) for x in t["top"][j].as_py()),
                    negatives=int(t["neg"][j].as_py()),
                )
            )
        rec = OutputRecord(
            name=name,
            kind=OutputKind.MAGNITUDE,
            query=Query(rows=b, where=where, value=v, statistic=stat),
            cells=tuple(cells),
            files=("table.csv",),
            description=description,
            membership=True,
            run=_run_id(),
        )
        out.write_text("table.csv", magnitude_csv(rec))
        return out.finish(rec, _membership(rel, base, len(b), keys, ids))
    except BaseException:
        out.abort()
        raise


def magnitude_csv(rec: OutputRecord) -> str:
    stat = rec.query.statistic or "sum"
    rows: list[list[Any]] = []
    for c in rec.cells:
        vals = [k for _, k in c.key]
        if c.suppressed:
            rows.append([*vals, "x", "x"])
        else:
            rows.append([*vals, c.count, _fmt(c.stat(stat))])
    return _csv([*rec.query.rows, "n", stat], rows)


def quantiles(
    data: Relation,
    value: str,
    by: str | Sequence[str] = (),
    qs: Sequence[float] = (0.25, 0.5, 0.75),
    *,
    name: str,
    where: str | None = None,
    description: str = "",
    outbox: str | Path | None = None,
) -> Path:
    """Interpolated quantiles of ``value`` per group, with each group's count."""
    b = _names(by, "by")
    (v,) = _names(value, "value")
    qv = tuple(float(q) for q in qs)
    if not qv or any(not 0.0 < q < 1.0 for q in qv) or len(set(qv)) != len(qv):
        raise UsageError("qs must be distinct probabilities strictly between 0 and 1")
    out = _Output(name, outbox)
    try:
        lst = ", ".join(repr(q) for q in qv)
        rel, base, t, keys, ids = _grouped(data, v, b, where, f"quantile_cont(v, [{lst}]) AS qv")
        cells = []
        for j in range(t.num_rows):
            key = tuple((d, str(t[f"d{i}"][j].as_py())) for i, d in enumerate(b))
            vals = t["qv"][j].as_py()
            cells.append(
                Cell(
                    id=ids[j],
                    key=key,
                    count=int(t["n"][j].as_py()),
                    stats=tuple((f"q{q:g}", float(x)) for q, x in zip(qv, vals, strict=True)),
                )
            )
        rec = OutputRecord(
            name=name,
            kind=OutputKind.QUANTILES,
            query=Query(rows=b, where=where, value=v, statistic="quantiles", quantiles=qv),
            cells=tuple(cells),
            files=("table.csv",),
            description=description,
            membership=True,
            run=_run_id(),
        )
        out.write_text("table.csv", quantiles_csv(rec))
        return out.finish(rec, _membership(rel, base, len(b), keys, ids))
    except BaseException:
        out.abort()
        raise


def quantiles_csv(rec: OutputRecord) -> str:
    names = [f"q{q:g}" for q in rec.query.quantiles]
    rows: list[list[Any]] = []
    for c in rec.cells:
        vals = [k for _, k in c.key]
        if c.suppressed:
            rows.append([*vals, "x", *(["x"] * len(names))])
        else:
            rows.append([*vals, c.count, *(_fmt(c.stat(n)) for n in names)])
    return _csv([*rec.query.rows, "n", *names], rows)


# -- regression --------------------------------------------------------------------------------


def ols(y: np.ndarray[Any, Any], x: np.ndarray[Any, Any]) -> tuple[Model, list[float]]:
    """OLS of y on x (x holds the constant): coefficients, standard errors, n, dof, R^2."""
    n, p = x.shape
    beta, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    dof = int(n - rank)
    resid = y - x @ beta
    rss = float(resid @ resid)
    if dof > 0:
        sigma2 = rss / dof
        cov = sigma2 * np.linalg.pinv(x.T @ x)
        se = [float(np.sqrt(max(cov[i, i], 0.0))) for i in range(p)]
    else:
        se = [float("nan")] * p
    tss = float(((y - y.mean()) ** 2).sum()) if n else 0.0
    r2 = None if tss == 0.0 else 1.0 - rss / tss
    model = Model(n=int(n), dof=dof, rank=int(rank), coefficients=(), r_squared=r2)
    return model, [float(b) for b in beta] + se


def regression(
    data: Relation,
    y: str,
    x: str | Sequence[str],
    *,
    name: str,
    where: str | None = None,
    description: str = "",
    outbox: str | Path | None = None,
) -> Path:
    """Ordinary least squares of ``y`` on ``x`` (numeric columns) with an intercept.

    Records the coefficients, standard errors, n and the residual degrees of freedom
    (n - rank). Rows with a null in ``y`` or ``x`` are left out.
    """
    (yv,) = _names(y, "y")
    xs = _names(x, "x")
    if not xs:
        raise UsageError("a regression needs at least one regressor")
    if not isinstance(data, duckdb.DuckDBPyRelation):
        raise UsageError("data must be a DuckDB relation (from herkomst.enclave.dataset())")
    _require_identity(data)
    _check_columns(data, [yv, *xs])
    out = _Output(name, outbox)
    try:
        cols = [yv, *xs]
        sel = ", ".join(f"CAST({_q(c)} AS DOUBLE) AS v{i}" for i, c in enumerate(cols))
        nn = " AND ".join(f"{_q(c)} IS NOT NULL" for c in cols)
        t = _run(
            data,
            f"SELECT seq_no, year, {sel} FROM herkomst_data WHERE {_where(where)} AND {nn} "
            "ORDER BY seq_no, year",
        )
        yy = t["v0"].to_numpy().astype(np.float64)
        xx = np.column_stack(
            [np.ones(t.num_rows)]
            + [t[f"v{i + 1}"].to_numpy().astype(np.float64) for i in range(len(xs))]
        )
        if not np.all(np.isfinite(yy)) or not np.all(np.isfinite(xx)):
            raise UsageError("the regression data hold NaN or infinite values")
        model, est = ols(yy, xx)
        terms = ["const", *xs]
        k = len(terms)
        coefs = tuple(
            Coefficient(name=terms[i], estimate=est[i], std_error=est[k + i]) for i in range(k)
        )
        if any(not np.isfinite(c.std_error) for c in coefs):
            coefs = tuple(Coefficient(c.name, c.estimate, 0.0) for c in coefs)
        model = Model(
            n=model.n, dof=model.dof, rank=model.rank, coefficients=coefs, r_squared=model.r_squared
        )
        rec = OutputRecord(
            name=name,
            kind=OutputKind.REGRESSION,
            query=Query(where=where, value=yv, statistic="ols", regressors=xs),
            cells=(Cell(id="model", key=(), count=model.n),),
            model=model,
            files=("coefficients.csv", "fit.csv"),
            description=description,
            membership=True,
            run=_run_id(),
        )
        out.write_text(
            "coefficients.csv",
            _csv(
                ["term", "estimate", "std_error"],
                [[c.name, _fmt(c.estimate), _fmt(c.std_error)] for c in coefs],
            ),
        )
        out.write_text(
            "fit.csv",
            _csv(["n", "dof", "r_squared"], [[model.n, model.dof, _fmt(model.r_squared)]]),
        )
        mem = pa.table(
            {
                "seq_no": t["seq_no"].cast(pa.int64()),
                "year": t["year"].cast(pa.int32()),
                "cell": pa.array(["model"] * t.num_rows, pa.string()),
            }
        )
        return out.finish(rec, mem)
    except BaseException:
        out.abort()
        raise


# -- figures and free files --------------------------------------------------------------------


def figure(
    fig: Any,
    *,
    name: str,
    description: str,
    outbox: str | Path | None = None,
) -> Path:
    """A figure: a matplotlib-like object (anything with ``savefig``) or an image file
    (PNG, JPEG, PDF). Figures are not checked automatically: they go to review."""
    if not description.strip():
        raise UsageError("a figure needs a description for the reviewer")
    out = _Output(name, outbox)
    try:
        if hasattr(fig, "savefig"):
            file = "figure.png"
            fig.savefig(out.tmp / file, format="png", metadata={"Software": None})
        else:
            src = Path(fig)
            if not src.is_file():
                raise MissingFile(f"{src}: the figure file does not exist")
            if src.suffix.lower() not in FIGURE_SUFFIXES:
                raise UsageError(
                    f"{src.name}: a figure must be {', '.join(FIGURE_SUFFIXES)} "
                    "(other formats go through free_file)"
                )
            file = "figure" + src.suffix.lower()
            shutil.copyfile(src, out.tmp / file)
        rec = OutputRecord(
            name=name,
            kind=OutputKind.FIGURE,
            files=(file,),
            description=description,
            run=_run_id(),
        )
        return out.finish(rec, None)
    except BaseException:
        out.abort()
        raise


def free_file(
    path: str | Path,
    *,
    name: str,
    description: str,
    outbox: str | Path | None = None,
) -> Path:
    """Any file the researcher made; not checkable automatically, so it goes to review."""
    if not description.strip():
        raise UsageError("a free file needs a description for the reviewer")
    src = Path(path)
    if not src.is_file():
        raise MissingFile(f"{src}: the file does not exist")
    if src.stat().st_size > MAX_FREE_FILE_BYTES:
        raise UsageError(f"{src.name}: larger than {MAX_FREE_FILE_BYTES // 2**20} MiB")
    out = _Output(name, outbox)
    try:
        file = src.name
        if file in (RECORD_FILE, MEMBERSHIP_FILE) or not re.match(
            r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", file
        ):
            raise UsageError(f"{file!r}: rename the file (letters, digits, '.', '_', '-')")
        shutil.copyfile(src, out.tmp / file)
        rec = OutputRecord(
            name=name,
            kind=OutputKind.FREE_FILE,
            files=(file,),
            description=description,
            run=_run_id(),
        )
        return out.finish(rec, None)
    except BaseException:
        out.abort()
        raise
