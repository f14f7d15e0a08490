"""Generate a deterministic sample gazette (thin CLI over ``registry.evaluate.samples``).

Usage (from a checkout, no install needed)::

    python scripts/gen_gazette.py OUT_DIR --office EP --count 1000 --seed 1 \
        --kinds st96-patent,pdf

Kinds: st96-patent, st96-trademark, st97-json, pdf (comma-separated; files are
assigned to kinds round-robin, ``--count`` is the total number of files).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.evaluate.samples import KINDS, generate_gazette


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, write the gazette and print a one-line summary."""
    parser = argparse.ArgumentParser(
        prog="gen_gazette.py",
        description="Write deterministic sample IP office publication files.",
    )
    parser.add_argument("out_dir", type=Path, help="output directory (created if missing)")
    parser.add_argument("--office", default="EP", help="two-letter office code (default: EP)")
    parser.add_argument("--count", type=int, default=10, help="total number of files (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--kinds",
        default="st96-patent",
        help=f"comma-separated kinds out of {','.join(KINDS)} (default: st96-patent)",
    )
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    started = time.perf_counter()
    try:
        paths = generate_gazette(args.out_dir, office=args.office, count=args.count, seed=args.seed, kinds=kinds)
    except ValueError as exc:
        parser.error(str(exc))
    elapsed = time.perf_counter() - started
    rate = len(paths) / elapsed if elapsed > 0 else float("inf")
    print(f"wrote {len(paths)} files to {args.out_dir} in {elapsed:.2f}s ({rate:,.0f} files/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
