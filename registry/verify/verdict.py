"""The verdicts of a verification and the :class:`Verdict` that carries one with its provenance.

``VERIFIED`` only when every check passes; any failed check gives the most specific other
verdict with the reason in words and a reason code (the class of the reason, the same on every
path). Every verdict says what it checked and against what: registry, chain id, the block height
of the state it read, and one :class:`Check` per step (passed, failed, skipped once the verdict was
decided, or not checked: why, and how to check it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from registry.core.formats import ProofBundle
from registry.timestamps.tokens import TokenCheck

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
#: What each verdict means (``ipreg verify --help``, the API's documentation).
MEANINGS: Final = {
    VERIFIED: (
        "anchored by the office, unchanged, signer authorised at its block, not revoked, no later version"
        " (a check this path could not run is named: NOT CHECKED)"
    ),
    TAMPERED: "the record id is anchored, this content (or this proof) is not",
    MISMATCH: "file and bundle belong to different records",
    UNKNOWN: "nothing anchored in the pinned registry matches (also: a bundle of another registry or chain)",
    REVOKED: "the office revoked the record or its whole batch (reason code below)",
    SUPERSEDED: "a later version of the record is anchored (named in the verdict)",
    UNAUTHORISED: "the signer was not the office's at that block, or its key is marked compromised from then",
}
REVOCATION_REASONS: Final = {1: "withdrawn", 2: "published in error", 3: "replaced", 4: "legal order"}

# -- reason codes: the class of a verdict's reason, the same on every path

R_VERIFIED: Final = "verified"
R_OTHER_RECORD: Final = "other-record"
R_FOREIGN_REGISTRY: Final = "foreign-registry"
R_WRONG_CHAIN: Final = "wrong-chain"
R_NOT_ANCHORED: Final = "not-anchored"
R_NOT_FOUND: Final = "not-found"
R_PENDING: Final = "not-yet-anchored"
R_NO_REVEAL: Final = "sealed-no-reveal"
R_PROOF_INVALID: Final = "proof-invalid"
R_REVEAL_INVALID: Final = "reveal-invalid"
R_CONTENT_DIFFERS: Final = "content-differs"
R_FOREIGN_OFFICE_RECORD: Final = "foreign-office-record"
R_OFFICE_CLAIM: Final = "office-claim"
R_SIGNER_NOT_AUTHORISED: Final = "signer-not-authorised"
R_SIGNER_COMPROMISED: Final = "signer-compromised"
R_BATCH_REVOKED: Final = "batch-revoked"
R_RECORD_REVOKED: Final = "record-revoked"
R_SUPERSEDED: Final = "superseded"

# -- the checks a verdict reports, in the order they run

C_REGISTRY: Final = "registry"
C_PAIRING: Final = "pairing"
C_INCLUSION: Final = "inclusion"
#: RFC 3161 tokens over the root: advisory to the verdict (a missing or bad token never changes it), but a
#: token that is not valid and trusted is reported in the reason and never shown as a time.
C_TIMESTAMPS: Final = "timeStamps"
C_CONTENT: Final = "content"
C_OWNER: Final = "batchOwner"
C_SIGNER: Final = "signerAtBlock"
C_COMPROMISE: Final = "compromiseMark"
C_BATCH_REVOCATION: Final = "batchRevocation"
C_RECORD_REVOCATION: Final = "recordRevocation"
C_LATER_VERSIONS: Final = "laterVersions"
#: Every check of a bundle's verdict, in order.
CHECKS: Final = (
    C_REGISTRY,
    C_PAIRING,
    C_INCLUSION,
    C_TIMESTAMPS,
    C_CONTENT,
    C_OWNER,
    C_SIGNER,
    C_COMPROMISE,
    C_BATCH_REVOCATION,
    C_RECORD_REVOCATION,
    C_LATER_VERSIONS,
)

PASSED: Final = "passed"
FAILED: Final = "failed"
#: Not run because the verdict was decided by an earlier check.
SKIPPED: Final = "skipped"
#: Could not be run on this path: the detail says why and how to check it.
NOT_CHECKED: Final = "not-checked"
#: Nothing to check: the bundle carries no time-stamp token (the verdict does not depend on one).
ABSENT: Final = "absent"


@dataclass(frozen=True, slots=True)
class Check:
    """One step of a verification: its name, result and what it found (or why it could not run)."""

    name: str
    result: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        """``{"name", "result", "detail"}``."""
        return {"name": self.name, "result": self.result, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a verification, with the provenance found and what was checked against what."""

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
    #: The class of the reason (``R_*``), the same whichever path gave the verdict.
    reason_code: str = ""
    #: The AnchorRegistry the verdict was checked against (the pinned one), and its chain.
    registry: str | None = None
    chain_id: int | None = None
    #: Block height of the chain state the checks read.
    state_block: int | None = None
    checks: tuple[Check, ...] = field(default=())
    #: What each RFC 3161 token of the batch proves (the authority's time only when valid and trusted).
    timestamps: tuple[TokenCheck, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True only for VERIFIED."""
        return self.verdict == VERIFIED

    @property
    def not_checked(self) -> tuple[Check, ...]:
        """The checks this path could not run (each says why and how to run it)."""
        return tuple(c for c in self.checks if c.result == NOT_CHECKED)

    def check(self, name: str) -> Check | None:
        """The check called ``name``, if it is reported."""
        return next((c for c in self.checks if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase JSON (CLI ``--json`` and the API)."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "reasonCode": self.reason_code,
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
            "registry": self.registry,
            "chainId": self.chain_id,
            "stateBlock": self.state_block,
            "checks": [c.to_json() for c in self.checks],
            "notChecked": [c.name for c in self.not_checked],
            "timestamps": [t.to_json() for t in self.timestamps],
        }


def help_text() -> str:
    """Every verdict (with its exit status) and the revocation reason codes, for ``--help`` (one paragraph each)."""
    verdicts = "\n\n".join(f"{v} (exit {EXIT_CODES[v]}): {MEANINGS[v]}." for v in EXIT_CODES)
    reasons = ", ".join(f"{k} {v}" for k, v in REVOCATION_REASONS.items())
    return f"{verdicts}\n\nRevocation reason codes: {reasons}."
