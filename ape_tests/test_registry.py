"""The registry's contracts driven through ape: anchoring, on-chain proof checks, governance, keys.

Run with ``scripts/ape test ape_tests`` (ape's in-process test chain). Leaves follow OpenZeppelin's
StandardMerkleTree: ``keccak256(keccak256(abi.encode(values)))``, sorted-pair nodes.
"""

from __future__ import annotations

from typing import Any

import ape
from eth_abi import encode
from eth_utils import keccak

ENCODING = ["string", "bytes32", "string", "bytes32"]
ZERO = b"\x00" * 32
URI = "https://register.example.org/ipreg/EP/batch.json"


def leaf(record_id: str, content: bytes) -> bytes:
    return keccak(keccak(encode(ENCODING, [record_id, keccak(content), "raw", ZERO])))


def pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def test_anchor_and_verify_on_chain(anchors: Any, signers: dict[str, Any]) -> None:
    a, b = leaf("EP:4000001:B1", b"one"), leaf("EP:4000002:B1", b"two")
    root = pair(a, b)
    receipt = anchors.anchorBatch(root, 2, URI, sender=signers["EP"])
    batch = anchors.batchOf(root)
    assert batch.office == b"EP" and batch.leafCount == 2 and batch.blockNumber == receipt.block_number
    assert anchors.verifyProof(root, [b], a) and anchors.verifyProof(root, [a], b)
    assert not anchors.verifyProof(root, [a], leaf("EP:4000003:B1", b"three"))
    logs = list(receipt.decode_logs(anchors.BatchAnchored))
    assert len(logs) == 1 and logs[0].leafCount == 2 and logs[0].manifestURI == URI


def test_a_root_is_anchored_once_and_only_by_signers(anchors: Any, signers: dict[str, Any], accounts: Any) -> None:
    root = leaf("EP:4000010:B1", b"once")
    anchors.anchorBatch(root, 1, URI, sender=signers["EP"])
    with ape.reverts():
        anchors.anchorBatch(root, 1, URI, sender=signers["EP"])
    with ape.reverts():  # another office cannot take it either
        anchors.anchorBatch(root, 1, URI, sender=signers["US"])
    with ape.reverts():  # not a signer of any office
        anchors.anchorBatch(leaf("EP:4000011:B1", b"x"), 1, URI, sender=accounts[9])


def test_gas_does_not_grow_with_leaf_count(anchors: Any, signers: dict[str, Any]) -> None:
    small = anchors.anchorBatch(leaf("EP:4000020:B1", b"s"), 1, URI, sender=signers["EP"])
    large = anchors.anchorBatch(leaf("EP:4000021:B1", b"l"), 100_000, URI, sender=signers["EP"])
    assert abs(large.gas_used - small.gas_used) < 100


def test_revocation_by_own_office_only(anchors: Any, signers: dict[str, Any]) -> None:
    a, b = leaf("EP:4000030:B1", b"a"), leaf("EP:4000031:B1", b"b")
    root = pair(a, b)
    anchors.anchorBatch(root, 2, URI, sender=signers["EP"])
    with ape.reverts():
        anchors.revokeLeaf(root, a, [b], 1, sender=signers["US"])
    anchors.revokeLeaf(root, a, [b], 1, sender=signers["EP"])
    assert anchors.leafRevocation(root, a) == 1 and anchors.leafRevocation(root, b) == 0


def test_governance_admits_by_threshold(offices: Any, anchors: Any, signers: dict[str, Any], accounts: Any) -> None:
    newcomer = accounts[6]
    offices.propose(0, b"KR", "Korean Intellectual Property Office", "https://kipo.example/", newcomer,
                    sender=signers["EP"])  # fmt: skip
    proposal = offices.proposalCount() - 1
    with ape.reverts():  # one approval is not enough
        offices.execute(proposal, sender=signers["EP"])
    offices.approve(proposal, sender=signers["US"])
    offices.approve(proposal, sender=signers["JP"])
    offices.execute(proposal, sender=signers["EP"])
    assert offices.officeOf(newcomer) == b"KR"
    anchors.anchorBatch(leaf("KR:1020260001234:A1", b"kr"), 1, URI, sender=newcomer)


def test_rotated_key_keeps_its_past(offices: Any, anchors: Any, signers: dict[str, Any], accounts: Any) -> None:
    old, new = signers["JP"], accounts[7]
    receipt = anchors.anchorBatch(leaf("JP:2026000001:A1", b"jp"), 1, URI, sender=old)
    offices.rotateSigner(old, new, sender=old)
    assert offices.wasSignerAt(b"JP", old, receipt.block_number)
    with ape.reverts():
        anchors.anchorBatch(leaf("JP:2026000002:A1", b"jp2"), 1, URI, sender=old)
    anchors.anchorBatch(leaf("JP:2026000002:A1", b"jp2"), 1, URI, sender=new)
