"""Throughput and latency of the anchoring pipeline, with the library's own Anchorer.

Throughput: each office's week of files through canonicalization, hashing, the outbox, batching,
anchoring and proof bundles, timed. Latency: rounds of submissions at the scenario's block time
(interval mining on anvil), each office in its own thread, timed from submission to the receipt
(anchored) and to N confirmations.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain
from registry.chain.dev import eval_signer
from registry.evaluate.context import MANIFEST_BASE, Run
from registry.evaluate.workload import Batchload
from registry.files.ingest import prepare_files
from registry.store.outbox import Store


@dataclass
class OfficeRun:
    """An office's store, anchorer, files and bundles after the throughput phase."""

    office: str
    store: Store
    anchorer: Anchorer
    folder: Path
    published: list[Path]
    sealed: list[Path]
    proofs: Path
    batches: list[Any] = field(default_factory=list)


def anchorer_for(
    run: Run,
    office: str,
    store: Store,
    chain: Chain | None = None,
    batch_size: int | None = None,
    account: LocalAccount | None = None,
) -> Anchorer:
    """An Anchorer for ``office`` (its dev key unless ``account``), the run's manifest folder and base URL."""
    account = account or eval_signer(office)
    if account is None:
        raise AssertionError(f"{office} is not a dev-preset office")
    return Anchorer(
        store,
        chain or run.chain,
        account,
        office,
        run.manifest_dir,
        manifest_base=MANIFEST_BASE,
        batch_size=batch_size or run.scenario.pipeline_batch_size,
        confirmations=1,
    )


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def throughput(run: Run, loads: list[Batchload]) -> tuple[dict[str, Any], list[OfficeRun]]:
    """Push every office's records through the pipeline; records/s overall and per phase."""
    offices: list[OfficeRun] = []
    phases = {"write": 0.0, "prepare": 0.0, "submit": 0.0, "batching": 0.0, "chain": 0.0, "bundles": 0.0}
    total = sum(load.count for load in loads)
    done = 0
    per_office: list[dict[str, Any]] = []
    for load in loads:
        folder = run.work / "gazette" / load.office
        t = time.perf_counter()
        published, sealed = load.write(folder)
        phases["write"] += time.perf_counter() - t
        store = Store(run.work / "stores" / f"{load.office}.sqlite")
        anchorer = anchorer_for(run, load.office, store)
        started = time.perf_counter()
        prepared = prepare_files(published)
        prepared_sealed = prepare_files(sealed)
        t1 = time.perf_counter()
        anchorer.submit(prepared)
        if prepared_sealed:
            anchorer.submit(prepared_sealed, sealed=True)
        t2 = time.perf_counter()
        proofs = run.work / "proofs" / load.office
        result = anchorer.run(proofs)
        elapsed = time.perf_counter() - started
        phases["prepare"] += t1 - started
        phases["submit"] += t2 - t1
        for k in ("batching", "chain", "bundles"):
            phases[k] += result.seconds.get(k, 0.0)
        per_office.append(
            {
                "office": load.office,
                "records": result.records,
                "batches": len(result.batches),
                "bundles": result.bundles,
                "seconds": round(elapsed, 3),
                "recordsPerSecond": result.records / elapsed if elapsed else None,
                "gasUsed": result.gas_used,
            }
        )
        offices.append(OfficeRun(load.office, store, anchorer, folder, published, sealed, proofs, result.batches))
        done += load.count
        run.advance("throughput", done / max(total, 1))
    seconds = sum(v for k, v in phases.items() if k != "write")
    records = sum(o["records"] for o in per_office)
    return {
        "records": records,
        "batches": sum(o["batches"] for o in per_office),
        "bundles": sum(o["bundles"] for o in per_office),
        "seconds": round(seconds, 3),
        "recordsPerSecond": records / seconds if seconds else None,
        "phaseSeconds": {k: round(v, 3) for k, v in phases.items()},
        "offices": per_office,
        "batchSize": run.scenario.pipeline_batch_size,
    }, offices


def latency(run: Run, rounds: list[list[Batchload]]) -> dict[str, Any]:
    """Rounds of submissions at the scenario's block time: submission -> anchored -> N confirmations."""
    sc = run.scenario
    interval = run.set_block_time(sc.block_time) if sc.block_time > 0 else False
    block_time = sc.block_time if interval else 0.0
    samples: list[dict[str, Any]] = []
    lock = threading.Lock()
    errors: list[str] = []
    stores = {o.code: run.work / "stores" / f"latency-{o.code}.sqlite" for o in sc.offices}
    try:
        for r, loads in enumerate(rounds):
            rng = run.rng("latency-offsets", r)
            offsets = {load.office: rng.uniform(0, max(block_time, 0.05)) for load in loads}
            prepared = {}
            for load in loads:
                published, sealed = load.write(run.work / "latency" / f"round-{r}" / load.office)
                prepared[load.office] = (prepare_files(published), prepare_files(sealed))

            def one(
                load: Batchload, r: int = r, prepared: dict[str, Any] = prepared, offsets: dict[str, float] = offsets
            ) -> None:
                try:
                    chain = run.new_chain()
                    store = Store(stores[load.office])  # one connection per thread
                    anchorer = anchorer_for(run, load.office, store, chain)
                    time.sleep(offsets[load.office])
                    pub, sealed = prepared[load.office]
                    submitted = time.perf_counter()
                    anchorer.submit(pub)
                    if sealed:
                        anchorer.submit(sealed, sealed=True)
                    result = anchorer.run()
                    anchored = time.perf_counter()
                    last = max(b.block_number or 0 for b in result.batches)
                    target = last + sc.confirmations - 1
                    while chain.rpc(lambda: chain.w3.eth.block_number) < target:
                        if interval:
                            time.sleep(0.02)
                        else:  # no block production on its own: mine empty blocks
                            run.mine()
                    confirmed = time.perf_counter()
                    store.close()
                    with lock:
                        samples.append(
                            {
                                "round": r,
                                "office": load.office,
                                "records": result.records,
                                "anchoredSeconds": anchored - submitted,
                                "confirmedSeconds": confirmed - submitted,
                                "block": last,
                            }
                        )
                except Exception as exc:  # reported, not hidden
                    with lock:
                        errors.append(f"{load.office} round {r}: {type(exc).__name__}: {exc}")

            if run.kind == "embedded":
                for load in loads:
                    one(load)
            else:
                threads = [threading.Thread(target=one, args=(load,)) for load in loads]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            run.advance("latency", (r + 1) / len(rounds))
    finally:
        if interval:
            run.set_block_time(None)
    if errors:
        raise RuntimeError("latency phase failed: " + "; ".join(errors[:3]))
    anchored = [s["anchoredSeconds"] for s in samples for _ in range(s["records"])]
    confirmed = [s["confirmedSeconds"] for s in samples for _ in range(s["records"])]
    records = sum(s["records"] for s in samples)
    return {
        "blockTime": block_time,
        "intervalMining": interval,
        "confirmations": sc.confirmations,
        "rounds": sc.latency_rounds,
        "records": records,
        "batches": len(samples),
        "anchored": _dist(anchored),
        "confirmed": _dist(confirmed),
        "samples": sorted(samples, key=lambda s: (s["round"], s["office"])),
    }


def _dist(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "mean": None, "min": None, "max": None}
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
    }
