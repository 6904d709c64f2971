"""A straightforward plain-Python reference for ``herkomst.origin`` (the test oracle).

It works person by person on dictionaries, independently of the SQL. For ``eu15`` / ``eu`` it
decides the class by brute force over every way of filling in the unknown facts (each
individual whose status is unknown can turn out inside or outside), which is the definition
of the three-valued logic in docs/origin.md, rather than by the counting shortcut the SQL uses.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from herkomst.origin import MigrationRule

OUT, IN, UNK = 2, 1, 0


@dataclass(frozen=True)
class Person:
    ssin: str
    father: str | None = None
    mother: str | None = None
    birth_country: str | None = None
    registration_date: dt.date | None = None


@dataclass(frozen=True)
class Facts:
    found: bool
    linked_father: bool
    linked_mother: bool
    cur: str | None
    first: str | None
    acq: dt.date | None


@dataclass(frozen=True)
class Sets:
    eu15: frozenset[str]
    eu: frozenset[str]
    classes: Mapping[str, str]
    groups: Mapping[str, str]


class Reference:
    def __init__(
        self,
        persons: Sequence[Person],
        nationalities: Sequence[tuple[str, str, dt.date]],
        reference_date: dt.date,
        sets: Sets,
        migration: Sequence[MigrationRule],
    ) -> None:
        self.persons = {p.ssin: p for p in persons}
        self.rows: dict[str, list[tuple[dt.date, str]]] = {}
        for ssin, code, date in nationalities:
            self.rows.setdefault(ssin, []).append((date, code))
        self.ref = reference_date
        self.sets = sets
        self.migration = migration

    # -- facts ------------------------------------------------------------------------------
    def facts(self, ssin: str | None) -> Facts | None:
        """None = not a linked person (no SSIN or an SSIN not in persons)."""
        if ssin is None or ssin not in self.persons:
            return None
        p = self.persons[ssin]
        rows = sorted(self.rows.get(ssin, []))
        first = rows[0][1] if rows else None
        upto = [r for r in rows if r[0] <= self.ref]
        cur = upto[-1][1] if upto else None
        acq = None
        non_be = [d for d, c in upto if c != "BE"]
        if non_be:
            later_be = [d for d, c in upto if c == "BE" and d > non_be[0]]
            acq = later_be[0] if later_be else None
        return Facts(
            found=True,
            linked_father=p.father is not None and p.father in self.persons,
            linked_mother=p.mother is not None and p.mother in self.persons,
            cur=cur,
            first=first,
            acq=acq,
        )

    def _status(self, f: Facts | None, members: frozenset[str]) -> int:
        if f is None:
            return UNK
        known = [c for c in (f.cur, f.first) if c is not None]
        if any(c not in members for c in known):
            return OUT
        if f.cur is not None and f.first is not None:
            return IN
        return UNK

    # -- one person -------------------------------------------------------------------------
    def classify(self, ssin: str) -> dict[str, object]:
        me = self.facts(ssin)
        p = self.persons.get(ssin)
        dad = self.facts(p.father) if p else None
        mum = self.facts(p.mother) if p else None
        gps: list[Facts | None] = []
        for parent_ssin in (p.father, p.mother) if p else (None, None):
            pp = self.persons.get(parent_ssin) if parent_ssin is not None else None
            gps += [self.facts(pp.father), self.facts(pp.mother)] if pp else [None, None]
        res: dict[str, object] = {"ssin": ssin}
        for name, members in (("eu15", self.sets.eu15), ("eu", self.sets.eu)):
            res[name], res[f"{name}_trail"] = self._seed(me, dad, mum, gps, members)
        res["flanders2016"], res["flanders2016_trail"] = self._flanders(me, dad, mum)
        res["statbel"], res["statbel_trail"] = self._statbel(me, dad, mum)
        no = self._national_origin(me, dad, mum)
        res.update(no)
        res["migration_background"], res["migration_background_trail"] = self._migration(
            me, dad, mum, p, no["national_origin"]
        )
        res.update(
            {
                "fact_current_nationality": me.cur if me else None,
                "fact_first_nationality": me.first if me else None,
                "fact_father_first_nationality": dad.first if dad else None,
                "fact_mother_first_nationality": mum.first if mum else None,
                "fact_birth_country": p.birth_country if p else None,
                "fact_registration_year": p.registration_date.year
                if p and p.registration_date
                else None,
                "fact_acquisition_year": me.acq.year if me and me.acq else None,
            }
        )
        return res

    # -- eu15 / eu: brute force over completions ----------------------------------------------
    def _seed(
        self,
        me: Facts | None,
        dad: Facts | None,
        mum: Facts | None,
        gps: list[Facts | None],
        members: frozenset[str],
    ) -> tuple[str, str]:
        statuses = [self._status(x, members) for x in (me, dad, mum, *gps)]
        options = [[s] if s != UNK else [IN, OUT] for s in statuses]
        verdicts = set()
        for world in itertools.product(*options):
            s, f, m, *g = world
            verdicts.add(s == OUT or f == OUT or m == OUT or sum(x == OUT for x in g) >= 2)
        g = statuses[3:]
        counts = ", ".join(
            f"{n} {label}"
            for n, label in (
                (sum(x == OUT for x in g), "outside"),
                (sum(x == IN for x in g), "inside"),
                (sum(x == UNK for x in g), "unknown"),
            )
            if n
        )
        if verdicts == {True}:
            for who, f in (("self", me), ("father", dad), ("mother", mum)):
                if f is None:
                    continue
                if f.cur is not None and f.cur not in members:
                    return "outside", f"{who}.current_nationality={f.cur}"
                if f.first is not None and f.first not in members:
                    return "outside", f"{who}.first_nationality={f.first}"
            return "outside", f"grandparents: {counts}"
        if verdicts == {False}:
            return "inside", f"self, father and mother inside; grandparents: {counts}"
        if statuses[0] == UNK:
            return "unknown_parents", self._self_reason(me)
        for who, f, s in (("father", dad, statuses[1]), ("mother", mum, statuses[2])):
            if s == UNK:
                return "unknown_parents", self._parent_reason(who, f, first_only=False)
        return "unknown_grandparents", f"grandparents: {counts}"

    @staticmethod
    def _self_reason(me: Facts | None) -> str:
        if me is None:
            return "self: not in persons"
        if me.first is None:
            return "self: no nationality known"
        return "self: no nationality in force on the reference date"

    @staticmethod
    def _parent_reason(who: str, f: Facts | None, first_only: bool) -> str:
        if f is None:
            return f"{who}: not linked"
        if f.first is None:
            return f"{who}: no nationality known"
        assert not first_only
        return f"{who}: no nationality in force on the reference date"

    # -- flanders2016 / statbel -----------------------------------------------------------------
    @staticmethod
    def _non_be(me: Facts | None, dad: Facts | None, mum: Facts | None) -> list[tuple[str, str]]:
        """Known non-Belgian facts, in the order of the definitions."""
        out = []
        for label, value in (
            ("self.current_nationality", me.cur if me else None),
            ("self.first_nationality", me.first if me else None),
            ("father.first_nationality", dad.first if dad else None),
            ("mother.first_nationality", mum.first if mum else None),
        ):
            if value is not None and value != "BE":
                out.append((label, value))
        return out

    def _parents_unknown(self, dad: Facts | None, mum: Facts | None) -> str:
        if dad is None or dad.first is None:
            return self._parent_reason("father", dad, first_only=True)
        return self._parent_reason("mother", mum, first_only=True)

    def _flanders(self, me: Facts | None, dad: Facts | None, mum: Facts | None) -> tuple[str, str]:
        proofs = self._non_be(me, dad, mum)
        if proofs:
            return "with_background", f"{proofs[0][0]}={proofs[0][1]}"
        if me and me.cur == "BE" and dad and dad.first == "BE" and mum and mum.first == "BE":
            return "without_background", "self BE now and born BE; father and mother born BE"
        if me is None or me.cur is None:
            return "unknown_nationality", self._self_reason(me)
        return "unknown_parents", self._parents_unknown(dad, mum)

    def _statbel(self, me: Facts | None, dad: Facts | None, mum: Facts | None) -> tuple[str, str]:
        if me and me.cur is not None and me.cur != "BE":
            return "non_belgian", f"self.current_nationality={me.cur}"
        if me is None or me.cur is None:
            return "unknown", self._self_reason(me)
        proofs = self._non_be(me, dad, mum)
        if proofs:
            return "foreign_background", f"{proofs[0][0]}={proofs[0][1]}"
        if dad and dad.first == "BE" and mum and mum.first == "BE":
            return "belgian_background", "self BE now and born BE; father and mother born BE"
        return "unknown", self._parents_unknown(dad, mum)

    # -- national origin ----------------------------------------------------------------------
    def _national_origin(
        self, me: Facts | None, dad: Facts | None, mum: Facts | None
    ) -> dict[str, object]:
        candidates = [
            ("father.first_nationality", dad.first if dad else None),
            ("mother.first_nationality", mum.first if mum else None),
            ("self.first_nationality", me.first if me else None),
            ("self.current_nationality", me.cur if me else None),
        ]
        code: str | None = None
        klass: str
        for label, value in candidates:
            if value is not None and value != "BE":
                code, klass, trail = value, self.sets.classes[value], f"{label}={value}"
                break
        else:
            cur = me.cur if me else None
            parents_be = bool(dad and dad.first == "BE" and mum and mum.first == "BE")
            if cur == "BE" and parents_be:
                code, klass = "BE", "BE"
                trail = "self BE now and born BE; father and mother born BE"
            elif cur == "BE":
                klass = "NOT_ASSIGNABLE"
                trail = "born BE; " + self._parents_unknown(dad, mum)
            else:
                klass = "UNDETERMINED"
                trail = self._self_reason(me)
        return {
            "national_origin": code,
            "national_origin_class": klass,
            "national_origin_group": self.sets.groups[klass],
            "national_origin_trail": trail,
        }

    # -- migration background ------------------------------------------------------------------
    def _migration(
        self,
        me: Facts | None,
        dad: Facts | None,
        mum: Facts | None,
        p: Person | None,
        origin: object,
    ) -> tuple[str, str]:
        def be(code: str | None) -> str:
            return "unknown" if code is None else ("BE" if code == "BE" else "non_BE")

        cur = me.cur if me else None
        first = me.first if me else None
        firsts = [dad.first if dad else None, mum.first if mum else None]
        if any(c is not None and c != "BE" for c in firsts):
            parents = "any_non_BE"
        elif all(c == "BE" for c in firsts):
            parents = "all_BE"
        else:
            parents = "unknown"
        if origin is None:
            area = "unknown"
        elif origin == "BE":
            area = "BE"
        else:
            area = "EU" if origin in self.sets.eu else "non_EU"
        bc = p.birth_country if p else None
        birth = "unknown" if bc is None else ("BE" if bc == "BE" else "abroad")
        year = self.ref.year
        acq = year - me.acq.year if me and me.acq else None
        reg = year - p.registration_date.year if p and p.registration_date else None
        feats = {
            "now": be(cur),
            "born": be(first),
            "parents_born": parents,
            "origin_area": area,
            "birth_country": birth,
        }
        for rule in self.migration:
            if any(feats[k] != v for k, v in rule.conditions.items()):
                continue
            if rule.years_of:
                y = acq if rule.years_of == "acquisition" else reg
                if y is None:
                    continue
                if rule.min_years is not None and y < rule.min_years:
                    continue
                if rule.max_years is not None and y > rule.max_years:
                    continue
            break
        else:  # pragma: no cover - the table ends with a catch-all
            raise AssertionError("no migration rule matched")

        def yrs(v: int | None) -> str:
            return "unknown" if v is None else str(v)

        trail = (
            f"rule {rule.order}: now={feats['now']}, born={feats['born']},"
            f" parents_born={parents}, origin={area}, birth_country={birth},"
            f" years since acquisition={yrs(acq)}, years since registration={yrs(reg)}"
        )
        return rule.category, trail


# -- helpers shared by the origin tests ----------------------------------------------------------

PERSONS_DDL = (
    "CREATE OR REPLACE TABLE persons (ssin VARCHAR, sex VARCHAR, birth_date DATE,"
    " birth_country VARCHAR, father_ssin VARCHAR, mother_ssin VARCHAR, registration_date DATE)"
)
NATIONALITIES_DDL = (
    "CREATE OR REPLACE TABLE nationalities (ssin VARCHAR, nationality VARCHAR, valid_from DATE)"
)


def load_register(
    engine: object,
    persons: Sequence[Person],
    nationalities: Sequence[tuple[str, str, dt.date]],
) -> None:
    """Put a small register into ``engine`` as the validated tables (via Arrow)."""
    import pyarrow as pa

    from herkomst.engine import Engine

    assert isinstance(engine, Engine)
    ptab = pa.table(
        {
            "ssin": pa.array([p.ssin for p in persons], pa.string()),
            "sex": pa.array(["M"] * len(persons), pa.string()),
            "birth_date": pa.array([None] * len(persons), pa.date32()),
            "birth_country": pa.array([p.birth_country for p in persons], pa.string()),
            "father_ssin": pa.array([p.father for p in persons], pa.string()),
            "mother_ssin": pa.array([p.mother for p in persons], pa.string()),
            "registration_date": pa.array([p.registration_date for p in persons], pa.date32()),
        }
    )
    ntab = pa.table(
        {
            "ssin": pa.array([n[0] for n in nationalities], pa.string()),
            "nationality": pa.array([n[1] for n in nationalities], pa.string()),
            "valid_from": pa.array([n[2] for n in nationalities], pa.date32()),
        }
    )
    engine.register("_in_persons", ptab)
    engine.register("_in_nationalities", ntab)
    engine.execute(PERSONS_DDL)
    engine.execute(NATIONALITIES_DDL)
    engine.execute("INSERT INTO persons SELECT * FROM _in_persons")
    engine.execute("INSERT INTO nationalities SELECT * FROM _in_nationalities")


def sets_for(rules: object, eu_date: dt.date) -> Sets:
    from herkomst.origin import CountryRules
    from herkomst.rules import RuleSet

    assert isinstance(rules, RuleSet)
    cr = CountryRules.from_rules(rules, eu_date)
    return Sets(eu15=cr.eu15, eu=cr.eu, classes=cr.classes, groups=cr.groups)
