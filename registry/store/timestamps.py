"""The time-stamp tokens of batch roots, kept in the outbox database (table ``root_timestamps``).

Tokens are fetched for a root before its batch is created and kept by root, so a run that stops after
fetching them (a crash, an authority down for another) reuses them when it builds the same batch again,
and every later bundle or manifest of the batch carries them. One token per (root, authority); a
token is only ever added, never replaced.

Usage::

    save_tokens(store, root, tokens)      # in one transaction, ignoring authorities already held
    tokens_of(store, root)                # tuple of TimestampToken, in the order they were stored
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from registry.core.stamps import TimestampToken
from registry.store.outbox import Store

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS root_timestamps (
    id INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    authority TEXT NOT NULL,
    token BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    UNIQUE (root, authority)
)
"""


def _ensure(store: Store) -> None:
    store.db.execute(_SCHEMA)  # one statement, no implicit commit: cheap on every call


def save_tokens(store: Store, root: str, tokens: Sequence[TimestampToken]) -> None:
    """Keep ``tokens`` for ``root`` (an authority already held for it keeps its first token)."""
    _ensure(store)
    with store.transaction() as db:
        db.executemany(
            "INSERT OR IGNORE INTO root_timestamps (root, authority, token) VALUES (?, ?, ?)",
            [(root.lower(), t.authority, t.token) for t in tokens],
        )


def tokens_of(store: Store, root: str) -> tuple[TimestampToken, ...]:
    """The tokens kept for ``root``, oldest first."""
    _ensure(store)
    return tokens_in(store.db, root)


def tokens_in(db: sqlite3.Connection, root: str) -> tuple[TimestampToken, ...]:
    """The tokens kept for ``root`` in a store's database (none if it never kept any; nothing is created)."""
    try:
        rows = db.execute(
            "SELECT authority, token FROM root_timestamps WHERE root = ? ORDER BY id", (root.lower(),)
        ).fetchall()
    except sqlite3.OperationalError:  # no such table: this database never kept a token
        return ()
    return tuple(TimestampToken(a, bytes(t)) for a, t in rows)
