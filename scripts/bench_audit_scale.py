#!/usr/bin/env python3
"""Audit at scale: records/s, wall seconds and peak memory of ``ipreg audit`` as separate processes.

    .venv/bin/python scripts/bench_audit_scale.py --counts 100000,1000000 --work /tmp/audit-scale
    .venv/bin/python scripts/bench_audit_scale.py --counts 20000 --json

For each count, once (kept under ``--work`` for the next run): ST.96 patent files are generated
(``registry.evaluate.samples.generate_gazette``), anchored with ``ipreg anchor FOLDER --office EP --proofs DIR``
on an anvil node from local-chain/ whose state lives in the work folder, and indexed by an
auditor's home of its own (the deployment and the office's published manifests, no outbox) with
``ipreg index sync``; anchoring and indexing are measured too. Then, each a separate process:

  - ``ipreg audit --feed --office EP``: the office's whole feed from the index;
  - ``ipreg audit FOLDER --office EP --proofs DIR --no-sync``: every file re-hashed, bundles read;
  - ``ipreg audit FOLDER --office EP --no-sync``: every file re-hashed, bundles from the index.

Each audit writes its JSON report (``--json-report``) and must pass. Peak memory is the largest sum
over the command and all its children (RSS, and PSS, which counts pages shared by forked workers
once), sampled every 50 ms from /proc by ``bench_pipeline.measured``. ``--pythonpath`` runs the
commands against another checkout (e.g. main) to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import measured

from registry.evaluate.samples import generate_gazette
from registry.node.anvil import LocalChain, free_port

IPREG = str(Path(sys.executable).parent / "ipreg")
_RATE = re.compile(r"([\d,]+) records/s")


def _ipreg(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float, dict[str, float]]:
    return measured([IPREG, *args], env)


def prepare(work: Path, count: int, env: dict[str, str]) -> dict[str, Any]:
    """Generate, anchor and index ``count`` records under ``work`` unless done before; the figures."""
    done = work / "prepared.json"
    if done.exists():
        figures: dict[str, Any] = json.loads(done.read_text())
        return figures
    shutil.rmtree(work / "home", ignore_errors=True)
    shutil.rmtree(work / "auditor", ignore_errors=True)
    shutil.rmtree(work / "proofs", ignore_errors=True)
    gazette = work / "gazette"
    if not (work / "generated").exists():
        shutil.rmtree(gazette, ignore_errors=True)
        t = time.perf_counter()
        generate_gazette(gazette, office="EP", count=count, seed=42)
        (work / "generated").write_text(f"{time.perf_counter() - t:.1f}\n")
    office = {**env, "IPREG_HOME": str(work / "home")}
    subprocess.run([IPREG, "deploy"], env=office, check=True, capture_output=True)
    proc, anchor_wall, anchor_peak = _ipreg(
        office, "anchor", str(gazette), "--office", "EP", "--proofs", str(work / "proofs"), "--json"
    )
    if proc.returncode != 0:
        raise SystemExit(f"ipreg anchor failed: {proc.stderr.strip()}")
    auditor = work / "auditor"
    auditor.mkdir()
    shutil.copy(work / "home" / "deployment.json", auditor / "deployment.json")
    (auditor / "manifests").symlink_to(work / "home" / "manifests")
    proc, index_wall, index_peak = _ipreg({**env, "IPREG_HOME": str(auditor)}, "index", "sync")
    if proc.returncode != 0:
        raise SystemExit(f"ipreg index sync failed: {proc.stderr.strip()}")
    figures = {
        "count": count,
        "generateSeconds": float((work / "generated").read_text()),
        "anchor": {"seconds": round(anchor_wall, 1), **anchor_peak},
        "indexSync": {"seconds": round(index_wall, 1), **index_peak},
    }
    done.write_text(json.dumps(figures))
    return figures


def audit(work: Path, env: dict[str, str], label: str, *args: str) -> dict[str, Any]:
    """One ``ipreg audit`` run; its figures (the report's own rate, wall time, peak memory)."""
    report = work / f"report-{label}.json"
    proc, wall, peak = _ipreg(
        {**env, "IPREG_HOME": str(work / "auditor")}, "audit", *args, "--json-report", str(report)
    )
    if proc.returncode != 0 or "Traceback" in proc.stderr:
        raise SystemExit(f"ipreg audit ({label}) failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    rate = _RATE.search(proc.stdout)
    return {
        "audit": label,
        "wallSeconds": round(wall, 2),
        "recordsPerSecond": int(rate.group(1).replace(",", "")) if rate else None,
        "wallRecordsPerSecond": None,
        **{k: round(v, 1) for k, v in peak.items()},
        "output": proc.stdout.splitlines()[:2],
    }


def run_count(root: Path, count: int, env: dict[str, str], which: list[str]) -> dict[str, Any]:
    """Prepare (once) and audit ``count`` records three ways."""
    work = root / f"n{count}"
    work.mkdir(parents=True, exist_ok=True)
    node = LocalChain(work / "chain", free_port())
    node.start()
    try:
        env = {**env, "IPREG_RPC_URL": node.rpc_url}
        figures = prepare(work, count, env)
        print(f"[{count}] prepared: {json.dumps(figures)}", file=sys.stderr, flush=True)
        gazette, proofs = str(work / "gazette"), str(work / "proofs")
        kinds = {
            "feed": ("--feed", "--office", "EP"),
            "folder+bundles": (gazette, "--office", "EP", "--proofs", proofs, "--no-sync"),
            "folder+index": (gazette, "--office", "EP", "--no-sync"),
        }
        audits = [audit(work, env, label, *kinds[label]) for label in which if label in kinds]
    finally:
        node.stop()
    for a in audits:
        a["wallRecordsPerSecond"] = round(count / a["wallSeconds"])
        print(
            f"[{count}] {a['audit']}: {a['wallSeconds']} s, {a['rssMB']} MB RSS, {a['pssMB']} MB PSS",
            file=sys.stderr,
            flush=True,
        )
    return {**figures, "audits": audits}


def main() -> None:
    """Parse arguments, run every count, print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="100000", help="comma-separated record counts")
    parser.add_argument("--work", type=Path, help="keep generated, anchored and indexed records here for reuse")
    parser.add_argument("--pythonpath", help="run ipreg against this checkout's registry package (e.g. main)")
    parser.add_argument("--audits", default="feed,folder+bundles,folder+index", help="which audits to run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    env = dict(os.environ)
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    with tempfile.TemporaryDirectory(prefix="ipreg-bench-audit-scale-") as tmp:
        root = args.work or Path(tmp)
        results = [run_count(root, n, env, args.audits.split(",")) for n in counts]
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"loadAverage": load, "results": results}, indent=2))
        return
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (the machine may be shared)")
    print(f"{'records':>10} {'audit':<16}{'records/s':>11}{'wall s':>9}{'wall rec/s':>12}{'RSS MB':>9}{'PSS MB':>9}")
    for r in results:
        print(
            f"{r['count']:>10,} {'anchor':<16}{'':>11}{r['anchor']['seconds']:>9}{'':>12}"
            f"{r['anchor']['rssMB']:>9.0f}{r['anchor']['pssMB']:>9.0f}"
        )
        print(
            f"{r['count']:>10,} {'index sync':<16}{'':>11}{r['indexSync']['seconds']:>9}{'':>12}"
            f"{r['indexSync']['rssMB']:>9.0f}{r['indexSync']['pssMB']:>9.0f}"
        )
        for a in r["audits"]:
            print(
                f"{r['count']:>10,} {a['audit']:<16}{a['recordsPerSecond'] or 0:>11,}{a['wallSeconds']:>9}"
                f"{a['wallRecordsPerSecond']:>12,}{a['rssMB']:>9.0f}{a['pssMB']:>9.0f}"
            )


if __name__ == "__main__":
    main()
