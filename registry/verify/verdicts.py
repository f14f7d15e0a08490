"""Verification: is this record what an office anchored, unchanged, still valid? Writes nothing.

A proof bundle is checked against the chain (:func:`verify_bundle`); a file, a content hash or a
record id without one is first looked up in the local store and index (:mod:`registry.verify.lookup`).
Every path ends in a :class:`~registry.verify.verdict.Verdict`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from registry.core import canon
from registry.core.batch import utc_iso
from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED, sealed_commitment
from registry.core.records import RecordId, same_record
from registry.errors import BundleError, CanonicalizationError
from registry.store.outbox import Store
from registry.verify.hashing import bundle_method, claimed, family, file_hashes, record_hint
from registry.verify.lookup import (
    anchored_id_of,
    bundle_for_record,
    index_bundle,
    index_of,
    newer_version,
    stored_bundle,
)
from registry.verify.readers import ChainReader, LiveReader
from registry.verify.verdict import (
    MISMATCH,
    REVOCATION_REASONS,
    REVOKED,
    SUPERSEDED,
    TAMPERED,
    UNAUTHORISED,
    UNKNOWN,
    VERIFIED,
    Verdict,
)

if TYPE_CHECKING:  # web3 (via chain) is imported where a chain is used, so that a bundle check over the
    # light JSON-RPC reader (registry.chain.light) starts without it
    from registry.chain.client import Chain


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
    chain: Chain,
    bundle: ProofBundle,
    content_hash: str | None = None,
    store: Store | None = None,
    reader: ChainReader | None = None,
) -> Verdict:
    """Verify a proof bundle against the chain, and ``content_hash`` (of a file) against the bundle.

    ``reader`` replaces the live contract calls (an audit passes a per-batch cache).
    """
    reader = reader or LiveReader(chain)
    value = bundle.value
    leaf = value.leaf()
    record_id, anchored_hash = claimed(value, bundle)
    base: dict[str, Any] = {
        "office": bundle.office,
        "record_id": record_id,
        "content_hash": content_hash or anchored_hash,
        "root": bundle.root,
        "bundle": bundle,
    }
    chain_id = reader.chain_id()
    if chain_id != bundle.chain_id:
        return Verdict(
            UNKNOWN,
            f"the bundle is for chain {bundle.chain_id}, the endpoint serves chain {chain_id}",
            **base,
        )
    included, batch, leaf_reason = reader.verify_record(bundle.office, bundle.root, bundle.proof, value.encode())
    if batch is None:
        return Verdict(
            UNKNOWN,
            f"root {bundle.root} is not anchored by office {bundle.office} in registry {bundle.registry}",
            **base,
        )
    base.update(
        office=batch.office,
        block_number=batch.block_number,
        transaction_hash=bundle.transaction_hash,
        anchored_at=batch.anchored_at,
        signer=batch.signer,
    )
    if not included:
        return Verdict(
            TAMPERED, "the proof does not lead from this record to the anchored root (bundle altered)", **base
        )
    if value.canonicalization == SEALED:
        problem = _check_reveal(bundle)
        if problem:
            return Verdict(TAMPERED if "does not open" in problem else UNKNOWN, problem, **base)
    if content_hash is not None and content_hash != anchored_hash:
        return Verdict(
            TAMPERED,
            f"{record_id} is anchored with content {anchored_hash}; this file hashes to {content_hash}",
            anchored_hash=anchored_hash,
            **base,
        )
    claimed_office = record_id.split(":", 1)[0]
    if claimed_office != batch.office and value.canonicalization != SEALED:
        return Verdict(UNAUTHORISED, f"record of office {claimed_office} was anchored by office {batch.office}", **base)
    if bundle.office != batch.office:
        return Verdict(
            UNAUTHORISED,
            f"the bundle claims office {bundle.office}; root {bundle.root} was anchored by office {batch.office}",
            **base,
        )
    if not reader.is_authorised_at(batch.office, batch.signer, batch.block_number):
        compromised = chain.compromised_from(batch.office, batch.signer)
        if compromised is not None and batch.block_number >= compromised:
            return Verdict(
                UNAUTHORISED,
                f"signer {batch.signer} of {batch.office} was marked compromised from block {compromised};"
                f" this batch was anchored at block {batch.block_number}",
                **base,
            )
        return Verdict(
            UNAUTHORISED,
            f"signer {batch.signer} was not authorised for {batch.office} at block {batch.block_number}",
            **base,
        )
    if batch.revocation_reason:
        why = REVOCATION_REASONS.get(batch.revocation_reason, f"reason code {batch.revocation_reason}")
        return Verdict(REVOKED, f"the whole batch was revoked by {batch.office} ({why})", **base)
    if leaf_reason:
        why = REVOCATION_REASONS.get(leaf_reason, f"reason code {leaf_reason}")
        return Verdict(REVOKED, f"the record was revoked by {batch.office} ({why})", **base)
    newer = newer_version(chain, store, leaf, record_id, batch.office)
    if newer is not None:
        return Verdict(
            SUPERSEDED,
            f"a newer version of {record_id} exists (content {newer[1]})",
            superseded_by=f"{newer[0]}@{newer[1]}",
            **base,
        )
    return Verdict(
        VERIFIED,
        f"anchored by {batch.office} at {batch.anchored_at} (block {batch.block_number}),"
        f" signer authorised at that block, not revoked",
        **base,
    )


def first_known(hashes: list[tuple[str, str]], lookup: Callable[[str], Verdict]) -> Verdict:
    """The verdict of the first hash that finds its record; else that of the first hash."""
    first: Verdict | None = None
    for digest, _method in hashes:
        verdict = lookup(digest)
        if verdict.verdict not in (UNKNOWN, TAMPERED):
            return verdict
        first = first or verdict
    assert first is not None
    return first


def verify_file(
    chain: Chain, store: Store | None, data: bytes, filename: str, bundle: ProofBundle | None = None
) -> Verdict:
    """Verify a file, with its bundle or by finding its record through the local store/index."""
    if bundle is not None:
        return _verify_file_with_bundle(chain, store, data, filename, bundle)
    hashes = file_hashes(data, filename)
    hint = record_hint(data, filename, hashes[0][1])
    return first_known(hashes, lambda d: verify_hash(chain, store, d, record_hint=hint))


def _verify_file_with_bundle(
    chain: Chain, store: Store | None, data: bytes, filename: str, bundle: ProofBundle
) -> Verdict:
    """A file against a bundle: MISMATCH when the bundle speaks for another record, else the bundle's verdict."""
    found = mismatch(store, data, filename, bundle)
    if found is not None:
        return found
    method = bundle_method(bundle)
    return verify_bundle(chain, bundle, canon.content_hash(data, method), store)


def mismatch(store: Store | None, data: bytes, filename: str, bundle: ProofBundle) -> Verdict | None:
    """MISMATCH if ``bundle`` speaks for another record than the file, else None. Offline (no chain call).

    The bundle is for another record when its content hash differs from the file's and the file
    cannot be canonicalized the bundle's way, carries another record id (in the document or its
    name), or is anchored under another record id in the local store or index. The same record id
    with other content is not a mismatch: the bundle's verdict (TAMPERED) answers it. A file that is
    malformed for its own canonicalization raises :class:`CanonicalizationError` (bad input).
    """
    method = bundle_method(bundle)
    natural = canon.canonicalization_for(filename)
    if family(natural) == family(method):
        natural = method  # an earlier version of the file's own method (e.g. xml-c14n2-v2 for xml-c14n2-v3)
    try:
        digest: str | None = canon.content_hash(data, method)
    except CanonicalizationError:
        if natural == method:
            raise
        digest = None  # e.g. an XML file given a JSON record's bundle
    if bundle.value.canonicalization == SEALED and not isinstance(bundle.extra.get("reveal"), dict):
        return None  # nothing to compare: the bundle's own verdict says so
    record_id, anchored = claimed(bundle.value, bundle)
    if digest == anchored:
        return None
    file_id = record_hint(data, filename, natural)
    if file_id is not None and same_record(file_id, record_id) and digest is not None:
        return None  # the bundle's record with other content: TAMPERED
    if file_id is None and store is not None:
        file_id = anchored_id_of(store, bundle.registry, data, natural)
    reasons: list[str] = []
    if file_id is not None and not same_record(file_id, record_id):
        reasons.append(f"this bundle is for {record_id}, the file is {file_id}")
    elif natural != method:
        reasons.append(f"this bundle is for {record_id}")
    if natural != method:
        reasons.append(f"the file's canonicalization is {natural}, the bundle's {method}")
    if not reasons:
        return None
    file_digest = digest
    if natural != method:
        try:
            file_digest = canon.content_hash(data, natural)
        except CanonicalizationError:
            file_digest = digest
    return Verdict(
        MISMATCH,
        "; ".join(reasons) + ": give the file's own bundle (or this bundle's file)",
        office=bundle.office,
        record_id=record_id,
        content_hash=file_digest,
        root=bundle.root,
        block_number=bundle.block_number,
        transaction_hash=bundle.transaction_hash,
        anchored_at=bundle.anchored_at,
        bundle=bundle,
        anchored_hash=anchored,
    )


def verify_hash(chain: Chain, store: Store | None, digest: str, record_hint: str | None = None) -> Verdict:
    """Verify a content hash through the local store and index: the anchored record with this content."""
    if store is None:
        return Verdict(
            UNKNOWN,
            "no local store or index to look the record up; give its proof bundle",
            content_hash=digest,
        )
    candidates = [r for r in store.records_by_hash(digest) if r.salt is None]
    for record in reversed(candidates):
        bundle = stored_bundle(chain, store, record)
        if bundle is not None:
            return verify_bundle(chain, bundle, digest, store)
    index = index_of(chain, store)
    indexed = index.leaves_by_hash(digest) if index is not None else []
    if index is not None and indexed:
        own = [x for x in indexed if x.record_id.split(":", 1)[0] == x.office]  # anchored by its own office
        leaf = ([x for x in indexed if x.record_id == record_hint] or own or indexed)[-1]
        return verify_bundle(chain, index_bundle(chain, index, leaf), digest, store)
    if candidates:
        r = candidates[-1]
        return Verdict(
            UNKNOWN,
            f"{r.record_id} with this content is accepted but not anchored yet",
            office=r.office,
            record_id=r.record_id,
            content_hash=digest,
        )
    if record_hint:
        versions = [v for v in store.versions(record_hint) if v.salt is None]
        if versions:
            known = versions[-1]
            bundle = stored_bundle(chain, store, known)
            return Verdict(
                TAMPERED,
                f"{record_hint} is anchored with content {known.content_hash}; this file hashes to {digest}",
                office=known.office,
                record_id=record_hint,
                content_hash=digest,
                anchored_hash=known.content_hash,
                root=bundle.root if bundle else None,
                block_number=bundle.block_number if bundle else None,
                transaction_hash=bundle.transaction_hash if bundle else None,
                anchored_at=bundle.anchored_at if bundle else None,
            )
        known_leaf = index.versions(record_hint)[-1:] if index is not None else []
        if known_leaf:
            k = known_leaf[0]
            return Verdict(
                TAMPERED,
                f"{record_hint} is anchored with content {k.content_hash}; this file hashes to {digest}",
                office=k.office,
                record_id=record_hint,
                content_hash=digest,
                anchored_hash=k.content_hash,
                root=k.root,
                block_number=k.block_number,
                transaction_hash=k.tx_hash,
                anchored_at=utc_iso(k.timestamp),
            )
    return Verdict(
        UNKNOWN,
        "nothing anchored matches this content" + (f" or record id {record_hint}" if record_hint else ""),
        record_id=record_hint,
        content_hash=digest,
    )


def verify_record_id(chain: Chain, store: Store | None, record_id: str) -> Verdict:
    """The verdict of the newest anchored version of a record id (found through the index or outbox)."""
    rid = str(RecordId.parse(record_id))
    bundle = bundle_for_record(chain, store, rid) if store is not None else None
    if bundle is None:
        return Verdict(
            UNKNOWN,
            f"no anchored version of {rid} is known to the local store or index",
            office=rid.split(":", 1)[0],
            record_id=rid,
        )
    return verify_bundle(chain, bundle, None, store)
