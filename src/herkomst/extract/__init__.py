"""Pseudonymised research extracts (seed 001, phase 1): authorization, sample, pseudonyms,
classes, codebook and manifest, disclosure risk, the vault and retention.

See ``docs/extracts.md``. The CLI commands ``herkomst extract`` and ``herkomst retention`` call
:func:`build_extract` and :func:`retention`.
"""

from __future__ import annotations

from ._authorization import (
    DEFAULT_EXTRACT_AUTHORIZATION,
    AuthorityRule,
    ExtractAuthorization,
    PopulationRule,
    SampleDesign,
    VariableGrant,
    load_extract_authorization,
)
from ._catalog import Scheme, Variable, build_catalog
from ._extract import (
    OUTPUT_FILES,
    ExtractParams,
    ExtractResult,
    build_extract,
    codebook,
    default_project_id,
    draw_sample,
    extract_from_dwh,
)
from ._retention import (
    PendingConfirmation,
    Project,
    ProjectStatus,
    RetentionReport,
    confirm_destruction,
    extend_retention,
    get_project,
    open_register,
    retention,
)
from ._risk import (
    DEFAULT_KEYS,
    DEFAULT_RECODE_ORDER,
    Reduction,
    RiskParams,
    RiskReport,
    reduce_risk,
    risk_report,
    suda_weight,
)
from ._vault import KEY_ENV, Vault, new_vault_key, parse_vault_key, read_vault_key

__all__ = [
    "DEFAULT_EXTRACT_AUTHORIZATION",
    "DEFAULT_KEYS",
    "DEFAULT_RECODE_ORDER",
    "KEY_ENV",
    "OUTPUT_FILES",
    "AuthorityRule",
    "ExtractAuthorization",
    "ExtractParams",
    "ExtractResult",
    "PendingConfirmation",
    "PopulationRule",
    "Project",
    "ProjectStatus",
    "Reduction",
    "RetentionReport",
    "RiskParams",
    "RiskReport",
    "SampleDesign",
    "Scheme",
    "Variable",
    "VariableGrant",
    "Vault",
    "build_catalog",
    "build_extract",
    "codebook",
    "confirm_destruction",
    "default_project_id",
    "draw_sample",
    "extend_retention",
    "extract_from_dwh",
    "get_project",
    "load_extract_authorization",
    "new_vault_key",
    "open_register",
    "parse_vault_key",
    "read_vault_key",
    "reduce_risk",
    "retention",
    "risk_report",
    "suda_weight",
]
