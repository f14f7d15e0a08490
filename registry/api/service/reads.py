"""The service's public reads: offices, batches, records and their versions, proof bundles, verdicts, manifests.

Every answer is a response model of :mod:`registry.api.schemas` (or a :class:`~registry.core.records.ProofBundle`,
a :class:`~registry.verify.verdict.Verdict`): this instance's outbox first, then the index of every
office's anchored records, then the chain alone. No SQL here: the store and index queries do it.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from registry import verify
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
from registry.errors import ChainError, InputError, NotFoundError
from registry.store.index import Index, IndexedBatch
from registry.store.outbox import BatchStatus, Store, StoredBatch, StoredRecord
from registry.timestamps.config import load_config

_MANIFEST_OFFICE = re.compile(r"[A-Za-z]{2}")
_MANIFEST_NAME = re.compile(r"(0x[0-9a-fA-F]{64})\.json")


class Reads(ServiceCore):
    """Public reads of the service (no token needed)."""

    # -- offices

    def office_codes(self) -> list[str]:
        """Registered office codes (cached for 30 s)."""

        def load() -> list[str]:
            with self.guard():
                return self.chain.office_codes()

        return self._office_codes.get("codes", load)

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

        def load() -> tuple[str, str, str] | None:
            with self.guard():
                return self.chain.office_info(code)

        info = self._offices.get(code, load)
        if info is None:
            raise NotFoundError(f"office {code} is not registered")
        name, base_uri, status = info
        store = self.store()
        return OfficePublic(
            code=code,
            name=name,
            baseURI=base_uri,
            status=status,
            signers=self._signers_of(store, code),
            pending_count=store.pending_count(code),
        )

    def offices(self) -> list[OfficePublic]:
        """Every registered office."""
        return [self.office(code) for code in self.office_codes()]

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
            with self.guard():
                info = self.reader.batch_state(office, root).info
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
        with self.guard():  # batches belong to (office, root): the first office that anchored this root
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
            with self.guard():
                info = self.reader.batch_state(office, root).info
                return info is not None and bool(
                    info.revocation_reason or self.reader.leaf_revocation(office, root, leaf)
                )
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

    def verify_hash(self, digest: str, record_hint: str | None = None) -> verify.Verdict:
        """Verdict for a content hash: an anchored record with this content, from cached chain state."""
        digest = check_hash(digest)
        with self.guard():
            return self.verifier().verify_hash(digest, record_hint)

    def verify_bundle(self, bundle: ProofBundle, data: bytes | None = None, filename: str = "") -> verify.Verdict:
        """Verdict for a proof bundle (and the file it speaks for, if given)."""
        with self.guard():
            if data is not None:
                return self.verifier().verify_file(data, filename, bundle)
            return self.verifier().verify_bundle(bundle)

    async def verify_upload(self, data: bytes, filename: str, bundle: ProofBundle | None) -> verify.Verdict:
        """Verdict for an uploaded file: its facts computed once on the canonicalization pool, judged on the
        read threads (with a bundle: the pairing check, then the bundle's verdict)."""
        facts = await asyncio.wrap_future(self.canon_pool().submit(verify.file_facts, data, filename, bundle))
        return await run_in_threadpool(self._verify_facts, facts, bundle)

    def _verify_facts(self, facts: verify.FileFacts, bundle: ProofBundle | None) -> verify.Verdict:
        with self.guard():
            return self.verifier().verify_facts(facts, bundle)

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
