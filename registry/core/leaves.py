"""Leaf values: the ``(recordId, contentHash, canonicalization, supersedes)`` tuple anchored per record.

:class:`LeafValue` encodes and hashes a leaf exactly as ``contracts/`` and OpenZeppelin's
StandardMerkleTree do (``LEAF_ENCODING``); sealed records anchor a salted commitment instead
(:func:`sealed_commitment`, :func:`sealed_value`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from registry.core import canon, merkle
from registry.errors import BundleError

LEAF_ENCODING: Final = ("string", "bytes32", "string", "bytes32")
ZERO_HASH: Final = "0x" + "00" * 32
SEALED: Final = "sealed"

_HEX32 = re.compile(r"0x[0-9a-f]{64}")

# ---------------------------------------------------------------------------- leaf values


def check_hash(value: str, what: str) -> str:
    """``value`` if it is ``0x`` and 64 lowercase hex digits; BundleError naming ``what`` otherwise."""
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise BundleError(f"{what} must be 0x followed by 64 lowercase hex digits, got {str(value)[:80]!r}")
    return value


@dataclass(frozen=True, slots=True)
class LeafValue:
    """The values tuple of one leaf: ``(recordId, contentHash, canonicalization, supersedes)``."""

    record_id: str
    content_hash: str
    canonicalization: str
    supersedes: str = ZERO_HASH

    def validate(self) -> LeafValue:
        """Check values that come from outside (bundles, requests); return self."""
        check_hash(self.content_hash, "contentHash")
        check_hash(self.supersedes, "supersedes")
        if self.canonicalization not in (*canon.CANONICALIZATIONS, SEALED):
            raise BundleError(f"unknown canonicalization {self.canonicalization!r}")
        if len(self.record_id) > 64:
            raise BundleError("recordId longer than 64 characters")
        return self

    def encode(self) -> bytes:
        """ABI encoding of the tuple (``LEAF_ENCODING``)."""
        return merkle.encode_leaf_values(
            self.record_id,
            bytes.fromhex(self.content_hash[2:]),
            self.canonicalization,
            bytes.fromhex(self.supersedes[2:]),
        )

    def leaf(self) -> bytes:
        """The OpenZeppelin standard leaf hash."""
        return merkle.leaf_hash(self.encode())

    def as_list(self) -> list[str]:
        """The JSON form used in bundles and manifests."""
        return [self.record_id, self.content_hash, self.canonicalization, self.supersedes]

    @classmethod
    def from_list(cls, value: Any) -> LeafValue:
        """Parse the JSON form; raise BundleError if malformed."""
        if not isinstance(value, list) or len(value) != 4 or not all(isinstance(v, str) for v in value):
            raise BundleError(
                "value must be a list of four strings [recordId, contentHash, canonicalization, supersedes]"
            )
        return cls(value[0], value[1].lower(), value[2], value[3].lower()).validate()


# ---------------------------------------------------------------------------- sealed records


def sealed_commitment(salt: bytes, record_id: str, content_hash: str, canonicalization: str) -> str:
    """Commitment anchored for a sealed record: SHA-256 over salt and the record's values.

    ``sha256(salt || abi.encode(string recordId, bytes32 contentHash, string canonicalization, bytes32 0))``;
    with a 32-byte random salt nothing about the record is learnable until the salt is revealed.
    """
    if len(salt) != 32:
        raise BundleError("salt must be 32 bytes")
    encoded = merkle.encode_leaf_values(record_id, bytes.fromhex(content_hash[2:]), canonicalization, merkle.ZERO32)
    return canon.sha256_hex(salt + encoded)


def sealed_value(office: str, commitment: str) -> LeafValue:
    """The leaf value of a sealed record: only the office and the commitment are visible."""
    return LeafValue(office, commitment, SEALED, ZERO_HASH)
