"""The command line: exit codes, one-line messages, help on every command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from herkomst.cli import app, main
from tests.unit.test_validate import (
    EMP,
    EMP_HEADER,
    NATS,
    NATS_HEADER,
    PERSONS,
    PERSONS_HEADER,
    write,
)


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["herkomst", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


@pytest.fixture
def dwh(tmp_path: Path) -> Path:
    d = tmp_path / "dwh"
    d.mkdir()
    write(d / "persons.csv", [PERSONS_HEADER, *PERSONS])
    write(d / "nationalities.csv", [NATS_HEADER, *NATS])
    write(d / "employment.csv", [EMP_HEADER, *EMP])
    return d


def test_clean_validation_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], dwh: Path
) -> None:
    code, out, err = run(
        monkeypatch, capsys, "validate", "--dwh", str(dwh), "--today", "2024-06-30"
    )
    assert code == 0, err
    assert "persons.csv" in out


def test_rejections_exit_1_and_report_accounts_rows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], dwh: Path, tmp_path: Path
) -> None:
    write(dwh / "nationalities.csv", [NATS_HEADER, *NATS, f"{PERSONS[3][:11]},ZZ,2000-01-01"])
    report = tmp_path / "r.json"
    code, out, err = run(
        monkeypatch,
        capsys,
        "validate",
        "--dwh",
        str(dwh),
        "--today",
        "2024-06-30",
        "--report",
        str(report),
    )
    assert code == 1
    assert "nationalities.csv, row 6, column nationality: UNKNOWN_COUNTRY" in out
    assert err.strip() == "error: 1 row(s) rejected; see the findings above or the report"
    data = json.loads(report.read_text())
    assert data["totals"] == {
        "rows": 13,
        "accepted": 12,
        "accepted_with_corrections": 0,
        "rejected": 1,
    }
    # no SSIN anywhere in the report
    assert not re.search(r"\d{11}", report.read_text().replace(data["files"][0]["sha256"], ""))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: (d / "persons.csv").unlink(), "required table 'persons' not found"),
        (
            lambda d: write(d / "persons.csv", ["sex,birth_date", "M,1990-01-01"]),
            "persons.csv: required column 'ssin' missing",
        ),
    ],
)
def test_fatal_input_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dwh: Path,
    mutate: object,
    message: str,
) -> None:
    mutate(dwh)  # type: ignore[operator]
    code, _out, err = run(monkeypatch, capsys, "validate", "--dwh", str(dwh))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_bad_option_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], dwh: Path
) -> None:
    code, _out, err = run(
        monkeypatch, capsys, "validate", "--dwh", str(dwh), "--today", "yesterday"
    )
    assert code == 2
    assert "--today: 'yesterday' is not a date YYYY-MM-DD" in err
    code, _out, err = run(monkeypatch, capsys, "validate", "--no-such-option")
    assert code == 2


def _commands() -> list[list[str]]:
    import typer.main

    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        sub = getattr(cmd, "commands", None)
        if sub:
            for name, child in sub.items():
                walk(child, [*prefix, name])
        else:
            paths.append(prefix)

    walk(root, [])
    return paths


def test_every_command_has_help_and_is_documented(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_doc = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for path in _commands():
        code, out, _ = run(monkeypatch, capsys, *path, "--help")
        assert code == 0
        assert "Usage" in out
        assert f"herkomst {' '.join(path)}" in cli_doc, (
            f"docs/cli.md lacks 'herkomst {' '.join(path)}'"
        )
