"""Benchmark of issue 20's "Done when": the service stays up for everyone. Prints figures, asserts nothing.

Starts anvil, deploys, anchors EP records, serves them with ``ipreg serve`` (a child process, the index
loop on), then measures, from outside, as clients on 127.0.0.1 (each group of clients in its own process,
so that no measuring client waits for the interpreter lock of another, and on plain keep-alive
``http.client`` connections):

1. the node stalled 20 s (anvil under SIGSTOP): 50 concurrent reads (offices, record, batches, proof,
   verify by hash) in a loop, started 1 s before the stop: per-read latency (max, p99, the reads in flight
   when the node stopped, the first second), statuses (200 from the index, 503); ``/health`` p50/p99/max
   meanwhile (every 20 ms); 1b. the same for 5 s with 50 new connections opened at the moment the node stops;
2. a 1.5-million-key JSON body (about 19.5 MB) sent to ``/v1/verify`` without a token (declared, and
   chunked without a length): a normal client's ``/health`` and verify-by-hash latency, and the server's
   peak RSS during the upload against the body size;
3. 1,000 connections trickling their headers from 127.0.0.2: the normal client's ``/health`` and
   verify-by-hash latency and statuses.

Each phase prints the issue's target, the previous session's figures and the load average (the machine's
other work shares the cores). Usage (from the repository root)::

    PYTHONPATH=$PWD .venv/bin/python scripts/bench_service_stall.py [--phases stall,burst,body,trickle]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from registry.node.anvil import LocalChain

#: Figures of the previous session (quiet machine, 2 cores), printed next to this run's.
REFERENCE = {
    "stall": "/health max 134.5 ms (p99 86.7 ms); reads in flight at the stop up to ~1 s during the first second,"
    " all later reads < 0.5 s (the previous benchmark, its /health client sharing a process with the readers);"
    " main at 7c21a29 with this benchmark: 1. (load 1.4-1.9) /health max 107.4 ms (p99 70.5 ms), reads max 354 ms;"
    " 1b. (load 4.9) /health max 137.6 ms, reads max 586 ms (18 over 0.5 s, all in the first second)",
    "body": "/health and verify-by-hash 200 within 0.5 s; peak RSS growth well under 3x the body",
    "trickle": "/health and verify-by-hash 200 within 0.5 s; no 'Too many open files'",
}
#: The issue's "Done when" targets.
TARGETS = {
    "stall": "every read 200 (index) or 503 within 0.5 s; /health < 100 ms throughout (max)",
    "body": "/health and verify-by-hash 200 within 0.5 s; peak memory < 3x the body size",
    "trickle": "/health and verify-by-hash 200 within 0.5 s",
}


def pct(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` in ms (0 if empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(name: str, lat: list[float], statuses: list[int]) -> str:
    """One line: count, p50/p99/max in ms, how many over 0.5 s, statuses."""
    counts: dict[int, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    over = sum(1 for x in lat if x > 0.5)
    return (
        f"  {name}: n={len(lat)} p50={pct(lat, 0.5):.1f} ms p99={pct(lat, 0.99):.1f} ms"
        f" max={1000 * max(lat, default=0):.1f} ms  >0.5 s: {over}  statuses={dict(sorted(counts.items()))}"
    )


def load() -> str:
    """The load average."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (cpus {os.cpu_count()})"


#: One kind of request: (name, method, path, JSON body or None).
Call = tuple[str, str, str, bytes | None]
#: One timed request: (call name, monotonic start, latency in seconds, status; -1 for a connection error).
Sample = tuple[str, float, float, int]


def _client_loop(host: str, port: int, call: Call, pause: float, start: float, stop: float) -> list[Sample]:
    """Repeat ``call`` on one keep-alive connection from ``start`` until ``stop`` (monotonic times)."""
    name, method, path, body = call
    headers = {"Content-Type": "application/json"} if body is not None else {}
    out: list[Sample] = []
    conn: http.client.HTTPConnection | None = None
    while time.monotonic() < start:
        time.sleep(0.001)
    while time.monotonic() < stop:
        began = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = -1
            if conn is not None:
                conn.close()
            conn = None
        out.append((name, began, time.monotonic() - began, status))
        if pause:
            time.sleep(pause)
    if conn is not None:
        conn.close()
    return out


def run_clients(url: str, calls: list[Call], clients: int, pause: float, start: float, stop: float) -> list[Sample]:
    """``clients`` threads of one process (this one: call it in a child), client k repeating ``calls[k % n]``."""
    host, port = url.removeprefix("http://").split(":")
    results: list[list[Sample]] = [[] for _ in range(clients)]

    def one(k: int) -> None:
        results[k] = _client_loop(host, int(port), calls[k % len(calls)], pause, start, stop)

    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for r in results for s in r]


class Clients:
    """Groups of clients, each group in its own process (so that no measuring client waits for the interpreter
    lock of another): the processes are started (and have imported what they need) when this returns; ``add``
    each group, then ``results()`` once their time is over."""

    def __init__(self, groups: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pools = [ProcessPoolExecutor(1, mp_context=context) for _ in range(groups)]
        for ready in [pool.submit(time.monotonic) for pool in self._pools]:
            ready.result()
        self._futures: list[Future[list[Sample]]] = []

    def add(self, url: str, calls: list[Call], clients: int, pause: float, start: float, stop: float) -> None:
        """Start ``clients`` clients in the next process at monotonic time ``start``, until ``stop``."""
        pool = self._pools[len(self._futures)]
        self._futures.append(pool.submit(run_clients, url, calls, clients, pause, start, stop))

    def results(self) -> list[Sample]:
        """Every sample of every group (waits for them)."""
        samples = [s for f in self._futures for s in f.result()]
        for pool in self._pools:
            pool.shutdown()
        return samples


def pick(samples: list[Sample], names: set[str], after: float = 0.0, before: float = float("inf")) -> list[Sample]:
    """The samples of calls ``names`` started within [after, before)."""
    return [s for s in samples if s[0] in names and after <= s[1] < before]


def line(name: str, samples: list[Sample]) -> str:
    """:func:`summary` of samples."""
    return summary(name, [s[2] for s in samples], [s[3] for s in samples])


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def setup(home: Path) -> tuple[LocalChain, str, str]:
    """anvil + deployment + EP records anchored; (node, a record id, its content hash)."""
    # Imported here: the client processes (spawned, they import this module) need none of it.
    from registry.anchor.pipeline import Anchorer
    from registry.chain.client import Chain, connect
    from registry.chain.deploy import deploy_dev
    from registry.chain.dev import dev_signer
    from registry.evaluate.samples import generate_gazette
    from registry.files.ingest import prepare_files
    from registry.node.anvil import LocalChain, free_port
    from registry.store.outbox import Store

    node = LocalChain(home / "chain", free_port())
    node.start()
    chain = Chain(connect(node.rpc_url))
    deploy_dev(chain).save(home / "deployment.json")
    store = Store(home / "registry.sqlite")
    account = dev_signer("EP")
    assert account is not None
    files = generate_gazette(home / "gazette", office="EP", count=20, seed=7, kinds=("pdf",))
    anchorer = Anchorer(store, chain, account, "EP", home / "manifests")
    anchorer.submit(prepare_files(files))
    anchorer.run(home / "proofs")
    record = store.batch_records(store.batches("EP", limit=1)[0].id)[0]
    store.close()
    return node, record.record_id, record.content_hash


def serve(home: Path, rpc_url: str, nofile: int) -> tuple[subprocess.Popen[bytes], str]:
    """``ipreg serve`` on a free port under ``ulimit -n nofile``; (process, base URL) once the index caught up."""
    from registry.node.anvil import free_port

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    port = free_port()
    env = {**os.environ, "IPREG_HOME": str(home), "IPREG_RPC_URL": rpc_url, "IPREG_INDEX_INTERVAL": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    cli = [sys.executable, "-c", "from registry.cli import main; main()"]
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=limit_files,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            body = httpx.get(url + "/health", timeout=5).json()
            if body.get("indexedBlock") is not None and body.get("status") == "ok":
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the service did not become ready; see {home / 'serve.log'}")


def wait_until(at: float) -> None:
    """Sleep until monotonic time ``at``."""
    time.sleep(max(0.0, at - time.monotonic()))


def phase_stall(url: str, node: LocalChain, rid: str, digest: str, seconds: float, lead: float = 1.0) -> None:
    """50 concurrent readers (one process) and a /health client (another) while anvil is stopped; the readers
    start ``lead`` seconds before the stop (0: they connect at the moment it stops)."""
    pid = node._read_pid()
    assert pid is not None
    reads: list[Call] = [
        ("offices", "GET", "/v1/offices", None),
        ("record", "GET", f"/v1/records/{rid}", None),
        ("batches", "GET", "/v1/batches", None),
        ("proof", "GET", f"/v1/records/{rid}/proof", None),
        ("verify-by-hash", "POST", "/v1/verify", json.dumps({"contentHash": digest}).encode()),
    ]
    names = {c[0] for c in reads}
    when = f"started {lead:g} s before the stop" if lead else "50 new connections at the moment of the stop"
    print(f"{'1' if lead else '1b'}. node stalled {seconds:g} s (SIGSTOP), 50 concurrent reads in a loop ({when})")
    print(f"   target: {TARGETS['stall']}\n   reference: {REFERENCE['stall']}\n   before: {load()}")
    clients = Clients(2)
    begin = time.monotonic() + 0.5
    stall_at = begin + lead  # with a lead, reads are in flight when the node stops
    end = stall_at + seconds
    clients.add(url, reads, 50, 0.0, begin, end)
    clients.add(url, [("health", "GET", "/health", None)], 1, 0.02, begin, end)
    wait_until(stall_at)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(stall_at + seconds / 2)
        middle = load()
        wait_until(end)
    finally:
        os.kill(pid, signal.SIGCONT)
    samples = clients.results()
    during = pick(samples, names, stall_at, end)
    for name in [c[0] for c in reads]:
        print(line(f"{name} (stall)", pick(during, {name})))
    print(line("reads before the stall (node answering)", pick(samples, names, begin, stall_at)))
    in_flight = [s for s in pick(samples, names, begin, stall_at) if s[1] + s[2] > stall_at]
    print(line("reads in flight when the node stopped", in_flight))
    print(line("reads started in the stall's first second", pick(during, names, stall_at, stall_at + 1)))
    print(line("reads started after the stall's first second", pick(during, names, stall_at + 1, end)))
    every = in_flight + during
    worst = max((s[2] for s in every), default=0.0)
    bad = [s for s in every if s[2] > 0.5 or s[3] not in (200, 503)]
    print(f"  every read: max {1000 * worst:.1f} ms; over 0.5 s or not 200/503: {len(bad)}")
    health = pick(samples, {"health"}, stall_at, end)
    print(line("/health during the stall (50 reads in flight)", health))
    print(line("/health in the stall's first second", pick(health, {"health"}, stall_at, stall_at + 1)))
    print(line("/health before the stall", pick(samples, {"health"}, begin, stall_at)))
    hmax = max((s[2] for s in health), default=0.0)
    print(
        f"  verdict: reads {'MET' if not bad else 'NOT MET'}; /health max {1000 * hmax:.1f} ms:"
        f" {'MET' if hmax < 0.1 and all(s[3] == 200 for s in health) else 'NOT MET'}"
    )
    print(f"  middle of the stall: {middle}\n  after: {load()}")


def big_json(keys: int) -> bytes:
    """A JSON object with ``keys`` keys (about 13 bytes each)."""
    return b"{" + b",".join(b'"k%07d":1' % k for k in range(keys)) + b"}"


def send_body(url: str, body: bytes, declared: bool) -> str:
    """Send ``body`` to /v1/verify as fast as the server takes it; the status line (or the error)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=120)
    head = b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(body) if declared else b"Transfer-Encoding: chunked\r\n\r\n"
    try:
        sock.sendall(head)
        step = 256 * 1024
        for k in range(0, len(body), step):
            piece = body[k : k + step]
            sock.sendall(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
        if not declared:
            sock.sendall(b"0\r\n\r\n")
    except OSError as exc:
        pass_note = f"(server stopped reading: {type(exc).__name__})"
    else:
        pass_note = ""
    try:
        answer = sock.recv(4096).split(b"\r\n", 1)[0].decode()
    except OSError as exc:
        answer = type(exc).__name__
    sock.close()
    return f"{answer} {pass_note}".strip()


def normal_client(url: str, digest: str, start: float, stop: float) -> Clients:
    """A normal client on 127.0.0.1 in its own process: ``/health`` and verify by hash, each every 50 ms."""
    clients = Clients(1)
    calls: list[Call] = [
        ("health", "GET", "/health", None),
        ("verify-by-hash", "POST", "/v1/verify", json.dumps({"contentHash": digest}).encode()),
    ]
    clients.add(url, calls, 2, 0.05, start, stop)
    return clients


def phase_big_json(url: str, server_pid: int, digest: str) -> None:
    """A 1.5-million-key JSON body while a normal client probes."""
    body = big_json(1_500_000)
    print(f"2. a {len(body) / 1e6:.1f} MB JSON body with 1,500,000 keys to /v1/verify (no token)")
    print(f"   target: {TARGETS['body']}\n   reference: {REFERENCE['body']}\n   before: {load()}")
    for declared in (True, False):
        start = time.monotonic() + 2.0
        stop = start + 4.0
        probes = normal_client(url, digest, start, stop)
        wait_until(start + 0.5)
        base = rss_kb(server_pid)
        peak = [base]
        done = threading.Event()

        def sample(peak: list[int] = peak, done: threading.Event = done) -> None:
            while not done.wait(0.01):
                peak[0] = max(peak[0], rss_kb(server_pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        sent_at = time.monotonic()
        answer = send_body(url, body, declared)
        took = time.monotonic() - sent_at
        wait_until(stop)
        done.set()
        sampler.join()
        samples = probes.results()
        how = "Content-Length declared" if declared else "chunked, no length"
        growth = (peak[0] - base) * 1024
        print(f"  [{how}] answer after {took:.2f} s: {answer}")
        print(
            f"  server RSS before {base / 1024:.0f} MiB, peak {peak[0] / 1024:.0f} MiB: growth {growth / 1e6:.1f} MB"
            f" = {growth / len(body):.2f}x the body (whole process peak {peak[0] * 1024 / len(body):.2f}x)"
        )
        print(line("/health (normal client, whole window)", pick(samples, {"health"})))
        print(line("verify-by-hash (normal client, whole window)", pick(samples, {"verify-by-hash"})))
        during = pick(samples, {"health", "verify-by-hash"}, sent_at, sent_at + took + 0.2)
        print(line("both, while the body was sent and refused", during))
    print(f"  after: {load()}")


def phase_trickle(url: str, digest: str, count: int, seconds: float) -> None:
    """``count`` connections from 127.0.0.2 trickling header bytes, re-opened when closed."""
    host, port = url.removeprefix("http://").split(":")
    print(f"3. {count} connections trickling headers from 127.0.0.2 for {seconds:g} s")
    print(f"   target: {TARGETS['trickle']}\n   reference: {REFERENCE['trickle']}\n   before: {load()}")
    socks: list[socket.socket | None] = [None] * count
    refused = 0
    stop = threading.Event()

    def trickle() -> None:
        nonlocal refused
        while not stop.is_set():
            for k in range(count):
                sock = socks[k]
                if sock is None:
                    try:
                        sock = socket.socket()
                        sock.bind(("127.0.0.2", 0))
                        sock.setblocking(False)
                        sock.connect_ex((host, int(port)))
                        socks[k] = sock
                    except OSError:
                        refused += 1
                        continue
                try:
                    sock.send(b"GET /health HTTP/1.1\r\n" if sock.fileno() >= 0 else b"")
                    sock.send(b"X-Slow: a\r\n")
                except OSError:
                    sock.close()
                    socks[k] = None
                    refused += 1
            stop.wait(1.0)

    start = time.monotonic() + 2.0
    probes = normal_client(url, digest, start, start + seconds)
    wait_until(start - 1.5)  # the trickle is under way when the normal client starts
    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    wait_until(start + seconds / 2)
    middle = load()
    samples = probes.results()
    stop.set()
    thread.join()
    for sock in socks:
        if sock is not None:
            sock.close()
    print(f"  trickling sockets closed or refused by the server (reconnected): {refused}")
    print(line("/health (normal client)", pick(samples, {"health"})))
    print(line("verify-by-hash (normal client)", pick(samples, {"verify-by-hash"})))
    print(f"  middle: {middle}\n  after: {load()}")


def main() -> None:
    """Run the three phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stall", type=float, default=20.0, help="seconds the node is stopped")
    parser.add_argument("--trickle", type=int, default=1000, help="trickling connections")
    parser.add_argument("--nofile", type=int, default=1024, help="open-file limit of the service (ulimit -n)")
    parser.add_argument("--phases", default="stall,burst,body,trickle", help="which phases, comma-separated")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    with tempfile.TemporaryDirectory(prefix="ipreg-bench-stall-") as tmp:
        home = Path(tmp)
        node, rid, digest = setup(home)
        proc, url = serve(home, node.rpc_url, args.nofile)
        try:
            print(f"service {url} (pid {proc.pid}, ulimit -n {args.nofile}), anvil {node.rpc_url}; record {rid}")
            print(f"start: {load()}")
            if "stall" in phases:
                phase_stall(url, node, rid, digest, args.stall)
                time.sleep(3)  # the health loop finds the node again and closes the gate
            if "burst" in phases:
                phase_stall(url, node, rid, digest, 5.0, lead=0.0)
                time.sleep(3)
            if "body" in phases:
                phase_big_json(url, proc.pid, digest)
            if "trickle" in phases:
                phase_trickle(url, digest, args.trickle, 10.0)
            text = (home / "serve.log").read_text(errors="replace")
            print(
                f"service log: {len(text.splitlines())} lines, {text.count('Traceback')} tracebacks,"
                f" {text.count('Too many open files')} 'Too many open files'"
            )
            for logged in sorted(set(text.splitlines()))[:12]:
                print(f"  | {logged[:200]}")
            print(f"end: {load()}")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            node.stop()


if __name__ == "__main__":
    main()
