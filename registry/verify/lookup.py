"""Finding what is anchored in the local store: the outbox's anchored batches and the index (read only).

A verification without a bundle looks its record up here, by content hash, leaf or record id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.core import canon
from registry.core.formats import ProofBundle
from registry.core.records import RecordId
from registry.errors import CanonicalizationError, InputError
from registry.store.outbox import BatchStatus, Store, StoredRecord
from registry.store.proofs import stored_bundles

if TYPE_CHECKING:  # web3 (via chain, indexer) is imported where a chain is used
    from registry.chain.client import Chain
    from registry.store.index import Index, IndexedLeaf


def stored_bundle(chain: Chain, store: Store, record: StoredRecord) -> ProofBundle | None:
    """The proof bundle of an outbox record, if its batch is anchored (tree rebuilt from the outbox)."""
    if record.batch_id is None:
        return None
    batch = store.batch(record.batch_id)
    if batch.status != BatchStatus.ANCHORED:
        return None
    dep = chain.deployment
    assert dep is not None
    for stored, bundle in stored_bundles(store, batch, dep.chain_id, dep.anchor_registry):
        if stored.id == record.id:
            return bundle
    return None


def index_of(chain: Chain, store: Store) -> Index | None:
    """The store's index, if it follows this chain's AnchorRegistry."""
    from registry.store.index import Index

    return Index.of(store.db, chain.deployment.anchor_registry if chain.deployment is not None else None)


def newer_version(
    chain: Chain, store: Store | None, leaf: bytes, record_id: str, office: str
) -> tuple[str, str] | None:
    """(record id, content hash) of the version superseding ``leaf``, from the outbox or the index."""
    if store is None:
        return None
    newer = store.superseded_by(leaf)
    if newer is not None:
        return newer.record_id, newer.content_hash
    index = index_of(chain, store)
    found = index.superseded_by("0x" + leaf.hex(), office, record_id) if index is not None else None
    return (found.record_id, found.content_hash) if found is not None else None


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


def anchored_id_of(store: Store, registry: str, data: bytes, method: str) -> str | None:
    """The record id under which this content is anchored, per the local store or index, or None."""
    try:
        digest = canon.content_hash(data, method)
    except CanonicalizationError:
        return None
    records = [r for r in store.records_by_hash(digest) if r.salt is None]
    if records:
        return records[-1].record_id
    from registry.store.index import Index

    index = Index.of(store.db, registry)
    leaves = index.leaves_by_hash(digest) if index is not None else []
    return leaves[-1].record_id if leaves else None
