"""Contract events -> a SQLite read model (``idx_*`` tables in the store file), after enough confirmations.

Everything indexed comes from the chain (events, block times) and from batch manifests whose
values rebuild the anchored root, never from an office's outbox: an auditor's instance can
:meth:`Indexer.rebuild` it from nothing. Sends no transactions.

Usage::

    indexer = Indexer(settings.store_file, chain, confirmations=2)
    indexer.sync()                          # resumable: from the cursor to latest - confirmations + 1
    index = Index(indexer.db)
    index.versions("EP:1234567:B1")         # every anchored version, oldest first
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from web3 import Web3

from registry.chain.client import Chain
from registry.core import canon, merkle
from registry.core.batch import utc_iso
from registry.core.contract import OFFICE_STATUS
from registry.core.records import LEAF_ENCODING, SEALED, ZERO_HASH, LeafValue, ProofBundle, RecordId
from registry.errors import CanonicalizationError, InputError, RegistryError, StoreError
from registry.indexer.fetch import FetchError, FetchPolicy, content_digest, fetch_url
from registry.store.outbox import immediate

#: Blocks per ``eth_getLogs`` request.
BLOCK_STEP: Final = 2000
#: Indexed blocks whose hashes are kept to find where a reorganisation forked (deeper: rebuild).
REORG_WINDOW: Final = 4096
#: Largest manifest fetched (a 10,000-record manifest is about 2 MB).
MANIFEST_MAX_BYTES: Final = 64 * 1024 * 1024
#: Seconds before a manifest fetch gives up.
MANIFEST_TIMEOUT: Final = 10.0
#: Longest wait before a failed manifest is fetched again (the wait doubles per failure from 10 s).
MANIFEST_MAX_BACKOFF: Final = 3600.0
MANIFEST_FORMAT: Final = "ipreg-manifest-v1"

_OFFICE: Final = re.compile(r"[A-Z]{2}")
_ROOT: Final = re.compile(r"0x[0-9a-f]{64}")

_TABLES: Final = (
    "idx_meta",
    "idx_offices",
    "idx_signers",
    "idx_batches",
    "idx_revoked_leaves",
    "idx_leaves",
    "idx_blocks",
)

#: Layout of the ``idx_*`` tables (``schemaVersion`` in ``idx_meta``). 2: batches, leaves and revoked
#: leaves keyed by (office, root), as the contract keys them. An index of another version is dropped and
#: indexed again from the chain (see :func:`stale_schema`); readers ignore it until then.
SCHEMA_VERSION: Final = "2"

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS idx_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idx_offices (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    base_uri TEXT NOT NULL,
    status TEXT NOT NULL,
    admitted_block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idx_signers (
    office TEXT NOT NULL,
    address TEXT NOT NULL,
    from_block INTEGER NOT NULL,
    until_block INTEGER,
    PRIMARY KEY (office, address, from_block)
);
CREATE TABLE IF NOT EXISTS idx_batches (
    root TEXT NOT NULL,
    office TEXT NOT NULL,
    signer TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    leaf_count INTEGER NOT NULL,
    manifest_uri TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    revocation_reason INTEGER NOT NULL DEFAULT 0,
    revoked_block INTEGER,
    manifest_status TEXT NOT NULL DEFAULT 'pending'
        CHECK (manifest_status IN ('pending', 'indexed', 'failed')),
    manifest_error TEXT,
    manifest_attempts INTEGER NOT NULL DEFAULT 0,
    manifest_retry_at REAL NOT NULL DEFAULT 0,
    registry TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (office, root)
);
CREATE INDEX IF NOT EXISTS idx_batches_office ON idx_batches(office, block_number);
CREATE INDEX IF NOT EXISTS idx_batches_manifest ON idx_batches(manifest_status, manifest_retry_at);
CREATE TABLE IF NOT EXISTS idx_revoked_leaves (
    office TEXT NOT NULL,
    root TEXT NOT NULL,
    leaf TEXT NOT NULL,
    reason INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    PRIMARY KEY (office, root, leaf)
);
CREATE TABLE IF NOT EXISTS idx_leaves (
    office TEXT NOT NULL,
    root TEXT NOT NULL,
    position INTEGER NOT NULL,
    leaf TEXT NOT NULL,
    record_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    canonicalization TEXT NOT NULL,
    supersedes TEXT NOT NULL,
    PRIMARY KEY (office, root, position),
    FOREIGN KEY (office, root) REFERENCES idx_batches(office, root)
);
CREATE INDEX IF NOT EXISTS idx_leaves_hash ON idx_leaves(content_hash);
CREATE INDEX IF NOT EXISTS idx_leaves_record ON idx_leaves(record_id);
CREATE INDEX IF NOT EXISTS idx_leaves_supersedes ON idx_leaves(supersedes);
CREATE INDEX IF NOT EXISTS idx_leaves_leaf ON idx_leaves(leaf);
CREATE TABLE IF NOT EXISTS idx_blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
"""


class ManifestError(InputError):
    """A batch manifest that cannot be fetched, parsed, or does not rebuild its anchored root."""

    code = "invalidManifest"

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        #: What is stored in the shared index and shown by the API: nothing the remote side sent, no
        #: network detail (by default the message itself, which then names only chain facts).
        self.public = public if public is not None else message


class IndexStateError(StoreError):
    """The index follows another deployment, or the chain reorganised below its cursor."""

    code = "indexState"


# ---------------------------------------------------------------------------- read model


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


@dataclass(slots=True)
class SyncResult:
    """What one :meth:`Indexer.sync` did."""

    from_block: int
    to_block: int
    events: int = 0
    batches: int = 0
    manifests_indexed: int = 0
    leaves: int = 0
    manifest_failures: list[tuple[str, str]] = field(default_factory=list)
    #: (old cursor, common ancestor) when a reorganisation below the cursor was repaired.
    reorganisation: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase summary for ``--json``."""
        return {
            "fromBlock": self.from_block,
            "toBlock": self.to_block,
            "events": self.events,
            "batches": self.batches,
            "manifestsIndexed": self.manifests_indexed,
            "leaves": self.leaves,
            "manifestFailures": [{"root": r, "error": e} for r, e in self.manifest_failures],
            "reorganisation": None
            if self.reorganisation is None
            else {"cursor": self.reorganisation[0], "ancestor": self.reorganisation[1]},
        }


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

_TREES: OrderedDict[str, merkle.MerkleTree] = OrderedDict()
_TREES_LOCK = threading.Lock()
_TREES_MAX = 8


def has_index(db: sqlite3.Connection) -> bool:
    """Whether the database holds an index of this layout (the indexer ran at least once)."""
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idx_leaves'").fetchone()
    return row is not None and not stale_schema(db)


def stale_schema(db: sqlite3.Connection) -> bool:
    """Whether the database holds ``idx_*`` tables of another layout than :data:`SCHEMA_VERSION`.

    Such an index (e.g. one keyed by root alone, where one office's copy of a root could shadow
    another's batch) must not be read: :class:`Indexer` drops it and indexes again from the chain.
    """
    tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "idx_leaves" not in tables:
        return False
    leaf_cols = {str(r[1]) for r in db.execute("PRAGMA table_info(idx_leaves)")}
    if "office" not in leaf_cols:
        return True
    if "idx_meta" not in tables:
        return True
    row = db.execute("SELECT value FROM idx_meta WHERE key = 'schemaVersion'").fetchone()
    claimed = db.execute("SELECT 1 FROM idx_meta WHERE key = 'chainId'").fetchone() is not None
    return (row is None and claimed) or (row is not None and str(row[0]) != SCHEMA_VERSION)


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

    def cursor(self) -> int | None:
        """The last indexed block, or None before the first sync."""
        value = self.meta().get("cursor")
        return int(value) if value is not None else None

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

    def revoked_leaves(self, office: str, root: str) -> dict[str, int]:
        """Revoked leaves of ``office``'s batch ``root`` -> reason code."""
        rows = self.db.execute(
            "SELECT leaf, reason FROM idx_revoked_leaves WHERE office = ? AND root = ?", (office, root.lower())
        )
        return {str(leaf): int(reason) for leaf, reason in rows}

    # -- leaves

    def leaves_by_hash(self, content_hash: str) -> list[IndexedLeaf]:
        """Anchored records with this content hash, oldest first (sealed commitments excluded)."""
        rows = self.db.execute(
            _LEAF_SELECT + " WHERE l.content_hash = ? AND l.canonicalization != ?" + _LEAF_ORDER,
            (content_hash.lower(), SEALED),
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
        tree = merkle.MerkleTree.from_leaves(leaves)
        if "0x" + tree.root.hex() != root:
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
        return ProofBundle(
            chain_id=chain_id,
            registry=Web3.to_checksum_address(batch.registry) if batch is not None and batch.registry else registry,
            office=leaf.office,
            root=leaf.root,
            value=leaf.value,
            proof=tuple("0x" + p.hex() for p in proof),
            leaf_count=leaf.leaf_count,
            transaction_hash=leaf.tx_hash,
            block_number=leaf.block_number,
            anchored_at=utc_iso(leaf.timestamp),
        )


# ---------------------------------------------------------------------------- manifests


def read_manifest(
    uri: str,
    max_bytes: int = MANIFEST_MAX_BYTES,
    timeout: float = MANIFEST_TIMEOUT,
    allow_files: bool = False,
    policy: FetchPolicy | None = None,
) -> bytes:
    """The bytes behind an ``http(s)://`` manifest URI, under ``policy`` (default: https to public addresses).

    ``file://`` URIs are never read by URI (a chain-supplied path must not make this machine read its
    disk): an office's own manifests are found by office and root in its manifest folder
    (:func:`local_manifest`). ``allow_files`` is kept for callers of the old signature and ignored.
    ManifestError (its ``public`` text free of remote and network details) if refused or unavailable.
    """
    del allow_files
    policy = policy or FetchPolicy(max_bytes=max_bytes, timeout=timeout)
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "file":
        raise ManifestError("file manifests are not read by URI", "manifest URI names a local file")
    if content_digest(uri) is not None:
        raise ManifestError("content-addressed manifest: no copy here or at a mirror", "no copy of the manifest found")
    if scheme not in ("http", "https"):
        raise ManifestError(
            f"unsupported manifest URI scheme {scheme[:20] or '(none)'!r}", "unsupported manifest URI scheme"
        )
    try:
        return fetch_url(uri, policy)
    except FetchError as exc:
        raise ManifestError(exc.diagnostics(), exc.public) from None


def local_manifest(folder: Path | None, office: str, root: str, max_bytes: int) -> bytes | None:
    """This home's copy of a manifest (``<folder>/<OFFICE>/<root>.json``), or None.

    The path is built from the anchored office code and root only (both validated shapes), never from
    the URI, so no chain-supplied text can point it elsewhere.
    """
    if folder is None or not _OFFICE.fullmatch(office) or not _ROOT.fullmatch(root):
        return None
    path = folder / office / f"{root}.json"
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _check_record_id(value: LeafValue, office: str, position: int, where: str) -> None:
    """Foreign record ids get the same grammar as local ones and must belong to the anchoring office."""
    if value.canonicalization == SEALED:
        if value.record_id != office or value.supersedes != ZERO_HASH:
            raise ManifestError(f"{where}: sealed record {position} does not name the anchoring office")
        return
    try:
        rid = RecordId.parse(value.record_id)
    except RegistryError:
        raise ManifestError(f"{where}: record {position} has an invalid record id") from None
    if str(rid) != value.record_id:
        raise ManifestError(f"{where}: record {position} has a record id not in canonical form")
    if rid.office != office:
        raise ManifestError(f"{where}: record {position} belongs to another office than {office}")


def manifest_values(body: bytes, batch: IndexedBatch) -> list[LeafValue]:
    """The values of a manifest, accepted only if they rebuild the batch's anchored root and every
    record id is valid and of the anchoring office. Messages never echo the manifest's content."""
    where = f"manifest of batch {batch.root}"
    try:
        doc = canon.load_json(body, where)
    except CanonicalizationError:
        raise ManifestError(f"{where} is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{where} is not an {MANIFEST_FORMAT} document")
    if doc.get("leafEncoding") != list(LEAF_ENCODING):
        raise ManifestError(f"{where} has an unsupported leafEncoding")
    if str(doc.get("root", "")).lower() != batch.root or doc.get("office") != batch.office:
        raise ManifestError(f"{where} names another root or office")
    raw = doc.get("values")
    if not isinstance(raw, list) or len(raw) != batch.leaf_count:
        count = len(raw) if isinstance(raw, list) else "no"
        raise ManifestError(f"{where} has {count} values, the batch anchored {batch.leaf_count}")
    values = []
    for k, item in enumerate(raw):
        try:
            value = LeafValue.from_list(item)
        except RegistryError:
            raise ManifestError(f"{where}: record {k} is malformed") from None
        _check_record_id(value, batch.office, k, where)
        values.append(value)
    tree = merkle.MerkleTree.from_leaves([v.leaf() for v in values])
    if "0x" + tree.root.hex() != batch.root:
        raise ManifestError(f"{where}: its values do not rebuild the anchored root")
    return values


# ---------------------------------------------------------------------------- indexer


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class Indexer:
    """Follows the registry's events into the ``idx_*`` tables of the store file."""

    def __init__(
        self,
        store_path: Path,
        chain: Chain,
        confirmations: int = 1,
        step: int = BLOCK_STEP,
        manifest_timeout: float | None = None,
        manifest_max_bytes: int | None = None,
        allow_file_manifests: bool = False,
        policy: FetchPolicy | None = None,
        local_manifests: Path | None = None,
        follow_versions: bool = True,
    ) -> None:
        """``policy``: what manifest fetching may contact (default :meth:`FetchPolicy.from_env`: https to
        public addresses); ``local_manifests``: this home's manifest folder (default ``manifests/`` beside
        the store), where manifests are found by office and root before any fetch. ``allow_file_manifests``
        is accepted for old callers and ignored: ``file://`` URIs are never read by URI. ``follow_versions``
        also indexes the deployment's confirmed predecessors and successors (:mod:`registry.chain.lineage`), each
        batch tagged with its registry."""
        del allow_file_manifests
        if chain.deployment is None:
            raise IndexStateError("no deployment to index: run `ipreg deploy` or give the registry address")
        if step < 1:
            raise InputError(f"block step must be at least 1, got {step}")
        self.chain = chain
        self.deployment = chain.deployment
        self.confirmations = max(1, confirmations)
        self.step = step
        policy = policy or FetchPolicy.from_env()
        if manifest_timeout is not None:
            policy = replace(policy, timeout=manifest_timeout)
        if manifest_max_bytes is not None:
            policy = replace(policy, max_bytes=manifest_max_bytes)
        self.policy = policy
        self.local_manifests = local_manifests if local_manifests is not None else store_path.parent / "manifests"
        store_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(store_path, isolation_level=None, timeout=30.0, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if stale_schema(self.db):  # an older layout (e.g. keyed by root alone): index again from the chain
                with self._transaction() as db:
                    for table in reversed(_TABLES):
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                with _TREES_LOCK:
                    _TREES.clear()
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {store_path}: {exc}") from None
        self.index = Index(self.db)
        from registry.chain.lineage import lineage

        self.versions = lineage(chain) if follow_versions else [chain]
        self._contracts: dict[str, Any] = {}
        self._events: dict[tuple[str, str], Any] = {}
        for version in self.versions:
            anchors, offices = version.anchors, version.offices
            self._contracts |= {anchors.address.lower(): anchors, offices.address.lower(): offices}
            self._events |= {
                (anchors.address.lower(), getattr(anchors.events, n)().topic): getattr(anchors.events, n)()
                for n in ("BatchAnchored", "BatchRevoked", "LeafRevoked")
            } | {
                (offices.address.lower(), getattr(offices.events, n)().topic): getattr(offices.events, n)()
                for n in ("OfficeAdmitted", "OfficeStatusChanged", "SignerAdded", "SignerRemoved")
            }

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self.db)

    # -- deployment and cursor

    def _claim(self) -> None:
        """Bind an empty index to this deployment; refuse an index of another one."""
        dep = self.deployment
        wanted = {
            "chainId": str(dep.chain_id),
            "anchorRegistry": dep.anchor_registry.lower(),
            "officeRegistry": dep.office_registry.lower(),
        }
        meta = self.index.meta()
        versions = ",".join(v.anchors.address.lower() for v in self.versions)
        # Other versions' deployment blocks are unknown (bound by address alone): index them from block 0.
        start = dep.block_number if len(self.versions) == 1 else 0
        if not meta:
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO idx_meta (key, value) VALUES (?, ?)",
                    [
                        *wanted.items(),
                        ("startBlock", str(start)),
                        ("versions", versions),
                        ("schemaVersion", SCHEMA_VERSION),
                    ],
                )
            return
        if any(meta.get(k) != v for k, v in wanted.items()):
            raise IndexStateError(
                f"the index follows registry {meta.get('anchorRegistry')} on chain {meta.get('chainId')},"
                f" not {wanted['anchorRegistry']} on chain {wanted['chainId']}: run `ipreg index rebuild`"
            )
        if meta.get("versions", wanted["anchorRegistry"]) != versions:
            # A successor or predecessor was linked since the last sync: read every version's events
            # again from the start (applying an event twice changes nothing).
            with self._transaction() as db:
                db.execute("DELETE FROM idx_meta WHERE key IN ('cursor', 'cursorHash')")
                db.execute("DELETE FROM idx_blocks")
                db.executemany(
                    "INSERT OR REPLACE INTO idx_meta (key, value) VALUES (?, ?)",
                    [("startBlock", str(min(start, int(meta.get("startBlock", start))))), ("versions", versions)],
                )

    def _block_hash(self, number: int) -> str | None:
        """The canonical hash at ``number``, or None if the chain is shorter."""
        from web3.exceptions import BlockNotFound

        try:
            return _hex(self.chain.rpc(lambda: self.chain.w3.eth.get_block(number))["hash"])
        except BlockNotFound:
            return None

    def _check_cursor(self, cursor: int) -> tuple[int, int] | None:
        """Detect a reorganisation below the cursor and roll back to the fork point; (cursor, ancestor)."""
        recorded = self.index.meta().get("cursorHash")
        if recorded is None or self._block_hash(cursor) == recorded:
            return None
        ancestor = None
        for number, known in self.db.execute("SELECT number, hash FROM idx_blocks ORDER BY number DESC").fetchall():
            if self._block_hash(int(number)) == known:
                ancestor = int(number)
                break
        if ancestor is None:
            raise IndexStateError(
                f"the chain changed at or below indexed block {cursor} and no block the index kept is still on"
                f" it (reorganisation deeper than {REORG_WINDOW} blocks, or a reset node): run `ipreg index rebuild`"
            )
        self._roll_back(ancestor)
        return cursor, ancestor

    def _roll_back(self, ancestor: int) -> None:
        """Forget everything indexed from blocks above ``ancestor``; office status as at ``ancestor``."""
        offices = self.chain.offices.functions

        def status_at(code: str) -> str:
            info = self.chain.rpc(lambda: offices.office(code.encode("ascii")).call(block_identifier=ancestor))
            return OFFICE_STATUS[int(info[2])]

        rows = self.db.execute("SELECT code FROM idx_offices WHERE admitted_block <= ?", (ancestor,)).fetchall()
        statuses = {str(code): status_at(str(code)) for (code,) in rows}
        known = self.db.execute("SELECT hash FROM idx_blocks WHERE number = ?", (ancestor,)).fetchone()[0]
        with self._transaction() as db:
            db.execute(
                "DELETE FROM idx_leaves WHERE (office, root) IN"
                " (SELECT office, root FROM idx_batches WHERE block_number > ?)",
                (ancestor,),
            )
            db.execute("DELETE FROM idx_batches WHERE block_number > ?", (ancestor,))
            db.execute(
                "UPDATE idx_batches SET revocation_reason = 0, revoked_block = NULL WHERE revoked_block > ?",
                (ancestor,),
            )
            db.execute("DELETE FROM idx_revoked_leaves WHERE block_number > ?", (ancestor,))
            db.execute("DELETE FROM idx_offices WHERE admitted_block > ?", (ancestor,))
            db.executemany("UPDATE idx_offices SET status = ? WHERE code = ?", [(v, k) for k, v in statuses.items()])
            db.execute("DELETE FROM idx_signers WHERE from_block > ?", (ancestor,))
            db.execute("UPDATE idx_signers SET until_block = NULL WHERE until_block > ?", (ancestor,))
            db.execute("DELETE FROM idx_blocks WHERE number > ?", (ancestor,))
            db.executemany(
                "INSERT OR REPLACE INTO idx_meta (key, value) VALUES (?, ?)",
                [("cursor", str(ancestor)), ("cursorHash", str(known))],
            )
        with _TREES_LOCK:
            _TREES.clear()

    # -- sync

    def sync(self, progress: Callable[[int], None] | None = None, retry_failed: bool = False) -> SyncResult:
        """Index new confirmed blocks in ranges of ``step``, then fetch pending manifests; resumable.

        ``progress`` is called with the number of blocks done after each range. Failed manifests are
        fetched again once their back-off has passed (at once with ``retry_failed``).
        """
        self._claim()
        start = int(self.index.meta()["startBlock"])
        cursor = self.index.cursor()
        reorganisation = self._check_cursor(cursor) if cursor is not None else None
        if reorganisation is not None:
            cursor = reorganisation[1]
        first = start if cursor is None else cursor + 1
        latest = self.chain.rpc(lambda: self.chain.w3.eth.block_number)
        target = latest - self.confirmations + 1
        result = SyncResult(first, max(target, first - 1), reorganisation=reorganisation)
        lo = first
        while lo <= target:
            hi = min(lo + self.step - 1, target)
            result.events += self._sync_range(lo, hi, result)
            if progress is not None:
                progress(hi - lo + 1)
            lo = hi + 1
        self.fetch_manifests(result, retry_failed=retry_failed)
        return result

    def _sync_range(self, lo: int, hi: int, result: SyncResult) -> int:
        for _ in range(5):  # the range's end must be the same block before and after reading its logs
            before = self._block_hash(hi)
            logs = self.chain.rpc(
                lambda: self.chain.w3.eth.get_logs(
                    {
                        "address": [Web3.to_checksum_address(a) for a in self._contracts],
                        "fromBlock": lo,
                        "toBlock": hi,
                    }
                )
            )
            cursor_hash = self._block_hash(hi)
            if cursor_hash is not None and cursor_hash == before:
                break
        else:
            raise IndexStateError(f"the chain keeps changing at block {hi}: sync again later")
        hashes = {int(log["blockNumber"]): _hex(log["blockHash"]) for log in logs}
        hashes[hi] = cursor_hash
        decoded = []
        for log in logs:
            topics = log.get("topics") or []
            event = self._events.get((str(log["address"]).lower(), _hex(topics[0]))) if topics else None
            if event is not None:
                decoded.append(event.process_log(log))
        blocks = {int(e["blockNumber"]) for e in decoded if e["event"] == "BatchAnchored"}
        times = {n: self._timestamp(n) for n in blocks}
        with self._transaction() as db:
            for e in decoded:
                result.batches += self._apply(db, e, times)
            db.executemany("INSERT OR REPLACE INTO idx_blocks (number, hash) VALUES (?, ?)", sorted(hashes.items()))
            db.execute("DELETE FROM idx_blocks WHERE number < ?", (hi - REORG_WINDOW,))
            db.executemany(
                "INSERT OR REPLACE INTO idx_meta (key, value) VALUES (?, ?)",
                [("cursor", str(hi)), ("cursorHash", cursor_hash)],
            )
        return len(decoded)

    def _timestamp(self, block_number: int) -> int:
        return int(self.chain.rpc(lambda: self.chain.w3.eth.get_block(block_number))["timestamp"])

    def _apply(self, db: sqlite3.Connection, e: Any, times: dict[int, int]) -> int:
        """Write one decoded event; return 1 for a new batch."""
        name, a, block = str(e["event"]), e["args"], int(e["blockNumber"])
        office = bytes(a["office"]).decode("ascii")
        if name == "BatchAnchored":
            db.execute(
                "INSERT OR IGNORE INTO idx_batches (root, office, signer, block_number, log_index, timestamp,"
                " leaf_count, manifest_uri, tx_hash, registry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _hex(a["root"]),
                    office,
                    str(a["signer"]),
                    block,
                    int(e["logIndex"]),
                    times[block],
                    int(a["leafCount"]),
                    str(a["manifestURI"]),
                    _hex(e["transactionHash"]),
                    str(e["address"]).lower(),
                ),
            )
            return 1
        if name == "BatchRevoked":
            db.execute(
                "UPDATE idx_batches SET revocation_reason = ?, revoked_block = ? WHERE office = ? AND root = ?",
                (int(a["reason"]), block, office, _hex(a["root"])),
            )
        elif name == "LeafRevoked":
            db.execute(
                "INSERT OR IGNORE INTO idx_revoked_leaves (office, root, leaf, reason, block_number)"
                " VALUES (?, ?, ?, ?, ?)",
                (office, _hex(a["root"]), _hex(a["leaf"]), int(a["reason"]), block),
            )
        elif name == "OfficeAdmitted":
            db.execute(
                "INSERT OR IGNORE INTO idx_offices (code, name, base_uri, status, admitted_block)"
                " VALUES (?, ?, ?, 'active', ?)",
                (office, str(a["name"]), str(a["baseURI"]), block),
            )
        elif name == "OfficeStatusChanged":
            db.execute("UPDATE idx_offices SET status = ? WHERE code = ?", (OFFICE_STATUS[int(a["status"])], office))
        elif name == "SignerAdded":
            db.execute(
                "INSERT OR IGNORE INTO idx_signers (office, address, from_block, until_block) VALUES (?, ?, ?, NULL)",
                (office, str(a["signer"]), int(a["fromBlock"])),
            )
        elif name == "SignerRemoved":
            db.execute(
                "UPDATE idx_signers SET until_block = ? WHERE office = ? AND address = ? AND until_block IS NULL",
                (int(a["untilBlock"]), office, str(a["signer"])),
            )
        return 0

    # -- manifests

    def fetch_manifests(self, result: SyncResult | None = None, retry_failed: bool = False) -> SyncResult:
        """Fetch, verify and index the manifests of batches not indexed yet; record failures for a retry."""
        result = result or SyncResult(0, -1)
        now = time.time()
        rows = self.db.execute(
            f"SELECT {_BATCH_COLS}, manifest_attempts FROM idx_batches WHERE manifest_status = 'pending'"
            " OR (manifest_status = 'failed' AND (? OR manifest_retry_at <= ?))"
            " ORDER BY block_number, log_index",
            (retry_failed, now),
        ).fetchall()
        for row in rows:
            batch, attempts = IndexedBatch(*row[:-1]), int(row[-1])
            try:
                values = self.manifest_of(batch)
            except ManifestError as exc:
                self._manifest_failed(batch, attempts, exc.public)
                result.manifest_failures.append((batch.root, exc.diagnostics()))
                continue
            with self._transaction() as db:
                db.execute("DELETE FROM idx_leaves WHERE office = ? AND root = ?", (batch.office, batch.root))
                db.executemany(
                    "INSERT INTO idx_leaves (office, root, position, leaf, record_id, content_hash,"
                    " canonicalization, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            batch.office,
                            batch.root,
                            k,
                            _hex(v.leaf()),
                            v.record_id,
                            v.content_hash,
                            v.canonicalization,
                            v.supersedes,
                        )
                        for k, v in enumerate(values)
                    ],
                )
                db.execute(
                    "UPDATE idx_batches SET manifest_status = 'indexed', manifest_error = NULL"
                    " WHERE office = ? AND root = ?",
                    (batch.office, batch.root),
                )
            result.manifests_indexed += 1
            result.leaves += len(values)
        return result

    def manifest_of(self, batch: IndexedBatch) -> list[LeafValue]:
        """The verified values of a batch: this home's copy first, then its URI (or a mirror for ``ni:``)."""
        max_bytes = self.policy.max_bytes
        local = local_manifest(self.local_manifests, batch.office, batch.root, max_bytes)
        local_problem: ManifestError | None = None
        if local is not None:
            try:
                return manifest_values(local, batch)
            except ManifestError as exc:  # a forged or stale file here: try the URI, report this if all fail
                local_problem = exc
        digest = content_digest(batch.manifest_uri)
        if digest is None:
            try:
                return manifest_values(read_manifest(batch.manifest_uri, policy=self.policy), batch)
            except ManifestError:
                if local_problem is not None:
                    raise local_problem from None
                raise
        problem = local_problem or ManifestError(
            f"content-addressed manifest of batch {batch.root}: no copy here or at a mirror",
            "no copy of the content-addressed manifest found here or at a configured mirror",
        )
        for mirror in self.policy.mirrors:
            url = f"{mirror.rstrip('/')}/{batch.office}/{batch.root}.json"
            try:
                body = read_manifest(url, policy=self.policy)
            except ManifestError as exc:
                problem = exc
                continue
            if hashlib.sha256(body).digest() != digest:
                problem = ManifestError(f"mirror copy of batch {batch.root} has another content hash")
                continue
            return manifest_values(body, batch)
        raise problem

    def _manifest_failed(self, batch: IndexedBatch, attempts: int, error: str) -> None:
        wait = min(MANIFEST_MAX_BACKOFF, 10.0 * 2**attempts)
        with self._transaction() as db:
            db.execute(
                "UPDATE idx_batches SET manifest_status = 'failed', manifest_error = ?,"
                " manifest_attempts = ?, manifest_retry_at = ? WHERE office = ? AND root = ?",
                (error, attempts + 1, time.time() + wait, batch.office, batch.root),
            )

    # -- rebuild

    def rebuild(self, progress: Callable[[int], None] | None = None) -> SyncResult:
        """Drop every ``idx_*`` table and index again from the deployment block: chain and manifests only."""
        with self._transaction() as db:
            for table in reversed(_TABLES):
                db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.executescript(SCHEMA)
        with _TREES_LOCK:
            _TREES.clear()
        return self.sync(progress)

    def status(self) -> dict[str, Any]:
        """Cursor, chain head and counts, for ``ipreg index status`` and the service."""
        meta = self.index.meta()
        latest = self.chain.rpc(lambda: self.chain.w3.eth.block_number)
        counts = self.db.execute(
            "SELECT (SELECT count(*) FROM idx_offices), (SELECT count(*) FROM idx_batches),"
            " (SELECT count(*) FROM idx_leaves),"
            " (SELECT count(*) FROM idx_batches WHERE manifest_status != 'indexed'),"
            " (SELECT count(*) FROM idx_revoked_leaves),"
            " (SELECT count(*) FROM idx_batches WHERE revocation_reason != 0)"
        ).fetchone()
        return {
            "chainId": int(meta.get("chainId", self.deployment.chain_id)),
            "anchorRegistry": meta.get("anchorRegistry", self.deployment.anchor_registry.lower()),
            "cursor": int(meta["cursor"]) if "cursor" in meta else None,
            "latestBlock": latest,
            "confirmations": self.confirmations,
            "offices": counts[0],
            "batches": counts[1],
            "records": counts[2],
            "batchesWithoutManifest": counts[3],
            "revokedRecords": counts[4],
            "revokedBatches": counts[5],
        }
