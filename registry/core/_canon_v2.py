"""``xml-c14n2-v2``: frozen, kept for verification only (a verbatim copy of the algorithm as anchored).

Every leaf the project wrote between ``xml-c14n2`` (v1, :mod:`registry.core._canon_v1`) and
``xml-c14n2-v3`` names this identifier, so its bytes must never change. New records are anchored
with ``xml-c14n2-v3`` (:mod:`registry.core.xml_c14n2`); registry/canonicalization.md section 4 says
why (prefix rewriting with QName guessing merged meanings, the encoding declaration was looked for
in the first 300 bytes only, escape codecs were accepted). Do not edit the algorithm below.

W3C Canonical XML 2.0 from expat events: IgnoreComments=true, TrimTextNodes=false (only
whitespace-only text inside ST.96 elements whose schema content model is element-only is dropped,
see :mod:`registry.core.st96`), PrefixRewrite=sequential and QNameAware for ``xsi:type``; prefixes
used by other QName-like values keep their original binding.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final
from xml.parsers import expat

from registry.core.st96 import ELEMENT_ONLY
from registry.errors import CanonicalizationError

#: Deepest element nesting accepted in XML.
MAX_XML_DEPTH: Final = 256

_XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
_XSI_TYPE: Final = "http://www.w3.org/2001/XMLSchema-instance}type"
_XML_SPACE: Final = _XML_NS + "}space"
_NO_NAMES: Final[frozenset[str]] = frozenset()
#: A value that reads as ``prefix:local`` (QName lexical form, after trimming XML whitespace).
_QNAME_LIKE: Final = re.compile(r"([^\W\d][\w.\-]*):([^\W\d][\w.\-]*)")
_REWRITTEN: Final = re.compile(r"n[0-9]+")


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


@lru_cache(maxsize=4096)
def _split(name: str) -> tuple[str, str]:
    # expat with namespace_separator="}" reports "uri}local" (no separator: no namespace)
    uri, sep, local = name.rpartition("}")
    return (uri, local) if sep else ("", name)


@lru_cache(maxsize=4096)
def _element(name: str) -> tuple[str, str, bool]:
    """(namespace URI, local name, element-only in the ST.96 table) of an expat element name."""
    uri, local = _split(name)
    return uri, local, local in ELEMENT_ONLY.get(uri, _NO_NAMES)


_NONE: Final[list[str]] = []  # shared, never mutated
_NO_PAIRS: Final[list[tuple[str, str]]] = []  # shared, never mutated


#: One open element: (qualified name, namespaces declared here, drop whitespace-only text,
#: under xml:space="preserve", index of its start tag in the output, namespace declarations
#: written, attributes written, original bindings declared for QName-like attribute values).
_Open = tuple[str, list[str], bool, bool, int, list[str], str, list[tuple[str, str]]]


class _C14N2Writer:
    """``xml-c14n2-v2`` from expat events (see registry/canonicalization.md)."""

    __slots__ = (
        "_bindings", "_extra_scope", "_in_scope", "_out", "_pending",
        "_prefixes", "_root_seen", "_stack", "_text_extras",
    )  # fmt: skip

    def __init__(self) -> None:
        self._out: list[str] = []
        self._pending: list[str] = []
        self._prefixes: dict[str, str] = {}  # namespace URI -> rewritten prefix n0, n1, ...
        self._in_scope: dict[str, int] = {_XML_NS: 1, "": 1}  # rewritten namespaces declared in the output
        self._bindings: dict[str, list[str]] = {}  # original prefix ("" = default) -> URIs, innermost last
        self._extra_scope: dict[tuple[str, str], int] = {}  # original bindings declared in the output
        self._stack: list[_Open] = []
        self._text_extras: dict[int, list[tuple[str, str]]] = {}  # stack depth -> bindings for QName-like text
        self._root_seen = False

    # -- namespace bindings of the input (for QName values)

    def start_ns(self, prefix: str | None, uri: str | None) -> None:
        self._bindings.setdefault(prefix or "", []).append(uri or "")

    def end_ns(self, prefix: str | None) -> None:
        self._bindings[prefix or ""].pop()

    def _bound(self, prefix: str) -> str | None:
        uris = self._bindings.get(prefix)
        return uris[-1] if uris else None

    def _qname_like(self, value: str, where: str) -> tuple[str, str] | None:
        """The original binding a QName-like value depends on, if its prefix is declared."""
        match = _QNAME_LIKE.fullmatch(value.strip(" \t\r\n"))
        if match is None:
            return None
        prefix = match.group(1)
        if _REWRITTEN.fullmatch(prefix):
            raise CanonicalizationError(
                f"XML refused: {where} value {value.strip()[:60]!r} uses prefix {prefix!r},"
                " which canonical prefix rewriting reserves (n0, n1, ...)"
            )
        uri = self._bound(prefix)
        return (prefix, uri) if uri else None

    # -- text

    def _flush(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        if not self._stack:
            return  # outside the document element
        if self._stack[-1][2] and not text.strip(" \t\r\n"):
            return  # indentation of element-only content
        if ":" in text:
            extra = self._qname_like(text, "text")
            if extra is not None and not self._extra_scope.get(extra):
                extras = self._text_extras.setdefault(len(self._stack), [])
                if extra not in extras:
                    extras.append(extra)
        self._out.append(_escape_text(text))

    def data(self, text: str) -> None:
        self._pending.append(text)

    # -- elements

    def _prefix_for(self, uri: str, new: list[str]) -> str:
        prefix = self._prefixes.get(uri)
        if prefix is None:
            prefix = self._prefixes[uri] = f"n{len(self._prefixes)}"
        if not self._in_scope.get(uri):
            self._in_scope[uri] = 1
            new.append(uri)
        return prefix

    def _qname(self, uri: str, local: str, new: list[str]) -> str:
        if not uri:
            return local
        if uri == _XML_NS:
            return "xml:" + local
        return f"{self._prefix_for(uri, new)}:{local}"

    def _xsi_type(self, value: str) -> tuple[str, str]:
        """(namespace URI, local name) an ``xsi:type`` value resolves to in the input."""
        text = value.strip(" \t\r\n")
        prefix, sep, local = text.rpartition(":")
        if not local or not _QNAME_LIKE.fullmatch(f"p:{local}") or (sep and not _QNAME_LIKE.fullmatch(text)):
            raise CanonicalizationError(f"XML refused: xsi:type value {text[:60]!r} is not a QName")
        uri = self._bound(prefix)
        if uri is None and prefix:
            raise CanonicalizationError(f"XML refused: xsi:type value {text[:60]!r} uses an undeclared prefix")
        return uri or "", local

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self._pending:
            self._flush()
        stack = self._stack
        if len(stack) >= MAX_XML_DEPTH:
            raise CanonicalizationError(f"XML refused: elements nested deeper than {MAX_XML_DEPTH} levels")
        self._root_seen = True
        uri, local, element_only = _element(name)
        preserve = stack[-1][3] if stack else False
        prefixes = self._prefixes
        if not attrs:  # the common case: no attributes, a namespace already declared in the output
            prefix = prefixes.get(uri)
            if (prefix is not None and self._in_scope.get(uri)) or not uri:
                qname = f"{prefix}:{local}" if uri else local
                out = self._out
                stack.append((qname, _NONE, element_only and not preserve, preserve, len(out), _NONE, "", _NO_PAIRS))
                out.append(f"<{qname}>")
                return
        new: list[str] = []
        extras: list[tuple[str, str]] = _NO_PAIRS
        rest = ""
        if not attrs:
            qname = self._qname(uri, local, new)
        else:
            space = attrs.get(_XML_SPACE)
            if space == "preserve":
                preserve = True
            elif space == "default":
                preserve = False
            keys = sorted((_split(k), k) for k in attrs)  # by (namespace URI, local name)
            xsi_type = self._xsi_type(attrs[_XSI_TYPE]) if _XSI_TYPE in attrs else None
            # sequential prefixes are given in namespace-URI order of the names this element uses
            uris = {uri, *(k[0] for k, _ in keys)}
            if xsi_type is not None:
                uris.add(xsi_type[0])
            for u in sorted(uris) if len(uris) > 1 else uris:
                if u and u != _XML_NS:
                    self._prefix_for(u, new)
            qname = self._qname(uri, local, new)
            parts: list[str] = []
            for (a_uri, a_local), key in keys:
                value = attrs[key]
                if key == _XSI_TYPE and xsi_type is not None:
                    value = self._qname(xsi_type[0], xsi_type[1], new)
                elif ":" in value:
                    extra = self._qname_like(value, "attribute")
                    if extra is not None and not self._extra_scope.get(extra) and extra not in extras:
                        extras = [*extras, extra]
                a_name = a_local if not a_uri else f"{prefixes[a_uri] if a_uri != _XML_NS else 'xml'}:{a_local}"
                parts.append(f' {a_name}="{_escape_attr(value)}"')
            rest = "".join(parts)
        decls = [f' xmlns:{prefixes[u]}="{_escape_attr(u)}"' for u in new] if new else []
        for extra in extras:
            self._extra_scope[extra] = self._extra_scope.get(extra, 0) + 1
            decls.append(f' xmlns:{extra[0]}="{_escape_attr(extra[1])}"')
        if len(decls) > 1:
            decls.sort()
        stack.append((qname, new, element_only and not preserve, preserve, len(self._out), decls, rest, extras))
        self._out.append(f"<{qname}{''.join(decls)}{rest}>")

    def end(self, name: str) -> None:
        if self._pending:
            self._flush()
        qname, new, _drop, _preserve, index, decls, rest, scoped = self._stack.pop()
        self._out.append(f"</{qname}>")
        if new:
            for u in new:
                self._in_scope[u] -= 1
        if scoped:
            for key in scoped:
                self._extra_scope[key] -= 1
        if self._text_extras:
            extras = self._text_extras.pop(len(self._stack) + 1, None)
            if extras:  # QName-like text: its binding goes into the start tag written earlier
                both = decls + [f' xmlns:{p}="{_escape_attr(u)}"' for p, u in extras]
                both.sort()
                self._out[index] = f"<{qname}{''.join(both)}{rest}>"

    def pi(self, target: str, data: str) -> None:
        after_root = self._root_seen and not self._stack
        if after_root:
            self._out.append("\n")
        elif self._pending:
            self._flush()
        self._out.append(f"<?{target} {data}?>" if data else f"<?{target}?>")
        if not self._root_seen:
            self._out.append("\n")

    def result(self) -> bytes:
        return "".join(self._out).encode("utf-8")


_XML_DECL: Final = re.compile(
    r"""<\?xml[ \t\r\n][^>]*?encoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z][A-Za-z0-9._-]*)["']"""
)
_XML_DECL_BYTES: Final = re.compile(_XML_DECL.pattern.encode("ascii"))
_UTF16: Final = frozenset({"utf-16", "utf-16-le", "utf-16-be"})


def _declared(text: str) -> str | None:
    match = _XML_DECL.match(text, 0, 300) if text.startswith("<?xml") else None
    return match.group(1) if match else None


def _decode_input_v2(data: bytes) -> bytes:
    """The document as UTF-8 (XML 1.0 section 4.3.3 and appendix F); CanonicalizationError if refused.

    A byte order mark or ``<?`` in UTF-16 selects UTF-16; otherwise the encoding is the one the XML
    declaration names (any text encoding Python knows, except UTF-7 and ASCII-incompatible ones),
    and UTF-8 when none is named. Bytes that are not valid in that encoding are refused.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-16-le" if data[0] else "utf-16-be")
        try:
            text = data.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise CanonicalizationError(f"XML refused: byte {exc.start} is not valid UTF-16") from None
        name = _declared(text)
        if name is not None and _codec(name).name not in _UTF16:
            raise CanonicalizationError(f"XML refused: encoding {name!r} declared but the document is UTF-16")
        return text.encode("utf-8")
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    found = _XML_DECL_BYTES.match(body, 0, 300) if body.startswith(b"<?xml") else None
    if found is None or found.group(1).lower() in (b"utf-8", b"utf8"):
        return body  # expat checks UTF-8 itself; _not_utf8 names the byte if it fails
    head = body[:300].decode("ascii", "replace")
    name = _declared(head)
    if name is None or _codec(name).name == "utf-8":
        return body  # expat checks UTF-8 itself; _not_utf8 names the byte if it fails
    if bom:
        raise CanonicalizationError(f"XML refused: UTF-8 byte order mark but encoding {name!r} declared")
    info = _codec(name)
    if not getattr(info, "_is_text_encoding", True):
        raise CanonicalizationError(f"XML refused: {name!r} is not a text encoding")
    declaration = body[: head.index("?>") + 2] if "?>" in head else body[:0]
    try:
        ascii_compatible = declaration.decode(info.name) == declaration.decode("ascii")
    except UnicodeDecodeError:
        ascii_compatible = False
    if not ascii_compatible or info.name in ("utf-7", *_UTF16):
        raise CanonicalizationError(f"XML refused: encoding {name!r} cannot be read from an ASCII XML declaration")
    try:
        return body.decode(info.name).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalizationError(
            f"XML refused: encoding {name!r} declared but byte {exc.start} is not {name}"
        ) from None


def _not_utf8(body: bytes) -> None:
    """Raise the clear error for a document that is not the UTF-8 it is read as, if it is not."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        name = _declared(body[:300].decode("ascii", "replace"))
        what = f"encoding {name!r} declared" if name else "no encoding declared (so UTF-8)"
        raise CanonicalizationError(f"XML refused: {what} but byte {exc.start} is not UTF-8") from None


def _codec(name: str) -> codecs.CodecInfo:
    try:
        return codecs.lookup(name)
    except LookupError:
        raise CanonicalizationError(f"XML refused: unknown encoding {name!r}") from None


def c14n2_v2(data: bytes) -> bytes:
    """``xml-c14n2-v2`` canonical bytes; verification only."""
    body = _decode_input_v2(data)
    writer = _C14N2Writer()
    parser = expat.ParserCreate("UTF-8", namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE (DTD)")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("unparsed entity")
    parser.NotationDeclHandler = _refuse("notation declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity reference")  # type: ignore[assignment]
    parser.StartNamespaceDeclHandler = writer.start_ns
    parser.EndNamespaceDeclHandler = writer.end_ns
    parser.StartElementHandler = writer.start
    parser.EndElementHandler = writer.end
    parser.CharacterDataHandler = writer.data
    parser.ProcessingInstructionHandler = writer.pi
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        _not_utf8(body)
        raise CanonicalizationError(
            f"malformed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}, column {exc.offset}"
        ) from None
    except (ValueError, KeyError, RecursionError) as exc:
        raise CanonicalizationError(f"XML cannot be canonicalized: {exc}") from None
    except LookupError as exc:
        raise CanonicalizationError(f"XML refused: unsupported encoding ({exc})") from None
    return writer.result()
