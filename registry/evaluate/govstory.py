"""Governance in practice: five weeks of an office consortium's governance, on the run's chain, time scaled.

Four chapters on a registry of their own (:mod:`registry.evaluate.govworld`), each act a real
transaction or the contract's own refusal, at scaled days (:mod:`registry.evaluate.govclock`):

A. approvals arriving over days against the proposal's expiry: one executed in time, one whose last
   approval comes too late (``ProposalExpired``), one refused (``ThresholdNotReached``) and withdrawn;
B. an office loses its signing key: governance cannot re-key an active office without its consent,
   so it suspends it, replaces its signers, the new key accepts, the office is reinstated;
C. a colluding majority against one office: what it cannot do (revoke or forge the office's records,
   mark its key retroactively while it is active, nor once it has suspended it: contracts 3.1.0 let a mark
   without the office's approval start only after the office stopped being active; lower the rule below a
   majority) and what it can (change the rule within bounds; suspend it; then the same recovery path as B,
   without the victim: a key of its own in the victim's name, announced on chain so that the victim's and
   every watcher's monitor alert), with the verdicts of probe records and what the victim's, a bystander's
   and a witness's monitors report;
D. a freeze in favour of a successor registry (a second pair of contracts naming its predecessor),
   new batches there, and every bundle of both registries verified by auditors pinned on either; the frozen
   registry's majority suspends an office and tries to mark its key (refused without the office: 3.1.0).

Every probe record's verdict and every office's power to act is sampled after each step.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from registry.chain.client import Chain
from registry.chain.deploy import deploy_offices
from registry.chain.dev import DEV_OFFICES, dev_account
from registry.config import Settings
from registry.core.batch import utc_iso
from registry.core.formats import ProofBundle
from registry.core.leaves import ZERO_HASH, LeafValue
from registry.core.proofs import BatchFacts, build_bundle
from registry.evaluate.context import PRICING_BASE, Run
from registry.evaluate.govworld import Probe, World
from registry.monitor import Monitor, Watch
from registry.verify.verdict import SUPERSEDED, UNAUTHORISED, UNKNOWN, VERIFIED

#: The story's cast: a bystander, the colluders (with the newcomer), the office that loses its key, the victim.
BYSTANDER, VICTIM, LOSER = "EP", "WO", "JP"
COLLUDERS = ("US", "JP", "EM", "KR")
NEWCOMER = ("KR", "Korean Intellectual Property Office", "https://register.kr.example/")


def measure(run: Run) -> dict[str, Any] | None:
    """Play the four chapters; the JSON figure (acts, proposals, probes' verdicts over time, offices' power).

    None (with a note) when the scenario turns the story off, or on the embedded chain: its ~900 blocks take
    eth-tester minutes (it reads logs block by block), anvil ~15 s.
    """
    sc = run.scenario
    if not sc.governance_practice:
        return None
    if run.kind == "embedded":
        run.notes.append(
            "governance in practice (scaled days): not run on the embedded chain (eth-tester needs "
            "minutes for its ~900 blocks); run `ipreg evaluate` on anvil"
        )
        return None
    world = World(run, sc.governance_blocks_per_day, sc.governance_ttl_days)
    try:
        figure = _play(world)
    finally:
        world.close()
    run.advance("governance", 1.0)
    return figure


def _play(w: World) -> dict[str, Any]:
    w.story("setup", "five offices anchor their first records")
    first = {office: w.anchor(office, 2, f"{office}-day0") for office in (BYSTANDER, LOSER, VICTIM)}
    w.probe(f"{BYSTANDER} record, day 0", first[BYSTANDER][0], SUPERSEDED)
    w.probe(f"{LOSER} record, old key", first[LOSER][0], VERIFIED)
    victim = w.probe(f"{VICTIM} record, day 0", first[VICTIM][0], VERIFIED)
    w.snapshot("day 0")
    _expiry(w)
    _lost_key(w)
    seen = _collusion(w, victim)
    migration = _migration(w, first[BYSTANDER][0])
    seen["attempts"].append(migration.pop("afterFreeze"))
    w.clock.advance_to(w.clock.day() + 1)
    w.snapshot("end", verdicts=False)
    return _figure(w, seen, migration)


def _expiry(w: World) -> None:
    """A: approvals over days against the expiry (days placed as fractions of the proposals' life T)."""
    c = w.clock
    t = w.ttl_blocks / c.blocks_per_day
    w.story("A", f"approvals over days; proposals live {w.ttl_blocks} blocks (~{t:g} days)")
    c.advance_to(1)
    kr = w.fresh_key()
    admit = w.propose("EP", "admit", NEWCOMER[0], name=NEWCOMER[1], base_uri=NEWCOMER[2], signer=kr.address)
    assert admit is not None
    c.advance_to(1 + 0.3 * t)
    w.approve("US", admit)
    w.execute("EP", admit, expect="ThresholdNotReached")  # 2 of 3: not yet
    c.advance_to(1 + 0.65 * t)
    w.approve("JP", admit)
    if w.execute("EP", admit):
        w.act(f"{NEWCOMER[0]}'s new key accepts", NEWCOMER[0], lambda: w.chain.accept_signer(kr, NEWCOMER[0]))
        w.offices[NEWCOMER[0]].own, w.offices[NEWCOMER[0]].admitted = kr, True
    w.snapshot("admitted")
    t0 = 1 + 0.8 * t
    c.advance_to(t0)
    late = w.propose(
        "US",
        "admit",
        "CN",
        name="China National IP Administration",
        base_uri="https://register.cn.example/",
        signer=w.fresh_key().address,
    )
    assert late is not None
    c.advance_to(t0 + 0.2 * t)
    w.approve("EP", late)
    c.advance_to(t0 + 0.3 * t)
    refused = w.propose("WO", "suspend", LOSER)
    assert refused is not None
    c.advance_to(t0 + 0.4 * t)
    w.approve("EM", refused)
    w.execute("WO", refused, expect="ThresholdNotReached")
    c.advance_to(t0 + 0.6 * t)
    w.approve("JP", late)
    c.advance_to(t0 + 0.7 * t)
    w.cancel("WO", refused)
    w.approve("US", refused, expect="ProposalIsCancelled")
    c.advance_to(t0 + t + 1)
    w.approve("EM", late, expect="ProposalExpired")
    w.execute("US", late, expect="ProposalExpired")
    w.snapshot("expired")


def _lost_key(w: World) -> None:
    """B: an office loses its key; governance re-keys it (suspend, replace signers, accept, reinstate)."""
    c = w.clock
    c.advance_to(c.day() + 1)
    w.story("B", f"{LOSER} loses its signing key")
    lost = w.offices[LOSER].own
    assert lost is not None
    w.offices[LOSER].own = None
    w.snapshot("key lost", verdicts=False)  # nothing on chain changed
    others = [o for o in ("EP", "US", "EM", "WO", "KR") if o != LOSER]
    new = w.fresh_key()
    c.advance_to(c.day() + 1)
    p = w.propose("EP", "replace-signers", LOSER, nominee=new.address)
    assert p is not None
    for o in others[1:4]:
        w.approve(o, p)
    w.execute("EP", p, expect="OfficeConsentMissing")  # an active office's keys are its own
    c.advance_to(c.day() + 1)
    w.decide("EP", others[1:], "suspend", LOSER)
    w.snapshot("suspended")
    c.advance_to(c.day() + 1)
    w.execute("EP", p)  # the same proposal, now that the office is suspended
    w.act(f"{LOSER}'s new key accepts", LOSER, lambda: w.chain.accept_signer(new, LOSER))
    w.offices[LOSER].own = new
    c.advance_to(c.day() + 1)
    w.decide("EP", others[1:], "reinstate", LOSER)
    bundles = w.anchor(LOSER, 2, f"{LOSER}-new-key")
    w.probe(f"{LOSER} record, new key", bundles[0], VERIFIED)
    w.act(
        f"the lost key anchors for {LOSER}",
        "(finder)",
        lambda: w.chain.anchor_batch(lost, b"\x42" * 32, 1, "https://x.example/lost.json"),
        expect="NotAnActiveSigner",
    )
    w.snapshot("new key")


def _collusion(w: World, probe: Probe) -> dict[str, Any]:
    """C: a majority against one office; what it cannot and can do, and who sees what."""
    c, victim = w.clock, probe.bundle
    c.advance_to(c.day() + 1)
    w.story("C", f"{', '.join(COLLUDERS)} collude against {VICTIM}")
    start = c.block + 1
    lead = COLLUDERS[0]
    attempts: list[dict[str, Any]] = []

    def tried(what: str, outcome: str, held: bool | None) -> None:
        attempts.append({"day": w.clock.day(), "attempt": what, "outcome": outcome, "guaranteeHeld": held})

    # Cannot: revoke the victim's batch, anchor the victim's records as the victim, forge its bundle.
    w.act(
        f"{lead} revokes {VICTIM}'s batch",
        lead,
        lambda: w.chain.revoke_batch(w.key(lead), bytes.fromhex(victim.root[2:]), 1),
        expect="UnknownBatch",
    )
    tried(f"revoke {VICTIM}'s batch", w.acts[-1]["outcome"], w.acts[-1]["outcome"] != "ok")
    forged = [w.probe(f"{VICTIM} id anchored by {lead}", b, UNAUTHORISED) for b in _forge(w, lead, victim)[:1]]
    relabelled = w.probe(f"{lead}'s batch relabelled {VICTIM}", replace(forged[0].bundle, office=VICTIM), UNKNOWN)
    w.snapshot("forgeries")
    for p, what in (
        (forged[0], f"anchor a record with {VICTIM}'s id in its own batch"),
        (relabelled, f"relabel that bundle as {VICTIM}'s"),
    ):
        tried(what, f"verdict {p.series[-1]['verdict']}", p.series[-1]["verdict"] != VERIFIED)
    c.advance_to(c.day() + 1)
    mark = w.propose(lead, "mark-compromised", VICTIM, signer=w.key(VICTIM).address, from_block=victim.block_number)
    assert mark is not None
    for o in COLLUDERS[1:]:
        w.approve(o, mark)
    w.execute(lead, mark, expect="OfficeConsentMissing")
    tried(
        f"mark {VICTIM}'s key compromised from day 0 while {VICTIM} is active",
        w.acts[-1]["outcome"],
        w.acts[-1]["outcome"] != "ok",
    )
    # Can: suspend the victim (no single office can veto) ...
    c.advance_to(c.day() + 1)
    done = w.decide(lead, list(COLLUDERS[1:]), "suspend", VICTIM)
    w.act(
        f"{VICTIM} anchors while suspended",
        VICTIM,
        lambda: w.chain.anchor_batch(w.key(VICTIM), b"\x43" * 32, 1, "https://x.example/wo.json"),
        expect="NotAnActiveSigner",
    )
    w.snapshot("victim suspended")
    tried(f"suspend {VICTIM} (a majority may: no veto)", "executed" if done else w.acts[-2]["outcome"], None)
    # ... then the lost-key path without the victim: the refused retroactive mark stays refused (a mark
    # without the office's approval starts only after its suspension: contracts 3.1.0), but a key of the
    # majority's can be put in the victim's name (the recovery path; announced, so monitors alert).
    c.advance_to(c.day() + 1)
    done = w.execute(lead, mark, expect="MarkBeforeDeactivation")
    w.snapshot("retroactive mark")
    verdict = probe.series[-1]["verdict"]
    tried(
        f"the same mark, {VICTIM} suspended",
        f"{'executed' if done else w.acts[-1]['outcome']}; {VICTIM}'s day-0 record {verdict}",
        verdict == VERIFIED,
    )
    c.advance_to(c.day() + 1)
    theirs = w.fresh_key()
    w.decide(lead, list(COLLUDERS[1:]), "replace-signers", VICTIM, nominee=theirs.address)
    w.act(f"the majority's key accepts for {VICTIM}", lead, lambda: w.chain.accept_signer(theirs, VICTIM))
    w.offices[VICTIM].foreign = theirs
    c.advance_to(c.day() + 1)
    w.decide(lead, list(COLLUDERS[1:]), "reinstate", VICTIM)
    bundles = w.anchor(VICTIM, 1, "captured", outbox="majority")  # from the majority's machine
    captured = w.probe(f"{VICTIM} record by the majority's key", bundles[0], VERIFIED)
    w.snapshot("captured")
    verdict = captured.series[-1]["verdict"]
    tried(  # a power (the lost-key recovery), not a broken guarantee: no earlier verdict changed, monitors alert
        f"replace {VICTIM}'s keys with its own, reinstate, anchor as {VICTIM}",
        f"new record {verdict} (announced: ActedWithoutConsent; {VICTIM}'s and every watcher's monitor alert)",
        None,
    )
    # The rule: within its bounds the majority may change it, never below a majority.
    c.advance_to(c.day() + 0.5)
    rule = w.rule
    w.propose(
        lead, "set-rule", None, "UnsafeRule", numerator=1, denominator=4, min_approvals=2, ttl_blocks=rule.ttl_blocks
    )
    tried("lower the rule to a quarter of the offices", w.acts[-1]["outcome"], w.acts[-1]["outcome"] != "ok")
    done = w.decide(
        lead,
        list(COLLUDERS[1:]),
        "set-rule",
        None,
        numerator=rule.numerator,
        denominator=rule.denominator,
        min_approvals=rule.min_approvals,
        ttl_blocks=2 * rule.ttl_blocks,
    )
    tried("let proposals live twice as long (within bounds)", "executed" if done else w.acts[-1]["outcome"], None)
    return {"fromBlock": start, "toBlock": c.block, "attempts": attempts, "monitors": _monitors(w, start)}


def _forge(w: World, lead: str, victim: ProofBundle) -> list[ProofBundle]:
    """A record with the victim's id in a batch of ``lead``'s own (a batch of one, sent to the contract)."""
    value = victim.value
    forged = LeafValue(value.record_id, "0x" + "66" * 32, value.canonicalization, ZERO_HASH)
    root = forged.leaf()  # a batch of one: the root is the leaf, the proof is empty
    result = w.act(
        f"{lead} anchors a record with {VICTIM}'s id",
        lead,
        lambda: w.chain.anchor_batch(w.key(lead), root, 1, f"{PRICING_BASE}/{lead}/0x{root.hex()}.json"),
    )
    assert result is not None
    facts = BatchFacts(
        w.deployment.chain_id,
        w.deployment.anchor_registry,
        lead,
        "0x" + root.hex(),
        1,
        result.transaction_hash,
        result.block_number,
        utc_iso(result.timestamp),
    )
    return [build_bundle(facts, forged, ())]


def _monitors(w: World, start: int) -> dict[str, Any]:
    """Findings of the victim's, the bystander's and a witness's monitor over the chapter's blocks."""
    out: dict[str, Any] = {}
    for name, watch in (("victim", Watch(VICTIM)), ("bystander", Watch(BYSTANDER)), ("witness", Watch(None))):
        home = w.folder / f"monitor-{name}"
        home.mkdir(exist_ok=True)
        settings = Settings(home=home, rpc_url=w.run.rpc_url)
        store = w.store(watch.office) if watch.office else w.store("witness")
        result = Monitor(w.chain, store, settings, watch, confirmations=1).pass_once(start)
        findings = [json.loads(line) for line in result.delivered]
        kinds = Counter(f"{f['severity']} {f['kind']}" for f in findings)
        alerts = [f for f in findings if f["severity"] == "alert"]
        out[name] = {
            "office": watch.office or "all",
            "findings": len(findings),
            "alerts": len(alerts),
            "firstFindingDay": w.clock.day_of(findings[0]["block"]) if findings else None,
            "firstAlertDay": w.clock.day_of(alerts[0]["block"]) if alerts else None,
            "kinds": dict(sorted(kinds.items())),
        }
    return out


def _migration(w: World, old_bystander: ProofBundle) -> dict[str, Any]:
    """D: freeze in favour of a successor; new batches there; both registries' bundles verified."""
    c = w.clock
    c.advance_to(c.day() + 1)
    w.story("D", "freeze and migration to a successor registry")
    last = w.probe(f"{BYSTANDER} record, before the freeze", w.anchor(BYSTANDER, 1, "before-freeze")[0], VERIFIED)
    honest = {code: (w.offices[code].own or w.key(code)) for code in w.offices}
    genesis = [(code, name, uri, str(honest[code].address)) for code, name, uri in [*DEV_OFFICES, NEWCOMER]]
    successor = Chain(w.run.chain.w3)
    w.act(
        "deploy the successor pair",
        "deployer",
        lambda: deploy_offices(
            successor, dev_account(0), genesis, w.rule, preset="dev", predecessor=w.deployment.anchor_registry
        ),
    )
    assert successor.deployment is not None
    w.successor = successor
    voters = ["US", "JP", "EM", "WO", "KR"]
    freeze = w.propose(BYSTANDER, "freeze", None, successor=successor.deployment.anchor_registry)
    assert freeze is not None
    for i, o in enumerate(voters[:3]):
        c.advance_to(c.day() + 0.5 + 0.5 * i)
        w.approve(o, freeze)
    w.execute(BYSTANDER, freeze)
    w.offices[VICTIM].foreign = None  # the captured registry is left behind; WO signs with its own key again
    w.snapshot("frozen")
    w.act(
        f"{BYSTANDER} anchors in the frozen registry",
        BYSTANDER,
        lambda: w.chain.anchor_batch(w.key(BYSTANDER), b"\x44" * 32, 1, "https://x.example/ep.json"),
        expect="RegistryFrozen",
    )
    c.advance_to(c.day() + 1)
    # A new version of the bystander's day-0 record, and a new record of the victim, in the successor.
    source = Path(w.folder / f"gazette-{BYSTANDER}-day0")
    original = sorted(p for p in source.iterdir() if p.is_file())[0]
    changed = w.folder / "new-version" / original.name
    changed.parent.mkdir(parents=True, exist_ok=True)
    text = original.read_text(encoding="utf-8")
    changed.write_text(text.replace('languageCode="en">', 'languageCode="en">Corrected ', 1), encoding="utf-8")
    newer = w.anchor(BYSTANDER, 0, "successor-new-version", chain=successor, files=[changed])
    w.probe(f"{BYSTANDER} new version, successor", newer[0], VERIFIED)
    fresh = w.anchor(VICTIM, 1, "successor-WO", chain=successor)
    w.probe(f"{VICTIM} record, successor", fresh[0], VERIFIED)
    w.snapshot("successor batches")
    # The frozen registry's governance still acts, but no longer on an office's keys without it (3.1.0): its
    # majority suspends the bystander and tries to reach back into the bystander's last batch.
    c.advance_to(c.day() + 1)
    lead, key = COLLUDERS[0], w.key(BYSTANDER).address
    done = w.decide(lead, list(COLLUDERS[1:]), "suspend", BYSTANDER)
    done = done and w.decide(
        lead,
        list(COLLUDERS[1:]),
        "mark-compromised",
        BYSTANDER,
        expect="FrozenRegistryConsentMissing",
        signer=key,
        from_block=last.bundle.block_number,
    )
    w.snapshot("frozen registry's majority")
    verdict = last.series[-1]["verdict"]
    after = {
        "day": c.day(),
        "attempt": f"after the freeze: suspend {BYSTANDER} in the frozen registry, mark its key from its last batch",
        "outcome": f"{'executed' if done else w.acts[-1]['outcome']}; that batch's record {verdict}",
        "guaranteeHeld": verdict == VERIFIED,
    }
    return {
        "afterFreeze": after,
        "successor": successor.deployment.anchor_registry,
        "frozenAt": w.chain.frozen_at(),
        "supersedes": newer[0].value.supersedes == "0x" + old_bystander.value.leaf().hex(),
    }


def _figure(w: World, seen: dict[str, Any], migration: dict[str, Any]) -> dict[str, Any]:
    w.expiries()
    probes = []
    for p in w.probes:
        last = p.series[-1]
        probes.append(
            {
                "name": p.name,
                "office": p.office,
                "recordId": p.bundle.value.record_id,
                "registry": "successor" if migration["successor"].lower() == p.bundle.registry.lower() else "first",
                "expected": p.expected,
                "final": last["verdict"],
                "finalSuccessor": last.get("successorVerdict"),
                "series": p.series,
            }
        )
    findings = []
    for row in probes:
        finals = {row["final"], row["finalSuccessor"]} - {None}
        if finals != {row["expected"]}:
            findings.append(f"{row['name']}: expected {row['expected']}, auditors say {' / '.join(sorted(finals))}")
    return {
        "scale": {
            "blocksPerDay": w.clock.blocks_per_day,
            "ttlBlocks": w.ttl_blocks,
            "ttlDays": round(w.ttl_blocks / w.clock.blocks_per_day, 2),
            "days": w.clock.day(),
            "blocks": w.clock.block - w.deployment.block_number,
        },
        "registry": w.deployment.anchor_registry,
        "successor": migration["successor"],
        "frozenAtBlock": migration["frozenAt"],
        "newVersionNamesOld": migration["supersedes"],
        "rule": {
            "numerator": w.rule.numerator,
            "denominator": w.rule.denominator,
            "minApprovals": w.rule.min_approvals,
            "ttlBlocks": w.rule.ttl_blocks,
        },
        "chapters": w.stories,
        "acts": w.acts,
        "actsAsExpected": sum(a["asExpected"] for a in w.acts),
        "proposals": sorted(w.proposals.values(), key=lambda p: p["id"]),
        "probes": probes,
        "actors": [{"office": code, "series": series} for code, series in w.actors.items()],
        "collusion": {"colluders": list(COLLUDERS), "victim": VICTIM, "bystander": BYSTANDER, **seen},
        "verdictFindings": findings,
        "guaranteesBroken": [a["attempt"] for a in seen["attempts"] if a["guaranteeHeld"] is False],
        "errors": sorted({a["outcome"] for a in w.acts if a["outcome"] != "ok"}),
    }
