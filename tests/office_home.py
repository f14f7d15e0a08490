"""An office's home on a real chain, with something in every view the read-only commands print.

:func:`build_office_home` deploys the dev preset with its provenance record (``deployment.json``), keeps a
replaced deployment under ``deployments/``, anchors three EP records (store, manifests, bundles), writes EP's
keystore, then leaves signers in every state (current, former and compromised, nominated, rotating) and
proposals in every state (pending, executed, cancelled; payloads of several actions) and syncs the index.
The sequence is fixed, so on a fresh anvil node the blocks, addresses and payload hashes are too.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from anvil_fixtures import start_anvil

KEYSTORE_PASSWORD = "office-home"


@dataclass(frozen=True)
class OfficeHome:
    """The home, its chain and what was anchored in it."""

    home: Path
    rpc_url: str
    anchor_registry: str
    record: Path
    bundle: Path


def build_office_home(rpc_url: str, work: Path) -> OfficeHome:
    """The office's home ``work / "home"`` on the node at ``rpc_url`` (see the module docstring)."""
    from eth_account import Account  # the chain client and friends: imported by the tests that build a home

    from registry.anchor.pipeline import Anchorer
    from registry.chain.client import Chain, connect
    from registry.chain.deploy import deploy
    from registry.chain.dev import dev_account, dev_signer
    from registry.chain.genesis import Genesis
    from registry.evaluate.samples import generate_gazette
    from registry.files.ingest import prepare_files
    from registry.indexer.sync import Indexer
    from registry.store.outbox import Store

    home = work / "home"
    home.mkdir(parents=True)
    chain = Chain(connect(rpc_url))
    old = deploy(chain, dev_account(0), Genesis.dev(), preset="dev")
    (home / "deployments" / "replaced").mkdir(parents=True)
    old.save(home / "deployments" / "replaced" / "deployment.json")
    record = deploy(chain, dev_account(0), Genesis.dev(), preset="dev")
    record.save(home / "deployment.json")
    dep = record.deployment
    chain.bind(dep)

    ep, us, wo = dev_signer("EP"), dev_signer("US"), dev_signer("WO")
    em = dev_signer("EM")
    assert ep is not None and us is not None and wo is not None and em is not None
    keys = home / "keys"
    keys.mkdir()
    body = Account.encrypt(ep.key, KEYSTORE_PASSWORD, kdf="scrypt", iterations=2)
    (keys / "EP.json").write_text(json.dumps(body), encoding="utf-8")

    files = generate_gazette(work / "gazette", office="EP", count=3, seed=24)
    store = Store(home / "registry.sqlite")
    anchorer = Anchorer(store, chain, ep, "EP", home / "manifests")
    anchorer.submit(prepare_files(files))
    anchorer.run(home / "proofs")
    store.close()
    bundle = sorted((home / "proofs").glob("*.proof.json"))[0]
    record_file = next(f for f in files if bundle.name.startswith(f.stem + "--"))

    six, seven, eight, nine = (dev_account(i) for i in (6, 7, 8, 9))
    chain.add_signer(ep, six.address)
    chain.accept_signer(six, "EP")
    chain.mark_compromised(ep, six.address)  # a former key, compromised by its office
    chain.add_signer(ep, seven.address)  # nominated, not yet accepted
    chain.rotate_signer(us, us.address, eight.address)  # nominated to replace US's key
    chain.propose(ep, "admit", "KR", name="Korean Intellectual Property Office", base_uri="https://kipris.or.kr/?q=",
                  signer=nine.address)  # fmt: skip
    suspend, _ = chain.propose(ep, "suspend", "JP")
    chain.approve(us, suspend)
    chain.approve(em, suspend)
    chain.execute(ep, suspend)
    rule, _ = chain.propose(wo, "set-rule", None, numerator=2, denominator=3, min_approvals=2, ttl_blocks=50400)
    chain.cancel(wo, rule)
    chain.propose(us, "mark-compromised", "US", signer=us.address, from_block=3)

    indexer = Indexer(home / "registry.sqlite", chain, 1)
    try:
        indexer.sync()
    finally:
        indexer.close()
    return OfficeHome(home, rpc_url, dep.anchor_registry, record_file, bundle)


def deployment_only(source: OfficeHome, work: Path) -> Path:
    """A home holding only the office home's ``deployment.json``."""
    home = work / "bare"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.home / "deployment.json", home / "deployment.json")
    return home


@pytest.fixture(scope="session")
def office_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfficeHome]:
    """The office's home on a fresh anvil node of its own (so its blocks and addresses are always the same)."""
    work = tmp_path_factory.mktemp("office-home")
    node = start_anvil(work / "chain")
    try:
        yield build_office_home(node.rpc_url, work)
    finally:
        node.chain.stop()
