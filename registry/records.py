"""Record ids, leaf values and the portable proof bundle ``ipreg-proof-v1``.

Frozen models that validate on construction; symmetric ``to_json`` / ``from_json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Final

from . import canon, merkle
from .errors import BundleError, CanonicalizationError, RecordIdError
from .st3 import is_st3

BUNDLE_FORMAT: Final = "ipreg-proof-v1"
LEAF_ENCODING: Final = ("string", "bytes32", "string", "bytes32")
ZERO_HASH: Final = "0x" + "00" * 32
SEALED: Final = "sealed"

_NUMBER = re.compile(r"[0-9][0-9A-Z]{0,19}")
_KIND = re.compile(r"[A-Z][0-9]?")
_HEX32 = re.compile(r"0x[0-9a-f]{64}")
_ST13 = re.compile(r"[0-9]{15}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


# ---------------------------------------------------------------------------- record ids


@dataclass(frozen=True, slots=True, order=True)
class RecordId:
    """``<ST.3 office>:<document number>[:<ST.16 kind code>]``, validated."""

    office: str
    number: str
    kind: str | None = None

    def __post_init__(self) -> None:
        if not is_st3(self.office):
            raise RecordIdError(f"unknown WIPO ST.3 office code {self.office!r}")
        if not _NUMBER.fullmatch(self.number):
            raise RecordIdError(
                f"invalid document number {self.number!r} for {self.office}"
                " (1-20 digits/capitals, starting with a digit)"
            )
        if self.kind is not None and not _KIND.fullmatch(self.kind):
            raise RecordIdError(f"invalid ST.16 kind code {self.kind!r} (a capital letter and an optional digit)")

    @classmethod
    def parse(cls, text: str) -> RecordId:
        """Parse ``EP:1234567:B1``; raise RecordIdError naming the problem."""
        parts = text.strip().split(":")
        if not text.isascii() or len(parts) not in (2, 3) or not all(parts):
            raise RecordIdError(f"invalid record id {text!r} (expected OFFICE:NUMBER[:KIND], e.g. EP:1234567:B1)")
        return cls(parts[0].upper(), parts[1].upper(), parts[2].upper() if len(parts) == 3 else None)

    @classmethod
    def from_filename(cls, name: str) -> RecordId | None:
        """The id carried by a file name ``OFFICE-NUMBER[-KIND].ext``, or None if it carries none."""
        stem = PurePath(name).name.split(".")[0]
        parts = stem.split("-")
        if len(parts) not in (2, 3) or len(parts[0]) != 2 or not parts[0].isalpha():
            return None
        try:
            return cls(parts[0].upper(), parts[1].upper(), parts[2].upper() if len(parts) == 3 else None)
        except RecordIdError:
            return None

    def __str__(self) -> str:
        return f"{self.office}:{self.number}:{self.kind}" if self.kind else f"{self.office}:{self.number}"


def validate_st13(number: str) -> str:
    """Validate a WIPO ST.13 application number (15 digits); return it."""
    if not _ST13.fullmatch(number):
        raise RecordIdError(f"invalid ST.13 application number {number!r} (15 digits expected)")
    return number


_XML_FIELDS = {
    name: re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?" + name.encode() + rb"(?:\s[^>]*)?>\s*([^<\s]+)\s*</")
    for name in (
        "IPOfficeCode",
        "PublicationNumber",
        "PatentDocumentKindCode",
        "ReceivingOfficeCode",
        "RegistrationOfficeCode",
        "ApplicationNumberText",
    )
}


def _first_xml(data: bytes, name: str) -> str | None:
    match = _XML_FIELDS[name].search(data)
    return match.group(1).decode("utf-8", "replace") if match else None


def _find_json(value: Any, wanted: str) -> str | None:
    """Depth-first search for the first string under a key equal (case-insensitively) to ``wanted``."""
    stack = [value]
    wanted = wanted.lower()
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key.lower() == wanted and isinstance(child, str | int):
                    return str(child)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return None


def id_from_document(data: bytes, canonicalization: str) -> RecordId | None:
    """The id a document carries (ST.96 patent/trademark XML, ST.97-style JSON), or None."""
    if canonicalization == canon.XML_C14N2:
        office = _first_xml(data, "IPOfficeCode")
        number = _first_xml(data, "PublicationNumber")
        if office and number:
            return RecordId(office, number, _first_xml(data, "PatentDocumentKindCode"))
        office = _first_xml(data, "ReceivingOfficeCode") or _first_xml(data, "RegistrationOfficeCode") or office
        number = _first_xml(data, "ApplicationNumberText")
        return RecordId(office, number) if office and number else None
    if canonicalization == canon.JSON_JCS:
        try:
            doc = json.loads(data)
        except ValueError:
            return None
        office = _find_json(doc, "IPOfficeCode")
        number = _find_json(doc, "PublicationNumber")
        if office and number:
            return RecordId(office, number, _find_json(doc, "PatentDocumentKindCode"))
        office = _find_json(doc, "ReceivingOfficeCode") or office
        number = _find_json(doc, "ApplicationNumberText")
        return RecordId(office, number) if office and number else None
    return None


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
