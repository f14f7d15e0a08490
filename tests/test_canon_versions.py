"""Records anchored under earlier identifiers (``xml-c14n2``, ``json-jcs``, ``xml-c14n2-v2``) keep verifying.

Real contracts on the in-process EVM: records are anchored exactly as the project wrote them
before v2 (hash and identifier of v1), then verified with today's code, with and without bundles.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import EMBEDDED
from registry.core import canon
from registry.core.formats import ProofBundle
from registry.core.records import RecordId
from registry.errors import CanonicalizationError
from registry.files.ingest import PreparedRecord, prepare_files
from registry.store.outbox import Store
from registry.verify.verdict import TAMPERED, UNKNOWN, VERIFIED
from registry.verify.verdicts import verify_file

# v1 and v2 hash these differently: v1 dropped the indentation of unknown content, v1 rounded the number
OLD_XML = b'<?xml version="1.0"?>\n<r xmlns="urn:x">\n  <s>The <b>first</b> <i>claim</i></s>\n</r>\n'
OLD_JSON = b'{"IPOfficeCode": "EP", "PublicationNumber": "1000002", "amount": 9007199254740993.0}'


@pytest.fixture
def chain() -> Chain:
    c = Chain(connect(EMBEDDED))
    deploy_dev(c)
    return c


def _anchor(tmp_path: Path, chain: Chain, records: list[PreparedRecord]) -> tuple[Store, list[ProofBundle]]:
    account = dev_signer("EP")
    assert account is not None
    store = Store(tmp_path / "store.sqlite")
    a = Anchorer(store, chain, account, "EP", tmp_path / "manifests")
    a.submit(records)
    a.run(tmp_path / "proofs")
    bundles = [ProofBundle.loads(p.read_text()) for p in sorted((tmp_path / "proofs").glob("*.proof.json"))]
    return store, bundles


def test_v1_records_verify_with_and_without_their_bundles(tmp_path: Path, chain: Chain) -> None:
    xml, js = tmp_path / "old.xml", tmp_path / "old.json"
    xml.write_bytes(OLD_XML)
    js.write_bytes(OLD_JSON)
    assert canon.content_hash(OLD_XML, canon.XML_C14N2_V1) != canon.content_hash(OLD_XML, canon.XML_C14N2)
    with pytest.raises(CanonicalizationError):
        canon.content_hash(OLD_JSON, canon.JSON_JCS)  # v2 refuses the rounded number: v1 merged two values
    old = [
        PreparedRecord(
            str(xml), RecordId("EP", "1000001", "B1"), canon.content_hash(OLD_XML, canon.XML_C14N2_V1), "xml-c14n2"
        ),
        PreparedRecord(str(js), RecordId("EP", "1000002"), canon.content_hash(OLD_JSON, canon.JSON_JCS_V1), "json-jcs"),
    ]
    store, bundles = _anchor(tmp_path, chain, old)
    assert sorted(b.value.canonicalization for b in bundles) == ["json-jcs", "xml-c14n2"]
    by_id = {b.value.record_id: b for b in bundles}
    for path, rid in ((xml, "EP:1000001:B1"), (js, "EP:1000002")):
        data = path.read_bytes()
        assert verify_file(chain, store, data, path.name, by_id[rid]).verdict == VERIFIED
        assert verify_file(chain, store, data, path.name).verdict == VERIFIED  # found under the old method
        changed = data.replace(b"first", b"frist").replace(b"9007199254740993.0", b"1.5")
        assert changed != data
        assert verify_file(chain, store, changed, path.name, by_id[rid]).verdict == TAMPERED
        assert verify_file(chain, store, changed, path.name).verdict in (TAMPERED, UNKNOWN)


def test_v2_records_verify_with_and_without_their_bundles_after_v3(tmp_path: Path, chain: Chain) -> None:
    xml = tmp_path / "v2.xml"
    xml.write_bytes(OLD_XML)
    v2_hash = canon.content_hash(OLD_XML, canon.XML_C14N2_V2)
    assert v2_hash != canon.content_hash(OLD_XML, canon.XML_C14N2)  # v2 rewrote prefixes, v3 keeps them
    store, (bundle,) = _anchor(
        tmp_path, chain, [PreparedRecord(str(xml), RecordId("EP", "1000005", "A1"), v2_hash, "xml-c14n2-v2")]
    )
    assert bundle.value.canonicalization == "xml-c14n2-v2"
    assert verify_file(chain, store, OLD_XML, xml.name, bundle).verdict == VERIFIED
    assert verify_file(chain, store, OLD_XML, xml.name).verdict == VERIFIED  # found under the earlier method
    changed = OLD_XML.replace(b"first", b"frist")
    assert verify_file(chain, store, changed, xml.name, bundle).verdict == TAMPERED
    with pytest.raises(CanonicalizationError, match="verifying old records only"):
        canon.for_anchoring("xml-c14n2-v2")


def test_v1_json_leaves_keep_their_known_merge() -> None:
    # why json-jcs-v2 exists: under v1, 9007199254740993.0 and 9007199254740992.0 were one number
    assert canon.content_hash(OLD_JSON, canon.JSON_JCS_V1) == canon.content_hash(
        OLD_JSON.replace(b"993.0", b"992.0"), canon.JSON_JCS_V1
    )
    with pytest.raises(CanonicalizationError, match="RFC 8785 form"):
        canon.content_hash(OLD_JSON, canon.JSON_JCS)


def test_new_records_name_the_new_identifiers(tmp_path: Path, chain: Chain) -> None:
    doc = tmp_path / "EP-1000003-A1.xml"
    doc.write_bytes(OLD_XML)
    store, bundles = _anchor(tmp_path, chain, prepare_files([doc]))
    (bundle,) = bundles
    assert bundle.value.canonicalization == "xml-c14n2-v3"
    assert bundle.value.content_hash == canon.content_hash(OLD_XML, canon.XML_C14N2)
    assert verify_file(chain, store, OLD_XML, doc.name).verdict == VERIFIED
    # the whitespace between the inline elements is significant: a document without it is not this record
    merged = OLD_XML.replace(b"</b> <i>", b"</b><i>")
    assert verify_file(chain, store, merged, doc.name, bundle).verdict == TAMPERED


def test_anchoring_with_an_old_identifier_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "EP-1000004-A1.xml"
    doc.write_bytes(OLD_XML)
    with pytest.raises(CanonicalizationError, match="verifying old records only"):
        prepare_files([doc], canonicalization="xml-c14n2")
