"""Outages: the chain node for hours (time scaled), the time-stamping authority, the office's monitor.

Node: the anvil process is frozen (SIGSTOP) just as the anchorer broadcasts its second batch, for a few
wall-clock seconds, and its next block is dated the scenario's hours later (``evm_setNextBlockTimestamp``),
as if it had been down that long; the anchorer's own retries give up, a re-run (what cron does) resumes.
Authority: the local RFC 3161 authority answers 503 from the second batch on, then comes back. Monitor:
not run while the office anchors, a stolen key anchors in its name and another office proposes to
suspend it, the chain moves on by hours; then one pass catches up. Each: what happened, verdicts, the
exactly-once count from the chain and the time to recover.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import replace
from typing import Any

from registry.anchor.checkpoints import HOOKS
from registry.chain.client import Chain, connect
from registry.chain.dev import dev_signer
from registry.config import Settings
from registry.core.formats import ProofBundle
from registry.errors import RegistryError
from registry.evaluate.context import Run
from registry.evaluate.faults import once_for
from registry.evaluate.faults_chain import Clock, block_time, head, office, verdict
from registry.evaluate.scenario import Event
from registry.monitor import Monitor, Watch
from registry.monitor.follow import log_path
from registry.node.tsa import LOCAL_POLICY, LocalAuthority
from registry.timestamps.config import TimestampConfig, load_config
from registry.timestamps.stamper import Stamper
from registry.verify.readers import LiveReader
from registry.verify.verifier import Verifier


def _authority(sub: Run) -> tuple[LocalAuthority, TimestampConfig]:
    tsa = LocalAuthority(sub.work)
    config = load_config(sub.work, [tsa.start()], [tsa.root_cert], LOCAL_POLICY, ["127.0.0.0/8"])
    return tsa, replace(config, attempts=3, retry_delay=0.1)


def _token_check(sub: Run, config: TimestampConfig, bundle: ProofBundle | None) -> dict[str, Any] | None:
    """The bundle's verdict with the authority's trust anchor: its token's status and offset from the block."""
    if bundle is None:
        return None
    dep = sub.chain.deployment
    assert dep is not None
    verifier = Verifier(LiveReader(sub.chain), chain_id=dep.chain_id, timestamp_anchors=config.anchors)
    found = verifier.verify_bundle(bundle)
    token = found.timestamps[0] if found.timestamps else None
    return {
        "verdict": found.verdict,
        "token": token.status if token is not None else "none",
        "offsetSeconds": round(token.offset, 1) if token is not None and token.offset is not None else None,
    }


def _impatient(sub: Run, retries: int) -> Chain:
    """A client of the fault node whose patience is scaled like the outage: 0.5 s a request, ``retries`` more
    tries (0.2 s apart), none inside web3 (its provider's own retries would wait ~4 s a request)."""
    w3 = connect(sub.rpc_url, timeout=0.5)
    w3.provider.exception_retry_configuration = None  # type: ignore[attr-defined]
    return Chain(w3, sub.chain.deployment, retries=retries)


def long_outage(sub: Run, event: Event, size: int, seen: set[str]) -> dict[str, Any]:
    """The node frozen at the second batch's broadcast, its next block ``event.hours`` later; re-runs resume."""
    assert sub.node is not None and sub.chain.deployment is not None
    pid = sub.node.status()["pid"]
    hours = event.hours or 6.0
    anchoring = _impatient(sub, 1)  # gives up within the outage, as any client does within hours: a re-run resumes
    probe = _impatient(sub, 0)  # an auditor's verification during the outage
    o = office(sub, "US", 3 * size, size, "long-outage", seen, chain=anchoring)
    tsa, config = _authority(sub)
    o.anchorer.stamper = Stamper(config)
    clock = Clock()
    marks: dict[str, Any] = {}
    verdicts: dict[str, str] = {}
    resumed = threading.Event()
    broadcasts = [0]

    def resume() -> None:
        time.sleep(event.seconds)
        os.kill(pid, signal.SIGCONT)
        marks["resumed"] = clock()
        resumed.set()

    def hook(moment: str) -> None:
        if moment != "before-broadcast":
            return
        broadcasts[0] += 1
        if broadcasts[0] == 2:
            verdicts["before"] = verdict(sub.chain, o.bundle())
            marks["sentTx"] = o.store.unfinished_batches("US")[0].tx_hash or ""
            latest = block_time(sub.chain, head(sub.chain))
            sub.rpc("evm_setNextBlockTimestamp", [latest + int(hours * 3600)])
            os.kill(pid, signal.SIGSTOP)
            marks["stopped"] = clock()
            threading.Thread(target=resume, daemon=True).start()

    HOOKS.append(hook)
    errors: list[str] = []
    attempts = 0
    try:
        while attempts < 5:
            attempts += 1
            try:
                o.anchorer.run(o.proofs)
            except RegistryError as exc:
                errors.append(exc.diagnostics())
                if "during" not in verdicts:
                    verdicts["during"] = verdict(probe, o.bundle())
                resumed.wait(60)
                continue
            if o.store.pending_count("US") == 0:
                break
    finally:
        HOOKS.remove(hook)
        resumed.wait(60)
        tsa.stop()
    done = clock()
    batches = sorted(o.store.batches("US", "anchored"), key=lambda b: b.id)
    in_flight = batches[1] if len(batches) > 1 else None
    verdicts["after"] = verdict(sub.chain, o.bundle())
    gap = None
    if len(batches) > 1 and batches[0].timestamp is not None and batches[1].timestamp is not None:
        gap = round((batches[1].timestamp - batches[0].timestamp) / 3600, 2)
    second = o.bundle(batches[0].leaf_count) if batches else None
    result = {
        "run": True,
        "office": "US",
        "records": o.records,
        "batchSize": size,
        "wallSecondsStopped": round(marks.get("resumed", done) - marks.get("stopped", 0.0), 3),
        "chainHoursSkipped": hours,
        "hoursBetweenBatchBlocks": gap,
        "anchoringRuns": attempts,
        "errorsSeen": errors,
        "inFlightBatchBlock": in_flight.block_number if in_flight else None,
        "inFlightTransactionMinedAfterResume": in_flight is not None and in_flight.tx_hash == marks.get("sentTx"),
        "recoverySeconds": round(done - marks["resumed"], 3) if "resumed" in marks else None,
        "verdictBefore": verdicts.get("before"),
        "verdictDuring": verdicts.get("during"),
        "verdictAfter": verdicts["after"],
        "inFlightBatchToken": _token_check(sub, config, second),
        "pendingAfter": o.store.pending_count("US"),
        "exactlyOnce": once_for(sub, [o.store.path]),
    }
    o.store.close()
    return result


def authority_outage(sub: Run, size: int, seen: set[str]) -> dict[str, Any]:
    """The authority answers 503 from the second batch on (two runs fail), then comes back (one run)."""
    o = office(sub, "JP", 2 * size, size, "tsa-outage", seen)
    tsa, config = _authority(sub)
    o.anchorer.stamper = Stamper(config)

    def progress(what: str, _n: int) -> None:
        if what == "anchored":
            tsa.available = False

    o.anchorer.progress = progress
    errors: list[str] = []
    anchored_before: list[int] = []
    clock = Clock()
    try:
        for _ in range(2):  # the first run stops at the second batch; a re-run while it is down stops again
            try:
                o.anchorer.run(o.proofs)
            except RegistryError as exc:
                errors.append(exc.diagnostics())
                anchored_before.append(sum(b.leaf_count for b in o.store.batches("JP", "anchored")))
        pending_during = o.store.pending_count("JP")
        before = verdict(sub.chain, o.bundle())
        o.anchorer.progress = lambda _w, _n: None
        tsa.available = True
        back = clock()
        rerun = o.anchorer.run(o.proofs)
        recovered = clock() - back
    finally:
        tsa.stop()
    tokens = [len(t) for t in rerun.tokens.values()]
    result = {
        "run": True,
        "office": "JP",
        "records": o.records,
        "batchSize": size,
        "attemptsPerBatch": config.attempts,
        "errorsSeen": errors,
        "anchoredWhileDown": anchored_before,
        "pendingWhileDown": pending_during,
        "verdictOfEarlierBatch": before,
        "rerunAnchored": rerun.records,
        "rerunTokensPerBatch": tokens,
        "recoverySeconds": round(recovered, 3),
        "tokenAfter": _token_check(sub, config, o.bundle(size)),
        "pendingAfter": o.store.pending_count("JP"),
        "exactlyOnce": once_for(sub, [o.store.path]),
    }
    o.store.close()
    return result


def monitor_outage(sub: Run, event: Event, size: int, seen: set[str]) -> dict[str, Any]:
    """The office's monitor down while things happen in its name; one pass catches up, each alert once."""
    n = sub.scenario.confirmations
    o = office(sub, "EM", size, size, "monitor-outage", seen)
    settings = Settings(home=sub.home, rpc_url=sub.rpc_url)
    monitor = Monitor(sub.chain, o.store, settings, Watch("EM"), confirmations=n)
    first = monitor.pass_once()
    down_from = head(sub.chain)
    o.anchorer.run(o.proofs)  # the office's own batch: no finding
    thief = office(sub, "EM", 3, 3, "monitor-thief", seen)  # its key, used from another machine's outbox
    thief.anchorer.run(thief.proofs)
    forged = verdict(sub.chain, thief.bundle())
    thief.store.close()
    voters = [dev_signer(code) for code in ("EP", "US")]
    assert voters[0] is not None and voters[1] is not None
    proposal, _ = sub.chain.propose(voters[0], "suspend", "EM")
    sub.chain.approve(voters[1], proposal)
    hours = event.hours or 6.0
    sub.rpc("evm_increaseTime", [int(hours * 3600)])
    sub.rpc("anvil_mine", [hex(100 + n)])  # the chain moves on while nobody watches
    clock = Clock()
    caught = monitor.pass_once()
    seconds = clock()
    again = monitor.pass_once()
    lines = [json.loads(x) for x in log_path(settings).read_text(encoding="utf-8").splitlines()]
    kinds = [x["kind"] for x in lines if x.get("office") == "EM"]
    result = {
        "run": True,
        "office": "EM",
        "records": o.records,
        "findingsBefore": len(first.delivered),
        "downForBlocks": caught.to_block - down_from,
        "chainHoursSkipped": hours,
        "caughtUpFromBlock": caught.from_block,
        "caughtUpToBlock": caught.to_block,
        "catchUpSeconds": seconds,
        "findings": sorted(json.loads(x)["kind"] for x in caught.delivered),
        "findingsOnNextPass": len(again.delivered),
        "findingsLogged": len(kinds),
        "alertedOnce": len(kinds) == len(set(kinds)) == len(caught.delivered) and not again.delivered,
        "forgedAnchorVerdict": forged,
        "exactlyOnce": once_for(sub, [o.store.path]),
    }
    o.store.close()
    return result
