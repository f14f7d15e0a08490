"""The first canonicalizations, ``xml-c14n2`` and ``json-jcs``: frozen, kept for verification only.

Every leaf the project wrote before ``xml-c14n2-v2`` / ``json-jcs-v2`` names one of these
identifiers, so their bytes must never change. New records are anchored with the current methods
(registry/core/canon.py; ``xml-c14n2-v2`` is frozen in registry/core/_canon_v2.py); see
registry/canonicalization.md section 4 for why (v1 drops whitespace-only text
everywhere, keeps a stale prefix in QName values and refuses some RFC 8785 canonical numbers).
Do not edit the algorithms below.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final
from xml.parsers import expat

import rfc8785

from registry.core.json_limits import check_json_depth
from registry.errors import CanonicalizationError

# ------------------------------------------------------------------------------------ XML

_XML_NS: Final = "http://www.w3.org/XML/1998/namespace"


def _refuse(what: str) -> Callable[..., None]:
    def handler(*_: Any) -> None:
        raise CanonicalizationError(f"XML refused: {what} not allowed")

    return handler


def _escape_text(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    return text


def _escape_attr(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\t" in text:
        text = text.replace("\t", "&#x9;")
    if "\n" in text:
        text = text.replace("\n", "&#xA;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    return text


_NONE: Final[list[str]] = []


@lru_cache(maxsize=4096)
def _split(name: str) -> tuple[str, str]:
    # expat with namespace_separator="}" reports "uri}local" (no separator: no namespace)
    uri, sep, local = name.rpartition("}")
    return (uri, local) if sep else ("", name)


def _clark(name: str) -> str:
    return "{" + name if "}" in name else name


def _sort_key(name: str) -> list[str]:
    # ElementTree's C14NWriterTarget orders names by their Clark form "{uri}local" split at "}"
    uri, local = _split(name)
    return ["{" + uri, local] if uri or "}" in name else [local]


class _C14N2Writer:
    """Canonical XML 2.0 (sequential prefix rewriting, no comments) from expat events.

    Produces what ``xml.etree.ElementTree.C14NWriterTarget(rewrite_prefixes=True)`` does (the test
    suite checks this), specialised for speed, with two differences: whitespace-only text is
    dropped, and names in no namespace stay unprefixed instead of getting a prefix bound to the
    empty namespace (``xmlns:n0=""``), which is not well-formed XML. The output parses again.
    """

    __slots__ = ("_in_scope", "_out", "_pending", "_prefixes", "_root_done", "_root_seen", "_stack")

    def __init__(self) -> None:
        self._out: list[str] = []
        self._pending: list[str] = []
        self._prefixes: dict[str, str] = {}
        self._in_scope: dict[str, int] = {_XML_NS: 1, "": 1}  # names in no namespace stay unprefixed
        self._stack: list[list[str]] = []
        self._root_seen = False
        self._root_done = False

    def _flush(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        if self._root_seen and text.strip(" \t\r\n"):
            self._out.append(_escape_text(text))

    def data(self, text: str) -> None:
        self._pending.append(text)

    def _qname(self, name: str, new: list[str]) -> tuple[str, str]:
        uri, local = _split(name)
        if uri == _XML_NS:
            return "xml:" + local, uri
        if not uri:
            return local, uri
        prefix = self._prefixes.get(uri)
        if prefix is None:
            prefix = self._prefixes[uri] = f"n{len(self._prefixes)}"
        if not self._in_scope.get(uri):
            self._in_scope[uri] = 1
            new.append(uri)
        return f"{prefix}:{local}", uri

    def _tag(self, uri: str, local: str) -> str:
        if not uri:
            return local
        return f"{self._prefixes[uri] if uri != _XML_NS else 'xml'}:{local}"

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self._pending:
            self._flush()
        if not attrs:
            uri, local = _split(name)
            if self._in_scope.get(uri):  # the common case: a known namespace, no attributes
                self._out.append(f"<{self._tag(uri, local)}>")
                self._stack.append(_NONE)
                self._root_seen = True
                return
        new: list[str] = []
        qnames: dict[str, tuple[str, str]] = {}
        for n in sorted({name, *attrs}, key=_sort_key) if attrs else (name,):
            qnames[n] = self._qname(n, new)
        parts = ["<", qnames[name][0]]
        if new:
            prefixes = self._prefixes
            for prefix, uri in sorted((prefixes[u], u) for u in new):
                parts.append(f' xmlns:{prefix}="{_escape_attr(uri)}"')
        if attrs:
            for key in sorted(attrs, key=_clark):
                qname, uri = qnames[key]
                parts.append(f' {qname if uri else _split(key)[1]}="{_escape_attr(attrs[key])}"')
        parts.append(">")
        self._out.append("".join(parts))
        self._stack.append(new or _NONE)
        self._root_seen = True

    def end(self, name: str) -> None:
        if self._pending:
            self._flush()
        uri, local = _split(name)
        self._out.append(f"</{self._tag(uri, local)}>")
        new = self._stack.pop()
        if new:
            for u in new:
                self._in_scope[u] -= 1
        self._root_done = not self._stack

    def pi(self, target: str, data: str) -> None:
        if self._root_done:
            self._out.append("\n")
        elif self._root_seen and self._pending:
            self._flush()
        self._pending.clear()
        self._out.append(f"<?{target} {_escape_text(data)}?>" if data else f"<?{target}?>")
        if not self._root_seen:
            self._out.append("\n")

    def result(self) -> bytes:
        return "".join(self._out).encode("utf-8")


#: Encodings expat decodes itself; others would depend on the platform's Python codecs.
XML_ENCODINGS: Final = frozenset(
    {"utf-8", "utf8", "utf-16", "utf16", "iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"}
)
_XML_DECL_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def c14n2(data: bytes) -> bytes:
    """``xml-c14n2`` (v1) canonical bytes; verification only."""
    declared = _XML_DECL_ENCODING.match(data)
    if declared and declared.group(1).decode("ascii").lower() not in XML_ENCODINGS:
        raise CanonicalizationError(
            f"XML refused: encoding {declared.group(1).decode('ascii')!r} (use UTF-8, UTF-16, ISO-8859-1 or US-ASCII)"
        )
    writer = _C14N2Writer()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE (DTD)")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("unparsed entity")
    parser.NotationDeclHandler = _refuse("notation declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity reference")  # type: ignore[assignment]
    parser.StartElementHandler = writer.start
    parser.EndElementHandler = writer.end
    parser.CharacterDataHandler = writer.data
    parser.ProcessingInstructionHandler = writer.pi
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise CanonicalizationError(
            f"malformed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}, column {exc.offset}"
        ) from None
    except (ValueError, KeyError, RecursionError) as exc:
        raise CanonicalizationError(f"XML cannot be canonicalized: {exc}") from None
    except LookupError as exc:
        raise CanonicalizationError(f"XML refused: unsupported encoding ({exc})") from None
    return writer.result()


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


def _json_int(text: str) -> int | float:
    if len(text) > 310:  # beyond any double
        raise CanonicalizationError(f"JSON refused: integer of {len(text)} digits is out of range")
    value = int(text)
    if abs(value) < 2**53:
        return value
    try:
        as_float = float(value)  # JCS numbers are IEEE 754 doubles: big integers only if exact
    except OverflowError:
        as_float = math.inf
    if math.isinf(as_float) or int(as_float) != value:
        raise CanonicalizationError(f"JSON refused: integer {text[:40]} is not exactly representable as a double")
    return as_float


def jcs(data: bytes) -> bytes:
    """``json-jcs`` (v1) canonical bytes; verification only."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise CanonicalizationError("JSON refused: byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalizationError(f"JSON is not UTF-8: byte {exc.start}") from None
    check_json_depth(text)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_json_int,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalizationError(f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise CanonicalizationError("JSON refused: nested too deeply") from None
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        raise CanonicalizationError(f"JSON cannot be canonicalized: {exc}") from None
