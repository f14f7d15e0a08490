"""The office consent rule of contracts 3.1.0 on the in-process EVM, and the 3.0.0 release still recognised.

What must never happen: a majority, without the office's own consent, changes the verdict of a record the office
anchored while it was active. The three routes the evaluation's governance story found on 3.0.0 (a mark once the
office is suspended, a mark in a frozen registry, a key of the majority's in the office's name) are tried here
through the Python client: the first two are refused with typed errors carrying their values, the third (the
lost-key recovery path) works and is announced on chain (``ActedWithoutConsent``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from registry.chain import reverts as ce
from registry.chain.artifacts import matching_release
from registry.chain.client import Chain, TxResult, connect
from registry.chain.deploy import constructor_args, deploy, deploy_dev
from registry.chain.dev import dev_account
from registry.chain.genesis import Genesis, GenesisOffice
from registry.config import EMBEDDED
from registry.core.contract import ZERO_ADDRESS, GovernanceRule
from registry.core.merkle import keccak
from registry.errors import ContractRevertError

EP, US, JP, EM, WO = (dev_account(i) for i in range(1, 6))
MAJORITY = [US, JP, EM]
V300 = Path(__file__).resolve().parent / "vectors" / "contracts-3.0.0"


@pytest.fixture
def chain() -> Iterator[Chain]:
    c = Chain(connect(EMBEDDED))
    deploy_dev(c)
    yield c


def _anchor(chain: Chain, key: LocalAccount, label: str) -> TxResult:
    return chain.anchor_batch(key, keccak(label.encode()), 1, "https://example.org/m.json")


def _propose(chain: Chain, action: str, office: str | None, voters: list[LocalAccount], **params: Any) -> int:
    pid, _ = chain.propose(voters[0], action, office, **params)
    for voter in voters[1:]:
        chain.approve(voter, pid)
    return pid


def _refused(error: str, chain: Chain, pid: int) -> dict[str, Any]:
    """Executing ``pid`` is refused with the typed error named ``error``; its decoded values."""
    with pytest.raises(ContractRevertError) as info:
        chain.execute(US, pid)
    assert type(info.value).__name__ == error, str(info.value)
    assert isinstance(info.value, ce.ContractError) and type(info.value) is ce.BY_NAME[error]
    return info.value.values


def _announced(chain: Chain, result: TxResult) -> list[tuple[int, int, bytes]]:
    receipt = chain.w3.eth.get_transaction_receipt(result.transaction_hash)  # type: ignore[arg-type]
    events = chain.offices.events.ActedWithoutConsent().process_receipt(receipt, errors=DISCARD)
    return [(int(e["args"]["id"]), int(e["args"]["action"]), bytes(e["args"]["office"])) for e in events]


def test_a_suspension_does_not_open_the_office_past(chain: Chain) -> None:
    """(a) The majority's mark of WO's key from day 0: refused while WO is active, and still once suspended."""
    day0 = _anchor(chain, WO, "WO day 0")
    mark = _propose(chain, "mark-compromised", "WO", MAJORITY, signer=WO.address, from_block=day0.block_number)
    assert _refused("OfficeConsentMissing", chain, mark) == {"id": mark, "office": b"WO"}
    chain.execute(US, _propose(chain, "suspend", "WO", MAJORITY))
    suspended = chain.w3.eth.block_number
    values = _refused("MarkBeforeDeactivation", chain, mark)
    assert chain.offices.functions.deactivatedAt(b"WO").call() == suspended
    assert values == {
        "id": mark,
        "office": b"WO",
        "signer": WO.address,
        "fromBlock": day0.block_number,
        "deactivatedAt": suspended,
    }
    assert chain.is_authorised_at("WO", WO.address, day0.block_number)
    # From after the suspension (a suspended office's lost key stopped): allowed, the day-0 record unchanged.
    later = _propose(chain, "mark-compromised", "WO", MAJORITY, signer=WO.address, from_block=suspended + 1)
    assert _announced(chain, chain.execute(US, later)) == [(later, 4, b"WO")]
    assert chain.compromised_from("WO", WO.address) == suspended + 1
    assert chain.is_authorised_at("WO", WO.address, day0.block_number)


def test_b_a_frozen_registry_refuses_without_the_office(chain: Chain) -> None:
    """(b) After the freeze the majority suspends WO, then can neither mark nor re-key it without WO."""
    last = _anchor(chain, WO, "WO before the freeze")
    chain.execute(US, _propose(chain, "freeze", None, MAJORITY, successor=chain.anchors.address))
    frozen = chain.frozen_at()
    chain.execute(US, _propose(chain, "suspend", "WO", MAJORITY))
    after = chain.w3.eth.block_number + 1
    for action, params in (
        ("mark-compromised", {"signer": WO.address, "from_block": last.block_number}),
        ("mark-compromised", {"signer": WO.address, "from_block": after}),
        ("replace-signers", {"nominee": dev_account(9).address}),
    ):
        if action == "mark-compromised":
            chain.w3.testing.mine(1)  # type: ignore[attr-defined]
        pid = _propose(chain, action, "WO", MAJORITY, **params)
        assert _refused("FrozenRegistryConsentMissing", chain, pid) == {"id": pid, "office": b"WO", "frozenAt": frozen}
    assert chain.is_authorised_at("WO", WO.address, last.block_number)
    assert chain.compromised_from("WO", WO.address) is None
    # With the office's own approval a frozen registry still takes a retroactive mark (EM's, with EM).
    pid = _propose(chain, "mark-compromised", "EM", [EM, US, JP], signer=EM.address, from_block=last.block_number)
    assert _announced(chain, chain.execute(US, pid)) == []
    assert chain.compromised_from("EM", EM.address) == last.block_number


def test_c_recovery_stays_possible_and_is_announced(chain: Chain) -> None:
    """(c) Suspend, replace the signers, reinstate, anchor in WO's name: possible, and each step without WO's
    approval announced (the monitors alert on it: tests/test_monitor_consent.py)."""
    suspend = _propose(chain, "suspend", "WO", MAJORITY)
    assert _announced(chain, chain.execute(US, suspend)) == [(suspend, 1, b"WO")]
    theirs = dev_account(9)
    chain.w3.eth.send_transaction({"from": chain.w3.eth.accounts[0], "to": theirs.address, "value": 10**18})
    rekey = _propose(chain, "replace-signers", "WO", MAJORITY, nominee=theirs.address)
    assert _announced(chain, chain.execute(US, rekey)) == [(rekey, 3, b"WO")]
    chain.accept_signer(theirs, "WO")
    reinstate = _propose(chain, "reinstate", "WO", MAJORITY)
    assert _announced(chain, chain.execute(US, reinstate)) == []
    captured = _anchor(chain, theirs, "WO by the majority's key")
    assert chain.is_authorised_at("WO", theirs.address, captured.block_number)


# ---------------------------------------------------------------------------- the 3.0.0 release


def _genesis() -> Genesis:
    offices = [
        GenesisOffice(c, c, f"https://{c.lower()}.example.org/", (str(dev_account(i).address),))
        for i, c in enumerate(("EP", "US", "JP"), start=1)
    ]
    return Genesis.of(offices, GovernanceRule())


def _deploy_300(chain: Chain) -> tuple[str, str]:
    """The 3.0.0 pair from its kept artifacts (tests/vectors/contracts-3.0.0): (OfficeRegistry, AnchorRegistry)."""
    arts = {n: json.loads((V300 / f"{n}.json").read_text()) for n in ("OfficeRegistry", "AnchorRegistry")}
    addresses: list[str] = []
    for name in ("OfficeRegistry", "AnchorRegistry"):
        factory = chain.w3.eth.contract(abi=arts[name]["abi"], bytecode=arts[name]["bytecode"])
        args = (
            constructor_args("OfficeRegistry", _genesis()) if name == "OfficeRegistry" else [addresses[0], ZERO_ADDRESS]
        )
        tx = chain.build(dev_account(0), data=factory.constructor(*args).data_in_transaction)
        receipt, _ = chain.confirmed(chain.send(dev_account(0), tx))
        addresses.append(str(receipt["contractAddress"]))
    return addresses[0], addresses[1]


def test_the_3_0_0_pair_is_a_released_build_and_a_predecessor() -> None:
    """Archives of a 3.0.0 chain ("a released build", by code hash) and `deploy --predecessor` from it still work."""
    w3 = connect(EMBEDDED)
    chain = Chain(w3)
    offices, anchors = _deploy_300(chain)
    assert matching_release("OfficeRegistry", bytes(w3.eth.get_code(offices))) == "3.0.0 (prague)"  # type: ignore[arg-type]
    assert matching_release("AnchorRegistry", bytes(w3.eth.get_code(anchors))) == "3.0.0 (prague)"  # type: ignore[arg-type]
    new = Chain(w3)
    record = deploy(new, dev_account(0), _genesis(), predecessor=anchors)
    assert matching_release("OfficeRegistry", bytes(w3.eth.get_code(new.offices.address))) == "current (prague)"
    assert new.predecessor().lower() == anchors.lower()
    assert new.anchors.functions.VERSION().call() == new.offices.functions.VERSION().call() == "3.1.0"
    assert record.deployment.anchor_registry == new.anchors.address
