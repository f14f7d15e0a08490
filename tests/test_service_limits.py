"""The service's own limits against slow and hostile clients: real sockets against a real uvicorn server
(the guarded protocol of ``ipreg serve``) started by the test on a free port, on the embedded chain.

No wall-clock bounds: the tests assert behaviour (408 and a closed connection after the header or body
timeout, 503 above the connection limit, 429 with Retry-After beyond the upload and batch limits,
``degraded`` health when the node does not answer, JSON for malformed requests).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.api import create_app
from registry.api.server import RepeatFilter, build_server
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.deployments import Deployment
from registry.config import ServiceSettings, Settings
from registry.node.anvil import free_port
from registry.store.outbox import Store
from registry.store.tokens import create_token

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 0.8


@dataclass
class Running:
    url: str
    port: int
    service: Any
    token: str


def _serve(settings: Settings, chain: Chain | None, options: ServiceSettings) -> Iterator[Running]:
    store = Store(settings.store_file)
    token = create_token(store, "EP")
    store.close()
    app = create_app(settings, chain, options)
    port = free_port()
    server = build_server(
        app,
        "127.0.0.1",
        port,
        header_timeout=options.header_timeout,
        body_timeout=options.body_timeout,
        max_connections=options.max_connections,
        retry_after=options.retry_after,
        log_level="warning",
        client_connections=options.client_connections,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield Running(url, port, app.state.service, token)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    settings = Settings(home=tmp_path, rpc_url="embedded")
    chain = Chain(connect("embedded"))
    deploy_dev(chain).save(settings.deployment_file)
    options = ServiceSettings(
        header_timeout=HEADER_TIMEOUT,
        body_timeout=BODY_TIMEOUT,
        max_connections=8,
        upload_concurrency=1,
        batch_concurrency=1,
        batch_wait_seconds=30,
        retry_after=3,
        health_timeout=10,  # "ok" must not depend on the machine's load
    )
    yield from _serve(settings, chain, options)


_OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    _OPEN.append(sock)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (fails if it never does within 30 s)."""
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            # The server closed with our unread bytes in its buffer (a client still sending a body): the
            # kernel answers with a reset, which may arrive after the answer was read. A close all the same.
            if out:
                return out
            raise
        if not chunk:
            return out
        out += chunk


def _status_and_body(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_trickled_headers_get_408_and_the_connection_is_closed(running: Running) -> None:
    sock = _connect(running.port)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # ... and the rest never comes
    status, headers, body = _status_and_body(_read_all(sock))
    assert status == 408 and body["error"]["code"] == "requestTimeout"
    assert headers["content-type"] == "application/json"


def test_an_idle_connection_is_closed(running: Running) -> None:
    sock = _connect(running.port)
    raw = _read_all(sock)  # no byte sent: closed by the server after the header timeout
    assert raw == b"" or _status_and_body(raw)[0] == 408


def test_keep_alive_connections_get_the_header_timeout_again(running: Running) -> None:
    sock = _connect(running.port)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while b"\r\n\r\n" not in first:
        first += sock.recv(65536)
    sock.sendall(b"GET /health HTTP/1.1\r\n")  # a second request, trickled
    raw = _read_all(sock)
    assert b"408" in raw.split(b"\r\n", 1)[0] or b" 408 " in raw


def test_a_trickled_body_gets_408_and_the_connection_is_closed(running: Running) -> None:
    sock = _connect(running.port)
    body = json.dumps({"contentHash": "0x" + "ab" * 32}).encode()
    sock.sendall(
        b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    status, _, err = _status_and_body(_read_all(sock))
    assert status == 408 and err["error"]["code"] == "requestTimeout"


def test_a_body_the_route_never_reads_cannot_hold_the_connection(running: Running) -> None:
    sock = _connect(running.port)
    sock.sendall(b"POST /v1/offices/EP/batches HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                sock.sendall(b"x")
            except OSError:
                return
            time.sleep(0.05)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        raw = _read_all(sock)  # the server answers (401: no token) and closes within the body timeout
    finally:
        stop.set()
    assert raw.startswith(b"HTTP/1.1 4")


def test_malformed_requests_get_the_json_error_body(running: Running) -> None:
    sock = _connect(running.port)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
    status, headers, body = _status_and_body(_read_all(sock))
    assert status == 400 and body["error"]["code"] == "badRequest"
    assert headers["content-type"] == "application/json"


def test_connections_above_the_limit_get_503_with_retry_after(running: Running) -> None:
    idle = [_connect(running.port) for _ in range(8)]
    try:
        time.sleep(0.1)  # let the server accept them (behaviour only: no bound asserted)
        extra = _connect(running.port)
        status, headers, body = _status_and_body(_read_all(extra))
        assert status == 503 and headers["retry-after"] == "3"
        assert body["error"]["code"] == "tooManyConnections"
    finally:
        for sock in idle:
            sock.close()


def test_uploads_beyond_the_limit_get_429_with_retry_after(running: Running) -> None:
    # one upload in progress (its body still arriving) holds the only upload slot
    sock = _connect(running.port)
    sock.sendall(
        b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 5000\r\n\r\n--b\r\n"
    )
    try:
        time.sleep(0.1)
        r = httpx.post(running.url + "/v1/verify", files={"file": ("a.pdf", b"%PDF-1.4 x")}, timeout=30)
        assert r.status_code == 429 and r.headers["retry-after"] == "3", r.text
        assert r.json()["error"]["code"] == "tooBusy"
        # verification by hash is no upload: still served
        r = httpx.post(running.url + "/v1/verify", json={"contentHash": "0x" + "ab" * 32}, timeout=30)
        assert r.status_code == 200 and r.json()["verdict"] == "UNKNOWN"
    finally:
        sock.close()
    # the slot is free again once that upload is gone
    deadline = time.monotonic() + 30
    while True:
        r = httpx.post(running.url + "/v1/verify", files={"file": ("a.pdf", b"%PDF-1.4 x")}, timeout=30)
        if r.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 200, r.text


def test_batch_triggers_beyond_the_limit_get_429_and_health_stays_up(running: Running) -> None:
    auth = {"Authorization": f"Bearer {running.token}"}
    service = running.service
    lock = service._lock(service._batch_locks, "EP")
    lock.acquire()  # a batch of EP "in progress": the next trigger waits for it on the write pool
    try:
        results: list[httpx.Response] = []
        first = threading.Thread(
            target=lambda: results.append(httpx.post(running.url + "/v1/offices/EP/batches", headers=auth, timeout=60))
        )
        first.start()
        deadline = time.monotonic() + 30
        while service.batch_runs.active < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        r = httpx.post(running.url + "/v1/offices/EP/batches", headers=auth, timeout=30)
        assert r.status_code == 429 and r.headers["retry-after"] == "3", r.text
        health = httpx.get(running.url + "/health", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
    finally:
        lock.release()
    first.join(timeout=60)
    assert results and results[0].status_code == 200, results


def test_health_is_degraded_when_the_node_does_not_answer(tmp_path: Path) -> None:
    """A node that accepts connections and never answers (as a SIGSTOPped one)."""
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(64)
    settings = Settings(home=tmp_path, rpc_url=f"http://127.0.0.1:{stalled.getsockname()[1]}", rpc_retries=0)
    Deployment(31337, "0x" + "11" * 20, "0x" + "22" * 20, 0).save(settings.deployment_file)
    options = ServiceSettings(health_timeout=0.2, rpc_timeout=3.0, index_interval=0)
    try:
        for running in _serve(settings, None, options):
            for _ in range(3):
                r = httpx.get(running.url + "/health", timeout=30)
                assert r.status_code == 200
                body = r.json()
                assert body["status"] == "degraded" and body["chainReachable"] is False
                assert "did not answer within 0.2 s" in body["problem"]
    finally:
        stalled.close()


def test_repeated_log_lines_are_rate_limited() -> None:
    flt = RepeatFilter(burst=3, interval=60.0)

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, msg, None, None)

    passed = [flt.filter(record("Too many open files")) for _ in range(100)]
    assert passed.count(True) == 3
    assert flt.filter(record("another problem"))
