"""Writing a release folder: cells.parquet, cells.csv, the workbook, manifest.json.

:func:`write_release` takes any cell relation in the contract's long layout, exact (audience
``service``) or protected (issue 5: ``count``/``percent`` null, ``shown`` ``1-5`` or ``x``,
another ``status``), and writes the four files of ``docs/tables.md``:

- ``cells.parquet`` and ``cells.csv``: the cells in the documented order; byte-identical for
  the same cells (no timestamp, fixed formatting);
- ``tabellen.xlsx``: one sheet per table family (definition x breakdown), titles and notes in
  Dutch, the workbook's creation date set to the generation date so the file is
  byte-identical too;
- ``manifest.json``: the caller's sections (inputs, rules, accounting, protection, ...) plus
  the audience and the SHA-256 and size of every file written.

Before writing, the cells are checked so that nothing masked leaks: a masked cell must have
a null count and percent; every key identifies one cell.

:func:`build_tables` is the library entry behind ``herkomst tables``: population -> origin
-> cells -> release, with the per-year cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xlsxwriter

from .audit import AuditResult, without_timings, write_audit
from .authorization import Audience, AudienceKind, Authorization, load_authorization
from .engine import Engine
from .errors import AuthorizationError, InternalError, UsageError
from .ledger import Ledger
from .origin import DEFAULT_DEFINITIONS, EU15_DATE
from .protect import protect_public
from .rules import RuleSet
from .tabulate import (
    BREAKDOWNS,
    CELL_COLUMNS,
    CONTRACT_COLUMNS,
    EXCLUSIONS,
    IN_TABLE_NOTES,
    LEVELS,
    POSITIONS,
    REGIMES,
    SCOPES,
    SEXES,
    VARIABLES,
    CellsResult,
    OriginStep,
    TableParams,
    age_order_key,
    compute_cells,
    origin_rank,
    software_version,
    sort_cells,
)

RELEASE_FORMAT = "herkomst-release/1"
CELLS_PARQUET = "cells.parquet"
CELLS_CSV = "cells.csv"
WORKBOOK = "tabellen.xlsx"
MANIFEST = "manifest.json"
SERVICE = "service"


class CellStatus(StrEnum):
    """Why a cell shows what it shows."""

    PUBLISHED = "published"  # the exact count and percentage
    MASKED_PRIMARY = "masked_primary"  # small count (shown as a label such as 1-5)
    MASKED_SECONDARY = "masked_secondary"  # complementary suppression (shown as x)


MASKED: frozenset[str] = frozenset({CellStatus.MASKED_PRIMARY, CellStatus.MASKED_SECONDARY})

# -- Dutch labels ------------------------------------------------------------------------

DEFINITION_NL: dict[str, str] = {
    "eu15": "EU-15",
    "eu": "EU",
    "flanders2016": "Vlaamse overheid 2016",
    "statbel": "Statbel",
    "national_origin": "nationale herkomst",
    "migration_background": "migratieachtergrond",
}
DEFINITION_SHEET: dict[str, str] = {
    "eu15": "EU-15",
    "eu": "EU",
    "flanders2016": "VO2016",
    "statbel": "Statbel",
    "national_origin": "Nat.herkomst",
    "migration_background": "Migratie",
}
BREAKDOWN_NL: dict[str, str] = {
    "total": "totaal",
    "sex": "geslacht",
    "age_class": "leeftijdsklasse",
    "level": "niveau",
    "position": "beroepspositie",
    "regime": "arbeidsregime",
    "all": "combinatie",
}
BREAKDOWN_SHEET: dict[str, str] = {
    "total": "totaal",
    "sex": "geslacht",
    "age_class": "leeftijd",
    "level": "niveau",
    "position": "positie",
    "regime": "regime",
    "all": "combinatie",
}
VARIABLE_HEADER: dict[str, str] = {
    "sex": "Geslacht",
    "age_class": "Leeftijdsklasse",
    "level": "Niveau",
    "position": "Beroepspositie",
    "regime": "Arbeidsregime",
}
CATEGORY_NL: dict[str, dict[str, str]] = {
    "sex": {"M": "man", "F": "vrouw", "unknown": "niet gekend"},
    "level": {"A": "A", "B": "B", "C": "C", "D": "D", "unknown": "niet gekend"},
    "position": {"statutory": "statutair", "contractual": "contractueel", "unknown": "niet gekend"},
    "regime": {"full_time": "voltijds", "part_time": "deeltijds", "unknown": "niet gekend"},
}
SCOPE_NL: dict[str, str] = {
    "administration": "Vlaamse overheid",
    "policy_domain": "beleidsdomein",
    "entity": "entiteit",
}
ORIGIN_NL: dict[str, str] = {
    "unknown": "herkomst niet gekend",
    "unknown_parents": "niet gekend: ouders niet gekend",
    "unknown_grandparents": "niet gekend: grootouders niet gekend",
    "unknown_nationality": "niet gekend: nationaliteit niet gekend",
    "total": "totaal",
    "with_background": "met migratieachtergrond",
    "without_background": "zonder migratieachtergrond",
    "belgian_background": "Belg van Belgische herkomst",
    "foreign_background": "Belg van buitenlandse herkomst",
    "non_belgian": "niet-Belg",
}
ACCOUNTING_NL: dict[str, str] = {
    "personnel_rows": "rijen op de personeelslijst",
    "in_tables": "in de tabellen",
    "duplicated": "buiten de tabellen: dubbel op de personeelslijst",
    "entity_unknown": "buiten de tabellen: entiteit niet op de entiteitenlijst",
    "not_in_register": "buiten de tabellen: niet gevonden in het register",
    "no_birth_date": "buiten de tabellen: geen geboortedatum gekend",
    "out_of_age_range": "buiten de tabellen: buiten de leeftijdsgrenzen",
    "no_job_at_employer": "in de tabellen: geen job bij de werkgever van de entiteit (positie en regime niet gekend)",
    "worker_class_unknown": "in de tabellen: werknemersklasse niet gekend (positie niet gekend)",
    "regime_unknown": "in de tabellen: arbeidsregime niet gekend",
    "sex_unknown": "in de tabellen: geslacht niet gekend",
    "level_unknown": "in de tabellen: niveau niet gekend",
    "policy_domain_mismatch": "in de tabellen: beleidsdomein op de personeelslijst verschilt van de entiteitenlijst",
}
#: What a hidden cell shows in the workbook, by its ``shown`` text (override per release).
DEFAULT_SHOWN_NL: dict[str, str] = {"1-5": "één tot vijf", "x": "x"}
HIDDEN_PERCENT = "x"  # the percentage of a masked cell
NO_PERCENT = "-"  # the percentage of a row without anyone (total 0)


def origin_label(definition: str, origin: str) -> str:
    if origin in ("inside", "outside") and definition in ("eu15", "eu"):
        where = "binnen" if origin == "inside" else "buiten"
        return f"herkomst {where} de {DEFINITION_NL[definition]}"
    return ORIGIN_NL.get(origin, origin)


# -- the release -------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """A written release folder."""

    out_dir: Path
    audience: str
    files: Mapping[str, Path]
    manifest: Mapping[str, Any]
    rows: int


def write_release(
    engine: Engine,
    cells_relation: str,
    out_dir: Path,
    manifest: Mapping[str, Any],
    audience: str,
    *,
    shown_labels: Mapping[str, str] | None = None,
) -> Release:
    """Write ``cells_relation`` as a release folder for ``audience``.

    ``manifest`` holds the sections to record (at least ``generated_on``; usually
    ``definitions``, ``years``, ``inputs``, ``rules``, ``accounting``; issue 5 adds its
    protection summary and authorization). The writer adds ``audience``, ``release_format``
    and ``files`` (SHA-256 and size of each file) and writes ``manifest.json`` last.
    ``shown_labels`` maps a hidden cell's ``shown`` text to the workbook's Dutch label.
    """
    if not audience or audience != audience.strip() or "\n" in audience:
        raise UsageError(f"audience {audience!r} is not allowed: give e.g. 'service'")
    if "audience" in manifest and manifest["audience"] != audience:
        raise InternalError(f"manifest audience {manifest['audience']!r} is not {audience!r}")
    generated_on = _as_date(manifest.get("generated_on"), "manifest generated_on")
    columns = _check_cells(engine, cells_relation)
    definitions = _definitions(engine, cells_relation, manifest)
    ages = sorted(
        (
            str(r[0])
            for r in engine.rows(
                f'SELECT DISTINCT age_class FROM "{cells_relation}" WHERE age_class IS NOT NULL'
            )
        ),
        key=age_order_key,
    )
    select = ", ".join(f'"{c}"' for c in columns)
    table = sort_cells(engine.arrow(f'SELECT {select} FROM "{cells_relation}"'), definitions)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        CELLS_PARQUET: out_dir / CELLS_PARQUET,
        CELLS_CSV: out_dir / CELLS_CSV,
        WORKBOOK: out_dir / WORKBOOK,
        MANIFEST: out_dir / MANIFEST,
    }
    pq.write_table(table, files[CELLS_PARQUET], compression="zstd", write_statistics=True)
    _write_csv(table, files[CELLS_CSV])
    _write_workbook(
        engine,
        cells_relation,
        files[WORKBOOK],
        manifest,
        audience,
        generated_on,
        definitions,
        ages,
        {**DEFAULT_SHOWN_NL, **(shown_labels or {})},
    )
    statuses = dict(
        engine.rows(
            f'SELECT status, count(*) FROM "{cells_relation}" GROUP BY status ORDER BY status'
        )
    )
    written = {
        **dict(manifest),
        "audience": audience,
        "release_format": RELEASE_FORMAT,
        "cells": {
            "rows": table.num_rows,
            "by_status": {str(k): int(v) for k, v in statuses.items()},
        },
        "files": {
            name: {"sha256": _sha256(path), "bytes": path.stat().st_size}
            for name, path in files.items()
            if name != MANIFEST
        },
    }
    files[MANIFEST].write_text(
        json.dumps(written, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
        + "\n",
        encoding="utf-8",
    )
    return Release(out_dir, audience, files, written, table.num_rows)


def _check_cells(engine: Engine, relation: str) -> list[str]:
    """The columns to write, after checking the relation can be released as it is."""
    have = engine.columns(relation)
    missing = [c for c in CONTRACT_COLUMNS if c not in have]
    if missing:
        raise InternalError(f"cell relation {relation} lacks column(s) {', '.join(missing)}")
    allowed = ", ".join(f"'{s.value}'" for s in CellStatus)
    bad = engine.rows(
        f'SELECT DISTINCT status FROM "{relation}" WHERE status IS NULL OR status NOT IN ({allowed})'
    )
    if bad:
        raise InternalError(
            f"cells with status {sorted(str(r[0]) for r in bad)} (allowed: {allowed})"
        )
    masked = ", ".join(f"'{s}'" for s in sorted(MASKED))
    leaks = int(
        engine.scalar(
            f'SELECT count(*) FROM "{relation}" WHERE status IN ({masked})'
            " AND (count IS NOT NULL OR percent IS NOT NULL)"
        )
    )
    if leaks:
        raise InternalError(f"{leaks} masked cell(s) still carry a count or percent; not written")
    unshown = int(
        engine.scalar(
            f'SELECT count(*) FROM "{relation}" WHERE shown IS NULL'
            f" OR (status = 'published' AND count IS NULL)"
        )
    )
    if unshown:
        raise InternalError(f"{unshown} cell(s) without a shown value or a published count")
    keys = ", ".join(c for c in CONTRACT_COLUMNS[:12])
    dup = int(
        engine.scalar(
            f'SELECT count(*) FROM (SELECT {keys} FROM "{relation}" GROUP BY {keys}'
            " HAVING count(*) > 1) d"
        )
    )
    if dup:
        raise InternalError(f"{dup} cell key(s) occur more than once in {relation}")
    extra = sorted(c for c in have if c not in CELL_COLUMNS)
    return [
        *CONTRACT_COLUMNS,
        *(c for c in CELL_COLUMNS[len(CONTRACT_COLUMNS) :] if c in have),
        *extra,
    ]


def _definitions(engine: Engine, relation: str, manifest: Mapping[str, Any]) -> list[str]:
    present = {str(r[0]) for r in engine.rows(f'SELECT DISTINCT definition FROM "{relation}"')}
    asked = [str(d) for d in manifest.get("definitions", ())]
    rest = [d for d in DEFAULT_DEFINITIONS if d in present and d not in asked]
    others = sorted(present - set(asked) - set(rest))
    return [d for d in asked if d in present] + rest + others


def _write_csv(table: pa.Table, path: Path) -> None:
    with path.open("wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pacsv.write_csv(
            table,
            fh,
            pacsv.WriteOptions(include_header=False, quoting_style="needed"),
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_provenance(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """``{file name: {sha256, bytes}}`` of input files, for a manifest's ``inputs``."""
    return {
        p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
        for p in sorted(paths, key=lambda p: p.name)
    }


def _as_date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InternalError(f"{what} must be a date, got {value!r}")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- the workbook ------------------------------------------------------------------------

_KEY_HEADERS = (
    "Jaar",
    "Referentiedatum",
    "Niveau van de tabel",
    "Beleidsdomein",
    "Naam beleidsdomein",
    "Entiteit",
    "Naam entiteit",
)
_TITLE_ROWS = 5  # title, definition, reference date, audience, blank
_HEADER_ROWS = 2  # origin class (merged over count and %), then "aantal" / "%"


def _sheet_name(definition: str, breakdown: str, used: set[str]) -> str:
    base = f"{DEFINITION_SHEET.get(definition, definition)} {BREAKDOWN_SHEET[breakdown]}"
    name = re.sub(r"[\[\]:*?/\\]", "_", base)[:31]
    i = 2
    while name.lower() in used:
        suffix = f" {i}"
        name = name[: 31 - len(suffix)] + suffix
        i += 1
    used.add(name.lower())
    return name


def _write_workbook(
    engine: Engine,
    relation: str,
    path: Path,
    manifest: Mapping[str, Any],
    audience: str,
    generated_on: dt.date,
    definitions: Sequence[str],
    ages: Sequence[str],
    shown_labels: Mapping[str, str],
) -> None:
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    created = dt.datetime(generated_on.year, generated_on.month, generated_on.day)
    wb.set_properties(
        {
            "title": "Herkomst van het personeel van de Vlaamse overheid",
            "subject": "Diversiteitstabellen (advies 13/71 van 2 juli 2013)",
            "author": "herkomst",
            "company": "Kruispuntbank van de Sociale Zekerheid",
            "comments": f"publiek: {audience}",
            "created": created,
        }
    )
    f = _Formats(wb)
    have = set(engine.columns(relation))
    years = sorted(int(r[0]) for r in engine.rows(f'SELECT DISTINCT year FROM "{relation}"'))
    breakdowns = {str(r[0]) for r in engine.rows(f'SELECT DISTINCT breakdown FROM "{relation}"')}
    _notes_sheet(wb, f, manifest, audience, generated_on, definitions, years)
    _accounting_sheet(wb, f, manifest)
    used = {"toelichting", "verantwoording"}
    for d in definitions:
        classes = sorted(
            (
                str(r[0])
                for r in engine.rows(
                    f'SELECT DISTINCT origin FROM "{relation}" WHERE definition = ?', [d]
                )
            ),
            key=origin_rank,
        )
        for b in (b for b in BREAKDOWNS if b in breakdowns):
            ws = wb.add_worksheet(_sheet_name(d, b, used))
            _table_sheet(
                engine,
                relation,
                ws,
                f,
                have,
                manifest,
                audience,
                d,
                b,
                classes,
                ages,
                years,
                shown_labels,
            )
    wb.close()


class _Formats:
    def __init__(self, wb: Any) -> None:
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.note = wb.add_format({"italic": True})
        self.text = wb.add_format({"text_wrap": False})
        self.header = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.header_center = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center", "text_wrap": True}
        )
        self.count = wb.add_format({"num_format": "#,##0"})
        self.percent = wb.add_format({"num_format": "0.0%"})
        self.hidden = wb.add_format({"align": "right"})
        self.date = wb.add_format({"num_format": "dd/mm/yyyy", "align": "left"})
        self.bold = wb.add_format({"bold": True})


def _eu_date_text(manifest: Mapping[str, Any]) -> str:
    eu = manifest.get("eu_date")
    return str(eu) if eu else "de generatiedatum"


def _definition_text(definition: str, manifest: Mapping[str, Any]) -> str:
    if definition == "eu15":
        return (
            "Classificatie EU-15: herkomst binnen of buiten de lidstaten van de Europese Unie op "
            f"{EU15_DATE.strftime('%d/%m/%Y')}, bepaald trapsgewijs uit de huidige of eerste "
            "nationaliteit van de persoon, van minstens één ouder of van minstens twee grootouders."
        )
    if definition == "eu":
        return (
            "Classificatie EU: herkomst binnen of buiten de lidstaten van de Europese Unie op "
            f"{_eu_date_text(manifest)} (lidstaten bij het genereren van de gegevens), bepaald "
            "trapsgewijs uit de huidige of eerste nationaliteit van de persoon, van minstens één "
            "ouder of van minstens twee grootouders."
        )
    return f"Definitie: {DEFINITION_NL.get(definition, definition)} (zie docs/origin.md)."


def _years_text(years: Sequence[int]) -> str:
    if not years:
        return "-"
    if len(years) > 1 and years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}-{years[-1]}"
    return ", ".join(map(str, years))


def _notes_sheet(
    wb: Any,
    f: _Formats,
    manifest: Mapping[str, Any],
    audience: str,
    generated_on: dt.date,
    definitions: Sequence[str],
    years: Sequence[int],
) -> None:
    ws = wb.add_worksheet("Toelichting")
    ws.set_column(0, 0, 120)
    lines: list[tuple[str, Any]] = [
        ("Herkomst van het personeel van de Vlaamse overheid", f.title),
        (
            "Anonieme tabellen volgens advies 13/71 van 2 juli 2013 van het Sectoraal Comité van de "
            "Sociale Zekerheid en van de Gezondheid.",
            f.text,
        ),
        ("", f.text),
        (f"Publiek: {audience}", f.bold),
        (f"Jaren: {_years_text(list(years))}; referentiedatum: 31 december van elk jaar.", f.text),
        (
            f"Gegenereerd op {generated_on.strftime('%d/%m/%Y')} met herkomst "
            f"{manifest.get('software', {}).get('herkomst', software_version())}.",
            f.text,
        ),
        ("", f.text),
        ("Populatie", f.bold),
        (
            "Personeelsleden op de personeelslijst van de Vlaamse overheid op 31 december, gekoppeld "
            "aan het datawarehouse arbeidsmarkt en sociale bescherming, met een leeftijd van "
            f"{_age_range_text(manifest)} jaar op die datum (grenzen inbegrepen). Beroepspositie "
            "(statutair of contractueel) en arbeidsregime (voltijds of deeltijds) komen uit de job "
            "bij de werkgever van de entiteit; zonder zo'n job zijn ze 'niet gekend'. Het blad "
            "'Verantwoording' telt elke rij van de personeelslijst.",
            f.text,
        ),
        ("", f.text),
        ("Classificaties", f.bold),
        *((_definition_text(d, manifest), f.text) for d in definitions),
        (
            "De herkomst is 'niet gekend' als de ouders niet gekend zijn (niet gekoppeld of zonder "
            "nationaliteit) of, bij ouders binnen de EU, de grootouders niet gekend zijn.",
            f.text,
        ),
        ("", f.text),
        ("Lezen van de tabellen", f.bold),
        (
            "Eén blad per classificatie en uitsplitsing; per jaar eerst de hele Vlaamse overheid, "
            "dan elk beleidsdomein gevolgd door zijn entiteiten.",
            f.text,
        ),
        (
            "Per rij: het aantal personen per herkomst en het aandeel in het totaal van de rij, op "
            "één decimaal afgerond (de helft van nul af). Door de afronding tellen de "
            "percentages niet altijd precies op tot 100%.",
            f.text,
        ),
        (
            "Bij een uitsplitsing staan alle categorieën die in de eenheid voorkomen, ook met 0 "
            "personen. De combinatie-bladen tonen enkel de combinaties met minstens één persoon; "
            "het bestand cells.csv bevat ook elke andere combinatie van die categorieën (met 0).",
            f.text,
        ),
        (f"'{NO_PERCENT}': geen personen in de rij (percentage niet bepaald).", f.text),
        *(
            (f"'{label}': {_hidden_meaning(shown)}", f.text)
            for shown, label in sorted(DEFAULT_SHOWN_NL.items())
        ),
        (f"'{HIDDEN_PERCENT}' in een percentagekolom: het percentage is niet vrijgegeven.", f.text),
        *_protection_lines(manifest.get("protection"), f),
    ]
    for i, (text, fmt) in enumerate(lines):
        ws.write_string(i, 0, text, fmt)


def _protection_lines(protection: Any, f: _Formats) -> list[tuple[str, Any]]:
    """What a protected (public) release leaves out, in Dutch: withheld entities, policy
    domains and breakdowns close to microdata (docs/protection.md, sections 1 and 1b)."""
    if not isinstance(protection, Mapping) or not any(
        protection.get(k) for k in ("withheld_entities", "withheld_domains", "withheld_tables")
    ):
        return []
    rules = protection.get("rules", {})
    out: list[tuple[str, Any]] = [("", f.text), ("Bescherming", f.bold)]
    ents = protection.get("withheld_entities") or []
    if ents:
        out.append(
            (
                f"Entiteiten met minder dan {rules.get('min_entity_size', 50)} personeelsleden "
                f"worden niet getoond ({len(ents)} "
                f"{'entiteit' if len(ents) == 1 else 'entiteiten'}; manifest.json noemt ze).",
                f.text,
            )
        )
    doms = protection.get("withheld_domains") or []
    if doms:
        out.append(
            (
                f"{len(doms)} beleidsdomein(en) worden niet getoond: hun entiteiten zouden "
                "elkaars verborgen cellen prijsgeven (manifest.json noemt ze).",
                f.text,
            )
        )
    for w in protection.get("withheld_tables") or []:
        share = float(w.get("small_share", 0.0))
        out.append(
            (
                f"De uitsplitsing naar {BREAKDOWN_NL.get(str(w['breakdown']), w['breakdown'])} "
                f"wordt voor {w['year']} niet gepubliceerd: {share:.0%} van haar cellen met "
                "minstens één persoon telt één tot vier personen, zodat ze bijna een lijst van "
                "personen is.",
                f.text,
            )
        )
    return out


def _hidden_meaning(shown: str) -> str:
    if shown == "1-5":
        return "één tot vier personen (het precieze aantal is niet vrijgegeven)."
    if shown == "x":
        return "niet vrijgegeven, om een ander verborgen getal te beschermen."
    return "niet vrijgegeven."


def _age_range_text(manifest: Mapping[str, Any]) -> str:
    rng = manifest.get("age_range")
    if isinstance(rng, Sequence) and len(rng) == 2:
        return f"{rng[0]} tot en met {rng[1]}"
    return "18 tot en met 65"


def _accounting_sheet(wb: Any, f: _Formats, manifest: Mapping[str, Any]) -> None:
    ws = wb.add_worksheet("Verantwoording")
    acc = [a for a in manifest.get("accounting", ()) if isinstance(a, Mapping)]
    ws.set_column(0, 0, 95)
    ws.set_column(1, max(1, len(acc)), 10)
    ws.write_string(0, 0, "Verantwoording van de rijen op de personeelslijst", f.title)
    ws.write_string(1, 0, "Aantallen rijen per jaar (geen personen buiten deze aantallen).", f.note)
    ws.write_string(3, 0, "Categorie", f.header)
    for j, a in enumerate(acc, start=1):
        ws.write_number(3, j, int(a["year"]), f.header)
    keys = ("personnel_rows", "in_tables", *EXCLUSIONS, *IN_TABLE_NOTES)
    for i, k in enumerate(keys, start=4):
        ws.write_string(i, 0, ACCOUNTING_NL.get(k, k))
        for j, a in enumerate(acc, start=1):
            ws.write_number(i, j, int(a.get(k, 0)), f.count)
    ws.freeze_panes(4, 1)


def _table_sheet(
    engine: Engine,
    relation: str,
    ws: Any,
    f: _Formats,
    have: set[str],
    manifest: Mapping[str, Any],
    audience: str,
    definition: str,
    breakdown: str,
    classes: Sequence[str],
    ages: Sequence[str],
    years: Sequence[int],
    shown_labels: Mapping[str, str],
) -> None:
    variables = list(VARIABLES) if breakdown == "all" else [v for v in VARIABLES if v == breakdown]
    measures = [
        f"max(CASE WHEN origin = '{c}' THEN {m} END) AS \"{m[0]}_{c}\""
        for c in classes
        for m in ("count", "percent", "shown")
    ]
    optional = {
        "reference_date": "make_date(year, 12, 31)",
        "policy_domain_name": "CAST(NULL AS VARCHAR)",
        "entity_name": "CAST(NULL AS VARCHAR)",
    }
    keys = (
        "year",
        "reference_date",
        "scope",
        "policy_domain",
        "policy_domain_name",
        "entity",
        "entity_name",
    )
    select = [c if c in have or c not in optional else f"{optional[c]} AS {c}" for c in keys]
    group = [c for c in keys if c in have or c not in optional] + variables
    orders = {
        "sex": SEXES,
        "age_class": tuple(ages),
        "level": LEVELS,
        "position": POSITIONS,
        "regime": REGIMES,
    }
    order = ["year", "policy_domain ASC NULLS FIRST", "entity ASC NULLS FIRST"] + [
        "CASE "
        + v
        + " "
        + " ".join(f"WHEN '{x}' THEN {i}" for i, x in enumerate(orders[v]))
        + f" ELSE {len(orders[v])} END, {v}"
        for v in variables
    ]
    sql = (
        f'SELECT {", ".join([*select, *variables, *measures])} FROM "{relation}"'
        " WHERE definition = ? AND breakdown = ?"
        f" GROUP BY {', '.join(group)}"
        # The combination sheet leaves out rows without anyone (cells.parquet has them).
        + (
            " HAVING coalesce(max(CASE WHEN origin = 'total' THEN count END), -1) <> 0"
            if breakdown == "all"
            else ""
        )
        + f" ORDER BY {', '.join(order)}"
    )
    # Streamed in batches (the combination sheets hold many rows); nothing else runs on the
    # connection until the result is read.
    result = engine.con.execute(sql, [definition, breakdown])

    d_nl = DEFINITION_NL.get(definition, definition)
    ws.write_string(
        0,
        0,
        f"Personeelsleden van de Vlaamse overheid naar herkomst ({d_nl})"
        + ("" if breakdown == "total" else f" en {BREAKDOWN_NL[breakdown]}"),
        f.title,
    )
    ws.write_string(1, 0, _definition_text(definition, manifest), f.note)
    ws.write_string(
        2,
        0,
        f"Referentiedatum: 31 december van elk jaar ({_years_text(list(years))}); definitie "
        f"'{definition}'"
        + (f", EU-lidstaten op {_eu_date_text(manifest)}" if definition == "eu" else "")
        + ".",
        f.note,
    )
    ws.write_string(
        3,
        0,
        f"Publiek: {audience}. Bron: KSZ, datawarehouse arbeidsmarkt en sociale bescherming.",
        f.note,
    )

    headers = [*_KEY_HEADERS, *(VARIABLE_HEADER[v] for v in variables)]
    h0, h1 = _TITLE_ROWS, _TITLE_ROWS + 1
    for j, name in enumerate(headers):
        ws.write_string(h0, j, name, f.header)
    first = len(headers)
    for k, c in enumerate(classes):
        col = first + 2 * k
        ws.merge_range(h0, col, h0, col + 1, origin_label(definition, c), f.header_center)
    for j in range(len(headers)):
        ws.write_blank(h1, j, None, f.header)
    for k in range(len(classes)):
        col = first + 2 * k
        ws.write_string(h1, col, "aantal", f.header_center)
        ws.write_string(h1, col + 1, "%", f.header_center)
    widths = [6, 14, 16, 13, 28, 14, 34, *([14] * len(variables))]
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    ws.set_column(first, first + 2 * len(classes) - 1, 11)
    ws.freeze_panes(h1 + 1, len(headers))

    row = h1 + 1
    for r in _batched(result):
        year, ref, scope, pd, pd_name, ent, ent_name = r[:7]
        cats = r[7 : 7 + len(variables)]
        measures_row = r[7 + len(variables) :]
        ws.write_number(row, 0, int(year))
        if isinstance(ref, dt.date):
            ws.write_datetime(row, 1, dt.datetime(ref.year, ref.month, ref.day), f.date)
        ws.write_string(row, 2, SCOPE_NL.get(str(scope), str(scope)))
        for j, v in enumerate((pd, pd_name, ent, ent_name), start=3):
            if v is not None:
                ws.write_string(row, j, str(v))
        for j, (v, value) in enumerate(zip(variables, cats, strict=True), start=7):
            if value is not None:
                ws.write_string(row, j, _category_label(v, str(value)))
        for k in range(len(classes)):
            count, percent, shown = measures_row[3 * k : 3 * k + 3]
            col = first + 2 * k
            if count is not None:
                ws.write_number(row, col, int(count), f.count)
            elif shown is not None:
                ws.write_string(row, col, shown_labels.get(str(shown), str(shown)), f.hidden)
            if percent is not None:
                ws.write_number(row, col + 1, float(Decimal(str(percent)) / 100), f.percent)
            elif count is None and shown is not None:
                ws.write_string(row, col + 1, HIDDEN_PERCENT, f.hidden)
            elif count is not None:
                ws.write_string(row, col + 1, NO_PERCENT, f.hidden)
        row += 1


def _batched(result: Any, size: int = 8192) -> Iterator[tuple[Any, ...]]:
    """The rows of a DuckDB result, fetched ``size`` at a time."""
    while True:
        batch = result.fetchmany(size)
        if not batch:
            return
        yield from batch


def _category_label(variable: str, value: str) -> str:
    if variable == "age_class":
        return f"{value} jaar"
    return CATEGORY_NL.get(variable, {}).get(value, value)


# -- herkomst tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class TablesResult:
    """What ``herkomst tables`` did: the release written and where each year came from.

    ``protection`` is the protection summary written to the manifest (audience, rules, what
    was masked and why, the audit's summary); ``audit`` the public audit's full result.
    """

    release: Release
    cells: CellsResult
    protection: Mapping[str, Any]
    audit: AuditResult | None = None

    @property
    def reused_years(self) -> tuple[int, ...]:
        return self.cells.reused_years

    @property
    def computed_years(self) -> tuple[int, ...]:
        return self.cells.computed_years


def tables_manifest(
    cells: CellsResult,
    rules: RuleSet | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest sections of a tables run (before protection and release)."""
    from .tabulate import age_classes

    params = cells.params
    rs = rules or RuleSet()
    ages = age_classes(rs.table("age_classes"), params.min_age, params.max_age)
    return {
        "kind": "diversity tables (advice 13/71 of 2 July 2013)",
        "software": {
            "herkomst": software_version(),
            "duckdb": duckdb.__version__,
            "pyarrow": pa.__version__,
            "xlsxwriter": xlsxwriter.__version__,
        },
        "generated_on": params.generated_on.isoformat(),
        "years": sorted(params.years),
        "reference_dates": {
            str(y): params.reference_date(y).isoformat() for y in sorted(params.years)
        },
        "definitions": list(params.definitions),
        "eu15_date": EU15_DATE.isoformat(),
        "eu_date": params.definition_date.isoformat(),
        "eu_date_source": "given" if params.eu_date is not None else "generation date",
        "breakdowns": [b for b in BREAKDOWNS if b in params.breakdowns],
        "scopes": [s for s in SCOPES if s in params.scopes],
        "age_range": [params.min_age, params.max_age],
        "age_classes": [a.label for a in ages],
        "inputs": dict(inputs or {}),
        "rules": list(cells.rules),
        "accounting": [a.to_dict() for a in cells.accounting],
        "cache": {
            "reused_years": list(cells.reused_years),
            "computed_years": list(cells.computed_years),
            "keys": {str(y): k for y, k in sorted(cells.cache_keys.items())},
        },
    }


def _with_service_columns(engine: Engine, service: str, protected: pa.Table, name: str) -> str:
    """The protected cells with the service relation's column types and further columns
    (reference date, names), so that every audience's release has one layout."""
    engine.register(f"{name}_arrow", protected)
    keys = list(CONTRACT_COLUMNS[:12])
    have = engine.columns(service)
    own = {"count", "percent", "shown", "status"}
    types = dict(engine.rows(f'SELECT column_name, column_type FROM (DESCRIBE "{service}")'))
    cols = ", ".join(
        f'CAST(p."{c}" AS {types[c]}) AS "{c}"' if c in own else f's."{c}"' for c in have
    )
    on = " AND ".join(f's."{k}" IS NOT DISTINCT FROM p."{k}"' for k in keys)
    engine.create_table(name, f'SELECT {cols} FROM "{name}_arrow" p JOIN "{service}" s ON {on}')
    if engine.count(name) != protected.num_rows:
        raise InternalError(f"protected cells do not match the service cells one to one ({name})")
    return name


def build_tables(
    engine: Engine,
    params: TableParams,
    rules: RuleSet | None,
    out_dir: Path,
    *,
    inputs: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    origin_step: OriginStep | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
    audience: str = SERVICE,
    authorization: Authorization | None = None,
    ledger: Ledger | None = None,
    attackers: str = "all",
) -> TablesResult:
    """``herkomst tables``: the release of every asked year for ``audience`` in ``out_dir``.

    Expects the validated tables in ``engine`` (``herkomst.load``). ``inputs`` is recorded
    as the manifest's ``inputs`` (e.g. the loaded files' names and SHA-256). The cache folder
    defaults to ``<out_dir>/../.herkomst-cache``; ``use_cache=False`` computes every year.

    The authorization (default: advice 13/71) must allow the audience, the definitions,
    breakdowns, scopes and ages asked for (else :class:`AuthorizationError`). ``service``
    gets every cell exact; ``entity:<code>`` exactly that entity's cells (personal data, the
    manifest says so); ``public`` the protected cells, written only when the disclosure audit
    against ``attackers`` (``public``, ``insider:<entity>`` or ``all``) passes
    (else :class:`CheckFailed`, nothing written). ``ledger`` (public): earlier releases to
    the same audience are protected together with this one, and this one is added to it.
    """
    rules = rules or RuleSet()
    auth = authorization or load_authorization()
    aud = Audience.parse(audience)
    outside = [d for d in params.definitions if d not in auth.definitions]
    if aud.kind is AudienceKind.SERVICE and outside:
        # Tables under other definitions (issue 4: any definition on request) are the
        # warehouse's methodological studies: allowed for the service, marked as not covered
        # by the authorization, never for the entity or public audiences.
        aud_rules = auth.check(aud, (), params.breakdowns, params.scopes)
    else:
        aud_rules = auth.check(aud, params.definitions, params.breakdowns, params.scopes)
    if params.min_age < auth.age_min or params.max_age > auth.age_max:
        raise AuthorizationError(
            f"authorization {auth.id} covers staff aged {auth.age_min} to {auth.age_max}; "
            f"ages {params.min_age} to {params.max_age} were asked"
        )
    cache = (cache_dir or out_dir.resolve().parent / ".herkomst-cache") if use_cache else None
    cells = compute_cells(engine, params, rules, cache_dir=cache, origin_step=origin_step)
    manifest = {**tables_manifest(cells, rules, inputs), **dict(extra_manifest or {})}
    if aud.kind is AudienceKind.SERVICE:
        protection: dict[str, Any] = {
            "audience": SERVICE,
            "authorization": auth.provenance(),
            "clause": aud_rules.clause,
            "personal_data": aud_rules.personal_data,
            "protection": "none (exact)",
        }
        if outside:
            protection["not_covered_by_authorization"] = outside
            protection["note"] = (
                f"definition(s) {', '.join(outside)} are not among those of authorization "
                f"{auth.id}: for the diversity service's own methodological use, not to be "
                "passed on"
            )
        manifest["protection"] = protection
        manifest["authorization"] = auth.provenance()
        release = write_release(engine, cells.relation, out_dir, manifest, SERVICE)
        return TablesResult(release=release, cells=cells, protection=protection)
    service_cells = engine.arrow(f'SELECT * FROM "{cells.relation}"')
    protected, summary, result = protect_public(
        service_cells, auth, aud, ledger=ledger, attackers=attackers
    )
    name = _with_service_columns(engine, cells.relation, protected, f"cells_{aud.slug}")
    protection = without_timings(summary)
    manifest["protection"] = protection
    manifest["authorization"] = auth.provenance()
    labels = {
        auth.public.small_label: auth.public.small_label_nl,
        auth.public.suppressed_label: auth.public.suppressed_label_nl,
    }
    release = write_release(engine, name, out_dir, manifest, str(aud), shown_labels=labels)
    if result is not None:
        # the audit's report (intervals, no true values); `herkomst audit` rewrites it, so it
        # is not among the manifest's hashed files (the manifest holds the audit's summary)
        write_audit(result, out_dir)
    if ledger is not None and aud.kind is AudienceKind.PUBLIC:
        ledger.record(aud, protected)
    return TablesResult(release=release, cells=cells, protection=summary, audit=result)
