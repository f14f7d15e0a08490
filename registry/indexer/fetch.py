"""Fetching batch manifests named on chain, without letting the chain aim this machine at its own network.

A ``manifestURI`` is written by any registered office, so fetching it is a request the *auditor's*
machine makes on behalf of a stranger (server-side request forgery). :class:`FetchPolicy` decides
what may be contacted: by default only ``https`` to public addresses. The host is resolved once, every
address it resolves to is checked (loopback, private, link-local, CGNAT, multicast, reserved, cloud
metadata and IPv4-in-IPv6 forms of them are refused), and the connection goes to the checked address
(the name is kept for the ``Host`` header and TLS), so a second DNS answer cannot redirect it. Redirects
are followed by hand and every hop is checked the same way. Size and total time are bounded.

Errors carry two texts: :attr:`FetchError.public` (what may be stored in the shared index and shown by
the API: never a status, address, or error from the remote side) and the detailed message for the
operator's log.

Content addresses: without a public manifest base, ``ipreg anchor`` anchors
``ni:///sha-256;<base64url digest>`` (RFC 6920) of the manifest bytes: any copy (this home's
``manifests/<OFFICE>/<root>.json``, or a mirror in :attr:`FetchPolicy.mirrors`) serves it, and the digest
checks the copy.

Usage::

    policy = FetchPolicy.from_env()                   # IPREG_MANIFEST_* settings
    body = fetch_url("https://ep.example/m/EP/0x….json", policy)
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

from registry.config import env_text
from registry.errors import ConfigError, InputError

#: Largest manifest fetched by default (a 10,000-record manifest is about 2 MB).
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
#: Default seconds for a whole fetch (connect, redirects, body).
DEFAULT_TIMEOUT: Final = 10.0
#: Redirect hops followed at most.
MAX_REDIRECTS: Final = 3

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[Address]]

#: Ranges never contacted unless an operator allows them explicitly (beyond ``not is_global``).
_BLOCKED: Final[tuple[Network, ...]] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT (also Alibaba's metadata 100.100.100.200)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",  # unique local (AWS metadata fd00:ec2::254)
        "fe80::/10",
        "ff00::/8",
    )
)


class FetchError(InputError):
    """A manifest that may not or could not be fetched."""

    code = "manifestFetch"

    def __init__(self, message: str, public: str = "manifest not available from its URI") -> None:
        super().__init__(message)
        #: What may be recorded in the shared index: no remote or network details.
        self.public = public


def _embedded_v4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    packed = int(ip)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d (deprecated IPv4-compatible)
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def is_public(ip: Address) -> bool:
    """Whether ``ip`` is a public unicast address (and so is any IPv4 address embedded in it)."""
    inner = _embedded_v4(ip)
    if inner is not None and not is_public(inner):
        return False
    if any(ip in net for net in _BLOCKED if net.version == ip.version):
        return False
    return bool(ip.is_global) and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def system_resolver(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    return out


#: The environment settings of the fetch policy (read through :func:`registry.config.env_text`).
_ENV: Final = (
    "IPREG_MANIFEST_SCHEMES",
    "IPREG_MANIFEST_HOSTS",
    "IPREG_MANIFEST_ALLOW_NETWORKS",
    "IPREG_MANIFEST_MIRRORS",
    "IPREG_MANIFEST_MAX_BYTES",
    "IPREG_MANIFEST_TIMEOUT",
)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What manifest fetching may contact, and how much it may read."""

    #: URI schemes fetched (``http`` only if an operator adds it).
    schemes: frozenset[str] = frozenset({"https"})
    #: If set, only these host names (lowercase) are fetched from.
    hosts: frozenset[str] | None = None
    #: Address ranges allowed although not public (e.g. ``127.0.0.0/8`` for a test, a consortium LAN).
    allow_networks: tuple[Network, ...] = ()
    #: Largest body read.
    max_bytes: int = DEFAULT_MAX_BYTES
    #: Seconds for the whole fetch.
    timeout: float = DEFAULT_TIMEOUT
    #: Base URLs that serve ``<base>/<OFFICE>/<root>.json`` copies for content-addressed (``ni:``) manifests.
    mirrors: tuple[str, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.schemes) - {"http", "https"}
        if unknown:
            raise ConfigError(f"manifest schemes must be http and/or https, got {sorted(unknown)}")
        if self.max_bytes < 1 or not self.timeout > 0:
            raise ConfigError("manifest size and time limits must be positive")
        for mirror in self.mirrors:
            parts = urlsplit(mirror)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"manifest mirror must be an absolute http(s) URL, got {mirror!r}")

    @classmethod
    def from_env(cls, **overrides: object) -> FetchPolicy:
        """``IPREG_MANIFEST_SCHEMES`` (comma list, default ``https``), ``IPREG_MANIFEST_HOSTS`` (comma list),
        ``IPREG_MANIFEST_ALLOW_NETWORKS`` (CIDR comma list), ``IPREG_MANIFEST_MAX_BYTES``,
        ``IPREG_MANIFEST_TIMEOUT``, ``IPREG_MANIFEST_MIRRORS`` (comma list); ``overrides`` win."""
        values: dict[str, object] = {}
        env = {name: text for name in _ENV if (text := env_text(name)) is not None and text.strip()}
        if "IPREG_MANIFEST_SCHEMES" in env:
            values["schemes"] = frozenset(_items(env["IPREG_MANIFEST_SCHEMES"], str.lower))
        if "IPREG_MANIFEST_HOSTS" in env:
            values["hosts"] = frozenset(_items(env["IPREG_MANIFEST_HOSTS"], str.lower))
        if "IPREG_MANIFEST_ALLOW_NETWORKS" in env:
            values["allow_networks"] = parse_networks(env["IPREG_MANIFEST_ALLOW_NETWORKS"])
        if "IPREG_MANIFEST_MIRRORS" in env:
            values["mirrors"] = tuple(m.rstrip("/") for m in _items(env["IPREG_MANIFEST_MIRRORS"], str))
        for name, key, kind in (
            ("IPREG_MANIFEST_MAX_BYTES", "max_bytes", int),
            ("IPREG_MANIFEST_TIMEOUT", "timeout", float),
        ):
            if name in env:
                try:
                    values[key] = kind(env[name])
                except ValueError:
                    raise ConfigError(f"{name} must be a number, got {env[name]!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def allows(self, ip: Address) -> bool:
        """Whether a connection to ``ip`` is allowed."""
        if any(ip.version == net.version and ip in net for net in self.allow_networks):
            return True
        return is_public(ip)


def _items(text: str, norm: Callable[[str], str]) -> list[str]:
    return [norm(x.strip()) for x in text.split(",") if x.strip()]


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """CIDR ranges from a comma list (or an iterable); ConfigError if one is malformed."""
    items = _items(text, str) if isinstance(text, str) else list(text)
    try:
        return tuple(ipaddress.ip_network(x, strict=False) for x in items)
    except ValueError:
        raise ConfigError(f"invalid address range in {items!r} (CIDR, e.g. 10.1.0.0/16)") from None


def _target(url: str, policy: FetchPolicy) -> tuple[str, str, int, Address]:
    """(scheme, host, port, checked address) of one hop; FetchError if the policy refuses it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in policy.schemes:
        raise FetchError(
            f"manifest scheme {scheme or '(none)'!r} not allowed (allowed: {', '.join(sorted(policy.schemes))})"
        )
    try:
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise FetchError("manifest URI with an invalid port") from None
    if not host or parts.username is not None or parts.password is not None:
        raise FetchError("manifest URI without a host, or with credentials")
    if policy.hosts is not None and host not in policy.hosts:
        raise FetchError(f"manifest host {host[:100]} is not in the allowed hosts")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = policy.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"cannot resolve {host[:100]}: {type(exc).__name__}") from None
    if not addresses:
        raise FetchError(f"{host[:100]} resolves to no address")
    refused = [a for a in addresses if not policy.allows(a)]
    if refused:
        raise FetchError(f"manifest host {host[:100]} resolves to a non-public address {refused[0]}: refused")
    return scheme, host, port, addresses[0]


def checked_target(url: str, policy: FetchPolicy) -> tuple[str, str, int, Address]:
    """(scheme, host, port, checked address) of ``url`` under ``policy``; FetchError if refused.

    The one check of an outbound address, for other requests than manifests too (the monitor's webhook).
    """
    return _target(url, policy)


def fetch_url(url: str, policy: FetchPolicy, body: bytes | None = None, content_type: str | None = None) -> bytes:
    """GET ``url`` under ``policy``: checked and pinned address per hop, bounded size and time.

    With ``body``, POST it (``content_type``) instead: the same checks per hop, and only redirects that
    keep the method (307, 308) are followed (used for RFC 3161 time-stamp queries).
    """
    deadline = time.monotonic() + policy.timeout
    with httpx.Client(follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            scheme, host, port, ip = _target(url, policy)
            parts = urlsplit(url)
            literal = f"[{ip}]" if ip.version == 6 else str(ip)
            pinned = f"{scheme}://{literal}:{port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
            default_port = port == (443 if scheme == "https" else 80)
            host_header = host if default_port else f"{host}:{port}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError("manifest fetch took longer than the time limit")
            extensions = {"sni_hostname": host} if scheme == "https" else {}
            headers = {"Host": host_header, "Accept": "application/json"}
            if body is not None:
                headers = {"Host": host_header, "Content-Type": content_type or "application/octet-stream"}
            try:
                request = client.build_request(
                    "GET" if body is None else "POST",
                    pinned,
                    headers=headers,
                    content=body,
                    timeout=httpx.Timeout(remaining),
                    extensions=extensions,
                )
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchError(f"cannot fetch {host[:100]}: {type(exc).__name__}") from None
            try:
                if response.status_code in ((301, 302, 303, 307, 308) if body is None else (307, 308)):
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"redirect without a location from {host[:100]}")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise FetchError(f"manifest at {host[:100]}: HTTP {response.status_code}")
                return _read_body(response, policy, deadline, host)
            finally:
                response.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _read_body(response: httpx.Response, policy: FetchPolicy, deadline: float, host: str) -> bytes:
    declared = response.headers.get("content-length")
    too_large = "manifest larger than the size limit"
    if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(f"manifest at {host[:100]} is {declared} bytes, above {policy.max_bytes}", too_large)
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > policy.max_bytes:
                raise FetchError(f"manifest at {host[:100]} exceeds {policy.max_bytes} bytes", too_large)
            if time.monotonic() > deadline:
                raise FetchError(f"manifest at {host[:100]} took longer than {policy.timeout} s")
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot read manifest from {host[:100]}: {type(exc).__name__}") from None
    return bytes(body)
