"""Verdicts through the index, and audits of folders and feeds, on the in-process EVM (and one on anvil)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode

from registry import verify
from registry.anchor.pipeline import Anchorer, bundle_name
from registry.audit.expected import ExpectedEntry, parse_expected
from registry.audit.html import render_html
from registry.audit.report import MISSING, AuditReport
from registry.audit.run import audit_feed, audit_folder
from registry.audit.snapshot import SnapshotReader
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core.canon import RAW, content_hash
from registry.core.formats import ProofBundle
from registry.core.leaves import LeafValue
from registry.core.merkle import MerkleTree
from registry.errors import InputError
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_file, prepare_files
from registry.indexer.sync import Indexer
from registry.store.index import Index
from registry.store.outbox import Store
from registry.verify.verdict import REVOKED, SUPERSEDED, TAMPERED, UNAUTHORISED, UNKNOWN, VERIFIED


def rid_of(path: Path) -> str:
    return str(prepare_file(path).record_id)


@dataclass
class Scenario:
    """An EP gazette anchored; a record revoked, one superseded, one extra; an auditor's folder and index."""

    tmp: Path
    chain: Chain
    office_store: Store
    auditor: Store
    anchorer: Anchorer
    proofs: Path
    folder: Path
    files: list[Path]
    extra: Path
    old_version: Path
    expected: list[ExpectedEntry]

    @property
    def ids(self) -> list[str]:
        return [rid_of(f) for f in self.files]


def make_scenario(tmp: Path) -> Scenario:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    ep = dev_signer("EP")
    assert ep is not None
    store = Store(tmp / "office.sqlite")
    anchorer = Anchorer(store, chain, ep, "EP", tmp / "manifests")
    proofs = tmp / "proofs"
    files = generate_gazette(tmp / "gazette", office="EP", count=9, seed=5, kinds=("st96-patent", "st97-json", "pdf"))
    anchorer.submit(prepare_files(files))
    (batch,) = anchorer.run(proofs).batches

    # files[0]: revoked by its office
    records = store.batch_records(batch.id)
    tree = MerkleTree.from_leaves([r.leaf for r in records])
    k = next(i for i, r in enumerate(records) if r.source == str(files[0]))
    r = records[k]
    values = LeafValue(r.record_id, r.content_hash, r.canonicalization, r.supersedes)
    assert values.leaf() == r.leaf
    chain.revoke_leaf(ep, bytes.fromhex(batch.root[2:]), values.encode(), tree.proof(k), 1)
    # files[2] (a PDF): a corrected version anchored; the old bytes kept aside
    old_version = tmp / "old" / files[2].name
    old_version.parent.mkdir()
    shutil.copy(files[2], old_version)
    files[2].write_bytes(files[2].read_bytes() + b"\n% corrected\n")
    # one more record, published but not on the expected list
    (extra,) = generate_gazette(tmp / "extra", office="EP", count=1, seed=99, kinds=("pdf",))
    anchorer.submit(prepare_files([files[2], extra]))
    anchorer.run(proofs)

    # The auditor's folder: revoked, tampered, the old version, five good ones, the extra; files[8] missing.
    folder = tmp / "audit"
    folder.mkdir()
    for f in [files[0], files[1], *files[3:8], extra]:
        shutil.copy(f, folder / f.name)
    shutil.copy(old_version, folder / old_version.name)
    tampered = folder / files[1].name
    tampered.write_text(tampered.read_text().replace('"InventionTitle": "', '"InventionTitle": "Improved ', 1))

    auditor = Store(tmp / "auditor.sqlite")
    indexer = Indexer(auditor.path, chain)
    assert indexer.sync().manifest_failures == []
    indexer.close()
    ids = [rid_of(f) for f in files]
    lines = [
        "publication_number;kind",
        f"{ids[0]}",
        *(i.split(":", 1)[1].replace(":", ",") for i in ids[1:6]),
        *(f"EP;{i.split(':')[1]}" for i in ids[6:]),
    ]
    expected = parse_expected("\n".join(lines), "EP")
    return Scenario(tmp, chain, store, auditor, anchorer, proofs, folder, files, extra, old_version, expected)


@pytest.fixture
def sc(tmp_path: Path) -> Scenario:
    return make_scenario(tmp_path)


def by_id(report: AuditReport) -> dict[str | None, str]:
    return {r.record_id: r.status for r in report.rows if r.record_id is not None}


# ---------------------------------------------------------------------------- verdicts through the index


def test_every_verdict_through_the_auditors_index_alone(sc: Scenario) -> None:
    """The auditor's store holds no outbox records: everything comes from the index."""
    ids, chain, aud = sc.ids, sc.chain, sc.auditor
    assert aud.counts()["records"] == 0

    good = prepare_file(sc.files[3])
    v = verify.verify_hash(chain, aud, good.content_hash, ids[3])
    assert (v.verdict, v.record_id, v.office) == (VERIFIED, ids[3], "EP")
    assert v.block_number is not None and v.transaction_hash and v.anchored_at

    tampered = sc.folder / sc.files[1].name
    v = verify.verify_file(chain, aud, tampered.read_bytes(), tampered.name)
    assert (v.verdict, v.record_id) == (TAMPERED, ids[1])

    v = verify.verify_hash(chain, aud, "0x" + "12" * 32)
    assert v.verdict == UNKNOWN

    v = verify.verify_record_id(chain, aud, ids[0])
    assert v.verdict == REVOKED and "withdrawn" in v.reason
    assert verify.verify_file(chain, aud, sc.files[0].read_bytes(), sc.files[0].name).verdict == REVOKED

    new = prepare_file(sc.files[2])
    v = verify.verify_file(chain, aud, sc.old_version.read_bytes(), sc.old_version.name)
    assert v.verdict == SUPERSEDED and v.superseded_by == f"{ids[2]}@{new.content_hash}"
    v = verify.verify_record_id(chain, aud, ids[2])
    assert v.verdict == VERIFIED and v.content_hash == new.content_hash

    assert verify.verify_record_id(chain, aud, "EP:1:B1").verdict == UNKNOWN


def test_unauthorised_bundles(sc: Scenario) -> None:
    ep = dev_signer("EP")
    assert ep is not None
    # A value naming a US record, anchored by EP.
    values = [
        LeafValue("US:2026012345:A1", content_hash(b"us record", RAW), RAW),
        LeafValue("EP:7000001:A1", content_hash(b"ep record", RAW), RAW),
    ]
    tree = MerkleTree.from_leaves([v.leaf() for v in values])
    result = sc.chain.anchor_batch(ep, tree.root, 2, "file:///nowhere.json")
    dep = sc.chain.deployment
    assert dep is not None
    bundle = ProofBundle(
        dep.chain_id,
        dep.anchor_registry,
        "EP",
        "0x" + tree.root.hex(),
        values[0],
        tuple("0x" + p.hex() for p in tree.proof(0)),
        2,
        result.transaction_hash,
        result.block_number,
        "2026-01-01T00:00:00Z",
    )
    v = verify.verify_bundle(sc.chain, bundle)
    assert v.verdict == UNAUTHORISED and "anchored by office EP" in v.reason
    # A genuine EP bundle claiming that office US anchored it: batches belong to (office, root), and US
    # has no batch under this root.
    path = next(sc.proofs.glob("*.proof.json"))
    real = ProofBundle.loads(path.read_bytes())
    v = verify.verify_bundle(sc.chain, replace(real, office="US"))
    assert v.verdict == UNKNOWN and "not anchored by office US" in v.reason


def test_bundles_for_leaf_and_record_from_the_index(sc: Scenario) -> None:
    for record in sc.office_store.versions(sc.ids[4]):
        written = ProofBundle.loads((sc.proofs / bundle_name(record)).read_bytes())
        by_leaf = verify.bundle_for_leaf(sc.chain, sc.auditor, record.leaf)
        by_record = verify.bundle_for_record(sc.chain, sc.auditor, sc.ids[4])
        assert by_leaf is not None and by_record is not None
        assert by_leaf.to_json() == by_record.to_json() == written.to_json()
    old, new = sc.office_store.versions(sc.ids[2])
    found = verify.bundle_for_record(sc.chain, sc.auditor, sc.ids[2])
    assert found is not None and found.value.content_hash == new.content_hash
    found = verify.bundle_for_record(sc.chain, sc.auditor, sc.ids[2], old.content_hash)
    assert found is not None and found.value.leaf() == old.leaf
    assert verify.bundle_for_leaf(sc.chain, sc.auditor, "0x" + "00" * 32) is None
    # The office's own store (outbox, no index) answers the same.
    from_outbox = verify.bundle_for_record(sc.chain, sc.office_store, sc.ids[2])
    assert from_outbox is not None and from_outbox.value.content_hash == new.content_hash


def test_snapshot_reader_matches_the_contract(sc: Scenario) -> None:
    """Local proof checks and cached revocations give the verdicts of live calls; per-record fallback too."""
    paths = sorted(sc.proofs.glob("*.proof.json"))
    bundles = [ProofBundle.loads(p.read_bytes()) for p in paths]
    altered = replace(bundles[1], proof=(bundles[1].proof[0], "0x" + "ee" * 32, *bundles[1].proof[2:]))
    short = replace(bundles[2], proof=bundles[2].proof[:-1])
    cases = [*bundles, altered, short]

    class NoLogs(SnapshotReader):
        def _revoked(self, office: str, root: str, from_block: int) -> dict[str, int] | None:
            return None

    for reader in (
        SnapshotReader(sc.chain),
        SnapshotReader(sc.chain, Index.of(sc.auditor.db)),
        NoLogs(sc.chain),
    ):
        for bundle in cases:
            live = verify.verify_bundle(sc.chain, bundle)
            cached = verify.verify_bundle(sc.chain, bundle, None, None, reader)
            assert (cached.verdict, cached.reason) == (live.verdict, live.reason)
    assert {verify.verify_bundle(sc.chain, b).verdict for b in cases} == {VERIFIED, REVOKED, TAMPERED}
    plain = SnapshotReader(sc.chain)
    for bundle in bundles:
        verify.verify_bundle(sc.chain, bundle, None, None, plain)
    # head, chain id; per batch batchOf + getLogs; signers; one BatchAnchored query per office (later versions);
    # once: whether the registry was frozen in favour of a successor (where later versions would be)
    assert plain.calls <= 2 + 2 * 2 + 2 + 1 + 1 + 1  # +1: the revoked leaf confirmed by the contract's view


def test_revoked_batch(sc: Scenario) -> None:
    ep = dev_signer("EP")
    assert ep is not None
    root = sc.office_store.batches(status="anchored")[0].root
    sc.chain.revoke_batch(ep, bytes.fromhex(root[2:]), 2)
    v = verify.verify_record_id(sc.chain, sc.auditor, sc.ids[2])
    assert v.verdict == REVOKED and "whole batch" in v.reason


# ---------------------------------------------------------------------------- audits


def expected_statuses(sc: Scenario) -> dict[str | None, str]:
    ids = sc.ids
    return {
        ids[0]: REVOKED,
        ids[1]: TAMPERED,
        ids[2]: SUPERSEDED,
        **dict.fromkeys(ids[3:8], VERIFIED),
        ids[8].rsplit(":", 1)[0]: MISSING,
        rid_of(sc.extra): VERIFIED,
    }  # listed without its kind code


@pytest.mark.parametrize("mode", ["bundles only", "bundles and office store", "auditor index"])
def test_audit_folder_lists_missing_unexpected_tampered_revoked_superseded(sc: Scenario, mode: str) -> None:
    store = {"bundles only": None, "bundles and office store": sc.office_store, "auditor index": sc.auditor}[mode]
    proofs = None if mode == "auditor index" else sc.proofs
    done: list[int] = []
    report = audit_folder(sc.chain, store, sc.folder, "EP", proofs, sc.expected, done.append)
    assert sum(done) == 9
    assert by_id(report) == expected_statuses(sc), [(r.status, r.file, r.reason) for r in report.rows]
    unexpected = [r.record_id for r in report.rows if r.expected is False]
    assert unexpected == [rid_of(sc.extra)]
    superseded = next(r for r in report.rows if r.status == SUPERSEDED)
    assert superseded.superseded_by == f"{sc.ids[2]}@{prepare_file(sc.files[2]).content_hash}"
    assert not report.ok and report.records == 9
    missing = sc.ids[8].rsplit(":", 1)[0]
    assert {r.record_id for r in report.attention} == {
        sc.ids[0],
        sc.ids[1],
        sc.ids[2],
        missing,
        rid_of(sc.extra),
    }
    assert report.counts["UNEXPECTED"] == 1 and report.counts[MISSING] == 1
    if proofs is not None:
        assert report.unmatched_bundles == 2  # files[8] and the new version of files[2]
        # A handful per batch (+1 per office: its later batches; +1 per revoked leaf; +1: the freeze, read once).
        assert report.rpc_calls <= 11


def test_audit_of_a_clean_folder_passes(sc: Scenario) -> None:
    clean = sc.tmp / "clean"
    clean.mkdir()
    for f in sc.files[3:8]:
        shutil.copy(f, clean / f.name)
    expected = [e for e in sc.expected if e.label.split(":")[1] in {rid_of(f).split(":")[1] for f in sc.files[3:8]}]
    report = audit_folder(sc.chain, None, clean, "EP", sc.proofs, expected)
    assert report.ok and report.records == 5 and set(by_id(report).values()) == {VERIFIED}


def test_audit_feed_from_the_index(sc: Scenario) -> None:
    expected = [*sc.expected, *parse_expected("9999999,B1", "EP")]
    report = audit_feed(sc.chain, sc.auditor, "EP", expected)
    statuses = by_id(report)
    ids = sc.ids
    assert statuses == {
        ids[0]: REVOKED,
        **dict.fromkeys(ids[1:], VERIFIED),
        rid_of(sc.extra): VERIFIED,
        "EP:9999999:B1": MISSING,
    }
    assert [r.record_id for r in report.rows if r.expected is False] == [rid_of(sc.extra)]
    assert report.records == 10 and not report.ok
    with pytest.raises(InputError, match="index"):
        audit_feed(sc.chain, sc.office_store, "EP")


def test_feed_reports_batches_whose_manifest_is_unavailable(sc: Scenario) -> None:
    ep = dev_signer("EP")
    assert ep is not None
    value = LeafValue("EP:7000002:A1", content_hash(b"x", RAW), RAW)
    sc.chain.anchor_batch(ep, value.leaf(), 1, "file:///nowhere/manifest.json")
    Indexer(sc.auditor.path, sc.chain).sync()
    report = audit_feed(sc.chain, sc.auditor, "EP")
    (row,) = [r for r in report.rows if r.record_id is None]
    assert row.status == UNKNOWN and "manifest URI names a local file" in row.reason and not report.ok


def test_html_report_has_the_summary_first_and_escapes_everything(sc: Scenario) -> None:
    (sc.folder / "<script>alert(1).pdf").write_bytes(b"%PDF-1.4 odd")
    report = audit_folder(sc.chain, None, sc.folder, "EP", sc.proofs, sc.expected)
    page = render_html(report)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1).pdf" in page
    assert page.index("Summary") < page.index("Rows that need attention")
    assert "Attention:" in page and "TAMPERED" in page and "MISSING" in page and "(unexpected)" in page
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # embedded plots, not links
    assert "http" not in text.replace(sc.chain.deployment.anchor_registry if sc.chain.deployment else "", "")
    assert re.search(r"<(script|link|iframe|object)\b", text) is None and 'src="http' not in page
    body = report.to_json()
    assert body["format"] == "ipreg-audit-v1" and body["ok"] is False
    assert body["counts"][UNKNOWN] == 1 and len(body["rows"]) == len(report.rows)
    json.dumps(body)


def test_parse_expected_formats() -> None:
    text = "\n".join(
        [
            "# ST.37-style authority list",
            "publication_number,kind_code",
            "EP:1234567:B1",
            "2345678,A1",
            "EP;3456789;B2;20260107",
            "4567890",
            "",
            "US\t2026012345\tA1",
        ]
    )
    got = [e.label for e in parse_expected(text, "EP")]
    assert got == ["EP:1234567:B1", "EP:2345678:A1", "EP:3456789:B2", "EP:4567890", "US:2026012345:A1"]
    with pytest.raises(InputError, match="line 2"):
        parse_expected("1234567\nnot-a-number", "EP")


# ---------------------------------------------------------------------------- the command, on anvil

IPREG = str(Path(sys.executable).parent / "ipreg")


def ipreg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([IPREG, *args], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.mark.anvil
def test_ipreg_index_and_audit_commands(tmp_path: Path, anvil: AnvilNode) -> None:
    env = {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}
    gazette = tmp_path / "gazette"
    files = generate_gazette(gazette, office="EP", count=6, seed=3, kinds=("st96-patent", "st97-json", "pdf"))
    proofs = tmp_path / "proofs"
    assert ipreg(env, "deploy").returncode == 0
    assert ipreg(env, "anchor", str(gazette), "--office", "EP", "--proofs", str(proofs)).returncode == 0
    synced = json.loads(ipreg(env, "index", "sync", "--json").stdout)
    assert synced["leaves"] == 6 and synced["status"]["records"] == 6
    expected = tmp_path / "expected.txt"
    expected.write_text("\n".join(rid_of(f) for f in files) + "\n")
    out_json, out_html = tmp_path / "report.json", tmp_path / "report.html"
    proc = ipreg(
        env,
        "audit",
        str(gazette),
        "--office",
        "EP",
        "--proofs",
        str(proofs),
        "--expected",
        str(expected),
        "--json-report",
        str(out_json),
        "--html-report",
        str(out_html),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out_json.read_text())["counts"][VERIFIED] == 6 and "Passed" in out_html.read_text()
    assert ipreg(env, "audit", "--feed", "--office", "EP", "--expected", str(expected)).returncode == 0

    files[0].write_bytes(files[0].read_bytes() + b"<!-- a comment does not change the canonical form -->\n")
    files[1].write_text(files[1].read_text().replace('"InventionTitle": "', '"InventionTitle": "New ', 1))
    report = json.loads(ipreg(env, "audit", str(gazette), "--office", "EP", "--json").stdout)
    assert report["counts"] == {VERIFIED: 5, TAMPERED: 1, "UNEXPECTED": 0}
    assert ipreg(env, "audit", str(gazette), "--office", "EP").returncode == 3
    rebuilt = json.loads(ipreg(env, "index", "rebuild", "--json").stdout)
    assert rebuilt["status"]["records"] == 6


def test_audit_with_a_revealed_sealed_bundle(sc: Scenario) -> None:
    from registry.anchor.stored import reveal_bundle

    (sealed,) = generate_gazette(sc.tmp / "sealed", office="EP", count=1, seed=321, kinds=("st96-patent",))
    sc.anchorer.submit(prepare_files([sealed]), sealed=True)
    sc.anchorer.run()
    proofs = sc.tmp / "sealed-proofs"
    proofs.mkdir()
    bundle = reveal_bundle(sc.office_store, sc.chain, rid_of(sealed))
    (proofs / "sealed.proof.json").write_text(bundle.dumps())
    rid = rid_of(sealed)
    report = audit_folder(sc.chain, None, sealed.parent, "EP", proofs)
    assert by_id(report) == {rid: VERIFIED} and report.ok
    text = sealed.read_text()
    assert 'languageCode="en">' in text
    sealed.write_text(text.replace('languageCode="en">', 'languageCode="en">Improved ', 1))
    assert by_id(audit_folder(sc.chain, None, sealed.parent, "EP", proofs)) == {rid: TAMPERED}
