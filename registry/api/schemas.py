"""Request and response bodies of the ``/v1`` API (WIPO ST.90 style: lowerCamelCase JSON).

One family per entity: ``*Public`` is what the API answers (the service builds and returns these
models; there is no second set of view classes), ``*Create`` / ``*Request`` what it takes. Every
error is an :class:`ErrorBody`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from registry.anchor.pipeline import RunResult
from registry.core.batch import utc_iso
from registry.core.st3 import ST3_CODES
from registry.core.stamps import MAX_TOKEN_BYTES
from registry.store.outbox import BatchStatus, StoredBatch, StoredRecord
from registry.verify.verdict import Verdict

HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
#: A WIPO ST.3 code the registry knows (exactly the codes :func:`registry.core.st3.is_st3` accepts).
OFFICE_PATTERN = "^(" + "|".join(sorted(ST3_CODES)) + ")$"
#: ``OFFICE:NUMBER[:KIND]`` as :class:`registry.core.records.RecordId` accepts it in canonical (upper-case) form.
#: A canonical record id as the API documents it (conservative: digits first; a number never ends in what reads
#: as a kind code, see registry/record_ids.md); the parser (``RecordId.parse``) decides.
_NUMBER_PATTERN = r"(?:[0-9]{1,20}|[0-9][0-9A-Z]{0,16}[0-9]{2}|[A-Z]{1,3}[0-9]{3,17})"
RECORD_ID_PATTERN = "^(" + "|".join(sorted(ST3_CODES)) + "):" + _NUMBER_PATTERN + r"(:[A-Z][0-9]?)?$"
ROOT_PATTERN = HASH_PATTERN
MANIFEST_NAME_PATTERN = r"^0x[0-9a-fA-F]{64}\.json$"


class Model(BaseModel):
    """Base: lowerCamelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# ---------------------------------------------------------------------------- errors


class ErrorDetail(Model):
    """What went wrong: a stable machine code and one line for a person."""

    code: str = Field(description="Stable error code, e.g. notFound, invalidRecordId, payloadTooLarge.")
    message: str


class ErrorBody(Model):
    """The one error body of the API."""

    error: ErrorDetail


# ---------------------------------------------------------------------------- health


class HealthPublic(Model):
    """Service health: is the chain reachable, how far is it, how much waits to be anchored."""

    status: Literal["ok", "degraded"]
    chain_reachable: bool
    chain_id: int | None
    block_number: int | None
    pending: int | None = Field(description="Records accepted but not yet in a batch.")
    anchor_registry: str | None
    problem: str | None = None
    indexed_block: int | None = Field(
        default=None, description="Last block the index holds (events of every office); null before the first sync."
    )


# ---------------------------------------------------------------------------- offices


class SignerPublic(Model):
    """A signer's validity interval (blocks ``fromBlock`` up to, not including, ``untilBlock``)."""

    address: str
    from_block: int
    until_block: int | None


class OfficePublic(Model):
    """An IP office of the registry."""

    code: str = Field(description="WIPO ST.3 code.")
    name: str
    base_uri: str = Field(alias="baseURI", description="Base URI of the office's authoritative register.")
    status: str = Field(description="active or suspended.")
    signers: list[SignerPublic] | None = Field(description="From the event index; null if this service has none.")
    pending_count: int = Field(description="Records of the office accepted by this service and not yet batched.")


class OfficeList(Model):
    """All offices."""

    offices: list[OfficePublic]


# ---------------------------------------------------------------------------- batches


class BatchRecordPublic(Model):
    """A record of a batch."""

    record_id: str
    content_hash: str


class BatchPublic(Model):
    """A batch: ``built`` (tree made), ``sent`` (transaction recorded) or ``anchored`` (mined)."""

    root: str
    office: str
    leaf_count: int
    status: str
    manifest_uri: str | None = Field(alias="manifestURI")
    signer: str | None
    transaction_hash: str | None
    block_number: int | None
    anchored_at: str | None
    gas_used: int | None
    revoked: bool | None = Field(description="Whether the office revoked the whole batch; null if unknown.")
    revocation_reason: int | None
    error: str | None = Field(description="Why the last attempt to anchor it failed, if it did.")
    records: list[BatchRecordPublic] | None = Field(
        default=None, description="Public records of the batch (at most 1000); sealed ones are only counted."
    )
    sealed_count: int | None = None

    @classmethod
    def of_stored(
        cls,
        b: StoredBatch,
        revocation_reason: int | None = None,
        records: list[BatchRecordPublic] | None = None,
        sealed_count: int | None = None,
    ) -> BatchPublic:
        """From an outbox batch (as just anchored; with its revocation reason and records if known)."""
        return cls(
            root=b.root,
            office=b.office,
            leaf_count=b.leaf_count,
            status=b.status,
            manifestURI=b.manifest_uri,
            signer=b.signer,
            transaction_hash=b.tx_hash,
            block_number=b.block_number,
            anchored_at=utc_iso(b.timestamp) if b.timestamp else None,
            gas_used=b.gas_used,
            revoked=None if revocation_reason is None else revocation_reason != 0,
            revocation_reason=revocation_reason,
            error=b.error,
            records=records,
            sealed_count=sealed_count,
        )


class BatchList(Model):
    """Recent batches, newest first."""

    batches: list[BatchPublic]


class BatchRunPublic(Model):
    """The result of anchoring an office's pending records now."""

    office: str
    anchored: int = Field(description="Records anchored by this request.")
    gas_used: int
    batches: list[BatchPublic]
    pending: int = Field(description="Records of the office still pending afterwards.")

    @classmethod
    def of(cls, office: str, result: RunResult, pending: int) -> BatchRunPublic:
        """From an anchoring run."""
        return cls(
            office=office,
            anchored=result.records,
            gas_used=result.gas_used,
            batches=[BatchPublic.of_stored(b) for b in result.batches],
            pending=pending,
        )


# ---------------------------------------------------------------------------- records


class VersionPublic(Model):
    """One version of a record: its content and where it was anchored."""

    content_hash: str
    canonicalization: str
    supersedes: str = Field(description="Leaf of the version this one replaces (zero if none).")
    leaf: str
    status: str = Field(description="pending, batching, anchored, superseded or revoked.")
    root: str | None
    block_number: int | None
    transaction_hash: str | None
    anchored_at: str | None
    superseded_by: str | None


class RecordPublic(Model):
    """A record id and its versions, oldest first."""

    record_id: str
    office: str
    status: str = Field(description="Status of the newest version.")
    versions: list[VersionPublic]


class RecordCreate(Model):
    """A record submitted by its metadata and content hash (the file stays with the office)."""

    record_id: str = Field(
        description="OFFICE:NUMBER[:KIND], e.g. EP:1234567:B1.", max_length=64, pattern=RECORD_ID_PATTERN
    )
    content_hash: str = Field(pattern=HASH_PATTERN, description="SHA-256 of the canonical bytes, 0x-hex.")
    canonicalization: Literal["xml-c14n2-v3", "json-jcs-v2", "raw"]
    sealed: bool = Field(
        default=False, description="Anchor only a salted commitment (unpublished record); reveal it later."
    )


def outbox_status(batch: StoredBatch | None) -> str:
    """The status of an outbox record in ``batch``: pending (no batch yet), batching or anchored."""
    return "pending" if batch is None else "anchored" if batch.status == BatchStatus.ANCHORED else "batching"


class PendingRecordPublic(Model):
    """A record accepted into the outbox."""

    record_id: str
    content_hash: str
    canonicalization: str
    supersedes: str
    leaf: str
    status: str = Field(description="pending, batching or anchored.")
    root: str | None = None
    block_number: int | None = None
    transaction_hash: str | None = None
    sealed: bool = Field(default=False, description="Only a salted commitment is (or will be) on chain.")

    @classmethod
    def of(cls, r: StoredRecord, batch: StoredBatch | None = None) -> PendingRecordPublic:
        """From an outbox record (and its batch, if it has one)."""
        return cls(
            record_id=r.record_id,
            content_hash=r.content_hash,
            canonicalization=r.canonicalization,
            supersedes=r.supersedes,
            leaf="0x" + r.leaf.hex(),
            status=outbox_status(batch),
            root=batch.root if batch else None,
            block_number=batch.block_number if batch else None,
            transaction_hash=batch.tx_hash if batch else None,
            sealed=r.salt is not None,
        )


class SubmissionPublic(Model):
    """The answer to a submitted record."""

    office: str
    accepted: bool = Field(description="True if the record was new; false if it was already known.")
    new_version: bool = Field(description="True if it is a new content of a known record id.")
    record: PendingRecordPublic


class PendingPublic(Model):
    """An office's outbox: records waiting for a batch and batches not yet anchored."""

    office: str
    count: int
    records: list[PendingRecordPublic]
    unfinished_batches: list[BatchPublic]


# ---------------------------------------------------------------------------- verification


Hash = Annotated[str, Field(pattern=HASH_PATTERN, min_length=66, max_length=66)]
_BIG = 2**63 - 1


class TimestampEntry(BaseModel):
    """One RFC 3161 time-stamp token of a bundle: the authority and its DER ``TimeStampToken`` in base64."""

    model_config = ConfigDict(extra="forbid")

    authority: str = Field(min_length=1, max_length=300)
    token: str = Field(  # base64 of at most MAX_TOKEN_BYTES (32 KiB) of DER, as the bundle format allows
        min_length=1, max_length=4 * -(-MAX_TOKEN_BYTES // 3), description="Base64 of the DER TimeStampToken."
    )


class BundleInput(BaseModel):
    """An ``ipreg-proof-v1`` proof bundle as a request carries it (every field checked; more fields allowed)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    format: Literal["ipreg-proof-v1"]
    chain_id: int = Field(alias="chainId", ge=0, le=_BIG, strict=True)
    registry: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", min_length=42, max_length=42)
    office: str = Field(pattern=OFFICE_PATTERN, min_length=2, max_length=2)
    root: Hash
    leaf_encoding: tuple[Literal["string"], Literal["bytes32"], Literal["string"], Literal["bytes32"]] = Field(
        alias="leafEncoding"
    )
    value: tuple[
        Annotated[str, Field(max_length=64)],
        Hash,
        Literal["xml-c14n2-v3", "json-jcs-v2", "raw", "xml-c14n2-v2", "xml-c14n2", "json-jcs", "sealed"],
        Hash,
    ] = Field(description="[recordId, contentHash, canonicalization, supersedes].")
    proof: list[Hash] = Field(max_length=64)
    leaf_count: int = Field(alias="leafCount", ge=1, le=_BIG, strict=True)
    transaction_hash: Hash = Field(alias="transactionHash")
    block_number: int = Field(alias="blockNumber", ge=0, le=_BIG, strict=True)
    anchored_at: str = Field(alias="anchoredAt", max_length=64)
    timestamps: list[TimestampEntry] | None = Field(
        None, max_length=8, description="Optional RFC 3161 tokens over SHA-256 of the root's bytes."
    )


class VerifyByHash(Model):
    """Verify by content hash, optionally naming the record id the content claims to be."""

    content_hash: Hash
    record_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=RECORD_ID_PATTERN,
        description="The record this content claims to be (explains a TAMPERED verdict).",
    )


class VerifyByBundle(Model):
    """Verify a proof bundle alone (against the chain)."""

    bundle: BundleInput


class CheckPublic(Model):
    """One step of a verification."""

    name: str = Field(description="inclusion, batchOwner, signerAtBlock, compromiseMark, batchRevocation, … .")
    result: Literal["passed", "failed", "skipped", "not-checked", "absent"] = Field(
        description="skipped: not needed once the verdict was decided; not-checked: this path could not run it;"
        " absent: nothing to check (timeStamps: the bundle carries no token)."
    )
    detail: str


class TimestampPublic(Model):
    """What one RFC 3161 time-stamp token over the batch root proves."""

    authority: str
    status: Literal["valid", "invalid", "untrusted", "disagrees", "unchecked"]
    time: str | None = Field(description="The authority's time (UTC), only for a valid (or disagreeing) trusted token.")
    offset_seconds: float | None = Field(description="The authority's time minus the block's, in seconds.")
    serial_number: str | None
    policy: str | None
    signer: str | None = Field(None, description="Subject of the certificate that signed it (once it verified).")
    detail: str


class VerdictPublic(Model):
    """The verdict on a record, with the provenance found and what was checked against what."""

    verdict: Literal["VERIFIED", "TAMPERED", "UNKNOWN", "REVOKED", "SUPERSEDED", "UNAUTHORISED", "MISMATCH"]
    reason: str
    office: str | None
    record_id: str | None
    content_hash: str | None
    root: str | None
    block_number: int | None
    transaction_hash: str | None
    anchored_at: str | None
    signer: str | None
    superseded_by: str | None
    reason_code: str = Field("", description="The class of the reason, the same on every path (e.g. record-revoked).")
    anchored_hash: str | None = Field(None, description="The anchored content hash, when the file's differs.")
    registry: str | None = Field(None, description="The AnchorRegistry the verdict was checked against.")
    chain_id: int | None = None
    state_block: int | None = Field(None, description="Block height of the chain state the checks read.")
    checks: list[CheckPublic] = Field(default_factory=list)
    not_checked: list[str] = Field(default_factory=list, description="Checks this path could not run.")
    timestamps: list[TimestampPublic] = Field(
        default_factory=list, description="Each RFC 3161 token of the batch and what it proves (authority's time)."
    )

    @classmethod
    def of(cls, v: Verdict) -> VerdictPublic:
        """From a verdict (its ``to_json()``)."""
        return cls.model_validate(v.to_json())


class ProofBundlePublic(BaseModel):
    """An ``ipreg-proof-v1`` proof bundle: verifiable with nothing but a JSON-RPC endpoint.

    Optional field ``timestamps``: ``[{"authority", "token"}]``, RFC 3161 tokens (base64 DER) over SHA-256 of
    the root's bytes; absent when the batch has none (the route writes the bundle as it is, never a null).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    format: Literal["ipreg-proof-v1"]
    chain_id: int = Field(alias="chainId")
    registry: str
    office: str
    root: str
    leaf_encoding: list[str] = Field(alias="leafEncoding")
    value: list[str]
    proof: list[str]
    leaf_count: int = Field(alias="leafCount")
    transaction_hash: str = Field(alias="transactionHash")
    block_number: int = Field(alias="blockNumber")
    anchored_at: str = Field(alias="anchoredAt")
    timestamps: list[TimestampEntry] | None = Field(
        None, description="Optional RFC 3161 tokens over SHA-256 of the root's bytes (absent when the batch has none)."
    )


# ---------------------------------------------------------------------------- revocations

Reason = Annotated[int, Field(ge=1, le=255, description="Revocation reason code 1-255 (see `ipreg verify`).")]


class RevokeBatch(Model):
    """Revoke every record of one of the office's batches."""

    root: Hash
    reason: Reason


class RevokeRecord(Model):
    """Revoke one record of the office: its newest anchored version, or the one with ``contentHash``."""

    record_id: str = Field(max_length=64, pattern=RECORD_ID_PATTERN, description="OFFICE:NUMBER[:KIND].")
    content_hash: Hash | None = Field(default=None, description="Which anchored version (default: the newest).")
    reason: Reason


class RevocationPublic(Model):
    """A revocation sent and mined: the office's batch, the record (if one), and the transaction."""

    office: str
    root: str
    record_id: str | None = None
    leaf: str | None = None
    reason: int
    transaction_hash: str
    block_number: int
