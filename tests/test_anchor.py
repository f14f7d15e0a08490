"""The anchoring pipeline on the in-process EVM: outbox, batching, versions, sealed records, reverts."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.anchor.pipeline import Anchorer
from registry.anchor.stored import reveal_bundle
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_account, dev_signer
from registry.config import EMBEDDED
from registry.core import canon
from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED
from registry.core.merkle import keccak
from registry.errors import ContractRevertError, InputError
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import Store
from registry.verify.verdict import SUPERSEDED, TAMPERED, VERIFIED
from registry.verify.verdicts import verify_bundle, verify_file


@pytest.fixture
def chain() -> Chain:
    c = Chain(connect(EMBEDDED))
    deploy_dev(c)
    return c


def anchorer(tmp_path: Path, chain: Chain, office: str = "EP", batch_size: int = 10_000) -> Anchorer:
    account = dev_signer(office)
    assert account is not None
    return Anchorer(
        Store(tmp_path / "store.sqlite"),
        chain,
        account,
        office,
        tmp_path / "manifests",
        batch_size=batch_size,
    )


def test_batches_of_at_most_batch_size_and_one_bundle_per_record(tmp_path: Path, chain: Chain) -> None:
    files = generate_gazette(tmp_path / "g", office="EP", count=23, seed=1)
    a = anchorer(tmp_path, chain, batch_size=10)
    assert a.submit(prepare_files(files)).accepted == 23
    result = a.run(tmp_path / "proofs")
    assert [b.leaf_count for b in result.batches] == [10, 10, 3]
    assert result.bundles == 23 == len(list((tmp_path / "proofs").glob("*.proof.json")))
    for b in result.batches:
        info = chain.batch_of("EP", b.root)
        assert info is not None and info.office == "EP" and info.leaf_count == b.leaf_count
    for path in (tmp_path / "proofs").glob("*.proof.json"):
        bundle = ProofBundle.loads(path.read_text())
        assert verify_bundle(chain, bundle).verdict == VERIFIED


def test_duplicate_submission_is_a_noop_reporting_the_existing_anchor(tmp_path: Path, chain: Chain) -> None:
    files = generate_gazette(tmp_path / "g", office="EP", count=4, seed=2)
    a = anchorer(tmp_path, chain)
    a.submit(prepare_files(files))
    first = a.run()
    again = a.submit(prepare_files(files))
    assert (again.accepted, again.already) == (0, 4)
    assert {r.batch_id for r in again.existing} == {first.batches[0].id}
    assert a.run().batches == []
    assert len(chain.anchors.events.BatchAnchored().get_logs(from_block=0)) == 1


def test_new_content_for_a_known_id_is_a_new_version_committing_to_the_old_leaf(tmp_path: Path, chain: Chain) -> None:
    original = tmp_path / "EP-1234567-B1.json"
    original.write_text('{"title": "Widget", "claims": 3}')
    a = anchorer(tmp_path, chain)
    a.submit(prepare_files([original]))
    a.run(tmp_path / "proofs")
    v1 = a.store.versions("EP:1234567:B1")[0]

    original.write_text('{"title": "Widget", "claims": 4}')
    submitted = a.submit(prepare_files([original]))
    assert (submitted.accepted, submitted.new_versions) == (1, 1)
    a.run(tmp_path / "proofs")
    versions = a.store.versions("EP:1234567:B1")
    assert len(versions) == 2
    assert versions[1].supersedes == "0x" + v1.leaf.hex()
    assert versions[0].supersedes == "0x" + "00" * 32

    bundles = {
        ProofBundle.loads(p.read_text()).value.content_hash: ProofBundle.loads(p.read_text())
        for p in (tmp_path / "proofs").glob("*.proof.json")
    }
    old = bundles[v1.content_hash]
    old_file = tmp_path / "old.json"
    old_file.write_text('{"claims": 3, "title": "Widget"}')  # same content, other key order
    verdict = verify_file(chain, a.store, old_file.read_bytes(), old_file.name, old)
    assert verdict.verdict == SUPERSEDED
    assert verdict.superseded_by == f"EP:1234567:B1@{versions[1].content_hash}"
    assert verify_file(chain, a.store, original.read_bytes(), original.name).verdict == VERIFIED
    # Re-submitting the old content again is no new version.
    old_again = a.submit(prepare_files([old_file], record_id=None, id_map={"old.json": _rid("EP:1234567:B1")}))
    assert old_again.accepted == 0


def _rid(text: str):  # type: ignore[no-untyped-def]
    from registry.core.records import RecordId

    return RecordId.parse(text)


def test_sealed_record_reveals_nothing_until_revealed(tmp_path: Path, chain: Chain) -> None:
    secret = tmp_path / "EP-7654321-A1.xml"
    secret.write_text("<doc><title>Unpublished invention</title></doc>")
    a = anchorer(tmp_path, chain)
    a.submit(prepare_files([secret]), sealed=True)
    result = a.run()
    batch = result.batches[0]
    manifest = (tmp_path / "manifests" / "EP" / f"{batch.root}.json").read_text()
    digest = canon.content_hash(secret.read_bytes(), canon.XML_C14N2)
    # Neither the record id's number nor the content hash appear in what is published.
    assert "7654321" not in manifest and digest not in manifest and SEALED in manifest
    bundle = reveal_bundle(a.store, chain, "EP:7654321:A1")
    assert bundle.block_number == batch.block_number and "reveal" in bundle.extra
    assert verify_file(chain, a.store, secret.read_bytes(), secret.name, bundle).verdict == VERIFIED
    other = tmp_path / "other.xml"
    other.write_text("<doc><title>Another invention</title></doc>")
    assert verify_file(chain, a.store, other.read_bytes(), other.name, bundle).verdict == TAMPERED
    forged = ProofBundle.from_json({**bundle.to_json(), "reveal": {**bundle.extra["reveal"], "salt": "0x" + "11" * 32}})
    assert verify_file(chain, a.store, secret.read_bytes(), secret.name, forged).verdict == TAMPERED


def test_batch_that_reverts_keeps_records_pending_and_names_the_cause(tmp_path: Path, chain: Chain) -> None:
    files = generate_gazette(tmp_path / "g", office="EP", count=3, seed=5)
    a = anchorer(tmp_path, chain)
    a.submit(prepare_files(files))
    signer = dev_signer("EP")
    assert signer is not None
    # EP adds a second key (which accepts) and removes the first one: the batch can no longer be anchored with it.
    spare = dev_account(7)
    chain.add_signer(signer, spare.address)
    chain.accept_signer(spare, "EP")
    chain.remove_signer(signer, signer.address)
    with pytest.raises(ContractRevertError, match="NotAnActiveSigner"):
        a.run()
    assert a.store.pending_count("EP") == 3  # batched, not anchored: still pending
    unfinished = a.store.unfinished_batches("EP")
    assert (
        len(unfinished) == 1 and unfinished[0].status == "built" and "NotAnActiveSigner" in (unfinished[0].error or "")
    )


def _fresh_address() -> str:
    from web3 import Web3

    return str(Web3.to_checksum_address("0x" + keccak(b"spare key").hex()[-40:]))


def test_records_of_another_office_are_refused_before_anything_is_stored(tmp_path: Path, chain: Chain) -> None:
    files = generate_gazette(tmp_path / "g", office="US", count=2, seed=6)
    a = anchorer(tmp_path, chain, office="EP")
    with pytest.raises(InputError, match="belongs to US"):
        a.submit(prepare_files(files))
    assert a.store.counts()["records"] == 0
