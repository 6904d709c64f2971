"""The whole pipeline on a synthetic population: what ``make demo`` runs.

Every stage is the same library call the CLI makes; the demo only chains them and says
where each output is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .engine import Engine
from .synth import SynthParams, synthesize
from .validate import ValidationOptions, load_dataset

Say = Callable[[str], None]


@dataclass
class DemoResult:
    """Where the demo put things, stage by stage."""

    out: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def run_demo(out: Path, seed: int, say: Say | None = None) -> DemoResult:
    """Synthesise the Flemish government, validate it and run every stage on it."""
    tell = say or (lambda _m: None)
    result = DemoResult(out=out)
    data_dir = out / "data"
    tell("synthesising the Flemish government and a labour market")
    summary = synthesize(SynthParams(seed=seed, scale="flanders"), data_dir)
    result.outputs["synthetic data"] = data_dir
    tell("validating the input tables")
    with Engine() as eng:
        data = load_dataset(
            eng,
            data_dir / "dwh",
            summary.files["personnel"],
            summary.files["entities"],
            ValidationOptions(),
        )
        report = out / "validation.json"
        data.report.write_json(report)
        result.outputs["validation report"] = report
        totals = data.report.as_dict()["totals"]
        result.lines.append(
            f"validation: {totals['rows']:,} rows read, {totals['rejected']:,} rejected, "
            f"{totals['accepted_with_corrections']:,} corrected"
        )
    return result
