"""The report's core sections (cost, pipeline throughput, privacy, interoperability, verdicts, versions) as HTML.

Each function takes the report (and the plots) and returns one ``<section>``; :func:`report.render_html`
puts them in order. Topic modules (time to verify, governance, faults, …) keep their own sections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.evaluate.markup import _e, image, money, num, table

#: What each pipeline phase of the throughput figure does (the plot's and the table's labels).
PHASE_LABELS = {
    "prepare": "read, canonicalize, hash",
    "submit": "accept into the outbox",
    "batching": "Merkle tree + manifest",
    "timestamps": "RFC 3161 time-stamps",
    "chain": "anchor transaction → receipt",
    "bundles": "write proof bundles",
}


def cost(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """Gas and fiat per record by batch size, the alternatives, chain growth per year."""
    cost = report["cost"]
    cur = cost["currency"]
    parts = ['<section id="cost"><h2>Cost</h2>']
    parts.append(
        f"<p>Gas from the receipts of this run; fiat at {_e(cost['gasPriceGwei'])} gwei and 1 ETH = "
        f"{_e(cost['ethPrice'])} {_e(cur)}. Batches hold real Merkle trees of distinct leaves.</p>"
    )
    parts.append(
        table(
            ["records per batch", "gas per batch", "gas per record", f"{cur} per batch", f"{cur} per record"],
            [
                [
                    num(b["batchSize"]),
                    num(b["gas"]),
                    num(b["gasPerRecord"], 2),
                    money(b["fiatPerBatch"], cur),
                    money(b["fiatPerRecord"], cur),
                ]
                for b in cost["anchorBatch"]
            ],
        )
    )
    alt_rows = [
        [
            "one transaction per record (anchorBatch of 1)",
            num(cost["oneTxPerRecord"]["samples"]),
            num(cost["oneTxPerRecord"]["gasPerRecord"], 0),
            money(cost["oneTxPerRecord"]["fiatPerRecord"], cur),
        ],
        [
            "EAS attest",
            num(cost["easAttest"]["samples"]),
            num(cost["easAttest"]["gasPerRecord"], 0),
            money(cost["easAttest"]["fiatPerRecord"], cur),
        ],
    ]
    alt_rows += [
        [f"EAS multiAttest of {m['batchSize']}", "1", num(m["gasPerRecord"], 0), money(m["fiatPerRecord"], cur)]
        for m in cost["easMultiAttest"]
    ]
    parts.append(
        table(["alternative (same chain, same run)", "transactions", "gas per record", f"{cur} per record"], alt_rows)
    )
    parts.append(
        image(
            plots["cost"],
            "Gas and fiat per record against batch size",
            "Gas per record (left axis, log) and the same in fiat (right axis) against records per batch (log);"
            " the horizontal lines are the per-record alternatives, which do not depend on a batch size.",
        )
    )
    g = cost["growth"]
    parts.append("<h3>Chain growth</h3>")
    parts.append(
        f"<p>Per batch of {num(g['measuredBatchSize'])} records (the measured size nearest the pipeline's "
        f"{num(g['pipelineBatchSize'])}): state {num(g['perBatch']['stateBytes'])} bytes, logs "
        f"{num(g['perBatch']['logBytes'])} bytes, calldata {num(g['perBatch']['calldataBytes'])} bytes. "
        f"Per year of the scenario's volume ({num(g['recordsPerYear'])} records, {num(g['batchesPerYear'])} "
        "batches):</p>"
    )
    labels = {
        "anchorBatch": "anchorBatch",
        "oneTxPerRecord": "one tx per record",
        "easAttest": "EAS attest",
        "easMultiAttest": "EAS multiAttest",
    }
    parts.append(
        table(
            ["approach", "transactions", "state bytes", "log bytes", "calldata bytes", f"{cur} per year"],
            [
                [
                    labels.get(k, k),
                    num(v["transactions"]),
                    num(v["stateBytes"]),
                    num(v["logBytes"]),
                    num(v["calldataBytes"]),
                    money(v["fiat"], cur),
                ]
                for k, v in g["perYear"].items()
            ],
        )
    )
    parts.append(
        image(
            plots["growth"],
            "Chain growth per year by approach",
            "Bytes each approach adds to the chain in a year of the scenario's volume (log scale): contract"
            " storage (state), event logs and transaction calldata.",
        )
    )
    parts.append("</section>")
    return "".join(parts)


def throughput(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """Records per second through the pipeline, per office and per phase, and the verification rates."""
    tp, rates = report["throughput"], report["rates"]
    parts = ['<section id="throughput"><h2>Throughput</h2>']
    parts.append(
        table(
            ["office", "records", "batches", "seconds", "records/s"],
            [
                [o["office"], num(o["records"]), num(o["batches"]), num(o["seconds"], 2), num(o["recordsPerSecond"], 0)]
                for o in tp["offices"]
            ]
            + [["all", num(tp["records"]), num(tp["batches"]), num(tp["seconds"], 2), num(tp["recordsPerSecond"], 0)]],
        )
    )
    phases = {k: v for k, v in tp["phaseSeconds"].items() if k != "write"}
    parts.append(
        image(
            plots["throughput"],
            "Pipeline time per phase",
            f"Where the pipeline's {tp['seconds']:,.2f} s went for {tp['records']:,} records in batches of "
            f"{tp['batchSize']:,}: "
            + "; ".join(f"{k} = {PHASE_LABELS.get(k, k)}" for k in phases)
            + ". Writing the generated sample files is not counted.",
        )
    )
    parts.append(
        table(
            ["verification", "records", "seconds", "per second"],
            [
                [
                    "verify one bundle at a time (live contract calls)",
                    num(rates["verify"]["bundles"]),
                    num(rates["verify"]["seconds"], 2),
                    num(rates["verify"]["perSecond"], 0),
                ],
                [
                    f"audit of {rates['audit']['office']}'s folder with bundles",
                    num(rates["audit"]["records"]),
                    num(rates["audit"]["seconds"], 2),
                    num(rates["audit"]["perSecond"], 0),
                ],
            ],
        )
    )
    parts.append("</section>")
    return "".join(parts)


def privacy(report: dict[str, Any]) -> str:
    """What sealed records disclose (nothing, it must be) and whether their reveals verify."""
    pv = report["privacy"]
    return (
        '<section id="privacy"><h2>Privacy (sealed records)</h2>'
        + table(
            ["check", "result"],
            [
                ["sealed records", num(pv["sealedRecords"])],
                ["manifest entries show only office + commitment", num(pv["manifestShapeOnlyOfficeAndCommitment"])],
                [
                    "records whose id, number or content hash is visible in a manifest or on chain",
                    num(pv["recordsWithDisclosure"]),
                ],
                [
                    "reveals checked (a sample per office) / VERIFIED",
                    f"{num(pv['revealsChecked'])} / {num(pv['revealsVerified'])}",
                ],
                ["reveal with a wrong salt rejected", num(pv["wrongSaltRejected"])],
                ["sealed bundle without reveal not VERIFIED", num(pv["withoutRevealNotVerified"])],
            ],
        )
        + f'<p class="note">Searched: {_e(pv["searched"])}.</p></section>'
    )


def interoperability(report: dict[str, Any]) -> str:
    """Bundles accepted by the contract's view and by OpenZeppelin's verifier."""
    inter = report["interoperability"]
    return (
        '<section id="interoperability"><h2>Interoperability</h2>'
        + table(
            ["check", "accepted", "rejected", "seconds"],
            [
                [
                    "AnchorRegistry.verifyRecord (eth_call)",
                    num(inter["contractView"]["accepted"]),
                    num(inter["contractView"]["rejected"]),
                    num(inter["contractView"]["seconds"], 2),
                ],
                [
                    f"OpenZeppelin StandardMerkleTree.verify ({inter['openZeppelin']['package']})",
                    num(inter["openZeppelin"]["accepted"]),
                    num(inter["openZeppelin"]["rejected"]),
                    num(inter["openZeppelin"]["seconds"], 2),
                ],
            ],
        )
        + f"<p>{num(inter['bundles'])} bundles ({num(inter['sealedBundles'])} sealed); accepted by both: "
        f"{num(inter['both'])}.</p></section>"
    )


def verdicts(report: dict[str, Any]) -> str:
    """The verdict probes: expected against obtained."""
    v = report["verdicts"]
    return (
        '<section id="verdicts"><h2>Verdict table</h2>'
        + table(
            ["probe", "record", "expected", "obtained", "as expected", "reason"],
            [
                [r["probe"], r["recordId"], r["expected"], r["obtained"], "✓" if r["match"] else "✗", r["reason"]]
                for r in v["rows"]
            ],
            "verdicts",
        )
        + "</section>"
    )


def environment(report: dict[str, Any]) -> str:
    """Versions, machine and seconds per phase."""
    env = report["environment"]
    return (
        '<section id="environment"><h2>Versions and machine</h2>'
        + table(["component", "version"], [[k, v] for k, v in env.items()])
        + table(["phase", "seconds"], [[k, num(s, 2)] for k, s in report["phaseSeconds"].items()])
        + "</section>"
    )
