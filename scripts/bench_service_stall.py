"""Benchmark of issue 20's "Done when": the service stays up for everyone. Prints figures, asserts nothing.

Starts anvil, deploys, anchors EP records, serves them with ``ipreg serve`` (a child process, the index
loop on), then measures, from outside, as a normal client on 127.0.0.1:

1. the node stalled 20 s (anvil under SIGSTOP): 50 concurrent reads (offices, record, batches, proof,
   verify by hash) in a loop: latency percentiles and 503s; ``/health`` p50/p99 meanwhile;
2. a 1.5-million-key JSON body (about 19.5 MB) sent to ``/v1/verify`` without a token (declared, and
   chunked without a length): a normal client's ``/health`` and verify-by-hash latency, and the server's
   peak RSS during the upload against the body size;
3. 1,000 connections trickling their headers from 127.0.0.2: the normal client's ``/health`` and
   verify-by-hash latency and statuses.

Each phase prints the load average. Usage: ``PYTHONPATH=. .venv/bin/python scripts/bench_service_stall.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.node.anvil import LocalChain, free_port
from registry.store.outbox import Store


def pct(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` in ms (0 if empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(name: str, lat: list[float], statuses: list[int]) -> str:
    """One line: count, p50/p99/max in ms, statuses."""
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


class Probe:
    """A normal client on 127.0.0.1 calling ``fn`` in a loop until stopped, timing each call."""

    def __init__(self, call: Callable[[httpx.Client], int], pause: float = 0.05, source: str = "127.0.0.1") -> None:
        self.call = call
        self.pause = pause
        self.source = source
        self.lat: list[float] = []
        self.at: list[float] = []
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=self.source), timeout=120) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    status = self.call(client)
                except httpx.HTTPError as exc:
                    status = -1
                    print(f"    ({type(exc).__name__})", file=sys.stderr)
                self.at.append(started)
                self.lat.append(time.perf_counter() - started)
                self.statuses.append(status)
                self.stop.wait(self.pause)

    def __enter__(self) -> Probe:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=180)


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def setup(home: Path) -> tuple[LocalChain, str, str]:
    """anvil + deployment + EP records anchored; (node, a record id, its content hash)."""
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


def phase_stall(url: str, node: LocalChain, rid: str, digest: str, seconds: float) -> None:
    """50 concurrent readers and a /health probe while anvil is stopped."""
    pid = node._read_pid()
    assert pid is not None
    paths: list[Callable[[httpx.Client], int]] = [
        lambda c: c.get(url + "/v1/offices").status_code,
        lambda c: c.get(f"{url}/v1/records/{rid}").status_code,
        lambda c: c.get(url + "/v1/batches").status_code,
        lambda c: c.get(f"{url}/v1/records/{rid}/proof").status_code,
        lambda c: c.post(url + "/v1/verify", json={"contentHash": digest}).status_code,
    ]
    print(f"1. node stalled {seconds:g} s (SIGSTOP), 50 concurrent reads in a loop; {load()}")
    os.kill(pid, signal.SIGSTOP)
    try:
        readers = [Probe(paths[k % len(paths)], pause=0.0) for k in range(50)]
        health = Probe(lambda c: c.get(url + "/health").status_code, pause=0.05)
        for r in readers:
            r.__enter__()
        with health:
            time.sleep(seconds)
            for r in readers:
                r.stop.set()
        for r in readers:
            r.__exit__()
    finally:
        os.kill(pid, signal.SIGCONT)
    for k, name in enumerate(["offices", "record", "batches", "proof", "verify-by-hash"]):
        lat = [x for r in readers[k :: len(paths)] for x in r.lat]
        statuses = [s for r in readers[k :: len(paths)] for s in r.statuses]
        print(summary(name, lat, statuses))
    print(summary("/health (while 50 reads in flight)", health.lat, health.statuses))
    onset = min(r.at[0] for r in readers if r.at) + 1.0
    steady = [x for r in readers for t, x in zip(r.at, r.lat, strict=True) if t >= onset]
    print(summary("all reads after the stall's first second", steady, []))
    print(f"  after: {load()}")


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


def phase_big_json(url: str, server_pid: int, digest: str) -> None:
    """A 1.5-million-key JSON body while a normal client probes."""
    body = big_json(1_500_000)
    print(f"2. a {len(body) / 1e6:.1f} MB JSON body with 1,500,000 keys to /v1/verify (no token); {load()}")
    for declared in (True, False):
        base = rss_kb(server_pid)
        peak = [base]
        done = threading.Event()

        def sample(peak: list[int] = peak, done: threading.Event = done) -> None:
            while not done.wait(0.01):
                peak[0] = max(peak[0], rss_kb(server_pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        health = Probe(lambda c: c.get(url + "/health").status_code)
        verify = Probe(lambda c: c.post(url + "/v1/verify", json={"contentHash": digest}).status_code)
        with health, verify:
            time.sleep(0.3)
            answer = send_body(url, body, declared)
            time.sleep(0.5)
        done.set()
        sampler.join()
        how = "Content-Length declared" if declared else "chunked, no length"
        growth = (peak[0] - base) * 1024
        print(f"  [{how}] answer: {answer}")
        print(
            f"  server RSS before {base / 1024:.0f} MiB, peak {peak[0] / 1024:.0f} MiB: growth {growth / 1e6:.1f} MB"
            f" = {growth / len(body):.2f}x the body (whole process peak {peak[0] * 1024 / len(body):.2f}x)"
        )
        print(summary("/health", health.lat, health.statuses))
        print(summary("verify-by-hash", verify.lat, verify.statuses))
    print(f"  after: {load()}")


def phase_trickle(url: str, digest: str, count: int, seconds: float) -> None:
    """``count`` connections from 127.0.0.2 trickling header bytes, re-opened when closed."""
    host, port = url.removeprefix("http://").split(":")
    print(f"3. {count} connections trickling headers from 127.0.0.2 for {seconds:g} s; {load()}")
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

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    time.sleep(1.5)
    health = Probe(lambda c: c.get(url + "/health").status_code)
    verify = Probe(lambda c: c.post(url + "/v1/verify", json={"contentHash": digest}).status_code)
    with health, verify:
        time.sleep(seconds)
    stop.set()
    thread.join()
    for sock in socks:
        if sock is not None:
            sock.close()
    print(f"  trickling sockets closed or refused by the server (reconnected): {refused}")
    print(summary("/health (normal client)", health.lat, health.statuses))
    print(summary("verify-by-hash (normal client)", verify.lat, verify.statuses))
    print(f"  after: {load()}")


def main() -> None:
    """Run the three phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stall", type=float, default=20.0, help="seconds the node is stopped")
    parser.add_argument("--trickle", type=int, default=1000, help="trickling connections")
    parser.add_argument("--nofile", type=int, default=1024, help="open-file limit of the service (ulimit -n)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    with tempfile.TemporaryDirectory(prefix="ipreg-bench-stall-") as tmp:
        home = Path(tmp)
        node, rid, digest = setup(home)
        proc, url = serve(home, node.rpc_url, args.nofile)
        try:
            print(f"service {url} (pid {proc.pid}, ulimit -n {args.nofile}), anvil {node.rpc_url}; record {rid}")
            phase_stall(url, node, rid, digest, args.stall)
            time.sleep(2)
            phase_big_json(url, proc.pid, digest)
            phase_trickle(url, digest, args.trickle, 10.0)
            text = (home / "serve.log").read_text(errors="replace")
            print(
                f"service log: {len(text.splitlines())} lines, {text.count('Traceback')} tracebacks,"
                f" {text.count('Too many open files')} 'Too many open files'"
            )
            for line in sorted(set(text.splitlines()))[:12]:
                print(f"  | {line[:200]}")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            node.stop()


if __name__ == "__main__":
    main()
