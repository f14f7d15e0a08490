"""Faults that matter (issue 25, item 6): a reorganisation deeper than the confirmations, a node outage of
hours (time scaled), a time-stamp authority outage, a monitor outage and a freeze mid-anchor.

The product rule first, on the in-process EVM: a batch a reorganisation took off the chain after it was
anchored (and confirmed) is anchored again by the next run, exactly once, and its bundle does not keep
verifying while it is off the chain. Then each fault of the evaluation on one real anvil node.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from registry.anchor.pipeline import Anchorer, bundle_name
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core.formats import ProofBundle
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import BatchStatus, Store
from registry.verify.verdicts import verify_bundle

CONFIRMATIONS = 2


def _request(chain: Chain, method: str, params: list[Any] | None = None) -> Any:
    return chain.w3.provider.make_request(method, params or [])  # type: ignore[arg-type]


def _anchored_events(chain: Chain, root: str) -> int:
    dep = chain.deployment
    assert dep is not None
    logs = chain.anchors.events.BatchAnchored().get_logs(
        from_block=dep.block_number, argument_filters={"root": Web3.to_bytes(hexstr=root)}
    )
    return len(logs)


def test_a_batch_a_deep_reorganisation_removed_is_anchored_again_once(tmp_path: Path) -> None:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    account = dev_signer("EP")
    assert account is not None
    store = Store(tmp_path / "ep.sqlite")
    anchorer = Anchorer(store, chain, account, "EP", tmp_path / "manifests")
    anchorer.submit(prepare_files(generate_gazette(tmp_path / "g", office="EP", count=3, seed=5)))
    snapshot = _request(chain, "evm_snapshot")["result"]
    first = anchorer.run(tmp_path / "proofs")
    batch = first.batches[0]
    record = store.batch_records(batch.id)[0]
    bundle = ProofBundle.loads((tmp_path / "proofs" / bundle_name(record)).read_bytes())
    assert verify_bundle(chain, bundle, None, store).verdict == "VERIFIED"
    for _ in range(CONFIRMATIONS + 1):  # confirmed, and a reorganisation deeper than the confirmations
        _request(chain, "evm_mine")

    _request(chain, "evm_revert", [snapshot])  # the branch without the batch wins: longer, other blocks
    for _ in range(2 * CONFIRMATIONS + 4):
        _request(chain, "evm_mine")
    assert chain.batch_of("EP", batch.root) is None
    gone = verify_bundle(chain, bundle, None, store)
    assert gone.verdict == "UNKNOWN"  # a bundle whose batch vanished does not keep verifying

    second = anchorer.run(tmp_path / "proofs")
    assert [b.root for b in second.batches] == [batch.root] and second.records == 3  # anchored again
    assert second.reorganised == [batch.root]
    again = store.batch(batch.id)
    assert again.status == BatchStatus.ANCHORED and again.block_number != batch.block_number
    assert _anchored_events(chain, batch.root) == 1  # on the final chain, exactly once
    back = verify_bundle(chain, bundle, None, store)
    assert back.verdict == "VERIFIED" and back.block_number == again.block_number
    assert back.transaction_hash is None  # the old bundle's transaction is gone: the verdict does not name it
    assert any("not the chain's" in c.detail for c in back.checks)
    fresh = ProofBundle.loads((tmp_path / "proofs" / bundle_name(record)).read_bytes())
    assert fresh.block_number == again.block_number and fresh.transaction_hash == again.tx_hash
    assert verify_bundle(chain, fresh, None, store).transaction_hash == again.tx_hash
    third = anchorer.run(tmp_path / "proofs")
    assert third.reorganised == [] and third.batches == [] and _anchored_events(chain, batch.root) == 1
    store.close()


def test_a_batch_moved_to_another_block_is_recorded_there(tmp_path: Path) -> None:
    """Re-mined in another block (the same transaction): recorded there, not anchored twice."""
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    account = dev_signer("US")
    assert account is not None
    store = Store(tmp_path / "us.sqlite")
    anchorer = Anchorer(store, chain, account, "US", tmp_path / "manifests")
    anchorer.submit(prepare_files(generate_gazette(tmp_path / "g", office="US", count=2, seed=6)))
    snapshot = _request(chain, "evm_snapshot")["result"]
    batch = anchorer.run().batches[0]
    tx = chain.w3.eth.get_transaction(batch.tx_hash)  # type: ignore[arg-type]
    raw = _raw(tx, account)
    _request(chain, "evm_revert", [snapshot])
    _request(chain, "evm_mine")
    chain.w3.eth.send_raw_transaction(raw)  # the same signed transaction, one block later
    for _ in range(3):
        _request(chain, "evm_mine")
    moved = chain.batch_of("US", batch.root)
    assert moved is not None and moved.block_number != batch.block_number
    result = anchorer.run()
    stored = store.batch(batch.id)
    assert stored.block_number == moved.block_number and stored.tx_hash == batch.tx_hash
    assert result.reorganised == [] and result.batches == []
    assert _anchored_events(chain, batch.root) == 1
    store.close()


def _raw(tx: Any, account: Any) -> bytes:
    """The signed bytes of a mined EIP-1559 transaction (signed again: deterministic signatures)."""
    fields = {k: tx[k] for k in ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value")}
    signed = account.sign_transaction({**fields, "type": 2, "data": bytes(tx["input"])})
    assert bytes(signed.hash) == bytes(tx["hash"])
    return bytes(signed.raw_transaction)


def test_an_outbox_moved_to_the_successor_registry_does_not_anchor_its_old_batches_again(tmp_path: Path) -> None:
    """Frozen mid-run: the batch anchored in the frozen registry stays there (its transaction is on the chain);
    only what the freeze refused goes to the successor, so every record is anchored once across both."""
    from registry.chain.deploy import deploy
    from registry.chain.dev import DEV_OFFICES, dev_account
    from registry.chain.genesis import Genesis
    from registry.errors import ContractRevertError
    from registry.evaluate import actions

    w3 = connect("embedded")
    old, new = Chain(w3), Chain(w3)
    deploy(old, dev_account(0), Genesis.dev(), preset="dev")
    assert old.deployment is not None
    account = dev_signer("WO")
    assert account is not None
    store = Store(tmp_path / "wo.sqlite")
    anchorer = Anchorer(store, old, account, "WO", tmp_path / "manifests", batch_size=2)
    anchorer.submit(prepare_files(generate_gazette(tmp_path / "g", office="WO", count=4, seed=7)))
    first = anchorer._make_batch()  # one batch anchored in the old registry
    assert first is not None
    anchorer._finish(store.batch(first[0]))
    deploy(new, dev_account(0), Genesis.dev(), preset="dev", predecessor=old.deployment.anchor_registry)
    assert new.deployment is not None
    voters = [(code, a) for code, _, _ in DEV_OFFICES if (a := dev_signer(code)) is not None]
    actions.govern(old, "freeze", None, voters, successor=new.deployment.anchor_registry)
    for _ in range(2):  # the run that meets the freeze, and a re-run: each says what to do
        with pytest.raises(ContractRevertError, match="RegistryFrozen") as refused:
            anchorer.run()
        assert "records stay pending" in str(refused.value) and "point this home at its successor" in str(refused.value)
        assert new.deployment.anchor_registry.lower() in str(refused.value).lower()
    anchorer.chain = new
    result = anchorer.run()
    assert result.reorganised == [] and result.records == 2
    roots = {b.root for b in store.batches("WO")}
    assert sum(_anchored_events(old, r) for r in roots) == 1 and sum(_anchored_events(new, r) for r in roots) == 1
    store.close()


# ---------------------------------------------------------------------------- the evaluation's faults


@pytest.fixture(scope="module")
def matter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The small scenario's faults that matter, once, on anvil (the phase starts its own second node)."""
    from anvil_fixtures import start_anvil

    from registry.evaluate import faults_report
    from registry.evaluate.context import Run
    from registry.evaluate.scenario import load_scenario

    tmp = tmp_path_factory.mktemp("faults")
    node = start_anvil(tmp / "node")
    try:
        run = Run(
            load_scenario(builtin="small"), 7, Chain(connect(node.rpc_url)), "anvil", node.rpc_url, tmp, node.chain
        )
        yield faults_report.measure(run, set())
    finally:
        node.chain.stop()


@pytest.mark.anvil
def test_every_fault_leaves_every_accepted_record_on_the_chain_once(matter: dict[str, Any]) -> None:
    figures = {k: v for k, v in matter.items() if isinstance(v, dict)}
    assert set(figures) == {"reorgShallow", "reorgDeep", "authorityOutage", "freezeMidAnchor", "longNodeOutage",
                            "monitorOutage"}  # fmt: skip
    for name, fig in figures.items():
        once = fig["exactlyOnce"]
        assert fig["run"] and once["ok"], name
        assert once["acceptedRecords"] == once["anchoredExactlyOnce"] == fig["records"], name
        assert once["missing"] == once["duplicated"] == 0, name


@pytest.mark.anvil
def test_deep_reorganisation_unverifies_then_the_anchorer_anchors_again(matter: dict[str, Any]) -> None:
    deep = matter["reorgDeep"]
    assert deep["depth"] > deep["confirmationsWanted"] and deep["before"]["confirmations"] > deep["confirmationsWanted"]
    assert deep["before"] == {**deep["before"], "verdict": "VERIFIED", "indexed": True, "monitorFindings": 0}
    gone = deep["whileGone"]
    assert gone["verdict"] == "UNKNOWN" and not gone["indexed"]  # the bundle does not keep verifying
    assert deep["before"]["verdictByHash"] == "VERIFIED" and gone["verdictByHash"] == "UNKNOWN"  # nor the outbox
    assert gone["outboxSays"] == "anchored"  # until the next anchoring run reads the chain again
    assert gone["indexerSaw"] is not None and gone["indexerSaw"]["ancestor"] < deep["anchoredBlock"]
    assert gone["monitorSawReorganisation"] and gone["monitorFindings"] == 0
    assert deep["rerunReanchored"] and deep["rerunRecords"] == deep["records"]
    after = deep["after"]
    assert after["verdict"] == after["verdictOfRewrittenBundle"] == after["verdictByHash"] == "VERIFIED"
    assert after["indexed"]
    assert after["monitorFindings"] == 0  # its own batch, again: nothing to alert
    shallow = matter["reorgShallow"]
    assert shallow["confirmationsAtReorg"] < shallow["confirmationsWanted"]
    assert shallow["resent"] and shallow["anchorerErrors"] == [] and shallow["verdictAfter"] == "VERIFIED"


@pytest.mark.anvil
def test_outages_of_node_authority_and_monitor(matter: dict[str, Any]) -> None:
    node = matter["longNodeOutage"]
    assert node["anchoringRuns"] >= 2 and len(node["errorsSeen"]) == node["anchoringRuns"] - 1  # gave up, re-run
    assert node["verdictBefore"] == node["verdictAfter"] == "VERIFIED"
    assert node["verdictDuring"].startswith("no verdict")  # the node down: no verdict, never a wrong one
    assert node["hoursBetweenBatchBlocks"] >= node["chainHoursSkipped"] and node["pendingAfter"] == 0
    assert node["inFlightBatchToken"]["verdict"] == "VERIFIED"  # a token never changes the verdict
    assert node["inFlightBatchToken"]["token"] == "disagrees"  # taken hours before its block
    tsa = matter["authorityOutage"]
    assert len(tsa["errorsSeen"]) == 2 and all("re-run" in e and "503" in e for e in tsa["errorsSeen"])
    assert tsa["pendingWhileDown"] == tsa["batchSize"] and tsa["anchoredWhileDown"] == [tsa["batchSize"]] * 2
    assert tsa["rerunAnchored"] == tsa["batchSize"] and tsa["rerunTokensPerBatch"] == [1]
    assert tsa["tokenAfter"]["token"] == "valid" and tsa["pendingAfter"] == 0
    mon = matter["monitorOutage"]
    assert mon["findingsBefore"] == 0 and mon["findingsOnNextPass"] == 0 and mon["alertedOnce"]
    assert "anchor-not-in-outbox" in mon["findings"] and "governance-proposal" in mon["findings"]
    assert mon["caughtUpToBlock"] - mon["caughtUpFromBlock"] >= mon["downForBlocks"]


@pytest.mark.anvil
def test_freeze_mid_anchor_refuses_the_rest_and_loses_nothing(matter: dict[str, Any]) -> None:
    f = matter["freezeMidAnchor"]
    assert f["anchoredInFrozenRegistry"] == f["batchSize"] and f["pendingAfterFreeze"] == 2 * f["batchSize"]
    assert len(f["errorsSeen"]) == 2 and all("RegistryFrozen" in e and "successor" in e for e in f["errorsSeen"])
    assert f["verdictBefore"] == f["verdictAfterFreeze"] == f["verdictAgainstSuccessor"] == "VERIFIED"
    assert f["rerunOnSuccessorAnchored"] == 2 * f["batchSize"] and f["verdictOfSuccessorBundle"] == "VERIFIED"


@pytest.mark.anvil
def test_report_section_and_summary(matter: dict[str, Any]) -> None:
    from registry.evaluate import faults_report

    body = {"faults": {"thatMatter": matter}}
    html = faults_report.section(body, {})
    assert html.count("<tr>") == 1 + 6 and "Faults that matter" in html and "NOT OK" not in html
    assert faults_report.summary_rows(body)[0][1] == "6 / 6"


def test_embedded_and_url_chains_report_the_faults_as_not_run(tmp_path: Path) -> None:
    from registry.evaluate import faults_report
    from registry.evaluate.context import Run
    from registry.evaluate.scenario import load_scenario

    chain = Chain(connect("embedded"))
    run = Run(load_scenario(builtin="small"), 7, chain, "embedded", "embedded", tmp_path)
    fig = faults_report.measure(run, set())
    assert set(fig) == {"reorgShallow", "reorgDeep", "authorityOutage", "freezeMidAnchor", "longNodeOutage",
                        "monitorOutage"}  # fmt: skip
    assert all(not v["run"] and "anvil" in v["why"] for v in fig.values())
    html = faults_report.section({"faults": {"thatMatter": fig}}, {})
    assert "Not run" in html and "<table" not in html
    assert faults_report.summary_rows({"faults": {"thatMatter": fig}}) == []


def test_scenario_fault_events_and_hours() -> None:
    from registry.errors import InputError
    from registry.evaluate.scenario import load_scenario, parse_scenario

    default = load_scenario()
    kinds = {e.kind for e in default.events}
    assert kinds >= {"reorg", "authority-outage", "freeze-mid-anchor", "long-node-outage", "monitor-outage"}
    assert default.events_of("long-node-outage")[0].hours == 6.0
    base = '[[offices]]\ncode = "EP"\nweekly_volume = 10\n'
    assert parse_scenario(base + '[[events]]\nkind = "node-outage"\n').events[0].hours == 0.0  # old files parse
    with pytest.raises(InputError, match="hours must be a number between 0 and 8760"):
        parse_scenario(base + '[[events]]\nkind = "long-node-outage"\nhours = 9000\n')
