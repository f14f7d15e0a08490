"""A proof bundle given with the wrong file: MISMATCH (exit 8) naming both records, never TAMPERED.

What must never happen: an authentic file called TAMPERED because it came with another record's
bundle; an XML file with a JSON record's bundle answered "malformed JSON"; a MISMATCH or TAMPERED
answer that hides which hash was anchored and which the file has. On the in-process EVM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.anchor.pipeline import Anchorer, bundle_name
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core import canon
from registry.core.formats import ProofBundle
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_file, prepare_files
from registry.store.outbox import Store
from registry.verify.verdict import EXIT_CODES, MISMATCH, TAMPERED, VERIFIED
from registry.verify.verdicts import verify_file

IPREG = Path(sys.executable).parent / "ipreg"


@dataclass
class Anchored:
    chain: Chain
    store: Store
    files: dict[str, Path]  # by canonicalization
    bundles: dict[str, ProofBundle]  # by record id
    ids: dict[str, str]  # by canonicalization


@pytest.fixture(scope="module")
def anchored(tmp_path_factory: pytest.TempPathFactory) -> Anchored:
    tmp = tmp_path_factory.mktemp("mismatch")
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    account = dev_signer("EP")
    assert account is not None
    store = Store(tmp / "registry.sqlite")
    gazette = generate_gazette(tmp / "g", office="EP", count=6, seed=3, kinds=("st96-patent", "st97-json", "pdf"))
    anchorer = Anchorer(store, chain, account, "EP", tmp / "manifests")
    anchorer.submit(prepare_files(gazette))
    (batch,) = anchorer.run(tmp / "proofs").batches
    bundles = {}
    for record in store.batch_records(batch.id):
        bundles[record.record_id] = ProofBundle.loads((tmp / "proofs" / bundle_name(record)).read_bytes())
    files: dict[str, Path] = {}
    ids: dict[str, str] = {}
    for f in gazette:
        method = canon.canonicalization_for(f.name)
        if method not in files:
            files[method] = f
            ids[method] = str(prepare_file(f).record_id)
    assert set(files) == {canon.XML_C14N2, canon.JSON_JCS, canon.RAW}
    return Anchored(chain, store, files, bundles, ids)


def _verdict(a: Anchored, file: Path, bundle_of: str, store: Store | None = None):  # type: ignore[no-untyped-def]
    return verify_file(a.chain, store, file.read_bytes(), file.name, a.bundles[bundle_of])


@pytest.mark.parametrize("use_store", [False, True])
def test_authentic_files_with_own_bundles_verify(anchored: Anchored, use_store: bool) -> None:
    for method, f in anchored.files.items():
        v = _verdict(anchored, f, anchored.ids[method], anchored.store if use_store else None)
        assert v.verdict == VERIFIED, (method, v.reason)


@pytest.mark.parametrize("use_store", [False, True])
def test_every_authentic_file_with_every_other_bundle_is_mismatch(anchored: Anchored, use_store: bool) -> None:
    """The full cross product: an authentic file never gets TAMPERED (or VERIFIED) with another's bundle."""
    gazette = sorted(next(iter(anchored.files.values())).parent.iterdir())
    store = anchored.store if use_store else None
    for f in gazette:
        own = str(prepare_file(f).record_id)
        for rid, bundle in anchored.bundles.items():
            v = verify_file(anchored.chain, store, f.read_bytes(), f.name, bundle)
            if rid == own:
                assert v.verdict == VERIFIED
                continue
            assert v.verdict == MISMATCH, (f.name, rid, v.verdict, v.reason)
            assert f"this bundle is for {rid}, the file is {own}" in v.reason
            assert v.anchored_hash == bundle.value.content_hash
            assert v.content_hash == canon.content_hash(f.read_bytes(), canon.canonicalization_for(f.name))
            assert v.content_hash != v.anchored_hash
            bundle_method = bundle.value.canonicalization
            file_method = canon.canonicalization_for(f.name)
            if bundle_method != file_method:
                assert f"the file's canonicalization is {file_method}, the bundle's {bundle_method}" in v.reason


def test_xml_file_with_json_bundle_names_both_canonicalizations(anchored: Anchored) -> None:
    v = _verdict(anchored, anchored.files[canon.XML_C14N2], anchored.ids[canon.JSON_JCS])
    assert v.verdict == MISMATCH
    assert f"the file's canonicalization is {canon.XML_C14N2}, the bundle's {canon.JSON_JCS}" in v.reason
    assert "malformed" not in v.reason


def test_anonymous_authentic_file_found_in_store_is_mismatch(anchored: Anchored, tmp_path: Path) -> None:
    """A file whose name and content carry no id: the store knows its content under another record."""
    pdf = anchored.files[canon.RAW]
    anonymous = tmp_path / "scan.pdf"
    anonymous.write_bytes(pdf.read_bytes())
    other = anchored.ids[canon.XML_C14N2]
    v = verify_file(anchored.chain, anchored.store, anonymous.read_bytes(), anonymous.name, anchored.bundles[other])
    assert v.verdict == MISMATCH and f"the file is {anchored.ids[canon.RAW]}" in v.reason


def test_tampered_file_of_the_bundles_record_stays_tampered(anchored: Anchored, tmp_path: Path) -> None:
    xml = anchored.files[canon.XML_C14N2]
    text = xml.read_text(encoding="utf-8")
    marker = "<com:PublicationDate>2"
    assert marker in text
    tampered = tmp_path / xml.name
    tampered.write_text(text.replace(marker, "<com:PublicationDate>1", 1), encoding="utf-8")
    bundle = anchored.bundles[anchored.ids[canon.XML_C14N2]]
    for store in (None, anchored.store):
        v = verify_file(anchored.chain, store, tampered.read_bytes(), tampered.name, bundle)
        assert v.verdict == TAMPERED
        assert v.anchored_hash == bundle.value.content_hash
        assert v.content_hash == canon.content_hash(tampered.read_bytes(), canon.XML_C14N2)


def test_exit_codes_are_distinct() -> None:
    assert EXIT_CODES[MISMATCH] == 8
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    assert [k for k, v in EXIT_CODES.items() if v == 0] == [VERIFIED]


def test_cli_labels_anchored_and_file_hash(anchored: Anchored, tmp_path: Path) -> None:
    """The console answer of a mismatch: its own exit status, both hashes labelled."""
    xml = anchored.files[canon.XML_C14N2]
    bundle = anchored.bundles[anchored.ids[canon.JSON_JCS]]
    proof = tmp_path / "bundle.json"
    proof.write_text(bundle.dumps(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    env.update(IPREG_HOME=str(tmp_path / "home"), IPREG_RPC_URL="http://127.0.0.1:9", IPREG_RPC_RETRIES="0")
    for extra in ([], ["--json"]):
        proc = subprocess.run([str(IPREG), "verify", str(xml), "--proof", str(proof), *extra],
                              capture_output=True, text=True, env=env, timeout=120, check=False)  # fmt: skip
        assert proc.returncode == 8, proc.stderr
        assert "Traceback" not in proc.stderr
        if extra:
            body = json.loads(proc.stdout)
            assert body["verdict"] == MISMATCH and body["anchoredHash"] == bundle.value.content_hash
        else:
            lines = proc.stdout.splitlines()
            assert lines[0].startswith("MISMATCH: this bundle is for ")
            assert any(line.split() == ["anchored", "hash", bundle.value.content_hash] for line in lines)
            file_hash = canon.content_hash(xml.read_bytes(), canon.XML_C14N2)
            assert any(line.split() == ["file", "hash", file_hash] for line in lines)


def test_the_file_is_canonicalized_once(anchored: Anchored, monkeypatch: pytest.MonkeyPatch) -> None:
    """With its bundle, an authentic file is canonicalized once per verification (it was three times on the CLI)."""
    calls: list[str] = []
    real = canon.content_hash

    def counting(data: bytes, method: str) -> str:
        calls.append(method)
        return real(data, method)

    monkeypatch.setattr(canon, "content_hash", counting)
    for method, f in anchored.files.items():
        calls.clear()
        for store in (None, anchored.store):
            v = verify_file(anchored.chain, store, f.read_bytes(), f.name, anchored.bundles[anchored.ids[method]])
            assert v.verdict == VERIFIED
        assert calls == [method, method], calls  # once per verification, under the bundle's method


def test_the_offline_short_form_says_what_the_verifier_says(anchored: Anchored) -> None:
    """``verify.mismatch`` (offline, no registry pinned) and the Verifier give one MISMATCH reason."""
    from registry.verify.verdicts import mismatch

    gazette = sorted(next(iter(anchored.files.values())).parent.iterdir())
    for store in (None, anchored.store):
        for f in gazette:
            for bundle in anchored.bundles.values():
                offline = mismatch(store, f.read_bytes(), f.name, bundle)
                full = verify_file(anchored.chain, store, f.read_bytes(), f.name, bundle)
                if offline is None:
                    assert full.verdict != MISMATCH
                else:
                    assert (full.verdict, full.reason, full.reason_code) == (
                        MISMATCH,
                        offline.reason,
                        offline.reason_code,
                    )
