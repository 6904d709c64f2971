"""Authorizations as data: who may receive which tables, and under which protection.

An authorization file (``rules/authorization_<id>.toml``) names the purpose, the legal basis,
the definitions, variables, breakdowns and scopes allowed, and one section per audience kind:

- ``service``: the diversity service, every cell exact;
- ``entity``: the leading official of one entity (audience ``entity:<code>``), that entity's
  cells exact; the release is personal data, not anonymous;
- ``public``: anyone; small entities withheld, small counts labelled, complementary
  suppression, and the requirement the audit checks.

:func:`load_authorization` validates the file and fails closed (:class:`RuleError`);
:meth:`Authorization.check` refuses a delivery the authorization does not allow
(:class:`AuthorizationError`, naming the clause).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import AuthorizationError, RuleError, UsageError
from .rules._toml import authorization_path, no_unknown, read_toml, req

DEFAULT_AUTHORIZATION = "13-71"


class AudienceKind(StrEnum):
    SERVICE = "service"
    ENTITY = "entity"
    PUBLIC = "public"


@dataclass(frozen=True)
class Audience:
    """A parsed audience: ``service``, ``public`` or ``entity:<code>``."""

    kind: AudienceKind
    entity: str | None = None

    def __post_init__(self) -> None:
        if (self.kind is AudienceKind.ENTITY) != (self.entity is not None):
            raise UsageError("an entity audience needs an entity code, other audiences none")

    @classmethod
    def parse(cls, text: str) -> Audience:
        kind, _, rest = text.partition(":")
        try:
            k = AudienceKind(kind.strip())
        except ValueError:
            raise UsageError(
                f"unknown audience '{text}': use service, public or entity:<code>"
            ) from None
        if k is AudienceKind.ENTITY:
            if not rest.strip():
                raise UsageError(
                    "audience 'entity' needs a code: entity:<code>, e.g. entity:OMG-VMM"
                )
            return cls(k, rest.strip())
        if rest:
            raise UsageError(f"audience '{text}': only entity audiences take a code")
        return cls(k)

    def __str__(self) -> str:
        return self.kind.value if self.entity is None else f"entity:{self.entity}"

    @property
    def slug(self) -> str:
        """A file-name-safe form (``entity-OMG-VMM``)."""
        return str(self).replace(":", "-").replace("/", "_")


@dataclass(frozen=True)
class Requirement:
    """What the audit demands of a public release."""

    small_full_range: bool = True
    withheld_not_pinned: bool = True
    withheld_small_full_range: bool = True
    zero_pinned_is_disclosure: bool = False
    attackers: tuple[str, ...] = ("public", "insider")

    def __post_init__(self) -> None:
        bad = [a for a in self.attackers if a not in ("public", "insider")]
        if bad:
            raise RuleError(
                f"requirement.attackers: unknown attacker(s) {bad}; use public, insider"
            )


@dataclass(frozen=True)
class PublicRules:
    """The protection rules of the public audience."""

    min_entity_size: int = 50
    small_count_min: int = 1
    small_count_max: int = 4
    small_label: str = "1-5"
    small_label_nl: str = "een tot vijf"
    suppressed_label: str = "x"
    suppressed_label_nl: str = "x (verborgen)"
    zeros_sensitive: bool = False
    hide_small_percent: bool = True
    percent_needs_published_total: bool = True
    never_suppress: tuple[str, ...] = ("administration_total",)
    requirement: Requirement = Requirement()
    # A breakdown (other than ``total``) whose published cells are mostly small counts is
    # close to microdata: with more than this share of its non-zero cells from
    # small_count_min to small_count_max it is withheld from the public at every scope for
    # that year (1.0: never).
    max_small_share: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.small_count_min <= self.small_count_max:
            raise RuleError("public: need 1 <= small_count_min <= small_count_max")
        if self.min_entity_size < 0:
            raise RuleError("public: min_entity_size must be >= 0")
        if self.small_label == self.suppressed_label:
            raise RuleError("public: small_label and suppressed_label must differ")
        if not 0.0 < self.max_small_share <= 1.0:
            raise RuleError("public: max_small_share must be > 0 and <= 1")
        unknown = set(self.never_suppress) - {"administration_total"}
        if unknown:
            raise RuleError(f"public.never_suppress: unknown item(s) {sorted(unknown)}")

    @property
    def hidden_lower(self) -> int:
        """What an ``x`` cell means to an attacker who knows the rules: 0 or at least this.

        Zeros are never complementary suppressions when zeros are not sensitive, so a plain
        hidden cell is then at least ``small_count_max + 1``; with sensitive zeros it is
        only known to be at least 0 (the convex hull of {0} and [5, inf)).
        """
        return 0 if self.zeros_sensitive else self.small_count_max + 1


@dataclass(frozen=True)
class AudienceRules:
    kind: AudienceKind
    description: str
    exact: bool
    personal_data: bool
    clause: str
    personal_data_note: str = ""


@dataclass(frozen=True)
class Authorization:
    """A validated authorization (e.g. advice 13/71)."""

    id: str
    version: str
    title: str
    legal_basis: str
    date: str
    recipient: str
    purpose: str
    age_min: int
    age_max: int
    definitions: tuple[str, ...]
    variables: tuple[str, ...]
    breakdowns: tuple[str, ...]
    scopes: tuple[str, ...]
    origins: tuple[str, ...]
    audiences: dict[AudienceKind, AudienceRules]
    public: PublicRules
    path: Path
    sha256: str

    def audience_rules(self, audience: Audience) -> AudienceRules:
        if audience.kind not in self.audiences:
            raise AuthorizationError(
                f"authorization {self.id} does not allow the audience '{audience}' "
                f"(allowed: {', '.join(k.value for k in self.audiences)})"
            )
        return self.audiences[audience.kind]

    def check(
        self,
        audience: Audience,
        definitions: Iterable[str] = (),
        breakdowns: Iterable[str] = (),
        scopes: Iterable[str] = (),
    ) -> AudienceRules:
        """Refuse a delivery outside the authorization; return the audience's rules."""
        rules = self.audience_rules(audience)
        for what, asked, allowed in (
            ("definition", definitions, self.definitions),
            ("breakdown", breakdowns, self.breakdowns),
            ("scope", scopes, self.scopes),
        ):
            bad = sorted({a for a in asked if a not in allowed})
            if bad:
                raise AuthorizationError(
                    f"authorization {self.id} ([tables] {what}s, points 2-4) does not allow "
                    f"{what}(s) {', '.join(bad)} for audience '{audience}' "
                    f"(allowed: {', '.join(allowed)})"
                )
        return rules

    def provenance(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "legal_basis": self.legal_basis,
            "date": self.date,
            "purpose": self.purpose,
            "file": self.path.name,
            "sha256": self.sha256,
        }


def _strs(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = req(d, key, list, where)
    if not v or not all(isinstance(x, str) and x for x in v):
        raise RuleError(f"{where}: '{key}' must be a non-empty list of strings")
    return tuple(v)


def _public(d: dict[str, Any], where: str) -> PublicRules:
    fields = {
        "min_entity_size": int,
        "small_count_min": int,
        "small_count_max": int,
        "small_label": str,
        "small_label_nl": str,
        "suppressed_label": str,
        "suppressed_label_nl": str,
        "zeros_sensitive": bool,
        "hide_small_percent": bool,
        "percent_needs_published_total": bool,
    }
    kw: dict[str, Any] = {k: req(d, k, t, where) for k, t in fields.items()}
    kw["never_suppress"] = tuple(d.get("never_suppress", ()))
    if "max_small_share" in d:
        share = req(d, "max_small_share", (int, float), where)
        if isinstance(share, bool):
            raise RuleError(f"{where}: key 'max_small_share' has the wrong type (bool)")
        kw["max_small_share"] = float(share)
    rq = d.get("requirement", {})
    if not isinstance(rq, dict):
        raise RuleError(f"{where}.requirement: a table expected")
    rfields = {
        "small_full_range": bool,
        "withheld_not_pinned": bool,
        "withheld_small_full_range": bool,
        "zero_pinned_is_disclosure": bool,
    }
    no_unknown(rq, {*rfields, "attackers"}, f"{where}.requirement")
    rkw: dict[str, Any] = {k: req(rq, k, t, f"{where}.requirement") for k, t in rfields.items()}
    rkw["attackers"] = _strs(rq, "attackers", f"{where}.requirement")
    kw["requirement"] = Requirement(**rkw)
    return PublicRules(**kw)


def load_authorization(
    name_or_path: str | Path = DEFAULT_AUTHORIZATION, rules_dir: Path | None = None
) -> Authorization:
    """Load and validate an authorization by id (``13-71``) or file path; fail closed."""
    path = authorization_path(name_or_path, rules_dir)
    data, raw = read_toml(path)
    where = path.name
    top = {
        "id",
        "version",
        "title",
        "legal_basis",
        "date",
        "recipient",
        "purpose",
        "population",
        "tables",
        "audience",
    }
    no_unknown(data, top, where)
    date = req(data, "date", (_dt.date, str), where)
    pop = req(data, "population", dict, where)
    tables = req(data, "tables", dict, where)
    no_unknown(
        tables,
        {"definitions", "variables", "breakdowns", "scopes", "origins", "statistics"},
        f"{where} [tables]",
    )
    aud = req(data, "audience", dict, where)
    audiences: dict[AudienceKind, AudienceRules] = {}
    public = PublicRules()
    for key, sect in aud.items():
        w = f"{where} [audience.{key}]"
        try:
            kind = AudienceKind(key)
        except ValueError:
            raise RuleError(f"{w}: unknown audience kind (use service, entity, public)") from None
        if not isinstance(sect, dict):
            raise RuleError(f"{w}: a table expected")
        common = {"description", "exact", "personal_data", "clause", "personal_data_note"}
        if kind is AudienceKind.PUBLIC:
            no_unknown(sect, common | set(PublicRules.__dataclass_fields__), w)
            public = _public(sect, w)
        else:
            no_unknown(sect, common, w)
        audiences[kind] = AudienceRules(
            kind=kind,
            description=req(sect, "description", str, w),
            exact=req(sect, "exact", bool, w),
            personal_data=req(sect, "personal_data", bool, w),
            clause=req(sect, "clause", str, w),
            personal_data_note=str(sect.get("personal_data_note", "")),
        )
        if kind is AudienceKind.PUBLIC and audiences[kind].exact:
            raise RuleError(f"{w}: the public audience cannot receive exact cells")
    if not audiences:
        raise RuleError(f"{where}: no [audience.*] section")
    auth = Authorization(
        id=req(data, "id", str, where),
        version=req(data, "version", str, where),
        title=req(data, "title", str, where),
        legal_basis=req(data, "legal_basis", str, where),
        date=str(date),
        recipient=req(data, "recipient", str, where),
        purpose=req(data, "purpose", str, where),
        age_min=req(pop, "age_min", int, f"{where} [population]"),
        age_max=req(pop, "age_max", int, f"{where} [population]"),
        definitions=_strs(tables, "definitions", f"{where} [tables]"),
        variables=_strs(tables, "variables", f"{where} [tables]"),
        breakdowns=_strs(tables, "breakdowns", f"{where} [tables]"),
        scopes=_strs(tables, "scopes", f"{where} [tables]"),
        origins=_strs(tables, "origins", f"{where} [tables]"),
        audiences=audiences,
        public=public,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
    if auth.age_min > auth.age_max:
        raise RuleError(f"{where} [population]: age_min > age_max")
    return auth
