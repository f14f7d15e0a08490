"""Failure behaviour: a node outage and a killed anchoring process in mid-run, and the exactly-once count.

The count does not trust the store: it reads every ``BatchAnchored`` event of the run's
AnchorRegistry from the chain, opens the manifest each event names and counts every accepted
(record id, content) across them; each must appear exactly once and no root twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.chain.client import Chain
from registry.errors import RegistryError
from registry.evaluate import hold
from registry.evaluate.context import MANIFEST_BASE, PRICING_BASE, Run, hex32, manifest_path
from registry.evaluate.pipeline import anchorer_for
from registry.evaluate.scenario import Event
from registry.evaluate.workload import office_records
from registry.files.ingest import prepare_files
from registry.store.outbox import BatchStatus, Store


def _fault_batch(run: Run) -> int:
    return max(5, min(100, run.scenario.pipeline_batch_size))


def node_outage(run: Run, event: Event, seen: set[str]) -> dict[str, Any]:
    """Stop the node after the first batch of a run, bring it back after ``event.seconds``, resume."""
    if run.node is None:
        return {"run": False, "why": f"the evaluation does not control the node of a {run.kind} chain"}
    node = run.node
    load = run.scenario.offices[0]
    size = _fault_batch(run)
    records = office_records(load, 4 * size, run.seed, "outage", seen)
    published, sealed = records.write(run.work / "faults" / "outage")
    store = Store(run.work / "stores" / f"outage-{load.code}.sqlite")
    anchorer = anchorer_for(run, load.code, store, batch_size=size)
    anchorer.submit(prepare_files(published))
    if sealed:
        anchorer.submit(prepare_files(sealed), sealed=True)
    timeline: dict[str, float] = {}
    started = time.perf_counter()
    restarted = threading.Event()

    def restart() -> None:
        time.sleep(event.seconds)
        node.start()
        timeline["nodeBack"] = time.perf_counter() - started
        restarted.set()

    def progress(what: str, _n: int) -> None:
        if what == "anchored" and "nodeDown" not in timeline:
            node.stop()
            timeline["nodeDown"] = time.perf_counter() - started
            threading.Thread(target=restart, daemon=True).start()

    anchorer.progress = progress
    failures: list[str] = []
    attempts = 0
    while True:
        attempts += 1
        try:
            anchorer.run()
            if store.pending_count(load.code) == 0 and not store.unfinished_batches(load.code):
                break
        except RegistryError as exc:
            failures.append(exc.diagnostics())
            restarted.wait(60)
        if attempts > 5:
            break
    done = time.perf_counter() - started
    restarted.wait(60)
    anchored = sum(b.leaf_count for b in store.batches(load.code, BatchStatus.ANCHORED))
    store.close()
    run.advance("faults", 0.5)
    down, back = timeline.get("nodeDown"), timeline.get("nodeBack")
    return {
        "run": True,
        "office": load.code,
        "records": records.count,
        "batchSize": size,
        "outageSeconds": (back - down) if down is not None and back is not None else None,
        "anchoringRuns": attempts,
        "errorsSeen": failures,
        "recoverySeconds": (done - back) if back is not None else None,
        "anchored": anchored,
        "pendingAfter": records.count - anchored,
    }


def _ipreg() -> list[str]:
    exe = Path(sys.executable).with_name("ipreg")
    return [str(exe)] if exe.is_file() else [sys.executable, "-c", "from registry.cli import main; main()"]


def kill_anchorer(run: Run, seen: set[str]) -> dict[str, Any]:
    """``ipreg anchor`` killed (SIGKILL) right after broadcasting its first batch, then run again."""
    if run.kind == "embedded":
        return {"run": False, "why": "the embedded chain lives inside this process; no other process can reach it"}
    load = run.scenario.offices[1 % len(run.scenario.offices)]
    size = _fault_batch(run)
    records = office_records(load, 3 * size, run.seed, "kill", seen)
    published, _ = records.write(run.work / "faults" / "kill")  # `ipreg anchor` takes the published ones
    flag = run.work / "faults" / "kill.broadcast"
    flag.unlink(missing_ok=True)
    env = {**os.environ, "IPREG_HOME": str(run.home), "IPREG_RPC_URL": run.rpc_url}
    env.pop("IPREG_KEYSTORE", None)
    args = ["anchor", str(run.work / "faults" / "kill" / "published"), "--office", load.code,
            "--batch-size", str(size), "--manifest-base", MANIFEST_BASE, "--json"]  # fmt: skip
    cmd = [*_ipreg(), *args]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*hold.COMMAND, *args], env={**env, "IPREG_TEST_HOLD": f"after-broadcast:{flag}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at = time.perf_counter() - started
    held = flag.exists()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if not held:
        raise RuntimeError(f"ipreg anchor ended before broadcasting: {stderr.strip()[:200]}")
    t = time.perf_counter()
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    recovery = time.perf_counter() - t
    if second.returncode != 0:
        raise RuntimeError(f"re-run of ipreg anchor failed: {second.stderr.strip()[:200]}")
    summary = json.loads(second.stdout)
    run.advance("faults", 1.0)
    return {
        "run": True,
        "office": load.code,
        "records": len(published),
        "batchSize": size,
        "killedAfterSeconds": round(killed_at, 3),
        "signal": "SIGKILL",
        "killedAt": "right after broadcasting the first batch's transaction",
        "recoverySeconds": round(recovery, 3),
        "rerunAnchored": summary.get("anchored"),
        "rerunBatches": len(summary.get("batches", [])),
    }


def accepted_records(run: Run, stores: Sequence[Path] | None = None) -> set[tuple[str, str]]:
    """(office, leaf) of every record the run's outboxes (or ``stores``) accepted: what must be anchored once."""
    accepted: set[tuple[str, str]] = set()
    if stores is None:
        stores = [*sorted((run.work / "stores").glob("*.sqlite")), run.home / "registry.sqlite"]
    for path in stores:
        if not path.is_file():
            continue
        store = Store(path)
        try:
            for office, leaf in store.db.execute("SELECT office, leaf FROM records"):
                accepted.add((str(office), hex32(bytes(leaf))))
        finally:
            store.close()
    return accepted


@dataclass
class _Anchored:
    """What the BatchAnchored events of some registries anchored, leaf by leaf."""

    events: int = 0
    priced: int = 0
    leaves: int = 0
    missing_manifests: int = 0
    mismatched: int = 0
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    roots: dict[tuple[str, str], int] = field(default_factory=dict)


def _anchored(run: Run, chains: Sequence[Chain]) -> _Anchored:
    """Read every BatchAnchored event of ``chains``' registries and the manifest each names (root rebuilt)."""
    from registry.core import merkle
    from registry.core.leaves import LeafValue

    out = _Anchored()
    for chain in chains:
        dep = chain.deployment
        assert dep is not None
        event, start = chain.anchors.events.BatchAnchored(), dep.block_number
        logs = chain.rpc(lambda: event.get_logs(from_block=start, to_block="latest"))  # noqa: B023 - called at once
        out.events += len(logs)
        for log in logs:
            root = hex32(log["args"]["root"])
            office = bytes(log["args"]["office"]).decode("ascii")
            out.roots[(office, root)] = out.roots.get((office, root), 0) + 1
            uri = str(log["args"]["manifestURI"])
            if uri.startswith(PRICING_BASE + "/"):
                out.priced += 1
                continue
            path = manifest_path(run, uri)
            if path is None or not path.is_file():
                out.missing_manifests += 1
                continue
            body = json.loads(path.read_text(encoding="utf-8"))  # leniently: count what it names, then check it
            leaves = [LeafValue.from_list(v).leaf() for v in body["values"]]
            if merkle.rebuild(leaves, root) is None or len(leaves) != int(log["args"]["leafCount"]):
                out.mismatched += 1
            for leaf in leaves:
                key = (office, hex32(leaf))
                out.seen[key] = out.seen.get(key, 0) + 1
                out.leaves += 1
    return out


def once_for(run: Run, stores: Sequence[Path], chains: Sequence[Chain] | None = None) -> dict[str, Any]:
    """The exactly-once count of one fault: the records ``stores`` accepted against the chain's events."""
    expected = accepted_records(run, stores)
    got = _anchored(run, chains or [run.chain])
    once = sum(1 for k in expected if got.seen.get(k) == 1)
    return {
        "acceptedRecords": len(expected),
        "anchoredExactlyOnce": once,
        "missing": sum(1 for k in expected if k not in got.seen),
        "duplicated": sum(1 for k in expected if got.seen.get(k, 0) > 1),
        "ok": once == len(expected) and not got.mismatched,
    }


def exactly_once(run: Run) -> dict[str, Any]:
    """Every accepted record once in the anchored manifests of the chain's BatchAnchored events.

    Events whose manifest URI is not one of the run's published manifests (the cost phase's priced
    batches of synthetic leaves, under :data:`PRICING_BASE`) are counted apart.
    """
    expected = accepted_records(run)
    got = _anchored(run, [run.chain])
    once = sum(1 for k in expected if got.seen.get(k) == 1)
    return {
        "acceptedRecords": len(expected),
        "batchEvents": got.events - got.priced,
        "pricingBatchEvents": got.priced,
        "anchoredLeaves": got.leaves,
        "anchoredExactlyOnce": once,
        "missing": sum(1 for k in expected if k not in got.seen),
        "duplicated": sum(1 for k in expected if got.seen.get(k, 0) > 1),
        "unexpected": sum(1 for k in got.seen if k not in expected),
        "rootsAnchoredTwice": sum(1 for n in got.roots.values() if n > 1),
        "manifestsMissing": got.missing_manifests,
        "manifestsNotMatchingRoot": got.mismatched,
        "ok": once == len(expected)
        and got.leaves == len(expected)
        and not got.missing_manifests
        and not got.mismatched,
        "countedFrom": "BatchAnchored events on chain + the manifest each names (root rebuilt), not the store",
    }
