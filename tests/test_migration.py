"""From one registry version to the next, on the in-process EVM.

A successor names its predecessor; governance of the predecessor freezes it in favour of the
successor; the frozen registry accepts no new batch but every bundle it issued still verifies;
``ipreg deployment verify`` confirms each link from both ends and refuses an imposter (a registry
naming a predecessor that was frozen in favour of another one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3 import Web3

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import constructor_args, deploy, deploy_offices
from registry.chain.deploy_checks import verify_deployment
from registry.chain.dev import dev_account
from registry.chain.genesis import Genesis, GenesisOffice
from registry.config import EMBEDDED
from registry.core.contract import ZERO_ADDRESS, GovernanceRule
from registry.core.formats import ProofBundle
from registry.errors import ConfigError, ContractRevertError
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import Store
from registry.verify.verdict import VERIFIED
from registry.verify.verdicts import verify_bundle


def genesis() -> Genesis:
    offices = [
        GenesisOffice(c, c, f"https://{c.lower()}.example.org/", (str(dev_account(i).address),))
        for i, c in enumerate(("EP", "US", "JP"), start=1)
    ]
    return Genesis.of(offices, GovernanceRule())


def checks_of(chain: Chain, record: object) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.ok, c.detail) for c in verify_deployment(chain, record, genesis())}  # type: ignore[arg-type]


def freeze(chain: Chain, successor: str) -> None:
    proposal, _ = chain.propose(dev_account(1), "freeze", None, successor=successor)
    chain.approve(dev_account(2), proposal)
    chain.execute(dev_account(2), proposal)


def test_freeze_successor_and_old_bundles_still_verify(tmp_path: Path) -> None:
    w3 = connect(EMBEDDED)
    old = Chain(w3)
    old_record = deploy(old, dev_account(0), genesis())
    files = generate_gazette(tmp_path / "g", office="EP", count=3, seed=4)
    anchorer = Anchorer(Store(tmp_path / "s.sqlite"), old, dev_account(1), "EP", tmp_path / "manifests")
    anchorer.submit(prepare_files(files))
    anchorer.run(tmp_path / "proofs")
    bundles = [ProofBundle.loads(p.read_text()) for p in sorted((tmp_path / "proofs").glob("*.proof.json"))]

    new = Chain(w3)
    new_record = deploy(new, dev_account(0), genesis(), predecessor=old_record.deployment.anchor_registry)
    assert new.predecessor().lower() == old_record.deployment.anchor_registry.lower()
    pending = checks_of(new, new_record)
    assert pending["migration.predecessor"][0] and "not frozen yet" in pending["migration.predecessor"][1]
    assert all(ok for ok, _ in pending.values())

    freeze(old, new_record.deployment.anchor_registry)
    assert old.frozen_at() > 0 and old.successor().lower() == new_record.deployment.anchor_registry.lower()
    with pytest.raises(ContractRevertError, match="RegistryFrozen"):
        old.anchor_batch(dev_account(1), b"\x01" * 32, 1, "file:///x.json")
    # Every bundle of the frozen registry still verifies, with nothing but the endpoint.
    for bundle in bundles:
        assert bundle.registry.lower() == old_record.deployment.anchor_registry.lower()
        assert verify_bundle(Chain.for_registry(w3, bundle.registry), bundle).verdict == VERIFIED
    # Both ends of the link agree.
    linked = checks_of(new, new_record)
    assert linked["migration.predecessor"] == (True, linked["migration.predecessor"][1])
    assert "frozen at block" in linked["migration.predecessor"][1]
    back = checks_of(old, old_record)
    assert back["migration.successor"][0] and "names this registry" in back["migration.successor"][1]
    # The successor anchors.
    anchorer = Anchorer(Store(tmp_path / "n.sqlite"), new, dev_account(1), "EP", tmp_path / "manifests")
    anchorer.submit(prepare_files(generate_gazette(tmp_path / "g2", office="EP", count=2, seed=5)))
    assert len(anchorer.run().batches) == 1


def test_an_imposter_successor_does_not_verify() -> None:
    w3 = connect(EMBEDDED)
    old = Chain(w3)
    old_record = deploy(old, dev_account(0), genesis())
    real = deploy(Chain(w3), dev_account(0), genesis(), predecessor=old_record.deployment.anchor_registry)
    imposter_chain = Chain(w3)
    imposter = deploy(imposter_chain, dev_account(0), genesis(), predecessor=old_record.deployment.anchor_registry)
    freeze(old, real.deployment.anchor_registry)
    found = checks_of(imposter_chain, imposter)
    assert found["migration.predecessor"][0] is False
    assert real.deployment.anchor_registry in found["migration.predecessor"][1]
    # And a frozen registry whose named successor does not name it back is flagged from the old end.
    other = Chain(w3)
    unrelated = deploy(other, dev_account(0), genesis())
    second = Chain(w3)
    second_record = deploy(second, dev_account(0), genesis())
    freeze(second, unrelated.deployment.anchor_registry)
    assert checks_of(second, second_record)["migration.successor"][0] is False


def test_the_indexer_follows_predecessor_and_successor(tmp_path: Path) -> None:
    from registry.indexer.sync import Indexer
    from registry.store.index import Index

    w3 = connect(EMBEDDED)
    old = Chain(w3)
    old_record = deploy(old, dev_account(0), genesis())
    first = Anchorer(Store(tmp_path / "a.sqlite"), old, dev_account(1), "EP", tmp_path / "manifests")
    first.submit(prepare_files(generate_gazette(tmp_path / "g1", office="EP", count=3, seed=6)))
    root_old = first.run().batches[0].root
    # An auditor following the old registry before any migration.
    auditor = Indexer(tmp_path / "auditor.sqlite", old)
    auditor.sync()
    assert [v.deployment.anchor_registry for v in auditor.versions if v.deployment] == [
        old_record.deployment.anchor_registry
    ]

    new = Chain(w3)
    new_record = deploy(new, dev_account(0), genesis(), predecessor=old_record.deployment.anchor_registry)
    # Not linked until the old registry's governance freezes it in favour of the new one.
    assert len(Indexer(tmp_path / "early.sqlite", new).versions) == 1
    freeze(old, new_record.deployment.anchor_registry)
    second = Anchorer(Store(tmp_path / "b.sqlite"), new, dev_account(1), "EP", tmp_path / "manifests")
    second.submit(prepare_files(generate_gazette(tmp_path / "g2", office="EP", count=2, seed=7)))
    root_new = second.run().batches[0].root

    for chain, path in ((new, tmp_path / "new.sqlite"), (old, tmp_path / "auditor.sqlite")):
        indexer = Indexer(path, chain)  # the auditor's existing index learns about the successor
        assert len(indexer.versions) == 2
        indexer.sync()
        index = Index(indexer.db)
        old_batch, new_batch = index.batch("EP", root_old), index.batch("EP", root_new)
        assert old_batch is not None and old_batch.registry == old_record.deployment.anchor_registry.lower()
        assert new_batch is not None and new_batch.registry == new_record.deployment.anchor_registry.lower()
        assert old_batch.manifest_status == new_batch.manifest_status == "indexed"
        # A bundle rebuilt from the index names the registry that holds the batch, and verifies there.
        leaf = next(iter(index.office_leaves("EP")))
        assert leaf.root == root_old
        bundle = index.bundle(leaf, w3.eth.chain_id, chain.deployment.anchor_registry)  # type: ignore[union-attr]
        assert bundle.registry.lower() == old_record.deployment.anchor_registry.lower()
        assert verify_bundle(Chain.for_registry(w3, bundle.registry), bundle).verdict == VERIFIED
        indexer.close()
    # An imposter naming the old registry as its predecessor is not followed, and does not graft onto it.
    imposter = Chain(w3)
    with pytest.raises(ConfigError, match="already frozen"):  # ipreg deploys no second successor...
        deploy(imposter, dev_account(0), genesis(), predecessor=old_record.deployment.anchor_registry)
    offices = [(o.code, o.name, o.base_uri, o.signers[0]) for o in genesis().offices]
    deploy_offices(
        imposter, dev_account(0), offices, GovernanceRule(), predecessor=old_record.deployment.anchor_registry
    )
    assert len(Indexer(tmp_path / "imposter.sqlite", imposter).versions) == 1  # ...and one made otherwise is no link


# ---------------------------------------------------------------------------- 2.0.0 -> 3.0.0

LEGACY = Path(__file__).resolve().parent / "vectors" / "contracts-2.0.0"


def deploy_legacy(w3: Web3) -> str:
    """The 2.0.0 pair (as shipped before issue 21) from its kept artifacts; returns its AnchorRegistry."""
    arts = {n: json.loads((LEGACY / f"{n}.json").read_text()) for n in ("OfficeRegistry", "AnchorRegistry")}
    deployer = dev_account(0)
    chain = Chain(w3)
    addresses = []
    for name in ("OfficeRegistry", "AnchorRegistry"):
        factory = w3.eth.contract(abi=arts[name]["abi"], bytecode=arts[name]["bytecode"])
        if name == "OfficeRegistry":
            ctor = factory.constructor(*constructor_args("OfficeRegistry", genesis()))
        else:
            ctor = factory.constructor(addresses[0], ZERO_ADDRESS)
        tx = chain.build(deployer, data=ctor.data_in_transaction)
        receipt, _ = chain.confirmed(chain.send(deployer, tx))
        addresses.append(str(receipt["contractAddress"]))
    version = w3.eth.contract(address=addresses[1], abi=[_VERSION_ABI]).functions.VERSION().call()
    assert version == "2.0.0"
    return addresses[1]


_VERSION_ABI = {
    "type": "function",
    "name": "VERSION",
    "inputs": [],
    "outputs": [{"name": "", "type": "string"}],
    "stateMutability": "view",
}


def test_migration_from_2_0_0_to_3_0_0(tmp_path: Path) -> None:
    """`deploy --predecessor` from a 2.0.0 registry to the 3.0.0 pair; bundles of both verify."""
    w3 = connect(EMBEDDED)
    old_address = deploy_legacy(w3)
    old = Chain.for_registry(w3, old_address)
    first = Anchorer(Store(tmp_path / "a.sqlite"), old, dev_account(1), "EP", tmp_path / "manifests")
    first.submit(prepare_files(generate_gazette(tmp_path / "g1", office="EP", count=3, seed=8)))
    first.run(tmp_path / "old-proofs")

    new = Chain(w3)
    new_record = deploy(new, dev_account(0), genesis(), predecessor=old_address)
    version = w3.eth.contract(address=new.anchors.address, abi=[_VERSION_ABI]).functions.VERSION().call()
    assert version == "3.1.0" and new.predecessor().lower() == old_address.lower()
    freeze(old, new_record.deployment.anchor_registry)  # the 2.0.0 governance, through the 3.0.0 client
    assert old.successor().lower() == new_record.deployment.anchor_registry.lower()
    with pytest.raises(ContractRevertError, match="RegistryFrozen"):
        old.anchor_batch(dev_account(1), b"\x02" * 32, 1, "file:///x.json")

    second = Anchorer(Store(tmp_path / "b.sqlite"), new, dev_account(1), "EP", tmp_path / "manifests")
    second.submit(prepare_files(generate_gazette(tmp_path / "g2", office="EP", count=2, seed=9)))
    second.run(tmp_path / "new-proofs")
    for folder, registry in (("old-proofs", old_address), ("new-proofs", new_record.deployment.anchor_registry)):
        bundles = [ProofBundle.loads(p.read_text()) for p in sorted((tmp_path / folder).glob("*.proof.json"))]
        assert bundles
        for bundle in bundles:
            assert bundle.registry.lower() == registry.lower()
            assert verify_bundle(Chain.for_registry(w3, bundle.registry), bundle).verdict == VERIFIED
    linked = checks_of(new, new_record)
    assert linked["migration.predecessor"][0], linked["migration.predecessor"]
