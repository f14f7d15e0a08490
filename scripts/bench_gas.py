#!/usr/bin/env python3
"""Gas of anchorBatch for real batches of 1, 100 and 10,000 leaves (and more) on anvil.

    .venv/bin/python scripts/bench_gas.py
    .venv/bin/python scripts/bench_gas.py --sizes 1,100,10000,100000

The cost of a batch must not grow with its leaf count. For comparison, EAS multiAttest spends
~280,000 gas per attested record.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_merkle import values

from registry import merkle
from registry.chain import Chain, connect, dev_signer
from registry.localchain import LocalChain, free_port

EAS_GAS_PER_RECORD = 280_000


def main() -> int:
    """Anchor one batch per size and print gas figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,100,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    node = LocalChain(Path(tempfile.mkdtemp(prefix="ipreg-gas-")), free_port())
    node.start()
    try:
        chain = Chain(connect(node.rpc_url))
        chain.deploy_dev()
        account = dev_signer("EP")
        assert account is not None
        print(f"{'leaves':>10} {'gas':>10} {'gas/record':>12} {'vs EAS (280k/record)':>22}")
        all_values = values(max(sizes) + len(sizes))
        for k, size in enumerate(sizes):
            batch = all_values[k : k + size]  # distinct roots
            tree = merkle.MerkleTree.from_leaves([v.leaf() for v in batch])
            manifest = f"https://register.example.org/ipreg/EP/0x{tree.root.hex()}.json"
            result = chain.anchor_batch(account, tree.root, size, manifest)
            ratio = EAS_GAS_PER_RECORD * size / result.gas_used
            print(f"{size:>10,} {result.gas_used:>10,} {result.gas_used / size:>12,.2f} {ratio:>20,.0f}x less")
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
