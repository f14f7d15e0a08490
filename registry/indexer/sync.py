"""Contract events -> the index read model (``idx_*`` tables in the store file), after enough confirmations.

Everything indexed comes from the chain (events, block times) and from batch manifests whose
values rebuild the anchored root, never from an office's outbox: an auditor's instance can
:meth:`Indexer.rebuild` it from nothing. Follows reorganisations below its cursor. Sends no
transactions. The SQL lives in :mod:`registry.store.index_writer` (writes) and
:mod:`registry.store.index` (queries); manifests are found and checked by :mod:`registry.indexer.manifests`.

Usage::

    indexer = Indexer(settings.store_file, chain, confirmations=2)
    indexer.sync()                          # resumable: from the cursor to latest - confirmations + 1
    index = Index(indexer.db)
    index.versions("EP:1234567:B1")         # every anchored version, oldest first
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from registry.chain.client import Chain
from registry.chain.logs import block_hash, stable_logs
from registry.core.contract import OFFICE_STATUS
from registry.core.formats import ManifestError
from registry.errors import ChainError, InputError, StoreError
from registry.indexer.fetch import FetchPolicy
from registry.indexer.fold import apply_event, decode, event_table
from registry.indexer.manifests import manifest_of
from registry.store.index import Index
from registry.store.index_writer import IndexWriter

#: Blocks per ``eth_getLogs`` request.
BLOCK_STEP: Final = 2000
#: Indexed blocks whose hashes are kept to find where a reorganisation forked (deeper: rebuild).
REORG_WINDOW: Final = 4096
#: Longest wait before a failed manifest is fetched again (the wait doubles per failure from 10 s).
MANIFEST_MAX_BACKOFF: Final = 3600.0


class IndexStateError(StoreError):
    """The index follows another deployment, or the chain reorganised below its cursor."""

    code = "indexState"


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
        self.writer = IndexWriter.open(store_path)
        self.db = self.writer.db
        self.index = Index(self.db)
        from registry.chain.lineage import lineage

        self.versions = lineage(chain) if follow_versions else [chain]
        self._contracts: dict[str, Any] = {}
        self._events: dict[tuple[str, str], Any] = {}
        for version in self.versions:
            anchors, offices = version.anchors, version.offices
            self._contracts |= {anchors.address.lower(): anchors, offices.address.lower(): offices}
            self._events |= event_table(anchors, offices)

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()

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
            self.writer.bind({**wanted, "startBlock": str(start), "versions": versions})
            return
        if any(meta.get(k) != v for k, v in wanted.items()):
            raise IndexStateError(
                f"the index follows registry {meta.get('anchorRegistry')} on chain {meta.get('chainId')},"
                f" not {wanted['anchorRegistry']} on chain {wanted['chainId']}: run `ipreg index rebuild`"
            )
        if meta.get("versions", wanted["anchorRegistry"]) != versions:
            # A successor or predecessor was linked since the last sync: read every version's events
            # again from the start (applying an event twice changes nothing).
            self.writer.restart(min(start, int(meta.get("startBlock", start))), versions)

    def _block_hash(self, number: int) -> str | None:
        """The canonical hash at ``number``, or None if the chain is shorter."""
        return block_hash(self.chain, number)

    def _check_cursor(self, cursor: int) -> tuple[int, int] | None:
        """Detect a reorganisation below the cursor and roll back to the fork point; (cursor, ancestor)."""
        recorded = self.index.meta().get("cursorHash")
        if recorded is None or self._block_hash(cursor) == recorded:
            return None
        ancestor = None
        for number, known in self.index.kept_blocks():
            if self._block_hash(number) == known:
                ancestor = number
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

        statuses = {o.code: status_at(o.code) for o in self.index.offices() if o.admitted_block <= ancestor}
        self.writer.roll_back(ancestor, statuses)

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
        try:  # the range's end must be the same block before and after reading its logs
            logs, cursor_hash = stable_logs(self.chain, self._contracts, lo, hi, "sync")
        except ChainError as exc:
            raise IndexStateError(str(exc)) from None
        hashes = {int(log["blockNumber"]): _hex(log["blockHash"]) for log in logs}
        hashes[hi] = cursor_hash
        decoded = [e for e in (decode(self._events, log) for log in logs) if e is not None]
        blocks = {int(e["blockNumber"]) for e in decoded if e["event"] == "BatchAnchored"}
        times = {n: self._timestamp(n) for n in blocks}
        marked = {bytes(e["args"]["office"]).decode("ascii") for e in decoded if e["event"] == "SignerCompromised"}
        with self.writer.transaction():
            for e in decoded:
                result.batches += self._apply(e, times)
            if marked:  # recorded with the events: a crash before the confirmation below does not lose it
                pending = self.index.meta().get("reconfirm", "")
                self.writer.set_reconfirm(
                    "*" if "*" in pending else ",".join(sorted({*pending.split(","), *marked} - {""}))
                )
            self.writer.advance(hashes, hi, cursor_hash, keep_from=hi - REORG_WINDOW)
        self._reconfirm(hi)
        return len(decoded)

    def _reconfirm(self, block: int) -> None:
        """Ask the chain (its views, at ``block``) whether each revocation of the offices whose keys were marked
        compromised still stands: a revocation made by a key at or after its compromise block does not
        (contracts 3.0.0), and the index then sets it aside, so every reader of the index agrees with the chain."""
        pending = self.index.meta().get("reconfirm", "")
        if not pending:
            return
        offices = None if "*" in pending else pending.split(",")
        rows = self.index.revocations() if offices is None else [r for o in offices for r in self.index.revocations(o)]
        gone = []
        for office, root, leaf, registry in rows:
            anchors = self._contracts.get(registry) or self.chain.anchors
            code = office.encode("ascii")
            if leaf is None:
                fn = anchors.functions.batchOf(code, root)
                stands = int(self.chain.call(fn, block)[5]) != 0
            else:
                fn = anchors.functions.leafRevocation(code, root, bytes.fromhex(leaf[2:]))
                stands = int(self.chain.call(fn, block)) != 0
            if not stands:
                gone.append((office, root, leaf))
        with self.writer.transaction():
            for office, root, leaf in gone:
                self.writer.discount(office, root, leaf)
            self.writer.set_reconfirm("")

    def _timestamp(self, block_number: int) -> int:
        return int(self.chain.rpc(lambda: self.chain.w3.eth.get_block(block_number))["timestamp"])

    def _apply(self, e: Any, times: dict[int, int]) -> int:
        """Write one decoded event (:func:`registry.indexer.fold.apply_event`); return 1 for a new batch."""
        return apply_event(self.writer, e, times)

    # -- manifests

    def fetch_manifests(self, result: SyncResult | None = None, retry_failed: bool = False) -> SyncResult:
        """Fetch, verify and index the manifests of batches not indexed yet; record failures for a retry."""
        result = result or SyncResult(0, -1)
        for batch, attempts in self.index.due_manifests(retry_failed, time.time()):
            try:
                values = manifest_of(batch, self.policy, self.local_manifests)
            except ManifestError as exc:
                wait = min(MANIFEST_MAX_BACKOFF, 10.0 * 2**attempts)
                self.writer.manifest_failed(batch.office, batch.root, exc.public, attempts + 1, time.time() + wait)
                result.manifest_failures.append((batch.root, exc.diagnostics()))
                continue
            self.writer.store_manifest(batch.office, batch.root, values)
            result.manifests_indexed += 1
            result.leaves += len(values)
        return result

    # -- rebuild

    def rebuild(self, progress: Callable[[int], None] | None = None) -> SyncResult:
        """Drop every ``idx_*`` table and index again from the deployment block: chain and manifests only."""
        self.writer.reset()
        return self.sync(progress)

    def status(self) -> dict[str, Any]:
        """Cursor, chain head and counts, for ``ipreg index status`` and the service."""
        meta = self.index.meta()
        latest = self.chain.rpc(lambda: self.chain.w3.eth.block_number)
        return {
            "chainId": int(meta.get("chainId", self.deployment.chain_id)),
            "anchorRegistry": meta.get("anchorRegistry", self.deployment.anchor_registry.lower()),
            "cursor": int(meta["cursor"]) if "cursor" in meta else None,
            "latestBlock": latest,
            "confirmations": self.confirmations,
            **self.index.counts(),
        }
