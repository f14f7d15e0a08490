"""Merkle trees and proofs identical to OpenZeppelin's ``StandardMerkleTree`` (consensus-critical).

Leaves are ``keccak256(keccak256(abi.encode(values)))``; inner nodes hash the sorted pair of
their children; leaves are sorted by hash; the tree is the flat array OpenZeppelin uses
(root at index 0, leaves at the end in reverse order). Any proof written here is accepted by
``StandardMerkleTree.verify`` and by ``MerkleProof.verify`` on chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sha3 import keccak_256

ZERO32 = b"\x00" * 32


def keccak(data: bytes) -> bytes:
    """Keccak-256 digest."""
    digest: bytes = keccak_256(data).digest()
    return digest


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _abi_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    pad = -len(raw) % 32
    return _word(len(raw)) + raw + b"\x00" * pad


def encode_leaf_values(record_id: str, content_hash: bytes, canonicalization: str, supersedes: bytes) -> bytes:
    """``abi.encode(string, bytes32, string, bytes32)`` for the registry's leaf tuple."""
    if len(content_hash) != 32 or len(supersedes) != 32:
        raise ValueError("content hash and supersedes must be 32 bytes")
    first = _abi_string(record_id)
    return b"".join(
        (_word(128), content_hash, _word(128 + len(first)), supersedes, first, _abi_string(canonicalization))
    )


def leaf_hash(encoded_values: bytes) -> bytes:
    """OpenZeppelin's standard leaf: keccak256(bytes.concat(keccak256(abi.encode(values))))."""
    digest: bytes = keccak_256(keccak_256(encoded_values).digest()).digest()
    return digest


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Commutative node hash: keccak256 of the two children in ascending order."""
    digest: bytes = keccak_256(a + b if a < b else b + a).digest()
    return digest


@dataclass(frozen=True, slots=True)
class MerkleTree:
    """A StandardMerkleTree over precomputed leaf hashes.

    ``tree`` is OpenZeppelin's flat array; ``positions[i]`` is the tree index of the i-th
    input leaf (inputs keep their order; the tree sorts them).
    """

    tree: tuple[bytes, ...]
    positions: tuple[int, ...]

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build the tree; raises ValueError for an empty list."""
        n = len(leaves)
        if n == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        order = sorted(range(n), key=leaves.__getitem__)
        size = 2 * n - 1
        tree: list[bytes] = [ZERO32] * size
        positions = [0] * n
        for rank, original in enumerate(order):
            index = size - 1 - rank
            tree[index] = leaves[original]
            positions[original] = index
        # Fill internal nodes in runs whose children are all computed: [lo, hi] needs 2*lo+1 > hi.
        hi = size - 1 - n
        while hi >= 0:
            lo = (hi + 1) // 2
            tree[lo : hi + 1] = [
                keccak_256(a + b if a < b else b + a).digest()
                for a, b in zip(tree[2 * lo + 1 : 2 * hi + 2 : 2], tree[2 * lo + 2 : 2 * hi + 3 : 2], strict=True)
            ]
            hi = lo - 1
        return cls(tuple(tree), tuple(positions))

    @property
    def root(self) -> bytes:
        """The Merkle root."""
        return self.tree[0]

    def proof(self, leaf_number: int) -> list[bytes]:
        """Sibling hashes from the leaf up to (not including) the root."""
        tree = self.tree
        i = self.positions[leaf_number]
        proof: list[bytes] = []
        while i > 0:
            proof.append(tree[i + 1] if i % 2 else tree[i - 1])
            i = (i - 1) // 2
        return proof

    def proofs(self) -> list[tuple[bytes, ...]]:
        """Every leaf's proof, in input order.

        Top-down: a node's proof is its sibling followed by its parent's proof, so each proof is
        one tuple concatenation instead of a walk to the root.
        """
        tree = self.tree
        size = len(tree)
        node_proofs: list[tuple[bytes, ...]] = [()] * size
        for i in range(1, size):
            node_proofs[i] = (tree[i + 1] if i & 1 else tree[i - 1],) + node_proofs[(i - 1) >> 1]
        return [node_proofs[i] for i in self.positions]


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by ``leaf`` and ``proof`` (OpenZeppelin ``MerkleProof.processProof``)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` proves ``leaf`` under ``root``."""
    return process_proof(leaf, proof) == root


def rebuild(leaves: Sequence[bytes], root: str) -> MerkleTree | None:
    """The tree of ``leaves`` (in their order) if it rebuilds ``root`` (``0x``-hex), else None (also for no leaves).

    The one check that a batch's leaves are those anchored: callers raise their own error on None.
    """
    if not leaves:
        return None
    tree = MerkleTree.from_leaves(leaves)
    return tree if "0x" + tree.root.hex() == root else None
