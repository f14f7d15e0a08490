#!/usr/bin/env python3
"""Canonicalizer throughput: records/s on generated ST.96 files, xml-c14n2 v1, v2 (frozen) and v3 in one run.

    .venv/bin/python scripts/bench_canon.py                 # 10,000 ST.96 patent + trademark files
    .venv/bin/python scripts/bench_canon.py --count 2000 --rounds 5 --json
    .venv/bin/python scripts/bench_canon.py --count 0 --qnames 5000,20000,50000   # only the scaling case

The files come from registry.evaluate.samples (what scripts/gen_gazette.py writes), held in memory so only
canonicalization is timed, in CPU seconds of this process (steadier than wall time when the
machine is shared; say so when quoting the figures). Each round times every method once over all
files, alternating the order, and the best round counts.
Also timed: the current method plus reading the record id from the canonical form (what ``ipreg
anchor`` does per file), json-jcs v1/v2 on the ST.97 JSON sample records, and (issue 18, finding 5)
one element with k prefixes each used by a QName-like attribute value, under v2 and v3: v2 is
quadratic in k, v3 linear (``--qnames``; v2 is skipped above ``--v2-limit`` values).
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
    parser.add_argument("--qnames", default="5000,20000,50000", help="k for the one-element scaling case ('' skips)")
    parser.add_argument("--v2-limit", type=int, default=20_000, help="largest k timed under v2 (quadratic)")
    args = parser.parse_args()
    scaling = _scaling([int(k) for k in args.qnames.split(",") if k], args.v2_limit)
    if args.count <= 0:
        _print_scaling(scaling, args.json)
        return 0

    xml = [
        s.data
        for s in iter_gazette(office=args.office, count=args.count, seed=1, kinds=("st96-patent", "st96-trademark"))
    ]
    js = [s.data for s in iter_gazette(office=args.office, count=max(args.count // 5, 1), seed=1, kinds=("st97-json",))]
    methods: dict[str, tuple[Callable[[bytes], object], list[bytes]]] = {
        "xml-c14n2 (v1)": (lambda d: canon.canonical_bytes(d, canon.XML_C14N2_V1), xml),
        "xml-c14n2-v2 (frozen)": (lambda d: canon.canonical_bytes(d, canon.XML_C14N2_V2), xml),
        "xml-c14n2-v3": (lambda d: canon.canonical_bytes(d, canon.XML_C14N2), xml),
        "xml-c14n2-v3 + record id": (
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
    ratio = best["xml-c14n2-v2 (frozen)"] / best["xml-c14n2-v3"]
    if args.json:
        print(json.dumps({"figures": figures, "v3OverV2": round(ratio, 3), "qnameScaling": scaling}, indent=2))
    else:
        print(f"best of {args.rounds} rounds, CPU time (on a shared machine compare figures of one run only)")
        for name, fig in figures.items():
            print(
                f"  {name:<26} {fig['files']:>6} files {fig['seconds']:>7.3f} s {fig['recordsPerSecond']:>8,} records/s"
            )
        print(f"  xml-c14n2-v3 speed relative to v2: {ratio:.2f}x")
        _print_scaling(scaling, False)
    return 0


def _qname_element(k: int) -> bytes:
    """One element with k prefixes, each declared and used by one QName-like attribute value."""
    decls = " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(k))
    attrs = " ".join(f'a{i}="p{i}:v"' for i in range(k))
    return f"<r {decls} {attrs}/>".encode()


def _declaring_children(k: int) -> bytes:
    """A root with k prefixes and k children each declaring one more (the scope is never copied)."""
    decls = " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(k))
    return (f"<r {decls}>" + "".join(f'<c xmlns:q="urn:{i}"/>' for i in range(k)) + "</r>").encode()


def _scaling(ks: list[int], v2_limit: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for k in ks:
        doc = _qname_element(k)
        nested = _declaring_children(k)
        row: dict[str, object] = {
            "k": k,
            "bytes": len(doc),
            "v3DeclaringChildrenSeconds": round(
                _time(lambda d: canon.canonical_bytes(d, canon.XML_C14N2), [nested]), 3
            ),
        }
        for label, method in (("v3Seconds", canon.XML_C14N2), ("v2Seconds", canon.XML_C14N2_V2)):
            if method == canon.XML_C14N2_V2 and k > v2_limit:
                row[label] = None
                continue
            row[label] = round(_time(lambda d, m=method: canon.canonical_bytes(d, m), [doc]), 3)
        rows.append(row)
    return rows


def _print_scaling(rows: list[dict[str, object]], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"qnameScaling": rows}, indent=2))
        return
    if rows:
        print("one element, k prefixes each used by a QName-like value (CPU s):")
    for row in rows:
        v2 = row["v2Seconds"]
        print(
            f"  k={row['k']:>6,} ({row['bytes'] / 1e6:.1f} MB)  v3 {row['v3Seconds']:>7.3f} s"
            f"  v2 {'skipped (--v2-limit)' if v2 is None else f'{v2:.3f} s'}"
            f"  | k children each declaring a prefix: v3 {row['v3DeclaringChildrenSeconds']:.3f} s"
        )


if __name__ == "__main__":
    raise SystemExit(main())
