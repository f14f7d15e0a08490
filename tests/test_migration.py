"""From one registry version to the next, on the in-process EVM.

A successor names its predecessor; governance of the predecessor freezes it in favour of the
successor; the frozen registry accepts no new batch but every bundle it issued still verifies;
``ipreg deployment verify`` confirms each link from both ends and refuses an imposter (a registry
naming a predecessor that was frozen in favour of another one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.anchor import Anchorer
from registry.chain import Chain, GovernanceRule, connect, dev_account
from registry.config import EMBEDDED
from registry.deploy import deploy, verify_deployment
from registry.errors import ContractRevertError
from registry.genesis import Genesis, GenesisOffice
from registry.ingest import prepare_files
from registry.records import ProofBundle
from registry.samples import generate_gazette
from registry.store import Store
from registry.verify import VERIFIED, verify_bundle


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
