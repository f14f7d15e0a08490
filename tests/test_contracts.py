"""OfficeRegistry and AnchorRegistry, deployed on the in-process EVM (no mocks).

Dev preset: account 0 deploys; accounts 1..5 are the signers of EP, US, JP, EM, WO; accounts 6 and 7
are funded outsiders. Governance threshold is 3 offices. Reverts are asserted by the exact decoded
custom error (``Name(field=value, …)``) that ``registry.chain`` reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import EventData

from registry.chain import DEV_OFFICES, DEV_THRESHOLD, Chain, TxResult, connect, dev_account
from registry.errors import ContractRevertError
from registry.merkle import MerkleTree, keccak
from registry.records import LeafValue

ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\x00" * 32

# Common.sol enums
ADMIT, SUSPEND, REINSTATE = 0, 1, 2
STATUS_NONE, STATUS_ACTIVE, STATUS_SUSPENDED = 0, 1, 2

EP, US, JP, EM, WO = (dev_account(i) for i in range(1, 6))
DEPLOYER = dev_account(0)
OUTSIDER = dev_account(6)
OTHER = dev_account(7)


# ---------------------------------------------------------------------------- helpers


@pytest.fixture
def chain() -> Iterator[Chain]:
    """A fresh dev deployment per test: governance and signer tests change global state."""
    w3 = connect("embedded")
    c = Chain(w3)
    c.deploy_dev()
    yield c


def code(office: str) -> bytes:
    """ST.3 code as the contracts' ``bytes2``."""
    return office.encode("ascii")


def addr(account: LocalAccount) -> str:
    """An address as the decoded revert message spells it (lowercase hex)."""
    return account.address.lower()


def root_of(label: str) -> bytes:
    """A deterministic non-zero 32-byte root."""
    return keccak(label.encode())


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def revert(chain: Chain, account: LocalAccount, fn: ContractFunction) -> str:
    """Send ``fn`` from ``account``, expect a revert, return the decoded custom error."""
    with pytest.raises(ContractRevertError) as info:
        chain.transact(account, fn)
    message = str(info.value)
    assert message.startswith("transaction would revert: "), message
    return message.removeprefix("transaction would revert: ")


def events(chain: Chain, contract: Contract, name: str, result: TxResult) -> list[EventData]:
    """The ``name`` events ``contract`` emitted in the transaction ``result``."""
    receipt = chain.w3.eth.get_transaction_receipt(result.transaction_hash)  # type: ignore[arg-type]
    return list(getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD))


def anchor(chain: Chain, account: LocalAccount, root: bytes, leaf_count: int = 1, uri: str = "uri") -> TxResult:
    return chain.transact(account, chain.anchors.functions.anchorBatch(root, leaf_count, uri))


def batch(chain: Chain, root: bytes) -> dict[str, Any]:
    office, signer, timestamp, block_number, leaf_count, reason = chain.anchors.functions.batchOf(root).call()
    return {
        "office": bytes(office),
        "signer": str(signer),
        "timestamp": int(timestamp),
        "blockNumber": int(block_number),
        "leafCount": int(leaf_count),
        "revocationReason": int(reason),
    }


def propose(
    chain: Chain,
    proposer: LocalAccount,
    action: int,
    office: str,
    name: str = "",
    uri: str = "",
    signer: str = ZERO_ADDRESS,
) -> int:
    """Make a proposal and return its id (from the ProposalCreated event)."""
    result = chain.transact(proposer, chain.offices.functions.propose(action, code(office), name, uri, signer))
    (created,) = events(chain, chain.offices, "ProposalCreated", result)
    return int(created["args"]["id"])


def approve(chain: Chain, id_: int, *approvers: LocalAccount) -> None:
    for account in approvers:
        chain.transact(account, chain.offices.functions.approve(id_))


def status(chain: Chain, office: str) -> int:
    return int(chain.offices.functions.office(code(office)).call()[2])


def was_signer_at(chain: Chain, office: str, account: LocalAccount, block: int) -> bool:
    return bool(chain.offices.functions.wasSignerAt(code(office), account.address, block).call())


def terms(chain: Chain, office: str, account: LocalAccount) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in chain.offices.functions.signerTerms(code(office), account.address).call()]


def suspend(chain: Chain, office: str, proposer: LocalAccount, *approvers: LocalAccount) -> int:
    id_ = propose(chain, proposer, SUSPEND, office)
    approve(chain, id_, *approvers)
    chain.transact(proposer, chain.offices.functions.execute(id_))
    return id_


def tree_of(n: int, office: str = "EP") -> tuple[list[LeafValue], MerkleTree]:
    values = [
        LeafValue(f"{office}:{1000000 + i}:B1", hx(keccak(f"content {office} {i}".encode())), "xml-c14n2")
        for i in range(n)
    ]
    return values, MerkleTree.from_leaves([v.leaf() for v in values])


# ---------------------------------------------------------------------------- deployment


def test_genesis_offices_signers_and_events(chain: Chain) -> None:
    assert chain.offices.functions.threshold().call() == DEV_THRESHOLD == 3
    assert [bytes(c) for c in chain.offices.functions.officeCodes().call()] == [code(c) for c, _, _ in DEV_OFFICES]
    deploy_block = chain.deployment.block_number if chain.deployment else -1
    admitted = chain.offices.events.OfficeAdmitted().get_logs(from_block=0)
    assert [(bytes(e["args"]["office"]), e["args"]["name"], e["args"]["baseURI"]) for e in admitted] == [
        (code(c), name, uri) for c, name, uri in DEV_OFFICES
    ]
    added = chain.offices.events.SignerAdded().get_logs(from_block=0)
    assert [(bytes(e["args"]["office"]), e["args"]["signer"], e["args"]["fromBlock"]) for e in added] == [
        (code(c), dev_account(i).address, deploy_block) for i, (c, _, _) in enumerate(DEV_OFFICES, start=1)
    ]
    for i, (office, name, uri) in enumerate(DEV_OFFICES, start=1):
        signer = dev_account(i)
        assert chain.office_info(office) == (name, uri, "active")
        assert chain.office_of(signer.address) == office
        assert chain.offices.functions.isActiveSigner(code(office), signer.address).call()
        assert terms(chain, office, signer) == [(deploy_block, 0)]
    assert chain.office_of(OUTSIDER.address) is None
    assert chain.anchors.functions.offices().call() == chain.offices.address


# ---------------------------------------------------------------------------- who may anchor


def test_each_signer_anchors_under_its_own_office(chain: Chain) -> None:
    for i, (office, _, _) in enumerate(DEV_OFFICES, start=1):
        signer = dev_account(i)
        root = root_of(f"batch of {office}")
        result = anchor(chain, signer, root, leaf_count=10 + i, uri=f"https://{office}/m.json")
        assert batch(chain, root) == {
            "office": code(office),
            "signer": signer.address,
            "timestamp": result.timestamp,
            "blockNumber": result.block_number,
            "leafCount": 10 + i,
            "revocationReason": 0,
        }
        info = chain.batch_of(hx(root))
        assert info is not None and info.office == office and info.block_number == result.block_number


def test_office_is_derived_from_sender_not_chosen_by_it(chain: Chain) -> None:
    # US's signer anchoring records the batch under US (there is no way to name EP).
    us_root = root_of("anchored by US")
    anchor(chain, US, us_root)
    assert batch(chain, us_root)["office"] == b"US"
    assert batch(chain, us_root)["signer"] == US.address

    # An EP-only action, on an EP batch, fails for the US signer.
    values, tree = tree_of(3)
    anchor(chain, EP, tree.root, leaf_count=3)
    assert revert(chain, US, chain.anchors.functions.revokeBatch(tree.root, 1)) == (
        "NotBatchOffice(caller=US, batchOffice=EP)"
    )
    assert revert(chain, US, chain.anchors.functions.revokeLeaf(tree.root, values[0].leaf(), tree.proof(0), 1)) == (
        "NotBatchOffice(caller=US, batchOffice=EP)"
    )
    # ... and US's own batch cannot be revoked by EP.
    assert revert(chain, EP, chain.anchors.functions.revokeBatch(us_root, 1)) == (
        "NotBatchOffice(caller=EP, batchOffice=US)"
    )
    assert batch(chain, tree.root)["revocationReason"] == 0
    assert batch(chain, us_root)["revocationReason"] == 0


@pytest.mark.parametrize("index", [0, 6, 7], ids=["deployer", "outsider", "other"])
def test_non_signer_cannot_anchor(chain: Chain, index: int) -> None:
    account = dev_account(index)
    root = root_of("not a signer")
    assert revert(chain, account, chain.anchors.functions.anchorBatch(root, 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(account)}, office=none)"
    )
    assert batch(chain, root)["blockNumber"] == 0
    assert chain.batch_of(hx(root)) is None


def test_removed_signer_cannot_anchor(chain: Chain) -> None:
    chain.transact(EP, chain.offices.functions.addSigner(OUTSIDER.address))
    removed = chain.transact(OUTSIDER, chain.offices.functions.removeSigner(EP.address))
    (event,) = events(chain, chain.offices, "SignerRemoved", removed)
    assert event["args"] == {"office": b"EP", "signer": EP.address, "untilBlock": removed.block_number}
    assert chain.office_of(EP.address) is None
    assert not chain.offices.functions.isActiveSigner(b"EP", EP.address).call()

    assert revert(chain, EP, chain.anchors.functions.anchorBatch(root_of("removed"), 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(EP)}, office=none)"
    )
    # the remaining signer still anchors for EP
    anchor(chain, OUTSIDER, root_of("kept"))
    assert batch(chain, root_of("kept"))["office"] == b"EP"
    # a signer may remove itself; afterwards it cannot anchor either
    chain.transact(OUTSIDER, chain.offices.functions.removeSigner(OUTSIDER.address))
    assert revert(chain, OUTSIDER, chain.anchors.functions.anchorBatch(root_of("self-removed"), 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(OUTSIDER)}, office=none)"
    )
    # ... nor manage signers any more
    assert revert(chain, OUTSIDER, chain.offices.functions.addSigner(OTHER.address)) == (
        f"UnauthorisedSigner(account={addr(OUTSIDER)}, office=none)"
    )


def test_suspended_office_cannot_anchor_revoke_or_govern(chain: Chain) -> None:
    before = root_of("EP before suspension")
    anchor(chain, EP, before)
    suspend(chain, "EP", US, JP, EM)
    assert status(chain, "EP") == STATUS_SUSPENDED
    assert chain.office_of(EP.address) == "EP"  # still EP's key, but EP is not active
    assert not chain.offices.functions.isActiveSigner(b"EP", EP.address).call()

    assert revert(chain, EP, chain.anchors.functions.anchorBatch(root_of("EP suspended"), 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(EP)}, office=EP)"
    )
    assert revert(chain, EP, chain.anchors.functions.revokeBatch(before, 1)) == (
        f"NotAnActiveSigner(account={addr(EP)}, office=EP)"
    )
    assert revert(chain, EP, chain.offices.functions.addSigner(OUTSIDER.address)) == (
        f"OfficeNotActive(office=EP, status={STATUS_SUSPENDED})"
    )
    assert revert(chain, EP, chain.offices.functions.propose(SUSPEND, b"US", "", "", ZERO_ADDRESS)) == (
        f"OfficeNotActive(office=EP, status={STATUS_SUSPENDED})"
    )
    # earlier anchors stay, other offices are unaffected
    assert batch(chain, before)["office"] == b"EP"
    anchor(chain, US, root_of("US while EP suspended"))


def test_signers_are_managed_by_their_own_office_only(chain: Chain) -> None:
    fns = chain.offices.functions
    assert revert(chain, US, fns.removeSigner(EP.address)) == f"UnauthorisedSigner(account={addr(EP)}, office=US)"
    assert revert(chain, US, fns.rotateSigner(EP.address, OUTSIDER.address)) == (
        f"UnauthorisedSigner(account={addr(EP)}, office=US)"
    )
    assert revert(chain, OUTSIDER, fns.addSigner(OTHER.address)) == (
        f"UnauthorisedSigner(account={addr(OUTSIDER)}, office=none)"
    )
    assert revert(chain, EP, fns.addSigner(US.address)) == f"SignerAlreadyRegistered(account={addr(US)}, office=US)"
    assert revert(chain, EP, fns.addSigner(ZERO_ADDRESS)) == "ZeroSigner()"
    assert chain.office_of(EP.address) == "EP"
    assert chain.office_of(US.address) == "US"

    added = chain.transact(EP, fns.addSigner(OUTSIDER.address))
    (event,) = events(chain, chain.offices, "SignerAdded", added)
    assert event["args"] == {"office": b"EP", "signer": OUTSIDER.address, "fromBlock": added.block_number}
    assert chain.office_of(OUTSIDER.address) == "EP"
    assert revert(chain, US, fns.addSigner(OUTSIDER.address)) == (
        f"SignerAlreadyRegistered(account={addr(OUTSIDER)}, office=EP)"
    )


# ---------------------------------------------------------------------------- governance


def test_one_office_cannot_admit_another_threshold_can(chain: Chain) -> None:
    fns = chain.offices.functions
    name, uri = "Korean Intellectual Property Office", "https://kipris.or.kr/?q="
    id_ = propose(chain, US, ADMIT, "KR", name, uri, OUTSIDER.address)
    assert fns.proposal(id_).call() == [ADMIT, b"KR", 1, False]
    assert revert(chain, US, fns.execute(id_)) == f"ThresholdNotReached(id={id_}, approvals=1, threshold=3)"
    assert status(chain, "KR") == STATUS_NONE
    assert revert(chain, OUTSIDER, chain.anchors.functions.anchorBatch(root_of("KR"), 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(OUTSIDER)}, office=none)"
    )

    approve(chain, id_, JP)
    assert revert(chain, JP, fns.execute(id_)) == f"ThresholdNotReached(id={id_}, approvals=2, threshold=3)"
    approve(chain, id_, EM)
    assert fns.proposal(id_).call() == [ADMIT, b"KR", 3, False]

    executed = chain.transact(EM, fns.execute(id_))
    (admitted,) = events(chain, chain.offices, "OfficeAdmitted", executed)
    assert admitted["args"] == {"office": b"KR", "name": name, "baseURI": uri}
    (signer_added,) = events(chain, chain.offices, "SignerAdded", executed)
    assert signer_added["args"] == {
        "office": b"KR",
        "signer": OUTSIDER.address,
        "fromBlock": executed.block_number,
    }
    assert [e["args"]["id"] for e in events(chain, chain.offices, "ProposalExecuted", executed)] == [id_]
    assert fns.proposal(id_).call() == [ADMIT, b"KR", 3, True]
    assert chain.office_info("KR") == (name, uri, "active")
    assert chain.office_codes()[-1] == "KR"

    root = root_of("first KR batch")
    anchor(chain, OUTSIDER, root)
    assert batch(chain, root)["office"] == b"KR"
    assert batch(chain, root)["signer"] == OUTSIDER.address


def test_one_office_cannot_suspend_another_threshold_can(chain: Chain) -> None:
    fns = chain.offices.functions
    id_ = propose(chain, US, SUSPEND, "EP")
    assert revert(chain, US, fns.execute(id_)) == f"ThresholdNotReached(id={id_}, approvals=1, threshold=3)"
    assert status(chain, "EP") == STATUS_ACTIVE
    anchor(chain, EP, root_of("EP still active"))

    approve(chain, id_, JP, EM)
    executed = chain.transact(OTHER, fns.execute(id_))  # anyone may carry out an approved proposal
    (changed,) = events(chain, chain.offices, "OfficeStatusChanged", executed)
    assert changed["args"] == {"office": b"EP", "status": STATUS_SUSPENDED}
    assert status(chain, "EP") == STATUS_SUSPENDED
    assert revert(chain, EP, chain.anchors.functions.anchorBatch(root_of("EP suspended"), 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(EP)}, office=EP)"
    )


def test_duplicate_approval_rejected(chain: Chain) -> None:
    fns = chain.offices.functions
    id_ = propose(chain, US, SUSPEND, "WO")
    # the proposer's office approved at proposal time
    assert revert(chain, US, fns.approve(id_)) == f"AlreadyApproved(id={id_}, office=US)"
    approve(chain, id_, JP)
    assert revert(chain, JP, fns.approve(id_)) == f"AlreadyApproved(id={id_}, office=JP)"
    # one office, one vote: a second key of JP cannot approve again
    chain.transact(JP, fns.addSigner(OUTSIDER.address))
    assert revert(chain, OUTSIDER, fns.approve(id_)) == f"AlreadyApproved(id={id_}, office=JP)"
    assert fns.proposal(id_).call() == [SUSPEND, b"WO", 2, False]
    assert revert(chain, OTHER, fns.execute(id_)) == f"ThresholdNotReached(id={id_}, approvals=2, threshold=3)"


def test_suspend_then_reinstate(chain: Chain) -> None:
    fns = chain.offices.functions
    suspend(chain, "JP", EP, US, EM)
    assert revert(chain, JP, chain.anchors.functions.anchorBatch(root_of("JP"), 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(JP)}, office=JP)"
    )
    id_ = propose(chain, EP, REINSTATE, "JP")
    # the suspended office cannot vote for its own reinstatement
    assert revert(chain, JP, fns.approve(id_)) == f"OfficeNotActive(office=JP, status={STATUS_SUSPENDED})"
    approve(chain, id_, US)
    assert revert(chain, EP, fns.execute(id_)) == f"ThresholdNotReached(id={id_}, approvals=2, threshold=3)"
    approve(chain, id_, WO)
    executed = chain.transact(EP, fns.execute(id_))
    (changed,) = events(chain, chain.offices, "OfficeStatusChanged", executed)
    assert changed["args"] == {"office": b"JP", "status": STATUS_ACTIVE}
    assert status(chain, "JP") == STATUS_ACTIVE
    root = root_of("JP reinstated")
    anchor(chain, JP, root)
    assert batch(chain, root)["office"] == b"JP"


def test_proposal_executes_once(chain: Chain) -> None:
    fns = chain.offices.functions
    id_ = propose(chain, EP, SUSPEND, "WO")
    approve(chain, id_, US, JP)
    chain.transact(EM, fns.execute(id_))
    assert revert(chain, EM, fns.execute(id_)) == f"AlreadyExecuted(id={id_})"
    assert revert(chain, WO, fns.approve(id_)) == f"OfficeNotActive(office=WO, status={STATUS_SUSPENDED})"
    assert revert(chain, EM, fns.approve(id_)) == f"AlreadyExecuted(id={id_})"
    assert fns.proposalCount().call() == 1


def test_proposal_validation(chain: Chain) -> None:
    fns = chain.offices.functions
    assert revert(chain, EP, fns.propose(ADMIT, b"k1", "x", "y", OUTSIDER.address)) == ("InvalidOfficeCode(office=k1)")
    assert revert(chain, EP, fns.propose(ADMIT, b"US", "x", "y", OUTSIDER.address)) == (
        "OfficeAlreadyRegistered(office=US)"
    )
    assert revert(chain, EP, fns.propose(ADMIT, b"KR", "x", "y", ZERO_ADDRESS)) == "ZeroSigner()"
    assert revert(chain, EP, fns.propose(SUSPEND, b"XX", "", "", ZERO_ADDRESS)) == "UnknownOffice(office=XX)"
    assert revert(chain, EP, fns.propose(REINSTATE, b"XX", "", "", ZERO_ADDRESS)) == "UnknownOffice(office=XX)"
    assert revert(chain, OUTSIDER, fns.propose(SUSPEND, b"EP", "", "", ZERO_ADDRESS)) == (
        f"UnauthorisedSigner(account={addr(OUTSIDER)}, office=none)"
    )
    assert revert(chain, EP, fns.approve(7)) == "UnknownProposal(id=7)"
    assert revert(chain, EP, fns.execute(7)) == "UnknownProposal(id=7)"
    assert fns.proposalCount().call() == 0


def test_admission_whose_signer_is_taken_does_not_admit(chain: Chain) -> None:
    fns = chain.offices.functions
    id_ = propose(chain, EP, ADMIT, "KR", "KIPO", "https://kipris.or.kr/", US.address)
    approve(chain, id_, JP, EM)
    assert revert(chain, EP, fns.execute(id_)) == f"SignerAlreadyRegistered(account={addr(US)}, office=US)"
    assert status(chain, "KR") == STATUS_NONE
    assert "KR" not in chain.office_codes()
    assert fns.proposal(id_).call() == [ADMIT, b"KR", 3, False]


# ---------------------------------------------------------------------------- key rotation


def test_anchor_before_rotation_stays_verifiable(chain: Chain) -> None:
    genesis = chain.deployment.block_number if chain.deployment else -1
    root = root_of("anchored by the old key")
    anchored = anchor(chain, EP, root)

    rotated = chain.transact(EP, chain.offices.functions.rotateSigner(EP.address, OUTSIDER.address))
    rotation = rotated.block_number
    assert rotation > anchored.block_number
    removed = events(chain, chain.offices, "SignerRemoved", rotated)
    added = events(chain, chain.offices, "SignerAdded", rotated)
    assert [e["args"] for e in removed] == [{"office": b"EP", "signer": EP.address, "untilBlock": rotation}]
    assert [e["args"] for e in added] == [{"office": b"EP", "signer": OUTSIDER.address, "fromBlock": rotation}]

    later = anchor(chain, OUTSIDER, root_of("anchored by the new key"))
    assert later.block_number > rotation

    # the old anchor is still there and was authorised at its block
    assert batch(chain, root)["signer"] == EP.address
    assert batch(chain, root)["blockNumber"] == anchored.block_number
    assert was_signer_at(chain, "EP", EP, anchored.block_number)
    assert chain.was_signer_at("EP", EP.address, anchored.block_number)
    assert not was_signer_at(chain, "EP", EP, later.block_number)
    assert not was_signer_at(chain, "US", EP, anchored.block_number)  # wrong office
    # the new key: valid from the rotation block on, not before
    assert was_signer_at(chain, "EP", OUTSIDER, rotation)
    assert was_signer_at(chain, "EP", OUTSIDER, later.block_number)
    assert not was_signer_at(chain, "EP", OUTSIDER, rotation - 1)
    assert not was_signer_at(chain, "EP", OUTSIDER, anchored.block_number)

    assert terms(chain, "EP", EP) == [(genesis, rotation)]
    assert terms(chain, "EP", OUTSIDER) == [(rotation, 0)]
    assert revert(chain, EP, chain.anchors.functions.anchorBatch(root_of("old key again"), 1, "uri")) == (
        f"NotAnActiveSigner(account={addr(EP)}, office=none)"
    )
    assert batch(chain, root_of("anchored by the new key"))["office"] == b"EP"


def test_signer_terms_history(chain: Chain) -> None:
    fns = chain.offices.functions
    b1 = chain.transact(EP, fns.addSigner(OUTSIDER.address)).block_number
    b2 = chain.transact(EP, fns.removeSigner(OUTSIDER.address)).block_number
    gap = anchor(chain, EP, root_of("a block while OUTSIDER is no signer")).block_number
    b3 = chain.transact(US, fns.addSigner(OUTSIDER.address)).block_number  # now a US key
    b4 = chain.transact(US, fns.removeSigner(OUTSIDER.address)).block_number
    b5 = chain.transact(EP, fns.addSigner(OUTSIDER.address)).block_number  # EP again
    assert b1 < b2 < gap < b3 < b4 < b5

    assert terms(chain, "EP", OUTSIDER) == [(b1, b2), (b5, 0)]
    assert terms(chain, "US", OUTSIDER) == [(b3, b4)]
    assert terms(chain, "JP", OUTSIDER) == []
    assert chain.office_of(OUTSIDER.address) == "EP"

    # Terms are [fromBlock, untilBlock]: what a key did in its removal block came before the removal.
    expected_ep = {
        b1 - 1: False,
        b1: True,
        b2 - 1: True,
        b2: True,
        b2 + 1: False,
        gap: False,
        b3: False,
        b5 - 1: False,
        b5: True,
    }
    for block, expected in expected_ep.items():
        assert was_signer_at(chain, "EP", OUTSIDER, block) is expected, block
    expected_us = {b3 - 1: False, b3: True, b4 - 1: True, b4: True, b4 + 1: False, b5: False, b1: False}
    for block, expected in expected_us.items():
        assert was_signer_at(chain, "US", OUTSIDER, block) is expected, block


def test_anchor_in_the_rotation_block_stays_verifiable(chain: Chain) -> None:
    tester = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    chain.transact(EP, chain.offices.functions.addSigner(OUTSIDER.address))
    root = root_of("anchored just before the rotation, same block")
    tester.disable_auto_mine_transactions()
    try:
        first = chain.send(EP, chain.build(EP, chain.anchors.functions.anchorBatch(root, 1, "uri")))
        second = chain.send(
            OUTSIDER, chain.build(OUTSIDER, chain.offices.functions.rotateSigner(EP.address, OTHER.address))
        )
        tester.mine_blocks(1)
    finally:
        tester.enable_auto_mine_transactions()
    anchored, rotated = chain.wait(first), chain.wait(second)
    assert anchored.block_number == rotated.block_number
    assert batch(chain, root)["signer"] == EP.address  # the contract accepted EP's key for this anchor
    assert was_signer_at(chain, "EP", EP, anchored.block_number)


# ---------------------------------------------------------------------------- revocation


def test_revoke_leaf_by_own_office(chain: Chain) -> None:
    fns = chain.anchors.functions
    values, tree = tree_of(5)
    leaves = [v.leaf() for v in values]
    anchor(chain, EP, tree.root, leaf_count=5)

    assert revert(chain, EP, fns.revokeLeaf(tree.root, leaves[1], tree.proof(1), 0)) == "InvalidReason(reason=0)"
    assert revert(chain, EP, fns.revokeLeaf(tree.root, leaves[1], tree.proof(2), 3)) == (
        f"LeafNotInBatch(root={hx(tree.root)}, leaf={hx(leaves[1])})"
    )
    foreign = LeafValue("EP:999:A1", hx(keccak(b"not in the batch")), "raw").leaf()
    assert revert(chain, EP, fns.revokeLeaf(tree.root, foreign, tree.proof(0), 3)) == (
        f"LeafNotInBatch(root={hx(tree.root)}, leaf={hx(foreign)})"
    )
    unknown = root_of("never anchored")
    assert revert(chain, EP, fns.revokeLeaf(unknown, leaves[1], tree.proof(1), 3)) == (
        f"UnknownBatch(root={hx(unknown)})"
    )

    revoked = chain.transact(EP, fns.revokeLeaf(tree.root, leaves[1], tree.proof(1), 3))
    (event,) = events(chain, chain.anchors, "LeafRevoked", revoked)
    assert event["args"] == {"root": tree.root, "leaf": leaves[1], "office": b"EP", "reason": 3}
    assert [fns.leafRevocation(tree.root, leaf).call() for leaf in leaves] == [0, 3, 0, 0, 0]
    assert batch(chain, tree.root)["revocationReason"] == 0
    included, info, reason = chain.verify_record(hx(tree.root), [hx(p) for p in tree.proof(1)], leaves[1])
    assert included and reason == 3 and info is not None and info.office == "EP"
    assert chain.verify_record(hx(tree.root), [hx(p) for p in tree.proof(2)], leaves[2])[::2] == (True, 0)

    assert revert(chain, EP, fns.revokeLeaf(tree.root, leaves[1], tree.proof(1), 4)) == (
        f"AlreadyRevoked(root={hx(tree.root)}, leaf={hx(leaves[1])}, reason=3)"
    )
    assert fns.leafRevocation(tree.root, leaves[1]).call() == 3


def test_revoke_batch_by_own_office(chain: Chain) -> None:
    fns = chain.anchors.functions
    values, tree = tree_of(4)
    anchor(chain, EP, tree.root, leaf_count=4)
    assert revert(chain, EP, fns.revokeBatch(tree.root, 0)) == "InvalidReason(reason=0)"
    unknown = root_of("never anchored")
    assert revert(chain, EP, fns.revokeBatch(unknown, 1)) == f"UnknownBatch(root={hx(unknown)})"
    assert revert(chain, OUTSIDER, fns.revokeBatch(tree.root, 1)) == (
        f"NotAnActiveSigner(account={addr(OUTSIDER)}, office=none)"
    )

    revoked = chain.transact(EP, fns.revokeBatch(tree.root, 2))
    (event,) = events(chain, chain.anchors, "BatchRevoked", revoked)
    assert event["args"] == {"root": tree.root, "office": b"EP", "reason": 2}
    assert batch(chain, tree.root)["revocationReason"] == 2
    info = chain.batch_of(hx(tree.root))
    assert info is not None and info.revocation_reason == 2
    assert revert(chain, EP, fns.revokeBatch(tree.root, 5)) == (
        f"AlreadyRevoked(root={hx(tree.root)}, leaf={hx(ZERO32)}, reason=2)"
    )
    assert batch(chain, tree.root)["revocationReason"] == 2
    # a revoked batch is still anchored: proofs verify, and the verifier sees the reason
    assert fns.verifyProof(tree.root, tree.proof(0), values[0].leaf()).call() is True
    assert chain.verify_record(hx(tree.root), [hx(p) for p in tree.proof(0)], values[0].leaf())[1] == info


# ---------------------------------------------------------------------------- anchoring rules


def test_reanchoring_a_root_reverts(chain: Chain) -> None:
    root = root_of("anchored once")
    first = anchor(chain, EP, root, leaf_count=7, uri="first")
    expected = f"RootAlreadyAnchored(root={hx(root)}, office=EP, blockNumber={first.block_number})"
    message = revert(chain, EP, chain.anchors.functions.anchorBatch(root, 7, "again"))
    assert hx(root) in message
    assert message == expected
    # another office cannot take over the root either
    assert revert(chain, US, chain.anchors.functions.anchorBatch(root, 1, "mine")) == expected
    assert batch(chain, root) == {
        "office": b"EP",
        "signer": EP.address,
        "timestamp": first.timestamp,
        "blockNumber": first.block_number,
        "leafCount": 7,
        "revocationReason": 0,
    }
    assert len(chain.anchors.events.BatchAnchored().get_logs(from_block=0)) == 1


@pytest.mark.parametrize(
    ("root", "leaf_count"),
    [(root_of("x"), 0), (ZERO32, 1), (ZERO32, 0)],
    ids=["zero-leaves", "zero-root", "both"],
)
def test_empty_batch_rejected(chain: Chain, root: bytes, leaf_count: int) -> None:
    assert revert(chain, EP, chain.anchors.functions.anchorBatch(root, leaf_count, "uri")) == (
        f"EmptyBatch(root={hx(root)}, leafCount={leaf_count})"
    )
    assert chain.anchors.events.BatchAnchored().get_logs(from_block=0) == []


# ---------------------------------------------------------------------------- events


def test_batch_anchored_event(chain: Chain) -> None:
    root = root_of("event")
    uri = "https://register.example/manifests/ep-2026-47.json"
    result = anchor(chain, EP, root, leaf_count=1234, uri=uri)

    (logged,) = chain.anchors.events.BatchAnchored().get_logs(from_block=0)
    (processed,) = events(chain, chain.anchors, "BatchAnchored", result)
    for event in (logged, processed):
        assert event["args"] == {
            "root": root,
            "office": b"EP",
            "signer": EP.address,
            "leafCount": 1234,
            "manifestURI": uri,
        }
        assert event["blockNumber"] == result.block_number
        assert event["address"] == chain.anchors.address

    # root, office and signer are indexed topics (searchable without reading data)
    receipt = chain.w3.eth.get_transaction_receipt(result.transaction_hash)  # type: ignore[arg-type]
    (log,) = receipt["logs"]
    topics = [bytes(t) for t in log["topics"]]
    assert topics[1:] == [root, b"EP" + b"\x00" * 30, b"\x00" * 12 + bytes.fromhex(EP.address[2:])]

    anchor(chain, US, root_of("US event"), leaf_count=2, uri="us")
    by_us = chain.anchors.events.BatchAnchored().get_logs(from_block=0, argument_filters={"office": b"US"})
    assert [(e["args"]["root"], e["args"]["signer"]) for e in by_us] == [(root_of("US event"), US.address)]
    by_root = chain.anchors.events.BatchAnchored().get_logs(from_block=0, argument_filters={"root": root})
    assert [e["args"]["office"] for e in by_root] == [b"EP"]


# ---------------------------------------------------------------------------- cost


def _calldata_gas(data: bytes) -> int:
    return sum(16 if b else 4 for b in data)


def test_anchor_gas_does_not_grow_with_leaf_count(chain: Chain) -> None:
    gas: dict[int, int] = {}
    execution: dict[int, int] = {}
    for i, leaf_count in enumerate((1, 100, 10_000)):
        root = bytes([0xA5] * 31 + [i + 1])  # same number of non-zero calldata bytes for every root
        fn = chain.anchors.functions.anchorBatch(root, leaf_count, "ipfs://manifest")
        result = chain.transact(EP, fn)
        tx = chain.w3.eth.get_transaction(result.transaction_hash)  # type: ignore[arg-type]
        gas[leaf_count] = result.gas_used
        execution[leaf_count] = result.gas_used - _calldata_gas(bytes(tx["input"]))
        assert batch(chain, root)["leafCount"] == leaf_count
    # calldata has the same length; only the non-zero bytes of leafCount differ (12 gas per byte)
    assert max(gas.values()) - min(gas.values()) <= 24, gas
    assert len(set(execution.values())) == 1, execution
