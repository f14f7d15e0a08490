"""Posting findings to an office's webhook: through the outbound policy, signed with a shared secret.

The URL is checked like a manifest fetch (:func:`registry.indexer.fetch.checked_target`: schemes, hosts and
address ranges of ``IPREG_MANIFEST_*``; the connection goes to the checked address, redirects are not
followed). Each body is one finding's JSON; ``X-Ipreg-Signature: sha256=<hex HMAC-SHA256(secret, body)>``
lets the receiver check it came from this monitor. The secret is read from a file and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx

from registry.errors import ConfigError
from registry.indexer.fetch import FetchError, FetchPolicy, checked_target

#: The header carrying the body's HMAC-SHA256.
SIGNATURE_HEADER: Final = "X-Ipreg-Signature"
#: Shortest secret accepted (bytes).
MIN_SECRET_BYTES: Final = 16


def signature(secret: bytes, body: bytes) -> str:
    """The header value for ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``secret``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def read_secret(path: Path) -> bytes:
    """The shared secret from ``path`` (surrounding whitespace removed); ConfigError if missing or short."""
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read webhook secret file {path}: {exc.strerror}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"webhook secret in {path} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where findings are posted, with what secret, under which outbound policy."""

    url: str
    secret: bytes = field(repr=False)
    policy: FetchPolicy

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"webhook must be an absolute http(s) URL, got {self.url[:100]!r}")

    def post(self, body: bytes) -> None:
        """POST one finding; FetchError (no secret in it) if refused by the policy or not answered 2xx."""
        scheme, host, port, ip = checked_target(self.url, self.policy)
        parts = urlsplit(self.url)
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        pinned = f"{scheme}://{literal}:{port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if scheme == "https" else 80)
        headers = {
            "Host": host if default_port else f"{host}:{port}",
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self.secret, body),
        }
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        try:
            with httpx.Client(follow_redirects=False, trust_env=False) as client:
                request = client.build_request(
                    "POST", pinned, content=body, headers=headers, timeout=self.policy.timeout, extensions=extensions
                )
                response = client.send(request)
        except httpx.HTTPError as exc:
            raise FetchError(f"webhook {host[:100]} not reachable: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise FetchError(f"webhook {host[:100]} answered HTTP {response.status_code}")
