"""The indexer's writes to the index read model: events, the cursor, reorganisations, verified manifests.

Every statement that changes the ``idx_*`` tables (layout in :mod:`registry.store.index_schema`,
queries in :mod:`registry.store.index`). It decides nothing: :class:`registry.indexer.sync.Indexer`
reads the chain and calls these in its own transactions. No network calls.

Usage::

    writer = IndexWriter.open(store_file)
    with writer.transaction():
        writer.admit_office("EP", "European Patent Office", "https://ep.example/", block_number=12)
        writer.advance({12: "0x…"}, cursor=12, cursor_hash="0x…", keep_from=0)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from registry.core.leaves import LeafValue
from registry.errors import StoreError
from registry.store.index import FREEZES, forget_trees
from registry.store.index_schema import SCHEMA, SCHEMA_VERSION, TABLES, stale_schema
from registry.store.outbox import immediate


class IndexWriter:
    """Writes to the ``idx_*`` tables of one store file (an autocommit connection, explicit transactions)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @classmethod
    def open(cls, store_path: Path) -> IndexWriter:
        """Open (or create) the store file's index; an index of an older layout is dropped (indexed again)."""
        store_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(store_path, isolation_level=None, timeout=30.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            writer = cls(db)
            if stale_schema(db):  # an older layout (e.g. keyed by root alone): index again from the chain
                writer.reset()
            else:
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {store_path}: {exc}") from None
        return writer

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on an error)."""
        return immediate(self.db)

    def reset(self) -> None:
        """Drop every ``idx_*`` table and lay them out again, empty; forget the cached trees."""
        with self.transaction() as db:
            for table in reversed(TABLES):
                db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.executescript(SCHEMA)
        forget_trees()

    # -- deployment and cursor

    def bind(self, meta: Mapping[str, str]) -> None:
        """Bind an empty index to a deployment: its ``idx_meta`` entries, and this layout's version."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO idx_meta (key, value) VALUES (?, ?)",
                [*meta.items(), ("schemaVersion", SCHEMA_VERSION), (FREEZES, "indexed")],
            )

    def restart(self, start_block: int, versions: str) -> None:
        """Forget the cursor and the kept blocks: events are read again from ``start_block``, of ``versions``."""
        with self.transaction() as db:
            db.execute("DELETE FROM idx_meta WHERE key IN ('cursor', 'cursorHash')")
            db.execute("DELETE FROM idx_blocks")
            db.executemany(
                "INSERT OR REPLACE INTO idx_meta (key, value) VALUES (?, ?)",
                [("startBlock", str(start_block)), ("versions", versions), (FREEZES, "indexed")],
            )

    def freeze(self, office_registry: str, block_number: int, successor: str) -> None:
        """The OfficeRegistry ``office_registry`` was frozen at ``block_number`` in favour of ``successor``."""
        self.db.execute(
            "INSERT OR REPLACE INTO idx_meta (key, value) VALUES (?, ?)",
            (f"frozen:{office_registry.lower()}", f"{block_number},{successor}"),
        )

    def advance(self, hashes: Mapping[int, str], cursor: int, cursor_hash: str, keep_from: int) -> None:
        """Keep the hashes of indexed blocks (those below ``keep_from`` are forgotten) and move the cursor."""
        self.db.executemany("INSERT OR REPLACE INTO idx_blocks (number, hash) VALUES (?, ?)", sorted(hashes.items()))
        self.db.execute("DELETE FROM idx_blocks WHERE number < ?", (keep_from,))
        self.db.executemany(
            "INSERT OR REPLACE INTO idx_meta (key, value) VALUES (?, ?)",
            [("cursor", str(cursor)), ("cursorHash", cursor_hash)],
        )

    def roll_back(self, ancestor: int, statuses: Mapping[str, str]) -> None:
        """Forget everything indexed from blocks above ``ancestor``; offices get ``statuses`` (as at ``ancestor``)."""
        known = self.db.execute("SELECT hash FROM idx_blocks WHERE number = ?", (ancestor,)).fetchone()[0]
        with self.transaction() as db:
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
            # A revocation set aside because of a mark the reorganisation may have undone: back, confirm again.
            db.execute("DELETE FROM idx_discounted WHERE block_number > ?", (ancestor,))
            self.restore_discounted()
            self.set_reconfirm("*")
            db.execute("DELETE FROM idx_offices WHERE admitted_block > ?", (ancestor,))
            db.executemany("UPDATE idx_offices SET status = ? WHERE code = ?", [(v, k) for k, v in statuses.items()])
            db.execute("DELETE FROM idx_signers WHERE from_block > ?", (ancestor,))
            db.execute("UPDATE idx_signers SET until_block = NULL WHERE until_block > ?", (ancestor,))
            db.execute("DELETE FROM idx_blocks WHERE number > ?", (ancestor,))
            db.execute(
                "DELETE FROM idx_meta WHERE key LIKE 'frozen:%'"
                " AND CAST(substr(value, 1, instr(value, ',') - 1) AS INTEGER) > ?",
                (ancestor,),
            )
            db.executemany(
                "INSERT OR REPLACE INTO idx_meta (key, value) VALUES (?, ?)",
                [("cursor", str(ancestor)), ("cursorHash", str(known))],
            )
        forget_trees()

    # -- events (call inside :meth:`transaction`, with :meth:`advance` for the range they came from)

    def add_batch(
        self,
        *,
        root: str,
        office: str,
        signer: str,
        block_number: int,
        log_index: int,
        timestamp: int,
        leaf_count: int,
        manifest_uri: str,
        tx_hash: str,
        registry: str,
    ) -> None:
        """A batch anchored (``BatchAnchored``); its manifest is pending. A batch already known is kept."""
        self.db.execute(
            "INSERT OR IGNORE INTO idx_batches (root, office, signer, block_number, log_index, timestamp,"
            " leaf_count, manifest_uri, tx_hash, registry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (root, office, signer, block_number, log_index, timestamp, leaf_count, manifest_uri, tx_hash, registry),
        )

    def revoke_batch(self, office: str, root: str, reason: int, block_number: int) -> None:
        """A batch revoked (``BatchRevoked``)."""
        self.db.execute(
            "UPDATE idx_batches SET revocation_reason = ?, revoked_block = ? WHERE office = ? AND root = ?",
            (reason, block_number, office, root),
        )

    def revoke_leaf(self, office: str, root: str, leaf: str, reason: int, block_number: int) -> None:
        """One record of a batch revoked (``LeafRevoked``)."""
        self.db.execute(
            "INSERT OR IGNORE INTO idx_revoked_leaves (office, root, leaf, reason, block_number)"
            " VALUES (?, ?, ?, ?, ?)",
            (office, root, leaf, reason, block_number),
        )

    def discount(self, office: str, root: str, leaf: str | None) -> None:
        """Set aside a revocation that does not stand (its key was compromised at its block): readers stop
        seeing it; :meth:`restore_discounted` brings it back (a reorganisation may undo the mark)."""
        if leaf is None:
            self.db.execute(
                "INSERT OR REPLACE INTO idx_discounted (office, root, leaf, reason, block_number)"
                " SELECT office, root, '', revocation_reason, revoked_block FROM idx_batches"
                " WHERE office = ? AND root = ? AND revocation_reason != 0",
                (office, root),
            )
            self.db.execute(
                "UPDATE idx_batches SET revocation_reason = 0, revoked_block = NULL WHERE office = ? AND root = ?",
                (office, root),
            )
            return
        self.db.execute(
            "INSERT OR REPLACE INTO idx_discounted (office, root, leaf, reason, block_number)"
            " SELECT office, root, leaf, reason, block_number FROM idx_revoked_leaves"
            " WHERE office = ? AND root = ? AND leaf = ?",
            (office, root, leaf),
        )
        self.db.execute(
            "DELETE FROM idx_revoked_leaves WHERE office = ? AND root = ? AND leaf = ?", (office, root, leaf)
        )

    def restore_discounted(self) -> None:
        """Put back every revocation set aside, to be confirmed again (after a reorganisation)."""
        self.db.execute(
            "UPDATE idx_batches SET (revocation_reason, revoked_block) = (SELECT d.reason, d.block_number"
            " FROM idx_discounted d WHERE d.office = idx_batches.office AND d.root = idx_batches.root"
            " AND d.leaf = '') WHERE (office, root) IN (SELECT office, root FROM idx_discounted WHERE leaf = '')"
        )
        self.db.execute(
            "INSERT OR IGNORE INTO idx_revoked_leaves (office, root, leaf, reason, block_number)"
            " SELECT office, root, leaf, reason, block_number FROM idx_discounted WHERE leaf != ''"
        )
        self.db.execute("DELETE FROM idx_discounted")

    def set_reconfirm(self, offices: str) -> None:
        """Offices whose revocations must be confirmed against the chain (``*``: all; ``''``: none)."""
        self.db.execute("INSERT OR REPLACE INTO idx_meta (key, value) VALUES ('reconfirm', ?)", (offices,))

    def admit_office(self, code: str, name: str, base_uri: str, block_number: int) -> None:
        """An office admitted (``OfficeAdmitted``), active."""
        self.db.execute(
            "INSERT OR IGNORE INTO idx_offices (code, name, base_uri, status, admitted_block)"
            " VALUES (?, ?, ?, 'active', ?)",
            (code, name, base_uri, block_number),
        )

    def set_office_status(self, code: str, status: str) -> None:
        """An office's status changed (``OfficeStatusChanged``)."""
        self.db.execute("UPDATE idx_offices SET status = ? WHERE code = ?", (status, code))

    def add_signer(self, office: str, address: str, from_block: int) -> None:
        """A signer authorised from ``from_block`` on (``SignerAdded``)."""
        self.db.execute(
            "INSERT OR IGNORE INTO idx_signers (office, address, from_block, until_block) VALUES (?, ?, ?, NULL)",
            (office, address, from_block),
        )

    def remove_signer(self, office: str, address: str, until_block: int) -> None:
        """A signer's open interval closed at ``until_block`` (``SignerRemoved``)."""
        self.db.execute(
            "UPDATE idx_signers SET until_block = ? WHERE office = ? AND address = ? AND until_block IS NULL",
            (until_block, office, address),
        )

    # -- manifests

    def store_manifest(self, office: str, root: str, values: Sequence[LeafValue]) -> None:
        """The verified values of ``office``'s batch ``root`` become its leaves; its manifest is indexed."""
        with self.transaction() as db:
            db.execute("DELETE FROM idx_leaves WHERE office = ? AND root = ?", (office, root))
            db.executemany(
                "INSERT INTO idx_leaves (office, root, position, leaf, record_id, content_hash,"
                " canonicalization, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        office,
                        root,
                        k,
                        "0x" + v.leaf().hex(),
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
                (office, root),
            )

    def manifest_failed(self, office: str, root: str, error: str, attempts: int, retry_at: float) -> None:
        """The manifest of ``office``'s batch ``root`` failed (``attempts`` times); fetch it again at ``retry_at``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE idx_batches SET manifest_status = 'failed', manifest_error = ?,"
                " manifest_attempts = ?, manifest_retry_at = ? WHERE office = ? AND root = ?",
                (error, attempts, retry_at, office, root),
            )
