"""Ethereum addresses in their EIP-55 mixed-case form (no web3 needed)."""

from __future__ import annotations

from registry.core.merkle import keccak
from registry.errors import ConfigError

__all__ = ["checksum_address"]

_HEX = frozenset("0123456789abcdef")


def checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a 20-byte hex address (as ``Web3.to_checksum_address``); ConfigError if not one."""
    hexpart = address.lower().removeprefix("0x")
    if len(hexpart) != 40 or not _HEX.issuperset(hexpart):
        raise ConfigError(f"not an Ethereum address: {address!r}")
    digest = keccak(hexpart.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hexpart))
