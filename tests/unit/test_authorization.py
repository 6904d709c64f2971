"""Advice 13/71 as data: the authorization file loads, and fails closed on what it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from herkomst.authorization import Audience, load_authorization
from herkomst.errors import AuthorizationError, RuleError
from herkomst.rules import BUNDLED

FILE = BUNDLED / "authorization_13-71.toml"


def test_bundled_authorization() -> None:
    auth = load_authorization("13-71")
    assert auth.definitions == ("eu15", "eu")
    assert auth.public.min_entity_size == 50
    assert (auth.public.small_count_min, auth.public.small_count_max) == (1, 4)
    assert auth.public.small_label == "1-5"
    assert auth.age_min == 18
    assert auth.age_max == 65
    assert auth.check(Audience.parse("public"), ("eu",), ("all",), ("entity",)).exact is False


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("min_entity_size = 50", "min_entity_size = 50\nmin_entity_sizes = 3", "unknown key"),
        ("min_entity_size = 50", 'min_entity_size = "50"', "wrong type"),
        ('id = "13-71"\n', "", "missing key 'id'"),
        ("[audience.public.requirement]", "[audience.public.requirement]\nextra = 1", "unknown"),
        ("small_count_min = 1 ", "small_count_min = 9 ", "small_count_min"),
    ],
)
def test_fails_closed(tmp_path: Path, old: str, new: str, match: str) -> None:
    text = FILE.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "authorization_bad.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RuleError, match=match):
        load_authorization(bad)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not found"):
        load_authorization("99-99")
    broken = tmp_path / "a.toml"
    broken.write_text("id = [", encoding="utf-8")
    with pytest.raises(RuleError, match="not a valid TOML"):
        load_authorization(broken)


def test_refuses_what_it_does_not_allow() -> None:
    auth = load_authorization()
    with pytest.raises(AuthorizationError, match="breakdown"):
        auth.check(Audience.parse("public"), ("eu",), ("nationality",), ())
    with pytest.raises(AuthorizationError, match="definition"):
        auth.check(Audience.parse("entity:X"), ("statbel",), (), ())
