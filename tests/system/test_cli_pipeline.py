"""The commands chained as a user would: synth -> validate -> origin -> tables, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from herkomst.synth import SynthParams, synthesize
from tests.unit.test_cli import run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(SynthParams(seed=7, scale=5000), out)
    return out


def test_validate_synthetic_is_clean(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    code, _out, err = run(
        monkeypatch, capsys, "validate", "--dwh", str(data / "dwh"),
        "--personnel", str(data / "personnel.parquet"), "--entities", str(data / "entities.parquet"),
        "--today", "2024-06-30", "--report", str(report),
    )  # fmt: skip
    assert code == 0, err
    totals = json.loads(report.read_text())["totals"]
    assert totals["rejected"] == 0
    assert totals["rows"] == totals["accepted"] + totals["accepted_with_corrections"]


def test_origin_then_compare(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    target = tmp_path / "origin.parquet"
    code, out, err = run(
        monkeypatch, capsys, "origin", "--dwh", str(data / "dwh"), "--year", "2021",
        "--persons", "all", "--out", str(target), "--eu-date", "2024-01-01",
    )  # fmt: skip
    assert code == 0, err
    persons = pq.read_table(data / "dwh" / "persons.parquet").num_rows
    origin = pq.read_table(target)
    assert origin.num_rows == persons  # --persons all: one row per person
    assert {"eu15", "eu15_trail", "national_origin_group"} <= set(origin.column_names)
    code, out, err = run(
        monkeypatch, capsys, "origin", "compare", "eu15", "eu", "--origin", str(target)
    )
    assert code == 0, err
    last = out.strip().splitlines()[-1].split()
    assert last[0] == "total"
    assert int(last[-1]) == persons


def test_tables_service_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    rel = tmp_path / "rel"
    args = [
        "tables", "--dwh", str(data / "dwh"), "--personnel", str(data / "personnel.parquet"),
        "--entities", str(data / "entities.parquet"), "--year", "2020", "--out", str(rel),
        "--eu-date", "2024-01-01", "--cache", str(tmp_path / "cache"),
    ]  # fmt: skip
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "computed: 2020" in out
    for name in ("cells.parquet", "cells.csv", "manifest.json"):
        assert (rel / name).is_file()
    assert list(rel.glob("*.xlsx"))
    # the administration total equals the staff aged 18-65 counted independently
    cells = pq.read_table(rel / "cells.parquet").to_pylist()
    total = [
        c["count"] for c in cells
        if c["scope"] == "administration" and c["breakdown"] == "total"
        and c["origin"] == "total" and c["definition"] == "eu15"
    ]  # fmt: skip
    import duckdb

    expected = duckdb.sql(
        f"""
        SELECT count(*) FROM read_parquet('{data / "personnel.parquet"}') s
        JOIN read_parquet('{data / "dwh" / "persons.parquet"}') p USING (ssin)
        WHERE s.year = 2020
          AND date_diff('year', p.birth_date, DATE '2020-12-31')
              - CASE WHEN strftime(p.birth_date, '%m-%d') > '12-31' THEN 1 ELSE 0 END
              BETWEEN 18 AND 65
        """
    ).fetchall()[0][0]
    assert total == [expected]
    # the re-run reuses the year from the cache
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "reused from the cache" in out


def test_tables_bad_years_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    base = [
        "tables", "--dwh", str(data / "dwh"), "--personnel", str(data / "personnel.parquet"),
        "--entities", str(data / "entities.parquet"), "--out", str(tmp_path / "r"),
    ]  # fmt: skip
    code, _out, err = run(monkeypatch, capsys, *base, "--years", "2023-2014")
    assert code == 2
    assert "--years: 2023 comes after 2014" in err
    code, _out, err = run(monkeypatch, capsys, *base, "--year", "1995")
    assert code == 2
    assert "no row for year(s) 1995" in err
    assert len(err.strip().splitlines()) == 1


def test_tables_for_every_definition(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    rel = tmp_path / "rel"
    defs = "eu15,eu,flanders2016,statbel,national_origin,migration_background"
    code, _out, err = run(
        monkeypatch, capsys, "tables", "--dwh", str(data / "dwh"),
        "--personnel", str(data / "personnel.parquet"), "--entities", str(data / "entities.parquet"),
        "--year", "2021", "--out", str(rel), "--definitions", defs, "--no-cache",
    )  # fmt: skip
    assert code == 0, err
    cells = pq.read_table(rel / "cells.parquet").to_pylist()
    top = [c for c in cells if c["scope"] == "administration" and c["breakdown"] == "total"]
    totals = {c["count"] for c in top if c["origin"] == "total"}
    assert len(totals) == 1  # the same people under every definition
    for d in defs.split(","):
        mine = [c for c in top if c["definition"] == d and c["origin"] != "total"]
        split = any(c["origin"].startswith("unknown_") for c in mine)
        # "unknown" is the sum of its parts where a definition splits it
        parts = [c["count"] for c in mine if not (split and c["origin"] == "unknown")]
        assert sum(parts) == next(iter(totals)), d
