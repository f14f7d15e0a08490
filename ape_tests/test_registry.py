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


def values(record_id: str, content: bytes) -> bytes:
    return encode(ENCODING, [record_id, keccak(content), "raw", ZERO])


def leaf(record_id: str, content: bytes) -> bytes:
    return keccak(keccak(values(record_id, content)))


def pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def test_anchor_and_verify_on_chain(anchors: Any, signers: dict[str, Any]) -> None:
    a, b = leaf("EP:4000001:B1", b"one"), leaf("EP:4000002:B1", b"two")
    root = pair(a, b)
    receipt = anchors.anchorBatch(root, 2, URI, sender=signers["EP"])
    batch = anchors.batchOf(b"EP", root)
    assert batch.office == b"EP" and batch.leafCount == 2 and batch.blockNumber == receipt.block_number
    assert anchors.leafOf(values("EP:4000001:B1", b"one")) == a
    result = anchors.verifyRecord(b"EP", root, values("EP:4000001:B1", b"one"), [b])
    assert result.included and result.authorised and result.leaf == a
    assert not anchors.verifyRecord(b"EP", root, values("EP:4000001:B1", b"changed"), [b]).included
    assert anchors.batchOf(b"US", root).blockNumber == 0  # batches belong to (office, root)
    logs = list(receipt.decode_logs(anchors.BatchAnchored))
    assert len(logs) == 1 and logs[0].leafCount == 2 and logs[0].manifestURI == URI


def test_a_root_is_anchored_once_per_office_and_only_by_signers(
    anchors: Any, signers: dict[str, Any], accounts: Any
) -> None:
    root = leaf("EP:4000010:B1", b"once")
    anchors.anchorBatch(root, 1, URI, sender=signers["EP"])
    with ape.reverts():
        anchors.anchorBatch(root, 1, URI, sender=signers["EP"])
    anchors.anchorBatch(root, 1, URI, sender=signers["US"])  # cannot pre-empt: US gets its own batch
    assert anchors.batchOf(b"EP", root).signer == signers["EP"].address
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
    with ape.reverts():  # US has no batch under this root
        anchors.revokeLeaf(root, values("EP:4000030:B1", b"a"), [b], 1, sender=signers["US"])
    anchors.revokeLeaf(root, values("EP:4000030:B1", b"a"), [b], 1, sender=signers["EP"])
    assert anchors.leafRevocation(b"EP", root, a) == 1 and anchors.leafRevocation(b"EP", root, b) == 0


def _decide(offices: Any, action: int, office: bytes, payload: bytes, voters: list[Any]) -> None:
    receipt = offices.propose(action, office, payload, sender=voters[0])
    proposal = next(iter(receipt.decode_logs(offices.ProposalCreated))).id
    payload_hash = keccak(encode(["uint8", "bytes2", "bytes"], [action, office, payload]))
    for voter in voters[1:]:
        offices.approve(proposal, payload_hash, sender=voter)
    offices.execute(proposal, sender=voters[0])


def test_governance_admits_by_majority_of_active_offices(
    offices: Any, anchors: Any, signers: dict[str, Any], accounts: Any
) -> None:
    newcomer = accounts[6]
    payload = encode(["string", "string", "address"], ["KIPO", "https://kipo.example/", newcomer.address])
    receipt = offices.propose(0, b"KR", payload, sender=signers["EP"])
    proposal = next(iter(receipt.decode_logs(offices.ProposalCreated))).id
    payload_hash = keccak(encode(["uint8", "bytes2", "bytes"], [0, b"KR", payload]))
    offices.approve(proposal, payload_hash, sender=signers["US"])
    with ape.reverts():  # 2 of 5 active offices: a majority needs 3
        offices.execute(proposal, sender=signers["EP"])
    with ape.reverts():  # approvals bind to the exact payload
        offices.approve(proposal, keccak(b"something else"), sender=signers["JP"])
    offices.approve(proposal, payload_hash, sender=signers["JP"])
    offices.execute(proposal, sender=signers["EP"])
    offices.acceptSigner(b"KR", sender=newcomer)  # the admitted office's first key consents
    assert offices.officeOf(newcomer) == b"KR"
    anchors.anchorBatch(leaf("KR:1020260001234:A1", b"kr"), 1, URI, sender=newcomer)
    _decide(offices, 1, b"WO", b"", [signers["EP"], signers["US"], signers["JP"], signers["EM"]])  # suspend WO
    with ape.reverts():
        anchors.anchorBatch(leaf("WO:2026000001:A1", b"wo"), 1, URI, sender=signers["WO"])


def test_rotated_key_keeps_its_past(offices: Any, anchors: Any, signers: dict[str, Any], accounts: Any) -> None:
    old, new = signers["JP"], accounts[7]
    receipt = anchors.anchorBatch(leaf("JP:2026000001:A1", b"jp"), 1, URI, sender=old)
    offices.rotateSigner(old, new, sender=old)
    offices.acceptSigner(b"JP", sender=new)
    assert offices.isAuthorisedAt(b"JP", old, receipt.block_number)
    with ape.reverts():
        anchors.anchorBatch(leaf("JP:2026000002:A1", b"jp2"), 1, URI, sender=old)
    anchors.anchorBatch(leaf("JP:2026000002:A1", b"jp2"), 1, URI, sender=new)


def test_compromised_key_is_not_authorised_from_its_mark(
    offices: Any, anchors: Any, signers: dict[str, Any], accounts: Any
) -> None:
    key = signers["EM"]
    before = anchors.anchorBatch(leaf("EM:018000001", b"a"), 1, URI, sender=key)
    suspect = anchors.anchorBatch(leaf("EM:018000002", b"b"), 1, URI, sender=key)
    # 3.0.0: a key's own mark acts from its block on; an earlier block is governance's, with EM's approval.
    payload = encode(["address", "uint64"], [key.address, suspect.block_number])
    _decide(offices, 4, b"EM", payload, [key, signers["EP"], signers["US"]])
    assert offices.isAuthorisedAt(b"EM", key, before.block_number)
    assert not offices.isAuthorisedAt(b"EM", key, suspect.block_number)
    assert not anchors.verifyRecord(b"EM", leaf("EM:018000002", b"b"), values("EM:018000002", b"b"), []).authorised
