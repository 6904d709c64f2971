"""The project register and retention: destruction after the retention end, extensions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import herkomst
from herkomst import AuthorizationError, Engine, UsageError, ValidationOptions
from herkomst.extract import (
    ExtractParams,
    ExtractResult,
    ProjectStatus,
    Vault,
    build_extract,
    confirm_destruction,
    extend_retention,
    get_project,
    load_extract_authorization,
    open_register,
    parse_vault_key,
    retention,
)
from herkomst.synth import SynthParams, synthesize

KEY = parse_vault_key("44" * 32)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    out = tmp_path_factory.mktemp("synth")
    synthesize(SynthParams(seed=1, scale=5000), out)
    eng = Engine()
    herkomst.load_dataset(eng, out / "dwh", options=ValidationOptions())
    yield eng
    eng.close()


def deliver(
    engine: Engine, wh: Path, out: Path, project: str = "edfps", on: dt.date = dt.date(2024, 2, 1)
) -> ExtractResult:
    params = ExtractParams(
        project=project,
        population="federal",
        sample_size=30,
        seed=1,
        warehouse=wh,
        delivered_on=on,
        risk=None,
    )
    return build_extract(engine, load_extract_authorization(), params, out, KEY)


def test_register_records_project_and_deliveries(engine: Engine, tmp_path: Path) -> None:
    res = deliver(engine, tmp_path / "wh", tmp_path / "out")
    p = get_project(tmp_path / "wh", "edfps")
    assert p is not None
    assert (p.authorization_id, p.population, p.status) == (
        "23-224",
        "federal",
        ProjectStatus.ACTIVE,
    )
    assert p.retention_end == dt.date(2024, 12, 31)
    with open_register(tmp_path / "wh") as con:
        rows = con.execute("SELECT delivery, files, manifest_sha256 FROM deliveries").fetchall()
    assert rows[0][0] == res.delivery == 1
    assert json.loads(rows[0][1]) == dict(res.files)
    assert rows[0][2] == res.files["manifest.json"]


def test_nothing_destroyed_on_the_retention_end(engine: Engine, tmp_path: Path) -> None:
    deliver(engine, tmp_path / "wh", tmp_path / "out")
    report = retention(tmp_path / "wh", dt.date(2024, 12, 31))
    assert report.destroyed == {}
    assert report.pending_confirmations == ()
    assert Vault(tmp_path / "wh" / "vault", KEY).exists("edfps")


def test_retention_destroys_keys_mapping_and_staged_copies(engine: Engine, tmp_path: Path) -> None:
    wh, out = tmp_path / "wh", tmp_path / "out"
    deliver(engine, wh, out)
    report = retention(wh, dt.date(2025, 1, 1))
    assert set(report.destroyed) == {"edfps"}
    rec = report.destroyed["edfps"]
    assert rec["vault_files_destroyed"] == ["edfps.key", "edfps.map"]
    assert not (wh / "vault" / "edfps.key").exists()
    assert not (wh / "vault" / "edfps.map").exists()
    assert not out.exists()  # the staged copy
    record = wh / "destruction" / rec["record_file"]
    assert json.loads(record.read_text())["destroyed_on"] == "2025-01-01"
    p = get_project(wh, "edfps")
    assert p is not None
    assert p.status is ProjectStatus.DESTROYED
    assert [(c.project, c.delivery) for c in report.pending_confirmations] == [("edfps", 1)]
    # run again: nothing more to destroy, the confirmation is still owed
    again = retention(wh, dt.date(2025, 1, 2))
    assert again.destroyed == {}
    assert len(again.pending_confirmations) == 1
    confirm_destruction(wh, "edfps", 1, dt.date(2025, 1, 15), "VUB letter 2025-001")
    assert retention(wh, dt.date(2025, 1, 16)).pending_confirmations == ()
    # a destroyed project takes no more deliveries
    with pytest.raises(AuthorizationError, match="destroyed"):
        deliver(engine, wh, tmp_path / "out2", on=dt.date(2024, 6, 1))


def test_extension_needs_a_decision_reference(engine: Engine, tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    deliver(engine, wh, tmp_path / "out")
    with pytest.raises(AuthorizationError, match="reference of the decision"):
        extend_retention(wh, "edfps", dt.date(2025, 12, 31), "  ", dt.date(2024, 11, 1))
    with pytest.raises(UsageError, match="not after"):
        extend_retention(wh, "edfps", dt.date(2024, 6, 30), "IVC 24/100", dt.date(2024, 11, 1))
    p = extend_retention(wh, "edfps", dt.date(2025, 12, 31), "IVC 24/100", dt.date(2024, 11, 1))
    assert p.retention_end == dt.date(2025, 12, 31)
    assert retention(wh, dt.date(2025, 1, 1)).destroyed == {}
    res = deliver(engine, wh, tmp_path / "out2", on=dt.date(2025, 2, 1))  # allowed now
    assert res.manifest["retention_end"] == "2025-12-31"
    with pytest.raises(AuthorizationError, match="retention"):
        deliver(engine, wh, tmp_path / "out3", on=dt.date(2026, 1, 1))
    assert set(retention(wh, dt.date(2026, 1, 1)).destroyed) == {"edfps"}


def test_staged_copy_of_another_project_is_not_removed(engine: Engine, tmp_path: Path) -> None:
    wh, out = tmp_path / "wh", tmp_path / "out"
    deliver(engine, wh, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["project"] = "someone-else"
    (out / "manifest.json").write_text(json.dumps(manifest))
    report = retention(wh, dt.date(2025, 1, 1))
    assert report.destroyed["edfps"]["staged_copies_removed"] == []
    assert out.exists()
