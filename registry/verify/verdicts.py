"""Verdicts: is this record what an office anchored, unchanged, still valid? Writes nothing.

``VERIFIED`` only when every check passes; any failed check gives the most specific other
verdict with the reason in words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from registry.core import canon
from registry.core.records import SEALED, LeafValue, ProofBundle, RecordId, id_from_document, sealed_commitment
from registry.errors import BundleError, CanonicalizationError, InputError
from registry.store.outbox import Store, StoredRecord

if TYPE_CHECKING:  # web3 (via anchor, chain, indexer) is imported where a chain is used, so that a
    # bundle check over the light JSON-RPC reader (registry.chain.light) starts without it
    from registry.chain.client import Chain
    from registry.core.batch import BatchInfo
    from registry.indexer.sync import Index, IndexedLeaf

VERIFIED: Final = "VERIFIED"
TAMPERED: Final = "TAMPERED"
UNKNOWN: Final = "UNKNOWN"
REVOKED: Final = "REVOKED"
SUPERSEDED: Final = "SUPERSEDED"
UNAUTHORISED: Final = "UNAUTHORISED"
#: The proof bundle speaks for another record (another id or canonicalization) than the file given with it.
MISMATCH: Final = "MISMATCH"

#: Exit status of ``ipreg verify`` per verdict (0 only for VERIFIED).
EXIT_CODES: Final = {
    VERIFIED: 0,
    TAMPERED: 3,
    UNKNOWN: 4,
    REVOKED: 5,
    SUPERSEDED: 6,
    UNAUTHORISED: 7,
    MISMATCH: 8,
}
REVOCATION_REASONS: Final = {1: "withdrawn", 2: "published in error", 3: "replaced", 4: "legal order"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a verification, with the provenance found."""

    verdict: str
    reason: str
    office: str | None = None
    record_id: str | None = None
    content_hash: str | None = None
    root: str | None = None
    block_number: int | None = None
    transaction_hash: str | None = None
    anchored_at: str | None = None
    signer: str | None = None
    superseded_by: str | None = None
    bundle: ProofBundle | None = None
    #: The content hash anchored for the record, when it differs from ``content_hash`` (the file's).
    anchored_hash: str | None = None

    @property
    def ok(self) -> bool:
        """True only for VERIFIED."""
        return self.verdict == VERIFIED

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase JSON (CLI ``--json`` and the API)."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "office": self.office,
            "recordId": self.record_id,
            "contentHash": self.content_hash,
            "root": self.root,
            "blockNumber": self.block_number,
            "transactionHash": self.transaction_hash,
            "anchoredAt": self.anchored_at,
            "signer": self.signer,
            "supersededBy": self.superseded_by,
            "anchoredHash": self.anchored_hash,
        }


def _claimed(value: LeafValue, bundle: ProofBundle) -> tuple[str, str]:
    """(record id, content hash) a bundle speaks for (a revealed sealed record's real ones)."""
    reveal = bundle.extra.get("reveal")
    if value.canonicalization == SEALED and isinstance(reveal, dict):
        return str(reveal.get("recordId")), str(reveal.get("contentHash"))
    return value.record_id, value.content_hash


def _check_reveal(bundle: ProofBundle) -> str | None:
    """For a sealed bundle: None if its reveal opens the commitment, else the reason."""
    reveal = bundle.extra.get("reveal")
    if not isinstance(reveal, dict):
        return "sealed record: the bundle carries no reveal (salt), nothing to compare"
    try:
        salt = bytes.fromhex(str(reveal["salt"]).removeprefix("0x"))
        commitment = sealed_commitment(
            salt, str(reveal["recordId"]), str(reveal["contentHash"]), str(reveal["canonicalization"])
        )
    except (KeyError, ValueError, BundleError) as exc:
        raise BundleError(f"malformed reveal in sealed bundle: {exc}") from None
    if commitment != bundle.value.content_hash:
        return "the reveal does not open the sealed commitment"
    return None


class ChainReader(Protocol):
    """What a verification reads from the chain: live calls, or an audit's per-batch cache."""

    def chain_id(self) -> int:
        """Chain id of the endpoint."""
        ...

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """(the leaf of ABI-encoded ``values`` is in the batch (office, root), the batch or None, revocation)."""
        ...

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """Whether ``signer`` was a signer of ``office``, not marked compromised, at ``block_number``."""
        ...


class LiveReader:
    """A :class:`ChainReader` making the contract calls for every record."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def chain_id(self) -> int:
        """Chain id of the endpoint."""
        return int(self.chain.rpc(lambda: self.chain.w3.eth.chain_id))

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """``verifyRecord`` on chain (the contract hashes the values into the leaf)."""
        return self.chain.verify_record(office, root, proof, values)

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt`` on chain."""
        return self.chain.is_authorised_at(office, signer, block_number)


def verify_bundle(
    chain: Chain,
    bundle: ProofBundle,
    content_hash: str | None = None,
    store: Store | None = None,
    reader: ChainReader | None = None,
) -> Verdict:
    """Verify a proof bundle against the chain, and ``content_hash`` (of a file) against the bundle.

    ``reader`` replaces the live contract calls (an audit passes a per-batch cache).
    """
    reader = reader or LiveReader(chain)
    value = bundle.value
    leaf = value.leaf()
    record_id, anchored_hash = _claimed(value, bundle)
    base: dict[str, Any] = {
        "office": bundle.office,
        "record_id": record_id,
        "content_hash": content_hash or anchored_hash,
        "root": bundle.root,
        "bundle": bundle,
    }
    chain_id = reader.chain_id()
    if chain_id != bundle.chain_id:
        return Verdict(
            UNKNOWN,
            f"the bundle is for chain {bundle.chain_id}, the endpoint serves chain {chain_id}",
            **base,
        )
    included, batch, leaf_reason = reader.verify_record(bundle.office, bundle.root, bundle.proof, value.encode())
    if batch is None:
        return Verdict(
            UNKNOWN,
            f"root {bundle.root} is not anchored by office {bundle.office} in registry {bundle.registry}",
            **base,
        )
    base.update(
        office=batch.office,
        block_number=batch.block_number,
        transaction_hash=bundle.transaction_hash,
        anchored_at=batch.anchored_at,
        signer=batch.signer,
    )
    if not included:
        return Verdict(
            TAMPERED, "the proof does not lead from this record to the anchored root (bundle altered)", **base
        )
    if value.canonicalization == SEALED:
        problem = _check_reveal(bundle)
        if problem:
            return Verdict(TAMPERED if "does not open" in problem else UNKNOWN, problem, **base)
    if content_hash is not None and content_hash != anchored_hash:
        return Verdict(
            TAMPERED,
            f"{record_id} is anchored with content {anchored_hash}; this file hashes to {content_hash}",
            anchored_hash=anchored_hash,
            **base,
        )
    claimed_office = record_id.split(":", 1)[0]
    if claimed_office != batch.office and value.canonicalization != SEALED:
        return Verdict(UNAUTHORISED, f"record of office {claimed_office} was anchored by office {batch.office}", **base)
    if bundle.office != batch.office:
        return Verdict(
            UNAUTHORISED,
            f"the bundle claims office {bundle.office}; root {bundle.root} was anchored by office {batch.office}",
            **base,
        )
    if not reader.is_authorised_at(batch.office, batch.signer, batch.block_number):
        compromised = chain.compromised_from(batch.office, batch.signer)
        if compromised is not None and batch.block_number >= compromised:
            return Verdict(
                UNAUTHORISED,
                f"signer {batch.signer} of {batch.office} was marked compromised from block {compromised};"
                f" this batch was anchored at block {batch.block_number}",
                **base,
            )
        return Verdict(
            UNAUTHORISED,
            f"signer {batch.signer} was not authorised for {batch.office} at block {batch.block_number}",
            **base,
        )
    if batch.revocation_reason:
        why = REVOCATION_REASONS.get(batch.revocation_reason, f"reason code {batch.revocation_reason}")
        return Verdict(REVOKED, f"the whole batch was revoked by {batch.office} ({why})", **base)
    if leaf_reason:
        why = REVOCATION_REASONS.get(leaf_reason, f"reason code {leaf_reason}")
        return Verdict(REVOKED, f"the record was revoked by {batch.office} ({why})", **base)
    newer = _newer_version(chain, store, leaf, record_id, batch.office)
    if newer is not None:
        return Verdict(
            SUPERSEDED,
            f"a newer version of {record_id} exists (content {newer[1]})",
            superseded_by=f"{newer[0]}@{newer[1]}",
            **base,
        )
    return Verdict(
        VERIFIED,
        f"anchored by {batch.office} at {batch.anchored_at} (block {batch.block_number}),"
        f" signer authorised at that block, not revoked",
        **base,
    )


def file_hash(data: bytes, filename: str, canonicalization: str | None = None) -> tuple[str, str]:
    """(content hash, canonicalization) of a file's bytes."""
    method = canonicalization or canon.canonicalization_for(filename)
    return canon.content_hash(data, method), method


def file_hashes(data: bytes, filename: str) -> list[tuple[str, str]]:
    """(content hash, canonicalization) of a file under the method for its name, then its earlier versions.

    Records anchored before a method's new version carry the old identifier, so a file verified
    without its bundle is looked up under those too. A method that refuses the file is skipped; if
    all do, the current method's error is raised.
    """
    method = canon.canonicalization_for(filename)
    found: list[tuple[str, str]] = []
    error: InputError | None = None
    for m in (method, *canon.EARLIER.get(method, ())):
        try:
            digest = canon.content_hash(data, m)
        except InputError as exc:
            error = error or exc
            continue
        if all(digest != d for d, _ in found):
            found.append((digest, m))
    if not found:
        assert error is not None
        raise error
    return found


def first_known(hashes: list[tuple[str, str]], lookup: Callable[[str], Verdict]) -> Verdict:
    """The verdict of the first hash that finds its record; else that of the first hash."""
    first: Verdict | None = None
    for digest, _method in hashes:
        verdict = lookup(digest)
        if verdict.verdict not in (UNKNOWN, TAMPERED):
            return verdict
        first = first or verdict
    assert first is not None
    return first


def verify_file(
    chain: Chain, store: Store | None, data: bytes, filename: str, bundle: ProofBundle | None = None
) -> Verdict:
    """Verify a file, with its bundle or by finding its record through the local store/index."""
    if bundle is not None:
        return _verify_file_with_bundle(chain, store, data, filename, bundle)
    hashes = file_hashes(data, filename)
    hint = record_hint(data, filename, hashes[0][1])
    return first_known(hashes, lambda d: verify_hash(chain, store, d, record_hint=hint))


def _verify_file_with_bundle(
    chain: Chain, store: Store | None, data: bytes, filename: str, bundle: ProofBundle
) -> Verdict:
    """A file against a bundle: MISMATCH when the bundle speaks for another record, else the bundle's verdict."""
    found = mismatch(store, data, filename, bundle)
    if found is not None:
        return found
    method = _bundle_method(bundle)
    return verify_bundle(chain, bundle, canon.content_hash(data, method), store)


def file_content_hash(data: bytes, bundle: ProofBundle) -> str:
    """The file's content hash under the bundle's canonicalization (after :func:`mismatch` found none)."""
    return canon.content_hash(data, _bundle_method(bundle))


def _bundle_method(bundle: ProofBundle) -> str:
    """The canonicalization the bundle's record was hashed with (a revealed sealed record's own)."""
    method = bundle.value.canonicalization
    if method == SEALED:
        reveal = bundle.extra.get("reveal")
        method = str(reveal.get("canonicalization")) if isinstance(reveal, dict) else canon.RAW
    if method not in canon.CANONICALIZATIONS:
        raise InputError(f"bundle names unknown canonicalization {method!r}")
    return method


def _family(method: str) -> str:
    """The family of a canonicalization identifier, whatever its version (xml, json or the identifier)."""
    return "xml" if canon.is_xml(method) else "json" if canon.is_json(method) else method


def mismatch(store: Store | None, data: bytes, filename: str, bundle: ProofBundle) -> Verdict | None:
    """MISMATCH if ``bundle`` speaks for another record than the file, else None. Offline (no chain call).

    The bundle is for another record when its content hash differs from the file's and the file
    cannot be canonicalized the bundle's way, carries another record id (in the document or its
    name), or is anchored under another record id in the local store or index. The same record id
    with other content is not a mismatch: the bundle's verdict (TAMPERED) answers it. A file that is
    malformed for its own canonicalization raises :class:`CanonicalizationError` (bad input).
    """
    method = _bundle_method(bundle)
    natural = canon.canonicalization_for(filename)
    if _family(natural) == _family(method):
        natural = method  # an earlier version of the file's own method (e.g. xml-c14n2 for xml-c14n2-v2)
    try:
        digest: str | None = canon.content_hash(data, method)
    except CanonicalizationError:
        if natural == method:
            raise
        digest = None  # e.g. an XML file given a JSON record's bundle
    if bundle.value.canonicalization == SEALED and not isinstance(bundle.extra.get("reveal"), dict):
        return None  # nothing to compare: the bundle's own verdict says so
    record_id, anchored = _claimed(bundle.value, bundle)
    if digest == anchored:
        return None
    file_id = record_hint(data, filename, natural)
    if file_id == record_id and digest is not None:
        return None  # the bundle's record with other content: TAMPERED
    if file_id is None and store is not None:
        file_id = _anchored_id_of(store, bundle.registry, data, natural)
    reasons: list[str] = []
    if file_id is not None and file_id != record_id:
        reasons.append(f"this bundle is for {record_id}, the file is {file_id}")
    elif natural != method:
        reasons.append(f"this bundle is for {record_id}")
    if natural != method:
        reasons.append(f"the file's canonicalization is {natural}, the bundle's {method}")
    if not reasons:
        return None
    file_digest = digest
    if natural != method:
        try:
            file_digest = canon.content_hash(data, natural)
        except CanonicalizationError:
            file_digest = digest
    return Verdict(
        MISMATCH,
        "; ".join(reasons) + ": give the file's own bundle (or this bundle's file)",
        office=bundle.office,
        record_id=record_id,
        content_hash=file_digest,
        root=bundle.root,
        block_number=bundle.block_number,
        transaction_hash=bundle.transaction_hash,
        anchored_at=bundle.anchored_at,
        bundle=bundle,
        anchored_hash=anchored,
    )


def _anchored_id_of(store: Store, registry: str, data: bytes, method: str) -> str | None:
    """The record id under which this content is anchored, per the local store or index, or None."""
    try:
        digest = canon.content_hash(data, method)
    except CanonicalizationError:
        return None
    records = [r for r in store.records_by_hash(digest) if r.salt is None]
    if records:
        return records[-1].record_id
    from registry.indexer.sync import Index

    index = Index.of(store.db, registry)
    leaves = index.leaves_by_hash(digest) if index is not None else []
    return leaves[-1].record_id if leaves else None


def record_hint(data: bytes, filename: str, method: str) -> str | None:
    """The record id a file carries (document or file name), or None: a hint to explain a mismatch."""
    try:
        rid = id_from_document(data, method) or RecordId.from_filename(filename)
    except InputError:
        return None
    return str(rid) if rid else None


def verify_hash(chain: Chain, store: Store | None, digest: str, record_hint: str | None = None) -> Verdict:
    """Verify a content hash through the local store and index: the anchored record with this content."""
    if store is None:
        return Verdict(
            UNKNOWN,
            "no local store or index to look the record up; give its proof bundle",
            content_hash=digest,
        )
    candidates = [r for r in store.records_by_hash(digest) if r.salt is None]
    for record in reversed(candidates):
        bundle = _bundle_for(chain, store, record)
        if bundle is not None:
            return verify_bundle(chain, bundle, digest, store)
    index = _index(chain, store)
    indexed = index.leaves_by_hash(digest) if index is not None else []
    if index is not None and indexed:
        own = [x for x in indexed if x.record_id.split(":", 1)[0] == x.office]  # anchored by its own office
        leaf = ([x for x in indexed if x.record_id == record_hint] or own or indexed)[-1]
        return verify_bundle(chain, _index_bundle(chain, index, leaf), digest, store)
    if candidates:
        r = candidates[-1]
        return Verdict(
            UNKNOWN,
            f"{r.record_id} with this content is accepted but not anchored yet",
            office=r.office,
            record_id=r.record_id,
            content_hash=digest,
        )
    if record_hint:
        versions = [v for v in store.versions(record_hint) if v.salt is None]
        if versions:
            known = versions[-1]
            bundle = _bundle_for(chain, store, known)
            return Verdict(
                TAMPERED,
                f"{record_hint} is anchored with content {known.content_hash}; this file hashes to {digest}",
                office=known.office,
                record_id=record_hint,
                content_hash=digest,
                anchored_hash=known.content_hash,
                root=bundle.root if bundle else None,
                block_number=bundle.block_number if bundle else None,
                transaction_hash=bundle.transaction_hash if bundle else None,
                anchored_at=bundle.anchored_at if bundle else None,
            )
        known_leaf = index.versions(record_hint)[-1:] if index is not None else []
        if known_leaf:
            k = known_leaf[0]
            return Verdict(
                TAMPERED,
                f"{record_hint} is anchored with content {k.content_hash}; this file hashes to {digest}",
                office=k.office,
                record_id=record_hint,
                content_hash=digest,
                anchored_hash=k.content_hash,
                root=k.root,
                block_number=k.block_number,
                transaction_hash=k.tx_hash,
                anchored_at=_utc_iso(k.timestamp),
            )
    return Verdict(
        UNKNOWN,
        "nothing anchored matches this content" + (f" or record id {record_hint}" if record_hint else ""),
        record_id=record_hint,
        content_hash=digest,
    )


def _utc_iso(timestamp: int) -> str:
    from registry.core.batch import utc_iso

    return utc_iso(timestamp)


def _bundle_for(chain: Chain, store: Store, record: StoredRecord) -> ProofBundle | None:
    if record.batch_id is None:
        return None
    batch = store.batch(record.batch_id)
    if batch.status != "anchored":
        return None
    from registry.anchor.pipeline import batch_bundles

    for stored, bundle in batch_bundles(store, chain, batch):
        if stored.id == record.id:
            return bundle
    return None


# ---------------------------------------------------------------------------- lookups (outbox and index)


def _index(chain: Chain, store: Store) -> Index | None:
    """The store's index, if it follows this chain's AnchorRegistry."""
    from registry.indexer.sync import Index

    return Index.of(store.db, chain.deployment.anchor_registry if chain.deployment is not None else None)


def _newer_version(
    chain: Chain, store: Store | None, leaf: bytes, record_id: str, office: str
) -> tuple[str, str] | None:
    """(record id, content hash) of the version superseding ``leaf``, from the outbox or the index."""
    if store is None:
        return None
    newer = store.superseded_by(leaf)
    if newer is not None:
        return newer.record_id, newer.content_hash
    index = _index(chain, store)
    found = index.superseded_by("0x" + leaf.hex(), office, record_id) if index is not None else None
    return (found.record_id, found.content_hash) if found is not None else None


def _index_bundle(chain: Chain, index: Index, leaf: IndexedLeaf) -> ProofBundle:
    dep = chain.deployment
    if dep is None:
        meta = index.meta()
        return index.bundle(leaf, int(meta["chainId"]), meta["anchorRegistry"])
    return index.bundle(leaf, dep.chain_id, dep.anchor_registry)


def bundle_for_leaf(chain: Chain, store: Store, leaf: str | bytes, root: str | None = None) -> ProofBundle | None:
    """The proof bundle of an anchored leaf hash (optionally in batch ``root``), from the index or outbox."""
    leaf_hex = leaf.lower() if isinstance(leaf, str) else "0x" + leaf.hex()
    index = _index(chain, store)
    if index is not None:
        found = [x for x in index.leaves_by_leaf(leaf_hex) if root is None or x.root == root.lower()]
        if found:
            return _index_bundle(chain, index, found[0])
    try:
        record = store.record_by_leaf(bytes.fromhex(leaf_hex.removeprefix("0x")))
    except ValueError:
        raise InputError(f"invalid leaf hash {leaf_hex[:80]!r}") from None
    bundle = _bundle_for(chain, store, record) if record is not None else None
    return bundle if bundle is not None and (root is None or bundle.root == root.lower()) else None


def bundle_for_record(
    chain: Chain, store: Store, record_id: str, content_hash: str | None = None
) -> ProofBundle | None:
    """The proof bundle of the newest anchored version of ``record_id`` (or the one with ``content_hash``)."""
    rid = str(RecordId.parse(record_id))
    best: ProofBundle | None = None
    index = _index(chain, store)
    if index is not None:
        versions = [v for v in index.versions(rid) if content_hash is None or v.content_hash == content_hash]
        if versions:
            best = _index_bundle(chain, index, versions[-1])
    for record in reversed(store.versions(rid)):
        if record.salt is not None or (content_hash is not None and record.content_hash != content_hash):
            continue
        bundle = _bundle_for(chain, store, record)
        if bundle is not None:
            if best is None or bundle.block_number > best.block_number:
                best = bundle
            break
    return best


def verify_record_id(chain: Chain, store: Store | None, record_id: str) -> Verdict:
    """The verdict of the newest anchored version of a record id (found through the index or outbox)."""
    rid = str(RecordId.parse(record_id))
    bundle = bundle_for_record(chain, store, rid) if store is not None else None
    if bundle is None:
        return Verdict(
            UNKNOWN,
            f"no anchored version of {rid} is known to the local store or index",
            office=rid.split(":", 1)[0],
            record_id=rid,
        )
    return verify_bundle(chain, bundle, None, store)
