"""What sealed records' batch sizes and timing show an observer, and what padding would hide.

A sealed record (an unpublished application) is anchored as a salted commitment: nothing about its
content is learnable (the privacy phase of :mod:`registry.evaluate.checks` searches for it). But the
public manifest marks each sealed value (canonicalization ``sealed``, the office as record id), and the
batch's block gives its time: an observer counts an office's sealed records per batch, i.e. its
unpublished filings per batching interval. Counted here from the published manifests of the run's
batches (the pipeline's week and the latency rounds), checked against the offices' own stores, with the
padding that would hide the counts: every batch carries a constant number of sealed-looking values, or
a count rounded up to a power of two (dummies are random 32-byte commitments, indistinguishable from a
salted one). What each costs per alternative is computed in :mod:`registry.evaluate.alternatives`.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.core.batch import utc_iso
from registry.core.leaves import SEALED
from registry.evaluate.context import Run, manifest_path
from registry.evaluate.pipeline import OfficeRun
from registry.store.outbox import BatchStatus, Store, StoredBatch

#: Seconds in a week: the scenario's volumes are weekly.
WEEK = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class BatchView:
    """One anchored batch as an observer sees it (manifest, block) and as its office knows it (store)."""

    part: str
    office: str
    leaves: int
    sealed_public: int  # sealed values in the published manifest
    sealed_true: int  # records with a salt in the office's store
    timestamp: int | None
    sealed_value_bytes: int  # bytes of the manifest's sealed values (JSON), all of them


def _view(run: Run, part: str, store: Store, batch: StoredBatch) -> BatchView:
    path = manifest_path(run, batch.manifest_uri)
    values: list[list[str]] = json.loads(path.read_bytes())["values"] if path and path.is_file() else []
    sealed = [v for v in values if v[2] == SEALED]
    true = sum(1 for r in store.batch_records(batch.id) if r.salt is not None)
    size = sum(len(json.dumps(v, separators=(",", ":"))) + 1 for v in sealed)
    return BatchView(part, batch.office, batch.leaf_count, len(sealed), true, batch.timestamp, size)


def observed_batches(run: Run, offices: list[OfficeRun]) -> list[BatchView]:
    """Every anchored batch of the pipeline and of the latency rounds, oldest first per office."""
    views: list[BatchView] = []
    for o in offices:
        for b in o.batches:
            views.append(_view(run, "pipeline", o.store, o.store.batch(b.id)))
    for load in run.scenario.offices:
        path: Path = run.work / "stores" / f"latency-{load.code}.sqlite"
        if not path.is_file():
            continue
        store = Store(path)
        try:
            for b in reversed(store.batches(load.code, BatchStatus.ANCHORED, limit=100_000)):
                views.append(_view(run, "latency", store, b))
        finally:
            store.close()
    return views


def _pad_pow2(n: int) -> int:
    return 0 if n == 0 else 1 << (n - 1).bit_length()


def _dist(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"batches": 0, "min": None, "median": None, "max": None, "distinct": 0}
    return {
        "batches": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "distinct": len(set(values)),
    }


def measure(run: Run, offices: list[OfficeRun]) -> dict[str, Any]:
    """Counts per batch an observer reads, their distribution, the time resolution, and the padding figures."""
    sc = run.scenario
    views = observed_batches(run, offices)
    counts = [v.sealed_public for v in views]
    with_sealed = [v for v in views if v.sealed_public]
    value_bytes = sum(v.sealed_value_bytes for v in views) / max(1, sum(counts))
    per_office = []
    for load in sc.offices:
        mine = [v for v in views if v.office == load.code and v.part == "pipeline"]
        per_week = math.ceil(load.weekly_volume / sc.pipeline_batch_size)
        times = sorted(v.timestamp for v in views if v.office == load.code and v.part == "latency" and v.timestamp)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        per_office.append(
            {
                "office": load.code,
                "batches": len(mine),
                "sealedPerBatch": [v.sealed_public for v in mine],
                "sealedRecords": sum(v.sealed_public for v in mine),
                "batchesPerWeek": per_week,
                # in production one batch per interval: filings are dated to within this many hours
                "intervalHours": round(WEEK / per_week / 3600, 1),
                "latencyRoundGapSeconds": statistics.median(gaps) if gaps else None,
            }
        )
    constant = max(counts, default=0)
    pow2 = [_pad_pow2(n) for n in counts]
    real = sum(counts)
    largest = max(with_sealed, key=lambda v: v.sealed_public, default=None)
    inference = (
        f"{largest.office} had {largest.sealed_public} unpublished filings in the batch of {largest.leaves} records"
        f" anchored at {utc_iso(largest.timestamp) if largest.timestamp else 'an unknown time'} (block time)"
        if largest
        else "no batch held a sealed record"
    )
    return {
        "batches": len(views),
        "batchesWithSealed": len(with_sealed),
        "sealedRecords": real,
        "manifestCountsEqualStore": all(v.sealed_public == v.sealed_true for v in views),
        "sealedPerBatch": _dist([v.sealed_public for v in with_sealed]),
        "byPart": {
            part: _dist([v.sealed_public for v in views if v.part == part and v.sealed_public])
            | {"allBatches": sum(1 for v in views if v.part == part)}
            for part in ("pipeline", "latency")
        },
        "offices": per_office,
        "exampleInference": inference,
        "perBatch": [{"part": v.part, "office": v.office, "sealed": v.sealed_public} for v in views],
        "sealedValueBytes": round(value_bytes, 1),
        "padding": {
            "constant": {
                "perBatch": constant,
                "dummies": constant * len(views) - real,
                "distinctCountsSeen": 1 if views else 0,
            },
            "powerOfTwo": {
                "dummies": sum(pow2) - real,
                "distinctCountsSeen": len(set(pow2)),
            },
            "distinctCountsBefore": len(set(counts)),
            "realRecords": sum(v.leaves for v in views),
        },
    }


def padding_costs(
    fig: dict[str, Any], gas_per_leaf: float, token_price: float, entry_bytes: float, appends_per_second: float
) -> dict[str, Any]:
    """What each padding policy costs per alternative: extra leaves, gas, manifest bytes, tokens, log entries."""
    out: dict[str, Any] = {}
    for policy in ("constant", "powerOfTwo"):
        dummies = fig["padding"][policy]["dummies"]
        out[policy] = {
            "dummies": dummies,
            "overheadOfAllLeaves": dummies / max(1, fig["padding"]["realRecords"]),
            "chainExtraGas": round(gas_per_leaf * dummies, 1),
            "chainExtraManifestBytes": round(fig["sealedValueBytes"] * dummies),
            "rfc3161ExtraTokens": dummies,
            "rfc3161ExtraMoney": token_price * dummies,
            "ctlogExtraEntries": dummies,
            "ctlogExtraBytes": round(entry_bytes * dummies),
            "ctlogExtraSeconds": dummies / appends_per_second if appends_per_second else None,
        }
    return out
