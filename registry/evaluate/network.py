"""The network the offices would run (Besu QBFT, zero gas price), computed from the run's measured footprints.

Nothing here sends a transaction: every figure is a formula (printed in the report) over the cost
phase's measured per-batch footprint (gas, transaction and receipt bytes, new storage) and the
scenario's real weekly volumes, with the network's parameters from the scenario's ``[network]``
table (defaults: ``local-chain/besu/network.toml``: 2 s blocks, 50,000,000 gas per block).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import rlp

from registry.evaluate import markup as rep
from registry.evaluate import plots
from registry.evaluate.cost import fiat_at
from registry.evaluate.scenario import Scenario

SECONDS_PER_YEAR = 365.25 * 86_400
#: Per block besides the header: empty body RLP([[], []]) 3 bytes, empty receipts RLP([]) 1 byte, and the
#: block indexes a node keeps (hash → number 32+8, number → hash 8+32, total difficulty 32+4 bytes).
BLOCK_EXTRA_BYTES = 3 + 1 + 40 + 40 + 36
#: Per transaction index entry (hash → block and position).
TX_INDEX_BYTES = 40
#: Gas prices on the cost-against-price curve (gwei), besides zero.
PRICE_GRID = tuple(10 ** (e / 4) for e in range(-20, 13))


def qbft_header_bytes(validators: int, gas_limit: int, block_number: int) -> int:
    """RLP size of a London block header (Besu QBFT, zero base fee) with ⌈2n/3⌉ commit seals in extraData."""
    quorum = math.ceil(2 * validators / 3)
    extra = rlp.encode([b"\0" * 32, [b"\x11" * 20] * validators, [], b"", [b"\x22" * 65] * quorum])
    big = b"\x33" * 32

    def whole(n: int) -> bytes:
        return n.to_bytes((n.bit_length() + 7) // 8, "big")

    header = [big, big, b"\x44" * 20, big, big, big, b"\0" * 256, whole(1), whole(block_number), whole(gas_limit),
              b"", whole(1_800_000_000), extra, big, b"\0" * 8, b""]  # fmt: skip
    return len(rlp.encode(header))


def measure(sc: Scenario, cost_fig: dict[str, Any], compare_fig: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nodes, disk growth, bandwidth, gas per block and yearly cost against gas price; the formulas' inputs."""
    net = sc.network
    offices = len(sc.offices)
    n = net.validators or offices
    size = sc.pipeline_batch_size
    growth = cost_fig["growth"]
    per_batch = growth["perBatch"]
    blocks = SECONDS_PER_YEAR / net.block_period_seconds
    header = qbft_header_bytes(n, net.block_gas_limit, int(blocks))
    block_bytes = header + BLOCK_EXTRA_BYTES
    batch_bytes = per_batch["txBytes"] + per_batch["receiptBytes"] + (per_batch["stateBytes"] or 0) + TX_INDEX_BYTES
    per_office = []
    for o in sc.offices:
        batches = 52 * math.ceil(o.weekly_volume / size)
        per_office.append(
            {
                "office": o.code,
                "recordsPerYear": 52 * o.weekly_volume,
                "batchesPerYear": batches,
                "gasPerYear": batches * per_batch["gas"],
                "bytesPerYear": batches * batch_bytes,
                "calldataBytesPerYear": batches * per_batch["calldataBytes"],
                "logBytesPerYear": batches * per_batch["logBytes"],
                "stateBytesPerYear": batches * (per_batch["stateBytes"] or 0),
            }
        )
    batches_year = sum(p["batchesPerYear"] for p in per_office)
    anchor_bytes = batches_year * batch_bytes
    chain_bytes = blocks * block_bytes + anchor_bytes
    nodes = 1 + net.rpc_nodes_per_office
    quiet = max(net.empty_block_period_seconds, net.block_period_seconds)
    quiet_blocks = min(blocks, batches_year + SECONDS_PER_YEAR / quiet)  # an upper bound: one block per batch
    # bandwidth of one validator per average block (proposer role rotates: 1/n of the blocks)
    tx_per_block = batches_year / blocks
    avg_block = block_bytes + tx_per_block * per_batch["txBytes"]
    m = net.qbft_message_bytes
    consensus_out = 2 * (n - 1) * m + (n - 1) / n * (avg_block + m)
    consensus_in = 2 * (n - 1) * m + (n - 1) / n * (avg_block + m)
    blocks_to_rpc = net.rpc_nodes_per_office * avg_block
    tx_gossip = tx_per_block * per_batch["txBytes"] * (n - 1) / n * 2  # own out to n-1 peers, others' in (avg)
    per_office_bytes_block = consensus_out + consensus_in + blocks_to_rpc + tx_gossip
    gas_year = batches_year * per_batch["gas"]
    gas_per_block = gas_year / blocks
    fit = int(net.block_gas_limit // per_batch["gas"])
    records_year = 52 * sc.weekly_volume
    curves = _price_curves(sc, compare_fig, growth, records_year, batches_year)
    return {
        "validators": n,
        "offices": offices,
        "nodesPerOffice": {"validator": 1, "rpc": net.rpc_nodes_per_office, "total": nodes},
        "blockPeriodSeconds": net.block_period_seconds,
        "blockGasLimit": net.block_gas_limit,
        "blocksPerYear": blocks,
        "headerBytes": header,
        "emptyBlockBytes": block_bytes,
        "batchBytes": batch_bytes,
        "recordsPerYear": records_year,
        "batchesPerYear": batches_year,
        "disk": {
            "blocksBytesPerYear": blocks * block_bytes,
            "anchorBytesPerYear": anchor_bytes,
            "chainBytesPerYear": chain_bytes,
            "perOfficeBytesPerYear": chain_bytes * nodes,  # every node keeps the whole chain
        },
        "emptyBlockPeriod": {  # what if empty blocks came only every E seconds (blocks with anchors as before)
            "seconds": net.empty_block_period_seconds,
            "blocksPerYear": quiet_blocks,
            "chainBytesPerYear": quiet_blocks * block_bytes + anchor_bytes,
        },
        "perOffice": per_office,
        "bandwidth": {
            "qbftMessageBytes": m,
            "perBlockBytes": per_office_bytes_block,
            "perOfficeBytesPerYear": per_office_bytes_block * blocks,
            "perOfficeKbitPerSecond": per_office_bytes_block * 8 / 1000 / net.block_period_seconds,
            "networkMessagesPerBlock": n * (n - 1) * 2 + (n - 1),
        },
        "gas": {
            "perBatch": per_batch["gas"],
            "perYear": gas_year,
            "perBlockAverage": gas_per_block,
            "utilisation": gas_per_block / net.block_gas_limit,
            "allOfficesInOneBlock": offices * per_batch["gas"],
            "batchesPerBlockCapacity": fit,
            "recordsPerSecondCapacity": fit * size / net.block_period_seconds,
        },
        "prices": {
            "consortiumGwei": 0.0,
            "l2Gwei": net.l2_gas_price_gwei,
            "l1Gwei": sc.gas_price_gwei,
            "currency": sc.currency,
            "ethPrice": sc.eth_price,
        },
        "yearlyCost": curves,
    }


def _price_curves(
    sc: Scenario, compare_fig: dict[str, Any] | None, growth: dict[str, Any], records: int, batches: int
) -> dict[str, Any]:
    """Yearly fiat per approach at zero, the L2's and the L1's gas price (gas per year x price x ETH rate)."""
    gas: dict[str, float] = {"anchorBatch": growth["perBatch"]["gas"] * batches}
    if compare_fig:
        for key, row in compare_fig["approaches"].items():
            gas[key] = row["gasPerBatch"] * batches if row["perBatch"] else row["gasPerRecord"] * records
    else:
        gas["oneTxPerRecord"] = growth["perYear"]["oneTxPerRecord"]["gas"]
        gas["easAttest"] = growth["perYear"]["easAttest"]["gas"]
    out: dict[str, Any] = {}
    for key, g in gas.items():
        out[key] = {
            "gasPerYear": g,
            "consortium": 0.0,
            "l2": fiat_at(g, sc.network.l2_gas_price_gwei, sc.eth_price),
            "l1": fiat_at(g, sc.gas_price_gwei, sc.eth_price),
        }
    return out


def plot(fig: dict[str, Any], path: Path) -> Path:
    """Yearly cost against gas price (log-log), one line per approach, the L2 and L1 prices marked."""
    plt = plots._pyplot()
    figure, ax = plt.subplots(figsize=(8, 4.4), dpi=110)
    pr = fig["prices"]
    for key, row in fig["yearlyCost"].items():
        ax.plot(PRICE_GRID, [fiat_at(row["gasPerYear"], p, pr["ethPrice"]) for p in PRICE_GRID],
                label=_NAMES.get(key, key))  # fmt: skip
    ours = fiat_at(fig["yearlyCost"]["anchorBatch"]["gasPerYear"], 1.0, pr["ethPrice"])
    for value, label in ((pr["l2Gwei"], "public L2"), (pr["l1Gwei"], "L1")):
        ax.axvline(value, color="black", linestyle=":", linewidth=1)
        ax.text(value, ax.get_ylim()[1], f" {label} {value:g} gwei", rotation=90, va="top", fontsize=7)
        ax.plot([value], [ours * value], "o", color="tab:blue")
        ax.annotate(f"{ours * value:,.2f} {pr['currency']}/year", (value, ours * value), textcoords="offset points",
                    xytext=(6, -12), fontsize=7, color="tab:blue")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gas price (gwei); the consortium runs at 0: no fee at all")
    ax.set_ylabel(f"{pr['currency']} per year")
    ax.set_title(
        f"Yearly cost of {fig['recordsPerYear']:,} records against gas price (1 ETH = {pr['ethPrice']:g} "
        f"{pr['currency']}; consortium: 0)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


_NAMES = {
    "anchorBatch": "this registry (anchorBatch)",
    "rootLog": "bare RootLog per batch",
    "easRoot": "EAS root per batch",
    "easMultiAttest": "EAS multiAttest",
    "easAttest": "EAS attest per record",
    "rootLogPerRecord": "RootLog per record",
    "oneTxPerRecord": "anchorBatch per record",
}


def _gb(value: float) -> str:
    return f"{value / 1e9:,.2f} GB" if value >= 1e8 else f"{value / 1e6:,.2f} MB"


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Disk per year, bandwidth and block use of the consortium network."""
    f = report.get("network")
    if not f:
        return []
    return [
        [f"consortium chain growth per year ({f['offices']} offices, {f['recordsPerYear']:,} records)",
         _gb(f["disk"]["chainBytesPerYear"]),
         f"empty blocks {_gb(f['disk']['blocksBytesPerYear'])}, anchors {_gb(f['disk']['anchorBytesPerYear'])}"],
        ["bandwidth per office (QBFT, average)", f"{rep.num(f['bandwidth']['perOfficeKbitPerSecond'], 1)} kbit/s",
         f"{_gb(f['bandwidth']['perOfficeBytesPerYear'])} per year"],
        ["gas per block against the block gas limit",
         f"{100 * f['gas']['utilisation']:.2g} % of {rep.num(f['blockGasLimit'])}",
         f"capacity {rep.num(f['gas']['recordsPerSecondCapacity'], 0)} records/s"],
    ]  # fmt: skip


def section(report: dict[str, Any], plots_: dict[str, Path]) -> str:
    """The network section: what each office runs, disk, bandwidth, block use, cost against gas price."""
    f = report.get("network")
    if not f:
        return ""
    num, cur = rep.num, f["prices"]["currency"]
    n, d, b, g = f["validators"], f["disk"], f["bandwidth"], f["gas"]
    parts = [
        '<section id="network"><h2>The network the offices would run</h2>',
        f"<p>Hyperledger Besu, QBFT, zero gas price (<code>local-chain/besu</code>): {n} validators (one per office), "
        f"a block every {f['blockPeriodSeconds']} s, {num(f['blockGasLimit'])} gas per block. Each office runs "
        f"{f['nodesPerOffice']['validator']} validator node (seals blocks, holds the whole chain) and "
        f"{f['nodesPerOffice']['rpc']} RPC node for auditors' reads behind its TLS proxy, so "
        f"{f['nodesPerOffice']['total']} copies of the chain. Computed from the cost phase's measured footprint "
        f"of one anchorBatch ({num(f['batchBytes'], 0)} bytes stored: transaction + receipt + new storage + "
        f"{TX_INDEX_BYTES} bytes of index) and the scenario's real volume.</p>",
        rep.table(
            ["figure", "per year", "formula"],
            [
                ["blocks", num(f["blocksPerYear"], 0), f"365.25 x 86,400 s ÷ {f['blockPeriodSeconds']} s"],
                [
                    "empty-block data",
                    _gb(d["blocksBytesPerYear"]),
                    f"blocks x ({f['headerBytes']} B London header with QBFT extraData: {n} validators, "
                    f"{math.ceil(2 * n / 3)} commit seals + {BLOCK_EXTRA_BYTES} B body, receipts, indexes)",
                ],
                [
                    "anchor data",
                    _gb(d["anchorBytesPerYear"]),
                    f"{num(f['batchesPerYear'])} batches x {num(f['batchBytes'], 0)} B",
                ],
                [
                    "chain growth (one node)",
                    _gb(d["chainBytesPerYear"]),
                    "empty-block data + anchor data (before database compression; state-trie overhead not counted)",
                ],
                [
                    f"chain growth if empty blocks came every {f['emptyBlockPeriod']['seconds']} s",
                    _gb(f["emptyBlockPeriod"]["chainBytesPerYear"]),
                    f"(batches + 365.25 x 86,400 s ÷ {f['emptyBlockPeriod']['seconds']} s) blocks x "
                    f"{f['emptyBlockBytes']} B + anchor data: GoQuorum's QBFT emptyblockperiodseconds "
                    "(scenario network.empty_block_period_seconds)",
                ],
                [
                    "disk per office",
                    _gb(d["perOfficeBytesPerYear"]),
                    f"chain growth x {f['nodesPerOffice']['total']} nodes",
                ],
                [
                    "bandwidth per office",
                    _gb(b["perOfficeBytesPerYear"]),
                    f"per block: in + out of 2(n-1) PREPARE/COMMIT of {b['qbftMessageBytes']} B, (n-1)/n x proposal "
                    "(block + message), the block to the office's RPC node(s), anchor transactions gossiped; "
                    f"{b['networkMessagesPerBlock']} messages per block network-wide: O(n²)",
                ],
                ["gas", num(g["perYear"], 0), f"batches x {num(g['perBatch'], 0)} gas"],
            ],
        ),
        f"<p>Gas per block, average {num(g['perBlockAverage'], 1)} against a limit of {num(f['blockGasLimit'])} "
        f"({100 * g['utilisation']:.2g} %); every office anchoring in the same block uses "
        f"{num(g['allOfficesInOneBlock'])} gas. A block holds {num(g['batchesPerBlockCapacity'])} anchorBatch calls: "
        f"{num(g['recordsPerSecondCapacity'], 0)} records/s at the pipeline's batch size.</p>",
        "<h3>Chain growth per office</h3>",
        rep.table(
            ["office", "records per year", "batches per year", "bytes per year", "gas per year"],
            [
                [
                    p["office"],
                    num(p["recordsPerYear"]),
                    num(p["batchesPerYear"]),
                    _gb(p["bytesPerYear"]),
                    num(p["gasPerYear"], 0),
                ]
                for p in f["perOffice"]
            ],
        ),
        f"<h3>Yearly cost against gas price</h3><p>gas per year x gas price x 1 ETH = "
        f"{num(f['prices']['ethPrice'])} {rep._e(cur)}; the consortium is at 0, a public L2 at "
        f"{f['prices']['l2Gwei']:g} gwei (scenario network.l2_gas_price_gwei; execution gas only, the L2's L1 "
        f"data fee not included), L1 at {f['prices']['l1Gwei']:g} gwei (cost.gas_price_gwei).</p>",
        rep.table(
            ["approach", "gas per year", "consortium", "public L2", "L1"],
            [
                [
                    _NAMES.get(k, k),
                    num(r["gasPerYear"], 0),
                    "0 (no fee)",
                    rep.money(r["l2"], cur),
                    rep.money(r["l1"], cur),
                ]
                for k, r in f["yearlyCost"].items()
            ],
        ),
    ]
    if "network" in plots_:
        parts.append(rep.image(plots_["network"], "Yearly cost against gas price, per approach"))
    parts.append("</section>")
    return "".join(parts)
