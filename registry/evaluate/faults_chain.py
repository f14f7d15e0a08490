"""The faults phase's own anvil node, and what its faults share (an office's records, a bundle's verdict).

The faults that matter reorganise the chain, stop its node and move its clock by hours: on the run's
chain they would rewrite blocks and times the other phases read. They run on a second anvil node the
phase starts and stops, with its own dev deployment, home, outboxes and manifests (a :class:`Run` of
its own); each fault's exactly-once count reads that chain's events.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.anchor.pipeline import Anchorer, bundle_name
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.core.formats import ProofBundle
from registry.errors import ConfigError, NodeUnavailableError, RegistryError
from registry.evaluate.context import Run
from registry.evaluate.pipeline import anchorer_for
from registry.evaluate.workload import office_records
from registry.files.ingest import prepare_files
from registry.node.anvil import LocalChain, free_port
from registry.store.outbox import Store
from registry.verify.verdicts import verify_bundle


def not_run(run: Run) -> dict[str, Any] | None:
    """Why a fault cannot run on this run's chain (None: it can, the run owns an anvil node)."""
    if run.kind != "anvil" or run.node is None:
        return {"run": False, "why": f"needs an anvil node the evaluation controls, not a {run.kind} chain"}
    return None


@contextmanager
def fault_chain(run: Run) -> Iterator[Run]:
    """A second anvil node with the dev deployment, as a :class:`Run` of its own; stopped afterwards."""
    node: LocalChain | None = None
    for _ in range(3):
        candidate = LocalChain(run.work / "faults" / "node", free_port())
        try:
            candidate.start()
        except ConfigError as exc:
            if "already in use" not in str(exc):
                raise
            continue
        node = candidate
        break
    if node is None:
        raise ConfigError("no free port for the faults' anvil node")
    try:
        chain = Chain(connect(node.rpc_url, timeout=30))
        deploy_dev(chain)
        sub = Run(
            run.scenario, run.seed, chain, "anvil", node.rpc_url, run.work / "faults" / "chain", node, run.advance
        )
        sub.home.mkdir(parents=True, exist_ok=True)
        yield sub
    finally:
        node.stop()


@dataclass
class Office:
    """One office's outbox, anchorer and records on the fault chain."""

    code: str
    store: Store
    anchorer: Anchorer
    proofs: Path
    records: int

    def bundle(self, index: int = 0) -> ProofBundle | None:
        """The written bundle of the ``index``-th published record of the office's anchored batches."""
        anchored = [r for b in self.store.batches(self.code, "anchored") for r in self.store.batch_records(b.id)]
        published = sorted((r for r in anchored if r.salt is None), key=lambda r: r.id)
        if index >= len(published):
            return None
        path = self.proofs / bundle_name(published[index])
        return ProofBundle.loads(path.read_bytes()) if path.is_file() else None


def office(
    sub: Run, code: str, count: int, batch_size: int, tag: str, seen: set[str], chain: Chain | None = None
) -> Office:
    """``count`` records of office ``code`` (the scenario's mix) accepted into ``stores/<tag>.sqlite``."""
    load = next((o for o in sub.scenario.offices if o.code == code), sub.scenario.offices[0])
    if load.code != code:
        from dataclasses import replace

        load = replace(load, code=code)
    records = office_records(load, count, sub.seed, f"faults-{tag}", seen)
    published, sealed = records.write(sub.work / tag)
    store = Store(sub.work / "stores" / f"{tag}.sqlite")
    anchorer = anchorer_for(sub, code, store, chain=chain, batch_size=batch_size)
    anchorer.submit(prepare_files(published))
    if sealed:
        anchorer.submit(prepare_files(sealed), sealed=True)
    return Office(code, store, anchorer, sub.work / tag / "proofs", records.count)


def verdict(chain: Chain, bundle: ProofBundle | None) -> str:
    """The verdict of ``bundle`` read from ``chain`` now, or what stopped it (the node down: no verdict)."""
    if bundle is None:
        return "no bundle"
    try:
        return verify_bundle(chain, bundle).verdict
    except NodeUnavailableError:
        return "no verdict (node not reachable)"
    except RegistryError as exc:
        return f"no verdict ({exc.diagnostics()[:80]})"


def head(chain: Chain) -> int:
    """The chain's latest block number."""
    return int(chain.rpc(lambda: chain.w3.eth.block_number))


def block_time(chain: Chain, number: int) -> int:
    """Block ``number``'s timestamp."""
    return int(chain.rpc(lambda: chain.w3.eth.get_block(number))["timestamp"])


class Clock:
    """Seconds since the fault started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self) -> float:
        return round(time.perf_counter() - self.started, 3)
