#!/usr/bin/env python3
"""CPU time of every read-only ``ipreg`` command (user + system of the child process, best of N).

    scripts/bench_startup.py [--runs 5] [--ipreg PATH] [--json] [--no-node]

Prints one line per command and home: best and median CPU seconds beside the bound the issue sets (every
read-only command under 0.3 s in any home), and two references measured the same way in the same run:
``python -c pass`` (the interpreter's share) and importing typer (the CLI framework's share; typer 0.29
also builds pydantic adapters for every parameter, ~0.1 s). The homes, on a fresh local anvil node
(``local-chain/``): none (``--help``, ``hash``, ``verify --proof`` with a bundle alone), an office's home
(deployment record, store, keystore, index, a replaced deployment; signers and proposals in every state:
``tests/office_home.py``) and a home holding only ``deployment.json`` (emptied again before each run).
``--no-node`` runs the no-home commands only, ``verify`` against a closed port.
Exit status 1 if a best figure is over its bound. Figures rise with the machine's load: compare best-of-N,
and the reference lines, not single runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the office's home the integration tests use (tests/office_home.py)

#: The issue's bound for every read-only command, CPU seconds.
BOUND = 0.3


#: What the CLI framework costs every command: typer, and the pydantic adapters typer 0.29 builds for every
#: parameter (before 0.29 it had none).
_FRAMEWORK = "import importlib.util as u, typer; u.find_spec('typer._adapters') and __import__('typer._adapters')"


@dataclass(frozen=True)
class Case:
    """One command in one home."""

    command: str
    home: str
    argv: list[str]
    env: dict[str, str]
    bound: float | None = BOUND
    before: Callable[[], None] | None = None


def cpu_of(case: Case) -> float:
    """User + system CPU seconds of one run of the case's command (and its children)."""
    if case.before is not None:
        case.before()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(case.argv, env=case.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _bundle_alone(work: Path) -> tuple[Path, Path]:
    """A record and a bundle for it naming a registry at a closed port (start-up and bundle checks only)."""
    from registry.core import canon
    from registry.core.formats import ProofBundle
    from registry.core.leaves import LeafValue
    from registry.evaluate.samples import generate_gazette

    record = generate_gazette(work / "g", office="EP", count=1)[0]
    value = LeafValue(record.stem.replace("-", ":"), canon.content_hash(record.read_bytes(), canon.XML_C14N2),
                      canon.XML_C14N2)  # fmt: skip
    bundle = ProofBundle(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", "EP", "0x" + value.leaf().hex(), value,
                         (), 1, "0x" + "11" * 32, 1, "2026-11-21T10:00:00Z")  # fmt: skip
    proof = work / "bundle.json"
    proof.write_text(bundle.dumps(), encoding="utf-8")
    return record, proof


def _emptier(home: Path) -> Callable[[], None]:
    """Remove everything but ``deployment.json`` from ``home`` (a command may have created a store)."""

    def empty() -> None:
        for path in home.iterdir():
            if path.name != "deployment.json" and path.is_file():
                path.unlink()

    return empty


def _cases(ipreg: str, work: Path, env: dict[str, str], no_node: bool) -> tuple[list[Case], Any]:
    """Every case, and the anvil node to stop (None with ``no_node``)."""
    cases = [
        Case("python -c pass (reference)", "-", [sys.executable, "-c", "pass"], env, None),
        Case("import typer (reference)", "-", [sys.executable, "-c", _FRAMEWORK], env, None),
    ]
    if no_node:
        record, proof = _bundle_alone(work)
        closed = {**env, "IPREG_HOME": str(work / "nohome"), "IPREG_RPC_URL": "http://127.0.0.1:9"}
        cases += [
            Case("ipreg --help", "none", [ipreg, "--help"], closed),
            Case("ipreg hash FILE", "none", [ipreg, "hash", str(record)], closed),
            Case("ipreg verify FILE --proof BUNDLE", "none", [ipreg, "verify", str(record), "--proof", str(proof)],
                 closed),
        ]  # fmt: skip
        return cases, None
    from anvil_fixtures import start_anvil
    from office_home import build_office_home, deployment_only

    node = start_anvil(work / "chain")
    office = build_office_home(node.rpc_url, work)
    bare = deployment_only(office, work)
    record, bundle = str(office.record), str(office.bundle)
    nohome = {**env, "IPREG_HOME": str(work / "nohome"), "IPREG_RPC_URL": node.rpc_url}
    cases += [
        Case("ipreg --help", "none", [ipreg, "--help"], nohome),
        Case("ipreg hash FILE", "none", [ipreg, "hash", record], nohome),
        Case("ipreg verify FILE --proof BUNDLE", "none", [ipreg, "verify", record, "--proof", bundle], nohome),
    ]
    commands = [
        ("verify FILE --proof BUNDLE", ["verify", record, "--proof", bundle]),
        ("verify FILE (lookup)", ["verify", record]),
        ("office list", ["office", "list"]),
        ("office signers EP", ["office", "signers", "EP"]),
        ("office proposals", ["office", "proposals"]),
        ("deployment show", ["deployment", "show"]),
        ("deployment history", ["deployment", "history"]),
        ("index status", ["index", "status"]),
    ]
    for label, home, before in (("office", office.home, None), ("deployment only", bare, _emptier(bare))):
        home_env = {**env, "IPREG_HOME": str(home), "IPREG_RPC_URL": node.rpc_url}
        cases += [Case(f"ipreg {c}", label, [ipreg, *args], home_env, before=before) for c, args in commands]
    check = subprocess.run(cases[4].argv, env=cases[4].env, capture_output=True, check=False)
    if check.returncode != 0:
        node.chain.stop()
        raise SystemExit(f"verify did not answer VERIFIED (exit {check.returncode}): the figures would be wrong")
    return cases, node


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ipreg", default=str(Path(sys.executable).parent / "ipreg"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--no-node", action="store_true", help="only the commands needing no home (verify: closed port)"
    )
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="ipreg-bench-") as tmp:
        # .pyc files written (the warm-up run writes them, as an installed package has them), no IPREG_* settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["IPREG_RPC_RETRIES"] = "0"
        cases, node = _cases(args.ipreg, Path(tmp), env, args.no_node)
        try:
            for case in cases:
                cpu_of(case)  # warm the page cache and .pyc files
                times = [cpu_of(case) for _ in range(args.runs)]
                best, median = round(min(times), 3), round(statistics.median(times), 3)
                rows.append({"command": case.command, "home": case.home, "bestCpuSeconds": best,
                             "medianCpuSeconds": median, "boundSeconds": case.bound})  # fmt: skip
        finally:
            if node is not None:
                node.chain.stop()
    over = [r for r in rows if r["boundSeconds"] is not None and r["bestCpuSeconds"] >= r["boundSeconds"]]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'command':<36} {'home':<16} {'best CPU s':>10} {'median':>8} {'bound':>6}")
        for r in rows:
            bound = "-" if r["boundSeconds"] is None else f"{r['boundSeconds']:.1f}"
            verdict = "" if r["boundSeconds"] is None else ("OVER" if r in over else "ok")
            print(f"{r['command']:<36} {r['home']:<16} {r['bestCpuSeconds']:>10.3f} {r['medianCpuSeconds']:>8.3f}"
                  f" {bound:>6} {verdict}")  # fmt: skip
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
