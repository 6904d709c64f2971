"""The release writer: the workbook against cells.parquet, byte-identical reruns, the cache,
masked cells, and the manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from herkomst.engine import Engine
from herkomst.errors import InternalError
from herkomst.release import (
    CATEGORY_NL,
    DEFAULT_SHOWN_NL,
    SCOPE_NL,
    build_tables,
    write_release,
)
from herkomst.tabulate import TableParams, compute_cells

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tables_data import Dataset, HandOrigin, golden_dataset

GEN = dt.date(2024, 5, 1)
PARAMS = TableParams(years=(2023,), generated_on=GEN)
VARS = ("sex", "age_class", "level", "position", "regime")
FILES = ("cells.parquet", "cells.csv", "tabellen.xlsx")


def two_years() -> tuple[Dataset, HandOrigin]:
    """The golden population in 2023, and the same people a year younger in 2022."""
    ds, origin = golden_dataset()
    ds.personnel += [{**r, "year": 2022} for r in ds.personnel if r["year"] == 2023]
    ds.employment += [{**r, "year": 2022} for r in ds.employment if r["year"] == 2023]
    classes = {2022: origin.classes[2023], 2023: origin.classes[2023]}
    return ds, HandOrigin(classes)


def run(out: Path, years: tuple[int, ...] = (2023,), **kw: Any) -> tuple[Any, HandOrigin]:
    ds, origin = two_years()
    eng = Engine()
    ds.load(eng)
    params = TableParams(years=years, generated_on=GEN)
    result = build_tables(eng, params, None, out, origin_step=origin, **kw)
    eng.close()
    return result, origin


def digests(folder: Path) -> dict[str, str]:
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in FILES}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rel") / "service"
    run(out, use_cache=False)
    return out


def _invert(mapping: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in mapping.items()}


def test_workbook_holds_the_numbers_of_cells_parquet(release: Path) -> None:
    cells = pq.read_table(release / "cells.parquet").to_pylist()
    want: dict[tuple[Any, ...], tuple[int, Decimal | None]] = {
        (
            c["definition"], c["breakdown"], c["year"], c["scope"], c["policy_domain"],
            c["entity"], *(c[v] for v in VARS), c["origin"],
        ): (c["count"], c["percent"])
        for c in cells
    }  # fmt: skip
    wb = openpyxl.load_workbook(release / "tabellen.xlsx", read_only=True)
    assert wb.sheetnames[:2] == ["Toelichting", "Verantwoording"]
    assert len(wb.sheetnames) == 2 + 2 * 7
    scope_of = _invert(SCOPE_NL)
    cat_of = {v: _invert(CATEGORY_NL[v]) if v in CATEGORY_NL else {} for v in VARS}
    seen = 0
    sheets = {"EU-15": "eu15", "EU": "eu"}
    parts = {"totaal": "total", "geslacht": "sex", "leeftijd": "age_class", "niveau": "level",
             "positie": "position", "regime": "regime", "combinatie": "all"}  # fmt: skip
    for name in wb.sheetnames[2:]:
        d, b = sheets[name.split(" ")[0]], parts[name.split(" ")[1]]
        ws = wb[name]
        rows = list(ws.iter_rows(values_only=True))
        assert "Referentiedatum: 31 december" in str(rows[2][0])
        header, sub = rows[5], rows[6]
        crossed = list(VARS) if b == "all" else [v for v in VARS if v == b]
        first = 7 + len(crossed)
        origins = []
        labels = {
            "herkomst binnen de EU-15": "inside", "herkomst buiten de EU-15": "outside",
            "herkomst binnen de EU": "inside", "herkomst buiten de EU": "outside",
            "herkomst niet gekend": "unknown", "niet gekend: ouders niet gekend": "unknown_parents",
            "niet gekend: grootouders niet gekend": "unknown_grandparents", "totaal": "total",
        }  # fmt: skip
        for j in range(first, len(header), 2):
            origins.append(labels[str(header[j])])
            assert (sub[j], sub[j + 1]) == ("aantal", "%")
        for r in rows[7:]:
            scope = scope_of[str(r[2])]
            cats = dict.fromkeys(VARS)
            for k, v in enumerate(crossed):
                label = str(r[7 + k])
                cats[v] = label.removesuffix(" jaar") if v == "age_class" else cat_of[v][label]
            for k, o in enumerate(origins):
                key = (d, b, r[0], scope, r[3], r[5], *(cats[v] for v in VARS), o)
                count, percent = want[key]
                assert r[first + 2 * k] == count, key
                cell = r[first + 2 * k + 1]
                if percent is None:
                    assert cell == "-", key
                else:
                    assert abs(Decimal(str(cell)) * 100 - percent) < Decimal("0.0001"), key
                seen += 1
    # Every cell is on a sheet, except the combination rows without anyone.
    empty = {k[:-1] for k, (n, _) in want.items() if k[1] == "all" and k[-1] == "total" and n == 0}
    assert seen == sum(1 for k in want if k[:-1] not in empty)


def test_outputs_are_byte_identical_across_runs(tmp_path: Path, release: Path) -> None:
    _again, _ = run(tmp_path / "again", use_cache=False)
    assert digests(tmp_path / "again") == digests(release)
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert {f: manifest["files"][f]["sha256"] for f in FILES} == digests(release)


def test_cache_reuses_earlier_years(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, origin1 = run(tmp_path / "a", years=(2022,), cache_dir=cache)
    assert first.reused_years == ()
    assert first.computed_years == (2022,)
    assert origin1.calls == [2022]
    second, origin2 = run(tmp_path / "b", years=(2022, 2023), cache_dir=cache)
    assert second.reused_years == (2022,)
    assert second.computed_years == (2023,)
    assert origin2.calls == [2023]  # origin derived only for the new year
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["cache"]["reused_years"] == [2022]
    assert [a["year"] for a in manifest["accounting"]] == [2022, 2023]
    # The same release as a run without the cache.
    run(tmp_path / "c", years=(2022, 2023), use_cache=False)
    assert digests(tmp_path / "b") == digests(tmp_path / "c")


def test_cache_misses_when_a_year_input_changes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(tmp_path / "a", years=(2022, 2023), cache_dir=cache)
    ds, origin = two_years()
    ds.personnel[0] = {**ds.personnel[0], "level": "D"}  # a 2023 row changes
    eng = Engine()
    ds.load(eng)
    params = TableParams(years=(2022, 2023), generated_on=GEN)
    result = build_tables(eng, params, None, tmp_path / "b", origin_step=origin, cache_dir=cache)
    assert result.reused_years == (2022,)
    assert result.computed_years == (2023,)
    # Another definition date is another key for every year.
    other = TableParams(years=(2022, 2023), generated_on=GEN, eu_date=dt.date(2019, 1, 1))
    result = build_tables(eng, other, None, tmp_path / "c", origin_step=origin, cache_dir=cache)
    assert result.reused_years == ()


def masked_engine() -> Engine:
    ds, origin = golden_dataset()
    eng = Engine()
    ds.load(eng)
    compute_cells(eng, PARAMS, origin_step=origin)
    # What issue 5 hands over: small counts masked, their percentages too.
    eng.create_table(
        "masked",
        "SELECT * REPLACE ("
        " CASE WHEN count BETWEEN 1 AND 4 AND origin <> 'total' THEN NULL ELSE count END AS count,"
        " CASE WHEN count BETWEEN 1 AND 4 AND origin <> 'total' THEN NULL ELSE percent END AS percent,"
        " CASE WHEN count BETWEEN 1 AND 4 AND origin <> 'total' THEN '1-5' ELSE shown END AS shown,"
        " CASE WHEN count BETWEEN 1 AND 4 AND origin <> 'total' THEN 'masked_primary'"
        "      ELSE status END AS status) FROM cells",
    )
    return eng


def test_masked_cells_are_written_as_labels(tmp_path: Path) -> None:
    eng = masked_engine()
    manifest = {"generated_on": GEN, "definitions": ["eu15", "eu"], "protection": {"rule": "x"}}
    rel = write_release(eng, "masked", tmp_path / "pub", manifest, "public")
    assert rel.manifest["audience"] == "public"
    assert rel.manifest["protection"] == {"rule": "x"}
    assert rel.manifest["cells"]["by_status"]["masked_primary"] > 0
    table = pq.read_table(tmp_path / "pub" / "cells.parquet").to_pylist()
    masked = [c for c in table if c["status"] == "masked_primary"]
    assert all(c["count"] is None and c["percent"] is None and c["shown"] == "1-5" for c in masked)
    wb = openpyxl.load_workbook(tmp_path / "pub" / "tabellen.xlsx", read_only=True)
    values = [v for row in wb["EU-15 totaal"].iter_rows(values_only=True) for v in row]
    assert DEFAULT_SHOWN_NL["1-5"] in values
    assert "x" in values  # the hidden percentage


def test_a_masked_cell_with_a_count_is_never_written(tmp_path: Path) -> None:
    eng = masked_engine()
    eng.execute("UPDATE masked SET count = 3 WHERE status = 'masked_primary'")
    with pytest.raises(InternalError, match="masked cell\\(s\\) still carry a count"):
        write_release(eng, "masked", tmp_path / "leak", {"generated_on": GEN}, "public")
    assert not (tmp_path / "leak" / "cells.csv").exists()


def test_unknown_status_is_refused(tmp_path: Path) -> None:
    eng = masked_engine()
    eng.execute("UPDATE masked SET status = 'Review' WHERE origin = 'total'")
    with pytest.raises(InternalError, match="cells with status \\['Review'\\]"):
        write_release(eng, "masked", tmp_path / "bad", {"generated_on": GEN}, "public")


def test_manifest_records_what_went_in(release: Path) -> None:
    m = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert m["audience"] == "service"
    assert m["years"] == [2023]
    assert m["reference_dates"] == {"2023": "2023-12-31"}
    assert m["definitions"] == ["eu15", "eu"]
    assert m["eu_date"] == "2024-05-01"
    assert m["accounting"][0]["in_tables"] == 12
    assert any(r["name"] == "age_classes" for r in m["rules"])
    assert m["software"]["herkomst"]
    assert m["cells"]["rows"] == pq.read_metadata(release / "cells.parquet").num_rows
    assert "ssin" not in (release / "manifest.json").read_text(encoding="utf-8")
