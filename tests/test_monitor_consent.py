"""The monitor on governance carried out against an office without its approval (contracts 3.1.0), in-process EVM.

A majority (US, JP, EM) suspends EP, replaces its signers with a key of its own and marks EP's key: the lost-key
recovery path, carried out without EP. EP's own monitor raises an alert for each act; every other watcher (another
office's monitor, a witness) an alert for the re-keying.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.types import Wei

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import EMBEDDED, Settings
from registry.monitor.follow import Monitor
from registry.monitor.rules import Watch
from registry.store.outbox import Store


@pytest.fixture
def chain() -> Chain:
    chain = Chain(connect(EMBEDDED))
    deploy_dev(chain)
    return chain


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[dict[str, tuple[Settings, Store]]]:
    out = {}
    for name in ("EP", "WO", "all"):
        settings = Settings(home=tmp_path / name, rpc_url=EMBEDDED)
        out[name] = (settings, Store(settings.store_file))
    yield out
    for _, store in out.values():
        store.close()


def _signer(code: str) -> LocalAccount:
    key = dev_signer(code)
    assert key is not None
    return key


def _decide(chain: Chain, action: str, office: str, **params: object) -> int:
    us, jp, em = (_signer(c) for c in ("US", "JP", "EM"))
    pid, _ = chain.propose(us, action, office, **params)
    chain.approve(jp, pid)
    chain.approve(em, pid)
    chain.execute(us, pid)
    return pid


def _findings(chain: Chain, homes: dict[str, tuple[Settings, Store]], name: str) -> list[dict[str, object]]:
    settings, store = homes[name]
    watch = Watch(None if name == "all" else name)
    return [json.loads(line) for line in Monitor(chain, store, settings, watch).pass_once().delivered]


def test_governance_against_an_office_alerts_it_and_every_watcher(
    chain: Chain, homes: dict[str, tuple[Settings, Store]]
) -> None:
    ep = _signer("EP")
    suspend = _decide(chain, "suspend", "EP")
    theirs: LocalAccount = Account.create()
    chain.w3.eth.send_transaction({"from": chain.w3.eth.accounts[0], "to": theirs.address, "value": Wei(10**18)})
    rekey = _decide(chain, "replace-signers", "EP", nominee=theirs.address)
    mark = _decide(chain, "mark-compromised", "EP", signer=ep.address, from_block=chain.w3.eth.block_number)
    own = [(f["kind"], f["severity"], f["details"]["proposal"]) for f in _findings(chain, homes, "EP")]  # type: ignore[index]
    against = [x for x in own if x[0] == "governance-without-consent"]
    assert against == [
        ("governance-without-consent", "alert", suspend),
        ("governance-without-consent", "alert", rekey),
        ("governance-without-consent", "alert", mark),
    ]
    assert not [x for x in own if x[0] == "governance-executed"]  # alerts, not notices
    bystander = [f for f in _findings(chain, homes, "WO") if f["severity"] == "alert"]
    assert [(f["kind"], f["details"]["office"]) for f in bystander] == [("office-rekeyed-without-consent", "EP")]  # type: ignore[index]
    witness = [f for f in _findings(chain, homes, "all") if f["severity"] == "alert"]
    assert [(f["kind"], f["details"]["proposal"]) for f in witness] == [("office-rekeyed-without-consent", rekey)]  # type: ignore[index]


def test_governance_with_the_office_approval_is_no_alert(
    chain: Chain, homes: dict[str, tuple[Settings, Store]]
) -> None:
    """A retroactive mark of EP's key with EP's own approval (the thief's anchors discounted): the chain
    announces nothing, and a witness and another office see notices only."""
    ep, us, jp = _signer("EP"), _signer("US"), _signer("JP")
    pid, _ = chain.propose(us, "mark-compromised", "EP", signer=ep.address, from_block=1)
    chain.approve(ep, pid)
    chain.approve(jp, pid)
    chain.execute(us, pid)
    witness = _findings(chain, homes, "all")
    assert not [f for f in witness if f["severity"] == "alert"]
    bystander = _findings(chain, homes, "WO")
    assert not [f for f in bystander if f["severity"] == "alert"]
