#!/usr/bin/env python3
"""Canonicalizer throughput: records/s on generated ST.96 files, old (v1) and new (v2) algorithm in one run.

    .venv/bin/python scripts/bench_canon.py                 # 10,000 ST.96 patent + trademark files
    .venv/bin/python scripts/bench_canon.py --count 2000 --rounds 5 --json

The files come from registry.evaluate.samples (what scripts/gen_gazette.py writes), held in memory so only
canonicalization is timed, in CPU seconds of this process (steadier than wall time when the
machine is shared; say so when quoting the figures). Each round times every method once over all
files, alternating the order, and the best round counts.
Also timed: the new method plus reading the record id from the canonical form (what ``ipreg
anchor`` does per file), and json-jcs v1/v2 on the ST.97 JSON sample records.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.core import canon
from registry.core.identify import identify
from registry.evaluate.samples import iter_gazette


def _time(fn: Callable[[bytes], object], docs: list[bytes]) -> float:
    started = time.process_time()  # CPU time of this process: steadier than wall time on a shared machine
    for doc in docs:
        fn(doc)
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="ST.96 files (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--office", default="EP")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    xml = [
        s.data
        for s in iter_gazette(office=args.office, count=args.count, seed=1, kinds=("st96-patent", "st96-trademark"))
    ]
    js = [s.data for s in iter_gazette(office=args.office, count=max(args.count // 5, 1), seed=1, kinds=("st97-json",))]
    methods: dict[str, tuple[Callable[[bytes], object], list[bytes]]] = {
        "xml-c14n2 (v1)": (lambda d: canon.canonical_bytes(d, canon.XML_C14N2_V1), xml),
        "xml-c14n2-v2": (lambda d: canon.canonical_bytes(d, canon.XML_C14N2), xml),
        "xml-c14n2-v2 + record id": (
            lambda d: identify(canon.canonical_bytes(d, canon.XML_C14N2), canon.XML_C14N2),
            xml,
        ),
        "json-jcs (v1)": (lambda d: canon.canonical_bytes(d, canon.JSON_JCS_V1), js),
        "json-jcs-v2": (lambda d: canon.canonical_bytes(d, canon.JSON_JCS), js),
    }
    best: dict[str, float] = {}
    for r in range(args.rounds):
        order = list(methods) if r % 2 == 0 else list(reversed(methods))
        for name in order:
            fn, docs = methods[name]
            elapsed = _time(fn, docs)
            best[name] = min(best.get(name, elapsed), elapsed)
    figures = {
        name: {
            "files": len(methods[name][1]),
            "seconds": round(best[name], 3),
            "recordsPerSecond": round(len(methods[name][1]) / best[name]),
        }
        for name in methods
    }
    ratio = best["xml-c14n2 (v1)"] / best["xml-c14n2-v2"]
    if args.json:
        print(json.dumps({"figures": figures, "v2OverV1": round(ratio, 3)}, indent=2))
    else:
        print(f"best of {args.rounds} rounds, CPU time (on a shared machine compare figures of one run only)")
        for name, fig in figures.items():
            print(
                f"  {name:<26} {fig['files']:>6} files {fig['seconds']:>7.3f} s {fig['recordsPerSecond']:>8,} records/s"
            )
        print(f"  xml-c14n2-v2 speed relative to v1: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
