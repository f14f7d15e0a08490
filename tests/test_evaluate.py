"""``ipreg evaluate``: scenario validation, deterministic workloads, and whole runs whose figures agree.

The embedded-chain run (in-process EVM) is shared by the consistency tests and the browser test;
an anvil run (marked ``anvil``) adds what only a real node allows: interval mining, a node outage,
a killed anchoring process, storage growth from the tracer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registry.errors import InputError
from registry.evaluate.runner import evaluate, plan_workload
from registry.evaluate.scenario import load_scenario, parse_scenario
from registry.evaluate.workload import fingerprint, office_records, split

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
IPREG = str(Path(sys.executable).with_name("ipreg"))

#: A scenario small enough for the test suite; its name and description carry markup the report must escape.
TINY = """
name = "tiny <b>"
description = "test run <script>alert(1)</script>"
seed = 7

[chain]
block_time = 1
confirmations = 2

[cost]
gas_price_gwei = 12.5
eth_price = 2000
currency = "CHF"
batch_sizes = [1, 100, 10000]
per_record_samples = 2
eas_attest_samples = 2
eas_multi_attest_sizes = [1, 5]

[pipeline]
batch_size = 25

[latency]
arrival = "burst"
rounds = 2
records_per_round = 4

[verify]
samples = 5

[probes]
tampered = 2
revoked = 1
superseded = 1
unknown = 1
unauthorised = 2

[[offices]]
code = "EP"
weekly_volume = 60
kinds = { st96-patent = 0.5, st97-json = 0.2, pdf = 0.1, sealed = 0.2 }

[[offices]]
code = "EM"
weekly_volume = 30
kinds = { st96-trademark = 1.0 }

[[events]]
kind = "node-outage"
seconds = 1

[[events]]
kind = "kill-anchorer"

[[events]]
kind = "admit"
office = "KR"
name = "Korean Intellectual Property Office"

[[events]]
kind = "rotate-key"
office = "EP"

[[events]]
kind = "compromise-key"
office = "EP"

[[events]]
kind = "suspend"
office = "EM"
"""


# ---------------------------------------------------------------------------- scenarios


def test_builtin_scenarios_parse() -> None:
    default, small = load_scenario(), load_scenario(builtin="small")
    assert default.weekly_volume > small.weekly_volume > 0
    assert {e.kind for e in default.events} >= {"node-outage", "kill-anchorer", "admit", "suspend", "rotate-key"}
    assert max(default.batch_sizes) == 100_000 and min(default.batch_sizes) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("weekly_volume = 60", "weekly_volume = -1"), "weekly_volume"),
        (("sealed = 0.2", "sealed = 0.3"), "add up to"),
        (("st97-json", "st99-json"), "unknown kind"),
        (('code = "EM"', 'code = "em"'), "ST.3 code"),
        (("block_time = 1", "block_time = 1.5"), "whole seconds"),
        (('kind = "kill-anchorer"', 'kind = "meteor"'), "events[1].kind"),
        (("[latency]", "[latncy]"), "unknown key"),
        (("seed = 7", "seed = 7\nseed = 8"), "not valid TOML"),
        (('office = "KR"', 'office = "EP"'), "already a scenario office"),
    ],
)
def test_bad_scenarios_name_the_problem(change: tuple[str, str], message: str) -> None:
    text = TINY.replace(*change, 1)
    assert text != TINY
    with pytest.raises(InputError, match=re.escape(message)):
        parse_scenario(text, "bad.toml")


def test_split_is_exact() -> None:
    for total in (0, 1, 7, 99, 1000):
        counts = split(total, (("a", 0.5), ("b", 0.3), ("c", 0.2)))
        assert sum(counts.values()) == total
        assert all(abs(counts[k] - total * f) < 1 for k, f in (("a", 0.5), ("b", 0.3), ("c", 0.2)))


def test_workload_is_deterministic_and_never_repeats_an_id() -> None:
    sc = parse_scenario(TINY)

    def draw(seed: int) -> tuple[str, list[str]]:
        seen: set[str] = set()
        loads = [office_records(o, 40, seed, part, seen) for part in ("a", "b", "c") for o in sc.offices]
        ids = [f.record_id for x in loads for f in (*x.published, *x.sealed)]
        return fingerprint(loads), ids

    first, ids = draw(7)
    again, _ = draw(7)
    other, _ = draw(8)
    assert first == again != other
    assert len(ids) == len(set(ids)) == 3 * 2 * 40


# ---------------------------------------------------------------------------- a whole run, embedded


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("evaluate-embedded")
    scenario = parse_scenario(TINY, "tiny.toml")
    evaluate(scenario, "embedded", out)
    body: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return out, body


def test_report_files(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    out, body = embedded_run
    for name in body["plots"].values():
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert set(body["plots"]) == {"cost", "growth", "network", "latency", "throughput", "governance", "alternatives"}
    env = body["environment"]
    assert env["project"].startswith("ipreg ") and env["cpuCount"] >= 1
    assert env["contractsCompiler"].startswith("0.8.37") and "eas-contracts 1.9.0" in env["easContracts"]
    assert env["chainKind"] == "embedded" and env["chainClient"]


def test_cost_figures_agree(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = embedded_run
    cost = body["cost"]
    rate = 12.5e-9 * 2000
    batches = cost["anchorBatch"]
    assert [b["batchSize"] for b in batches] == [1, 100, 10_000]
    for b in batches:
        assert b["gasPerRecord"] == pytest.approx(b["gas"] / b["batchSize"])
        assert b["fiatPerBatch"] == pytest.approx(b["gas"] * rate)
    gases = [b["gas"] for b in batches]
    assert max(gases) - min(gases) < 100  # a batch's cost does not grow with its size
    assert cost["oneTxPerRecord"]["gasPerRecord"] == pytest.approx(batches[0]["gas"], rel=0.01)
    assert cost["easAttest"]["gasPerRecord"] > 2 * batches[0]["gas"]
    assert [m["batchSize"] for m in cost["easMultiAttest"]] == [1, 5]
    assert all(m["gasPerRecord"] > 100 * batches[1]["gasPerRecord"] for m in cost["easMultiAttest"])
    growth = cost["growth"]
    assert growth["batchesPerYear"] == 52 * (3 + 2)  # ceil(60/25) + ceil(30/25) per week
    year = growth["perYear"]["anchorBatch"]
    assert year["logBytes"] == pytest.approx(growth["perBatch"]["logBytes"] * growth["batchesPerYear"])
    assert growth["perYear"]["easAttest"]["transactions"] == 52 * 90


def test_pipeline_and_interoperability_counts_agree(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = embedded_run
    tp, inter, wl = body["throughput"], body["interoperability"], body["workload"]
    assert tp["records"] == tp["bundles"] == wl["pipelineRecords"] == 90
    assert sum(o["records"] for o in tp["offices"]) == tp["records"]
    assert inter["bundles"] == tp["bundles"]
    assert inter["contractView"]["accepted"] == inter["openZeppelin"]["accepted"] == inter["both"] == inter["bundles"]
    assert inter["sealedBundles"] == wl["sealedRecords"] == 12
    lat = body["latency"]
    assert lat["records"] == wl["latencyRecords"] == 2 * 2 * 4 and len(lat["samples"]) == lat["batches"] == 4
    inclusion = lat["stages"]["inclusion"]
    assert inclusion["p50"] <= inclusion["p90"] <= inclusion["max"] and inclusion["count"] == 4
    assert lat["endToEnd"]["p50"] >= inclusion["p50"]
    assert body["rates"]["verify"]["verdicts"] == {"VERIFIED": 5}
    assert body["rates"]["audit"]["ok"]


def test_exactly_once_counts_every_accepted_record(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = embedded_run
    once = body["faults"]["exactlyOnce"]
    superseded = sum(1 for r in body["verdicts"]["rows"] if r["probe"] == "superseded")
    expected = body["throughput"]["records"] + body["latency"]["records"] + superseded
    assert once["ok"] and once["acceptedRecords"] == once["anchoredExactlyOnce"] == expected
    assert once["missing"] == once["duplicated"] == once["unexpected"] == once["rootsAnchoredTwice"] == 0
    unauthorised = sum(1 for r in body["verdicts"]["rows"] if r["probe"] == "unauthorised")
    assert once["pricingBatchEvents"] == 3 + 2 + unauthorised  # priced and probe batches, counted apart
    assert not body["faults"]["nodeOutage"]["run"] and not body["faults"]["killedAnchorer"]["run"]


def test_privacy_and_verdicts(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = embedded_run
    pv = body["privacy"]
    assert pv["sealedRecords"] == 12 and pv["recordsWithDisclosure"] == 0 and pv["manifestShapeOnlyOfficeAndCommitment"]
    assert pv["revealsChecked"] == pv["revealsVerified"] == pv["wrongSaltRejected"] == pv["withoutRevealNotVerified"]
    rows = body["verdicts"]["rows"]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["probe"]] = counts.get(r["probe"], 0) + 1
        assert r["obtained"] == r["expected"], r
    assert counts == {"control": 1, "tampered": 2, "revoked": 1, "superseded": 1, "unknown": 1, "unauthorised": 2}
    assert body["verdicts"]["matched"] == len(rows)


def test_governance_timeline(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = embedded_run
    events = {e["event"]: e for e in body["governance"]["events"]}
    assert list(events) == ["admit", "rotate-key", "compromise-key", "suspend"]
    admit, rotate, compromise, suspend = (events[k] for k in ("admit", "rotate-key", "compromise-key", "suspend"))
    for decided in (admit, suspend):  # approvals by governance: as many as the rule required then
        approvers, needed = re.fullmatch(
            r"(.*) \((\d+) needed of (\d+) active offices\)", decided["approvals"]
        ).groups()[:2]
        assert len(approvers.split(", ")) == int(needed) >= 2
    assert "refused" in admit["note"].split(";")[0] and admit["note"].endswith("after: new anchor VERIFIED")
    assert rotate["verdictBefore"] == rotate["verdictAfter"] == "VERIFIED"  # old anchors stay authorised
    assert "old key after: anchoring refused" in rotate["note"] and rotate["transactions"] == 2
    assert compromise["verdictBefore"] == compromise["verdictAfter"] == "VERIFIED"  # anchors before the mark
    assert re.search(r"at block \d+: VERIFIED -> UNAUTHORISED", compromise["note"]), compromise["note"]
    # The office's monitor reports the forged anchor at once (embedded chain: confirmed when mined).
    seen = compromise["monitor"]
    assert seen["finding"] == "anchor-not-in-outbox" and seen["blocksToFinding"] == 0
    assert (seen["verdictBefore"], seen["verdictAfter"]) == ("VERIFIED", "UNAUTHORISED")
    assert seen["secondsToMark"] >= seen["secondsToFinding"] > 0
    assert "before: new anchor VERIFIED" in suspend["note"] and "after: anchoring refused" in suspend["note"]
    assert all(e["blocks"] >= e["transactions"] >= 1 for e in events.values())
    assert body["governance"]["activeNow"] == 5  # 5 genesis + KR - EM


def test_html_is_escaped_and_summary_first(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    out, body = embedded_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "tiny &lt;b&gt;" in page
    assert page.index('id="summary"') < page.index('id="cost"') < page.index('id="verdicts"')
    assert page.count("data:image/png;base64,") == len(body["plots"])
    assert "http://" not in page.replace("http://www.w3.org", "")  # readable offline: nothing to fetch


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("sealed = 0.2", "sealed = 0.9"), encoding="utf-8")
    for args in (["--chain", "ftp://x", "--scenario", str(bad)], ["--scenario", str(bad)],
                 ["--scenario", str(tmp_path / "missing.toml")]):  # fmt: skip
        proc = subprocess.run(
            [IPREG, "evaluate", "--out", str(tmp_path / "out"), *args], capture_output=True, text=True
        )
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert not (tmp_path / "out" / "report.json").exists()


# ---------------------------------------------------------------------------- the report in a browser


@pytest.mark.browser
def test_report_renders_in_chromium(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    out, body = embedded_run
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "request",
                lambda r: problems.append(f"fetched {r.url}") if not r.url.startswith(("file:", "data:")) else None,
            )
            page.goto((out / "report.html").as_uri())
            expect(page.locator("h2").first).to_have_text("Summary")
            images = page.locator("img")
            expect(images).to_have_count(len(body["plots"]))
            widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            assert all(w > 400 for w in widths), widths
            rows = page.locator("table.verdicts tbody tr")
            expect(rows).to_have_count(len(body["verdicts"]["rows"]))
            assert page.locator("script").count() == 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "evaluate-report.png"), full_page=True)
            assert problems == [], problems
        finally:
            browser.close()


# ---------------------------------------------------------------------------- anvil


def test_same_scenario_and_seed_same_workload(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = embedded_run
    assert body["workload"] == plan_workload(parse_scenario(TINY), 7)[3]
    assert body["workload"]["fingerprint"] != plan_workload(parse_scenario(TINY), 8)[3]["fingerprint"]


@pytest.mark.anvil
def test_anvil_run_with_faults(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [IPREG, "evaluate", "--chain", "anvil", "--scenario", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "report:" in proc.stdout and "EAS attest" in proc.stdout
    logged = [line.split(" (")[0] for line in proc.stderr.splitlines() if line.startswith("evaluate: ")]
    assert logged and logged == sorted(set(logged), key=logged.index)  # each phase said once, as it starts
    body = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert body["workload"] == plan_workload(parse_scenario(TINY), 7)[3]  # same scenario + seed, same workload
    assert body["environment"]["chainClient"].startswith("anvil/")
    lat = body["latency"]
    assert lat["intervalMining"] and lat["blockTime"] == 1
    assert lat["endToEnd"]["p50"] > lat["endToEndQbft"]["p50"]  # a second confirmation waits for another block
    outage, kill = body["faults"]["nodeOutage"], body["faults"]["killedAnchorer"]
    assert outage["run"] and outage["pendingAfter"] == 0 and outage["anchored"] == outage["records"]
    assert outage["outageSeconds"] >= 1 and outage["recoverySeconds"] is not None
    assert kill["run"] and kill["rerunAnchored"] >= 1
    once = body["faults"]["exactlyOnce"]
    assert once["ok"] and once["duplicated"] == once["missing"] == 0
    superseded = sum(1 for r in body["verdicts"]["rows"] if r["probe"] == "superseded")
    expected = body["throughput"]["records"] + lat["records"] + superseded + outage["records"] + kill["records"]
    assert once["acceptedRecords"] == once["anchoredExactlyOnce"] == expected
    state = body["cost"]["growth"]["perBatch"]["stateBytes"]
    assert state > 0 and state % 32 == 0  # whole storage slots, from the tracer
    assert all(r["match"] for r in body["verdicts"]["rows"])


def test_exactly_once_check_catches_missing_and_duplicated_records(tmp_path: Path) -> None:
    """The count must fail when a record is accepted but never anchored, or anchored twice."""
    from registry.chain.client import Chain, connect
    from registry.chain.deploy import deploy_dev
    from registry.chain.dev import dev_signer
    from registry.core import merkle
    from registry.core.leaves import LEAF_ENCODING, LeafValue
    from registry.evaluate.context import MANIFEST_BASE, Run
    from registry.evaluate.faults import exactly_once
    from registry.evaluate.pipeline import anchorer_for
    from registry.evaluate.samples import generate_gazette
    from registry.files.ingest import prepare_files
    from registry.store.outbox import Store

    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    run = Run(parse_scenario(TINY), 7, chain, "embedded", "embedded", tmp_path)
    files = generate_gazette(tmp_path / "g", office="EP", count=4, seed=3)
    store = Store(tmp_path / "stores" / "EP.sqlite")
    anchorer = anchorer_for(run, "EP", store, batch_size=10)
    anchorer.submit(prepare_files(files[:3]))
    anchorer.run()
    assert exactly_once(run)["ok"]

    anchorer.submit(prepare_files(files[3:]))  # accepted, not anchored
    missing = exactly_once(run)
    assert not missing["ok"] and missing["missing"] == 1 and missing["anchoredExactlyOnce"] == 3

    record = store.batch_records(store.batches("EP")[0].id)[0]  # anchored again in a second batch
    values = [LeafValue(record.record_id, record.content_hash, record.canonicalization, record.supersedes),
              LeafValue("EP:4999999:B1", "0x" + "11" * 32, "raw")]  # fmt: skip
    root = "0x" + merkle.MerkleTree.from_leaves([v.leaf() for v in values]).root.hex()
    (run.manifest_dir / "EP").mkdir(parents=True, exist_ok=True)
    (run.manifest_dir / "EP" / f"{root}.json").write_text(
        json.dumps({"office": "EP", "root": root, "leafEncoding": list(LEAF_ENCODING),
                    "values": [v.as_list() for v in values]}), encoding="utf-8")  # fmt: skip
    account = dev_signer("EP")
    assert account is not None
    chain.anchor_batch(account, bytes.fromhex(root[2:]), 2, f"{MANIFEST_BASE}/EP/{root}.json")
    twice = exactly_once(run)
    assert not twice["ok"] and twice["duplicated"] == 1 and twice["unexpected"] == 1
    store.close()


def test_runtime_code_does_not_import_the_evaluation() -> None:
    code = (
        "import sys, registry.cli, registry.api, registry.anchor.pipeline, registry.verify.verdicts;"
        "import registry.audit.run;"
        "registry.cli._register();"
        "print(sorted(m for m in sys.modules if m.startswith('registry.evaluate') or m.startswith('matplotlib')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_timestamp_costs_are_reported_per_batch_and_per_record(embedded_run: tuple[Path, dict[str, Any]]) -> None:
    _out, body = embedded_run
    ts = body["timestamps"]
    assert ts["latencyPerBatchMs"]["median"] > 0 and ts["latencyPerRecordMs"] > 0
    assert 500 < ts["tokenBytes"] < 4096 and ts["bundleBytesPerRecord"] > ts["tokenBytes"]  # base64 in every bundle
    assert ts["manifestBytesPerRecord"] == round(ts["manifestBytesPerBatch"] / ts["batchSize"], 2)
    assert any("RFC 3161" in note for note in body["notes"])
