"""The one :class:`Verifier`: every caller's verdict (CLI with a store or light, API, web page, audit, evaluation).

It takes a file's facts computed once (:func:`registry.verify.hashing.file_facts`), checks that file and
bundle belong together (MISMATCH), pins the registry (a bundle naming another one gets UNKNOWN with
reason ``foreign-registry``, never a silent check against the bundle's own), then asks one
:class:`~registry.verify.readers.ChainReader` every question the verdict needs, all at one block:
inclusion, the batch's owner, the signer at the batch's block, the compromise mark, revocation of
batch and record, and later versions (:mod:`registry.verify.versions`). The verdict lists every
check with its result; a check a path could not run is reported as such, never passed silently.

Usage::

    verifier = Verifier(LightReader(rpc_url, registry), chain_id=31337)
    verdict = verifier.verify_file(data, "EP-1234567-B1.xml", bundle)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry.core.address import checksum_address
from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED
from registry.errors import ConfigError
from registry.timestamps.tokens import DEFAULT_TOLERANCE, INVALID, UNCHECKED, VALID, TrustAnchor, check_token
from registry.verify import verdict as v
from registry.verify.hashing import FileFacts, claimed, file_facts
from registry.verify.readers import ChainReader
from registry.verify.verdicts import check_reveal, mismatch_verdict, pairing
from registry.verify.versions import VersionSources, later_version

if TYPE_CHECKING:
    from registry.store.outbox import Store, StoredRecord


class _Trail:
    """The checks of one verification as they run; :meth:`verdict` marks the rest as skipped."""

    def __init__(self, verifier: Verifier, base: dict[str, Any]) -> None:
        self.verifier = verifier
        self.base = base
        self.checks: list[v.Check] = []

    def add(self, name: str, result: str, detail: str = "") -> None:
        self.checks.append(v.Check(name, result, detail))

    def verdict(self, verdict: str, code: str, reason: str, **extra: Any) -> v.Verdict:
        done = {c.name for c in self.checks}
        checks = tuple(self.checks) + tuple(
            v.Check(name, v.SKIPPED, "not needed: the verdict was decided by an earlier check")
            for name in v.CHECKS
            if name not in done
        )
        if verdict == v.VERIFIED and any(c.result == v.NOT_CHECKED for c in checks):
            missing = ", ".join(c.name for c in checks if c.result == v.NOT_CHECKED)
            reason = f"{reason}; NOT CHECKED: {missing} (see checks)"
        stamps = next((c for c in checks if c.name == v.C_TIMESTAMPS), None)
        if stamps is not None and stamps.result == v.FAILED:
            reason = f"{reason}; TIME-STAMP NOT ACCEPTED: {stamps.detail}"
        fields = {**self.base, **extra}
        return v.Verdict(
            verdict,
            reason,
            reason_code=code,
            checks=checks,
            registry=self.verifier.registry,
            chain_id=self.verifier.known_chain_id,
            state_block=self.verifier.state_block,
            **fields,
        )


class Verifier:
    """Verdicts against one pinned AnchorRegistry, through one chain reader, at one block.

    ``store`` (an office's or auditor's home) is where a file or hash without a bundle is looked up,
    and with ``sources`` where later versions' values are read; ``bundle_of`` replaces the outbox
    bundle rebuild (the service's tree cache).
    """

    def __init__(
        self,
        reader: ChainReader,
        *,
        chain_id: int | None = None,
        store: Store | None = None,
        sources: VersionSources | None = None,
        bundle_of: Callable[[Store, StoredRecord], ProofBundle | None] | None = None,
        pinned: bool = True,
        timestamp_anchors: Sequence[TrustAnchor] = (),
        timestamp_tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        self.reader = reader
        #: Trust anchors of RFC 3161 tokens (none: tokens are reported as not checked, their time not shown).
        self.timestamp_anchors = tuple(timestamp_anchors)
        #: Seconds an authority's time may differ from the block's.
        self.timestamp_tolerance = timestamp_tolerance
        #: False when the registry was taken from the bundle itself (an auditor who gave no --registry):
        #: then the registry check is reported as not checked.
        self.pinned = pinned
        self.registry = checksum_address(reader.registry)
        self.pinned_chain_id = chain_id
        self._chain_id: int | None = None
        self.store = store
        index = None
        if store is not None:
            from registry.store.index import Index

            index = Index.of(store.db, self.registry)
        self.index = index
        self.sources = sources if sources is not None else VersionSources(store, index)
        self._bundle_of = bundle_of
        self._lineage: dict[str, Verifier | None] = {}

    @property
    def chain_id(self) -> int:
        """The endpoint's chain id (asked on first need; ConfigError if it is not the pinned one)."""
        if self._chain_id is None:
            served = self.reader.chain_id()
            if self.pinned_chain_id is not None and served != self.pinned_chain_id:
                raise ConfigError(
                    f"the registry is pinned on chain {self.pinned_chain_id}; the endpoint serves chain {served}"
                )
            self._chain_id = served
        return self._chain_id

    @property
    def known_chain_id(self) -> int | None:
        """The chain id read from the endpoint, else the pinned one (an offline verdict reads none)."""
        return self._chain_id if self._chain_id is not None else self.pinned_chain_id

    @property
    def state_block(self) -> int | None:
        """The block whose state the verdicts read (None while nothing was read from the chain)."""
        return self.reader.state_block() if self._chain_id is not None else None

    # -- files, hashes, record ids

    def verify_file(self, data: bytes, filename: str, bundle: ProofBundle | None = None) -> v.Verdict:
        """A file, with its bundle or looked up by content in the store and index; hashed once."""
        return self.verify_facts(file_facts(data, filename, bundle), bundle)

    def verify_facts(self, facts: FileFacts, bundle: ProofBundle | None = None) -> v.Verdict:
        """A file's facts (from :func:`file_facts`, perhaps computed on a worker) with its bundle or without."""
        if bundle is None:
            from registry.verify.lookup import by_hash

            first: v.Verdict | None = None
            for digest, _method in facts.hashes:
                found = by_hash(self, digest, facts.hint)
                if found.verdict not in (v.UNKNOWN, v.TAMPERED):
                    return found
                first = first or found
            assert first is not None
            return first
        foreign = self._foreign(bundle, facts.bundle_digest)
        if foreign is not None:
            return foreign
        detail = pairing(facts, bundle, self._anchored_id if self.store is not None else None)
        if detail is not None:
            return mismatch_verdict(self, facts, bundle, detail)
        return self.verify_bundle(bundle, facts.bundle_digest, paired=True)

    def verify_hash(self, digest: str, record_hint: str | None = None) -> v.Verdict:
        """A content hash: the anchored record with this content, found in the store and index."""
        from registry.verify.lookup import by_hash

        return by_hash(self, digest.lower(), record_hint)

    def verify_record_id(self, record_id: str) -> v.Verdict:
        """The newest anchored version of a record id (found through the index or outbox)."""
        from registry.verify.lookup import by_record_id

        return by_record_id(self, record_id)

    def _anchored_id(self, digest: str) -> str | None:
        from registry.verify.lookup import anchored_id_of

        return anchored_id_of(self, digest)

    def stored_bundle(self, record: StoredRecord) -> ProofBundle | None:
        """The bundle of an outbox record of this registry, if its batch is anchored."""
        assert self.store is not None
        if self._bundle_of is not None:
            return self._bundle_of(self.store, record)
        from registry.verify.lookup import outbox_bundle

        return outbox_bundle(self.store, record, self.chain_id, self.registry)

    # -- bundles

    def trail(self, bundle: ProofBundle | None, **base: Any) -> _Trail:
        """A new check trail (for verdicts decided outside :meth:`verify_bundle`)."""
        if bundle is not None:
            record_id, anchored = claimed(bundle.value, bundle)
            base = {
                "office": bundle.office,
                "record_id": record_id,
                "content_hash": anchored,
                "root": bundle.root,
                "bundle": bundle,
                **base,
            }
        return _Trail(self, base)

    def _foreign(self, bundle: ProofBundle, content_hash: str | None) -> v.Verdict | None:
        """UNKNOWN (foreign-registry) if the bundle names another registry than the pinned one or a confirmed
        version of it (migration), read offline when it is the pinned one."""
        if bundle.registry.lower() == self.registry.lower() or self._related(bundle.registry) is not None:
            return None
        trail = self.trail(bundle, content_hash=content_hash or claimed(bundle.value, bundle)[1])
        detail = f"the bundle names registry {bundle.registry}; pinned: {self.registry}"
        trail.add(v.C_REGISTRY, v.FAILED, detail)
        return trail.verdict(
            v.UNKNOWN,
            v.R_FOREIGN_REGISTRY,
            f"{detail}: not checked against the bundle's own registry (verify it against its own chain)",
        )

    def _related(self, registry: str) -> Verifier | None:
        """The verifier of a confirmed predecessor or successor of the pinned registry (asked once per registry)."""
        key = registry.lower()
        if key not in self._lineage:
            if not self.pinned:
                self._lineage[key] = None
            else:
                reader = self.reader.related(registry)
                self._lineage[key] = (
                    Verifier(
                        reader,
                        chain_id=self.chain_id,
                        store=None,
                        sources=self.sources,
                        timestamp_anchors=self.timestamp_anchors,
                        timestamp_tolerance=self.timestamp_tolerance,
                    )
                    if reader is not None
                    else None
                )
        return self._lineage[key]

    def verify_bundle(self, bundle: ProofBundle, content_hash: str | None = None, paired: bool = False) -> v.Verdict:
        """A proof bundle against the chain, and ``content_hash`` (a file's, under the bundle's method) against it."""
        foreign = self._foreign(bundle, content_hash)
        if foreign is not None:
            return foreign
        if bundle.registry.lower() != self.registry.lower():
            related = self._related(bundle.registry)
            assert related is not None
            verdict = related.verify_bundle(bundle, content_hash, paired)
            detail = f"registry {related.registry}: a confirmed earlier or later version of the pinned {self.registry}"
            checks = tuple(v.Check(c.name, c.result, detail) if c.name == v.C_REGISTRY else c for c in verdict.checks)
            return replace(verdict, checks=checks)
        value = bundle.value
        leaf = value.leaf()
        record_id, anchored_hash = claimed(value, bundle)
        trail = self.trail(bundle, content_hash=content_hash or anchored_hash)
        if self.pinned:
            trail.add(v.C_REGISTRY, v.PASSED, f"the bundle's registry is the pinned {self.registry}")
        else:
            detail = (
                f"registry {self.registry} taken from the bundle, not pinned:"
                " give --registry ADDRESS --chain-id N (the consortium's published registry) to check it"
            )
            trail.add(v.C_REGISTRY, v.NOT_CHECKED, detail)
        if content_hash is None:
            trail.add(v.C_PAIRING, v.SKIPPED, "no file given: the bundle's own record is checked")
        elif paired:
            trail.add(v.C_PAIRING, v.PASSED, "the file is the bundle's record")
        if self.chain_id != bundle.chain_id:
            detail = f"the bundle is for chain {bundle.chain_id}, the endpoint serves chain {self.chain_id}"
            trail.add(v.C_INCLUSION, v.FAILED, detail)
            return trail.verdict(v.UNKNOWN, v.R_WRONG_CHAIN, detail)
        included, batch, leaf_reason = self.reader.verify_record(
            bundle.office, bundle.root, bundle.proof, value.encode()
        )
        if batch is None:
            detail = f"root {bundle.root} is not anchored by office {bundle.office} in registry {self.registry}"
            trail.add(v.C_INCLUSION, v.FAILED, detail)
            return trail.verdict(v.UNKNOWN, v.R_NOT_ANCHORED, detail)
        # A bundle naming another block than the chain's (its batch anchored again after a reorganisation):
        # its transaction is not the one on the chain, so the verdict names none.
        moved = bundle.block_number != batch.block_number
        trail.base.update(
            office=batch.office,
            block_number=batch.block_number,
            transaction_hash=None if moved else bundle.transaction_hash,
            anchored_at=batch.anchored_at,
            signer=batch.signer,
        )
        if not included:
            trail.add(v.C_INCLUSION, v.FAILED, "the proof does not lead from the record's leaf to the root")
            reason = "the proof does not lead from this record to the anchored root (bundle altered)"
            return trail.verdict(v.TAMPERED, v.R_PROOF_INVALID, reason)
        detail = f"leaf 0x{leaf.hex()} is in batch {bundle.root} (block {batch.block_number})"
        if moved:
            detail += (
                f"; the bundle names block {bundle.block_number} and transaction {bundle.transaction_hash}, which"
                " are not the chain's (the batch was anchored again, e.g. after a reorganisation)"
            )
        trail.add(v.C_INCLUSION, v.PASSED, detail)
        self._time_stamps(trail, bundle, batch.anchored_at)
        if value.canonicalization == SEALED:
            problem = check_reveal(bundle)
            if problem is not None:
                opened = "does not open" in problem
                trail.add(v.C_CONTENT, v.FAILED if opened else v.NOT_CHECKED, problem)
                code = v.R_REVEAL_INVALID if opened else v.R_NO_REVEAL
                return trail.verdict(v.TAMPERED if opened else v.UNKNOWN, code, problem)
        if content_hash is not None and content_hash != anchored_hash:
            detail = f"{record_id} is anchored with content {anchored_hash}; this file hashes to {content_hash}"
            trail.add(v.C_CONTENT, v.FAILED, detail)
            return trail.verdict(v.TAMPERED, v.R_CONTENT_DIFFERS, detail, anchored_hash=anchored_hash)
        if content_hash is None:
            trail.add(v.C_CONTENT, v.SKIPPED, "no file or hash given: the bundle's own content hash is checked")
        else:
            trail.add(v.C_CONTENT, v.PASSED, f"the file hashes to the anchored {anchored_hash}")
        claimed_office = record_id.split(":", 1)[0]
        if claimed_office != batch.office and value.canonicalization != SEALED:
            detail = f"record of office {claimed_office} was anchored by office {batch.office}"
            trail.add(v.C_OWNER, v.FAILED, detail)
            return trail.verdict(v.UNAUTHORISED, v.R_FOREIGN_OFFICE_RECORD, detail)
        if bundle.office != batch.office:
            detail = (
                f"the bundle claims office {bundle.office}; root {bundle.root} was anchored by office {batch.office}"
            )
            trail.add(v.C_OWNER, v.FAILED, detail)
            return trail.verdict(v.UNAUTHORISED, v.R_OFFICE_CLAIM, detail)
        trail.add(v.C_OWNER, v.PASSED, f"batch anchored by {batch.office}, the record's office")
        signer_verdict = self._signer(trail, batch.office, batch.signer, batch.block_number)
        if signer_verdict is not None:
            return signer_verdict
        if batch.revocation_reason:
            why = v.REVOCATION_REASONS.get(batch.revocation_reason, f"reason code {batch.revocation_reason}")
            trail.add(v.C_BATCH_REVOCATION, v.FAILED, f"revoked, reason {batch.revocation_reason} ({why})")
            reason = f"the whole batch was revoked by {batch.office} ({why})"
            return trail.verdict(v.REVOKED, v.R_BATCH_REVOKED, reason)
        trail.add(v.C_BATCH_REVOCATION, v.PASSED, "batch not revoked")
        if leaf_reason:
            why = v.REVOCATION_REASONS.get(leaf_reason, f"reason code {leaf_reason}")
            trail.add(v.C_RECORD_REVOCATION, v.FAILED, f"revoked, reason {leaf_reason} ({why})")
            return trail.verdict(v.REVOKED, v.R_RECORD_REVOKED, f"the record was revoked by {batch.office} ({why})")
        trail.add(v.C_RECORD_REVOCATION, v.PASSED, "record not revoked")
        newer, check = later_version(
            self.reader, self.sources, leaf, record_id, batch.office, batch.root, batch.block_number
        )
        trail.checks.append(check)
        if newer is not None:
            reason = f"a newer version of {record_id} exists (content {newer.content_hash})"
            return trail.verdict(
                v.SUPERSEDED, v.R_SUPERSEDED, reason, superseded_by=f"{newer.record_id}@{newer.content_hash}"
            )
        reason = (
            f"anchored by {batch.office} at {batch.anchored_at} (block {batch.block_number}),"
            f" signer authorised at that block, not revoked"
        )
        return trail.verdict(v.VERIFIED, v.R_VERIFIED, reason)

    def _time_stamps(self, trail: _Trail, bundle: ProofBundle, block_time: str) -> None:
        """The time-stamp check: every token of the bundle over its (anchored) root, offline; never decides the
        verdict, but a token that is not valid and trusted fails the check, is named in the reason, and its time
        is not shown (:func:`registry.timestamps.tokens.check_token`)."""
        if not bundle.timestamps:
            detail = "no time-stamp token in the bundle: the record is dated by its block's time only"
            trail.add(v.C_TIMESTAMPS, v.ABSENT, detail)
            return
        try:
            at: datetime | None = datetime.fromisoformat(block_time.replace("Z", "+00:00"))
        except ValueError:
            at = None
        results = tuple(
            check_token(t, bundle.root, self.timestamp_anchors, at, self.timestamp_tolerance) for t in bundle.timestamps
        )
        trail.base["timestamps"] = results
        parts = "; ".join(f"{r.authority}: {r.status.upper()}, {r.detail}" for r in results)
        if all(r.status == VALID for r in results):
            trail.add(v.C_TIMESTAMPS, v.PASSED, parts)
        elif all(r.status == UNCHECKED for r in results):
            trail.add(v.C_TIMESTAMPS, v.NOT_CHECKED, f"{parts}; give the authorities' trust anchors (--tsa-cert)")
        else:
            bad = [r for r in results if r.status not in (VALID, UNCHECKED)]
            worst = next((r for r in bad if r.status == INVALID), bad[0])
            trail.add(
                v.C_TIMESTAMPS,
                v.FAILED,
                f"{worst.authority}: {worst.status}, {worst.detail}" if len(results) == 1 else parts,
            )

    def _signer(self, trail: _Trail, office: str, signer: str, block: int) -> v.Verdict | None:
        """UNAUTHORISED if ``signer`` was not ``office``'s at ``block`` or is marked compromised from it; else None."""
        if self.reader.is_authorised_at(office, signer, block):
            trail.add(v.C_SIGNER, v.PASSED, f"{signer} was a signer of {office} at block {block}")
            unknown = getattr(self.reader, "marks_unknown", "")  # a reader without compromise marks (the index)
            if unknown:
                trail.add(v.C_COMPROMISE, v.NOT_CHECKED, str(unknown))
                return None
            detail = f"key not marked compromised at or before block {block} (isAuthorisedAt counts the marks)"
            trail.add(v.C_COMPROMISE, v.PASSED, detail)
            return None
        mark = self.reader.compromised_from(office, signer)
        if mark is not None and block >= mark:
            trail.add(v.C_SIGNER, v.FAILED, f"{signer} is not authorised for {office} at block {block}")
            detail = f"signer {signer} of {office} was marked compromised from block {mark}"
            trail.add(v.C_COMPROMISE, v.FAILED, f"{detail}; the batch is at block {block}")
            return trail.verdict(
                v.UNAUTHORISED, v.R_SIGNER_COMPROMISED, f"{detail}; this batch was anchored at block {block}"
            )
        detail = f"signer {signer} was not authorised for {office} at block {block}"
        trail.add(v.C_SIGNER, v.FAILED, detail)
        after = f"marked from block {mark}, after this batch" if mark is not None else "no mark"
        trail.add(v.C_COMPROMISE, v.PASSED, after)
        return trail.verdict(v.UNAUTHORISED, v.R_SIGNER_NOT_AUTHORISED, detail)
