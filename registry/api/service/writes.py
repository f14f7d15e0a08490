"""The service's office writes: tokens and signing keys, submissions, the outbox, batch runs, reveals, revocations.

Each office's transactions go out one at a time (a lock per office, 409 after ``batch_wait_seconds``);
batch runs requested over HTTP run on the write pool, never on the threads serving reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from eth_account.signers.local import LocalAccount

from registry import verify
from registry.anchor.pipeline import Anchorer, RunResult
from registry.anchor.run import anchorer_for, check_signer
from registry.anchor.stored import reveal_bundle
from registry.api.errors import BatchInProgressError, NotAnchoredYetError, OfficeNotServedError, TooBusyError
from registry.api.schemas import (
    BatchPublic,
    PendingPublic,
    PendingRecordPublic,
    RevocationPublic,
    SubmissionPublic,
)
from registry.api.service.checks import check_hash, check_root
from registry.api.service.lifecycle import ServiceCore
from registry.chain.keys import load_signer
from registry.core.formats import ProofBundle
from registry.core.records import RecordId
from registry.errors import ConfigError, ForbiddenError, InputError, NotFoundError
from registry.files.ingest import PreparedRecord
from registry.monitor.journal import own_call
from registry.store.outbox import BatchStatus, Store
from registry.store.tokens import office_for_token


class Writes(ServiceCore):
    """Writes of the offices this instance signs for (each behind the office's bearer token)."""

    # -- auth and signing

    def office_of_token(self, token: str) -> str | None:
        """The office a bearer token belongs to."""
        return office_for_token(self.store(), token)

    def signer(self, office: str) -> LocalAccount:
        """The key this instance signs ``office``'s batches with (checked against the chain once)."""
        account = self._signers.get(office)
        if account is not None:
            return account
        if self.options.offices is not None and office not in self.options.offices:
            raise OfficeNotServedError(f"this service instance does not sign for office {office}")
        try:
            account = load_signer(self.settings, office, self.deployment)
        except ConfigError as exc:
            raise OfficeNotServedError(f"this service instance cannot sign for {office}: {exc.diagnostics()}") from None
        try:
            with self.guard():
                check_signer(self.chain, office, account)
        except ConfigError as exc:
            raise OfficeNotServedError(exc.diagnostics()) from None
        self._signers[office] = account
        return account

    # -- submissions and the outbox

    def submit(self, office: str, prepared: PreparedRecord, sealed: bool = False) -> SubmissionPublic:
        """Accept one record into the outbox (idempotent; a new content of a known id is a new version);
        ``sealed``: only a salted commitment is anchored, until the office reveals it."""
        account = self.signer(office)  # refuse before storing anything if this instance cannot anchor it
        store = self.store()
        with self._lock(self._submit_locks, office):
            anchorer = self._anchorer(store, account, office)
            result = anchorer.submit([prepared], sealed=sealed)
        record = store.record_by_key(str(prepared.record_id), prepared.content_hash)
        if record is None:
            raise InputError(f"{prepared.record_id} with content {prepared.content_hash} was not stored")
        batch = store.batch(record.batch_id) if record.batch_id is not None else None
        return SubmissionPublic(
            office=office,
            accepted=result.accepted > 0,
            new_version=result.new_versions > 0,
            record=PendingRecordPublic.of(record, batch),
        )

    def pending(self, office: str, limit: int) -> PendingPublic:
        """The office's outbox: its pending count, oldest pending records and unfinished batches."""
        store = self.store()
        return PendingPublic(
            office=office,
            count=store.pending_count(office),
            records=[PendingRecordPublic.of(r) for r in store.pending(office, limit)],
            unfinished_batches=[BatchPublic.of_stored(b) for b in store.unfinished_batches(office)],
        )

    # -- batches

    @contextmanager
    def _office_key(self, office: str, wait: float | None = None) -> Iterator[None]:
        """Hold ``office``'s batch lock: one transaction of the office's key at a time. 409 if another one
        does not end within ``wait`` seconds (default ``batch_wait_seconds``; 0: do not wait)."""
        lock = self._lock(self._batch_locks, office)
        timeout = self.options.batch_wait_seconds if wait is None else wait
        if not (lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)):
            raise BatchInProgressError(f"a batch of {office} is being anchored; try again when it is done")
        try:
            yield
        finally:
            lock.release()

    def _anchorer(self, store: Store, account: LocalAccount, office: str) -> Anchorer:
        return anchorer_for(self.settings, store, self.chain, account, office, self.options.manifest_base)

    def anchor_pending(self, office: str, wait: float | None = None) -> RunResult:
        """Batch and anchor the office's pending records now; never two batches of one office at once."""
        account = self.signer(office)
        with self._office_key(office, wait):
            store = self.store()
            with self.guard():
                result = self._anchorer(store, account, office).run()
            if result.batches:
                self.reader.clear()
            return result

    async def run_batch(self, office: str) -> RunResult:
        """``anchor_pending`` on the write pool; 429 (``Retry-After``) beyond ``batch_concurrency`` runs."""
        if not self.batch_runs.try_enter():
            raise TooBusyError(
                f"more than {self.batch_runs.limit} batch runs requested at once; retry in"
                f" {self.batch_runs.retry_after} s (pending records are anchored by the running batch too)",
                self.batch_runs.retry_after,
            )
        try:
            return await asyncio.wrap_future(self.write_pool.submit(self.anchor_pending, office))
        finally:
            self.batch_runs.leave()

    # -- reveals and revocations

    def reveal(self, office: str, record_id: str, content_hash: str | None = None) -> ProofBundle:
        """The revealing bundle of a sealed record of ``office`` (its salt opened); 403 for another office's."""
        rid = RecordId.parse(record_id)
        if rid.office != office:
            raise ForbiddenError(f"office {office} cannot reveal a record of office {rid.office}")
        if content_hash is not None:
            content_hash = check_hash(content_hash)
        store = self.store()
        sealed = [r for r in store.versions(str(rid)) if r.salt is not None]
        sealed = [r for r in sealed if content_hash is None or r.content_hash == content_hash]
        if not sealed:
            which = f" with content {content_hash}" if content_hash else ""
            raise NotFoundError(f"no sealed record {rid}{which} of office {office} here")
        newest = sealed[-1]
        if newest.batch_id is None or store.batch(newest.batch_id).status != BatchStatus.ANCHORED:
            raise NotAnchoredYetError(f"sealed record {rid} is not anchored yet: trigger or wait for its batch")
        with self.guard():
            return reveal_bundle(store, self.chain, str(rid), content_hash)

    def revoke(
        self,
        office: str,
        reason: int,
        root: str | None = None,
        record_id: str | None = None,
        content_hash: str | None = None,
    ) -> RevocationPublic:
        """Revoke ``office``'s batch ``root``, or one anchored version of its record ``record_id``, signed
        with the office's key. 403 for a record of another office; 404 if the office anchored no such
        batch or no such record is known here (outbox or index); 409 if already revoked."""
        rid: RecordId | None = None
        if record_id is not None:
            rid = RecordId.parse(record_id)
            if rid.office != office:
                raise ForbiddenError(f"office {office} cannot revoke a record of office {rid.office}")
        if content_hash is not None:
            content_hash = check_hash(content_hash)
        account = self.signer(office)
        store = self.store()
        bundle: ProofBundle | None = None
        if rid is not None:
            with self.guard():
                bundle = verify.bundle_for_record(self.chain, store, str(rid), content_hash)
            if bundle is None or bundle.office != office:
                which = f" with content {content_hash}" if content_hash else ""
                raise NotFoundError(f"no anchored version of {rid}{which} is known here")
            root = bundle.root
        else:
            root = check_root(root or "")
            with self.guard():
                if self.chain.batch_of(office, root) is None:  # batches are (office, root): only its own
                    raise NotFoundError(f"office {office} anchored no batch with root {root}")
        with self._office_key(office), self.guard():
            raw_root = bytes.fromhex(root[2:])
            if bundle is not None:
                proof = [bytes.fromhex(p[2:]) for p in bundle.proof]
                values = bundle.value.encode()
                with own_call(store, self.chain, office, account.address, "revokeLeaf", [raw_root, values]):
                    result = self.chain.revoke_leaf(account, raw_root, values, proof, reason)
            else:
                with own_call(store, self.chain, office, account.address, "revokeBatch", [raw_root]):
                    result = self.chain.revoke_batch(account, raw_root, reason)
        self.reader.clear()
        return RevocationPublic(
            office=office,
            root=root,
            record_id=str(rid) if rid else None,
            leaf="0x" + bundle.value.leaf().hex() if bundle is not None else None,
            reason=reason,
            transaction_hash=result.transaction_hash,
            block_number=result.block_number,
        )
