"""The origin rule tables: coverage, EU membership on dates, former states, failing closed."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pycountry
import pytest

from herkomst.errors import RuleError, UsageError
from herkomst.origin import (
    DEFAULT_DEFINITIONS,
    EU15_DATE,
    CountryRules,
    Definition,
    Membership,
    OriginParams,
    classes,
    migration_rules,
)
from herkomst.rules import BUNDLED, RuleSet, load

EU15 = {"AT", "BE", "DE", "DK", "ES", "FI", "FR", "GB", "GR", "IE", "IT", "LU", "NL", "PT", "SE"}
EU13 = {"BG", "CY", "CZ", "EE", "HR", "HU", "LT", "LV", "MT", "PL", "RO", "SI", "SK"}
FORMER = ("SUHH", "YUCS", "CSHH", "DDDE", "CSXX")


def test_every_code_has_a_class_and_every_class_a_group() -> None:
    codes = {c.alpha_2 for c in pycountry.countries} | {"XK", *FORMER}
    mapping = {r["code"]: r["class"] for r in load("country_classes")}
    assert set(mapping) == codes
    groups = {r["class"]: r["group"] for r in load("class_groups")}
    assert set(mapping.values()) | {"NOT_ASSIGNABLE", "UNDETERMINED"} <= set(groups)
    assert 25 <= len(set(mapping.values())) <= 35  # "about thirty country classes"
    assert set(groups.values()) == {
        "belgian", "eu14", "eu13", "eu_candidates", "other_european", "maghreb",
        "other_african", "near_middle_east", "oceania_far_east", "other_asian",
        "south_central_american", "north_american", "undetermined",
    }  # fmt: skip


def test_eu14_and_eu13_groups_match_the_member_states() -> None:
    rules = CountryRules.from_rules(RuleSet(), dt.date(2019, 1, 1))
    by_group: dict[str, set[str]] = {}
    for code, klass in rules.classes.items():
        by_group.setdefault(rules.groups[klass], set()).add(code)
    assert by_group["eu14"] - {"DDDE"} == EU15 - {"BE"}
    assert by_group["eu13"] - {"CSHH"} == EU13
    assert by_group["belgian"] == {"BE"}
    assert by_group["maghreb"] == {"MA", "DZ", "TN"}


@pytest.mark.parametrize(
    ("on", "added", "removed"),
    [
        (dt.date(1957, 12, 31), set(), set()),
        (dt.date(1958, 1, 1), {"BE", "DE", "FR", "IT", "LU", "NL", "DDDE"}, set()),
        (dt.date(1995, 1, 1), EU15 | {"DDDE"}, set()),
        (dt.date(2004, 5, 1), EU15 | EU13 - {"BG", "RO", "HR"} | {"DDDE", "CSHH"}, set()),
        (dt.date(2013, 6, 30), EU15 | EU13 - {"HR"} | {"DDDE", "CSHH"}, set()),
        (dt.date(2020, 1, 31), EU15 | EU13 | {"DDDE", "CSHH"}, set()),
        (dt.date(2020, 2, 1), EU15 | EU13 | {"DDDE", "CSHH"} - {"GB"}, {"GB"}),
    ],
)
def test_eu_membership_on_a_date(on: dt.date, added: set[str], removed: set[str]) -> None:
    members = Membership.from_rules(RuleSet()).members(on, "eu")
    assert members == (added - removed)


def test_eu15_is_membership_on_1995_01_01_with_the_former_states_policy() -> None:
    m = Membership.from_rules(RuleSet())
    assert m.members(EU15_DATE, "eu15") == EU15 | {"DDDE"}
    rules = CountryRules.from_rules(RuleSet(), dt.date(2030, 1, 1))
    assert rules.eu15 == EU15 | {"DDDE"}
    assert "GB" not in rules.eu
    assert "CSHH" in rules.eu
    assert not {"SUHH", "YUCS", "CSXX"} & (rules.eu | rules.eu15)


def _load_all(rules: RuleSet) -> None:
    CountryRules.from_rules(rules, dt.date(2024, 1, 1))
    migration_rules(rules)


def _copy_rules(tmp_path: Path, name: str, text: str) -> RuleSet:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return RuleSet(tmp_path)


def test_former_states_are_configurable(tmp_path: Path) -> None:
    text = (BUNDLED / "former_states.csv").read_text(encoding="utf-8")
    text = text.replace("YUCS,,outside,outside", "YUCS,,outside,inside")
    rules = _copy_rules(tmp_path, "former_states.csv", text)
    assert "YUCS" in CountryRules.from_rules(rules, dt.date(2024, 1, 1)).eu


@pytest.mark.parametrize(
    ("name", "old", "new", "match"),
    [
        ("former_states.csv", "SUHH,,outside,outside", "SUHH,,outside,maybe", "not one of"),
        ("former_states.csv", "CSXX,,outside,outside,ME RS XK,", "", "no rule for former"),
        ("eu_membership.csv", "HR,2013-07-01,", "HR,2013-13-01,", "not a date"),
        ("country_classes.csv", "MA,MA,", "", "no class for country code"),
        ("class_groups.csv", "MA,maghreb,", "XX,maghreb,", "no origin group"),
        ("migration_background.csv", "9,undetermined,*,*,*,*,*,,,,", "", "catch-all"),
        ("migration_background.csv", "1,no_migration_background,BE,", "1,x,Belgian,", "column now"),
    ],
)
def test_bad_rule_tables_fail_closed(
    tmp_path: Path, name: str, old: str, new: str, match: str
) -> None:
    text = (BUNDLED / name).read_text(encoding="utf-8")
    assert old in text
    if new:
        text = text.replace(old, new)
    else:  # drop the whole line
        text = "".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith(old))
    rules = _copy_rules(tmp_path, name, text)
    with pytest.raises(RuleError, match=match):
        _load_all(rules)


def test_unconfirmed_tables_are_marked() -> None:
    assert load("eu_membership").confirmed
    for name in ("former_states", "country_classes", "class_groups", "migration_background"):
        table = load(name)
        assert not table.confirmed, name
        assert table.sources, name


def test_params() -> None:
    p = OriginParams(reference_date=dt.date(2023, 12, 31), generated_on=dt.date(2024, 3, 1))
    assert p.definitions == DEFAULT_DEFINITIONS
    assert p.effective_eu_date == dt.date(2024, 3, 1)
    assert p.describe()["eu_date_source"] == "generation date"
    q = OriginParams.for_year(2015, definitions=("eu", "eu15", "eu"), eu_date=dt.date(2019, 1, 1))
    assert q.reference_date == dt.date(2015, 12, 31)
    assert q.definitions == ("eu15", "eu")
    assert q.describe()["eu_date"] == "2019-01-01"
    with pytest.raises(UsageError, match="unknown origin definition"):
        OriginParams(reference_date=dt.date(2023, 12, 31), definitions=("eu27",))
    with pytest.raises(UsageError, match="no origin definition"):
        OriginParams(reference_date=dt.date(2023, 12, 31), definitions=())


def test_class_lists() -> None:
    assert classes(Definition.EU15) == (
        "inside",
        "outside",
        "unknown_parents",
        "unknown_grandparents",
    )
    assert "MA" in classes("national_origin")
    assert classes("migration_background")[-1] == "undetermined"


def test_rules_folder_copy_loads(tmp_path: Path) -> None:
    for f in BUNDLED.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    rules = RuleSet(tmp_path)
    assert CountryRules.from_rules(rules, dt.date(2024, 1, 1)).eu15
    assert rules.table("country_classes").path.parent == tmp_path
