"""Command-line options shared by the main app and its sub-apps (``herkomst enclave``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WarehouseOpt = Annotated[
    Path,
    typer.Option(
        "--warehouse",
        help="Warehouse-side folder: project register, encrypted pseudonym vault, staging, "
        "enclave workspaces (<warehouse>/enclave).",
    ),
]
VaultKeyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--vault-key-file",
        help="File holding the vault key (else the HERKOMST_VAULT_KEY environment variable).",
    ),
]
