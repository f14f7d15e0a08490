"""The anchoring pipeline: outbox -> batches -> chain -> proof bundles, resumable and exactly once.

Every accepted record is in the store before any chain call. A batch's transaction is recorded
before it is broadcast; a re-run finishes unfinished batches first (receipt, or the root found on
chain, or a rebroadcast / replacement: :mod:`registry.anchor.send`), and the contract refuses a
root twice, so nothing is ever anchored twice; a batch a reorganisation deeper than the confirmations
took off the chain is anchored again by the next run. Knows nothing about HTTP or the command line.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from registry.anchor.bundles import BatchRenderer, BundleWriter
from registry.anchor.checkpoints import checkpoint
from registry.anchor.lock import office_lock
from registry.anchor.send import RECHECK_BLOCKS, BatchSender
from registry.anchor.stored import batch_bundles
from registry.chain.client import Chain
from registry.core import merkle
from registry.core.content_address import content_address
from registry.core.formats import BatchManifest, ProofBundle
from registry.core.leaves import ZERO_HASH, LeafValue, sealed_commitment, sealed_value
from registry.core.records import RecordId
from registry.core.stamps import TimestampToken
from registry.errors import InputError
from registry.files.archives import archive_name
from registry.files.atomic import write_atomic
from registry.files.ingest import PreparedRecord, WorkerPool
from registry.store.outbox import BatchStatus, NewRecord, Store, StoredBatch, StoredRecord
from registry.store.proofs import leaf_value_of, stored_facts, stored_tree
from registry.store.timestamps import save_tokens, tokens_of
from registry.timestamps.stamper import AuthorityUnavailable

#: Asks time-stamping authorities for tokens over a root, skipping those already held (their names);
#: raises AuthorityUnavailable when one gives none (see :class:`registry.timestamps.stamper.Stamper`).
Stamp = Callable[[str, frozenset[str]], Sequence[TimestampToken]]

Progress = Callable[[str, int], None]


@dataclass(slots=True)
class SubmitResult:
    """What happened to submitted records."""

    accepted: int = 0
    already: int = 0
    new_versions: int = 0
    existing: list[StoredRecord] = field(default_factory=list)
    #: Batches holding records submitted again (their bundles may need writing); kept by every path.
    existing_batches: set[int] = field(default_factory=set)


@dataclass(slots=True)
class RunResult:
    """Summary of an anchoring run."""

    batches: list[StoredBatch] = field(default_factory=list)
    bundles: int = 0
    #: Seconds spent per phase: batching (trees, manifests), timestamps (authorities), chain (transactions), bundles.
    seconds: dict[str, float] = field(default_factory=dict)
    #: The time-stamp tokens of each anchored batch's root (by root), as stored.
    tokens: dict[str, tuple[TimestampToken, ...]] = field(default_factory=dict)
    #: Roots of batches anchored earlier that a reorganisation took off the chain (anchored again by this run).
    reorganised: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records anchored in this run."""
        return sum(b.leaf_count for b in self.batches)

    @property
    def gas_used(self) -> int:
        """Gas spent on the batches of this run."""
        return sum(b.gas_used or 0 for b in self.batches)


def bundle_name(record: StoredRecord) -> str:
    """File name of a record's proof bundle: ``EP-1234567-B1--<12 hex of content>.proof.json``."""
    stem = record.record_id.replace(":", "-")
    return f"{stem}--{'sealed' if record.salt else record.content_hash[2:14]}.proof.json"


class Anchorer:
    """Anchors one office's records with one signing key."""

    def __init__(
        self,
        store: Store,
        chain: Chain,
        account: LocalAccount,
        office: str,
        manifest_dir: Path,
        manifest_base: str | None = None,
        batch_size: int = 10_000,
        confirmations: int = 1,
        progress: Progress | None = None,
        tx_timeout: float = 120.0,
        max_fee_bumps: int = 3,
        pool: WorkerPool | None = None,
        stamper: Stamp | None = None,
    ) -> None:
        if batch_size < 1 or batch_size > 2**32 - 1:
            raise InputError(f"batch size must be between 1 and 4294967295, got {batch_size}")
        self.store = store
        self.chain = chain
        self.account = account
        self.office = office
        self.manifest_dir = manifest_dir
        self.manifest_base = manifest_base
        self.batch_size = batch_size
        self.confirmations = confirmations
        self.progress = progress or (lambda _event, _n: None)
        self.tx_timeout = tx_timeout
        self.max_fee_bumps = max_fee_bumps
        #: Worker processes of the run (from :func:`registry.files.ingest.start_workers`) that write the
        #: bundles of large batches while the next batch is anchored; None writes them here.
        self.pool = pool
        #: Time-stamp tokens for every new root, fetched and stored before its batch is created (None: none).
        self.stamper = stamper
        #: Seconds spent waiting for authorities (reported as the run's ``timestamps`` phase).
        self.stamp_seconds = 0.0

    # -- accept

    def submit(self, prepared: Sequence[PreparedRecord], sealed: bool = False) -> SubmitResult:
        """Accept records into the outbox (idempotent); a new content for a known id is a new version."""
        result = SubmitResult()
        wrong = [p for p in prepared if p.record_id.office != self.office]
        if wrong:
            raise InputError(
                f"{wrong[0].path}: record {wrong[0].record_id} belongs to {wrong[0].record_id.office},"
                f" not to the anchoring office {self.office}"
            )
        latest = self.store.latest_versions(list({str(p.record_id) for p in prepared}))
        new: list[NewRecord] = []
        versioned: set[str] = set()
        seen: dict[tuple[str, str], bool] = {}
        for p in prepared:
            rid = str(p.record_id)
            key = (rid, p.content_hash)
            if key in seen:
                continue
            seen[key] = True
            previous = latest.get(rid)
            if previous is not None and previous.content_hash == p.content_hash:
                result.already += 1
                result.existing.append(previous)
                if previous.batch_id is not None:
                    result.existing_batches.add(previous.batch_id)
                continue
            supersedes = "0x" + previous.leaf.hex() if previous is not None else ZERO_HASH
            if previous is not None:
                if self.store.record_by_key(rid, p.content_hash) is not None:
                    result.already += 1  # an older version re-submitted: nothing new
                    continue
                result.new_versions += 1
            salt = secrets.token_bytes(32) if sealed else None
            if salt is not None:
                value = sealed_value(self.office, sealed_commitment(salt, rid, p.content_hash, p.canonicalization))
            else:
                value = LeafValue(rid, p.content_hash, p.canonicalization, supersedes)
            record = NewRecord(
                self.office, rid, p.content_hash, p.canonicalization, supersedes, value.leaf(), salt, p.path
            )
            if rid in versioned:
                raise InputError(f"{p.path}: two different contents for {rid} in one submission; submit them in order")
            versioned.add(rid)
            new.append(record)
            latest_stub = StoredRecord(
                0,
                self.office,
                rid,
                p.content_hash,
                p.canonicalization,
                supersedes,
                record.leaf,
                salt,
                p.path,
                None,
            )
            latest[rid] = latest_stub
        result.accepted = self.store.add_records(new)
        return result

    # -- batch

    def make_batches(self) -> list[int]:
        """Group pending records into batches of at most ``batch_size`` (tree built, manifest written)."""
        made: list[int] = []
        while True:
            built = self._make_batch()
            if built is None:
                return made
            made.append(built[0])

    def _make_batch(self) -> tuple[int, list[StoredRecord], list[LeafValue], merkle.MerkleTree] | None:
        """The next batch of pending records (oldest first): id, records, leaf values, tree; None if none is pending."""
        pending = self.store.pending(self.office, self.batch_size)
        if not pending:
            return None
        values = [leaf_value_of(r) for r in pending]
        tree = merkle.MerkleTree.from_leaves([r.leaf for r in pending])
        root = "0x" + tree.root.hex()
        tokens = self._timestamps(root)
        uri = self._write_manifest(root, values, tokens)
        batch_id = self.store.create_batch(self.office, root, [r.id for r in pending], uri)
        self.progress("batched", len(pending))
        return batch_id, pending, values, tree

    def _timestamps(self, root: str) -> tuple[TimestampToken, ...]:
        """The root's tokens: those stored (an earlier run got them), then any missing from the authorities.

        Fetched and stored before the batch exists, so an authority that is down (AuthorityUnavailable)
        leaves the records pending and nothing anchored; a re-run building the same root reuses them.
        """
        held = tokens_of(self.store, root)
        if self.stamper is None:
            return held
        clock = time.perf_counter()
        try:
            new = self.stamper(root, frozenset(t.authority for t in held))
        finally:
            self.stamp_seconds += time.perf_counter() - clock
        if new:
            save_tokens(self.store, root, new)
            checkpoint("after-timestamps")
            self.progress("timestamped", len(new))
        return tokens_of(self.store, root)

    def _write_manifest(self, root: str, values: Sequence[LeafValue], tokens: tuple[TimestampToken, ...] = ()) -> str:
        path = self.manifest_dir / self.office / f"{root}.json"
        manifest = BatchManifest(self.office, root, tuple(values), tokens)
        write_atomic(path, manifest.dumps())  # old or new, never half
        return self._manifest_uri(root, path)

    def _manifest_uri(self, root: str, path: Path) -> str:
        """The URI anchored with a batch for its manifest (the one place that decides it)."""
        if self.manifest_base:
            return f"{self.manifest_base.rstrip('/')}/{self.office}/{root}.json"
        return content_address(path.read_bytes())  # no local path on chain: any copy serves it

    # -- send

    def _finish(self, batch: StoredBatch) -> StoredBatch:
        """Anchor a built or sent batch (see :class:`BatchSender`)."""
        sender = BatchSender(
            self.store,
            self.chain,
            self.account,
            self.office,
            self.confirmations,
            self.tx_timeout,
            self.max_fee_bumps,
        )
        return sender.finish(batch)

    # -- bundles

    def bundles(self, batch: StoredBatch) -> list[tuple[StoredRecord, ProofBundle]]:
        """Proof bundles of every record of an anchored batch."""
        return batch_bundles(self.store, self.chain, batch)

    def write_bundles(
        self, batch: StoredBatch, proofs_dir: Path, only_missing: bool = False, archive: str | None = None
    ) -> int:
        """Write the bundles of an anchored batch (tree rebuilt from the store); return how many.

        One ``*.proof.json`` per record, or with ``archive`` (``zip`` / ``jsonl``) one archive for
        the batch. ``only_missing`` skips files that already hold exactly the right bytes (so a
        file left half-written by a crash is rewritten).
        """
        writer = self._writer()
        self._queue_stored(writer, batch, proofs_dir, only_missing, archive)
        return writer.finish()

    def _writer(self) -> BundleWriter:
        size = self.pool.size if self.pool is not None else 1
        return BundleWriter(self.pool, size, lambda n: self.progress("bundles", n))

    def _queue_stored(
        self, writer: BundleWriter, batch: StoredBatch, proofs_dir: Path, only_missing: bool, archive: str | None
    ) -> None:
        records, tree = stored_tree(self.store, batch)
        self._queue_bundles(writer, batch, records, tree, proofs_dir, only_missing, archive)

    def _queue_bundles(
        self,
        writer: BundleWriter,
        batch: StoredBatch,
        records: Sequence[StoredRecord],
        tree: merkle.MerkleTree,
        proofs_dir: Path,
        only_missing: bool,
        archive: str | None,
        values: Sequence[LeafValue] | None = None,
    ) -> None:
        """Hand a batch's bundles to ``writer`` (they are written by the time ``writer.finish()`` returns).

        ``values`` are the records' leaf values if the caller has them (else they are derived again).
        """
        dep = self.chain.deployment
        assert dep is not None
        renderer = BatchRenderer.for_batch(stored_facts(batch, dep.chain_id, dep.anchor_registry, self.store))
        proofs_dir.mkdir(parents=True, exist_ok=True)
        values = values if values is not None else [leaf_value_of(r) for r in records]
        items = [(bundle_name(r), v.as_list()) for r, v in zip(records, values, strict=True)]
        target = proofs_dir / archive_name(batch.root, archive) if archive is not None else proofs_dir
        writer.write(renderer, target, tree, items, archive, only_missing)

    # -- everything

    def run(self, proofs_dir: Path | None = None, lock_timeout: float = 600.0, archive: str | None = None) -> RunResult:
        """Anchor every unfinished batch, then batch and anchor what is pending, writing bundles; resumable.

        Holds the office's lock (a file next to the store) so that overlapping runs, from cron or
        the service, never batch the same records twice or race for the key's nonce.
        """
        with self.locked(lock_timeout):
            return self._run(proofs_dir, archive)

    def anchor_staged(
        self,
        proofs_dir: Path | None = None,
        sealed: bool = False,
        archive: str | None = None,
        lock_timeout: float = 600.0,
    ) -> tuple[SubmitResult, RunResult]:
        """Accept what :func:`stage_input` staged, then :meth:`run`, under one hold of the office lock.

        Bundles of records submitted again (anchored by an earlier run) are written if missing.
        """
        with self.locked(lock_timeout):
            clock = time.perf_counter()
            submitted = self.accept_staged(sealed)
            self.store.stage_end()
            accepted = time.perf_counter() - clock
            result = self._run(proofs_dir, archive)
            result.seconds = {"accept": accepted, **result.seconds}
            if proofs_dir is not None:
                clock = time.perf_counter()
                done = {b.id for b in result.batches}
                for batch_id in sorted(submitted.existing_batches - done):
                    batch = self.store.batch(batch_id)
                    if batch.status == BatchStatus.ANCHORED:
                        result.bundles += self.write_bundles(batch, proofs_dir, only_missing=True, archive=archive)
                result.seconds["bundles"] = result.seconds.get("bundles", 0.0) + time.perf_counter() - clock
        return submitted, result

    def accept_staged(self, sealed: bool = False) -> SubmitResult:
        """Accept the staged rows into the outbox, a chunk (at most one batch, at most 10,000) per transaction.

        New record ids go in with one ``INSERT … SELECT``; ids the outbox knows (new versions,
        re-submissions) and sealed records go through :meth:`submit`. A crash between chunks leaves
        whole chunks accepted (pending) and the rest not: a re-run finds the accepted ones already
        there, by their ``(record id, content)`` key, and accepts the rest; nothing is accepted twice.
        """
        result = SubmitResult()
        total = self.store.staged_count()
        step = min(self.batch_size, 10_000)
        for first in range(1, total + 1, step):
            last = first + step - 1
            rows = self.store.staged_rows(first, last, known_only=not sealed)
            if rows:
                part = self.submit(
                    [
                        PreparedRecord(path, RecordId.parse(rid), digest, method)
                        for path, rid, _, digest, method, _ in rows
                    ],
                    sealed=sealed,
                )
                result.accepted += part.accepted
                result.already += part.already
                result.new_versions += part.new_versions
                result.existing_batches |= part.existing_batches
            if not sealed:
                result.accepted += self.store.accept_staged_new(first, last, ZERO_HASH)
            checkpoint("after-accept-chunk")
        return result

    @contextmanager
    def locked(self, timeout: float = 600.0) -> Iterator[None]:
        """Hold the office's lock (see :func:`office_lock`)."""
        with office_lock(self.store.path.with_name(f"{self.store.path.name}.{self.office}.lock"), timeout):
            yield

    def _recheck_anchored(self) -> list[str]:
        """Roots of recent anchored batches no longer on the chain (a reorganisation): built again, anchored next."""
        head = self.chain.rpc(lambda: self.chain.w3.eth.block_number)
        sender = BatchSender(self.store, self.chain, self.account, self.office, self.confirmations)
        return [b.root for b in self.store.anchored_since(self.office, head - RECHECK_BLOCKS) if not sender.recheck(b)]

    def _run(self, proofs_dir: Path | None, archive: str | None) -> RunResult:
        """Finish unfinished batches, then one batch at a time: build, anchor, bundles (flat in memory)."""
        result = RunResult()
        seconds = result.seconds
        for phase in ("batching", "chain", "bundles"):
            seconds[phase] = 0.0
        clock = time.perf_counter()

        def lap(phase: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            seconds[phase] += now - clock
            clock = now

        writer = self._writer()
        stopped: AuthorityUnavailable | None = None
        stamped_before = self.stamp_seconds
        result.reorganised = self._recheck_anchored()
        for batch in self.store.unfinished_batches(self.office):  # left by an earlier run (or reorganised away)
            anchored = self._finish(batch)
            self.progress("anchored", batch.leaf_count)
            result.batches.append(anchored)
            result.tokens[anchored.root] = tokens_of(self.store, anchored.root)
            lap("chain")
            if proofs_dir is not None:
                self._queue_stored(writer, anchored, proofs_dir, False, archive)
                lap("bundles")
        while True:
            try:
                built = self._make_batch()
            except AuthorityUnavailable as exc:  # nothing built for these records: they stay pending
                stopped = exc
                break
            lap("batching")
            if built is None:
                break
            batch_id, records, values, tree = built
            anchored = self._finish(self.store.batch(batch_id))
            self.progress("anchored", anchored.leaf_count)
            result.batches.append(anchored)
            result.tokens[anchored.root] = tokens_of(self.store, anchored.root)
            lap("chain")
            if proofs_dir is not None:
                self._queue_bundles(writer, anchored, records, tree, proofs_dir, False, archive, values)
                lap("bundles")
            checkpoint("after-batch")
        result.bundles += writer.finish()  # bundles of the last batches, written meanwhile on the workers
        lap("bundles")
        seconds["timestamps"] = self.stamp_seconds - stamped_before
        seconds["batching"] -= seconds["timestamps"]
        if stopped is not None:
            stopped.result = result  # what this run did anchor, for the caller's report
            raise stopped
        return result
