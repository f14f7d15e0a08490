"""Exactly once on a real anvil node: SIGKILL mid-anchor, node down and back, re-runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.deployments import Deployment
from registry.evaluate import hold
from registry.evaluate.samples import generate_gazette
from registry.store.outbox import Store

pytestmark = pytest.mark.anvil
IPREG = str(Path(sys.executable).parent / "ipreg")


def ipreg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ipreg; never a traceback."""
    proc = subprocess.run([IPREG, *args], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def anchored_roots(env: dict[str, str]) -> list[str]:
    """Every BatchAnchored root on chain (what the chain says, not the store)."""
    home = Path(env["IPREG_HOME"])
    chain = Chain(connect(env["IPREG_RPC_URL"]), Deployment.load(home / "deployment.json"))
    logs = chain.anchors.events.BatchAnchored().get_logs(from_block=0)
    return ["0x" + bytes(log["args"]["root"]).hex() for log in logs]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(c) for c in handle.read().split()]
    except OSError:
        return []


@pytest.mark.parametrize(
    "moment", ["after-stage-chunk", "after-accept-chunk", "before-broadcast", "after-broadcast", "after-batch"]
)
def test_sigkill_between_submit_and_receipt_resumes_exactly_once(tmp_path: Path, anvil: AnvilNode, moment: str) -> None:
    env = {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}
    assert ipreg(env, "deploy").returncode == 0
    gazette = tmp_path / "g"
    generate_gazette(gazette, office="EP", count=30, seed=3)
    proofs = tmp_path / "proofs"
    held = tmp_path / "held"
    args = [
        IPREG,
        "anchor",
        str(gazette),
        "--office",
        "EP",
        "--proofs",
        str(proofs),
        "--batch-size",
        "10",
        "--json",
    ]
    proc = subprocess.Popen(
        [*hold.COMMAND, *args[1:]],  # ipreg with the hold installed
        env={**env, "IPREG_TEST_HOLD": f"{moment}:{held}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not held.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{w}").exists() for w in workers):  # the pool's workers do not outlive the run
        assert time.monotonic() < deadline, f"workers {workers} left behind"
        time.sleep(0.1)
    # Killed mid-gazette: only the first batch (anchored, bundles written) may have left anything.
    assert len(list(proofs.glob("*.json"))) == (10 if moment == "after-batch" else 0)
    accepted = Store(Path(env["IPREG_HOME"]) / "registry.sqlite").counts()["records"]
    assert accepted == {"after-stage-chunk": 0, "after-accept-chunk": 10}.get(moment, 30)

    again = ipreg(env, *args[1:])
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    roots = anchored_roots(env)
    assert len(roots) == len(set(roots)) == 3  # three batches of 10, none twice
    assert summary["pending"] == 0
    assert len(list(proofs.glob("*.proof.json"))) == 30
    third = json.loads(ipreg(env, *args[1:]).stdout)
    assert third["anchored"] == 0 and third["alreadyAnchored"] == 30
    assert anchored_roots(env) == roots


@pytest.mark.parametrize("moment", ["after-stage-chunk", "after-batch"])
def test_ctrl_c_says_what_is_done_in_one_line_and_rerun_resumes(tmp_path: Path, anvil: AnvilNode, moment: str) -> None:
    """SIGINT to the whole process group (Ctrl-C): one line, exit 130, no worker traceback; re-run resumes."""
    env = {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}
    assert ipreg(env, "deploy").returncode == 0
    gazette = tmp_path / "g"
    generate_gazette(gazette, office="EP", count=30, seed=3)
    args = ["anchor", str(gazette), "--office", "EP", "--batch-size", "10"]
    held = tmp_path / "held"
    proc = subprocess.Popen(
        [*hold.COMMAND, *args],
        env={**env, "IPREG_TEST_HOLD": f"{moment}:{held}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not held.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    done = {
        "after-stage-chunk": "while the files were checked: nothing was accepted or anchored yet",
        "after-batch": "after 10 records in 1 batch(es) were anchored; accepted records wait",
    }[moment]
    resume = "re-run the same command to resume (nothing is anchored twice)"
    assert err.splitlines() == [f"error: EP: interrupted {done}; {resume}"], err
    again = ipreg(env, *args, "--json")
    assert again.returncode == 0, again.stderr
    roots = anchored_roots(env)
    assert len(roots) == len(set(roots)) == 3


def test_node_down_fails_clearly_and_rerun_anchors(tmp_path: Path, anvil: AnvilNode) -> None:
    env = {
        **os.environ,
        "IPREG_HOME": str(tmp_path / "home"),
        "IPREG_RPC_URL": anvil.rpc_url,
        "IPREG_RPC_RETRIES": "2",
    }
    assert ipreg(env, "deploy").returncode == 0
    gazette = tmp_path / "g"
    generate_gazette(gazette, office="JP", count=5, seed=4)
    anvil.chain.stop()
    started = time.monotonic()
    down = ipreg(env, "anchor", str(gazette), "--office", "JP", "--json")
    assert down.returncode == 1
    assert down.stderr.startswith("error: ") and "not reachable" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 60
    anvil.chain.start()
    up = ipreg(env, "anchor", str(gazette), "--office", "JP", "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["anchored"] == 5
    assert len(anchored_roots(env)) == 1


def test_stuck_transaction_is_replaced_with_higher_fees_and_anchored_once(tmp_path: Path, anvil: AnvilNode) -> None:
    import threading

    from registry.anchor.pipeline import Anchorer
    from registry.chain.dev import dev_signer
    from registry.files.ingest import prepare_files
    from registry.node.anvil import rpc_call
    from registry.store.outbox import Store

    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    account = dev_signer("EP")
    assert account is not None
    files = generate_gazette(tmp_path / "g", office="EP", count=4, seed=9)
    anchorer = Anchorer(
        Store(tmp_path / "s.sqlite"), chain, account, "EP", tmp_path / "m", tx_timeout=1.0, max_fee_bumps=3
    )
    anchorer.submit(prepare_files(files))
    rpc_call(anvil.rpc_url, "evm_setAutomine", [False])
    sent: list[str] = []

    def mine_after_a_bump() -> None:
        # Wait until the first transaction was replaced, then mine. The store records a hash BEFORE it is
        # broadcast, so seeing the second hash is not enough: mining then would include the first one and
        # the replacement would meet "nonce too low" (the race that made this test flaky under load). Wait
        # until the node holds the replacement (its pending pool replaced the first), then mine.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = anchorer.store.batches(office="EP")
            if batch and batch[0].tx_hash and batch[0].tx_hash not in sent:
                sent.append(batch[0].tx_hash)
            if len(sent) >= 2 and rpc_call(anvil.rpc_url, "eth_getTransactionByHash", [sent[-1]]) is not None:
                break
            time.sleep(0.05)
        rpc_call(anvil.rpc_url, "evm_mine", [])

    miner = threading.Thread(target=mine_after_a_bump)
    miner.start()
    try:
        result = anchorer.run()
    finally:
        miner.join()
        rpc_call(anvil.rpc_url, "evm_setAutomine", [True])
    assert len(sent) >= 2  # the stuck transaction was replaced
    batch = result.batches[0]
    logs = chain.anchors.events.BatchAnchored().get_logs(from_block=0)
    assert len(logs) == 1  # the replacement superseded the stuck one: anchored once
    # The batch records the transaction that was mined. Under load the anchorer may bump once more
    # between the miner's last look and the block, so it need not be the last hash the miner saw.
    assert batch.status == "anchored" and batch.tx_hash == "0x" + bytes(logs[0]["transactionHash"]).hex()
    assert batch.tx_hash != sent[0]
    tx = chain.w3.eth.get_transaction(batch.tx_hash)  # type: ignore[arg-type]
    assert tx["maxPriorityFeePerGas"] > 10**9  # fees were bumped


def test_stuck_transaction_mined_while_being_replaced_is_anchored_once(tmp_path: Path, anvil: AnvilNode) -> None:
    """The race behind the old flake, made deterministic: the stuck transaction is mined just before its
    replacement is broadcast; the node refuses the replacement (nonce too low) and the run still succeeds."""
    from registry.anchor.pipeline import Anchorer
    from registry.chain.dev import dev_signer
    from registry.files.ingest import prepare_files
    from registry.node.anvil import rpc_call
    from registry.store.outbox import Store

    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    account = dev_signer("EP")
    assert account is not None
    files = generate_gazette(tmp_path / "g", office="EP", count=4, seed=10)
    anchorer = Anchorer(
        Store(tmp_path / "s.sqlite"), chain, account, "EP", tmp_path / "m", tx_timeout=1.0, max_fee_bumps=3
    )
    anchorer.submit(prepare_files(files))
    real_send = chain.send
    broadcasts: list[str] = []

    def send_after_the_original_is_mined(acct: object, tx: dict[str, object]) -> str:
        if broadcasts:  # the replacement: the original lands first
            rpc_call(anvil.rpc_url, "evm_mine", [])
        broadcasts.append(str(tx["maxFeePerGas"]))
        return real_send(acct, tx)  # type: ignore[arg-type]

    rpc_call(anvil.rpc_url, "evm_setAutomine", [False])
    chain.send = send_after_the_original_is_mined  # type: ignore[method-assign]
    try:
        result = anchorer.run()
    finally:
        chain.send = real_send  # type: ignore[method-assign]
        rpc_call(anvil.rpc_url, "evm_setAutomine", [True])
    assert len(broadcasts) == 2
    (batch,) = result.batches
    assert batch.status == "anchored"
    logs = chain.anchors.events.BatchAnchored().get_logs(from_block=0)
    assert len(logs) == 1 and "0x" + bytes(logs[0]["args"]["root"]).hex() == batch.root
    assert batch.tx_hash == "0x" + bytes(logs[0]["transactionHash"]).hex()  # the transaction that was mined


def test_cli_lists_every_bad_file_refuses_then_skip_bad_anchors_the_rest_into_archives(
    tmp_path: Path, anvil: AnvilNode
) -> None:
    env = {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}
    assert ipreg(env, "deploy").returncode == 0
    gazette = tmp_path / "g"
    files = generate_gazette(gazette, office="EP", count=6, seed=21, kinds=("st96-patent", "st97-json", "pdf"))
    (gazette / "EP-9100001-A1.pdf").write_bytes(b"")
    (gazette / "EP-9100002-A1.json").write_bytes(b'{"a":1,"a":2}')
    (gazette / "noid.pdf").write_bytes(b"%PDF-1.4")
    proofs = tmp_path / "proofs"
    args = ["anchor", str(gazette), "--office", "EP", "--proofs", str(proofs), "--batch-size", "4"]
    refused = ipreg(env, *args)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines) and len(lines) == 4
    for name in ("EP-9100001-A1.pdf", "EP-9100002-A1.json", "noid.pdf"):
        assert sum(name in line for line in lines[:3]) == 1
    assert "3 of 9 files" in lines[3] and "--skip-bad" in lines[3]
    assert anchored_roots(env) == [] and not proofs.exists()

    partial = ipreg(env, *args, "--skip-bad", "--bundle-archive", "zip", "--json")
    assert partial.returncode == 3, partial.stderr
    summary = json.loads(partial.stdout)
    assert summary["anchored"] == 6 and len(summary["badFiles"]) == 3
    archives = sorted(proofs.glob("batch-*.proofs.zip"))
    assert len(archives) == 2 == len(anchored_roots(env))
    for path in files:
        verdicts = [ipreg(env, "verify", str(path), "--proof", str(a), "--json") for a in archives]
        assert sorted(v.returncode for v in verdicts)[0] == 0  # verified from the archive that holds it
        assert [json.loads(v.stdout)["verdict"] for v in verdicts if v.returncode == 0] == ["VERIFIED"]
