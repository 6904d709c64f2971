"""herkomst: origin and migration background from the Belgian social-security register.

The public API is small: load and validate the data contract, derive origin under every
official definition, tabulate, protect and release, extract for research, and the enclave.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("herkomst")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from .engine import Engine, EngineSettings, engine
from .errors import (
    AuthorizationError,
    CheckFailed,
    ExitCode,
    HerkomstError,
    InputError,
    InternalError,
    MissingColumn,
    MissingFile,
    RuleError,
    UnreadableFile,
    UsageError,
)
from .validate import Dataset, ValidationOptions, ValidationReport, load_dataset

__all__ = [
    "AuthorizationError",
    "CheckFailed",
    "Dataset",
    "Engine",
    "EngineSettings",
    "ExitCode",
    "HerkomstError",
    "InputError",
    "InternalError",
    "MissingColumn",
    "MissingFile",
    "RuleError",
    "UnreadableFile",
    "UsageError",
    "ValidationOptions",
    "ValidationReport",
    "__version__",
    "engine",
    "load_dataset",
]
