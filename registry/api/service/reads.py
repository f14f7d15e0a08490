"""The service's public reads: offices, batches, records and their versions, proof bundles, verdicts, manifests.

Every answer is a response model of :mod:`registry.api.schemas` (or a :class:`~registry.core.records.ProofBundle`,
a :class:`~registry.verify.verdict.Verdict`): this instance's outbox first, then the index of every
office's anchored records, then the chain alone. No SQL here: the store and index queries do it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from registry import verify
from registry.api.gate import start_clock
from registry.api.index_reader import IndexReader
from registry.api.schemas import (
    BatchPublic,
    BatchRecordPublic,
    OfficePublic,
    RecordPublic,
    SignerPublic,
    VersionPublic,
    outbox_status,
)
from registry.api.service.checks import check_hash, check_root
from registry.api.service.lifecycle import ServiceCore, index_of
from registry.core.batch import utc_iso
from registry.core.formats import ProofBundle
from registry.core.records import RecordId
from registry.core.st3 import is_st3
from registry.errors import ChainError, InputError, NodeUnavailableError, NotFoundError
from registry.store.index import Index, IndexedBatch
from registry.store.outbox import BatchStatus, Store, StoredBatch, StoredRecord
from registry.timestamps.config import load_config

T = TypeVar("T")

_MANIFEST_OFFICE = re.compile(r"[A-Za-z]{2}")
_MANIFEST_NAME = re.compile(r"(0x[0-9a-fA-F]{64})\.json")


class Reads(ServiceCore):
    """Public reads of the service (no token needed).

    Each read waits for the node at most ``read_budget`` seconds in all (its chain calls run on the
    chain gate's pool); what the node does not answer in time comes from the index, and what the index
    cannot answer either is a 503 (``NodeUnavailableError``, with ``Retry-After``)."""

    @contextmanager
    def budget(self) -> Iterator[None]:
        """The read budget of one request (chain calls within it are gated)."""
        with self.gate.deadline(self.options.read_budget):
            yield

    def freshness(self) -> dict[str, str]:
        """Response headers: the block the index reflects and how far behind the node's last known head it is."""
        state = self.health_state
        answer = state.answer if state is not None else None
        headers: dict[str, str] = {}
        if answer is not None and answer.indexed_block is not None:
            headers["X-Index-Block"] = str(answer.indexed_block)
            if answer.block_number is not None:
                headers["X-Node-Block"] = str(answer.block_number)
                headers["X-Index-Behind"] = str(max(0, answer.block_number - answer.indexed_block))
        if self.gate.stalled_since is not None:
            headers["X-Chain-Node"] = "not answering: served from the index"
        return headers

    def _index_or_unavailable(self) -> Index:
        index = index_of(self.store())
        if index is None or index.cursor() is None:
            raise NodeUnavailableError("the chain node does not answer and the index holds nothing yet")
        return index

    # -- offices

    def _office_table(self) -> dict[str, tuple[str, str, str]]:
        """Registered offices (code: name, base URI, status): the chain (cached 30 s), else the index."""

        def load() -> dict[str, tuple[str, str, str]]:
            with self.guard():  # runs on the chain pool
                out: dict[str, tuple[str, str, str]] = {}
                for code in self.chain.office_codes():
                    info = self.chain.office_info(code)
                    if info is not None:
                        out[code] = info
                return out

        with self.budget():
            try:
                return self._office_table_cache.get("offices", lambda: self.gate.call(load), self.gate.acquire)
            except NodeUnavailableError:
                index = self._index_or_unavailable()
                return {o.code: (o.name, o.base_uri, o.status) for o in index.offices()}

    def office_codes(self) -> list[str]:
        """Registered office codes (the chain, cached for 30 s; the index when the node does not answer)."""
        return list(self._office_table())

    def check_office(self, code: str) -> str:
        """``code`` if it names a registered office; 400 for a malformed code, 404 for an unknown one."""
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise InputError(f"invalid office code {code!r} (two letters, WIPO ST.3)")
        code = code.upper()
        if not is_st3(code) or code not in self.office_codes():
            raise NotFoundError(f"office {code} is not registered")
        return code

    def office(self, code: str) -> OfficePublic:
        """One registered office."""
        code = self.check_office(code)
        info = self._office_table().get(code)
        if info is None:
            raise NotFoundError(f"office {code} is not registered")
        return self._office_public(self.store(), code, info)

    def offices(self) -> list[OfficePublic]:
        """Every registered office."""
        store = self.store()
        return [self._office_public(store, code, info) for code, info in self._office_table().items()]

    def _office_public(self, store: Store, code: str, info: tuple[str, str, str]) -> OfficePublic:
        """One office as the API shows it: its registry entry, signers and pending count."""
        name, base_uri, status = info
        return OfficePublic(
            code=code,
            name=name,
            baseURI=base_uri,
            status=status,
            signers=self._signers_of(store, code),
            pending_count=store.pending_count(code),
        )

    @staticmethod
    def _signers_of(store: Store, code: str) -> list[SignerPublic] | None:
        index = index_of(store)
        if index is None:
            return None
        return [
            SignerPublic(address=s.address, from_block=s.from_block, until_block=s.until_block)
            for s in index.signers(code)
        ]

    # -- batches

    def _revocation(self, office: str, root: str) -> int | None:
        try:
            with self.budget(), self.guard():
                info = self.reader.batch_state(office, root).info
        except NodeUnavailableError:
            index = index_of(self.store())
            indexed = index.batch(office, root) if index is not None else None
            return indexed.revocation_reason if indexed is not None else None
        except ChainError:
            return None
        return info.revocation_reason if info is not None else None

    def _batch_view(self, b: StoredBatch, with_records: bool = False) -> BatchPublic:
        records = sealed = None
        if with_records:
            stored = self.store().batch_records(b.id)
            records = [
                BatchRecordPublic(record_id=r.record_id, content_hash=r.content_hash)
                for r in [r for r in stored if r.salt is None][:1000]
            ]
            sealed = sum(1 for r in stored if r.salt is not None)
        revocation = self._revocation(b.office, b.root) if b.status == BatchStatus.ANCHORED else None
        return BatchPublic.of_stored(b, revocation, records, sealed)

    def batches(self, office: str | None, limit: int) -> list[BatchPublic]:
        """Recent batches, newest first: this instance's outbox, then batches only the index knows."""
        if office is not None:
            office = self.check_office(office)
        store = self.store()
        views = [self._batch_view(b) for b in store.batches(office, limit=limit)]
        index = index_of(store)
        if index is not None and len(views) < limit:
            known = {(v.office, v.root) for v in views}
            for ib in index.batches(office, limit=limit):
                if (ib.office, ib.root) not in known:
                    views.append(_index_batch_view(ib))
        views.sort(key=lambda v: (v.block_number is not None, -(v.block_number or 0)))
        return views[:limit]

    def batch(self, root: str) -> BatchPublic:
        """One batch by root (outbox, index, or the chain alone)."""
        root = check_root(root)
        store = self.store()
        stored = store.batch_by_root(root)
        if stored is not None:
            return self._batch_view(stored, with_records=True)
        index = index_of(store)
        # Batches belong to (office, root): another office may have anchored a copy of this root first.
        # Prefer the batch whose manifest rebuilt it (its records are of the anchoring office).
        indexed = index.batches_with_root(root) if index is not None else []
        ib = next((b for b in indexed if b.manifest_status == "indexed"), indexed[0] if indexed else None)
        if ib is not None:
            return _index_batch_view(ib)
        with self.budget(), self.guard():  # batches belong to (office, root): the first that anchored this root
            info = next(
                (i for c in self.office_codes() if (i := self.reader.batch_state(c, root).info) is not None), None
            )
        if info is None:
            raise NotFoundError(f"no batch with root {root}")
        return _batch(
            root,
            info.office,
            info.leaf_count,
            None,
            info.signer,
            None,
            info.block_number,
            info.anchored_at,
            info.revocation_reason,
            None,
        )

    # -- records and proofs

    def _bundle(self, store: Store, record: StoredRecord) -> ProofBundle | None:
        if record.batch_id is None:
            return None
        dep = self.deployment
        return self.trees.bundle(store, dep.chain_id, dep.anchor_registry, store.batch(record.batch_id), record)

    def record(self, record_id: str) -> RecordPublic:
        """A record id's versions and status (sealed records are not public)."""
        rid = str(RecordId.parse(record_id))
        store = self.store()
        versions: list[VersionPublic] = []
        stored = [v for v in store.versions(rid) if v.salt is None]
        for v in stored:
            batch = store.batch(v.batch_id) if v.batch_id is not None else None
            status = outbox_status(batch)
            if (
                batch is not None
                and batch.status == BatchStatus.ANCHORED
                and self._leaf_revoked(batch.office, batch.root, v.leaf)
            ):
                status = "revoked"
            versions.append(
                VersionPublic(
                    content_hash=v.content_hash,
                    canonicalization=v.canonicalization,
                    supersedes=v.supersedes,
                    leaf="0x" + v.leaf.hex(),
                    status=status,
                    root=batch.root if batch else None,
                    block_number=batch.block_number if batch else None,
                    transaction_hash=batch.tx_hash if batch else None,
                    anchored_at=utc_iso(batch.timestamp) if batch is not None and batch.timestamp else None,
                    superseded_by=None,
                )
            )
        if not versions:
            index = index_of(store)
            for leaf in index.versions(rid) if index is not None else []:
                revoked = self._leaf_revoked(leaf.office, leaf.root, bytes.fromhex(leaf.leaf[2:]))
                versions.append(
                    VersionPublic(
                        content_hash=leaf.content_hash,
                        canonicalization=leaf.canonicalization,
                        supersedes=leaf.supersedes,
                        leaf=leaf.leaf,
                        status="revoked" if revoked else "anchored",
                        root=leaf.root,
                        block_number=leaf.block_number,
                        transaction_hash=leaf.tx_hash,
                        anchored_at=utc_iso(leaf.timestamp),
                        superseded_by=None,
                    )
                )
        if not versions:
            raise NotFoundError(f"no record {rid} is known to this service")
        position = {version.leaf: k for k, version in enumerate(versions)}
        for newer in list(versions):
            k = position.get(newer.supersedes)
            if k is None or newer.status == "revoked":
                continue
            old = versions[k]
            status = "superseded" if newer.status == "anchored" and old.status == "anchored" else old.status
            versions[k] = old.model_copy(update={"status": status, "superseded_by": f"{rid}@{newer.content_hash}"})
        return RecordPublic(record_id=rid, office=rid.split(":", 1)[0], status=versions[-1].status, versions=versions)

    def _leaf_revoked(self, office: str, root: str, leaf: bytes) -> bool:
        try:
            with self.budget(), self.guard():
                info = self.reader.batch_state(office, root).info
                return info is not None and bool(
                    info.revocation_reason or self.reader.leaf_revocation(office, root, leaf)
                )
        except NodeUnavailableError:
            # The index's view (at its cursor); a batch it does not hold yet cannot be answered for: 503.
            index = self._index_or_unavailable()
            batch = index.batch(office, root)
            if batch is None:
                raise NodeUnavailableError(
                    f"batch {root} is not indexed yet and the chain node does not answer"
                ) from None
            return bool(batch.revocation_reason or index.revoked_leaves(office, root).get("0x" + leaf.hex(), 0))
        except ChainError:
            return False

    def proof(self, record_id: str, content_hash: str | None = None) -> ProofBundle:
        """The proof bundle of the latest anchored version (or of the version with ``content_hash``)."""
        rid = str(RecordId.parse(record_id))
        if content_hash is not None:
            content_hash = check_hash(content_hash)
        store = self.store()
        for v in reversed([v for v in store.versions(rid) if v.salt is None]):
            if content_hash is not None and v.content_hash != content_hash:
                continue
            bundle = self._bundle(store, v)
            if bundle is not None:
                return bundle
        index = index_of(store)
        if index is not None:
            for leaf in reversed(index.versions(rid)):
                if content_hash is None or leaf.content_hash == content_hash:
                    dep = self.deployment
                    return index.bundle(leaf, dep.chain_id, dep.anchor_registry)
        which = f" with content {content_hash}" if content_hash else ""
        raise NotFoundError(f"no anchored version of {rid}{which} is known to this service")

    # -- verification

    def verifier(self) -> verify.Verifier:
        """The one :class:`~registry.verify.Verifier`, pinned to this service's registry, at the cached head.

        Later versions are read from this instance's outbox, the index and its published manifests
        (no fetching on a request; the index loop fetches others' manifests)."""
        store = self.store()
        dep = self.deployment
        index = Index.of(store.db, dep.anchor_registry)
        sources = verify.VersionSources(store, index, self.settings.home / "manifests", None)
        stamps = load_config(self.settings.home)  # time-stamp trust anchors ($IPREG_HOME/timestamps.toml)
        return verify.Verifier(
            self.reader.pinned(),
            chain_id=dep.chain_id,
            store=store,
            sources=sources,
            bundle_of=self._bundle,
            timestamp_anchors=stamps.anchors,
            timestamp_tolerance=stamps.tolerance,
        )

    def index_verifier(self) -> tuple[verify.Verifier, IndexReader]:
        """The same Verifier over the index (its cursor is the verdict's state block): when the node stalls."""
        store = self.store()
        dep = self.deployment
        index = Index.of(store.db, dep.anchor_registry)
        if index is None:
            raise NodeUnavailableError("the chain node does not answer and the index holds nothing yet")
        state = self.health_state
        head = state.answer.block_number if state is not None and state.answer is not None else None
        if head is None and self._reader is not None:
            head = self._reader.last_head()
        reader = IndexReader(index, dep.anchor_registry, dep.chain_id, head)
        sources = verify.VersionSources(store, index, self.settings.home / "manifests", None)
        verifier = verify.Verifier(reader, chain_id=dep.chain_id, store=store, sources=sources, bundle_of=self._bundle)
        return verifier, reader

    def _judge(self, ask: Callable[[verify.Verifier], verify.Verdict]) -> verify.Verdict:
        """``ask`` the chain's verifier within the read budget; if the node does not answer, the index's."""
        try:
            with self.budget(), self.guard():
                verdict = ask(self.verifier())
            if not self.gate.failed():
                return verdict
        except NodeUnavailableError:
            pass
        # Some check could not be read from the node (a verdict with it "not checked" would be less than the
        # index knows): the whole verdict from the index, at its block.
        verifier, reader = self.index_verifier()
        return _served_from_index(ask(verifier), reader)

    def verify_hash(self, digest: str, record_hint: str | None = None) -> verify.Verdict:
        """Verdict for a content hash: an anchored record with this content, from cached chain state."""
        digest = check_hash(digest)
        return self._judge(lambda verifier: verifier.verify_hash(digest, record_hint))

    def verify_bundle(self, bundle: ProofBundle, data: bytes | None = None, filename: str = "") -> verify.Verdict:
        """Verdict for a proof bundle (and the file it speaks for, if given)."""
        if data is not None:
            return self._judge(lambda verifier: verifier.verify_file(data, filename, bundle))
        return self._judge(lambda verifier: verifier.verify_bundle(bundle))

    async def verify_upload(self, data: bytes, filename: str, bundle: ProofBundle | None) -> verify.Verdict:
        """Verdict for an uploaded file: its facts computed once on the canonicalization pool, judged on the
        read threads (with a bundle: the pairing check, then the bundle's verdict)."""
        facts = await asyncio.wrap_future(self.canon_pool().submit(verify.file_facts, data, filename, bundle))
        start_clock()  # the read budget counts from when the facts are in hand (not the upload's time)
        return await self.run_read(self._verify_facts, facts, bundle)

    def _verify_facts(self, facts: verify.FileFacts, bundle: ProofBundle | None) -> verify.Verdict:
        return self._judge(lambda verifier: verifier.verify_facts(facts, bundle))

    # -- published manifests

    def manifest_path(self, office: str, name: str) -> Path:
        """The file of a batch manifest this instance published (``<OFFICE>/<root>.json``).

        Only a two-letter ST.3 code and ``0x`` + 64 hex digits + ``.json`` are accepted, so the path
        never leaves ``$IPREG_HOME/manifests``; 404 if there is no such manifest.
        """
        found = _MANIFEST_NAME.fullmatch(name)
        if not _MANIFEST_OFFICE.fullmatch(office) or not is_st3(office.upper()) or found is None:
            raise NotFoundError(f"no manifest {office[:8]}/{name[:80]} (expected OFFICE/0x<64 hex digits>.json)")
        base = (self.settings.home / "manifests").resolve()
        path = base / office.upper() / f"{found.group(1).lower()}.json"
        if not path.is_file() or not path.resolve().is_relative_to(base):
            raise NotFoundError(f"no manifest of batch {found.group(1).lower()} of office {office.upper()} here")
        return path


def _batch(
    root: str,
    office: str,
    leaf_count: int,
    manifest_uri: str | None,
    signer: str | None,
    transaction_hash: str | None,
    block_number: int | None,
    anchored_at: str | None,
    revocation_reason: int | None,
    error: str | None,
) -> BatchPublic:
    """An anchored batch this instance's outbox does not hold (no gas figure, no records)."""
    return BatchPublic(
        root=root,
        office=office,
        leaf_count=leaf_count,
        status="anchored",
        manifestURI=manifest_uri,
        signer=signer,
        transaction_hash=transaction_hash,
        block_number=block_number,
        anchored_at=anchored_at,
        gas_used=None,
        revoked=None if revocation_reason is None else revocation_reason != 0,
        revocation_reason=revocation_reason,
        error=error,
    )


def _served_from_index(verdict: verify.Verdict, reader: IndexReader) -> verify.Verdict:
    """The verdict's checks say what they were checked against: the index at its block, not the node."""
    note = reader.describe()
    checks = tuple(
        replace(c, detail=f"{c.detail} ({note})" if c.detail else note) if c.result in ("passed", "failed") else c
        for c in verdict.checks
    )
    return replace(verdict, checks=checks)


def _index_batch_view(ib: IndexedBatch) -> BatchPublic:
    """A batch only the index knows (anchored by another office or instance)."""
    return _batch(
        ib.root,
        ib.office,
        ib.leaf_count,
        ib.manifest_uri,
        ib.signer,
        ib.tx_hash,
        ib.block_number,
        ib.anchored_at,
        ib.revocation_reason,
        ib.manifest_error,
    )
