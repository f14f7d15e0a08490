"""The local anvil node: start/stop, idempotence, status, port clashes, state kept across restarts."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode, anvil  # noqa: F401 - the fixture, until conftest imports it
from eth_account import Account
from typer.testing import CliRunner
from web3 import HTTPProvider, Web3

from registry.chain.dev import dev_account
from registry.cli.chain_cmd import app as chain_app
from registry.errors import ConfigError
from registry.node import anvil as localchain
from registry.node.anvil import CHAIN_ID, LocalChain, free_port, port_of, rpc_call

pytestmark = pytest.mark.anvil


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[LocalChain]:
    """A LocalChain on a free port, not started; stopped at teardown whatever the test did."""
    node = LocalChain(tmp_path / "chain", free_port())
    try:
        yield node
    finally:
        node.stop()


def _transfer(w3: Web3, to: str, value: int) -> bytes:
    """Sign a plain value transfer from dev account 0 locally and send it raw; wait for the receipt."""
    sender = dev_account(0)
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = Web3.to_wei(1, "gwei")
    tx = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "to": Web3.to_checksum_address(to),
        "value": value,
        "gas": 21000,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": 2 * base_fee + tip,
    }
    signed = sender.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    return bytes(tx_hash)


def test_state_survives_stop_and_start(chain: LocalChain) -> None:
    chain.start()
    assert int(rpc_call(chain.rpc_url, "eth_chainId"), 16) == 31337
    w3 = Web3(HTTPProvider(chain.rpc_url))
    assert w3.eth.chain_id == 31337
    recipient = Account.create().address
    tx_hash = _transfer(w3, recipient, 123_456_789)
    block = w3.eth.block_number
    # Stop at once (before the next periodic dump): the state must come from the dump at exit.
    assert chain.stop() is True
    assert not chain.is_running()
    assert chain.state_file.is_file()

    # A new controller for the same directory, as a later `ipreg chain up` would be.
    again = LocalChain(chain.state_dir, chain.port)
    again.start()
    w3 = Web3(HTTPProvider(again.rpc_url))
    assert w3.eth.block_number == block
    assert w3.eth.get_balance(recipient) == 123_456_789
    found = w3.eth.get_transaction(tx_hash)
    assert found["to"] == recipient and found["value"] == 123_456_789
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    assert w3.eth.get_transaction_count(dev_account(0).address) == 1
    # The chain continues from there.
    _transfer(w3, recipient, 1)
    assert w3.eth.block_number == block + 1
    assert again.stop() is True


def test_start_twice_is_a_no_op(chain: LocalChain) -> None:
    chain.start()
    pid = chain.status()["pid"]
    chain.start()
    assert chain.status()["pid"] == pid
    # Another controller of the same directory sees it running and does nothing either.
    other = LocalChain(chain.state_dir, chain.port)
    assert other.is_running()
    other.start()
    assert other.status()["pid"] == pid
    # ...and can stop it (as `ipreg chain down` in another process would).
    assert other.stop() is True
    assert not chain.is_running()
    assert chain.stop() is False


def test_status_fields(chain: LocalChain) -> None:
    before = chain.status()
    assert before["running"] is False and before["pid"] is None and before["block_number"] is None
    assert before["port"] == chain.port
    chain.start()
    status = chain.status()
    assert status["running"] is True
    assert isinstance(status["pid"], int) and status["pid"] == int(chain.pid_file.read_text())
    assert status["port"] == chain.port and status["host"] == "127.0.0.1"
    assert status["rpc_url"] == f"http://127.0.0.1:{chain.port}"
    assert status["chain_id"] == 31337
    assert status["block_number"] == 0
    assert chain.is_running()
    assert chain.stop() is True
    assert not chain.pid_file.exists()
    assert chain.status()["running"] is False


def test_port_taken_by_another_process(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = LocalChain(tmp_path / "chain", sock.getsockname()[1])
        with pytest.raises(ConfigError, match="already in use"):
            busy.start()
    assert not busy.pid_file.exists()


def test_port_taken_by_another_anvil(anvil: AnvilNode, tmp_path: Path) -> None:  # noqa: F811
    assert anvil.rpc_url == anvil.chain.rpc_url
    with pytest.raises(ConfigError, match="already in use"):
        LocalChain(tmp_path / "other", anvil.chain.port).start()
    assert anvil.chain.is_running()


def test_stale_pid_file_is_ignored(chain: LocalChain) -> None:
    chain.state_dir.mkdir(parents=True)
    chain.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not anvil
    assert chain.status()["running"] is False
    assert chain.stop() is False
    chain.start()
    assert chain.is_running()


def test_corrupt_state_file_is_reported(chain: LocalChain) -> None:
    chain.start()
    chain.stop()
    assert not chain.state_file.with_name("state.json.bak").exists()  # nothing loaded yet
    chain.start()  # loads state.json: it becomes the last good state
    chain.stop()
    good = chain.state_file.read_text()
    chain.state_file.write_text(good[: len(good) // 2])  # a dump cut short
    with pytest.raises(ConfigError, match=r"anvil exited at start.*state\.json\.bak"):
        chain.start()
    assert json.loads(chain.state_file.with_name("state.json.bak").read_text())
    assert not chain.pid_file.exists()


def test_port_of() -> None:
    assert port_of("http://127.0.0.1:8545") == 8545
    assert port_of("http://localhost:9000/rpc") == 9000
    assert port_of("https://rpc.example.org") == 443
    assert port_of("http://rpc.example.org") == 80
    with pytest.raises(ConfigError):
        port_of("embedded")
    with pytest.raises(ConfigError):
        port_of("http://127.0.0.1:99999")


def test_find_anvil(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert localchain.find_anvil().is_file()
    monkeypatch.setenv("IPREG_ANVIL", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="IPREG_ANVIL"):
        localchain.find_anvil()
    monkeypatch.delenv("IPREG_ANVIL")
    monkeypatch.setattr(localchain, "LOCAL_CHAIN_DIR", tmp_path)
    monkeypatch.setattr(localchain.shutil, "which", lambda _name: None)
    with pytest.raises(ConfigError, match="npm ci"):
        localchain.find_anvil()


def test_cli_up_status_down(tmp_path: Path) -> None:
    port = free_port()
    env = {"IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": f"http://127.0.0.1:{port}"}
    runner = CliRunner()
    try:
        result = runner.invoke(chain_app, ["up"], env=env)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"anvil running on http://127.0.0.1:{port} (chain 31337, block 0)"
        assert (tmp_path / "home" / "chain" / "anvil.pid").is_file()

        result = runner.invoke(chain_app, ["up"], env=env)
        assert result.exit_code == 0 and "already running" in result.output

        result = runner.invoke(chain_app, ["status", "--json"], env=env)
        assert result.exit_code == 0, result.output
        info = json.loads(result.output)
        assert info["running"] is True and info["port"] == port and info["block_number"] == 0

        result = runner.invoke(chain_app, ["status"], env=env)
        assert result.output.startswith(f"anvil running on http://127.0.0.1:{port}")

        result = runner.invoke(chain_app, ["down"], env=env)
        assert result.exit_code == 0 and result.output.startswith("anvil stopped")
        result = runner.invoke(chain_app, ["down"], env=env)
        assert result.output.strip() == "anvil not running"
        result = runner.invoke(chain_app, ["status", "--json"], env=env)
        assert json.loads(result.output)["running"] is False
    finally:
        LocalChain(tmp_path / "home" / "chain", port).stop()


def test_cli_rejects_non_local_endpoints(tmp_path: Path) -> None:
    runner = CliRunner()
    for url in ("embedded", "https://sepolia.example.org"):
        result = runner.invoke(chain_app, ["up"], env={"IPREG_HOME": str(tmp_path), "IPREG_RPC_URL": url})
        assert isinstance(result.exception, ConfigError), result.output
