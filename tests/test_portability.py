"""The same Python code and shipped bytecode on independent EVM implementations.

Each client is started by the test (anvil and ganache from local-chain/, eth-tester in process):
deploy from a genesis, verify the deployment, anchor a gazette, verify its bundles (VERIFIED, and
TAMPERED for changed content; over JSON-RPC also through the light reader, verdict for verdict) and
carry out one governance action (admit an office by threshold).
The prague build is refused by ganache (Shanghai) with a hint naming the portable build.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from anvil_fixtures import start_anvil
from eth_account import Account
from eth_account.signers.local import LocalAccount
from evm_clients import Client, fund, ganache, hardhat
from web3 import Web3

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy
from registry.chain.deploy_checks import verify_deployment
from registry.chain.dev import dev_account
from registry.chain.genesis import Genesis, GenesisOffice
from registry.chain.light import LightReader
from registry.config import EMBEDDED
from registry.core.contract import GovernanceRule
from registry.core.formats import ProofBundle
from registry.core.merkle import keccak
from registry.errors import ChainError
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.node.anvil import find_anvil
from registry.store.outbox import Store
from registry.verify.readers import LiveReader
from registry.verify.verdict import TAMPERED, VERIFIED
from registry.verify.verdicts import verify_bundle
from registry.verify.verifier import Verifier

OFFICES = (("EP", "European Patent Office"), ("US", "USPTO"), ("JP", "JPO"))


def genesis() -> Genesis:
    """Three offices signed by dev accounts 1-3; a majority (2 of 3) approves."""
    offices = [
        GenesisOffice(code, name, f"https://{code.lower()}.example.org/?q=", (str(dev_account(i).address),))
        for i, (code, name) in enumerate(OFFICES, start=1)
    ]
    return Genesis.of(offices, GovernanceRule())


def funded_deployer(chain: Chain) -> LocalAccount:
    """A fresh key (no dev account deploys), funded by dev account 0."""
    deployer: LocalAccount = Account.create()
    fund(chain, deployer.address)
    return deployer


def scenario(chain: Chain, evm_version: str, tmp_path: Path) -> dict[str, int]:
    """Deploy, verify the deployment, anchor, verify bundles, one governance action; gas per step."""
    g = genesis()
    record = deploy(chain, funded_deployer(chain), g, evm_version=evm_version)
    checks = verify_deployment(chain, record, g)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.name for c in checks} >= {"OfficeRegistry.code", "AnchorRegistry.creation", "genesis.signers"}

    files = generate_gazette(tmp_path / "gazette", office="EP", count=5, seed=9)
    anchorer = Anchorer(Store(tmp_path / "store.sqlite"), chain, dev_account(1), "EP", tmp_path / "manifests")
    anchorer.submit(prepare_files(files))
    result = anchorer.run(tmp_path / "proofs")
    assert result.records == 5 and len(result.batches) == 1
    bundles = [ProofBundle.loads(p.read_text()) for p in sorted((tmp_path / "proofs").glob("*.proof.json"))]
    assert len(bundles) == 5
    for bundle in bundles:
        assert verify_bundle(chain, bundle).verdict == VERIFIED
    assert verify_bundle(chain, bundles[0], content_hash="0x" + keccak(b"other").hex()).verdict == TAMPERED
    rpc_url = getattr(chain.w3.provider, "endpoint_uri", None)
    if rpc_url:  # the light JSON-RPC reader gives the same verdicts, call for call, on this client too
        dep = record.deployment
        light = Verifier(LightReader(str(rpc_url), dep.anchor_registry, retries=0))
        live = Verifier(LiveReader(chain))
        for bundle in bundles:
            assert light.verify_bundle(bundle).to_json() == live.verify_bundle(bundle).to_json()

    ep, us = dev_account(1), dev_account(2)
    proposal, proposed = chain.propose(
        ep, "admit", "KR", name="KIPO", base_uri="https://kipo.example.org/", signer=dev_account(6).address
    )
    approved = chain.approve(us, proposal)
    executed = chain.execute(us, proposal)
    assert chain.office_codes() == ["EP", "US", "JP", "KR"]
    assert chain.office_info("KR")[2] == "active"
    assert chain.office_of(dev_account(6).address) is None  # nominated: it signs once it accepts
    chain.accept_signer(dev_account(6), "KR")
    assert chain.office_of(dev_account(6).address) == "KR"
    return {
        "OfficeRegistry": record.steps[0].gas_used,
        "AnchorRegistry": record.steps[1].gas_used,
        "anchorBatch": result.batches[0].gas_used or 0,
        "propose": proposed.gas_used,
        "approve": approved.gas_used,
        "execute": executed.gas_used,
    }


@pytest.fixture
def anvil_client(tmp_path: Path) -> Iterator[Client]:
    node = start_anvil(tmp_path / "anvil")
    out = subprocess.run([str(find_anvil()), "--version"], capture_output=True, text=True, check=True).stdout
    try:
        yield Client("anvil", node.rpc_url, out.strip().splitlines()[0], "prague")
    finally:
        node.chain.stop()


@pytest.mark.parametrize("evm_version", ["prague", "paris"])
def test_eth_tester(evm_version: str, tmp_path: Path) -> None:
    chain = Chain(connect(EMBEDDED))
    gas = scenario(chain, evm_version, tmp_path)
    assert gas["anchorBatch"] > 0
    print(f"eth-tester {version('eth-tester')} / py-evm {version('py-evm')} ({evm_version}): {gas}")


@pytest.mark.anvil
@pytest.mark.parametrize("evm_version", ["prague", "paris"])
def test_anvil(anvil_client: Client, evm_version: str, tmp_path: Path) -> None:
    chain = Chain(connect(anvil_client.rpc_url))
    gas = scenario(chain, evm_version, tmp_path)
    print(f"{anvil_client.version} ({evm_version}): {gas}")


@pytest.mark.anvil
def test_ganache_runs_the_portable_build(tmp_path: Path) -> None:
    with ganache(tmp_path / "ganache") as client:
        chain = Chain(connect(client.rpc_url))
        assert chain.w3.eth.chain_id == 1337
        gas = scenario(chain, "paris", tmp_path)
        print(f"{client.version} ({client.hardfork}, paris): {gas}")


@pytest.mark.anvil
def test_ganache_refuses_the_prague_build_with_a_hint(tmp_path: Path) -> None:
    with ganache(tmp_path / "ganache") as client:
        chain = Chain(connect(client.rpc_url))
        deployer = funded_deployer(chain)
        with pytest.raises(ChainError, match="--evm-version paris"):
            deploy(chain, deployer, genesis(), evm_version="prague")
        assert chain.w3.eth.get_transaction_count(deployer.address) == 0  # nothing was sent
        assert Web3.is_address(deployer.address)


@pytest.mark.anvil
@pytest.mark.parametrize("evm_version", ["prague", "paris"])
def test_hardhat_edr(evm_version: str, tmp_path: Path) -> None:
    with hardhat(tmp_path / "hardhat") as client:
        chain = Chain(connect(client.rpc_url))
        assert chain.w3.eth.chain_id == 31337
        gas = scenario(chain, evm_version, tmp_path)
        print(f"{client.version} ({evm_version}): {gas}")
