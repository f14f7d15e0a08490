"""RFC 3161 time-stamp tokens over batch roots: the authority's legal time beside the block's.

- :mod:`~registry.timestamps.tokens`: requests, reply checks and the one offline token check (imprint,
  signature, chain to trust anchors, time-stamping EKU, validity at the token's time, policy, tolerance).
- :mod:`~registry.timestamps.config`: the authorities asked and the anchors trusted (flags, ``timestamps.toml``).
- :mod:`~registry.timestamps.stamper`: asking the authorities over HTTP through the outbound fetch policy,
  with retries; used by the anchoring pipeline before a batch is created.

Usage::

    config = load_config(home, urls=["https://tsa.example/tsr"], cert_files=[Path("tsa-root.pem")])
    tokens = Stamper(config)(root)                                # anchoring
    check_token(tokens[0], root, config.anchors, block_time)      # verification, offline
"""

from typing import TYPE_CHECKING, Any

from registry.timestamps.config import Authority, TimestampConfig, load_config
from registry.timestamps.tokens import TimestampError, TokenCheck, TrustAnchor, check_token

if TYPE_CHECKING:
    from registry.timestamps.stamper import AuthorityUnavailable, Stamper, stamper_for

_STAMPER = ("AuthorityUnavailable", "Stamper", "stamper_for")


def __getattr__(name: str) -> Any:
    """The stamper's names, imported on first use (it brings the HTTP client; verification does not need it)."""
    if name in _STAMPER:
        from registry.timestamps import stamper

        return getattr(stamper, name)
    raise AttributeError(name)


__all__ = [
    "Authority",
    "AuthorityUnavailable",
    "Stamper",
    "TimestampConfig",
    "TimestampError",
    "TokenCheck",
    "TrustAnchor",
    "check_token",
    "load_config",
    "stamper_for",
]
