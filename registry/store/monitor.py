"""The monitor's tables in the store file: cursors, the findings log and the office tooling's journal of own acts.

- ``monitor_cursors``: per watch (``office:EP`` or ``all``, with the registry's address), the last block read
  and its hash.
- ``monitor_findings``: every finding once, keyed by (watch, transaction, the log's position in it, kind);
  ``reported`` / ``webhook_sent`` say which outputs have it, so a restart neither repeats nor misses one.
- ``monitor_intents``: what the office's own tooling is about to send (a contract call by a key, before it
  is broadcast); the monitor binds each to the first transaction that carries it, so a thief repeating
  the same call later is not taken for the office.

SQL only; the monitor (:mod:`registry.monitor`) decides what a finding is. No network calls.

Usage::

    log = MonitorLog(store.db)
    log.expect("EP", "0xKey", "addSigner", subject, after_block=41)   # the tooling, before it sends
    with log.transaction():
        log.add_finding("office:EP", key, body)                       # False if already logged
        log.set_cursor("office:EP", 57, "0x…")
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final

from registry.store.outbox import immediate

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS monitor_cursors (
    watch TEXT PRIMARY KEY,
    block_number INTEGER NOT NULL,
    block_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_findings (
    id INTEGER PRIMARY KEY,
    watch TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    body TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0,
    webhook_sent INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    UNIQUE (watch, tx_hash, position, kind)
);
CREATE TABLE IF NOT EXISTS monitor_intents (
    id INTEGER PRIMARY KEY,
    office TEXT NOT NULL,
    key TEXT NOT NULL,
    call TEXT NOT NULL,
    subject TEXT NOT NULL,
    after_block INTEGER NOT NULL,
    tx_hash TEXT,
    result TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX IF NOT EXISTS monitor_intents_call ON monitor_intents(office, call, subject);
"""


@dataclass(frozen=True, slots=True)
class LoggedFinding:
    """A finding as logged: its row id, block and JSON body."""

    id: int
    block_number: int
    body: str


class MonitorLog:
    """The monitor's tables on one connection of the store file (autocommit, explicit transactions)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
        return immediate(self.db)

    # -- cursors

    def cursor(self, watch: str) -> tuple[int, str] | None:
        """(last block read, its hash) of ``watch``, or None before its first pass."""
        row = self.db.execute(
            "SELECT block_number, block_hash FROM monitor_cursors WHERE watch = ?", (watch,)
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def set_cursor(self, watch: str, block_number: int, block_hash: str) -> None:
        """Record that ``watch`` has read every block up to ``block_number``."""
        self.db.execute(
            "INSERT INTO monitor_cursors (watch, block_number, block_hash) VALUES (?, ?, ?)"
            " ON CONFLICT (watch) DO UPDATE SET block_number = excluded.block_number,"
            " block_hash = excluded.block_hash",
            (watch, block_number, block_hash),
        )

    # -- findings

    def add_finding(self, watch: str, tx_hash: str, position: int, kind: str, block_number: int, body: str) -> bool:
        """Log a finding once; False if (watch, transaction, position, kind) is already logged."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO monitor_findings (watch, tx_hash, position, kind, block_number, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (watch, tx_hash.lower(), position, kind, block_number, body),
        )
        return cur.rowcount == 1

    def unreported(self, watch: str) -> list[LoggedFinding]:
        """Findings of ``watch`` not yet written to stdout and the log file, oldest first."""
        rows = self.db.execute(
            "SELECT id, block_number, body FROM monitor_findings WHERE watch = ? AND reported = 0 ORDER BY id",
            (watch,),
        )
        return [LoggedFinding(int(i), int(b), str(body)) for i, b, body in rows]

    def unsent(self, watch: str) -> list[LoggedFinding]:
        """Findings of ``watch`` the webhook has not accepted yet, oldest first."""
        rows = self.db.execute(
            "SELECT id, block_number, body FROM monitor_findings WHERE watch = ? AND webhook_sent = 0 ORDER BY id",
            (watch,),
        )
        return [LoggedFinding(int(i), int(b), str(body)) for i, b, body in rows]

    def mark_reported(self, ids: Sequence[int]) -> None:
        """These findings are on stdout and in the log file."""
        self.db.executemany("UPDATE monitor_findings SET reported = 1 WHERE id = ?", [(i,) for i in ids])

    def mark_sent(self, ids: Sequence[int]) -> None:
        """The webhook accepted these findings (or no webhook is configured for them)."""
        self.db.executemany("UPDATE monitor_findings SET webhook_sent = 1 WHERE id = ?", [(i,) for i in ids])

    def findings(self, watch: str) -> list[LoggedFinding]:
        """Every logged finding of ``watch``, oldest first."""
        rows = self.db.execute(
            "SELECT id, block_number, body FROM monitor_findings WHERE watch = ? ORDER BY id", (watch,)
        )
        return [LoggedFinding(int(i), int(b), str(body)) for i, b, body in rows]

    # -- the tooling's journal

    def expect(self, office: str, key: str, call: str, subject: str, after_block: int) -> int:
        """Record a call the office's tooling is about to send with ``key``; its row id."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO monitor_intents (office, key, call, subject, after_block) VALUES (?, ?, ?, ?, ?)",
                (office, key.lower(), call, subject, after_block),
            )
            return int(cur.lastrowid or 0)

    def withdraw(self, intent_id: int) -> None:
        """Forget an intent whose call was never broadcast (refused before sending)."""
        with self.transaction() as db:
            db.execute("DELETE FROM monitor_intents WHERE id = ? AND tx_hash IS NULL", (intent_id,))

    def claim(
        self, office: str, key: str, call: str, subject: str, tx_hash: str, block_number: int, window: int
    ) -> int | None:
        """The intent this transaction carries out, bound to it on first sight; None if the tooling sent no such call.

        An intent binds to the first transaction that matches it, made in the ``window`` blocks after the block
        it was recorded in; after that only that transaction (read again after a reorganisation) matches it.
        """
        row = self.db.execute(
            "SELECT id FROM monitor_intents WHERE office = ? AND key = ? AND call = ? AND subject = ?"
            " AND (tx_hash = ? OR (tx_hash IS NULL AND after_block <= ? AND ? <= after_block + ?))"
            " ORDER BY tx_hash IS NULL, id LIMIT 1",
            (office, key.lower(), call, subject, tx_hash.lower(), block_number, block_number, window),
        ).fetchone()
        if row is None:
            return None
        self.db.execute("UPDATE monitor_intents SET tx_hash = ? WHERE id = ?", (tx_hash.lower(), int(row[0])))
        return int(row[0])

    def set_result(self, intent_id: int, result: str) -> None:
        """What the intent's transaction produced (a proposal id)."""
        self.db.execute("UPDATE monitor_intents SET result = ? WHERE id = ?", (result, intent_id))

    def consented(self, office: str, proposal_id: int, approve_subject: str) -> bool:
        """Whether ``office``'s tooling proposed or approved proposal ``proposal_id`` (as the monitor saw it)."""
        row = self.db.execute(
            "SELECT 1 FROM monitor_intents WHERE office = ? AND tx_hash IS NOT NULL AND"
            " ((call = 'propose' AND result = ?) OR (call = 'approve' AND subject = ?)) LIMIT 1",
            (office, str(proposal_id), approve_subject),
        ).fetchone()
        return row is not None
