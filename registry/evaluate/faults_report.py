"""Faults that matter (issue 25, item 6): run them on the faults' own anvil node, and report them.

:func:`measure` runs the scenario's ``reorg``, ``authority-outage``, ``freeze-mid-anchor``,
``long-node-outage`` and ``monitor-outage`` events (in that order: the long outage and the monitor's
move the chain's clock by hours) on a second anvil node (:mod:`registry.evaluate.faults_chain`); on the
embedded chain or a URL each is reported as not run. :func:`section` is the report's HTML, one row per
fault: what happened, the exactly-once count read from the chain, the verdicts and the time to recover.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from registry.evaluate import faults_freeze, faults_outages, faults_reorg
from registry.evaluate import markup as rp
from registry.evaluate.context import Run
from registry.evaluate.faults_chain import Clock, fault_chain, not_run

#: Scenario events this module runs, and the report.json keys (under ``faults.thatMatter``) they fill.
EVENTS = {
    "reorg": ("reorgShallow", "reorgDeep"),
    "authority-outage": ("authorityOutage",),
    "freeze-mid-anchor": ("freezeMidAnchor",),
    "long-node-outage": ("longNodeOutage",),
    "monitor-outage": ("monitorOutage",),
}


def measure(run: Run, seen: set[str]) -> dict[str, Any]:
    """Every fault the scenario names, on a node of its own: one figure per report key (empty: none named)."""
    events = {e.kind: e for e in run.scenario.events_of(*EVENTS)}
    if not events:
        return {}
    skip = not_run(run)
    if skip is not None:
        return {key: skip for kind in events for key in EVENTS[kind]}
    size = max(5, min(20, run.scenario.pipeline_batch_size))  # small batches: the faults are about behaviour
    out: dict[str, Any] = {}
    clock = Clock()
    with fault_chain(run) as sub:
        out["setupSeconds"] = clock()
        steps: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
            ("reorg", "reorgShallow", lambda: faults_reorg.shallow(sub, size, seen)),
            ("reorg", "reorgDeep", lambda: faults_reorg.deep(sub, size, seen)),
            ("authority-outage", "authorityOutage", lambda: faults_outages.authority_outage(sub, size, seen)),
            ("freeze-mid-anchor", "freezeMidAnchor", lambda: faults_freeze.freeze_mid_anchor(sub, size, seen)),
            ("long-node-outage", "longNodeOutage",
             lambda: faults_outages.long_outage(sub, events["long-node-outage"], size, seen)),
            ("monitor-outage", "monitorOutage",
             lambda: faults_outages.monitor_outage(sub, events["monitor-outage"], size, seen)),
        ]  # fmt: skip
        for i, (kind, key, step) in enumerate(steps):
            if kind in events:
                started = clock()
                out[key] = step()
                out[key]["faultSeconds"] = round(clock() - started, 3)
            run.advance("faults", 0.5 + 0.5 * (i + 1) / len(steps))
    out["seconds"] = clock()
    return out


# ---------------------------------------------------------------------------- report


def _once(fig: dict[str, Any]) -> str:
    once = fig["exactlyOnce"]
    text = f"{once['anchoredExactlyOnce']:,} / {once['acceptedRecords']:,}"
    if once["missing"] or once["duplicated"]:
        text += f" ({once['missing']} missing, {once['duplicated']} twice)"
    return text + (" ok" if once["ok"] else " NOT OK")


def _rows(m: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    f = m.get("reorgShallow")
    if f and f["run"]:
        rows.append([
            f"reorganisation at {f['confirmationsAtReorg']} of {f['confirmationsWanted']} confirmations"
            f" ({f['depth']} block(s))",
            "the anchorer was still waiting for its confirmations; its transaction vanished with the block;"
            f" after its {rp.num(f['txTimeoutSeconds'], 1)} s transaction timeout it sent it again (higher fee)"
            + ("" if f["resent"] else " — not observed") + (f"; errors: {'; '.join(f['anchorerErrors'])}"
                                                          if f["anchorerErrors"] else ""),
            _once(f),
            f"— → {f['verdictAfter']}",
            rp.num(f["secondsToAnchoredAgain"], 2),
        ])  # fmt: skip
    f = m.get("reorgDeep")
    if f and f["run"]:
        gone, after = f["whileGone"], f["after"]
        saw = gone["indexerSaw"]
        rows.append([
            f"reorganisation of {f['depth']} blocks, deeper than {f['confirmationsWanted']} confirmations",
            f"batch anchored, confirmed {f['before']['confirmations']} times, indexed, bundles written; then its"
            f" block vanished. Outbox still said {gone['outboxSays']!r}; indexer "
            + (f"rolled back from block {saw['cursor']} to {saw['ancestor']}" if saw else "saw nothing")
            + f"; monitor {'re-read the reorganised blocks' if gone['monitorSawReorganisation'] else 'saw nothing'}"
            f" ({after['monitorFindings'] + gone['monitorFindings']} finding(s)); the next anchoring run "
            + ("found it gone and anchored it again" if f["rerunReanchored"] else "did NOT anchor it again")
            + ("; an old bundle names the vanished transaction: its verdict shows the chain's block and no"
               " transaction"
               if after["oldBundleNamesGoneTransaction"] else ""),
            _once(f),
            f"bundle {f['before']['verdict']} → {gone['verdict']} → {after['verdict']}; by content hash"
            f" {f['before']['verdictByHash']} → {gone['verdictByHash']} → {after['verdictByHash']}",
            rp.num(f["secondsToAnchoredAgain"], 2),
        ])  # fmt: skip
    f = m.get("authorityOutage")
    if f and f["run"]:
        rows.append([
            f"time-stamp authority down (HTTP 503), {f['attemptsPerBatch']} attempts per batch",
            f"anchoring fails the batch, it does not continue without a token: {len(f['errorsSeen'])} run(s)"
            f" stopped with one error line, {rp.num(f['pendingWhileDown'])} records pending, nothing anchored without"
            f" its token; authority back: one re-run anchored {rp.num(f['rerunAnchored'])} with"
            f" {sum(f['rerunTokensPerBatch'])} token(s)",
            _once(f),
            f"{f['verdictOfEarlierBatch']} (earlier batch) · {(f['tokenAfter'] or {}).get('verdict', '—')} after",
            rp.num(f["recoverySeconds"], 2),
        ])  # fmt: skip
    f = m.get("freezeMidAnchor")
    if f and f["run"]:
        said = (f["errorsSeen"] or ["—"])[0].split(": ", 2)[-1]  # from the contract's error on
        rows.append([
            f"registry frozen between two batches (block {f['frozenAtBlock']})",
            f"{rp.num(f['anchoredInFrozenRegistry'])} anchored before the freeze, {rp.num(f['pendingAfterFreeze'])}"
            f" refused and kept pending; the run and a re-run each said: “…{said}”;"
            f" the same outbox on the successor anchored {rp.num(f['rerunOnSuccessorAnchored'])}",
            _once(f),
            f"{f['verdictBefore']} → {f['verdictAfterFreeze']} (frozen registry), {f['verdictAgainstSuccessor']}"
            f" via the successor; successor's bundle {f['verdictOfSuccessorBundle']}",
            rp.num(f["recoverySeconds"], 2),
        ])  # fmt: skip
    f = m.get("longNodeOutage")
    if f and f["run"]:
        token = f["inFlightBatchToken"] or {}
        rows.append([
            f"node down {rp.num(f['chainHoursSkipped'], 1)} h (chain clock; {rp.num(f['wallSecondsStopped'], 1)} s"
            " frozen by SIGSTOP at a broadcast)",
            f"{f['anchoringRuns']} anchoring run(s); the anchorer gave up with: {'; '.join(f['errorsSeen']) or '—'};"
            " the transaction sent into the frozen node was "
            + ("mined when it resumed and found by its receipt" if f["inFlightTransactionMinedAfterResume"]
               else "lost and built again")
            + f"; blocks {rp.num(f['hoursBetweenBatchBlocks'], 1)} h apart. That batch's token (taken before the"
            f" outage) {token.get('token', '—')} with its block by"
            f" {rp.num(abs(token.get('offsetSeconds') or 0) / 3600, 1)} h",
            _once(f),
            f"{f['verdictBefore']} → {f['verdictDuring']} → {f['verdictAfter']}",
            rp.num(f["recoverySeconds"], 2),
        ])  # fmt: skip
    f = m.get("monitorOutage")
    if f and f["run"]:
        rows.append([
            f"monitor down for {rp.num(f['downForBlocks'])} blocks ({rp.num(f['chainHoursSkipped'], 1)} h)",
            f"restarted: one pass read blocks {f['caughtUpFromBlock']} to {f['caughtUpToBlock']} and reported"
            f" {', '.join(f['findings']) or 'nothing'}; next pass {f['findingsOnNextPass']} new;"
            f" {'each alert once' if f['alertedOnce'] else 'ALERTS REPEATED OR LOST'}",
            _once(f),
            f"forged anchor: {f['forgedAnchorVerdict']} (until the key is marked)",
            rp.num(f["catchUpSeconds"], 2),
        ])  # fmt: skip
    return rows


def section(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """The HTML section: one row per fault (what happened, exactly once, verdicts, time to recover)."""
    del plots
    m = report["faults"].get("thatMatter") or {}
    out = ['<section id="faults-that-matter"><h2>Faults that matter</h2>']
    if not m:
        out.append("<p>The scenario names none of these faults.</p></section>")
        return "".join(out)
    skipped = [k for k, v in m.items() if isinstance(v, dict) and not v.get("run", True)]
    if skipped:
        out.append(f"<p>Not run ({rp._e(m[skipped[0]]['why'])}): {rp._e(', '.join(skipped))}.</p>")
    rows = _rows(m)
    if rows:
        out.append(
            "<p>On a second anvil node of their own (so that reorganising it and moving its clock by hours"
            " leaves the other phases' chain alone), each fault with its own outbox; the exactly-once count reads"
            " the chain's BatchAnchored events and the manifests they name, not the outbox. Verdicts are of one"
            " record's bundle, read from the chain before → during → after."
            f" {rp.num(m.get('seconds'), 1)} s in all.</p>"
        )
        out.append(
            rp.table(["fault", "what happened", "exactly once (chain)", "verdicts", "recovery (s)"], rows, "faults")
        )
    out.append("</section>")
    return "".join(out)


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One summary line: were the records of every injected fault anchored exactly once."""
    m = report["faults"].get("thatMatter") or {}
    figs = [v for v in m.values() if isinstance(v, dict) and v.get("run") and "exactlyOnce" in v]
    if not figs:
        return []
    ok = sum(1 for f in figs if f["exactlyOnce"]["ok"])
    deep = m.get("reorgDeep") or {}
    note = ""
    if deep.get("run"):
        verdicts = [deep["before"]["verdict"], deep["whileGone"]["verdict"], deep["after"]["verdict"]]
        note = "deep reorganisation: " + " → ".join(verdicts)
    return [["faults with every record anchored exactly once", f"{ok} / {len(figs)}", note]]
