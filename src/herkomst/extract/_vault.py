"""The pseudonym vault: SSIN -> sequence number, kept on the warehouse side, encrypted.

Threat: whoever holds an extract must not be able to go back from a sequence number to a
person, and two extracts of different projects must not be joinable. So the numbers are
*drawn*, not computed: the persons of a project get the numbers 1..N in an order shuffled by
the operating system's cryptographic random source (:class:`secrets.SystemRandom`); nothing
about a number depends on the SSIN, the birth date, the sample seed or another project. A
person keeps his number for the life of the project (every year of the panel, every re-run,
phase 2); persons added later are numbered on (N+1, ...), again in random order.

Storage: per project two files in ``<warehouse>/vault/``:

- ``<project>.key``: the project's data key (32 random bytes), wrapped with AES-GCM under the
  *master key* (given in a file or an environment variable, never on the command line);
- ``<project>.map``: the table ``ssin,number`` encrypted with AES-GCM under the data key.

The project id is the associated data of both, so a file moved to another project does not
open. Destroying a project overwrites and deletes both files; without the data key a backup
of the mapping is unreadable (crypto-shredding).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import InputError, UsageError

KEY_ENV = "HERKOMST_VAULT_KEY"
_PROJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_NONCE = 12


def check_project_id(project: str) -> str:
    if not _PROJECT_RE.fullmatch(project):
        raise UsageError(
            f"project id '{project}' is not allowed: use letters, digits, '.', '_' and '-' "
            "(at most 100 characters, starting with a letter or digit)"
        )
    return project


def new_vault_key() -> str:
    """A fresh master key, hex-encoded (store it in a file readable only by the operator)."""
    return secrets.token_hex(32)


def parse_vault_key(text: str) -> bytes:
    """A 32-byte key from its hex (64 characters) or base64 (44 characters) form."""
    t = text.strip()
    try:
        key = bytes.fromhex(t) if len(t) == 64 else base64.b64decode(t, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise UsageError(
            "the vault key must be 32 bytes written as 64 hex digits or 44 base64 characters "
            "(make one with herkomst.extract.new_vault_key())"
        )
    return key


def read_vault_key(path: Path | None = None, env: str = KEY_ENV) -> bytes:
    """The master key from ``path`` or, without a path, from the environment variable ``env``.

    There is deliberately no way to pass the key itself as an argument: a command line is
    visible to other users (``ps``) and stays in shell histories.
    """
    if path is not None:
        if not path.is_file():
            raise UsageError(f"{path}: vault key file not found")
        return parse_vault_key(path.read_text("utf-8"))
    value = os.environ.get(env)
    if not value:
        raise UsageError(f"no vault key: give a key file or set the environment variable {env}")
    return parse_vault_key(value)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _shred(path: Path) -> bool:
    if not path.exists():
        return False
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.write(os.urandom(max(size, 1)))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    return True


class Vault:
    """The encrypted SSIN -> number tables of every project, under one master key."""

    def __init__(self, root: Path, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise UsageError("the vault master key must be 32 bytes")
        self.root = root
        self._master = AESGCM(master_key)

    def key_path(self, project: str) -> Path:
        return self.root / f"{check_project_id(project)}.key"

    def map_path(self, project: str) -> Path:
        return self.root / f"{check_project_id(project)}.map"

    def exists(self, project: str) -> bool:
        return self.key_path(project).exists()

    def _data_key(self, project: str, create: bool) -> AESGCM | None:
        path = self.key_path(project)
        aad = b"herkomst-vault-key:" + project.encode()
        if not path.exists():
            if not create:
                return None
            key = os.urandom(32)
            nonce = os.urandom(_NONCE)
            _write_private(path, nonce + self._master.encrypt(nonce, key, aad))
            return AESGCM(key)
        blob = path.read_bytes()
        try:
            key = self._master.decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except InvalidTag:
            raise InputError(
                f"the vault key does not open the vault of project '{project}' "
                "(wrong key, or the file was changed)"
            ) from None
        return AESGCM(key)

    def load(self, project: str) -> dict[str, int]:
        """The project's mapping (empty when the project has none yet)."""
        data_key = self._data_key(project, create=False)
        path = self.map_path(project)
        if data_key is None or not path.exists():
            return {}
        blob = path.read_bytes()
        try:
            plain = data_key.decrypt(
                blob[:_NONCE], blob[_NONCE:], b"herkomst-vault-map:" + project.encode()
            )
        except InvalidTag:
            raise InputError(
                f"the mapping of project '{project}' does not decrypt (the file was changed)"
            ) from None
        out: dict[str, int] = {}
        for line in plain.decode("ascii").splitlines()[1:]:
            ssin, _, number = line.partition(",")
            out[ssin] = int(number)
        return out

    def _save(self, project: str, mapping: Mapping[str, int]) -> None:
        data_key = self._data_key(project, create=True)
        assert data_key is not None
        body = "ssin,number\n" + "".join(f"{s},{n}\n" for s, n in sorted(mapping.items()))
        nonce = os.urandom(_NONCE)
        aad = b"herkomst-vault-map:" + project.encode()
        _write_private(self.map_path(project), nonce + data_key.encrypt(nonce, body.encode(), aad))

    def assign(self, project: str, ssins: Iterable[str]) -> dict[str, int]:
        """Numbers for ``ssins``: kept when already assigned, else drawn and stored."""
        mapping = self.load(project)
        wanted = sorted(set(ssins))
        new = [s for s in wanted if s not in mapping]
        if new:
            secrets.SystemRandom().shuffle(new)  # a cryptographically random order
            start = max(mapping.values(), default=0)
            mapping.update({s: start + i for i, s in enumerate(new, start=1)})
            self._save(project, mapping)
        return {s: mapping[s] for s in wanted}

    def destroy(self, project: str) -> list[str]:
        """Overwrite and delete the project's key and mapping; the names of what was destroyed."""
        return Vault.destroy_files(self.root, project)

    @staticmethod
    def destroy_files(root: Path, project: str) -> list[str]:
        """Destroy a project's vault files without needing the master key."""
        gone = []
        for suffix in (".key", ".map"):
            path = root / f"{check_project_id(project)}{suffix}"
            if _shred(path):
                gone.append(path.name)
        return gone
