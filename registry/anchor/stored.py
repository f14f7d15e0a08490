"""Proof bundles of batches the outbox holds as anchored, and the reveal of a sealed record."""

from __future__ import annotations

from registry.chain.client import Chain
from registry.core.formats import ProofBundle
from registry.errors import ChainError, InputError
from registry.store.outbox import BatchStatus, Store, StoredBatch, StoredRecord
from registry.store.proofs import stored_bundles


def batch_bundles(store: Store, chain: Chain, batch: StoredBatch) -> list[tuple[StoredRecord, ProofBundle]]:
    """Rebuild the tree of an anchored batch from the store and make every record's bundle."""
    dep = chain.deployment
    assert dep is not None
    return stored_bundles(store, batch, dep.chain_id, dep.anchor_registry)


def reveal_bundle(store: Store, chain: Chain, record_id: str, content_hash: str | None = None) -> ProofBundle:
    """The bundle of a sealed record with its salt revealed, so anyone can check the sealed anchor.

    The bundle proves the commitment was anchored at the sealed batch's time and opens it to the
    record id and content hash; the salt is what keeps the record secret until this moment.
    """
    sealed = [r for r in store.versions(record_id) if r.salt is not None]
    if content_hash is not None:
        sealed = [r for r in sealed if r.content_hash == content_hash]
    if not sealed:
        raise InputError(
            f"no sealed record {record_id} in the store" + (f" with content {content_hash}" if content_hash else "")
        )
    record = sealed[-1]
    if record.batch_id is None or store.batch(record.batch_id).status != BatchStatus.ANCHORED:
        raise InputError(f"sealed record {record_id} is not anchored yet; run `ipreg anchor` first")
    for stored, bundle in batch_bundles(store, chain, store.batch(record.batch_id)):
        if stored.id == record.id:
            assert record.salt is not None
            reveal = {
                "salt": "0x" + record.salt.hex(),
                "recordId": record.record_id,
                "contentHash": record.content_hash,
                "canonicalization": record.canonicalization,
            }
            return bundle.with_extra({"reveal": reveal})
    raise ChainError(f"sealed record {record_id} not found in its batch")
