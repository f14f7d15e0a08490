#!/usr/bin/env python3
"""The anchoring pipeline against its lean floor: records/s, seconds per phase, peak memory, ratios.

    .venv/bin/python scripts/bench_pipeline.py --counts 10000,100000           # with lean + OpenZeppelin
    .venv/bin/python scripts/bench_pipeline.py --counts 1000000 --no-lean --no-oz
    .venv/bin/python scripts/bench_pipeline.py --counts 20000 --archive zip --json

For each count: ST.96 patent files are generated (not timed) and ``ipreg anchor FOLDER --office EP
--proofs DIR --json`` runs end to end on a fresh anvil node from local-chain/ (a separate process,
start-up included). Then the lean reference (scripts/lean_anchor.py: the same work without the
chain, in two variants, see there) runs on the same files in the same run. Peak memory is the
largest sum over the process and all its children, sampled every 50 ms from /proc (RSS, and PSS,
which counts pages shared by forked workers once). OpenZeppelin's ``StandardMerkleTree.of`` (JS)
builds one tree over the same leaf values, against the project's tree build in Python.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry.evaluate.samples import generate_gazette
from registry.node.anvil import LocalChain, free_port

IPREG = str(Path(sys.executable).parent / "ipreg")
LEAN = str(Path(__file__).resolve().parent / "lean_anchor.py")


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as handle:
                    todo.extend(int(c) for c in handle.read().split())
        except OSError:
            continue
    return out


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB of one process, (0, 0) if it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def measured(
    cmd: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float, dict[str, float]]:
    """Run ``cmd``; (result, wall seconds, peak MB of the process tree: rss, pss, processes)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"rssMB": 0.0, "pssMB": 0.0, "processes": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            mem = [_memory(p) for p in pids]
            peak["rssMB"] = max(peak["rssMB"], sum(m[0] for m in mem) / 1024)
            peak["pssMB"] = max(peak["pssMB"], sum(m[1] for m in mem) / 1024)
            peak["processes"] = max(peak["processes"], len(pids))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), wall, peak


def run_count(work: Path, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """One count: ipreg anchor on anvil, then the lean references and the OpenZeppelin tree."""
    gazette = work / f"gazette-{count}"
    if not gazette.exists():
        t = time.perf_counter()
        generate_gazette(gazette, office="EP", count=count, seed=42)
        print(f"[{count}] generated {count:,} ST.96 files in {time.perf_counter() - t:.1f} s (not timed)", flush=True)
    run_dir = work / f"run-{count}"
    best: tuple[subprocess.CompletedProcess[str], float, dict[str, float]] | None = None
    for _ in range(args.repeat):  # the fastest of several runs: the machine is shared
        shutil.rmtree(run_dir, ignore_errors=True)
        node = LocalChain(run_dir / "chain", free_port())
        node.start()
        try:
            env = {**os.environ, "IPREG_HOME": str(run_dir / "home"), "IPREG_RPC_URL": node.rpc_url}
            subprocess.run([IPREG, "deploy"], env=env, check=True, capture_output=True)
            cmd = [IPREG, "anchor", str(gazette), "--office", "EP", "--proofs", str(run_dir / "proofs"), "--json"]
            cmd += ["--batch-size", str(args.batch_size)]
            if args.archive:
                cmd += ["--bundle-archive", args.archive]
            attempt = measured(cmd, env)
        finally:
            node.stop()
        if attempt[0].returncode != 0:
            raise SystemExit(f"ipreg anchor failed: {attempt[0].stderr.strip()}")
        print(f"[{count}] ipreg anchor {attempt[1]:.2f} s", flush=True)
        if best is None or attempt[1] < best[1]:
            best = attempt
    assert best is not None
    proc, wall, peak = best
    if proc.returncode != 0:
        raise SystemExit(f"ipreg anchor failed: {proc.stderr.strip()}")
    summary = json.loads(proc.stdout)
    result: dict[str, Any] = {
        "records": summary["anchored"],
        "batches": len(summary["batches"]),
        "seconds": round(wall, 2),
        "recordsPerSecond": round(summary["anchored"] / wall),
        "phaseSeconds": summary["phaseSeconds"],
        "peakMemory": {k: round(v) for k, v in peak.items()},
        "gasPerRecord": round(summary["gasUsed"] / max(summary["anchored"], 1), 2),
    }
    print(f"[{count}] ipreg anchor {wall:.2f} s, {result['recordsPerSecond']:,} rec/s, peak {peak}", flush=True)
    if not args.no_lean:
        for variant in ("overlapped", "phased"):
            lean_dir = work / f"lean-{count}"
            lean_cmd = [sys.executable, LEAN, str(gazette), str(lean_dir), "--batch-size", str(args.batch_size)]
            lean_wall = float("inf")
            for _ in range(args.repeat):
                shutil.rmtree(lean_dir, ignore_errors=True)
                lean, t, p = measured(lean_cmd + (["--phased"] if variant == "phased" else []))
                if lean.returncode != 0:
                    raise SystemExit(f"lean reference failed: {lean.stderr.strip()}")
                if t < lean_wall:
                    lean_wall, lean_peak = t, p
            _same_bundles(run_dir / "proofs", lean_dir / "proofs", args.archive)
            result[f"lean{variant.title()}"] = {
                "seconds": round(lean_wall, 2),
                "peakMemory": {k: round(v) for k, v in lean_peak.items()},
                "ratio": round(wall / lean_wall, 2),
            }
            print(f"[{count}] lean ({variant}) {lean_wall:.2f} s: ipreg / lean = {wall / lean_wall:.2f}", flush=True)
            shutil.rmtree(lean_dir, ignore_errors=True)
    if not args.no_oz:
        result["openZeppelin"] = _oz(run_dir / "home" / "manifests" / "EP")
        print(f"[{count}] tree build {result['openZeppelin']}", flush=True)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return result


def _same_bundles(ours: Path, lean: Path, archive: str | None) -> None:
    """The lean bundles are the pipeline's, but for the chain fields (checked on a sample)."""
    if archive:
        return
    names = sorted(os.listdir(lean))
    chain_fields = ("registry", "transactionHash", "blockNumber", "anchoredAt")
    for name in names[:: max(1, len(names) // 50)]:
        a, b = json.loads((ours / name).read_bytes()), json.loads((lean / name).read_bytes())
        if {k: v for k, v in a.items() if k not in chain_fields} != {
            k: v for k, v in b.items() if k not in chain_fields
        }:
            raise SystemExit(
                f"lean bundle {name} differs from the pipeline's: the reference is not doing the same work"
            )


def _oz(manifests: Path) -> dict[str, Any]:
    from oz_reference import oz_tree

    from registry.core.leaves import LeafValue
    from registry.core.merkle import MerkleTree

    values = [v for m in sorted(manifests.glob("*.json")) for v in json.loads(m.read_text())["values"]]
    _, oz_seconds = oz_tree(values)
    started = time.perf_counter()
    tree = MerkleTree.from_leaves([LeafValue(*v).leaf() for v in values])
    tree.proofs()
    ours = time.perf_counter() - started
    return {
        "leaves": len(values),
        "ozSeconds": round(oz_seconds, 2),
        "oursSeconds": round(ours, 2),
        "ratio": round(oz_seconds / ours, 1),
    }


def main() -> int:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="10000,100000", help="comma-separated record counts")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--archive", choices=("zip", "jsonl"), default=None, help="--bundle-archive for ipreg")
    parser.add_argument("--workdir", type=Path, default=None, help="reuse generated gazettes from here")
    parser.add_argument("--no-lean", action="store_true", help="skip the lean reference")
    parser.add_argument("--no-oz", action="store_true", help="skip the OpenZeppelin reference")
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts (shared machine)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON at the end")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ipreg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    counts = [int(c.replace("_", "")) for c in args.counts.split(",")]
    figures = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start",
        "batchSize": args.batch_size,
        "runs": {str(c): run_count(work, c, args) for c in counts},
    }
    runs = figures["runs"]
    print()
    header = ("records", "seconds", "rec/s", "peak RSS MB", "peak PSS MB", "vs lean")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (10, 8, 8, 11, 11, 14), strict=True)) + "  phases (s)")
    for c, r in runs.items():
        lean = r.get("leanOverlapped"), r.get("leanPhased")
        ratio = "/".join(f"{x['ratio']:.2f}" for x in lean if x) or "-"
        phases = " ".join(f"{k} {v}" for k, v in r["phaseSeconds"].items())
        print(
            f"{int(c):>10,} {r['seconds']:>8} {r['recordsPerSecond']:>8,} {r['peakMemory']['rssMB']:>11}"
            f" {r['peakMemory']['pssMB']:>11} {ratio:>14}  {phases}"
        )
    if len(runs) > 1:
        per = {c: r["seconds"] / r["records"] for c, r in runs.items()}
        small, large = min(per, key=int), max(per, key=int)
        print(f"time per record at {int(large):,} / at {int(small):,}: {per[large] / per[small]:.2f} (goal <= 1.25)")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
