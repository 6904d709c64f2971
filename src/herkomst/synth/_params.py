"""Parameters, the run plan they imply, and the summary a run returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import UsageError

Format = Literal["parquet", "csv"]
FORMATS: tuple[str, ...] = ("parquet", "csv")
NAMED_SCALES: dict[str, int] = {"flanders": 0, "belgium": 12_000_000}
MIN_PERSONS = 2_000
MAX_PERSONS = 40_000_000
#: Persons written at flanders scale (staff, their parents and grandparents, and a labour
#: market of ``FLANDERS_LM_FAMILIES`` families), measured; used to turn ``--scale N`` into
#: a staff factor and a number of labour-market families.
FLANDERS_PERSONS = 386_000
FLANDERS_LM_FAMILIES = 20_000
#: Persons written per labour-market family (egos, linked parents and grandparents), measured.
PERSONS_PER_FAMILY = 5.35
#: Jobs per labour-market family and year, measured (sizes the employer registry).
JOBS_PER_FAMILY_YEAR = 1.58
FAMILIES_PER_CHUNK = 150_000


@dataclass(frozen=True)
class SynthParams:
    """What ``herkomst synth`` is asked for.

    ``scale`` is ``"flanders"`` (the Flemish government and a small labour market),
    ``"belgium"`` (about 12 million persons) or a number of persons in the register.
    """

    seed: int
    scale: str | int = "flanders"
    fmt: Format = "parquet"
    with_defects: bool = False
    first_year: int = 2010
    last_year: int = 2023

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise UsageError(f"seed {self.seed!r} is not allowed: give a whole number >= 0")
        if isinstance(self.scale, bool) or not isinstance(self.scale, str | int):
            raise UsageError(
                f"scale {self.scale!r} is not allowed: use flanders, belgium or a number of persons"
            )
        if (
            isinstance(self.scale, str)
            and self.scale not in NAMED_SCALES
            and not self.scale.isdigit()
        ):
            raise UsageError(
                f"scale '{self.scale}' is not allowed: use flanders, belgium or a number of persons"
            )
        n = self.persons_asked
        if n is not None and not MIN_PERSONS <= n <= MAX_PERSONS:
            raise UsageError(
                f"scale {n} is not allowed: give between {MIN_PERSONS} and {MAX_PERSONS} persons"
            )
        if self.fmt not in FORMATS:
            raise UsageError(f"format '{self.fmt}' is not allowed: use parquet or csv")
        if not isinstance(self.with_defects, bool):
            raise UsageError("with_defects must be true or false")
        if not 2000 <= self.first_year <= self.last_year <= 2023:
            raise UsageError(
                f"years {self.first_year}-{self.last_year} are not allowed: "
                "give 2000 <= first_year <= last_year <= 2023"
            )

    @property
    def persons_asked(self) -> int | None:
        """The number of persons asked for, or None for flanders scale."""
        if isinstance(self.scale, int):
            return self.scale
        if self.scale == "flanders":
            return None
        if self.scale == "belgium":
            return NAMED_SCALES["belgium"]
        return int(self.scale)


@dataclass(frozen=True)
class Plan:
    staff_factor: float
    lm_families: int
    chunks: int


def plan_for(params: SynthParams) -> Plan:
    n = params.persons_asked
    if n is None:
        staff, fams = 1.0, FLANDERS_LM_FAMILIES
    elif n < FLANDERS_PERSONS:
        staff = n / FLANDERS_PERSONS
        fams = max(50, round(FLANDERS_LM_FAMILIES * staff))
    else:
        staff = 1.0
        fams = FLANDERS_LM_FAMILIES + round((n - FLANDERS_PERSONS) / PERSONS_PER_FAMILY)
    chunks = -(-fams // FAMILIES_PER_CHUNK)
    return Plan(staff_factor=staff, lm_families=fams, chunks=chunks)


@dataclass(frozen=True)
class PlantedDefect:
    """A data-quality problem planted on purpose (``--with-defects``)."""

    table: str
    row: int  # 1-based among the data rows of the file (the header is not counted)
    column: str
    what: str


@dataclass(frozen=True)
class SynthSummary:
    """What a run wrote."""

    out: Path
    params: SynthParams
    files: Mapping[str, Path]  # table -> file
    rows: Mapping[str, int]  # table -> data rows
    sha256: Mapping[str, str]  # table -> hex digest of the file
    staff_by_year: Mapping[int, int]
    defects: tuple[PlantedDefect, ...]
    seconds: float

    @property
    def persons(self) -> int:
        return self.rows["persons"]
