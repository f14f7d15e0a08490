"""Governance payloads and the views of offices' keys and proposals, as the OfficeRegistry stores them.

A proposal carries its parameters ``abi.encode``-d (the payload); :func:`encode_payload` and
:func:`decode_payload` are the one table of each action's fields. :class:`SignerInfo` and
:class:`ProposalView` are what the client's reads return. No chain access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.chain.abi import decode as abi_decode
from registry.core.address import checksum_address
from registry.core.batch import BatchInfo
from registry.core.contract import ACTIONS
from registry.errors import ChainError


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """One key of an office: its validity terms ``(fromBlock, untilBlock or None)`` and marks."""

    address: str
    current: bool
    terms: tuple[tuple[int, int | None], ...]
    compromised_from: int | None
    nominated: bool
    replaces: str | None
    #: Who made the key's own compromise mark (a key address, or "governance") and in which block.
    marked_by: str | None = None
    marked_at: int | None = None


@dataclass(frozen=True, slots=True)
class RevocationInfo:
    """A batch's or record's revocation as recorded: reason (0: none), key, block, and whether it stands.

    It stands unless its key was compromised at or before its block (the contracts decide: 3.0.0).
    """

    reason: int
    by: str | None
    at_block: int | None
    stands: bool


@dataclass(frozen=True, slots=True)
class ProposalView:
    """A governance proposal as the contract stores it, payload decoded."""

    id: int
    action: str
    office: str | None
    proposer: str | None
    executed: bool
    created_block: int
    expires_block: int
    payload_hash: str
    payload: dict[str, Any]
    approvers: tuple[str | None, ...]
    counted_approvals: int
    cancelled: bool = False


_PAYLOAD_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "admit": (("name", "string"), ("base_uri", "string"), ("signer", "address")),
    "suspend": (),
    "reinstate": (),
    "replace-signers": (("nominee", "address"),),
    "mark-compromised": (("signer", "address"), ("from_block", "uint64")),
    "set-rule": (
        ("numerator", "uint16"),
        ("denominator", "uint16"),
        ("min_approvals", "uint16"),
        ("ttl_blocks", "uint64"),
    ),
    "freeze": (("successor", "address"),),
    "cancel": (("proposal_id", "uint256"),),
}


def encode_payload(action: str, **params: Any) -> bytes:
    """``abi.encode`` of an action's parameters (names as in ``_PAYLOAD_TYPES``); ChainError if wrong."""
    from eth_abi.abi import encode as abi_encode  # what is signed: eth-abi's encoding (imported by writers only)
    from eth_utils.address import to_checksum_address

    if action not in _PAYLOAD_TYPES:
        raise ChainError(f"unknown governance action {action!r} (expected one of {', '.join(ACTIONS)})")
    fields = _PAYLOAD_TYPES[action]
    missing = [n for n, _ in fields if n not in params]
    extra = sorted(set(params) - {n for n, _ in fields})
    if missing or extra:
        raise ChainError(f"action {action}: missing {missing or 'nothing'}, unexpected {extra or 'nothing'}")
    values = [to_checksum_address(params[n]) if t == "address" else params[n] for n, t in fields]
    if not fields:
        return b""
    return abi_encode([t for _, t in fields], values)


def decode_payload(action: str, payload: bytes) -> dict[str, Any]:
    """The parameters of a stored payload by name (addresses checksummed); ``{}`` for empty payloads."""
    fields = _PAYLOAD_TYPES[action]
    if not fields:
        return {}
    values = abi_decode([t for _, t in fields], payload)
    return {n: v for (n, _), v in zip(fields, values, strict=True)}  # addresses come checksummed


def code_str(raw: Any) -> str | None:
    """An ABI ``bytes2`` office code as text; None for the empty code (no office)."""
    code = bytes(raw)
    return None if code == b"\x00\x00" else code.decode("ascii")


def office_bytes(code: str) -> bytes:
    """ST.3 code as ``bytes2``."""
    return code.encode("ascii")


def revocation_of(raw: Any) -> RevocationInfo:
    """A ``Revocation`` tuple as the AnchorRegistry's views return it (3.0.0)."""
    reason = int(raw[0])
    if not reason:
        return RevocationInfo(0, None, None, False)
    return RevocationInfo(reason, checksum_address(str(raw[1])), int(raw[2]), bool(raw[3]))


def batch_info_of(root: str, raw: Any) -> BatchInfo | None:
    """A ``Batch`` tuple as ``batchOf`` / ``verifyRecord`` return it; None if not anchored."""
    if int(raw[3]) == 0:
        return None
    return BatchInfo(
        root, bytes(raw[0]).decode("ascii"), str(raw[1]), int(raw[2]), int(raw[3]), int(raw[4]), int(raw[5])
    )
