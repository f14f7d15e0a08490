"""The fair comparison: this registry's anchorBatch against the alternatives that also batch, measured in one run.

Measured here, on the chain of the cost phase, with real transactions: EAS attesting each batch's Merkle
root (one attestation per batch, schema :data:`registry.evaluate.eas.ROOT_SCHEMA`), the bare event-only
``RootLog`` contract logging each batch's root, and ``RootLog`` once per record. Taken from the cost
phase: anchorBatch, one anchorBatch per record, EAS ``attest`` per record and ``multiAttest``. Every
approach is shown per record and per batch at the pipeline's batch size (per-batch figures of per-record
approaches are the per-record figure times the batch size: the formula is printed), with what each
provides, so the report says what the registry's guarantees cost beyond batching.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode

from registry.chain.dev import dev_account, dev_signer
from registry.core import merkle
from registry.evaluate import markup as rep
from registry.evaluate.context import PRICING_BASE, Run
from registry.evaluate.cost import Footprint, fiat, fiat_at, footprint
from registry.evaluate.eas import EAS, ROOT_SCHEMA
from registry.evaluate.rootlog import RootLog

#: Approaches in the order of the tables: key, label, how it is measured.
APPROACHES: tuple[tuple[str, str], ...] = (
    ("anchorBatch", "this registry: anchorBatch, one per batch"),
    ("rootLog", "bare RootLog contract: one event per batch"),
    ("easRoot", "EAS: one attestation of the batch root"),
    ("easMultiAttest", "EAS multiAttest, one attestation per record"),
    ("easAttest", "EAS attest, one transaction per record"),
    ("rootLogPerRecord", "bare RootLog: one transaction per record"),
    ("oneTxPerRecord", "this registry: anchorBatch of 1 per record"),
)
#: What each approach provides (columns: the approaches above in that order, merged where equal).
CAPABILITIES: tuple[tuple[str, str, str, str, str], ...] = (
    # feature, this registry, RootLog, EAS root per batch, EAS per record
    ("who may write for an office (governance)",
     "only a current signer of an active office; offices admitted, suspended by the offices' rule on chain",
     "anyone; the reader must know the office's address off chain",
     "any address may attest under the schema; office ↔ attester mapping off chain",
     "as EAS root"),
    ("key history and compromise",
     "signers per office with rotation; a key marked compromised from a block: its later batches fail",
     "none (an address, no history)", "none (attester address only)", "none"),
    ("revocation",
     "a batch or one record (with its proof), by the office; void if the revoking key was compromised",
     "none", "the whole attestation (batch), by the attester", "per record, by the attester"),
    ("on-chain proof check",
     "verifyRecord: inclusion + revocation + signer authorised at the block, in one eth_call",
     "none: Merkle check off chain against a log", "none: Merkle check off chain", "not needed (one per record)"),
    ("office ownership of a root",
     "batches keyed by (office, root): no office can pre-empt or claim another's root",
     "none: anyone may log the same root first", "self-declared office field", "self-declared"),
    ("lookup without logs",
     "batchOf(office, root) in state", "no: events only (needs log history)", "by attestation uid only",
     "by attestation uid only"),
)  # fmt: skip


def _mean(fps: list[Footprint]) -> dict[str, Any]:
    n = len(fps)
    slots = [f.new_slots for f in fps]
    return {
        "samples": n,
        "gas": sum(f.gas for f in fps) / n,
        "calldataBytes": sum(f.calldata_bytes for f in fps) / n,
        "logBytes": sum(f.log_bytes for f in fps) / n,
        "stateBytes": None if None in slots else 32 * sum(s or 0 for s in slots) / n,
        "txBytes": sum(f.tx_bytes for f in fps) / n,
        "receiptBytes": sum(f.receipt_bytes for f in fps) / n,
    }


def measure(run: Run, eas: EAS, cost_fig: dict[str, Any]) -> dict[str, Any]:
    """Deploy RootLog, measure EAS root attestations and RootLog per batch and per record; the comparison."""
    sc = run.scenario
    size = sc.pipeline_batch_size
    n = sc.compare_samples
    log = RootLog.deploy(run.chain, dev_account(0))
    account = dev_signer("EP")
    assert account is not None
    uri = PRICING_BASE + "/EP/0x" + "cd" * 32 + ".json"  # as long as a real manifest URI

    def root(i: int, what: str) -> bytes:
        return merkle.keccak(f"compare:{what}:{i}".encode())

    measured: dict[str, list[Footprint]] = {"rootLog": [], "easRoot": [], "rootLogPerRecord": []}
    for i in range(n):
        measured["rootLog"].append(footprint(run, log.log_root(account, root(i, "log"), size, uri)))
        data = abi_encode(["bytes32", "bytes2", "uint32"], [root(i, "eas"), b"EP", size])
        measured["easRoot"].append(footprint(run, eas.attest(account, data, eas.root_schema_uid)))
        measured["rootLogPerRecord"].append(footprint(run, log.log_root(account, root(i, "leaf"), 1, uri)))
        run.advance("compare", (i + 1) / n)
    growth = cost_fig["growth"]
    rows: dict[str, dict[str, Any]] = {}

    def per_batch(key: str, fig: dict[str, Any], how: str) -> None:
        rows[key] = {**fig, "perBatch": True, "gasPerBatch": fig["gas"], "gasPerRecord": fig["gas"] / size,
                     "transactionsPerBatch": 1, "source": how}  # fmt: skip

    def per_record(key: str, fig: dict[str, Any], how: str, per_tx: int = 1) -> None:
        scaled = {k: (None if fig.get(k) is None else fig[k] * size) for k in _BYTES}
        rows[key] = {**scaled, "samples": fig.get("samples"), "perBatch": False, "gasPerRecord": fig["gas"],
                     "gasPerBatch": fig["gas"] * size, "transactionsPerBatch": math.ceil(size / per_tx),
                     "source": how}  # fmt: skip

    per_batch(
        "anchorBatch",
        {**growth["perBatch"], "samples": 1},
        f"cost phase, anchorBatch of {growth['measuredBatchSize']:,} (gas does not grow with the batch)",
    )
    per_batch("rootLog", _mean(measured["rootLog"]), "measured here (logRoot)")
    per_batch("easRoot", _mean(measured["easRoot"]), f"measured here (attest, schema {ROOT_SCHEMA!r})")
    if cost_fig["easMultiAttest"]:
        m = max(cost_fig["easMultiAttest"], key=lambda x: x["batchSize"])
        fig = {k: (None if m.get(k) is None else m[k] / m["batchSize"]) for k in (*_BYTES, "gas")}
        per_record("easMultiAttest", {**fig, "samples": 1},
                   f"cost phase, multiAttest of {m['batchSize']} per transaction", m["batchSize"])  # fmt: skip
    per_record("easAttest", cost_fig["easAttest"], "cost phase (attest per record)")
    per_record("rootLogPerRecord", _mean(measured["rootLogPerRecord"]), "measured here (logRoot of one leaf)")
    per_record("oneTxPerRecord", cost_fig["oneTxPerRecord"], "cost phase (anchorBatch of 1)")
    for row in rows.values():
        row["fiatPerBatch"] = fiat(run, row["gasPerBatch"])
        row["fiatPerRecord"] = fiat(run, row["gasPerRecord"])
    base, bare, eas_root = rows["anchorBatch"], rows["rootLog"], rows["easRoot"]
    batches = growth["batchesPerYear"]
    premium = base["gasPerBatch"] - bare["gasPerBatch"]
    return {
        "batchSize": size,
        "samples": n,
        "rootLogDeployGas": log.deploy_gas,
        "easRootSchema": ROOT_SCHEMA,
        "approaches": rows,
        "registryPremium": {  # what the registry's guarantees cost beyond batching (vs the bare log)
            "gasPerBatch": premium,
            "gasPerRecord": premium / size,
            "ratioToRootLog": base["gasPerBatch"] / bare["gasPerBatch"],
            "ratioToEasRoot": base["gasPerBatch"] / eas_root["gasPerBatch"],
            "gasPerYear": premium * batches,
            "fiatPerYear": fiat(run, premium * batches),
            "stateBytesPerBatch": base.get("stateBytes"),
        },
        "batchingSaves": {  # what batching alone saves (one tx per record vs one per batch, same contract)
            "gasPerRecord": rows["oneTxPerRecord"]["gasPerRecord"] - base["gasPerRecord"],
            "factor": rows["oneTxPerRecord"]["gasPerRecord"] / base["gasPerRecord"],
        },
        "capabilities": [list(c) for c in CAPABILITIES],
    }


_BYTES = ("calldataBytes", "logBytes", "stateBytes", "txBytes", "receiptBytes")


def _label(key: str) -> str:
    return dict(APPROACHES)[key]


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One line each: the registry's premium over a bare root log, and batching's saving."""
    c = report.get("compare")
    if not c:
        return []
    cur = report["cost"]["currency"]
    p, b = c["registryPremium"], c["batchingSaves"]
    bare, eas_root = c["approaches"]["rootLog"], c["approaches"]["easRoot"]
    gwei, eth = report["cost"]["gasPriceGwei"], report["cost"]["ethPrice"]

    def money(gas: float) -> str:
        return rep.money(fiat_at(gas, gwei, eth), cur)

    return [
        [f"what the registry costs beyond batching (vs bare root log, batch of {c['batchSize']:,})",
         f"+{rep.num(p['gasPerRecord'], 2)} gas = {money(p['gasPerRecord'])} per record "
         f"(+{rep.num(p['gasPerBatch'], 0)} gas per batch: {rep.num(p['ratioToRootLog'], 2)}x RootLog's "
         f"{rep.num(bare['gasPerBatch'], 0)}; {rep.num(p['ratioToEasRoot'], 2)}x EAS root's "
         f"{rep.num(eas_root['gasPerBatch'], 0)})",
         f"{rep.money(p['fiatPerYear'], cur)} per year at {gwei:g} gwei, 0 on the consortium"],
        ["what batching saves (one anchorBatch per record → per batch)",
         f"{rep.num(b['gasPerRecord'], 0)} gas = {money(b['gasPerRecord'])} per record "
         f"({rep.num(b['factor'], 0)}x)", f"at {gwei:g} gwei, 1 ETH = {eth:,g} {cur}"],
    ]  # fmt: skip


def section(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """The comparison section: per record and per batch, the premium, and what each approach provides."""
    c = report.get("compare")
    if not c:
        return ""
    cur = report["cost"]["currency"]
    size = c["batchSize"]
    num, money = rep.num, rep.money
    parts = [
        '<section id="compare"><h2>A fair comparison: batching alternatives</h2>',
        f"<p>All on the same chain in the same run, at the pipeline's batch size of {num(size)} records. "
        "Per-batch approaches: gas per record = gas per batch ÷ batch size. Per-record approaches: gas per batch "
        "= gas per record x batch size (multiAttest: ⌈batch ÷ records per transaction⌉ transactions). Bytes "
        "per batch: calldata, logs (topics + data), new storage (32 bytes a slot). RootLog logs what anchorBatch "
        "takes (root, leaf count, manifest URI); the EAS root schema is <code>"
        + rep._e(c["easRootSchema"])
        + "</code> (EAS keeps attestation data in storage, so no URI).</p>",
        rep.table(
            ["approach", "tx per batch", "gas per batch", "gas per record", f"{cur} per record",
             "calldata B/batch", "log B/batch", "state B/batch", "source"],
            [[_label(k), num(r["transactionsPerBatch"]), num(r["gasPerBatch"], 0), num(r["gasPerRecord"], 2),
              money(r["fiatPerRecord"], cur), num(r["calldataBytes"], 0), num(r["logBytes"], 0),
              num(r["stateBytes"], 0), r["source"]]
             for k, r in c["approaches"].items()],
        ),
    ]  # fmt: skip
    p = c["registryPremium"]
    parts.append(
        f"<p><b>Beyond batching</b>, the registry's checks and its one storage record per batch cost "
        f"{num(p['gasPerBatch'], 0)} gas per batch more than the bare event-only log ({num(p['gasPerRecord'], 2)} "
        f"gas per record; {money(p['fiatPerYear'], cur)} per year at the cost section's gas price), "
        f"{num(p['ratioToRootLog'], 2)}x the bare log and {num(p['ratioToEasRoot'], 2)}x an EAS root "
        f"attestation. Batching itself saves {num(c['batchingSaves']['factor'], 0)}x against one anchorBatch "
        "per record. What the extra gas buys:</p>"
    )
    parts.append(
        rep.table(
            ["provides", "this registry (anchorBatch)", "bare RootLog", "EAS, root per batch", "EAS, per record"],
            c["capabilities"],
        )
    )
    parts.append("</section>")
    return "".join(parts)
