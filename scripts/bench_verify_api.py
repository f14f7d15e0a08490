#!/usr/bin/env python3
"""Load test of ``POST /v1/verify`` by content hash at a constant rate; prints p50/p99 latency and errors.

Starts the service (uvicorn, a separate process) over a local anvil node (``local-chain/``) or,
without anvil, over the embedded chain inside the service process; anchors sample EP records
(several batches); then drives verification requests for their hashes with a real load
generator: Debian ``wrk`` (a Lua script paces each connection to the target rate) if installed,
else a constant-rate asyncio/httpx generator.

    .venv/bin/python scripts/bench_verify_api.py                    # 60 s at 200 req/s
    .venv/bin/python scripts/bench_verify_api.py --duration 10 --chain embedded --json
    .venv/bin/python scripts/bench_verify_api.py --availability    # the availability promises (anvil)

``--availability`` (anvil only) measures ``/health`` latency while the node is stalled (SIGSTOP of
the anvil this script started), during 50 concurrent batch triggers with slow blocks, and during 12
concurrent maximum-size uploads (with the service's peak memory for 1 and for 12 uploads), then
verify-by-hash latency at the target rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import Settings
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import collect_files, prepare_files
from registry.node.anvil import LocalChain, find_anvil, free_port
from registry.store.outbox import Store

WRK_SCRIPT = """
local hashes = {%(hashes)s}
local interval = %(interval)d
local n = 0
local headers = {["Content-Type"] = "application/json"}

function setup(thread)
  thread:set("seed", math.random(1, 2147483647))
end

function init(args)
  math.randomseed(seed)
  n = math.random(#hashes)
end

function request()
  n = n %% #hashes + 1
  return wrk.format("POST", "/v1/verify", headers, '{"contentHash":"' .. hashes[n] .. '"}')
end

-- uniform in [0, 2 * interval]: the mean holds the rate, the jitter keeps connections from firing together
function delay()
  return math.random(0, 2 * interval)
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("WRK-RESULT %%d %%d %%d %%d %%d %%d %%d\\n", latency:percentile(50),
    latency:percentile(99), latency.max, summary.requests, summary.duration, errors, latency.mean))
end
"""


# ---------------------------------------------------------------------------- set-up


def anchor_samples(settings: Settings, chain: Chain, count: int) -> list[str]:
    """Anchor ``count`` sample EP records in about four batches; return their content hashes."""
    files = generate_gazette(
        settings.home / "gazette",
        office="EP",
        count=count,
        seed=2026,
        kinds=("st96-patent", "st97-json", "pdf"),
    )
    prepared = prepare_files(collect_files([settings.home / "gazette"]))
    account = dev_signer("EP")
    assert account is not None
    store = Store(settings.store_file)
    anchorer = Anchorer(store, chain, account, "EP", settings.home / "manifests", batch_size=max(1, count // 4))
    anchorer.submit(prepared)
    result = anchorer.run()
    store.close()
    assert result.records == len(files), (result.records, len(files))
    hashes = [p.content_hash for p in prepared]
    (settings.home / "hashes.json").write_text(json.dumps(hashes), encoding="utf-8")
    return hashes


def serve_embedded(home: Path, port: int, count: int) -> None:
    """Child process: deploy on the embedded chain, anchor samples, serve until terminated."""
    import uvicorn

    from registry.api import create_app

    settings = Settings(home=home, rpc_url="embedded")
    chain = Chain(connect("embedded"))
    deploy_dev(chain).save(settings.deployment_file)
    anchor_samples(settings, chain, count)
    uvicorn.run(create_app(settings, chain), host="127.0.0.1", port=port, log_level="warning")


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait until ``/health`` reports the chain reachable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited with status {proc.returncode}")
        try:
            if httpx.get(base + "/health", timeout=2).json().get("chainReachable"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become ready")


# ---------------------------------------------------------------------------- load generators


def _wrk(
    base: str, hashes: list[str], connections: int, interval_ms: int, seconds: int, workdir: Path
) -> tuple[list[str], dict[str, Any]]:
    script = workdir / "verify.lua"
    script.write_text(
        WRK_SCRIPT % {"hashes": ",".join(f'"{h}"' for h in hashes), "interval": max(0, interval_ms)},
        encoding="utf-8",
    )
    cmd = [
        "wrk",
        "-t",
        str(min(4, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK-RESULT"))
    p50, p99, worst, requests, micros, errors, mean = (int(float(v)) for v in line.split()[1:])
    return cmd, {
        "p50Ms": p50 / 1000,
        "p99Ms": p99 / 1000,
        "maxMs": worst / 1000,
        "meanMs": mean / 1000,
        "requests": requests,
        "seconds": micros / 1e6,
        "errors": errors,
    }


def run_wrk(base: str, hashes: list[str], rate: int, duration: int, connections: int, workdir: Path) -> dict[str, Any]:
    """Drive ``wrk`` at about ``rate``: each of many connections pauses a random time averaging
    ``connections / rate`` s before each request (so they do not fire together); a request's latency
    lowers the rate only by a factor ``1 + latency * rate / connections``."""
    pause = round(connections * 1000 / rate)
    cmd, result = _wrk(base, hashes, connections, pause, duration, workdir)
    return {"generator": "wrk", "command": " ".join(cmd), "pauseMs": pause, **result}


async def _asyncio_load(base: str, hashes: list[str], rate: int, duration: int, workers: int = 32) -> dict[str, Any]:
    """Constant-rate open-loop load: request ``i`` is due at ``i / rate`` s; latency counts from then
    (a late start is the service's delay too). ``workers`` coroutines share the schedule, one request each."""
    latencies: list[float] = []
    errors = 0
    total = rate * duration
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as client:
        t0 = time.perf_counter() + 0.1

        async def worker(k: int) -> None:
            nonlocal errors
            for i in range(k, total, workers):
                due = t0 + i / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
                try:
                    r = await client.post("/v1/verify", json={"contentHash": hashes[i % len(hashes)]})
                    ok = r.status_code == 200 and r.json().get("verdict") == "VERIFIED"
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - due) * 1000)
                errors += 0 if ok else 1

        await asyncio.gather(*(worker(k) for k in range(workers)))
        elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        "generator": "asyncio-httpx",
        "p50Ms": round(q[49], 3),
        "p99Ms": round(q[98], 3),
        "maxMs": round(max(latencies), 3),
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": errors,
    }


def check_verdicts(base: str, hashes: list[str]) -> int:
    """Verdicts that are not VERIFIED among a sample (wrk only counts HTTP errors)."""
    bad = 0
    with httpx.Client(base_url=base, timeout=10) as client:
        for h in hashes[:: max(1, len(hashes) // 50)]:
            r = client.post("/v1/verify", json={"contentHash": h})
            bad += r.status_code != 200 or r.json().get("verdict") != "VERIFIED"
    return bad


# ---------------------------------------------------------------------------- main


# ---------------------------------------------------------------------------- availability


def _q(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"n": len(values), "p50Ms": round(values[0], 2) if values else 0.0, "p99Ms": 0.0, "maxMs": 0.0}
    q = statistics.quantiles(values, n=100)
    return {"n": len(values), "p50Ms": round(q[49], 2), "p99Ms": round(q[98], 2), "maxMs": round(max(values), 2)}


async def _probe_health(client: httpx.AsyncClient, stop: asyncio.Event, every: float = 0.02) -> dict[str, Any]:
    """Sequential /health probes until ``stop``: latency quantiles and how often it said degraded."""
    latencies: list[float] = []
    degraded = 0
    failures = 0
    while not stop.is_set():
        t = time.perf_counter()
        try:
            r = await client.get("/health")
            degraded += r.json().get("status") == "degraded"
        except httpx.HTTPError:
            failures += 1
        latencies.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(every)
    return {**_q(latencies), "degraded": degraded, "failures": failures}


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _children_hwm_kb(pid: int) -> int:
    """Peak resident memory of the service's worker processes (canonicalization pool), summed."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            with contextlib.suppress(OSError):
                total += _rss_kb(int(kid), "VmHWM")
    return total


def _big_xml(path: Path, size: int) -> None:
    """An ST.96-like patent document of about ``size`` bytes (many paragraphs)."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<pat:PatentPublication xmlns:pat="http://www.wipo.int/standards/'
        'XMLSchema/ST96/Patent" xmlns:com="http://www.wipo.int/standards/XMLSchema/ST96/Common">'
        "<com:IPOfficeCode>EP</com:IPOfficeCode><pat:PublicationNumber>7654321</pat:PublicationNumber>"
        "<pat:PatentDocumentKindCode>A1</pat:PatentDocumentKindCode><pat:Description>"
    )
    para = '<com:P com:pNumber="{n}">A method of anchoring records, paragraph {n}, with some text.</com:P>\n'
    with path.open("w", encoding="utf-8") as out:
        out.write(head)
        n, written = 0, len(head)
        while written < size - 200:
            line = para.format(n=n)
            out.write(line)
            written += len(line)
            n += 1
        out.write("</pat:Description></pat:PatentPublication>\n")


async def _availability(
    base: str, pid: int, node: LocalChain, token: str, hashes: list[str], work: Path, upload_bytes: int
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with (
        httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client,
        httpx.AsyncClient(base_url=base, timeout=60) as prober,
    ):
        # -- baseline
        stop = asyncio.Event()
        task = asyncio.create_task(_probe_health(prober, stop))
        await asyncio.sleep(3)
        stop.set()
        out["healthIdle"] = await task

        # -- 50 concurrent batch triggers (slow blocks), with records pending
        for k in range(200):
            body = {"recordId": f"EP:{9000000 + k}:A1", "contentHash": "0x%064x" % (k + 1), "canonicalization": "raw"}
            r = await client.post("/v1/offices/EP/records", json=body, headers=auth)
            assert r.status_code in (200, 202), r.text
        stop = asyncio.Event()
        task = asyncio.create_task(_probe_health(prober, stop))
        t0 = time.perf_counter()
        runs = await asyncio.gather(
            *(client.post("/v1/offices/EP/batches", headers=auth) for _ in range(50)), return_exceptions=True
        )
        out["batchTriggersSeconds"] = round(time.perf_counter() - t0, 2)
        stop.set()
        out["healthDuringBatches"] = await task
        statuses: dict[str, int] = {}
        for run in runs:
            key = str(run.status_code) if isinstance(run, httpx.Response) else type(run).__name__
            statuses[key] = statuses.get(key, 0) + 1
        out["batchTriggerStatuses"] = statuses

        # -- uploads: one, then 12 at once (peak memory of the service process)
        big = work / "EP-7654321-A1.xml"
        _big_xml(big, upload_bytes)
        data = big.read_bytes()
        base_rss = _rss_kb(pid, "VmRSS")
        t = time.perf_counter()
        r = await client.post("/v1/verify", files={"file": (big.name, data)})
        single_s = time.perf_counter() - t
        assert r.status_code == 200, r.text
        single_peak = _rss_kb(pid, "VmHWM")
        single_workers = _children_hwm_kb(pid)
        stop = asyncio.Event()
        task = asyncio.create_task(_probe_health(prober, stop))
        hash_lat: list[float] = []

        async def hashes_meanwhile() -> None:
            i = 0
            while not stop.is_set():
                t1 = time.perf_counter()
                await client.post("/v1/verify", json={"contentHash": hashes[i % len(hashes)]})
                hash_lat.append((time.perf_counter() - t1) * 1000)
                i += 1
                await asyncio.sleep(0.005)

        side = asyncio.create_task(hashes_meanwhile())
        ups = await asyncio.gather(
            *(client.post("/v1/verify", files={"file": (big.name, data)}) for _ in range(12)), return_exceptions=True
        )
        stop.set()
        await side
        out["healthDuringUploads"] = await task
        out["verifyByHashDuringUploads"] = _q(hash_lat)
        many_peak = _rss_kb(pid, "VmHWM")
        many_workers = _children_hwm_kb(pid)
        up_status: dict[str, int] = {}
        for up in ups:
            key = str(up.status_code) if isinstance(up, httpx.Response) else type(up).__name__
            up_status[key] = up_status.get(key, 0) + 1
        out["uploads"] = {
            "bytes": len(data),
            "singleSeconds": round(single_s, 2),
            "baseRssMb": round(base_rss / 1024, 1),
            "peakAfterOneMb": round(single_peak / 1024, 1),
            "peakAfterTwelveMb": round(many_peak / 1024, 1),
            "workerPeakAfterOneMb": round(single_workers / 1024, 1),
            "workerPeakAfterTwelveMb": round(many_workers / 1024, 1),
            "statusesOfTwelve": up_status,
        }

        # -- the node stalled (SIGSTOP of the anvil this script started)
        anvil_pid = int(node.pid_file.read_text().strip())
        stop = asyncio.Event()
        os.kill(anvil_pid, signal.SIGSTOP)
        try:
            task = asyncio.create_task(_probe_health(prober, stop, every=0.05))
            await asyncio.sleep(10)
            stop.set()
            out["healthNodeStalled"] = await task
        finally:
            os.kill(anvil_pid, signal.SIGCONT)
    return out


def run_availability(args: argparse.Namespace) -> None:
    """The availability figures on anvil (see the module docstring)."""
    from registry.store.tokens import create_token

    work = Path(tempfile.mkdtemp(prefix="ipreg-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    node = LocalChain(work / "chain", free_port(), block_time=args.block_time)
    node.start()
    env = {**os.environ, "IPREG_HOME": str(work), "IPREG_INDEX_INTERVAL": "0"}
    try:
        settings = Settings(home=work, rpc_url=node.rpc_url)
        chain = Chain(connect(node.rpc_url))
        deploy_dev(chain).save(settings.deployment_file)
        hashes = anchor_samples(settings, chain, args.records)
        store = Store(settings.store_file)
        token = create_token(store, "EP", "bench")
        store.close()
        cmd = [sys.executable, "-c", "from registry.cli import main; main()", "serve", "--home", str(work)]
        cmd += ["--rpc-url", node.rpc_url, "--port", str(port), "--log-level", "warning", "--office", "EP"]
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        try:
            wait_ready(base, proc)
            result = asyncio.run(_availability(base, proc.pid, node, token, hashes, work, args.upload_bytes))
            time.sleep(2)  # the node catches up after SIGCONT
            wait_ready(base, proc)
            if shutil.which("wrk"):
                result["verifyByHash"] = run_wrk(base, hashes, args.rate, args.duration, args.connections, work)
            else:
                result["verifyByHash"] = asyncio.run(_asyncio_load(base, hashes, args.rate, args.duration))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    finally:
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
    result["blockTime"] = args.block_time
    result["targetRate"] = args.rate
    print(json.dumps(result, indent=2))


def main() -> None:
    """Parse arguments, set up chain and service, run the load, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    ap.add_argument("--rate", type=int, default=200, help="requests per second (default 200)")
    ap.add_argument("--records", type=int, default=400, help="anchored sample records to verify (default 400)")
    ap.add_argument("--connections", type=int, default=100, help="wrk connections (default 100)")
    ap.add_argument("--chain", choices=("auto", "anvil", "embedded"), default="auto")
    ap.add_argument("--generator", choices=("auto", "wrk", "asyncio"), default="auto")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--availability", action="store_true", help="the availability scenarios (anvil)")
    ap.add_argument("--block-time", type=float, default=2.0, help="anvil block time for --availability (s)")
    ap.add_argument("--upload-bytes", type=int, default=19_900_000, help="upload size for --availability")
    ap.add_argument("--serve-embedded", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_embedded:
        serve_embedded(args.serve_embedded, args.port, args.records)
        return
    if args.availability:
        run_availability(args)
        return

    chain_kind = args.chain
    if chain_kind == "auto":
        try:
            find_anvil()
            chain_kind = "anvil"
        except Exception:  # no anvil installed: embedded chain
            chain_kind = "embedded"
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "asyncio"

    work = Path(tempfile.mkdtemp(prefix="ipreg-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    node: LocalChain | None = None
    env = {**os.environ, "IPREG_HOME": str(work)}
    try:
        if chain_kind == "anvil":
            node = LocalChain(work / "chain", free_port())
            node.start()
            settings = Settings(home=work, rpc_url=node.rpc_url)
            chain = Chain(connect(node.rpc_url))
            deploy_dev(chain).save(settings.deployment_file)
            hashes = anchor_samples(settings, chain, args.records)
            cmd = [
                sys.executable,
                "-c",
                "from registry.cli import main; main()",
                "serve",
                "--home",
                str(work),
                "--rpc-url",
                node.rpc_url,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
        else:
            cmd = [
                sys.executable,
                __file__,
                "--serve-embedded",
                str(work),
                "--port",
                str(port),
                "--records",
                str(args.records),
            ]
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        try:
            wait_ready(base, proc)
            if chain_kind == "embedded":
                hashes = json.loads((work / "hashes.json").read_text(encoding="utf-8"))
            bad_before = check_verdicts(base, hashes)
            if generator == "wrk":
                result = run_wrk(base, hashes, args.rate, args.duration, args.connections, work)
            else:
                result = asyncio.run(_asyncio_load(base, hashes, args.rate, args.duration))
            result["wrongVerdicts"] = bad_before + check_verdicts(base, hashes)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    finally:
        if node is not None:
            node.stop()
        shutil.rmtree(work, ignore_errors=True)
    result.update(
        chain=chain_kind,
        targetRate=args.rate,
        records=len(hashes),
        achievedRate=round(result["requests"] / result["seconds"], 1),
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"POST /v1/verify by hash, {chain_kind} chain, {result['generator']}: {result['requests']} requests"
        f" in {result['seconds']:.1f} s ({result['achievedRate']} req/s, target {args.rate})"
    )
    print(
        f"latency p50 {result['p50Ms']:.2f} ms, p99 {result['p99Ms']:.2f} ms, max {result['maxMs']:.2f} ms;"
        f" errors {result['errors']}, wrong verdicts in samples {result['wrongVerdicts']}"
    )


if __name__ == "__main__":
    main()
