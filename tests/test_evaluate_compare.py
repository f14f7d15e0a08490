"""Issue 25 items 1, 2, 4: the fair comparison, the consortium network's figures, the large-office scenario.

One small cost + comparison phase on the in-process EVM (module fixture) gives measured footprints; the
network and large-scenario figures are checked to follow from them by their formulas, and the
comparison's capability claims (who may write, who owns a root) are checked on the chain itself.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_typing import HexStr

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import DEV_OFFICES, dev_account, dev_signer, eval_signer, fund_from_dev_account
from registry.chain.genesis import Genesis
from registry.config import EMBEDDED
from registry.core.merkle import keccak
from registry.errors import ContractRevertError, InputError
from registry.evaluate import compare, cost, network
from registry.evaluate.context import Run
from registry.evaluate.eas import EAS
from registry.evaluate.rootlog import RootLog
from registry.evaluate.runner import evaluate
from registry.evaluate.scenario import load_scenario, parse_scenario

SCENARIO = """
name = "compare"
[cost]
batch_sizes = [1, 100]
per_record_samples = 2
eas_attest_samples = 2
eas_multi_attest_sizes = [1, 5]
compare_samples = 2
[pipeline]
batch_size = 100
[[offices]]
code = "EP"
weekly_volume = 250
[[offices]]
code = "US"
weekly_volume = 40
"""


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, EAS, dict[str, Any], dict[str, Any]]:
    chain = Chain(connect(EMBEDDED))
    chain.deployment = deploy_dev(chain)
    sc = parse_scenario(SCENARIO, "compare.toml")
    run = Run(sc, sc.seed, chain, "embedded", EMBEDDED, tmp_path_factory.mktemp("compare"))
    attestation = EAS.deploy(chain, dev_account(0))
    cost_fig = cost.measure(run, attestation)
    return run, attestation, cost_fig, compare.measure(run, attestation, cost_fig)


# ---------------------------------------------------------------------------- item 1: the comparison


def test_every_approach_is_priced_per_record_and_per_batch(measured: Any) -> None:
    _, _, cost_fig, fig = measured
    size = fig["batchSize"]
    rows = fig["approaches"]
    assert set(rows) == {k for k, _ in compare.APPROACHES}
    assert rows["anchorBatch"]["gasPerBatch"] == cost_fig["growth"]["perBatch"]["gas"]
    assert rows["easAttest"]["gasPerRecord"] == cost_fig["easAttest"]["gas"]
    assert rows["oneTxPerRecord"]["gasPerRecord"] == cost_fig["oneTxPerRecord"]["gas"]
    for row in rows.values():
        assert row["gasPerBatch"] == pytest.approx(row["gasPerRecord"] * size)
        assert row["fiatPerRecord"] == pytest.approx(row["gasPerRecord"] * 20e-9 * 3000)
        assert row["transactionsPerBatch"] == (1 if row["perBatch"] else row["transactionsPerBatch"])
    assert rows["easMultiAttest"]["transactionsPerBatch"] == math.ceil(size / 5)
    assert rows["easAttest"]["transactionsPerBatch"] == rows["rootLogPerRecord"]["transactionsPerBatch"] == size
    # the bare log is the cheapest way to put a root on chain; the registry's checks cost the difference
    assert rows["rootLog"]["gasPerBatch"] < rows["anchorBatch"]["gasPerBatch"] < rows["easRoot"]["gasPerBatch"]
    premium = fig["registryPremium"]
    assert premium["gasPerBatch"] == rows["anchorBatch"]["gasPerBatch"] - rows["rootLog"]["gasPerBatch"]
    assert premium["gasPerYear"] == premium["gasPerBatch"] * cost_fig["growth"]["batchesPerYear"]
    assert fig["batchingSaves"]["factor"] == pytest.approx(
        rows["oneTxPerRecord"]["gasPerRecord"] / rows["anchorBatch"]["gasPerRecord"]
    )
    assert min(r["gasPerRecord"] for r in rows.values()) == rows["rootLog"]["gasPerRecord"]


def test_measured_rootlog_gas_is_what_the_chain_charges(measured: Any) -> None:
    run, _, _, fig = measured
    log = RootLog.deploy(run.chain, dev_account(0))
    account = dev_signer("EP")
    assert account is not None
    result = log.log_root(account, keccak(b"again"), fig["batchSize"], "https://register.example.org/price/EP/0x"
                          + "cd" * 32 + ".json")  # fmt: skip
    assert result.gas_used == pytest.approx(fig["approaches"]["rootLog"]["gasPerBatch"], rel=0.01)


def test_the_capability_table_holds_on_chain(measured: Any) -> None:
    """What the table says the alternatives lack: anyone may log or attest any root, for any office."""
    run, attestation, _, _ = measured
    chain: Chain = run.chain
    stranger = dev_account(7)  # funded, signer of no office
    root = keccak(b"an EP batch root")
    log = RootLog.deploy(chain, dev_account(0))
    owner = dev_signer("EP")
    assert owner is not None
    first = log.log_root(stranger, root, 10, "https://attacker.example/EP.json")  # pre-empts the office
    second = log.log_root(owner, root, 10, "https://register.example.org/EP.json")
    events = log.contract.events.RootLogged().get_logs(from_block=first.block_number, to_block=second.block_number)
    assert [e["args"]["sender"] for e in events] == [stranger.address, owner.address]
    data = abi_encode(["bytes32", "bytes2", "uint32"], [root, b"EP", 10])
    assert attestation.attest(stranger, data, attestation.root_schema_uid).gas_used > 0  # self-declared office
    with pytest.raises(ContractRevertError, match="NotAnActiveSigner"):
        chain.anchor_batch(stranger, root, 10, "https://attacker.example/EP.json")
    chain.anchor_batch(owner, root, 10, "https://register.example.org/EP.json")
    batch = chain.call(chain.anchors.functions.batchOf(b"EP", root))
    assert batch[1] == owner.address


def test_footprint_counts_the_stored_transaction(measured: Any) -> None:
    run, _, _, _ = measured
    chain: Chain = run.chain
    account = dev_signer("US")
    assert account is not None
    tx = chain.build(account, chain.anchors.functions.anchorBatch(keccak(b"raw"), 3, "https://x.example/m.json"))
    signed = account.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    chain.rpc(lambda: chain.w3.eth.send_raw_transaction(signed.raw_transaction))
    chain.wait(tx_hash)
    mined = chain.w3.eth.get_transaction(HexStr(tx_hash))
    assert cost.tx_bytes(mined) == len(signed.raw_transaction)
    receipt = chain.w3.eth.get_transaction_receipt(HexStr(tx_hash))
    log_bytes = sum(32 * len(x["topics"]) + len(bytes(x["data"])) for x in receipt["logs"])
    assert 256 + log_bytes < cost.receipt_bytes(receipt) < 256 + log_bytes + 150


# ---------------------------------------------------------------------------- items 2 and 4: network, large


def test_large_scenario_parses_with_real_volumes() -> None:
    sc = load_scenario(builtin="large")
    volumes = {o.code: o.weekly_volume for o in sc.offices}
    assert volumes["CN"] == 150_000 and volumes["US"] == 20_000 and volumes["EP"] == 10_000
    assert {c for c, _, _ in DEV_OFFICES} <= set(volumes)
    assert 0 < sc.volume_scale < 1
    assert sc.pushed(sc.offices[1]) == round(150_000 * sc.volume_scale)
    assert sc.to_json()["volumeScale"] == sc.volume_scale
    # the runner admits CN (an evaluation office): it gets as far as the chain argument
    with pytest.raises(InputError, match="--chain"):
        evaluate(sc, "nowhere", Path("/nonexistent/never-written"))


def test_runner_still_refuses_offices_it_has_no_key_for(tmp_path: Path) -> None:
    sc = parse_scenario(SCENARIO.replace('code = "US"', 'code = "KR"'), "kr.toml")
    with pytest.raises(InputError, match="scenario office KR"):
        evaluate(sc, EMBEDDED, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_yearly_figures_scale_from_the_measured_footprint(measured: Any) -> None:
    _, _, cost_fig, compare_fig = measured
    sc = load_scenario(builtin="large")
    fig = network.measure(sc, cost_fig, compare_fig)
    per = cost_fig["growth"]["perBatch"]
    stored = per["txBytes"] + per["receiptBytes"] + (per["stateBytes"] or 0) + network.TX_INDEX_BYTES
    assert fig["batchBytes"] == stored
    by_office = {p["office"]: p for p in fig["perOffice"]}
    for o in sc.offices:
        p = by_office[o.code]
        assert p["recordsPerYear"] == 52 * o.weekly_volume  # the real volume, not the pushed one
        assert p["batchesPerYear"] == 52 * math.ceil(o.weekly_volume / sc.pipeline_batch_size)
        assert p["bytesPerYear"] == pytest.approx(p["batchesPerYear"] * stored)
        assert p["gasPerYear"] == p["batchesPerYear"] * per["gas"]
    assert by_office["CN"]["bytesPerYear"] == pytest.approx(15 * by_office["EP"]["bytesPerYear"])
    blocks = 365.25 * 86_400 / 2
    assert fig["blocksPerYear"] == blocks
    disk = fig["disk"]
    assert disk["anchorBytesPerYear"] == pytest.approx(sum(p["bytesPerYear"] for p in fig["perOffice"]))
    assert disk["chainBytesPerYear"] == pytest.approx(blocks * fig["emptyBlockBytes"] + disk["anchorBytesPerYear"])
    assert disk["perOfficeBytesPerYear"] == pytest.approx(2 * disk["chainBytesPerYear"])
    quiet = fig["emptyBlockPeriod"]
    assert quiet["blocksPerYear"] == pytest.approx(fig["batchesPerYear"] + 365.25 * 86_400 / 60)
    assert quiet["chainBytesPerYear"] == pytest.approx(
        quiet["blocksPerYear"] * fig["emptyBlockBytes"] + disk["anchorBytesPerYear"]
    )
    assert quiet["chainBytesPerYear"] < disk["chainBytesPerYear"] / 20  # empty blocks dominate a 2 s chain
    gas = fig["gas"]
    assert gas["perYear"] == sum(p["gasPerYear"] for p in fig["perOffice"])
    assert gas["utilisation"] == pytest.approx(gas["perYear"] / blocks / 50_000_000)
    assert gas["batchesPerBlockCapacity"] == 50_000_000 // per["gas"]
    costs = fig["yearlyCost"]
    assert costs["anchorBatch"]["gasPerYear"] == gas["perYear"]
    for key, row in costs.items():
        assert row["consortium"] == 0
        assert row["l1"] == pytest.approx(row["gasPerYear"] * 20e-9 * 3000)
        assert row["l2"] == pytest.approx(row["gasPerYear"] * 0.01e-9 * 3000)
        if not compare_fig["approaches"][key]["perBatch"]:
            assert row["gasPerYear"] == pytest.approx(compare_fig["approaches"][key]["gasPerRecord"] * 52 * 183_500)
    # QBFT: consensus messages grow with the square of the validators
    six = fig["bandwidth"]["networkMessagesPerBlock"]
    twelve = network.measure(
        parse_scenario(SCENARIO + "[network]\nvalidators = 12\n", "n.toml"), cost_fig, compare_fig
    )["bandwidth"]["networkMessagesPerBlock"]
    assert (six, twelve) == (6 * 5 * 2 + 5, 12 * 11 * 2 + 11)


def test_header_grows_with_validators_and_their_seals() -> None:
    base = network.qbft_header_bytes(4, 50_000_000, 10**6)
    grown = network.qbft_header_bytes(5, 50_000_000, 10**6) - base
    assert 21 + 66 <= grown <= 21 + 66 + 2  # one more address and one more commit seal (+ length prefixes)
    assert 500 < base < 1000


def test_evaluation_offices_never_reach_the_demo(measured: Any) -> None:
    assert [o.code for o in Genesis.dev().offices] == [c for c, _, _ in DEV_OFFICES]
    assert dev_signer("CN") is None  # key loading outside the evaluation is unchanged
    signer = eval_signer("CN")
    assert signer is not None and eval_signer("EP") == dev_signer("EP")
    chain = Chain(connect(EMBEDDED))
    chain.deployment = deploy_dev(chain, ("CN",))
    assert "CN" in chain.office_codes()
    fund_from_dev_account(chain, signer.address)
    assert chain.anchor_batch(signer, keccak(b"cn"), 1_000, "https://x.example/cn.json").gas_used > 0


def test_sections_render_and_plot(measured: Any, tmp_path: Path) -> None:
    _, _, cost_fig, compare_fig = measured
    fig = network.measure(load_scenario(builtin="large"), cost_fig, compare_fig)
    png = network.plot(fig, tmp_path / "network.png")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    body = {"cost": cost_fig, "compare": compare_fig, "network": fig}
    html = compare.section(body, {}) + network.section(body, {"network": png})
    assert html.count("<h2>") == 2 and "office ownership of a root" in html and ">CN<" in html
    assert len(compare.summary_rows(body)) == 2 and len(network.summary_rows(body)) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[pipeline]", "[network]\nblock_gas_limit = 5\n[pipeline]"), "block_gas_limit"),
        (("[pipeline]", "[network]\nvalidatrs = 5\n[pipeline]"), "unknown key"),
        (("compare_samples = 2", "compare_samples = 0"), "compare_samples"),
    ],
)
def test_bad_network_keys_name_the_problem(change: tuple[str, str], message: str) -> None:
    text = SCENARIO.replace(*change, 1)
    assert text != SCENARIO
    with pytest.raises(InputError, match=message):
        parse_scenario(text, "bad.toml")


def test_volume_scale_bounds() -> None:
    with pytest.raises(InputError, match="volume_scale"):
        parse_scenario(SCENARIO.replace("batch_size = 100", "batch_size = 100\nvolume_scale = 0"), "bad.toml")
    sc = parse_scenario(SCENARIO.replace("batch_size = 100", "batch_size = 100\nvolume_scale = 0.1"), "ok.toml")
    assert [sc.pushed(o) for o in sc.offices] == [25, 4]
