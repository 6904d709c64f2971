"""The synthetic population: a register, a personnel list and an entity list to test on.

``synthesize(SynthParams(seed=...), out)`` writes every contract table (``dwh/persons``,
``nationalities``, ``employment``, ``residence``, ``education``) plus ``personnel`` and
``entities`` for the Flemish government, three generations deep, deterministically from
the seed. See ``docs/synthetic.md`` for the model.
"""

from __future__ import annotations

from ._params import PlantedDefect, SynthParams, SynthSummary
from ._run import synthesize

__all__ = ["PlantedDefect", "SynthParams", "SynthSummary", "synthesize"]
