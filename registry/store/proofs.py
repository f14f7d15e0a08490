"""Proof bundles of the outbox's anchored batches: each batch's tree rebuilt from its stored records.

The one place both the anchoring pipeline and verification get a stored record's bundle from
(verification must not import the pipeline). No chain call: the chain id and AnchorRegistry
address come from the caller's deployment.
"""

from __future__ import annotations

from registry.core import merkle
from registry.core.batch import utc_iso
from registry.core.records import LeafValue, ProofBundle, sealed_commitment, sealed_value
from registry.errors import ChainError
from registry.store.outbox import BatchStatus, Store, StoredBatch, StoredRecord


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
    tree = merkle.MerkleTree.from_leaves([r.leaf for r in records])
    if "0x" + tree.root.hex() != batch.root:
        raise ChainError(f"stored records of batch {batch.root} do not rebuild its root")
    return records, tree


def stored_bundles(
    store: Store, batch: StoredBatch, chain_id: int, registry: str
) -> list[tuple[StoredRecord, ProofBundle]]:
    """Rebuild the tree of an anchored batch from the store and make every record's bundle.

    ``chain_id`` and ``registry`` (the AnchorRegistry address) are those of the deployment the
    batch was anchored in.
    """
    block_number, anchored_at = anchored_block(batch)
    records, tree = stored_tree(store, batch)
    hexed: dict[bytes, str] = {}
    out = []
    for record, proof in zip(records, tree.proofs(), strict=True):
        out.append(
            (
                record,
                ProofBundle(
                    chain_id=chain_id,
                    registry=registry,
                    office=batch.office,
                    root=batch.root,
                    value=leaf_value_of(record),
                    proof=tuple(hexed.get(p) or hexed.setdefault(p, "0x" + p.hex()) for p in proof),
                    leaf_count=batch.leaf_count,
                    transaction_hash=batch.tx_hash or "",
                    block_number=block_number,
                    anchored_at=anchored_at,
                ),
            )
        )
    return out
