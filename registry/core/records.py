"""Record ids, leaf values and the portable proof bundle ``ipreg-proof-v1``.

Frozen models that validate on construction; symmetric ``to_json`` / ``from_json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Final
from xml.parsers import expat

from registry.core import canon, merkle
from registry.core.st3 import UNKNOWN, is_st3
from registry.errors import BundleError, CanonicalizationError, RecordIdError

BUNDLE_FORMAT: Final = "ipreg-proof-v1"
LEAF_ENCODING: Final = ("string", "bytes32", "string", "bytes32")
ZERO_HASH: Final = "0x" + "00" * 32
SEALED: Final = "sealed"

_HEX32 = re.compile(r"0x[0-9a-f]{64}")
_ST13 = re.compile(r"[0-9]{15}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


# ---------------------------------------------------------------------------- record ids

#: A normalised document number: up to three capitals (US ``D``/``RE``/``PP``/``H``/``T``, TW ``I``/``M``/``D``,
#: JP era letters, ...), then digits without leading zeros, then digits or capitals (check characters).
_NUMBER = re.compile(r"([A-Z]{0,3})0*([0-9][0-9A-Z]*)")
#: ST.16 kind code: a capital letter and an optional digit (A1, B2, S, E, P2, U, ...).
_KIND = re.compile(r"[A-Z][0-9]?")
#: Separators people write inside numbers: spaces, commas, full stops, slashes, dashes.
_SEPARATORS = re.compile(r"[\s,./\-]+")
_PARTS = re.compile(r"[\s:\-]+")
MAX_NUMBER_LENGTH: Final = 20


def normalize_number(text: str) -> str:
    """The one canonical spelling of a document number, or RecordIdError.

    ASCII only (so no letter can turn into another by case mapping), capitals, separators (spaces,
    commas, full stops, slashes, dashes) removed, leading zeros of the digits removed:
    ``08/936,998`` -> ``8936998``, ``d0912345`` -> ``D912345``, ``RE 49,123`` -> ``RE49123``.
    """
    compact = _SEPARATORS.sub("", text.upper()) if text.isascii() else ""
    match = _NUMBER.fullmatch(compact)
    number = match.group(1) + match.group(2) if match else ""
    if not match or len(number) > MAX_NUMBER_LENGTH:
        raise RecordIdError(
            f"invalid document number {text[:40]!r} (up to 3 capitals, then digits, then digits or capitals;"
            f" at most {MAX_NUMBER_LENGTH} characters)"
        )
    return number


def _office(text: str) -> str:
    code = text.strip().upper()
    if code == UNKNOWN:
        raise RecordIdError("office code XX is ST.3's code for an unknown office: a record needs its own office's code")
    if not is_st3(code):
        raise RecordIdError(f"unknown WIPO ST.3 office code {text[:20]!r}")
    return code


def _kind(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    kind = text.strip().upper()
    if not text.isascii() or not _KIND.fullmatch(kind):
        raise RecordIdError(f"invalid ST.16 kind code {text[:20]!r} (a capital letter and an optional digit)")
    return kind


@dataclass(frozen=True, slots=True, order=True)
class RecordId:
    """``<ST.3 office>:<document number>[:<ST.16 kind code>]``, validated and normalised on construction.

    One document has one id: ``RecordId("us", "08/936,998")`` is ``US:8936998`` (see :func:`normalize_number`).
    """

    office: str
    number: str
    kind: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.office, str) or not isinstance(self.number, str):
            raise RecordIdError("record id parts must be text")
        object.__setattr__(self, "office", _office(self.office))
        object.__setattr__(self, "number", normalize_number(self.number))
        object.__setattr__(self, "kind", _kind(self.kind))

    @classmethod
    def parse(cls, text: str) -> RecordId:
        """Parse a record id as machines or people write it; raise RecordIdError naming the problem.

        ``EP:1234567:B1``, ``EP 1234567 B1``, ``EP1234567B1``, ``US 11,234,567 B2``, ``EP 3 123 456 A1``,
        ``us:d912345:s`` and ``TW I712345 B`` all parse; the result prints in the canonical form.
        With colons the parts are explicit; without, a last part that is a kind code (``B2``) is the kind
        and the number must be up to three capitals and digits.
        """
        if not isinstance(text, str) or not text.strip() or len(text) > 80:
            raise RecordIdError(
                f"invalid record id {str(text)[:80]!r} (expected OFFICE:NUMBER[:KIND], e.g. EP:1234567:B1)"
            )
        if not text.isascii():
            raise RecordIdError(f"invalid record id {text[:80]!r}: record ids are ASCII")
        norm = text.strip().upper()
        try:
            if ":" in norm:
                parts = [p.strip() for p in norm.split(":")]
                if len(parts) not in (2, 3) or not all(parts):
                    raise RecordIdError("expected OFFICE:NUMBER[:KIND]")
                return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
            tokens = [t for t in _PARTS.split(re.sub(r"[,./]", "", norm)) if t]
            return cls._from_tokens(tokens)
        except RecordIdError as exc:
            raise RecordIdError(f"invalid record id {text[:80]!r}: {exc.diagnostics()}") from None

    @classmethod
    def _from_tokens(cls, tokens: list[str]) -> RecordId:
        if not tokens:
            raise RecordIdError("empty")
        first = tokens[0]
        if len(first) > 2 and first[:2].isalpha() and re.match(r"[A-Z]{0,3}[0-9]", first[2:]):
            tokens = [first[:2], first[2:], *tokens[1:]]
        if len(tokens) < 2 or len(tokens[0]) != 2:
            raise RecordIdError("expected an office code, a number and an optional kind code")
        office, rest = tokens[0], tokens[1:]
        kind = None
        if len(rest) >= 2 and _KIND.fullmatch(rest[-1]):
            kind = rest.pop()
        elif len(rest) == 1:
            compact = re.fullmatch(r"([A-Z]{0,3}[0-9]+)([A-Z][0-9]?)", rest[0])
            if compact:
                rest, kind = [compact.group(1)], compact.group(2)
        number = "".join(rest)
        if not re.fullmatch(r"[A-Z]{0,3}[0-9]+", number):
            raise RecordIdError(
                f"document number {' '.join(rest)[:40]!r} is not a prefix and digits (write OFFICE:NUMBER[:KIND])"
            )
        return cls(office, number, kind)

    @classmethod
    def from_filename(cls, name: str) -> RecordId | None:
        """The id carried by a file name ``OFFICE-NUMBER[-KIND].ext``, or None if it carries none."""
        stem = PurePath(name).name.split(".")[0]
        parts = stem.split("-")
        if len(parts) not in (2, 3) or len(parts[0]) != 2 or not parts[0].isalpha() or not all(parts):
            return None
        try:
            return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
        except RecordIdError:
            return None

    def __str__(self) -> str:
        return f"{self.office}:{self.number}:{self.kind}" if self.kind else f"{self.office}:{self.number}"


def canonical_record_id(text: str) -> str:
    """The canonical id of a record id in any accepted spelling (``US 11,234,567 B2`` -> ``US:11234567:B2``)."""
    return str(RecordId.parse(text))


def validate_st13(number: str) -> str:
    """Validate a WIPO ST.13 application number (15 digits); return it."""
    if not _ST13.fullmatch(number):
        raise RecordIdError(f"invalid ST.13 application number {number!r} (15 digits expected)")
    return number


# ---------------------------------------------------------------------------- ids read from documents


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


# ---------------------------------------------------------------------------- leaf values


def _check_hex32(value: str, what: str) -> str:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise BundleError(f"{what} must be 0x followed by 64 lowercase hex digits, got {str(value)[:80]!r}")
    return value


@dataclass(frozen=True, slots=True)
class LeafValue:
    """The values tuple of one leaf: ``(recordId, contentHash, canonicalization, supersedes)``."""

    record_id: str
    content_hash: str
    canonicalization: str
    supersedes: str = ZERO_HASH

    def validate(self) -> LeafValue:
        """Check values that come from outside (bundles, requests); return self."""
        _check_hex32(self.content_hash, "contentHash")
        _check_hex32(self.supersedes, "supersedes")
        if self.canonicalization not in (*canon.CANONICALIZATIONS, SEALED):
            raise BundleError(f"unknown canonicalization {self.canonicalization!r}")
        if len(self.record_id) > 64:
            raise BundleError("recordId longer than 64 characters")
        return self

    def encode(self) -> bytes:
        """ABI encoding of the tuple (``LEAF_ENCODING``)."""
        return merkle.encode_leaf_values(
            self.record_id,
            bytes.fromhex(self.content_hash[2:]),
            self.canonicalization,
            bytes.fromhex(self.supersedes[2:]),
        )

    def leaf(self) -> bytes:
        """The OpenZeppelin standard leaf hash."""
        return merkle.leaf_hash(self.encode())

    def as_list(self) -> list[str]:
        """The JSON form used in bundles and manifests."""
        return [self.record_id, self.content_hash, self.canonicalization, self.supersedes]

    @classmethod
    def from_list(cls, value: Any) -> LeafValue:
        """Parse the JSON form; raise BundleError if malformed."""
        if not isinstance(value, list) or len(value) != 4 or not all(isinstance(v, str) for v in value):
            raise BundleError(
                "value must be a list of four strings [recordId, contentHash, canonicalization, supersedes]"
            )
        return cls(value[0], value[1].lower(), value[2], value[3].lower()).validate()


# ---------------------------------------------------------------------------- proof bundle


def _whole(value: Any, name: str) -> int:
    """A JSON integer (or a string of digits); never a bool, never a float with a fraction."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise BundleError(f"{name} must be a whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class ProofBundle:
    """A portable proof that one record is in a batch anchored on chain (``ipreg-proof-v1``)."""

    chain_id: int
    registry: str
    office: str
    root: str
    value: LeafValue
    proof: tuple[str, ...]
    leaf_count: int
    transaction_hash: str
    block_number: int
    anchored_at: str
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> ProofBundle:
        """Check the fields a reader must not trust blindly; return self."""
        if not isinstance(self.registry, str) or not _ADDRESS.fullmatch(self.registry):
            raise BundleError(f"registry must be a 0x-prefixed 20-byte address, got {str(self.registry)[:80]!r}")
        _check_hex32(self.root, "root")
        for node in self.proof:
            _check_hex32(node, "proof element")
        if not is_st3(self.office):
            raise BundleError(f"unknown office {self.office!r}")
        if self.leaf_count < 1:
            raise BundleError("leafCount must be at least 1")
        if len(self.proof) > 64:
            raise BundleError(f"proof has {len(self.proof)} elements (at most 64)")
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to disk and served by the API."""
        body: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "chainId": self.chain_id,
            "registry": self.registry,
            "office": self.office,
            "root": self.root,
            "leafEncoding": list(LEAF_ENCODING),
            "value": self.value.as_list(),
            "proof": list(self.proof),
            "leafCount": self.leaf_count,
            "transactionHash": self.transaction_hash,
            "blockNumber": self.block_number,
            "anchoredAt": self.anchored_at,
        }
        body.update(self.extra)
        return body

    def dumps(self) -> str:
        """Serialized bundle: one field per line, stable key order, trailing newline."""
        proof = ", ".join(f'"{p}"' for p in self.proof)  # validated hex: nothing to escape
        lines = [
            f'  "format": "{BUNDLE_FORMAT}"',
            f'  "chainId": {int(self.chain_id)}',
            f'  "registry": {json.dumps(self.registry)}',
            f'  "office": {json.dumps(self.office)}',
            f'  "root": {json.dumps(self.root)}',
            f'  "leafEncoding": {json.dumps(list(LEAF_ENCODING))}',
            f'  "value": {json.dumps(self.value.as_list())}',
            f'  "proof": [{proof}]',
            f'  "leafCount": {int(self.leaf_count)}',
            f'  "transactionHash": {json.dumps(self.transaction_hash)}',
            f'  "blockNumber": {int(self.block_number)}',
            f'  "anchoredAt": {json.dumps(self.anchored_at)}',
        ]
        lines.extend(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in self.extra.items())
        return "{\n" + ",\n".join(lines) + "\n}\n"

    @classmethod
    def from_json(cls, body: Any) -> ProofBundle:
        """Validate and build a bundle from its JSON object; raise BundleError naming the problem."""
        if not isinstance(body, dict):
            raise BundleError("proof bundle must be a JSON object")
        if body.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"unsupported proof bundle format {body.get('format')!r} (expected {BUNDLE_FORMAT})")
        if body.get("leafEncoding") != list(LEAF_ENCODING):
            raise BundleError(f"unsupported leafEncoding {body.get('leafEncoding')!r}")
        known = {
            "format", "chainId", "registry", "office", "root", "leafEncoding", "value", "proof",
            "leafCount", "transactionHash", "blockNumber", "anchoredAt",
        }  # fmt: skip
        try:
            proof = body["proof"]
            if not isinstance(proof, list):
                raise BundleError("proof must be a list of hashes")
            return cls(
                chain_id=_whole(body["chainId"], "chainId"),
                registry=str(body["registry"]),
                office=str(body["office"]),
                root=str(body["root"]).lower(),
                value=LeafValue.from_list(body["value"]),
                proof=tuple(str(p).lower() for p in proof),
                leaf_count=_whole(body["leafCount"], "leafCount"),
                transaction_hash=str(body["transactionHash"]),
                block_number=_whole(body["blockNumber"], "blockNumber"),
                anchored_at=str(body["anchoredAt"]),
                extra={k: v for k, v in body.items() if k not in known},
            ).validate()
        except KeyError as exc:
            raise BundleError(f"proof bundle lacks field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise BundleError(f"proof bundle field has the wrong type: {exc}") from None

    @classmethod
    def loads(cls, text: str | bytes) -> ProofBundle:
        """Parse a serialized bundle."""
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            canon.check_json_depth(text, "proof bundle")
            body = json.loads(text)
        except CanonicalizationError as exc:
            raise BundleError(exc.diagnostics()) from None
        except ValueError as exc:
            raise BundleError(f"proof bundle is not valid JSON: {str(exc)[:200]}") from None
        return cls.from_json(body)


# ---------------------------------------------------------------------------- sealed records


def sealed_commitment(salt: bytes, record_id: str, content_hash: str, canonicalization: str) -> str:
    """Commitment anchored for a sealed record: SHA-256 over salt and the record's values.

    ``sha256(salt || abi.encode(string recordId, bytes32 contentHash, string canonicalization, bytes32 0))``;
    with a 32-byte random salt nothing about the record is learnable until the salt is revealed.
    """
    if len(salt) != 32:
        raise BundleError("salt must be 32 bytes")
    encoded = merkle.encode_leaf_values(record_id, bytes.fromhex(content_hash[2:]), canonicalization, merkle.ZERO32)
    return canon.sha256_hex(salt + encoded)


def sealed_value(office: str, commitment: str) -> LeafValue:
    """The leaf value of a sealed record: only the office and the commitment are visible."""
    return LeafValue(office, commitment, SEALED, ZERO_HASH)
