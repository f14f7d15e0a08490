"""Cost and chain growth, measured: anchorBatch at each batch size, one transaction per record, EAS.

Every figure comes from a receipt of this run (``gasUsed``) and, for chain growth, from the mined
transaction itself: calldata bytes, log bytes (topics and data) and the storage slots it created
(anvil's ``prestateTracer`` in diff mode; not available on the embedded EVM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_typing import HexStr

from registry.chain.client import TxResult
from registry.chain.dev import dev_signer
from registry.core import merkle
from registry.core.leaves import LEAF_ENCODING, ZERO_HASH, LeafValue
from registry.errors import ChainError
from registry.evaluate.context import PRICING_BASE, Run
from registry.evaluate.eas import EAS


@dataclass(frozen=True, slots=True)
class Footprint:
    """What one transaction adds to the chain."""

    gas: int
    calldata_bytes: int
    log_bytes: int
    new_slots: int | None
    tx_bytes: int = 0
    receipt_bytes: int = 0

    @property
    def state_bytes(self) -> int | None:
        """32 bytes per storage slot created (values only; trie overhead not counted)."""
        return None if self.new_slots is None else 32 * self.new_slots

    def to_json(self) -> dict[str, Any]:
        """Figures for the report."""
        return {
            "gas": self.gas,
            "calldataBytes": self.calldata_bytes,
            "logBytes": self.log_bytes,
            "newStorageSlots": self.new_slots,
            "stateBytes": self.state_bytes,
            "txBytes": self.tx_bytes,
            "receiptBytes": self.receipt_bytes,
        }


def footprint(run: Run, result: TxResult) -> Footprint:
    """Calldata, logs and new storage of a mined transaction."""
    w3 = run.chain.w3
    tx = run.chain.rpc(lambda: w3.eth.get_transaction(HexStr(result.transaction_hash)))
    receipt = run.chain.rpc(lambda: w3.eth.get_transaction_receipt(HexStr(result.transaction_hash)))
    log_bytes = sum(32 * len(log["topics"]) + len(bytes(log["data"])) for log in receipt["logs"])
    slots: int | None = None
    if run.kind != "embedded":
        try:
            trace = run.rpc(
                "debug_traceTransaction",
                [result.transaction_hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}],
            )
            slots = 0
            for address, post in trace.get("post", {}).items():
                before = trace.get("pre", {}).get(address, {}).get("storage", {})
                for slot, value in post.get("storage", {}).items():
                    if int(value, 16) != 0 and int(before.get(slot, "0x0"), 16) == 0:
                        slots += 1
        except Exception:
            slots = None
    return Footprint(
        int(receipt["gasUsed"]), len(bytes(tx["input"])), log_bytes, slots, tx_bytes(tx), receipt_bytes(receipt)
    )


def _int_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value).lstrip(b"\0")
    number = int(value or 0)
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def tx_bytes(tx: Any) -> int:
    """Bytes of the mined transaction as a node stores it: the EIP-2718 envelope (type 2 or legacy), re-encoded."""
    import rlp

    to = bytes.fromhex(str(tx.get("to") or "0x")[2:])
    sig = [_int_bytes(tx.get("v", tx.get("yParity", 0))), _int_bytes(tx["r"]), _int_bytes(tx["s"])]
    if int(tx.get("type", 0) or 0) == 2:
        fields = [_int_bytes(tx["chainId"]), _int_bytes(tx["nonce"]), _int_bytes(tx["maxPriorityFeePerGas"]),
                  _int_bytes(tx["maxFeePerGas"]), _int_bytes(tx["gas"]), to, _int_bytes(tx["value"]),
                  bytes(tx["input"]), [], *sig]  # fmt: skip
        return 1 + len(rlp.encode(fields))
    fields = [_int_bytes(tx["nonce"]), _int_bytes(tx["gasPrice"]), _int_bytes(tx["gas"]), to, _int_bytes(tx["value"]),
              bytes(tx["input"]), *sig]  # fmt: skip
    return len(rlp.encode(fields))


def receipt_bytes(receipt: Any) -> int:
    """Bytes of the receipt as stored (EIP-2718): status, cumulative gas, the 256-byte bloom, the logs."""
    import rlp

    logs = [
        [bytes.fromhex(str(log["address"])[2:]), [bytes(t) for t in log["topics"]], bytes(log["data"])]
        for log in receipt["logs"]
    ]
    body = rlp.encode(
        [_int_bytes(receipt.get("status", 1)), _int_bytes(receipt["cumulativeGasUsed"]), b"\0" * 256, logs]
    )
    return (1 if int(receipt.get("type", 0) or 0) else 0) + len(body)


def synthetic_values(office: str, start: int, count: int) -> list[LeafValue]:
    """Distinct, realistic leaf values (record ids and content hashes) for pricing batches."""
    out = []
    for i in range(start, start + count):
        digest = merkle.keccak(i.to_bytes(8, "big")).hex()
        out.append(LeafValue(f"{office}:{4_000_000 + i}:B1", "0x" + digest, "xml-c14n2", ZERO_HASH))
    return out


def fiat_at(gas: float, gas_price_gwei: float, eth_price: float) -> float:
    """Gas in a currency at a gas price (gwei) and an ETH rate: the one fiat formula of the report."""
    return gas * gas_price_gwei * 1e-9 * eth_price


def fiat(run: Run, gas: float) -> float:
    """Gas in the scenario's currency at its gas price and ETH rate."""
    return fiat_at(gas, run.scenario.gas_price_gwei, run.scenario.eth_price)


def measure(run: Run, eas: EAS) -> dict[str, Any]:
    """Anchor each batch size, anchor records one per transaction, attest with EAS; figures."""
    sc = run.scenario
    account = dev_signer("EP")
    assert account is not None
    uri = PRICING_BASE + "/EP/0x" + "ab" * 32 + ".json"  # as long as a real manifest URI
    offset = 0
    batches = []
    steps = len(sc.batch_sizes) + sc.per_record_samples + sc.eas_attest_samples + len(sc.eas_multi_sizes)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        run.advance("cost", done / steps)

    for size in sc.batch_sizes:
        values = synthetic_values("EP", offset, size)
        offset += size
        tree = merkle.MerkleTree.from_leaves([v.leaf() for v in values])
        result = run.chain.anchor_batch(account, tree.root, size, uri)
        fp = footprint(run, result)
        batches.append({"batchSize": size, **fp.to_json(), "gasPerRecord": fp.gas / size})
        tick()

    per_record = []
    for v in synthetic_values("EP", offset, sc.per_record_samples):
        result = run.chain.anchor_batch(account, v.leaf(), 1, uri)
        per_record.append(footprint(run, result))
        tick()
    offset += sc.per_record_samples

    attests = []
    for v in synthetic_values("EP", offset, sc.eas_attest_samples):
        data = abi_encode(list(LEAF_ENCODING), _abi_values(v))
        attests.append(footprint(run, eas.attest(account, data)))
        tick()
    offset += sc.eas_attest_samples

    multi = []
    for size in sc.eas_multi_sizes:
        items = [abi_encode(list(LEAF_ENCODING), _abi_values(v)) for v in synthetic_values("EP", offset, size)]
        offset += size
        try:
            attested = eas.multi_attest(account, items)
        except ChainError as exc:  # e.g. more gas than a block holds
            run.notes.append(f"EAS multiAttest of {size} records could not be sent: {exc.diagnostics()[:160]}")
            tick()
            continue
        fp = footprint(run, attested)
        multi.append({"batchSize": size, **fp.to_json(), "gasPerRecord": fp.gas / size})
        tick()

    def mean(fps: list[Footprint]) -> dict[str, Any]:
        n = len(fps)
        slots = [f.new_slots for f in fps]
        return {
            "samples": n,
            "gas": sum(f.gas for f in fps) / n,
            "gasMin": min(f.gas for f in fps),
            "gasMax": max(f.gas for f in fps),
            "calldataBytes": sum(f.calldata_bytes for f in fps) / n,
            "logBytes": sum(f.log_bytes for f in fps) / n,
            "stateBytes": None if None in slots else 32 * sum(s or 0 for s in slots) / n,
            "txBytes": sum(f.tx_bytes for f in fps) / n,
            "receiptBytes": sum(f.receipt_bytes for f in fps) / n,
        }

    per_record_fig = mean(per_record)
    attest_fig = mean(attests)
    for row in (*batches, *multi):
        row["fiatPerBatch"] = fiat(run, row["gas"])
        row["fiatPerRecord"] = fiat(run, row["gasPerRecord"])
    for fig in (per_record_fig, attest_fig):
        fig["gasPerRecord"] = fig["gas"]
        fig["fiatPerRecord"] = fiat(run, fig["gas"])
    return {
        "gasPriceGwei": sc.gas_price_gwei,
        "currency": sc.currency,
        "ethPrice": sc.eth_price,
        "anchorBatch": batches,
        "oneTxPerRecord": per_record_fig,
        "easAttest": attest_fig,
        "easMultiAttest": multi,
        "easDeployGas": eas.deploy_gas,
        "growth": growth(run, batches, per_record_fig, attest_fig, multi),
    }


#: The byte counts of a footprint, as the report's keys.
_FOOTPRINT = ("stateBytes", "logBytes", "calldataBytes", "txBytes", "receiptBytes")


def _abi_values(v: LeafValue) -> list[Any]:
    return [v.record_id, bytes.fromhex(v.content_hash[2:]), v.canonicalization, bytes.fromhex(v.supersedes[2:])]


def growth(
    run: Run,
    batches: list[dict[str, Any]],
    per_record: dict[str, Any],
    attest: dict[str, Any],
    multi: list[dict[str, Any]],
) -> dict[str, Any]:
    """Bytes per batch and per year of the scenario's volume, per approach."""
    sc = run.scenario
    size = sc.pipeline_batch_size
    nearest = min(batches, key=lambda b: (abs(math.log(b["batchSize"]) - math.log(size)), b["batchSize"]))
    batches_per_year = 52 * sum(math.ceil(o.weekly_volume / size) for o in sc.offices)
    records_per_year = 52 * sc.weekly_volume
    biggest_multi = max(multi, key=lambda m: m["batchSize"]) if multi else None

    def yearly(per: dict[str, Any], times: float) -> dict[str, Any]:
        state = per.get("stateBytes")
        return {
            "transactions": times,
            "stateBytes": None if state is None else state * times,
            "logBytes": per["logBytes"] * times,
            "calldataBytes": per["calldataBytes"] * times,
            "txBytes": per.get("txBytes", 0) * times,
            "receiptBytes": per.get("receiptBytes", 0) * times,
            "gas": per["gas"] * times,
            "fiat": fiat(run, per["gas"] * times),
        }

    out: dict[str, Any] = {
        "recordsPerYear": records_per_year,
        "pipelineBatchSize": size,
        "measuredBatchSize": nearest["batchSize"],
        "batchesPerYear": batches_per_year,
        "perBatch": {
            k: nearest[k] for k in ("stateBytes", "logBytes", "calldataBytes", "gas", "txBytes", "receiptBytes")
        },
        "perYear": {
            "anchorBatch": yearly(nearest, batches_per_year),
            "oneTxPerRecord": yearly(per_record, records_per_year),
            "easAttest": yearly(attest, records_per_year),
        },
    }
    if biggest_multi is not None:
        per = {
            k: (None if biggest_multi[k] is None else biggest_multi[k] / biggest_multi["batchSize"])
            for k in (*_FOOTPRINT, "gas")
        }
        out["perYear"]["easMultiAttest"] = yearly(per, records_per_year)
        out["perYear"]["easMultiAttest"]["batchSize"] = biggest_multi["batchSize"]
    return out
