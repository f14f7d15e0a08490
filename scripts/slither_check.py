#!/usr/bin/env python3
"""Slither over contracts/, offline: crytic-compile's solc-json platform and the pinned solcjs wrapper.

    .venv/bin/python scripts/slither_check.py [--json REPORT]

Prints every finding with its impact and whether the allowlist (scripts/slither_allowlist.json) explains
it; exits 1 if a High or Medium finding is not explained, 2 if slither or the toolchain is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SOLC = REPO / "local-chain" / "solc"
OPENZEPPELIN = REPO / "local-chain" / "node_modules" / "@openzeppelin"
ALLOWLIST = Path(__file__).resolve().parent / "slither_allowlist.json"
BLOCKING = ("High", "Medium")


def slither_binary() -> Path | None:
    """The slither of this interpreter's environment, if installed."""
    candidate = Path(sys.executable).parent / "slither"
    return candidate if candidate.is_file() else None


def run_slither(slither: Path) -> list[dict[str, Any]]:
    """Run slither in a scratch directory (no foundry.toml above it) and return its detector results."""
    with tempfile.TemporaryDirectory(prefix="ipreg-slither-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "contracts", work / "contracts")
        (work / "@openzeppelin").symlink_to(OPENZEPPELIN, target_is_directory=True)
        sources = {
            f"contracts/{p.name}": {"content": p.read_text(encoding="utf-8")}
            for p in sorted((work / "contracts").glob("*.sol"))
        }
        settings = {"evmVersion": "prague", "optimizer": {"enabled": True, "runs": 1000}}
        (work / "input.json").write_text(json.dumps({"language": "Solidity", "sources": sources, "settings": settings}))
        cmd = [
            str(slither),
            "input.json",
            "--compile-force-framework",
            "solc-json",
            "--solc",
            str(SOLC),
            "--json",
            "out.json",
        ]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
        out = work / "out.json"
        if not out.is_file():
            raise RuntimeError(f"slither produced no report (exit {proc.returncode}): {proc.stderr[-2000:]}")
        report = json.loads(out.read_text())
        if not report.get("success"):
            raise RuntimeError(f"slither failed: {report.get('error')}")
        return list(report["results"].get("detectors", []))


def explained(finding: dict[str, Any], allow: list[dict[str, str]]) -> str | None:
    """The allowlist's reason for ``finding``, or None."""
    for entry in allow:
        if entry["check"] == finding["check"] and entry["match"] in finding["description"]:
            return entry["reason"]
    return None


def main() -> int:
    """Run, classify, print; exit status as documented."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="Write the classified findings here.")
    args = parser.parse_args()
    slither = slither_binary()
    if slither is None or not OPENZEPPELIN.is_dir():
        print("error: slither or local-chain/node_modules missing: run scripts/setup.sh --dev", file=sys.stderr)
        return 2
    allow = json.loads(ALLOWLIST.read_text(encoding="utf-8"))["allow"]
    started = time.perf_counter()
    findings = run_slither(slither)
    elapsed = time.perf_counter() - started
    rows = []
    for f in findings:
        reason = explained(f, allow)
        first = f["description"].strip().splitlines()[0]
        status = "explained" if reason else ("UNEXPLAINED" if f["impact"] in BLOCKING else "noted")
        rows.append({"impact": f["impact"], "check": f["check"], "status": status, "finding": first, "reason": reason})
        print(f"{f['impact']:<13} {f['check']:<24} {status:<11} {first[:140]}")
    bad = [r for r in rows if r["status"] == "UNEXPLAINED"]
    print(f"slither: {len(rows)} findings, {len(bad)} unexplained High/Medium, {elapsed:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
