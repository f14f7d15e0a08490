"""The light ABI codec (``registry.chain.abi``) against eth-abi and web3: the same bytes, the same values.

What must never happen: a view answer decoded into another value than web3 decodes (an office status, a key,
a block, a payload field), a word with dirty high bits or padding read as a valid value, a selector or event
topic that differs from the contract's (a call to the wrong function, a log search that finds nothing).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from eth_abi.abi import decode as eth_decode
from eth_abi.abi import encode as eth_encode
from eth_utils.abi import event_abi_to_log_topic, function_abi_to_4byte_selector
from web3 import Web3

from registry.chain import abi
from registry.chain.artifacts import artifact
from registry.chain.payloads import decode_payload, encode_payload
from registry.errors import ChainError

TYPES = [
    "uint8",
    "uint64",
    "uint256",
    "int64",
    "bool",
    "address",
    "bytes2",
    "bytes32",
    "bytes",
    "string",
    "bytes2[]",
    "address[]",
    "(uint64,uint64)[]",
    "(uint64,uint64,address)",
    "(uint8,bytes2,bytes2,bool,uint64,uint64,bytes32,bytes,bytes2[])",
    "(string,string,uint8)",
    "uint16[3]",
    "(bytes,uint8)[2]",
    "string[]",
]


def _value(rng: random.Random, t: abi.AbiType) -> Any:
    if t.element is not None:
        return [_value(rng, t.element) for _ in range(t.length if t.length is not None else rng.randrange(4))]
    if t.base == "tuple":
        return tuple(_value(rng, item) for item in t.items)
    if t.base == "address":
        return Web3.to_checksum_address(rng.randbytes(20).hex())
    if t.base == "bool":
        return rng.random() < 0.5
    if t.base.startswith("uint"):
        return rng.choice([0, 1, (1 << int(t.base[4:])) - 1, rng.getrandbits(int(t.base[4:]))])
    if t.base.startswith("int"):
        bits = int(t.base[3:])
        return rng.choice([0, -1, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, rng.getrandbits(bits) - (1 << (bits - 1))])
    if t.base == "bytes":
        return rng.randbytes(rng.choice([0, 1, 31, 32, 33, 70]))
    if t.base == "string":
        return "".join(rng.choice("aé€𝄞 ,") for _ in range(rng.randrange(40)))
    return rng.randbytes(int(t.base[5:]))


def _norm(value: Any) -> Any:
    """Arrays and tuples alike, addresses in lower case: eth-abi's spelling of a decoded value."""
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value


@pytest.mark.parametrize("text", TYPES)
def test_same_bytes_and_values_as_eth_abi(text: str) -> None:
    rng = random.Random(text)
    t = abi.parse(text)
    for _ in range(60):
        values = [_value(rng, t), _value(rng, abi.parse("uint256")), _value(rng, t)]
        types = [text, "uint256", text]
        encoded = abi.encode(types, values)
        assert encoded == eth_encode(types, values)
        decoded = abi.decode(types, encoded)
        assert decoded == tuple(values)  # arrays as lists, addresses checksummed: as web3 returns them
        assert _norm(decoded) == _norm(eth_decode(types, encoded))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("uint8", (256).to_bytes(32, "big")),
        ("uint64", (1 << 64).to_bytes(32, "big")),
        ("bool", (2).to_bytes(32, "big")),
        ("address", (1 << 160).to_bytes(32, "big")),
        ("bytes2", b"EP" + b"\x01" + b"\0" * 29),
        ("int8", (128).to_bytes(32, "big")),
    ],
)
def test_dirty_words_are_refused(text: str, word: bytes) -> None:
    with pytest.raises(ChainError, match="ABI word is not"):
        abi.decode([text], word)
    with pytest.raises(Exception):  # eth-abi refuses them too  # noqa: B017
        eth_decode([text], word)


@pytest.mark.parametrize(
    "data", [b"", b"\0" * 31, (64).to_bytes(32, "big"), (32).to_bytes(32, "big") + (99).to_bytes(32, "big")]
)
def test_short_or_overlong_data_is_refused(data: bytes) -> None:
    with pytest.raises(ChainError):
        abi.decode(["bytes"], data)


@pytest.mark.parametrize("contract", ["OfficeRegistry", "AnchorRegistry"])
def test_selectors_and_topics_are_the_contracts(contract: str) -> None:
    entries = artifact(contract)["abi"]
    functions = [e for e in entries if e["type"] == "function"]
    events = [e for e in entries if e["type"] == "event"]
    assert functions and events
    for entry in functions:
        assert abi.selector(entry) == function_abi_to_4byte_selector(entry), entry["name"]
    for entry in events:
        assert abi.event_topic(entry) == "0x" + event_abi_to_log_topic(entry).hex(), entry["name"]


def test_payloads_decode_as_they_were_encoded() -> None:
    """The light decoder reads back what eth-abi encoded for every governance action (what is signed)."""
    key = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    cases: dict[str, dict[str, Any]] = {
        "admit": {"name": "Office é€", "base_uri": "https://x/?q=", "signer": key},
        "suspend": {},
        "replace-signers": {"nominee": key},
        "mark-compromised": {"signer": key, "from_block": 2**64 - 1},
        "set-rule": {"numerator": 1, "denominator": 2, "min_approvals": 2, "ttl_blocks": 50400},
        "freeze": {"successor": key},
        "cancel": {"proposal_id": 2**256 - 1},
    }
    for action, params in cases.items():
        assert decode_payload(action, encode_payload(action, **params)) == params


def test_log_arguments_come_from_topics_and_data() -> None:
    entry = abi.function_entry(artifact("OfficeRegistry")["abi"], "SignerNominated", "event")
    key, old = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    topics = [
        abi.event_topic(entry),
        "0x" + b"EP".ljust(32, b"\0").hex(),
        "0x" + bytes.fromhex(key[2:]).rjust(32, b"\0").hex(),
    ]
    args = abi.decode_log(entry, topics, "0x" + abi.encode(["address"], [old]).hex())
    assert args == {"office": b"EP", "signer": key, "replaces": old}
    with pytest.raises(ChainError):
        abi.decode_log(entry, ["0x" + "00" * 32, *topics[1:]], "0x")
    with pytest.raises(ChainError):
        abi.decode_log(entry, topics[:2], "0x" + abi.encode(["address"], [old]).hex())
