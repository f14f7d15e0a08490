#!/usr/bin/env python3
"""Load test of ``POST /v1/verify`` by content hash at a constant rate; prints p50/p99 latency and errors.

Starts the service (uvicorn, a separate process) over a local anvil node (``local-chain/``) or,
without anvil, over the embedded chain inside the service process; anchors sample EP records
(several batches); then drives verification requests for their hashes with a real load
generator: Debian ``wrk`` (a Lua script paces each connection to the target rate) if installed,
else a constant-rate asyncio/httpx generator.

    .venv/bin/python scripts/bench_verify_api.py                    # 60 s at 200 req/s
    .venv/bin/python scripts/bench_verify_api.py --duration 10 --chain embedded --json
"""

from __future__ import annotations

import argparse
import asyncio
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

from registry.anchor import Anchorer
from registry.chain import Chain, connect, dev_signer
from registry.config import Settings
from registry.ingest import collect_files, prepare_files
from registry.localchain import LocalChain, find_anvil, free_port
from registry.samples import generate_gazette
from registry.store import Store

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
    chain.deploy_dev().save(settings.deployment_file)
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
    ap.add_argument("--serve-embedded", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_embedded:
        serve_embedded(args.serve_embedded, args.port, args.records)
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
            chain.deploy_dev().save(settings.deployment_file)
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
