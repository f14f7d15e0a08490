"""The HTML audit report: one self-contained page (summary, counts that add up, plots, rows needing attention)."""

from __future__ import annotations

import html
import itertools
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from registry.audit.report import MISSING, AuditReport
from registry.verify.verdict import SUPERSEDED, VERIFIED

#: Rows needing attention listed in the HTML report (all of them are in the JSON report).
HTML_ATTENTION_ROWS: Final = 10_000


_CSS: Final = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:80rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.banner{padding:.8rem 1rem;border-radius:6px;font-weight:600}
.ok{background:#e6f4ea;color:#0d5322}.fail{background:#fdecea;color:#8a1c14}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border-bottom:1px solid #d8dee4;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,monospace;font-size:13px}
table.summary th{width:14rem}
.scroll{overflow-x:auto}
table.rows{width:100%}
table.rows td.record{white-space:nowrap;min-width:11rem}
table.rows td.file{min-width:10rem;max-width:16rem;overflow-wrap:anywhere}
table.rows td.reason{min-width:16rem;overflow-wrap:anywhere}
table.rows td.short{white-space:nowrap}
tr.total td{font-weight:600;border-top:2px solid #8c959f}
.status{font-weight:600;white-space:nowrap}
.note{color:#57606a;font-size:14px;max-width:60rem}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #d8dee4}
figcaption{color:#57606a;font-size:14px}
.plots{display:flex;flex-wrap:wrap;gap:1.5rem}
"""

#: Plot colours per status (attention in red shades, the rest grey).
_STATUS_COLOURS: Final = {VERIFIED: "#2da44e", MISSING: "#bf8700", SUPERSEDED: "#8c959f"}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: int) -> str:
    return f"{value:,}"


def _short(value: str | None, head: int = 10, tail: int = 6) -> str:
    """A long hex value shortened for a column (``0x1234abcd…9f3e2a``), in full in its title."""
    if value is None:
        return ""
    text = _e(value)
    if len(value) <= head + tail + 1:
        return text
    return f'<span title="{text}">{_e(value[:head])}…{_e(value[-tail:])}</span>'


def _file_cell(path: str | None) -> str:
    """The file's name, with its full path in the title."""
    if not path:
        return ""
    return f'<span title="{_e(path)}">{_e(os.path.basename(path) or path)}</span>'


def batches_over_time(report: AuditReport) -> list[tuple[str, int, str | None, int]]:
    """(root, block, anchored at, records of this audit in it) per batch, oldest first."""
    batches = report.rows.batches  # counted as the rows arrived
    return sorted(((str(b[0]), int(b[1]), b[2], int(b[3])) for b in batches.values()), key=lambda b: (b[1], b[0]))


def _png(fig: Any) -> str:
    import base64
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def time_window(times: list[datetime], least: timedelta = timedelta(minutes=10)) -> tuple[datetime, datetime]:
    """The x range of a time plot: the times' span, widened to ``least`` around them (one batch: not years)."""
    first, last = min(times), max(times)
    pad = max(least - (last - first), timedelta(0)) / 2
    return first - pad, last + pad


def plot_batches(report: AuditReport) -> str | None:
    """PNG (base64) of the records per batch over time, or None if no row names a batch."""
    batches = batches_over_time(report)
    if not batches:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.add_subplot()
    timed = [b for b in batches if b[2]]
    if len(timed) == len(batches):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        xs: list[Any] = [datetime.strptime(str(b[2]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for b in batches]
        locator = AutoDateLocator(maxticks=6)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        ax.set_xlabel("anchored at (UTC)")
        ax.set_xlim(*time_window(xs))  # type: ignore[arg-type]
    else:
        xs = [b[1] for b in batches]
        ax.set_xlabel("block")
    counts = [b[3] for b in batches]
    ax.stem(xs, counts, basefmt=" ")
    ax.set_ylabel("records in this audit")
    ax.set_ylim(0, max(counts) * 1.15 + 1)
    ax.set_title(f"Records per batch over time ({len(batches)} batches)")
    import warnings

    with warnings.catch_warnings():  # a span of seconds makes the date locator warn; its ticks are fine
        warnings.simplefilter("ignore", UserWarning)
        return _png(fig)


def plot_verdicts(report: AuditReport) -> str | None:
    """PNG (base64) of rows per status (and the unexpected overlap), or None if there are no rows."""
    counts = report.status_counts
    if not counts:
        return None
    from matplotlib.figure import Figure

    labels = sorted(counts, key=lambda k: (k != VERIFIED, -counts[k], k))
    values = [counts[k] for k in labels]
    colours = [_STATUS_COLOURS.get(k, "#cf222e") for k in labels]
    if report.unexpected:
        labels.append("UNEXPECTED (overlap)")
        values.append(report.unexpected)
        colours.append("#8250df")
    fig = Figure(figsize=(6.4, 0.5 * len(labels) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.barh(labels[::-1], values[::-1], color=colours[::-1])
    ax.bar_label(bars, labels=[_n(v) for v in values[::-1]], padding=3)
    ax.set_xlim(0, max(values) * 1.2 + 1)
    ax.set_xlabel("rows")
    ax.set_title("Verdicts")
    return _png(fig)


def _counts_table(report: AuditReport) -> list[str]:
    """Rows per status with their total, the unexpected overlap, and how the figures add up."""
    counts = report.status_counts
    unexpected_by_status = report.rows.unexpected_by_status
    missing = counts.get(MISSING, 0)
    parts = [
        '<table><tr><th>Status</th><th class="num">Rows</th><th class="num">of which not expected</th></tr>',
        *(
            f'<tr><td class="status">{_e(k)}</td><td class="num">{_n(v)}</td>'
            f'<td class="num">{_n(unexpected_by_status.get(k, 0))}</td></tr>'
            for k, v in sorted(counts.items(), key=lambda kv: (kv[0] != VERIFIED, kv[0]))
        ),
        f'<tr class="total"><td>Total</td><td class="num">{_n(len(report.rows))}</td>'
        f'<td class="num">{_n(report.unexpected)}</td></tr>',
        "</table>",
    ]
    note = (
        f"The {_n(len(report.rows))} rows are the {_n(report.records)} records audited"
        f" and {_n(missing)} expected records not found (MISSING); each row has exactly one status."
    )
    if report.expected_count is not None:
        note += (
            f" Expected list: {_n(report.expected_count)} entries, {_n(report.expected_count - missing)} found."
            f" {_n(report.unexpected)} record(s) are not on it (UNEXPECTED): they overlap the statuses above,"
            " counted under their own status as well, not in addition."
        )
    parts.append(f'<p class="note">{_e(note)}</p>')
    return parts


def render_html(report: AuditReport, limit: int = HTML_ATTENTION_ROWS) -> str:
    """A self-contained HTML report: summary, counts that add up, plots, then the rows that need attention.

    Everything taken from the report is escaped; the plots are PNGs embedded as ``data:`` URIs, so the
    page loads nothing from anywhere. At most ``limit`` rows needing attention are listed (a line
    says how many more the JSON report holds), so the page stays a page at a million records.
    """
    s = report.summary()
    attention = report.attention_count
    if report.ok:
        banner = f"Passed: all {_n(report.records)} records verified, nothing missing."
    else:
        banner = f"Attention: {_n(attention)} of {_n(len(report.rows))} rows need a look."
    facts: Iterable[tuple[str, object]] = (
        ("Office", report.office),
        ("Source", report.source),
        ("Chain id", report.chain_id),
        ("Registry", report.registry),
        ("State at block", report.block_number),
        ("Audited at", report.started_at),
        ("Records audited", _n(report.records)),
        ("Expected", _n(report.expected_count) if report.expected_count is not None else "-"),
        ("Duration", f"{report.seconds:.2f} s"),
        ("Records per second", s["recordsPerSecond"]),
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Audit of {_e(report.office)} publications</title><style>{_CSS}</style></head><body>",
        f"<h1>Audit of {_e(report.office)} publications</h1>",
        f'<p class="banner {"ok" if report.ok else "fail"}">{_e(banner)}</p>',
        '<h2>Summary</h2><table class="summary">',
        *(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts),
        "</table>",
        "<h2>Records by status</h2>",
        *_counts_table(report),
    ]
    plots = [
        (plot_batches(report), "Records per batch over time",
         "Each stem is one batch: when it was anchored and how many of this audit's records it holds."),
        (plot_verdicts(report), "Verdicts", "Rows per status; UNEXPECTED overlaps the statuses."),
    ]  # fmt: skip
    shown = [(png, title, caption) for png, title, caption in plots if png is not None]
    if shown:
        parts.append('<h2>Over time</h2><div class="plots">')
        for png, title, caption in shown:
            parts.append(
                f'<figure><img alt="{_e(title)}" src="data:image/png;base64,{png}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
        parts.append("</div>")
    parts.append(f"<h2>Rows that need attention ({_n(attention)})</h2>")
    if not attention:
        parts.append("<p>None.</p>")
    else:
        parts.append(
            '<div class="scroll"><table class="rows"><tr><th>Status</th><th>Record</th><th>File</th>'
            "<th>Reason</th><th>Superseded by</th><th>Block</th><th>Transaction</th></tr>"
        )
        for r in itertools.islice(report.attention, limit):
            status = r.status + (" (unexpected)" if r.expected is False else "")
            parts.append(
                f'<tr><td class="status">{_e(status)}</td><td class="record mono">{_e(r.record_id)}</td>'
                f'<td class="file mono">{_file_cell(r.file)}</td><td class="reason">{_e(r.reason)}</td>'
                f'<td class="short mono">{_short(r.superseded_by, 24, 6)}</td><td class="num">{_e(r.block_number)}</td>'
                f'<td class="short mono">{_short(r.transaction_hash)}</td></tr>'
            )
        parts.append("</table></div>")
        if attention > limit:
            parts.append(
                f'<p class="note">{_e(f"… and {_n(attention - limit)} more rows needing attention:")}'
                " they are all in the JSON report (<code>--json-report</code>).</p>"
            )
    parts.append("</body></html>\n")
    return "\n".join(parts)
