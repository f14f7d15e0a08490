"""The report's plots, rendered to PNG with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.evaluate.cost import fiat_at


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(value: float, _pos: object = None) -> str:
    """A log axis's tick as people write it: 1, 10, 1,000, 0.01 (not 10^3)."""
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _bytes(value: float, _pos: object = None) -> str:
    """A byte count's tick: 100 kB, 10 MB, 1 GB."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:,.0f} {unit}"
    return f"{value:,.0f} B"


def cost_plot(cost: dict[str, Any], path: Path) -> Path:
    """Gas and fiat per record against batch size (log-log), with the alternatives as reference lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    sizes = [b["batchSize"] for b in cost["anchorBatch"]]
    ax.plot(sizes, [b["gasPerRecord"] for b in cost["anchorBatch"]], "o-", label="anchorBatch (this project)")
    if cost["easMultiAttest"]:
        ax.plot(
            [m["batchSize"] for m in cost["easMultiAttest"]],
            [m["gasPerRecord"] for m in cost["easMultiAttest"]],
            "s-",
            label="EAS multiAttest",
        )
    ax.axhline(cost["easAttest"]["gasPerRecord"], color="tab:red", linestyle="--", label="EAS attest (1 per tx)")
    ax.axhline(
        cost["oneTxPerRecord"]["gasPerRecord"], color="tab:gray", linestyle=":", label="one transaction per record"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("records per batch")
    ax.set_ylabel("gas per record")
    ax.xaxis.set_major_formatter(_plain)
    ax.yaxis.set_major_formatter(_plain)
    ax.set_title(
        f"Cost per record (gas; {cost['gasPriceGwei']:g} gwei, 1 ETH = {cost['ethPrice']:g} {cost['currency']})"
    )
    ax.grid(True, which="both", alpha=0.3)
    secondary = ax.secondary_yaxis(
        "right",
        functions=(
            lambda g: fiat_at(g, cost["gasPriceGwei"], cost["ethPrice"]),
            lambda f: f / max(fiat_at(1.0, cost["gasPriceGwei"], cost["ethPrice"]), 1e-30),
        ),
    )
    secondary.set_ylabel(f"{cost['currency']} per record")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


#: Tick marks of a log time axis, in seconds, with names people read.
_TIME_TICKS = [(1e-3, "1 ms"), (1e-2, "10 ms"), (0.1, "100 ms"), (1.0, "1 s"), (10.0, "10 s"), (60.0, "1 min"),
               (600.0, "10 min"), (3600.0, "1 h"), (86400.0, "1 day"), (604800.0, "1 week")]  # fmt: skip


def _duration_axis(values: list[float]) -> tuple[float, str]:
    """A divisor and unit name for durations up to ``max(values)``: s, min or h."""
    top = max(values, default=0.0)
    return (3600.0, "hours") if top >= 3 * 3600 else (60.0, "minutes") if top >= 120 else (1.0, "seconds")


def latency_plot(latency: dict[str, Any], path: Path) -> Path:
    """Time until verifiable: each stage's percentiles (own unit) and the end-to-end share of records over time."""
    from registry.evaluate.time_to_verify import PERCENTILES, STAGES

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5), dpi=110, gridspec_kw={"width_ratios": [1.35, 1]})
    n = latency["confirmations"]
    rows = [(latency["stages"][k], label.replace("N confirmations", f"{n} confirmations")) for k, label in STAGES]
    rows += [
        (latency["afterClose"], f"batch closes → verdict, {n} confirmations"),
        (latency["endToEnd"], f"end to end, {n} confirmations"),
        (latency["endToEndQbft"], "end to end, QBFT"),
    ]
    floor = 1e-3  # a log axis: zero (QBFT finality) is drawn at 1 ms and labelled
    markers = {"p50": ("o", "tab:blue"), "p90": ("s", "tab:orange"), "p99": ("D", "tab:red"), "max": ("x", "black")}
    for i, (d, _label) in enumerate(rows):
        if not d["count"] or d["max"] is None:
            continue
        left.plot([max(d["min"], floor), max(d["max"], floor)], [i, i], color="0.7", linewidth=2, zorder=1)
        for key, (marker, color) in markers.items():
            left.scatter(max(d[key], floor), i, marker=marker, color=color, zorder=2, s=28,
                         label=key if i == 0 else None)  # fmt: skip
        if d["max"] == 0:
            left.text(floor * 1.6, i, "0 s (by definition)", va="center", fontsize=7)
    left.set_yticks(range(len(rows)), [f"{label}\n(n = {d['count']:,} {d['unit']})" for d, label in rows], fontsize=7)
    left.invert_yaxis()
    left.set_xscale("log")
    ticks = [t for t in _TIME_TICKS if t[0] <= max(d["max"] or floor for d, _ in rows) * 3]
    left.set_xticks([t for t, _ in ticks], [name for _, name in ticks], fontsize=7)
    left.minorticks_off()
    left.set_xlabel("time (log scale; grey bar from min to max)")
    left.grid(True, axis="x", alpha=0.3)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4, frameon=False)
    left.set_title("Per stage", fontsize=10)

    scale, unit = _duration_axis([latency["endToEnd"]["max"] or 0.0])
    for key, label, style in (("endToEnd", f"{n} confirmations", "-"), ("endToEndQbft", "QBFT", "--")):
        quantiles = latency["quantiles"][key]  # p0 … p100
        if quantiles:
            right.plot([v / scale for v in quantiles], [q / 100 for q in range(len(quantiles))], linestyle=style,
                       label=label)  # fmt: skip
    for q in PERCENTILES:
        right.axhline(q / 100, color="0.8", linewidth=0.8)
        right.text(0.01, q / 100, f"p{q}", fontsize=7, va="top", color="0.4", transform=right.get_yaxis_transform())
    right.set_ylim(0, 1.02)
    right.set_xlim(left=0)
    right.set_xlabel(f"{unit} from publication to a verdict")
    right.set_ylabel("share of records verifiable")
    right.grid(True, alpha=0.3)
    curve, qbft = latency["quantiles"]["endToEnd"], latency["quantiles"]["endToEndQbft"]
    same = bool(curve) and max(abs(a - b) for a, b in zip(curve, qbft, strict=True)) <= 0.01 * max(curve)
    right.legend(fontsize=8, loc="lower right", title="curves coincide: the batch wait dominates" if same else None,
                 title_fontsize=7)  # fmt: skip
    right.set_title(f"End to end ({latency['records']:,} records)", fontsize=10)
    where = f"{latency['blockTime']:g} s blocks" if latency["intervalMining"] else "blocks mined on demand"
    fig.suptitle(
        f"Time until an auditor can verify ({latency['arrival']} arrivals, batch every "
        f"{latency['batchIntervalSeconds'] / scale:g} {unit} or {latency['batchSize']:,} records; {where})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def growth_plot(cost: dict[str, Any], path: Path) -> Path:
    """Bytes added to the chain per year of the scenario's volume, per approach (log scale)."""
    plt = _pyplot()
    per_year = cost["growth"]["perYear"]
    names = {"anchorBatch": "anchorBatch", "oneTxPerRecord": "1 tx / record", "easAttest": "EAS attest",
             "easMultiAttest": "EAS multiAttest"}  # fmt: skip
    keys = [k for k in names if k in per_year]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    width = 0.27
    for i, (field, label) in enumerate((("stateBytes", "state"), ("logBytes", "logs"), ("calldataBytes", "calldata"))):
        values = [per_year[k][field] or 0 for k in keys]
        ax.bar([x + (i - 1) * width for x in range(len(keys))], values, width, label=label)
    ax.set_xticks(range(len(keys)), [names[k] for k in keys])
    ax.set_yscale("log")
    ax.set_ylabel("bytes per year")
    ax.yaxis.set_major_formatter(_bytes)
    ax.set_title(f"Chain growth per year ({cost['growth']['recordsPerYear']:,} records)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def throughput_plot(throughput: dict[str, Any], path: Path) -> Path:
    """Where the pipeline's time goes: seconds per phase, each labelled with what it does."""
    from registry.evaluate.report_sections import PHASE_LABELS

    plt = _pyplot()
    phases = {k: v for k, v in throughput["phaseSeconds"].items() if k != "write"}
    total = sum(phases.values()) or 1.0
    fig, ax = plt.subplots(figsize=(9, 3.4), dpi=110)
    labels = [f"{PHASE_LABELS.get(k, k)}\n({k})" for k in phases]
    bars = ax.barh(labels, list(phases.values()), color="tab:green")
    for bar, v in zip(bars, phases.values(), strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:,.2f} s ({v / total:.0%})",
                va="center", fontsize=8)  # fmt: skip
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("seconds, all offices")
    ax.set_xlim(0, max(phases.values(), default=1.0) * 1.25 or 1.0)
    rate = throughput["recordsPerSecond"] or 0
    ax.set_title(
        f"Pipeline: {throughput['records']:,} records in batches of {throughput['batchSize']:,}, {rate:,.0f} records/s",
        fontsize=10,
    )
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
