"""Signing keys: encrypted keystores (Web3 Secret Storage), dev-preset keys for local chains only.

Private keys are never printed or logged; only addresses leave this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from registry.config import Settings, env_value
from registry.errors import ConfigError, InputError
from registry.files.atomic import write_atomic

if TYPE_CHECKING:  # eth-account and web3 are imported where keys are used, not when the CLI starts
    from eth_account.signers.local import LocalAccount

    from registry.chain.deployments import Deployment


def _password(settings: Settings) -> str:
    if settings.password_file is not None:
        try:
            return settings.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read password file {settings.password_file}: {exc.strerror}") from None
    password = env_value("IPREG_KEYSTORE_PASSWORD")
    if password is None:
        raise ConfigError("keystore password missing: set IPREG_KEYSTORE_PASSWORD or IPREG_PASSWORD_FILE")
    return password


def unlock(path: Path, password: str) -> LocalAccount:
    """Decrypt a Web3 Secret Storage keystore."""
    from eth_account import Account

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
    return _create_key(lambda _address: path, password, kdf_iterations)[0]


def _create_key(place: Callable[[str], Path], password: str, kdf_iterations: int | None) -> tuple[str, Path]:
    """A new key, encrypted at ``place(its address)`` (mode 0600, never overwritten): (address, path)."""
    if len(password) < 8:
        raise InputError("keystore password must have at least 8 characters")
    from eth_account import Account

    account = Account.create()
    path = place(str(account.address))
    if path.exists():
        raise InputError(f"keystore {path} already exists; refusing to overwrite a key")
    body = Account.encrypt(account.key, password, kdf="scrypt", iterations=kdf_iterations)
    try:
        write_atomic(path, json.dumps(body).encode("utf-8"), mode=0o600, exclusive=True)
    except FileExistsError:
        raise InputError(f"keystore {path} already exists; refusing to overwrite a key") from None
    return str(account.address), path


def load_signer(settings: Settings, office: str, deployment: Deployment) -> LocalAccount:
    """The key that signs for ``office``: ``--keystore``, ``$IPREG_HOME/keys/<OFFICE>.json`` or the dev preset."""
    path = settings.keystore or settings.keys_dir / f"{office}.json"
    if path.is_file():
        return unlock(path, _password(settings))
    if settings.keystore is not None:
        raise ConfigError(f"keystore {settings.keystore} not found")
    if deployment.preset == "dev":
        from registry.chain.dev import dev_signer

        account = dev_signer(office)
        if account is not None:
            return account
    raise ConfigError(f"no key for office {office}: create one with `ipreg office keystore --office {office}`")


def new_password(settings: Settings) -> str:
    """The password of a new keystore: password file, ``$IPREG_KEYSTORE_PASSWORD``, a prompt, or a pipe.

    On a terminal the password is asked twice; from a pipe one line of stdin is read (no echo
    warning: nothing is shown either way).
    """
    if settings.password_file is not None or env_value("IPREG_KEYSTORE_PASSWORD") is not None:
        return _password(settings)
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        first = getpass.getpass("new keystore password: ")
        if getpass.getpass("again: ") != first:
            raise InputError("the two passwords differ; nothing written")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise InputError("no keystore password: give it on stdin, IPREG_KEYSTORE_PASSWORD or IPREG_PASSWORD_FILE")
    return line.rstrip("\r\n")


def working_key(settings: Settings, office: str, deployment: Deployment | None) -> str | None:
    """What signs for ``office`` now, in words (its keystore file or the dev preset key), or None."""
    path = settings.keystore or settings.keys_dir / f"{office}.json"
    if path.is_file():
        return f"keystore {path}"
    if deployment is not None and deployment.preset == "dev":
        from registry.chain.dev import dev_signer

        account = dev_signer(office)
        if account is not None:
            return f"the dev preset key {account.address}"
    return None


def create_office_keystore(settings: Settings, office: str, password: str, beside: bool) -> tuple[str, Path]:
    """A new key for ``office`` in ``$IPREG_HOME/keys``: ``<OFFICE>.json``, or beside it when ``beside``.

    Beside (the office already has a working key) the file is ``<OFFICE>-<address prefix>.json``, so the
    working key keeps signing until the office switches on purpose. Never overwrites a file.
    """
    keys_dir = settings.keys_dir
    if not beside:
        path = keys_dir / f"{office}.json"
        return create_keystore(path, password), path
    return _create_key(lambda address: keys_dir / f"{office}-{address[2:10].lower()}.json", password, None)


def load_keystore(settings: Settings, path: Path) -> LocalAccount:
    """Unlock the keystore at ``path`` with the configured password (deployer keys and the like)."""
    if not path.is_file():
        raise ConfigError(f"keystore {path} not found")
    return unlock(path, _password(settings))
