"""Building a pseudonymised research extract (seed 001, phase 1).

The flow, all set-based SQL in the engine except the draw itself:

1. the authorization refuses what it does not allow (population, sample size and design,
   years, variables and their class schemes, a delivery after the retention end);
2. *population*: persons aged ``age_min..age_max`` on 31 December of a year of the period with
   a job in the population group (organising-authority codes) at the end of that year;
3. *sample* among persons (not person-years): simple random, or stratified (proportional
   allocation) by sex and age class or by the year of first appearance, drawn with
   ``numpy.random.Generator(PCG64)`` seeded from the sample seed over the population sorted by
   stratum and SSIN (reproducible; knowing the seed without the full population list gives
   nothing); inclusion probabilities ``n_h / N_h``;
4. *pseudonyms* from the vault (random permutation, :mod:`._vault`);
5. *panel*: every year of the period in which a sampled person is aged in range, with origin
   and migration background per year (:func:`herkomst.origin.derive_origin_years`) and the
   main job of the year (a job in the population group first, then full-time, then the lowest
   enterprise number);
6. *classes*: every variable in its authorized scheme (:mod:`._catalog`); dates only as years;
7. optional risk reduction and the risk report (:mod:`._risk`);
8. files: ``extract.parquet`` / ``extract.csv``, ``sample.parquet`` / ``sample.csv``
   (number, stratum, inclusion probability, weight), ``codebook.md`` / ``codebook.json``,
   ``risk_report.json`` / ``risk_report.md``, ``manifest.json``; the delivery is recorded in
   the project register.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..engine import Engine
from ..errors import InputError, UsageError
from ..origin import OriginParams, derive_origin_years
from ..rules import RuleSet
from ._authorization import ExtractAuthorization, SampleDesign
from ._catalog import Scheme, Variable, build_catalog, scheme_sql
from ._retention import VAULT_DIR, ensure_project, get_project, record_delivery
from ._risk import RiskParams, RiskReport, reduce_risk, risk_report
from ._vault import Vault, check_project_id

_P = "xtr"  # prefix of the work tables


@dataclass(frozen=True)
class ExtractParams:
    """What one extract asks for (checked against the authorization by :func:`build_extract`).

    ``variables``: ``(name, scheme)`` pairs; None = every granted variable in its finest
    allowed scheme. ``warehouse``: the warehouse-side folder of the vault and the project
    register (never delivered). ``delivered_on``: the delivery date (refused after the
    retention end). ``eu_date``: when EU membership is read for migration background (None =
    31 December of the last year, so that a re-run gives the same extract).
    """

    project: str
    population: str
    sample_size: int
    seed: int
    warehouse: Path
    design: SampleDesign = SampleDesign.SIMPLE
    first_year: int | None = None
    last_year: int | None = None
    variables: tuple[tuple[str, str | None], ...] | None = None
    delivered_on: dt.date = field(default_factory=dt.date.today)
    eu_date: dt.date | None = None
    risk: RiskParams | None = field(default_factory=RiskParams)
    csv: bool = True
    # Phase 2 (the enclave, herkomst.enclave.stage): every person of the population instead of
    # a sample, written on the warehouse side and not recorded as a delivery.
    whole_population: bool = False

    def __post_init__(self) -> None:
        check_project_id(self.project)
        if isinstance(self.sample_size, bool) or self.sample_size < 1:
            raise UsageError(f"sample size {self.sample_size!r}: give a whole number >= 1")
        if isinstance(self.seed, bool) or self.seed < 0:
            raise UsageError(f"seed {self.seed!r}: give a whole number >= 0")
        object.__setattr__(self, "design", SampleDesign(self.design))


@dataclass(frozen=True)
class ExtractResult:
    out_dir: Path
    files: Mapping[str, str]  # file name -> SHA-256
    population_size: int
    persons: int
    rows: int
    delivery: int
    manifest: Mapping[str, Any]
    risk: RiskReport | None


_SQL_JOBS = """
SELECT e.ssin, e.year, e.employer_id, e.authority, e.nace, e.worker_class, e.regime,
       CASE WHEN {in_pop} THEN 1 ELSE 0 END AS in_pop
FROM employment e
WHERE e.year BETWEEN {y0} AND {y1}
"""

_SQL_ELIGIBLE = """
SELECT j.ssin, min(j.year) AS first_year
FROM {jobs} j JOIN persons p ON p.ssin = j.ssin
WHERE j.in_pop = 1 AND p.birth_date IS NOT NULL
  AND j.year - year(p.birth_date) BETWEEN {a0} AND {a1}
GROUP BY j.ssin
"""

_SQL_STRATA = """
SELECT g.ssin,
       CASE '{design}'
         WHEN 'simple' THEN 'all'
         WHEN 'stratified_first_year' THEN CAST(g.first_year AS VARCHAR)
         ELSE concat(coalesce(p.sex, 'unknown'), '|', {age_class})
       END AS stratum
FROM {eligible} g JOIN persons p ON p.ssin = g.ssin
"""

_SQL_PANEL = """
SELECT s.ssin, y.year, y.year - year(p.birth_date) AS age
FROM {sample} s
JOIN persons p ON p.ssin = s.ssin
CROSS JOIN {years} y
WHERE y.year - year(p.birth_date) BETWEEN {a0} AND {a1}
"""

_SQL_MAIN_JOB = """
SELECT ssin, year, authority, nace, worker_class FROM (
  SELECT j.*, row_number() OVER (
    PARTITION BY j.ssin, j.year
    ORDER BY j.in_pop DESC, CASE WHEN j.regime = 'F' THEN 0 ELSE 1 END, j.employer_id
  ) AS rn
  FROM {jobs} j WHERE j.ssin IN (SELECT ssin FROM {sample})
) WHERE rn = 1
"""

_SQL_BASE = """
SELECT x.ssin, x.year, x.age AS b_age, p.sex AS b_sex, r.region AS b_region,
       {country_cols},
       o.national_origin AS b_national_origin,
       o.national_origin_class AS b_national_origin_class,
       o.national_origin_group AS b_national_origin_group,
       year(p.registration_date) AS b_registration_year,
       o.fact_acquisition_year AS b_acquisition_year,
       o.migration_background AS b_migration_background,
       ed.level AS b_education_level, ed.field AS b_education_field,
       CASE WHEN j.ssin IS NULL THEN 0 ELSE 1 END AS b_employed,
       j.worker_class AS b_worker_class, j.nace AS b_nace, j.authority AS b_authority
FROM {panel} x
JOIN persons p ON p.ssin = x.ssin
LEFT JOIN {origin} o ON o.ssin = x.ssin AND o.year = x.year
LEFT JOIN (SELECT ssin, year, min(region) AS region FROM {residence} GROUP BY ssin, year) r
       ON r.ssin = x.ssin AND r.year = x.year
LEFT JOIN (SELECT ssin, min(level) AS level, min(field) AS field FROM {education} GROUP BY ssin) ed
       ON ed.ssin = x.ssin
LEFT JOIN {main_job} j ON j.ssin = x.ssin AND j.year = x.year
{country_joins}
"""

_COUNTRY_FACTS = {
    "current_nationality": "o.fact_current_nationality",
    "first_nationality": "o.fact_first_nationality",
    "father_first_nationality": "o.fact_father_first_nationality",
    "mother_first_nationality": "o.fact_mother_first_nationality",
    "birth_country": "p.birth_country",
}


def _country_sql(country: str) -> tuple[str, str]:
    cols, joins = [], []
    for i, (name, expr) in enumerate(_COUNTRY_FACTS.items()):
        a = f"c{i}"
        cols.append(f"{expr} AS b_{name}, {a}.class AS b_{name}_class, {a}.grp AS b_{name}_group")
        joins.append(f"LEFT JOIN {country} {a} ON {a}.code = {expr}")
    return ",\n       ".join(cols), "\n".join(joins)


def _country_table(rules: RuleSet) -> pa.Table:
    groups = {r["class"]: r["group"] for r in rules.table("class_groups")}
    rows = list(rules.table("country_classes"))
    return pa.table(
        {
            "code": [r["code"] for r in rows],
            "class": [r["class"] for r in rows],
            "grp": [groups[r["class"]] for r in rows],
        }
    )


def draw_sample(
    strata: Sequence[str], ssins: Sequence[str], size: int, seed: int, population: str
) -> tuple[list[int], dict[str, tuple[int, int]]]:
    """Indices drawn (proportional allocation, SRS within strata) and ``stratum -> (n_h, N_h)``.

    ``strata`` and ``ssins`` must be sorted by (stratum, ssin): the draw then depends only on
    the population, the size and the seed. Largest-remainder rounding, ties by stratum name.
    """
    total = len(ssins)
    counts: dict[str, int] = {}
    for s in strata:
        counts[s] = counts.get(s, 0) + 1
    n = min(size, total)
    quota = {h: n * big / total for h, big in counts.items()} if total else {}
    alloc = {h: int(np.floor(q)) for h, q in quota.items()}
    short = n - sum(alloc.values())
    for h in sorted(quota, key=lambda h: (-(quota[h] - alloc[h]), h))[:short]:
        alloc[h] += 1
    seq = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(population.encode()),))
    rng = np.random.Generator(np.random.PCG64(seq))
    chosen: list[int] = []
    start = 0
    for h in sorted(counts):
        big = counts[h]
        if alloc[h]:
            pick = rng.choice(big, size=alloc[h], replace=False)
            chosen.extend(int(start + i) for i in np.sort(pick))
        start += big
    return chosen, {h: (alloc[h], counts[h]) for h in counts}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_extract(
    engine: Engine,
    authorization: ExtractAuthorization,
    params: ExtractParams,
    out_dir: Path,
    vault_key: bytes,
    rules: RuleSet | None = None,
    inputs: Sequence[Mapping[str, object]] = (),
) -> ExtractResult:
    """Build, check and write one extract; record the delivery in the project register.

    ``engine`` holds the validated tables (:func:`herkomst.load_dataset`); ``vault_key`` is
    the master key (:func:`read_vault_key`); ``inputs`` the input files' provenance
    (``Dataset.inputs()``) for the manifest.
    """
    rules = rules or RuleSet()
    auth = authorization
    pop = auth.population(params.population)
    if not params.whole_population:
        auth.check_sample(params.sample_size, params.design)
    y0 = params.first_year if params.first_year is not None else auth.first_year
    y1 = params.last_year if params.last_year is not None else auth.last_year
    auth.check_years(y0, y1)
    existing = get_project(params.warehouse, params.project)
    # a later end only through an extension recorded with its decision reference
    extended = existing.retention_end if existing is not None else None
    auth.check_date(
        params.delivered_on, end=max(extended or auth.retention_end, auth.retention_end)
    )
    chosen = auth.resolve_variables(
        None if params.variables is None else dict(params.variables), rules
    )
    for t in ("persons", "nationalities", "employment"):
        if not engine.has_table(t):
            raise InputError(f"the extract needs the validated table '{t}', which is not loaded")
    optional = {
        "residence": "(SELECT CAST(NULL AS VARCHAR) AS ssin, CAST(NULL AS INTEGER) AS year, "
        "CAST(NULL AS VARCHAR) AS region WHERE 1 = 0)",
        "education": "(SELECT CAST(NULL AS VARCHAR) AS ssin, CAST(NULL AS VARCHAR) AS level, "
        "CAST(NULL AS VARCHAR) AS field WHERE 1 = 0)",
    }
    residence, education = (t if engine.has_table(t) else optional[t] for t in optional)
    _prepare_out_dir(out_dir, params.project)
    project = ensure_project(
        params.warehouse,
        params.project,
        auth.id,
        auth.sha256,
        auth.recipient,
        params.population,
        auth.retention_end,
        params.delivered_on,
    )
    names = {
        n: f"{_P}_{n}"
        for n in (
            "jobs",
            "eligible",
            "strata",
            "sample",
            "panel",
            "origin",
            "main_job",
            "base",
            "country",
            "pid",
            "extract",
            "years",
        )
    }
    made: list[str] = []

    def make(key: str, sql: str) -> str:
        engine.create_table(names[key], sql)
        made.append(names[key])
        return names[key]

    age10 = (
        build_catalog(rules)["age_class"]
        .scheme("age_10y")
        .base_sql.replace("b_age", "(g.first_year - year(p.birth_date))")
    )
    try:
        jobs = make("jobs", _SQL_JOBS.format(in_pop=pop.predicate("e.authority"), y0=y0, y1=y1))
        eligible = make(
            "eligible", _SQL_ELIGIBLE.format(jobs=jobs, a0=auth.age_min, a1=auth.age_max)
        )
        strata_t = make(
            "strata",
            _SQL_STRATA.format(design=params.design.value, eligible=eligible, age_class=age10),
        )
        no_birth_date = int(
            engine.scalar(
                f"SELECT count(DISTINCT j.ssin) FROM {jobs} j LEFT JOIN persons p "
                "ON p.ssin = j.ssin WHERE j.in_pop = 1 AND p.birth_date IS NULL"
            )
        )
        frame = engine.arrow(f"SELECT ssin, stratum FROM {strata_t} ORDER BY stratum, ssin")
        ssins = frame.column("ssin").to_pylist()
        strata = frame.column("stratum").to_pylist()
        size = len(ssins) if params.whole_population else params.sample_size
        picked, alloc = draw_sample(strata, ssins, size, params.seed, pop.name)
        sample_ssins = [ssins[i] for i in picked]
        sample_strata = [strata[i] for i in picked]
        vault = Vault(params.warehouse / VAULT_DIR, vault_key)
        numbers = vault.assign(params.project, sample_ssins)
        pis = [alloc[h][0] / alloc[h][1] for h in sample_strata]
        engine.register(
            names["pid"],
            pa.table(
                {
                    "ssin": sample_ssins,
                    "pid": pa.array([numbers[s] for s in sample_ssins], pa.int64()),
                    "stratum": sample_strata,
                    "inclusion_probability": pa.array(pis, pa.float64()),
                }
            ),
        )
        sample = make("sample", f"SELECT * FROM {names['pid']}")
        engine.con.unregister(names["pid"])
        engine.register(names["years"], pa.table({"year": pa.array(range(y0, y1 + 1), pa.int32())}))
        panel = make(
            "panel",
            _SQL_PANEL.format(
                sample=sample, years=names["years"], a0=auth.age_min, a1=auth.age_max
            ),
        )
        eu_date = params.eu_date or dt.date(y1, 12, 31)
        oparams = OriginParams.for_year(
            y1,
            definitions=("national_origin", "migration_background"),
            eu_date=eu_date,
            generated_on=params.delivered_on,
            trails=False,
        )
        derive_origin_years(
            engine, oparams, population=panel, rules=rules, out_table=names["origin"]
        )
        made.append(names["origin"])
        main_job = make("main_job", _SQL_MAIN_JOB.format(jobs=jobs, sample=sample))
        engine.register(names["country"], _country_table(rules))
        cols, joins = _country_sql(names["country"])
        base = make(
            "base",
            _SQL_BASE.format(
                country_cols=cols,
                country_joins=joins,
                panel=panel,
                origin=names["origin"],
                main_job=main_job,
                residence=residence,
                education=education,
            ),
        )
        select = ",\n  ".join(f"{scheme_sql(v, s)} AS {v.name}" for v, s, _ in chosen)
        extract = make(
            "extract",
            f"SELECT s.pid, b.year, {select} FROM {base} b JOIN {sample} s ON s.ssin = b.ssin "
            "ORDER BY s.pid, b.year",
        )
        delivered: dict[str, Scheme] = {v.name: s for v, s, _ in chosen}
        catalog = build_catalog(rules)
        reduction = None
        report = None
        if params.risk is not None:
            keys = [k for k in params.risk.keys if k in delivered]
            sensitive = params.risk.sensitive if params.risk.sensitive in delivered else None
            before = None
            if params.risk.target_k is not None:
                before = risk_report(
                    engine,
                    extract,
                    params.risk,
                    keys=keys,
                    sensitive=sensitive,
                    weights_relation=sample,
                )
                reduction = reduce_risk(
                    engine,
                    extract,
                    params.risk,
                    keys,
                    catalog,
                    delivered,
                    out_table=f"{_P}_reduced",
                )
                made.append(f"{_P}_reduced")
                extract = f"{_P}_reduced"
                delivered = dict(reduction.schemes)
            report = risk_report(
                engine,
                extract,
                params.risk,
                keys=keys,
                sensitive=sensitive,
                weights_relation=sample,
                reduction=reduction,
                before=before.overall if before is not None else None,
            )
        files = _write_outputs(
            engine,
            out_dir,
            extract=extract,
            sample=sample,
            chosen=[(catalog[n], s) for n, s in delivered.items()],
            csv=params.csv,
            suppressed=reduction is not None and reduction.suppressed_total > 0,
        )
        if report is not None:
            files.update(report.write(out_dir))
        persons = int(engine.scalar(f"SELECT count(DISTINCT pid) FROM {extract}"))
        rows = engine.count(extract)
        manifest = {
            "kind": "pseudonymised_extract",
            "project": params.project,
            "authorization": auth.provenance(),
            "recipient": auth.recipient,
            "population": {
                "name": pop.name,
                "rule": pop.rule.value,
                "authority_codes": list(pop.codes),
                "clause": pop.clause,
                "definition": (
                    f"persons aged {auth.age_min}-{auth.age_max} on 31 December with a job "
                    f"in the population group at the end of at least one year {y0}-{y1}"
                ),
                "size": len(ssins),
                "left_out_without_birth_date": no_birth_date,
            },
            "period": {"first_year": y0, "last_year": y1},
            "design": {
                "kind": params.design.value,
                "seed": params.seed,
                "sample_size_asked": params.sample_size,
                "strata": {h: {"n": a[0], "N": a[1]} for h, a in sorted(alloc.items())},
                "draw": "numpy PCG64 from SeedSequence(seed, spawn_key=(crc32(population),)); "
                "population sorted by stratum and SSIN; proportional allocation, largest "
                "remainder",
            },
            "pseudonyms": {
                "method": auth.pseudonym_method,
                "clause": auth.pseudonym_clause,
                "range": [1, int(engine.scalar(f"SELECT max(pid) FROM {extract}") or 0)],
                "note": "numbers drawn at random per project (operating-system CSPRNG); the "
                "mapping stays encrypted on the warehouse side",
            },
            "counts": {"persons": persons, "person_years": rows},
            "variables": {n: s.name for n, s in delivered.items()},
            "origin": oparams.describe(),
            "inputs": list(inputs),
            "rules": [t.provenance() for t in _rule_tables(rules)],
            "retention_end": project.retention_end.isoformat(),
            "delivered_on": params.delivered_on.isoformat(),
            "files": dict(sorted(files.items())),
        }
        text = json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n"
        (out_dir / "manifest.json").write_text(text, "utf-8")
        manifest_sha = hashlib.sha256(text.encode()).hexdigest()
        files["manifest.json"] = manifest_sha
        delivery = (
            0
            if params.whole_population
            else record_delivery(
                params.warehouse, params.project, params.delivered_on, out_dir, files, manifest_sha
            )
        )
    finally:
        for t in reversed(made):
            engine.execute(f'DROP TABLE IF EXISTS "{t}"')
        for view in ("country", "years"):
            with contextlib.suppress(Exception):  # nothing registered when it failed early
                engine.con.unregister(names[view])
    return ExtractResult(
        out_dir=out_dir,
        files=files,
        population_size=len(ssins),
        persons=persons,
        rows=rows,
        delivery=delivery,
        manifest=manifest,
        risk=report,
    )


OUTPUT_FILES = (
    "extract.parquet",
    "extract.csv",
    "sample.parquet",
    "sample.csv",
    "codebook.json",
    "codebook.md",
    "risk_report.json",
    "risk_report.md",
    "manifest.json",
)


def _prepare_out_dir(out: Path, project: str) -> None:
    """An empty folder, or an earlier delivery of the same project (its files are replaced)."""
    if out.exists() and any(out.iterdir()):
        manifest = out / "manifest.json"
        try:
            same = json.loads(manifest.read_text("utf-8")).get("project") == project
        except (OSError, ValueError):
            same = False
        extra = [p.name for p in out.iterdir() if p.name not in OUTPUT_FILES]
        if not same or extra:
            raise UsageError(
                f"{out}: the output folder is not empty and does not hold an earlier delivery "
                f"of project '{project}' alone; give an empty or new folder"
            )
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _rule_tables(rules: RuleSet) -> list[Any]:
    return [
        rules.table(n)
        for n in (
            "country_classes",
            "class_groups",
            "eu_membership",
            "former_states",
            "migration_background",
        )
    ]


def _write_outputs(
    engine: Engine,
    out: Path,
    extract: str,
    sample: str,
    chosen: Sequence[tuple[Variable, Scheme]],
    csv: bool,
    suppressed: bool,
) -> dict[str, str]:
    files: dict[str, str] = {}
    sample_sql = (
        f"SELECT pid, stratum, inclusion_probability, 1.0 / inclusion_probability AS weight "
        f"FROM {sample} ORDER BY pid"
    )
    for name, sql in (
        ("extract", f"SELECT * FROM {extract} ORDER BY pid, year"),
        ("sample", sample_sql),
    ):
        engine.write_parquet(sql, out / f"{name}.parquet")
        files[f"{name}.parquet"] = _sha256(out / f"{name}.parquet")
        if csv:
            path = out / f"{name}.csv"
            engine.execute(
                f"COPY ({sql}) TO '{str(path).replace(chr(39), chr(39) * 2)}' (HEADER, DELIMITER ',')"
            )
            files[f"{name}.csv"] = _sha256(path)
    files.update(_write_codebook(engine, out, extract, chosen, suppressed))
    return files


def codebook(
    engine: Engine, extract: str, chosen: Sequence[tuple[Variable, Scheme]], suppressed: bool
) -> dict[str, Any]:
    """Every delivered variable: label, source, scheme, classes with labels (or year range)."""
    entries: list[dict[str, Any]] = [
        {
            "name": "pid",
            "label": "sequence number of the person (meaningless, random)",
            "source": "vault (random permutation per project)",
            "type": "integer",
        },
        {
            "name": "year",
            "label": "year (situation on 31 December)",
            "source": "period",
            "type": "integer",
        },
    ]
    for var, scheme in chosen:
        entry: dict[str, Any] = {
            "name": var.name,
            "label": var.label,
            "source": var.source,
            "scheme": scheme.name,
            "scheme_description": scheme.description,
        }
        if scheme.year and scheme.name == "year":
            as_int = (
                f"CASE WHEN CAST({var.name} AS VARCHAR) = '*' THEN NULL "
                f"ELSE CAST({var.name} AS INTEGER) END"
            )
            lo, hi = engine.rows(f"SELECT min({as_int}), max({as_int}) FROM {extract}")[0]
            entry |= {
                "type": "integer" if not suppressed else "string (a year, or '*')",
                "range": [lo, hi],
                "null": "no such event",
            }
        elif scheme.year:
            entry |= {"type": "string", "format": "YYYY-YYYY", "null": "no such event"}
        else:
            classes = [{"code": c, "label": lbl} for c, lbl in scheme.classes]
            if not classes:
                present = [
                    r[0]
                    for r in engine.rows(f"SELECT DISTINCT {var.name} FROM {extract} ORDER BY 1")
                ]
                classes = [{"code": c, "label": c} for c in present]
            entry |= {"type": "string", "classes": classes}
        if suppressed:
            entry["suppressed"] = "'*' (string variables) or null: suppressed to protect"
        entries.append(entry)
    return {"variables": entries}


def _write_codebook(
    engine: Engine,
    out: Path,
    extract: str,
    chosen: Sequence[tuple[Variable, Scheme]],
    suppressed: bool,
) -> dict[str, str]:
    book = codebook(engine, extract, chosen, suppressed)
    (out / "codebook.json").write_text(
        json.dumps(book, indent=1, ensure_ascii=False) + "\n", "utf-8"
    )
    lines = [
        "# Codebook",
        "",
        "One row per person (`pid`) and year. Dates are delivered only as years.",
        "",
    ]
    for e in book["variables"]:
        lines += [f"## `{e['name']}`: {e['label']}", "", f"Source: {e['source']}."]
        if "scheme" in e:
            lines.append(f"Classes: `{e['scheme']}` ({e['scheme_description']}).")
        if "range" in e:
            lines.append(f"Range: {e['range'][0]}-{e['range'][1]}; empty = {e['null']}.")
        lines.append("")
        if "classes" in e:
            lines += ["| code | label |", "|---|---|"]
            lines += [f"| `{c['code']}` | {c['label']} |" for c in e["classes"]]
            lines.append("")
        if "suppressed" in e:
            lines += [f"Suppressed values: {e['suppressed']}.", ""]
    (out / "codebook.md").write_text("\n".join(lines), "utf-8")
    return {n: _sha256(out / n) for n in ("codebook.json", "codebook.md")}


def default_project_id(authorization_id: str, population: str) -> str:
    """The project id the CLI uses when none is given: ``<authorization>-<population>``."""
    return check_project_id(f"{authorization_id}-{population}")


def extract_from_dwh(
    dwh: Path,
    out_dir: Path,
    warehouse: Path,
    population: str,
    sample_size: int,
    seed: int,
    authorization: str | Path = "23-224",
    project: str | None = None,
    design: SampleDesign | str = SampleDesign.SIMPLE,
    target_k: int | None = None,
    key_file: Path | None = None,
    delivered_on: dt.date | None = None,
    rules_dir: Path | None = None,
    engine: Engine | None = None,
) -> ExtractResult:
    """Everything ``herkomst extract`` does: load and validate, check, build, write, record.

    The vault key comes from ``key_file`` or the ``HERKOMST_VAULT_KEY`` environment variable.
    """
    from ..validate import ValidationOptions, load_dataset
    from ._authorization import load_extract_authorization
    from ._vault import read_vault_key

    rules = RuleSet(rules_dir)
    auth = load_extract_authorization(authorization, rules_dir=rules_dir, rules=rules)
    key = read_vault_key(key_file)
    params = ExtractParams(
        project=project or default_project_id(auth.id, population),
        population=population,
        sample_size=sample_size,
        seed=seed,
        warehouse=warehouse,
        design=SampleDesign(design),
        delivered_on=delivered_on or dt.date.today(),
        risk=RiskParams(target_k=target_k),
    )
    own = engine is None
    eng = engine or Engine()
    try:
        dataset = load_dataset(eng, dwh, options=ValidationOptions())
        return build_extract(eng, auth, params, out_dir, key, rules=rules, inputs=dataset.inputs())
    finally:
        if own:
            eng.close()
