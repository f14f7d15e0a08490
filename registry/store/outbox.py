"""SQLite outbox and local index (WAL, explicit transactions, idempotency by record id + content).

Every record accepted for anchoring is written here before any chain call; batches record
their transaction (hash, nonce) before it is broadcast, so a crashed run resumes from here.
No network calls.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from registry.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    office TEXT NOT NULL,
    record_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    canonicalization TEXT NOT NULL,
    supersedes TEXT NOT NULL,
    leaf BLOB NOT NULL UNIQUE,
    salt BLOB,
    source TEXT,
    batch_id INTEGER REFERENCES batches(id),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    UNIQUE (record_id, content_hash)
);
CREATE INDEX IF NOT EXISTS records_pending ON records(office, batch_id, id);
CREATE INDEX IF NOT EXISTS records_hash ON records(content_hash);
CREATE INDEX IF NOT EXISTS records_supersedes ON records(supersedes);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    office TEXT NOT NULL,
    root TEXT NOT NULL UNIQUE,
    leaf_count INTEGER NOT NULL,
    manifest_uri TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('built', 'sent', 'anchored')),
    signer TEXT,
    nonce INTEGER,
    tx_hash TEXT,
    block_number INTEGER,
    timestamp INTEGER,
    gas_used INTEGER,
    error TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX IF NOT EXISTS batches_office ON batches(office, status);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    office TEXT NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
"""


class BatchStatus(StrEnum):
    """Where a batch is on its way to the chain (the ``batches.status`` column)."""

    #: Tree built and manifest written; no transaction yet.
    BUILT = "built"
    #: Transaction signed and recorded (hash, nonce) before it is broadcast.
    SENT = "sent"
    #: Mined with enough confirmations.
    ANCHORED = "anchored"


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on an autocommit connection: ``BEGIN IMMEDIATE`` … ``COMMIT``, or rollback."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record in the outbox; ``batch_id`` is None while pending."""

    id: int
    office: str
    record_id: str
    content_hash: str
    canonicalization: str
    supersedes: str
    leaf: bytes
    salt: bytes | None
    source: str | None
    batch_id: int | None


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """A batch: built (tree made), sent (transaction recorded) or anchored (mined)."""

    id: int
    office: str
    root: str
    leaf_count: int
    manifest_uri: str
    status: BatchStatus
    signer: str | None
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    timestamp: int | None
    gas_used: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record to accept into the outbox."""

    office: str
    record_id: str
    content_hash: str
    canonicalization: str
    supersedes: str
    leaf: bytes
    salt: bytes | None = None
    source: str | None = None


_RECORD_COLS = "id, office, record_id, content_hash, canonicalization, supersedes, leaf, salt, source, batch_id"
_BATCH_COLS = (
    "id, office, root, leaf_count, manifest_uri, status, signer, nonce, tx_hash, block_number, timestamp, gas_used,"
    " error"
)


def _batch(row: Any) -> StoredBatch:
    """A ``batches`` row (columns ``_BATCH_COLS``) as a :class:`StoredBatch`."""
    values = list(row)
    values[5] = BatchStatus(values[5])
    return StoredBatch(*values)


class Store:
    """The registry's SQLite database. One instance per thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # 32 MB of page cache (a constant, not per record): the outbox's indexes on random keys
            # (leaf, content hash) stay in memory for a run of a million records.
            self.db.execute("PRAGMA cache_size=-32768")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from None
        self.path = path

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
        return immediate(self.db)

    # -- records

    def add_records(self, records: Iterable[NewRecord]) -> int:
        """Insert records in one transaction, ignoring ones already present; return how many were new."""
        rows = [
            (
                r.office,
                r.record_id,
                r.content_hash,
                r.canonicalization,
                r.supersedes,
                r.leaf,
                r.salt,
                r.source,
            )
            for r in records
        ]
        with self.transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO records (office, record_id, content_hash, canonicalization, supersedes, leaf,"
                " salt, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def record_by_key(self, record_id: str, content_hash: str) -> StoredRecord | None:
        """The record with this id and content, if stored."""
        row = self.db.execute(
            f"SELECT {_RECORD_COLS} FROM records WHERE record_id = ? AND content_hash = ?",
            (record_id, content_hash),
        ).fetchone()
        return StoredRecord(*row) if row else None

    def records_by_hash(self, content_hash: str) -> list[StoredRecord]:
        """Records with this content hash (oldest first)."""
        rows = self.db.execute(
            f"SELECT {_RECORD_COLS} FROM records WHERE content_hash = ? ORDER BY id", (content_hash,)
        )
        return [StoredRecord(*r) for r in rows]

    def record_by_leaf(self, leaf: bytes) -> StoredRecord | None:
        """The record with this leaf hash."""
        row = self.db.execute(f"SELECT {_RECORD_COLS} FROM records WHERE leaf = ?", (leaf,)).fetchone()
        return StoredRecord(*row) if row else None

    def versions(self, record_id: str) -> list[StoredRecord]:
        """All versions of a record id, oldest first."""
        rows = self.db.execute(f"SELECT {_RECORD_COLS} FROM records WHERE record_id = ? ORDER BY id", (record_id,))
        return [StoredRecord(*r) for r in rows]

    def latest_versions(self, record_ids: Sequence[str]) -> dict[str, StoredRecord]:
        """The newest stored version of each of ``record_ids`` that exists."""
        latest: dict[str, StoredRecord] = {}
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT {_RECORD_COLS} FROM records WHERE record_id IN ({marks}) ORDER BY id", chunk
            ):
                latest[row[2]] = StoredRecord(*row)
        return latest

    def superseded_by(self, leaf: bytes) -> StoredRecord | None:
        """The version that supersedes the record with ``leaf``, if any."""
        row = self.db.execute(
            f"SELECT {_RECORD_COLS} FROM records WHERE supersedes = ? ORDER BY id LIMIT 1",
            ("0x" + leaf.hex(),),
        ).fetchone()
        return StoredRecord(*row) if row else None

    def pending(self, office: str, limit: int | None = None) -> list[StoredRecord]:
        """Records of ``office`` not yet in a batch, oldest first."""
        sql = f"SELECT {_RECORD_COLS} FROM records WHERE office = ? AND batch_id IS NULL ORDER BY id"
        args: tuple[object, ...] = (office,)
        if limit is not None:
            sql += " LIMIT ?"
            args = (office, limit)
        return [StoredRecord(*r) for r in self.db.execute(sql, args)]

    def pending_count(self, office: str | None = None) -> int:
        """Records accepted but not yet in an anchored batch (of one office or all)."""
        sql = (
            "SELECT count(*) FROM records r LEFT JOIN batches b ON b.id = r.batch_id"
            " WHERE (r.batch_id IS NULL OR b.status != ?)"
        )
        args: tuple[str, ...] = (BatchStatus.ANCHORED,)
        if office is not None:
            sql += " AND r.office = ?"
            args = (BatchStatus.ANCHORED, office)
        return int(self.db.execute(sql, args).fetchone()[0])

    def batch_records(self, batch_id: int) -> list[StoredRecord]:
        """The records of a batch, in insertion order."""
        rows = self.db.execute(f"SELECT {_RECORD_COLS} FROM records WHERE batch_id = ? ORDER BY id", (batch_id,))
        return [StoredRecord(*r) for r in rows]

    # -- staging (one anchoring run's checked files, before any of them is accepted)

    def stage_begin(self) -> None:
        """Start a run's staging area: a TEMP table of this connection, gone if the process dies.

        Nothing staged is accepted: a run that is refused, or killed while it checks its input,
        leaves the outbox as it was.
        """
        self.db.execute("DROP TABLE IF EXISTS temp.staged")
        self.db.execute(
            "CREATE TEMP TABLE staged (seq INTEGER PRIMARY KEY, path TEXT NOT NULL, record_id TEXT NOT NULL,"
            " office TEXT NOT NULL, content_hash TEXT NOT NULL, canonicalization TEXT NOT NULL, leaf BLOB NOT NULL)"
        )

    def stage(self, rows: Sequence[tuple[str, str, str, str, str, bytes]]) -> None:
        """Stage checked files: ``(path, record id, office, content hash, canonicalization, leaf)``."""
        self.db.execute("BEGIN")  # the temp table only: takes no lock on the outbox
        try:
            self.db.executemany(
                "INSERT INTO temp.staged (path, record_id, office, content_hash, canonicalization, leaf)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def staged_count(self) -> int:
        """How many rows are staged (0 when nothing is)."""
        row = self.db.execute("SELECT coalesce(max(seq), 0) FROM temp.staged").fetchone()
        return int(row[0])

    def staged_conflicts(self) -> Iterator[tuple[str, list[str]]]:
        """Record ids staged with two or more different contents, with their files (in input order)."""
        rows = self.db.execute(
            "SELECT record_id, path FROM temp.staged WHERE record_id IN (SELECT record_id FROM temp.staged"
            " GROUP BY record_id HAVING count(DISTINCT content_hash || canonicalization) > 1) ORDER BY record_id, seq"
        )
        current: str | None = None
        paths: list[str] = []
        for record_id, path in rows:
            if record_id != current:
                if current is not None:
                    yield current, paths
                current, paths = record_id, []
            paths.append(path)
        if current is not None:
            yield current, paths

    def unstage_record_ids(self, record_ids: Sequence[str]) -> None:
        """Drop every staged row of these record ids (files reported bad, not to be anchored)."""
        self.db.executemany("DELETE FROM temp.staged WHERE record_id = ?", [(r,) for r in record_ids])

    def staged_rows(
        self, first: int, last: int, known_only: bool = False
    ) -> list[tuple[str, str, str, str, str, bytes]]:
        """Staged rows ``first..last`` in input order; with ``known_only``, those whose record id is stored."""
        rows = self.db.execute(
            "SELECT path, record_id, office, content_hash, canonicalization, leaf FROM temp.staged s"
            " WHERE s.seq BETWEEN ? AND ?"
            + (" AND EXISTS (SELECT 1 FROM records r WHERE r.record_id = s.record_id)" if known_only else "")
            + " ORDER BY s.seq",
            (first, last),
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def accept_staged_new(self, first: int, last: int, supersedes: str) -> int:
        """Accept staged rows ``first..last`` whose record id is new to the outbox, in one transaction.

        Their leaves were computed with ``supersedes`` (zero: no earlier version). Returns how many.
        """
        with self.transaction() as db:
            before = db.total_changes
            db.execute(
                "INSERT OR IGNORE INTO records (office, record_id, content_hash, canonicalization, supersedes, leaf,"
                " source) SELECT office, record_id, content_hash, canonicalization, ?, leaf, path FROM temp.staged s"
                " WHERE s.seq BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM records r WHERE r.record_id = s.record_id)"
                " ORDER BY s.seq",
                (supersedes, first, last),
            )
            return db.total_changes - before

    def stage_end(self) -> None:
        """Drop the staging area."""
        self.db.execute("DROP TABLE IF EXISTS temp.staged")

    # -- batches

    def create_batch(self, office: str, root: str, record_ids: Sequence[int], manifest_uri: str) -> int:
        """Create a built batch and assign its records, atomically."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO batches (office, root, leaf_count, manifest_uri, status) VALUES (?, ?, ?, ?, ?)",
                (office, root, len(record_ids), manifest_uri, BatchStatus.BUILT),
            )
            batch_id = int(cur.lastrowid or 0)
            first, last = min(record_ids), max(record_ids)
            if last - first + 1 == len(record_ids):
                # A run of consecutive ids (the usual case): one statement. It must hit exactly those rows.
                before = db.total_changes
                db.execute(
                    "UPDATE records SET batch_id = ? WHERE id BETWEEN ? AND ? AND office = ? AND batch_id IS NULL",
                    (batch_id, first, last, office),
                )
                if db.total_changes - before != len(record_ids):
                    raise StoreError(f"records {first}..{last} of {office} are not all pending; batch not created")
            else:
                db.executemany("UPDATE records SET batch_id = ? WHERE id = ?", [(batch_id, r) for r in record_ids])
            return batch_id

    def batch(self, batch_id: int) -> StoredBatch:
        """One batch by id."""
        row = self.db.execute(f"SELECT {_BATCH_COLS} FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            raise StoreError(f"no batch {batch_id}")
        return _batch(row)

    def batch_by_root(self, root: str) -> StoredBatch | None:
        """The batch with this root."""
        row = self.db.execute(f"SELECT {_BATCH_COLS} FROM batches WHERE root = ?", (root,)).fetchone()
        return _batch(row) if row else None

    def batches(self, office: str | None = None, status: str | None = None, limit: int = 1000) -> list[StoredBatch]:
        """Batches, newest first, optionally filtered."""
        sql = f"SELECT {_BATCH_COLS} FROM batches WHERE 1=1"
        args: list[object] = []
        if office:
            sql += " AND office = ?"
            args.append(office)
        if status:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_batch(r) for r in self.db.execute(sql, args)]

    def unfinished_batches(self, office: str) -> list[StoredBatch]:
        """Built or sent batches of ``office``, oldest first."""
        rows = self.db.execute(
            f"SELECT {_BATCH_COLS} FROM batches WHERE office = ? AND status != ? ORDER BY id",
            (office, BatchStatus.ANCHORED),
        )
        return [_batch(r) for r in rows]

    def anchored_since(self, office: str, block: int) -> list[StoredBatch]:
        """Anchored batches of ``office`` recorded in block ``block`` or later, oldest first."""
        rows = self.db.execute(
            f"SELECT {_BATCH_COLS} FROM batches WHERE office = ? AND status = ? AND block_number >= ? ORDER BY id",
            (office, BatchStatus.ANCHORED, block),
        )
        return [_batch(r) for r in rows]

    def unanchor(self, batch_id: int) -> None:
        """An anchored batch a reorganisation took off the chain: built again (the next run anchors it again)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE batches SET status = ?, nonce = NULL, tx_hash = NULL, block_number = NULL, timestamp = NULL,"
                " gas_used = NULL WHERE id = ? AND status = ?",
                (BatchStatus.BUILT, batch_id, BatchStatus.ANCHORED),
            )

    def mark_sent(self, batch_id: int, signer: str, nonce: int, tx_hash: str) -> None:
        """Record the transaction before it is broadcast."""
        with self.transaction() as db:
            db.execute(
                "UPDATE batches SET status = ?, signer = ?, nonce = ?, tx_hash = ?, error = NULL WHERE id = ?",
                (BatchStatus.SENT, signer, nonce, tx_hash, batch_id),
            )

    def mark_anchored(
        self,
        batch_id: int,
        tx_hash: str,
        block_number: int,
        timestamp: int,
        gas_used: int | None,
        signer: str | None,
    ) -> None:
        """The batch is on chain with enough confirmations."""
        with self.transaction() as db:
            db.execute(
                "UPDATE batches SET status = ?, tx_hash = ?, block_number = ?, timestamp = ?, gas_used = ?,"
                " signer = coalesce(?, signer), error = NULL WHERE id = ?",
                (BatchStatus.ANCHORED, tx_hash, block_number, timestamp, gas_used, signer, batch_id),
            )

    def mark_error(self, batch_id: int, error: str) -> None:
        """Remember why a batch could not be anchored (it stays unfinished)."""
        with self.transaction() as db:
            db.execute("UPDATE batches SET error = ? WHERE id = ?", (error, batch_id))

    def reset_to_built(self, batch_id: int) -> None:
        """Forget a transaction that was never mined (so a new one is built)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE batches SET status = ?, nonce = NULL, tx_hash = NULL WHERE id = ? AND status = ?",
                (BatchStatus.BUILT, batch_id, BatchStatus.SENT),
            )

    def offices_with_work(self) -> list[str]:
        """Offices with records not yet in a batch or batches not yet anchored."""
        rows = self.db.execute(
            "SELECT office FROM records WHERE batch_id IS NULL"
            " UNION SELECT office FROM batches WHERE status != ? ORDER BY office",
            (BatchStatus.ANCHORED,),
        )
        return [str(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Records and batches by state, for status displays."""
        records = self.db.execute("SELECT count(*), sum(batch_id IS NULL) FROM records").fetchone()
        anchored = self.db.execute(
            "SELECT count(*), coalesce(sum(leaf_count), 0) FROM batches WHERE status = ?", (BatchStatus.ANCHORED,)
        ).fetchone()
        return {
            "records": int(records[0] or 0),
            "pending": int(records[1] or 0),
            "anchoredBatches": int(anchored[0]),
            "anchoredRecords": int(anchored[1]),
        }
