"""An anchored batch as the contract stores it, and UTC time formatting (light: no web3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


def utc_iso(timestamp: int) -> str:
    """``2026-11-21T10:00:00Z`` for a Unix time."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """An anchored batch as the contract stores it."""

    root: str
    office: str
    signer: str
    timestamp: int
    block_number: int
    leaf_count: int
    revocation_reason: int

    @property
    def anchored_at(self) -> str:
        """UTC time of the anchoring block, ISO 8601."""
        return utc_iso(self.timestamp)


@dataclass(frozen=True, slots=True)
class AnchoredBatch:
    """A ``BatchAnchored`` event: a batch an office anchored, and where its manifest is said to be."""

    root: str
    office: str
    signer: str
    block_number: int
    leaf_count: int
    manifest_uri: str
    transaction_hash: str
