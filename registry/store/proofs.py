"""Proof bundles of the outbox's anchored batches: each batch's tree rebuilt from its stored records.

The one place both the anchoring pipeline and verification get a stored record's bundle from
(verification must not import the pipeline). No chain call: the chain id and AnchorRegistry
address come from the caller's deployment.
"""

from __future__ import annotations

from registry.core import merkle
from registry.core.batch import utc_iso
from registry.core.formats import ProofBundle
from registry.core.leaves import LeafValue, sealed_commitment, sealed_value
from registry.core.proofs import BatchFacts, RootMismatchError, bundles_for_batch
from registry.errors import ChainError
from registry.store.outbox import BatchStatus, Store, StoredBatch, StoredRecord
from registry.store.timestamps import tokens_of


def leaf_value_of(record: StoredRecord) -> LeafValue:
    """The value tuple that was hashed into ``record.leaf``."""
    if record.salt is not None:
        commitment = sealed_commitment(record.salt, record.record_id, record.content_hash, record.canonicalization)
        return sealed_value(record.office, commitment)
    return LeafValue(record.record_id, record.content_hash, record.canonicalization, record.supersedes)


def anchored_block(batch: StoredBatch) -> tuple[int, str]:
    """(block number, UTC time) of an anchored batch; ChainError if the batch is not anchored yet."""
    if batch.status != BatchStatus.ANCHORED or batch.block_number is None or batch.timestamp is None:
        raise ChainError(f"batch {batch.root} is not anchored yet")
    return batch.block_number, utc_iso(batch.timestamp)


def stored_tree(store: Store, batch: StoredBatch) -> tuple[list[StoredRecord], merkle.MerkleTree]:
    """A batch's records (in insertion order) and their tree; ChainError if they do not rebuild its root."""
    records = store.batch_records(batch.id)
    tree = merkle.rebuild([r.leaf for r in records], batch.root)
    if tree is None:
        raise ChainError(f"stored records of batch {batch.root} do not rebuild its root")
    return records, tree


def stored_facts(batch: StoredBatch, chain_id: int, registry: str, store: Store | None = None) -> BatchFacts:
    """What every bundle of an anchored stored batch shares (with ``store``, the root's time-stamp tokens too);
    ChainError if the batch is not anchored yet."""
    block_number, anchored_at = anchored_block(batch)
    tokens = tokens_of(store, batch.root) if store is not None else ()
    return BatchFacts(
        chain_id,
        registry,
        batch.office,
        batch.root,
        batch.leaf_count,
        batch.tx_hash or "",
        block_number,
        anchored_at,
        tokens,
    )


def stored_bundles(
    store: Store, batch: StoredBatch, chain_id: int, registry: str
) -> list[tuple[StoredRecord, ProofBundle]]:
    """Rebuild the tree of an anchored batch from the store and make every record's bundle.

    ``chain_id`` and ``registry`` (the AnchorRegistry address) are those of the deployment the
    batch was anchored in.
    """
    facts = stored_facts(batch, chain_id, registry, store)
    records = store.batch_records(batch.id)
    try:
        bundles = bundles_for_batch(facts, [leaf_value_of(r) for r in records], [r.leaf for r in records])
        return list(zip(records, bundles, strict=True))
    except RootMismatchError:
        raise ChainError(f"stored records of batch {batch.root} do not rebuild its root") from None
