"""Short-lived caches so that verifying by hash does not call the chain more than needed.

- :class:`CachedReader` answers what a verification reads from the chain (through :meth:`CachedReader.pinned`,
  a ``ChainReader`` of :mod:`registry.verify.readers` at one block) from per-batch chain state read at the
  chain head of a few seconds ago: the batch as the contract stores it (office, signer, batch revocation),
  its revoked leaves, signer terms and compromise marks. The Merkle proof itself is checked locally with
  the same algorithm as the contract.
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

from registry.api.gate import ChainGate
from registry.chain.client import Chain
from registry.core import merkle
from registry.core.batch import AnchoredBatch, BatchInfo
from registry.core.formats import ProofBundle
from registry.core.proofs import build_bundle
from registry.errors import ChainError
from registry.store.outbox import Store, StoredBatch, StoredRecord
from registry.store.proofs import leaf_value_of, stored_facts
from registry.verify.readers import ChainReader, LiveReader, batch_info, web3_office_batches

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

    def get(self, key: K, load: Callable[[], V], acquire: Callable[[threading.Lock], None] | None = None) -> V:
        """The cached value of ``key``; on a miss one caller loads it while the others for that key wait
        (through ``acquire``, which takes the loading lock or raises: e.g. within a request's deadline)."""
        found, value = self._fresh(key)
        if found:
            return value  # type: ignore[return-value]
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        if acquire is None:
            loading.acquire()
        else:
            acquire(loading)
        try:
            found, value = self._fresh(key)
            if found:
                return value  # type: ignore[return-value]
            loaded = load()
            with self._lock:
                self._items[key] = (time.monotonic() + self.ttl, loaded)
                self._items.move_to_end(key)
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
            return loaded
        finally:
            with self._lock:
                if self._loading.get(key) is loading:
                    del self._loading[key]
            loading.release()

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
    """Chain state for verification, read at the chain head of at most ``ttl`` seconds ago and cached per block.

    :meth:`pinned` gives the :class:`registry.verify.readers.ChainReader` of one verification: every
    answer is read at one block (the cached head), which the verdict reports. Entries are keyed by
    that block, so a newer head never mixes with older state.
    """

    def __init__(self, chain: Chain, ttl: float = 5.0, gate: ChainGate | None = None) -> None:
        self.chain = chain
        #: Where a request's chain calls run (bounded pool, the request's deadline); None: directly.
        self.gate = gate or ChainGate(1, direct=True)
        self._chain_id: int | None = None
        self._head: TtlCache[str, int] = TtlCache(ttl, 1)
        self._batches: TtlCache[tuple[int, str, str], BatchState] = TtlCache(max(ttl, 60.0), 1024)
        self._leaves: TtlCache[tuple[int, str, str, bytes], int] = TtlCache(max(ttl, 60.0), 16384)
        self._signers: TtlCache[tuple[int, str, str, int], bool] = TtlCache(max(ttl, 60.0), 4096)
        self._marks: TtlCache[tuple[int, str, str], int | None] = TtlCache(max(ttl, 60.0), 4096)
        self._anchored: TtlCache[tuple[int, str, int], list[AnchoredBatch]] = TtlCache(max(ttl, 60.0), 256)
        self._versions: TtlCache[str, dict[str, Chain]] = TtlCache(60.0, 1)
        #: The confirmed successor (or why it cannot be searched) as read at a block.
        self.successors: TtlCache[int, ChainReader | str | None] = TtlCache(max(ttl, 60.0), 16)
        self._last_head: int | None = None

    def _get(self, cache: TtlCache[K, V], key: K, load: Callable[[], V]) -> V:
        """``cache``'s value of ``key``, loaded through the gate; waiting for another loader within the deadline."""
        return cache.get(key, lambda: self.gate.call(load), self.gate.acquire)

    def chain_id(self) -> int:
        """Chain id of the endpoint (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self.gate.call(lambda: self.chain.rpc(lambda: self.chain.w3.eth.chain_id)))
        return self._chain_id

    def head(self) -> int:
        """The chain head, asked at most every ``ttl`` seconds."""

        def load() -> int:
            head = int(self.chain.rpc(lambda: self.chain.w3.eth.block_number))
            self._last_head = head
            return head

        return self._get(self._head, "head", load)

    def last_head(self) -> int | None:
        """The head last read (however old), without asking the node."""
        return self._last_head

    def pinned(self) -> PinnedReader:
        """A reader for one verification, at the cached head."""
        return PinnedReader(self, self.head())

    def batch_state(self, office: str, root: str, block: int | None = None) -> BatchState:
        """``office``'s batch under ``root`` and its revoked leaves at ``block`` (default: the cached head)."""
        at = self.head() if block is None else block
        root = root.lower()
        return self._get(self._batches, (at, office, root), lambda: self._load_batch(office, root, at))

    def _load_batch(self, office: str, root: str, at: int) -> BatchState:
        info = batch_info(root, self.chain.call(self.chain.anchors.functions.batchOf(office.encode("ascii"), root), at))
        if info is None:
            return BatchState(None, {})
        try:
            logs = self.chain.rpc(
                lambda: self.chain.anchors.events.LeafRevoked().get_logs(
                    from_block=info.block_number,
                    to_block=at,
                    argument_filters={"root": bytes.fromhex(root[2:]), "office": office.encode("ascii")},
                )
            )
            revoked: dict[bytes, int] | None = {bytes(e["args"]["leaf"]): int(e["args"]["reason"]) for e in logs}
        except ChainError:
            raise
        except Exception:
            revoked = None
        if revoked:  # a revocation stands only if the contract's view says so (3.0.0: its key not compromised)
            revoked = {leaf: r for leaf in revoked if (r := self.chain.leaf_revocation(office, root, leaf, at))}
        return BatchState(info, revoked)

    def leaf_revocation(self, office: str, root: str, leaf: bytes, block: int | None = None) -> int:
        """Revocation reason of one leaf of ``office``'s anchored batch at ``block`` (0: not revoked)."""
        at = self.head() if block is None else block
        state = self.batch_state(office, root, at)
        if state.info is None:
            return 0
        if state.revoked is not None:
            return state.revoked.get(leaf, 0)
        return self._get(
            self._leaves, (at, office, root.lower(), leaf), lambda: self.chain.leaf_revocation(office, root, leaf, at)
        )

    def is_authorised_at(self, office: str, signer: str, block_number: int, at: int) -> bool:
        """``isAuthorisedAt`` read at block ``at`` (cached)."""
        fn = self.chain.offices.functions.isAuthorisedAt(office.encode("ascii"), signer, block_number)
        key = (at, office, signer.lower(), block_number)
        return self._get(self._signers, key, lambda: bool(self.chain.call(fn, at)))

    def compromised_from(self, office: str, signer: str, at: int) -> int | None:
        """``compromisedFrom`` read at block ``at`` (cached)."""
        fn = self.chain.offices.functions.compromisedFrom(office.encode("ascii"), signer)
        return self._get(self._marks, (at, office, signer.lower()), lambda: int(self.chain.call(fn, at)) or None)

    def office_batches(self, office: str, from_block: int, at: int) -> list[AnchoredBatch]:
        """``office``'s ``BatchAnchored`` events in [from_block, at] (cached)."""
        key = (at, office, from_block)
        return self._get(self._anchored, key, lambda: web3_office_batches(self.chain, office, from_block, at))

    def lineage(self) -> dict[str, Chain]:
        """The confirmed other versions of the service's registry by address (walked at most once a minute, so
        a stream of bundles naming strangers costs no walk each)."""

        def walk() -> dict[str, Chain]:
            from registry.chain.lineage import lineage

            own = str(self.chain.anchors.address).lower()
            found = {str(c.anchors.address).lower(): c for c in lineage(self.chain)}
            found.pop(own, None)
            return found

        return self._get(self._versions, "lineage", walk)

    def clear(self) -> None:
        """Forget all chain state (after this service anchored or revoked something)."""
        self._head.clear()
        self._batches.clear()
        self._leaves.clear()


class PinnedReader:
    """The :class:`registry.verify.readers.ChainReader` of one verification: the cache, read at one block."""

    def __init__(self, cache: CachedReader, block: int) -> None:
        self.cache = cache
        self.block = block

    @property
    def registry(self) -> str:
        """The service's AnchorRegistry."""
        return str(self.cache.chain.anchors.address)

    def chain_id(self) -> int:
        """Chain id of the endpoint."""
        return self.cache.chain_id()

    def state_block(self) -> int:
        """The block every answer is read at."""
        return self.block

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """(proof leads from the values' leaf to ``office``'s ``root``, the batch, the leaf's revocation reason)."""
        leaf = merkle.leaf_hash(values)
        state = self.cache.batch_state(office, root, self.block)
        if state.info is None:
            return False, None, 0
        try:
            included = merkle.verify(bytes.fromhex(root[2:]), leaf, [bytes.fromhex(p[2:]) for p in proof])
        except ValueError:
            included = False
        return included, state.info, self.cache.leaf_revocation(office, root, leaf, self.block)

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt`` at this reader's block."""
        return self.cache.is_authorised_at(office, signer, block_number, self.block)

    def compromised_from(self, office: str, signer: str) -> int | None:
        """``compromisedFrom`` at this reader's block."""
        return self.cache.compromised_from(office, signer, self.block)

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """``office``'s batches from ``from_block`` to this reader's block."""
        return self.cache.office_batches(office, from_block, self.block)

    def related(self, registry: str) -> LiveReader | None:
        """A live reader of a confirmed predecessor or successor of the service's registry, at this block."""
        chain = self.cache.lineage().get(registry.lower())
        return LiveReader(chain, self.block) if chain is not None else None

    def successor(self) -> ChainReader | str | None:
        """A live reader of the confirmed successor at this block (see ``successor_reader``)."""
        from registry.verify.readers import successor_reader

        def read() -> ChainReader | str | None:
            return self.cache.gate.call(lambda: successor_reader(self.cache.chain, self.block))

        return self.cache.successors.get(self.block, read)


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
            facts = stored_facts(batch, chain_id, registry, store)  # with the root's time-stamp tokens
        except ChainError:  # not anchored yet
            return None
        entry = self._tree(store, batch)
        position = entry.positions.get(record.id)
        if position is None:
            return None
        return build_bundle(facts, leaf_value_of(record), entry.tree.proof(position))
