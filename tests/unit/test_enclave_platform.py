"""The enclave's platform (issue 7, engineer A): rules, staging, the sandbox, review and export,
the audit log.

Real runs throughout: a small synthetic register, real phase-1 extracts, real staging through
the vault, scripts run in bubblewrap, B's real checks. Values are compared with what is
computed another way (the phase-1 extract itself, the vault's mapping, hashes recomputed here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import shutil
import stat
import textwrap
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from herkomst import AuthorizationError, CheckFailed, RuleError, UsageError
from herkomst.enclave.auditlog import AuditLog, verify_log
from herkomst.enclave.review import decide, export, outputs, pending
from herkomst.enclave.rules import CheckRules, RunLimits, Status, load_enclave_rules
from herkomst.enclave.sandbox import RunParams, run_script
from herkomst.enclave.stage import StageParams, _open_to_sandbox, stage
from herkomst.enclave.workspace import SANDBOX_GID, SANDBOX_UID, OutputState, Workspace, is_root
from herkomst.extract import Vault, extract_from_dwh, parse_vault_key
from herkomst.rules import BUNDLED
from herkomst.synth import SynthParams, synthesize

KEY_HEX = "5a" * 32
KEY = parse_vault_key(KEY_HEX)
SAMPLE = 300
AUTH_FILE = BUNDLED / "authorization_23-224.toml"

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap missing")


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dwh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(SynthParams(seed=1, scale=5000), out)
    return out / "dwh"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, dwh: Path) -> Path:
    """Two projects (p1 private, p2 other_public), each extracted (phase 1) and staged."""
    wh = tmp_path_factory.mktemp("wh") / "warehouse"
    key_file = wh.parent / "vault.key"
    key_file.write_text(KEY_HEX)
    for project, population in (("p1", "private"), ("p2", "other_public")):
        extract_from_dwh(
            dwh,
            wh / "staging" / project,
            wh,
            population,
            SAMPLE,
            5,
            project=project,
            key_file=key_file,
            delivered_on=dt.date(2024, 3, 1),
        )
        stage(StageParams(project, wh, dwh, staged_on=dt.date(2024, 4, 2)), KEY)
    return wh


def fresh(warehouse: Path, tmp_path: Path) -> Workspace:
    """A private copy of the staged warehouse (a test's runs and decisions stay its own)."""
    wh = tmp_path / "warehouse"
    shutil.copytree(warehouse, wh)
    ws = Workspace(wh, "p1")
    _open_to_sandbox(ws.data)
    return ws


def rec_uid(run_dir: Path) -> int:
    uid = json.loads((run_dir / "record.json").read_text())["sandbox"]["uid"]
    assert uid != 0
    if is_root():
        assert SANDBOX_UID <= uid < SANDBOX_UID + 256
    return int(uid)


def write_script(tmp_path: Path, body: str, name: str = "script.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


# -- rules ----------------------------------------------------------------------------------


def test_rules_are_sacro_defaults_from_the_authorization() -> None:
    rules = load_enclave_rules("23-224")
    assert rules.checking == CheckRules(clause=rules.checking.clause)  # SACRO's defaults
    assert "point" in rules.checking.clause
    assert "SACRO" in rules.checking.clause
    assert rules.run.wall_seconds > 0
    assert rules.run.memory_mb >= 1024
    assert "points 2, 3 and 17" in rules.run.clause
    assert rules.sha256 == hashlib.sha256(AUTH_FILE.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("[enclave]\n", "[enclave_x]\n", "missing section \\[enclave\\]"),
        ("threshold = 10\n", "threshold = 10\nthreshold_x = 3\n", "unknown key"),
        ("threshold = 10\n", 'threshold = "10"\n', "threshold"),
        ("dominance_k = 0.9\n", "dominance_k = 1.5\n", "dominance_k"),
        ('zeros = "review"\n', 'zeros = "maybe"\n', "zeros"),
        ("max_processes = 64\n", "", "max_processes"),
        ("memory_mb = 4096\n", "memory_mb = true\n", "memory_mb"),
    ],
)
def test_rules_fail_closed(tmp_path: Path, old: str, new: str, match: str) -> None:
    text = AUTH_FILE.read_text()
    assert old in text
    bad = tmp_path / "authorization_bad.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(RuleError, match=match):
        load_enclave_rules(bad)


def test_status_order_and_worst() -> None:
    assert Status.PASS < Status.REVIEW < Status.FAIL
    assert sorted([Status.FAIL, Status.PASS, Status.REVIEW]) == [
        Status.PASS,
        Status.REVIEW,
        Status.FAIL,
    ]
    assert Status.worst([Status.PASS, Status.REVIEW]) is Status.REVIEW
    assert Status.worst([]) is Status.PASS
    assert Status.worst(["pass", "fail", "review"]) is Status.FAIL


# -- staging --------------------------------------------------------------------------------


def test_stage_full_population_keeps_phase1_numbers(warehouse: Path) -> None:
    ws = Workspace(warehouse, "p1")
    staged = pq.read_table(ws.population).to_pylist()
    extract = pq.read_table(warehouse / "staging" / "p1" / "extract.parquet").to_pylist()
    manifest = json.loads((warehouse / "staging" / "p1" / "manifest.json").read_text())
    # the whole population, exactly the extract's variables (same order), seq_no for pid
    persons = {r["seq_no"] for r in staged}
    assert len(persons) == manifest["population"]["size"]
    assert list(staged[0]) == ["seq_no", "year", *manifest["variables"]]
    assert sorted(persons) == list(range(1, len(persons) + 1))
    # every phase-1 row is in the staged data under the same number, unchanged
    by_key = {(r["seq_no"], r["year"]): r for r in staged}
    for row in extract:
        got = dict(by_key[(row["pid"], row["year"])])
        got["pid"] = got.pop("seq_no")
        assert got == row
    assert {r["pid"] for r in extract} == set(range(1, SAMPLE + 1))


def test_stage_numbers_the_rest_on_at_random(warehouse: Path) -> None:
    mapping = Vault(warehouse / "vault", KEY).load("p1")
    new = {s: n for s, n in mapping.items() if n > SAMPLE}
    assert len(new) == len(mapping) - SAMPLE > 100
    in_ssin_order = [new[s] for s in sorted(new)]
    assert in_ssin_order != sorted(in_ssin_order)  # not numbered in SSIN order
    # the stage entry of the log says how many kept and how many were numbered on
    entry = AuditLog(Workspace(warehouse, "p1").log, "p1").entries()[0]
    assert entry["action"] == "stage"
    assert entry["details"]["kept_numbers"] == SAMPLE
    assert entry["details"]["numbered_on"] == len(new)


def test_staged_files_hold_no_ssin_and_are_private(warehouse: Path) -> None:
    ws = Workspace(warehouse, "p1")
    ssins = list(Vault(warehouse / "vault", KEY).load("p1"))
    assert ssins
    assert all(len(s) == 11 for s in ssins)
    for f in ws.data.iterdir():
        raw = f.read_bytes()
        if f.suffix == ".parquet":
            raw = json.dumps(pq.read_table(f).to_pylist(), default=str).encode()
        assert not any(s.encode() in raw for s in ssins[:500]), f.name
    assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(ws.log.stat().st_mode) == 0o600
    for f in ws.data.iterdir():
        mode = stat.S_IMODE(f.stat().st_mode)
        if is_root():
            assert mode == 0o640
            assert f.stat().st_gid == SANDBOX_GID
        else:
            assert mode == 0o600
    files = AuditLog(ws.log, "p1").entries()[0]["details"]["files"]
    for name, digest in files.items():
        assert hashlib.sha256((ws.data / name).read_bytes()).hexdigest() == digest


def test_stage_refuses_unknown_project_and_wrong_population(warehouse: Path, dwh: Path) -> None:
    with pytest.raises(UsageError, match="not in the register"):
        stage(StageParams("nope", warehouse, dwh), KEY)
    with pytest.raises(UsageError, match="population 'private'"):
        stage(StageParams("p1", warehouse, dwh, population="federal"), KEY)


# -- the sandbox ----------------------------------------------------------------------------

HOSTILE = """
import json, os, socket, subprocess, threading
WH = {wh!r}
obs = {{}}
def attempt(name, fn):
    try:
        fn()
        obs[name] = "succeeded"
    except BaseException as e:
        obs[name] = type(e).__name__ + ": " + str(e)
def read(path):
    with open(path, "rb") as fh:
        return fh.read()
def write(path):
    with open(path, "w") as fh:
        fh.write("x")
attempt("network", lambda: socket.create_connection(("1.1.1.1", 80), timeout=3))
attempt("network_local", lambda: socket.create_connection(("127.0.0.1", 22), timeout=3))
attempt("dns", lambda: socket.getaddrinfo("example.org", 443))
attempt("write_data", lambda: write("/data/population.parquet"))
attempt("write_root", lambda: write("/evil"))
attempt("write_outbox_parent", lambda: write("/outbox/../evil"))
attempt("write_package", lambda: write(os.path.dirname(__import__("herkomst").__file__) + "/x"))
attempt("write_host_warehouse", lambda: write(WH + "/evil"))
attempt("read_vault_key", lambda: read(WH + "/vault/p1.key"))
attempt("read_vault_map", lambda: read(WH + "/vault/p1.map"))
attempt("read_register", lambda: read(WH + "/register.duckdb"))
attempt("read_other_project", lambda: read(WH + "/enclave/p2/data/population.parquet"))
attempt("read_phase1_delivery", lambda: read(WH + "/staging/p1/extract.parquet"))
attempt("read_data_parent", lambda: read("/data/../enclave/p2/data/population.parquet"))
attempt("read_workspace_log", lambda: read(WH + "/enclave/p1/log.jsonl"))
attempt("read_etc_shadow", lambda: read("/etc/shadow"))
attempt("program", lambda: subprocess.run(["/usr/bin/id"], check=True, capture_output=True))
obs["data_parent"] = sorted(os.listdir("/data/.."))
obs["data_size"] = len(read("/data/population.parquet"))
obs["uid"] = os.getuid()
with open("/scratch/work.tmp", "w") as fh:
    fh.write("scratch")
with open("/outbox/observed.json", "w") as fh:
    json.dump(obs, fh, indent=1)
print("hostile script done")
"""


def test_hostile_script_fails_inside_and_is_recorded(warehouse: Path, tmp_path: Path) -> None:
    ws = Workspace(warehouse, "p1")
    script = write_script(tmp_path, HOSTILE.format(wh=str(warehouse)))
    result = run_script(RunParams("p1", warehouse, script, actor="mallory"))
    assert result.exit_status == 0
    assert not result.timed_out
    obs = json.loads((result.run_dir / "outbox" / "observed.json").read_text())
    denied = [
        k for k in obs if k.startswith(("network", "dns", "write_", "read_")) or k == "program"
    ]
    assert len(denied) == 17
    for k in denied:
        if k == "program":  # starting a program is allowed; it sees the same sandbox
            assert obs[k] == "succeeded"
            continue
        assert obs[k] != "succeeded", k
        assert obs[k].split(":")[0] in {
            "OSError",
            "PermissionError",
            "FileNotFoundError",
            "gaierror",
            "ConnectionRefusedError",
            "TimeoutError",
        }, (k, obs[k])
    assert "Network is unreachable" in obs["network"]
    assert "Read-only file system" in obs["write_data"]
    assert "Read-only file system" in obs["write_root"]
    # what the data's parent holds: the sandbox's own empty skeleton, no warehouse
    assert "enclave" not in obs["data_parent"]
    assert "vault" not in obs["data_parent"]
    assert obs["data_size"] == ws.population.stat().st_size
    assert obs["uid"] == rec_uid(result.run_dir)
    # the record: script hash, limits, exit status, and the attempts seen
    rec = json.loads((result.run_dir / "record.json").read_text())
    assert rec["script"]["sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    assert rec["exit_status"] == 0
    assert rec["limits"] == {
        "wall_seconds": load_enclave_rules().run.wall_seconds,
        "memory_mb": load_enclave_rules().run.memory_mb,
        "max_processes": load_enclave_rules().run.max_processes,
        "clause": load_enclave_rules().run.clause,
    }
    hook = rec["denied"]["audit_hook"]
    assert hook["channel"].startswith("complete")
    seen = {(a["event"], a.get("path", a.get("address", ""))) for a in hook["attempts"]}
    assert ("network", "('1.1.1.1', 80)") in seen
    assert ("write_outside_outbox", "/data/population.parquet") in seen
    assert ("write_outside_outbox", "/evil") in seen
    assert ("write_not_found", f"{warehouse}/evil") in seen  # /tmp is private in the sandbox
    assert ("read_outside_mounts", "/etc/shadow") in seen
    events = {(a["event"], a.get("path")) for a in hook["attempts"]}
    for p in ("vault/p1.key", "vault/p1.map", "enclave/p2/data/population.parquet"):
        assert any(path == f"{warehouse}/{p}" for _, path in events), p
    assert any(a["event"] == "start_program" for a in hook["attempts"])
    # the loose file is kept with the run but is not an output; scratch is emptied
    assert rec["loose_files"] == ["observed.json"]
    assert result.outputs == {}
    assert rec["scratch"] == {"files": 1, "bytes": 7, "kept": False}
    assert not (result.run_dir / "scratch").exists()
    assert "hostile script done" in (result.run_dir / "stdout").read_text()
    # the run entry of the log names the record's hash
    run_entry = AuditLog(ws.log, "p1").entries()[-1]
    assert run_entry["action"] == "run"
    assert run_entry["actor"] == "mallory"
    assert (
        run_entry["details"]["record_sha256"]
        == hashlib.sha256((result.run_dir / "record.json").read_bytes()).hexdigest()
    )
    assert verify_log(ws.log, "p1").ok
    # nothing of the run is owned by the sandbox user any more
    assert all(p.stat().st_uid == os.geteuid() for p in result.run_dir.rglob("*"))


LIMITS = """
import json, threading, time
obs = {}
try:
    block = bytearray(3 * 1024 * 1024 * 1024)
    obs["memory"] = "succeeded"
except MemoryError:
    obs["memory"] = "MemoryError"
threads = []
try:
    for i in range(200):
        t = threading.Thread(target=time.sleep, args=(2,))
        t.start()
        threads.append(t)
    obs["threads"] = "succeeded"
except RuntimeError as e:
    obs["threads"] = "RuntimeError after %d" % len(threads)
with open("/outbox/limits.json", "w") as fh:
    json.dump(obs, fh)
"""


def test_memory_and_process_limits(warehouse: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, LIMITS)
    limits = RunLimits(wall_seconds=60, memory_mb=1024, max_processes=16, clause="test")
    result = run_script(RunParams("p1", warehouse, script, limits=limits))
    assert result.exit_status == 0, result.record["stderr"]["tail"]
    obs = json.loads((result.run_dir / "outbox" / "limits.json").read_text())
    assert obs["memory"] == "MemoryError"
    assert obs["threads"].startswith("RuntimeError after")
    assert int(obs["threads"].split()[-1]) < 16
    assert result.record["limits"]["max_processes"] == 16


def test_wall_time_kills_the_run(warehouse: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n")
    limits = RunLimits(wall_seconds=3, memory_mb=2048, max_processes=32, clause="test")
    result = run_script(RunParams("p1", warehouse, script, limits=limits))
    assert result.timed_out
    assert result.record["killed_by_signal"] == "SIGKILL"
    assert 3 <= result.record["seconds"] < 30
    assert result.record["denied"]["audit_hook"]["channel"].startswith("incomplete")
    assert "sleeping" in (result.run_dir / "stdout").read_text()


def test_limits_above_the_authorization_are_refused(warehouse: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "print(1)\n")
    authorized = load_enclave_rules().run
    limits = RunLimits(authorized.wall_seconds + 1, 512, 8, "more time")
    with pytest.raises(AuthorizationError, match="wall_seconds"):
        run_script(RunParams("p1", warehouse, script, limits=limits))


def test_failing_script_is_recorded(warehouse: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "raise ValueError('boom')\n")
    result = run_script(RunParams("p1", warehouse, script))
    assert result.exit_status == 1
    assert any("ValueError: boom" in line for line in result.record["stderr"]["tail"])
    assert result.record["denied"]["audit_hook"]["script_exit"] == 1


# -- review and export ----------------------------------------------------------------------

OUTPUTS = """
from herkomst import enclave as he
data = he.dataset()
he.frequency(data, "age_class", name="safe", where="year = 2021")
he.crosstab(data, "national_origin_group", "region", name="risky", where="year = 2021")
with open("/scratch/notes.txt", "w") as fh:
    fh.write("a note for the reviewer")
he.free_file("/scratch/notes.txt", name="notes", description="notes")
"""


@pytest.fixture
def reviewed(warehouse: Path, tmp_path: Path) -> Workspace:
    ws = fresh(warehouse, tmp_path)
    script = write_script(tmp_path, OUTPUTS)
    result = run_script(RunParams("p1", ws.warehouse, script))
    assert result.exit_status == 0, result.record["stderr"]["tail"]
    assert result.outputs == {"notes": "review", "risky": "fail", "safe": "pass"}
    return ws


def test_review_lists_pending_with_checks(reviewed: Workspace) -> None:
    items = {i.name: i for i in pending(reviewed)}
    assert set(items) == {"safe", "risky", "notes"}
    assert all(i.state is OutputState.PENDING for i in items.values())
    risky = items["risky"]
    assert risky.status is Status.FAIL
    threshold = next(c for c in risky.checks if c["rule"] == "threshold")
    assert threshold["status"] == "fail"
    assert threshold["cells"]
    assert risky.suggestions  # mitigations offered
    assert items["notes"].status is Status.REVIEW


def test_approve_reject_and_export_only_approved(reviewed: Workspace, tmp_path: Path) -> None:
    ws = reviewed
    with pytest.raises(UsageError, match="reason"):
        decide(ws, "safe", True, "  ", "sup")
    with pytest.raises(UsageError, match="justification"):
        decide(ws, "risky", True, "looks fine", "sup")
    decide(ws, "safe", True, "all counts at least 10", "sup")
    decide(ws, "risky", False, "small cells", "sup")
    decide(ws, "notes", True, "text only, no numbers", "sup")
    with pytest.raises(UsageError, match="already approved"):
        decide(ws, "safe", False, "changed my mind", "sup")
    states = {i.name: i.state for i in outputs(ws)}
    assert states == {
        "safe": OutputState.APPROVED,
        "risky": OutputState.REJECTED,
        "notes": OutputState.APPROVED,
    }
    out = tmp_path / "export"
    result = export(ws, out, actor="sup")
    assert result.outputs == ("notes", "safe")
    exported = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert exported == ["SHA256SUMS", "notes/notes.txt", "results.json", "safe/table.csv"]
    assert (out / "safe" / "table.csv").read_bytes() == (
        ws.output_dir("safe") / "table.csv"
    ).read_bytes()
    # SHA256SUMS holds the hash of every other file
    sums = dict(
        reversed(line.split("  ")) for line in (out / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) == set(exported) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    # results.json: ACRO's layout plus our fields
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["results"]) == {"safe", "notes"}
    safe = doc["results"]["safe"]
    for key in ("uid", "status", "type", "properties", "files", "outcome", "command",
                "summary", "timestamp", "comments", "exception"):  # fmt: skip
        assert key in safe
    assert safe["status"] == "pass"
    assert safe["type"] == "table"
    assert safe["files"][0]["name"] == "safe/table.csv"
    assert safe["herkomst"]["reviewer"] == "sup"
    assert safe["herkomst"]["reason"] == "all counts at least 10"
    assert doc["results"]["notes"]["type"] == "custom"
    head = AuditLog(ws.log, "p1").entries()[-2]  # the entry before the export entry
    assert doc["herkomst"]["audit_log_head"] == {"seq": head["seq"], "hash": head["hash"]}
    last = AuditLog(ws.log, "p1").entries()[-1]
    assert last["action"] == "export"
    assert last["details"]["files"] == result.files
    assert verify_log(ws.log, "p1").ok
    with pytest.raises(UsageError, match="not empty"):
        export(ws, out)


def test_approving_a_failed_output_needs_a_justification(reviewed: Workspace) -> None:
    item = decide(
        reviewed,
        "risky",
        True,
        "exception",
        "sup",
        justification="the small cells are public knowledge from the annual report 2021",
    )
    assert item.state is OutputState.APPROVED
    assert item.status is Status.FAIL
    entry = AuditLog(reviewed.log, "p1").entries()[-1]
    assert entry["action"] == "approve"
    assert entry["details"]["justification"].startswith("the")


@pytest.mark.parametrize("tamper", ["change", "add", "remove_membership"])
def test_a_changed_output_is_refused(reviewed: Workspace, tmp_path: Path, tamper: str) -> None:
    ws = reviewed
    decide(ws, "safe", True, "all counts at least 10", "sup")
    d = ws.output_dir("safe")
    if tamper == "change":
        (d / "table.csv").write_text((d / "table.csv").read_text().replace("2", "3", 1))
    elif tamper == "add":
        (d / "extra.csv").write_text("a,b\n1,2\n")
    else:
        (d / "membership.parquet").unlink()
    out = tmp_path / "export"
    with pytest.raises(CheckFailed, match="after approval"):
        export(ws, out)
    assert not out.exists() or not any(out.iterdir())
    assert AuditLog(ws.log, "p1").entries()[-1]["action"] == "export-refused"


def test_nothing_to_export_without_approval(reviewed: Workspace, tmp_path: Path) -> None:
    decide(reviewed, "safe", False, "not needed", "sup")
    with pytest.raises(UsageError, match="no approved output"):
        export(reviewed, tmp_path / "export")


def test_membership_and_record_never_exported(reviewed: Workspace, tmp_path: Path) -> None:
    # an output whose record lists the internal files among the researcher's files
    decide(reviewed, "safe", True, "ok", "sup")
    d = reviewed.output_dir("safe")
    assert (d / "membership.parquet").is_file()
    assert (d / "output.json").is_file()
    out = tmp_path / "export"
    export(reviewed, out)
    names = {p.name for p in out.rglob("*")}
    assert "membership.parquet" not in names
    assert "output.json" not in names


def test_differencing_against_released(warehouse: Path, tmp_path: Path) -> None:
    ws = fresh(warehouse, tmp_path)
    con = duckdb.connect()
    brussels = con.execute(
        f"SELECT min(n) FROM (SELECT count(*) AS n FROM read_parquet('{ws.population}') "
        "WHERE year = 2021 AND region = 'BE-BRU' GROUP BY age_class)"
    ).fetchone()
    assert brussels is not None
    assert 0 < brussels[0] < 10
    script = write_script(
        tmp_path,
        """
        from herkomst import enclave as he
        data = he.dataset()
        he.frequency(data, "age_class", name="a", where="year = 2021")
        he.frequency(data, "age_class", name="b", where="year = 2021 AND region <> 'BE-BRU'")
        """,
    )
    result = run_script(RunParams("p1", ws.warehouse, script))
    assert result.outputs == {"a": "pass", "b": "pass"}  # each safe on its own
    decide(ws, "a", True, "safe", "sup")
    items = {i.name: i for i in pending(ws)}
    assert items["b"].status is Status.FAIL
    diff = next(c for c in items["b"].checks if c["rule"] == "differencing")
    assert diff["status"] == "fail"
    entries = AuditLog(ws.log, "p1").entries()
    assert entries[-1]["action"] == "check"
    assert entries[-1]["details"]["recheck"] is True


# -- the audit log --------------------------------------------------------------------------


def _log(tmp_path: Path, key: bytes | None = None) -> AuditLog:
    log = AuditLog(tmp_path / "log.jsonl", "proj", key)
    for i in range(1, 6):
        log.append(
            "tester", f"action{i}", {"n": i, "sha256": hashlib.sha256(b"%d" % i).hexdigest()}
        )
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines()


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(line + "\n" for line in lines))


def test_log_verifies_and_chains(tmp_path: Path) -> None:
    log = _log(tmp_path)
    check = log.verify()
    assert check.ok
    assert check.entries == 5
    entries = log.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    for prev, e in itertools.pairwise(entries):
        assert e["prev"] == prev["hash"]
    body = {k: v for k, v in entries[2].items() if k != "hash"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canon.encode()).hexdigest() == entries[2]["hash"]
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


def test_log_detects_a_changed_entry(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    e = json.loads(lines[2])
    e["details"]["n"] = 99
    lines[2] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    _write(log, lines)
    check = log.verify()
    assert not check.ok
    assert check.first_bad_seq == 3
    assert "changed" in check.reason


def test_log_detects_a_removed_entry(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    check = log.verify()
    assert not check.ok
    assert check.first_bad_seq == 3
    assert "removed" in check.reason


def test_log_detects_reordered_entries(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _write(log, lines)
    check = log.verify()
    assert not check.ok
    assert check.first_bad_seq == 3


def test_log_detects_a_rechained_entry_and_a_cut_end(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    # change entry 2 and recompute its own hash: entry 3 no longer follows it
    e = json.loads(lines[1])
    e["details"]["n"] = 42
    body = {k: v for k, v in e.items() if k != "hash"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    e["hash"] = hashlib.sha256(canon.encode()).hexdigest()
    _write(log, [lines[0], json.dumps(e), *lines[2:]])
    check = log.verify()
    assert not check.ok
    assert check.first_bad_seq == 3
    _write(log, lines[:4])  # the last entry cut off
    check = log.verify()
    assert not check.ok
    assert "cut off" in check.reason
    assert check.first_bad_seq == 5


def test_keyed_log_needs_the_key(tmp_path: Path) -> None:
    key = b"k" * 40
    log = _log(tmp_path, key)
    assert log.verify().ok
    assert not verify_log(log.path, "proj", b"x" * 40).ok
    with pytest.raises(UsageError, match="keyed"):
        verify_log(log.path, "proj")
    assert not verify_log(log.path, "other-project", key).ok  # bound to its project


# -- retention ------------------------------------------------------------------------------


def test_retention_removes_the_enclave_personal_data(warehouse: Path, tmp_path: Path) -> None:
    from herkomst.enclave.workspace import ENCLAVE_DIR as WORKSPACE_DIR
    from herkomst.extract import retention
    from herkomst.extract._retention import ENCLAVE_DIR

    assert ENCLAVE_DIR == WORKSPACE_DIR
    ws = fresh(warehouse, tmp_path)
    (ws.root / "released" / "t").mkdir(parents=True)
    (ws.root / "released" / "t" / "membership.parquet").write_bytes(b"seq_no")
    (ws.root / "released" / "t" / "table.csv").write_text("a,b\n")
    assert (ws.data / "population.parquet").is_file()
    report = retention(ws.warehouse, dt.date(2025, 1, 15))
    removed = report.destroyed["p1"]["enclave_removed"]
    assert "data" in removed
    assert "released/t/membership.parquet" in removed
    assert not ws.data.exists()
    assert not (ws.root / "released" / "t" / "membership.parquet").exists()
    assert (ws.root / "released" / "t" / "table.csv").is_file()  # anonymous, released
    assert (ws.root / "log.jsonl").is_file()  # the record of what was done stays


def test_binds_below_tmp_lie_on_top_of_the_private_tmp() -> None:
    # A checkout (and its venv) under /tmp, as in a CI clone: the sandbox's own /tmp is a
    # tmpfs, mounted before the binds so that it does not hide them.
    from herkomst.enclave.sandbox import _bwrap_args, _Mount

    mounts = [_Mount(Path("/tmp/ci/clone/.venv"), "/tmp/ci/clone/.venv")]
    args = _bwrap_args(mounts, ["/tmp/ci/clone/.venv"], {})
    assert args.index("/tmp") < args.index("/tmp/ci/clone/.venv")
