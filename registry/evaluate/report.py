"""``report.json`` and a self-contained ``report.html`` (plots inlined as base64 PNG, every value escaped)."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from registry.files.atomic import write_atomic, write_json_atomic


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 0) -> str:
    """A number for people: thousands separators, ``n/a`` for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if digits == 0 and abs(value) < 10:
            digits = 2
        return f"{value:,.{digits}f}"
    return str(value)


def money(value: Any, currency: str) -> str:
    """Fiat with enough digits to be meaningful for sub-cent figures."""
    if value is None:
        return "n/a"
    v = float(value)
    digits = 2 if v >= 1 else 4 if v >= 0.001 else 7
    return f"{v:,.{digits}f} {currency}"


def table(head: list[str], rows: list[list[Any]], cls: str = "") -> str:
    """An escaped HTML table."""
    out = [
        f'<table class="{_e(cls)}"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"
    ]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def image(path: Path, alt: str) -> str:
    """An inline PNG."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}"><figcaption>{_e(alt)}</figcaption></figure>'
    )


def write_json(report: dict[str, Any], path: Path) -> None:
    """The machine-readable report (atomically)."""
    write_json_atomic(path, report)


def headline(report: dict[str, Any]) -> list[list[Any]]:
    """The summary rows (also used by the command's terminal output)."""
    cost = report["cost"]
    cur = cost["currency"]
    rows: list[list[Any]] = []
    by_size = {b["batchSize"]: b for b in cost["anchorBatch"]}
    for size in report["summary"]["costBatchSizes"]:
        b = by_size[size]
        rows.append(
            [
                f"anchorBatch, batch of {size:,}",
                f"{num(b['gasPerRecord'], 2)} gas/record",
                money(b["fiatPerRecord"], cur) + " per record",
            ]
        )
    for label, key in (("one transaction per record (this contract)", "oneTxPerRecord"), ("EAS attest", "easAttest")):
        rows.append([label, f"{num(cost[key]['gasPerRecord'], 0)} gas/record", money(cost[key]["fiatPerRecord"], cur)])
    if cost["easMultiAttest"]:
        m = max(cost["easMultiAttest"], key=lambda x: x["batchSize"])
        rows.append(
            [
                f"EAS multiAttest, {m['batchSize']} per tx",
                f"{num(m['gasPerRecord'], 0)} gas/record",
                money(m["fiatPerRecord"], cur),
            ]
        )
    lat = report["latency"]
    where = f"at {lat['blockTime']:g} s blocks" if lat["intervalMining"] else "one block per transaction"
    rows.append(
        [
            f"latency submission → anchored ({where})",
            f"p50 {num(lat['anchored']['p50'], 2)} s, p95 {num(lat['anchored']['p95'], 2)} s",
            "",
        ]
    )
    rows.append(
        [
            f"latency → {lat['confirmations']} confirmations",
            f"p50 {num(lat['confirmed']['p50'], 2)} s, p95 {num(lat['confirmed']['p95'], 2)} s",
            "",
        ]
    )
    tp = report["throughput"]
    rows.append(["pipeline throughput", f"{num(tp['recordsPerSecond'], 0)} records/s", f"{tp['records']:,} records"])
    once = report["faults"]["exactlyOnce"]
    rows.append(
        [
            "accepted records anchored exactly once",
            f"{once['anchoredExactlyOnce']:,} / {once['acceptedRecords']:,}",
            "ok" if once["ok"] else "NOT OK",
        ]
    )
    inter = report["interoperability"]
    rows.append(
        [
            "bundles accepted by contract view / OpenZeppelin",
            f"{inter['contractView']['accepted']:,} / {inter['openZeppelin']['accepted']:,} of {inter['bundles']:,}",
            "",
        ]
    )
    probes = report["verdicts"]
    rows.append(["verdict probes as expected", f"{probes['matched']} / {probes['probes']}", ""])
    return rows


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:64rem;padding:0 1rem;
color:#1b1f24;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}td:not(:first-child){font-variant-numeric:tabular-nums}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #d0d7de}figcaption{font-size:.85rem;color:#57606a}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.note{color:#57606a;font-size:.9rem}
code{background:#f6f8fa;padding:0 .2rem}
"""


def render_html(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """The whole report as one HTML document, summary first."""
    sc = report["scenario"]
    cost = report["cost"]
    cur = cost["currency"]
    env = report["environment"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e('IP Office Anchor Registry: evaluation ' + sc['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>IP Office Anchor Registry — evaluation “{_e(sc['name'])}”</h1>",
        f'<p class="note">{_e(sc["description"])}. Chain: {_e(env["chainKind"])} ({_e(env["chainClient"])}, chain id '
        f"{_e(env['chainId'])}); seed {_e(report['seed'])}; workload fingerprint "
        f"<code>{_e(report['workload']['fingerprint'][:18])}…</code>;"
        f" {_e(env['cpuCount'])} cores; run took {_e(num(report['seconds'], 1))} s on {_e(report['startedAt'])}.</p>",
        '<section id="summary"><h2>Summary</h2>',
        table(["figure", "measured", ""], headline(report), "summary"),
    ]
    for note in report["notes"]:
        parts.append(f'<p class="note">{_e(note)}</p>')
    parts.append("</section>")

    # cost
    parts.append('<section id="cost"><h2>Cost</h2>')
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
    parts.append(image(plots["cost"], "Gas and fiat per record against batch size"))
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
                    labels[k],
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
    parts.append(image(plots["growth"], "Chain growth per year by approach"))
    parts.append("</section>")
    from registry.evaluate import compare, network  # they format with this module's helpers

    parts.append(compare.section(report, plots))
    parts.append(network.section(report, plots))

    # latency and throughput
    lat, tp, rates = report["latency"], report["throughput"], report["rates"]
    parts.append('<section id="latency"><h2>Latency and throughput</h2>')
    parts.append(
        table(
            ["interval", "p50 s", "p95 s", "mean s", "max s"],
            [
                [
                    "submission → anchored",
                    num(lat["anchored"]["p50"], 2),
                    num(lat["anchored"]["p95"], 2),
                    num(lat["anchored"]["mean"], 2),
                    num(lat["anchored"]["max"], 2),
                ],
                [
                    f"submission → {lat['confirmations']} confirmations",
                    num(lat["confirmed"]["p50"], 2),
                    num(lat["confirmed"]["p95"], 2),
                    num(lat["confirmed"]["mean"], 2),
                    num(lat["confirmed"]["max"], 2),
                ],
            ],
        )
    )
    parts.append(
        f"<p>{num(lat['records'])} records in {num(lat['batches'])} batches over {num(lat['rounds'])} rounds; "
        + (
            f"block time {lat['blockTime']:g} s (interval mining)."
            if lat["intervalMining"]
            else "the chain mines one block per transaction (no block time)."
        )
        + "</p>"
    )
    parts.append(image(plots["latency"], "Latency distribution"))
    parts.append(
        table(
            ["pipeline", "records", "batches", "seconds", "records/s"],
            [
                [o["office"], num(o["records"]), num(o["batches"]), num(o["seconds"], 2), num(o["recordsPerSecond"], 0)]
                for o in tp["offices"]
            ]
            + [["all", num(tp["records"]), num(tp["batches"]), num(tp["seconds"], 2), num(tp["recordsPerSecond"], 0)]],
        )
    )
    parts.append(image(plots["throughput"], "Pipeline time per phase"))
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

    parts.append(_governance(report, plots))
    parts.append(_faults(report))

    pv = report["privacy"]
    parts.append('<section id="privacy"><h2>Privacy (sealed records)</h2>')
    parts.append(
        table(
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
    )
    parts.append(f'<p class="note">Searched: {_e(pv["searched"])}.</p></section>')

    inter = report["interoperability"]
    parts.append('<section id="interoperability"><h2>Interoperability</h2>')
    parts.append(
        table(
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
    )
    parts.append(
        f"<p>{num(inter['bundles'])} bundles ({num(inter['sealedBundles'])} sealed); accepted by both: "
        f"{num(inter['both'])}.</p></section>"
    )

    v = report["verdicts"]
    parts.append('<section id="verdicts"><h2>Verdict table</h2>')
    parts.append(
        table(
            ["probe", "record", "expected", "obtained", "", "reason"],
            [
                [r["probe"], r["recordId"], r["expected"], r["obtained"], "✓" if r["match"] else "✗", r["reason"]]
                for r in v["rows"]
            ],
            "verdicts",
        )
    )
    parts.append("</section>")

    parts.append('<section id="environment"><h2>Versions and machine</h2>')
    parts.append(table(["component", "version"], [[k, v] for k, v in env.items()]))
    parts.append(table(["phase", "seconds"], [[k, num(s, 2)] for k, s in report["phaseSeconds"].items()]))
    parts.append("</section></body></html>")
    return "\n".join(parts)


def _governance(report: dict[str, Any], plots: dict[str, Path]) -> str:
    gov = report["governance"]
    out = ['<section id="governance"><h2>Governance</h2>']
    if not gov["events"]:
        out.append("<p>No governance events in this scenario.</p>")
    else:
        out.append(
            table(
                [
                    "#",
                    "event",
                    "office",
                    "approvals",
                    "transactions",
                    "blocks",
                    "seconds",
                    "verdict before",
                    "verdict after",
                    "note",
                ],
                [
                    [
                        i + 1,
                        e["event"],
                        e["office"],
                        e.get("approvals") or "",
                        num(e.get("transactions")),
                        num(e.get("blocks")),
                        num(e.get("seconds"), 2),
                        e.get("verdictBefore") or "",
                        e.get("verdictAfter") or "",
                        e.get("note") or "",
                    ]
                    for i, e in enumerate(gov["events"])
                ],
            )
        )
        if "governance" in plots:
            out.append(image(plots["governance"], "Governance timeline"))
    if gov.get("rule"):
        out.append(f"<p>Rule in force: {_e(gov['rule'])}. At the end of the run {_e(gov['requiredNow'])} approvals of "
                   f"{_e(gov['activeNow'])} active offices are needed.</p>")  # fmt: skip
    for note in gov.get("notes", []):
        out.append(f'<p class="note">{_e(note)}</p>')
    out.append("</section>")
    return "".join(out)


def _faults(report: dict[str, Any]) -> str:
    f = report["faults"]
    out = ['<section id="faults"><h2>Failure behaviour</h2>']
    o = f["nodeOutage"]
    if o is None:
        out.append("<p>No node outage in this scenario.</p>")
    elif not o["run"]:
        out.append(f"<p>Node outage: not run ({_e(o['why'])}).</p>")
    else:
        out.append(
            table(
                ["node outage", ""],
                [
                    ["office, records, batch size", f"{o['office']}, {num(o['records'])}, {num(o['batchSize'])}"],
                    ["node down for (s)", num(o["outageSeconds"], 2)],
                    ["anchoring runs needed", num(o["anchoringRuns"])],
                    [
                        "errors reported to the operator",
                        "; ".join(o["errorsSeen"]) or "none (retries bridged the outage)",
                    ],
                    ["recovery: node back → all anchored (s)", num(o["recoverySeconds"], 2)],
                    ["still pending afterwards", num(o["pendingAfter"])],
                ],
            )
        )
    k = f["killedAnchorer"]
    if k is None:
        out.append("<p>No killed anchoring process in this scenario.</p>")
    elif not k["run"]:
        out.append(f"<p>Killed anchoring process: not run ({_e(k['why'])}).</p>")
    else:
        out.append(
            table(
                ["killed anchoring process", ""],
                [
                    ["office, records, batch size", f"{k['office']}, {num(k['records'])}, {num(k['batchSize'])}"],
                    ["killed", f"{k['signal']} {k['killedAt']}, {num(k['killedAfterSeconds'], 2)} s after start"],
                    ["recovery: re-run of the same command (s)", num(k["recoverySeconds"], 2)],
                    ["records anchored by the re-run", num(k["rerunAnchored"])],
                ],
            )
        )
    e = f["exactlyOnce"]
    cls = "ok" if e["ok"] else "bad"
    out.append(
        f'<p class="{cls}">Exactly once: {num(e["anchoredExactlyOnce"])} of {num(e["acceptedRecords"])} accepted '
        f"records anchored exactly once; missing {num(e['missing'])}, duplicated {num(e['duplicated'])}, "
        f"unexpected {num(e['unexpected'])}, roots anchored twice {num(e['rootsAnchoredTwice'])}.</p>"
    )
    out.append(
        f'<p class="note">Counted from {_e(e["countedFrom"])}: {num(e["batchEvents"])} batch events, '
        f"{num(e['anchoredLeaves'])} anchored leaves ({num(e['pricingBatchEvents'])} priced batches of the cost "
        "phase counted apart).</p></section>"
    )
    return "".join(out)


def write_html(report: dict[str, Any], plots: dict[str, Path], path: Path) -> None:
    """Write ``report.html`` atomically."""
    write_atomic(path, render_html(report, plots).encode("utf-8"))


def dumps(report: dict[str, Any]) -> str:
    """JSON text of the report."""
    return json.dumps(report, indent=2)
