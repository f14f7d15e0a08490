"""Signing keys: encrypted keystores (Web3 Secret Storage), dev-preset keys for local chains only.

Private keys are never printed or logged; only addresses leave this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from .chain import Deployment, dev_signer
from .config import Settings
from .errors import ConfigError, InputError


def _password(settings: Settings) -> str:
    if settings.password_file is not None:
        try:
            return settings.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read password file {settings.password_file}: {exc.strerror}") from None
    password = os.environ.get("IPREG_KEYSTORE_PASSWORD")
    if password is None:
        raise ConfigError("keystore password missing: set IPREG_KEYSTORE_PASSWORD or IPREG_PASSWORD_FILE")
    return password


def unlock(path: Path, password: str) -> LocalAccount:
    """Decrypt a Web3 Secret Storage keystore."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable keystore {path}: {exc}") from None
    try:
        key = Account.decrypt(body, password)
    except ValueError:
        raise ConfigError(f"wrong password for keystore {path}") from None
    account: LocalAccount = Account.from_key(key)
    return account


def create_keystore(path: Path, password: str, kdf_iterations: int | None = None) -> str:
    """Create a new key, store it encrypted at ``path`` (mode 0600, never overwritten); return its address."""
    if path.exists():
        raise InputError(f"keystore {path} already exists; refusing to overwrite a key")
    if len(password) < 8:
        raise InputError("keystore password must have at least 8 characters")
    account = Account.create()
    body = Account.encrypt(account.key, password, kdf="scrypt", iterations=kdf_iterations)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out)
    return str(account.address)


def load_signer(settings: Settings, office: str, deployment: Deployment) -> LocalAccount:
    """The key that signs for ``office``: ``--keystore``, ``$IPREG_HOME/keys/<OFFICE>.json`` or the dev preset."""
    path = settings.keystore or settings.keys_dir / f"{office}.json"
    if path.is_file():
        return unlock(path, _password(settings))
    if settings.keystore is not None:
        raise ConfigError(f"keystore {settings.keystore} not found")
    if deployment.preset == "dev":
        account = dev_signer(office)
        if account is not None:
            return account
    raise ConfigError(f"no key for office {office}: create one with `ipreg office keystore --office {office}`")


def load_keystore(settings: Settings, path: Path) -> LocalAccount:
    """Unlock the keystore at ``path`` with the configured password (deployer keys and the like)."""
    if not path.is_file():
        raise ConfigError(f"keystore {path} not found")
    return unlock(path, _password(settings))
