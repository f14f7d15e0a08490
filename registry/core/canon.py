"""Canonical bytes and content hashes (consensus-critical: no I/O, no network, no store or chain).

Each canonicalization has an identifier that is written in every leaf and proof and fixes the
bytes exactly; registry/canonicalization.md specifies each one precisely enough for a second
implementation. New records are anchored with :data:`CURRENT`:

- ``xml-c14n2-v3``: W3C Canonical XML 2.0 with IgnoreComments=true, TrimTextNodes=false (only
  whitespace-only text inside ST.96 elements whose schema content model is element-only is
  dropped, see :mod:`registry.core.st96`) and no prefix rewriting: names keep their prefixes and
  every element carries the declarations that give it exactly the source's in-scope namespaces, so
  every QName-valued attribute or text resolves as in the source. Only the character encodings
  listed in registry/canonicalization.md 1.1 (read alike by Python and libxml2); DTDs, entities and
  external references are refused.
- ``json-jcs-v2``: RFC 8785 (JCS) where a number is accepted only if its exact decimal value is the
  value of an IEEE 754 double, so no two different numbers share a hash.
- ``raw``: the bytes as they are.

Verification also accepts the identifiers written earlier: ``xml-c14n2-v2`` (frozen in
:mod:`registry.core._canon_v2`), ``xml-c14n2`` and ``json-jcs`` (frozen in
:mod:`registry.core._canon_v1`); nothing new is anchored with them. The content hash is SHA-256 of
the canonical bytes, written ``0x`` + 64 lowercase hex digits.

This module names the methods and dispatches; the algorithms live in :mod:`registry.core.xml_c14n2`
and :mod:`registry.core.json_jcs`, reading outside JSON in :mod:`registry.core.json_limits`.
"""

from __future__ import annotations

import hashlib
from typing import Final

from registry.core import _canon_v1, _canon_v2, json_jcs, xml_c14n2
from registry.core.json_limits import MAX_JSON_DEPTH, check_json_depth, load_json
from registry.core.xml_c14n2 import MAX_XML_DEPTH
from registry.errors import CanonicalizationError

__all__ = [
    "CANONICALIZATIONS",
    "CURRENT",
    "EARLIER",
    "JSON_JCS",
    "JSON_JCS_V1",
    "LEGACY",
    "MAX_JSON_DEPTH",
    "MAX_STRUCTURED_BYTES",
    "MAX_XML_DEPTH",
    "RAW",
    "XML_C14N2",
    "XML_C14N2_V1",
    "XML_C14N2_V2",
    "canonical_bytes",
    "canonicalization_for",
    "check_json_depth",
    "content_hash",
    "for_anchoring",
    "is_json",
    "is_xml",
    "load_json",
    "sha256_hex",
]

XML_C14N2: Final = "xml-c14n2-v3"
JSON_JCS: Final = "json-jcs-v2"
RAW: Final = "raw"
#: Identifiers written earlier: accepted for verification, never used for new records.
XML_C14N2_V2: Final = "xml-c14n2-v2"
XML_C14N2_V1: Final = "xml-c14n2"
JSON_JCS_V1: Final = "json-jcs"
#: What new records are anchored with.
CURRENT: Final = (XML_C14N2, JSON_JCS, RAW)
LEGACY: Final = (XML_C14N2_V2, XML_C14N2_V1, JSON_JCS_V1)
#: Every identifier the project has ever written (verification accepts all of them).
CANONICALIZATIONS: Final = (*CURRENT, *LEGACY)
#: For a current method, the earlier identifiers of the same family, newest first.
EARLIER: Final[dict[str, tuple[str, ...]]] = {
    XML_C14N2: (XML_C14N2_V2, XML_C14N2_V1),
    JSON_JCS: (JSON_JCS_V1,),
}

#: Largest document accepted for XML or JSON canonicalization.
MAX_STRUCTURED_BYTES: Final = 64 * 1024 * 1024

_EXTENSIONS: Final = {".xml": XML_C14N2, ".json": JSON_JCS}


def canonicalization_for(filename: str) -> str:
    """The canonicalization new records get by file name: ``.xml`` -> xml-c14n2-v3, ``.json`` -> json-jcs-v2, else raw.

    Verification must hash with the method named in the leaf or bundle, not with this guess.
    """
    dot = filename.rfind(".")
    return _EXTENSIONS.get(filename[dot:].lower(), RAW) if dot >= 0 else RAW


def for_anchoring(method: str) -> str:
    """``method`` if new records may be anchored with it; CanonicalizationError for old or unknown ones."""
    if method in CURRENT:
        return method
    if method in LEGACY:
        newer = next(m for m, old in EARLIER.items() if method in old)
        raise CanonicalizationError(f"{method} is kept for verifying old records only; anchor with {newer}")
    raise CanonicalizationError(f"unknown canonicalization {method!r} (expected one of {', '.join(CURRENT)})")


def is_xml(method: str) -> bool:
    """Whether ``method`` is an XML canonicalization (any version)."""
    return method in (XML_C14N2, XML_C14N2_V2, XML_C14N2_V1)


def is_json(method: str) -> bool:
    """Whether ``method`` is a JSON canonicalization (any version)."""
    return method in (JSON_JCS, JSON_JCS_V1)


def canonical_bytes(data: bytes, method: str) -> bytes:
    """Return the canonical form of ``data`` under ``method``; raise CanonicalizationError if refused."""
    if method == RAW:
        return data
    if method not in CANONICALIZATIONS:
        raise CanonicalizationError(
            f"unknown canonicalization {method!r} (expected one of {', '.join(CANONICALIZATIONS)})"
        )
    if len(data) > MAX_STRUCTURED_BYTES:
        raise CanonicalizationError(f"document too large for {method}: {len(data)} bytes")
    if method == XML_C14N2:
        return xml_c14n2.canonicalize(data)
    if method == JSON_JCS:
        return json_jcs.canonicalize(data)
    if method == XML_C14N2_V2:
        return _canon_v2.c14n2_v2(data)
    if method == XML_C14N2_V1:
        return _canon_v1.c14n2(data)
    return _canon_v1.jcs(data)


def sha256_hex(data: bytes) -> str:
    """``0x``-prefixed SHA-256 of ``data``."""
    return "0x" + hashlib.sha256(data).hexdigest()


def content_hash(data: bytes, method: str) -> str:
    """The content hash of a document: SHA-256 of its canonical bytes."""
    return sha256_hex(canonical_bytes(data, method))
