"""The engine interface: where SQL runs.

DuckDB is the embedded default. Stages never talk to DuckDB directly: they receive an
:class:`Engine`, register Arrow tables or files as named relations, and run SQL kept in one
place per stage. The SQL stays within the dialect that Spark SQL also accepts (``GROUPING
SETS``, window functions, ``CASE``, no DuckDB-only macros in stage queries) so that the
national-scale run can swap the engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .errors import InternalError


@dataclass(frozen=True)
class EngineSettings:
    """Resource settings of the embedded engine.

    ``threads``: None = ``HERKOMST_THREADS`` or DuckDB's default (the number of cores).
    ``memory_limit``: None = ``HERKOMST_MEMORY_LIMIT`` or DuckDB's default (80% of RAM).
    """

    threads: int | None = None
    memory_limit: str | None = None
    temp_directory: str | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be at least 1")


class Engine:
    """A DuckDB connection with the few operations the stages need."""

    name = "duckdb"

    def __init__(self, settings: EngineSettings | None = None, database: str = ":memory:") -> None:
        self.settings = settings or EngineSettings()
        self.con = duckdb.connect(database)
        threads = self.settings.threads or int(os.environ.get("HERKOMST_THREADS", "0")) or None
        if threads:
            self.execute(f"SET threads = {int(threads)}")
        # DuckDB's own default is 80% of RAM; HERKOMST_MEMORY_LIMIT (e.g. 4GB) bounds every
        # engine of a process that is not given a limit (beyond it DuckDB spills).
        memory_limit = self.settings.memory_limit or os.environ.get("HERKOMST_MEMORY_LIMIT")
        if memory_limit:
            self.execute(f"SET memory_limit = '{memory_limit}'")
        if self.settings.temp_directory:
            self.execute(f"SET temp_directory = '{self.settings.temp_directory}'")
        # Results must not depend on thread scheduling.
        self.execute("SET preserve_insertion_order = true")

    # -- running SQL -----------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        # DuckDB 2 wants every result consumed before the next statement.
        self.con.execute(sql, list(params) if params is not None else None).fetchall()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        rel = self.con.sql(sql, params=list(params) if params is not None else None)
        table = rel.to_arrow_table()
        if not isinstance(table, pa.Table):  # pragma: no cover - defensive
            raise InternalError("DuckDB did not return an Arrow table")
        return table

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params) if params is not None else None).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.con.execute(sql, list(params) if params is not None else None).fetchall()
        if not rows:
            raise InternalError(f"query returned no row: {sql[:60]}")
        return rows[0][0]

    # -- relations ---------------------------------------------------------------------
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable under ``name`` (replacing any earlier one)."""
        self.con.register(name, table)

    def create_table(self, name: str, sql: str, params: Sequence[Any] | None = None) -> None:
        self.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}', params)

    def has_table(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
            )
        )

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.rows(f'DESCRIBE "{name}"')]

    def count(self, name: str) -> int:
        return int(self.scalar(f'SELECT count(*) FROM "{name}"'))

    def write_parquet(self, sql: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.execute(f"COPY ({sql}) TO '{_quote_path(path)}' (FORMAT PARQUET, COMPRESSION ZSTD)")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quote_path(path: Path) -> str:
    return str(path).replace("'", "''")


@contextmanager
def engine(settings: EngineSettings | None = None) -> Iterator[Engine]:
    """An embedded engine for the duration of a ``with`` block."""
    eng = Engine(settings)
    try:
        yield eng
    finally:
        eng.close()
