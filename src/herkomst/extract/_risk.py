"""Disclosure risk of a person-level extract, and its optional reduction.

Threat: an employer (who knows the whole population: its staff, their sex, age, nationality,
education, activity and employer) or anyone holding a register recognises a person in the
extract by the combination of *key variables* and learns the rest (origin above all). The
anchors are sdcMicro (Templ, Kowarik, Meindl) and ARX (Prasser, Kohlmayer).

Every measure is computed per year (a key combination is a year and the key variables' values)
with set-based SQL in the engine:

- *k-anonymity*: the size of the smallest equivalence class (``k``), the number of classes and
  of records in classes smaller than a threshold;
- *sample uniques*: records alone in their class;
- *individual risk* (sdcMicro's ``measure_risk``, Benedetti-Franconi approximation): for a
  record in a class of sample frequency ``f`` and estimated population frequency
  ``F = sum of the sampling weights`` (Horvitz-Thompson, weights = 1 / inclusion probability),
  ``p = f / F`` and ``r = p/(1-p) ln(1/p)`` (f = 1), ``p/(1-p)^2 (p ln p + 1 - p)`` (f = 2),
  ``p / (f - (1-p))`` (f >= 3), ``1/f`` when ``p = 1``; reported as the maximum, the mean, the
  expected number of re-identifications (the sum) and the records above a threshold;
- *special uniques* (SUDA-like, bounded): minimal sample uniques (MSUs) among the subsets of at
  most ``max_msu_size`` key variables; a record's score adds, for each MSU of size ``s``,
  ``prod_{i=s}^{M-1} (A - i)`` (A keys, M the bound), as SUDA does;
- *l-diversity* of the sensitive attribute (origin) inside each class: the smallest number of
  distinct values, and the classes (of two or more records) where everybody has the same
  origin (homogeneity).

Reduction (:func:`reduce_risk`) to a target ``k``: global recoding first (one variable at a
time, in a configured order, each one step to its next coarser class scheme), then local
suppression (in the records of classes still smaller than ``k``, the key variable with the most
distinct values is replaced by ``*``, then the next). A suppressed value is its own category
(the conservative reading would let it match anything). The report gives before/after and the
information lost.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import UsageError
from ._catalog import Scheme, Variable

DEFAULT_KEYS: tuple[str, ...] = (
    "sex",
    "age_class",
    "region",
    "current_nationality",
    "first_nationality",
    "birth_country",
    "registration_year",
    "acquisition_year",
    "education_level",
    "nace",
    "employer_type",
)
DEFAULT_RECODE_ORDER: tuple[str, ...] = (
    "registration_year",
    "acquisition_year",
    "age_class",
    "nace",
    "birth_country",
    "first_nationality",
    "current_nationality",
    "education_level",
    "employer_type",
)
SUPPRESSED = "*"


@dataclass(frozen=True)
class RiskParams:
    """Which variables are keys, what is sensitive, the bounds and the optional target."""

    keys: tuple[str, ...] = DEFAULT_KEYS
    sensitive: str = "national_origin_group"
    max_msu_size: int = 3
    risk_threshold: float = 0.1
    small_class: int = 3
    target_k: int | None = None
    suppression_limit: float = 0.05
    recode_order: tuple[str, ...] = DEFAULT_RECODE_ORDER

    def __post_init__(self) -> None:
        if not self.keys:
            raise UsageError("the risk report needs at least one key variable")
        if not 1 <= self.max_msu_size <= 4:
            raise UsageError("max_msu_size must be between 1 and 4 (the search is bounded)")
        if self.target_k is not None and self.target_k < 2:
            raise UsageError(f"target k {self.target_k}: give 2 or more")
        if not 0 <= self.suppression_limit <= 1:
            raise UsageError("suppression_limit must be in [0, 1]")
        if not 0 < self.risk_threshold <= 1:
            raise UsageError("risk_threshold must be in (0, 1]")


@dataclass(frozen=True)
class RecodeStep:
    variable: str
    from_scheme: str
    to_scheme: str
    k_after: int


@dataclass(frozen=True)
class Reduction:
    target_k: int
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    recodings: tuple[RecodeStep, ...]
    suppressed: Mapping[str, int]  # key variable -> values suppressed
    suppressed_total: int
    cells: int
    removed_records: int  # records left out: still below the target after full suppression
    schemes: Mapping[str, Scheme]
    distinct_before: Mapping[str, int]
    distinct_after: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_k": self.target_k,
            "target_met": self.after.get("k", 0) >= self.target_k,
            "before": dict(self.before),
            "after": dict(self.after),
            "global_recoding": [
                {
                    "variable": s.variable,
                    "from": s.from_scheme,
                    "to": s.to_scheme,
                    "k_after": s.k_after,
                }
                for s in self.recodings
            ],
            "local_suppression": dict(self.suppressed),
            "information_loss": {
                "suppressed_values": self.suppressed_total,
                "key_cells": self.cells,
                "suppressed_share": (self.suppressed_total / self.cells) if self.cells else 0.0,
                "distinct_classes_before": dict(self.distinct_before),
                "distinct_classes_after": dict(self.distinct_after),
            },
            "records_removed": self.removed_records,
        }


@dataclass(frozen=True)
class RiskReport:
    keys: tuple[str, ...]
    sensitive: str | None
    records: int
    persons: int
    per_year: tuple[Mapping[str, Any], ...]
    overall: Mapping[str, Any]
    suda: Mapping[str, Any]
    reduction: Reduction | None
    seconds: float
    params: RiskParams = field(default_factory=RiskParams)
    before: Mapping[str, Any] | None = None  # overall measures before a reduction

    def as_dict(self) -> dict[str, Any]:
        return {
            "keys": list(self.keys),
            "sensitive": self.sensitive,
            "records": self.records,
            "persons": self.persons,
            "equivalence_class": "year and the key variables",
            "overall": dict(self.overall),
            "per_year": [dict(r) for r in self.per_year],
            "special_uniques": dict(self.suda),
            "reduction": self.reduction.as_dict() if self.reduction else None,
            "before_reduction": dict(self.before) if self.before is not None else None,
            "parameters": {
                "max_msu_size": self.params.max_msu_size,
                "risk_threshold": self.params.risk_threshold,
                "small_class": self.params.small_class,
                "target_k": self.params.target_k,
            },
            "seconds": round(self.seconds, 3),
        }

    def markdown(self) -> str:
        o = self.overall
        lines = [
            "# Disclosure risk of the extract",
            "",
            f"Key variables (per year): {', '.join(self.keys)}. "
            f"Sensitive attribute: {self.sensitive or 'none'}.",
            f"{self.records} records, {self.persons} persons.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| smallest equivalence class (k) | {o['k']} |",
            f"| equivalence classes | {o['classes']} |",
            f"| sample uniques (records) | {o['sample_uniques']} |",
            f"| records in classes < {self.params.small_class} | {o['records_below_small_class']} |",
            f"| highest individual risk | {o['max_risk']:.4f} |",
            f"| mean individual risk | {o['mean_risk']:.4f} |",
            f"| expected re-identifications | {o['expected_reidentifications']:.1f} |",
            f"| records with risk > {self.params.risk_threshold} | {o['records_above_threshold']} |",
            f"| l-diversity of {self.sensitive} (smallest) | {o.get('l_min')} |",
            f"| homogeneous classes (2+ records, one origin) | {o.get('homogeneous_classes')} |",
            f"| records with a special unique (MSU <= {self.params.max_msu_size}) | "
            f"{self.suda['records_with_msu']} |",
            "",
            "## Per year",
            "",
            "| year | records | k | sample uniques | max risk | expected re-id. | l min |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['year']} | {r['records']} | {r['k']} | {r['sample_uniques']} | "
            f"{r['max_risk']:.4f} | {r['expected_reidentifications']:.1f} | {r.get('l_min')} |"
            for r in self.per_year
        ]
        if self.reduction is not None:
            d = self.reduction.as_dict()
            lines += [
                "",
                f"## Reduction to k >= {d['target_k']}",
                "",
                f"Target met: {'yes' if d['target_met'] else 'no'} "
                f"({d['records_removed']} records left out: below the target even with "
                "every key suppressed).",
                "",
                "| step | variable | from | to | k after |",
                "|---:|---|---|---|---:|",
            ]
            lines += [
                f"| {i} | {s['variable']} | {s['from']} | {s['to']} | {s['k_after']} |"
                for i, s in enumerate(d["global_recoding"], 1)
            ]
            loss = d["information_loss"]
            lines += [
                "",
                f"Local suppression: {loss['suppressed_values']} of "
                f"{loss['key_cells']} key values ({100 * loss['suppressed_share']:.2f}%): "
                + ", ".join(f"{k} {v}" for k, v in d["local_suppression"].items() if v),
                "",
                f"Before: k = {d['before']['k']}, sample uniques = "
                f"{d['before']['sample_uniques']}; after: k = {d['after']['k']}, "
                f"sample uniques = {d['after']['sample_uniques']}.",
            ]
        if self.before is not None:
            b = self.before
            lines += [
                "",
                f"Before the reduction: highest individual risk {b['max_risk']:.4f}, expected "
                f"re-identifications {b['expected_reidentifications']:.1f}, records with risk "
                f"> {self.params.risk_threshold}: {b['records_above_threshold']}.",
            ]
        return "\n".join(lines) + "\n"

    def write(self, out: Path) -> dict[str, str]:
        (out / "risk_report.json").write_text(
            json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n", "utf-8"
        )
        (out / "risk_report.md").write_text(self.markdown(), "utf-8")
        return {
            n: hashlib.sha256((out / n).read_bytes()).hexdigest()
            for n in ("risk_report.json", "risk_report.md")
        }


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _class_stats(
    engine: Engine, table: str, keys: Sequence[str], target: int = 2
) -> dict[str, int]:
    cols = ", ".join(["year", *(_q(k) for k in keys)])
    row = engine.rows(
        f"SELECT min(f), count(*), sum(CASE WHEN f = 1 THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN f < {int(target)} THEN f ELSE 0 END), sum(f) "
        f"FROM (SELECT count(*) AS f FROM {table} GROUP BY {cols})"
    )[0]
    return {
        "k": int(row[0] or 0),
        "classes": int(row[1]),
        "sample_uniques": int(row[2] or 0),
        "records_below_target": int(row[3] or 0),
        "records": int(row[4] or 0),
    }


_RISK_SQL = """
CASE WHEN p >= 1 THEN 1.0 / f
     WHEN f = 1 THEN p / (1 - p) * ln(1 / p)
     WHEN f = 2 THEN p / ((1 - p) * (1 - p)) * (p * ln(p) + 1 - p)
     ELSE p / (f - (1 - p)) END
"""


def risk_report(
    engine: Engine,
    table: str,
    params: RiskParams,
    keys: Sequence[str] | None = None,
    sensitive: str | None = None,
    weights_relation: str | None = None,
    reduction: Reduction | None = None,
    before: Mapping[str, Any] | None = None,
) -> RiskReport:
    """The risk measures of ``table`` (columns ``pid``, ``year``, the keys, the sensitive one).

    ``weights_relation``: a relation with ``pid`` and ``inclusion_probability`` (weights 1/pi);
    None = a census (every weight 1).
    """
    t0 = time.perf_counter()
    engine.execute("SET enable_progress_bar = false")
    keys = tuple(keys if keys is not None else params.keys)
    have = set(engine.columns(table))
    missing = [k for k in keys if k not in have]
    if missing:
        raise UsageError(f"key variable(s) {', '.join(missing)} not in the extract")
    if sensitive is not None and sensitive not in have:
        raise UsageError(f"sensitive variable '{sensitive}' not in the extract")
    kcols = ", ".join(_q(k) for k in keys)
    weight = "1.0"
    join = ""
    if weights_relation is not None:
        join = (
            f"LEFT JOIN (SELECT pid, inclusion_probability FROM {weights_relation}) w USING (pid)"
        )
        weight = "1.0 / coalesce(w.inclusion_probability, 1.0)"
    sens = _q(sensitive) if sensitive else "NULL"
    rec, cls = "_risk_rec", "_risk_cls"
    engine.create_table(
        rec,
        f"SELECT row_number() OVER (ORDER BY t.pid, t.year) AS rid, t.pid, t.year, "
        f"{', '.join('t.' + _q(k) for k in keys)}, {sens} AS sens, {weight} AS w "
        f"FROM {table} t {join}",
    )
    try:
        engine.create_table(
            cls,
            f"SELECT year, {kcols}, count(*) AS f, sum(w) AS fhat, "
            f"count(DISTINCT sens) AS l FROM {rec} GROUP BY year, {kcols}",
        )
        on = " AND ".join(f"c.{_q(k)} IS NOT DISTINCT FROM r.{_q(k)}" for k in keys)
        engine.create_table(
            "_risk_ind",
            f"SELECT rid, year, f, l, {_RISK_SQL} AS risk FROM ("
            f"SELECT r.rid, r.year, c.f, c.l, least(1.0, c.f / c.fhat) AS p "
            f"FROM {rec} r JOIN {cls} c ON c.year = r.year AND {on})",
        )
        thr = params.risk_threshold
        small = params.small_class
        stats_sql = (
            "SELECT {by} count(*) AS records, min(f), sum(CASE WHEN f = 1 THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN f < {small} THEN 1 ELSE 0 END), max(risk), avg(risk), sum(risk), "
            f"sum(CASE WHEN risk > {thr} THEN 1 ELSE 0 END) FROM _risk_ind {{group}}"
        )

        def stats(row: Sequence[Any]) -> dict[str, Any]:
            return {
                "records": int(row[0]),
                "k": int(row[1] or 0),
                "sample_uniques": int(row[2] or 0),
                "records_below_small_class": int(row[3] or 0),
                "max_risk": float(row[4] or 0.0),
                "mean_risk": float(row[5] or 0.0),
                "expected_reidentifications": float(row[6] or 0.0),
                "records_above_threshold": int(row[7] or 0),
            }

        overall = stats(engine.rows(stats_sql.format(by="", group=""))[0])
        overall["classes"] = engine.count(cls)
        per_year = []
        lrows = {
            int(r[0]): (r[1], r[2])
            for r in engine.rows(
                f"SELECT year, min(l), sum(CASE WHEN l = 1 AND f >= 2 THEN 1 ELSE 0 END) "
                f"FROM {cls} GROUP BY year"
            )
        }
        for row in engine.rows(stats_sql.format(by="year,", group="GROUP BY year ORDER BY year")):
            s = {"year": int(row[0])} | stats(row[1:])
            if sensitive:
                s["l_min"] = int(lrows[s["year"]][0])
                s["homogeneous_classes"] = int(lrows[s["year"]][1] or 0)
            per_year.append(s)
        if sensitive:
            lr = engine.rows(
                f"SELECT min(l), sum(CASE WHEN l = 1 AND f >= 2 THEN 1 ELSE 0 END), "
                f"sum(CASE WHEN l = 1 THEN f ELSE 0 END) FROM {cls}"
            )[0]
            overall |= {
                "l_min": int(lr[0] or 0),
                "homogeneous_classes": int(lr[1] or 0),
                "records_in_l1_classes": int(lr[2] or 0),
            }
        suda = _special_uniques(engine, rec, keys, params.max_msu_size)
        persons = int(engine.scalar(f"SELECT count(DISTINCT pid) FROM {rec}"))
        records = engine.count(rec)
    finally:
        for t in ("_risk_ind", cls, rec, "_risk_msu", "_risk_cand"):
            engine.execute(f"DROP TABLE IF EXISTS {t}")
    return RiskReport(
        keys=keys,
        sensitive=sensitive,
        records=records,
        persons=persons,
        per_year=tuple(per_year),
        overall=overall,
        suda=suda,
        reduction=reduction,
        before=before,
        seconds=time.perf_counter() - t0,
        params=params,
    )


def suda_weight(size: int, n_keys: int, max_size: int) -> int:
    """SUDA's contribution of one MSU of ``size``: prod_{i=size}^{max_size-1} (n_keys - i)."""
    return math.prod(n_keys - i for i in range(size, max_size))


def _special_uniques(
    engine: Engine, rec: str, keys: Sequence[str], max_size: int
) -> dict[str, Any]:
    """Minimal sample uniques on subsets of at most ``max_size`` keys, per year."""
    m = min(max_size, len(keys))
    n = len(keys)
    sets, sizes = [], []
    for size in range(1, m + 1):
        for combo in itertools.combinations(range(n), size):
            sets.append("(year, " + ", ".join(_q(keys[i]) for i in combo) + ")")
            sizes.append(size)
    # One pass with GROUPING SETS: a group of one record is that record's unique subset;
    # GROUPING(k) is 1 when key k is rolled up, so the subset's bit mask is the sum below.
    mask = " + ".join(f"(1 - GROUPING({_q(keys[i])})) * {1 << i}" for i in range(n))
    engine.create_table(
        "_risk_cand",
        f"SELECT min(rid) AS rid, CAST({mask} AS BIGINT) AS m FROM {rec} "
        f"GROUP BY GROUPING SETS ({', '.join(sets)}) HAVING count(*) = 1",
    )
    engine.create_table(
        "_risk_cand",
        "SELECT rid, m, CAST(bit_count(m) AS INTEGER) AS s FROM _risk_cand",
    )
    # Uniqueness is monotone (unique on S => unique on every superset), so a unique subset is
    # minimal when no unique subset of it is one element smaller; checking all subsets is
    # the same and simpler.
    engine.create_table(
        "_risk_msu",
        "SELECT a.rid, a.m, a.s FROM _risk_cand a WHERE NOT EXISTS ("
        "SELECT 1 FROM _risk_cand b WHERE b.rid = a.rid AND b.m <> a.m AND (b.m & a.m) = b.m)",
    )
    weights = " ".join(f"WHEN {s} THEN {suda_weight(s, len(keys), m)}" for s in range(1, m + 1))
    summary = engine.rows(
        f"SELECT count(*), max(score), min(smin) FROM (SELECT rid, sum(CASE s {weights} END) "
        "AS score, min(s) AS smin FROM _risk_msu GROUP BY rid)"
    )[0]
    by_size = {
        int(s): int(n)
        for s, n in engine.rows(
            "SELECT smin, count(*) FROM (SELECT rid, min(s) AS smin FROM _risk_msu GROUP BY rid)"
            " GROUP BY smin ORDER BY smin"
        )
    }
    per_var = {}
    for i, k in enumerate(keys):
        per_var[k] = int(engine.scalar(f"SELECT count(*) FROM _risk_msu WHERE (m & {1 << i}) <> 0"))
    return {
        "max_msu_size": m,
        "records_with_msu": int(summary[0] or 0),
        "max_score": int(summary[1] or 0),
        "records_by_smallest_msu": by_size,
        "msus_per_variable": per_var,
        "msus": int(engine.count("_risk_msu")),
    }


def reduce_risk(
    engine: Engine,
    table: str,
    params: RiskParams,
    keys: Sequence[str],
    catalog: Mapping[str, Variable],
    schemes: Mapping[str, Scheme],
    out_table: str,
) -> Reduction:
    """Global recoding, then local suppression, until every class has ``target_k`` records."""
    if params.target_k is None:
        raise UsageError("reduce_risk needs params.target_k")
    target = params.target_k
    cols = engine.columns(table)
    engine.create_table(out_table, f"SELECT * FROM {table}")
    current = dict(schemes)
    before = _class_stats(engine, out_table, keys, target)

    def distinct() -> dict[str, int]:
        return {
            k: int(engine.scalar(f"SELECT count(DISTINCT {_q(k)}) FROM {out_table}")) for k in keys
        }

    distinct_before = distinct()
    steps: list[RecodeStep] = []
    k_now = before["k"]
    below = before["records_below_target"]
    limit = params.suppression_limit * before["records"]
    for name in params.recode_order:
        if below <= limit:
            break
        if name not in keys or name not in current:
            continue
        var = catalog[name]
        nxt = var.coarser(current[name].name)
        if nxt is None:
            continue
        expr = current[name].coarsen_sql.replace("{x}", _q(name))
        select = ", ".join(f"{expr} AS {_q(c)}" if c == name else _q(c) for c in cols)
        engine.create_table(out_table, f"SELECT {select} FROM {out_table}")
        steps.append(RecodeStep(name, current[name].name, nxt.name, 0))
        current[name] = nxt
        now = _class_stats(engine, out_table, keys, target)
        k_now, below = now["k"], now["records_below_target"]
        steps[-1] = RecodeStep(name, steps[-1].from_scheme, nxt.name, k_now)
    suppressed = dict.fromkeys(keys, 0)
    if k_now < target:
        # most distinct values first: they split classes the most
        spread = distinct()
        order = sorted(keys, key=lambda k: (-spread[k], k))
        kcols = ", ".join(["year", *(_q(k) for k in keys)])
        for name in order:
            small = f"(SELECT {kcols} FROM {out_table} GROUP BY {kcols} HAVING count(*) < {target})"
            on = " AND ".join(f"s.{_q(c)} IS NOT DISTINCT FROM t.{_q(c)}" for c in ["year", *keys])
            flag = f"EXISTS (SELECT 1 FROM {small} s WHERE {on})"
            n = int(engine.scalar(f"SELECT count(*) FROM {out_table} t WHERE {flag}"))
            if n == 0:
                break
            select = ", ".join(
                f"CASE WHEN {flag} THEN '{SUPPRESSED}' ELSE CAST(t.{_q(c)} AS VARCHAR) END "
                f"AS {_q(c)}"
                if c == name
                else f"t.{_q(c)}"
                for c in cols
            )
            changed = int(
                engine.scalar(
                    f"SELECT count(*) FROM {out_table} t WHERE {flag} AND "
                    f"CAST(t.{_q(name)} AS VARCHAR) IS DISTINCT FROM '{SUPPRESSED}'"
                )
            )
            engine.create_table(f"{out_table}_next", f"SELECT {select} FROM {out_table} t")
            engine.execute(f"DROP TABLE {out_table}")
            engine.execute(f"ALTER TABLE {out_table}_next RENAME TO {out_table}")
            suppressed[name] += changed
    # Records still in a class below the target have every key suppressed and share that
    # class with too few others of their year: they are left out (record suppression).
    kcols = ", ".join(["year", *(_q(k) for k in keys)])
    removed = int(_class_stats(engine, out_table, keys, target)["records_below_target"])
    if removed:
        engine.create_table(
            f"{out_table}_next",
            f"SELECT * FROM (SELECT *, count(*) OVER (PARTITION BY {kcols}) AS _f "
            f"FROM {out_table}) WHERE _f >= {target}",
        )
        engine.execute(f"DROP TABLE {out_table}")
        engine.execute(f"ALTER TABLE {out_table}_next DROP COLUMN _f")
        engine.execute(f"ALTER TABLE {out_table}_next RENAME TO {out_table}")
    after = _class_stats(engine, out_table, keys, target)
    return Reduction(
        target_k=target,
        before=before,
        after=after,
        recodings=tuple(steps),
        suppressed=suppressed,
        suppressed_total=sum(suppressed.values()),
        cells=engine.count(out_table) * len(keys),
        removed_records=removed,
        schemes=current,
        distinct_before=distinct_before,
        distinct_after=distinct(),
    )
