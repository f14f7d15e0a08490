"""Which time-stamping authorities an office asks, and which a verifier trusts: flags and ``timestamps.toml``.

``$IPREG_HOME/timestamps.toml`` (every key optional)::

    attempts = 4                      # tries per authority and batch before the run stops (records stay pending)
    retry_delay = 2.0                 # seconds before the 2nd try, doubled each time
    tolerance = 3600                  # seconds the authority's time may differ from the block's
    allow_networks = ["10.1.0.0/16"]  # non-public ranges an authority may be at (none by default)

    [[authority]]                     # asked by `ipreg anchor` for every batch, and trusted for its own tokens
    url = "https://qtsa.example.eu/tsr"
    certs = ["tsa/qtsa-root.pem"]      # trust anchors: root(s) first, any intermediates (relative to the home)
    policy = "0.4.0.2023.1.1"          # optional: the policy OID its tokens must carry

    [[trust]]                         # trusted for verification only, for tokens of any authority
    certs = ["tsa/eu-tl-root.pem"]

``--tsa URL`` (repeatable) adds authorities, ``--tsa-cert FILE`` (repeatable) trust anchors for them.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from registry.errors import ConfigError
from registry.timestamps.tokens import DEFAULT_TOLERANCE, TrustAnchor

if TYPE_CHECKING:
    from cryptography import x509

    from registry.indexer.fetch import FetchPolicy

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The configuration file, in the home.
CONFIG_NAME: Final = "timestamps.toml"
#: Largest reply read from an authority.
MAX_REPLY_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class Authority:
    """One time-stamping authority: its URL and the anchors its tokens must verify against (may be empty)."""

    url: str
    anchors: tuple[TrustAnchor, ...] = ()


@dataclass(frozen=True, slots=True)
class TimestampConfig:
    """Authorities to ask, anchors to trust, retry and tolerance settings."""

    authorities: tuple[Authority, ...] = ()
    #: Anchors for verification (those of the authorities included).
    anchors: tuple[TrustAnchor, ...] = ()
    attempts: int = 4
    retry_delay: float = 2.0
    tolerance: float = DEFAULT_TOLERANCE
    allow_networks: tuple[Network, ...] = field(default=())
    timeout: float = 10.0

    def fetch_policy(self) -> FetchPolicy:
        """The outbound policy of requests to authorities: http(s), public addresses unless ranges are allowed."""
        from registry.indexer.fetch import FetchPolicy  # httpx only when something is fetched

        return FetchPolicy(
            schemes=frozenset({"http", "https"}),
            allow_networks=self.allow_networks,
            max_bytes=MAX_REPLY_BYTES,
            timeout=self.timeout,
        )


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM (one or more) or DER file; ConfigError naming the file."""
    from cryptography import x509

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read trust anchor {path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return list(x509.load_pem_x509_certificates(data))
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise ConfigError(f"{path} holds no X.509 certificate (PEM or DER)") from None


def anchor_of(paths: Sequence[Path], policy: str | None = None, authority: str | None = None) -> TrustAnchor:
    """A trust anchor from certificate files: self-issued certificates are roots, the others intermediates."""
    certs = [c for p in paths for c in load_certificates(p)]
    roots = tuple(c for c in certs if c.issuer == c.subject)
    if not roots:
        raise ConfigError(f"no root (self-issued) certificate among {', '.join(str(p) for p in paths)}")
    if policy is not None:
        from cryptography import x509

        try:
            x509.ObjectIdentifier(policy)
        except ValueError:
            raise ConfigError(f"time-stamp policy {policy!r} is not an OID (e.g. 0.4.0.2023.1.1)") from None
    intermediates = tuple(c for c in certs if c.issuer != c.subject)
    return TrustAnchor(roots, intermediates, policy, authority)


def check_url(url: str) -> str:
    """An authority URL: absolute http(s); ConfigError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"time-stamping authority must be an absolute http(s) URL, got {url!r}")
    return url


def _number(doc: dict[str, Any], key: str, default: float, least: float, where: Path) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
        raise ConfigError(f"{where}: {key} must be a number of at least {least}")
    return float(value)


def _paths(home: Path, items: Any, where: Path) -> list[Path]:
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: certs must be a non-empty list of file names")
    return [(home / p).expanduser() for p in items]


def _networks(items: Any, where: Path) -> list[Network]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: allow_networks must be a list of CIDR ranges")
    try:
        return [ipaddress.ip_network(i.strip(), strict=False) for i in items]
    except ValueError:
        raise ConfigError(f"invalid address range in {items!r} (CIDR, e.g. 10.1.0.0/16)") from None


def load_config(
    home: Path,
    urls: Sequence[str] = (),
    cert_files: Sequence[Path] = (),
    policy: str | None = None,
    allow_networks: Sequence[str] = (),
) -> TimestampConfig:
    """The time-stamp settings: ``$IPREG_HOME/timestamps.toml`` and the flags (``--tsa``, ``--tsa-cert``, …)."""
    where = home / CONFIG_NAME
    doc: dict[str, Any] = {}
    if where.is_file():
        try:
            doc = tomllib.loads(where.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    unknown = set(doc) - {"attempts", "retry_delay", "tolerance", "allow_networks", "timeout", "authority", "trust"}
    if unknown:
        raise ConfigError(f"unknown setting(s) in {where}: {', '.join(sorted(unknown))}")
    authorities: list[Authority] = []
    anchors: list[TrustAnchor] = []
    for item in doc.get("authority", []):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise ConfigError(f"{where}: every [[authority]] needs a url")
        url = check_url(item["url"])
        own = (anchor_of(_paths(home, item["certs"], where), item.get("policy"), url),) if "certs" in item else ()
        authorities.append(Authority(url, own))
        anchors.extend(own)
    for item in doc.get("trust", []):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: every [[trust]] needs certs")
        anchors.append(anchor_of(_paths(home, item.get("certs"), where), item.get("policy")))
    flag_anchor = anchor_of(list(cert_files), policy) if cert_files else None
    if flag_anchor is not None:
        anchors.append(flag_anchor)
    for url in urls:
        check_url(url)
        if all(a.url != url for a in authorities):
            authorities.append(Authority(url, (flag_anchor,) if flag_anchor is not None else ()))
    networks = _networks(doc.get("allow_networks", []), where) + _networks(list(allow_networks), where)
    return TimestampConfig(
        tuple(authorities),
        tuple(anchors),
        int(_number(doc, "attempts", 4, 1, where)),
        _number(doc, "retry_delay", 2.0, 0, where),
        _number(doc, "tolerance", DEFAULT_TOLERANCE, 0, where),
        tuple(networks),
        _number(doc, "timeout", 10.0, 0.1, where),
    )
