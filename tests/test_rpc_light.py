"""The light JSON-RPC reader (``registry.chain.light``) against web3 on a real anvil node: the same answers.

What must never happen: the fast path of ``ipreg verify FILE --proof BUNDLE`` giving another verdict
than the web3 path for any bundle (authentic, tampered content, altered proof, unknown root, revoked
leaf, foreign signer, a key marked compromised from the batch's block), or mis-encoding a call so a
check silently passes; a reader answering at another block than the one the verdict reports.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, cast

import pytest
from anvil_fixtures import AnvilNode

from registry.anchor.pipeline import Anchorer, bundle_name
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_account, dev_signer
from registry.chain.light import LightReader
from registry.core.address import checksum_address
from registry.core.formats import ProofBundle
from registry.core.merkle import MerkleTree
from registry.errors import ConfigError, NodeUnavailableError
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import Store
from registry.store.proofs import leaf_value_of
from registry.verify.readers import LiveReader
from registry.verify.verdicts import verify_bundle

pytestmark = pytest.mark.anvil


def test_same_verdicts_as_web3(tmp_path: Path, anvil: AnvilNode) -> None:
    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    ep = dev_signer("EP")
    assert ep is not None and chain.deployment is not None
    store = Store(tmp_path / "s.sqlite")
    files = generate_gazette(tmp_path / "g", office="EP", count=5, seed=8, kinds=("st96-patent", "st97-json", "pdf"))
    anchorer = Anchorer(store, chain, ep, "EP", tmp_path / "m")
    anchorer.submit(prepare_files(files))
    (batch,) = anchorer.run(tmp_path / "p").batches
    records = store.batch_records(batch.id)
    tree = MerkleTree.from_leaves([r.leaf for r in records])
    chain.revoke_leaf(ep, bytes.fromhex(batch.root[2:]), leaf_value_of(records[0]).encode(), tree.proof(0), 2)
    bundles = [ProofBundle.loads((tmp_path / "p" / bundle_name(r)).read_bytes()) for r in records]
    variants: list[tuple[ProofBundle, str | None]] = []
    for b in bundles:
        variants += [(b, None), (b, b.value.content_hash), (b, "0x" + "ab" * 32)]
        if b.proof:
            variants.append((dataclasses.replace(b, proof=("0x" + "00" * 32, *b.proof[1:])), None))
        variants.append((dataclasses.replace(b, root="0x" + "77" * 32), None))
        variants.append((dataclasses.replace(b, chain_id=1), None))
    light = LightReader(anvil.rpc_url, chain.deployment.anchor_registry, retries=0)
    seen = set()
    for bundle, digest in variants:
        by_web3 = verify_bundle(chain, bundle, digest, None, LiveReader(chain)).to_json()
        by_light = verify_bundle(cast(Any, None), bundle, digest, None, light).to_json()  # type: ignore[arg-type]
        assert by_light == by_web3
        seen.add(by_web3["verdict"])
    assert {"VERIFIED", "TAMPERED", "UNKNOWN", "REVOKED"} <= seen

    n = batch.block_number
    for office, signer, block in [("EP", ep.address, n), ("US", ep.address, n), ("EP", dev_account(9).address, n),
                                  ("EP", ep.address, 0)]:  # fmt: skip
        assert light.is_authorised_at(office, signer, block) == chain.is_authorised_at(office, signer, block)
    assert light.chain_id() == 31337


def test_refuses_what_is_not_an_anchor_registry(anvil: AnvilNode) -> None:
    chain = Chain(connect(anvil.rpc_url))
    deployment = deploy_dev(chain)
    with pytest.raises(ConfigError, match="no contract"):
        LightReader(anvil.rpc_url, "0x" + "12" * 20, retries=0)
    with pytest.raises(ConfigError, match="not an AnchorRegistry"):
        LightReader(anvil.rpc_url, deployment.office_registry, retries=0)


def test_unreachable_node_is_one_clear_error() -> None:
    with pytest.raises(NodeUnavailableError, match="not reachable"):
        LightReader("http://127.0.0.1:9", "0x" + "12" * 20, retries=0)


def test_checksum_matches_web3() -> None:
    from web3 import Web3

    for i in range(20):
        address = dev_account(i).address.lower()
        assert checksum_address(address) == Web3.to_checksum_address(address)
    with pytest.raises(ConfigError):
        checksum_address("0x1234")


def test_compromised_key_and_later_batches_read_alike(tmp_path: Path, anvil: AnvilNode) -> None:
    """The light reader's compromisedFrom, BatchAnchored and block pinning equal web3's; a compromised key's
    bundle is UNAUTHORISED through both (the light path used to crash with AttributeError, exit 70)."""
    from registry.evaluate import actions
    from registry.verify.verifier import Verifier

    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    us = dev_signer("US")
    assert us is not None and chain.deployment is not None
    key = actions.spare_account(chain, 9)
    actions.add_key(chain, us, key, "US")
    files = generate_gazette(tmp_path / "g", office="US", count=2, seed=4, kinds=("st96-patent",))
    store = Store(tmp_path / "s.sqlite")
    anchorer = Anchorer(store, chain, key, "US", tmp_path / "m")
    anchorer.submit(prepare_files(files[:1]))
    (batch,) = anchorer.run(tmp_path / "p").batches
    Anchorer(store, chain, us, "US", tmp_path / "m").submit(prepare_files(files[1:]))
    Anchorer(store, chain, us, "US", tmp_path / "m").run(tmp_path / "p")
    (record,) = store.batch_records(batch.id)
    bundle = ProofBundle.loads((tmp_path / "p" / bundle_name(record)).read_bytes())
    voters = [(c, a) for c in ("US", "EP", "JP", "EM", "WO") if (a := dev_signer(c))]  # 3.0.0: governance's mark
    actions.govern(chain, "mark-compromised", "US", voters, signer=key.address, from_block=batch.block_number)

    light = LightReader(anvil.rpc_url, chain.deployment.anchor_registry, retries=0)
    live = LiveReader(chain)
    assert light.state_block() == live.state_block()
    assert light.compromised_from("US", key.address) == live.compromised_from("US", key.address) == batch.block_number
    assert light.compromised_from("US", us.address) is live.compromised_from("US", us.address) is None
    assert light.office_batches("US", 0) == live.office_batches("US", 0)
    assert [b.root for b in light.office_batches("US", batch.block_number + 1)] != []
    verdicts = [Verifier(r).verify_bundle(bundle).to_json() for r in (light, live)]
    assert verdicts[0] == verdicts[1]
    assert (verdicts[0]["verdict"], verdicts[0]["reasonCode"]) == ("UNAUTHORISED", "signer-compromised")
    assert verdicts[0]["stateBlock"] == light.state_block()


def test_a_predecessor_registry_is_followed_alike(tmp_path: Path, anvil: AnvilNode) -> None:
    """Pinned to a successor, a bundle of its confirmed predecessor verifies through the light and web3 readers;
    pinned to an imposter that merely names the predecessor, it is refused (foreign-registry) by both."""
    from registry.chain.deploy import deploy
    from registry.chain.genesis import Genesis
    from registry.evaluate import actions
    from registry.verify.verifier import Verifier

    old = Chain(connect(anvil.rpc_url))
    deploy_dev(old)
    assert old.deployment is not None
    ep = dev_signer("EP")
    assert ep is not None
    anchorer = Anchorer(Store(tmp_path / "s.sqlite"), old, ep, "EP", tmp_path / "m")
    anchorer.submit(prepare_files(generate_gazette(tmp_path / "g", office="EP", count=2, seed=5)))
    (batch,) = anchorer.run(tmp_path / "p").batches
    bundle = ProofBundle.loads(next((tmp_path / "p").glob("*.proof.json")).read_bytes())
    pinned: dict[str, str] = {}
    for name in ("successor", "imposter"):
        chain = Chain(connect(anvil.rpc_url))
        record = deploy(chain, dev_account(0), Genesis.dev(), preset="dev", predecessor=old.deployment.anchor_registry)
        pinned[name] = record.deployment.anchor_registry
    voters = [(c, a) for c in ("EP", "US", "JP", "EM", "WO") if (a := dev_signer(c)) is not None]
    actions.govern(old, "freeze", None, voters, successor=pinned["successor"])
    for name, expected in (("successor", ("VERIFIED", "verified")), ("imposter", ("UNKNOWN", "foreign-registry"))):
        live_chain = Chain.for_registry(connect(anvil.rpc_url), pinned[name])
        answers = [
            Verifier(reader).verify_bundle(bundle).to_json()
            for reader in (LightReader(anvil.rpc_url, pinned[name], retries=0), LiveReader(live_chain))
        ]
        assert answers[0] == answers[1], name
        assert (answers[0]["verdict"], answers[0]["reasonCode"]) == expected, (name, answers[0]["reason"])
    assert batch.block_number > 0
