"""The authorization of a pseudonymised extract, as data (``rules/authorization_<id>.toml``).

Same concepts as :mod:`herkomst.authorization` (id, version, title, legal basis, date,
recipient, purpose, an age range, a clause per section, a SHA-256 in every manifest), for the
other kind of delivery: person-level, pseudonymised microdata for research (seed 001). The file
names the period, the populations (by organising-authority codes), the largest sample per
population and the sample designs, the pseudonym method, the retention end and, per variable,
the finest class scheme allowed.

:func:`load_extract_authorization` validates the file and fails closed (:class:`RuleError`);
the ``check_*`` methods refuse what the authorization does not allow
(:class:`AuthorizationError`, naming the clause).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import AuthorizationError, RuleError, UsageError
from ..rules import RuleSet
from ..rules._toml import authorization_path, no_unknown, read_toml, req, section
from ._catalog import Scheme, Variable, build_catalog

DEFAULT_EXTRACT_AUTHORIZATION = "23-224"


class AuthorityRule(StrEnum):
    IN = "in"  # the organising-authority code is one of ``codes``
    NOT_IN = "not_in"  # a code that is not one of ``codes``
    NULL = "null"  # no organising authority: a private employer


class SampleDesign(StrEnum):
    SIMPLE = "simple"
    STRATIFIED_SEX_AGE = "stratified_sex_age"
    STRATIFIED_FIRST_YEAR = "stratified_first_year"


@dataclass(frozen=True)
class PopulationRule:
    name: str
    rule: AuthorityRule
    codes: tuple[str, ...]
    clause: str

    def predicate(self, column: str = "authority") -> str:
        """SQL: does a job with this organising authority belong to the population?"""
        codes = ", ".join(f"'{c}'" for c in self.codes)
        if self.rule is AuthorityRule.NULL:
            return f"({column} IS NULL)"
        if self.rule is AuthorityRule.IN:
            return f"({column} IN ({codes}))"
        return f"({column} IS NOT NULL AND {column} NOT IN ({codes}))"


@dataclass(frozen=True)
class VariableGrant:
    name: str
    finest: str
    clause: str


@dataclass(frozen=True)
class ExtractAuthorization:
    """A validated authorization for pseudonymised extracts (e.g. deliberation 23/224)."""

    id: str
    version: str
    title: str
    legal_basis: str
    date: str
    recipient: str
    purpose: str
    first_year: int
    last_year: int
    period_clause: str
    age_min: int
    age_max: int
    ages_clause: str
    populations: Mapping[str, PopulationRule]
    sample_max: int
    designs: tuple[SampleDesign, ...]
    sample_clause: str
    pseudonym_method: str
    pseudonym_clause: str
    retention_end: dt.date
    retention_clause: str
    variables: Mapping[str, VariableGrant]
    path: Path
    sha256: str

    # -- refusals -----------------------------------------------------------------------
    def population(self, name: str) -> PopulationRule:
        if name not in self.populations:
            raise AuthorizationError(
                f"authorization {self.id} ([population]) does not define the population "
                f"'{name}' (allowed: {', '.join(self.populations)})"
            )
        return self.populations[name]

    def check_sample(self, size: int, design: SampleDesign | str) -> None:
        if size > self.sample_max:
            raise AuthorizationError(
                f"authorization {self.id} ([sample] max_persons, {self.sample_clause}) allows "
                f"at most {self.sample_max} persons per population; {size} asked: ask for "
                f"--sample {self.sample_max} or less"
            )
        if str(design) not in {d.value for d in self.designs}:
            raise AuthorizationError(
                f"authorization {self.id} ([sample] designs, {self.sample_clause}) does not "
                f"allow the design '{design}' (allowed: {', '.join(self.designs)})"
            )

    def check_years(self, first: int, last: int) -> None:
        if first < self.first_year or last > self.last_year or first > last:
            raise AuthorizationError(
                f"authorization {self.id} ([period], {self.period_clause}) allows the years "
                f"{self.first_year}-{self.last_year}; {first}-{last} asked"
            )

    def check_date(self, on: dt.date, what: str = "a delivery", end: dt.date | None = None) -> None:
        """Refuse ``on`` after the retention end (``end``: an extension's, when recorded)."""
        limit = end or self.retention_end
        if on > limit:
            raise AuthorizationError(
                f"authorization {self.id} ([retention] end, {self.retention_clause}): "
                f"{what} on {on.isoformat()} is after the retention end "
                f"{limit.isoformat()}; record an extension decision first"
            )

    def resolve_variables(
        self, asked: Mapping[str, str | None] | None, rules: RuleSet | None = None
    ) -> list[tuple[Variable, Scheme, VariableGrant]]:
        """The variables to deliver with their schemes; None = every granted one, finest."""
        catalog = build_catalog(rules or RuleSet())
        wanted: Mapping[str, str | None] = (
            asked if asked is not None else dict.fromkeys(self.variables)
        )
        out: list[tuple[Variable, Scheme, VariableGrant]] = []
        for name, scheme_name in wanted.items():
            if name not in catalog:
                raise UsageError(f"unknown extract variable '{name}' (known: {', '.join(catalog)})")
            if name not in self.variables:
                raise AuthorizationError(
                    f"authorization {self.id} ([variables], point 4) does not allow the "
                    f"variable '{name}' (allowed: {', '.join(self.variables)})"
                )
            var, grant = catalog[name], self.variables[name]
            finest = var.scheme(grant.finest)
            if scheme_name is None:
                scheme = finest
            else:
                try:
                    scheme = var.scheme(scheme_name)
                except KeyError:
                    raise UsageError(
                        f"variable '{name}' has no class scheme '{scheme_name}' "
                        f"(schemes: {', '.join(s.name for s in var.schemes)})"
                    ) from None
            if scheme.rank < finest.rank:
                raise AuthorizationError(
                    f"authorization {self.id} ([variables.{name}] finest, {grant.clause}) "
                    f"allows '{name}' in '{finest.name}' or coarser; '{scheme.name}' is finer"
                )
            out.append((var, scheme, grant))
        return out

    def provenance(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "legal_basis": self.legal_basis,
            "date": self.date,
            "recipient": self.recipient,
            "purpose": self.purpose,
            "retention_end": self.retention_end.isoformat(),
            "file": self.path.name,
            "sha256": self.sha256,
        }


# -- loading --------------------------------------------------------------------------------


def load_extract_authorization(
    name_or_path: str | Path = DEFAULT_EXTRACT_AUTHORIZATION,
    rules_dir: Path | None = None,
    rules: RuleSet | None = None,
) -> ExtractAuthorization:
    """Load and validate an extract authorization by id (``23-224``) or path; fail closed."""
    path = authorization_path(name_or_path, rules_dir)
    data, raw = read_toml(path)
    w = path.name
    top = {"id", "version", "kind", "title", "legal_basis", "date", "recipient", "purpose"}
    sections = {"period", "ages", "population", "sample", "pseudonym", "retention", "variables"}
    sections |= {"enclave", "output_checking"}  # phase 2: validated by herkomst.enclave.rules
    no_unknown(data, top | sections, w)
    if req(data, "kind", str, w) != "pseudonymised_extract":
        raise RuleError(f"{w}: kind must be 'pseudonymised_extract' for an extract authorization")
    period = section(data, "period", {"first_year", "last_year", "clause"}, w)
    ages = section(data, "ages", {"min", "max", "clause"}, w)
    sample = section(data, "sample", {"max_persons", "designs", "clause"}, w)
    pseudo = section(data, "pseudonym", {"method", "clause"}, w)
    retention = section(data, "retention", {"end", "clause"}, w)
    pops_raw = req(data, "population", dict, w)
    pops: dict[str, PopulationRule] = {}
    for name, sect in pops_raw.items():
        pw = f"{w} [population.{name}]"
        if not isinstance(sect, dict):
            raise RuleError(f"{pw}: a table expected")
        no_unknown(sect, {"rule", "codes", "clause"}, pw)
        try:
            rule = AuthorityRule(req(sect, "rule", str, pw))
        except ValueError:
            raise RuleError(f"{pw}: rule must be in, not_in or null") from None
        codes = req(sect, "codes", list, pw)
        if not all(isinstance(c, str) and c for c in codes):
            raise RuleError(f"{pw}: codes must be a list of strings")
        if (rule is AuthorityRule.NULL) != (not codes):
            raise RuleError(f"{pw}: rule 'null' takes no codes, the other rules need codes")
        pops[name] = PopulationRule(name, rule, tuple(codes), req(sect, "clause", str, pw))
    if not pops:
        raise RuleError(f"{w}: no [population.*] section")
    catalog = build_catalog(rules or RuleSet())
    grants: dict[str, VariableGrant] = {}
    for name, sect in req(data, "variables", dict, w).items():
        vw = f"{w} [variables.{name}]"
        if name not in catalog:
            raise RuleError(f"{vw}: unknown variable (known: {', '.join(catalog)})")
        if not isinstance(sect, dict):
            raise RuleError(f"{vw}: a table expected")
        no_unknown(sect, {"finest", "clause"}, vw)
        finest = req(sect, "finest", str, vw)
        if finest not in {s.name for s in catalog[name].schemes}:
            raise RuleError(f"{vw}: unknown scheme '{finest}'")
        grants[name] = VariableGrant(name, finest, req(sect, "clause", str, vw))
    if not grants:
        raise RuleError(f"{w}: no [variables.*] section")
    designs_raw = req(sample, "designs", list, f"{w} [sample]")
    try:
        designs = tuple(SampleDesign(d) for d in designs_raw)
    except ValueError:
        raise RuleError(f"{w} [sample]: designs must be among {', '.join(SampleDesign)}") from None
    end = req(retention, "end", dt.date, f"{w} [retention]")
    method = req(pseudo, "method", str, f"{w} [pseudonym]")
    if method != "random_permutation":
        raise RuleError(f"{w} [pseudonym]: method must be 'random_permutation'")
    auth = ExtractAuthorization(
        id=req(data, "id", str, w),
        version=req(data, "version", str, w),
        title=req(data, "title", str, w),
        legal_basis=req(data, "legal_basis", str, w),
        date=str(req(data, "date", (dt.date, str), w)),
        recipient=req(data, "recipient", str, w),
        purpose=req(data, "purpose", str, w),
        first_year=req(period, "first_year", int, f"{w} [period]"),
        last_year=req(period, "last_year", int, f"{w} [period]"),
        period_clause=req(period, "clause", str, f"{w} [period]"),
        age_min=req(ages, "min", int, f"{w} [ages]"),
        age_max=req(ages, "max", int, f"{w} [ages]"),
        ages_clause=req(ages, "clause", str, f"{w} [ages]"),
        populations=pops,
        sample_max=req(sample, "max_persons", int, f"{w} [sample]"),
        designs=designs,
        sample_clause=req(sample, "clause", str, f"{w} [sample]"),
        pseudonym_method=method,
        pseudonym_clause=req(pseudo, "clause", str, f"{w} [pseudonym]"),
        retention_end=end,
        retention_clause=req(retention, "clause", str, f"{w} [retention]"),
        variables=grants,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
    if auth.first_year > auth.last_year:
        raise RuleError(f"{w} [period]: first_year > last_year")
    if not 0 <= auth.age_min <= auth.age_max:
        raise RuleError(f"{w} [ages]: need 0 <= min <= max")
    if auth.sample_max < 1:
        raise RuleError(f"{w} [sample]: max_persons must be at least 1")
    return auth
