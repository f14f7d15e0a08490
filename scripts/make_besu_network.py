#!/usr/bin/env python3
"""Derive local-chain/besu/{genesis.json,permissions_config.toml,static-nodes.json} from network.toml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.chain.besu import write_network
from registry.errors import RegistryError

NETWORK = Path(__file__).resolve().parent.parent / "local-chain" / "besu" / "network.toml"


def main() -> int:
    """Write the derived files; print their paths."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--network", type=Path, default=NETWORK, help="network.toml (default: local-chain/besu/)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: next to network.toml)")
    args = parser.parse_args()
    try:
        for path in write_network(args.network, args.out):
            print(f"wrote {path}")
    except RegistryError as exc:
        print(f"error: {exc.diagnostics()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
