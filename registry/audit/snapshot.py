"""On-chain state at one block, read once per batch: what the audit verifies records against offline.

One ``batchOf`` per (office, root), one ``isAuthorisedAt`` per (office, signer, block), one
``compromisedFrom`` per (office, signer), leaf revocations per batch, one ``BatchAnchored`` query per
office (later versions); Merkle proofs are checked locally with each batch's nodes cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from web3.exceptions import Web3RPCError

from registry.chain.client import Chain
from registry.core import merkle
from registry.core.batch import AnchoredBatch, BatchInfo, utc_iso
from registry.store.index import Index
from registry.verify.readers import ChainReader, LiveReader, lineage_member, successor_reader, web3_office_batches

#: Merkle nodes remembered per batch before the memory is given back (about 100 bytes each).
_MAX_NODES: Final = 500_000
#: Batches whose Merkle nodes are kept (an audit goes batch by batch; older ones give their memory back).
_HOT_BATCHES: Final = 4


@dataclass(frozen=True, slots=True)
class _SnapshotBatch(BatchInfo):
    """A batch read once, with its time already formatted."""

    at: str = ""

    @property
    def anchored_at(self) -> str:
        """UTC time of the anchoring block."""
        return self.at


class _BatchState:
    """One batch of a snapshot: on-chain record, revoked leaves, and the Merkle nodes computed so far."""

    __slots__ = ("info", "nodes", "revoked", "root")

    def __init__(self, info: BatchInfo | None, revoked: dict[str, int] | None, root: bytes) -> None:
        self.info = info
        self.revoked = revoked
        self.root = root
        self.nodes: dict[bytes, bytes] = {}

    def included(self, leaf: bytes, proof: Sequence[str]) -> bool:
        """``MerkleProof.verify``, exactly; each sorted pair is hashed once per batch (proofs share nodes)."""
        nodes = self.nodes
        if len(nodes) > _MAX_NODES:
            nodes.clear()
        node = leaf
        for element in proof:
            sibling = bytes.fromhex(element[2:])
            pair = node + sibling if node < sibling else sibling + node
            parent = nodes.get(pair)
            if parent is None:
                parent = nodes[pair] = merkle.keccak(pair)
            node = parent
        return node == self.root


class SnapshotReader:
    """A :class:`registry.verify.readers.ChainReader` over one block, cached per batch.

    One ``batchOf`` per (office, root) and one ``isAuthorisedAt`` per (office, signer, block); Merkle proofs are
    checked locally. Leaf revocations come from the index when it has reached the snapshot block,
    else from the root's ``LeafRevoked`` events (one ``eth_getLogs`` per batch); only if a node
    refuses that query is ``leafRevocation`` called per record.
    """

    def __init__(self, chain: Chain, index: Index | None = None, block_number: int | None = None) -> None:
        self.chain = chain
        self.index = index
        self.calls = 0
        self._successor: ChainReader | str | None = None
        self._successor_read = False
        self.block_number = (
            block_number if block_number is not None else self._call(lambda: int(chain.w3.eth.block_number))
        )
        self._chain_id: int | None = None
        self._batches: dict[str, _BatchState] = {}
        self._signers: dict[tuple[str, str, int], bool] = {}
        self._marks: dict[tuple[str, str], int | None] = {}
        self._anchored: dict[str, list[AnchoredBatch]] = {}
        self._hot: OrderedDict[str, _BatchState] = OrderedDict()
        self._last = ""

    def _call(self, fn: Callable[[], Any]) -> Any:
        self.calls += 1
        return self.chain.rpc(fn)

    def chain_id(self) -> int:
        """Chain id of the endpoint (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self._call(lambda: self.chain.w3.eth.chain_id))
        return self._chain_id

    def batch(self, office: str, root: str) -> _BatchState:
        """The cached state of ``office``'s batch under ``root`` (asked once)."""
        root = root.lower()
        key = f"{office}:{root}"
        state = self._batches.get(key)
        if state is not None:
            if key != self._last:
                self._warm(key, state)
            return state
        b = self._call(
            lambda: self.chain.anchors.functions.batchOf(office.encode("ascii"), root).call(
                block_identifier=self.block_number
            )
        )
        info = None
        revoked: dict[str, int] | None = {}
        if int(b[3]) != 0:
            info = _SnapshotBatch(
                root,
                bytes(b[0]).decode("ascii"),
                str(b[1]),
                int(b[2]),
                int(b[3]),
                int(b[4]),
                int(b[5]),
                utc_iso(int(b[2])),
            )
            revoked = self._revoked(office, root, info.block_number)
        state = self._batches[key] = _BatchState(info, revoked, bytes.fromhex(root[2:]))
        self._warm(key, state)
        return state

    def _warm(self, key: str, state: _BatchState) -> None:
        """Keep the Merkle nodes of the last few batches used; older batches give theirs back."""
        self._last = key
        hot = self._hot
        hot[key] = state
        hot.move_to_end(key)
        while len(hot) > _HOT_BATCHES:
            hot.popitem(last=False)[1].nodes = {}

    def _revoked(self, office: str, root: str, from_block: int) -> dict[str, int] | None:
        """Revoked leaves of the batch that stand at the snapshot block: candidates from the index or the
        ``LeafRevoked`` events, each confirmed by the contract's view (a revocation by a key at or after its
        compromise block does not stand, contracts 3.0.0); None if the node refuses the event range."""
        cursor = self.index.cursor() if self.index is not None else None
        if self.index is not None and cursor is not None and cursor >= self.block_number:
            candidates = self.index.revoked_leaves(office, root)
        else:
            try:
                logs = self._call(
                    lambda: self.chain.anchors.events.LeafRevoked().get_logs(
                        from_block=from_block,
                        to_block=self.block_number,
                        argument_filters={"root": bytes.fromhex(root[2:]), "office": office.encode("ascii")},
                    )
                )
            except (Web3RPCError, ValueError):
                return None  # the node refuses the range: ask per record
            candidates = {"0x" + bytes(e["args"]["leaf"]).hex(): int(e["args"]["reason"]) for e in logs}
        standing: dict[str, int] = {}
        for leaf in candidates:
            reason = self._leaf_revocation(office, root, bytes.fromhex(leaf[2:]))
            if reason:
                standing[leaf] = reason
        return standing

    def _leaf_revocation(self, office: str, root: str, leaf: bytes) -> int:
        """``leafRevocation`` at the snapshot block (0 also when the revocation does not stand)."""
        fn = self.chain.anchors.functions.leafRevocation(office.encode("ascii"), root, leaf)
        return int(self._call(lambda: fn.call(block_identifier=self.block_number)))

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """Local Merkle check of the values' leaf against the cached batch; revocation from the cached set."""
        leaf = merkle.leaf_hash(values)
        state = self.batch(office, root)
        if state.info is None:
            return False, None, 0
        included = state.included(leaf, proof)
        if state.revoked is not None:
            return included, state.info, state.revoked.get("0x" + leaf.hex(), 0)
        return included, state.info, self._leaf_revocation(office, root, leaf)

    @property
    def registry(self) -> str:
        """The audited AnchorRegistry."""
        return str(self.chain.anchors.address)

    def state_block(self) -> int:
        """The snapshot block: every answer is read at it."""
        return self.block_number

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt`` (signer term, not compromised) at the snapshot, once per (office, signer, block)."""
        key = (office, signer.lower(), block_number)
        if key not in self._signers:
            fn = self.chain.offices.functions.isAuthorisedAt(office.encode("ascii"), signer, block_number)
            self._signers[key] = bool(self._call(lambda: fn.call(block_identifier=self.block_number)))
        return self._signers[key]

    def compromised_from(self, office: str, signer: str) -> int | None:
        """``compromisedFrom`` at the snapshot, once per (office, signer)."""
        key = (office, signer.lower())
        if key not in self._marks:
            fn = self.chain.offices.functions.compromisedFrom(office.encode("ascii"), signer)
            self._marks[key] = int(self._call(lambda: fn.call(block_identifier=self.block_number))) or None
        return self._marks[key]

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """``office``'s batches from ``from_block`` to the snapshot: the office's events read once, then filtered."""
        every = self._anchored.get(office)
        if every is None:
            self.calls += 1
            every = self._anchored[office] = web3_office_batches(self.chain, office, 0, self.block_number)
        return [b for b in every if b.block_number >= from_block]

    def related(self, registry: str) -> LiveReader | None:
        """A live reader, at the snapshot block, of a confirmed predecessor or successor of the audited registry."""
        chain = lineage_member(self.chain, registry)
        return LiveReader(chain, self.block_number) if chain is not None else None

    def successor(self) -> ChainReader | str | None:
        """A live reader of the confirmed successor at the snapshot block (asked once per audit)."""
        if not self._successor_read:
            self.calls += 1
            self._successor = successor_reader(self.chain, self.block_number)
            self._successor_read = True
        return self._successor
