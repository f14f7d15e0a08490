"""The registry's two file formats, each defined once: the proof bundle and the batch manifest.

Each format is a table of fields (JSON name, type, required, meaning) in the order they are written
(the table machinery is :mod:`registry.core.fields`). Writing (``to_json``, ``dumps``), reading
(``from_json``, ``loads``), validating (on construction), the JSON Schema (``PROOF_BUNDLE.schema()``)
and the fast batch renderer of :mod:`registry.anchor.bundles` (``PROOF_BUNDLE.frame``) all go through
the table, so no field is spelled twice. Both models are frozen and validated when constructed.

- ``ipreg-proof-v1`` (:data:`PROOF_BUNDLE`, :class:`ProofBundle`): a portable proof that one record
  is in a batch anchored on chain; one field per line, fields unknown to the table kept in ``extra``.
- ``ipreg-manifest-v1`` (:data:`MANIFEST`, :class:`BatchManifest`): the leaf values behind an
  anchored root, one compact JSON line, published so that anyone can rebuild the root.

Usage::

    bundle = ProofBundle.loads(path.read_bytes())            # BundleError naming the problem
    text = bundle.dumps()
    data = BatchManifest("EP", root, values).dumps()           # the bytes the anchorer writes
    values = BatchManifest.loads(data, office="EP", root=root, leaf_count=n).values   # ManifestError
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from registry.core import merkle
from registry.core.fields import (
    ADDRESS,
    CONSTANT,
    COUNT,
    HASH,
    HASHES,
    INTEGER,
    LEAF,
    LEAVES,
    OFFICE,
    TEXT,
    TIMESTAMPS,
    Field,
    Format,
)
from registry.core.json_limits import check_json_depth, load_json
from registry.core.leaves import LEAF_ENCODING, SEALED, ZERO_HASH, LeafValue
from registry.core.records import RecordId, is_canonical
from registry.core.st3 import is_st3
from registry.core.stamps import TimestampToken
from registry.errors import BundleError, CanonicalizationError, InputError, RegistryError

BUNDLE_FORMAT: Final = "ipreg-proof-v1"
MANIFEST_FORMAT: Final = "ipreg-manifest-v1"


class ManifestError(InputError):
    """A batch manifest that cannot be fetched, parsed, or does not rebuild its anchored root."""

    code = "invalidManifest"

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        #: What is stored in the shared index and shown by the API: nothing the remote side sent, no
        #: network detail (by default the message itself, which then names only chain facts).
        self.public = public if public is not None else message


# ---------------------------------------------------------------------------- the two tables

_FORMAT_MEANING: Final = "The format's name and version."
_ENCODING: Final = Field(
    "leafEncoding",
    CONSTANT,
    True,
    "ABI types of a leaf's values (OpenZeppelin StandardMerkleTree).",
    const=LEAF_ENCODING,
)

_TIMESTAMPS: Final = Field(
    "timestamps",
    TIMESTAMPS,
    False,
    "Optional RFC 3161 time-stamp tokens over the SHA-256 of the root's 32 bytes: [{authority, token (base64 DER)}]."
    " Absent when the batch has none; readers that do not know it may ignore it.",
    "timestamps",
)

PROOF_BUNDLE: Final = Format(
    BUNDLE_FORMAT,
    "proof bundle",
    (
        Field("format", CONSTANT, True, _FORMAT_MEANING, const=BUNDLE_FORMAT),
        Field("chainId", INTEGER, True, "EIP-155 id of the chain the batch is anchored on.", "chain_id"),
        Field("registry", ADDRESS, True, "Address of the AnchorRegistry contract holding the batch.", "registry"),
        Field("office", OFFICE, True, "WIPO ST.3 code of the anchoring office.", "office"),
        Field("root", HASH, True, "The anchored Merkle root.", "root"),
        _ENCODING,
        Field(
            "value",
            LEAF,
            True,
            "The record's leaf value: recordId, contentHash, canonicalization, supersedes.",
            "value",
        ),
        Field("proof", HASHES, True, "Sibling hashes from the leaf up to the root.", "proof"),
        Field("leafCount", COUNT, True, "Number of leaves in the batch.", "leaf_count"),
        Field("transactionHash", TEXT, True, "Hash of the anchoring transaction.", "transaction_hash"),
        Field("blockNumber", INTEGER, True, "Number of the anchoring block.", "block_number"),
        Field("anchoredAt", TEXT, True, "UTC time of the anchoring block, ISO 8601.", "anchored_at"),
        _TIMESTAMPS,
    ),
)
#: The bundle fields that differ between the records of one batch (the rest are the batch's facts).
PER_RECORD: Final = ("value", "proof")
#: The JSON names and model attributes of the batch's facts: every bundle field but constants and PER_RECORD.
BATCH_FIELDS: Final = tuple(f.name for f in PROOF_BUNDLE.fields if f.attr is not None and f.name not in PER_RECORD)
_BATCH_ATTRS: Final = tuple(f.attr for f in PROOF_BUNDLE.fields if f.attr is not None and f.name not in PER_RECORD)

MANIFEST: Final = Format(
    MANIFEST_FORMAT,
    "batch manifest",
    (
        Field("format", CONSTANT, True, _FORMAT_MEANING, const=MANIFEST_FORMAT),
        Field("office", OFFICE, True, "WIPO ST.3 code of the anchoring office.", "office"),
        Field("root", HASH, True, "The anchored Merkle root.", "root"),
        _ENCODING,
        Field("values", LEAVES, True, "One leaf value per record, in the batch's order.", "values"),
        _TIMESTAMPS,
    ),
)


# ---------------------------------------------------------------------------- proof bundle


@dataclass(frozen=True, slots=True)
class ProofBundle:
    """A portable proof that one record is in a batch anchored on chain (``ipreg-proof-v1``).

    Validated on construction (BundleError); fields beyond the table are kept in ``extra`` (after
    the table's, in their order) and may not reuse a table name. Built from a batch's facts by
    :func:`registry.core.proofs.build_bundle`; read by :meth:`loads` / :meth:`from_json`.
    """

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
    #: RFC 3161 tokens over the root (optional; not written when empty).
    timestamps: tuple[TimestampToken, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "proof", tuple(self.proof))
        self.validate()

    def validate(self) -> ProofBundle:
        """Check every field against the table; return self (done on construction)."""
        PROOF_BUNDLE.check(self)
        if not isinstance(self.extra, dict):
            raise BundleError("extra fields must be a JSON object")
        if self.extra and not PROOF_BUNDLE.names.isdisjoint(self.extra):
            reused = next(k for k in self.extra if k in PROOF_BUNDLE.names)
            raise BundleError(f"extra field {reused!r} is a field of {BUNDLE_FORMAT}")
        return self

    @classmethod
    def in_checked_batch(cls, batch: Any, value: LeafValue, proof: tuple[str, ...]) -> ProofBundle:
        """A bundle of ``batch``, an immutable object whose batch fields were already checked against this
        table (:class:`registry.core.proofs.BatchFacts`): only ``value`` and ``proof`` are checked here, so a
        batch of n records is checked once, not n times."""
        bundle = object.__new__(cls)
        for attr in _BATCH_ATTRS:
            object.__setattr__(bundle, attr, getattr(batch, attr))
        object.__setattr__(bundle, "value", value)
        object.__setattr__(bundle, "proof", tuple(proof))
        object.__setattr__(bundle, "extra", {})
        PROOF_BUNDLE.check(bundle, skip=BATCH_FIELDS)
        return bundle

    def with_extra(self, extra: Mapping[str, Any]) -> ProofBundle:
        """This bundle with ``extra`` as its fields beyond the table (e.g. a sealed record's ``reveal``)."""
        return dataclasses.replace(self, extra=dict(extra))

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to disk and served by the API."""
        body = PROOF_BUNDLE.json_of(self)
        body.update(self.extra)
        return body

    def dumps(self) -> str:
        """Serialized bundle: one field per line, stable key order, trailing newline."""
        return PROOF_BUNDLE.text(self.to_json())

    @classmethod
    def from_json(cls, body: Any) -> ProofBundle:
        """Validate and build a bundle from its JSON object; raise BundleError naming the problem."""
        if not isinstance(body, dict):
            raise BundleError("proof bundle must be a JSON object")
        wrong = PROOF_BUNDLE.wrong_constant(body)
        if wrong is not None:
            constant, got = wrong
            if constant.name == "format":
                raise BundleError(f"unsupported proof bundle format {got!r} (expected {BUNDLE_FORMAT})")
            raise BundleError(f"unsupported {constant.name} {got!r}")
        values = PROOF_BUNDLE.read(body)
        return cls(**values, extra={k: v for k, v in body.items() if k not in PROOF_BUNDLE.names})

    @classmethod
    def loads(cls, text: str | bytes) -> ProofBundle:
        """Parse a serialized bundle."""
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            check_json_depth(text, "proof bundle")
            body = json.loads(text)
        except CanonicalizationError as exc:
            raise BundleError(exc.diagnostics()) from None
        except ValueError as exc:
            raise BundleError(f"proof bundle is not valid JSON: {str(exc)[:200]}") from None
        return cls.from_json(body)


# ---------------------------------------------------------------------------- batch manifest


@dataclass(frozen=True, slots=True)
class BatchManifest:
    """The leaf values behind one anchored root (``ipreg-manifest-v1``), in the batch's order.

    Validated on construction (ManifestError): office, root and values' types; :meth:`loads` also
    checks the record ids and that the values rebuild the root.
    """

    office: str
    root: str
    values: Sequence[LeafValue]
    #: RFC 3161 tokens over the root, fetched before the batch was anchored (optional; not written when empty).
    timestamps: tuple[TimestampToken, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "timestamps", tuple(self.timestamps))
        try:
            MANIFEST.check(self)
        except BundleError as exc:
            raise ManifestError(f"{MANIFEST_FORMAT}: {exc.diagnostics()}") from None

    def to_json(self) -> dict[str, Any]:
        """The manifest's JSON object (keys in table order)."""
        return MANIFEST.json_of(self)

    def dumps(self) -> bytes:
        """The manifest file's bytes: one compact JSON line."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_APPEND_NEWLINE)

    @classmethod
    def loads(
        cls,
        data: bytes | str,
        office: str | None = None,
        root: str | None = None,
        leaf_count: int | None = None,
        where: str | None = None,
    ) -> BatchManifest:
        """Parse and check a manifest, for the anchored batch (``office``, ``root``, ``leaf_count``) when given.

        In order: JSON (depth-limited), format, leafEncoding, office and root (the batch's), the number
        of values (the batch's leaf count), every value (well formed; a canonical record id of the
        office, or a sealed value naming it), and that the values rebuild the root. ManifestError naming
        the problem in ``where`` (default ``manifest of batch <root>``); messages never echo the content.
        """
        where = where or (f"manifest of batch {root}" if root is not None else "manifest")
        try:
            doc = load_json(data, where)
        except CanonicalizationError:
            raise ManifestError(f"{where} is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ManifestError(f"{where} is not an {MANIFEST_FORMAT} document")
        wrong = MANIFEST.wrong_constant(doc)
        if wrong is not None:
            if wrong[0].name == "format":
                raise ManifestError(f"{where} is not an {MANIFEST_FORMAT} document")
            raise ManifestError(f"{where} has an unsupported {wrong[0].name}")
        own_root, own_office = str(doc.get("root", "")).lower(), doc.get("office")
        if (root is not None and own_root != root) or (office is not None and own_office != office):
            raise ManifestError(f"{where} names another root or office")
        if not isinstance(own_office, str) or not is_st3(own_office):
            raise ManifestError(f"{where} names no WIPO ST.3 office")
        raw = doc.get("values")
        if leaf_count is not None and (not isinstance(raw, list) or len(raw) != leaf_count):
            count = len(raw) if isinstance(raw, list) else "no"
            raise ManifestError(f"{where} has {count} values, the batch anchored {leaf_count}")
        if not isinstance(raw, list) or not raw:
            raise ManifestError(f"{where} has no values")
        values = []
        for k, item in enumerate(raw):
            try:
                value = LeafValue.from_list(item)
            except RegistryError:
                raise ManifestError(f"{where}: record {k} is malformed") from None
            _check_record_id(value, own_office, k, where)
            values.append(value)
        if merkle.rebuild([v.leaf() for v in values], own_root) is None:
            raise ManifestError(f"{where}: its values do not rebuild the anchored root")
        tokens: tuple[TimestampToken, ...] = ()
        if "timestamps" in doc:
            try:
                tokens = TIMESTAMPS.read(doc["timestamps"], "timestamps")
            except BundleError as exc:
                raise ManifestError(f"{where}: {exc.diagnostics()}") from None
        return cls(own_office, own_root, tuple(values), tokens)


def _check_record_id(value: LeafValue, office: str, position: int, where: str) -> None:
    """Foreign record ids get the same grammar as local ones and must belong to the anchoring office."""
    if value.canonicalization == SEALED:
        if value.record_id != office or value.supersedes != ZERO_HASH:
            raise ManifestError(f"{where}: sealed record {position} does not name the anchoring office")
        return
    if not is_canonical(value.record_id):  # today's canonical form, or the one earlier versions anchored
        try:
            RecordId.parse(value.record_id)
        except RegistryError:
            raise ManifestError(f"{where}: record {position} has an invalid record id") from None
        raise ManifestError(f"{where}: record {position} has a record id not in canonical form")
    if value.record_id.split(":", 1)[0] != office:
        raise ManifestError(f"{where}: record {position} belongs to another office than {office}")
