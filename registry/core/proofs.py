"""The only place a proof bundle is built: a batch's facts, a leaf value and its Merkle proof.

Every component that hands out ``ipreg-proof-v1`` bundles (the anchorer, the indexer, the
service's cache, the audit, the evaluation) describes the anchored batch once as
:class:`BatchFacts` and asks this module for each record's bundle.

Usage::

    batch = BatchFacts(chain_id, registry, "EP", root, leaf_count, tx_hash, block_number, utc_iso(timestamp))
    bundle = build_bundle(batch, value, tree.proof(position))       # one record
    for bundle in bundles_for_batch(batch, values):                 # every record, tree checked once
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from registry.core import merkle
from registry.core.formats import PER_RECORD, PROOF_BUNDLE, ProofBundle
from registry.core.leaves import LeafValue
from registry.core.stamps import TimestampToken
from registry.errors import BundleError


class RootMismatchError(BundleError):
    """A batch's leaf values (or stored leaves) do not rebuild its anchored root: no bundle can prove them."""


@dataclass(frozen=True, slots=True)
class BatchFacts:
    """What every bundle of one anchored batch shares: the proof bundle's fields but ``value`` and ``proof``.

    Validated on construction exactly as a bundle's fields are (BundleError); the positional order is that of
    :meth:`registry.anchor.bundles.BatchRenderer.of`; from a stored batch: :func:`registry.store.proofs.stored_facts`.
    """

    chain_id: int
    registry: str
    office: str
    root: str
    leaf_count: int
    transaction_hash: str
    block_number: int
    anchored_at: str
    #: RFC 3161 tokens over the root (optional).
    timestamps: tuple[TimestampToken, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamps", tuple(self.timestamps))
        PROOF_BUNDLE.check(self, skip=PER_RECORD)


def build_bundle(batch: BatchFacts, value: LeafValue, proof: Iterable[bytes]) -> ProofBundle:
    """The proof bundle of ``value`` in ``batch``, ``proof`` being its Merkle proof (sibling hashes, leaf first).

    The proof is not checked against the root here (:func:`bundles_for_batch` checks a whole batch
    once; verification checks every bundle it reads).
    """
    return _bundle(batch, value, tuple("0x" + p.hex() for p in proof))


def _bundle(batch: BatchFacts, value: LeafValue, proof: tuple[str, ...]) -> ProofBundle:
    return ProofBundle.in_checked_batch(batch, value, proof)  # the facts were checked when ``batch`` was made


def batch_tree(batch: BatchFacts, leaves: Sequence[bytes]) -> merkle.MerkleTree:
    """The Merkle tree of ``leaves`` (in the batch's order), checked to rebuild ``batch.root``; RootMismatchError."""
    if not leaves:
        raise RootMismatchError(f"batch {batch.root} has no leaves to rebuild it from")
    tree = merkle.rebuild(leaves, batch.root)
    if tree is None:
        raise RootMismatchError(f"the {len(leaves)} leaves given for batch {batch.root} do not rebuild its root")
    return tree


def bundles_for_batch(
    batch: BatchFacts, values: Sequence[LeafValue], leaves: Sequence[bytes] | None = None
) -> Iterator[ProofBundle]:
    """Every record's bundle, in the order of ``values``: the tree is built and checked against the root first.

    ``leaves`` are the values' leaf hashes if the caller has them (a store keeps them); otherwise they
    are computed from ``values``. RootMismatchError (before any bundle) if they do not rebuild the root.
    """
    if leaves is not None and len(leaves) != len(values):
        raise RootMismatchError(f"batch {batch.root}: {len(values)} values but {len(leaves)} leaves")
    tree = batch_tree(batch, leaves if leaves is not None else [v.leaf() for v in values])
    return _bundles(batch, values, tree)


def _bundles(batch: BatchFacts, values: Sequence[LeafValue], tree: merkle.MerkleTree) -> Iterator[ProofBundle]:
    hexed: dict[bytes, str] = {}  # one string per tree node, shared by the proofs that hold it
    for value, proof in zip(values, tree.proofs(), strict=True):
        yield _bundle(batch, value, tuple(hexed.get(p) or hexed.setdefault(p, "0x" + p.hex()) for p in proof))
