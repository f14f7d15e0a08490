"""Time until an auditor can verify a record: batch wait, inclusion, finality, verdict; per stage and end to end.

Records arrive over scenario time (a Poisson process at each office's weekly volume, or all at once:
``[latency] arrival``); an office's records wait for its batch to fill (``[pipeline] batch_size``) or for the
anchoring interval to end (``[pipeline] batch_interval_seconds``, ``ipreg anchor`` from cron). Time is scaled:
each round is one interval of scenario time, and the wait of every record is computed from its arrival time
and its batch's closing time (the formula is in the report); then the batches of the round go to the chain at
once, in real time, and the chain stages are measured: inclusion (tree, manifest, transaction until its
receipt), finality (receipt until ``[chain] confirmations`` blocks at the scenario's block time, by anvil's
interval mining) and the verdict (the verifier on the batch's bundles, live contract calls, after finality).
QBFT's immediate finality (a block is final when it is included) is computed from the same measurements:
finality 0, labelled so.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED
from registry.evaluate.context import Run, derived_seed
from registry.evaluate.markup import _e, image, num, seconds, table
from registry.evaluate.pipeline import anchorer_for, percentile
from registry.evaluate.scenario import Scenario
from registry.evaluate.workload import Batchload, office_records
from registry.files.ingest import prepare_files
from registry.store.outbox import Store
from registry.verify.verdicts import verify_bundle

#: Seconds in a week: the scenario's volumes are per week.
WEEK = 604_800.0
#: Percentiles of every distribution, in the report's order.
PERCENTILES = (50, 90, 99)
#: Bundles verified per batch (published records, the verifier with live contract calls).
VERIFY_PER_BATCH = 3


@dataclass(frozen=True, slots=True)
class Arrivals:
    """One office's records of one round, and when each arrived (scenario seconds from the round's start).

    ``times[i]`` belongs to the i-th record of ``load`` (published first, then sealed).
    """

    load: Batchload
    times: tuple[float, ...]


def poisson_times(rate: float, horizon: float, seed: int) -> list[float]:
    """Arrival times of a Poisson process of ``rate`` per second on ``[0, horizon)`` (exponential gaps), sorted."""
    rng = random.Random(seed)
    out: list[float] = []
    if rate <= 0:
        return out
    t = rng.expovariate(rate)
    while t < horizon:
        out.append(t)
        t += rng.expovariate(rate)
    return out


def plan(sc: Scenario, seed: int, seen: set[str]) -> list[list[Arrivals]]:
    """The latency rounds: per round and office, the records and their arrival times (deterministic)."""
    interval = sc.batch_interval
    rounds: list[list[Arrivals]] = []
    for r in range(sc.latency_rounds):
        row = []
        for o in sc.offices:
            if sc.arrival == "poisson":
                times = poisson_times(o.weekly_volume / WEEK, interval, derived_seed(seed, "arrivals", r, o.code))
            else:  # burst: the records arrive together as the interval ends (no batching wait)
                times = [interval] * sc.latency_records
            load = office_records(o, len(times), seed, f"latency-{r}", seen)
            order = list(range(load.count))  # which record arrives when: drawn, not by kind
            random.Random(derived_seed(seed, "arrival-order", r, o.code)).shuffle(order)
            by_record = [0.0] * load.count
            for i, t in zip(order, times, strict=True):
                by_record[i] = t
            row.append(Arrivals(load, tuple(by_record)))
        rounds.append(row)
    return rounds


def form_batches(times: tuple[float, ...], batch_size: int, interval: float) -> list[tuple[list[int], float]]:
    """Records (indexes into ``times``) per batch and when the batch closes, in closing order.

    A batch closes when its ``batch_size``-th record arrives, else when the interval ends (the anchoring run).
    """
    order = sorted(range(len(times)), key=lambda i: (times[i], i))
    out = []
    for first in range(0, len(order), batch_size):
        members = order[first : first + batch_size]
        closes = times[members[-1]] if len(members) == batch_size else interval
        out.append((members, max(closes, times[members[-1]])))
    return out


def dist(values: list[float], unit: str, source: str) -> dict[str, Any]:
    """A distribution as the report shows it: count, p50/p90/p99, max, mean, what is counted, where from."""
    base: dict[str, Any] = {"unit": unit, "count": len(values), "source": source}
    if not values:
        return {**base, **{f"p{q}": None for q in PERCENTILES}, "min": None, "max": None, "mean": None}
    return {
        **base,
        **{f"p{q}": round(percentile(values, q), 4) for q in PERCENTILES},
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "mean": round(math.fsum(values) / len(values), 4),
    }


def measure(run: Run, rounds: list[list[Arrivals]]) -> dict[str, Any]:
    """Run the rounds on the chain (offices in parallel threads on a node); per-stage and end-to-end figures."""
    sc = run.scenario
    interval_mining = run.set_block_time(sc.block_time) if sc.block_time > 0 else False
    block_time = sc.block_time if interval_mining else 0.0
    batches: list[dict[str, Any]] = []
    lock = threading.Lock()
    errors: list[str] = []
    try:
        for r, row in enumerate(rounds):
            rng = run.rng("latency-offsets", r)
            offsets = {a.load.office: rng.uniform(0, max(block_time, 0.05)) for a in row}
            jobs = []
            for a in row:
                if not a.load.count:
                    continue
                folder = run.work / "latency" / f"round-{r}" / a.load.office
                published, sealed = a.load.write(folder)
                files = [*((p, False) for p in published), *((p, True) for p in sealed)]
                prepared = prepare_files([p for p, _ in files])  # one record per file, in order
                pairs = list(zip(prepared, (s for _, s in files), strict=True))
                jobs.append((a, pairs, folder, r, offsets[a.load.office]))

            def one(a: Arrivals, records: list[tuple[Any, bool]], folder: Path, r: int = r, wait: float = 0.0) -> None:
                try:
                    time.sleep(wait)
                    done = _office_round(run, a, records, folder, interval_mining)
                    with lock:
                        batches.extend({"round": r, **b} for b in done)
                except Exception as exc:  # reported, not hidden
                    with lock:
                        errors.append(f"{a.load.office} round {r}: {type(exc).__name__}: {exc}")

            if run.kind == "embedded":
                for job in jobs:
                    one(*job)
            else:
                threads = [threading.Thread(target=one, args=job) for job in jobs]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            run.advance("latency", (r + 1) / len(rounds))
    finally:
        if interval_mining:
            run.set_block_time(None)
    if errors:
        raise RuntimeError("latency phase failed: " + "; ".join(errors[:3]))
    return summarise(run, batches, interval_mining, block_time)


def _office_round(
    run: Run, a: Arrivals, records: list[tuple[Any, bool]], folder: Path, interval_mining: bool
) -> list[dict[str, Any]]:
    """One office's batches of one round, in closing order: anchored, final, bundles written, verified."""
    sc = run.scenario
    office = a.load.office
    chain = run.new_chain()
    store = Store(run.work / "stores" / f"latency-{office}.sqlite")  # one connection per thread
    anchorer = anchorer_for(run, office, store, chain)
    out = []
    try:
        for k, (members, closes) in enumerate(form_batches(a.times, sc.pipeline_batch_size, sc.batch_interval)):
            proofs = folder / "proofs" / f"batch-{k}"
            started = time.perf_counter()
            pub = [records[i][0] for i in members if not records[i][1]]
            hidden = [records[i][0] for i in members if records[i][1]]
            if pub:
                anchorer.submit(pub)
            if hidden:
                anchorer.submit(hidden, sealed=True)
            result = anchorer.run()  # returns at the receipt; the bundles are written below
            s = result.seconds
            included = started + s.get("batching", 0) + s.get("timestamps", 0) + s.get("chain", 0)
            block = max(b.block_number or 0 for b in result.batches)
            while chain.rpc(lambda: chain.w3.eth.block_number) < block + sc.confirmations - 1:
                if interval_mining:
                    time.sleep(0.02)
                else:  # no block production on its own: mine empty blocks
                    run.mine()
            final = time.perf_counter()
            final_block = chain.rpc(lambda: chain.w3.eth.block_number)
            t = time.perf_counter()  # the anchorer writes them after the receipt, during finality
            for anchored in result.batches:
                anchorer.write_bundles(anchored, proofs)
            written = included + time.perf_counter() - t
            bundles = [ProofBundle.loads(p.read_bytes()) for p in sorted(proofs.glob("*.proof.json"))]
            sample = [x for x in bundles if x.value.canonicalization != SEALED][:VERIFY_PER_BATCH]
            verdicts, verify_seconds = [], []
            for bundle in sample:
                t = time.perf_counter()
                verdicts.append(verify_bundle(chain, bundle).verdict)
                verify_seconds.append(time.perf_counter() - t)
            out.append(
                {
                    "office": office,
                    "records": result.records,
                    "anchoredBatches": len(result.batches),
                    "waits": [closes - a.times[i] for i in members],
                    "closesAt": closes,
                    "inclusionSeconds": included - started,
                    "finalitySeconds": max(final - included, 0.0),
                    "bundlesSeconds": written - included,  # after the receipt
                    "readySeconds": max(final, written) - started,  # final and bundles written
                    "readyQbftSeconds": written - started,  # QBFT: final at inclusion
                    "verifySeconds": verify_seconds,
                    "verdicts": verdicts,
                    "block": block,
                    "finalBlock": final_block,
                }
            )
    finally:
        store.close()
    return out


def summarise(run: Run, batches: list[dict[str, Any]], interval_mining: bool, block_time: float) -> dict[str, Any]:
    """The figure from the measured batches: stage distributions (each counted in its own unit) and end to end."""
    sc = run.scenario
    batches.sort(key=lambda b: (b["round"], b["office"], b["closesAt"]))
    waits, e2e, e2e_qbft, after = [], [], [], []
    for b in batches:
        verify = b["verifySeconds"] or [0.0]
        for i, w in enumerate(b["waits"]):
            v = verify[i % len(verify)]
            e2e.append(w + b["readySeconds"] + v)
            after.append(b["readySeconds"] + v)
            e2e_qbft.append(w + b["readyQbftSeconds"] + v)
            waits.append(w)
    verdicts: dict[str, int] = {}
    for b in batches:
        for v in b["verdicts"]:
            verdicts[v] = verdicts.get(v, 0) + 1
    chain_src = "measured on anvil (interval mining)" if interval_mining else f"measured on the {run.kind} chain"
    wait_src = (
        f"computed: batch closing time minus arrival time; {sc.arrival} arrivals"
        + (" at each office's weekly volume" if sc.arrival == "poisson" else "")
        + f", batches close when {sc.pipeline_batch_size:,} records wait or the {sc.batch_interval:g} s interval ends"
    )
    finality_src = (
        f"measured: receipt until {sc.confirmations} confirmations at {block_time:g} s blocks"
        if interval_mining
        else f"measured: receipt until {sc.confirmations} confirmations (blocks mined on demand, no block time)"
    )
    return {
        "arrival": sc.arrival,
        "batchIntervalSeconds": sc.batch_interval,
        "batchSize": sc.pipeline_batch_size,
        "timeScaled": "each round is one batch interval of scenario time; the chain stages run in real time",
        "blockTime": block_time,
        "intervalMining": interval_mining,
        "confirmations": sc.confirmations,
        "rounds": sc.latency_rounds,
        "records": sum(b["records"] for b in batches),
        "batches": sum(b["anchoredBatches"] for b in batches),
        "verifications": sum(len(b["verdicts"]) for b in batches),
        "verdicts": verdicts,
        "stages": {
            "batchWait": dist(waits, "records", wait_src),
            "inclusion": dist(
                [b["inclusionSeconds"] for b in batches],
                "batches",
                f"{chain_src}: tree, manifest, transaction until its receipt",
            ),
            "finality": dist([b["finalitySeconds"] for b in batches], "batches", finality_src),
            "finalityQbft": dist(
                [0.0 for _ in batches], "batches", "computed: QBFT blocks are final when included (0 s)"
            ),
            "verdict": dist(
                [s for b in batches for s in b["verifySeconds"]],
                "verifications",
                "measured: the verifier on a bundle after finality (live contract calls)",
            ),
        },
        "endToEnd": dist(e2e, "records", "batch wait + measured chain stages + bundles written + verdict"),
        "afterClose": dist(after, "records", "end to end without the batch wait: what the chain and verifier add"),
        "endToEndQbft": dist(e2e_qbft, "records", "as end to end, with finality at inclusion (QBFT), computed"),
        "quantiles": {  # p0 … p100 of the end-to-end times (the plot's curve)
            "endToEnd": [round(percentile(e2e, q), 4) for q in range(101)] if e2e else [],
            "endToEndQbft": [round(percentile(e2e_qbft, q), 4) for q in range(101)] if e2e_qbft else [],
        },
        "samples": [{k: v for k, v in b.items() if k != "waits"} for b in batches],
    }


#: The stages in the report's order: key, label.
STAGES = (
    ("batchWait", "batch wait (publication → batch closes)"),
    ("inclusion", "inclusion (batch closes → receipt)"),
    ("finality", "finality (receipt → N confirmations)"),
    ("finalityQbft", "finality on QBFT (final at inclusion)"),
    ("verdict", "verdict served (verifier, after finality)"),
)


def _where(lat: dict[str, Any]) -> str:
    return f"{lat['blockTime']:g} s blocks" if lat["intervalMining"] else "blocks on demand"


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Summary rows: publication until an auditor's verdict, with N confirmations and with QBFT finality."""
    lat = report["latency"]
    e2e, qbft = lat["endToEnd"], lat["endToEndQbft"]
    every = seconds(lat["batchIntervalSeconds"])
    note = f"{lat['arrival']} arrivals; a batch every {every} or {lat['batchSize']:,} records"

    def spread(d: dict[str, Any]) -> str:
        return ", ".join(f"p{q} {seconds(d[f'p{q}'])}" for q in PERCENTILES) + f", max {seconds(d['max'])}"

    return [
        [f"publication → verdict, {lat['confirmations']} confirmations ({_where(lat)})", spread(e2e), note],
        ["publication → verdict, QBFT (final at inclusion; computed)", spread(qbft), note],
        [f"batch closes → verdict, {lat['confirmations']} confirmations (chain, verifier)",
         spread(lat["afterClose"]), f"measured on {lat['batches']:,} batches"],
    ]  # fmt: skip


def section(report: dict[str, Any], plots: dict[str, Any]) -> str:
    """The ``Time until verifiable`` section: per-stage table, end to end, the plot and how it was measured."""
    lat = report["latency"]
    st = lat["stages"]
    head = ["stage", "counted in", "n", *(f"p{q}" for q in PERCENTILES), "max", "how obtained"]

    def row(label: str, d: dict[str, Any]) -> list[Any]:
        return [label, d["unit"], num(d["count"]), *(seconds(d[f"p{q}"]) for q in PERCENTILES), seconds(d["max"]),
                d["source"]]  # fmt: skip

    rows = [row(label.replace("N confirmations", f"{lat['confirmations']} confirmations"), st[key])
            for key, label in STAGES]  # fmt: skip
    rows.append(row(f"end to end, {lat['confirmations']} confirmations", lat["endToEnd"]))
    rows.append(row("end to end, QBFT", lat["endToEndQbft"]))
    rows.append(row(f"batch closes → verdict, {lat['confirmations']} confirmations", lat["afterClose"]))
    verdicts = ", ".join(f"{k} {v:,}" for k, v in sorted(lat["verdicts"].items())) or "none"
    out = ['<section id="latency"><h2>Time until an auditor can verify</h2>']
    out.append(
        "<p>From publication (the record accepted by the anchorer) to a verdict an auditor can obtain: "
        f"{num(lat['records'])} records in {num(lat['batches'])} batches over {num(lat['rounds'])} batch intervals of"
        f" {_e(seconds(lat['batchIntervalSeconds']))}, {num(lat['verifications'])} verifications ({_e(verdicts)}). "
        f"Time scaled: {_e(lat['timeScaled'])}. End to end per record = batch wait + inclusion + the later of"
        " finality and its bundle written + a verdict's time.</p>"
    )
    out.append(table(head, rows, "stages"))
    if "latency" in plots:
        out.append(
            image(
                plots["latency"],
                "Time until verifiable, per stage and end to end",
                "Left: each stage's p50, p90, p99 and maximum on a log time axis; each stage is counted in its own"
                " unit (records wait for their batch, batches are included and become final, verdicts are single"
                " verifications). Right: the share of records verifiable within a given time after publication.",
            )
        )
    out.append("</section>")
    return "".join(out)
