"""Throughput of the anchoring pipeline, with the library's own Anchorer.

Each office's week of files through canonicalization, hashing, the outbox, batching, anchoring and
proof bundles, timed per phase. (The time until a record can be verified: :mod:`time_to_verify`.)
"""

from __future__ import annotations

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
