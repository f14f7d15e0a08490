"""A reorganisation of the chain around an anchored batch: shallower and deeper than the confirmations.

Shallow: the anchorer waits for N confirmations; at N - 1 the chain drops the batch's block (anvil's
``anvil_reorg``: the last blocks replaced by as many empty ones, the transaction gone from the pool too).
Deep: the batch was anchored, confirmed N + 1 times, indexed, its bundles handed out; then the chain
drops N + 1 blocks. For both: what the anchorer does, the verdict of a bundle before, while the batch is
off the chain and after, what the indexer and the office's monitor do, and the exactly-once count read
from the chain's events.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from registry.anchor.checkpoints import HOOKS
from registry.config import Settings
from registry.errors import RegistryError
from registry.evaluate.context import Run
from registry.evaluate.faults import once_for
from registry.evaluate.faults_chain import Clock, Office, head, office, verdict
from registry.indexer.sync import Indexer
from registry.monitor import Monitor, Watch
from registry.store.index import Index
from registry.verify.verdicts import verify_hash


def _reorg(sub: Run, depth: int) -> None:
    sub.rpc("anvil_reorg", [depth, []])


def shallow(sub: Run, size: int, seen: set[str]) -> dict[str, Any]:
    """The batch's block dropped while the anchorer waits for its N confirmations (at N - 1 of them)."""
    n = sub.scenario.confirmations
    if n < 2:
        return {"run": False, "why": f"with {n} confirmation a batch is final in its own block"}
    o = office(sub, "US", size, size, "reorg-shallow", seen)
    o.anchorer.confirmations, o.anchorer.tx_timeout = n, 1.5
    broadcast = threading.Event()
    HOOKS.append(lambda moment: broadcast.set() if moment == "after-broadcast" else None)
    hook = HOOKS[-1]
    errors: list[str] = []

    def work() -> None:
        try:
            o.anchorer.run(o.proofs)
        except RegistryError as exc:
            errors.append(exc.diagnostics())

    clock = Clock()
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        if not broadcast.wait(60):
            raise RuntimeError("the anchorer never broadcast its batch")
        mined = head(sub.chain)  # automine: the transaction's block
        first_tx = o.store.batches("US")[0].tx_hash
        if n > 2:
            sub.rpc("anvil_mine", [hex(n - 2)])
        confirmations = head(sub.chain) - mined + 1
        _reorg(sub, confirmations)
        dropped = clock()
        deadline = time.monotonic() + 60
        while thread.is_alive() and time.monotonic() < deadline:
            sub.mine()  # blocks keep coming: the anchorer's confirmations
            thread.join(0.2)
    finally:
        HOOKS.remove(hook)
    batch = o.store.batches("US")[0]
    result = {
        "run": True,
        "office": "US",
        "records": o.records,
        "confirmationsWanted": n,
        "confirmationsAtReorg": confirmations,
        "depth": confirmations,
        "anchorerErrors": errors,
        "resent": batch.tx_hash != first_tx,
        "secondsToAnchoredAgain": round(clock() - dropped, 3),
        "txTimeoutSeconds": o.anchorer.tx_timeout,
        "verdictAfter": verdict(sub.chain, o.bundle()),
        "exactlyOnce": once_for(sub, [o.store.path]),
    }
    o.store.close()
    return result


def deep(sub: Run, size: int, seen: set[str]) -> dict[str, Any]:
    """A confirmed, indexed, monitored batch whose blocks a reorganisation deeper than N drops."""
    n = sub.scenario.confirmations
    o = office(sub, "EP", size, size, "reorg-deep", seen)
    indexer = Indexer(sub.work / "index.sqlite", sub.chain, confirmations=n, local_manifests=sub.manifest_dir)
    index = Index(indexer.db)
    settings = Settings(home=sub.home, rpc_url=sub.rpc_url)
    monitor = Monitor(sub.chain, o.store, settings, Watch("EP"), confirmations=n)
    try:
        return _deep(sub, o, n, indexer, index, monitor)
    finally:
        indexer.close()
        o.store.close()


def _by_hash(sub: Run, o: Office, digest: str) -> str:
    """The verdict of a content hash found through the office's outbox (the service's and CLI's path)."""
    try:
        return verify_hash(sub.chain, o.store, digest).verdict
    except RegistryError as exc:
        return f"no verdict ({exc.diagnostics()[:80]})"


def _deep(sub: Run, o: Office, n: int, indexer: Indexer, index: Index, monitor: Monitor) -> dict[str, Any]:
    first = o.anchorer.run(o.proofs).batches[0]
    sub.rpc("anvil_mine", [hex(n)])  # N + 1 confirmations: final by the scenario's rule
    bundle = o.bundle()
    digest = bundle.value.content_hash if bundle is not None else "0x" + "00" * 32
    indexer.sync()
    before = {
        "verdict": verdict(sub.chain, bundle),
        "verdictByHash": _by_hash(sub, o, digest),
        "indexed": index.batch("EP", first.root) is not None,
        "monitorFindings": len(monitor.pass_once().delivered),
        "confirmations": head(sub.chain) - (first.block_number or 0) + 1,
    }
    depth = head(sub.chain) - (first.block_number or 0) + 1
    clock = Clock()
    _reorg(sub, depth)
    synced = indexer.sync()
    watched = monitor.pass_once()
    gone = {
        "verdict": verdict(sub.chain, bundle),
        "verdictByHash": _by_hash(sub, o, digest),
        "indexed": index.batch("EP", first.root) is not None,
        "indexerSaw": synced.to_json()["reorganisation"],
        "monitorSawReorganisation": watched.reorganised,
        "monitorFindings": len(watched.delivered),
        "outboxSays": o.store.batch(first.id).status.value,
    }
    rerun = o.anchorer.run(o.proofs)
    recovered = clock()
    sub.rpc("anvil_mine", [hex(n)])
    indexer.sync()
    again = o.store.batch(first.id)
    fresh = o.bundle()
    after = {
        "verdict": verdict(sub.chain, bundle),
        "verdictByHash": _by_hash(sub, o, digest),
        "verdictOfRewrittenBundle": verdict(sub.chain, fresh),
        "indexed": index.batch("EP", first.root) is not None,
        "monitorFindings": len(monitor.pass_once().delivered),
        "block": again.block_number,
        "oldBundleNamesGoneTransaction": bundle is not None and bundle.transaction_hash != again.tx_hash,
    }
    return {
        "run": True,
        "office": "EP",
        "records": o.records,
        "confirmationsWanted": n,
        "depth": depth,
        "anchoredBlock": first.block_number,
        "before": before,
        "whileGone": gone,
        "rerunReanchored": [b.root for b in rerun.batches] == rerun.reorganised == [first.root],
        "rerunRecords": rerun.records,
        "secondsToAnchoredAgain": recovered,
        "after": after,
        "exactlyOnce": once_for(sub, [o.store.path]),
    }
