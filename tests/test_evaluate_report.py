"""Time until an auditor can verify (issue 25, item 3) and the report's readability (item 9).

The batching rule and the arrival process are tested on their own; a small embedded run checks that
the per-stage figures agree with each other (each counted in its own unit) and a browser at 1280 px checks
that the page never scrolls sideways and that every table column says what it holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry.errors import InputError
from registry.evaluate import report
from registry.evaluate.runner import evaluate, plan_workload
from registry.evaluate.scenario import load_scenario, parse_scenario
from registry.evaluate.time_to_verify import PERCENTILES, WEEK, form_batches, plan, poisson_times

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DISTS = ("p50", "p90", "p99", "max")


# ---------------------------------------------------------------------------- the batching rule, the arrivals


def test_a_batch_closes_when_full_or_when_the_interval_ends() -> None:
    times = (5.0, 1.0, 3.0, 2.0, 9.0, 4.0, 7.0)
    batches = form_batches(times, batch_size=3, interval=10.0)
    members = [m for m, _ in batches]
    assert sorted(i for m in members for i in m) == list(range(len(times)))  # every record once
    assert [[times[i] for i in m] for m in members] == [[1.0, 2.0, 3.0], [4.0, 5.0, 7.0], [9.0]]  # arrival order
    assert [closes for _, closes in batches] == [3.0, 7.0, 10.0]  # full: at its last arrival; else: the interval
    waits = [closes - times[i] for m, closes in batches for i in m]
    assert min(waits) == 0 and max(waits) <= 10.0


def test_burst_arrivals_wait_for_nothing() -> None:
    batches = form_batches((60.0,) * 5, batch_size=2, interval=60.0)
    assert [len(m) for m, _ in batches] == [2, 2, 1] and {c for _, c in batches} == {60.0}


def test_poisson_arrivals_are_deterministic_and_at_the_rate() -> None:
    assert poisson_times(0.5, 100.0, 1) == poisson_times(0.5, 100.0, 1) != poisson_times(0.5, 100.0, 2)
    counts = [len(poisson_times(0.5, 100.0, seed)) for seed in range(400)]
    mean = sum(counts) / len(counts)
    assert 48 <= mean <= 52  # rate x horizon = 50; the standard error over 400 draws is 0.35
    assert all(0 <= t < 100.0 for t in poisson_times(0.5, 100.0, 3))
    assert poisson_times(0.0, 100.0, 1) == []


def test_plan_follows_the_weekly_volumes() -> None:
    sc = load_scenario(builtin="default")
    rounds = plan(sc, 2026, set())
    assert len(rounds) == sc.latency_rounds and all(len(r) == len(sc.offices) for r in rounds)
    for i, office in enumerate(sc.offices):
        n = sum(r[i].load.count for r in rounds)
        expected = office.weekly_volume * sc.batch_interval / WEEK * sc.latency_rounds
        assert abs(n - expected) <= 4 * expected**0.5 + 1, (office.code, n, expected)
        for r in rounds:
            assert len(r[i].times) == r[i].load.count and all(0 <= t < sc.batch_interval for t in r[i].times)
    again = plan(sc, 2026, set())
    assert [[a.times for a in r] for r in again] == [[a.times for a in r] for r in rounds]


def test_scenario_keys_of_the_time_to_verify() -> None:
    sc = load_scenario(builtin="default")
    assert sc.batch_interval == 3600 and sc.arrival == "poisson"
    old = parse_scenario('[[offices]]\ncode = "EP"\nweekly_volume = 10\n')  # scenarios without the keys still parse
    assert old.batch_interval == 3600 and old.arrival == "poisson"
    with pytest.raises(InputError, match=r"latency\.arrival must be one of poisson, burst"):
        parse_scenario('[latency]\narrival = "steady"\n[[offices]]\ncode = "EP"\nweekly_volume = 10\n')
    with pytest.raises(InputError, match="batch_interval_seconds must be a number"):
        parse_scenario('[pipeline]\nbatch_interval_seconds = 0\n[[offices]]\ncode = "EP"\nweekly_volume = 10\n')


# ---------------------------------------------------------------------------- a whole small run, embedded


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("evaluate-small")
    evaluate(load_scenario(builtin="small"), "embedded", out)
    body: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return out, body


def test_stages_are_counted_in_their_own_units_and_agree(small_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = small_run
    lat, wl = body["latency"], body["workload"]
    st = lat["stages"]
    assert (
        lat["records"]
        == wl["latencyRecords"]
        == plan_workload(load_scenario(builtin="small"), 2026)[3]["latencyRecords"]
    )
    assert st["batchWait"]["unit"] == lat["endToEnd"]["unit"] == lat["endToEndQbft"]["unit"] == "records"
    assert st["batchWait"]["count"] == lat["endToEnd"]["count"] == lat["endToEndQbft"]["count"] == lat["records"]
    assert st["inclusion"]["unit"] == st["finality"]["unit"] == "batches"
    assert st["inclusion"]["count"] == st["finality"]["count"] == lat["batches"] == len(lat["samples"])
    assert sum(s["records"] for s in lat["samples"]) == lat["records"]
    assert st["verdict"]["unit"] == "verifications" and st["verdict"]["count"] == lat["verifications"] > 0
    assert lat["verdicts"] == {"VERIFIED": lat["verifications"]}  # after finality every sampled bundle verifies
    assert st["finalityQbft"]["max"] == 0 and "computed" in st["finalityQbft"]["source"]
    for d in (*st.values(), lat["endToEnd"], lat["endToEndQbft"]):
        assert set(f"p{q}" for q in PERCENTILES) <= set(d) and d["min"] <= d["p50"] <= d["p90"] <= d["p99"] <= d["max"]
    for key in DISTS:  # end to end holds each record's wait, so every percentile is at least the wait's
        assert lat["endToEnd"][key] >= lat["endToEndQbft"][key] >= st["batchWait"][key]
    assert st["batchWait"]["max"] <= lat["batchIntervalSeconds"]
    for s in lat["samples"]:
        assert s["finalBlock"] - s["block"] + 1 >= lat["confirmations"]  # final means N confirmations
        assert s["closesAt"] <= lat["batchIntervalSeconds"] and s["anchoredBatches"] == 1
        assert s["readySeconds"] >= s["inclusionSeconds"] + s["finalitySeconds"] - 1e-9


def test_summary_has_headed_columns_and_units(small_run: tuple[Path, dict[str, Any]]) -> None:
    _, body = small_run
    rows = report.headline(body)
    assert report.SUMMARY_HEAD == ["figure", "measured", "note"] and all(len(r) == 3 for r in rows)
    cost_rows = [r for r in rows if "gas" in r[1]]
    assert cost_rows and all("per record" in r[1] and body["cost"]["currency"] in r[1] for r in cost_rows)
    assert all("records" not in r[2] for r in cost_rows)  # the note says what the price assumes, not a count
    assert any(r[0].startswith("publication → verdict") for r in rows)


def test_summary_takes_rows_from_added_providers(
    small_run: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, body = small_run
    monkeypatch.setattr(report, "SUMMARY_ROWS", [*report.SUMMARY_ROWS, lambda _r: [["extra <row>", "1 unit", "n"]]])
    assert report.headline(body)[-1] == ["extra <row>", "1 unit", "n"]
    page = report.render_html(body, {k: out / v for k, v in body["plots"].items()})
    assert "<td>extra &lt;row&gt;</td>" in page


def test_latency_section_shows_every_stage_with_the_same_percentiles(small_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small_run
    page = (out / "report.html").read_text(encoding="utf-8")
    section = page[
        page.index('<section id="latency">') : page.index("</section>", page.index('<section id="latency">'))
    ]
    assert "<th>p50</th><th>p90</th><th>p99</th><th>max</th>" in section
    for label in ("batch wait", "inclusion", "finality", "verdict served", "end to end, 2 confirmations",
                  "end to end, QBFT"):  # fmt: skip
        assert label in section, label
    assert 'id="throughput"' in page and "anchor transaction → receipt" in page  # phases explained


def _page_problems(page: Any) -> list[str]:
    """Sideways overflow of the page, tables outside a scroll box, columns without a header."""
    problems: list[str] = []
    wide = page.evaluate("document.documentElement.scrollWidth")
    seen = page.evaluate("document.documentElement.clientWidth")
    if wide > seen:
        problems.append(f"page is {wide} px wide in a {seen} px window")
    for t in page.evaluate(
        """Array.from(document.querySelectorAll('table')).map(t => ({
            where: (t.closest('section') || document.body).id,
            boxed: !!t.parentElement.classList.contains('wide'),
            heads: Array.from(t.querySelectorAll('thead th')).map(h => h.textContent.trim()),
            cells: Array.from(t.querySelectorAll('tbody tr')).map(r => r.children.length)}))"""
    ):
        if not t["boxed"]:
            problems.append(f"a table in {t['where']} can widen the page")
        if not t["heads"] or any(not h for h in t["heads"]):
            problems.append(f"a table in {t['where']} has a column without a header: {t['heads']}")
        if any(n > len(t["heads"]) for n in t["cells"]):
            problems.append(f"a table in {t['where']} has more columns than headers")
    return problems


def test_report_fits_1280_px_and_every_column_has_a_header(small_run: tuple[Path, dict[str, Any]]) -> None:
    from playwright.sync_api import sync_playwright

    out, body = small_run
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((out / "report.html").as_uri())
            assert _page_problems(page) == []
            widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            assert len(widths) == len(body["plots"]) and all(w > 400 for w in widths), widths
            captions = page.evaluate("Array.from(document.querySelectorAll('figcaption')).map(c => c.textContent)")
            assert all(len(c) > 20 for c in captions), captions  # a caption says how to read the plot
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "evaluate-report-1280.png"), full_page=True)
        finally:
            browser.close()


def test_the_check_catches_a_wide_table_and_a_missing_header(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><section id="x"><table><thead><tr><th>a</th><th></th></tr></thead><tbody>'
        f"<tr><td>{'x' * 400}</td><td>1</td><td>2</td></tr></tbody></table></section></body></html>",
        encoding="utf-8",
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(bad.as_uri())
            problems = _page_problems(page)
        finally:
            browser.close()
    assert len(problems) == 4, problems
