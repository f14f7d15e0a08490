"""The report's plots, rendered to PNG with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
    ax.set_title(
        f"Cost per record (gas; {cost['gasPriceGwei']:g} gwei, 1 ETH = {cost['ethPrice']:g} {cost['currency']})"
    )
    ax.grid(True, which="both", alpha=0.3)
    secondary = ax.secondary_yaxis(
        "right",
        functions=(
            lambda g: g * cost["gasPriceGwei"] * 1e-9 * cost["ethPrice"],
            lambda f: f / max(cost["gasPriceGwei"] * 1e-9 * cost["ethPrice"], 1e-30),
        ),
    )
    secondary.set_ylabel(f"{cost['currency']} per record")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latency_plot(latency: dict[str, Any], path: Path) -> Path:
    """Distribution of submission -> anchored and -> N confirmations (per record)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    anchored = [s["anchoredSeconds"] for s in latency["samples"] for _ in range(s["records"])]
    confirmed = [s["confirmedSeconds"] for s in latency["samples"] for _ in range(s["records"])]
    top = max([*anchored, *confirmed, 0.1])
    bins = [top * i / 30 for i in range(31)]
    ax.hist(anchored, bins=bins, alpha=0.7, label="submission → anchored (receipt)")
    ax.hist(confirmed, bins=bins, alpha=0.6, label=f"submission → {latency['confirmations']} confirmations")
    for value, style in ((latency["anchored"]["p50"], "-"), (latency["anchored"]["p95"], "--")):
        if value is not None:
            ax.axvline(value, color="tab:blue", linestyle=style, linewidth=1)
    block = f"block time {latency['blockTime']:g} s" if latency["intervalMining"] else "one block per transaction"
    ax.set_title(f"Anchoring latency ({block}; lines: anchored p50, p95)")
    ax.set_xlabel("seconds")
    ax.set_ylabel("records")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
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
    ax.set_title(f"Chain growth per year ({cost['growth']['recordsPerYear']:,} records)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def throughput_plot(throughput: dict[str, Any], path: Path) -> Path:
    """Where the pipeline's time goes (seconds per phase)."""
    plt = _pyplot()
    phases = {k: v for k, v in throughput["phaseSeconds"].items() if k != "write"}
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=110)
    ax.barh(list(phases), list(phases.values()), color="tab:green")
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    rate = throughput["recordsPerSecond"] or 0
    ax.set_title(f"Pipeline: {throughput['records']:,} records, {rate:,.0f} records/s")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
