"""The diversity tables of seed 000: staff population, origin, and every cell in one pass.

Flow (each step a function over the engine; ``docs/tables.md`` explains the rules)::

    build_population  personnel x entities x persons x employment -> staff (one row per
                      person and year) + the accounting of every personnel row
    derive origin     herkomst.origin.derive_origin_years, every year in one pass (reference
                      date 31 December of each year)
    tabulate_cells    staff x origin -> table rows, one GROUPING SETS aggregation for every
                      year, definition, breakdown and scope at once; the cells (long layout
                      of the contract) are a view that unfolds each row into its classes
    compute_cells     the three above over many years, with a content-addressed cache per year

The SQL stays within what DuckDB and Spark SQL both run (``GROUPING SETS``, window
functions, ``CASE``, ``UNION ALL``); only the cache fingerprint
(:func:`year_fingerprints`) uses DuckDB's ``hash`` (the DuckDB version is part of the key), outside
the tables themselves.

Cell vocabulary (the values a cell's variables take):

- ``sex``: ``M``, ``F``, ``unknown`` (no sex in the register)
- ``age_class``: ``"<min>-<max>"`` from the ``age_classes`` rule table (default ``18-24``,
  ``25-34``, ``35-44``, ``45-54``, ``55-65``)
- ``level``: ``A``, ``B``, ``C``, ``D``, ``unknown`` (no level on the personnel list)
- ``position``: ``statutory`` (worker class 3), ``contractual`` (1, 2, 4), ``unknown`` (no job
  at the entity's employer, or no worker class)
- ``regime``: ``full_time`` (``F``), ``part_time`` (``P``), ``unknown``
- ``origin``: the definition's classes (``inside``, ``outside``, ``unknown_parents``,
  ``unknown_grandparents`` for ``eu15``/``eu``), ``unknown`` = the sum of the ``unknown_*``
  classes, ``total``
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .contract import VALIDATED_TYPES
from .engine import Engine
from .errors import InputError, InternalError, RuleError, UsageError
from .origin import RULE_TABLES as ORIGIN_RULE_TABLES
from .origin import (
    Definition,
    OriginParams,
    class_column,
    derive_origin,
    derive_origin_years,
    unordered,
)
from .origin import classes as definition_classes
from .rules import BUNDLED, RuleSet, RuleTable, index

# -- vocabularies ------------------------------------------------------------------------

SCOPES: tuple[str, ...] = ("administration", "policy_domain", "entity")
VARIABLES: tuple[str, ...] = ("sex", "age_class", "level", "position", "regime")
BREAKDOWNS: tuple[str, ...] = ("total", *VARIABLES, "all")
UNKNOWN = "unknown"
SEXES: tuple[str, ...] = ("M", "F", UNKNOWN)
LEVELS: tuple[str, ...] = ("A", "B", "C", "D", UNKNOWN)
POSITIONS: tuple[str, ...] = ("statutory", "contractual", UNKNOWN)
REGIMES: tuple[str, ...] = ("full_time", "part_time", UNKNOWN)
ORIGIN_ORDER: tuple[str, ...] = (
    "inside",
    "outside",
    UNKNOWN,
    "unknown_parents",
    "unknown_grandparents",
    "total",
)

#: What happens to a personnel row, in order of precedence; ``in_tables`` is the rest.
EXCLUSIONS: tuple[str, ...] = (
    "duplicated",
    "entity_unknown",
    "not_in_register",
    "no_birth_date",
    "out_of_age_range",
)
#: Facts counted among the rows in the tables (they stay in, under an ``unknown`` category).
IN_TABLE_NOTES: tuple[str, ...] = (
    "no_job_at_employer",
    "worker_class_unknown",
    "regime_unknown",
    "sex_unknown",
    "level_unknown",
    "policy_domain_mismatch",
)

#: The contract's cell columns, in this order, then the documented extra columns.
CONTRACT_COLUMNS: tuple[str, ...] = (
    "year",
    "definition",
    "scope",
    "policy_domain",
    "entity",
    "breakdown",
    "sex",
    "age_class",
    "level",
    "position",
    "regime",
    "origin",
    "count",
    "percent",
    "shown",
    "status",
)
EXTRA_COLUMNS: tuple[str, ...] = ("reference_date", "policy_domain_name", "entity_name")
CELL_COLUMNS: tuple[str, ...] = (*CONTRACT_COLUMNS, *EXTRA_COLUMNS)

CACHE_FORMAT = "herkomst-tables-cache/2"
ROWS_FILE = "rows.parquet"


# -- parameters --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TableParams:
    """What tables to build. ``generated_on`` is the generation date (EU = members then)."""

    years: tuple[int, ...]
    generated_on: dt.date
    definitions: tuple[str, ...] = ("eu15", "eu")
    breakdowns: tuple[str, ...] = BREAKDOWNS
    scopes: tuple[str, ...] = SCOPES
    min_age: int = 18
    max_age: int = 65
    eu_date: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.years:
            raise UsageError("no year asked for: give --year Y or --years FROM-TO")
        for y in self.years:
            if isinstance(y, bool) or not isinstance(y, int) or not 1900 <= y <= 2100:
                raise UsageError(f"year {y!r} is not allowed: give a calendar year 1900-2100")
        if len(set(self.years)) != len(self.years):
            raise UsageError(f"years {list(self.years)} repeat a year: give each year once")
        if not self.definitions:
            raise UsageError("no origin definition asked for: give at least one (eu15, eu, ...)")
        _check_subset("definition", self.definitions, [d.value for d in Definition])
        _check_subset("breakdown", self.breakdowns, BREAKDOWNS)
        _check_subset("scope", self.scopes, SCOPES)
        if not 0 <= self.min_age <= self.max_age <= 120:
            raise UsageError(
                f"age range {self.min_age}-{self.max_age} is not allowed: need 0 <= min <= max <= 120"
            )
        if not isinstance(self.generated_on, dt.date):
            raise UsageError("generated_on must be a date")

    @property
    def definition_date(self) -> dt.date:
        """The date EU membership is read on (``eu_date``, else the generation date)."""
        return self.eu_date or self.generated_on

    def reference_date(self, year: int) -> dt.date:
        return dt.date(year, 12, 31)

    def cache_fields(self) -> dict[str, Any]:
        """The parameters a year's cells depend on (the years themselves excluded)."""
        return {
            "definitions": list(self.definitions),
            "breakdowns": sorted(self.breakdowns, key=BREAKDOWNS.index),
            "scopes": sorted(self.scopes, key=SCOPES.index),
            "min_age": self.min_age,
            "max_age": self.max_age,
            "definition_date": self.definition_date.isoformat(),
        }


def _check_subset(what: str, values: Sequence[str], allowed: Sequence[str] | None) -> None:
    if not values:
        raise UsageError(f"no {what} asked for: give at least one")
    if len(set(values)) != len(values):
        raise UsageError(f"{what}s {list(values)} repeat a value: give each once")
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise UsageError(f"{what} {', '.join(bad)} not known: choose from {', '.join(allowed)}")


# -- age classes -------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeClass:
    label: str
    min_age: int
    max_age: int
    label_nl: str


def age_classes(table: RuleTable, min_age: int, max_age: int) -> tuple[AgeClass, ...]:
    """The validated age classes: contiguous, non-overlapping, covering ``min_age..max_age``."""
    where = f"{table.path}: rule table 'age_classes'"
    classes: list[AgeClass] = []
    for i, row in enumerate(table.rows, start=1):
        try:
            lo, hi = int(row["min_age"]), int(row["max_age"])
        except ValueError:
            raise RuleError(
                f"{where}, row {i}: min_age and max_age must be whole numbers"
            ) from None
        if lo > hi:
            raise RuleError(f"{where}, row {i}: min_age {lo} is above max_age {hi}")
        if row["age_class"] != f"{lo}-{hi}":
            raise RuleError(
                f"{where}, row {i}: age_class '{row['age_class']}' must read '{lo}-{hi}'"
            )
        classes.append(AgeClass(row["age_class"], lo, hi, row["label_nl"]))
    if not classes:
        raise RuleError(f"{where}: no age class")
    classes.sort(key=lambda c: c.min_age)
    for prev, nxt in itertools.pairwise(classes):
        if nxt.min_age <= prev.max_age:
            raise RuleError(f"{where}: classes {prev.label} and {nxt.label} overlap")
        if nxt.min_age != prev.max_age + 1:
            raise RuleError(
                f"{where}: gap between {prev.label} and {nxt.label}: classes must be contiguous"
            )
    if classes[0].min_age > min_age or classes[-1].max_age < max_age:
        raise RuleError(
            f"{where}: classes cover {classes[0].min_age}-{classes[-1].max_age} but the "
            f"population is aged {min_age}-{max_age}: add classes or narrow the age range"
        )
    return tuple(classes)


# -- SQL ---------------------------------------------------------------------------------
# Every personnel row of the asked years gets one outcome. Precedence: a duplicate copy of a
# person-year, then an entity missing from the entity list, then no register row, no birth
# date, and the age range. The kept copy of a duplicated person-year is the one in a known
# entity first, then the smallest entity code, level, listed policy domain.
OUTCOMES_SQL = """
WITH listed AS (
    SELECT pl.ssin, pl.year, pl.policy_domain AS listed_domain, pl.entity, pl.level,
           e.policy_domain, e.employer_id,
           CASE WHEN e.entity IS NULL THEN 0 ELSE 1 END AS entity_known
    FROM personnel pl
    LEFT JOIN entities e ON e.entity = pl.entity
    WHERE pl.year IN ({years})
), ranked AS (
    SELECT l.*,
           row_number() OVER (
               PARTITION BY l.ssin, l.year
               ORDER BY l.entity_known DESC, l.entity ASC NULLS LAST, l.level ASC NULLS LAST,
                        l.listed_domain ASC NULLS LAST
           ) AS copy_rank
    FROM listed l
), linked AS (
    SELECT r.*, CASE WHEN pe.ssin IS NULL THEN 0 ELSE 1 END AS in_register,
           pe.sex, pe.birth_date, r.year - year(pe.birth_date) AS age
    FROM ranked r
    LEFT JOIN persons pe ON pe.ssin = r.ssin
)
SELECT lk.year, lk.ssin, lk.policy_domain, lk.listed_domain, lk.entity, lk.level, lk.sex, lk.age,
       CASE WHEN lk.copy_rank > 1 THEN 'duplicated'
            WHEN lk.entity_known = 0 THEN 'entity_unknown'
            WHEN lk.in_register = 0 THEN 'not_in_register'
            WHEN lk.birth_date IS NULL THEN 'no_birth_date'
            WHEN lk.age < {min_age} OR lk.age > {max_age} THEN 'out_of_age_range'
            ELSE 'in_tables' END AS outcome,
       CASE WHEN em.ssin IS NULL THEN 0 ELSE 1 END AS job_found,
       em.worker_class, em.regime AS job_regime
FROM linked lk
LEFT JOIN employment em
       ON em.ssin = lk.ssin AND em.year = lk.year AND em.employer_id = lk.employer_id
"""

# One row per person and year in the tables, every variable mapped to its cell vocabulary.
STAFF_SQL = """
SELECT year, ssin, policy_domain, entity,
       CASE WHEN sex IN ('M', 'F') THEN sex ELSE 'unknown' END AS sex,
       age,
       {age_class_case} AS age_class,
       CASE WHEN level IN ('A', 'B', 'C', 'D') THEN level ELSE 'unknown' END AS level,
       CASE WHEN job_found = 0 OR worker_class IS NULL THEN 'unknown'
            WHEN worker_class = 3 THEN 'statutory'
            WHEN worker_class IN (1, 2, 4) THEN 'contractual'
            ELSE 'unknown' END AS position,
       CASE WHEN job_found = 1 AND job_regime = 'F' THEN 'full_time'
            WHEN job_found = 1 AND job_regime = 'P' THEN 'part_time'
            ELSE 'unknown' END AS regime
FROM "{outcomes}"
WHERE outcome = 'in_tables'
"""

ACCOUNTING_SQL = """
SELECT year, count(*) AS personnel_rows,
       sum(CASE WHEN outcome = 'in_tables' THEN 1 ELSE 0 END) AS in_tables,
       {exclusions},
       sum(CASE WHEN outcome = 'in_tables' AND job_found = 0 THEN 1 ELSE 0 END)
           AS no_job_at_employer,
       sum(CASE WHEN outcome = 'in_tables' AND job_found = 1 AND worker_class IS NULL
                THEN 1 ELSE 0 END) AS worker_class_unknown,
       sum(CASE WHEN outcome = 'in_tables' AND job_found = 1
                 AND (job_regime IS NULL OR job_regime NOT IN ('F', 'P'))
                THEN 1 ELSE 0 END) AS regime_unknown,
       sum(CASE WHEN outcome = 'in_tables' AND (sex IS NULL OR sex NOT IN ('M', 'F'))
                THEN 1 ELSE 0 END) AS sex_unknown,
       sum(CASE WHEN outcome = 'in_tables' AND (level IS NULL OR level NOT IN ('A', 'B', 'C', 'D'))
                THEN 1 ELSE 0 END) AS level_unknown,
       sum(CASE WHEN outcome = 'in_tables' AND listed_domain IS DISTINCT FROM policy_domain
                THEN 1 ELSE 0 END) AS policy_domain_mismatch
FROM "{outcomes}"
GROUP BY year
ORDER BY year
"""

# The cells. ``person_def`` has one row per person, year and definition. ``fine`` counts each
# origin class (one column per class, ``unknown`` = the ``unknown_*`` classes, ``total``) at
# the finest level; ``counted`` is the one GROUPING SETS aggregation behind every table.
# ``frame`` lists every row of every table: per scope unit, the categories observed in that
# unit (the ``all`` breakdown: their full cartesian product), so that zero cells are explicit.
# Each row carries its counts per origin class (``n__*``) and its names; CELLS_UNFOLD_SQL
# turns a row into one cell per origin class.
CELLS_ROWS_SQL = """
WITH person_def AS (
{person_def}
), fine AS (
    SELECT year, definition, policy_domain, entity, sex, age_class, level, position, regime,
{class_sums}
    FROM person_def
    GROUP BY year, definition, policy_domain, entity, sex, age_class, level, position, regime
), counted AS (
    SELECT year, definition,
           {scope_case} AS scope,
           {breakdown_case} AS breakdown,
           {counted_keys},
{class_totals}
    FROM fine
    GROUP BY GROUPING SETS (
{cell_sets}
    )
), vars AS (
    SELECT year, policy_domain, entity, 'sex' AS variable, sex AS value FROM "{staff}"
    UNION ALL SELECT year, policy_domain, entity, 'age_class', age_class FROM "{staff}"
    UNION ALL SELECT year, policy_domain, entity, 'level', level FROM "{staff}"
    UNION ALL SELECT year, policy_domain, entity, 'position', position FROM "{staff}"
    UNION ALL SELECT year, policy_domain, entity, 'regime', regime FROM "{staff}"
), cats AS (
    SELECT year, {scope_case} AS scope, {cats_keys}, variable, value
    FROM vars
    GROUP BY GROUPING SETS (
{cat_sets}
    )
), frame AS (
{frame}
), definitions (definition) AS (
    VALUES {definitions}
), rows_counted AS (
    SELECT f.year, d.definition, f.scope, f.policy_domain, f.entity, f.breakdown,
           f.sex, f.age_class, f.level, f.position, f.regime,
{row_counts}
    FROM frame f
    CROSS JOIN definitions d
    LEFT JOIN counted k
           ON k.year = f.year AND k.definition = d.definition
          AND k.scope = f.scope AND k.breakdown = f.breakdown
          AND coalesce(k.policy_domain, '') = coalesce(f.policy_domain, '')
          AND coalesce(k.entity, '') = coalesce(f.entity, '')
          AND coalesce(k.sex, '') = coalesce(f.sex, '')
          AND coalesce(k.age_class, '') = coalesce(f.age_class, '')
          AND coalesce(k.level, '') = coalesce(f.level, '')
          AND coalesce(k.position, '') = coalesce(f.position, '')
          AND coalesce(k.regime, '') = coalesce(f.regime, '')
), domains AS (
    SELECT policy_domain, min(policy_domain_name) AS policy_domain_name
    FROM entities GROUP BY policy_domain
)
SELECT r.*,
       CASE WHEN r.policy_domain IS NULL THEN NULL ELSE d.policy_domain_name END
           AS policy_domain_name,
       CASE WHEN r.entity IS NULL THEN NULL ELSE e.entity_name END AS entity_name
FROM rows_counted r
LEFT JOIN domains d ON d.policy_domain = r.policy_domain
LEFT JOIN entities e ON e.entity = r.entity
"""

# The cells from the rows of CELLS_SQL: one cell per origin class of the row's definition.
# Kept apart so that the rows (a sixth of the cells) are what is stored; the cells are a
# view over them (see :func:`tabulate_cells`).
CELLS_UNFOLD_SQL = """
WITH classes (definition, origin) AS (
    VALUES {classes}
), cells AS (
    SELECT r.year, r.definition, r.scope, r.policy_domain, r.entity, r.breakdown,
           r.sex, r.age_class, r.level, r.position, r.regime, c.origin,
           {pick_count} AS count, r.n__total AS row_total,
           r.policy_domain_name, r.entity_name
    FROM {rows} r
    JOIN classes c ON c.definition = r.definition
)
SELECT t.year, t.definition, t.scope, t.policy_domain, t.entity, t.breakdown,
       t.sex, t.age_class, t.level, t.position, t.regime, t.origin,
       CAST(t.count AS BIGINT) AS count,
       {percent} AS percent,
       CAST(t.count AS VARCHAR) AS shown,
       'published' AS status,
       make_date(t.year, 12, 31) AS reference_date,
       t.policy_domain_name,
       t.entity_name
FROM cells t
"""


def percent_sql(count: str, total: str) -> str:
    """SQL for ``100 * count / total`` to one decimal, half away from zero, exactly.

    With ``a = 2000 * count + total`` and ``b = 2 * total`` the tenths of a percent are
    ``floor(a / b)`` (counts are never negative). The integer quotient is taken as
    ``(a - a % b) / b``, an exact integer whatever the engine's ``/`` returns, so no binary
    floating point decides a ``.x5`` case. Null when the row total is 0.
    """
    a = f"(2000 * CAST({count} AS BIGINT) + CAST({total} AS BIGINT))"
    b = f"(2 * CAST({total} AS BIGINT))"
    tenths = f"CAST(({a} - {a} % {b}) / {b} AS BIGINT)"
    return f"CASE WHEN {total} > 0 THEN CAST(CAST({tenths} AS DOUBLE) / 10 AS DECIMAL(4, 1)) END"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _order_case(column: str, values: Sequence[str]) -> str:
    whens = " ".join(f"WHEN {_sql_str(v)} THEN {i}" for i, v in enumerate(values))
    return f"CASE {column} {whens} ELSE {len(values)} END"


def origin_rank(origin: str) -> tuple[int, str]:
    """Where an origin class sorts: inside, outside, other classes (by name), unknown,
    unknown_parents, unknown_grandparents, other unknown_* (by name), total."""
    fixed = {
        "inside": 0,
        "outside": 1,
        UNKNOWN: 3,
        "unknown_parents": 4,
        "unknown_grandparents": 5,
        "total": 7,
    }
    if origin in fixed:
        return (fixed[origin], "")
    return (6 if origin.startswith("unknown_") else 2, origin)


def _origin_rank_sql(column: str) -> str:
    return (
        f"CASE {column} WHEN 'inside' THEN 0 WHEN 'outside' THEN 1 WHEN 'unknown' THEN 3"
        f" WHEN 'unknown_parents' THEN 4 WHEN 'unknown_grandparents' THEN 5 WHEN 'total' THEN 7"
        f" ELSE CASE WHEN substr({column}, 1, 8) = 'unknown_' THEN 6 ELSE 2 END END"
    )


def age_order_key(label: str) -> tuple[int, str]:
    """Age classes sort on their lower bound (``"25-34"`` -> 25)."""
    m = re.match(r"^(\d+)", label)
    return (int(m.group(1)) if m else 10**6, label)


def _vocab_key(vocab: Sequence[str]) -> Any:
    def key(value: str) -> tuple[int, str]:
        return (vocab.index(value) if value in vocab else len(vocab), value)

    return key


def sort_cells(table: pa.Table, definitions: Sequence[str] = ()) -> pa.Table:
    """The cells in the documented order (unique cell keys make it a total order).

    year; definition (``definitions`` first, in that order, then herkomst's order); scope
    (administration, policy_domain, entity); policy_domain, entity (codes; the level above
    first); breakdown (total, sex, age_class, level, position, regime, all); sex, age_class,
    level, position, regime (vocabulary order; age classes by lower bound); origin
    (:func:`origin_rank`).
    """
    defs = [*definitions, *(d.value for d in Definition if d.value not in definitions)]
    orders: dict[str, Any] = {
        "definition": _vocab_key(defs),
        "scope": _vocab_key(SCOPES),
        "breakdown": _vocab_key(BREAKDOWNS),
        "sex": _vocab_key(SEXES),
        "age_class": age_order_key,
        "level": _vocab_key(LEVELS),
        "position": _vocab_key(POSITIONS),
        "regime": _vocab_key(REGIMES),
        "origin": origin_rank,
    }
    keys: list[tuple[str, str, str]] = [("year", "ascending", "at_start")]
    ranked = table
    for col in (
        "definition",
        "scope",
        "policy_domain",
        "entity",
        "breakdown",
        *VARIABLES,
        "origin",
    ):
        if col not in orders:
            keys.append((col, "ascending", "at_start"))
            continue
        present = sorted(
            (str(v) for v in pc.unique(table[col]).to_pylist() if v is not None), key=orders[col]
        )
        rank = pc.index_in(table[col], value_set=pa.array(present, pa.string()))
        ranked = ranked.append_column(f"__rank_{col}", rank)
        keys.append((f"__rank_{col}", "ascending", "at_start"))
    if table.num_rows == 0:
        return table
    order = pc.sort_indices(ranked, sort_keys=keys)
    return table.take(order)


def _scope_case(scopes: Sequence[str]) -> str:
    """The scope of a grouping set; ``grouping()`` only of columns some set groups by."""
    whens = [
        f"WHEN grouping({key}) = 0 THEN '{scope}'"
        for scope, key in (("entity", "entity"), ("policy_domain", "policy_domain"))
        if any(key in _SCOPE_KEYS[s] for s in scopes)
    ]
    return f"CASE {' '.join(whens)} ELSE 'administration' END" if whens else "'administration'"


def _grouped_columns(
    scopes: Sequence[str],
    breakdowns: Sequence[str],
    columns: Sequence[str] = ("policy_domain", "entity", *VARIABLES),
) -> str:
    """Key columns of a GROUPING SETS select: NULL for a column no grouping set groups by
    (DuckDB refuses to select or ``grouping()`` a column that no set groups by)."""
    used = {k for s in scopes for k in _SCOPE_KEYS[s]} | {
        v for b in breakdowns for v in _BREAKDOWN_KEYS[b]
    }
    return ", ".join(c if c in used else f"CAST(NULL AS VARCHAR) AS {c}" for c in columns)


def _breakdown_case(breakdowns: Sequence[str]) -> str:
    """The breakdown of a grouping set; ``grouping()`` only of columns some set groups by."""
    whens = []
    if "all" in breakdowns:
        every = " AND ".join(f"grouping({v}) = 0" for v in VARIABLES)
        whens.append(f"WHEN {every} THEN 'all'")
    used = {v for b in breakdowns for v in _BREAKDOWN_KEYS[b]}
    whens += [f"WHEN grouping({v}) = 0 THEN '{v}'" for v in VARIABLES if v in used]
    return f"CASE {' '.join(whens)} ELSE 'total' END" if whens else "'total'"


_SCOPE_KEYS: dict[str, tuple[str, ...]] = {
    "administration": (),
    "policy_domain": ("policy_domain",),
    "entity": ("policy_domain", "entity"),
}
_BREAKDOWN_KEYS: dict[str, tuple[str, ...]] = {
    "total": (),
    **{v: (v,) for v in VARIABLES},
    "all": VARIABLES,
}


def cells_rows_sql(
    staff: str,
    params: TableParams,
    classes: Mapping[str, Sequence[str]],
    ages: Sequence[AgeClass],
) -> str:
    """The rows of every table of the asked years from ``staff`` x origin (one aggregation):
    the row's keys, its count per origin value (``n__*``) and its names.

    ``staff`` has the columns of :data:`STAFF_SQL` plus one column per definition holding
    the person's origin class; ``classes`` lists each definition's classes in table order.
    """
    person_def = "\n    UNION ALL\n".join(
        f'    SELECT year, {_sql_str(d)} AS definition, "{d}" AS cls, policy_domain, entity,'
        f' sex, age_class, level, position, regime FROM "{staff}"'
        for d in params.definitions
    )
    scopes = [s for s in SCOPES if s in params.scopes]
    breakdowns = [b for b in BREAKDOWNS if b in params.breakdowns]
    cell_sets = ",\n".join(
        "        (" + ", ".join(("year", "definition", *_SCOPE_KEYS[s], *_BREAKDOWN_KEYS[b])) + ")"
        for s in scopes
        for b in breakdowns
    )
    cat_sets = ",\n".join(
        "        (" + ", ".join(("year", *_SCOPE_KEYS[s], "variable", "value")) + ")"
        for s in scopes
    )
    frame_parts: list[str] = []
    null_vars = dict.fromkeys(VARIABLES, "CAST(NULL AS VARCHAR)")
    for b in breakdowns:
        if b == "total":
            cols = ", ".join(f"{null_vars[v]} AS {v}" for v in VARIABLES)
            frame_parts.append(
                f"    SELECT year, scope, policy_domain, entity, 'total' AS breakdown, {cols}"
                " FROM cats WHERE variable = 'sex' GROUP BY year, scope, policy_domain, entity"
            )
        elif b == "all":
            joins = "\n".join(
                f"    JOIN cats c{i} ON c{i}.year = c0.year AND c{i}.scope = c0.scope"
                f" AND coalesce(c{i}.policy_domain, '') = coalesce(c0.policy_domain, '')"
                f" AND coalesce(c{i}.entity, '') = coalesce(c0.entity, '')"
                f" AND c{i}.variable = {_sql_str(v)}"
                for i, v in enumerate(VARIABLES)
                if i > 0
            )
            cols = ", ".join(f"c{i}.value AS {v}" for i, v in enumerate(VARIABLES))
            frame_parts.append(
                "    SELECT c0.year, c0.scope, c0.policy_domain, c0.entity, 'all' AS breakdown,"
                f" {cols}\n    FROM cats c0\n{joins}\n    WHERE c0.variable = 'sex'"
            )
        else:
            cols = ", ".join(
                f"value AS {v}" if v == b else f"{null_vars[v]} AS {v}" for v in VARIABLES
            )
            frame_parts.append(
                f"    SELECT year, scope, policy_domain, entity, {_sql_str(b)} AS breakdown,"
                f" {cols} FROM cats WHERE variable = {_sql_str(b)}"
            )
    col = _count_columns(params, classes)

    def when(c: str) -> str:
        if c == "total":
            return "1"
        if c == UNKNOWN:
            return "CASE WHEN substr(cls, 1, 8) = 'unknown_' OR cls = 'unknown' THEN 1 ELSE 0 END"
        return f"CASE WHEN cls = {_sql_str(c)} THEN 1 ELSE 0 END"

    class_sums = ",\n".join(f"           sum({when(c)}) AS {n}" for c, n in col.items())
    class_totals = ",\n".join(f"           sum({n}) AS {n}" for n in col.values())
    row_counts = ",\n".join(
        f"           CAST(coalesce(k.{n}, 0) AS BIGINT) AS {n}" for n in col.values()
    )
    return CELLS_ROWS_SQL.format(
        person_def=person_def,
        scope_case=_scope_case(scopes),
        breakdown_case=_breakdown_case(breakdowns),
        counted_keys=_grouped_columns(scopes, breakdowns),
        cats_keys=_grouped_columns(scopes, (), ("policy_domain", "entity")),
        class_sums=class_sums,
        class_totals=class_totals,
        cell_sets=cell_sets,
        cat_sets=cat_sets,
        staff=staff,
        frame="\n    UNION ALL\n".join(frame_parts),
        definitions=", ".join(f"({_sql_str(d)})" for d in params.definitions),
        row_counts=row_counts,
    )


def _count_columns(params: TableParams, classes: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """One count column per origin value of any asked definition (n__0, n__1, ..., n__total)."""
    values = sorted({c for d in params.definitions for c in classes[d]}, key=origin_rank)
    col = {c: f"n__{i}" for i, c in enumerate(v for v in values if v != "total")}
    col["total"] = "n__total"
    return col


def cells_unfold_sql(rows: str, params: TableParams, classes: Mapping[str, Sequence[str]]) -> str:
    """The cells of the rows relation ``rows`` (a quoted name or a parenthesised query)."""
    col = _count_columns(params, classes)
    pick = (
        "CASE c.origin "
        + " ".join(f"WHEN {_sql_str(c)} THEN r.{n}" for c, n in col.items())
        + " END"
    )
    class_rows = ", ".join(
        f"({_sql_str(d)}, {_sql_str(c)})" for d in params.definitions for c in classes[d]
    )
    return CELLS_UNFOLD_SQL.format(
        rows=rows,
        classes=class_rows,
        pick_count=pick,
        percent=percent_sql("t.count", "t.row_total"),
    )


def cells_sql(
    staff: str,
    params: TableParams,
    classes: Mapping[str, Sequence[str]],
    ages: Sequence[AgeClass],
) -> str:
    """The one query that builds every cell of the asked years from ``staff`` x origin."""
    rows = cells_rows_sql(staff, params, classes, ages)
    return cells_unfold_sql(f"({rows})", params, classes)


# -- population --------------------------------------------------------------------------


@dataclass(frozen=True)
class Accounting:
    """Where every personnel row of one year went (counts only, never an SSIN).

    ``personnel_rows`` = ``in_tables`` + the :data:`EXCLUSIONS`; the :data:`IN_TABLE_NOTES`
    count rows that are in the tables with an ``unknown`` category or a corrected domain.
    """

    year: int
    personnel_rows: int
    in_tables: int
    duplicated: int
    entity_unknown: int
    not_in_register: int
    no_birth_date: int
    out_of_age_range: int
    no_job_at_employer: int
    worker_class_unknown: int
    regime_unknown: int
    sex_unknown: int
    level_unknown: int
    policy_domain_mismatch: int

    def __post_init__(self) -> None:
        accounted = self.in_tables + sum(getattr(self, k) for k in EXCLUSIONS)
        if accounted != self.personnel_rows:
            raise InternalError(
                f"year {self.year}: {self.personnel_rows} personnel rows but {accounted} accounted for"
            )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Population:
    """The staff relation (one row per person and year in the tables) and its accounting."""

    relation: str
    accounting: tuple[Accounting, ...]


def _require_tables(engine: Engine, names: Iterable[str]) -> None:
    missing = [n for n in names if not engine.has_table(n)]
    if missing:
        raise UsageError(
            f"the tables need the validated table(s) {', '.join(missing)}: load the register "
            "(--dwh), the personnel list (--personnel) and the entity list (--entities) first"
        )


def build_population(
    engine: Engine,
    params: TableParams,
    rules: RuleSet | None = None,
    out_table: str = "staff",
) -> Population:
    """Build the staff of the asked years and account for every personnel row.

    Staff = personnel rows on 31 December of the year whose entity is on the entity list,
    linked to the register, with a birth date, aged ``min_age``..``max_age`` (both included)
    on that date. Position and regime come from the person's job that year at the entity's
    employer; without one they are ``unknown`` (the person stays in the tables).
    """
    _require_tables(engine, ("personnel", "entities", "persons", "employment"))
    rules = rules or RuleSet()
    ages = age_classes(rules.table("age_classes"), params.min_age, params.max_age)
    years = ", ".join(str(int(y)) for y in params.years)
    present = {
        int(r[0])
        for r in engine.rows(f"SELECT DISTINCT year FROM personnel WHERE year IN ({years})")
    }
    absent = [y for y in params.years if y not in present]
    if absent:
        have = [int(r[0]) for r in engine.rows("SELECT DISTINCT year FROM personnel ORDER BY 1")]
        raise InputError(
            f"the personnel list has no row for year(s) {', '.join(map(str, absent))} "
            f"(years present: {_year_ranges(have) or 'none'}): ask for years it covers"
        )
    outcomes = f"{out_table}__outcomes"
    engine.create_table(
        outcomes,
        OUTCOMES_SQL.format(years=years, min_age=int(params.min_age), max_age=int(params.max_age)),
    )
    age_case = (
        "CASE "
        + " ".join(
            f"WHEN age BETWEEN {a.min_age} AND {a.max_age} THEN {_sql_str(a.label)}" for a in ages
        )
        + " END"
    )
    engine.create_table(out_table, STAFF_SQL.format(outcomes=outcomes, age_class_case=age_case))
    exclusions = ",\n       ".join(
        f"sum(CASE WHEN outcome = {_sql_str(k)} THEN 1 ELSE 0 END) AS {k}" for k in EXCLUSIONS
    )
    rows = engine.rows(ACCOUNTING_SQL.format(outcomes=outcomes, exclusions=exclusions))
    names = [f.name for f in Accounting.__dataclass_fields__.values()]
    accounting = tuple(Accounting(**dict(zip(names, map(int, r), strict=True))) for r in rows)
    listed = int(engine.scalar(f"SELECT count(*) FROM personnel WHERE year IN ({years})"))
    if sum(a.personnel_rows for a in accounting) != listed:
        raise InternalError("a join multiplied personnel rows (duplicate persons or entities?)")
    engine.execute(f'DROP TABLE "{outcomes}"')
    return Population(relation=out_table, accounting=accounting)


def _year_ranges(years: Sequence[int]) -> str:
    out: list[str] = []
    for y in sorted(years):
        if out and out[-1].split("-")[-1] == str(y - 1):
            out[-1] = out[-1].split("-")[0] + f"-{y}"
        else:
            out.append(str(y))
    return ", ".join(out)


# -- origin ------------------------------------------------------------------------------


class OriginStep(Protocol):
    """Derives the origin of ``population``'s persons on ``reference_date`` into ``out_table``.

    The table has ``ssin`` and one column per definition named after it (plus whatever else
    the step adds); returns the table's name. The default is :func:`herkomst_origin`.
    """

    def __call__(
        self, engine: Engine, reference_date: dt.date, population: str, out_table: str
    ) -> str: ...


def herkomst_origin(params: TableParams, rules: RuleSet | None) -> OriginStep:
    """The origin step of herkomst: :func:`herkomst.origin.derive_origin` with ``params``."""

    def step(engine: Engine, reference_date: dt.date, population: str, out_table: str) -> str:
        origin_params = OriginParams(
            reference_date=reference_date,
            definitions=tuple(params.definitions),
            eu_date=params.eu_date,
            generated_on=params.generated_on,
            facts=False,
        )
        return derive_origin(
            engine, origin_params, rules=rules, population=population, out_table=out_table
        )

    return step


def attach_origin(
    engine: Engine,
    params: TableParams,
    staff: str,
    origin_step: OriginStep,
    out_table: str = "staff_origin",
    rules: RuleSet | None = None,
) -> dict[str, tuple[str, ...]]:
    """Join each year's staff to its origin (derived on 31 December of that year).

    Returns each definition's classes in table order (:func:`origin_classes`).
    """
    pieces: list[str] = []
    defs = ", ".join(f'o."{class_column(d)}" AS "{d}"' for d in params.definitions)
    for year in sorted({int(r[0]) for r in engine.rows(f'SELECT DISTINCT year FROM "{staff}"')}):
        pop = f"{out_table}__pop_{year}"
        engine.create_table(pop, f'SELECT DISTINCT ssin FROM "{staff}" WHERE year = {year}')
        origin_table = origin_step(
            engine, params.reference_date(year), pop, f"{out_table}__origin_{year}"
        )
        have = set(engine.columns(origin_table))
        lacking = [
            c for c in ("ssin", *(class_column(d) for d in params.definitions)) if c not in have
        ]
        if lacking:
            raise InternalError(f"the origin table lacks column(s) {', '.join(lacking)}")
        piece = f"{out_table}__{year}"
        engine.create_table(
            piece,
            f'SELECT s.*, {defs} FROM "{staff}" s JOIN "{origin_table}" o ON o.ssin = s.ssin '
            f"WHERE s.year = {year}",
        )
        if engine.count(piece) != int(
            engine.scalar(f'SELECT count(*) FROM "{staff}" WHERE year = {year}')
        ):
            raise InternalError(f"year {year}: the origin step did not return one row per person")
        pieces.append(piece)
        engine.execute(f'DROP TABLE IF EXISTS "{pop}"')
    if pieces:
        engine.create_table(out_table, " UNION ALL ".join(f'SELECT * FROM "{p}"' for p in pieces))
    else:
        cols = ", ".join(f'CAST(NULL AS VARCHAR) AS "{d}"' for d in params.definitions)
        engine.create_table(out_table, f'SELECT s.*, {cols} FROM "{staff}" s WHERE false')
    for p in pieces:
        engine.execute(f'DROP TABLE "{p}"')
    return origin_classes(engine, params, out_table, rules)


def attach_origin_years(
    engine: Engine,
    params: TableParams,
    staff: str,
    out_table: str = "staff_origin",
    rules: RuleSet | None = None,
) -> dict[str, tuple[str, ...]]:
    """:func:`attach_origin` with herkomst's own origin, every year in one pass.

    Origin comes from :func:`herkomst.origin.derive_origin_years` (31 December of each year,
    ``params``' definitions and definition date, no trails or facts): the same classes as
    :func:`herkomst_origin` year by year, with the family joins done once.
    """
    origin_params = OriginParams(
        reference_date=params.reference_date(max(params.years)),
        definitions=tuple(params.definitions),
        eu_date=params.eu_date,
        generated_on=params.generated_on,
        facts=False,
        trails=False,
    )
    origin_table = derive_origin_years(
        engine, origin_params, staff, rules=rules, out_table=f"{out_table}__origin"
    )
    defs = ", ".join(f'o."{class_column(d)}" AS "{d}"' for d in params.definitions)
    engine.create_table(
        out_table,
        f'SELECT s.*, {defs} FROM "{staff}" s'
        f' JOIN "{origin_table}" o ON o.ssin = s.ssin AND o.year = s.year',
    )
    engine.execute(f'DROP TABLE "{origin_table}"')
    if engine.count(out_table) != engine.count(staff):
        raise InternalError("the origin step did not return one row per person and year")
    return origin_classes(engine, params, out_table, rules)


def origin_classes(
    engine: Engine, params: TableParams, staff_origin: str, rules: RuleSet | None = None
) -> dict[str, tuple[str, ...]]:
    """Each definition's origin values in table order: every class the definition can give
    (:func:`herkomst.origin.classes`), ``unknown`` when it has ``unknown_*`` parts, ``total``.

    Checks that every person has a class the definition knows.
    """
    for d in params.definitions:
        known = set(definition_classes(d, rules))
        seen = [r[0] for r in engine.rows(f'SELECT DISTINCT "{d}" FROM "{staff_origin}"')]
        if any(v is None for v in seen):
            raise InternalError(f"definition {d}: a person has no origin class")
        extra = {str(v) for v in seen} - known
        if extra:
            raise InternalError(f"definition {d}: unexpected origin class(es) {sorted(extra)}")
    return definition_values(params, rules)


def definition_values(
    params: TableParams, rules: RuleSet | None = None
) -> dict[str, tuple[str, ...]]:
    """Each definition's origin values in table order, from the rule tables alone: every
    class the definition can give, ``unknown`` when it has ``unknown_*`` parts, ``total``."""
    out: dict[str, tuple[str, ...]] = {}
    for d in params.definitions:
        known = list(definition_classes(d, rules))
        if "total" in known or (UNKNOWN in known and any(c.startswith("unknown_") for c in known)):
            raise InternalError(f"definition {d}: classes {known} clash with the derived rows")
        if any(c.startswith("unknown_") for c in known):
            known.append(UNKNOWN)
        out[d] = (*sorted(known, key=origin_rank), "total")
    return out


def tabulate_cells(
    engine: Engine,
    params: TableParams,
    staff_origin: str,
    rules: RuleSet | None = None,
    out_table: str = "cells",
    classes: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Every cell of every table for the years in ``staff_origin``, in the contract's layout.

    ``staff_origin`` is the staff relation with one origin column per definition. Audience
    ``service``: ``shown`` is the count as text and ``status`` is ``published``.
    """
    rules = rules or RuleSet()
    ages = age_classes(rules.table("age_classes"), params.min_age, params.max_age)
    if classes is None:
        classes = origin_classes(engine, params, staff_origin, rules)
    # Stored: the rows (a sixth of the cells); the cells are a view that unfolds them.
    rows = f"{out_table}__rows"
    engine.create_table(rows, cells_rows_sql(staff_origin, params, classes, ages))
    _drop_relation(engine, out_table)
    unfold = cells_unfold_sql(f'"{rows}"', params, classes)
    engine.execute(f'CREATE VIEW "{out_table}" AS {unfold}')
    return out_table


def _drop_relation(engine: Engine, name: str) -> None:
    """Drop the table or view ``name`` if there is one."""
    kind = engine.rows(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
    )
    if kind:
        what = "VIEW" if kind[0][0] == "VIEW" else "TABLE"
        engine.execute(f'DROP {what} "{name}"')


# -- the cache ---------------------------------------------------------------------------
# A year's cells depend on: the year's personnel rows, the entity list, the register rows of
# its staff, their parents and grandparents (persons and nationalities: everything origin
# reads), the staff's jobs that year, the rule tables, the parameters, and the code. The key
# hashes all of it; each table's rows enter as an order-independent digest (row count and the
# sums of the two halves of each row's MD5), computed once for all years in the engine.

_FINGERPRINT_SQL = """
WITH yp AS (
    SELECT year, ssin FROM personnel WHERE year IN ({years}) GROUP BY year, ssin
), g1 AS (
    SELECT yp.year, p.ssin, p.father_ssin, p.mother_ssin
    FROM yp JOIN persons p ON p.ssin = yp.ssin
), parents AS (
    SELECT year, father_ssin AS ssin FROM g1 WHERE father_ssin IS NOT NULL
    UNION SELECT year, mother_ssin FROM g1 WHERE mother_ssin IS NOT NULL
), g2 AS (
    SELECT pa.year, p.ssin, p.father_ssin, p.mother_ssin
    FROM parents pa JOIN persons p ON p.ssin = pa.ssin
), family AS (
    SELECT year, ssin FROM g1
    UNION SELECT year, father_ssin FROM g1 WHERE father_ssin IS NOT NULL
    UNION SELECT year, mother_ssin FROM g1 WHERE mother_ssin IS NOT NULL
    UNION SELECT year, father_ssin FROM g2 WHERE father_ssin IS NOT NULL
    UNION SELECT year, mother_ssin FROM g2 WHERE mother_ssin IS NOT NULL
), digests AS (
    SELECT year, 'personnel' AS part, {personnel} FROM personnel WHERE year IN ({years})
    UNION ALL
    SELECT f.year, 'persons', {persons} FROM family f JOIN persons p ON p.ssin = f.ssin
    UNION ALL
    SELECT f.year, 'nationalities', {nationalities}
    FROM family f JOIN nationalities n ON n.ssin = f.ssin
    UNION ALL
    SELECT e.year, 'employment', {employment}
    FROM employment e JOIN yp ON yp.ssin = e.ssin AND yp.year = e.year
)
SELECT year, part, count(*) AS n,
       CAST(sum(CAST(h1 AS HUGEINT)) AS VARCHAR) AS s1,
       CAST(sum(CAST(h2 AS HUGEINT)) AS VARCHAR) AS s2
FROM digests
GROUP BY year, part
ORDER BY year, part
"""


def _row_hashes(alias: str, table: str) -> str:
    """Two independent 64-bit hashes of a row (``h1``, ``h2``) over its validated columns."""
    cols = ", ".join(f"{alias}.{c}" for c in VALIDATED_TYPES[table])
    return f"hash('{table}', {cols}) AS h1, hash('herkomst', '{table}', {cols}) AS h2"


def year_fingerprints(engine: Engine, params: TableParams) -> dict[int, dict[str, Any]]:
    """Per year, a digest of every input row the year's cells depend on.

    Each part is (row count, sum of ``h1``, sum of ``h2``) over its rows: independent of row
    order, and changed by any added, removed or altered row (up to a 128-bit coincidence).
    """
    years = ", ".join(str(int(y)) for y in params.years)
    sql = _FINGERPRINT_SQL.format(
        years=years,
        personnel=_row_hashes("personnel", "personnel"),
        persons=_row_hashes("p", "persons"),
        nationalities=_row_hashes("n", "nationalities"),
        employment=_row_hashes("e", "employment"),
    )
    out: dict[int, dict[str, Any]] = {int(y): {} for y in params.years}
    for year, part, n, s1, s2 in engine.rows(sql):
        out[int(year)][str(part)] = [int(n), str(s1), str(s2)]
    entities = engine.rows(
        "SELECT count(*), CAST(sum(CAST(h1 AS HUGEINT)) AS VARCHAR),"
        " CAST(sum(CAST(h2 AS HUGEINT)) AS VARCHAR)"
        f" FROM (SELECT {_row_hashes('entities', 'entities')} FROM entities) e"
    )[0]
    for digest in out.values():
        digest["entities"] = [int(entities[0]), str(entities[1]), str(entities[2])]
    return out


#: The rule tables a year's cells are computed from (origin's and the age classes).
CELL_RULE_TABLES: tuple[str, ...] = ("age_classes", *ORIGIN_RULE_TABLES)


def rules_fingerprint(
    rules: RuleSet | None, names: Sequence[str] | None = CELL_RULE_TABLES
) -> dict[str, str]:
    """SHA-256 of each rule file the cells read, as it would be loaded (user over bundled).

    ``names`` = None takes every table of the index.
    """
    user = rules.user_dir if rules is not None else None
    out: dict[str, str] = {}
    for name, entry in sorted(index().items()):
        if names is not None and name not in names:
            continue
        filename = str(entry["file"])
        path = BUNDLED / filename
        if user is not None and (user / filename).is_file():
            path = user / filename
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"
    return out


#: The modules whose code decides a year's cells: origin, tabulation and what they build on.
#: Other modules (the CLI, protection, audit, synth, validation, ...) do not enter the key.
CELL_MODULES: tuple[str, ...] = (
    "codes.py",
    "contract.py",
    "engine.py",
    "errors.py",
    "origin.py",
    "rules/__init__.py",
    "tabulate.py",
)


def _code_digest() -> str:
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in CELL_MODULES:
        digest.update(name.encode())
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


#: Taken when this module is imported, so the key describes the code that runs, even when
#: the files on disk are edited while a process runs.
_CODE_DIGEST = _code_digest()


def code_fingerprint() -> str:
    """SHA-256 over the source of :data:`CELL_MODULES` as imported (a change there empties
    the cache; edits to any other module do not)."""
    return _CODE_DIGEST


def software_version() -> str:
    """herkomst's version (``herkomst.__version__``)."""
    from . import __version__

    return str(__version__)


@dataclass(frozen=True)
class CacheEntry:
    year: int
    key: str
    accounting: Accounting
    rules: tuple[dict[str, Any], ...]


class TablesCache:
    """A folder of ``<key>/rows.parquet`` + ``<key>/meta.json``, one entry per year.

    ``rows.parquet`` holds the year's table rows (:func:`cells_rows_sql`); its cells are
    :func:`cells_unfold_sql` over them.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> CacheEntry | None:
        folder = self.path(key)
        meta_path, cells_path = folder / "meta.json", folder / ROWS_FILE
        if not (meta_path.is_file() and cells_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
                return None
            acc = Accounting(**meta["accounting"])
            return CacheEntry(int(meta["year"]), key, acc, tuple(meta["rules"]))
        except (ValueError, KeyError, TypeError):
            return None

    def rows_path(self, key: str) -> Path:
        return self.path(key) / ROWS_FILE

    def put(self, key: str, rows: pa.Table, entry: CacheEntry) -> None:
        folder = self.path(key)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            pq.write_table(rows, tmp / ROWS_FILE, compression="zstd")
            meta = {
                "format": CACHE_FORMAT,
                "key": key,
                "year": entry.year,
                "accounting": entry.accounting.to_dict(),
                "rules": list(entry.rules),
            }
            (tmp / "meta.json").write_text(
                json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
            if folder.exists():
                shutil.rmtree(folder)
            tmp.rename(folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)


def cache_keys(engine: Engine, params: TableParams, rules: RuleSet | None) -> dict[int, str]:
    """The content address of each asked year's cells."""
    common = {
        "format": CACHE_FORMAT,
        "params": params.cache_fields(),
        "rules": rules_fingerprint(rules),
        "software": software_version(),
        "duckdb": duckdb.__version__,
        "code": code_fingerprint(),
    }
    keys: dict[int, str] = {}
    for year, digest in year_fingerprints(engine, params).items():
        blob = json.dumps({**common, "year": year, "inputs": digest}, sort_keys=True)
        keys[year] = hashlib.sha256(blob.encode()).hexdigest()
    return keys


# -- everything together -----------------------------------------------------------------


@dataclass(frozen=True)
class CellsResult:
    """The cells of every asked year, where each year's came from, and the accounting."""

    relation: str
    params: TableParams
    accounting: tuple[Accounting, ...]
    computed_years: tuple[int, ...]
    reused_years: tuple[int, ...]
    cache_keys: Mapping[int, str] = field(default_factory=dict)
    rules: tuple[dict[str, Any], ...] = ()
    classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def compute_cells(
    engine: Engine,
    params: TableParams,
    rules: RuleSet | None = None,
    *,
    cache_dir: Path | None = None,
    origin_step: OriginStep | None = None,
    out_table: str = "cells",
    staff_table: str = "staff",
) -> CellsResult:
    """Population -> origin -> cells for every asked year, reusing cached years.

    With ``cache_dir`` each year's table rows are stored under the hash of everything they
    depend on; a later run finds them there and computes only the other years. Without it
    every year is computed. Without ``origin_step`` origin is herkomst's, every year in one
    pass (:func:`attach_origin_years`); a given step is called once per year. The result's
    relation is a view over the stored rows (``<out_table>__computed__rows``,
    ``<out_table>__reused__rows``).
    """
    rules = rules or RuleSet()
    cache = TablesCache(cache_dir) if cache_dir is not None else None
    keys = cache_keys(engine, params, rules) if cache is not None else {}
    hits: dict[int, CacheEntry] = {}
    if cache is not None:
        for year in params.years:
            entry = cache.get(keys[year])
            if entry is not None:
                hits[year] = entry
    todo = tuple(y for y in sorted(params.years) if y not in hits)
    accounting: dict[int, Accounting] = {y: e.accounting for y, e in hits.items()}
    pieces: list[str] = []
    classes: dict[str, tuple[str, ...]] = {}
    # Row order inside the engine does not matter: the cache and the release sort.
    with unordered(engine):
        if todo:
            sub = _with_years(params, todo)
            population = build_population(engine, sub, rules, out_table=staff_table)
            accounting.update({a.year: a for a in population.accounting})
            staff_origin = f"{staff_table}_origin"
            if origin_step is None:
                # herkomst's origin for every year in one pass (the family joins once).
                classes = attach_origin_years(
                    engine, sub, population.relation, out_table=staff_origin, rules=rules
                )
            else:
                classes = attach_origin(
                    engine,
                    sub,
                    population.relation,
                    origin_step,
                    out_table=staff_origin,
                    rules=rules,
                )
            # Every computed year in one aggregation (year is a key of every grouping set).
            computed = f"{out_table}__computed"
            tabulate_cells(engine, sub, staff_origin, rules, out_table=computed, classes=classes)
            pieces.append(computed)
    # Rules the computed years loaded, else those the cached years recorded.
    provenance = {r["name"]: r for e in hits.values() for r in e.rules}
    provenance.update({r["name"]: r for r in rules.provenance()})
    rules_used = tuple(provenance[k] for k in sorted(provenance))
    if cache is not None:
        order = ", ".join(
            f"{c} ASC NULLS FIRST"
            for c in ("definition", "scope", "policy_domain", "entity", "breakdown", *VARIABLES)
        )
        for year in todo:
            rows = engine.arrow(
                f'SELECT * FROM "{out_table}__computed__rows" WHERE year = {int(year)}'
                f" ORDER BY {order}"
            )
            cache.put(keys[year], rows, CacheEntry(year, keys[year], accounting[year], rules_used))
            del rows
        if hits:
            # The reused years' rows in one table, read from the cached Parquet files; their
            # cells are a view over them, as for computed years.
            if not classes:
                classes = definition_values(params, rules)
            files = ", ".join(
                "'" + str(cache.rows_path(hits[y].key)).replace("'", "''") + "'"
                for y in sorted(hits)
            )
            reused = f"{out_table}__reused"
            engine.create_table(f"{reused}__rows", f"SELECT * FROM read_parquet([{files}])")
            _drop_relation(engine, reused)
            unfold = cells_unfold_sql(f'"{reused}__rows"', params, classes)
            engine.execute(f'CREATE VIEW "{reused}" AS {unfold}')
            pieces.append(reused)
    columns = ", ".join(f'"{c}"' for c in CELL_COLUMNS)
    union = " UNION ALL ".join(f'SELECT {columns} FROM "{p}"' for p in pieces)
    # A view over the pieces (no copy of a long series).
    _drop_relation(engine, out_table)
    engine.execute(f'CREATE VIEW "{out_table}" AS {union}')
    # Pieces of an earlier run under the same name are no longer part of the view.
    keep = {*pieces, *(f"{p}__rows" for p in pieces)}
    ours = re.compile(re.escape(out_table) + r"__(computed|reused)(__rows)?")
    for name, kind in engine.rows("SELECT table_name, table_type FROM information_schema.tables"):
        if ours.fullmatch(str(name)) and name not in keep:
            engine.execute(f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} "{name}"')
    return CellsResult(
        relation=out_table,
        params=params,
        accounting=tuple(accounting[y] for y in sorted(accounting)),
        computed_years=todo,
        reused_years=tuple(sorted(hits)),
        cache_keys=keys,
        rules=rules_used,
        classes=classes,
    )


def _with_years(params: TableParams, years: Sequence[int]) -> TableParams:
    return TableParams(
        years=tuple(years),
        generated_on=params.generated_on,
        definitions=params.definitions,
        breakdowns=params.breakdowns,
        scopes=params.scopes,
        min_age=params.min_age,
        max_age=params.max_age,
        eu_date=params.eu_date,
    )
