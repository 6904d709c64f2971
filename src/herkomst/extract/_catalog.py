"""The variables an extract can hold and the class schemes each can be delivered in.

Every variable has one or more *schemes*, ranked from the finest (rank 0) to the coarsest. An
authorization names the finest scheme it allows per variable; a coarser scheme of the same
variable is allowed too (global recoding for risk reduction moves one step coarser), a finer
one is refused. Each scheme says how to compute it from the warehouse-side base table of the
extract (``base_sql``, over the ``b_*`` columns) and, when it has a coarser neighbour, how to
get that neighbour from a delivered value (``coarsen_sql``), so that recoding works on the
extract itself.

The base table holds, per person and year: ``b_sex``, ``b_age``, ``b_region``, for every
country variable ``b_<v>`` (code), ``b_<v>_class`` and ``b_<v>_group``, ``b_registration_year``,
``b_acquisition_year``, ``b_migration_background``, ``b_education_level``,
``b_education_field``, ``b_worker_class``, ``b_nace`` and ``b_authority`` (``b_employed`` = 1
when the person has a job at the end of the year).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import InternalError
from ..rules import RuleSet

UNKNOWN = "unknown"
NONE = "none"  # no job at the end of that year (employment variables)


@dataclass(frozen=True)
class Scheme:
    """One way of delivering a variable: its classes and how to compute them."""

    name: str
    rank: int
    description: str
    base_sql: str  # SQL over the base table; ``{v}`` = the variable name
    classes: tuple[tuple[str, str], ...] = ()  # (code, label); empty = integer years
    year: bool = False  # an integer year (classes open: a range, see the codebook)
    coarsen_sql: str = ""  # SQL over the delivered value ``{x}`` giving the next coarser scheme

    def codes(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.classes)


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    source: str
    schemes: tuple[Scheme, ...]
    key_default: bool  # a key (quasi-identifying) variable of the risk report by default

    def scheme(self, name: str) -> Scheme:
        for s in self.schemes:
            if s.name == name:
                return s
        raise KeyError(name)

    def coarser(self, scheme: str) -> Scheme | None:
        rank = self.scheme(scheme).rank
        nxt = [s for s in self.schemes if s.rank == rank + 1]
        return nxt[0] if nxt else None


def _case(value_sql: str, mapping: Sequence[tuple[str, str]], default: str) -> str:
    whens = " ".join(f"WHEN {value_sql} = '{k}' THEN '{v}'" for k, v in mapping)
    return f"CASE {whens} ELSE '{default}' END"


_AGE_10 = (
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
)
_AGE_5 = (("18-24", 18, 24), *tuple((f"{a}-{a + 4}", a, a + 4) for a in range(25, 65, 5)))
_AGE_BROAD = (("18-34", 18, 34), ("35-44", 35, 44), ("45-54", 45, 54), ("55-64", 55, 64))


def _age_sql(classes: Sequence[tuple[str, int, int]]) -> str:
    whens = " ".join(f"WHEN b_age BETWEEN {lo} AND {hi} THEN '{c}'" for c, lo, hi in classes)
    return f"CASE {whens} ELSE '{UNKNOWN}' END"


def _age_labels(classes: Sequence[tuple[str, int, int]]) -> tuple[tuple[str, str], ...]:
    return (
        *tuple((c, f"{lo} to {hi} years on 31 December") for c, lo, hi in classes),
        (UNKNOWN, "age unknown"),
    )


NACE_SECTIONS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("A", "Agriculture, forestry and fishing", (1, 2, 3)),
    ("B", "Mining and quarrying", (5, 6, 7, 8, 9)),
    ("C", "Manufacturing", tuple(range(10, 34))),
    ("D", "Electricity, gas, steam and air conditioning supply", (35,)),
    ("E", "Water supply; sewerage, waste management and remediation", (36, 37, 38, 39)),
    ("F", "Construction", (41, 42, 43)),
    ("G", "Wholesale and retail trade; repair of motor vehicles", (45, 46, 47)),
    ("H", "Transportation and storage", (49, 50, 51, 52, 53)),
    ("I", "Accommodation and food service activities", (55, 56)),
    ("J", "Information and communication", (58, 59, 60, 61, 62, 63)),
    ("K", "Financial and insurance activities", (64, 65, 66)),
    ("L", "Real estate activities", (68,)),
    ("M", "Professional, scientific and technical activities", tuple(range(69, 76))),
    ("N", "Administrative and support service activities", tuple(range(77, 83))),
    ("O", "Public administration and defence; compulsory social security", (84,)),
    ("P", "Education", (85,)),
    ("Q", "Human health and social work activities", (86, 87, 88)),
    ("R", "Arts, entertainment and recreation", (90, 91, 92, 93)),
    ("S", "Other service activities", (94, 95, 96)),
    ("T", "Activities of households as employers", (97, 98)),
    ("U", "Activities of extraterritorial organisations and bodies", (99,)),
)
_DIVISION_TO_SECTION = tuple((f"{d:02d}", s) for s, _, ds in NACE_SECTIONS for d in ds)
_EMPLOYMENT_EXTRA = ((NONE, "no job at the end of the year"), (UNKNOWN, "unknown"))

AUTHORITY_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("federal", "federal public employer", tuple(f"{i:02d}" for i in range(1, 9))),
    ("flemish", "Flemish public employer", tuple(f"{i:02d}" for i in range(20, 29))),
    ("walloon", "Walloon public employer", tuple(f"{i:02d}" for i in range(30, 39))),
    ("brussels", "Brussels public employer", tuple(f"{i:02d}" for i in range(40, 49))),
    (
        "german",
        "German-speaking community public employer",
        tuple(f"{i:02d}" for i in range(50, 59)),
    ),
)
_AUTHORITY_LABELS = {
    "01": "federal civil service",
    "02": "special corps",
    "03": "autonomous public companies",
    "04": "public-interest bodies",
    "05": "ministers of religion",
    "06": "army",
    "07": "integrated police",
    "08": "former gendarmerie",
}
_LOCAL_LABELS = (
    "municipalities",
    "public social-welfare centres",
    "inter-municipal bodies",
    "departments and agencies",
    "public-interest bodies",
    "community education",
    "official subsidised education",
    "free subsidised education",
    "provinces",
)


def _authority_classes() -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for _group, label, codes in AUTHORITY_GROUPS:
        for i, code in enumerate(codes):
            what = _AUTHORITY_LABELS.get(code) or _LOCAL_LABELS[i]
            out.append((code, f"{label}: {what}"))
    out.append(("other", "public employer with another organising-authority code"))
    out.append(("private", "private employer (no organising authority)"))
    return (*out, *_EMPLOYMENT_EXTRA)


def _authority_group_sql(value: str) -> str:
    whens = " ".join(
        f"WHEN {value} IN ({', '.join(repr(c) for c in codes)}) THEN '{g}'"
        for g, _, codes in AUTHORITY_GROUPS
    )
    return (
        f"CASE WHEN {value} IN ('private', '{NONE}', '{UNKNOWN}') THEN {value} {whens} "
        f"ELSE 'other_public' END"
    )


_AUTHORITY_CODES = tuple(c for _, _, cs in AUTHORITY_GROUPS for c in cs)
_AUTHORITY_CODE_SQL = (
    f"CASE WHEN b_employed = 0 THEN '{NONE}' WHEN b_authority IS NULL THEN 'private' "
    f"WHEN b_authority IN ({', '.join(repr(c) for c in _AUTHORITY_CODES)}) THEN b_authority "
    f"ELSE 'other' END"
)


def _years_sql(width: int) -> str:
    return (
        f"CASE WHEN {{x}} IS NULL THEN NULL ELSE concat(CAST(CAST(floor({{x}} / {width}) * {width} "
        f"AS INTEGER) AS VARCHAR), '-', CAST(CAST(floor({{x}} / {width}) * {width} + {width - 1} "
        f"AS INTEGER) AS VARCHAR)) END"
    )


def _period_from_5y_to_10y() -> str:
    # '2005-2009' -> '2000-2009'
    start = "CAST(substr({x}, 1, 4) AS INTEGER)"
    lo = f"CAST(floor({start} / 10) * 10 AS INTEGER)"
    return (
        f"CASE WHEN {{x}} IS NULL THEN NULL ELSE concat(CAST({lo} AS VARCHAR), '-', "
        f"CAST({lo} + 9 AS VARCHAR)) END"
    )


def build_catalog(rules: RuleSet) -> dict[str, Variable]:
    """Every variable an extract can hold, with its schemes (labels from the rule tables)."""
    cc = rules.table("country_classes")
    groups = rules.table("class_groups")
    class_label = {r["class"]: r["description"] for r in groups}
    class_group = [(r["class"], r["group"]) for r in groups]
    group_label = {r["group"]: r["group_label"] for r in groups}
    country_codes = tuple((r["code"], r["name"]) for r in cc)
    unknown_country = (("UNKNOWN", "unknown (no such fact in the register)"),)
    class_codes = tuple((c, class_label[c]) for c in class_label) + unknown_country
    group_codes = (*tuple((g, lbl) for g, lbl in group_label.items()), (UNKNOWN, "unknown"))
    group_of_class = _case("{x}", class_group, UNKNOWN)
    class_of_country = _case("{x}", [(r["code"], r["class"]) for r in cc], "UNKNOWN")

    def country_schemes(what: str) -> tuple[Scheme, ...]:
        return (
            Scheme(
                "country",
                0,
                f"{what}: the country code (ISO 3166)",
                "coalesce(b_{v}, 'UNKNOWN')",
                country_codes + unknown_country,
                coarsen_sql=class_of_country,
            ),
            Scheme(
                "country_class",
                1,
                f"{what}: one of about thirty country classes (rule table country_classes)",
                "coalesce(b_{v}_class, 'UNKNOWN')",
                class_codes,
                coarsen_sql=group_of_class,
            ),
            Scheme(
                "origin_group",
                2,
                f"{what}: origin group (rule table class_groups)",
                f"coalesce(b_{{v}}_group, '{UNKNOWN}')",
                group_codes,
            ),
        )

    sources_nat = "nationalities (national register type 031)"
    migration = rules.table("migration_background")
    migration_codes: list[tuple[str, str]] = []
    for r in migration:
        if r["category"] not in [c for c, _ in migration_codes]:
            migration_codes.append((r["category"], r["description"]))
    year_schemes = (
        Scheme("year", 0, "the calendar year", "b_{v}", year=True, coarsen_sql=_years_sql(5)),
        Scheme(
            "period_5y",
            1,
            "five-year period (e.g. 2005-2009)",
            _years_sql(5).replace("{x}", "b_{v}"),
            year=True,
            coarsen_sql=_period_from_5y_to_10y(),
        ),
        Scheme(
            "period_10y",
            2,
            "ten-year period (e.g. 2000-2009)",
            _years_sql(10).replace("{x}", "b_{v}"),
            year=True,
        ),
    )
    isced_levels = (
        *tuple((str(i), f"ISCED 2011 level {i}") for i in range(9)),
        (UNKNOWN, "unknown"),
    )
    isced_broad = (
        ("low", "ISCED 0-2"),
        ("medium", "ISCED 3-4"),
        ("high", "ISCED 5-8"),
        (UNKNOWN, "unknown"),
    )
    broad_sql = (
        "CASE WHEN {x} IN ('0', '1', '2') THEN 'low' WHEN {x} IN ('3', '4') THEN 'medium' "
        "WHEN {x} IN ('5', '6', '7', '8') THEN 'high' ELSE 'unknown' END"
    )
    section_of_division = (
        f"CASE WHEN {{x}} IN ('{NONE}', '{UNKNOWN}') THEN {{x}} ELSE "
        + _case("{x}", _DIVISION_TO_SECTION, UNKNOWN)
        + " END"
    )
    divisions = tuple((d, f"NACE division {d} (section {s})") for d, s in _DIVISION_TO_SECTION)
    nace_ok = "(b_employed = 1 AND b_nace IS NOT NULL AND length(b_nace) = 5)"
    variables = [
        Variable(
            "sex",
            "sex",
            "persons.sex",
            (
                Scheme(
                    "sex",
                    0,
                    "M or F",
                    f"CASE WHEN b_sex IN ('M', 'F') THEN b_sex ELSE '{UNKNOWN}' END",
                    (("M", "man"), ("F", "woman"), (UNKNOWN, "unknown")),
                ),
            ),
            True,
        ),
        Variable(
            "age_class",
            "age class on 31 December",
            "persons.birth_date (age on 31 December of the year; the date itself never leaves)",
            (
                Scheme(
                    "age",
                    0,
                    "age in years",
                    "CAST(b_age AS VARCHAR)",
                    tuple((str(a), f"{a} years") for a in range(18, 65)),
                    coarsen_sql=_age_sql(_AGE_5).replace(
                        "b_age", "CASE WHEN {x} = 'unknown' THEN NULL ELSE CAST({x} AS INTEGER) END"
                    ),
                ),
                Scheme(
                    "age_5y",
                    1,
                    "five-year age classes",
                    _age_sql(_AGE_5),
                    _age_labels(_AGE_5),
                    coarsen_sql=_case(
                        "{x}",
                        [
                            (c, next(t for t, lo, hi in _AGE_10 if lo <= a <= hi))
                            for c, a, _ in _AGE_5
                        ],
                        UNKNOWN,
                    ),
                ),
                Scheme(
                    "age_10y",
                    2,
                    "ten-year age classes",
                    _age_sql(_AGE_10),
                    _age_labels(_AGE_10),
                    coarsen_sql=_case(
                        "{x}",
                        (
                            ("18-24", "18-34"),
                            ("25-34", "18-34"),
                            ("35-44", "35-44"),
                            ("45-54", "45-54"),
                            ("55-64", "55-64"),
                        ),
                        UNKNOWN,
                    ),
                ),
                Scheme(
                    "age_broad",
                    3,
                    "broad age classes (HR reporting)",
                    _age_sql(_AGE_BROAD),
                    _age_labels(_AGE_BROAD),
                ),
            ),
            True,
        ),
        Variable(
            "region",
            "region of residence on 31 December",
            "residence.region",
            (
                Scheme(
                    "region",
                    0,
                    "ISO 3166-2 region",
                    f"coalesce(b_region, '{UNKNOWN}')",
                    (
                        ("BE-BRU", "Brussels-Capital Region"),
                        ("BE-VLG", "Flemish Region"),
                        ("BE-WAL", "Walloon Region"),
                        (UNKNOWN, "abroad or unknown"),
                    ),
                ),
            ),
            True,
        ),
        Variable(
            "current_nationality",
            "current nationality on 31 December",
            sources_nat,
            country_schemes("current nationality"),
            True,
        ),
        Variable(
            "first_nationality",
            "first nationality",
            sources_nat,
            country_schemes("first nationality"),
            True,
        ),
        Variable(
            "father_first_nationality",
            "first nationality of the father",
            f"persons.father_ssin, {sources_nat}",
            country_schemes("father's first nationality"),
            False,
        ),
        Variable(
            "mother_first_nationality",
            "first nationality of the mother",
            f"persons.mother_ssin, {sources_nat}",
            country_schemes("mother's first nationality"),
            False,
        ),
        Variable(
            "national_origin",
            "national origin (socio-economic monitoring)",
            "herkomst.origin, definition national_origin",
            country_schemes("national origin"),
            False,
        ),
        Variable(
            "national_origin_group",
            "national origin group",
            "herkomst.origin, definition national_origin",
            (
                Scheme(
                    "origin_group",
                    0,
                    "origin group (rule table class_groups)",
                    f"coalesce(b_national_origin_group, '{UNKNOWN}')",
                    group_codes,
                ),
            ),
            False,
        ),
        Variable(
            "birth_country",
            "country of birth",
            "persons.birth_country (national register type 100)",
            country_schemes("country of birth"),
            True,
        ),
        Variable(
            "registration_year",
            "year of first registration in the National Register",
            "persons.registration_date (year only)",
            year_schemes,
            True,
        ),
        Variable(
            "acquisition_year",
            "year of acquiring Belgian nationality",
            "nationalities (year only)",
            year_schemes,
            True,
        ),
        Variable(
            "migration_background",
            "migration background",
            "herkomst.origin, definition migration_background (rule table migration_background)",
            (
                Scheme(
                    "category",
                    0,
                    "category of the decision table",
                    f"coalesce(b_migration_background, '{UNKNOWN}')",
                    tuple(migration_codes),
                ),
            ),
            False,
        ),
        Variable(
            "education_level",
            "highest education level",
            "education.level",
            (
                Scheme(
                    "isced_level",
                    0,
                    "ISCED 2011 level 0-8",
                    f"coalesce(b_education_level, '{UNKNOWN}')",
                    isced_levels,
                    coarsen_sql=broad_sql,
                ),
                Scheme(
                    "isced_broad",
                    1,
                    "low / medium / high",
                    broad_sql.replace("{x}", "b_education_level"),
                    isced_broad,
                ),
            ),
            True,
        ),
        Variable(
            "education_field",
            "field of education",
            "education.field",
            (
                Scheme(
                    "isced_f_broad",
                    0,
                    "ISCED-F 2013 broad field 00-10",
                    f"coalesce(b_education_field, '{UNKNOWN}')",
                    (
                        *tuple((f"{i:02d}", f"ISCED-F broad field {i:02d}") for i in range(11)),
                        (UNKNOWN, "unknown"),
                    ),
                ),
            ),
            False,
        ),
        Variable(
            "worker_class",
            "worker class of the main job",
            "employment.worker_class",
            (
                Scheme(
                    "worker_class",
                    0,
                    "1 blue-collar, 2 white-collar, 3 statutory, 4 other",
                    f"CASE WHEN b_employed = 0 THEN '{NONE}' WHEN b_worker_class IN (1, 2, 3, 4) THEN CAST(b_worker_class AS VARCHAR) ELSE '{UNKNOWN}' END",
                    (
                        ("1", "blue-collar"),
                        ("2", "white-collar"),
                        ("3", "statutory civil servant"),
                        ("4", "other"),
                        *_EMPLOYMENT_EXTRA,
                    ),
                ),
            ),
            False,
        ),
        Variable(
            "nace",
            "NACE-BEL 2008 activity of the main employer",
            "employment.nace",
            (
                Scheme(
                    "nace5",
                    0,
                    "NACE-BEL 5-digit subclass",
                    f"CASE WHEN b_employed = 0 THEN '{NONE}' WHEN {nace_ok} THEN b_nace ELSE '{UNKNOWN}' END",
                    coarsen_sql=f"CASE WHEN {{x}} IN ('{NONE}', '{UNKNOWN}') THEN {{x}} ELSE substr({{x}}, 1, 3) END",
                ),
                Scheme(
                    "nace_group",
                    1,
                    "NACE 3-digit group",
                    f"CASE WHEN b_employed = 0 THEN '{NONE}' WHEN {nace_ok} THEN substr(b_nace, 1, 3) ELSE '{UNKNOWN}' END",
                    coarsen_sql=f"CASE WHEN {{x}} IN ('{NONE}', '{UNKNOWN}') THEN {{x}} WHEN substr({{x}}, 1, 2) IN ({', '.join(repr(d) for d, _ in _DIVISION_TO_SECTION)}) THEN substr({{x}}, 1, 2) ELSE '{UNKNOWN}' END",
                ),
                Scheme(
                    "nace_division",
                    2,
                    "NACE 2-digit division",
                    f"CASE WHEN b_employed = 0 THEN '{NONE}' WHEN {nace_ok} AND substr(b_nace, 1, 2) IN ({', '.join(repr(d) for d, _ in _DIVISION_TO_SECTION)}) THEN substr(b_nace, 1, 2) ELSE '{UNKNOWN}' END",
                    divisions + _EMPLOYMENT_EXTRA,
                    coarsen_sql=section_of_division,
                ),
                Scheme(
                    "nace_section",
                    3,
                    "NACE section letter",
                    section_of_division.replace(
                        "{x}",
                        "("
                        + f"CASE WHEN b_employed = 0 THEN '{NONE}' WHEN {nace_ok} THEN substr(b_nace, 1, 2) ELSE '{UNKNOWN}' END"
                        + ")",
                    ),
                    tuple((s, label) for s, label, _ in NACE_SECTIONS) + _EMPLOYMENT_EXTRA,
                ),
            ),
            True,
        ),
        Variable(
            "employer_type",
            "employer type (organising authority of the main employer)",
            "employment.authority",
            (
                Scheme(
                    "authority_code",
                    0,
                    "organising-authority code (private = none)",
                    _AUTHORITY_CODE_SQL,
                    _authority_classes(),
                    coarsen_sql=_authority_group_sql("{x}"),
                ),
                Scheme(
                    "authority_group",
                    1,
                    "federal / regional / private",
                    _authority_group_sql(f"({_AUTHORITY_CODE_SQL})"),
                    (
                        *tuple((g, lbl) for g, lbl, _ in AUTHORITY_GROUPS),
                        ("other_public", "other public employer"),
                        ("private", "private employer"),
                        *_EMPLOYMENT_EXTRA,
                    ),
                ),
            ),
            True,
        ),
    ]
    out = {v.name: v for v in variables}
    for v in variables:
        for s in v.schemes:
            nxt = v.coarser(s.name)
            if nxt is not None and not s.coarsen_sql:
                raise InternalError(f"scheme {v.name}.{s.name} lacks its coarsening to {nxt.name}")
    return out


def scheme_sql(variable: Variable, scheme: Scheme) -> str:
    return scheme.base_sql.replace("{v}", variable.name)


def class_map(scheme: Scheme) -> Mapping[str, str]:
    return dict(scheme.classes)
