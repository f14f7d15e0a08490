"""Settings from flags, ``IPREG_*`` environment and ``$IPREG_HOME/config.toml``, in that order.

:class:`Settings` is where the data lives and which chain to talk to (CLI and service);
:class:`ServiceSettings` is how the HTTP service behaves. Both read the ``IPREG_*`` environment here
(:func:`env_text`, :func:`env_number`) and nowhere else. Nothing is built at import; call
:meth:`Settings.load` and :meth:`ServiceSettings.from_env`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from registry.core.st3 import is_st3
from registry.errors import ConfigError

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_BATCH_SIZE = 10_000
EMBEDDED = "embedded"
#: Default largest request body of the service (uploads included).
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Default seconds between two passes of the service's background indexer.
DEFAULT_INDEX_INTERVAL = 5.0


# ---------------------------------------------------------------------------- environment


def env_value(name: str) -> str | None:
    """The environment variable ``name`` exactly as set (an empty value too); None if unset."""
    return os.environ.get(name)


def env_text(name: str) -> str | None:
    """The environment variable ``name`` (an ``IPREG_*`` setting); None if unset or empty."""
    return os.environ.get(name) or None


def env_number(name: str) -> float | None:
    """The environment variable ``name`` as a number; None if unset or blank, ConfigError if not a number."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


# ---------------------------------------------------------------------------- the registry


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
        home = Path(overrides.get("home") or env_text("IPREG_HOME") or Path.home() / ".ipreg").expanduser()
        values: dict[str, Any] = {}
        config_file = home / "config.toml"
        if config_file.is_file():
            try:
                values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{config_file}: {exc}") from None
        source: dict[str, str] = {k: f"{k} in {config_file}" for k in values}
        for f in fields(cls):
            env = os.environ.get(f"IPREG_{f.name.upper()}")
            if env is not None and f.name != "home":
                values[f.name] = env
                source[f.name] = f"IPREG_{f.name.upper()}"
        for k, v in overrides.items():
            if v is not None and k != "home":
                values[k] = v
                source[k] = f"--{k.replace('_', '-')}"
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown setting(s) in {config_file}: {', '.join(sorted(unknown))}")
        return replace(cls(home=home), **{k: _setting(k, v, source[k]) for k, v in values.items()})

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


#: Whole-number settings and the least value each accepts.
_COUNTS: dict[str, int] = {"batch_size": 1, "confirmations": 0, "rpc_retries": 0}


def _setting(name: str, value: Any, source: str) -> Any:
    """``value`` of setting ``name`` as its type; ConfigError naming ``source`` (flag, variable or file) if invalid."""
    if name in ("keystore", "password_file"):
        return Path(str(value)).expanduser()
    if name not in _COUNTS:
        return str(value)
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ConfigError(f"{source} must be a whole number, got {value!r}")
    number = int(text)
    if number < _COUNTS[name]:
        raise ConfigError(f"{source} must be at least {_COUNTS[name]}, got {number}")
    return number


# ---------------------------------------------------------------------------- the service

#: Environment variables of the service's limits: (variable, setting, type).
_SERVICE_LIMITS: tuple[tuple[str, str, type], ...] = (
    ("IPREG_MAX_SUBMIT_BYTES", "max_submit_bytes", int),
    ("IPREG_MAX_BODY_BYTES", "max_body_bytes", int),
    ("IPREG_BODY_TIMEOUT", "body_timeout", float),
    ("IPREG_HEADER_TIMEOUT", "header_timeout", float),
    ("IPREG_MAX_CONNECTIONS", "max_connections", int),
    ("IPREG_SERVICE_RPC_TIMEOUT", "rpc_timeout", float),
    ("IPREG_HEALTH_TIMEOUT", "health_timeout", float),
    ("IPREG_UPLOAD_CONCURRENCY", "upload_concurrency", int),
    ("IPREG_UPLOAD_WORKERS", "upload_workers", int),
    ("IPREG_BATCH_CONCURRENCY", "batch_concurrency", int),
    ("IPREG_RETRY_AFTER", "retry_after", int),
    ("IPREG_READ_BUDGET", "read_budget", float),
    ("IPREG_CHAIN_WORKERS", "chain_workers", int),
    ("IPREG_HEALTH_INTERVAL", "health_interval", float),
    ("IPREG_MAX_JSON_BYTES", "max_json_bytes", int),
    ("IPREG_MAX_JSON_KEYS", "max_json_keys", int),
    ("IPREG_CLIENT_CONNECTIONS", "client_connections", int),
    ("IPREG_CLIENT_REQUESTS", "client_requests", int),
)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """How the HTTP service behaves (beyond the registry's :class:`Settings`)."""

    #: Largest request body accepted (uploads included); larger ones get 413 while being read.
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    #: Anchor pending records every this many seconds in the background; None: only on request.
    batch_interval: float | None = None
    #: Offices this instance writes for; None: every office whose key it can load.
    offices: frozenset[str] | None = None
    #: Seconds chain state (batches, revocations) is reused when verifying.
    cache_seconds: float = 5.0
    #: Public base URL of batch manifests (default: content addresses ``ni:///sha-256;...`` of the manifests,
    #: kept under ``$IPREG_HOME/manifests`` and served at ``/v1/manifests``).
    manifest_base: str | None = None
    #: Longest wait for another batch of the same office before answering 409.
    batch_wait_seconds: float = 120.0
    #: Follow the chain's events (and fetch every office's published manifests) into the index every
    #: this many seconds, so verification knows the records of all offices; 0 disables the loop. It never
    #: runs on the in-process EVM (its only writer is this process): call ``Service.sync_index()`` there.
    index_interval: float = DEFAULT_INDEX_INTERVAL
    #: Largest body of a record submission (``POST /v1/offices/{code}/records``); None: ``max_upload_bytes``.
    max_submit_bytes: int | None = None
    #: Largest body of every other route.
    max_body_bytes: int = 64 * 1024
    #: Seconds for a request body to arrive completely (408 after that).
    body_timeout: float = 30.0
    #: Seconds for a request's headers to arrive (the connection is closed with 408 after that).
    header_timeout: float = 10.0
    #: Open connections at most; more are answered 503 and closed at once.
    max_connections: int = 1000
    #: Seconds of one JSON-RPC call from the service (request handlers, batches).
    rpc_timeout: float = 5.0
    #: Seconds ``/health`` waits for the node before it answers ``degraded``.
    health_timeout: float = 0.08
    #: Large uploads (verify, submit) handled at once; more get 429 with ``Retry-After``.
    upload_concurrency: int = 2
    #: Workers canonicalizing uploads (apart from the threads serving reads).
    upload_workers: int = 1
    #: Canonicalize uploads in worker processes (True) or threads (False: no extra process).
    upload_processes: bool = True
    #: Batch runs requested at once (running or waiting for the office's lock); more get 429.
    batch_concurrency: int = 4
    #: Seconds a client is told to wait (``Retry-After``) when turned away.
    retry_after: int = 2
    #: Seconds a public read may wait for the node in all; then it answers from the index, or 503.
    read_budget: float = 0.25
    #: Threads making the chain calls of requests (a stalled node ties up these only).
    chain_workers: int = 8
    #: Threads serving reads (each holds one at most ``read_budget`` waiting on the node); fewer threads
    #: contend less with the event loop (``/health``) for the interpreter lock.
    read_threads: int = 16
    #: Seconds between the health loop's probes of the node (``/health`` answers from the last one).
    health_interval: float = 1.0
    #: Largest JSON request body (a hash, a bundle, a revocation); larger ones get 413 as soon as passed.
    max_json_bytes: int = 1024 * 1024
    #: Most object keys in a JSON request body (counted on the raw bytes before it is parsed).
    max_json_keys: int = 10_000
    #: Deepest nesting of a JSON request body.
    max_json_depth: int = 64
    #: Open connections per client address; more are answered 503 and closed.
    client_connections: int = 256
    #: Requests in progress per client address (``/health`` apart); more get 429 with ``Retry-After``.
    client_requests: int = 64
    #: Failed token attempts per client address before each further one is delayed (doubling, up to 8 s).
    token_failures_free: int = 5

    @property
    def submit_bytes(self) -> int:
        """The effective submission body limit."""
        return self.max_submit_bytes if self.max_submit_bytes is not None else self.max_upload_bytes

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1 or self.submit_bytes < 1 or self.max_body_bytes < 1:
            raise ConfigError("body size limits must be at least 1 byte")
        for name in (
            "body_timeout",
            "header_timeout",
            "rpc_timeout",
            "health_timeout",
            "read_budget",
            "health_interval",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be positive seconds")
        for name in (
            "max_connections",
            "upload_concurrency",
            "upload_workers",
            "batch_concurrency",
            "retry_after",
            "chain_workers",
            "read_threads",
            "max_json_bytes",
            "max_json_keys",
            "max_json_depth",
            "client_connections",
            "client_requests",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1")
        if self.batch_interval is not None and self.batch_interval <= 0:
            raise ConfigError("batch interval must be positive seconds")
        if self.cache_seconds < 0:
            raise ConfigError("cache seconds must not be negative")
        if not self.index_interval >= 0:  # also refuses NaN
            raise ConfigError("index interval must be zero (off) or positive seconds")
        for office in self.offices or ():
            if not is_st3(office):
                raise ConfigError(f"unknown WIPO ST.3 office code {office!r}")

    @classmethod
    def from_env(cls, **overrides: Any) -> ServiceSettings:
        """``IPREG_MAX_UPLOAD_BYTES``, ``IPREG_BATCH_INTERVAL``, ``IPREG_SERVICE_OFFICES`` (comma list),
        ``IPREG_CACHE_SECONDS``, ``IPREG_MANIFEST_BASE``, ``IPREG_INDEX_INTERVAL`` (0: off), and the limits
        of ``_SERVICE_LIMITS`` (``IPREG_HEALTH_TIMEOUT``, ``IPREG_UPLOAD_CONCURRENCY`` ...);
        ``overrides`` (None = unset) win."""
        values: dict[str, Any] = {}
        upload = env_number("IPREG_MAX_UPLOAD_BYTES")
        if upload is not None:
            values["max_upload_bytes"] = int(upload)
        interval = env_number("IPREG_BATCH_INTERVAL")
        if interval is not None:
            values["batch_interval"] = interval or None
        cache = env_number("IPREG_CACHE_SECONDS")
        if cache is not None:
            values["cache_seconds"] = cache
        index_interval = env_number("IPREG_INDEX_INTERVAL")
        if index_interval is not None:
            values["index_interval"] = index_interval
        offices = env_text("IPREG_SERVICE_OFFICES")
        if offices:
            values["offices"] = frozenset(o.strip().upper() for o in offices.split(",") if o.strip())
        manifest_base = env_text("IPREG_MANIFEST_BASE")
        if manifest_base:
            values["manifest_base"] = manifest_base
        for env, key, kind in _SERVICE_LIMITS:
            number = env_number(env)
            if number is not None:
                values[key] = kind(number)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
