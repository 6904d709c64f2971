"""The documentation keeps up with the code."""

from __future__ import annotations

from pathlib import Path

from herkomst.validate import MESSAGES, Reason

DOCS = Path(__file__).parents[2] / "docs"


def test_every_reason_code_is_documented() -> None:
    text = (DOCS / "validation.md").read_text()
    for reason in Reason:
        assert f"`{reason.value}`" in text
        assert reason in MESSAGES
