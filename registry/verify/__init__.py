"""Verdicts: one verification for every caller. Writes nothing.

Usage::

    from registry import verify

    verdict = verify.verify_file(chain, store, data, "EP-1234567-B1.xml", bundle)
    if not verdict.ok:
        print(verdict.verdict, verdict.reason)          # e.g. TAMPERED, and why

Modules: :mod:`~registry.verify.verdict` (the verdicts and :class:`Verdict`), :mod:`~registry.verify.verdicts`
(the verifications), :mod:`~registry.verify.readers` (what is read from the chain),
:mod:`~registry.verify.hashing` (what a file and a bundle say), :mod:`~registry.verify.lookup` (the local
store and index).
"""

from registry.verify.hashing import file_content_hash, file_hash, file_hashes, record_hint
from registry.verify.lookup import bundle_for_leaf, bundle_for_record
from registry.verify.readers import ChainReader, LiveReader
from registry.verify.verdict import (
    EXIT_CODES,
    MISMATCH,
    REVOCATION_REASONS,
    REVOKED,
    SUPERSEDED,
    TAMPERED,
    UNAUTHORISED,
    UNKNOWN,
    VERIFIED,
    Verdict,
)
from registry.verify.verdicts import (
    first_known,
    mismatch,
    verify_bundle,
    verify_file,
    verify_hash,
    verify_record_id,
)

__all__ = [
    "EXIT_CODES",
    "MISMATCH",
    "REVOCATION_REASONS",
    "REVOKED",
    "SUPERSEDED",
    "TAMPERED",
    "UNAUTHORISED",
    "UNKNOWN",
    "VERIFIED",
    "ChainReader",
    "LiveReader",
    "Verdict",
    "bundle_for_leaf",
    "bundle_for_record",
    "file_content_hash",
    "file_hash",
    "file_hashes",
    "first_known",
    "mismatch",
    "record_hint",
    "verify_bundle",
    "verify_file",
    "verify_hash",
    "verify_record_id",
]
