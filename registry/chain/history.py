"""The data directory's deployments: what the current one holds, and the archive of replaced ones.

``ipreg deploy`` never silently replaces a deployment: :func:`holdings` says what the current one
holds (records in the outbox, batches anchored on chain), and :func:`archive` moves the
deployment record and the store that belongs to it into ``$IPREG_HOME/deployments/<name>/``, a
folder that is itself a data directory (``ipreg verify --home`` it). API tokens are office
credentials, not deployment state: they are copied into the fresh store. Manifests stay where they
are (they are named by root and referenced by anchored URIs).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from web3 import Web3

from registry.chain.client import Chain, Deployment
from registry.config import Settings
from registry.errors import StoreError

HISTORY_DIR: Final = "deployments"
_STORE_SUFFIXES: Final = ("", "-wal", "-shm")


@dataclass(frozen=True, slots=True)
class Holdings:
    """What a deployment holds: records in the local store and batches anchored on chain."""

    records: int
    pending: int
    batches_on_chain: int | None

    @property
    def empty(self) -> bool:
        """Nothing would be lost by replacing it."""
        return self.records == 0 and not self.batches_on_chain

    def describe(self) -> str:
        """In words, for the refusal."""
        parts = [f"{self.records} record(s) in the store ({self.pending} not yet anchored)"]
        if self.batches_on_chain is None:
            parts.append("batches on chain unknown (node unreachable or another chain)")
        else:
            parts.append(f"{self.batches_on_chain} batch(es) anchored on chain")
        return ", ".join(parts)


def _store_counts(store_file: Path) -> tuple[int, int]:
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


def _batches_on_chain(chain: Chain, deployment: Deployment) -> int | None:
    """``BatchAnchored`` events of the deployment's registry, or None if this chain cannot tell."""
    try:
        if int(chain.rpc(lambda: chain.w3.eth.chain_id)) != deployment.chain_id:
            return None
        address = Web3.to_checksum_address(deployment.anchor_registry)
        if not chain.rpc(lambda: chain.w3.eth.get_code(address)):
            return None
        bound = Chain(chain.w3, deployment, retries=chain.retries)
        topic = bound.anchors.events.BatchAnchored().topic
        logs = chain.rpc(
            lambda: chain.w3.eth.get_logs(
                {"address": address, "fromBlock": deployment.block_number, "toBlock": "latest", "topics": [topic]}
            )
        )
        return len(logs)
    except Exception:  # a node refusing a wide log range must not make the guard pass: unknown
        return None


def holdings(settings: Settings, deployment: Deployment, chain: Chain | None) -> Holdings:
    """What ``deployment`` (the one ``settings.home`` uses) holds locally and, if reachable, on chain."""
    records, pending = _store_counts(settings.store_file)
    on_chain = _batches_on_chain(chain, deployment) if chain is not None else None
    return Holdings(records, pending, on_chain)


def _name(deployment: Deployment) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-chain{deployment.chain_id}-{deployment.anchor_registry.lower()[:10]}"


def archive(settings: Settings) -> Path:
    """Move the current deployment record and its store to ``deployments/<name>/``; return that folder.

    The new store keeps the API tokens. Raises :class:`StoreError` if the store is in use.
    """
    deployment = Deployment.load(settings.deployment_file)
    folder = settings.home / HISTORY_DIR / _name(deployment)
    n = 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{_name(deployment)}-{n}")
    folder.mkdir(parents=True)
    store = settings.store_file
    if store.is_file():
        _checkpoint(store)
        for suffix in _STORE_SUFFIXES:
            part = store.with_name(store.name + suffix)
            if part.exists():
                os.replace(part, folder / part.name)
    os.replace(settings.deployment_file, folder / settings.deployment_file.name)
    if (folder / store.name).is_file():
        _copy_tokens(folder / store.name, store)
    return folder


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
    from registry.store.outbox import Store

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


def history(settings: Settings) -> list[tuple[Path, dict[str, Any]]]:
    """Replaced deployments, oldest first: (folder, its deployment file's body)."""
    root = settings.home / HISTORY_DIR
    out: list[tuple[Path, dict[str, Any]]] = []
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        path = folder / settings.deployment_file.name
        try:
            out.append((folder, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return out
