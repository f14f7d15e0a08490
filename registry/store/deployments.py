"""A store file's part in a deployment's life: what it holds, and setting it aside when it is replaced.

``ipreg deploy`` refuses to replace a deployment that holds records unless told to; with
``--replace`` the store that belongs to it moves into the replaced deployment's folder (see
``registry.chain.history``). API tokens are office credentials, not deployment state: they are
copied into the fresh store. SQL only; no chain, no web3.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Final

from registry.errors import StoreError
from registry.store.outbox import Store

#: The files of one SQLite store in WAL mode: the database, its write-ahead log and shared memory.
STORE_SUFFIXES: Final = ("", "-wal", "-shm")


def record_counts(store_file: Path) -> tuple[int, int]:
    """(records, records not yet anchored) in the store at ``store_file``; (0, 0) if there is none."""
    if not store_file.is_file():
        return 0, 0
    try:
        db = sqlite3.connect(f"file:{store_file}?mode=ro", uri=True, timeout=30.0)
        try:
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'").fetchone()
            if not exists:
                return 0, 0
            total, pending = db.execute("SELECT count(*), coalesce(sum(batch_id IS NULL), 0) FROM records").fetchone()
            return int(total), int(pending)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read store {store_file}: {exc}") from None


def archive_store(store_file: Path, folder: Path) -> None:
    """Move the store at ``store_file`` (checkpointed, with its WAL files) into ``folder``.

    A fresh store at ``store_file`` keeps the API tokens. Raises :class:`StoreError` (before
    moving anything) if the store is in use. No store: nothing to do.
    """
    if not store_file.is_file():
        return
    _checkpoint(store_file)
    for suffix in STORE_SUFFIXES:
        part = store_file.with_name(store_file.name + suffix)
        if part.exists():
            os.replace(part, folder / part.name)
    if (folder / store_file.name).is_file():
        _copy_tokens(folder / store_file.name, store_file)


def _checkpoint(store: Path) -> None:
    """Fold the WAL into the database and make sure no writer holds it."""
    try:
        db = sqlite3.connect(store, timeout=5.0)
        try:
            db.execute("BEGIN EXCLUSIVE")
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        raise StoreError(f"store {store} is in use ({exc}): stop `ipreg serve`/`anchor` before replacing") from None


def _copy_tokens(old: Path, new: Path) -> None:
    Store(new).close()
    db = sqlite3.connect(new, timeout=30.0)
    try:
        db.execute("ATTACH DATABASE ? AS old", (str(old),))
        has = db.execute("SELECT 1 FROM old.sqlite_master WHERE type = 'table' AND name = 'tokens'").fetchone()
        if has:
            db.execute("INSERT OR IGNORE INTO tokens SELECT * FROM old.tokens")
            db.commit()
        db.execute("DETACH DATABASE old")
    finally:
        db.close()
