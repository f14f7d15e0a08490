"""Audit an office's publications: every record re-hashed and verified, then checked against a list.

Two sources: a folder of publication files (with their proof bundles, or through the index), or
an office's whole feed from the index. Verification runs offline against a per-batch snapshot of
on-chain state (:class:`registry.audit.snapshot.SnapshotReader`), so one audit makes a few calls
per batch, not per record.

Flat memory: nothing held grows with the number of records. Rows are spilled to a temporary file
as they arrive while their counts are kept (:class:`registry.audit.report.RowLog`); the expected
list and the proofs folder's bundle index live in temporary SQLite databases
(:class:`registry.audit.expected.ExpectedList`, :class:`registry.audit.bundles.BundleIndex`);
files are listed one folder at a time and hashed on all cores with a few chunks in flight; the
feed is read batch by batch, each batch's newest versions and their successors selected in SQL
(:mod:`registry.store.audit`); the JSON report is streamed from the spill.

What must never happen (tested in tests/test_audit_stream.py against a copy of the in-memory
audit): a record reported VERIFIED that is not, or any verdict or reason other than before; a row
lost or counted twice when spilling (the counts always add up: rows are records plus MISSING ones,
statuses sum to the rows); a report file left half-written (written beside, synced, renamed);
hashing workers outliving a killed audit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from registry.audit.bundles import BundleIndex, _claims
from registry.audit.expected import ExpectedEntry, ExpectedList
from registry.audit.hashing import HashedFile, Progress, hash_files
from registry.audit.report import MISSING, AuditReport, AuditRow
from registry.audit.snapshot import SnapshotReader
from registry.chain.client import Chain
from registry.core import canon
from registry.core.address import checksum_address
from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED
from registry.core.proofs import build_bundle
from registry.core.records import RecordId
from registry.errors import InputError, RecordIdError, RegistryError
from registry.files.ingest import iter_files
from registry.store.audit import feed_leaves, office_batches
from registry.store.index import Index, IndexedBatch, IndexedLeaf, leaf_facts
from registry.store.outbox import Store
from registry.timestamps.tokens import TrustAnchor
from registry.verify.verdict import R_NOT_FOUND, UNKNOWN, Verdict
from registry.verify.verifier import Verifier
from registry.verify.versions import VersionSources

#: An audit reads later batches' values locally (index, outbox): no cap on how many it examines.
_ALL_BATCHES = 10**9


class _Context:
    """What every record of one audit shares: the one :class:`Verifier` over a chain snapshot, store, index
    and the folder's bundles.

    Later versions follow the verifier's one rule (the office's later batches, their values from the
    index or the outbox, each version checked at the snapshot), read once per batch.
    """

    def __init__(
        self, chain: Chain, store: Store | None, index: Index | None, anchors: Sequence[TrustAnchor] = ()
    ) -> None:
        if chain.deployment is None:
            raise InputError("no registry to audit against: give a deployment or --registry")
        self.chain = chain
        self.index = index
        self.outbox = store if store is not None and store.counts()["records"] else None
        self.reader = SnapshotReader(chain, index)
        self.registry = chain.deployment.anchor_registry.lower()
        self.bundles: BundleIndex | None = None
        sources = VersionSources(self.outbox, index, max_batches=_ALL_BATCHES, bundles=self._successors)
        self.verifier = Verifier(
            self.reader, chain_id=chain.deployment.chain_id, sources=sources, timestamp_anchors=anchors
        )

    def _successors(self, leaf: str, record_id: str) -> list[ProofBundle]:
        """The folder's bundle of a version naming ``leaf`` (checked by the verifier like any later version)."""
        found = self.bundles.successor(leaf, record_id) if self.bundles is not None else None
        return [found] if found is not None else []

    def verify(self, bundle: ProofBundle, content_hash: str | None) -> Verdict:
        """The bundle's verdict (SUPERSEDED if a later version counts), from the one verifier."""
        return self.verifier.verify_bundle(bundle, content_hash)

    def index_bundle(self, leaf: IndexedLeaf) -> ProofBundle:
        dep = self.chain.deployment
        assert dep is not None and self.index is not None
        return self.index.bundle(leaf, dep.chain_id, dep.anchor_registry)


def _index_of(chain: Chain, store: Store | None) -> Index | None:
    """The store's index if it follows the audited registry."""
    if store is None or chain.deployment is None:
        return None
    return Index.of(store.db, chain.deployment.anchor_registry)


def _report(ctx: _Context, office: str, source: str) -> AuditReport:
    dep = ctx.chain.deployment
    assert dep is not None
    return AuditReport(
        office,
        source,
        dep.chain_id,
        dep.anchor_registry,
        ctx.reader.block_number,
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def publication_files(folder: Path, proofs_dir: Path | None = None) -> Iterator[str]:
    """The files of ``folder`` an audit hashes (lazily, one folder's names at a time): not proof
    bundles, nothing under ``proofs_dir``."""
    if not folder.is_dir():
        raise InputError(f"no such folder: {folder}")
    proofs_root = proofs_dir.resolve() if proofs_dir is not None else None
    inside = proofs_root is not None and proofs_root.is_relative_to(folder.resolve())
    for f in iter_files([folder]):
        if f.endswith(".proof.json"):
            continue
        if inside and proofs_root in Path(f).resolve().parents:
            continue
        yield f


def count_publication_files(folder: Path, proofs_dir: Path | None = None) -> int:
    """How many files :func:`publication_files` yields (for a progress bar)."""
    return sum(1 for _ in publication_files(folder, proofs_dir))


class _Expect:
    """Applies an expected list to rows as they arrive, as :func:`audit_feed` and :func:`audit_folder` did in bulk."""

    def __init__(self, office: str, expected: ExpectedList | Sequence[ExpectedEntry] | None) -> None:
        self.office = office
        self.owned = expected is not None and not isinstance(expected, ExpectedList)
        self.expected = expected if isinstance(expected, ExpectedList) or expected is None else ExpectedList(expected)

    def row(self, row: AuditRow) -> AuditRow:
        """The row marked unexpected (not on the list, or of another office), or as it is."""
        if row.record_id is None:
            return row
        try:
            rid = RecordId.parse(row.record_id)
        except RecordIdError:
            return replace(row, expected=False)
        if rid.office != self.office:
            return replace(row, expected=False, reason=f"{row.reason}; the record belongs to office {rid.office}")
        if self.expected is None:
            return row
        return replace(row, expected=self.expected.match(rid.office, rid.number, rid.kind))

    def missing(self) -> Iterator[AuditRow]:
        """A MISSING row per entry no row matched, in list order."""
        if self.expected is None:
            return
        for e in self.expected.unmatched():
            yield AuditRow(MISSING, f"expected (line {e.line}) but not found", e.label, expected=True, office=e.office)

    @property
    def count(self) -> int | None:
        return self.expected.count if self.expected is not None else None

    def close(self) -> None:
        if self.owned and self.expected is not None:
            self.expected.close()


def audit_folder(
    chain: Chain,
    store: Store | None,
    folder: Path,
    office: str,
    proofs_dir: Path | None = None,
    expected: ExpectedList | Sequence[ExpectedEntry] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    anchors: Sequence[TrustAnchor] = (),
) -> AuditReport:
    """Audit a folder of ``office``'s publication files, with bundles from ``proofs_dir`` or via the index.

    Files are streamed and hashed on all cores; bundles indexed in a temporary database; rows spilled.
    """
    started = time.perf_counter()
    files = publication_files(folder, proofs_dir)
    index = _index_of(chain, store)
    ctx = _Context(chain, store, index, anchors)
    report = _report(ctx, office, f"folder {folder}")
    expect = _Expect(office, expected)
    try:
        ctx.bundles = BundleIndex(proofs_dir) if proofs_dir is not None else None
        if ctx.bundles is not None:
            for row in ctx.bundles.scan():
                report.rows.add(expect.row(row))
        bundle_seconds = time.perf_counter() - started
        verify_seconds = 0.0
        for h in hash_files(files, workers, progress):
            t = time.perf_counter()
            report.rows.add(expect.row(_audit_file(ctx, h)))
            verify_seconds += time.perf_counter() - t
        t = time.perf_counter()
        for row in expect.missing():
            report.rows.add(row)
        report.unmatched_bundles = ctx.bundles.unmatched if ctx.bundles is not None else 0
        report.expected_count = expect.count
        report.verify_seconds = verify_seconds + bundle_seconds + time.perf_counter() - t
        report.seconds = time.perf_counter() - started
        report.hash_seconds = max(report.seconds - report.verify_seconds, 0.0)
        report.rpc_calls = ctx.reader.calls
    finally:
        expect.close()
        if ctx.bundles is not None:
            ctx.bundles.close()
    return report


def _audit_file(ctx: _Context, h: HashedFile) -> AuditRow:
    if h.error is not None or h.record_id is None or h.content_hash is None:
        return AuditRow(UNKNOWN, h.error or "no record id", None, h.path)
    bundles = ctx.bundles
    bundle: ProofBundle | None = None
    picked = bundles.pick(h.record_id, h.content_hash) if bundles is not None else None
    if picked is not None:
        bundle = picked
    elif ctx.index is not None:
        leaves = [x for x in ctx.index.leaves_by_hash(h.content_hash) if x.record_id == h.record_id]
        leaves = leaves or ctx.index.versions(h.record_id)
        bundle = ctx.index_bundle(leaves[-1]) if leaves else None
    if bundle is None:
        readable = bundles is not None and bundles.count > 0
        where = "no proof bundle in the proofs folder" if readable else "nothing in the index"
        reason = f"{where} for {h.record_id}"
        return AuditRow(UNKNOWN, reason, h.record_id, h.path, content_hash=h.content_hash, reason_code=R_NOT_FOUND)
    content_hash = h.content_hash
    method = _claims(bundle)[2]
    if method != h.canonicalization and method in canon.CANONICALIZATIONS:
        try:
            content_hash = canon.content_hash(Path(h.path).read_bytes(), method)
        except (RegistryError, OSError) as exc:
            reason = exc.diagnostics() if isinstance(exc, RegistryError) else str(exc)
            return AuditRow(UNKNOWN, f"cannot hash as {method}: {reason}", h.record_id, h.path)
    return AuditRow.of(ctx.verify(bundle, content_hash), h.path)


def audit_feed(
    chain: Chain,
    store: Store,
    office: str,
    expected: ExpectedList | Sequence[ExpectedEntry] | None = None,
    progress: Progress | None = None,
    anchors: Sequence[TrustAnchor] = (),
) -> AuditReport:
    """Audit the newest version of every record ``office`` anchored, as the index knows them.

    Batch by batch (oldest first, by block then root), each batch's newest versions and their
    successors selected in one query, so the per-batch tree and node caches stay hot.
    """
    started = time.perf_counter()
    index = _index_of(chain, store)
    if index is None or index.cursor() is None:
        raise InputError("no index in the store: run `ipreg index sync` first")
    ctx = _Context(chain, store, index, anchors)
    report = _report(ctx, office, "feed")
    dep = chain.deployment
    assert dep is not None
    expect = _Expect(office, expected)
    try:
        for b in index.unindexed_batches(office):
            reason = f"records of batch {b.root} are unknown: {b.manifest_error or 'manifest not fetched'}"
            row = AuditRow(
                UNKNOWN,
                reason,
                None,
                office=office,
                root=b.root,
                block_number=b.block_number,
                transaction_hash=b.tx_hash,
                anchored_at=b.anchored_at,
            )
            report.rows.add(expect.row(row))
        done = 0
        for batch in _office_batches(index, office):
            for row in _feed_batch(ctx, index, batch, dep.chain_id, dep.anchor_registry):
                report.rows.add(expect.row(row))
                done += 1
                if progress is not None and done % 200 == 0:
                    progress(200)
        if progress is not None:
            progress(done % 200)
        for row in expect.missing():
            report.rows.add(row)
        report.expected_count = expect.count
    finally:
        expect.close()
    report.seconds = report.verify_seconds = time.perf_counter() - started
    report.rpc_calls = ctx.reader.calls
    return report


def _office_batches(index: Index, office: str) -> list[IndexedBatch]:
    """The office's indexed batches in the audit's order (block, then root)."""
    return [IndexedBatch(*r) for r in office_batches(index.db, office)]


def _feed_batch(ctx: _Context, index: Index, batch: IndexedBatch, chain_id: int, registry: str) -> Iterator[AuditRow]:
    """The rows of one batch's newest versions (bundles rebuilt from the index, as :meth:`Index.bundle`)."""
    rows = feed_leaves(index.db, batch.office, batch.root, SEALED)
    if not rows:
        return
    tree = index.tree(batch.office, batch.root)
    holder = checksum_address(batch.registry) if batch.registry else registry
    facts = leaf_facts(IndexedLeaf(*rows[0][:12]), chain_id, holder)  # one batch: its facts made and checked once
    for r in rows:
        leaf = IndexedLeaf(*r[:12])
        bundle = build_bundle(facts, leaf.value, tree.proof(leaf.position))
        yield AuditRow.of(ctx.verify(bundle, None))
