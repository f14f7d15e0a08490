"""The indexer on the in-process EVM: events and manifests into ``idx_*`` tables, resumable, rebuildable."""

from __future__ import annotations

import functools
import http.server
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_account, dev_signer
from registry.core.formats import ManifestError
from registry.core.leaves import LeafValue
from registry.core.merkle import MerkleTree
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.indexer.fetch import FetchPolicy, parse_networks
from registry.indexer.manifests import read_manifest
from registry.indexer.sync import Indexer, IndexStateError, SyncResult
from registry.store.index import Index
from registry.store.index_schema import SCHEMA_VERSION
from registry.store.outbox import Store
from registry.verify.verdict import VERIFIED
from registry.verify.verdicts import verify_hash, verify_record_id

TABLES = ("idx_meta", "idx_offices", "idx_signers", "idx_batches", "idx_revoked_leaves", "idx_discounted", "idx_leaves")


@dataclass
class Office:
    """An office installation (store, anchorer, files) on a fresh embedded chain."""

    tmp: Path
    chain: Chain
    store: Store
    anchorer: Anchorer
    files: list[Path]

    def anchor(self, files: list[Path]) -> None:
        self.anchorer.submit(prepare_files(files))
        self.anchorer.run(self.tmp / "proofs")

    def indexer(self, name: str = "registry.sqlite", **kwargs: Any) -> Indexer:
        return Indexer(self.tmp / name, self.chain, **kwargs)


def make_office(tmp: Path, count: int = 6, manifest_base: str | None = None) -> Office:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    store = Store(tmp / "registry.sqlite")
    account = dev_signer("EP")
    assert account is not None
    anchorer = Anchorer(store, chain, account, "EP", tmp / "manifests", manifest_base)
    files = generate_gazette(
        tmp / "gazette", office="EP", count=count, seed=11, kinds=("st96-patent", "st97-json", "pdf")
    )
    office = Office(tmp, chain, store, anchorer, files)
    office.anchor(files)
    return office


@pytest.fixture
def office(tmp_path: Path) -> Office:
    return make_office(tmp_path)


def dump(db: sqlite3.Connection, skip_meta: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every idx_ table's rows, sorted (manifest retry bookkeeping left out)."""
    out = {}
    for table in TABLES:
        if skip_meta and table == "idx_meta":
            continue
        cols = [
            r[1]
            for r in db.execute(f"PRAGMA table_info({table})")
            if r[1] not in ("manifest_attempts", "manifest_retry_at")
        ]
        out[table] = sorted(db.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall(), key=repr)
    return out


def hx(b: bytes) -> str:
    return "0x" + b.hex()


# ---------------------------------------------------------------------------- sync


def test_sync_indexes_offices_signers_batches_and_records(office: Office) -> None:
    indexer = office.indexer()
    result = indexer.sync()
    assert isinstance(result, SyncResult)
    assert result.batches == 1 and result.manifests_indexed == 1 and result.leaves == 6
    assert not result.manifest_failures
    index = Index(indexer.db)
    assert [o.code for o in index.offices()] == ["EP", "US", "JP", "EM", "WO"]
    assert all(o.status == "active" for o in index.offices())
    ep_signer = dev_signer("EP")
    assert ep_signer is not None
    assert [(s.address, s.until_block) for s in index.signers("EP")] == [(ep_signer.address, None)]

    stored = office.store.batches(status="anchored")[0]
    batch = index.batch("EP", stored.root)
    assert batch is not None
    got = (
        batch.office,
        batch.signer,
        batch.block_number,
        batch.timestamp,
        batch.leaf_count,
        batch.tx_hash,
        batch.manifest_uri,
        batch.manifest_status,
    )
    assert got == (
        "EP",
        ep_signer.address,
        stored.block_number,
        stored.timestamp,
        6,
        stored.tx_hash,
        stored.manifest_uri,
        "indexed",
    )
    for record in office.store.batch_records(stored.id):
        (leaf,) = index.versions(record.record_id)
        assert (leaf.leaf, leaf.content_hash, leaf.canonicalization, leaf.supersedes) == (
            hx(record.leaf),
            record.content_hash,
            record.canonicalization,
            record.supersedes,
        )
        assert [x.leaf for x in index.leaves_by_hash(record.content_hash)] == [hx(record.leaf)]
    assert index.cursor() == office.chain.w3.eth.block_number
    assert indexer.sync().events == 0  # nothing new


def test_bundles_from_the_index_equal_the_offices_bundles(office: Office) -> None:
    indexer = office.indexer()
    indexer.sync()
    index = Index(indexer.db)
    dep = office.chain.deployment
    assert dep is not None
    stored = office.store.batches(status="anchored")[0]
    for record, bundle in office.anchorer.bundles(stored):
        (leaf,) = index.leaves_by_leaf(hx(record.leaf))
        assert index.bundle(leaf, dep.chain_id, dep.anchor_registry).to_json() == bundle.to_json()


def test_sync_resumes_after_an_interruption_and_equals_one_pass(office: Office) -> None:
    # More history: a second batch, a new version, a revoked leaf, a revoked batch, a rotated signer.
    more = generate_gazette(office.tmp / "more", office="EP", count=3, seed=12, kinds=("pdf",))
    office.anchor(more)
    changed = office.files[2]
    assert changed.suffix == ".pdf"
    changed.write_bytes(changed.read_bytes() + b"\n% corrected\n")
    office.anchor([changed])
    ep = dev_signer("EP")
    assert ep is not None
    first = office.store.batches(status="anchored")[-1]
    records = office.store.batch_records(first.id)
    tree = MerkleTree.from_leaves([r.leaf for r in records])
    r = records[0]
    values = LeafValue(r.record_id, r.content_hash, r.canonicalization, r.supersedes)
    office.chain.revoke_leaf(ep, bytes.fromhex(first.root[2:]), values.encode(), tree.proof(0), 2)
    second = office.store.batches(status="anchored")[-2]
    office.chain.revoke_batch(ep, bytes.fromhex(second.root[2:]), 4)
    office.chain.rotate_signer(ep, ep.address, dev_account(6).address)
    office.chain.accept_signer(dev_account(6), "EP")

    whole = office.indexer("whole.sqlite")
    whole.sync()

    steps = office.indexer("steps.sqlite", step=1)
    calls = {"n": 0}

    def crash(_blocks: int) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        steps.sync(crash)
    cursor = Index(steps.db).cursor()
    assert cursor is not None and cursor < office.chain.w3.eth.block_number
    steps.sync()
    assert dump(steps.db) == dump(whole.db)

    index = Index(whole.db)
    assert index.batch("EP", second.root) is not None and index.batch("EP", second.root).revocation_reason == 4  # type: ignore[union-attr]
    assert index.revoked_leaves("EP", first.root) == {hx(records[0].leaf): 2}
    terms = index.signers("EP")
    expected_terms = [(ep.address, False), (dev_account(6).address, True)]
    assert [(t.address, t.until_block is None) for t in terms] == expected_terms
    old = terms[0]
    assert old.until_block is not None
    for block in (old.from_block - 1, old.from_block, old.until_block, old.until_block + 1):
        on_chain = office.chain.was_signer_at("EP", ep.address, block)
        assert index.was_signer_at("EP", ep.address, block) == on_chain


def test_rebuild_from_the_chain_alone_equals_the_original(office: Office) -> None:
    changed = office.files[2]
    changed.write_bytes(changed.read_bytes() + b"\n% v2\n")
    office.anchor([changed])
    indexer = office.indexer()
    indexer.sync()
    before = dump(indexer.db)
    # The outbox plays no part: a fresh store file (an auditor's) rebuilds to the same index.
    auditor = office.indexer("auditor.sqlite")
    auditor.rebuild()
    assert dump(auditor.db) == before
    indexer.db.execute("DELETE FROM idx_leaves")  # damage, then rebuild in place
    indexer.rebuild()
    assert dump(indexer.db) == before


def test_version_chain_of_a_record(office: Office) -> None:
    changed = office.files[2]
    rid = "EP:" + changed.stem.split("-", 1)[1].replace("-", ":")
    changed.write_bytes(changed.read_bytes() + b"\n% v2\n")
    office.anchor([changed])
    changed.write_bytes(changed.read_bytes() + b"\n% v3\n")
    office.anchor([changed])
    indexer = office.indexer()
    indexer.sync()
    index = Index(indexer.db)
    v1, v2, v3 = index.versions(rid)
    assert v1.supersedes == "0x" + "00" * 32
    assert (v2.supersedes, v3.supersedes) == (v1.leaf, v2.leaf)
    assert v1.block_number < v2.block_number < v3.block_number
    newer = index.superseded_by(v1.leaf, "EP", rid)
    assert newer is not None and newer.leaf == v2.leaf
    assert index.superseded_by(v3.leaf, "EP", rid) is None
    assert index.superseded_by(v1.leaf, "US", rid) is None  # only the record's own office supersedes it


def test_confirmations_hold_back_the_newest_blocks(office: Office) -> None:
    indexer = office.indexer(confirmations=3)
    result = indexer.sync()
    latest = office.chain.w3.eth.block_number
    assert result.to_block == latest - 2 == Index(indexer.db).cursor()
    assert result.batches == 0  # the batch is in the newest block


# ---------------------------------------------------------------------------- manifests


def test_manifest_failure_is_recorded_and_retried(office: Office) -> None:
    stored = office.store.batches(status="anchored")[0]
    manifest = office.tmp / "manifests" / "EP" / f"{stored.root}.json"
    hidden = manifest.with_suffix(".hidden")
    manifest.rename(hidden)
    indexer = office.indexer()
    result = indexer.sync()
    assert [root for root, _ in result.manifest_failures] == [stored.root]
    index = Index(indexer.db)
    (failed,) = index.unindexed_batches("EP")
    assert failed.manifest_status == "failed" and "no copy" in (failed.manifest_error or "")
    assert index.versions(office.store.batch_records(stored.id)[0].record_id) == []
    assert indexer.sync().manifest_failures == []  # backing off: not retried at once
    hidden.rename(manifest)
    result = indexer.sync(retry_failed=True)
    assert result.manifests_indexed == 1 and result.leaves == 6
    assert index.unindexed_batches() == []


def test_manifest_that_does_not_rebuild_the_root_is_refused(office: Office) -> None:
    stored = office.store.batches(status="anchored")[0]
    manifest = office.tmp / "manifests" / "EP" / f"{stored.root}.json"
    body = json.loads(manifest.read_text())
    body["values"][0][1] = "0x" + "ab" * 32  # a forged content hash
    manifest.write_text(json.dumps(body))
    indexer = office.indexer()
    (failure,) = indexer.sync().manifest_failures
    assert "do not rebuild the anchored root" in failure[1]
    assert Index(indexer.db).leaves_by_hash("0x" + "ab" * 32) == []


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


LOOPBACK = FetchPolicy(schemes=frozenset({"http", "https"}), allow_networks=parse_networks("127.0.0.0/8"))


def test_http_manifests_with_size_limit(tmp_path: Path, http_dir: tuple[str, Path]) -> None:
    base, served = http_dir
    office = make_office(tmp_path / "office", manifest_base=base)
    stored = office.store.batches(status="anchored")[0]
    assert stored.manifest_uri == f"{base}/EP/{stored.root}.json"
    (office.tmp / "manifests" / "EP" / f"{stored.root}.json").rename(tmp_path / "kept.json")
    small = office.indexer(policy=LOOPBACK, manifest_max_bytes=100)
    (failure,) = small.sync().manifest_failures
    assert "HTTP 404" in failure[1]  # not published yet (the operator's log says so)
    (served / "EP").mkdir()
    (tmp_path / "kept.json").rename(served / "EP" / f"{stored.root}.json")
    (failure,) = small.sync(retry_failed=True).manifest_failures
    assert "above 100" in failure[1] or "exceeds 100" in failure[1]
    (batch,) = Index(small.db).unindexed_batches()
    assert batch.manifest_error == "manifest larger than the size limit"
    small.close()
    assert office.indexer(policy=LOOPBACK).sync(retry_failed=True).leaves == 6


def test_read_manifest_refuses_other_schemes_and_local_files() -> None:
    with pytest.raises(ManifestError, match="unsupported manifest URI scheme"):
        read_manifest("ftp://example.org/m.json")
    for uri in ("file://example.org/etc/passwd", "file:///etc/hostname", "FILE:///etc/hostname"):
        with pytest.raises(ManifestError, match="not read by URI"):
            read_manifest(uri)
    with pytest.raises(ManifestError, match="scheme 'http' not allowed"):
        read_manifest("http://example.org/m.json")  # the default policy: https only


# ---------------------------------------------------------------------------- state


def test_index_of_another_deployment_is_refused(office: Office) -> None:
    office.indexer().sync()
    other = Chain(connect("embedded"))
    dep = deploy_dev(other)
    deploy_dev(other)  # a second deployment on the same chain: other addresses
    assert other.deployment is not None and other.deployment.anchor_registry != dep.anchor_registry
    with pytest.raises(IndexStateError, match="ipreg index rebuild"):
        Indexer(office.tmp / "registry.sqlite", other).sync()
    Indexer(office.tmp / "registry.sqlite", other).rebuild()


def test_office_suspension_is_indexed(office: Office) -> None:
    ep, us, jp = (dev_signer(c) for c in ("EP", "US", "JP"))
    assert ep is not None and us is not None and jp is not None
    pid, _ = office.chain.propose(ep, "suspend", "WO")
    office.chain.approve(us, pid)
    office.chain.approve(jp, pid)
    office.chain.execute(ep, pid)
    indexer = office.indexer()
    indexer.sync()
    status = {o.code: o.status for o in Index(indexer.db).offices()}
    assert status["WO"] == "suspended" and status["EP"] == "active"
    assert indexer.status()["batches"] == 1 and indexer.status()["records"] == 6


def test_a_changed_chain_below_the_cursor_is_detected(office: Office) -> None:
    indexer = office.indexer()
    indexer.sync()
    indexer.db.execute("UPDATE idx_meta SET value = ? WHERE key = 'cursorHash'", ("0x" + "11" * 32,))
    indexer.db.execute("UPDATE idx_blocks SET hash = ?", ("0x" + "11" * 32,))  # a reset node: nothing kept matches
    with pytest.raises(IndexStateError, match="reorganisation"):
        indexer.sync()
    assert indexer.rebuild().batches == 1


# ---------------------------------------------------------------------------- batches keyed by (office, root)


def test_another_offices_copy_of_a_root_does_not_shadow_the_owners_batch(tmp_path: Path) -> None:
    """US anchors EP's root first (copied from the mempool): both are batches, EP's records stay EP's."""
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    ep, us = dev_signer("EP"), dev_signer("US")
    assert ep is not None and us is not None
    store = Store(tmp_path / "office" / "registry.sqlite")
    anchorer = Anchorer(store, chain, ep, "EP", tmp_path / "manifests")
    files = generate_gazette(tmp_path / "gazette", office="EP", count=4, seed=21, kinds=("st96-patent", "pdf"))
    anchorer.submit(prepare_files(files))
    anchorer.make_batches()  # tree built, manifest written, not sent yet
    (built,) = store.batches(office="EP")
    copy = chain.anchor_batch(us, bytes.fromhex(built.root[2:]), built.leaf_count, built.manifest_uri)
    anchorer.run(tmp_path / "proofs")
    (mine,) = store.batches(office="EP", status="anchored")
    assert mine.root == built.root and mine.block_number > copy.block_number
    assert chain.batch_of("US", built.root) is not None and chain.batch_of("EP", built.root) is not None

    # An auditor: an index of its own, EP's manifest served from this home's manifest folder.
    auditor = Store(tmp_path / "registry.sqlite")
    indexer = Indexer(tmp_path / "registry.sqlite", chain)
    result = indexer.sync()
    assert result.batches == 2 and result.manifests_indexed == 1 and result.leaves == 4
    index = Index(indexer.db)
    theirs, owners = index.batch("US", built.root), index.batch("EP", built.root)
    assert theirs is not None and owners is not None
    assert owners.manifest_status == "indexed" and owners.block_number == mine.block_number
    assert theirs.manifest_status == "failed" and theirs.block_number == copy.block_number
    assert [b.office for b in index.batches_with_root(built.root)] == ["US", "EP"]
    assert list(index.office_leaves("US")) == [] and index.record_count("US") == 0
    assert [b.office for b in index.unindexed_batches()] == ["US"]

    records = store.batch_records(mine.id)
    for record in records:
        assert {x.office for x in index.leaves_by_leaf(hx(record.leaf))} == {"EP"}
        by_hash = verify_hash(chain, auditor, record.content_hash)
        assert by_hash.verdict == VERIFIED, by_hash.reason
        assert (by_hash.office, by_hash.record_id, by_hash.block_number) == ("EP", record.record_id, mine.block_number)
        by_id = verify_record_id(chain, auditor, record.record_id)
        assert by_id.verdict == VERIFIED, by_id.reason
        assert (by_id.office, by_id.root, by_id.block_number) == ("EP", mine.root, mine.block_number)
        assert by_id.bundle is not None and by_id.bundle.office == "EP"
    # US's copy has no manifest of its own: nothing of it is known record by record.
    assert indexer.db.execute("SELECT count(*) FROM idx_leaves WHERE office = 'US'").fetchone()[0] == 0

    # Revoking US's copy leaves EP's batch alone, and the reorg-free rebuild gives the same index.
    chain.revoke_batch(us, bytes.fromhex(built.root[2:]), 4)
    indexer.sync()
    assert index.batch("US", built.root).revocation_reason == 4  # type: ignore[union-attr]
    assert index.batch("EP", built.root).revocation_reason == 0  # type: ignore[union-attr]
    assert verify_record_id(chain, auditor, records[0].record_id).verdict == VERIFIED
    before = dump(indexer.db, skip_meta=True)
    indexer.rebuild()
    assert dump(indexer.db, skip_meta=True) == before


def test_an_index_of_the_old_layout_is_rebuilt_from_the_chain(office: Office) -> None:
    path = office.tmp / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE idx_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO idx_meta VALUES ('chainId', '1'), ('cursor', '999999');"
        "CREATE TABLE idx_batches (root TEXT PRIMARY KEY, office TEXT NOT NULL);"
        "CREATE TABLE idx_leaves (root TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (root, position));"
        "INSERT INTO idx_batches VALUES ('0x" + "ab" * 32 + "', 'US');"
    )
    old.commit()
    assert Index.of(old) is None  # readers never use it as it is
    old.close()
    indexer = office.indexer("old.sqlite")
    result = indexer.sync()
    assert result.from_block == office.chain.deployment.block_number  # type: ignore[union-attr]
    assert result.manifests_indexed == 1 and result.leaves == 6
    index = Index.of(indexer.db, office.chain.deployment.anchor_registry)  # type: ignore[union-attr]
    assert index is not None and index.meta()["schemaVersion"] == SCHEMA_VERSION
    assert [b.office for b in index.batches()] == ["EP"]


# ---------------------------------------------------------------------------- revocations that do not stand


def test_a_thiefs_revocations_leave_the_index_once_its_key_is_marked_from_before_them(office: Office) -> None:
    """Contracts 3.0.0: a revocation by a key at or after its compromise block does not stand; the index then
    sets it aside, so readers of the index agree with the chain's views (and a rebuild gives the same)."""
    from registry.evaluate import actions

    indexer = office.indexer()
    indexer.sync()
    index = Index(indexer.db)
    (batch,) = index.batches("EP")
    leaf = index.batch_leaves("EP", batch.root)[0]
    bundle = index.bundle(leaf, office.chain.w3.eth.chain_id, office.chain.anchors.address)
    ep = dev_signer("EP")
    assert ep is not None
    thief = actions.spare_account(office.chain, 12)
    actions.add_key(office.chain, ep, thief, "EP")
    start = office.chain.w3.eth.block_number
    office.chain.revoke_leaf(thief, bytes.fromhex(batch.root[2:]), bundle.value.encode(), bundle.proof, 1)
    office.chain.revoke_batch(thief, bytes.fromhex(batch.root[2:]), 2)
    indexer.sync()
    assert index.revoked_leaves("EP", batch.root) == {leaf.leaf: 1}
    assert index.batch("EP", batch.root).revocation_reason == 2  # type: ignore[union-attr]

    voters = [(c, a) for c in ("EP", "US", "JP", "EM", "WO") if (a := dev_signer(c))]
    actions.govern(office.chain, "mark-compromised", "EP", voters, signer=thief.address, from_block=start)
    indexer.sync()
    assert index.revoked_leaves("EP", batch.root) == {}
    assert index.batch("EP", batch.root).revocation_reason == 0  # type: ignore[union-attr]
    assert index.revocations("EP") == []
    again = office.indexer("rebuilt.sqlite")
    again.sync()
    assert dump(again.db, skip_meta=True) == dump(indexer.db, skip_meta=True)
