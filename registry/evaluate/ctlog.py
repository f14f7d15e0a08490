"""A minimal Certificate-Transparency-style log (RFC 6962 / RFC 9162 hashing) and its independent verifier.

One server: entries are appended in arrival order to one Merkle tree (SHA-256, leaf ``0x00 || data``,
node ``0x01 || left || right``, the RFC's unbalanced split at the largest power of two below ``n``);
the server signs tree heads (STH: RFC 6962 ``TreeHeadSignature`` bytes, Ed25519) and answers
inclusion proofs (RFC 9162 section 2.1.3.1) and consistency proofs between two sizes (2.1.4.1).

The verifier (:func:`verify_inclusion`, :func:`verify_consistency`, :func:`verify_head`) shares
nothing with the log but the two hash rules and the STH's byte layout: it runs the iterative
algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2, not the recursion that built the proofs, and
knows only the log's public key. It is the evaluation's model of a CT-style alternative to the chain,
not a production log (no persistence, no gossip, no witnesses: see :mod:`registry.evaluate.alternatives`).

Usage::

    log = Log(Ed25519PrivateKey.generate())
    index = log.append(b"entry")
    head = log.sign_head()
    assert verify_inclusion(index, head.tree_size, leaf_hash(b"entry"), log.inclusion_proof(index), head.root)
    assert verify_head(head, log.public_key)
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: MTH of the empty tree: SHA-256 of the empty string.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
#: RFC 6962 ``Version v1`` and ``SignatureType tree_hash``.
_V1, _TREE_HASH = 0, 1
#: TLS ``DigitallySigned`` header for Ed25519 (RFC 8422 SignatureScheme 0x0807) and the signature's length.
_ED25519 = b"\x08\x07"
SIGNATURE_BYTES: Final = 64


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed tree head: size, the log's time (ms since 1970), root and the log's Ed25519 signature."""

    tree_size: int
    timestamp: int
    root: bytes
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The bytes signed: RFC 6962 ``TreeHeadSignature`` (version, type, timestamp, tree size, root)."""
        return tree_head_bytes(self.tree_size, self.timestamp, self.root)

    def encode(self) -> bytes:
        """The STH as sent to clients: the signed fields and a TLS ``DigitallySigned`` (scheme, length, sig)."""
        return (
            struct.pack(">QQ", self.tree_size, self.timestamp)
            + self.root
            + _ED25519
            + struct.pack(">H", len(self.signature))
            + self.signature
        )


def tree_head_bytes(tree_size: int, timestamp: int, root: bytes) -> bytes:
    """RFC 6962 section 3.5 ``TreeHeadSignature``: the one byte layout the log signs and the verifier checks."""
    return struct.pack(">BBQQ", _V1, _TREE_HASH, timestamp, tree_size) + root


def encode_inclusion(leaf_index: int, tree_size: int, path: Sequence[bytes]) -> bytes:
    """An inclusion proof on the wire (RFC 9162 ``InclusionProofDataV2`` without the log id):
    tree size, leaf index, then the path as length-prefixed hashes."""
    body = b"".join(bytes([len(p)]) + p for p in path)
    return struct.pack(">QQH", tree_size, leaf_index, len(body)) + body


def encode_consistency(first: int, second: int, path: Sequence[bytes]) -> bytes:
    """A consistency proof on the wire (RFC 9162 ``ConsistencyProofDataV2`` without the log id)."""
    body = b"".join(bytes([len(p)]) + p for p in path)
    return struct.pack(">QQH", first, second, len(body)) + body


class Log:
    """One log server: entries, the tree over them, signed heads, proofs (see the module docstring)."""

    def __init__(self, key: Ed25519PrivateKey, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock
        self.entries: list[bytes] = []
        #: ``_levels[k][i]``: hash of the complete subtree of 2**k leaves starting at leaf i * 2**k.
        self._levels: list[list[bytes]] = [[]]
        #: Hashes of incomplete ranges already computed (a range's leaves never change once appended).
        self._ranges: dict[tuple[int, int], bytes] = {}

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key verifiers check tree heads with."""
        return self._key.public_key()

    @property
    def size(self) -> int:
        """Entries appended so far."""
        return len(self.entries)

    def append(self, data: bytes) -> int:
        """Append one entry; its index."""
        self.entries.append(data)
        h = leaf_hash(data)
        level = 0
        while True:
            row = self._levels[level]
            row.append(h)
            if len(row) % 2:
                break
            h = node_hash(row[-2], row[-1])
            level += 1
            if level == len(self._levels):
                self._levels.append([])
        return len(self.entries) - 1

    def _mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            level = n.bit_length() - 1
            row = self._levels[level]
            if lo // n < len(row):
                return row[lo // n]
        cached = self._ranges.get((lo, hi))
        if cached is None:
            k = _split(n)
            cached = node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))
            self._ranges[(lo, hi)] = cached
        return cached

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` entries (all by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} outside 0..{self.size}")
        return self._mth(0, size)

    def sign_head(self, size: int | None = None) -> TreeHead:
        """A signed tree head over the first ``size`` entries (all by default), at the log's clock."""
        size = self.size if size is None else size
        root = self.root(size)
        stamp = int(self._clock() * 1000)
        return TreeHead(size, stamp, root, self._key.sign(tree_head_bytes(size, stamp, root)))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1, leaf side first."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, lo, lo + k), self._mth(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._mth(lo, lo + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 9162 section 2.1.4.1 (empty when first is 0 or equals second)."""
        second = self.size if second is None else second
        if not 0 <= first <= second <= self.size:
            raise ValueError(f"no consistency proof from {first} to {second} (log size {self.size})")
        if first in (0, second):
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self._mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._mth(lo, lo + k)]


# ---------------------------------------------------------------------------- the verifier (RFC 9162 algorithms)


def verify_head(head: TreeHead, key: Ed25519PublicKey) -> bool:
    """Whether ``head`` carries the log's valid signature over its size, time and root."""
    try:
        key.verify(head.signature, tree_head_bytes(head.tree_size, head.timestamp, head.root))
    except InvalidSignature:
        return False
    return True


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift both until LSB(fn) is set or fn is 0."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: whether ``path`` proves the leaf hash ``leaf`` at ``leaf_index`` under ``root``."""
    if not 0 <= leaf_index < tree_size or any(len(p) != 32 for p in path):
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: whether ``proof`` shows the tree of ``second`` extends the tree of ``first``."""
    if not 0 <= first <= second or any(len(p) != 32 for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
