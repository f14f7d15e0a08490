"""The web pages in a real headless browser (Debian chromium driven by Playwright).

The service runs under uvicorn in a thread on a free port, over the embedded chain; records
are anchored through the API, then the verifier page is driven through its file input.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from registry.api import create_app
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.config import ServiceSettings, Settings
from registry.evaluate.samples import generate_gazette
from registry.store.outbox import Store
from registry.store.tokens import create_token

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser]


@dataclass
class Live:
    """A running service with an anchored EP batch."""

    base: str
    token: str
    files: list[Path]
    root: str
    workdir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("web")
    settings = Settings(home=home, rpc_url="embedded")
    chain = Chain(connect("embedded"))
    deploy_dev(chain).save(settings.deployment_file)
    store = Store(settings.store_file)
    token = create_token(store, "EP")
    store.close()
    files = generate_gazette(home / "gazette", office="EP", count=4, seed=11, kinds=("st96-patent", "st97-json"))
    app = create_app(settings, chain, ServiceSettings())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60) as client:
        for f in files:
            r = client.post("/v1/offices/EP/records", files={"file": (f.name, f.read_bytes())}, headers=auth)
            assert r.status_code == 202, r.text
        r = client.post("/v1/offices/EP/batches", headers=auth)
        assert r.status_code == 200, r.text
        root = r.json()["batches"][0]["root"]
    try:
        yield Live(base, token, files, root, home)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_verifier_page(live: Live, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(live.base + "/")
    expect(page.get_by_label("Drop a record here, or choose a file (ST.96 XML, ST.97 JSON, PDF …)")).to_be_attached()
    expect(page.locator("#offices-nav a")).to_have_count(5)

    xml = next(f for f in live.files if f.suffix == ".xml")
    page.set_input_files("#file", str(xml))
    expect(page.locator("#verdict")).to_have_text("VERIFIED", timeout=30_000)
    expect(page.locator("#office-value")).to_have_text("EP")
    record_id = page.locator("#record-value").inner_text()
    assert record_id.startswith("EP:")
    assert page.locator("#block-value").inner_text().isdigit()
    assert page.locator("#tx-value").inner_text().startswith("0x")
    assert page.locator("#time-value").inner_text().endswith("Z")
    expect(page.locator("#versions li")).to_have_count(1)
    expect(page.locator("#versions li").first).to_contain_text("ANCHORED")
    expect(page.locator("#checked-value")).to_contain_text("state at block")  # what it checked, against what
    expect(page.locator("#checks li", has_text="inclusion — passed")).to_have_count(1)
    expect(page.locator("#checks li", has_text="laterVersions — passed")).to_have_count(1)
    expect(page.locator("#proof-link")).to_be_visible()
    with page.expect_download() as download:
        page.click("#proof-link")
    bundle = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert bundle["format"] == "ipreg-proof-v1" and bundle["root"] == live.root and bundle["value"][0] == record_id
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "verifier.png"), full_page=True)

    tampered = xml.read_text(encoding="utf-8").replace('languageCode="en">', 'languageCode="en">Improved ', 1)
    page.set_input_files("#file", {"name": xml.name, "mimeType": "application/xml", "buffer": tampered.encode()})
    expect(page.locator("#verdict")).to_have_text("TAMPERED", timeout=30_000)
    expect(page.locator("#record-value")).to_have_text(record_id)
    page.screenshot(path=str(ARTIFACTS / "verifier-tampered.png"), full_page=True)

    page.fill("#hash", bundle["value"][1])
    page.click("#verify-hash")
    expect(page.locator("#verdict")).to_have_text("VERIFIED", timeout=30_000)

    page.fill("#hash", "0x" + "ab" * 32)
    page.click("#verify-hash")
    expect(page.locator("#verdict")).to_have_text("UNKNOWN", timeout=30_000)
    expect(page.locator("#proof-link")).to_be_hidden()
    assert problems == [], problems
    context.close()


def test_hostile_names_are_shown_as_text(live: Live, browser: object) -> None:
    """An error message carrying markup is displayed as text, never parsed as HTML."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    page.goto(live.base + "/")
    page.set_input_files(
        "#file",
        {"name": "x.xml", "mimeType": "application/xml", "buffer": b"<a><img src=x onerror=alert(1)></a"},
    )
    expect(page.locator("#error")).to_contain_text("invalidContent", timeout=30_000)
    assert page.locator("#error img").count() == 0
    page.close()


def test_office_page_says_it_is_loading_before_the_batches_arrive(live: Live) -> None:
    html = httpx.get(live.base + "/office/EP", timeout=30).text
    assert '<tbody aria-busy="true"><tr><td colspan="6" class="hint">Loading batches' in html


def test_office_view(live: Live, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(live.base + "/office/EP")
    expect(page.locator("#office-title")).to_have_text("EP — European Patent Office", timeout=30_000)
    expect(page.locator("#office-status")).to_have_text("active")
    rows = page.locator("#batches tbody tr")
    expect(page.locator("#batches tbody")).not_to_have_attribute("aria-busy", "true", timeout=30_000)
    expect(rows).to_have_count(1, timeout=30_000)
    expect(rows.first.locator("td").first).to_have_attribute("title", live.root)
    expect(rows.first.locator("td").nth(1)).to_have_text(str(len(live.files)))
    expect(rows.first.locator("td").nth(2)).to_have_text("anchored")
    page.get_by_label("Office API token (to list pending records or anchor them now)").fill(live.token)
    page.click("#show-pending")
    expect(page.locator("#pending-status")).to_contain_text("0 pending record(s)", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "office.png"), full_page=True)
    page.get_by_label("Office API token (to list pending records or anchor them now)").fill("ipreg_wrong")
    page.click("#show-pending")
    expect(page.locator("#pending-status")).to_contain_text("unauthorised", timeout=30_000)
    page.goto(live.base + "/office/FR")
    expect(page.locator("#error")).to_contain_text("not registered", timeout=30_000)
    expect(page.locator("#batches tbody tr")).to_have_count(0)  # no "Loading…" left behind
    assert problems == [], problems
    page.close()
