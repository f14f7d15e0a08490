"""A stalled node (anvil under SIGSTOP) must not freeze the service: reads answer from the index (saying so,
with the block they reflect) or 503 with Retry-After, ``/health`` answers from the health loop's state while
every chain worker is stuck. Real anvil, real uvicorn server; no wall-clock bounds (behaviour only).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from anvil_fixtures import AnvilNode
from test_service_limits import Running, _serve

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import ServiceSettings, Settings
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.index import Index
from registry.store.outbox import Store

pytestmark = pytest.mark.anvil


def _anchored(home: Path, rpc_url: str) -> tuple[Settings, list[tuple[str, str]]]:
    """A deployment on anvil with EP's records anchored; (settings, [(record id, content hash)])."""
    settings = Settings(home=home, rpc_url=rpc_url, rpc_retries=0)
    chain = Chain(connect(rpc_url))
    deploy_dev(chain).save(settings.deployment_file)
    store = Store(settings.store_file)
    account = dev_signer("EP")
    assert account is not None
    files = generate_gazette(home / "gazette", office="EP", count=3, seed=5, kinds=("pdf",))
    anchorer = Anchorer(store, chain, account, "EP", home / "manifests")
    anchorer.submit(prepare_files(files))
    anchorer.run(home / "proofs")
    records = [(r.record_id, r.content_hash) for r in store.batch_records(store.batches("EP", limit=1)[0].id)]
    store.close()
    return settings, records


@pytest.fixture
def stalled(tmp_path: Path, anvil: AnvilNode) -> Iterator[tuple[Running, list[tuple[str, str]], AnvilNode]]:
    settings, records = _anchored(tmp_path / "home", anvil.rpc_url)
    options = ServiceSettings(
        index_interval=0,  # indexed once, by the test, before the stall
        cache_seconds=0.01,  # every read asks the head again: the stall is met, not hidden by the cache
        read_budget=0.2,
        chain_workers=2,
        health_timeout=0.2,
        health_interval=0.1,
        rpc_timeout=30.0,
        upload_processes=False,
    )
    for running in _serve(settings, None, options):
        running.service.sync_index()
        pid = anvil.chain._read_pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            yield running, records, anvil
        finally:
            os.kill(pid, signal.SIGCONT)


def _get(running: Running, path: str) -> httpx.Response:
    return httpx.get(running.url + path, timeout=60)


def test_reads_answer_from_the_index_while_the_node_is_stalled(
    stalled: tuple[Running, list[tuple[str, str]], AnvilNode],
) -> None:
    running, records, _ = stalled
    rid, digest = records[0]
    store = Store(running.service.settings.store_file)
    index = Index.of(store.db)
    assert index is not None
    cursor = index.cursor()
    store.close()

    offices = _get(running, "/v1/offices")
    assert offices.status_code == 200, offices.text
    assert "EP" in {o["code"] for o in offices.json()["offices"]}
    record = _get(running, f"/v1/records/{rid}")
    assert record.status_code == 200, record.text
    assert record.json()["versions"][-1]["contentHash"] == digest
    assert _get(running, f"/v1/records/{rid}/proof").status_code == 200
    assert _get(running, "/v1/batches").status_code == 200

    r = httpx.post(running.url + "/v1/verify", json={"contentHash": digest}, timeout=60)
    assert r.status_code == 200, r.text
    verdict = r.json()
    assert verdict["verdict"] == "VERIFIED"
    assert verdict["stateBlock"] == cursor  # the block the index reflects, not the node's
    inclusion = next(c for c in verdict["checks"] if c["name"] == "inclusion")
    assert "served from the index at block" in inclusion["detail"]
    assert verdict["notChecked"] == ["compromiseMark"]  # the index holds no compromise marks: said, not passed
    assert "NOT CHECKED" in verdict["reason"]


def test_what_the_index_cannot_answer_is_503_with_retry_after(
    stalled: tuple[Running, list[tuple[str, str]], AnvilNode],
) -> None:
    running, _, _ = stalled
    r = _get(running, "/v1/batches/0x" + "ab" * 32)  # a root only the chain could know about
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] and r.json()["error"]["code"] == "nodeUnavailable"


def test_health_answers_while_fifty_reads_wait_on_the_stalled_node(
    stalled: tuple[Running, list[tuple[str, str]], AnvilNode],
) -> None:
    running, records, _ = stalled
    rid, digest = records[0]
    barrier = threading.Barrier(51)

    def read(k: int) -> int:
        barrier.wait()
        if k % 2:
            return httpx.post(running.url + "/v1/verify", json={"contentHash": digest}, timeout=120).status_code
        return httpx.get(f"{running.url}/v1/records/{rid}", timeout=120).status_code

    with ThreadPoolExecutor(50) as pool:
        futures = [pool.submit(read, k) for k in range(50)]
        barrier.wait()
        health = [_get(running, "/health") for _ in range(5)]
        statuses = [f.result() for f in futures]
    assert all(h.status_code == 200 for h in health)
    assert health[-1].json()["status"] == "degraded"
    assert set(statuses) <= {200, 503}, statuses


def test_the_node_answering_again_closes_the_gate(
    stalled: tuple[Running, list[tuple[str, str]], AnvilNode],
) -> None:
    running, records, anvil = stalled
    _, digest = records[0]
    first = httpx.post(running.url + "/v1/verify", json={"contentHash": digest}, timeout=60).json()
    assert "served from the index" in str(first["checks"])
    pid = anvil.chain._read_pid()
    assert pid is not None
    os.kill(pid, signal.SIGCONT)
    done = threading.Event()

    def healthy() -> Any:
        while not done.wait(0.05):
            if _get(running, "/health").json()["status"] == "ok":
                return True
        return False

    with ThreadPoolExecutor(1) as pool:
        ok = pool.submit(healthy)
        try:
            assert ok.result(timeout=120)
        finally:
            done.set()
    again = httpx.post(running.url + "/v1/verify", json={"contentHash": digest}, timeout=60).json()
    assert again["verdict"] == "VERIFIED" and not again["notChecked"]
    assert "served from the index" not in str(again["checks"])


def test_a_read_that_waited_for_a_thread_past_its_budget_answers_from_the_index(
    tmp_path: Path, anvil: AnvilNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read budget counts from the request's arrival: a verify that queued for the (single) read thread
    longer than its budget does not then wait on the node as well; it answers from the index, and says so,
    although the node answers (and the gate stays closed)."""
    settings, records = _anchored(tmp_path / "home", anvil.rpc_url)
    _, digest = records[0]
    options = ServiceSettings(
        index_interval=0,
        cache_seconds=0.01,  # the verify must ask the node for the head (no cached state hides the budget)
        read_budget=2.0,  # ample for the node: only time spent queueing can exhaust it
        read_threads=1,
        health_interval=0.1,
        upload_processes=False,
    )
    for running in _serve(settings, None, options):
        answer = _verify_after_queueing(running, digest, options.read_budget, monkeypatch)
        assert answer.status_code == 200, answer.text
        verdict = answer.json()
        assert verdict["verdict"] == "VERIFIED"
        assert "served from the index at block" in str(verdict["checks"])
        assert running.service.gate.stalled_since is None  # the node was not taken as stalled


def _verify_after_queueing(
    running: Running, digest: str, budget: float, monkeypatch: pytest.MonkeyPatch
) -> httpx.Response:
    """A verify by hash that waits for the only read thread (held by an offices read) longer than ``budget``."""
    running.service.sync_index()
    fresh = httpx.post(running.url + "/v1/verify", json={"contentHash": digest}, timeout=60).json()
    assert "served from the index" not in str(fresh["checks"])  # the node answers within the budget
    taken, release = threading.Event(), threading.Event()
    offices = running.service.offices

    def hold_the_read_thread() -> Any:
        taken.set()
        release.wait()
        return offices()

    monkeypatch.setattr(running.service, "offices", hold_the_read_thread)
    with ThreadPoolExecutor(2) as pool:
        try:
            holder = pool.submit(_get, running, "/v1/offices")
            assert taken.wait(60)  # the only read thread is taken
            queued = pool.submit(httpx.post, running.url + "/v1/verify", json={"contentHash": digest}, timeout=60)
            while running.service.clients.in_flight.get("127.0.0.1", 0) < 2:  # the verify has arrived
                time.sleep(0.01)
            time.sleep(budget + 0.5)  # and its budget passes while it waits for the thread
        finally:
            release.set()
        assert holder.result(timeout=60).status_code == 200
        return queued.result(timeout=60)
