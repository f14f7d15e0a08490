"""The verdicts of a verification and the :class:`Verdict` that carries one with its provenance.

``VERIFIED`` only when every check passes; any failed check gives the most specific other
verdict with the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from registry.core.formats import ProofBundle

VERIFIED: Final = "VERIFIED"
TAMPERED: Final = "TAMPERED"
UNKNOWN: Final = "UNKNOWN"
REVOKED: Final = "REVOKED"
SUPERSEDED: Final = "SUPERSEDED"
UNAUTHORISED: Final = "UNAUTHORISED"
#: The proof bundle speaks for another record (another id or canonicalization) than the file given with it.
MISMATCH: Final = "MISMATCH"

#: Exit status of ``ipreg verify`` per verdict (0 only for VERIFIED).
EXIT_CODES: Final = {
    VERIFIED: 0,
    TAMPERED: 3,
    UNKNOWN: 4,
    REVOKED: 5,
    SUPERSEDED: 6,
    UNAUTHORISED: 7,
    MISMATCH: 8,
}
REVOCATION_REASONS: Final = {1: "withdrawn", 2: "published in error", 3: "replaced", 4: "legal order"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a verification, with the provenance found."""

    verdict: str
    reason: str
    office: str | None = None
    record_id: str | None = None
    content_hash: str | None = None
    root: str | None = None
    block_number: int | None = None
    transaction_hash: str | None = None
    anchored_at: str | None = None
    signer: str | None = None
    superseded_by: str | None = None
    bundle: ProofBundle | None = None
    #: The content hash anchored for the record, when it differs from ``content_hash`` (the file's).
    anchored_hash: str | None = None

    @property
    def ok(self) -> bool:
        """True only for VERIFIED."""
        return self.verdict == VERIFIED

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase JSON (CLI ``--json`` and the API)."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "office": self.office,
            "recordId": self.record_id,
            "contentHash": self.content_hash,
            "root": self.root,
            "blockNumber": self.block_number,
            "transactionHash": self.transaction_hash,
            "anchoredAt": self.anchored_at,
            "signer": self.signer,
            "supersededBy": self.superseded_by,
            "anchoredHash": self.anchored_hash,
        }
