"""The enclave through the command line, as an operator, a researcher and a supervisor would:
extract (phase 1) -> enclave stage -> enclave run -> review -> approve/reject -> export ->
verify-log, with the exit codes; then a tampered log and a tampered output are caught."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from herkomst.synth import SynthParams, synthesize
from tests.unit.test_cli import run

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap missing")

SCRIPT = Path(__file__).parents[2] / "src/herkomst/enclave/examples/demo_research.py"


def test_enclave_end_to_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    synthesize(SynthParams(seed=7, scale=5000), tmp_path / "synth")
    dwh = str(tmp_path / "synth" / "dwh")
    wh = tmp_path / "warehouse"
    key = tmp_path / "vault.key"
    key.write_text("3c" * 32)
    monkeypatch.delenv("HERKOMST_ENCLAVE_LOG_KEY", raising=False)
    p = ["--project", "p7", "--warehouse", str(wh)]
    code, _, err = run(
        monkeypatch, capsys, "extract", "--dwh", dwh, "--population", "private",
        "--sample", "400", "--seed", "3", "--out", str(wh / "staging" / "p7"),
        "--warehouse", str(wh), "--project", "p7", "--vault-key-file", str(key),
        "--delivered-on", "2024-03-01",
    )  # fmt: skip
    assert code == 0, err
    # stage: the whole population; the sample's 400 keep their numbers
    code, out, err = run(
        monkeypatch, capsys, "enclave", "stage", *p, "--dwh", dwh, "--population", "private",
        "--vault-key-file", str(key), "--staged-on", "2024-05-01", "--actor", "operator",
    )  # fmt: skip
    assert code == 0, err
    assert "400 kept their number" in out
    population = wh / "enclave" / "p7" / "data" / "population.parquet"
    con = duckdb.connect()
    persons = con.execute(f"SELECT count(DISTINCT seq_no) FROM '{population}'").fetchone()
    assert persons is not None
    assert f"staged: {persons[0]:,} persons" in out
    # the hidden group of the differencing pair: staff without a known region, some < 10
    hidden = con.execute(
        f"SELECT count(*) FROM '{population}' WHERE year = 2021 AND region = 'unknown' "
        "GROUP BY age_class"
    ).fetchall()
    assert any(0 < n < 10 for (n,) in hidden)
    # run the sample research script
    code, out, err = run(monkeypatch, capsys, "enclave", "run", str(SCRIPT), *p)
    assert code == 0, err
    assert "output staff_by_age: pass (pending review)" in out
    assert "output origin_by_region: fail" in out
    assert "output staff_by_age_known_region: pass" in out
    # review: list, approve the safe table; the pair's other half now fails (differencing)
    code, out, err = run(monkeypatch, capsys, "enclave", "review", *p)
    assert code == 0, err
    assert "origin_by_region" in out
    assert "threshold fail" in out.replace("=", " ")
    code, out, err = run(
        monkeypatch, capsys, "enclave", "review", *p, "--approve", "staff_by_age",
        "--reason", "all counts at least 10", "--reviewer", "supervisor",
    )  # fmt: skip
    assert code == 0, err
    assert "approved" in out
    code, out, err = run(monkeypatch, capsys, "enclave", "review", *p)
    assert code == 0, err
    assert "staff_by_age_known_region: differencing fail" in " ".join(out.split())
    code, out, err = run(
        monkeypatch, capsys, "enclave", "review", *p, "--approve", "origin_by_region",
        "--reason", "please",
    )  # fmt: skip
    assert code == 2
    assert "justification" in err
    for name in ("origin_by_region", "staff_by_age_known_region"):
        code, _, err = run(
            monkeypatch, capsys, "enclave", "review", *p, "--reject", name, "--reason", "risk"
        )
        assert code == 0, err
    # export: only the approved table
    exported = tmp_path / "export"
    code, out, err = run(monkeypatch, capsys, "enclave", "export", *p, "--out", str(exported))
    assert code == 0, err
    files = sorted(x.relative_to(exported).as_posix() for x in exported.rglob("*") if x.is_file())
    assert files == ["SHA256SUMS", "results.json", "staff_by_age/table.csv"]
    results = json.loads((exported / "results.json").read_text())
    assert list(results["results"]) == ["staff_by_age"]
    assert results["results"]["staff_by_age"]["herkomst"]["reviewer"] == "supervisor"
    for line in (exported / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((exported / name).read_bytes()).hexdigest() == digest
    # the log verifies; a changed entry is caught with its number
    code, out, err = run(monkeypatch, capsys, "enclave", "verify-log", *p)
    assert code == 0, err
    assert "log verified" in out
    log = wh / "enclave" / "p7" / "log.jsonl"
    lines = log.read_text().splitlines()
    entry = json.loads(lines[3])
    entry["actor"] = "someone else"
    lines[3] = json.dumps(entry)
    log.write_text("\n".join(lines) + "\n")
    code, _, err = run(monkeypatch, capsys, "enclave", "verify-log", *p)
    assert code == 1
    assert f"log broken at entry {entry['seq']}" in err
    # a table changed after approval is refused at export
    table = wh / "enclave" / "p7" / "outputs" / "staff_by_age" / "table.csv"
    table.write_text(table.read_text() + "extra,1\n")
    log.write_text("")  # (a fresh log, so that the refusal can be logged)
    (wh / "enclave" / "p7" / "log.head").unlink()
    code, _, err = run(
        monkeypatch, capsys, "enclave", "export", *p, "--out", str(tmp_path / "export2")
    )
    assert code == 1
    assert "staff_by_age/table.csv changed after approval" in err
    # a project that was never staged
    code, _, err = run(monkeypatch, capsys, "enclave", "run", str(SCRIPT), "--project", "nope",
                       "--warehouse", str(wh))  # fmt: skip
    assert code == 2
    assert "no staged data" in err
