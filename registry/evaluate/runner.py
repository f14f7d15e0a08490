"""Run a scenario end to end and write ``report.json``, ``report.html`` and the PNG plots."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import registry.evaluate.govreport as govreport  # governance in practice (issue 25, item 5)
import registry.evaluate.govstory as govstory
from registry import __version__
from registry.chain.artifacts import artifact
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import DEV_OFFICES, EVAL_OFFICES, dev_account, eval_signer, fund_from_dev_account
from registry.config import EMBEDDED
from registry.core.merkle import keccak
from registry.errors import ConfigError, InputError
from registry.evaluate import (
    alternatives,
    archive,
    checks,
    compare,
    cost,
    eas,
    faults,
    faults_report,
    governance,
    network,
    pipeline,
    plots,
    probes,
    report,
    time_to_verify,
    timestamps,
)
from registry.evaluate.context import Run
from registry.evaluate.scenario import Scenario
from registry.evaluate.workload import Batchload, fingerprint, office_records
from registry.node.anvil import LocalChain, free_port

#: Phases in order, as the progress bar shows them.
PHASES = ("setup", "cost", "compare", "network", "throughput", "interoperability", "rates", "privacy", "probes",
          "latency", "faults", "governance", "alternatives", "archive", "report")  # fmt: skip


def _start_anvil(state_dir: Path) -> LocalChain:
    last: ConfigError | None = None
    for _ in range(3):
        node = LocalChain(state_dir, free_port())
        try:
            node.start()
            return node
        except ConfigError as exc:
            if "already in use" not in str(exc):
                raise
            last = exc
    assert last is not None
    raise last


def _environment(run: Run, eas_version: str) -> dict[str, Any]:
    import matplotlib
    import web3

    w3 = run.chain.w3
    try:
        client = str(w3.client_version)
    except Exception:
        client = "unknown"
    office_art, anchor_art = artifact("OfficeRegistry"), artifact("AnchorRegistry")
    return {
        "project": f"ipreg {__version__}",
        "contractsCompiler": str(anchor_art.get("compiler", "")),
        "contractsEvmVersion": str(anchor_art.get("settings", {}).get("evmVersion", "")),
        "anchorRegistryCode": "0x" + keccak(bytes.fromhex(anchor_art["deployedBytecode"][2:])).hex()[:16],
        "officeRegistryCode": "0x" + keccak(bytes.fromhex(office_art["deployedBytecode"][2:])).hex()[:16],
        "easContracts": f"@ethereum-attestation-service/eas-contracts {eas_version} (solcjs 0.8.29)",
        "chainKind": run.kind,
        "chainClient": client,
        "chainId": int(w3.eth.chain_id),
        "python": platform.python_version(),
        "web3": web3.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(),
        "cpuCount": os.cpu_count() or 1,
    }


def evaluate(
    scenario: Scenario,
    chain_spec: str,
    out: Path,
    seed: int | None = None,
    advance: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Run ``scenario`` on ``embedded``, ``anvil`` (started here) or a JSON-RPC URL; write the report to ``out``."""
    dev_codes = [code for code, _, _ in (*DEV_OFFICES, *EVAL_OFFICES)]
    for o in scenario.offices:
        if o.code not in dev_codes:
            raise InputError(
                f"scenario office {o.code} is not a genesis office of the dev preset or an evaluation office "
                f"({', '.join(dev_codes)})"
            )
    if chain_spec not in (EMBEDDED, "anvil") and not chain_spec.startswith(("http://", "https://")):
        raise InputError(f"--chain must be embedded, anvil or an http(s):// URL, got {chain_spec!r}")
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    clock = time.perf_counter()
    tick = advance or (lambda _p, _f: None)
    node: LocalChain | None = None
    if chain_spec == "anvil":
        node = _start_anvil(work / "chain")
        rpc_url, kind = node.rpc_url, "anvil"
    elif chain_spec == EMBEDDED:
        rpc_url, kind = EMBEDDED, "embedded"
    else:
        rpc_url, kind = chain_spec, "url"
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():  # a terminated run still stops its node
        signal.signal(signal.SIGTERM, _terminate)
    try:
        chain = Chain(connect(rpc_url, timeout=120))
        run = Run(scenario, scenario.seed if seed is None else seed, chain, kind, rpc_url, work, node, tick)
        return _run(run, out, started_at, clock)
    finally:
        if node is not None:
            node.stop()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


def _terminate(_signum: int, _frame: object) -> None:
    raise SystemExit(143)


def plan_workload(
    sc: Scenario, seed: int
) -> tuple[list[Batchload], list[list[time_to_verify.Arrivals]], set[str], dict[str, Any]]:
    """The pipeline's and the latency phase's records (deterministic), the ids used, and their summary."""
    seen: set[str] = set()
    loads = [office_records(o, sc.pushed(o), seed, "pipeline", seen) for o in sc.offices]
    rounds = time_to_verify.plan(sc, seed, seen)
    summary = {
        "fingerprint": fingerprint([*loads, *(x.load for r in rounds for x in r)]),
        "pipelineRecords": sum(x.count for x in loads),
        "latencyRecords": sum(x.load.count for r in rounds for x in r),
        "sealedRecords": sum(len(x.sealed) for x in loads),
    }
    return loads, rounds, seen, summary


def _run(run: Run, out: Path, started_at: str, clock: float) -> dict[str, Any]:
    sc = run.scenario
    with run.timed("setup"):
        extra = tuple(o.code for o in sc.offices if o.code in {c for c, _, _ in EVAL_OFFICES})
        deployment = deploy_dev(run.chain, extra)
        for signer in filter(None, map(eval_signer, extra)):  # no ether on a fresh node
            fund_from_dev_account(run.chain, signer.address)
        run.home.mkdir(parents=True, exist_ok=True)
        deployment.save(run.home / "deployment.json")
        run.advance("setup", 0.5)
        attestation = eas.EAS.deploy(run.chain, dev_account(0))
        loads, rounds, seen, workload = plan_workload(sc, run.seed)
        run.advance("setup", 1.0)
    with run.timed("cost"):
        cost_fig = cost.measure(run, attestation)
    with run.timed("compare"):
        compare_fig = compare.measure(run, attestation, cost_fig)
    with run.timed("network"):
        network_fig = network.measure(sc, cost_fig, compare_fig)
    with run.timed("throughput"):
        throughput_fig, offices = pipeline.throughput(run, loads)
    with run.timed("interoperability"):
        interop_fig = checks.interoperability(run, offices)
    with run.timed("rates"):
        rates_fig = checks.rates(run, offices)
    with run.timed("privacy"):
        privacy_fig = checks.privacy(run, offices)
    with run.timed("probes"):
        probes_fig = probes.run_probes(run, offices, seen)
    with run.timed("latency"):
        latency_fig = time_to_verify.measure(run, rounds)
    with run.timed("faults"):
        outage = sc.events_of("node-outage")
        kill = sc.events_of("kill-anchorer")
        faults_fig: dict[str, Any] = {
            "nodeOutage": faults.node_outage(run, outage[0], seen) if outage else None,
            "killedAnchorer": faults.kill_anchorer(run, seen) if kill else None,
        }
        faults_fig["thatMatter"] = faults_report.measure(run, seen)
        faults_fig["exactlyOnce"] = faults.exactly_once(run)
    with run.timed("governance"):
        governance_fig = governance.timeline(run, offices)
        governance_fig["practice"] = govstory.measure(run)
    with run.timed("timestamps"):
        timestamps_fig = timestamps.measure(run, sc.pipeline_batch_size)
        run.notes.append(
            f"RFC 3161 time-stamp per batch (local authority): {timestamps_fig['latencyPerBatchMs']['median']} ms,"
            f" {timestamps_fig['manifestBytesPerBatch']} bytes per manifest, {timestamps_fig['bundleBytesPerRecord']}"
            " bytes per record's bundle"
        )
    with run.timed("alternatives"):
        earlier = {"cost": cost_fig, "rates": rates_fig, "verdicts": probes_fig, "governance": governance_fig}
        alternatives_fig = alternatives.measure(run, offices, earlier)
    with run.timed("archive"):
        archive_fig = archive.measure(run, offices, probes_fig)
    for o in offices:
        o.store.close()

    with run.timed("report"):
        sizes = sorted(cost_fig["anchorBatch"], key=lambda b: b["batchSize"])
        picks = sorted({sizes[0]["batchSize"], sizes[len(sizes) // 2]["batchSize"], sizes[-1]["batchSize"]})
        body: dict[str, Any] = {
            "format": "ipreg-evaluation-v1",
            "startedAt": started_at,
            "seed": run.seed,
            "scenario": sc.to_json(),
            "workload": workload,
            "environment": _environment(run, eas.version()),
            "summary": {"costBatchSizes": picks},
            "cost": cost_fig,
            "compare": compare_fig,
            "network": network_fig,
            "throughput": throughput_fig,
            "latency": latency_fig,
            "rates": rates_fig,
            "interoperability": interop_fig,
            "privacy": privacy_fig,
            "verdicts": probes_fig,
            "faults": faults_fig,
            "governance": governance_fig,
            "timestamps": timestamps_fig,
            "alternatives": alternatives_fig,
            "archive": archive_fig,
            "notes": run.notes,
        }
        figures = {
            "cost": plots.cost_plot(cost_fig, out / "cost.png"),
            "growth": plots.growth_plot(cost_fig, out / "growth.png"),
            "network": network.plot(network_fig, out / "network.png"),
            "latency": plots.latency_plot(latency_fig, out / "latency.png"),
            "throughput": plots.throughput_plot(throughput_fig, out / "throughput.png"),
        }
        figures["alternatives"] = alternatives.plot(alternatives_fig, out / "alternatives.png")
        if governance_fig["practice"]:
            figures["governance"] = govreport.plot(governance_fig, out / "governance.png")
        elif governance_fig["events"]:
            figures["governance"] = govreport.events_plot(governance_fig, out / "governance.png")
        body["plots"] = {k: p.name for k, p in figures.items()}
        run.advance("report", 0.5)
    body["phaseSeconds"] = run.timings
    body["seconds"] = round(time.perf_counter() - clock, 3)
    report.write_json(body, out / "report.json")
    report.write_html(body, figures, out / "report.html")
    run.advance("report", 1.0)
    return body
