"""Canonical bytes and content hashes (consensus-critical: no I/O, no other registry modules).

Three canonicalizations, each named in every leaf and proof:

- ``xml-c14n2``: W3C Canonical XML 2.0 with sequential prefix rewriting, without comments,
  whitespace-only text between elements dropped. Parsed with expat; any DOCTYPE (and so any
  entity declaration or external reference) is refused before it is processed.
- ``json-jcs``: RFC 8785 (JSON Canonicalization Scheme). Duplicate keys, NaN/Infinity,
  numbers outside IEEE 754 double range and malformed input are refused.
- ``raw``: the bytes as they are.

The content hash is SHA-256 of the canonical bytes, written ``0x`` + 64 lowercase hex digits.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any, Final
from xml.etree.ElementTree import C14NWriterTarget
from xml.parsers import expat

import rfc8785

from .errors import CanonicalizationError

XML_C14N2: Final = "xml-c14n2"
JSON_JCS: Final = "json-jcs"
RAW: Final = "raw"
CANONICALIZATIONS: Final = (XML_C14N2, JSON_JCS, RAW)

#: Largest document accepted for XML or JSON canonicalization.
MAX_STRUCTURED_BYTES: Final = 64 * 1024 * 1024

_EXTENSIONS: Final = {".xml": XML_C14N2, ".json": JSON_JCS}


def canonicalization_for(filename: str) -> str:
    """The canonicalization a file gets by its name: ``.xml`` -> c14n2, ``.json`` -> JCS, else raw."""
    dot = filename.rfind(".")
    return _EXTENSIONS.get(filename[dot:].lower(), RAW) if dot >= 0 else RAW


def canonical_bytes(data: bytes, method: str) -> bytes:
    """Return the canonical form of ``data`` under ``method``; raise CanonicalizationError if refused."""
    if method == RAW:
        return data
    if len(data) > MAX_STRUCTURED_BYTES:
        raise CanonicalizationError(f"document too large for {method}: {len(data)} bytes")
    if method == XML_C14N2:
        return _c14n2(data)
    if method == JSON_JCS:
        return _jcs(data)
    raise CanonicalizationError(f"unknown canonicalization {method!r} (expected one of {', '.join(CANONICALIZATIONS)})")


def sha256_hex(data: bytes) -> str:
    """``0x``-prefixed SHA-256 of ``data``."""
    return "0x" + hashlib.sha256(data).hexdigest()


def content_hash(data: bytes, method: str) -> str:
    """The content hash of a document: SHA-256 of its canonical bytes."""
    return sha256_hex(canonical_bytes(data, method))


# ------------------------------------------------------------------------------------ XML


def _refuse(what: str) -> Callable[..., None]:
    def handler(*_: Any) -> None:
        raise CanonicalizationError(f"XML refused: {what} not allowed")

    return handler


class _WhitespaceFilter:
    """Feeds a C14NWriterTarget, dropping whitespace-only text between markup."""

    __slots__ = ("_pending", "_target")

    def __init__(self, target: C14NWriterTarget) -> None:
        self._target = target
        self._pending: list[str] = []

    def flush(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            if text.strip(" \t\r\n"):
                self._target.data(text)

    def data(self, text: str) -> None:
        self._pending.append(text)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.flush()
        self._target.start(_clark(name), {_clark(k): v for k, v in attrs.items()} if attrs else attrs)

    def end(self, name: str) -> None:
        self.flush()
        self._target.end(_clark(name))

    def start_ns(self, prefix: str | None, uri: str | None) -> None:
        self.flush()
        self._target.start_ns(prefix or "", uri or "")

    def pi(self, target: str, data: str) -> None:
        self.flush()
        self._target.pi(target, data)


def _clark(name: str) -> str:
    # expat with namespace_separator="}" reports "uri}local"; ElementTree's form is "{uri}local".
    return "{" + name if "}" in name else name


def _c14n2(data: bytes) -> bytes:
    out: list[str] = []
    target = C14NWriterTarget(out.append, with_comments=False, rewrite_prefixes=True)
    feed = _WhitespaceFilter(target)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE (DTD)")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("unparsed entity")
    parser.NotationDeclHandler = _refuse("notation declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity reference")  # type: ignore[assignment]
    parser.StartElementHandler = feed.start
    parser.EndElementHandler = feed.end
    parser.StartNamespaceDeclHandler = feed.start_ns
    parser.CharacterDataHandler = feed.data
    parser.ProcessingInstructionHandler = feed.pi
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise CanonicalizationError(f"malformed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}, column {exc.offset}") from None
    except (ValueError, KeyError) as exc:
        raise CanonicalizationError(f"XML cannot be canonicalized: {exc}") from None
    feed.flush()
    return "".join(out).encode("utf-8")


# ----------------------------------------------------------------------------------- JSON


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalizationError(f"JSON refused: duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise CanonicalizationError(f"JSON refused: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise CanonicalizationError(f"JSON refused: number {text[:40]} is out of range")
    return value


def _jcs(data: bytes) -> bytes:
    if data.startswith(b"\xef\xbb\xbf"):
        raise CanonicalizationError("JSON refused: byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalizationError(f"JSON is not UTF-8: byte {exc.start}") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite_float
        )
    except json.JSONDecodeError as exc:
        raise CanonicalizationError(f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise CanonicalizationError("JSON refused: nested too deeply") from None
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        raise CanonicalizationError(f"JSON cannot be canonicalized: {exc}") from None
