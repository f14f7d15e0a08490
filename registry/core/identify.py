"""Ids read from documents: the record id a document gives itself in its own identification, or why none.

Only the document's own identification is read: ST.96 ``PatentPublicationIdentification`` wherever the
ST.96 structure puts the document's own (the root, its ``BibliographicData``, at any depth of those),
a trademark's or design's office code and application number, and the same structure in ST.96-aligned
JSON (``patentPublication.bibliographicData.patentPublicationIdentification``). Citations, priority claims,
family members, related documents and comments are never read: the walk descends only through the
document's own containers. XML names count only in the ST.96 namespaces; JSON keys are matched exactly
(the ST.96 name or its lowerCamelCase form). XML is decoded as canonicalization decodes it
(:func:`registry.core.xml_c14n2.decode_input`), so one file has one reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final
from xml.parsers import expat

from registry.core import canon
from registry.core.records import RecordId
from registry.core.xml_c14n2 import decode_input
from registry.errors import CanonicalizationError, RecordIdError


@dataclass(frozen=True, slots=True)
class Identification:
    """The record id a document gives itself, or why it gives none (``problem``, one line)."""

    record_id: RecordId | None
    problem: str | None = None


#: The ST.96 namespaces (one URI per component, the same in every version of ST.96).
ST96_NAMESPACES: Final = frozenset(
    f"http://www.wipo.int/standards/XMLSchema/ST96/{part}"
    for part in ("Common", "Patent", "Trademark", "Design", "GeographicalIndication", "Copyright")
)
_IDENT: Final = "PatentPublicationIdentification"
#: The document's own containers: the walk for its identification descends through these only.
_CONTAINERS: Final = frozenset(("PatentPublication", "BibliographicData", "PatentPublicationBibliographicData"))
_MARKS: Final = frozenset(("TrademarkBag", "Trademark"))
_GROUPS: Final = frozenset((_IDENT, "ApplicationNumber"))
#: Elements whose text is a part of the id: text only (a child element in one is refused, never dropped).
_VALUES: Final = frozenset(
    (
        "IPOfficeCode", "PublicationNumber", "PatentDocumentKindCode", "ApplicationNumberText",
        "ReceivingOfficeCode", "RegistrationOfficeCode", "RegistrationNumber",
    )
)  # fmt: skip
_RECORDED: Final = _CONTAINERS | _MARKS | _GROUPS | _VALUES
_OPEN: Final = _CONTAINERS | _MARKS | _GROUPS  # recorded elements whose children are recorded too
_OPEN_OR_VALUES: Final = _OPEN | _VALUES
_DATA_FORMAT: Final = "dataFormat"
#: CNIPA's ``dataFormat`` attribute, unqualified or in an ST.96 namespace (as expat names attributes).
_DATA_FORMAT_ATTRIBUTES: Final = frozenset((_DATA_FORMAT, *(f"{ns}}}{_DATA_FORMAT}" for ns in ST96_NAMESPACES)))
_MAX_DEPTH: Final = 12  # recorded levels: root/PatentPublication/BibliographicData/.../PublicationNumber


@dataclass(slots=True)
class _Node:
    """An element (or JSON member) of the document's own structure: name, text, recorded children."""

    name: str
    label: str = ""  # the element's own name, for messages (a root outside ST.96 has no ST.96 name)
    children: list[_Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    data_format: str | None = None
    structured: bool = False  # holds elements (XML) or is not text (JSON)

    def named(self, *names: str) -> list[_Node]:
        return [c for c in self.children if c.name in names]


class _Unreadable(Exception):
    """The XML cannot be read (a DTD, malformed); canonicalization gives the one-line reason."""


class _Refused(Exception):
    """The document's own identification cannot give one id (ambiguous or malformed); the message says why."""


# ---------------------------------------------------------------------------- reading XML


def _xml_tree(data: bytes) -> _Node | None:
    """The root and its own structure (see ``_RECORDED``), decoded as canonicalization does; None if unreadable."""
    body = decode_input(data)  # CanonicalizationError (one line) if the encoding is refused
    top = _Node("")
    stack: list[_Node | None] = [top]
    root: list[_Node | None] = [None]

    def start(name: str, attrs: dict[str, str]) -> None:
        parent = stack[-1]
        if parent is None or (parent.name not in _OPEN_OR_VALUES and parent is not top and parent is not root[0]):
            stack.append(None)  # below an element that is not the document's own: never read
            return
        node = None
        namespace, _, local = name.rpartition("}")
        ours = namespace in ST96_NAMESPACES
        if len(stack) > _MAX_DEPTH:
            pass
        elif parent.name in _VALUES:
            parent.structured = True  # an element inside a value: refused, never dropped
        elif parent is top:
            node = _Node(local if ours else "", local)  # the document itself, whatever its namespace
            root[0] = node
        elif ours and local in _RECORDED:
            node = _Node(local)
        if node is not None:
            node.data_format = next((v for k, v in attrs.items() if k in _DATA_FORMAT_ATTRIBUTES), None)
            parent.children.append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def text(chars: str) -> None:
        node = stack[-1]
        if node is not None and node.name in _VALUES:
            node.text.append(chars)

    def refuse(*_: Any) -> None:
        raise _Unreadable  # DTDs and entity declarations: canonicalization says why

    parser = expat.ParserCreate("UTF-8", namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, _Unreadable, RecursionError, ValueError):
        return None
    return top.children[0] if top.children else None


# ---------------------------------------------------------------------------- reading JSON


def _camel(name: str) -> str:
    """ST.96's lowerCamelCase form of an element name: ``IPOfficeCode`` -> ``ipOfficeCode``."""
    head = re.match(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]", name)
    return name if head is None else head.group(0).lower() + name[head.end() :]


#: JSON keys, exactly as ST.96 spells them or in lowerCamelCase (no other case, no Unicode case folding).
_JSON_NAMES: Final = {spelled: n for n in _RECORDED | {_DATA_FORMAT} for spelled in (n, _camel(n))}


def _json_tree(name: str, value: Any, depth: int = 0) -> list[_Node]:
    """The nodes a JSON member gives (one per element of an array), with the document's own structure below."""
    if isinstance(value, list):
        return [n for item in value if not isinstance(item, list) for n in _json_tree(name, item, depth)]
    node = _Node(name)
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        node.text.append(str(value))
    elif isinstance(value, dict) and depth < _MAX_DEPTH and (depth == 0 or name not in _VALUES):
        node.structured = name in _VALUES
        fmt = value.get(_DATA_FORMAT, value.get("DataFormat"))
        node.data_format = fmt if isinstance(fmt, str) else None
        for key, member in value.items():
            known = _JSON_NAMES.get(key)
            if known is not None and known != _DATA_FORMAT and (depth == 0 or name in _OPEN):
                node.children += _json_tree(known, member, depth + 1)
    else:
        node.structured = True
    return [node]


def _json_record(doc: Any) -> _Node:
    """The document's own object: the top level, or the one top-level object that identifies itself."""
    if not isinstance(doc, dict):
        raise _Refused("the JSON document is not an object")
    (top,) = _json_tree("", doc)
    if top.children:
        return top
    # {"PatentPublication": {...}, "citations": [...]}: the one top-level object that identifies itself
    wrapped = [n for v in doc.values() if isinstance(v, dict) for n in _json_tree("", v) if n.children]
    if len(wrapped) > 1:
        raise _Refused(f"{len(wrapped)} top-level objects carry an identification")
    return wrapped[0] if wrapped else top


# ---------------------------------------------------------------------------- the document's own identification


def _one(parent: _Node, name: str) -> str | None:
    found = parent.named(name)
    if len(found) > 1:
        raise _Refused(f"{len(found)} {name} elements in {parent.name or 'the document'}")
    if found and found[0].structured:
        raise _Refused(f"{name} holds elements or is not text: an id part is text only")
    return "".join(found[0].text).strip() if found else None


def _own_containers(node: _Node) -> list[_Node]:
    """The node and the document's own containers below it, at any depth (never a citation's or a claim's)."""
    return [node, *(c for child in node.named(*_CONTAINERS) for c in _own_containers(child))]


def _standard(found: list[_Node]) -> _Node:
    """The one identification; of an original and a standard one (CNIPA ``dataFormat``), the standard one."""
    if len(found) == 1:
        return found[0]
    standard = [f for f in found if f.data_format == "standard"]
    if len(standard) == 1 and all(f.data_format == "original" for f in found if f is not standard[0]):
        return standard[0]
    raise _Refused(f"{len(found)} {_IDENT} elements (not one standard and the rest original): ambiguous")


def _make(office: str | None, number: str | None, kind: str | None, where: str) -> Identification:
    if not office or not number:
        lacking = " and ".join(n for n, v in (("an office code", office), ("a number", number)) if not v)
        return Identification(None, f"{where} lacks {lacking}")
    try:
        return Identification(RecordId(office, number, kind))
    except RecordIdError as exc:
        return Identification(None, f"{where} does not form a record id: {exc.diagnostics()}")


def _identify_tree(root: _Node) -> Identification:
    containers = _own_containers(root)
    own = [i for c in containers for i in c.named(_IDENT)]
    if own:
        ident = _standard(own)
        parts = (_one(ident, "IPOfficeCode"), _one(ident, "PublicationNumber"), _one(ident, "PatentDocumentKindCode"))
        return _make(*parts, _IDENT)
    flat = [c for c in containers if c.named("PublicationNumber")]  # a flat record: its own children identify it
    if len(flat) > 1:
        raise _Refused(f"{len(flat)} records carry a PublicationNumber")
    if flat:
        parts = (
            _one(flat[0], "IPOfficeCode"),
            _one(flat[0], "PublicationNumber"),
            _one(flat[0], "PatentDocumentKindCode"),
        )
        return _make(*parts, flat[0].name or "the document")
    marks = [t for bag in root.named("TrademarkBag") for t in bag.named("Trademark")]
    if len(marks) > 1:
        raise _Refused(f"{len(marks)} trademarks in TrademarkBag: ambiguous")
    record = marks[0] if marks else root
    office = _one(record, "ReceivingOfficeCode") or _one(record, "RegistrationOfficeCode")
    office = office or (_one(record, "IPOfficeCode") if not (record.name or record.label) else None)  # JSON only
    numbers = record.named("ApplicationNumber")
    if len(numbers) > 1:
        raise _Refused(f"{len(numbers)} ApplicationNumber elements in {record.name or 'the document'}")
    number = _one(numbers[0], "ApplicationNumberText") if numbers else _one(record, "ApplicationNumberText")
    if number is None and numbers and not numbers[0].children and numbers[0].text:
        number = "".join(numbers[0].text).strip() or None  # JSON: "applicationNumber": "..."
    if number is None and office is not None:
        registration = record.named("RegistrationNumber")
        number = _one(record, "RegistrationNumber") if len(registration) == 1 else None
    if office is None and number is None:
        return Identification(
            None,
            f"no own identification under {root.name or root.label or 'the document'} ({_IDENT} in the ST.96"
            " namespaces, or an office code and ApplicationNumber of the trademark or design)",
        )
    return _make(office, number, None, record.name or "the identification")


def identify(data: bytes, canonicalization: str) -> Identification:
    """The record id a document gives itself (its own identification only), or why there is none.

    ST.96 patent publications: ``PatentPublicationIdentification`` of the document itself (in the root,
    its ``BibliographicData``, at any depth of the document's own containers; of a CNIPA-style original
    and standard pair, the standard one); ST.96 trademarks: the single ``TrademarkBag/Trademark``; designs
    and other applications: the root's own office code and ``ApplicationNumber``. ST.96-aligned JSON: the
    same structure under the top-level object (or the one object it wraps). Citations, priority claims,
    family members, related documents and comments are never read. The id goes through
    :func:`registry.core.records.normalize`, as ``RecordId.parse`` and file names do.
    """
    try:
        if canon.is_xml(canonicalization):
            root = _xml_tree(data)
            if root is None:
                canon.canonical_bytes(data, canonicalization)  # raises the one-line reason canonicalization gives
                return Identification(None, "unreadable XML")
            return _identify_tree(root)
        if canon.is_json(canonicalization):
            return _identify_tree(_json_record(canon.load_json(data, "JSON document")))
    except _Refused as exc:
        return Identification(None, f"ambiguous or malformed own identification: {exc}")
    except CanonicalizationError as exc:
        return Identification(None, exc.diagnostics())
    return Identification(None, None)


def id_from_document(data: bytes, canonicalization: str) -> RecordId | None:
    """The id a document carries in its own identification (see :func:`identify`), or None."""
    return identify(data, canonicalization).record_id
