"""Audiences through the command line: `tables --audience`, the authorization's refusals, and
`herkomst audit` passing on our public release and failing on an under-protected one."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from herkomst.authorization import load_authorization
from herkomst.engine import Engine
from herkomst.protect import protect_public
from herkomst.release import write_release
from herkomst.synth import SynthParams, synthesize
from herkomst.tabulate import TableParams, compute_cells
from tests.system.test_protect_end_to_end import YEAR, _dataset
from tests.unit.test_cli import run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(SynthParams(seed=11, scale=5000), out)
    return out


def _tables(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "tables", "--dwh", str(data / "dwh"), "--personnel", str(data / "personnel.parquet"),
        "--entities", str(data / "entities.parquet"), "--year", "2023", "--out", str(out),
        "--generated-on", "2024-06-30", "--today", "2024-06-30", *extra,
    ]  # fmt: skip


def test_entity_release_holds_that_entity_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    staff = pq.read_table(data / "personnel.parquet").filter(pc.equal(pc.field("year"), 2023))
    entity = sorted(set(staff["entity"].to_pylist()))[0]
    code, out, err = run(monkeypatch, capsys, *_tables(data, tmp_path / "e", "--audience",
                                                       f"entity:{entity}"))  # fmt: skip
    assert code == 0, err
    assert "personal data" in out
    cells = pq.read_table(tmp_path / "e" / "cells.parquet")
    assert set(cells["scope"].to_pylist()) == {"entity"}
    assert set(cells["entity"].to_pylist()) == {entity}
    assert set(cells["status"].to_pylist()) == {"published"}
    manifest = json.loads((tmp_path / "e" / "manifest.json").read_text())
    assert manifest["audience"] == f"entity:{entity}"
    assert manifest["protection"]["personal_data"] is True
    assert manifest["authorization"]["id"] == "13-71"
    # the same entity's cells as in the service release, exactly
    code, _, err = run(monkeypatch, capsys, *_tables(data, tmp_path / "s"))
    assert code == 0, err
    service = pq.read_table(tmp_path / "s" / "cells.parquet")
    mine = service.filter(
        pc.and_(pc.equal(service["scope"], "entity"), pc.equal(service["entity"], entity))
    )
    assert mine.to_pylist() == cells.to_pylist()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--audience", "public", "--definitions", "statbel"), "does not allow definition"),
        (("--audience", "minister"), "unknown audience"),
        (("--audience", "public", "--max-age", "67"), "aged 18 to 65"),
        (("--audience", "entity:NO-SUCH"), "no entity 'NO-SUCH'"),
    ],
)
def test_authorization_refuses_what_it_does_not_allow(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: Path,
    tmp_path: Path,
    extra: tuple[str, ...],
    message: str,
) -> None:
    code, _out, err = run(monkeypatch, capsys, *_tables(data, tmp_path / "x", *extra))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "cells.parquet").exists()


@pytest.fixture(scope="module")
def public_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Our public release (and the service cells) of a small tabulated staff."""
    ds, hand = _dataset()
    root = tmp_path_factory.mktemp("rel")
    with Engine() as eng:
        ds.load(eng)
        params = TableParams(years=(YEAR,), generated_on=dt.date(2024, 1, 1))
        res = compute_cells(eng, params, origin_step=hand)
        cells = eng.arrow(f"SELECT * FROM {res.relation} WHERE breakdown IN ('total', 'sex')")
        auth = load_authorization()
        published, summary, _ = protect_public(cells, auth, "public", attackers="all")
        eng.register("pub", published)
        eng.register("svc", cells)
        base = {"generated_on": "2024-01-01", "authorization": auth.provenance()}
        write_release(eng, "pub", root / "public", {**base, "protection": summary}, "public")
        write_release(eng, "svc", root / "service", base, "service")
    return root / "public", root / "service"


def test_audit_passes_on_our_public_release(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    public_release: tuple[Path, Path],
) -> None:
    pub, svc = public_release
    code, out, err = run(monkeypatch, capsys, "audit", str(pub), "--attacker", "all",
                         "--truth", str(svc))  # fmt: skip
    assert code == 0, err
    assert "audit passed" in out
    summary = json.loads((pub / "audit.json").read_text())
    assert summary["passed"] is True
    assert "insider:D1-A" in summary["attackers"]


def test_audit_fails_on_an_under_protected_release(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    public_release: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    # The naive release: the same small-count labels, but every complementary suppression
    # published again (its true count from the service release).
    pub, svc = public_release
    naive = tmp_path / "naive"
    shutil.copytree(pub, naive)
    cells = pq.read_table(naive / "cells.parquet")
    truth = pq.read_table(svc / "cells.parquet")
    keys = [c for c in cells.column_names if c not in ("count", "percent", "shown", "status")]
    true_count = {tuple(r[k] for k in keys): r["count"] for r in truth.to_pylist()}
    rows = cells.to_pylist()
    n_x = 0
    for r in rows:
        if r["status"] == "masked_secondary":
            n_x += 1
            r["count"] = true_count[tuple(r[k] for k in keys)]
            r["shown"], r["status"] = str(r["count"]), "published"
    assert n_x > 0, "the fixture release needs complementary suppressions"
    pq.write_table(pa.Table.from_pylist(rows, schema=cells.schema), naive / "cells.parquet")
    code, _out, err = run(monkeypatch, capsys, "audit", str(naive))
    assert code == 1
    assert "audit failed" in err
    assert len(err.strip().splitlines()) == 1
    assert json.loads((naive / "audit.json").read_text())["passed"] is False


def test_service_tables_under_another_definition_are_marked_not_covered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        monkeypatch, capsys, *_tables(data, tmp_path / "s", "--definitions", "eu,statbel")
    )
    assert code == 0, err
    assert "not among those of authorization 13-71" in " ".join(out.split())
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["protection"]["not_covered_by_authorization"] == ["statbel"]
