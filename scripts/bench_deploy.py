#!/usr/bin/env python3
"""Time a full genesis deployment on a fresh anvil: `ipreg deploy --genesis` end to end, gas per step.

Starts its own anvil (local-chain/) on a free port with the example genesis' chain id, funds a new
encrypted deployer keystore (scrypt, default cost), runs the command as an office would, then
`ipreg deployment verify`. ``--block-time 2`` mines on an interval (QBFT-like); ``--confirmations``
waits that many blocks per step. Prints seconds and gas; the machine is shared, so say so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.chain.client import Chain, connect
from registry.chain.dev import dev_account
from registry.chain.keys import create_keystore
from registry.node.anvil import LocalChain, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "local-chain" / "genesis.example.toml"
IPREG = str(Path(sys.executable).parent / "ipreg")


def main() -> int:
    """Run the benchmark once per repetition and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--genesis", type=Path, default=EXAMPLE)
    parser.add_argument("--block-time", type=float, default=None, help="anvil --block-time (default: automine)")
    parser.add_argument("--confirmations", type=int, default=1)
    parser.add_argument("--hardfork", default="london", help="anvil --hardfork (default london, as the Besu spec)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chain_id = tomllib.loads(args.genesis.read_text()).get("chain_id") or 31337
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            node = LocalChain(Path(tmp) / "chain", free_port(), block_time=args.block_time, chain_id=chain_id,
                              hardfork=args.hardfork)  # fmt: skip
            node.start()
            try:
                password = "bench-password-1"
                keystore = Path(tmp) / "deployer.json"
                address = create_keystore(keystore, password)
                chain = Chain(connect(node.rpc_url))
                tx = chain.build(dev_account(0), data=None)
                tx.update(to=address, value=10**19, gas=21_000)
                chain.wait(chain.send(dev_account(0), tx))
                env = {**os.environ, "IPREG_HOME": str(Path(tmp) / "home"), "IPREG_RPC_URL": node.rpc_url,
                       "IPREG_KEYSTORE": str(keystore), "IPREG_KEYSTORE_PASSWORD": password}  # fmt: skip
                cmd = [IPREG, "deploy", "--genesis", str(args.genesis), "--confirmations", str(args.confirmations)]
                started = time.perf_counter()
                out = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, check=True)
                elapsed = time.perf_counter() - started
                body = json.loads(out.stdout)
                started = time.perf_counter()
                subprocess.run([IPREG, "deployment", "verify", "--genesis", str(args.genesis)], env=env,
                               capture_output=True, text=True, check=True)  # fmt: skip
                verify_s = time.perf_counter() - started
            finally:
                node.stop()
        steps = ", ".join(f"{s['contract']} {s['gasUsed']:,} gas" for s in body["steps"])
        print(
            f"run {run + 1}: ipreg deploy --genesis {elapsed:.2f} s ({args.hardfork}, block time"
            f" {args.block_time or 'automine'}, {args.confirmations} confirmation(s)); {steps};"
            f" total {body['gasUsed']:,} gas; deployment verify {verify_s:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
