"""The data directory's deployments: what the current one holds, and the archive of replaced ones.

``ipreg deploy`` never silently replaces a deployment: :func:`holdings` says what the current one
holds (records in the outbox, batches anchored on chain), and :func:`archive` moves the
deployment record and the store that belongs to it into ``$IPREG_HOME/deployments/<name>/``, a
folder that is itself a data directory (``ipreg verify --home`` it). Manifests stay where they are
(they are named by root and referenced by anchored URIs).

The store's side (its counts, moving it and keeping its API tokens) is
``registry.store.deployments``; this module gets it as arguments, so chain code never opens a
store (``registry.cli.deploy_cmd`` wires the two).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from registry.chain.deployments import Deployment
from registry.config import Settings

if TYPE_CHECKING:  # web3 (via the client) only where the chain is read: `deployment history` lists files
    from registry.chain.client import Chain

HISTORY_DIR: Final = "deployments"


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


def _batches_on_chain(chain: Chain, deployment: Deployment) -> int | None:
    """``BatchAnchored`` events of the deployment's registry, or None if this chain cannot tell."""
    from web3 import Web3

    from registry.chain.client import Chain

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


def holdings(store_counts: tuple[int, int], deployment: Deployment, chain: Chain | None) -> Holdings:
    """What ``deployment`` holds: its store's ``store_counts`` (records, not yet anchored), batches on chain.

    The batches are counted if ``chain`` is given and reachable (else unknown).
    """
    records, pending = store_counts
    on_chain = _batches_on_chain(chain, deployment) if chain is not None else None
    return Holdings(records, pending, on_chain)


def _name(deployment: Deployment) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-chain{deployment.chain_id}-{deployment.anchor_registry.lower()[:10]}"


def archive(settings: Settings, archive_store: Callable[[Path, Path], None]) -> Path:
    """Move the current deployment record and its store to ``deployments/<name>/``; return that folder.

    ``archive_store(store_file, folder)`` moves the store (``registry.store.deployments.archive_store``:
    the new store keeps the API tokens; :class:`StoreError` if the store is in use, before anything moved).
    """
    deployment = Deployment.load(settings.deployment_file)
    folder = settings.home / HISTORY_DIR / _name(deployment)
    n = 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{_name(deployment)}-{n}")
    folder.mkdir(parents=True)
    archive_store(settings.store_file, folder)
    os.replace(settings.deployment_file, folder / settings.deployment_file.name)
    return folder


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
