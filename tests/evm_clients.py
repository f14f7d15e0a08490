"""Independent EVM implementations the portability tests start themselves: ganache and Hardhat EDR.

Each starter runs the client pinned in ``local-chain/package.json`` on a free port with anvil's
public dev mnemonic (so dev accounts 0-9 are funded), waits until it answers ``eth_chainId`` and
is stopped by PID. A missing client is an error (the tests fail), never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from registry.chain.client import Chain
from registry.chain.dev import dev_account
from registry.errors import NodeUnavailableError
from registry.node.anvil import DEV_MNEMONIC, LOCAL_CHAIN_DIR, free_port, rpc_call

GANACHE_CLI = LOCAL_CHAIN_DIR / "node_modules" / "ganache" / "dist" / "node" / "cli.js"
#: Ganache 7.9's newest hardfork.
GANACHE_HARDFORK = "shanghai"
GANACHE_CHAIN_ID = 1337


@dataclass(frozen=True)
class Client:
    """A running node: its endpoint, the client's own version string and its newest fork in use."""

    name: str
    rpc_url: str
    version: str
    hardfork: str


def _wait(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited at start ({proc.returncode}): {log.read_text(errors='replace')[-400:]}")
        try:
            rpc_call(url, "eth_chainId", timeout=1.0)
            return
        except NodeUnavailableError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"node did not answer on {url} within {timeout:g} s") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextmanager
def ganache(workdir: Path, block_time: float | None = None) -> Iterator[Client]:
    """Ganache 7.9 (``hardfork shanghai``, chain 1337) from local-chain/, stopped afterwards."""
    node = shutil.which("node")
    if node is None or not GANACHE_CLI.is_file():
        raise RuntimeError(f"ganache not installed ({GANACHE_CLI}): run scripts/setup.sh --dev")
    version = subprocess.run([node, str(GANACHE_CLI), "--version"], capture_output=True, text=True, check=True)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "ganache.log"
    cmd = [
        node, str(GANACHE_CLI),
        "--chain.hardfork", GANACHE_HARDFORK,
        "--chain.chainId", str(GANACHE_CHAIN_ID),
        "--server.host", "127.0.0.1",
        "--server.port", str(port),
        "--wallet.mnemonic", DEV_MNEMONIC,
        "--wallet.totalAccounts", "10",
        "--logging.quiet",
    ]  # fmt: skip
    if block_time is not None:
        cmd += ["--miner.blockTime", f"{block_time:g}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(proc, url, log, 60)
        yield Client("ganache", url, version.stdout.strip(), GANACHE_HARDFORK)
    finally:
        _stop(proc)


NODE22 = LOCAL_CHAIN_DIR / "node_modules" / "node" / "bin" / "node"
HARDHAT_CLI = LOCAL_CHAIN_DIR / "node_modules" / "hardhat" / "dist" / "src" / "cli.js"
HARDHAT_CONFIG = LOCAL_CHAIN_DIR / "hardhat" / "hardhat.config.js"


@contextmanager
def hardhat(workdir: Path) -> Iterator[Client]:
    """Hardhat 3's EDR node (``hardfork prague``, chain 31337) under the pinned Node 22, stopped afterwards."""
    if not (NODE22.is_file() and HARDHAT_CLI.is_file()):
        raise RuntimeError(f"hardhat / node@22 not installed under {LOCAL_CHAIN_DIR}: run scripts/setup.sh --dev")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "hardhat.log"
    cmd = [str(NODE22), str(HARDHAT_CLI), "--config", str(HARDHAT_CONFIG), "node",
           "--hostname", "127.0.0.1", "--port", str(port)]  # fmt: skip
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "DO_NOT_TRACK": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(proc, url, log, 90)
        version = str(rpc_call(url, "web3_clientVersion"))
        yield Client("hardhat", url, version, "prague")
    finally:
        _stop(proc)


def fund(chain: Chain, to: str, value: int = 10**19) -> None:
    """Send ``value`` wei from dev account 0 to ``to`` (a plain EIP-1559 transfer) and wait for it."""
    funder = dev_account(0)
    base = int(chain.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
    tx = {
        "type": 2,
        "chainId": chain.w3.eth.chain_id,
        "nonce": chain.w3.eth.get_transaction_count(funder.address, "pending"),
        "to": to,
        "value": value,
        "gas": 21_000,
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 2 * base + 10**9,
    }
    chain.wait(chain.send(funder, tx))
