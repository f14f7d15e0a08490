"""The audit's SQL: its temporary databases (expected list, bundle index) and its feed queries on the index.

Everything here takes or owns a connection and returns plain rows; what the rows mean (entries,
proof bundles, indexed batches and leaves) is decided by ``registry.audit``. The temporary
databases are SQLite's private on-disk ones (``sqlite3.connect("")``): a file unlinked when
opened, deleted when closed, so millions of entries cost a few pages of cache and nothing else can
write what is read back.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any, Final

__all__ = ["BundleTable", "ExpectedTable", "feed_leaves", "office_batches"]

#: An expected entry as stored: (office, number, kind or None, line).
EntryRow = tuple[str, str, str | None, int]


# ---------------------------------------------------------------------------- expected list


class ExpectedTable:
    """An expected list's entries in a temporary database, marked as rows match them."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE entries (office TEXT NOT NULL, number TEXT NOT NULL, kind TEXT, line INTEGER NOT NULL,"
            " matched INTEGER NOT NULL DEFAULT 0);"
        )

    def insert(self, rows: list[EntryRow]) -> None:
        """Store entries (in list order)."""
        self.db.executemany("INSERT INTO entries (office, number, kind, line) VALUES (?, ?, ?, ?)", rows)

    def create_index(self) -> None:
        """Index the entries by (office, number), once they are all stored."""
        self.db.execute("CREATE INDEX entries_number ON entries(office, number)")

    def match(self, office: str, number: str, kind: str | None) -> bool:
        """Mark the entries naming this record found (no kind code matches any kind); whether there were any."""
        cur = self.db.execute(
            "UPDATE entries SET matched = 1 WHERE office = ? AND number = ? AND (kind IS NULL OR kind = ?)",
            (office, number, kind),
        )
        return cur.rowcount > 0

    def unmatched(self) -> Iterator[EntryRow]:
        """Entries not marked found, in list order."""
        yield from self.db.execute("SELECT office, number, kind, line FROM entries WHERE matched = 0 ORDER BY rowid")

    def close(self) -> None:
        """Delete the temporary database."""
        self.db.close()


# ---------------------------------------------------------------------------- bundle index


class BundleTable:
    """A folder's proof bundle paths, then its checked bundles, in a temporary database.

    First the paths (:meth:`add_paths`, read back in path order by :meth:`paths`), then one row per
    readable bundle (:meth:`insert`): path, the record id and content hash it speaks for, its block,
    its value's record id and content hash, the leaf it supersedes and its body (opaque bytes).
    """

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE paths (path BLOB NOT NULL);"
            "CREATE TABLE bundles (seq INTEGER PRIMARY KEY, path BLOB NOT NULL, claim_id TEXT NOT NULL,"
            " claim_hash TEXT NOT NULL, block_number INTEGER NOT NULL, value_id TEXT NOT NULL,"
            " value_hash TEXT NOT NULL, supersedes TEXT NOT NULL, body BLOB NOT NULL,"
            " used INTEGER NOT NULL DEFAULT 0);"
        )

    def add_paths(self, paths: Iterable[bytes]) -> None:
        """Store bundle file paths (file system bytes)."""
        names = ((p,) for p in paths)
        while batch := list(itertools.islice(names, 10_000)):
            self.db.executemany("INSERT INTO paths VALUES (?)", batch)

    def path_count(self) -> int:
        """How many paths are stored."""
        return int(self.db.execute("SELECT count(*) FROM paths").fetchone()[0])

    def paths(self) -> Iterator[bytes]:
        """The stored paths in path order (lazily: rows may be inserted meanwhile)."""
        return (raw for (raw,) in self.db.execute("SELECT path FROM paths ORDER BY path"))

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Store bundles: (path, claim id, claim hash, block, value id, value hash, supersedes, body) each."""
        self.db.executemany(
            "INSERT INTO bundles (path, claim_id, claim_hash, block_number, value_id, value_hash, supersedes, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def finish(self) -> None:
        """Drop the paths and index the bundles for lookups (after the last :meth:`insert`)."""
        self.db.executescript(
            "DROP TABLE paths; CREATE INDEX bundles_claim ON bundles(claim_id);"
            " CREATE INDEX bundles_supersedes ON bundles(supersedes);"
        )

    def pick(self, record_id: str, content_hash: str) -> bytes | None:
        """Body of the bundle for this content, else of the newest for the record (first in path order of equals).

        Marks it used.
        """
        row = self.db.execute(
            "SELECT seq, body FROM bundles WHERE claim_id = ?"
            " ORDER BY claim_hash = ? DESC, block_number DESC, seq LIMIT 1",
            (record_id, content_hash),
        ).fetchone()
        if row is None:
            return None
        self.db.execute("UPDATE bundles SET used = 1 WHERE seq = ?", (row[0],))
        return bytes(row[1])

    def successor(self, leaf: str) -> tuple[str, bytes] | None:
        """(value record id, body) of the bundle naming ``leaf`` as superseded (the last in path order)."""
        row = self.db.execute(
            "SELECT value_id, body FROM bundles WHERE supersedes = ? ORDER BY seq DESC LIMIT 1", (leaf,)
        ).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def unused(self) -> int:
        """Bundles no :meth:`pick` returned."""
        return int(self.db.execute("SELECT count(*) - coalesce(sum(used), 0) FROM bundles").fetchone()[0])

    def close(self) -> None:
        """Delete the temporary database."""
        self.db.close()


# ---------------------------------------------------------------------------- feed (the index's tables)


_OFFICE_BATCHES: Final = (
    "SELECT root, office, signer, block_number, log_index, timestamp, leaf_count, manifest_uri, tx_hash,"
    " revocation_reason, manifest_status, manifest_error, registry FROM idx_batches"
    " WHERE office = ? ORDER BY block_number, root"
)

#: The newest version of each record of one batch (none later in the index's order for that record
#: and office), with the content hash of the first non-revoked version naming it as superseded.
#: The indexes are forced (and CROSS JOIN fixes the loop order): the planner otherwise scans every
#: later batch per row.
_FEED_LEAVES: Final = (
    "SELECT l.root, l.position, l.leaf, l.record_id, l.content_hash, l.canonicalization, l.supersedes,"
    " b.office, b.block_number, b.timestamp, b.tx_hash, b.leaf_count,"
    " (SELECT s.content_hash FROM idx_leaves s INDEXED BY idx_leaves_supersedes"
    "  CROSS JOIN idx_batches sb ON sb.office = s.office AND sb.root = s.root"
    "  WHERE s.supersedes = l.leaf AND s.record_id = l.record_id AND sb.office = b.office"
    "  AND sb.revocation_reason = 0 AND NOT EXISTS (SELECT 1 FROM idx_revoked_leaves r"
    "  WHERE r.office = s.office AND r.root = s.root AND r.leaf = s.leaf)"
    "  ORDER BY sb.block_number, sb.log_index, s.position LIMIT 1)"
    " FROM idx_leaves l JOIN idx_batches b ON b.office = l.office AND b.root = l.root"
    " WHERE b.office = ? AND b.root = ? AND l.canonicalization != ?"
    " AND NOT EXISTS (SELECT 1 FROM idx_leaves n INDEXED BY idx_leaves_record"
    "  CROSS JOIN idx_batches nb ON nb.office = n.office AND nb.root = n.root"
    "  WHERE n.record_id = l.record_id AND n.office = b.office AND n.canonicalization != ?"
    "  AND (nb.block_number, nb.log_index, n.position) > (b.block_number, b.log_index, l.position))"
    " ORDER BY l.position"
)


def office_batches(db: sqlite3.Connection, office: str) -> list[tuple[Any, ...]]:
    """The office's indexed batches in the audit's order (block, then root), in ``IndexedBatch`` field order."""
    return db.execute(_OFFICE_BATCHES, (office,)).fetchall()


def feed_leaves(db: sqlite3.Connection, office: str, root: str, skip: str) -> list[tuple[Any, ...]]:
    """The newest versions of one batch's records (leaves of canonicalization ``skip`` left out), by position.

    Each row is an ``IndexedLeaf``'s twelve fields followed by the content hash of its successor
    (the first non-revoked version naming it as superseded), or None.
    """
    return db.execute(_FEED_LEAVES, (office, root, skip, skip)).fetchall()
