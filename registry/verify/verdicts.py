"""Offline rules of a verification (the pairing of file and bundle, a sealed record's reveal) and the
library's short forms, each one :class:`~registry.verify.verifier.Verifier` call. Writes nothing.

The short forms (:func:`verify_bundle`, :func:`verify_file`, :func:`verify_hash`,
:func:`verify_record_id`) build a verifier over a web3 chain client (pinned to its registry) or the
given reader; callers that verify many records build one :class:`Verifier` and keep it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED, sealed_commitment
from registry.core.records import same_record
from registry.errors import BundleError
from registry.verify import verdict as v
from registry.verify.hashing import FileFacts, bundle_method, claimed

if TYPE_CHECKING:  # web3 (via chain) is imported where a chain is used, so that a bundle check over the
    # light JSON-RPC reader (registry.chain.light) starts without it
    from registry.chain.client import Chain
    from registry.store.outbox import Store
    from registry.verify.readers import ChainReader
    from registry.verify.verifier import Verifier


def check_reveal(bundle: ProofBundle) -> str | None:
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


def pairing(
    facts: FileFacts, bundle: ProofBundle, anchored_id: Callable[[str], str | None] | None = None
) -> str | None:
    """Why ``bundle`` speaks for another record than the file (the MISMATCH reason), or None. Offline.

    The bundle is for another record when its content hash differs from the file's and the file
    cannot be canonicalized the bundle's way, carries another record id (in the document or its
    name), or is anchored under another record id (``anchored_id``: the local store or index, by the
    file's content hash). The same record id with other content is not a mismatch: the bundle's
    verdict (TAMPERED) answers it.
    """
    if bundle.value.canonicalization == SEALED and not isinstance(bundle.extra.get("reveal"), dict):
        return None  # nothing to compare: the bundle's own verdict says so
    record_id, anchored = claimed(bundle.value, bundle)
    digest = facts.bundle_digest
    if digest == anchored:
        return None
    method = bundle_method(bundle)
    mismatched_method = facts.natural != method
    file_id = facts.hint
    if file_id is not None and _same_record(file_id, record_id) and digest is not None:
        return None  # the bundle's record with other content: TAMPERED
    if file_id is None and anchored_id is not None and facts.natural_digest is not None:
        file_id = anchored_id(facts.natural_digest)
    reasons: list[str] = []
    if file_id is not None and not _same_record(file_id, record_id):
        reasons.append(f"this bundle is for {record_id}, the file is {file_id}")
    elif mismatched_method:
        reasons.append(f"this bundle is for {record_id}")
    if mismatched_method:
        reasons.append(f"the file's canonicalization is {facts.natural}, the bundle's {method}")
    return "; ".join(reasons) if reasons else None


def _same_record(a: str, b: str) -> bool:
    """Whether two record ids name one record (the one comparison of the pairing rule)."""
    return same_record(a, b)


def mismatch_verdict(verifier: Verifier, facts: FileFacts, bundle: ProofBundle, detail: str) -> v.Verdict:
    """The MISMATCH verdict of a file and another record's bundle (decided offline)."""
    trail = verifier.trail(
        bundle,
        content_hash=facts.natural_digest,
        anchored_hash=claimed(bundle.value, bundle)[1],
        block_number=bundle.block_number,
        transaction_hash=bundle.transaction_hash,
        anchored_at=bundle.anchored_at,
    )
    trail.add(v.C_REGISTRY, v.PASSED, f"the bundle's registry is the pinned {verifier.registry}")
    trail.add(v.C_PAIRING, v.FAILED, detail)
    return trail.verdict(v.MISMATCH, v.R_OTHER_RECORD, detail + MISMATCH_HINT)


#: What a MISMATCH reason ends with.
MISMATCH_HINT = ": give the file's own bundle (or this bundle's file)"


def mismatch(store: Store | None, data: bytes, filename: str, bundle: ProofBundle) -> v.Verdict | None:
    """MISMATCH if ``bundle`` speaks for another record than the file, else None: offline, no registry pinned
    (the :class:`Verifier` gives the same answer with its provenance). A file malformed for its own
    canonicalization raises :class:`CanonicalizationError` (bad input)."""
    from registry.verify.hashing import file_facts
    from registry.verify.lookup import anchored_id_in

    facts = file_facts(data, filename, bundle)
    detail = pairing(facts, bundle, (lambda d: anchored_id_in(store, bundle.registry, d)) if store else None)
    if detail is None:
        return None
    record_id, anchored = claimed(bundle.value, bundle)
    return v.Verdict(
        v.MISMATCH,
        detail + MISMATCH_HINT,
        office=bundle.office,
        record_id=record_id,
        content_hash=facts.natural_digest,
        root=bundle.root,
        block_number=bundle.block_number,
        transaction_hash=bundle.transaction_hash,
        anchored_at=bundle.anchored_at,
        bundle=bundle,
        anchored_hash=anchored,
        reason_code=v.R_OTHER_RECORD,
        registry=bundle.registry,
        chain_id=bundle.chain_id,
        checks=(v.Check(v.C_PAIRING, v.FAILED, detail),),
    )


# -- short forms


def _verifier(chain: Chain | None, store: Store | None, reader: ChainReader | None) -> Verifier:
    from registry.verify.verifier import Verifier

    if reader is None:
        from registry.verify.readers import LiveReader

        assert chain is not None
        reader = LiveReader(chain)
    dep = chain.deployment if chain is not None else None
    pinned = dep.chain_id if dep is not None and dep.anchor_registry.lower() == reader.registry.lower() else None
    return Verifier(reader, chain_id=pinned, store=store)


def verify_bundle(
    chain: Chain | None,
    bundle: ProofBundle,
    content_hash: str | None = None,
    store: Store | None = None,
    reader: ChainReader | None = None,
) -> v.Verdict:
    """Verify a proof bundle (and ``content_hash``, a file's under the bundle's method) against the chain."""
    return _verifier(chain, store, reader).verify_bundle(bundle, content_hash)


def verify_file(
    chain: Chain | None, store: Store | None, data: bytes, filename: str, bundle: ProofBundle | None = None
) -> v.Verdict:
    """Verify a file, with its bundle or by finding its record through the local store and index."""
    return _verifier(chain, store, None).verify_file(data, filename, bundle)


def verify_hash(chain: Chain | None, store: Store | None, digest: str, record_hint: str | None = None) -> v.Verdict:
    """Verify a content hash through the local store and index."""
    return _verifier(chain, store, None).verify_hash(digest, record_hint)


def verify_record_id(chain: Chain | None, store: Store | None, record_id: str) -> v.Verdict:
    """The verdict of the newest anchored version of a record id (found through the index or outbox)."""
    return _verifier(chain, store, None).verify_record_id(record_id)
