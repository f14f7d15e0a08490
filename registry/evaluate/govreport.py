"""The governance section of the report: the time-axis plot, narrow tables, and the summary rows.

Reads ``report["governance"]``: the scenario's events (:func:`registry.evaluate.governance.timeline`) and,
under ``practice``, the story on scaled days (:func:`registry.evaluate.govstory.measure`). Every table
has short columns; long text goes into lists below a table, so the section fits a 1280 px page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.evaluate import markup as rep
from registry.evaluate.plots import _pyplot

VERDICT_COLOURS = {
    "none": "#eaeef2",
    "VERIFIED": "#2da44e",
    "UNAUTHORISED": "#cf222e",
    "SUPERSEDED": "#bf8700",
    "REVOKED": "#fb8f44",
    "TAMPERED": "#8250df",
    "UNKNOWN": "#8c959f",
    "MISMATCH": "#57606a",
}
STATE_COLOURS = {
    "active": "#2da44e",
    "active (successor)": "#1a7f37",
    "suspended": "#d4a72c",
    "key lost": "#fb8f44",
    "captured": "#cf222e",
    "not admitted": "#eaeef2",
    "none": "#eaeef2",
}
OUTCOME_MARKS = {
    "executed": ("*", "#1a7f37"),
    "expired": ("X", "#cf222e"),
    "cancelled": ("s", "#57606a"),
    "pending": ("o", "#8c959f"),
}


def _bands(ax: Any, y: int, series: list[dict[str, Any]], key: str, colours: dict[str, str], end: float) -> None:
    """Horizontal colour bands for one row: each sample's value holds until the next change."""
    runs: list[tuple[float, str]] = []
    for point in series:
        if not runs or runs[-1][1] != point[key]:
            runs.append((point["day"], point[key]))
    for i, (start, value) in enumerate(runs):
        stop = runs[i + 1][0] if i + 1 < len(runs) else end
        ax.barh(y, max(stop - start, 0.05), left=start, height=0.62, color=colours.get(value, "#d0d7de"))


def plot(governance: dict[str, Any], path: Path) -> Path:
    """Per probe record its verdict over scaled days, the proposals' lives, and each office's power to act."""
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    g = governance["practice"]
    probes, proposals, actors = g["probes"], g["proposals"], g["actors"]
    end = g["scale"]["days"]
    heights = [len(probes), len(proposals) * 0.8, len(actors)]
    fig, axes = plt.subplots(
        3, 1, sharex=True, figsize=(9.6, 0.34 * sum(heights) + 2.6), dpi=110, gridspec_kw={"height_ratios": heights}
    )
    top, mid, low = axes
    for i, p in enumerate(probes):
        _bands(top, i, p["series"], "verdict", VERDICT_COLOURS, end)
    names = [p["name"] + ("" if p["final"] == p["expected"] else f" (expected {p['expected']})") for p in probes]
    top.set_yticks(range(len(probes)), names, fontsize=7.5)
    for label, p in zip(top.get_yticklabels(), probes, strict=True):
        if p["final"] != p["expected"]:
            label.set_color("#cf222e")
    top.set_title(
        "Verdicts of probe records (auditor pinned on the first registry), proposals, and who could act",
        fontsize=9.5,
        pad=16,
    )
    seen = sorted({s["verdict"] for p in probes for s in p["series"]})
    top.legend(
        handles=[Patch(color=VERDICT_COLOURS.get(v, "#d0d7de"), label=v) for v in seen],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
        frameon=False,
    )
    for i, p in enumerate(proposals):
        mid.plot([p["createdDay"], p["expiresDay"]], [i, i], color="#afb8c1", linewidth=5, solid_capstyle="butt")
        for a in p["approvals"]:
            ok = a["outcome"] == "ok"
            mid.plot(a["day"], i, "o" if ok else "x", color="#0969da" if ok else "#cf222e", markersize=4)
        marker, colour = OUTCOME_MARKS.get(p["outcome"], ("o", "#8c959f"))
        if p["outcomeDay"] is not None:
            mid.plot(p["outcomeDay"], i, marker, color=colour, markersize=9)
    mid.set_yticks(
        range(len(proposals)), [f"#{p['id']} {p['action']} {p['office'] or ''}" for p in proposals], fontsize=7.5
    )
    marks = [
        Line2D([], [], color="#afb8c1", linewidth=5, label="life (to expiry)"),
        Line2D([], [], marker="o", linestyle="", color="#0969da", label="approval"),
        Line2D([], [], marker="x", linestyle="", color="#cf222e", label="refused approval"),
        *(
            Line2D([], [], marker=m, linestyle="", color=c, markersize=8, label=k)
            for k, (m, c) in OUTCOME_MARKS.items()
            if k != "pending"
        ),
    ]
    mid.legend(handles=marks, fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    for i, a in enumerate(actors):
        _bands(low, i, a["series"], "state", STATE_COLOURS, end)
    low.set_yticks(range(len(actors)), [a["office"] for a in actors], fontsize=7.5)
    states = sorted({s["state"] for a in actors for s in a["series"]})
    low.legend(
        handles=[Patch(color=STATE_COLOURS.get(s, "#d0d7de"), label=s) for s in states],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
        frameon=False,
    )
    for ax in axes:
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
        for ch in g["chapters"]:
            ax.axvline(ch["day"], color="#57606a", linewidth=0.6, linestyle="--")
    for ch in g["chapters"]:
        if ch["key"] != "setup":
            top.text(
                ch["day"] + 0.2,
                1.01,
                ch["key"],
                transform=top.get_xaxis_transform(),
                fontsize=8.5,
                fontweight="bold",
                va="bottom",
            )
    low.set_xlabel(f"day (time scaled: {g['scale']['blocksPerDay']} blocks per day; chapters A-D, see the table)")
    low.set_xlim(-0.5, end + 0.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def events_plot(governance: dict[str, Any], path: Path) -> Path:
    """The scenario's events on the run's registry, on the wall-clock seconds they took: the verdict of an
    earlier record of the event's office, and each office's status (when the scaled story did not run)."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    events = governance["events"]
    end = 1.05 * max((e["endedSeconds"] for e in events), default=1.0)
    fig, (top, low) = plt.subplots(2, 1, sharex=True, figsize=(9.6, 0.34 * (2 * len(events) + 5) + 2), dpi=110)
    for i, e in enumerate(events):
        series = [{"day": 0.0, "v": e.get("verdictBefore") or "none"}]
        series.append({"day": e["endedSeconds"], "v": e.get("verdictAfter") or "none"})
        _bands(top, i, series, "v", VERDICT_COLOURS, end)
        top.barh(
            i,
            max(e["endedSeconds"] - e["startedSeconds"], 0.02),
            left=e["startedSeconds"],
            height=0.8,
            fill=False,
            edgecolor="#1b1f24",
            linewidth=1.0,
        )  # the event's own transactions
    top.set_yticks(range(len(events)), [f"{e['office']} record ({e['event']})" for e in events], fontsize=7.5)
    top.set_title("The scenario's governance events: verdict of an earlier record, and who could act", fontsize=9.5)
    offices = [*governance.get("genesis", []), *(e["office"] for e in events if e["event"] == "admit")]
    for i, code in enumerate(offices):
        state = "not admitted" if code not in governance.get("genesis", []) else "active"
        series = [{"day": 0.0, "state": state}]
        for e in events:
            if e["office"] == code and e["event"] in ("admit", "suspend"):
                series.append({"day": e["endedSeconds"], "state": "active" if e["event"] == "admit" else "suspended"})
        _bands(low, i, series, "state", STATE_COLOURS, end)
    low.set_yticks(range(len(offices)), offices, fontsize=7.5)
    verdicts = {e.get(k) or "none" for e in events for k in ("verdictBefore", "verdictAfter")}
    for ax, colours, used in ((top, VERDICT_COLOURS, verdicts), (low, STATE_COLOURS, {"active", "suspended"})):
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(
            handles=[Patch(color=colours[k], label=k) for k in sorted(used) if k in colours],
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.005, 1.0),
            frameon=False,
        )
    low.set_xlabel("seconds since the first event (wall clock of this run; outlined: the event's transactions)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _day(value: Any) -> str:
    return "" if value is None else f"d{float(value):.1f}"


def _practice(g: dict[str, Any], plots: dict[str, Path]) -> list[str]:
    s, rule = g["scale"], g["rule"]
    out = [
        "<h3>Governance in practice (scaled days)</h3>",
        f"<p>A registry of its own on the run's chain ({rep._e(g['registry'][:12])}…), the five genesis offices, "
        f"rule: more than {rule['numerator']}/{rule['denominator']} of the active offices, at least "
        f"{rule['minApprovals']}, never all of them. Time is scaled: {s['blocksPerDay']} blocks per modelled day, "
        f"so a proposal lives {s['ttlBlocks']} blocks = {rep.num(float(s['ttlDays']), 1)} days (the dev rule's "
        f"50,400 blocks are 7 days of 12 s blocks); every act below is a transaction of the run or the contract's "
        f"refusal. {rep.num(len(g['acts']))} acts over {rep.num(float(s['days']), 1)} days, "
        f"{rep.num(g['actsAsExpected'])} with the outcome the contract's rules predict.</p>",
    ]
    if "governance" in plots:
        out.append(rep.image(plots["governance"], "Verdicts, proposals and power to act over scaled days"))
    out.append(
        rep.table(["chapter", "from", "what happens"], [[c["key"], _day(c["day"]), c["title"]] for c in g["chapters"]])
    )
    rows = []
    for p in g["proposals"]:
        approvals = ", ".join(
            f"{a['office']} {_day(a['day'])}" + ("" if a["outcome"] == "ok" else f" ({a['outcome']})")
            for a in p["approvals"]
        )
        rows.append(
            [
                f"#{p['id']}",
                f"{p['action']} {p['office'] or ''}",
                approvals,
                _day(p["expiresDay"]),
                f"{p['outcome']} {_day(p['outcomeDay'])}",
            ]
        )
    out.append(rep.table(["#", "proposal", "approvals (day)", "expires", "outcome"], rows, "governance"))
    c = g["collusion"]
    out.append(f"<h4>A colluding majority ({', '.join(c['colluders'])}) against {c['victim']}</h4>")
    out.append(
        rep.table(
            ["day", "the majority tries to", "outcome", "guarantee"],
            [
                [
                    _day(a["day"]),
                    a["attempt"],
                    a["outcome"],
                    "held" if a["guaranteeHeld"] else "by design" if a["guaranteeHeld"] is None else "BROKEN",
                ]
                for a in c["attempts"]
            ],
        )
    )
    mons = c["monitors"]
    out.append(
        rep.table(
            ["monitor", "findings", "alerts", "first finding", "first alert"],
            [
                [
                    f"{k} ({m['office']})",
                    rep.num(m["findings"]),
                    rep.num(m["alerts"]),
                    _day(m.get("firstFindingDay")) or "none",
                    _day(m["firstAlertDay"]) or "none",
                ]
                for k, m in mons.items()
            ],
        )
    )
    kinds = "; ".join(
        f"{k}: " + ", ".join(f"{n} x {kind}" for kind, n in m["kinds"].items()) for k, m in mons.items() if m["kinds"]
    )
    out.append(f'<p class="note">What each monitor reported over the chapter: {rep._e(kinds or "nothing")}.</p>')
    out.append("<h4>Probe records at the end (auditor pinned on the first registry / on the successor)</h4>")
    out.append(
        rep.table(
            ["record", "expected", "first", "successor"],
            [[p["name"], p["expected"], p["final"], p["finalSuccessor"] or "n/a"] for p in g["probes"]],
        )
    )
    for text in [*g["verdictFindings"], *(f"guarantee broken: {b}" for b in g["guaranteesBroken"])]:
        out.append(f'<p class="bad">{rep._e(text)}</p>')
    out.append("<details><summary>Every act, with its day and outcome</summary>")
    out.append(
        rep.table(
            ["day", "by", "act", "outcome"], [[_day(a["day"]), a["by"], a["act"], a["outcome"]] for a in g["acts"]]
        )
    )
    out.append("</details>")
    return out


def _events(gov: dict[str, Any], plots: dict[str, Path]) -> list[str]:
    out = ["<h3>The scenario's governance events (the run's registry)</h3>"]
    rows, notes = [], []
    for i, e in enumerate(gov["events"]):
        rows.append(
            [
                i + 1,
                f"{e['event']} {e['office']}",
                rep.num(e.get("transactions")),
                rep.num(e.get("blocks")),
                rep.num(e.get("seconds"), 2),
                f"{e.get('verdictBefore') or '-'} → {e.get('verdictAfter') or '-'}",
            ]
        )
        notes.append(f"{e.get('approvals') or ''}; {e.get('note') or ''}".strip("; "))
    out.append(rep.table(["#", "event", "tx", "blocks", "s", "earlier record"], rows, "governance"))
    if not gov.get("practice") and "governance" in plots:
        out.append(rep.image(plots["governance"], "The scenario's governance events on the seconds they took"))
    out.append('<ol class="note">' + "".join(f"<li>{rep._e(n)}</li>" for n in notes) + "</ol>")
    return out


def section(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """The governance ``<section>``: the story on scaled days, then the scenario's events."""
    gov = report["governance"]
    out = ['<section id="governance"><h2>Governance</h2>']
    if gov.get("practice"):
        out += _practice(gov["practice"], plots)
    if gov["events"]:
        out += _events(gov, plots)
    elif not gov.get("practice"):
        out.append("<p>No governance events in this scenario.</p>")
    if gov.get("rule"):
        out.append(
            f"<p>Rule in force on the run's registry: {rep._e(gov['rule'])}. At the end of the run "
            f"{rep._e(gov['requiredNow'])} approvals of {rep._e(gov['activeNow'])} active offices are needed.</p>"
        )
    for note in gov.get("notes", []):
        out.append(f'<p class="note">{rep._e(note)}</p>')
    out.append("</section>")
    return "".join(out)


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One line each: proposals' outcomes, what a colluding majority could do, verdicts that were wrong."""
    g = report["governance"].get("practice")
    if not g:
        return []
    outcomes: dict[str, int] = {}
    for p in g["proposals"]:
        outcomes[p["outcome"]] = outcomes.get(p["outcome"], 0) + 1
    c = g["collusion"]
    held = sum(1 for a in c["attempts"] if a["guaranteeHeld"])
    return [
        [
            "governance proposals (scaled days)",
            ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())),
            f"live {g['scale']['ttlBlocks']} blocks = {g['scale']['ttlDays']:g} days",
        ],
        [
            f"colluding majority vs {c['victim']}",
            f"{held} of {len(c['attempts'])} attempts refused",
            "; ".join(g["guaranteesBroken"]) or "none got through",
        ],
        [
            "probe verdicts not as expected (governance)",
            str(len(g["verdictFindings"])),
            "; ".join(g["verdictFindings"])[:160],
        ],
    ]
