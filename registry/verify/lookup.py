"""Finding what is anchored in the local store: the outbox's anchored batches and the index (read only).

A verification without a bundle looks its record up here, by content hash, leaf or record id, and
hands the bundle found to its :class:`~registry.verify.verifier.Verifier`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry.core.batch import utc_iso
from registry.core.formats import ProofBundle
from registry.core.records import RecordId
from registry.errors import InputError
from registry.store.outbox import BatchStatus, Store, StoredRecord
from registry.store.proofs import stored_bundles
from registry.verify.verdict import (
    C_CONTENT,
    C_INCLUSION,
    FAILED,
    NOT_CHECKED,
    R_CONTENT_DIFFERS,
    R_NOT_FOUND,
    R_PENDING,
    TAMPERED,
    UNKNOWN,
    Verdict,
)

if TYPE_CHECKING:  # web3 (via chain, indexer) is imported where a chain is used
    from registry.chain.client import Chain
    from registry.store.index import Index, IndexedLeaf
    from registry.verify.verifier import Verifier


def stored_bundle(chain: Chain, store: Store, record: StoredRecord) -> ProofBundle | None:
    """The proof bundle of an outbox record, if its batch is anchored (tree rebuilt from the outbox)."""
    dep = chain.deployment
    assert dep is not None
    return outbox_bundle(store, record, dep.chain_id, dep.anchor_registry)


def outbox_bundle(store: Store, record: StoredRecord, chain_id: int, registry: str) -> ProofBundle | None:
    """The proof bundle of an outbox record in ``registry``, if its batch is anchored."""
    if record.batch_id is None:
        return None
    batch = store.batch(record.batch_id)
    if batch.status != BatchStatus.ANCHORED:
        return None
    for stored, bundle in stored_bundles(store, batch, chain_id, registry):
        if stored.id == record.id:
            return bundle
    return None


def index_of(chain: Chain, store: Store) -> Index | None:
    """The store's index, if it follows this chain's AnchorRegistry."""
    from registry.store.index import Index

    return Index.of(store.db, chain.deployment.anchor_registry if chain.deployment is not None else None)


def index_bundle(chain: Chain, index: Index, leaf: IndexedLeaf) -> ProofBundle:
    """The proof bundle of an indexed leaf (chain id and registry from the deployment, else the index's)."""
    dep = chain.deployment
    if dep is None:
        meta = index.meta()
        return index.bundle(leaf, int(meta["chainId"]), meta["anchorRegistry"])
    return index.bundle(leaf, dep.chain_id, dep.anchor_registry)


def bundle_for_leaf(chain: Chain, store: Store, leaf: str | bytes, root: str | None = None) -> ProofBundle | None:
    """The proof bundle of an anchored leaf hash (optionally in batch ``root``), from the index or outbox."""
    leaf_hex = leaf.lower() if isinstance(leaf, str) else "0x" + leaf.hex()
    index = index_of(chain, store)
    if index is not None:
        found = [x for x in index.leaves_by_leaf(leaf_hex) if root is None or x.root == root.lower()]
        if found:
            return index_bundle(chain, index, found[0])
    try:
        record = store.record_by_leaf(bytes.fromhex(leaf_hex.removeprefix("0x")))
    except ValueError:
        raise InputError(f"invalid leaf hash {leaf_hex[:80]!r}") from None
    bundle = stored_bundle(chain, store, record) if record is not None else None
    return bundle if bundle is not None and (root is None or bundle.root == root.lower()) else None


def bundle_for_record(
    chain: Chain, store: Store, record_id: str, content_hash: str | None = None
) -> ProofBundle | None:
    """The proof bundle of the newest anchored version of ``record_id`` (or the one with ``content_hash``)."""
    rid = str(RecordId.parse(record_id))
    best: ProofBundle | None = None
    index = index_of(chain, store)
    if index is not None:
        versions = [v for v in index.versions(rid) if content_hash is None or v.content_hash == content_hash]
        if versions:
            best = index_bundle(chain, index, versions[-1])
    for record in reversed(store.versions(rid)):
        if record.salt is not None or (content_hash is not None and record.content_hash != content_hash):
            continue
        bundle = stored_bundle(chain, store, record)
        if bundle is not None:
            if best is None or bundle.block_number > best.block_number:
                best = bundle
            break
    return best


def anchored_id_of(verifier: Verifier, digest: str) -> str | None:
    """The record id under which content ``digest`` is anchored, per the verifier's store or index, or None."""
    return _anchored_id(verifier.store, verifier.index, digest)


def anchored_id_in(store: Store, registry: str, digest: str) -> str | None:
    """The record id under which content ``digest`` is anchored, per ``store`` or its index of ``registry``."""
    from registry.store.index import Index

    return _anchored_id(store, Index.of(store.db, registry), digest)


def _anchored_id(store: Store | None, index: Index | None, digest: str) -> str | None:
    records = [r for r in store.records_by_hash(digest) if r.salt is None] if store is not None else []
    if records:
        return records[-1].record_id
    leaves = index.leaves_by_hash(digest) if index is not None else []
    return leaves[-1].record_id if leaves else None


def by_hash(verifier: Verifier, digest: str, record_hint: str | None = None) -> Verdict:
    """The verdict of a content hash: the anchored record with this content in the store or index."""
    store = verifier.store
    trail = verifier.trail(None, content_hash=digest, record_id=record_hint)
    if store is None:
        trail.add(C_INCLUSION, NOT_CHECKED, "no local store or index on this path: give the record's proof bundle")
        reason = "no local store or index to look the record up; give its proof bundle"
        return trail.verdict(UNKNOWN, R_NOT_FOUND, reason)
    candidates = [r for r in store.records_by_hash(digest) if r.salt is None]
    for record in reversed(candidates):
        bundle = verifier.stored_bundle(record)
        if bundle is not None:
            return verifier.verify_bundle(bundle, digest)
    index = verifier.index
    indexed = index.leaves_by_hash(digest) if index is not None else []
    if index is not None and indexed:
        own = [x for x in indexed if x.record_id.split(":", 1)[0] == x.office]  # anchored by its own office
        leaf = ([x for x in indexed if x.record_id == record_hint] or own or indexed)[-1]
        return verifier.verify_bundle(index.bundle(leaf, verifier.chain_id, verifier.registry), digest)
    where = f"the store{' and index' if index is not None else ''} of registry {verifier.registry}"
    if candidates:
        r = candidates[-1]
        trail.base.update(office=r.office, record_id=r.record_id)
        trail.add(C_INCLUSION, FAILED, f"{r.record_id} with this content is accepted in {where} but not anchored")
        return trail.verdict(UNKNOWN, R_PENDING, f"{r.record_id} with this content is accepted but not anchored yet")
    if record_hint:
        known = _anchored_version(verifier, record_hint)
        if known is not None:
            trail.base.update(known)
            anchored = known["anchored_hash"]
            trail.add(C_INCLUSION, FAILED, f"this content is not anchored in {where}")
            detail = f"{record_hint} is anchored with content {anchored}; this file hashes to {digest}"
            trail.add(C_CONTENT, FAILED, detail)
            return trail.verdict(TAMPERED, R_CONTENT_DIFFERS, detail)
    trail.add(C_INCLUSION, FAILED, f"nothing in {where} has this content")
    reason = "nothing anchored matches this content" + (f" or record id {record_hint}" if record_hint else "")
    return trail.verdict(UNKNOWN, R_NOT_FOUND, reason)


def _anchored_version(verifier: Verifier, record_id: str) -> dict[str, Any] | None:
    """Provenance of the newest anchored version of ``record_id`` in the store or index (for TAMPERED)."""
    store = verifier.store
    assert store is not None
    versions = [x for x in store.versions(record_id) if x.salt is None]
    if versions:
        known = versions[-1]
        bundle = verifier.stored_bundle(known)
        return {
            "office": known.office,
            "anchored_hash": known.content_hash,
            "root": bundle.root if bundle else None,
            "block_number": bundle.block_number if bundle else None,
            "transaction_hash": bundle.transaction_hash if bundle else None,
            "anchored_at": bundle.anchored_at if bundle else None,
        }
    indexed = verifier.index.versions(record_id)[-1:] if verifier.index is not None else []
    if not indexed:
        return None
    k = indexed[0]
    return {
        "office": k.office,
        "anchored_hash": k.content_hash,
        "root": k.root,
        "block_number": k.block_number,
        "transaction_hash": k.tx_hash,
        "anchored_at": utc_iso(k.timestamp),
    }


def by_record_id(verifier: Verifier, record_id: str) -> Verdict:
    """The verdict of the newest anchored version of a record id (through the index or outbox)."""
    rid = str(RecordId.parse(record_id))
    store = verifier.store
    bundle = _newest_bundle(verifier, rid) if store is not None else None
    if bundle is None:
        trail = verifier.trail(None, office=rid.split(":", 1)[0], record_id=rid)
        detail = f"no anchored version of {rid} is known to the local store or index"
        trail.add(C_INCLUSION, FAILED if store is not None else NOT_CHECKED, detail)
        return trail.verdict(UNKNOWN, R_NOT_FOUND, detail)
    return verifier.verify_bundle(bundle, None)


def _newest_bundle(verifier: Verifier, rid: str) -> ProofBundle | None:
    store = verifier.store
    assert store is not None
    best: ProofBundle | None = None
    index = verifier.index
    if index is not None:
        versions = index.versions(rid)
        if versions:
            best = index.bundle(versions[-1], verifier.chain_id, verifier.registry)
    for record in reversed(store.versions(rid)):
        if record.salt is not None:
            continue
        bundle = verifier.stored_bundle(record)
        if bundle is not None:
            if best is None or bundle.block_number > best.block_number:
                best = bundle
            break
    return best
