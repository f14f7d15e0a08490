"""The index read model: what the indexer recorded of the chain, as offices, signers, batches and leaves.

Every query over the ``idx_*`` tables (layout in :mod:`registry.store.index_schema`); the indexer's
writes are in :mod:`registry.store.index_writer`. :meth:`Index.bundle` rebuilds a record's proof
bundle from its batch's indexed leaves (small cache of recent trees). No network calls.

Usage::

    index = Index.of(db)                    # None before the first sync
    if index is not None:
        index.versions("EP:1234567:B1")     # every anchored version, oldest first
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from registry.core import merkle
from registry.core.address import checksum_address
from registry.core.batch import BatchInfo, utc_iso
from registry.core.leaves import SEALED, LeafValue
from registry.errors import StoreError
from registry.store.index_schema import has_index

if TYPE_CHECKING:  # bundle building: imported by the reads that build one (`ipreg index status` needs none)
    from registry.core.formats import ProofBundle
    from registry.core.proofs import BatchFacts

# ---------------------------------------------------------------------------- rows


#: ``idx_meta`` key present once the index reads ``RegistryFrozen`` events (indexes built before did not).
FREEZES: Final = "freezes"


@dataclass(frozen=True, slots=True)
class IndexedOffice:
    """An office as its events describe it."""

    code: str
    name: str
    base_uri: str
    status: str
    admitted_block: int


@dataclass(frozen=True, slots=True)
class IndexedSigner:
    """A signer's validity interval: blocks ``[from_block, until_block]`` (as the contract), open if None."""

    office: str
    address: str
    from_block: int
    until_block: int | None


@dataclass(frozen=True, slots=True)
class IndexedBatch:
    """An anchored batch with its transaction and the state of its manifest."""

    root: str
    office: str
    signer: str
    block_number: int
    log_index: int
    timestamp: int
    leaf_count: int
    manifest_uri: str
    tx_hash: str
    revocation_reason: int
    manifest_status: str
    manifest_error: str | None
    #: The AnchorRegistry that holds the batch (a predecessor or successor of the followed one, or it).
    registry: str = ""

    @property
    def anchored_at(self) -> str:
        """UTC time of the anchoring block."""
        return utc_iso(self.timestamp)


@dataclass(frozen=True, slots=True)
class IndexedLeaf:
    """One record of an anchored batch (from its verified manifest), with the batch's provenance."""

    root: str
    position: int
    leaf: str
    record_id: str
    content_hash: str
    canonicalization: str
    supersedes: str
    office: str
    block_number: int
    timestamp: int
    tx_hash: str
    leaf_count: int

    @property
    def value(self) -> LeafValue:
        """The leaf's value tuple."""
        return LeafValue(self.record_id, self.content_hash, self.canonicalization, self.supersedes)

    @property
    def sealed(self) -> bool:
        """Whether this is a sealed commitment (record id and content hidden)."""
        return self.canonicalization == SEALED


_BATCH_COLS: Final = (
    "root, office, signer, block_number, log_index, timestamp, leaf_count, manifest_uri, tx_hash,"
    " revocation_reason, manifest_status, manifest_error, registry"
)
_LEAF_SELECT: Final = (
    "SELECT l.root, l.position, l.leaf, l.record_id, l.content_hash, l.canonicalization, l.supersedes,"
    " b.office, b.block_number, b.timestamp, b.tx_hash, b.leaf_count FROM idx_leaves l"
    " JOIN idx_batches b ON b.office = l.office AND b.root = l.root"
)
_LEAF_ORDER: Final = " ORDER BY b.block_number, b.log_index, l.position"

# ---------------------------------------------------------------------------- tree cache

_TREES: OrderedDict[str, merkle.MerkleTree] = OrderedDict()
_TREES_LOCK = threading.Lock()
_TREES_MAX = 8


def forget_trees() -> None:
    """Empty the cache of recent batch trees (after the index dropped or rolled back batches)."""
    with _TREES_LOCK:
        _TREES.clear()


def leaf_facts(leaf: IndexedLeaf, chain_id: int, registry: str) -> BatchFacts:
    """What every bundle of an indexed leaf's batch shares (``registry``: the AnchorRegistry that holds it)."""
    from registry.core.proofs import BatchFacts

    return BatchFacts(
        chain_id,
        registry,
        leaf.office,
        leaf.root,
        leaf.leaf_count,
        leaf.tx_hash,
        leaf.block_number,
        utc_iso(leaf.timestamp),
    )


# ---------------------------------------------------------------------------- queries


class Index:
    """Queries over the ``idx_*`` tables. Writes nothing; use one per thread (or a shared read connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @classmethod
    def of(cls, db: sqlite3.Connection | None, registry: str | None = None) -> Index | None:
        """The index in ``db``; None if there is none, or if it follows another registry than ``registry``."""
        if db is None or not has_index(db):
            return None
        index = cls(db)
        if registry is not None and index.meta().get("anchorRegistry") != registry.lower():
            return None
        return index

    # -- state

    def meta(self) -> dict[str, str]:
        """Deployment the index follows and its cursor (``chainId``, ``anchorRegistry``, ``cursor`` …)."""
        return {str(k): str(v) for k, v in self.db.execute("SELECT key, value FROM idx_meta")}

    def frozen(self, office_registry: str) -> tuple[int, str] | bool | None:
        """(block, successor) if the index saw ``office_registry`` frozen; None if not; False if this index was
        built before freezes were indexed (it cannot tell: ``ipreg index rebuild``)."""
        meta = self.meta()
        found = meta.get(f"frozen:{office_registry.lower()}")
        if found is not None:
            block, successor = found.split(",", 1)
            return int(block), successor
        return None if meta.get(FREEZES) == "indexed" else False

    def cursor(self) -> int | None:
        """The last indexed block, or None before the first sync."""
        value = self.meta().get("cursor")
        return int(value) if value is not None else None

    def kept_blocks(self) -> list[tuple[int, str]]:
        """The indexed blocks whose hashes are kept (to find where a reorganisation forked), newest first."""
        rows = self.db.execute("SELECT number, hash FROM idx_blocks ORDER BY number DESC").fetchall()
        return [(int(number), str(known)) for number, known in rows]

    def status(self, chain_id: int, anchor_registry: str, latest_block: int, confirmations: int) -> dict[str, Any]:
        """Cursor, chain head and counts (``ipreg index status``, the service): the deployment the index follows
        as it records it, else ``chain_id`` and ``anchor_registry`` (the one about to be followed)."""
        meta = self.meta()
        return {
            "chainId": int(meta.get("chainId", chain_id)),
            "anchorRegistry": meta.get("anchorRegistry", anchor_registry.lower()),
            "cursor": int(meta["cursor"]) if "cursor" in meta else None,
            "latestBlock": latest_block,
            "confirmations": max(1, confirmations),
            **self.counts(),
        }

    def counts(self) -> dict[str, int]:
        """What the index holds: offices, batches, records, batches without manifest, revoked records and batches."""
        counts = self.db.execute(
            "SELECT (SELECT count(*) FROM idx_offices), (SELECT count(*) FROM idx_batches),"
            " (SELECT count(*) FROM idx_leaves),"
            " (SELECT count(*) FROM idx_batches WHERE manifest_status != 'indexed'),"
            " (SELECT count(*) FROM idx_revoked_leaves),"
            " (SELECT count(*) FROM idx_batches WHERE revocation_reason != 0)"
        ).fetchone()
        return {
            "offices": counts[0],
            "batches": counts[1],
            "records": counts[2],
            "batchesWithoutManifest": counts[3],
            "revokedRecords": counts[4],
            "revokedBatches": counts[5],
        }

    # -- offices

    def offices(self) -> list[IndexedOffice]:
        """All offices, in order of admission."""
        rows = self.db.execute(
            "SELECT code, name, base_uri, status, admitted_block FROM idx_offices ORDER BY admitted_block, rowid"
        )
        return [IndexedOffice(*r) for r in rows]

    def signers(self, office: str) -> list[IndexedSigner]:
        """Every validity interval of every signer of ``office``, oldest first."""
        rows = self.db.execute(
            "SELECT office, address, from_block, until_block FROM idx_signers WHERE office = ?"
            " ORDER BY from_block, address",
            (office,),
        )
        return [IndexedSigner(*r) for r in rows]

    def was_signer_at(self, office: str, signer: str, block_number: int) -> bool:
        """Whether ``signer`` was authorised for ``office`` at ``block_number`` (by the indexed events)."""
        row = self.db.execute(
            "SELECT 1 FROM idx_signers WHERE office = ? AND lower(address) = lower(?) AND from_block <= ?"
            " AND (until_block IS NULL OR until_block >= ?)",
            (office, signer, block_number, block_number),
        ).fetchone()
        return row is not None

    # -- batches

    def batch(self, office: str, root: str) -> IndexedBatch | None:
        """The batch ``office`` anchored under ``root`` (batches are keyed by office and root, as on chain)."""
        sql = f"SELECT {_BATCH_COLS} FROM idx_batches WHERE office = ? AND root = ?"
        row = self.db.execute(sql, (office, root.lower())).fetchone()
        return IndexedBatch(*row) if row else None

    def batches_with_root(self, root: str) -> list[IndexedBatch]:
        """Every office's batch anchored under ``root`` (another office may copy a root), oldest first."""
        sql = f"SELECT {_BATCH_COLS} FROM idx_batches WHERE root = ? ORDER BY block_number, log_index"
        return [IndexedBatch(*r) for r in self.db.execute(sql, (root.lower(),))]

    def batches(
        self, office: str | None = None, limit: int = 100, before_block: int | None = None
    ) -> list[IndexedBatch]:
        """Batches, newest first; optionally of one office and anchored before a block (for paging)."""
        sql = f"SELECT {_BATCH_COLS} FROM idx_batches WHERE 1 = 1"
        args: list[object] = []
        if office is not None:
            sql += " AND office = ?"
            args.append(office)
        if before_block is not None:
            sql += " AND block_number < ?"
            args.append(before_block)
        sql += " ORDER BY block_number DESC, log_index DESC LIMIT ?"
        args.append(limit)
        return [IndexedBatch(*r) for r in self.db.execute(sql, args)]

    def unindexed_batches(self, office: str | None = None) -> list[IndexedBatch]:
        """Batches whose manifest is not (yet) indexed: their records are unknown to the index."""
        sql = f"SELECT {_BATCH_COLS} FROM idx_batches WHERE manifest_status != 'indexed'"
        args: tuple[object, ...] = ()
        if office is not None:
            sql += " AND office = ?"
            args = (office,)
        return [IndexedBatch(*r) for r in self.db.execute(sql + " ORDER BY block_number, log_index", args)]

    def due_manifests(self, retry_failed: bool, now: float) -> list[tuple[IndexedBatch, int]]:
        """Batches whose manifest is to be fetched now, with their failed attempts, oldest first.

        Pending ones, and failed ones whose back-off ended by ``now`` (every failed one with ``retry_failed``).
        """
        rows = self.db.execute(
            f"SELECT {_BATCH_COLS}, manifest_attempts FROM idx_batches WHERE manifest_status = 'pending'"
            " OR (manifest_status = 'failed' AND (? OR manifest_retry_at <= ?))"
            " ORDER BY block_number, log_index",
            (retry_failed, now),
        ).fetchall()
        return [(IndexedBatch(*row[:-1]), int(row[-1])) for row in rows]

    def revocations(self, office: str | None = None) -> list[tuple[str, str, str | None, str]]:
        """Standing revocations (of ``office``, or all): (office, root, leaf or None for the batch, registry)."""
        where = " WHERE b.office = ?" if office else ""
        args = (office,) if office else ()
        batches = self.db.execute(
            f"SELECT b.office, b.root, NULL, b.registry FROM idx_batches b{where}"
            + (" AND" if where else " WHERE")
            + " b.revocation_reason != 0",
            args,
        )
        leaves = self.db.execute(
            "SELECT r.office, r.root, r.leaf, b.registry FROM idx_revoked_leaves r"
            f" JOIN idx_batches b ON b.office = r.office AND b.root = r.root{where}",
            args,
        )
        return [(str(o), str(r), None if x is None else str(x), str(g)) for o, r, x, g in [*batches, *leaves]]

    def revoked_leaves(self, office: str, root: str) -> dict[str, int]:
        """Revoked leaves of ``office``'s batch ``root`` -> reason code."""
        rows = self.db.execute(
            "SELECT leaf, reason FROM idx_revoked_leaves WHERE office = ? AND root = ?", (office, root.lower())
        )
        return {str(leaf): int(reason) for leaf, reason in rows}

    def verify_record(
        self, office: str, root: str, proof: list[str] | tuple[str, ...], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """The reader protocol's ``verifyRecord`` from indexed events (the index and archive readers' one rule).

        (the leaf is in ``office``'s batch ``root`` by its Merkle proof, the batch with its standing revocation,
        the leaf's revocation reason); ``(False, None, 0)`` for a batch the events never anchored.
        """
        batch = self.batch(office, root)
        if batch is None:
            return False, None, 0
        info = BatchInfo(batch.root, batch.office, batch.signer, batch.timestamp, batch.block_number,
                         batch.leaf_count, batch.revocation_reason)  # fmt: skip
        leaf = merkle.leaf_hash(values)
        try:
            included = merkle.verify(bytes.fromhex(root[2:]), leaf, [bytes.fromhex(p[2:]) for p in proof])
        except ValueError:
            included = False
        return included, info, self.revoked_leaves(office, root).get("0x" + leaf.hex(), 0)

    # -- leaves

    def leaves_by_hash(self, content_hash: str) -> list[IndexedLeaf]:
        """Anchored records with this content hash, oldest first (sealed commitments excluded)."""
        rows = self.db.execute(
            _LEAF_SELECT + " WHERE l.content_hash = ? AND l.canonicalization != ?" + _LEAF_ORDER,
            (content_hash.lower(), SEALED),
        )
        return [IndexedLeaf(*r) for r in rows]

    def batch_leaves(self, office: str, root: str) -> list[IndexedLeaf]:
        """The records of ``office``'s indexed batch ``root`` in manifest order (empty if not indexed)."""
        rows = self.db.execute(
            _LEAF_SELECT + " WHERE l.office = ? AND l.root = ? ORDER BY l.position", (office, root.lower())
        )
        return [IndexedLeaf(*r) for r in rows]

    def leaves_by_leaf(self, leaf: str) -> list[IndexedLeaf]:
        """Where a leaf hash was anchored, oldest first."""
        rows = self.db.execute(_LEAF_SELECT + " WHERE l.leaf = ?" + _LEAF_ORDER, (leaf.lower(),))
        return [IndexedLeaf(*r) for r in rows]

    def versions(self, record_id: str) -> list[IndexedLeaf]:
        """Every version of a record id anchored by the record's own office, oldest first."""
        office = record_id.split(":", 1)[0]
        rows = self.db.execute(
            _LEAF_SELECT + " WHERE l.record_id = ? AND b.office = ? AND l.canonicalization != ?" + _LEAF_ORDER,
            (record_id, office, SEALED),
        )
        return [IndexedLeaf(*r) for r in rows]

    def superseded_by(self, leaf: str, office: str, record_id: str) -> IndexedLeaf | None:
        """The first version of ``record_id`` anchored by ``office`` that names ``leaf`` as its predecessor.

        A newer version that was itself revoked (its batch or its leaf) does not count.
        """
        row = self.db.execute(
            _LEAF_SELECT + " WHERE l.supersedes = ? AND l.record_id = ? AND b.office = ? AND b.revocation_reason = 0"
            " AND NOT EXISTS (SELECT 1 FROM idx_revoked_leaves r"
            " WHERE r.office = l.office AND r.root = l.root AND r.leaf = l.leaf)" + _LEAF_ORDER + " LIMIT 1",
            (leaf.lower(), record_id, office),
        ).fetchone()
        return IndexedLeaf(*row) if row else None

    def successors(self) -> dict[str, list[IndexedLeaf]]:
        """Every leaf named as superseded -> the versions naming it (not revoked), oldest first.

        The bulk form of :meth:`superseded_by`; the caller checks record id and office.
        """
        rows = self.db.execute(
            _LEAF_SELECT + " WHERE l.supersedes != ? AND b.revocation_reason = 0 AND NOT EXISTS"
            " (SELECT 1 FROM idx_revoked_leaves r WHERE r.office = l.office AND r.root = l.root AND r.leaf = l.leaf)"
            + _LEAF_ORDER,
            ("0x" + "00" * 32,),
        )
        out: dict[str, list[IndexedLeaf]] = {}
        for row in rows:
            leaf = IndexedLeaf(*row)
            out.setdefault(leaf.supersedes, []).append(leaf)
        return out

    def office_leaves(self, office: str) -> Iterator[IndexedLeaf]:
        """Every record anchored by ``office`` (sealed commitments excluded), batch by batch."""
        rows = self.db.execute(
            _LEAF_SELECT + " WHERE b.office = ? AND l.canonicalization != ?" + _LEAF_ORDER, (office, SEALED)
        )
        for row in rows:
            yield IndexedLeaf(*row)

    def record_count(self, office: str) -> int:
        """Distinct record ids ``office`` anchored (sealed commitments excluded)."""
        row = self.db.execute(
            "SELECT count(DISTINCT l.record_id) FROM idx_leaves l"
            " JOIN idx_batches b ON b.office = l.office AND b.root = l.root"
            " WHERE b.office = ? AND l.canonicalization != ?",
            (office, SEALED),
        ).fetchone()
        return int(row[0])

    def tree(self, office: str, root: str) -> merkle.MerkleTree:
        """The Merkle tree of ``office``'s indexed batch ``root`` (small in-memory cache of recent trees)."""
        root = root.lower()
        key = f"{office}:{root}"
        with _TREES_LOCK:
            cached = _TREES.get(key)
            if cached is not None:
                _TREES.move_to_end(key)
                return cached
        leaves = [
            bytes.fromhex(r[0][2:])
            for r in self.db.execute(
                "SELECT leaf FROM idx_leaves WHERE office = ? AND root = ? ORDER BY position", (office, root)
            )
        ]
        if not leaves:
            raise StoreError(f"the index holds no records of batch {root} of {office}")
        tree = merkle.rebuild(leaves, root)
        if tree is None:
            raise StoreError(f"indexed records of batch {root} do not rebuild it: run `ipreg index rebuild`")
        with _TREES_LOCK:
            _TREES[key] = tree
            while len(_TREES) > _TREES_MAX:
                _TREES.popitem(last=False)
        return tree

    def bundle(self, leaf: IndexedLeaf, chain_id: int, registry: str) -> ProofBundle:
        """The proof bundle of an indexed record, rebuilt from its batch's leaves."""
        proof = self.tree(leaf.office, leaf.root).proof(leaf.position)
        batch = self.batch(leaf.office, leaf.root)
        holder = checksum_address(batch.registry) if batch is not None and batch.registry else registry
        from registry.core.proofs import build_bundle
        from registry.store.timestamps import tokens_in

        facts = replace(leaf_facts(leaf, chain_id, holder), timestamps=tokens_in(self.db, leaf.root))
        return build_bundle(facts, leaf.value, proof)
