"""A small Solidity ABI codec for view calls and event logs, without web3 or eth-abi (fast start-up).

Read-only commands (``ipreg office list``, ``office signers``, ``office proposals``, ``index status``) talk
plain JSON-RPC through :mod:`registry.chain.views`; importing eth-abi alone costs ~0.2 s of CPU. This module
encodes arguments and decodes results of the shipped contracts' functions and events, typed by their ABI
(:func:`registry.chain.artifacts.artifact`), and returns what web3 returns for them: one output alone, a
struct as a tuple, an address EIP-55 checksummed, ``bytesN``/``bytes`` as bytes, arrays as lists.
Types covered: ``uintN``, ``intN``, ``bool``, ``address``, ``bytesN``, ``bytes``, ``string``, tuples and
arrays of them (fixed or dynamic), the whole head/tail layout. Tests compare it with eth-abi.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sha3 import keccak_256

from registry.core.address import checksum_address
from registry.errors import ChainError

__all__ = [
    "AbiType",
    "decode",
    "decode_log",
    "encode",
    "event_topic",
    "function_entry",
    "parse",
    "selector",
    "type_of",
]


@dataclass(frozen=True, slots=True)
class AbiType:
    """A parsed ABI type: ``base`` (``uint256``, ``tuple`` …), ``items`` of a tuple, ``length`` of an array
    (None: dynamic), ``element`` of an array."""

    base: str
    items: tuple[AbiType, ...] = ()
    element: AbiType | None = None
    length: int | None = None

    @property
    def dynamic(self) -> bool:
        """Whether its encoding sits in the tail (an offset in the head)."""
        if self.element is not None:
            return self.length is None or self.element.dynamic
        if self.base == "tuple":
            return any(t.dynamic for t in self.items)
        return self.base in ("bytes", "string")

    @property
    def head_size(self) -> int:
        """Bytes it takes in the head of its enclosing tuple."""
        if self.dynamic:
            return 32
        if self.element is not None:
            return (self.length or 0) * self.element.head_size
        if self.base == "tuple":
            return sum(t.head_size for t in self.items)
        return 32


def _split(inner: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(inner):
        depth += c == "("
        depth -= c == ")"
        if c == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return parts if inner else []


@cache
def parse(text: str) -> AbiType:
    """An ABI type from its canonical text (``(bytes2,address)[]``, ``uint64``)."""
    if text.endswith("]"):
        cut = text.rindex("[")
        size = text[cut + 1 : -1]
        return AbiType("array", element=parse(text[:cut]), length=int(size) if size else None)
    if text.startswith("("):
        return AbiType("tuple", items=tuple(parse(t) for t in _split(text[1:-1])))
    return AbiType(text)


def type_of(param: dict[str, Any]) -> str:
    """The canonical type text of an ABI JSON parameter (tuples spelled out from their components)."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(type_of(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind


def _keccak(text: str) -> bytes:
    digest: bytes = keccak_256(text.encode("ascii")).digest()
    return digest


def selector(entry: dict[str, Any]) -> bytes:
    """The 4-byte selector of an ABI function entry."""
    return _keccak(f"{entry['name']}({','.join(type_of(p) for p in entry['inputs'])})")[:4]


def event_topic(entry: dict[str, Any]) -> str:
    """The topic 0 (``0x`` hex) of an ABI event entry."""
    return "0x" + _keccak(f"{entry['name']}({','.join(type_of(p) for p in entry['inputs'])})").hex()


def function_entry(abi: Sequence[dict[str, Any]], name: str, kind: str = "function") -> dict[str, Any]:
    """The ABI entry ``name`` of type ``kind``; ChainError if the ABI has none (or several: overloads)."""
    found = [e for e in abi if e.get("type") == kind and e.get("name") == name]
    if len(found) != 1:
        raise ChainError(f"no single {kind} {name!r} in the contract's ABI")
    return found[0]


# ---------------------------------------------------------------------------- encoding


def _encode_static(t: AbiType, value: Any) -> bytes:
    base = t.base
    if base == "address":
        return bytes.fromhex(checksum_address(str(value))[2:]).rjust(32, b"\0")
    if base == "bool":
        return int(bool(value)).to_bytes(32, "big")
    if base.startswith("uint"):
        bits = int(base[4:] or 256)
        if not 0 <= int(value) < 1 << bits:
            raise ChainError(f"{value!r} does not fit {base}")
        return int(value).to_bytes(32, "big")
    if base.startswith("int"):
        bits = int(base[3:] or 256)
        if not -(1 << (bits - 1)) <= int(value) < 1 << (bits - 1):
            raise ChainError(f"{value!r} does not fit {base}")
        return int(value).to_bytes(32, "big", signed=True)
    if base.startswith("bytes"):
        raw = bytes(value)
        if len(raw) != int(base[5:]):
            raise ChainError(f"{len(raw)} bytes do not fit {base}")
        return raw.ljust(32, b"\0")
    raise ChainError(f"unsupported ABI type {base}")


def _encode(t: AbiType, value: Any) -> bytes:
    if t.element is not None:
        items = list(value)
        if t.length is not None and len(items) != t.length:
            raise ChainError(f"{len(items)} items for a fixed array of {t.length}")
        body = _encode_tuple([t.element] * len(items), items)
        return body if t.length is not None else len(items).to_bytes(32, "big") + body
    if t.base == "tuple":
        return _encode_tuple(list(t.items), list(value))
    if t.base in ("bytes", "string"):
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return len(raw).to_bytes(32, "big") + raw + b"\0" * (-len(raw) % 32)
    return _encode_static(t, value)


def _encode_tuple(types: Sequence[AbiType], values: Sequence[Any]) -> bytes:
    if len(types) != len(values):
        raise ChainError(f"{len(values)} values for {len(types)} ABI types")
    heads, tails = [], []
    offset = sum(t.head_size for t in types)
    for t, v in zip(types, values, strict=True):
        encoded = _encode(t, v)
        if t.dynamic:
            heads.append(offset.to_bytes(32, "big"))
            tails.append(encoded)
            offset += len(encoded)
        else:
            heads.append(encoded)
    return b"".join(heads) + b"".join(tails)


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """``abi.encode(values)`` of ``types`` (canonical type texts)."""
    return _encode_tuple([parse(t) for t in types], values)


# ---------------------------------------------------------------------------- decoding


def _word(data: bytes, at: int) -> int:
    if at < 0 or at + 32 > len(data):
        raise ChainError("ABI data too short")
    return int.from_bytes(data[at : at + 32], "big")


def _decode_static(t: AbiType, data: bytes, at: int) -> Any:
    """A static value, strictly: a word whose unused bits are not zero is refused (as eth-abi refuses it)."""
    base, word = t.base, _word(data, at)
    if base == "address":
        value: Any = checksum_address("0x" + data[at + 12 : at + 32].hex()) if word < 1 << 160 else None
    elif base == "bool":
        value = word == 1 if word < 2 else None
    elif base.startswith("uint"):
        value = word if word < 1 << int(base[4:] or 256) else None
    elif base.startswith("int"):
        bits = int(base[3:] or 256)
        signed = int.from_bytes(data[at : at + 32], "big", signed=True)
        value = signed if -(1 << (bits - 1)) <= signed < 1 << (bits - 1) else None
    elif base.startswith("bytes"):
        size = int(base[5:])
        value = data[at : at + size] if not any(data[at + size : at + 32]) else None
    else:
        raise ChainError(f"unsupported ABI type {base}")
    if value is None:
        raise ChainError(f"ABI word is not a {base}")
    return value


def _decode(t: AbiType, data: bytes, at: int) -> Any:
    """The value of type ``t`` whose encoding starts at ``at`` (for a dynamic type: where its offset points)."""
    if t.element is not None:
        count = t.length if t.length is not None else _word(data, at)
        start = at if t.length is not None else at + 32
        if count > len(data):
            raise ChainError("ABI array longer than its data")
        return list(_decode_tuple([t.element] * count, data, start))
    if t.base == "tuple":
        return _decode_tuple(list(t.items), data, at)
    if t.base in ("bytes", "string"):
        size = _word(data, at)
        if at + 32 + size > len(data):
            raise ChainError("ABI data too short")
        raw = data[at + 32 : at + 32 + size]
        if t.base == "bytes":
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ChainError("ABI string is not UTF-8") from None
    return _decode_static(t, data, at)


def _decode_tuple(types: Sequence[AbiType], data: bytes, at: int) -> tuple[Any, ...]:
    out, head = [], at
    for t in types:
        out.append(_decode(t, data, at + _word(data, head)) if t.dynamic else _decode(t, data, head))
        head += t.head_size
    return tuple(out)


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """``abi.decode(data, types)``: one value per type; ChainError if ``data`` does not hold them."""
    return _decode_tuple([parse(t) for t in types], data, 0)


def decode_log(entry: dict[str, Any], topics: Sequence[str], data: str) -> dict[str, Any]:
    """The arguments of one log of event ``entry`` by name: indexed ones from the topics (static types only),
    the others from the data; ChainError if the log is not one of this event."""
    if not topics or topics[0].lower() != event_topic(entry):
        raise ChainError(f"not a {entry['name']} log")
    indexed = [p for p in entry["inputs"] if p.get("indexed")]
    plain = [p for p in entry["inputs"] if not p.get("indexed")]
    if len(topics) != 1 + len(indexed):
        raise ChainError(f"malformed {entry['name']} log")
    args: dict[str, Any] = {}
    for param, topic in zip(indexed, topics[1:], strict=True):
        args[param["name"]] = _decode_static(parse(type_of(param)), bytes.fromhex(topic[2:]).rjust(32, b"\0"), 0)
    values = decode([type_of(p) for p in plain], bytes.fromhex(data.removeprefix("0x")))
    args |= {p["name"]: v for p, v in zip(plain, values, strict=True)}
    return args
