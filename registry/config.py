"""Settings from flags, ``IPREG_*`` environment and ``$IPREG_HOME/config.toml``, in that order.

Nothing is built at import; call :meth:`Settings.load`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, cast

from registry.errors import ConfigError

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_BATCH_SIZE = 10_000
EMBEDDED = "embedded"


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the data lives and which chain to talk to."""

    home: Path
    rpc_url: str = DEFAULT_RPC_URL
    batch_size: int = DEFAULT_BATCH_SIZE
    confirmations: int = 1
    keystore: Path | None = None
    password_file: Path | None = None
    rpc_retries: int = 5

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Merge ``overrides`` (flags; None means unset) over environment and config file."""
        home = Path(overrides.get("home") or os.environ.get("IPREG_HOME") or Path.home() / ".ipreg").expanduser()
        values: dict[str, Any] = {}
        config_file = home / "config.toml"
        if config_file.is_file():
            try:
                values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{config_file}: {exc}") from None
        for f in fields(cls):
            env = os.environ.get(f"IPREG_{f.name.upper()}")
            if env is not None and f.name != "home":
                values[f.name] = env
        values.update({k: v for k, v in overrides.items() if v is not None and k != "home"})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown setting(s) in {config_file}: {', '.join(sorted(unknown))}")
        try:
            settings = cls(home=home)
            return replace(
                settings,
                **cast(
                    dict[str, Any],
                    {
                        k: (
                            Path(v).expanduser()
                            if k in ("keystore", "password_file")
                            else int(v)
                            if k in ("batch_size", "confirmations", "rpc_retries")
                            else str(v)
                        )
                        for k, v in values.items()
                    },
                ),
            )
        except ValueError as exc:
            raise ConfigError(f"invalid setting: {exc}") from None

    @property
    def deployment_file(self) -> Path:
        """Where ``ipreg deploy`` records the deployment."""
        return self.home / "deployment.json"

    @property
    def store_file(self) -> Path:
        """The SQLite store (outbox and index)."""
        return self.home / "registry.sqlite"

    @property
    def chain_dir(self) -> Path:
        """State of the local anvil node."""
        return self.home / "chain"

    @property
    def keys_dir(self) -> Path:
        """Encrypted keystores, one per office (``<OFFICE>.json``)."""
        return self.home / "keys"
