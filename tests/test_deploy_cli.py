"""``ipreg deploy --genesis`` / ``ipreg deployment …`` on a real anvil node, as offices run them.

Never: a genesis deployed with a dev key or without a keystore; a second ``ipreg deploy`` silently
replacing a deployment that holds records; a replaced deployment forgotten; a key printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode
from eth_account import Account
from evm_clients import fund
from web3 import Web3

from registry.chain.client import Chain, connect
from registry.chain.dev import dev_account
from registry.chain.keys import create_keystore
from registry.evaluate.samples import generate_gazette
from registry.node.toolchain import REPO_ROOT

pytestmark = pytest.mark.anvil

IPREG = str(Path(sys.executable).parent / "ipreg")
EXAMPLE = REPO_ROOT / "local-chain" / "genesis.example.toml"


def run(env: dict[str, str], *args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([IPREG, *args], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == status, f"ipreg {' '.join(args)} -> {proc.returncode}: {proc.stdout}{proc.stderr}"
    return proc


@pytest.fixture
def env(tmp_path: Path, anvil: AnvilNode) -> dict[str, str]:
    return {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}


def keystore(tmp_path: Path, rpc_url: str) -> tuple[Path, str, str]:
    """A funded deployer keystore: (path, password, address)."""
    password = "deployer-password-1"
    path = tmp_path / "deployer.json"
    address = create_keystore(path, password, kdf_iterations=2)
    fund(Chain(connect(rpc_url)), address)
    return path, password, address


def local_genesis(tmp_path: Path, chain_id: int = 31337) -> Path:
    """The example genesis for this chain, signers = dev accounts 1-5 (so the test can act as offices)."""
    text = EXAMPLE.read_text().replace("chain_id = 20260", f"chain_id = {chain_id}")
    for i, signer in enumerate(re.findall(r'signers = \["(0x[0-9a-fA-F]{40})"\]', text), start=1):
        text = text.replace(signer, str(dev_account(i).address))
    path = tmp_path / "genesis.toml"
    path.write_text(text)
    return path


def test_genesis_deploy_with_keystore_prints_record_and_verifies(tmp_path: Path, env: dict[str, str]) -> None:
    genesis = local_genesis(tmp_path)
    refused = run(env, "deploy", "--genesis", str(genesis), status=1)
    assert refused.stderr.startswith("error: ") and "keystore" in refused.stderr
    path, password, address = keystore(tmp_path, env["IPREG_RPC_URL"])
    wrong = run({**env, "IPREG_KEYSTORE_PASSWORD": "nope"}, "deploy", "--genesis", str(genesis),
                "--keystore", str(path), status=1)  # fmt: skip
    assert "wrong password" in wrong.stderr
    env = {**env, "IPREG_KEYSTORE": str(path), "IPREG_KEYSTORE_PASSWORD": password}
    out = run(env, "deploy", "--genesis", str(genesis), "--json")
    body = json.loads(out.stdout)
    assert body["deployer"] == address and body["preset"] == "genesis" and body["evmVersion"] == "paris"
    assert body["offices"] == ["EP", "US", "JP", "EM", "WO"] and body["requiredApprovals"] == 3
    assert [s["contract"] for s in body["steps"]] == ["OfficeRegistry", "AnchorRegistry"]
    assert body["gasUsed"] == sum(s["gasUsed"] for s in body["steps"]) > 2_000_000
    assert body["replaced"] is None
    recorded = json.loads((tmp_path / "home" / "deployment.json").read_text())
    assert recorded["anchor_registry"] == body["anchorRegistry"] and recorded["format"] == "ipreg-deployment-v1"
    key_hex = Account.decrypt(json.loads(path.read_text()), password).hex()
    for text in (out.stdout, out.stderr, (tmp_path / "home" / "deployment.json").read_text()):
        assert key_hex.removeprefix("0x") not in text

    ok = run(env, "deployment", "verify", "--genesis", str(genesis))
    assert ok.stdout.strip().endswith("VERIFIED") and "FAIL" not in ok.stdout
    changed = tmp_path / "changed.toml"
    changed.write_text(genesis.read_text().replace("min_approvals = 2", "min_approvals = 4"))
    bad = run(env, "deployment", "verify", "--genesis", str(changed), "--json", status=2)
    assert {c["check"] for c in json.loads(bad.stdout)["checks"] if not c["ok"]} >= {"genesis.rule", "genesis.file"}
    # A dev key cannot sign for a genesis office: the preset is not "dev".
    gazette = tmp_path / "g"
    generate_gazette(gazette, office="EP", count=2, seed=3)
    no_key = run(env | {"IPREG_KEYSTORE": ""}, "anchor", str(gazette), "--office", "EP", status=1)
    assert "no key for office EP" in no_key.stderr or "keystore" in no_key.stderr

    wrong_chain = tmp_path / "other-chain.toml"
    wrong_chain.write_text(genesis.read_text().replace("chain_id = 31337", "chain_id = 20260"))
    refused = run(env, "deploy", "--genesis", str(wrong_chain), "--replace", status=1)
    assert "genesis is for chain 20260" in refused.stderr
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text(genesis.read_text().replace('code = "JP"', 'code = "J1"'))
    assert "not a WIPO ST.3" in run(env, "deploy", "--genesis", str(bad_file), status=1).stderr


def test_no_silent_replacement_and_the_old_deployment_stays_readable(tmp_path: Path, env: dict[str, str]) -> None:
    first = json.loads(run(env, "deploy", "--json").stdout)
    again = json.loads(run(env, "deploy", "--json").stdout)  # empty: replaced, but kept
    assert again["replaced"] is not None and Path(again["replaced"], "deployment.json").is_file()
    gazette = tmp_path / "g"
    files = generate_gazette(gazette, office="EP", count=3, seed=5)
    run(env, "anchor", str(gazette), "--office", "EP", "--proofs", str(tmp_path / "proofs"))
    refused = run(env, "deploy", status=1)
    assert refused.stderr.count("\n") == 1 and again["anchorRegistry"] in refused.stderr
    assert "3 record(s)" in refused.stderr and "1 batch(es) anchored" in refused.stderr
    assert "--replace" in refused.stderr
    assert json.loads((tmp_path / "home" / "deployment.json").read_text())["anchor_registry"] == again["anchorRegistry"]

    assert "not an AnchorRegistry" in run(env, "deploy", "--replace", "--predecessor", first["officeRegistry"],
                                          status=1).stderr  # fmt: skip
    third = json.loads(run(env, "deploy", "--replace", "--predecessor", again["anchorRegistry"], "--json").stdout)
    assert third["predecessor"] == again["anchorRegistry"]
    archive = Path(third["replaced"])
    assert third["anchorRegistry"] not in (first["anchorRegistry"], again["anchorRegistry"])
    assert (archive / "registry.sqlite").is_file() and not (tmp_path / "home" / "registry.sqlite-wal").exists()
    history = json.loads(run(env, "deployment", "history", "--json").stdout)
    assert [h["anchorRegistry"] for h in history] == [first["anchorRegistry"], again["anchorRegistry"]]
    # The old deployment is still readable: its records verify through its archived home.
    old_env = {**env, "IPREG_HOME": str(archive)}
    verdict = json.loads(run(old_env, "verify", str(files[0]), "--json").stdout)
    assert verdict["verdict"] == "VERIFIED"
    # The new one starts empty and knows nothing of them.
    assert json.loads(run(env, "verify", str(files[0]), "--json", status=4).stdout)["verdict"] == "UNKNOWN"
    shown = json.loads(run(env, "deployment", "show", "--json").stdout)
    assert shown["anchorRegistry"] == third["anchorRegistry"] and len(shown["steps"]) == 2
    checks = json.loads(run(env, "deployment", "verify", "--json").stdout)["checks"]
    link = next(c for c in checks if c["check"] == "migration.predecessor")
    assert link["ok"] and "not frozen yet" in link["detail"]


def test_example_genesis_on_its_own_chain(tmp_path: Path) -> None:
    """The committed example deploys unchanged on a London chain with its chain id (as local-chain/besu/ runs)."""
    from registry.node.anvil import LocalChain, free_port

    chain_id = tomllib.loads(EXAMPLE.read_text())["chain_id"]
    node = LocalChain(tmp_path / "chain", free_port(), chain_id=chain_id, hardfork="london")  # Besu's EVM
    node.start()
    try:
        env = {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": node.rpc_url}
        assert "not a local dev chain" in run(env, "deploy", status=1).stderr
        path, password, _ = keystore(tmp_path, node.rpc_url)
        env |= {"IPREG_KEYSTORE": str(path), "IPREG_KEYSTORE_PASSWORD": password}
        body = json.loads(run(env, "deploy", "--genesis", str(EXAMPLE), "--json").stdout)
        assert body["chainId"] == chain_id and Web3.is_checksum_address(body["anchorRegistry"])
        run(env, "deployment", "verify", "--genesis", str(EXAMPLE))
    finally:
        node.stop()
