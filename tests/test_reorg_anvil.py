"""Blocks every 2 s and a chain reorganisation below the confirmation depth, on a real anvil node.

Anvil mines on an interval (``--block-time 2``), the deployment and the anchoring wait for 2
confirmations, and the indexer follows only confirmed blocks. Then the chain is reorganised below
the indexer's cursor (``evm_snapshot`` before a batch, ``evm_revert`` after it was indexed, other
transactions and more blocks on the new branch): the indexer must notice, forget what only the
old branch held (the batch, its records, a new signer, a suspension) and index the new branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy
from registry.chain.deploy_checks import verify_deployment
from registry.chain.dev import dev_account
from registry.chain.genesis import Genesis, GenesisOffice
from registry.core.contract import GovernanceRule
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.indexer.sync import Indexer
from registry.node.anvil import LocalChain, free_port, rpc_call
from registry.store.index import Index
from registry.store.outbox import Store

pytestmark = pytest.mark.anvil

BLOCK_TIME = 2
CONFIRMATIONS = 2


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalChain]:
    chain = LocalChain(tmp_path / "chain", free_port(), block_time=BLOCK_TIME)
    chain.start()
    try:
        yield chain
    finally:
        chain.stop()


def genesis() -> Genesis:
    offices = [
        GenesisOffice(c, c, f"https://{c.lower()}.example.org/", (str(dev_account(i).address),))
        for i, c in enumerate(("EP", "US", "JP"), start=1)
    ]
    return Genesis.of(offices, GovernanceRule())  # 2 of 3


def anchor(chain: Chain, tmp_path: Path, name: str, seed: int) -> str:
    files = generate_gazette(tmp_path / name, office="EP", count=3, seed=seed)
    store = Store(tmp_path / f"{name}.sqlite")
    anchorer = Anchorer(store, chain, dev_account(1), "EP", tmp_path / "manifests", confirmations=CONFIRMATIONS)
    anchorer.submit(prepare_files(files))
    result = anchorer.run()
    assert len(result.batches) == 1
    return result.batches[0].root


def test_deploy_anchor_index_with_block_time_and_repair_a_reorganisation(node: LocalChain, tmp_path: Path) -> None:
    chain = Chain(connect(node.rpc_url))
    record = deploy(chain, dev_account(0), genesis(), confirmations=CONFIRMATIONS)
    head = chain.w3.eth.block_number
    assert head >= record.steps[1].block_number + CONFIRMATIONS - 1  # each step waited for its confirmations
    assert all(c.ok for c in verify_deployment(chain, record, genesis()))
    indexer = Indexer(tmp_path / "index.sqlite", chain, confirmations=CONFIRMATIONS)
    indexer.sync()

    snapshot = rpc_call(node.rpc_url, "evm_snapshot")
    fork_point = chain.w3.eth.block_number
    root_a = anchor(chain, tmp_path, "a", seed=1)
    chain.add_signer(dev_account(1), dev_account(7).address)
    chain.accept_signer(dev_account(7), "EP")
    proposal, _ = chain.propose(dev_account(1), "suspend", "JP")
    chain.approve(dev_account(2), proposal)
    chain.execute(dev_account(2), proposal)
    rpc_call(node.rpc_url, "anvil_mine", [hex(CONFIRMATIONS)])
    first = indexer.sync()
    index = Index(indexer.db)
    assert first.reorganisation is None
    assert first.to_block <= chain.w3.eth.block_number - CONFIRMATIONS + 1  # only confirmed blocks
    record_a, leaf_a = index.db.execute("SELECT record_id, leaf FROM idx_leaves WHERE root = ?", (root_a,)).fetchone()
    assert index.batch("EP", root_a) is not None and len(index.versions(record_a)) == 1
    assert {o.code: o.status for o in index.offices()}["JP"] == "suspended"
    assert index.was_signer_at("EP", dev_account(7).address, first.to_block)
    old_cursor = index.cursor()
    assert old_cursor is not None and old_cursor > fork_point

    assert rpc_call(node.rpc_url, "evm_revert", [snapshot]) is True
    root_b = anchor(chain, tmp_path, "b", seed=2)
    rpc_call(node.rpc_url, "anvil_mine", [hex(old_cursor - chain.w3.eth.block_number + 5)])
    assert chain.w3.eth.block_number > old_cursor  # the new branch is longer: a reorganisation, not a reset

    second = indexer.sync()
    assert second.reorganisation is not None
    cursor, ancestor = second.reorganisation
    assert cursor == old_cursor and ancestor <= fork_point
    assert index.batch("EP", root_a) is None and index.leaves_by_leaf(leaf_a) == []
    batch_b = index.batch("EP", root_b)
    assert batch_b is not None and batch_b.manifest_status == "indexed"
    assert {o.code: o.status for o in index.offices()}["JP"] == "active"
    assert not index.was_signer_at("EP", dev_account(7).address, second.to_block)
    assert index.was_signer_at("EP", dev_account(1).address, second.to_block)
    assert chain.batch_of("EP", root_a) is None and chain.batch_of("EP", root_b) is not None  # as the index
    assert indexer.sync().reorganisation is None  # repaired once
