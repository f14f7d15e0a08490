#!/usr/bin/env python3
"""Time to refuse each hostile or malformed input of the canonicalization tests (bound: 0.5 s each).

    scripts/bench_hostile.py [--runs 3]

The unit test (tests/test_canon.py) checks the behaviour (refused, without expanding the input);
the time bound lives here, where a loaded machine can be taken into account: best of N runs.
Exit status 1 if a case's best time is over the bound.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUND_SECONDS = 0.5


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    spec = importlib.util.spec_from_file_location("hostile_cases", ROOT / "tests" / "test_canon.py")
    assert spec is not None and spec.loader is not None
    cases = importlib.util.module_from_spec(spec)
    sys.modules["hostile_cases"] = cases  # dataclasses look their module up
    spec.loader.exec_module(cases)

    from registry.core import canon
    from registry.errors import CanonicalizationError

    worst = 0.0
    over = []
    for param in cases.HOSTILE:
        data, method = param.values
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            try:
                canon.canonical_bytes(data, method)
                raise SystemExit(f"{param.id}: accepted, but it must be refused")
            except CanonicalizationError:
                pass
            times.append(time.perf_counter() - started)
        best = min(times)
        worst = max(worst, best)
        if best >= BOUND_SECONDS:
            over.append(param.id)
        print(f"{param.id:<48} {len(data):>9,} bytes  best {best * 1000:8.2f} ms")
    print(f"{len(cases.HOSTILE)} cases, slowest refusal {worst * 1000:.1f} ms (bound {BOUND_SECONDS * 1000:.0f} ms)")
    if over:
        print("over the bound: " + ", ".join(over))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
