"""``xml-c14n2-v3``: canonical XML from expat events (consensus-critical: bytes decided here).

W3C Canonical XML 2.0 with IgnoreComments=true, TrimTextNodes=false (only whitespace-only text
inside ST.96 elements whose schema content model is element-only is dropped, see
:mod:`registry.core.st96`) and **no prefix rewriting**: every name keeps the prefix it is written
with, and every element carries the namespace declarations that make its in-scope namespaces
exactly those of the source (inclusive, as in Canonical XML 1.x). So any value that may be a QName
(``xsi:type``, lists, XPath, text) still resolves as in the source, with no guessing. Only the
character encodings in :data:`ENCODINGS` are read (:func:`decode_input`); DTDs, entities and
external references are refused. registry/canonicalization.md section 1 specifies it;
:mod:`registry.core.canon` dispatches to it; ``xml-c14n2-v2`` is frozen in
:mod:`registry.core._canon_v2`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final
from xml.parsers import expat

from registry.core.st96 import ELEMENT_ONLY
from registry.errors import CanonicalizationError

__all__ = ["ENCODINGS", "MAX_XML_DEPTH", "canonicalize", "decode_input"]

#: Deepest element nesting accepted in XML.
MAX_XML_DEPTH: Final = 256

_XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
_SEP: Final = "\x01"  # expat's separator in reported names: a character no XML 1.0 document can hold
_XML_SPACE: Final = f"{_XML_NS}{_SEP}space{_SEP}xml"
_NO_NAMES: Final[frozenset[str]] = frozenset()
_NO_UNDO: Final[list[tuple[str, str | None]]] = []  # shared, never mutated


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
def _name(reported: str) -> tuple[str, str, str]:
    """(namespace URI, local name, qualified name as written) of an expat name ``uri\\x01local[\\x01prefix]``."""
    parts = reported.split(_SEP)
    if len(parts) == 1:
        return "", reported, reported
    if len(parts) == 2:
        return parts[0], parts[1], parts[1]
    return parts[0], parts[1], f"{parts[2]}:{parts[1]}"


@lru_cache(maxsize=4096)
def _element_only(uri: str, local: str) -> bool:
    return local in ELEMENT_ONLY.get(uri, _NO_NAMES)


def _declaration(prefix: str, uri: str) -> str:
    return f' xmlns:{prefix}="{_escape_attr(uri)}"' if prefix else f' xmlns="{_escape_attr(uri)}"'


#: One open element: (qualified name, the parent's bindings its declarations replaced (prefix, URI or
#: None if unbound; restored at its end), drop whitespace-only text, under xml:space="preserve").
_Open = tuple[str, list[tuple[str, str | None]], bool, bool]


class _Writer:
    """``xml-c14n2-v3`` from expat events (see registry/canonicalization.md section 1)."""

    __slots__ = ("_decls", "_out", "_pending", "_root_seen", "_scope", "_stack")

    def __init__(self) -> None:
        self._out: list[str] = []
        self._pending: list[str] = []  # text of the open element not yet written
        self._decls: list[tuple[str, str]] = []  # namespace declarations of the next start tag
        # in-scope namespaces of the open element ("" = default; only xml above the document element),
        # changed in place and restored at each end tag: linear in the number of declarations
        self._scope: dict[str, str] = {"xml": _XML_NS, "": ""}
        self._stack: list[_Open] = []
        self._root_seen = False

    # -- text: always written with its own parent, before any event of the next node

    def _flush(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        if not self._stack:
            return  # outside the document element
        if self._stack[-1][2] and not text.strip(" \t\r\n"):
            return  # indentation of element-only content
        self._out.append(_escape_text(text))

    def data(self, text: str) -> None:
        self._pending.append(text)

    # -- namespace declarations: expat reports a child's before its start tag (and after the text before it)

    def start_ns(self, prefix: str | None, uri: str | None) -> None:
        if self._pending:
            self._flush()
        self._decls.append((prefix or "", uri or ""))

    # -- elements

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self._pending:
            self._flush()
        stack = self._stack
        if len(stack) >= MAX_XML_DEPTH:
            raise CanonicalizationError(f"XML refused: elements nested deeper than {MAX_XML_DEPTH} levels")
        self._root_seen = True
        written = ""
        undo = _NO_UNDO
        if self._decls:
            scope = self._scope
            undo = []
            changed: list[tuple[str, str]] = []
            for prefix, uri in self._decls:  # one declaration per prefix on an element (expat checks)
                before = scope.get(prefix)
                if (before or "") != uri:  # not already in scope with this binding: declare it
                    changed.append((prefix, uri))
                    undo.append((prefix, before))
                    scope[prefix] = uri
            self._decls.clear()
            if changed:
                changed.sort()  # by prefix, the default namespace ("") first
                written = "".join(_declaration(p, u) for p, u in changed)
        uri, local, qname = _name(name)
        preserve = stack[-1][3] if stack else False
        rest = ""
        if attrs:
            space = attrs.get(_XML_SPACE)
            if space == "preserve":
                preserve = True
            elif space == "default":
                preserve = False
            named = sorted((_name(key), value) for key, value in attrs.items())  # by namespace URI, local name
            rest = "".join(f' {a_qname}="{_escape_attr(value)}"' for (_u, _l, a_qname), value in named)
        stack.append((qname, undo, _element_only(uri, local) and not preserve, preserve))
        self._out.append(f"<{qname}{written}{rest}>")

    def end(self, _name: str) -> None:
        if self._pending:
            self._flush()
        qname, undo, _drop, _preserve = self._stack.pop()
        if undo:
            scope = self._scope
            for prefix, before in undo:
                if before is None:
                    del scope[prefix]
                else:
                    scope[prefix] = before
        self._out.append(f"</{qname}>")

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


# ------------------------------------------------------------------------------- encodings

#: The accepted encoding labels (compared case-insensitively) and the reading of each: IANA charset
#: names and aliases that CPython and libxml2 (lxml 6.1.3) both read, and read alike; checked
#: byte for byte by tests/test_canon_encodings.py. Python codec -> labels.
_LABELS: Final = {
    "utf-8": "UTF-8",
    "ascii": "US-ASCII iso-ir-6 ANSI_X3.4-1968 ANSI_X3.4-1986 ISO646-US us IBM367 cp367 csASCII",
    "latin-1": "ISO-8859-1 ISO_8859-1 iso-ir-100 latin1 l1 IBM819 CP819 csISOLatin1",
    "iso8859-2": "ISO-8859-2 ISO_8859-2 iso-ir-101 latin2 l2 csISOLatin2",
    "iso8859-3": "ISO-8859-3 ISO_8859-3 iso-ir-109 latin3 l3 csISOLatin3",
    "iso8859-4": "ISO-8859-4 ISO_8859-4 iso-ir-110 latin4 l4 csISOLatin4",
    "iso8859-5": "ISO-8859-5 ISO_8859-5 iso-ir-144 cyrillic csISOLatinCyrillic",
    "iso8859-6": "ISO-8859-6 ISO_8859-6 iso-ir-127 ECMA-114 ASMO-708 arabic csISOLatinArabic",
    "iso8859-7": "ISO-8859-7 ISO_8859-7 iso-ir-126 ELOT_928 ECMA-118 greek greek8 csISOLatinGreek",
    "iso8859-8": "ISO-8859-8 ISO_8859-8 iso-ir-138 hebrew csISOLatinHebrew",
    "iso8859-9": "ISO-8859-9 ISO_8859-9 iso-ir-148 latin5 l5 csISOLatin5",
    "iso8859-10": "ISO-8859-10 iso-ir-157 latin6 l6 csISOLatin6",
    "iso8859-11": "ISO-8859-11",
    "iso8859-13": "ISO-8859-13",
    "iso8859-14": "ISO-8859-14 ISO_8859-14 iso-ir-199 latin8 l8 iso-celtic",
    "iso8859-15": "ISO-8859-15 ISO_8859-15 Latin-9",
    "iso8859-16": "ISO-8859-16 ISO_8859-16 iso-ir-226 latin10 l10",
    "cp1250": "windows-1250",
    "cp1251": "windows-1251",
    "cp1252": "windows-1252",
    "cp1253": "windows-1253",
    "cp1254": "windows-1254",
    "cp1255": "windows-1255",
    "cp1256": "windows-1256",
    "cp1257": "windows-1257",
    "cp1258": "windows-1258",
    "koi8-r": "KOI8-R csKOI8R",
    "koi8-u": "KOI8-U",
    "cp866": "IBM866 cp866 csIBM866",
    "shift_jis": "Shift_JIS MS_Kanji csShiftJIS",  # read with JIS X 0201 Roman: 0x5C is ¥, 0x7E is ‾
    "euc_jp": "EUC-JP Extended_UNIX_Code_Packed_Format_for_Japanese csEUCPkdFmtJapanese",
    "iso2022_jp": "ISO-2022-JP csISO2022JP",
    "euc_kr": "EUC-KR csEUCKR",
    "gb2312": "GB2312 csGB2312",
    "gbk": "GBK CP936 MS936 windows-936",
}
#: Accepted encoding label (lower case) -> the Python codec that reads it.
ENCODINGS: Final[dict[str, str]] = {
    label.lower(): codec for codec, labels in _LABELS.items() for label in labels.split()
}
_UTF16_LABELS: Final = {"utf-16": None, "utf-16le": "utf-16-le", "utf-16be": "utf-16-be"}
#: Shift_JIS single bytes 0x5C and 0x7E are JIS X 0201 Roman (IANA's Shift_JIS, libxml2): YEN SIGN, OVERLINE.
_JIS_ROMAN: Final = {0x5C: 0xA5, 0x7E: 0x203E}
#: EUC-JP byte sequences Python reads otherwise than libxml2 (JIS X 0212 0x2237: U+007E vs U+FF5E): refused.
_EUC_JP_AMBIGUOUS: Final = (b"\x8f\xa2\xb7",)

_TWO_MARKS: Final = "XML refused: a second byte order mark (U+FEFF before the document element is not XML)"
_S: Final = r"[ \t\r\n]"
#: XML 1.0 [23] XMLDecl, whole (version, optional encoding, optional standalone, any amount of white space).
_XML_DECL_PATTERN: Final = (
    rf"<\?xml{_S}++version{_S}*+={_S}*+(?:\"1\.[0-9]++\"|'1\.[0-9]++')"
    rf"(?:{_S}++encoding{_S}*+={_S}*+(?:\"([A-Za-z][A-Za-z0-9._\-]*+)\"|'([A-Za-z][A-Za-z0-9._\-]*+)'))?+"
    rf"(?:{_S}++standalone{_S}*+={_S}*+(?:\"(?:yes|no)\"|'(?:yes|no)'))?+{_S}*+\?>"
)
_XML_DECL: Final = re.compile(_XML_DECL_PATTERN)
_XML_DECL_BYTES: Final = re.compile(_XML_DECL_PATTERN.encode("ascii"))
_DECL_START: Final = re.compile(rf"<\?xml{_S}")
_DECL_START_BYTES: Final = re.compile(_DECL_START.pattern.encode("ascii"))


def _declared_str(text: str) -> str | None:
    """The encoding name of the XML declaration at the start of ``text`` (None: no declaration or no name)."""
    if not _DECL_START.match(text):
        return None
    found = _XML_DECL.match(text)
    if found is None:
        raise CanonicalizationError("XML refused: the XML declaration cannot be read (XML 1.0 production 23)")
    return found.group(1) or found.group(2)


def _declared_bytes(body: bytes) -> str | None:
    if not _DECL_START_BYTES.match(body):
        return None
    found = _XML_DECL_BYTES.match(body)
    if found is None:
        raise CanonicalizationError("XML refused: the XML declaration cannot be read (XML 1.0 production 23)")
    name = found.group(1) or found.group(2)
    return name.decode("ascii") if name else None


def decode_input(data: bytes) -> bytes:
    """The document as UTF-8 (XML 1.0 section 4.3.3 and appendix F); CanonicalizationError if refused.

    A byte order mark or ``<?`` in UTF-16 selects UTF-16; otherwise the encoding is the one the XML
    declaration names (read by its grammar, wherever in the declaration it stands), UTF-8 when none
    is named. Only the labels of :data:`ENCODINGS` (and UTF-16 ones on UTF-16 bytes) are accepted;
    bytes that are not valid in the encoding are refused.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        bom = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        order = (
            ("utf-16-le" if data[:2] == b"\xff\xfe" else "utf-16-be")
            if bom
            else ("utf-16-le" if data[0] else "utf-16-be")
        )
        try:
            text = data[2 if bom else 0 :].decode(order)
        except UnicodeDecodeError as exc:
            raise CanonicalizationError(f"XML refused: byte {exc.start} is not valid UTF-16") from None
        if text.startswith("\ufeff"):
            raise CanonicalizationError(_TWO_MARKS)
        name = _declared_str(text)
        if name is not None and _UTF16_LABELS.get(name.lower(), "?") not in (None, order):
            label = "UTF-16LE" if order == "utf-16-le" else "UTF-16BE"
            raise CanonicalizationError(f"XML refused: encoding {name[:40]!r} declared but the document is {label}")
        return text.encode("utf-8")
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    if bom and body.startswith(b"\xef\xbb\xbf"):
        raise CanonicalizationError(_TWO_MARKS)  # expat would skip this one as well: U+FEFF before the document
    name = _declared_bytes(body)
    if name is None or name.lower() == "utf-8":
        return body  # expat checks UTF-8 itself; _not_utf8 names the byte if it fails
    reading = ENCODINGS.get(name.lower())
    if reading is None:
        what = "cannot be read from an ASCII XML declaration" if name.lower() in _UTF16_LABELS else "is not accepted"
        raise CanonicalizationError(
            f"XML refused: encoding {name[:40]!r} {what} (accepted: UTF-8, UTF-16 and the IANA names of"
            " registry/canonicalization.md 1.1)"
        )
    if bom:
        raise CanonicalizationError(f"XML refused: UTF-8 byte order mark but encoding {name!r} declared")
    if reading == "euc_jp" and any(seq in body for seq in _EUC_JP_AMBIGUOUS):
        raise CanonicalizationError(f"XML refused: EUC-JP sequence 8FA2B7 has two readings ({name})")
    try:
        text = body.decode(reading)
    except UnicodeDecodeError as exc:
        raise CanonicalizationError(
            f"XML refused: encoding {name!r} declared but byte {exc.start} is not {name}"
        ) from None
    if reading == "shift_jis":
        text = text.translate(_JIS_ROMAN)
    return text.encode("utf-8")


def _not_utf8(body: bytes) -> None:
    """Raise the clear error for a document that is not the UTF-8 it is read as, if it is not."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            name = _declared_bytes(body)
        except CanonicalizationError:
            name = None
        what = f"encoding {name!r} declared" if name else "no encoding declared (so UTF-8)"
        raise CanonicalizationError(f"XML refused: {what} but byte {exc.start} is not UTF-8") from None


def canonicalize(data: bytes) -> bytes:
    """The ``xml-c14n2-v3`` bytes of an XML document; CanonicalizationError if refused."""
    body = decode_input(data)
    writer = _Writer()
    parser = expat.ParserCreate("UTF-8", namespace_separator=_SEP)
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE (DTD)")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("unparsed entity")
    parser.NotationDeclHandler = _refuse("notation declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity reference")  # type: ignore[assignment]
    parser.StartNamespaceDeclHandler = writer.start_ns
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
    return writer.result()
