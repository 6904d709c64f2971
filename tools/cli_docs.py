"""Write docs/cli.md from the commands' own --help (run: .venv/bin/python tools/cli_docs.py)."""

from __future__ import annotations

import os
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from herkomst.cli import app

HEADER = """# Command-line reference

Generated from `--help` by `tools/cli_docs.py`; `tests/unit/test_cli.py` checks that every
command is listed here. Exit codes: `0` ok, `1` a check failed, `2` bad input or usage,
`3` internal error (a bug).
"""


def main() -> None:
    os.environ["COLUMNS"] = "100"
    os.environ["TERM"] = "dumb"
    runner = CliRunner()
    root = typer.main.get_command(app)
    parts = [HEADER]

    def walk(cmd: object, prefix: list[str]) -> None:
        result = runner.invoke(app, [*prefix, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})
        title = " ".join(["herkomst", *prefix])
        parts.append(f"\n## `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
        sub = getattr(cmd, "commands", None)
        if sub:
            for name in sorted(sub):
                walk(sub[name], [*prefix, name])

    walk(root, [])
    Path(__file__).parents[1].joinpath("docs", "cli.md").write_text("".join(parts), "utf-8")


if __name__ == "__main__":
    main()
