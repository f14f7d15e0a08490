"""Merkle trees and proofs: properties, equality with OpenZeppelin's StandardMerkleTree, on-chain checks.

Leaves are hashed independently here (eth_abi + eth_utils.keccak) and compared with ``registry.core.merkle``;
vectors produced by @openzeppelin/merkle-tree (``tests/vectors/oz_merkle.json``) must match exactly;
proofs must verify in the deployed AnchorRegistry (OpenZeppelin's ``MerkleProof``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak as eth_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_account
from registry.core.leaves import LEAF_ENCODING, ZERO_HASH, LeafValue
from registry.core.merkle import (
    MerkleTree,
    encode_leaf_values,
    hash_pair,
    leaf_hash,
    process_proof,
    verify,
)

VECTORS = Path(__file__).parent / "vectors" / "oz_merkle.json"
TYPES = list(LEAF_ENCODING)
CANONICALIZATIONS = ("xml-c14n2", "json-jcs", "raw")


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def reference_leaf(value: LeafValue) -> bytes:
    """keccak256(keccak256(abi.encode(values))) computed with eth_abi and eth_utils."""
    encoded = abi_encode(
        TYPES,
        [
            value.record_id,
            bytes.fromhex(value.content_hash[2:]),
            value.canonicalization,
            bytes.fromhex(value.supersedes[2:]),
        ],
    )
    return eth_keccak(eth_keccak(encoded))


def flip(data: bytes, position: int, mask: int) -> bytes:
    assert mask != 0
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)


# ---------------------------------------------------------------------------- strategies

hashes32 = st.binary(min_size=32, max_size=32).map(hx)
record_ids = st.builds(
    lambda office, digits: f"{office}:{digits}",
    st.sampled_from(["EP", "US", "JP", "EM", "WO"]),
    st.from_regex(r"[0-9]{1,12}", fullmatch=True),
)
leaf_values = st.builds(
    LeafValue,
    record_id=record_ids,
    content_hash=hashes32,
    canonicalization=st.sampled_from(CANONICALIZATIONS),
    supersedes=st.one_of(st.just(ZERO_HASH), hashes32),
)
value_lists = st.lists(leaf_values, min_size=1, max_size=40, unique=True)


# ---------------------------------------------------------------------------- properties


@given(values=value_lists)
def test_every_proof_verifies_and_tree_is_well_formed(values: list[LeafValue]) -> None:
    leaves = [v.leaf() for v in values]
    assert leaves == [reference_leaf(v) for v in values]
    tree = MerkleTree.from_leaves(leaves)
    n = len(leaves)
    assert len(tree.tree) == 2 * n - 1
    assert tree.root == tree.tree[0]
    assert sorted(tree.positions) == list(range(n - 1, 2 * n - 1))
    for i, leaf in enumerate(leaves):
        assert tree.tree[tree.positions[i]] == leaf
        proof = tree.proof(i)
        assert verify(tree.root, leaf, proof)
        assert process_proof(leaf, proof) == tree.root
        assert len(proof) == (tree.positions[i] + 1).bit_length() - 1  # depth of the node
    assert [list(p) for p in tree.proofs()] == [tree.proof(i) for i in range(n)]
    # OpenZeppelin layout: leaves sorted ascending, stored at the end in reverse order
    assert list(tree.tree[n - 1 :]) == sorted(leaves, reverse=True)
    # every inner node is the keccak of its sorted children (independent keccak)
    for i in range(n - 1):
        left, right = tree.tree[2 * i + 1], tree.tree[2 * i + 2]
        assert tree.tree[i] == eth_keccak(min(left, right) + max(left, right))
        assert tree.tree[i] == hash_pair(left, right) == hash_pair(right, left)


@given(values=value_lists, data=st.data())
def test_root_is_independent_of_input_order(values: list[LeafValue], data: st.DataObject) -> None:
    tree = MerkleTree.from_leaves([v.leaf() for v in values])
    shuffled = data.draw(st.permutations(values), label="shuffled")
    other = MerkleTree.from_leaves([v.leaf() for v in shuffled])
    assert other.root == tree.root
    assert other.tree == tree.tree
    # each value keeps its proof whatever its input position
    for k, value in enumerate(shuffled):
        assert other.proof(k) == tree.proof(values.index(value))


@given(values=value_lists, data=st.data())
def test_flipped_byte_in_leaf_or_proof_fails(values: list[LeafValue], data: st.DataObject) -> None:
    leaves = [v.leaf() for v in values]
    tree = MerkleTree.from_leaves(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1), label="leaf")
    proof = tree.proof(i)
    position = data.draw(st.integers(0, 31), label="byte")
    mask = data.draw(st.integers(1, 255), label="mask")

    assert not verify(tree.root, flip(leaves[i], position, mask), proof)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="proof element")
        tampered = [*proof[:j], flip(proof[j], position, mask), *proof[j + 1 :]]
        assert not verify(tree.root, leaves[i], tampered)
        assert not verify(tree.root, leaves[i], proof[:-1])  # truncated
    assert not verify(flip(tree.root, position, mask), leaves[i], proof)


@given(
    record_id=st.text(max_size=80),
    content_hash=st.binary(min_size=32, max_size=32),
    canonicalization=st.text(max_size=80),
    supersedes=st.binary(min_size=32, max_size=32),
)
@settings(max_examples=300)
def test_encode_leaf_values_equals_eth_abi(
    record_id: str, content_hash: bytes, canonicalization: str, supersedes: bytes
) -> None:
    expected = abi_encode(TYPES, [record_id, content_hash, canonicalization, supersedes])
    encoded = encode_leaf_values(record_id, content_hash, canonicalization, supersedes)
    assert encoded == expected
    assert abi_decode(TYPES, encoded) == (record_id, content_hash, canonicalization, supersedes)
    assert leaf_hash(encoded) == eth_keccak(eth_keccak(expected))


@pytest.mark.parametrize(
    "record_id",
    ["", "EP:1", "x" * 31, "x" * 32, "x" * 33, "é" * 16, "日本国特許庁:特許第1号", "🦀" * 8, "a\x00b"],
)
def test_encode_leaf_values_string_edges(record_id: str) -> None:
    h, s = bytes(range(32)), bytes(range(32, 64))
    assert encode_leaf_values(record_id, h, "raw", s) == abi_encode(TYPES, [record_id, h, "raw", s])
    assert encode_leaf_values("raw", h, record_id, s) == abi_encode(TYPES, ["raw", h, record_id, s])


@pytest.mark.parametrize(("content_hash", "supersedes"), [(b"\x01" * 31, b"\x00" * 32), (b"\x01" * 32, b"")])
def test_encode_leaf_values_rejects_wrong_hash_length(content_hash: bytes, supersedes: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encode_leaf_values("EP:1", content_hash, "raw", supersedes)


def test_empty_tree_rejected() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree.from_leaves([])


def test_single_leaf_tree_is_the_leaf() -> None:
    leaf = LeafValue("EP:1", hx(b"\x01" * 32), "raw").leaf()
    tree = MerkleTree.from_leaves([leaf])
    assert tree.root == leaf
    assert tree.proof(0) == []
    assert verify(leaf, leaf, [])


# ---------------------------------------------------------------------------- on chain


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    """One dev deployment for the module: tests only anchor distinct roots and read."""
    c = Chain(connect("embedded"))
    deploy_dev(c)
    yield c


def sample_values(n: int, tag: str) -> list[LeafValue]:
    rng = random.Random(f"{tag}/{n}")
    return [
        LeafValue(
            f"EP:{rng.randrange(10**6, 10**7)}{i:03d}",
            hx(rng.randbytes(32)),
            CANONICALIZATIONS[i % 3],
            ZERO_HASH if i % 4 else hx(rng.randbytes(32)),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16])
def test_proofs_verify_on_chain(chain: Chain, size: int) -> None:
    values = sample_values(size, "anchored")
    leaves = [v.leaf() for v in values]
    tree = MerkleTree.from_leaves(leaves)
    chain.anchor_batch(dev_account(1), tree.root, size, f"https://register.example/{size}.json")

    def verify_proof(proof: list[bytes], values: bytes) -> bool:
        return chain.verify_record("EP", hx(tree.root), [hx(p) for p in proof], values)[0]

    for i, leaf in enumerate(leaves):
        encoded = values[i].encode()
        assert verify_proof(tree.proof(i), encoded) is True
        assert verify_proof(tree.proof(i), flip(encoded, i % 32, 0x80)) is False
        included, info, reason = chain.verify_record("EP", hx(tree.root), [hx(p) for p in tree.proof(i)], encoded)
        assert (included, reason) == (True, 0)
        assert info is not None and info.office == "EP" and info.leaf_count == size
        assert leaf == chain.anchors.functions.leafOf(encoded).call()

    wrong = LeafValue("EP:0", hx(b"\x42" * 32), "raw")
    assert wrong.leaf() not in leaves
    assert verify_proof(tree.proof(0), wrong.encode()) is False
    if size > 1:
        assert verify_proof(tree.proof(1), values[0].encode()) is False
        assert verify_proof(tree.proof(0)[:-1], values[0].encode()) is False

    # a valid tree whose root was never anchored does not verify
    others = sample_values(size, "not anchored")
    other = MerkleTree.from_leaves([v.leaf() for v in others])
    assert verify(other.root, other.tree[other.positions[0]], other.proof(0))
    assert chain.verify_record("EP", hx(other.root), [hx(p) for p in other.proof(0)], others[0].encode())[0] is False


# ---------------------------------------------------------------------------- OpenZeppelin vectors


def load_cases() -> list[dict[str, Any]]:
    if not VECTORS.is_file():
        return []
    body = json.loads(VECTORS.read_text(encoding="utf-8"))
    cases = body["cases"] if isinstance(body, dict) else body
    assert isinstance(cases, list)
    return cases


CASES = load_cases()
needs_vectors = pytest.mark.skipif(not VECTORS.is_file(), reason=f"{VECTORS} is missing")


@needs_vectors
def test_vectors_cover_interesting_sizes() -> None:
    body = json.loads(VECTORS.read_text(encoding="utf-8"))
    if isinstance(body, dict) and "leafEncoding" in body:
        assert body["leafEncoding"] == TYPES
    sizes = {len(case["values"]) for case in CASES}
    assert {1, 2, 3, 7, 16} <= sizes
    assert max(sizes) >= 100
    canonicalizations = {value[2] for case in CASES for value in case["values"]}
    assert set(CANONICALIZATIONS) <= canonicalizations
    assert any(value[3] != ZERO_HASH for case in CASES for value in case["values"])


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=[str(c.get("name", len(c["values"]))) for c in CASES])
def test_openzeppelin_vectors(case: dict[str, Any]) -> None:
    assert case["leafEncoding"] == TYPES
    values = [LeafValue.from_list(v) for v in case["values"]]
    assert [v.as_list() for v in values] == case["values"]
    n = len(values)
    if "size" in case:
        assert case["size"] == n
    leaves = [v.leaf() for v in values]
    tree = MerkleTree.from_leaves(leaves)

    assert hx(tree.root) == case["root"]
    assert [hx(node) for node in tree.tree] == case["tree"]

    entries = case["leaves"]
    assert sorted(int(e["index"]) for e in entries) == list(range(n))
    for entry in entries:
        i = int(entry["index"])
        assert hx(leaves[i]) == entry["leafHash"]
        assert tree.positions[i] == int(entry["treeIndex"])
        assert [hx(p) for p in tree.proof(i)] == entry["proof"]
        assert verify(tree.root, leaves[i], [bytes.fromhex(p[2:]) for p in entry["proof"]])


@needs_vectors
def test_openzeppelin_vector_proofs_verify_on_chain(chain: Chain) -> None:
    from eth_abi.abi import encode as abi_encode

    for case in CASES:
        root = bytes.fromhex(case["root"][2:])
        chain.anchor_batch(dev_account(2), root, len(case["values"]), f"vectors/{case.get('name', '')}")
        entries = case["leaves"]
        types = case["leafEncoding"]
        for entry in {0: entries[0], 1: entries[len(entries) // 2], 2: entries[-1]}.values():
            value = case["values"][int(entry["index"])]
            encoded = abi_encode(
                types, [bytes.fromhex(v[2:]) if t == "bytes32" else v for t, v in zip(types, value, strict=True)]
            )
            assert chain.anchors.functions.leafOf(encoded).call() == bytes.fromhex(entry["leafHash"][2:])
            included, _, _ = chain.verify_record("US", case["root"], entry["proof"], encoded)
            assert included is True
