"""Verdicts: is this record what an office anchored, unchanged, still valid? Writes nothing.

``VERIFIED`` only when every check passes; any failed check gives the most specific other
verdict with the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from . import canon
from .anchor import batch_bundles
from .chain import Chain
from .errors import BundleError, InputError
from .records import SEALED, LeafValue, ProofBundle, RecordId, id_from_document, sealed_commitment
from .store import Store, StoredRecord

VERIFIED: Final = "VERIFIED"
TAMPERED: Final = "TAMPERED"
UNKNOWN: Final = "UNKNOWN"
REVOKED: Final = "REVOKED"
SUPERSEDED: Final = "SUPERSEDED"
UNAUTHORISED: Final = "UNAUTHORISED"

#: Exit status of ``ipreg verify`` per verdict (0 only for VERIFIED).
EXIT_CODES: Final = {VERIFIED: 0, TAMPERED: 3, UNKNOWN: 4, REVOKED: 5, SUPERSEDED: 6, UNAUTHORISED: 7}
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
        }


def _claimed(value: LeafValue, bundle: ProofBundle) -> tuple[str, str]:
    """(record id, content hash) a bundle speaks for (a revealed sealed record's real ones)."""
    reveal = bundle.extra.get("reveal")
    if value.canonicalization == SEALED and isinstance(reveal, dict):
        return str(reveal.get("recordId")), str(reveal.get("contentHash"))
    return value.record_id, value.content_hash


def _check_reveal(bundle: ProofBundle) -> str | None:
    """For a sealed bundle: None if its reveal opens the commitment, else the reason."""
    reveal = bundle.extra.get("reveal")
    if not isinstance(reveal, dict):
        return "sealed record: the bundle carries no reveal (salt), nothing to compare"
    try:
        salt = bytes.fromhex(str(reveal["salt"]).removeprefix("0x"))
        commitment = sealed_commitment(
            salt, str(reveal["recordId"]), str(reveal["contentHash"]), str(reveal["canonicalization"])
        )
    except (KeyError, ValueError, BundleError) as exc:
        raise BundleError(f"malformed reveal in sealed bundle: {exc}") from None
    if commitment != bundle.value.content_hash:
        return "the reveal does not open the sealed commitment"
    return None


def verify_bundle(
    chain: Chain, bundle: ProofBundle, content_hash: str | None = None, store: Store | None = None
) -> Verdict:
    """Verify a proof bundle against the chain, and ``content_hash`` (of a file) against the bundle."""
    value = bundle.value
    leaf = value.leaf()
    record_id, anchored_hash = _claimed(value, bundle)
    base: dict[str, Any] = {"office": bundle.office, "record_id": record_id, "content_hash": content_hash or anchored_hash,
                            "root": bundle.root, "bundle": bundle}
    chain_id = chain.rpc(lambda: chain.w3.eth.chain_id)
    if chain_id != bundle.chain_id:
        return Verdict(UNKNOWN, f"the bundle is for chain {bundle.chain_id}, the endpoint serves chain {chain_id}", **base)
    included, batch, leaf_reason = chain.verify_record(bundle.root, bundle.proof, leaf)
    if batch is None:
        return Verdict(UNKNOWN, f"root {bundle.root} is not anchored in registry {bundle.registry}", **base)
    base.update(office=batch.office, block_number=batch.block_number, transaction_hash=bundle.transaction_hash,
                anchored_at=batch.anchored_at, signer=batch.signer)
    if not included:
        return Verdict(TAMPERED, "the proof does not lead from this record to the anchored root (bundle altered)", **base)
    if value.canonicalization == SEALED:
        problem = _check_reveal(bundle)
        if problem:
            return Verdict(TAMPERED if "does not open" in problem else UNKNOWN, problem, **base)
    if content_hash is not None and content_hash != anchored_hash:
        return Verdict(TAMPERED, f"{record_id} is anchored with content {anchored_hash}; this file hashes to {content_hash}",
                       **base)
    claimed_office = record_id.split(":", 1)[0]
    if claimed_office != batch.office and value.canonicalization != SEALED:
        return Verdict(UNAUTHORISED, f"record of office {claimed_office} was anchored by office {batch.office}", **base)
    if not chain.was_signer_at(batch.office, batch.signer, batch.block_number):
        return Verdict(UNAUTHORISED, f"signer {batch.signer} was not authorised for {batch.office} at block "
                       f"{batch.block_number}", **base)
    if batch.revocation_reason:
        why = REVOCATION_REASONS.get(batch.revocation_reason, f"reason code {batch.revocation_reason}")
        return Verdict(REVOKED, f"the whole batch was revoked by {batch.office} ({why})", **base)
    if leaf_reason:
        why = REVOCATION_REASONS.get(leaf_reason, f"reason code {leaf_reason}")
        return Verdict(REVOKED, f"the record was revoked by {batch.office} ({why})", **base)
    newer = store.superseded_by(leaf) if store is not None else None
    if newer is not None:
        return Verdict(SUPERSEDED, f"a newer version of {record_id} exists (content {newer.content_hash})",
                       superseded_by=f"{newer.record_id}@{newer.content_hash}", **base)
    return Verdict(VERIFIED, f"anchored by {batch.office} at {batch.anchored_at} (block {batch.block_number}),"
                   f" signer authorised at that block, not revoked", **base)


def file_hash(data: bytes, filename: str, canonicalization: str | None = None) -> tuple[str, str]:
    """(content hash, canonicalization) of a file's bytes."""
    method = canonicalization or canon.canonicalization_for(filename)
    return canon.content_hash(data, method), method


def verify_file(
    chain: Chain, store: Store | None, data: bytes, filename: str, bundle: ProofBundle | None = None
) -> Verdict:
    """Verify a file, with its bundle or by finding its record through the local store/index."""
    if bundle is not None:
        method = bundle.value.canonicalization
        if method == SEALED:
            reveal = bundle.extra.get("reveal")
            method = str(reveal.get("canonicalization")) if isinstance(reveal, dict) else canon.RAW
        if method not in canon.CANONICALIZATIONS:
            raise InputError(f"bundle names unknown canonicalization {method!r}")
        return verify_bundle(chain, bundle, canon.content_hash(data, method), store)
    digest, method = file_hash(data, filename)
    return verify_hash(chain, store, digest, record_hint=_id_of(data, filename, method))


def _id_of(data: bytes, filename: str, method: str) -> str | None:
    try:
        rid = id_from_document(data, method) or RecordId.from_filename(filename)
    except InputError:
        return None
    return str(rid) if rid else None


def verify_hash(chain: Chain, store: Store | None, digest: str, record_hint: str | None = None) -> Verdict:
    """Verify a content hash through the local store: the anchored record with this content, if any."""
    if store is None:
        return Verdict(UNKNOWN, "no local store or index to look the record up; give its proof bundle", content_hash=digest)
    candidates = [r for r in store.records_by_hash(digest) if r.salt is None]
    for record in reversed(candidates):
        bundle = _bundle_for(chain, store, record)
        if bundle is not None:
            return verify_bundle(chain, bundle, digest, store)
    if candidates:
        r = candidates[-1]
        return Verdict(UNKNOWN, f"{r.record_id} with this content is accepted but not anchored yet",
                       office=r.office, record_id=r.record_id, content_hash=digest)
    if record_hint:
        versions = [v for v in store.versions(record_hint) if v.salt is None]
        if versions:
            known = versions[-1]
            bundle = _bundle_for(chain, store, known)
            return Verdict(
                TAMPERED, f"{record_hint} is anchored with content {known.content_hash}; this file hashes to {digest}",
                office=known.office, record_id=record_hint, content_hash=digest,
                root=bundle.root if bundle else None, block_number=bundle.block_number if bundle else None,
                transaction_hash=bundle.transaction_hash if bundle else None,
                anchored_at=bundle.anchored_at if bundle else None,
            )
    return Verdict(UNKNOWN, "nothing anchored matches this content" + (f" or record id {record_hint}" if record_hint else ""),
                   record_id=record_hint, content_hash=digest)


def _bundle_for(chain: Chain, store: Store, record: StoredRecord) -> ProofBundle | None:
    if record.batch_id is None:
        return None
    batch = store.batch(record.batch_id)
    if batch.status != "anchored":
        return None
    for stored, bundle in batch_bundles(store, chain, batch):
        if stored.id == record.id:
            return bundle
    return None
