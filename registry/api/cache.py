"""Short-lived caches so that verifying by hash does not call the chain more than needed.

- :class:`CachedReader` answers what a verification reads from the chain (a ``ChainReader`` of
  :mod:`registry.verify.verdicts`) from per-batch chain state kept for a few seconds: the batch as the
  contract stores it (office, signer, batch revocation) and the batch's revoked leaves. The
  Merkle proof itself is checked locally with the same algorithm as the contract.
- :class:`BatchTrees` keeps the Merkle trees of recently used anchored batches, so a proof
  bundle is a lookup, not a rebuild of a 10,000-leaf tree.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from registry.chain.client import Chain
from registry.core import merkle
from registry.core.batch import BatchInfo
from registry.core.formats import ProofBundle
from registry.core.proofs import build_bundle
from registry.errors import ChainError
from registry.store.outbox import Store, StoredBatch, StoredRecord
from registry.store.proofs import leaf_value_of, stored_facts

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small thread-safe cache whose entries expire ``ttl`` seconds after they were loaded."""

    def __init__(self, ttl: float, maxsize: int = 4096) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[K, threading.Lock] = {}

    def _fresh(self, key: K) -> tuple[bool, V | None]:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > time.monotonic():
                self._items.move_to_end(key)
                return True, hit[1]
        return False, None

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value of ``key``; on a miss one caller loads it while the others for that key wait."""
        found, value = self._fresh(key)
        if found:
            return value  # type: ignore[return-value]
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            found, value = self._fresh(key)
            if found:
                return value  # type: ignore[return-value]
            try:
                loaded = load()
                with self._lock:
                    self._items[key] = (time.monotonic() + self.ttl, loaded)
                    self._items.move_to_end(key)
                    while len(self._items) > self.maxsize:
                        self._items.popitem(last=False)
                return loaded
            finally:
                with self._lock:
                    self._loading.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


@dataclass(frozen=True, slots=True)
class BatchState:
    """A batch's chain state: None if the root is not anchored; ``revoked`` None if unknown."""

    info: BatchInfo | None
    revoked: dict[bytes, int] | None


class CachedReader:
    """A ``registry.verify.readers.ChainReader`` over per-batch chain state cached for ``ttl`` seconds."""

    def __init__(self, chain: Chain, ttl: float = 5.0) -> None:
        self.chain = chain
        self._chain_id: int | None = None
        self._batches: TtlCache[tuple[str, str], BatchState] = TtlCache(ttl, 1024)
        self._leaves: TtlCache[tuple[str, str, bytes], int] = TtlCache(ttl, 16384)
        self._signers: TtlCache[tuple[str, str, int], bool] = TtlCache(max(ttl, 60.0), 4096)

    def chain_id(self) -> int:
        """Chain id of the endpoint (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self.chain.rpc(lambda: self.chain.w3.eth.chain_id))
        return self._chain_id

    def batch_state(self, office: str, root: str) -> BatchState:
        """``office``'s batch under ``root`` and its revoked leaves, from the chain at most every ``ttl`` seconds."""
        root = root.lower()
        return self._batches.get((office, root), lambda: self._load_batch(office, root))

    def _load_batch(self, office: str, root: str) -> BatchState:
        info = self.chain.batch_of(office, root)
        if info is None:
            return BatchState(None, {})
        try:
            logs = self.chain.rpc(
                lambda: self.chain.anchors.events.LeafRevoked().get_logs(
                    from_block=info.block_number,
                    to_block="latest",
                    argument_filters={"root": bytes.fromhex(root[2:]), "office": office.encode("ascii")},
                )
            )
            revoked: dict[bytes, int] | None = {bytes(e["args"]["leaf"]): int(e["args"]["reason"]) for e in logs}
        except ChainError:
            raise
        except Exception:
            revoked = None
        return BatchState(info, revoked)

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """(proof leads from the values' leaf to ``office``'s ``root``, the batch, the leaf's revocation reason)."""
        leaf = merkle.leaf_hash(values)
        state = self.batch_state(office, root)
        if state.info is None:
            return False, None, 0
        try:
            included = merkle.verify(bytes.fromhex(root[2:]), leaf, [bytes.fromhex(p[2:]) for p in proof])
        except ValueError:
            included = False
        return included, state.info, self.leaf_revocation(office, root, leaf)

    def leaf_revocation(self, office: str, root: str, leaf: bytes) -> int:
        """Revocation reason of one leaf of ``office``'s anchored batch (0: not revoked)."""
        state = self.batch_state(office, root)
        if state.info is None:
            return 0
        if state.revoked is not None:
            return state.revoked.get(leaf, 0)
        return self._leaves.get(
            (office, root.lower(), leaf),
            lambda: self.chain.leaf_revocation(office, root, leaf),
        )

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """Whether ``signer`` was a signer of ``office``, not compromised, at ``block_number`` (cached)."""
        key = (office, signer.lower(), block_number)
        return self._signers.get(key, lambda: self.chain.is_authorised_at(office, signer, block_number))

    def clear(self) -> None:
        """Forget all chain state (after this service anchored or revoked something)."""
        self._batches.clear()
        self._leaves.clear()


@dataclass(frozen=True, slots=True)
class _Tree:
    root: str
    tree: merkle.MerkleTree
    positions: dict[int, int]


class BatchTrees:
    """Merkle trees of recently used anchored outbox batches, built once and checked against the root."""

    def __init__(self, maxsize: int = 32) -> None:
        self.maxsize = maxsize
        self._trees: OrderedDict[int, _Tree] = OrderedDict()
        self._lock = threading.Lock()

    def _tree(self, store: Store, batch: StoredBatch) -> _Tree:
        with self._lock:
            hit = self._trees.get(batch.id)
            if hit is not None and hit.root == batch.root:
                self._trees.move_to_end(batch.id)
                return hit
        records = store.batch_records(batch.id)
        tree = merkle.rebuild([r.leaf for r in records], batch.root)
        if tree is None:
            raise ChainError(f"stored records of batch {batch.root} do not rebuild its root")
        entry = _Tree(batch.root, tree, {r.id: k for k, r in enumerate(records)})
        with self._lock:
            self._trees[batch.id] = entry
            while len(self._trees) > self.maxsize:
                self._trees.popitem(last=False)
        return entry

    def bundle(
        self, store: Store, chain_id: int, registry: str, batch: StoredBatch, record: StoredRecord
    ) -> ProofBundle | None:
        """The proof bundle of ``record`` in its anchored ``batch``, or None if the batch is not anchored."""
        try:
            facts = stored_facts(batch, chain_id, registry)
        except ChainError:  # not anchored yet
            return None
        entry = self._tree(store, batch)
        position = entry.positions.get(record.id)
        if position is None:
            return None
        return build_bundle(facts, leaf_value_of(record), entry.tree.proof(position))
