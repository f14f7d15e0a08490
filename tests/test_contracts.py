"""OfficeRegistry and AnchorRegistry, deployed on the in-process EVM (no mocks).

Dev preset: account 0 deploys; accounts 1..5 are the signers of EP, US, JP, EM, WO; accounts 6..9 are
funded outsiders. Rule: a strict majority of the active offices, at least 2, never more than the active
count. Reverts are asserted by the exact typed error and its decoded values that ``registry.chain.client`` raises.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from registry.chain import reverts as ce
from registry.chain.artifacts import artifact
from registry.chain.client import Chain, TxResult, connect
from registry.chain.deploy import deploy_dev, deploy_offices
from registry.chain.dev import DEV_OFFICES, DEV_RULE, dev_account
from registry.chain.payloads import encode_payload
from registry.core.contract import ACTIONS, ZERO_ADDRESS, GovernanceRule
from registry.core.leaves import LeafValue
from registry.core.merkle import MerkleTree, keccak
from registry.errors import ContractRevertError

EP, US, JP, EM, WO = (dev_account(i) for i in range(1, 6))
DEPLOYER = dev_account(0)
OUTSIDER = dev_account(6)
OTHER = dev_account(7)


# ---------------------------------------------------------------------------- helpers


@pytest.fixture
def chain() -> Iterator[Chain]:
    """A fresh dev deployment per test: governance and signer tests change global state."""
    c = Chain(connect("embedded"))
    deploy_dev(c)
    yield c


def code(office: str) -> bytes:
    return office.encode("ascii")


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def root_of(label: str) -> bytes:
    return keccak(label.encode())


def fails(error: type[ce.ContractError], call: Any, *args: Any, **kwargs: Any) -> ce.ContractError:
    """``call(*args)`` must raise exactly the typed ``error``; return it (its ``values`` decoded)."""
    with pytest.raises(ContractRevertError) as info:
        call(*args, **kwargs)
    assert type(info.value) is error, str(info.value)
    assert isinstance(info.value, ce.ContractError)
    return info.value


def anchor(chain: Chain, account: LocalAccount, root: bytes, leaf_count: int = 1) -> TxResult:
    return chain.anchor_batch(account, root, leaf_count, "https://example.org/m.json")


def tree_of(n: int, office: str = "EP") -> tuple[list[LeafValue], MerkleTree]:
    values = [
        LeafValue(f"{office}:{1000000 + i}:B1", hx(keccak(f"content {office} {i}".encode())), "xml-c14n2")
        for i in range(n)
    ]
    return values, MerkleTree.from_leaves([v.leaf() for v in values])


def pass_(chain: Chain, action: str, office: str | None, approvers: list[LocalAccount], **params: Any) -> int:
    """Propose with the first approver, approve with the rest, execute; return the proposal id."""
    pid, _ = chain.propose(approvers[0], action, office, **params)
    for a in approvers[1:]:
        chain.approve(a, pid)
    chain.execute(approvers[0], pid)
    return pid


def status(chain: Chain, office: str) -> str:
    return chain.office_info(office)[2]


def mine(chain: Chain, blocks: int) -> None:
    chain.w3.testing.mine(blocks)  # type: ignore[attr-defined]


def join(chain: Chain, office: str, nominator: LocalAccount, new: LocalAccount) -> TxResult:
    chain.add_signer(nominator, new.address)
    return chain.accept_signer(new, office)


# ---------------------------------------------------------------------------- deployment and rule


def test_genesis_offices_rule_and_versions(chain: Chain) -> None:
    assert [c for c, _, _ in DEV_OFFICES] == chain.office_codes()
    assert chain.rule() == DEV_RULE == GovernanceRule(1, 2, 2, 50_400)
    assert chain.active_office_count() == 5
    assert chain.required_approvals() == 3
    for i, (office, name, uri) in enumerate(DEV_OFFICES, start=1):
        assert chain.office_info(office) == (name, uri, "active")
        assert chain.office_of(dev_account(i).address) == office
    assert chain.anchors.functions.predecessor().call() == ZERO_ADDRESS
    assert chain.frozen_at() == 0 and chain.successor() == ZERO_ADDRESS


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (GovernanceRule(1, 3, 2, 100), "a minority fraction"),
        (GovernanceRule(1, 2, 1, 100), "a single office could act"),
        (GovernanceRule(2, 2, 2, 100), "unanimity: one office could block everything"),
        (GovernanceRule(1, 0, 2, 100), "zero denominator"),
        (GovernanceRule(1, 2, 2, 0), "proposals that expire at once"),
        (GovernanceRule(1, 2, 2, 1_000_001), "proposals that live too long"),
    ],
)
def test_constructor_refuses_unsafe_rules(rule: GovernanceRule, reason: str) -> None:
    c = Chain(connect("embedded"))
    genesis = [(o, n, u, dev_account(i).address) for i, (o, n, u) in enumerate(DEV_OFFICES, 1)]
    err = fails(ce.UnsafeRule, deploy_offices, c, DEPLOYER, genesis, rule)
    assert err.values == {
        "numerator": rule.numerator,
        "denominator": rule.denominator,
        "minApprovals": rule.min_approvals,
        "ttlBlocks": rule.ttl_blocks,
    }, reason


def test_constructor_refuses_a_single_genesis_office() -> None:
    c = Chain(connect("embedded"))
    err = fails(ce.TooFewOffices, deploy_offices, c, DEPLOYER, [("EP", "EPO", "u", EP.address)], DEV_RULE)
    assert err.values == {"offices": 1, "minimum": 2}


@given(active=st.integers(0, 300), num=st.integers(1, 99), floor=st.integers(2, 10))
def test_rule_formula(active: int, num: int, floor: int) -> None:
    rule = GovernanceRule(max(num, 50), 100, floor, 10)
    need = rule.required(active)
    assert need >= 2  # no office ever acts alone (below 2 active offices nothing executes)
    if active >= 3:
        assert need < active  # never all of them: no single office can veto
        assert need * 2 > active  # a strict majority
        assert need >= min(floor, active - 1)


def test_every_custom_error_has_a_typed_class() -> None:
    names = {
        i["name"] for n in ("OfficeRegistry", "AnchorRegistry") for i in artifact(n)["abi"] if i["type"] == "error"
    }
    assert names == set(ce.BY_NAME)


# ---------------------------------------------------------------------------- governance


def test_required_approvals_follow_the_active_offices(chain: Chain) -> None:
    pass_(chain, "suspend", "WO", [EP, US, JP])
    assert (chain.active_office_count(), chain.required_approvals()) == (4, 3)
    pass_(chain, "suspend", "EM", [EP, US, JP])
    assert (chain.active_office_count(), chain.required_approvals()) == (3, 2)
    # With 3 active, two offices are a majority: the reinstatement the old fixed threshold blocked passes.
    pass_(chain, "reinstate", "WO", [EP, US])
    assert status(chain, "WO") == "active" and chain.required_approvals() == 3


def test_governance_never_stalls_by_suspension(chain: Chain) -> None:
    pass_(chain, "suspend", "WO", [EP, US, JP])
    pass_(chain, "suspend", "EM", [EP, US, JP])
    pass_(chain, "suspend", "JP", [EP, US])
    err = fails(ce.GovernanceWouldStall, chain.propose, EP, "suspend", "US")
    assert err.values == {"activeAfter": 1, "minimum": 2}
    # The two remaining offices can still reinstate everyone.
    pass_(chain, "reinstate", "JP", [EP, US])
    assert chain.active_office_count() == 3


def test_approvals_of_offices_suspended_after_approving_do_not_count(chain: Chain) -> None:
    pid, _ = chain.propose(EP, "admit", "KR", name="KIPO", base_uri="https://kipo/", signer=OUTSIDER.address)
    chain.approve(US, pid)
    chain.approve(JP, pid)
    assert chain.proposal(pid).counted_approvals == 3
    pass_(chain, "suspend", "JP", [EP, US, EM])  # JP approved, then was suspended
    assert chain.proposal(pid).counted_approvals == 2
    err = fails(ce.ThresholdNotReached, chain.execute, EP, pid)
    assert err.values == {"id": pid, "approvals": 2, "required": 3}
    pass_(chain, "reinstate", "JP", [EP, US, EM])
    # Reinstated, JP's earlier approval stays lapsed: it must approve again.
    assert chain.proposal(pid).counted_approvals == 2
    chain.approve(JP, pid)
    chain.execute(OUTSIDER, pid)  # anyone may execute
    assert status(chain, "KR") == "active"


def test_office_without_keys_does_not_count_and_cannot_block(chain: Chain) -> None:
    pass_(chain, "admit", "KR", [EP, US, JP], name="KIPO", base_uri="u", signer=OUTSIDER.address)
    # KR is admitted but its key has not accepted: it cannot vote, so it does not raise the bar.
    assert chain.active_office_count() == 5 and chain.required_approvals() == 3
    chain.accept_signer(OUTSIDER, "KR")
    assert chain.active_office_count() == 6 and chain.required_approvals() == 4


def test_approval_binds_to_the_payload_hash(chain: Chain) -> None:
    pid, _ = chain.propose(EP, "admit", "KR", name="KIPO", base_uri="u", signer=OUTSIDER.address)
    p = chain.proposal(pid)
    assert p.payload == {"name": "KIPO", "base_uri": "u", "signer": OUTSIDER.address}
    expected = Web3.keccak(
        Web3().codec.encode(
            ["uint8", "bytes2", "bytes"],
            [0, b"KR", encode_payload("admit", name="KIPO", base_uri="u", signer=OUTSIDER.address)],
        )
    )
    assert p.payload_hash == hx(expected)
    wrong = hx(keccak(b"another payload"))
    err = fails(ce.PayloadMismatch, chain.approve, US, pid, wrong)
    assert err.values["given"] == bytes.fromhex(wrong[2:])
    # The payload is in the event too.
    created = chain.offices.events.ProposalCreated().get_logs(from_block=0)
    assert bytes(created[-1]["args"]["payload"]) == encode_payload(
        "admit", name="KIPO", base_uri="u", signer=OUTSIDER.address
    )


def test_duplicate_pending_proposals_and_no_op_changes_refused(chain: Chain) -> None:
    pid, _ = chain.propose(EP, "admit", "KR", name="KIPO", base_uri="u", signer=OUTSIDER.address)
    err = fails(
        ce.DuplicateProposal, chain.propose, US, "admit", "KR", name="KIPO", base_uri="u", signer=OUTSIDER.address
    )
    assert err.values == {"pendingId": pid}
    # Another payload is another proposal: a squatter never blocks the honest one (3.0.0).
    other, _ = chain.propose(US, "admit", "KR", name="K", base_uri="u", signer=OTHER.address)
    assert other == pid + 1
    # The proposer withdraws its own; another office cannot, governance can (cancel).
    fails(ce.NotProposer, chain.cancel, EP, other)
    chain.cancel(US, other)
    assert chain.proposal(other).cancelled
    fails(ce.ProposalIsCancelled, chain.approve, JP, other)
    pass_(chain, "cancel", None, [JP, EM, WO], proposal_id=pid)
    assert chain.proposal(pid).cancelled
    assert fails(ce.NoStatusChange, chain.propose, EP, "reinstate", "US").values == {"office": b"US", "status": 1}
    assert fails(
        ce.OfficeAlreadyRegistered, chain.propose, EP, "admit", "US", name="", base_uri="", signer=OTHER.address
    )
    assert fails(ce.UnknownOffice, chain.propose, EP, "suspend", "KR")
    assert fails(ce.InvalidOfficeCode, chain.propose, EP, "admit", "k1", name="", base_uri="", signer=OTHER.address)


def test_proposals_expire() -> None:
    chain = Chain(connect("embedded"))
    genesis = [(o, n, u, dev_account(i).address) for i, (o, n, u) in enumerate(DEV_OFFICES, 1)]
    deploy_offices(chain, DEPLOYER, genesis, GovernanceRule(1, 2, 2, 5))
    pid, _ = chain.propose(EP, "suspend", "WO")
    chain.approve(US, pid)
    assert chain.proposal(pid).expires_block == chain.proposal(pid).created_block + 5
    mine(chain, 5)
    expires = chain.proposal(pid).expires_block
    fails(ce.ProposalExpired, chain.approve, JP, pid)
    assert fails(ce.ProposalExpired, chain.execute, EP, pid).values == {"id": pid, "expiresBlock": expires}
    # An expired proposal does not block a new one.
    pass_(chain, "suspend", "WO", [EP, US, JP])


def test_stale_suspend_cannot_be_executed_after_a_reinstatement(chain: Chain) -> None:
    old, _ = chain.propose(EP, "suspend", "WO")
    chain.approve(US, old)
    chain.approve(JP, old)
    chain.execute(EP, old)
    pass_(chain, "reinstate", "WO", [EP, US, JP])
    fails(ce.AlreadyExecuted, chain.execute, EP, old)
    assert status(chain, "WO") == "active"


def test_one_office_cannot_act_alone(chain: Chain) -> None:
    pid, _ = chain.propose(EP, "suspend", "US")
    assert fails(ce.ThresholdNotReached, chain.execute, EP, pid).values == {"id": pid, "approvals": 1, "required": 3}
    fails(ce.AlreadyApproved, chain.approve, EP, pid)
    fails(ce.UnauthorisedSigner, chain.propose, OUTSIDER, "suspend", "US")


def test_rule_changed_by_the_same_process(chain: Chain) -> None:
    pass_(chain, "set-rule", None, [EP, US, JP], numerator=2, denominator=3, min_approvals=3, ttl_blocks=100)
    assert chain.rule() == GovernanceRule(2, 3, 3, 100)
    assert chain.required_approvals() == 4  # floor(5 * 2/3) + 1
    fails(ce.UnsafeRule, chain.propose, EP, "set-rule", None, numerator=1, denominator=4, min_approvals=2, ttl_blocks=9)


def test_freeze_stops_anchoring_keeps_revocation_and_views(chain: Chain) -> None:
    values, tree = tree_of(4)
    anchor(chain, EP, tree.root, 4)
    fails(ce.NoCodeAt, chain.propose, EP, "freeze", None, successor="0x" + "ab" * 20)  # a successor is a contract
    successor = chain.anchors.address
    pid = pass_(chain, "freeze", None, [EP, US, JP], successor=successor)
    frozen = chain.frozen_at()
    assert frozen > 0 and chain.successor() == Web3.to_checksum_address(successor)
    logs = chain.offices.events.RegistryFrozen().get_logs(from_block=0)
    assert [(log["args"]["successor"], log["args"]["blockNumber"]) for log in logs] == [(chain.successor(), frozen)]
    err = fails(ce.RegistryFrozen, anchor, chain, EP, root_of("after freeze"))
    assert err.values == {"frozenAt": frozen, "successor": chain.successor()}
    chain.revoke_leaf(EP, tree.root, values[1].encode(), tree.proof(1), 2)
    assert chain.verify_record("EP", hx(tree.root), [hx(p) for p in tree.proof(1)], values[1].encode())[2] == 2
    fails(ce.AlreadyFrozen, chain.propose, EP, "freeze", None, successor=successor)
    assert chain.proposal(pid).executed


def test_anchor_registry_records_its_predecessor() -> None:
    c = Chain(connect("embedded"))
    genesis = [(o, n, u, dev_account(i).address) for i, (o, n, u) in enumerate(DEV_OFFICES, 1)]
    old = deploy_offices(c, DEPLOYER, genesis)
    deploy_offices(c, DEPLOYER, genesis, predecessor=old.anchor_registry)
    assert c.predecessor() == old.anchor_registry


# ---------------------------------------------------------------------------- signers


def test_two_step_signer_addition(chain: Chain) -> None:
    chain.add_signer(EP, OUTSIDER.address)
    assert chain.office_of(OUTSIDER.address) is None  # nominated, not yet a signer
    fails(ce.NotAnActiveSigner, anchor, chain, OUTSIDER, root_of("too early"))
    fails(ce.NotNominated, chain.accept_signer, OUTSIDER, "US")
    chain.accept_signer(OUTSIDER, "EP")
    assert chain.office_of(OUTSIDER.address) == "EP"
    anchor(chain, OUTSIDER, root_of("accepted"))


def test_nominating_someone_else_blocks_nothing(chain: Chain) -> None:
    # US nominates KR's future key; KR is still admitted and its key accepts KR.
    chain.add_signer(US, OUTSIDER.address)
    pass_(chain, "admit", "KR", [EP, US, JP], name="KIPO", base_uri="u", signer=OUTSIDER.address)
    chain.accept_signer(OUTSIDER, "KR")
    assert chain.office_of(OUTSIDER.address) == "KR"
    fails(ce.SignerAlreadyRegistered, chain.accept_signer, OUTSIDER, "US")


def test_office_can_never_remove_its_last_key(chain: Chain) -> None:
    assert fails(ce.LastSigner, chain.remove_signer, EP, EP.address).values == {"office": b"EP", "signer": EP.address}
    join(chain, "EP", EP, OUTSIDER)
    chain.remove_signer(OUTSIDER, EP.address)
    fails(ce.LastSigner, chain.remove_signer, OUTSIDER, OUTSIDER.address)
    fails(ce.UnauthorisedSigner, chain.remove_signer, US, OUTSIDER.address)  # another office's key


def test_rotation_removes_the_old_key_on_acceptance(chain: Chain) -> None:
    chain.rotate_signer(EP, EP.address, OUTSIDER.address)
    assert chain.office_of(EP.address) == "EP"
    accepted = chain.accept_signer(OUTSIDER, "EP")
    assert chain.office_of(EP.address) is None and chain.office_of(OUTSIDER.address) == "EP"
    assert chain.was_signer_at("EP", EP.address, accepted.block_number)
    assert not chain.was_signer_at("EP", EP.address, accepted.block_number + 1)


def test_suspended_office_removes_keys_but_does_not_revoke(chain: Chain) -> None:
    values, tree = tree_of(3)
    anchor(chain, EP, tree.root, 3)
    join(chain, "EP", EP, OUTSIDER)
    pass_(chain, "suspend", "EP", [US, JP, EM])
    fails(ce.NotAnActiveSigner, anchor, chain, EP, root_of("suspended"))
    fails(ce.OfficeNotActive, chain.propose, EP, "suspend", "US")
    chain.remove_signer(EP, OUTSIDER.address)  # incident response works while suspended
    fails(ce.NotAnActiveSigner, chain.revoke_leaf, EP, tree.root, values[0].encode(), tree.proof(0), 3)
    fails(ce.NotAnActiveSigner, chain.revoke_batch, EP, tree.root, 1)  # a suspended office revokes nothing
    pass_(chain, "reinstate", "EP", [US, JP, EM])
    chain.revoke_batch(EP, tree.root, 1)
    assert chain.batch_of("EP", hx(tree.root)).revocation_reason == 1  # type: ignore[union-attr]


def test_stolen_key_incident(chain: Chain) -> None:
    """A thief holds EP's second key: EP stops it now, governance (with EP) marks it from the theft."""
    thief = OUTSIDER
    join(chain, "EP", EP, thief)
    good = anchor(chain, thief, root_of("anchored before the theft"))
    stolen_from = good.block_number + 1
    values, tree = tree_of(1)
    bad = anchor(chain, thief, tree.root)
    chain.revoke_batch(thief, root_of("anchored before the theft"), 4)  # the thief revokes EP's batch
    chain.add_signer(thief, OTHER.address)  # the thief nominates an accomplice key
    stopped = chain.mark_compromised(EP, thief.address)  # a key's mark: from now on, never earlier
    assert chain.compromised_from("EP", thief.address) == stopped.block_number
    assert chain.compromise_mark("EP", thief.address) == (stopped.block_number, stopped.block_number, EP.address)
    assert chain.is_authorised_at("EP", thief.address, bad.block_number)  # not yet: governance moves it back
    fails(ce.NotNominated, chain.accept_signer, OTHER, "EP")  # lapsed (and dropped) with its nominator
    assert chain.office_of(thief.address) is None  # removed with the mark
    fails(ce.AlreadyCompromised, chain.mark_compromised, EP, thief.address)
    pass_(chain, "mark-compromised", "EP", [EP, US, JP], signer=thief.address, from_block=stolen_from)
    assert chain.compromised_from("EP", thief.address) == stolen_from
    assert chain.compromise_mark("EP", thief.address) == (stolen_from, chain.w3.eth.block_number, "governance")
    revocation = chain.batch_revocation("EP", hx(root_of("anchored before the theft")))
    assert (revocation.reason, revocation.by, revocation.stands) == (4, thief.address, False)
    assert chain.batch_of("EP", hx(root_of("anchored before the theft"))).revocation_reason == 0  # type: ignore[union-attr]
    assert chain.is_authorised_at("EP", thief.address, good.block_number)
    assert not chain.is_authorised_at("EP", thief.address, bad.block_number)
    assert chain.was_signer_at("EP", thief.address, bad.block_number)  # the term itself is history
    fn = chain.anchors.functions.verifyRecord(code("EP"), tree.root, values[0].encode(), [])
    included, _, _, _, authorised = fn.call()
    assert included and not authorised
    # A mark can only move earlier; another office cannot mark EP's keys; governance not into the future.
    fails(
        ce.AlreadyCompromised, chain.propose, US, "mark-compromised", "EP", signer=thief.address, from_block=stolen_from
    )
    fails(ce.NeverASigner, chain.mark_compromised, US, thief.address)
    fails(ce.InvalidCompromiseBlock, chain.propose, US, "mark-compromised", "EP", signer=EP.address, from_block=10**9)


def test_governance_replaces_the_keys_of_an_office_that_lost_them(chain: Chain) -> None:
    # EP's only key is stolen: EP marks it (the office may lose its last key this way), then governance
    # nominates a new key, which accepts.
    chain.add_signer(EP, OTHER.address)  # nominated with the stolen key, before the loss was noticed
    chain.mark_compromised(EP, EP.address)  # its last key stops itself
    assert chain.active_office_count() == 4
    pass_(chain, "replace-signers", "EP", [US, JP, EM], nominee=OUTSIDER.address)
    chain.accept_signer(OUTSIDER, "EP")
    assert chain.office_of(OUTSIDER.address) == "EP" and chain.active_office_count() == 5
    fails(ce.NotNominated, chain.accept_signer, OTHER, "EP")  # lapsed with its nominator's mark
    # Re-keying an active office needs its own approval (or its suspension first): a majority alone cannot.
    join(chain, "US", US, OTHER)
    funder = chain.w3.eth.accounts[0]
    chain.w3.eth.send_transaction({"from": funder, "to": dev_account(8).address, "value": Web3.to_wei(1, "ether")})
    pid, _ = chain.propose(OUTSIDER, "replace-signers", "US", nominee=dev_account(8).address)
    chain.approve(JP, pid)
    chain.approve(EM, pid)
    fails(ce.OfficeConsentMissing, chain.execute, JP, pid)
    chain.approve(US, pid)
    chain.execute(JP, pid)
    assert chain.office_of(US.address) is None and chain.office_of(OTHER.address) is None
    chain.accept_signer(dev_account(8), "US")
    assert chain.office_of(dev_account(8).address) == "US"


def test_governance_marks_a_key_compromised(chain: Chain) -> None:
    result = anchor(chain, WO, root_of("WO batch"))
    # With WO's own approval governance marks WO's key from an earlier block (a thief's batch is discounted).
    pass_(chain, "mark-compromised", "WO", [WO, EP, US], signer=WO.address, from_block=result.block_number)
    assert not chain.is_authorised_at("WO", WO.address, result.block_number)
    assert chain.active_office_count() == 4
    # Without it (3.1.0), even once suspended, not before the block JP stopped being active.
    jp = anchor(chain, JP, root_of("JP batch"))
    pass_(chain, "suspend", "JP", [EP, US, EM])
    suspended = chain.w3.eth.block_number
    err = fails(
        ce.MarkBeforeDeactivation,
        pass_,
        chain,
        "mark-compromised",
        "JP",
        [EP, US, EM],
        signer=JP.address,
        from_block=jp.block_number,
    )
    assert err.values["fromBlock"] == jp.block_number and err.values["deactivatedAt"] == suspended
    assert chain.is_authorised_at("JP", JP.address, jp.block_number)


def test_keys_are_never_reused_and_the_cap_holds(chain: Chain) -> None:
    """A key signs for an office once (its origin is fixed); signers plus nominations stay within the cap."""
    join(chain, "EP", EP, OUTSIDER)
    chain.remove_signer(EP, OUTSIDER.address)
    fails(ce.KeyAlreadyUsed, chain.add_signer, EP, OUTSIDER.address)
    for i in range(10, 17):
        chain.add_signer(EP, dev_account(i).address)
    assert fails(ce.TooManySigners, chain.add_signer, EP, dev_account(17).address).values == {"office": b"EP", "cap": 8}


# ---------------------------------------------------------------------------- anchoring


def test_batches_belong_to_office_and_root(chain: Chain) -> None:
    _, tree = tree_of(5)
    # US copies EP's root first (as from the mempool): it gets a US batch, EP's batch still stands.
    anchor(chain, US, tree.root, 5)
    mine_ep = anchor(chain, EP, tree.root, 5)
    ep = chain.batch_of("EP", hx(tree.root))
    us = chain.batch_of("US", hx(tree.root))
    assert ep is not None and us is not None
    assert (ep.office, ep.signer, ep.block_number) == ("EP", EP.address, mine_ep.block_number)
    assert us.office == "US"
    err = fails(ce.RootAlreadyAnchored, anchor, chain, EP, tree.root, 5)
    assert err.values == {"root": tree.root, "office": b"EP", "blockNumber": mine_ep.block_number}
    # US cannot revoke EP's batch: it only reaches its own copy.
    chain.revoke_batch(US, tree.root, 1)
    assert chain.batch_of("EP", hx(tree.root)).revocation_reason == 0  # type: ignore[union-attr]


def test_verify_record_takes_values_so_no_inner_node_passes(chain: Chain) -> None:
    values, tree = tree_of(4)
    anchor(chain, EP, tree.root, 4)
    proof = [hx(p) for p in tree.proof(2)]
    included, info, reason = chain.verify_record("EP", hx(tree.root), proof, values[2].encode())
    assert included and info is not None and info.office == "EP" and reason == 0
    assert chain.anchors.functions.leafOf(values[2].encode()).call() == values[2].leaf()
    # The root itself with an empty proof, or an inner node, is no leaf: the contract hashes what it gets.
    assert not chain.verify_record("EP", hx(tree.root), [], tree.root)[0]
    inner = keccak(b"".join(sorted([values[0].leaf(), values[1].leaf()])))
    assert not chain.verify_record("EP", hx(tree.root), [hx(p) for p in tree.proof(2)][1:], inner)[0]
    fails(ce.LeafNotInBatch, chain.revoke_leaf, EP, tree.root, tree.root, [], 1)
    # The wrong office sees no batch.
    assert chain.verify_record("US", hx(tree.root), proof, values[2].encode())[1] is None


def test_revocation_rules(chain: Chain) -> None:
    values, tree = tree_of(3)
    anchor(chain, EP, tree.root, 3)
    fails(ce.InvalidReason, chain.revoke_batch, EP, tree.root, 0)
    fails(ce.UnknownBatch, chain.revoke_batch, US, tree.root, 1)
    fails(ce.NotASigner, chain.revoke_batch, OUTSIDER, tree.root, 1)
    chain.revoke_leaf(EP, tree.root, values[0].encode(), tree.proof(0), 2)
    err = fails(ce.AlreadyRevoked, chain.revoke_leaf, EP, tree.root, values[0].encode(), tree.proof(0), 3)
    assert err.values == {"root": tree.root, "leaf": values[0].leaf(), "reason": 2}
    assert chain.leaf_revocation("EP", hx(tree.root), values[0].leaf()) == 2


@pytest.mark.parametrize(("root", "leaf_count"), [(b"\x00" * 32, 1), (b"\x01" * 32, 0)])
def test_empty_batch_rejected(chain: Chain, root: bytes, leaf_count: int) -> None:
    assert fails(ce.EmptyBatch, anchor, chain, EP, root, leaf_count).values == {"root": root, "leafCount": leaf_count}


def test_anchor_gas_is_flat_and_near_83500(chain: Chain) -> None:
    gas = [anchor(chain, EP, root_of(f"gas {n}"), n).gas_used for n in (1, 1_000, 1_000_000)]
    assert max(gas) - min(gas) <= 64  # calldata differs by a few non-zero bytes only
    assert all(abs(g - 83_500) <= 8_350 for g in gas), gas


def test_proposals_view_lists_payload_and_votes(chain: Chain) -> None:
    pid, _ = chain.propose(EP, "mark-compromised", "WO", signer=WO.address, from_block=1)
    chain.approve(US, pid)
    (p,) = chain.proposals()
    assert (p.id, p.action, p.office, p.proposer, p.approvers) == (pid, "mark-compromised", "WO", "EP", ("EP", "US"))
    assert p.payload == {"signer": WO.address, "from_block": 1} and p.counted_approvals == 2
    assert json.dumps(p.payload)  # plain JSON values
    assert ACTIONS[5] == "set-rule"


def test_signers_view_lists_terms_and_marks(chain: Chain) -> None:
    join(chain, "EP", EP, OUTSIDER)
    marked = chain.mark_compromised(EP, OUTSIDER.address)
    chain.add_signer(EP, OTHER.address)
    rows = {s.address: s for s in chain.signers("EP")}
    assert rows[EP.address].current and rows[EP.address].terms[0][1] is None
    assert rows[OUTSIDER.address].compromised_from == marked.block_number and not rows[OUTSIDER.address].current
    assert (rows[OUTSIDER.address].marked_by, rows[OUTSIDER.address].marked_at) == (EP.address, marked.block_number)
    assert rows[OTHER.address].nominated and rows[OTHER.address].terms == ()


@settings(max_examples=3, deadline=None)  # the Foundry invariants explore far more
@given(
    st.lists(
        st.tuples(st.sampled_from(["suspend", "reinstate"]), st.sampled_from(["EP", "US", "JP", "EM", "WO"])),
        max_size=8,
    )
)
def test_any_status_sequence_keeps_governance_live(ops: list[tuple[str, str]]) -> None:
    c = Chain(connect("embedded"))
    deploy_dev(c)
    signer = {o: dev_account(i) for i, (o, _, _) in enumerate(DEV_OFFICES, 1)}
    for action, office in ops:
        active = [o for o in signer if c.office_info(o)[2] == "active"]
        voters = [signer[o] for o in active if o != office or action == "reinstate"][: c.required_approvals()]
        with contextlib.suppress(ContractRevertError):  # refused actions (no-op, stall) are fine too
            pass_(c, action, office, voters)
        n = c.active_office_count()
        assert n >= 2
        assert c.required_approvals() <= n
