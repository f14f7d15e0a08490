#!/usr/bin/env python3
"""Compile contracts/ with the pinned solcjs and write registry/artifacts/*.json; print the time taken."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.toolchain import compile_contracts, write_artifacts


def main() -> int:
    """Compile, write artifacts, report seconds."""
    started = time.perf_counter()
    artifacts = compile_contracts()
    elapsed = time.perf_counter() - started
    for path in write_artifacts(artifacts):
        print(f"wrote {path}")
    print(f"compile time: {elapsed:.2f} s ({', '.join(sorted(artifacts))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
