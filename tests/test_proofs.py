"""The one bundle builder: what it builds is what a full construction builds, and nothing unchecked gets in."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core import merkle
from registry.core.formats import ProofBundle
from registry.core.leaves import ZERO_HASH, LeafValue
from registry.core.proofs import BatchFacts, build_bundle, bundles_for_batch
from registry.errors import BundleError

REGISTRY = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
hashes = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())


def _values(n: int) -> list[LeafValue]:
    return [LeafValue(f"EP:{1000000 + k}:B1", "0x" + f"{k:064x}", "raw", ZERO_HASH) for k in range(n)]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    chain_id=st.integers(min_value=0, max_value=2**64),
    block=st.integers(min_value=0, max_value=2**40),
    tx=hashes,
)
def test_batch_bundles_equal_fully_checked_constructions(n: int, chain_id: int, block: int, tx: str) -> None:
    values = _values(n)
    root = "0x" + merkle.MerkleTree.from_leaves([v.leaf() for v in values]).root.hex()
    facts = BatchFacts(chain_id, REGISTRY, "EP", root, n, tx, block, "2026-12-07T17:17:04Z")
    for bundle in bundles_for_batch(facts, values):
        full = ProofBundle(**{f.name: getattr(bundle, f.name) for f in dataclasses.fields(ProofBundle)})
        assert bundle == full and bundle.dumps() == full.dumps()
        assert merkle.process_proof(bundle.value.leaf(), [bytes.fromhex(p[2:]) for p in bundle.proof]).hex() == root[2:]


def test_what_the_batch_does_not_check_the_record_does() -> None:
    facts = BatchFacts(31337, REGISTRY, "EP", "0x" + "ab" * 32, 2, "0x" + "f3" * 32, 11, "2026-12-07T17:17:04Z")
    value = _values(1)[0]
    with pytest.raises(BundleError, match="proof"):
        build_bundle(facts, value, [b"\x01" * 31])  # a proof node of 31 bytes
    with pytest.raises(BundleError, match="at most 64"):
        build_bundle(facts, value, [b"\x01" * 32] * 65)
    with pytest.raises(BundleError):
        build_bundle(facts, "not a leaf value", [])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"registry": "0x1234"},
        {"office": "ZZ"},
        {"root": "0x12"},
        {"leaf_count": 0},
        {"chain_id": True},
        {"block_number": "11"},
    ],
)
def test_bad_batch_facts_are_refused_before_any_bundle(change: dict[str, object]) -> None:
    good = {
        "chain_id": 31337,
        "registry": REGISTRY,
        "office": "EP",
        "root": "0x" + "ab" * 32,
        "leaf_count": 2,
        "transaction_hash": "0x" + "f3" * 32,
        "block_number": 11,
        "anchored_at": "2026-12-07T17:17:04Z",
    }
    with pytest.raises(BundleError):
        BatchFacts(**{**good, **change})  # type: ignore[arg-type]
