"""Origin and migration background under every definition in use (issue 3).

One call, :func:`derive_origin`, reads the validated ``persons`` and ``nationalities`` tables
from an :class:`~herkomst.engine.Engine` and writes a table with one row per person in scope:
a class column and a ``<definition>_trail`` column per definition, plus the helper facts later
stages need (``fact_*`` columns). The definitions and the three-valued logic are described in
``docs/origin.md``; the rule tables they read live in ``herkomst/rules`` (``eu_membership``,
``former_states``, ``country_classes``, ``class_groups``, ``migration_background``).

How it runs (all set-based SQL, in the dialect DuckDB and Spark SQL share; the SQL is kept
together in the ``_SQL_*`` templates below):

1. ``nat``: one row per person with nationality rows: first nationality (earliest row),
   current nationality (latest row with ``valid_from <= reference date``) and the dates needed
   for the date of acquiring Belgian nationality (one ``GROUP BY``).
2. ``ind``: ``persons`` with those facts and, per EU set, the person's own status:
   2 = outside (current or first nationality known and outside), 1 = inside (both known and
   inside), 0 = unknown.
3. ``par``: per person, how many of his parents are outside / inside each EU set (two
   joins); for his children these are the grandparents.
4. the result: the person's ``ind`` row joined to his father's and mother's ``ind`` and
   ``par`` rows (four joins). Every definition is a ``CASE`` over these columns.

Rule tables enter the engine as one small Arrow table (``_origin_country``: code, EU-15 and
EU membership on the dates asked, country class and origin group), computed in Python from
the rule tables: a few hundred rows, never per person.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa

from .codes import FORMER_STATES, country_names
from .engine import Engine
from .errors import InputError, RuleError, UsageError
from .rules import RuleSet, RuleTable

# ----------------------------------------------------------------------------------------------
# Definitions and their classes
# ----------------------------------------------------------------------------------------------


class Definition(StrEnum):
    """The origin definitions herkomst computes (see ``docs/origin.md``)."""

    EU15 = "eu15"
    EU = "eu"
    FLANDERS2016 = "flanders2016"
    STATBEL = "statbel"
    NATIONAL_ORIGIN = "national_origin"
    MIGRATION_BACKGROUND = "migration_background"


DEFAULT_DEFINITIONS: tuple[str, ...] = tuple(d.value for d in Definition)

#: EU-15 = the member states on 1 January 1995 (seed 000).
EU15_DATE = dt.date(1995, 1, 1)

#: Fixed class lists; national_origin and migration_background take theirs from rule tables.
SEED_CLASSES: tuple[str, ...] = ("inside", "outside", "unknown_parents", "unknown_grandparents")
FIXED_CLASSES: dict[Definition, tuple[str, ...]] = {
    Definition.EU15: SEED_CLASSES,
    Definition.EU: SEED_CLASSES,
    Definition.FLANDERS2016: (
        "with_background",
        "without_background",
        "unknown_nationality",
        "unknown_parents",
    ),
    Definition.STATBEL: ("belgian_background", "foreign_background", "non_belgian", "unknown"),
}

#: Classes of national origin that are not country classes.
NOT_ASSIGNABLE = "NOT_ASSIGNABLE"
UNDETERMINED = "UNDETERMINED"

#: The helper facts every result carries (ISO codes or calendar years).
FACT_COLUMNS: tuple[str, ...] = (
    "fact_current_nationality",
    "fact_first_nationality",
    "fact_father_first_nationality",
    "fact_mother_first_nationality",
    "fact_birth_country",
    "fact_registration_year",
    "fact_acquisition_year",
)

MIGRATION_VALUES: dict[str, tuple[str, ...]] = {
    "now": ("BE", "non_BE", "unknown"),
    "born": ("BE", "non_BE", "unknown"),
    "parents_born": ("all_BE", "any_non_BE", "unknown"),
    "origin_area": ("BE", "EU", "non_EU", "unknown"),
    "birth_country": ("BE", "abroad", "unknown"),
}
_MEMBERSHIP_RULES = ("inside", "outside", "treat_as", "successors")
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class OriginParams:
    """What to derive, as of when.

    ``reference_date``: current nationality is the one in force on this date (31 December of
    the year asked for). ``eu_date``: the date on which EU membership is read for ``eu``
    (None = ``generated_on``, the generation date, as the seed says). ``generated_on`` is
    recorded in :meth:`describe`. The former-states policy comes from the ``former_states``
    rule table. ``facts`` and ``trails`` add the ``fact_*`` and ``<definition>_trail``
    columns (the classes do not depend on them; the tables, which never release trails, turn
    both off to save work).
    """

    reference_date: dt.date
    definitions: tuple[str, ...] = DEFAULT_DEFINITIONS
    eu_date: dt.date | None = None
    generated_on: dt.date = field(default_factory=dt.date.today)
    facts: bool = True
    trails: bool = True

    def __post_init__(self) -> None:
        known = {d.value for d in Definition}
        if isinstance(self.definitions, str):
            raise UsageError("definitions must be a sequence of names, not one string")
        if not self.definitions:
            raise UsageError(f"no origin definition asked for (choose from {', '.join(known)})")
        bad = [d for d in self.definitions if d not in known]
        if bad:
            raise UsageError(
                f"unknown origin definition(s) {', '.join(map(str, bad))};"
                f" choose from {', '.join(DEFAULT_DEFINITIONS)}"
            )
        # Canonical order, no duplicates.
        ordered = tuple(d for d in DEFAULT_DEFINITIONS if d in set(self.definitions))
        object.__setattr__(self, "definitions", ordered)

    @classmethod
    def for_year(cls, year: int, **kwargs: Any) -> OriginParams:
        """Parameters for the situation on 31 December of ``year``."""
        if not 1900 <= year <= 2100:
            raise UsageError(f"year {year} out of range (1900-2100)")
        return cls(reference_date=dt.date(year, 12, 31), **kwargs)

    @property
    def effective_eu_date(self) -> dt.date:
        return self.eu_date if self.eu_date is not None else self.generated_on

    def wants(self, definition: Definition) -> bool:
        return definition.value in self.definitions

    def describe(self) -> dict[str, Any]:
        """What a manifest records about this run."""
        return {
            "reference_date": self.reference_date.isoformat(),
            "definitions": list(self.definitions),
            "eu15_date": EU15_DATE.isoformat(),
            "eu_date": self.effective_eu_date.isoformat(),
            "eu_date_source": "given" if self.eu_date is not None else "generation date",
            "generated_on": self.generated_on.isoformat(),
        }


# ----------------------------------------------------------------------------------------------
# Rule tables -> the country table registered in the engine
# ----------------------------------------------------------------------------------------------

RULE_TABLES: tuple[str, ...] = (
    "eu_membership",
    "former_states",
    "country_classes",
    "class_groups",
    "migration_background",
)


def _date(table: RuleTable, value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RuleError(
            f"{table.path}: {what} '{value}' is not a date (YYYY-MM-DD) in rule table '{table.name}'"
        ) from None


@dataclass(frozen=True)
class Membership:
    """EU membership on a date, with the former-states policy (from the rule tables)."""

    periods: Mapping[str, tuple[dt.date, dt.date | None]]
    former: Mapping[str, Mapping[str, str]]

    @classmethod
    def from_rules(cls, rules: RuleSet) -> Membership:
        table = rules.table("eu_membership")
        names = country_names()
        periods: dict[str, tuple[dt.date, dt.date | None]] = {}
        for row in table:
            code = row["country"]
            if code not in names or code in FORMER_STATES:
                raise RuleError(f"{table.path}: unknown member-state code '{code}'")
            joined = _date(table, row["joined"], "joined")
            left = _date(table, row["left"], "left") if row["left"] else None
            if left is not None and left < joined:
                raise RuleError(f"{table.path}: {code} left before it joined")
            periods[code] = (joined, left)
        ftable = rules.table("former_states")
        former: dict[str, dict[str, str]] = {}
        for row in ftable:
            code = row["code"]
            if code not in FORMER_STATES:
                raise RuleError(
                    f"{ftable.path}: '{code}' is not a former state ({', '.join(FORMER_STATES)})"
                )
            for col in ("eu15", "eu"):
                if row[col] not in _MEMBERSHIP_RULES:
                    raise RuleError(
                        f"{ftable.path}: {code}, column {col}: '{row[col]}' is not one of"
                        f" {', '.join(_MEMBERSHIP_RULES)}"
                    )
                if row[col] == "treat_as" and row["treat_as"] not in periods.keys() | set(names):
                    raise RuleError(f"{ftable.path}: {code}: treat_as needs a country code")
                if row[col] == "successors" and not row["successors"].split():
                    raise RuleError(f"{ftable.path}: {code}: 'successors' needs successor codes")
            for succ in row["successors"].split() + ([row["treat_as"]] if row["treat_as"] else []):
                if succ not in names or succ in FORMER_STATES:
                    raise RuleError(f"{ftable.path}: {code}: unknown country code '{succ}'")
            former[code] = dict(row)
        missing = [c for c in FORMER_STATES if c not in former]
        if missing:
            raise RuleError(f"{ftable.path}: no rule for former state(s) {', '.join(missing)}")
        return cls(periods=periods, former=former)

    def member(self, code: str, on: dt.date, definition: str = "eu") -> bool:
        """Is ``code`` inside the EU set of ``definition`` (``eu15`` or ``eu``) on ``on``?"""
        if code in self.former:
            rule = self.former[code][definition]
            if rule == "inside":
                return True
            if rule == "outside":
                return False
            if rule == "treat_as":
                return self.member(self.former[code]["treat_as"], on, definition)
            return all(
                self.member(s, on, definition) for s in self.former[code]["successors"].split()
            )
        period = self.periods.get(code)
        if period is None:
            return False
        joined, left = period
        return joined <= on and (left is None or on <= left)

    def members(self, on: dt.date, definition: str = "eu") -> frozenset[str]:
        return frozenset(c for c in country_names() if self.member(c, on, definition))


@dataclass(frozen=True)
class CountryRules:
    """The country table of a run: EU sets and the class and group of every code."""

    eu15: frozenset[str]
    eu: frozenset[str]
    classes: Mapping[str, str]
    groups: Mapping[str, str]

    @classmethod
    def from_rules(cls, rules: RuleSet, eu_date: dt.date) -> CountryRules:
        membership = Membership.from_rules(rules)
        ctable = rules.table("country_classes")
        gtable = rules.table("class_groups")
        groups = {r["class"]: r["group"] for r in gtable}
        for name in (*groups, *groups.values()):
            if not _NAME_RE.fullmatch(name):
                raise RuleError(f"{gtable.path}: '{name}' is not a plain name (letters, digits, _)")
        classes = {r["code"]: r["class"] for r in ctable}
        names = country_names()
        unknown = sorted(set(classes) - set(names))
        if unknown:
            raise RuleError(f"{ctable.path}: unknown country code(s) {', '.join(unknown)}")
        unmapped = sorted(set(names) - set(classes))
        if unmapped:
            raise RuleError(f"{ctable.path}: no class for country code(s) {', '.join(unmapped)}")
        ungrouped = sorted({*classes.values(), NOT_ASSIGNABLE, UNDETERMINED} - set(groups))
        if ungrouped:
            raise RuleError(f"{gtable.path}: no origin group for class(es) {', '.join(ungrouped)}")
        if classes.get("BE") != "BE" or groups.get("BE") != "belgian":
            raise RuleError(f"{ctable.path}: Belgium must be class BE in group 'belgian'")
        return cls(
            eu15=membership.members(EU15_DATE, "eu15"),
            eu=membership.members(eu_date, "eu"),
            classes=classes,
            groups=groups,
        )

    def arrow(self) -> pa.Table:
        codes = sorted(self.classes)
        return pa.table(
            {
                "code": pa.array(codes, pa.string()),
                "in_eu15": pa.array([c in self.eu15 for c in codes], pa.bool_()),
                "in_eu": pa.array([c in self.eu for c in codes], pa.bool_()),
                "country_class": pa.array([self.classes[c] for c in codes], pa.string()),
                "origin_group": pa.array(
                    [self.groups[self.classes[c]] for c in codes], pa.string()
                ),
            }
        )


@dataclass(frozen=True)
class MigrationRule:
    order: int
    category: str
    conditions: Mapping[str, str]
    years_of: str
    min_years: int | None
    max_years: int | None


def migration_rules(rules: RuleSet) -> tuple[MigrationRule, ...]:
    """The ordered migration-background decision table, validated (fails closed)."""
    table = rules.table("migration_background")
    out: list[MigrationRule] = []
    for i, row in enumerate(table, start=1):
        where = f"{table.path}: row {i}"
        try:
            order = int(row["order"])
            min_y = int(row["min_years"]) if row["min_years"] else None
            max_y = int(row["max_years"]) if row["max_years"] else None
        except ValueError:
            raise RuleError(f"{where}: order, min_years and max_years must be integers") from None
        if not _NAME_RE.fullmatch(row["category"]):
            raise RuleError(f"{where}: category '{row['category']}' is not a plain name")
        conds: dict[str, str] = {}
        for col, allowed in MIGRATION_VALUES.items():
            if row[col] != "*" and row[col] not in allowed:
                raise RuleError(
                    f"{where}, column {col}: '{row[col]}' not in *, {', '.join(allowed)}"
                )
            if row[col] != "*":
                conds[col] = row[col]
        if row["years_of"] not in ("", "acquisition", "registration"):
            raise RuleError(f"{where}, column years_of: use acquisition, registration or empty")
        if (min_y is not None or max_y is not None) and not row["years_of"]:
            raise RuleError(f"{where}: min_years/max_years need years_of")
        out.append(MigrationRule(order, row["category"], conds, row["years_of"], min_y, max_y))
    out.sort(key=lambda r: r.order)
    if len({r.order for r in out}) != len(out):
        raise RuleError(f"{table.path}: duplicate order")
    if not out or out[-1].conditions or out[-1].years_of:
        raise RuleError(f"{table.path}: the last row must be a catch-all (all '*', no years)")
    return tuple(out)


def migration_classes(rules: RuleSet) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.category for r in migration_rules(rules)))


def class_column(definition: Definition | str) -> str:
    """The origin-table column holding the classes of :func:`classes` for a definition.

    ``national_origin`` holds the country; its classes are in ``national_origin_class``.
    """
    d = Definition(definition)
    return "national_origin_class" if d is Definition.NATIONAL_ORIGIN else d.value


def classes(definition: Definition | str, rules: RuleSet | None = None) -> tuple[str, ...]:
    """Every class a definition can give."""
    d = Definition(definition)
    rs = rules or RuleSet()
    if d in FIXED_CLASSES:
        return FIXED_CLASSES[d]
    if d is Definition.NATIONAL_ORIGIN:
        return tuple(sorted({r["class"] for r in rs.table("class_groups")}))
    return migration_classes(rs)


# ----------------------------------------------------------------------------------------------
# The SQL
# ----------------------------------------------------------------------------------------------

#: Persons in scope plus their parents and grandparents (only when a population is given).
_SQL_RELEVANT = """
WITH s AS (SELECT DISTINCT ssin FROM {population} WHERE ssin IS NOT NULL),
par AS (
    SELECT p.father_ssin AS ssin FROM persons p JOIN s ON s.ssin = p.ssin
    UNION SELECT p.mother_ssin AS ssin FROM persons p JOIN s ON s.ssin = p.ssin
),
gpar AS (
    SELECT p.father_ssin AS ssin FROM persons p JOIN par ON par.ssin = p.ssin
    UNION SELECT p.mother_ssin AS ssin FROM persons p JOIN par ON par.ssin = p.ssin
)
SELECT ssin, max(CASE WHEN generation = 1 THEN 1 ELSE 0 END) AS is_parent FROM (
    SELECT ssin, 0 AS generation FROM s
    UNION ALL SELECT ssin, 1 AS generation FROM par WHERE ssin IS NOT NULL
    UNION ALL SELECT ssin, 2 AS generation FROM gpar WHERE ssin IS NOT NULL
) g
GROUP BY ssin
"""

#: Step 1. First nationality = earliest row; current = latest row on or before the reference
#: date. (Ties on valid_from, which validation rejects, go to the smallest code.)
_SQL_NAT = """
SELECT ssin,
    substr(min(concat(CAST(valid_from AS STRING), nationality)), 11) AS first_nat,
    substr(max(CASE WHEN valid_from <= {ref} THEN
        concat(CAST(valid_from AS STRING), nationality) END), 11) AS cur_nat,
    min(CASE WHEN valid_from <= {ref} AND nationality <> 'BE' THEN valid_from END)
        AS first_non_be_from,
    min(CASE WHEN valid_from <= {ref} AND nationality = 'BE' THEN valid_from END)
        AS first_be_from
FROM nationalities
{where}
GROUP BY ssin
"""

#: Belgian nationality acquired after having lost it: the first BE row after the first
#: non-BE row, for the (rare) persons born Belgian who held another nationality.
_SQL_REACQUIRED = """
SELECT n.ssin, min(n.valid_from) AS acq_from
FROM nationalities n JOIN {nat} a ON a.ssin = n.ssin
WHERE a.first_nat = 'BE' AND a.first_non_be_from IS NOT NULL AND n.nationality = 'BE'
    AND n.valid_from > a.first_non_be_from AND n.valid_from <= {ref}
GROUP BY n.ssin
"""

#: Step 2. Own facts and own status per EU set: 0 unknown, 1 inside (current and first known
#: and inside), 2 outside by the current nationality, 3 outside by the first nationality only.
_SQL_IND = """
SELECT p.ssin, p.father_ssin, p.mother_ssin, p.birth_country, p.registration_date,
    n.cur_nat, n.first_nat,
    CASE WHEN n.first_nat <> 'BE' THEN n.first_be_from ELSE r.acq_from END AS acq_from,
    CAST(CASE WHEN cc.in_eu15 = FALSE THEN 2 WHEN fc.in_eu15 = FALSE THEN 3
         WHEN cc.in_eu15 AND fc.in_eu15 THEN 1 ELSE 0 END AS TINYINT) AS s15,
    CAST(CASE WHEN cc.in_eu = FALSE THEN 2 WHEN fc.in_eu = FALSE THEN 3
         WHEN cc.in_eu AND fc.in_eu THEN 1 ELSE 0 END AS TINYINT) AS seu
FROM persons p
LEFT JOIN {nat} n ON n.ssin = p.ssin
LEFT JOIN {reacquired} r ON r.ssin = p.ssin
LEFT JOIN {country} cc ON cc.code = n.cur_nat
LEFT JOIN {country} fc ON fc.code = n.first_nat
{where}
"""

#: Step 3. Per person, how many of his parents are outside / inside each EU set: for his
#: children these are grandparents. A parent SSIN that is not in persons is not linked.
_SQL_PAR = """
SELECT x.ssin,
    {parent_counts}
FROM {ind} x
LEFT JOIN {ind} f ON f.ssin = x.father_ssin
LEFT JOIN {ind} m ON m.ssin = x.mother_ssin
{where}
"""

#: Step 4a. The person, his parents (``f``, ``m``) and the counts over his four grandparents.
_SQL_BASE = """
SELECT {self_cols},
    p.cur_nat AS cur, p.first_nat AS fst, p.birth_country, p.registration_date, p.acq_from,
    COALESCE(p.s15, 0) AS s15, COALESCE(p.seu, 0) AS seu,
    f.ssin IS NOT NULL AS f_linked, f.cur_nat AS f_cur, f.first_nat AS f_first,
    COALESCE(f.s15, 0) AS f_s15, COALESCE(f.seu, 0) AS f_seu,
    m.ssin IS NOT NULL AS m_linked, m.cur_nat AS m_cur, m.first_nat AS m_first,
    COALESCE(m.s15, 0) AS m_s15, COALESCE(m.seu, 0) AS m_seu,
    COALESCE(pf.o15, 0) + COALESCE(pm.o15, 0) AS g15_out,
    COALESCE(pf.i15, 0) + COALESCE(pm.i15, 0) AS g15_in,
    COALESCE(pf.oeu, 0) + COALESCE(pm.oeu, 0) AS geu_out,
    COALESCE(pf.ieu, 0) + COALESCE(pm.ieu, 0) AS geu_in
FROM {from_clause}
LEFT JOIN {ind} f ON f.ssin = p.father_ssin
LEFT JOIN {ind} m ON m.ssin = p.mother_ssin
LEFT JOIN {par} pf ON pf.ssin = p.father_ssin
LEFT JOIN {par} pm ON pm.ssin = p.mother_ssin
"""

#: Step 4b. National origin (country code) and the migration-background inputs.
_SQL_DERIVED = """
SELECT b.*,
    CASE WHEN f_first <> 'BE' THEN f_first
         WHEN m_first <> 'BE' THEN m_first
         WHEN fst <> 'BE' THEN fst
         WHEN cur <> 'BE' THEN cur
         WHEN cur = 'BE' AND fst = 'BE' AND f_first = 'BE' AND m_first = 'BE' THEN 'BE'
    END AS no_code,
    CASE WHEN cur IS NULL THEN 'unknown' WHEN cur = 'BE' THEN 'BE' ELSE 'non_BE' END AS mb_now,
    CASE WHEN fst IS NULL THEN 'unknown' WHEN fst = 'BE' THEN 'BE' ELSE 'non_BE' END AS mb_born,
    CASE WHEN f_first <> 'BE' OR m_first <> 'BE' THEN 'any_non_BE'
         WHEN f_first = 'BE' AND m_first = 'BE' THEN 'all_BE' ELSE 'unknown' END
        AS mb_parents_born,
    CASE WHEN birth_country IS NULL THEN 'unknown' WHEN birth_country = 'BE' THEN 'BE'
         ELSE 'abroad' END AS mb_birth_country,
    {ref_year} - year(acq_from) AS yrs_acq,
    {ref_year} - year(registration_date) AS yrs_reg
FROM ({base}) b
"""

#: Step 4c. Every definition from the derived columns (``{columns}`` built per definition).
_SQL_RESULT = """
SELECT {lead}{columns}
FROM (
    SELECT d.*, nc.country_class AS no_class, nc.origin_group AS no_group, nc.in_eu AS no_in_eu
    FROM ({derived}) d
    LEFT JOIN {country} nc ON nc.code = d.no_code
) t
"""

# -- many reference years in one pass (31 December of each year) ----------------------------
# A person's facts change with the reference date only when one of his nationality rows starts
# between two asked years. ``epochs`` splits the asked years of every relevant person into
# spans in which the rows in force are the same (one span for almost everyone); steps 1 and 2
# run once per span, and each person-year joins the spans of the person, the parents and the
# four grandparents that hold its year.

#: Spans [y_from, y_to] of the asked years per relevant person. ``{yearmap}`` maps each
#: calendar year after the first asked year to the first asked year on or after it.
_SQL_EPOCHS = """
SELECT ssin, y_from,
    COALESCE(lead(y_from) OVER (PARTITION BY ssin ORDER BY y_from) - 1, {y_max}) AS y_to
FROM (
    SELECT ssin, {y_min} AS y_from FROM {rel}
    UNION
    SELECT n.ssin, y.asked AS y_from
    FROM nationalities n
    JOIN {rel} r ON r.ssin = n.ssin
    JOIN {yearmap} y ON y.cal = year(n.valid_from)
) s
"""

#: Step 1 per span: the rows in force on 31 December of ``y_from`` hold for the whole span.
_SQL_NAT_EPOCHS = """
SELECT e.ssin, e.y_from,
    substr(min(concat(CAST(n.valid_from AS STRING), n.nationality)), 11) AS first_nat,
    substr(max(CASE WHEN year(n.valid_from) <= e.y_from THEN
        concat(CAST(n.valid_from AS STRING), n.nationality) END), 11) AS cur_nat,
    min(CASE WHEN year(n.valid_from) <= e.y_from AND n.nationality <> 'BE' THEN n.valid_from END)
        AS first_non_be_from,
    min(CASE WHEN year(n.valid_from) <= e.y_from AND n.nationality = 'BE' THEN n.valid_from END)
        AS first_be_from
FROM {epochs} e
JOIN nationalities n ON n.ssin = e.ssin
GROUP BY e.ssin, e.y_from
"""

_SQL_REACQUIRED_EPOCHS = """
SELECT n.ssin, a.y_from, min(n.valid_from) AS acq_from
FROM nationalities n JOIN {nat} a ON a.ssin = n.ssin
WHERE a.first_nat = 'BE' AND a.first_non_be_from IS NOT NULL AND n.nationality = 'BE'
    AND n.valid_from > a.first_non_be_from AND year(n.valid_from) <= a.y_from
GROUP BY n.ssin, a.y_from
"""

#: Step 2 per span.
_SQL_IND_EPOCHS = """
SELECT p.ssin, e.y_from, e.y_to, p.father_ssin, p.mother_ssin, p.birth_country,
    p.registration_date, n.cur_nat, n.first_nat,
    CASE WHEN n.first_nat <> 'BE' THEN n.first_be_from ELSE r.acq_from END AS acq_from,
    CAST(CASE WHEN cc.in_eu15 = FALSE THEN 2 WHEN fc.in_eu15 = FALSE THEN 3
         WHEN cc.in_eu15 AND fc.in_eu15 THEN 1 ELSE 0 END AS TINYINT) AS s15,
    CAST(CASE WHEN cc.in_eu = FALSE THEN 2 WHEN fc.in_eu = FALSE THEN 3
         WHEN cc.in_eu AND fc.in_eu THEN 1 ELSE 0 END AS TINYINT) AS seu
FROM {epochs} e
JOIN persons p ON p.ssin = e.ssin
LEFT JOIN {nat} n ON n.ssin = e.ssin AND n.y_from = e.y_from
LEFT JOIN {reacquired} r ON r.ssin = e.ssin AND r.y_from = e.y_from
LEFT JOIN {country} cc ON cc.code = n.cur_nat
LEFT JOIN {country} fc ON fc.code = n.first_nat
"""

#: Step 4a per person-year: the spans holding the year of the person, the parents (``f``,
#: ``m``) and the grandparents (``ff``, ``fm``, ``mf``, ``mm``).
_SQL_BASE_EPOCHS = """
SELECT s.year AS ref_year, s.ssin, p.ssin IS NOT NULL AS found,
    p.cur_nat AS cur, p.first_nat AS fst, p.birth_country, p.registration_date, p.acq_from,
    COALESCE(p.s15, 0) AS s15, COALESCE(p.seu, 0) AS seu,
    f.ssin IS NOT NULL AS f_linked, f.cur_nat AS f_cur, f.first_nat AS f_first,
    COALESCE(f.s15, 0) AS f_s15, COALESCE(f.seu, 0) AS f_seu,
    m.ssin IS NOT NULL AS m_linked, m.cur_nat AS m_cur, m.first_nat AS m_first,
    COALESCE(m.s15, 0) AS m_s15, COALESCE(m.seu, 0) AS m_seu,
    {grandparent_counts}
FROM {scope} s
LEFT JOIN {ind} p ON p.ssin = s.ssin AND s.year BETWEEN p.y_from AND p.y_to
LEFT JOIN {ind} f ON f.ssin = p.father_ssin AND s.year BETWEEN f.y_from AND f.y_to
LEFT JOIN {ind} m ON m.ssin = p.mother_ssin AND s.year BETWEEN m.y_from AND m.y_to
LEFT JOIN {ind} ff ON ff.ssin = f.father_ssin AND s.year BETWEEN ff.y_from AND ff.y_to
LEFT JOIN {ind} fm ON fm.ssin = f.mother_ssin AND s.year BETWEEN fm.y_from AND fm.y_to
LEFT JOIN {ind} mf ON mf.ssin = m.father_ssin AND s.year BETWEEN mf.y_from AND mf.y_to
LEFT JOIN {ind} mm ON mm.ssin = m.mother_ssin AND s.year BETWEEN mm.y_from AND mm.y_to
"""


def _grandparent_counts() -> str:
    """``g15_out``, ``g15_in``, ``geu_out``, ``geu_in`` over the four grandparents."""
    parts: list[str] = []
    for col, tag in (("s15", "15"), ("seu", "eu")):
        for test, name in ((">= 2", "out"), ("= 1", "in")):
            terms = " + ".join(
                f"CASE WHEN {g}.{col} {test} THEN 1 ELSE 0 END" for g in ("ff", "fm", "mf", "mm")
            )
            parts.append(f"{terms} AS g{tag}_{name}")
    return ",\n    ".join(parts)


_SQL_COMPARE = """
SELECT CASE WHEN GROUPING({a}) = 1 THEN 'total' ELSE COALESCE({a}, 'null') END AS {a_out},
       CASE WHEN GROUPING({b}) = 1 THEN 'total' ELSE COALESCE({b}, 'null') END AS {b_out},
       count(*) AS n
FROM {table}
GROUP BY GROUPING SETS (({a}, {b}), ({a}), ({b}), ())
ORDER BY GROUPING({a}), {a}, GROUPING({b}), {b}
"""


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _date_lit(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


def _ident(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise UsageError(f"'{name}' is not a valid relation or column name (letters, digits, _)")
    return name


# -- trail snippets ---------------------------------------------------------------------------


def _self_reason() -> str:
    return (
        "CASE WHEN NOT found THEN 'self: not in persons'"
        " WHEN fst IS NULL THEN 'self: no nationality known'"
        " ELSE 'self: no nationality in force on the reference date' END"
    )


def _parent_reason(p: str, who: str, first_only: bool) -> str:
    """Why a parent's nationality facts are unknown."""
    tail = (
        ""
        if first_only
        else f" WHEN {p}_cur IS NULL THEN '{who}: no nationality in force on the reference date'"
    )
    return (
        f"CASE WHEN NOT {p}_linked THEN '{who}: not linked'"
        f" WHEN {p}_first IS NULL THEN '{who}: no nationality known'{tail} END"
    )


def _counts(out: str, inside: str, unknown: str) -> str:
    return (
        "concat_ws(', ',"
        f" CASE WHEN {out} > 0 THEN concat(CAST({out} AS STRING), ' outside') END,"
        f" CASE WHEN {inside} > 0 THEN concat(CAST({inside} AS STRING), ' inside') END,"
        f" CASE WHEN {unknown} > 0 THEN concat(CAST({unknown} AS STRING), ' unknown') END)"
    )


def _parent_counts() -> str:
    parts: list[str] = []
    for col, tag in (("s15", "15"), ("seu", "eu")):
        for test, name in ((">= 2", "o"), ("= 1", "i")):
            terms = " + ".join(f"CASE WHEN {x}.{col} {test} THEN 1 ELSE 0 END" for x in ("f", "m"))
            parts.append(f"CAST({terms} AS TINYINT) AS {name}{tag}")
    return ",\n    ".join(parts)


def _seed_columns(d: Definition) -> list[str]:
    """eu15 / eu: seed 000 with three-valued logic (see docs/origin.md)."""
    tag = "15" if d is Definition.EU15 else "eu"
    s, fs, ms = f"s{tag}", f"f_s{tag}", f"m_s{tag}"
    go, gi = f"g{tag}_out", f"g{tag}_in"
    gu = f"(4 - {go} - {gi})"
    outside = f"{s} >= 2 OR {fs} >= 2 OR {ms} >= 2 OR {go} >= 2"
    inside = f"{s} = 1 AND {fs} = 1 AND {ms} = 1 AND {go} + {gu} <= 1"
    unknown_parents = f"{s} = 0 OR {fs} = 0 OR {ms} = 0"
    klass = (
        f"CASE WHEN {outside} THEN 'outside' WHEN {inside} THEN 'inside'"
        f" WHEN {unknown_parents} THEN 'unknown_parents' ELSE 'unknown_grandparents' END"
    )
    counts = _counts(go, gi, gu)
    proofs = []
    for st, cur, fst, who in ((s, "cur", "fst", "self"), (fs, "f_cur", "f_first", "father"),
                              (ms, "m_cur", "m_first", "mother")):  # fmt: skip
        proofs.append(f" WHEN {st} = 2 THEN concat('{who}.current_nationality=', {cur})")
        proofs.append(f" WHEN {st} = 3 THEN concat('{who}.first_nationality=', {fst})")
    trail = (
        "CASE"
        + "".join(proofs)
        + f" WHEN {go} >= 2 THEN concat('grandparents: ', {counts})"
        + f" WHEN {inside} THEN concat('self, father and mother inside; grandparents: ', {counts})"
        + f" WHEN {s} = 0 THEN {_self_reason()}"
        + f" WHEN {fs} = 0 THEN {_parent_reason('f', 'father', False)}"
        + f" WHEN {ms} = 0 THEN {_parent_reason('m', 'mother', False)}"
        + f" ELSE concat('grandparents: ', {counts}) END"
    )
    return [f"{klass} AS {d.value}", f"{trail} AS {d.value}_trail"]


_BELGIAN_TRAIL = "'self BE now and born BE; father and mother born BE'"
_NON_BE_PROOFS = {
    "cur": "concat('self.current_nationality=', cur)",
    "fst": "concat('self.first_nationality=', fst)",
    "f_first": "concat('father.first_nationality=', f_first)",
    "m_first": "concat('mother.first_nationality=', m_first)",
}
_PARENTS_FIRST_UNKNOWN = (
    f"CASE WHEN f_first IS NULL THEN {_parent_reason('f', 'father', True)}"
    f" ELSE {_parent_reason('m', 'mother', True)} END"
)


def _flanders_columns() -> list[str]:
    klass = (
        "CASE WHEN cur <> 'BE' OR fst <> 'BE' OR f_first <> 'BE' OR m_first <> 'BE'"
        " THEN 'with_background'"
        " WHEN cur = 'BE' AND fst = 'BE' AND f_first = 'BE' AND m_first = 'BE'"
        " THEN 'without_background'"
        " WHEN cur IS NULL THEN 'unknown_nationality' ELSE 'unknown_parents' END"
    )
    trail = (
        "CASE"
        + "".join(f" WHEN {c} <> 'BE' THEN {t}" for c, t in _NON_BE_PROOFS.items())
        + f" WHEN cur = 'BE' AND fst = 'BE' AND f_first = 'BE' AND m_first = 'BE'"
        f" THEN {_BELGIAN_TRAIL}"
        f" WHEN cur IS NULL THEN {_self_reason()} ELSE {_PARENTS_FIRST_UNKNOWN} END"
    )
    return [f"{klass} AS flanders2016", f"{trail} AS flanders2016_trail"]


def _statbel_columns() -> list[str]:
    klass = (
        "CASE WHEN cur <> 'BE' THEN 'non_belgian' WHEN cur IS NULL THEN 'unknown'"
        " WHEN fst <> 'BE' OR f_first <> 'BE' OR m_first <> 'BE' THEN 'foreign_background'"
        " WHEN f_first = 'BE' AND m_first = 'BE' THEN 'belgian_background'"
        " ELSE 'unknown' END"
    )
    trail = (
        f"CASE WHEN cur <> 'BE' THEN {_NON_BE_PROOFS['cur']}"
        f" WHEN cur IS NULL THEN {_self_reason()}"
        + "".join(
            f" WHEN {c} <> 'BE' THEN {_NON_BE_PROOFS[c]}" for c in ("fst", "f_first", "m_first")
        )
        + f" WHEN f_first = 'BE' AND m_first = 'BE' THEN {_BELGIAN_TRAIL}"
        f" ELSE {_PARENTS_FIRST_UNKNOWN} END"
    )
    return [f"{klass} AS statbel", f"{trail} AS statbel_trail"]


def _national_origin_columns(groups: Mapping[str, str]) -> list[str]:
    klass = (
        "CASE WHEN no_code IS NOT NULL THEN no_class"
        f" WHEN cur = 'BE' THEN {_lit(NOT_ASSIGNABLE)} ELSE {_lit(UNDETERMINED)} END"
    )
    group = (
        "CASE WHEN no_code IS NOT NULL THEN no_group"
        f" WHEN cur = 'BE' THEN {_lit(groups[NOT_ASSIGNABLE])}"
        f" ELSE {_lit(groups[UNDETERMINED])} END"
    )
    trail = (
        "CASE"
        + "".join(f" WHEN {c} <> 'BE' THEN {_NON_BE_PROOFS[c]}" for c in ("f_first", "m_first"))
        + f" WHEN fst <> 'BE' THEN {_NON_BE_PROOFS['fst']}"
        f" WHEN cur <> 'BE' THEN {_NON_BE_PROOFS['cur']}"
        f" WHEN no_code = 'BE' THEN {_BELGIAN_TRAIL}"
        f" WHEN cur = 'BE' THEN concat('born BE; ', {_PARENTS_FIRST_UNKNOWN})"
        f" ELSE {_self_reason()} END"
    )
    return [
        "no_code AS national_origin",
        f"{klass} AS national_origin_class",
        f"{group} AS national_origin_group",
        f"{trail} AS national_origin_trail",
    ]


def _migration_columns(rules: Sequence[MigrationRule]) -> list[str]:
    feature = {
        "now": "mb_now",
        "born": "mb_born",
        "parents_born": "mb_parents_born",
        "birth_country": "mb_birth_country",
        "origin_area": (
            "CASE WHEN no_code IS NULL THEN 'unknown' WHEN no_code = 'BE' THEN 'BE'"
            " WHEN no_in_eu THEN 'EU' ELSE 'non_EU' END"
        ),
    }
    whens: list[str] = []
    for r in rules:
        conds = [f"{feature[col]} = {_lit(v)}" for col, v in r.conditions.items()]
        if r.years_of:
            y = "yrs_acq" if r.years_of == "acquisition" else "yrs_reg"
            conds.append(f"{y} IS NOT NULL")
            if r.min_years is not None:
                conds.append(f"{y} >= {int(r.min_years)}")
            if r.max_years is not None:
                conds.append(f"{y} <= {int(r.max_years)}")
        whens.append(f" WHEN {' AND '.join(conds) or 'TRUE'} THEN {int(r.order)}")
    rule_no = "CASE" + "".join(whens) + " END"
    category = (
        f"CASE ({rule_no})"
        + "".join(f" WHEN {int(r.order)} THEN {_lit(r.category)}" for r in rules)
        + " END"
    )
    years = "CASE WHEN {y} IS NULL THEN 'unknown' ELSE CAST({y} AS STRING) END"
    trail = (
        f"concat('rule ', CAST(({rule_no}) AS STRING),"
        f" ': now=', mb_now, ', born=', mb_born, ', parents_born=', mb_parents_born,"
        f" ', origin=', {feature['origin_area']}, ', birth_country=', mb_birth_country,"
        f" ', years since acquisition=', {years.format(y='yrs_acq')},"
        f" ', years since registration=', {years.format(y='yrs_reg')})"
    )
    return [f"{category} AS migration_background", f"{trail} AS migration_background_trail"]


def _fact_columns() -> list[str]:
    return [
        "cur AS fact_current_nationality",
        "fst AS fact_first_nationality",
        "f_first AS fact_father_first_nationality",
        "m_first AS fact_mother_first_nationality",
        "birth_country AS fact_birth_country",
        "CAST(year(registration_date) AS INTEGER) AS fact_registration_year",
        "CAST(year(acq_from) AS INTEGER) AS fact_acquisition_year",
    ]


def origin_sql(
    params: OriginParams,
    rules: RuleSet,
    *,
    scope: str | None,
    ind: str,
    par: str,
    country: str,
    groups: Mapping[str, str],
) -> str:
    """The final SELECT (step 4) over the prepared ``ind`` and ``par`` relations."""
    columns = _definition_columns(params, rules, groups)
    if scope is None:
        self_cols, from_clause = "p.ssin, TRUE AS found", f"{ind} p"
    else:
        self_cols = "s.ssin, p.ssin IS NOT NULL AS found"
        from_clause = f"{scope} s LEFT JOIN {ind} p ON p.ssin = s.ssin"
    base = _SQL_BASE.format(self_cols=self_cols, from_clause=from_clause, ind=ind, par=par)
    return _result_sql(base, columns, str(params.reference_date.year), "ssin", country)


def _definition_columns(
    params: OriginParams, rules: RuleSet, groups: Mapping[str, str]
) -> list[str]:
    """The output columns of every asked definition (trails and facts as asked)."""
    columns: list[str] = []
    for d in (Definition(x) for x in params.definitions):
        if d in (Definition.EU15, Definition.EU):
            columns += _seed_columns(d)
        elif d is Definition.FLANDERS2016:
            columns += _flanders_columns()
        elif d is Definition.STATBEL:
            columns += _statbel_columns()
        elif d is Definition.NATIONAL_ORIGIN:
            columns += _national_origin_columns(groups)
        else:
            columns += _migration_columns(migration_rules(rules))
    if not params.trails:
        columns = [c for c in columns if not c.endswith("_trail")]
    if params.facts:
        columns += _fact_columns()
    return columns


def _result_sql(base: str, columns: Sequence[str], ref_year: str, lead: str, country: str) -> str:
    """Steps 4b and 4c over the step-4a relation ``base``."""
    derived = _SQL_DERIVED.format(base=base, ref_year=ref_year)
    return _SQL_RESULT.format(
        lead=lead, columns="".join(f",\n    {c}" for c in columns), derived=derived, country=country
    )


# ----------------------------------------------------------------------------------------------
# The library calls
# ----------------------------------------------------------------------------------------------


def _check_inputs(engine: Engine, population: str | None) -> None:
    for table in ("persons", "nationalities"):
        if not engine.has_table(table):
            raise InputError(f"table '{table}' is not loaded; load the register first")
    if population is not None:
        _ident(population)
        try:
            cols = engine.columns(population)
        except Exception:
            raise InputError(f"population relation '{population}' does not exist") from None
        if "ssin" not in cols:
            raise InputError(f"population relation '{population}' has no column 'ssin'")


def _check_codes(engine: Engine, country: str) -> None:
    bad = engine.rows(
        f"""
        SELECT DISTINCT code FROM (
            SELECT nationality AS code FROM nationalities
            UNION ALL SELECT birth_country AS code FROM persons
        ) c
        WHERE code IS NOT NULL AND code NOT IN (SELECT code FROM {country})
        ORDER BY code LIMIT 10
        """
    )
    if bad:
        raise InputError(
            "unknown country code(s) in the register: "
            + ", ".join(str(r[0]) for r in bad)
            + " (load and validate the register with herkomst.load first)"
        )


@contextmanager
def unordered(engine: Engine) -> Iterator[None]:
    """Let DuckDB write tables in any row order for the duration (``preserve_insertion_order``
    off: a quarter less CPU for origin). The row order of the origin tables is not defined;
    whoever writes them out sorts (:func:`origin_to_parquet` by ``ssin``)."""
    before = engine.scalar("SELECT current_setting('preserve_insertion_order')")
    engine.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        engine.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


def derive_origin(
    engine: Engine,
    params: OriginParams,
    rules: RuleSet | None = None,
    population: str | None = None,
    out_table: str = "origin",
) -> str:
    """Create ``out_table``: one row per person in scope, every asked definition, its trail.

    ``population`` names a relation with a column ``ssin`` (the persons in scope; those not
    in ``persons`` get every fact unknown); None = every person in ``persons``. Returns the
    name of the table created. The columns are ``ssin``; per definition ``<def>`` and
    ``<def>_trail`` (``national_origin`` also ``national_origin_class`` and
    ``national_origin_group``); and, when ``params.facts``, the ``fact_*`` columns.
    """
    rules = rules or RuleSet()
    out = _ident(out_table)
    _check_inputs(engine, population)
    country_rules = CountryRules.from_rules(rules, params.effective_eu_date)
    if params.wants(Definition.MIGRATION_BACKGROUND):
        migration_rules(rules)  # validate before any work
    prefix = f"_origin_{out}"
    country, nat, reacq, ind, par, rel, scope_t = (
        f"{prefix}_{n}" for n in ("country", "nat", "reacq", "ind", "par", "rel", "scope")
    )
    engine.register(country, country_rules.arrow())
    _check_codes(engine, country)
    names = (country, nat, reacq, ind, par, rel, scope_t)
    with unordered(engine):
        _derive(engine, params, rules, population, out, country_rules, names)
    return out


def _derive(
    engine: Engine,
    params: OriginParams,
    rules: RuleSet,
    population: str | None,
    out: str,
    country_rules: CountryRules,
    names: tuple[str, ...],
) -> None:
    country, nat, reacq, ind, par, rel, scope_t = names
    ref = _date_lit(params.reference_date)
    made: list[str] = []

    def make(name: str, sql: str) -> None:
        engine.create_table(name, sql)
        made.append(name)

    def drop(*names: str) -> None:
        for t in names:
            engine.execute(f'DROP TABLE IF EXISTS "{t}"')

    try:
        scope: str | None = None
        where_nat = where_ind = where_par = ""
        if population is not None:
            make(rel, _SQL_RELEVANT.format(population=population))
            make(scope_t, f"SELECT DISTINCT ssin FROM {population} WHERE ssin IS NOT NULL")
            scope = scope_t
            where_nat = f"WHERE ssin IN (SELECT ssin FROM {rel})"
            where_ind = f"WHERE p.ssin IN (SELECT ssin FROM {rel})"
            where_par = f"WHERE x.ssin IN (SELECT ssin FROM {rel} WHERE is_parent = 1)"
        make(nat, _SQL_NAT.format(ref=ref, where=where_nat))
        make(reacq, _SQL_REACQUIRED.format(nat=nat, ref=ref))
        make(ind, _SQL_IND.format(nat=nat, reacquired=reacq, country=country, where=where_ind))
        drop(nat, reacq)
        make(par, _SQL_PAR.format(ind=ind, parent_counts=_parent_counts(), where=where_par))
        engine.create_table(
            out,
            origin_sql(
                params,
                rules,
                scope=scope,
                ind=ind,
                par=par,
                country=country,
                groups=country_rules.groups,
            ),
        )
    finally:
        drop(*reversed(made))


def derive_origin_years(
    engine: Engine,
    params: OriginParams,
    population: str,
    rules: RuleSet | None = None,
    out_table: str = "origin_years",
) -> str:
    """Origin on 31 December of several years in one pass: one row per person and year.

    ``population`` names a relation with columns ``year`` and ``ssin`` (the persons in scope
    each year). The result has ``year``, ``ssin`` and the columns of :func:`derive_origin`;
    each row equals what :func:`derive_origin` gives for that person with
    ``reference_date`` = 31 December of the row's year (``params.reference_date`` is not
    used). The parent and grandparent joins are done once for all years: a person's facts
    are computed once per span of years in which his nationality rows in force stay the same.
    """
    rules = rules or RuleSet()
    out = _ident(out_table)
    _check_inputs(engine, population)
    if "year" not in engine.columns(population):
        raise InputError(f"population relation '{population}' has no column 'year'")
    years = sorted(
        {int(r[0]) for r in engine.rows(f"SELECT DISTINCT year FROM {population}") if r[0]}
    )
    country_rules = CountryRules.from_rules(rules, params.effective_eu_date)
    if params.wants(Definition.MIGRATION_BACKGROUND):
        migration_rules(rules)
    prefix = f"_origin_{out}"
    country, yearmap, rel, epochs, nat, reacq, ind, scope = (
        f"{prefix}_{n}"
        for n in ("country", "yearmap", "rel", "epochs", "nat", "reacq", "ind", "scope")
    )
    engine.register(country, country_rules.arrow())
    _check_codes(engine, country)
    columns = _definition_columns(params, rules, country_rules.groups)
    made: list[str] = []
    names = (country, yearmap, rel, epochs, nat, reacq, ind, scope, out)
    y_min, y_max = (years[0], years[-1]) if years else (0, 0)
    calendar = list(range(y_min + 1, y_max + 1))
    asked = [min(y for y in years if y >= c) for c in calendar]
    engine.register(
        yearmap,
        pa.table({"cal": pa.array(calendar, pa.int64()), "asked": pa.array(asked, pa.int64())}),
    )
    with unordered(engine):
        try:
            _derive_years(engine, columns, population, names, (y_min, y_max), made)
        finally:
            for t in reversed(made):
                engine.execute(f'DROP TABLE IF EXISTS "{t}"')
            engine.con.unregister(yearmap)
    return out


def _derive_years(
    engine: Engine,
    columns: Sequence[str],
    population: str,
    names: tuple[str, ...],
    span: tuple[int, int],
    made: list[str],
) -> None:
    country, yearmap, rel, epochs, nat, reacq, ind, scope, out = names
    y_min, y_max = span

    def make(name: str, sql: str) -> None:
        engine.create_table(name, sql)
        made.append(name)

    make(scope, f"SELECT DISTINCT year, ssin FROM {population} WHERE ssin IS NOT NULL")
    make(rel, _SQL_RELEVANT.format(population=scope))
    make(epochs, _SQL_EPOCHS.format(rel=rel, yearmap=yearmap, y_min=y_min, y_max=y_max))
    make(nat, _SQL_NAT_EPOCHS.format(epochs=epochs))
    make(reacq, _SQL_REACQUIRED_EPOCHS.format(nat=nat))
    make(ind, _SQL_IND_EPOCHS.format(epochs=epochs, nat=nat, reacquired=reacq, country=country))
    base = _SQL_BASE_EPOCHS.format(scope=scope, ind=ind, grandparent_counts=_grandparent_counts())
    engine.create_table(
        out, _result_sql(base, columns, "ref_year", "ref_year AS year, ssin", country)
    )


def provenance(params: OriginParams, rules: RuleSet) -> dict[str, Any]:
    """Parameters and rule tables (version, SHA-256, confirmed) of a run, for a manifest."""
    for name in RULE_TABLES:
        rules.table(name)
    return {
        "params": params.describe(),
        "rules": [t for t in rules.provenance() if t["name"] in RULE_TABLES],
    }


class Population(StrEnum):
    """Who is in scope for ``herkomst origin --persons``."""

    PERSONNEL = "personnel"  # the employer's personnel list of the year
    EMPLOYED = "employed"  # everyone with a job at year end
    ALL = "all"  # every person in the register


def population_relation(
    engine: Engine, which: Population | str, year: int, name: str = "origin_population"
) -> str | None:
    """Create the relation of persons in scope for ``year``; None means everyone."""
    kind = Population(which)
    if kind is Population.ALL:
        return None
    source = "personnel" if kind is Population.PERSONNEL else "employment"
    if not engine.has_table(source):
        raise InputError(f"--persons {kind.value} needs the '{source}' table, which is not loaded")
    engine.create_table(
        _ident(name), f"SELECT DISTINCT ssin FROM {source} WHERE year = {int(year)}"
    )
    return name


@dataclass(frozen=True)
class OriginRun:
    """What :func:`origin_to_parquet` wrote."""

    path: Path
    rows: int
    counts: Mapping[str, Mapping[str, int]]
    provenance: Mapping[str, Any]


def class_counts(
    engine: Engine, table: str, definitions: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Number of persons per class of each definition (national origin: per group)."""
    out: dict[str, dict[str, int]] = {}
    for d in definitions:
        col = _column_for(d)
        rows = engine.rows(
            f"SELECT {col}, count(*) FROM {_ident(table)} GROUP BY {col} ORDER BY {col}"
        )
        out[d] = {str(k): int(v) for k, v in rows}
    return out


def origin_to_parquet(
    engine: Engine,
    params: OriginParams,
    out: Path,
    rules: RuleSet | None = None,
    population: str | None = None,
    table: str = "origin",
) -> OriginRun:
    """Derive origin and write it to ``out`` (Parquet, ZSTD). For the thin CLI."""
    rules = rules or RuleSet()
    name = derive_origin(engine, params, rules, population=population, out_table=table)
    engine.write_parquet(f"SELECT * FROM {name} ORDER BY ssin", out)
    return OriginRun(
        path=out,
        rows=engine.count(name),
        counts=class_counts(engine, name, params.definitions),
        provenance=provenance(params, rules),
    )


def _column_for(definition: str) -> str:
    if definition == Definition.NATIONAL_ORIGIN.value:
        return "national_origin_group"
    return _ident(definition)


def compare(engine: Engine, table: str, def_a: str, def_b: str) -> pa.Table:
    """Crosstab of two definitions in long form, with margins (``total``).

    Columns: ``def_a``, ``def_b`` (class names, ``total`` on the margins, ``null`` for a
    missing class) and ``n``. ``national_origin`` is compared by its origin group; any other
    column of ``table`` (e.g. ``national_origin_class``) can be named directly.
    """
    if def_a == def_b:
        raise UsageError(f"compare needs two different definitions (got {def_a} twice)")
    cols = set(engine.columns(_ident(table)))
    a, b = _column_for(def_a), _column_for(def_b)
    for name, col in ((def_a, a), (def_b, b)):
        if col not in cols:
            raise UsageError(f"definition '{name}' is not in table '{table}'")
    return engine.arrow(
        _SQL_COMPARE.format(a=a, b=b, a_out=_ident(def_a), b_out=_ident(def_b), table=table)
    )


def crosstab_text(crosstab: pa.Table) -> str:
    """A plain-text wide rendering of :func:`compare`'s result (rows: first definition)."""
    a, b, _ = crosstab.column_names
    data = crosstab.to_pylist()
    rows = list(dict.fromkeys(r[a] for r in data))
    cols = list(dict.fromkeys(r[b] for r in data))
    cols = [c for c in cols if c != "total"] + ["total"]
    rows = [r for r in rows if r != "total"] + ["total"]
    cell = {(r[a], r[b]): int(r["n"]) for r in data}
    head = [f"{a} \\ {b}", *cols]
    body = [[r, *(str(cell.get((r, c), 0)) for c in cols)] for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(x, widths, strict=True))
        )
        for x in [head, *body]
    ]
    return "\n".join(lines)
