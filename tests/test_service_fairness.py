"""Fair to every client, nothing heavy on the event loop, quiet logs: real sockets against a real uvicorn server
(the guarded protocol of ``ipreg serve``) on the embedded chain. Behaviour only, no wall-clock bounds.

Two client addresses on one machine: 127.0.0.1 (the normal client) and 127.0.0.2 (the flood), both loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from test_service_limits import Running, _read_all, _serve, _status_and_body

from registry.api.bodies import INLINE_JSON, JsonLimits, JsonShape, read_json
from registry.api.errors import PayloadTooLargeError
from registry.api.limits import ClientLimits
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.config import ServiceSettings, Settings

FLOOD = "127.0.0.2"


def _options(**overrides: Any) -> ServiceSettings:
    base: dict[str, Any] = {
        "header_timeout": 30.0,
        "body_timeout": 30.0,
        "max_connections": 8,
        "client_connections": 4,
        "upload_processes": False,
        "health_timeout": 10,
        "max_json_keys": 1000,
    }
    base.update(overrides)
    return ServiceSettings(**base)


def _running(tmp_path: Path, options: ServiceSettings) -> Iterator[Running]:
    settings = Settings(home=tmp_path, rpc_url="embedded")
    chain = Chain(connect("embedded"))
    deploy_dev(chain).save(settings.deployment_file)
    yield from _serve(settings, chain, options)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    yield from _running(tmp_path, _options())


_OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    _OPEN.append(sock)
    return sock


def _answered(sock: socket.socket) -> None:
    """Wait until the server has taken the connection (an answered request proves it; the socket stays open)."""
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    fields = dict(h.split(b":", 1) for h in head.split(b"\r\n")[1:])
    length = int(next(v for k, v in fields.items() if k.lower() == b"content-length"))
    while len(rest) < length:
        rest += sock.recv(65536)


def _health(url: str, source: str = "127.0.0.1") -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as client:
        return client.get(url + "/health")


# ---------------------------------------------------------------------------- JSON shape on the raw bytes


def _fed(text: bytes, limits: JsonLimits, chunk: int) -> JsonShape:
    shape = JsonShape(limits)
    for k in range(0, len(text), chunk):
        shape.feed(text[k : k + chunk])
    return shape


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096])
def test_the_shape_counts_keys_and_depth_outside_strings_whatever_the_chunks(chunk: int) -> None:
    text = json.dumps({"a": {"b:{[": ['x\\"y:{', {"c": 1}]}, "d\\": "e"}).encode()
    shape = _fed(text, JsonLimits(), chunk)
    assert (shape.keys, shape.depth, shape.size) == (4, 0, len(text))


def test_a_body_over_a_limit_is_refused_at_the_chunk_that_passes_it() -> None:
    limits = JsonLimits(max_bytes=10**9, max_keys=100, max_depth=8)
    many = b"{" + b",".join(b'"k%d":0' % k for k in range(10_000)) + b"}"
    shape = JsonShape(limits)
    with pytest.raises(PayloadTooLargeError, match="more than 100 object keys"):
        for k in range(0, len(many), 64):
            shape.feed(many[k : k + 64])
    assert shape.size < len(many) // 10  # refused early: the rest was never looked at
    with pytest.raises(PayloadTooLargeError, match="deeper than 8"):
        _fed(b"[" * 9 + b"]" * 9, limits, 4)
    with pytest.raises(PayloadTooLargeError, match="above 16 bytes"):
        _fed(b'{"a":"' + b"x" * 100 + b'"}', JsonLimits(max_bytes=16), 8)


def test_a_small_json_body_needs_no_thread_and_a_large_one_is_scanned_and_parsed_on_one() -> None:
    async def read(body: bytes) -> tuple[Any, list[str]]:
        hops: list[str] = []
        pieces = [body[k : k + 4096] for k in range(0, len(body), 4096)]

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": bool(pieces)}

        async def run(fn: Any, *args: Any) -> Any:
            hops.append(fn.__name__)
            return fn(*args)

        scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": []}
        return await read_json(Request(scope, receive), JsonLimits(), run), hops

    small = json.dumps({"contentHash": "0x" + "ab" * 32}).encode()
    assert asyncio.run(read(small)) == ({"contentHash": "0x" + "ab" * 32}, [])  # a hash to verify: no hop
    large = json.dumps({"bundle": {"pad": "x" * (INLINE_JSON + 1)}}).encode()
    parsed, hops = asyncio.run(read(large))
    assert parsed["bundle"]["pad"] == "x" * (INLINE_JSON + 1)
    assert hops == ["feed", "parse_json"]  # scanned and parsed off the event loop


def test_json_bodies_over_the_key_or_size_limit_get_413_before_parsing(running: Running) -> None:
    keys = {f"k{k}": 0 for k in range(5000)}
    r = httpx.post(running.url + "/v1/verify", json=keys, timeout=30)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payloadTooLarge", r.text
    # A body declared above the JSON limit is refused from its headers: nothing of it is read.
    sock = _connect(running.port)
    sock.sendall(
        b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 19500000\r\n\r\n{"
    )
    status, _, body = _status_and_body(_read_all(sock))
    assert status == 413 and body["error"]["code"] == "payloadTooLarge"
    # ... and the service answers others meanwhile
    assert _health(running.url).status_code == 200


# ---------------------------------------------------------------------------- per-client limits


def test_one_address_over_its_connection_limit_does_not_lock_out_another(running: Running) -> None:
    flood = [_connect(running.port, FLOOD) for _ in range(4)]
    for sock in flood:
        _answered(sock)
    extra = _connect(running.port, FLOOD)
    status, headers, body = _status_and_body(_read_all(extra))
    assert status == 503 and body["error"]["code"] == "tooManyConnections" and headers["retry-after"]
    assert "from this address" in body["error"]["message"]
    assert _health(running.url).status_code == 200  # another address is served


def test_at_capacity_the_longest_waiting_idle_connection_makes_room(tmp_path: Path) -> None:
    for running in _running(tmp_path, _options(max_connections=8, client_connections=8)):
        idle = [_connect(running.port, FLOOD) for _ in range(8)]
        for sock in idle:
            _answered(sock)  # accepted, now idle (waiting for the next request's headers)
        r = _health(running.url)  # the 9th connection: the oldest idle one is closed for it
        assert r.status_code == 200
        assert _read_all(idle[0]) == b""  # closed by the server


def test_requests_in_progress_per_client_are_bounded_and_others_are_served(tmp_path: Path) -> None:
    for running in _running(tmp_path, _options(client_requests=1, max_connections=32, client_connections=16)):
        # one request of FLOOD in progress: its body is still arriving
        sock = _connect(running.port, FLOOD)
        sock.sendall(
            b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
        )
        clients = running.service.clients
        for _ in range(3000):  # until the server counts it in (behaviour: no bound asserted)
            if clients.in_flight.get(FLOOD):
                break
            threading.Event().wait(0.01)
        assert clients.in_flight.get(FLOOD) == 1
        with httpx.Client(transport=httpx.HTTPTransport(local_address=FLOOD), timeout=30) as client:
            r = client.post(running.url + "/v1/verify", json={"contentHash": "0x" + "ab" * 32})
        assert r.status_code == 429 and r.headers["retry-after"], r.text
        r = httpx.post(running.url + "/v1/verify", json={"contentHash": "0x" + "ab" * 32}, timeout=30)
        assert r.status_code == 200 and r.json()["verdict"] == "UNKNOWN"
        sock.close()


def test_failed_token_attempts_are_delayed_more_and_more_and_logged_once_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = ClientLimits(requests=8, free_failures=3)
    with caplog.at_level(logging.WARNING, logger="registry.api"):
        delays = [limits.token_failed("198.51.100.7") for _ in range(8)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3:] == sorted(delays[3:]) and delays[3] > 0 and delays[-1] > delays[3]
    lines = [r.getMessage() for r in caplog.records if "failed token attempts" in r.getMessage()]
    assert len(lines) == 1 and "198.51.100.7" in lines[0]
    assert limits.token_failed("203.0.113.9") == 0.0  # another client is not slowed
    limits.token_ok("198.51.100.7")
    assert limits.token_failed("198.51.100.7") == 0.0


def test_wrong_tokens_over_http_are_slowed_and_the_token_never_logged(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-token-" + "z" * 20
    with caplog.at_level(logging.INFO):
        for _ in range(7):
            r = httpx.post(
                running.url + "/v1/offices/EP/batches", headers={"Authorization": f"Bearer {secret}"}, timeout=60
            )
            assert r.status_code == 401
    assert running.service.clients.failures["127.0.0.1"] == 7
    assert any("failed token attempts" in r.getMessage() for r in caplog.records)
    assert not any(secret in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------- quiet logs


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_client_disconnecting_mid_body_is_one_line_without_traceback(running: Running) -> None:
    collect = _Collect()
    names = ("uvicorn.error", "registry.api", "uvicorn")
    for name in names:
        logging.getLogger(name).addHandler(collect)
    logging.getLogger("registry.api").setLevel(logging.INFO)
    try:
        sock = _connect(running.port)
        sock.sendall(
            b"POST /v1/offices/EP/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + running.token.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"recordId"'
        )
        done = threading.Event()

        def logged() -> None:
            while not any("disconnected" in r.getMessage() for r in collect.records):
                threading.Event().wait(0.01)
            done.set()

        threading.Thread(target=logged, daemon=True).start()
        threading.Event().wait(0.2)  # let the route start reading the body (behaviour, not a bound)
        sock.close()
        assert done.wait(30)
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(collect)
    assert sum("disconnected" in r.getMessage() for r in collect.records) == 1
    assert not any(r.exc_info for r in collect.records)
    assert not any("Exception in ASGI application" in r.getMessage() for r in collect.records)


def test_the_accept_loop_running_out_of_descriptors_is_one_line() -> None:
    from registry.api.server import OneLineFilter

    try:
        raise OSError(24, "Too many open files")
    except OSError:
        import sys

        record = logging.LogRecord(
            "asyncio", logging.ERROR, __file__, 1, "socket.accept() out of system resource", None, sys.exc_info()
        )
    assert OneLineFilter().filter(record)
    assert record.exc_info is None and "Too many open files" in record.getMessage()


def test_openapi_bounds_are_exact_integers(running: Running) -> None:
    raw = httpx.get(running.url + "/openapi.json", timeout=30).text
    assert "9.223372036854776e+18" not in raw
    assert "9223372036854775807" in raw
    doc = json.loads(raw)
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "blockNumber" in node.get("properties", {}):
                found.append(node["properties"]["blockNumber"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    bounded = [p for p in found if "maximum" in p]
    assert bounded and all(p["maximum"] == 2**63 - 1 and isinstance(p["maximum"], int) for p in bounded)


def test_a_multipart_file_without_record_id_gets_the_documented_answer(running: Running) -> None:
    auth = {"Authorization": f"Bearer {running.token}"}
    r = httpx.post(
        running.url + "/v1/offices/EP/records", files={"file": ("scan.pdf", b"%PDF-1.4 x")}, headers=auth, timeout=30
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalidRecordId", r.text
    doc = httpx.get(running.url + "/openapi.json", timeout=30).json()
    documented = doc["paths"]["/v1/offices/{code}/records"]["post"]["responses"]["400"]["description"]
    assert "without a record id" in documented and "invalidRecordId" in documented


# ---------------------------------------------------------------------------- the chain gate


def test_the_chain_gate_never_queues_a_request_behind_stuck_workers() -> None:
    from registry.api.gate import ChainGate
    from registry.errors import NodeUnavailableError

    gate = ChainGate(2)
    release = threading.Event()
    started = threading.Barrier(3)

    def stuck() -> int:
        started.wait()
        release.wait()
        return 1

    try:
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(lambda: _gated(gate, stuck, 60.0)) for _ in range(2)]
            started.wait()  # both chain workers are now stuck on the "node"
            assert gate.busy == 2
            with gate.deadline(60.0), pytest.raises(NodeUnavailableError, match="all 2 chain workers"):
                gate.call(lambda: 2)  # refused at once: no third thread waits behind them
            release.set()
            assert [f.result() for f in futures] == [1, 1]
        with gate.deadline(60.0):
            assert gate.call(lambda: 3) == 3
        # a call that outlives its deadline opens the gate: later requests do not wait on the node
        hold = threading.Event()
        with gate.deadline(0.01), pytest.raises(NodeUnavailableError):
            gate.call(hold.wait)
        assert gate.stalled_since is not None and gate.failed()
        with gate.deadline(60.0), pytest.raises(NodeUnavailableError, match="stalled"):
            gate.call(lambda: 4)
        hold.set()
        gate.note_ok()  # the health loop's probe answered
        with gate.deadline(60.0):
            assert gate.call(lambda: 5) == 5
        assert gate.call(lambda: 6) == 6  # outside a request: direct
    finally:
        release.set()
        gate.shutdown()


def _gated(gate: Any, fn: Any, seconds: float) -> Any:
    with gate.deadline(seconds):
        return gate.call(fn)
