#!/usr/bin/env python3
"""Merkle benchmark: 1,000,000 leaves with all proofs, against OpenZeppelin's JS StandardMerkleTree.of.

    .venv/bin/python scripts/bench_merkle.py               # 1,000,000 leaves (issue 3 target: < 10 s)
    .venv/bin/python scripts/bench_merkle.py --count 100000 --no-oz

Times leaf hashing (ABI encoding + double keccak), the tree and every proof, reports peak memory,
checks a sample of proofs, then runs the reference on the same values and compares roots and times.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from oz_reference import oz_tree

from registry.core import merkle
from registry.core.leaves import ZERO_HASH, LeafValue


def values(count: int) -> list[LeafValue]:
    """Deterministic, realistic leaf values (EP publications, ST.96 content hashes)."""
    return [
        LeafValue(
            f"EP:{4000000 + i}:B1", "0x" + hashlib.sha256(i.to_bytes(8, "big")).hexdigest(), "xml-c14n2", ZERO_HASH
        )
        for i in range(count)
    ]


def main() -> int:
    """Run and print figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--no-oz", action="store_true", help="skip the OpenZeppelin reference")
    args = parser.parse_args()
    vals = values(args.count)
    started = time.perf_counter()
    leaves = [v.leaf() for v in vals]
    t_leaves = time.perf_counter()
    tree = merkle.MerkleTree.from_leaves(leaves)
    t_tree = time.perf_counter()
    proofs = tree.proofs()
    t_proofs = time.perf_counter()
    total = t_proofs - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    step = max(1, args.count // 1000)
    assert all(merkle.verify(tree.root, leaves[k], proofs[k]) for k in range(0, args.count, step))
    root = "0x" + tree.root.hex()
    print(f"leaves                {args.count:,}")
    print(f"leaf hashing          {t_leaves - started:.2f} s")
    print(f"tree                  {t_tree - t_leaves:.2f} s")
    print(f"all proofs            {t_proofs - t_tree:.2f} s")
    print(f"total                 {total:.2f} s  ({args.count / total:,.0f} leaves/s; target < 10 s for 1,000,000)")
    print(f"peak memory           {peak:,.0f} MB")
    print(f"root                  {root}")
    if not args.no_oz:
        del proofs, tree
        oz_root, oz_seconds = oz_tree([v.as_list() for v in vals])
        print(f"OpenZeppelin .of      {oz_seconds:.2f} s (tree alone, same values, node)")
        print(f"roots equal           {oz_root == root}")
        print(f"speed-up              {oz_seconds / total:.1f}x (ours with all proofs vs theirs without)")
        if oz_root != root:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
