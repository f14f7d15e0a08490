"""Verdicts: one :class:`Verifier` for every caller. Writes nothing.

Usage::

    from registry import verify

    verifier = verify.Verifier(verify.LiveReader(chain), store=store)
    verdict = verifier.verify_file(data, "EP-1234567-B1.xml", bundle)
    if not verdict.ok:
        print(verdict.verdict, verdict.reason_code, verdict.reason)   # e.g. TAMPERED content-differs …
    print(verdict.registry, verdict.chain_id, verdict.state_block, [c.name for c in verdict.not_checked])

Modules: :mod:`~registry.verify.verifier` (the :class:`Verifier`), :mod:`~registry.verify.verdict` (the
verdicts, reason codes, checks and :class:`Verdict`), :mod:`~registry.verify.readers` (what is read from the
chain, one protocol), :mod:`~registry.verify.versions` (later versions, from the chain),
:mod:`~registry.verify.hashing` (what a file and a bundle say), :mod:`~registry.verify.lookup` (the local
store and index), :mod:`~registry.verify.verdicts` (offline rules and the short forms).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use, so that ``registry.verify.verdict`` alone stays cheap for the CLI
    from registry.verify.hashing import FileFacts, file_content_hash, file_facts, file_hash, file_hashes, record_hint
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
        Check,
        Verdict,
    )
    from registry.verify.verdicts import mismatch, verify_bundle, verify_file, verify_hash, verify_record_id
    from registry.verify.verifier import Verifier
    from registry.verify.versions import VersionSources


_WHERE: dict[str, str] = {
    "FileFacts": "registry.verify.hashing",
    "file_content_hash": "registry.verify.hashing",
    "file_facts": "registry.verify.hashing",
    "file_hash": "registry.verify.hashing",
    "file_hashes": "registry.verify.hashing",
    "record_hint": "registry.verify.hashing",
    "bundle_for_leaf": "registry.verify.lookup",
    "bundle_for_record": "registry.verify.lookup",
    "ChainReader": "registry.verify.readers",
    "LiveReader": "registry.verify.readers",
    "EXIT_CODES": "registry.verify.verdict",
    "MISMATCH": "registry.verify.verdict",
    "REVOCATION_REASONS": "registry.verify.verdict",
    "REVOKED": "registry.verify.verdict",
    "SUPERSEDED": "registry.verify.verdict",
    "TAMPERED": "registry.verify.verdict",
    "UNAUTHORISED": "registry.verify.verdict",
    "UNKNOWN": "registry.verify.verdict",
    "VERIFIED": "registry.verify.verdict",
    "Check": "registry.verify.verdict",
    "Verdict": "registry.verify.verdict",
    "mismatch": "registry.verify.verdicts",
    "verify_bundle": "registry.verify.verdicts",
    "verify_file": "registry.verify.verdicts",
    "verify_hash": "registry.verify.verdicts",
    "verify_record_id": "registry.verify.verdicts",
    "Verifier": "registry.verify.verifier",
    "VersionSources": "registry.verify.versions",
}


def __getattr__(name: str) -> Any:
    """The public names, imported from their module on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'registry.verify' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
    "Check",
    "FileFacts",
    "LiveReader",
    "Verdict",
    "Verifier",
    "VersionSources",
    "bundle_for_leaf",
    "bundle_for_record",
    "file_content_hash",
    "file_facts",
    "file_hash",
    "file_hashes",
    "mismatch",
    "record_hint",
    "verify_bundle",
    "verify_file",
    "verify_hash",
    "verify_record_id",
]
