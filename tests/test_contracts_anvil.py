"""Trust scenarios on a real anvil node: a real mempool front-run, a stolen key, and the people's commands.

The front-run: anvil's automine is switched off, EP's anchoring transaction waits in the mempool, an
attacker office reads it from ``txpool_content``, copies the root and sends it with a higher tip, and
the block is mined: the attacker's copy lands first, and EP's batch still stands as EP's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from anvil_fixtures import AnvilNode
from web3 import Web3

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_account, dev_signer
from registry.core.formats import ProofBundle
from registry.core.leaves import LeafValue
from registry.core.merkle import MerkleTree, keccak
from registry.errors import ContractRevertError
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import Store
from registry.verify.verdict import REVOKED, UNAUTHORISED, VERIFIED
from registry.verify.verdicts import verify_bundle

pytestmark = pytest.mark.anvil

IPREG = str(Path(sys.executable).parent / "ipreg")


def rpc(chain: Chain, method: str, *params: Any) -> Any:
    return chain.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def test_mempool_front_run_leaves_the_owner_batch_standing(anvil: AnvilNode) -> None:
    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    ep, us = dev_signer("EP"), dev_signer("US")
    assert ep is not None and us is not None
    values = [LeafValue(f"EP:{3000000 + i}:B1", "0x" + keccak(bytes([i])).hex(), "raw") for i in range(4)]
    tree = MerkleTree.from_leaves([v.leaf() for v in values])

    rpc(chain, "evm_setAutomine", False)
    try:
        owner_tx = chain.send(ep, chain.build(ep, chain.anchors.functions.anchorBatch(tree.root, 4, "https://ep/m")))
        # The attacker watches the mempool and copies the root it finds there.
        pool = rpc(chain, "txpool_content")["pending"]
        (pending,) = [tx for txs in pool.values() for tx in txs.values()]
        assert pending["hash"] == owner_tx
        call = chain.anchors.decode_function_input(pending["input"])
        copied_root = bytes(call[1]["root"])
        assert copied_root == tree.root
        attack = chain.build(us, chain.anchors.functions.anchorBatch(copied_root, 4, "https://us/stolen"))
        attack["maxPriorityFeePerGas"] = 50 * 10**9
        attack["maxFeePerGas"] = attack["maxFeePerGas"] + 100 * 10**9
        attacker_tx = chain.send(us, attack)
        rpc(chain, "evm_mine")
    finally:
        rpc(chain, "evm_setAutomine", True)

    owner, attacker = chain.wait(owner_tx), chain.wait(attacker_tx)
    assert owner.block_number == attacker.block_number
    block = chain.w3.eth.get_block(owner.block_number)
    order = ["0x" + bytes(h).hex() for h in block["transactions"]]
    assert order.index(attacker_tx) < order.index(owner_tx), "the attacker's copy must land first"
    mine = chain.batch_of("EP", "0x" + tree.root.hex())
    assert mine is not None and mine.signer == ep.address and mine.leaf_count == 4
    copy = chain.batch_of("US", "0x" + tree.root.hex())
    assert copy is not None and copy.office == "US"

    # EP's proof verifies as EP's; the attacker's copy cannot pass EP's records off as US records.
    bundle = ProofBundle(
        chain.w3.eth.chain_id,
        chain.anchors.address,
        "EP",
        "0x" + tree.root.hex(),
        values[0],
        tuple("0x" + p.hex() for p in tree.proof(0)),
        4,
        owner_tx,
        owner.block_number,
        mine.anchored_at,
    )
    assert verify_bundle(chain, bundle).verdict == VERIFIED
    as_us = verify_bundle(chain, replace(bundle, office="US"))
    assert as_us.verdict == UNAUTHORISED and "anchored by office US" in as_us.reason


def test_stolen_key_records_stop_verifying(tmp_path: Path, anvil: AnvilNode) -> None:
    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    ep = dev_signer("EP")
    assert ep is not None
    thief = dev_account(6)
    chain.add_signer(ep, thief.address)
    chain.accept_signer(thief, "EP")

    def anchor_gazette(account: Any, name: str, seed: int) -> list[ProofBundle]:
        store = Store(tmp_path / f"{name}.sqlite")
        anchorer = Anchorer(store, chain, account, "EP", tmp_path / f"{name}-manifests", batch_size=50)
        anchorer.submit(prepare_files(generate_gazette(tmp_path / name, office="EP", count=3, seed=seed)))
        anchorer.run(tmp_path / f"{name}-proofs")
        return [ProofBundle.loads(p.read_bytes()) for p in sorted((tmp_path / f"{name}-proofs").glob("*.json"))]

    honest = anchor_gazette(thief, "before", 1)
    own = anchor_gazette(ep, "own", 4)
    stolen_from = chain.w3.eth.block_number + 1
    forged = anchor_gazette(thief, "forged", 2)
    # The thief revokes one of EP's own records: it counts until the thief's key is marked from before it.
    chain.revoke_leaf(
        thief, bytes.fromhex(own[0].root[2:]), own[0].value.encode(), [bytes.fromhex(x[2:]) for x in own[0].proof], 5
    )
    assert verify_bundle(chain, own[0]).verdict == REVOKED
    # EP stops the key now (a key's mark is never retroactive); governance, with EP, marks it from the theft.
    stopped = chain.mark_compromised(ep, thief.address)
    assert chain.office_of(thief.address) is None
    assert verify_bundle(chain, forged[0]).verdict == VERIFIED  # not yet: only governance reaches back
    proposal, _ = chain.propose(ep, "mark-compromised", "EP", signer=thief.address, from_block=stolen_from)
    for office in ("US", "JP"):
        signer = dev_signer(office)
        assert signer is not None
        chain.approve(signer, proposal)
    chain.execute(ep, proposal)
    assert chain.compromise_mark("EP", thief.address) == (stolen_from, chain.w3.eth.block_number, "governance")
    assert stopped.block_number > stolen_from
    for b in honest:
        assert verify_bundle(chain, b).verdict == VERIFIED
    assert verify_bundle(chain, own[0]).verdict == VERIFIED  # the thief's revocation no longer stands
    assert not chain.leaf_revocation_info("EP", own[0].root, own[0].value.leaf()).stands
    for b in forged:
        v = verify_bundle(chain, b)
        assert v.verdict == UNAUTHORISED
        assert f"marked compromised from block {stolen_from}" in v.reason
    # EP revokes the forged batch as well; the verdict stays UNAUTHORISED (the signer check comes first).
    chain.revoke_batch(ep, bytes.fromhex(forged[0].root[2:]), 3)
    assert verify_bundle(chain, forged[0]).verdict == UNAUTHORISED
    chain.revoke_leaf(
        ep,
        bytes.fromhex(honest[0].root[2:]),
        honest[0].value.encode(),
        [bytes.fromhex(p[2:]) for p in honest[0].proof],
        2,
    )
    assert verify_bundle(chain, honest[0]).verdict == REVOKED


def run(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([IPREG, *args], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, f"ipreg {' '.join(args)} -> {proc.returncode}: {proc.stderr}"
    return proc


def test_office_commands(tmp_path: Path, anvil: AnvilNode) -> None:
    env = {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}
    run(env, "deploy")
    gazette = tmp_path / "g"
    generate_gazette(gazette, office="EP", count=2, seed=3)
    summary = json.loads(
        run(env, "anchor", str(gazette), "--office", "EP", "--proofs", str(tmp_path / "p"), "--json").stdout
    )
    root = summary["batches"][0]["root"]

    # Governance: propose, list with payload and votes, approve (bound to the payload), execute.
    new_key = dev_account(6).address
    out = run(env, "office", "propose", "replace-signers", "WO", "--as", "EP", "--signer", new_key).stdout
    pid = int(out.split()[1].rstrip(":"))
    (listed,) = json.loads(run(env, "office", "proposals", "--json").stdout)
    assert (listed["id"], listed["action"], listed["office"]) == (pid, "replace-signers", "WO")
    assert listed["payload"] == {"nominee": Web3.to_checksum_address(new_key)}
    assert listed["approvers"] == ["EP"] and listed["countedApprovals"] == 1 and listed["requiredApprovals"] == 3
    bad = run(env, "office", "approve", str(pid), "--as", "US", "--payload", "0x" + "00" * 32, check=False)
    assert bad.returncode != 0 and "PayloadMismatch" in bad.stderr
    run(env, "office", "approve", str(pid), "--as", "US", "--payload", listed["payloadHash"])
    run(env, "office", "approve", str(pid), "--as", "JP")
    refused = run(env, "office", "execute", str(pid), "--as", "JP", check=False)  # WO is active: it must agree
    assert refused.returncode != 0 and "OfficeConsentMissing" in refused.stderr and "approval" in refused.stderr
    run(env, "office", "approve", str(pid), "--as", "WO")
    run(env, "office", "execute", str(pid), "--as", "JP")

    signers = json.loads(run(env, "office", "signers", "WO", "--json").stdout)
    by_address = {s["address"]: s for s in signers}
    assert not by_address[dev_account(5).address]["current"]
    assert by_address[Web3.to_checksum_address(new_key)]["nominated"]

    # Compromise and revocation commands: a key's mark is from now only (no --from-block).
    refused = run(env, "office", "compromise", dev_account(7).address, "--as", "EP", check=False)
    assert refused.returncode != 0 and refused.stderr.startswith("error:") and "NeverASigner" in refused.stderr
    old_style = run(env, "office", "compromise", dev_account(1).address, "--as", "EP", "--from-block", "1", check=False)
    assert old_style.returncode != 0
    proof = sorted((tmp_path / "p").glob("*.json"))[0]
    run(env, "revoke", "record", str(proof), "--as", "EP", "--reason", "2")
    verdict = json.loads(run(env, "verify", "--proof", str(proof), "--json", check=False).stdout)
    assert verdict["verdict"] == "REVOKED"
    run(env, "revoke", "batch", root, "--as", "EP", "--reason", "1")
    again = run(env, "revoke", "batch", root, "--as", "EP", check=False)
    assert again.returncode != 0 and again.stderr.startswith("error:") and "AlreadyRevoked" in again.stderr
    bad_root = run(env, "revoke", "batch", "0x12", "--as", "EP", check=False)
    assert bad_root.returncode != 0 and "not a batch root" in bad_root.stderr
    marked = run(env, "office", "compromise", dev_account(1).address, "--as", "EP").stdout
    assert "marked compromised for EP from block" in marked
    assert f"ipreg office propose mark-compromised EP --signer {dev_account(1).address} --from-block N" in marked
    rows = json.loads(run(env, "office", "signers", "EP", "--json").stdout)
    (row,) = [r for r in rows if r["address"] == dev_account(1).address]
    assert row["markedBy"] == dev_account(1).address and row["compromisedFromBlock"] == row["markedAtBlock"]


@pytest.mark.parametrize("thief_first", [True, False], ids=["thief-first", "honest-first"])
def test_a_thief_cannot_rewrite_history_whatever_the_order(tmp_path: Path, anvil: AnvilNode, thief_first: bool) -> None:
    """N1 on a real mempool: the honest key and the thief mark each other in the same block, in either
    order. A key's mark is from its block on, so the office's history stays; governance then suspends
    EP, re-keys it and marks the thief from the theft: its forgery stops verifying, the history stands."""
    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    honest, thief = dev_signer("EP"), dev_account(6)
    assert honest is not None
    chain.add_signer(honest, thief.address)
    chain.accept_signer(thief, "EP")
    values = [LeafValue(f"EP:{4000000 + i}:B1", "0x" + keccak(bytes([i, 7])).hex(), "raw") for i in range(2)]
    tree = MerkleTree.from_leaves([v.leaf() for v in values])
    history = chain.anchor_batch(honest, tree.root, 2, "https://ep/m")
    theft = chain.w3.eth.block_number + 1
    forged_root = keccak(b"forged by the thief")
    forgery = chain.anchor_batch(thief, forged_root, 1, "https://ep/forged")

    rpc(chain, "evm_setAutomine", False)
    try:
        tip = {True: (1, 50), False: (50, 1)}[thief_first]  # (honest, thief) priority fees in gwei
        sent = {}
        for who, account, target in (("honest", honest, thief), ("thief", thief, honest)):
            tx = chain.build(account, chain.offices.functions.markCompromised(target.address))
            fee = tip[0 if who == "honest" else 1] * 10**9
            tx["maxPriorityFeePerGas"] = fee
            tx["maxFeePerGas"] += fee
            sent[who] = chain.send(account, tx)
        rpc(chain, "evm_mine")
    finally:
        rpc(chain, "evm_setAutomine", True)
    outcomes = {}
    for who, tx_hash in sent.items():
        try:
            outcomes[who] = chain.wait(tx_hash).block_number
        except ContractRevertError:
            outcomes[who] = None
    winner = "thief" if thief_first else "honest"
    assert outcomes[winner] is not None and outcomes["thief" if winner == "honest" else "honest"] is None
    block = outcomes[winner]
    bundle = ProofBundle(
        chain.w3.eth.chain_id, chain.anchors.address, "EP", "0x" + tree.root.hex(), values[0],
        tuple("0x" + p.hex() for p in tree.proof(0)), 2, history.transaction_hash, history.block_number,
        chain.batch_of("EP", "0x" + tree.root.hex()).anchored_at,  # type: ignore[union-attr]
    )  # fmt: skip
    # Whoever won, nothing before this block changed: the honest history verifies.
    assert verify_bundle(chain, bundle).verdict == VERIFIED
    assert chain.is_authorised_at("EP", honest.address, history.block_number)
    if thief_first:
        assert chain.compromised_from("EP", honest.address) == block  # stopped from now, never earlier
        # The thief holds EP's only key: governance suspends EP, re-keys it, reinstates it; EP's new key then
        # approves the mark of the thief from the theft (3.1.0: without EP, a mark starts after its suspension).
        voters = [dev_signer(c) for c in ("US", "JP", "EM")]
        new_key = dev_account(7)
        for action, params in (
            ("suspend", {}),
            ("replace-signers", {"nominee": new_key.address}),
            ("reinstate", {}),
            ("mark-compromised", {"signer": thief.address, "from_block": theft}),
        ):
            signers = [new_key, *voters[:2]] if action == "mark-compromised" else voters
            pid, _ = chain.propose(signers[0], action, "EP", **params)  # type: ignore[arg-type]
            for v in signers[1:]:
                chain.approve(v, pid)  # type: ignore[arg-type]
            chain.execute(signers[0], pid)  # type: ignore[arg-type]
            if action == "replace-signers":
                chain.accept_signer(new_key, "EP")
    else:
        assert chain.compromised_from("EP", thief.address) == block
        pid, _ = chain.propose(honest, "mark-compromised", "EP", signer=thief.address, from_block=theft)
        for office in ("US", "JP"):
            chain.approve(dev_signer(office), pid)  # type: ignore[arg-type]
        chain.execute(honest, pid)
    assert not chain.is_authorised_at("EP", thief.address, forgery.block_number)
    assert verify_bundle(chain, bundle).verdict == VERIFIED
