"""``report.json`` and a self-contained ``report.html``: the page's layout, the summary table, section order.

Plots are inlined as base64 PNG and every value is escaped (the building blocks are in :mod:`markup`, re-exported
here). Sections come from the topic modules, in the order :func:`render_html` appends them; the summary table
gathers the rows of :data:`SUMMARY_ROWS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from registry.evaluate import (  # the fair comparison and the consortium network (cmp)
    altreport,
    archive,
    compare,
    faults_report,
    govreport,
    network,
    report_sections,
    time_to_verify,
)
from registry.evaluate.markup import _e, image, money, num, seconds, table
from registry.files.atomic import write_atomic, write_json_atomic

__all__ = ["SUMMARY_HEAD", "SUMMARY_ROWS", "_e", "headline", "image", "money", "num", "render_html", "seconds",
           "table", "write_html", "write_json"]  # fmt: skip

#: A function giving summary rows ``[figure, measured, note]`` from the report.
SummaryRows = Callable[[dict[str, Any]], list[list[Any]]]
#: The summary table's columns.
SUMMARY_HEAD = ["figure", "measured", "note"]


def write_json(report: dict[str, Any], path: Path) -> None:
    """The machine-readable report (atomically)."""
    write_json_atomic(path, report)


def cost_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Summary rows: gas and fiat per record for a few batch sizes and for the per-record alternatives."""
    cost = report["cost"]
    cur = cost["currency"]
    at = f"at {cost['gasPriceGwei']:g} gwei, 1 ETH = {cost['ethPrice']:,g} {cur}"

    def per_record(gas: Any, fiat: Any) -> str:
        return f"{num(gas, 2 if gas < 100 else 0)} gas = {money(fiat, cur)} per record"

    by_size = {b["batchSize"]: b for b in cost["anchorBatch"]}
    rows: list[list[Any]] = []
    for size in report["summary"]["costBatchSizes"]:
        b = by_size[size]
        rows.append([f"anchorBatch, batches of {size:,}", per_record(b["gasPerRecord"], b["fiatPerRecord"]), at])
    for label, key in (("one transaction per record (this contract)", "oneTxPerRecord"), ("EAS attest", "easAttest")):
        rows.append([label, per_record(cost[key]["gasPerRecord"], cost[key]["fiatPerRecord"]), at])
    if cost["easMultiAttest"]:
        m = max(cost["easMultiAttest"], key=lambda x: x["batchSize"])
        rows.append([f"EAS multiAttest, {m['batchSize']} per transaction",
                     per_record(m["gasPerRecord"], m["fiatPerRecord"]), at])  # fmt: skip
    return rows


def check_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Summary rows: throughput, exactly-once, interoperability and verdict probes."""
    tp = report["throughput"]
    once = report["faults"]["exactlyOnce"]
    inter = report["interoperability"]
    probes = report["verdicts"]
    return [
        ["pipeline throughput", f"{num(tp['recordsPerSecond'], 0)} records/s",
         f"{tp['records']:,} records in batches of {tp['batchSize']:,}"],
        ["accepted records anchored exactly once", f"{once['anchoredExactlyOnce']:,} / {once['acceptedRecords']:,}",
         "ok" if once["ok"] else "NOT OK"],
        ["bundles accepted by contract view / OpenZeppelin",
         f"{inter['contractView']['accepted']:,} / {inter['openZeppelin']['accepted']:,} of {inter['bundles']:,}",
         "ok" if inter["both"] == inter["bundles"] else "NOT OK"],
        ["verdict probes as expected", f"{probes['matched']} / {probes['probes']}",
         "ok" if probes["matched"] == probes["probes"] else "NOT OK"],
    ]  # fmt: skip


#: The summary table's rows, in order: each function gives rows ``[figure, measured, note]`` (topic modules add theirs).
SUMMARY_ROWS: list[SummaryRows] = [
    cost_rows,
    compare.summary_rows,
    network.summary_rows,
    time_to_verify.summary_rows,
    check_rows,
    govreport.summary_rows,
    faults_report.summary_rows,
    altreport.summary_rows,
    archive.summary_rows,
]


def headline(report: dict[str, Any]) -> list[list[Any]]:
    """The summary rows of every provider in :data:`SUMMARY_ROWS` (also the command's terminal output)."""
    return [row for provider in SUMMARY_ROWS for row in provider(report)]


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;
color:#1b1f24;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.wide{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}td{overflow-wrap:break-word}td.long{overflow-wrap:anywhere;min-width:12rem}
td:not(:first-child){font-variant-numeric:tabular-nums}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #d0d7de}
figcaption{font-size:.85rem;color:#57606a;max-width:60rem}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.note{color:#57606a;font-size:.9rem}
nav{font-size:.9rem}nav a{white-space:nowrap}
code{background:#f6f8fa;padding:0 .2rem;overflow-wrap:anywhere}
"""


def _contents(parts: list[str]) -> str:
    """Links to every section (``<section id=…><h2>…</h2>``) of the page, in order."""
    found = re.findall(r'<section id="([^"]+)"><h2>(.*?)</h2>', "".join(parts))
    return "<nav>Sections: " + " · ".join(f'<a href="#{i}">{title}</a>' for i, title in found) + "</nav>"


def render_html(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """The whole report as one HTML document, summary first."""
    sc = report["scenario"]
    env = report["environment"]
    parts = [
        '<section id="summary"><h2>Summary</h2>',
        table(SUMMARY_HEAD, headline(report), "summary"),
    ]
    for note in report["notes"]:
        parts.append(f'<p class="note">{_e(note)}</p>')
    parts.append("</section>")
    parts.append(report_sections.cost(report, plots))
    parts.append(compare.section(report, plots))
    parts.append(network.section(report, plots))
    parts.append(time_to_verify.section(report, plots))
    parts.append(report_sections.throughput(report, plots))
    parts.append(govreport.section(report, plots))
    parts.append(_faults(report))
    parts.append(faults_report.section(report, plots))
    parts.append(archive.section(report, plots))
    parts.append(report_sections.privacy(report))
    parts.append(report_sections.interoperability(report))
    parts.append(report_sections.verdicts(report))
    parts.append(altreport.section(report, plots))
    parts.append(report_sections.environment(report))
    top = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e('IP Office Anchor Registry: evaluation ' + sc['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>IP Office Anchor Registry — evaluation “{_e(sc['name'])}”</h1>",
        f'<p class="note">{_e(sc["description"])}. Chain: {_e(env["chainKind"])} ({_e(env["chainClient"])}, chain id '
        f"{_e(env['chainId'])}); seed {_e(report['seed'])}; workload fingerprint "
        f"<code>{_e(report['workload']['fingerprint'][:18])}…</code>;"
        f" {_e(env['cpuCount'])} cores; run took {_e(num(report['seconds'], 1))} s on {_e(report['startedAt'])}.</p>",
    ]
    return "\n".join([*top, _contents(parts), *parts, "</body></html>"])


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
                ["node outage", "measured"],
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
                ["killed anchoring process", "measured"],
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
