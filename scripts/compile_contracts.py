#!/usr/bin/env python3
"""Compile contracts/ with the pinned solcjs and write every shipped artifact set; print the time taken.

``registry/artifacts/*.json`` is the default ``prague`` build, ``registry/artifacts/paris/*.json`` the
portable one (no PUSH0/MCOPY/transient storage) for nodes whose newest fork is older than Cancun.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.node.toolchain import EVM_VERSIONS, compile_contracts, write_artifacts


def main() -> int:
    """Compile each EVM version's set, write artifacts, report seconds."""
    for evm_version, out_dir in EVM_VERSIONS.items():
        started = time.perf_counter()
        artifacts = compile_contracts(evm_version=evm_version)
        elapsed = time.perf_counter() - started
        for path in write_artifacts(artifacts, out_dir):
            print(f"wrote {path}")
        print(f"compile time ({evm_version}): {elapsed:.2f} s ({', '.join(sorted(artifacts))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
