"""The layout of the index read model (the ``idx_*`` tables in the store file) and whether a database holds it."""

from __future__ import annotations

import sqlite3
from typing import Final

TABLES: Final = (
    "idx_meta",
    "idx_offices",
    "idx_signers",
    "idx_batches",
    "idx_revoked_leaves",
    "idx_discounted",
    "idx_leaves",
    "idx_blocks",
)

#: Layout of the ``idx_*`` tables (``schemaVersion`` in ``idx_meta``). 2: batches, leaves and revoked
#: leaves keyed by (office, root), as the contract keys them. 3: revocations that do not stand (made by a
#: key at or after its compromise block, contracts 3.0.0) set aside in ``idx_discounted``. An index of
#: another version is dropped and indexed again from the chain (see :func:`stale_schema`); readers ignore it until then.
SCHEMA_VERSION: Final = "3"

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
CREATE TABLE IF NOT EXISTS idx_discounted (
    office TEXT NOT NULL,
    root TEXT NOT NULL,
    leaf TEXT NOT NULL,  -- '' for the batch's own revocation
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


def has_index(db: sqlite3.Connection) -> bool:
    """Whether the database holds an index of this layout (the indexer ran at least once)."""
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idx_leaves'").fetchone()
    return row is not None and not stale_schema(db)


def stale_schema(db: sqlite3.Connection) -> bool:
    """Whether the database holds ``idx_*`` tables of another layout than :data:`SCHEMA_VERSION`.

    Such an index (e.g. one keyed by root alone, where one office's copy of a root could shadow
    another's batch) must not be read: :meth:`registry.store.index_writer.IndexWriter.open` drops it,
    and the indexer indexes again from the chain.
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
