"""Governance in practice (issue 25, item 5): the story's figures agree with the chain.

One story per module (scaled days on one anvil node): proposals against their expiry, a lost key, a colluding
majority, a freeze and migration. Each test checks what the figure says against the contracts' own state
and against verdicts computed again here, never against hard-coded numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anvil_fixtures import start_anvil

from registry.chain.client import Chain, connect
from registry.chain.dev import dev_signer
from registry.config import EMBEDDED
from registry.errors import InputError
from registry.evaluate import govreport, govstory
from registry.evaluate.context import Run
from registry.evaluate.govclock import Clock
from registry.evaluate.scenario import load_scenario, parse_scenario


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, dict[str, Any]]]:
    """The story of the default scenario on one anvil node (eth-tester would take minutes: ~900 blocks)."""
    work = tmp_path_factory.mktemp("gov")
    node = start_anvil(work / "chain")
    try:
        sc = load_scenario(builtin="default")
        run = Run(sc, sc.seed, Chain(connect(node.rpc_url, timeout=60)), "anvil", node.rpc_url, work, node.chain)
        run.home.mkdir(parents=True, exist_ok=True)
        figure = govstory.measure(run)
        json.dumps(figure)  # plain JSON values only
        yield run, figure
    finally:
        node.chain.stop()


def _acts(figure: dict[str, Any], pattern: str) -> list[dict[str, Any]]:
    return [a for a in figure["acts"] if re.fullmatch(pattern, a["act"])]


@pytest.mark.anvil
def test_proposals_against_their_expiry(story: tuple[Run, dict[str, Any]]) -> None:
    run, g = story
    from registry.chain.client import Chain as C

    chain = C(run.chain.w3)
    chain.bind(_deployment(run, g["registry"]))
    outcomes = {p["outcome"] for p in g["proposals"]}
    changed = next(
        p["createdBlock"] for p in g["proposals"] if p["action"] == "set-rule" and p["outcome"] == "executed"
    )
    assert {"executed", "expired", "cancelled"} <= outcomes
    for p in g["proposals"]:
        view = chain.proposal(p["id"])
        assert view.executed == (p["outcome"] == "executed")
        assert view.cancelled == (p["outcome"] == "cancelled")
        ttl = g["rule"]["ttlBlocks"] * (2 if p["createdBlock"] > changed else 1)  # the majority doubled it in C
        assert view.expires_block == p["expiresBlock"] == p["createdBlock"] + ttl
        days = [a["day"] for a in p["approvals"]]
        assert days == sorted(days) and days[0] == p["createdDay"]
    expired = next(p for p in g["proposals"] if p["outcome"] == "expired")
    late = [a for a in expired["approvals"] if a["outcome"] == "ProposalExpired"]
    early = [a for a in expired["approvals"] if a["outcome"] == "ok"]
    assert late and all(a["day"] > expired["expiresDay"] for a in late)  # refused because too late
    assert len(early) >= 2 and all(a["day"] <= expired["expiresDay"] for a in early)
    assert expired["outcomeDay"] > expired["expiresDay"]
    executed = next(p for p in g["proposals"] if p["outcome"] == "executed" and p["action"] == "admit")
    spread = [a["day"] for a in executed["approvals"]]
    assert spread[-1] - spread[0] >= 2  # approvals over days ...
    assert executed["outcomeDay"] <= executed["expiresDay"]  # ... executed in time
    assert any(x["outcome"] == "ThresholdNotReached" for x in executed.get("attempts", []))
    cancelled = next(p for p in g["proposals"] if p["outcome"] == "cancelled")
    assert any(a["outcome"] == "ProposalIsCancelled" for a in cancelled["approvals"])
    # Days come from block timestamps: the scale holds (about blocks_per_day blocks per day).
    assert g["scale"]["ttlBlocks"] == round(g["scale"]["ttlDays"] * g["scale"]["blocksPerDay"])
    assert g["scale"]["blocks"] >= g["scale"]["days"] * g["scale"]["blocksPerDay"] * 0.9


def _deployment(run: Run, anchor_registry: str) -> Any:
    return Chain.for_registry(run.chain.w3, anchor_registry).deployment


@pytest.mark.anvil
def test_lost_key_replaced_old_records_still_verify(story: tuple[Run, dict[str, Any]]) -> None:
    _, g = story
    old = next(p for p in g["probes"] if p["name"] == "JP record, old key")
    new = next(p for p in g["probes"] if p["name"] == "JP record, new key")
    assert {s["verdict"] for s in old["series"]} == {"VERIFIED"}  # before, during and after the replacement
    assert {s["verdict"] for s in new["series"]} == {"VERIFIED"}
    assert old["series"][0]["day"] < new["series"][0]["day"]
    assert _acts(g, "execute #\\d+")  # governance acted
    consent = [a for a in g["acts"] if a["outcome"] == "OfficeConsentMissing"]
    assert consent and consent[0]["chapter"] == "B"  # an active office's keys are not governance's to replace
    lost = _acts(g, "the lost key anchors for JP")[0]
    assert lost["outcome"] == "NotAnActiveSigner"
    states = [s["state"] for s in next(a for a in g["actors"] if a["office"] == "JP")["series"]]
    assert [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]][:4] == [
        "active",
        "key lost",
        "suspended",
        "active",
    ]


@pytest.mark.anvil
def test_colluding_majority(story: tuple[Run, dict[str, Any]]) -> None:
    run, g = story
    c = g["collusion"]
    held = {a["attempt"]: a for a in c["attempts"]}
    assert held["revoke WO's batch"]["outcome"] == "UnknownBatch"
    assert held["anchor a record with WO's id in its own batch"]["outcome"] == "verdict UNAUTHORISED"
    assert held["relabel that bundle as WO's"]["outcome"] == "verdict UNKNOWN"
    assert held["mark WO's key compromised from day 0 while WO is active"]["outcome"] == "OfficeConsentMissing"
    # Contracts 3.1.0: once it has suspended the victim the majority is refused too; nothing is broken.
    assert held["the same mark, WO suspended"]["outcome"] == "MarkBeforeDeactivation; WO's day-0 record VERIFIED"
    assert held["the same mark, WO suspended"]["guaranteeHeld"] is True
    assert g["guaranteesBroken"] == []
    assert set(g["guaranteesBroken"]) == {a["attempt"] for a in c["attempts"] if a["guaranteeHeld"] is False}
    victim = next(p for p in g["probes"] if p["name"] == "WO record, day 0")
    assert {s["verdict"] for s in victim["series"]} == {"VERIFIED"}  # before, during and after the collusion
    suspended_at = next(a["day"] for a in c["attempts"] if a["attempt"].startswith("suspend WO"))
    chain = Chain.for_registry(run.chain.w3, g["registry"])
    assert chain.compromised_from("WO", str(dev_signer("WO").address)) is None  # type: ignore[union-attr]
    # The recovery path without the victim stays possible (a power, announced), its new record VERIFIED.
    captured = next(a for a in c["attempts"] if a["attempt"].startswith("replace WO's keys"))
    assert captured["guaranteeHeld"] is None and "VERIFIED" in captured["outcome"]
    # Who saw it: the victim's own monitor alerts at once (its suspension, its re-keying), a bystander office's
    # alerts on the re-keying only, a witness too.
    mons = c["monitors"]
    assert mons["victim"]["alerts"] >= 1 and mons["victim"]["firstAlertDay"] is not None
    assert mons["victim"]["firstAlertDay"] <= suspended_at  # the victim learns of its suspension at once
    assert mons["victim"]["kinds"]["alert governance-without-consent"] == 2  # suspended, re-keyed
    assert mons["bystander"]["kinds"].get("alert office-rekeyed-without-consent") == 1
    assert mons["bystander"]["alerts"] == 1
    assert all(k.startswith("notice governance-") for k in mons["bystander"]["kinds"] if k.startswith("notice"))
    assert mons["witness"]["kinds"].get("alert office-rekeyed-without-consent") == 1
    assert mons["bystander"]["findings"] < mons["witness"]["findings"]  # a witness sees every governance act
    assert mons["witness"]["findings"] >= len(
        [
            a
            for a in g["acts"]
            if a["chapter"] == "C" and a["outcome"] == "ok" and a["act"].startswith(("propose", "execute"))
        ]
    )


@pytest.mark.anvil
def test_freeze_and_migration(story: tuple[Run, dict[str, Any]]) -> None:
    run, g = story
    first = Chain.for_registry(run.chain.w3, g["registry"])
    successor = Chain.for_registry(run.chain.w3, g["successor"])
    assert first.frozen_at() == g["frozenAtBlock"] > 0
    assert first.successor().lower() == g["successor"].lower()
    assert successor.predecessor().lower() == g["registry"].lower()
    assert _acts(g, "EP anchors in the frozen registry")[0]["outcome"] == "RegistryFrozen"
    for p in g["probes"]:  # auditors pinned on either registry agree on every bundle of both
        assert p["finalSuccessor"] == p["final"], p["name"]
    assert {p["registry"] for p in g["probes"]} == {"first", "successor"}
    assert all(p["final"] == "VERIFIED" for p in g["probes"] if p["registry"] == "successor")
    assert g["newVersionNamesOld"]
    # After the freeze the frozen registry's majority suspends EP but cannot mark its key without it (3.1.0).
    after = next(a for a in g["collusion"]["attempts"] if a["attempt"].startswith("after the freeze"))
    last = next(p for p in g["probes"] if p["name"] == "EP record, before the freeze")
    assert first.compromised_from("EP", str(dev_signer("EP").address)) is None  # type: ignore[union-attr]
    assert after["outcome"].startswith("FrozenRegistryConsentMissing")
    assert last["final"] == last["finalSuccessor"] == "VERIFIED"
    assert after["guaranteeHeld"] is True


@pytest.mark.anvil
def test_a_new_version_in_the_successor_supersedes(story: tuple[Run, dict[str, Any]]) -> None:
    _, g = story
    old = next(p for p in g["probes"] if p["name"] == "EP record, day 0")
    assert old["final"] == "SUPERSEDED"
    assert old["finalSuccessor"] == "SUPERSEDED"  # auditors pinned on either registry


@pytest.mark.anvil
def test_plot_and_section_fit(story: tuple[Run, dict[str, Any]], tmp_path: Path) -> None:
    _, g = story
    gov = {"events": [], "practice": g, "rule": "r", "requiredNow": 3, "activeNow": 5, "notes": ["<b>"]}
    png = govreport.plot(gov, tmp_path / "governance.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = govreport.section({"governance": gov}, {"governance": png})
    assert "&lt;b&gt;" in page and "<b>" not in page
    for table in re.findall(r"<table.*?</table>", page, re.S):
        head = re.search(r"<thead><tr>(.*?)</tr></thead>", table, re.S)
        assert head is not None and head.group(1).count("<th>") <= 5  # narrow tables (1280 px page)
    for p in g["probes"]:
        days = [s["day"] for s in p["series"]]
        assert days == sorted(days) and days[0] >= 0 and days[-1] <= g["scale"]["days"]
    rows = govreport.summary_rows({"governance": gov})
    assert rows and all(len(r) == 3 for r in rows)


def test_clock_days_follow_the_chain(tmp_path: Path) -> None:
    sc = load_scenario(builtin="small")
    run = Run(sc, sc.seed, Chain(connect(EMBEDDED)), "embedded", EMBEDDED, tmp_path)
    clock = Clock(run, run.chain, 12)
    first = clock.block
    clock.advance_to(2.5)
    assert clock.day() == pytest.approx(2.5, abs=0.01)
    assert clock.block - first == pytest.approx(2.5 * 12, abs=1)
    clock.advance_to(1)  # never backwards
    assert clock.day() == pytest.approx(2.5, abs=0.01)


def test_scenario_governance_keys() -> None:
    base = 'name = "t"\n[[offices]]\ncode = "EP"\nweekly_volume = 10\n'
    sc = parse_scenario(base)
    assert (sc.governance_practice, sc.governance_blocks_per_day, sc.governance_ttl_days) == (True, 24, 7.0)
    sc = parse_scenario(base + "[governance]\npractice = false\nblocks_per_day = 6\nttl_days = 3\n")
    assert (sc.governance_practice, sc.governance_blocks_per_day, sc.governance_ttl_days) == (False, 6, 3.0)
    for bad in ("practice = 1", "blocks_per_day = 0", "ttl_days = 100", "other = 1"):
        with pytest.raises(InputError, match=bad.split(" =")[0]):
            parse_scenario(base + "[governance]\n" + bad + "\n")
