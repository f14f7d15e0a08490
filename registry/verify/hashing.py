"""What a file and a bundle say, offline: a file's content hashes and record id, a bundle's record.

A file is hashed under the canonicalization for its name and that method's earlier versions; the
record id it carries (document or file name) is a hint; a bundle speaks for a record id, a content
hash and a canonicalization (a revealed sealed record's own). No store, no chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.core import canon
from registry.core.formats import ProofBundle
from registry.core.identify import id_from_document
from registry.core.leaves import SEALED, LeafValue
from registry.core.records import RecordId
from registry.errors import CanonicalizationError, InputError


def claimed(value: LeafValue, bundle: ProofBundle) -> tuple[str, str]:
    """(record id, content hash) a bundle speaks for (a revealed sealed record's real ones)."""
    reveal = bundle.extra.get("reveal")
    if value.canonicalization == SEALED and isinstance(reveal, dict):
        return str(reveal.get("recordId")), str(reveal.get("contentHash"))
    return value.record_id, value.content_hash


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


def file_content_hash(data: bytes, bundle: ProofBundle) -> str:
    """The file's content hash under the bundle's canonicalization.

    For a file :func:`registry.verify.verdicts.mismatch` found to be the bundle's record.
    """
    return canon.content_hash(data, bundle_method(bundle))


def bundle_method(bundle: ProofBundle) -> str:
    """The canonicalization the bundle's record was hashed with (a revealed sealed record's own)."""
    method = bundle.value.canonicalization
    if method == SEALED:
        reveal = bundle.extra.get("reveal")
        method = str(reveal.get("canonicalization")) if isinstance(reveal, dict) else canon.RAW
    if method not in canon.CANONICALIZATIONS:
        raise InputError(f"bundle names unknown canonicalization {method[:40]!r}")
    return method


def family(method: str) -> str:
    """The family of a canonicalization identifier, whatever its version (xml, json or the identifier)."""
    return "xml" if canon.is_xml(method) else "json" if canon.is_json(method) else method


def record_hint(data: bytes, filename: str, method: str) -> str | None:
    """The record id a file carries (document or file name), or None: a hint to explain a mismatch."""
    try:
        rid = id_from_document(data, method) or RecordId.from_filename(filename)
    except InputError:
        return None
    return str(rid) if rid else None


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a file says, computed once (on a worker if need be) for one verification.

    Without a bundle: its content hashes under its method and that method's earlier versions, and the
    record id it carries. With a bundle: its hash under the bundle's canonicalization (None if it
    cannot be canonicalized that way), its own canonicalization (the bundle's, if of the same family)
    and hash under it, and, when the hash is not the anchored one, the record id it carries.
    """

    hashes: tuple[tuple[str, str], ...]
    hint: str | None
    natural: str = ""
    bundle_digest: str | None = None
    natural_digest: str | None = None


def file_facts(data: bytes, filename: str, bundle: ProofBundle | None = None) -> FileFacts:
    """The facts of a file for a verification (each canonicalization run once).

    A file malformed for its own canonicalization raises :class:`CanonicalizationError` (bad input).
    """
    if bundle is None:
        hashes = file_hashes(data, filename)
        return FileFacts(tuple(hashes), record_hint(data, filename, hashes[0][1]))
    method = bundle_method(bundle)
    natural = canon.canonicalization_for(filename)
    if family(natural) == family(method):
        natural = method  # an earlier version of the file's own method (e.g. xml-c14n2 for xml-c14n2-v2)
    try:
        digest: str | None = canon.content_hash(data, method)
    except CanonicalizationError:
        if natural == method:
            raise
        digest = None  # e.g. an XML file given a JSON record's bundle
    natural_digest = digest
    if natural != method:
        try:
            natural_digest = canon.content_hash(data, natural)
        except CanonicalizationError:
            natural_digest = digest
    hint = None
    if digest != claimed(bundle.value, bundle)[1]:
        hint = record_hint(data, filename, natural)
    pairs: tuple[tuple[str, str], ...] = ((digest, method),) if digest is not None else ()
    return FileFacts(pairs, hint, natural, digest, natural_digest)
