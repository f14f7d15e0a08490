"""Field tables: how a document format is read from JSON, checked, written and rendered, field by field.

A :class:`Format` is a table of :class:`Field` rows (JSON name, :class:`FieldType`, required, meaning,
the model attribute holding it) in written order. The types here are those of the registry's
formats (:mod:`registry.core.formats` holds the two tables); each knows how to read its JSON value,
check a built value (BundleError naming the field) and write it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from registry.core.leaves import LeafValue, check_hash
from registry.core.st3 import is_st3
from registry.core.stamps import MAX_TOKENS, check_tokens, read_tokens, write_tokens
from registry.errors import BundleError

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASHES = re.compile(r"0x[0-9a-f]{64}(?:,0x[0-9a-f]{64})*")
#: Most sibling hashes a proof may hold (a tree of 2**64 leaves).
MAX_PROOF_LENGTH: Final = 64

# ---------------------------------------------------------------------------- field types


def _whole(value: Any, name: str) -> int:
    """A JSON integer (or a string of digits); never a bool, never a float with a fraction."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise BundleError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _is_integer(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BundleError(f"{name} must be a whole number, got {str(value)[:80]!r}")


def _is_count(value: Any, name: str) -> None:
    _is_integer(value, name)
    if value < 1:
        raise BundleError(f"{name} must be at least 1")


def _is_text(value: Any, name: str) -> None:
    if not isinstance(value, str):
        raise BundleError(f"{name} must be text, got {type(value).__name__}")


def _is_address(value: Any, name: str) -> None:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise BundleError(f"{name} must be a 0x-prefixed 20-byte address, got {str(value)[:80]!r}")


def _is_office(value: Any, name: str) -> None:
    if not isinstance(value, str) or not is_st3(value):
        raise BundleError(f"unknown {name} {value!r}")


def _is_hash(value: Any, name: str) -> None:
    check_hash(value, name)


def _is_leaf_value(value: Any, name: str) -> None:
    if not isinstance(value, LeafValue):
        raise BundleError(f"{name} must be a leaf value, got {type(value).__name__}")


def _read_hashes(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise BundleError(f"{name} must be a list of hashes")
    return tuple(str(p).lower() for p in value)


def _are_hashes(value: Any, name: str) -> None:
    try:  # one match for the common case (the length rules out commas inside elements)
        joined = ",".join(value)
    except TypeError:
        joined = ""
    if value and not (len(joined) == 67 * len(value) - 1 and _HASHES.fullmatch(joined)):  # find the one to name
        for node in value:
            check_hash(node, f"{name} element")
    if len(value) > MAX_PROOF_LENGTH:
        raise BundleError(f"{name} has {len(value)} elements (at most {MAX_PROOF_LENGTH})")


def _read_leaf_values(value: Any, name: str) -> tuple[LeafValue, ...]:
    if not isinstance(value, list):
        raise BundleError(f"{name} must be a list of leaf values")
    return tuple(LeafValue.from_list(v) for v in value)


def _are_leaf_values(value: Any, name: str) -> None:
    for v in value:
        _is_leaf_value(v, f"{name} element")


def _as_text(value: Any, _name: str) -> str:
    return str(value)


def _lower_text(value: Any, _name: str) -> str:
    return str(value).lower()


def _read_leaf_value(value: Any, _name: str) -> LeafValue:
    return LeafValue.from_list(value)


def _write_leaf_values(values: Sequence[LeafValue]) -> list[list[str]]:
    return [v.as_list() for v in values]


@dataclass(frozen=True, slots=True)
class FieldType:
    """One kind of field: how it is read from JSON, checked once built, written back, and its JSON Schema.

    ``read`` and ``check`` take the field's name for their messages; a ``write`` of None writes the
    value as it is.
    """

    name: str
    schema: Mapping[str, Any]
    read: Callable[[Any, str], Any] = _as_text
    check: Callable[[Any, str], None] | None = None
    write: Callable[[Any], Any] | None = None


_STRING: Final = {"type": "string"}
_HEX: Final = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}
_TUPLE: Final = {"type": "array", "items": _STRING, "minItems": 4, "maxItems": 4}
_HASH_LIST: Final = {"type": "array", "items": _HEX, "maxItems": MAX_PROOF_LENGTH}

CONSTANT: Final = FieldType("constant", {})
INTEGER: Final = FieldType("integer", {"type": "integer", "minimum": 0}, _whole, _is_integer)
COUNT: Final = FieldType("count", {"type": "integer", "minimum": 1}, _whole, _is_count)
TEXT: Final = FieldType("text", _STRING, _as_text, _is_text)
ADDRESS: Final = FieldType("address", {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}, _as_text, _is_address)
OFFICE: Final = FieldType("office", {"type": "string", "pattern": "^[A-Z]{2}$"}, _as_text, _is_office)
HASH: Final = FieldType("hash", _HEX, _lower_text, _is_hash)
HASHES: Final = FieldType("hashes", _HASH_LIST, _read_hashes, _are_hashes, list)
LEAF: Final = FieldType("leaf value", _TUPLE, _read_leaf_value, _is_leaf_value, LeafValue.as_list)
LEAVES: Final = FieldType(
    "leaf values",
    {"type": "array", "items": _TUPLE, "minItems": 1},
    _read_leaf_values,
    _are_leaf_values,
    _write_leaf_values,
)
TIMESTAMPS: Final = FieldType(
    "time-stamp tokens",
    {
        "type": "array",
        "maxItems": MAX_TOKENS,
        "items": {
            "type": "object",
            "required": ["authority", "token"],
            "additionalProperties": False,
            "properties": {
                "authority": {"type": "string", "description": "The time-stamping authority (URL or name)."},
                "token": {"type": "string", "contentEncoding": "base64", "description": "DER TimeStampToken."},
            },
        },
    },
    read_tokens,
    check_tokens,
    write_tokens,
)


@dataclass(frozen=True, slots=True)
class Field:
    """One row of a format's table: JSON name, type, whether required, meaning; the model attribute holding it.

    A field without ``attr`` is a constant: its JSON value is ``const`` (a tuple is written as a list)
    in every document. An optional field (``required`` False) whose value is empty (``()`` or None) is
    not written at all, so documents without it keep the bytes they had before the field existed.
    """

    name: str
    type: FieldType
    required: bool
    meaning: str
    attr: str | None = None
    const: Any = None

    @property
    def const_json(self) -> Any:
        """The constant's JSON value (a fresh list for a tuple)."""
        return list(self.const) if isinstance(self.const, tuple) else self.const


class _Row(NamedTuple):
    """A field prepared for the hot paths (no attribute chains per call)."""

    name: str
    attr: str | None
    read: Callable[[Any, str], Any]
    check: Callable[[Any, str], None] | None
    write: Callable[[Any], Any] | None
    const: Any
    field: Field


@dataclass(frozen=True, slots=True)
class Format:
    """A document format: its name (the ``format`` field's value) and its fields in written order."""

    name: str
    what: str
    fields: tuple[Field, ...]
    #: The JSON names of every field in the table.
    names: frozenset[str] = field(init=False)
    _rows: tuple[_Row, ...] = field(init=False, repr=False)
    _prefixes: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rows = tuple(
            _Row(f.name, f.attr, f.type.read, f.type.check, f.type.write, f.const_json, f) for f in self.fields
        )
        object.__setattr__(self, "names", frozenset(f.name for f in self.fields))
        object.__setattr__(self, "_rows", rows)
        object.__setattr__(self, "_prefixes", {f.name: _prefix(f.name) for f in self.fields})

    def json_of(self, model: object, slots: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON object of ``model``'s fields in table order; fields named in ``slots`` are left None."""
        body: dict[str, Any] = {}
        for row in self._rows:
            name, attr, write, const = row.name, row.attr, row.write, row.const
            if attr is None:
                body[name] = const.copy() if isinstance(const, list) else const
            elif slots and name in slots:
                body[name] = None
            else:
                value = getattr(model, attr)
                if not row.field.required and (value is None or value == ()):
                    continue
                body[name] = value if write is None else write(value)
        return body

    def check(self, model: object, skip: Sequence[str] = ()) -> None:
        """Check ``model``'s attributes against the table (all but the fields named in ``skip``); BundleError."""
        for name, attr, _read, check, _write, _const, _ in self._rows:
            if attr is not None and check is not None and not (skip and name in skip):
                check(getattr(model, attr), name)

    def wrong_constant(self, body: Mapping[str, Any]) -> tuple[Field, Any] | None:
        """The first constant field of ``body`` (in table order) that is absent or not its constant, with its value."""
        for row in self._rows:
            if row.attr is None and body.get(row.name) != row.const:
                return row.field, body.get(row.name)
        return None

    def read(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The model attributes of ``body``'s fields (constants aside), read by their types; BundleError if one is
        missing or of the wrong type."""
        values: dict[str, Any] = {}
        try:
            for name, attr, read, _check, _write, _const, f in self._rows:
                if attr is None:
                    continue
                if name in body:
                    values[attr] = read(body[name], name)
                elif f.required:
                    raise BundleError(f"{self.what} lacks field {name!r}")
        except (TypeError, ValueError) as exc:
            raise BundleError(f"{self.what} field has the wrong type: {exc}") from None
        return values

    def text(self, body: Mapping[str, Any]) -> str:
        """``body`` written one field per line, in its order, with a trailing newline (as ``json.dumps`` spells
        each key and value: ASCII, escaped)."""
        prefixes = self._prefixes
        lines = [(prefixes.get(k) or _prefix(k)) + json_text(v) for k, v in body.items()]
        return "{\n" + ",\n".join(lines) + "\n}\n"

    def frame(self, shared: Mapping[str, Any], slots: Sequence[str]) -> list[str]:
        """The text of :meth:`text` around the fields named in ``slots``: ``len(slots) + 1`` pieces.

        ``pieces[0] + json(slot 0) + pieces[1] + json(slot 1) + ... + pieces[-1]`` is the document's text,
        so a batch's shared fields are rendered once and each record adds only its own values.
        """
        pieces: list[str] = []
        current = "{\n"
        written = 0
        for f in self.fields:
            if f.name not in slots and f.name not in shared:  # an optional field left out
                continue
            current += ("" if written == 0 else ",\n") + _prefix(f.name)
            written += 1
            if f.name in slots:
                pieces.append(current)
                current = ""
            else:
                current += json_text(shared[f.name])
        pieces.append(current + "\n}\n")
        return pieces

    def schema(self) -> dict[str, Any]:
        """A JSON Schema of the format (types, constants, meanings) for API documentation."""
        properties: dict[str, Any] = {}
        for f in self.fields:
            spec = dict(f.type.schema)
            if f.attr is None:
                spec["const"] = f.const_json
            properties[f.name] = {**spec, "description": f.meaning}
        required = [f.name for f in self.fields if f.required]
        return {"title": self.name, "type": "object", "required": required, "properties": properties}


def _prefix(name: str) -> str:
    """``  "name": `` as a field's line starts."""
    return f"  {json.dumps(name)}: "


# ---------------------------------------------------------------------------- JSON text

_PLAIN: Final = re.compile(r"[ !#-\[\]-\x7f]*")  # printable ASCII but '"' and '\': json.dumps leaves it as is


def json_text(value: Any) -> str:
    """``json.dumps(value)`` (ASCII, escaped, ``", "`` between items), with shortcuts for what bundles hold:
    text with nothing to escape, integers, and lists of such text."""
    kind = type(value)
    if kind is str:
        return f'"{value}"' if _PLAIN.fullmatch(value) else json.dumps(value)
    if kind is int:
        return int.__repr__(value)
    if kind is list and value:
        try:
            plain = _PLAIN.fullmatch("".join(value)) is not None  # every item is plain text
        except TypeError:
            plain = False
        if plain:
            return '["' + '", "'.join(value) + '"]'
    return json.dumps(value)
