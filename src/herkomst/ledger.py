"""The ledger: what each audience has already received, per year.

Tables published earlier can be subtracted from new ones; the protection of a new release is
therefore computed together with everything the same audience already holds for that year,
and the audit treats every value in the ledger as known to the attacker. One Parquet file per
audience and year: ``<dir>/<audience slug>/<year>.parquet`` with the key columns, ``count``
(null when hidden) and ``shown``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._cells import KEY_COLUMNS, conform
from .authorization import Audience


class Ledger:
    """A folder of what was released to whom."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _file(self, audience: Audience, year: int) -> Path:
        return self.path / audience.slug / f"{int(year)}.parquet"

    def load(self, audience: Audience, years: Iterable[int]) -> pa.Table | None:
        parts = [
            pq.read_table(f) for y in sorted(set(years)) if (f := self._file(audience, y)).is_file()
        ]
        if not parts:
            return None
        return conform(pa.concat_tables(parts, promote_options="default"))

    def record(self, audience: Audience, cells: pa.Table) -> list[Path]:
        """Add a release's cells (as the audience saw them) to the ledger."""
        t = conform(cells).select([*KEY_COLUMNS, "count", "shown"])
        written = []
        for year in sorted(set(t["year"].to_pylist())):
            new = t.filter(pc.equal(t["year"], year))
            f = self._file(audience, year)
            if f.is_file():
                old = pq.read_table(f)
                new = _merge(conform(old).select([*KEY_COLUMNS, "count", "shown"]), new)
            f.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(new, f, compression="zstd")
            written.append(f)
        return written


def _merge(old: pa.Table, new: pa.Table) -> pa.Table:
    """Union of knowledge: per key, a row with a count wins over a hidden one."""
    both = pa.concat_tables([old, new])
    keys = [
        "|".join("" if v is None else str(v) for v in row)
        for row in zip(*(both[c].to_pylist() for c in KEY_COLUMNS), strict=True)
    ]
    has = ~np.isnan(both["count"].to_numpy(zero_copy_only=False).astype(np.float64))
    best: dict[str, int] = {}
    for i, k in enumerate(keys):
        j = best.get(k)
        if j is None or (has[i] and not has[j]):
            best[k] = i
    idx = sorted(best.values())
    return both.take(pa.array(idx, pa.int64()))
