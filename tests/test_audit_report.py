"""The audit report as a reader sees it: counts that add up, readable columns, plots, self-contained, escaped.

What must never happen: status counts that do not add up to the rows (UNEXPECTED is an overlap, not a
status); a report that loads anything from the network or runs script from a file name; record ids
wrapped letter by letter. The browser test renders a real report in headless Chromium and saves a
screenshot to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_audit import make_scenario

from registry.audit.html import batches_over_time, render_html, time_window
from registry.audit.report import MISSING, AuditReport, AuditRow
from registry.audit.run import audit_folder
from registry.verify.verdict import EXIT_CODES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
STATUSES = [*EXIT_CODES, MISSING]
_PNG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def _report(rows: list[AuditRow], expected: int | None) -> AuditReport:
    report = AuditReport("EP", "folder x", 31337, "0x" + "12" * 20, 100, "2026-12-01T10:00:00Z", rows=rows)
    report.expected_count = expected
    return report


def _total_row(page: str) -> tuple[int, int]:
    m = re.search(r'<tr class="total"><td>Total</td><td class="num">([\d,]+)</td><td class="num">([\d,]+)</td>', page)
    assert m is not None
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


rows_strategy = st.lists(
    st.builds(
        AuditRow,
        status=st.sampled_from(STATUSES),
        reason=st.text(max_size=40),
        record_id=st.one_of(st.none(), st.text(min_size=1, max_size=30)),
        file=st.one_of(st.none(), st.text(min_size=1, max_size=30)),
        expected=st.sampled_from([None, True, False]),
        root=st.one_of(st.none(), st.sampled_from(["0x" + "aa" * 32, "0x" + "bb" * 32])),
        block_number=st.integers(1, 10**6),
        anchored_at=st.sampled_from([None, "2026-11-21T10:00:00Z", "2026-11-28T10:00:00Z"]),
    ),
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, expected=st.one_of(st.none(), st.integers(0, 40)))
def test_counts_add_up_and_everything_is_escaped(rows: list[AuditRow], expected: int | None) -> None:
    report = _report(rows, expected)
    assert sum(report.status_counts.values()) == len(rows)
    assert report.records + report.status_counts.get(MISSING, 0) == len(rows)
    assert report.unexpected == sum(1 for r in rows if r.expected is False)
    page = render_html(report)
    assert _total_row(page) == (len(rows), report.unexpected) if rows else True
    text = _PNG.sub("", page)
    for tag in ("<script", "<iframe", "<object", "<link", "<img", " onerror=", " onload="):
        assert tag not in text.lower()
    assert "http://" not in text and "https://" not in text
    summary = report.summary()
    assert sum(summary["statusCounts"].values()) == summary["rowCount"] == len(rows)


def test_injection_in_every_text_field_is_escaped() -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    row = AuditRow("TAMPERED", evil, evil, evil, False, "EP", None, "0x" + "aa" * 32, 5, evil, None, evil)
    page = render_html(_report([row], 1))
    assert "<script>" not in page and "onerror=alert" not in _PNG.sub("", page).replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;" in page


def test_plots_are_embedded_pngs_of_the_audit(tmp_path: Path) -> None:
    sc = make_scenario(tmp_path)
    report = audit_folder(sc.chain, None, sc.folder, "EP", sc.proofs, sc.expected)
    page = render_html(report)
    plots = _PNG.findall(page)
    assert [alt for alt, _ in plots] == ["Records per batch over time", "Verdicts"]
    for _, data in plots:
        png = base64.b64decode(data)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    batches = batches_over_time(report)
    assert len(batches) == 2 and sum(b[3] for b in batches) == sum(1 for r in report.rows if r.root is not None)
    # The counts: one status per row, the unexpected ones also under their status.
    total, unexpected = _total_row(page)
    assert total == len(report.rows) == report.records + report.status_counts[MISSING]
    assert unexpected == report.unexpected == 1
    assert "overlap" in page and f"{report.records} records audited" in page


@pytest.mark.browser
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    sc = make_scenario(tmp_path)
    report = audit_folder(sc.chain, None, sc.folder, "EP", sc.proofs, sc.expected)
    html_file = tmp_path / "report.html"
    html_file.write_text(render_html(report), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html_file.as_uri())
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            assert len(widths) == 2 and all(w > 300 for w in widths)
            # Record ids stay on one line; the record column is wide enough for them.
            cells = page.eval_on_selector_all(
                "table.rows td.record",
                """els => els.map(e => {
                    const r = document.createRange(); r.selectNodeContents(e);
                    const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
                    return [e.textContent, e.getBoundingClientRect().width, tops.size];
                })""",
            )
            assert cells
            for text, width, lines in cells:
                if text:
                    assert width >= 100 and lines == 1, (text, width, lines)
            page.screenshot(path=str(ARTIFACTS / "audit-report.png"), full_page=True)
        finally:
            browser.close()
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert (ARTIFACTS / "audit-report.png").stat().st_size > 10_000


def test_one_batch_is_plotted_in_a_window_of_minutes_not_years() -> None:
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert time_window([at]) == (at - timedelta(minutes=5), at + timedelta(minutes=5))
    later = at + timedelta(days=3)
    assert time_window([at, later, at]) == (at, later)  # a real span is kept as it is
