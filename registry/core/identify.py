"""Ids read from documents: the record id a document gives itself in its own identification, or why none.

Only the document's own identification is read (ST.96 ``PatentPublicationIdentification``, a
trademark's or design's office code and application number, the top-level object of ST.97-style
JSON); citations, priority claims, related documents and comments never are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from xml.parsers import expat

from registry.core import canon
from registry.core.records import RecordId
from registry.errors import CanonicalizationError, RecordIdError


@dataclass(frozen=True, slots=True)
class Identification:
    """The record id a document gives itself, or why it gives none (``problem``, one line)."""

    record_id: RecordId | None
    problem: str | None = None


class _Element:
    __slots__ = ("children", "local", "text")

    def __init__(self, local: str) -> None:
        self.local = local
        self.children: list[_Element] = []
        self.text: list[str] = []

    def named(self, *locals_: str) -> list[_Element]:
        return [c for c in self.children if c.local in locals_]

    def value(self) -> str:
        return "".join(self.text).strip()


_ID_DEPTH: Final = 5  # root/TrademarkBag/Trademark/ApplicationNumber/ApplicationNumberText


def _xml_outline(data: bytes) -> _Element | None:
    """Element names (local) and direct text of the top levels of a document, or None if unreadable."""
    root = _Element("")
    stack = [root]
    deep = [0]  # open elements below _ID_DEPTH: not recorded

    def start(name: str, _attrs: Any) -> None:
        if deep[0] or len(stack) > _ID_DEPTH:
            deep[0] += 1
            return
        node = _Element(name.rpartition("}")[2])
        stack[-1].children.append(node)
        stack.append(node)

    def end(_name: str) -> None:
        if deep[0]:
            deep[0] -= 1
        else:
            stack.pop()

    def data_(text: str) -> None:
        if not deep[0]:
            stack[-1].text.append(text)

    def refuse(*_: Any) -> None:
        raise CanonicalizationError("DTD")

    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data_
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, CanonicalizationError, LookupError, ValueError):
        return None
    return root.children[0] if root.children else None


def _one(parent: _Element, *names: str) -> str | None:
    found = parent.named(*names)
    if len(found) > 1:
        raise _Ambiguous(f"{len(found)} {names[0]} elements in {parent.local}")
    return found[0].value() if found else None


class _Ambiguous(Exception):
    pass


def _make(office: str | None, number: str | None, kind: str | None, where: str) -> Identification:
    if not office or not number:
        lacking = " and ".join(n for n, v in (("an office code", office), ("a number", number)) if not v)
        return Identification(None, f"{where} lacks {lacking}")
    try:
        return Identification(RecordId(office, number, kind))
    except RecordIdError as exc:
        return Identification(None, f"{where} does not form a record id: {exc.diagnostics()}")


def _identify_xml(root: _Element) -> Identification:
    own = root.named("PatentPublicationIdentification") + [
        g
        for c in root.named("BibliographicData", "PatentPublicationBibliographicData")
        for g in c.named("PatentPublicationIdentification")
    ]
    if len(own) > 1:
        return Identification(None, f"{len(own)} PatentPublicationIdentification elements: ambiguous")
    if own:
        ident = own[0]
        return _make(
            _one(ident, "IPOfficeCode"),
            _one(ident, "PublicationNumber"),
            _one(ident, "PatentDocumentKindCode"),
            "PatentPublicationIdentification",
        )
    if root.named("PublicationNumber"):  # a flat record: the root's own children identify it
        return _make(
            _one(root, "IPOfficeCode"),
            _one(root, "PublicationNumber"),
            _one(root, "PatentDocumentKindCode"),
            root.local,
        )
    marks = [t for bag in root.named("TrademarkBag") for t in bag.named("Trademark")]
    if len(marks) > 1:
        return Identification(None, f"{len(marks)} trademarks in TrademarkBag: ambiguous")
    record = marks[0] if marks else root
    office = _one(record, "ReceivingOfficeCode") or _one(record, "RegistrationOfficeCode")
    numbers = record.named("ApplicationNumber")
    if len(numbers) > 1:
        raise _Ambiguous(f"{len(numbers)} ApplicationNumber elements in {record.local}")
    number = _one(numbers[0], "ApplicationNumberText") if numbers else _one(record, "ApplicationNumberText")
    if number is None and office is not None:
        registration = record.named("RegistrationNumber")
        number = registration[0].value() if len(registration) == 1 else None
    if office is None and number is None:
        return Identification(
            None,
            f"no own identification under {root.local} (PatentPublicationIdentification, or an office code"
            " and ApplicationNumber of the trademark or design)",
        )
    return _make(office, number, None, record.local)


def _key(obj: Any, name: str) -> str | None:
    """The text under ``name`` (any letter case) directly in ``obj``; None if absent or not text."""
    if not isinstance(obj, dict):
        return None
    found = [v for k, v in obj.items() if k.lower() == name.lower()]
    if len(found) > 1:
        raise _Ambiguous(f"{len(found)} keys spelled {name}")
    value = found[0] if found else None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    return None


def _child(obj: dict[str, Any], name: str) -> Any:
    found = [v for k, v in obj.items() if k.lower() == name.lower()]
    if len(found) > 1:
        raise _Ambiguous(f"{len(found)} keys spelled {name}")
    return found[0] if found else None


_JSON_OWN: Final = frozenset(
    n.lower()
    for n in (
        "PatentPublicationIdentification", "PublicationNumber", "ApplicationNumberText", "ApplicationNumber",
        "ReceivingOfficeCode", "RegistrationOfficeCode", "IPOfficeCode",
    )
)  # fmt: skip


def _has_identification(obj: dict[str, Any]) -> bool:
    return any(k.lower() in _JSON_OWN for k in obj)


def _identify_json(doc: Any) -> Identification:
    if not isinstance(doc, dict):
        return Identification(None, "the JSON document is not an object")
    record = doc
    if not _has_identification(doc):
        # {"PatentPublication": {...}, "citations": [...]}: the one top-level object that identifies itself
        wrapped = [v for v in doc.values() if isinstance(v, dict) and _has_identification(v)]
        if len(wrapped) > 1:
            raise _Ambiguous(f"{len(wrapped)} top-level objects carry an identification")
        record = wrapped[0] if wrapped else doc
    ident = _child(record, "PatentPublicationIdentification")
    ident = ident if isinstance(ident, dict) else record
    number = _key(ident, "PublicationNumber")
    if number is not None:
        return _make(_key(ident, "IPOfficeCode"), number, _key(ident, "PatentDocumentKindCode"), "the identification")
    office = (
        _key(record, "ReceivingOfficeCode") or _key(record, "RegistrationOfficeCode") or _key(record, "IPOfficeCode")
    )
    application = _child(record, "ApplicationNumber")
    number = _key(record, "ApplicationNumberText") or _key(application, "ApplicationNumberText")
    number = number or _key(record, "ApplicationNumber")
    if office is None and number is None:
        return Identification(
            None,
            "no own identification at the top level (PatentPublicationIdentification, or an office code"
            " and an application number)",
        )
    return _make(office, number, None, "the identification")


def identify(data: bytes, canonicalization: str) -> Identification:
    """The record id a document gives itself (its own identification only), or why there is none.

    ST.96 patent publications: ``PatentPublicationIdentification`` of the document itself (child of
    the root or of its ``BibliographicData``); ST.96 trademarks: the single ``TrademarkBag/Trademark``;
    designs and other applications: the root's own office code and ``ApplicationNumber``. ST.97-style
    JSON: the top-level object (or the one object it wraps) and its ``PatentPublicationIdentification``.
    Citations, priority claims, related documents and comments are never read.
    """
    try:
        if canon.is_xml(canonicalization):
            root = _xml_outline(data)
            if root is None:  # another encoding, or not yet canonical: read the canonical form
                root = _xml_outline(canon.canonical_bytes(data, canon.XML_C14N2))
            return _identify_xml(root) if root is not None else Identification(None, "unreadable XML")
        if canon.is_json(canonicalization):
            return _identify_json(canon.load_json(data, "JSON document"))
    except _Ambiguous as exc:
        return Identification(None, f"ambiguous own identification: {exc}")
    except CanonicalizationError as exc:
        return Identification(None, exc.diagnostics())
    return Identification(None, None)


def id_from_document(data: bytes, canonicalization: str) -> RecordId | None:
    """The id a document carries in its own identification (see :func:`identify`), or None."""
    return identify(data, canonicalization).record_id
