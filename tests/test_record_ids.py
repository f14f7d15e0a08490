# ruff: noqa: E501  (documents read best on one line)
"""Issue 18, findings 9-14: one publication, one id; two publications, two ids; whoever writes it, however.

Each finding has a test that fails on the code before the fix; two hypothesis properties model
publication numbers: distinct publications never share an id (injectivity, checked by decoding every
id back to its publication) and every spelling of one publication, given to any path (a document's
own identification, ``RecordId.parse`` with or without colons, the constructor, a file's name), gives
one id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core import canon
from registry.core.identify import identify
from registry.core.records import RecordId
from registry.errors import CanonicalizationError, RecordIdError

PAT = "http://www.wipo.int/standards/XMLSchema/ST96/Patent"
COM = "http://www.wipo.int/standards/XMLSchema/ST96/Common"


def _ident(office: str, number: str, kind: str | None = None, attrs: str = "", prefix: str = "pat") -> str:
    kind_el = f"<com:PatentDocumentKindCode>{kind}</com:PatentDocumentKindCode>" if kind else ""
    return (
        f"<{prefix}:PatentPublicationIdentification{attrs}><com:IPOfficeCode>{office}</com:IPOfficeCode>"
        f"<{prefix}:PublicationNumber>{number}</{prefix}:PublicationNumber>{kind_el}</{prefix}:PatentPublicationIdentification>"
    )


def _xml(inner: str, extra_ns: str = "") -> bytes:
    return (
        f'<pat:PatentPublication xmlns:pat="{PAT}" xmlns:com="{COM}"{extra_ns}>{inner}</pat:PatentPublication>'.encode()
    )


def _xml_id(office: str, number: str, kind: str | None = None) -> RecordId | None:
    return identify(
        _xml(f"<pat:BibliographicData>{_ident(office, number, kind)}</pat:BibliographicData>"), canon.XML_C14N2
    ).record_id


def _json_id(doc: object) -> RecordId | None:
    return identify(json.dumps(doc).encode(), canon.JSON_JCS).record_id


# ---------------------------------------------------------------------------- finding 9: the own identification, at any depth

OWN_JSON = {"ipOfficeCode": "EP", "publicationNumber": "3123456", "patentDocumentKindCode": "B1"}
PRIORITY_JSON = {"ipOfficeCode": "JP", "publicationNumber": "2020123456", "patentDocumentKindCode": "A"}


@pytest.mark.parametrize(
    "doc",
    [
        {
            "priorityClaim": PRIORITY_JSON,
            "patentPublication": {"bibliographicData": {"patentPublicationIdentification": OWN_JSON}},
        },
        {
            "patentFamilyMember": PRIORITY_JSON,
            "patentPublication": {"bibliographicData": {"patentPublicationIdentification": OWN_JSON}},
        },
        {
            "patentPublication": {
                "bibliographicData": {
                    "patentPublicationIdentification": OWN_JSON,
                    "priorityClaimBag": {"priorityClaim": [PRIORITY_JSON]},
                }
            },
            "citation": PRIORITY_JSON,
        },
        {"patentPublication": {"bibliographicData": {"patentPublicationIdentification": OWN_JSON}}},
        {
            "PatentPublication": {
                "BibliographicData": {
                    "PatentPublicationIdentification": {
                        "IPOfficeCode": "EP",
                        "PublicationNumber": "3123456",
                        "PatentDocumentKindCode": "B1",
                    }
                }
            }
        },
    ],
)
def test_nested_json_identification_is_the_documents_own(doc: dict[str, object]) -> None:
    assert str(_json_id(doc)) == "EP:3123456:B1"


def test_json_never_takes_a_priority_claim_or_family_member_for_its_own() -> None:
    doc = {"priorityClaim": PRIORITY_JSON, "patentPublication": {"bibliographicData": {"title": "x"}}}
    assert _json_id(doc) is None
    doc = {
        "patentPublication": {
            "patentFamily": {"patentFamilyMember": {"patentPublicationIdentification": PRIORITY_JSON}}
        }
    }
    assert _json_id(doc) is None


def test_xml_identification_below_an_envelope_is_found_and_a_claims_never() -> None:
    own = _ident("EP", "3123456", "B1")
    priority = f"<pat:PriorityClaimBag><pat:PriorityClaim>{_ident('JP', '2020123456', 'A')}</pat:PriorityClaim></pat:PriorityClaimBag>"
    doc = f'<env:Envelope xmlns:env="urn:envelope" xmlns:pat="{PAT}" xmlns:com="{COM}"><pat:PatentPublication><pat:BibliographicData>{priority}{own}</pat:BibliographicData></pat:PatentPublication></env:Envelope>'
    assert str(identify(doc.encode(), canon.XML_C14N2).record_id) == "EP:3123456:B1"
    only_claim = f'<pat:PatentPublication xmlns:pat="{PAT}" xmlns:com="{COM}"><pat:BibliographicData>{priority}</pat:BibliographicData></pat:PatentPublication>'
    assert identify(only_claim.encode(), canon.XML_C14N2).record_id is None


# ---------------------------------------------------------------------------- finding 10: office codes are ASCII


@pytest.mark.parametrize("office", ["\u017fE", "\u0131T", "\ufb01", "E\u0130", "\uff25\uff30"])
def test_office_codes_are_ascii_before_any_case_mapping(office: str) -> None:
    with pytest.raises(RecordIdError, match=r"ST\.3"):
        RecordId(office, "1234567")
    assert _xml_id(office, "1234567") is None
    found = identify(
        _xml(f"<pat:BibliographicData>{_ident(office, '1234567')}</pat:BibliographicData>"), canon.XML_C14N2
    )
    assert found.problem is not None and "\n" not in found.problem


# ---------------------------------------------------------------------------- finding 11: injective normalization


def test_japanese_era_numbers_stay_apart() -> None:
    assert RecordId("JP", "H01-123456") != RecordId("JP", "H11-23456")
    assert str(RecordId("JP", "H01-123456", "A")) == "JP:H01123456:A"
    assert str(RecordId("JP", "H1-123456", "A")) == "JP:H01123456:A"
    assert str(RecordId("JP", "H11-23456", "A")) == "JP:H1123456:A"
    assert str(RecordId("JP", "H1123456", "A")) == "JP:H1123456:A"  # compact: a two-digit year, as DOCDB writes it
    assert str(RecordId.parse("JP H1-123456 A")) == "JP:H01123456:A"
    assert RecordId.from_filename("JP-H01-123456-A.pdf") == RecordId("JP", "H1-123456", "A")
    assert _xml_id("JP", "H01-123456", "A") != _xml_id("JP", "H11-23456", "A")


# ---------------------------------------------------------------------------- finding 12: one publication, one id


@pytest.mark.parametrize(
    ("office", "in_document", "kind", "plain"),
    [
        ("WO", "WO/2024/123456", "A1", "WO:2024123456:A1"),
        ("EP", "EP3123456", "B1", "EP:3123456:B1"),
        ("EP", "3123456B1", "B1", "EP:3123456:B1"),
        ("EP", "3123456B1", None, "EP:3123456:B1"),
        ("US", "US20220273742A1", "A1", "US:20220273742:A1"),
        ("US", "US 2022/0273742 A1", None, "US:20220273742:A1"),
        ("JP", "JPH11-23456A", "A", "JP:H1123456:A"),
    ],
)
def test_office_prefix_and_kind_inside_the_number_give_the_plain_id(
    office: str, in_document: str, kind: str | None, plain: str
) -> None:
    assert str(_xml_id(office, in_document, kind)) == plain
    assert str(RecordId.parse(f"{office}:{in_document}" + (f":{kind}" if kind else ""))) == plain
    words = in_document if in_document.startswith(office) else f"{office} {in_document}"
    assert str(RecordId.parse(words + (f" {kind}" if kind and not in_document.endswith(kind) else ""))) == plain
    assert str(RecordId.parse(plain)) == plain


@pytest.mark.parametrize(
    ("number", "kind", "fragment"),
    [
        ("3123456B1", "A1", "ends with kind code B1 but the kind code is A1"),
        ("3123456A1B1", None, "two kind codes"),
        ("200910012345.X", None, "check character"),
    ],
)
def test_a_number_that_contradicts_its_kind_is_refused_in_one_line(
    number: str, kind: str | None, fragment: str
) -> None:
    with pytest.raises(RecordIdError, match=fragment) as info:
        RecordId("EP", number, kind)
    assert "\n" not in info.value.diagnostics()
    found = identify(
        _xml(f"<pat:BibliographicData>{_ident('EP', number, kind)}</pat:BibliographicData>"), canon.XML_C14N2
    )
    assert found.record_id is None and found.problem is not None and fragment in found.problem


# ---------------------------------------------------------------------------- finding 13: ST.96 names in ST.96 namespaces, exact keys


def test_identification_in_a_foreign_namespace_is_not_st96() -> None:
    foreign = _ident("US", "9999999", "B2", prefix="x")
    doc = _xml(f"<pat:BibliographicData>{foreign}</pat:BibliographicData>", extra_ns=' xmlns:x="urn:not-st96"')
    assert identify(doc, canon.XML_C14N2).record_id is None
    both = _xml(
        f"<pat:BibliographicData>{foreign}{_ident('EP', '3123456', 'B1')}</pat:BibliographicData>",
        extra_ns=' xmlns:x="urn:not-st96"',
    )
    assert str(identify(both, canon.XML_C14N2).record_id) == "EP:3123456:B1"
    # a foreign element named like an ST.96 value inside the own identification is not that value
    ident = "<pat:PatentPublicationIdentification><x:IPOfficeCode>US</x:IPOfficeCode><com:IPOfficeCode>EP</com:IPOfficeCode><pat:PublicationNumber>3123456</pat:PublicationNumber></pat:PatentPublicationIdentification>"
    doc = _xml(f"<pat:BibliographicData>{ident}</pat:BibliographicData>", extra_ns=' xmlns:x="urn:not-st96"')
    assert str(identify(doc, canon.XML_C14N2).record_id) == "EP:3123456"


def test_json_keys_are_matched_exactly() -> None:
    kelvin = {"ipOfficeCode": "EP", "publicationNumber": "3123456", "patentDocument\u212aindCode": "B1"}
    assert str(_json_id({"patentPublication": {"patentPublicationIdentification": kelvin}})) == "EP:3123456"
    shouting = {"IPOFFICECODE": "EP", "PUBLICATIONNUMBER": "3123456"}
    assert _json_id({"patentPublication": {"patentPublicationIdentification": shouting}}) is None


def test_an_element_inside_publication_number_is_refused_not_dropped() -> None:
    ident = "<pat:PatentPublicationIdentification><com:IPOfficeCode>EP</com:IPOfficeCode><pat:PublicationNumber>31<com:B>23</com:B>456</pat:PublicationNumber></pat:PatentPublicationIdentification>"
    found = identify(_xml(f"<pat:BibliographicData>{ident}</pat:BibliographicData>"), canon.XML_C14N2)
    assert found.record_id is None
    assert found.problem is not None and "PublicationNumber" in found.problem and "\n" not in found.problem


# ---------------------------------------------------------------------------- finding 14: CNIPA original and standard


def test_cnipa_original_and_standard_identifications_take_the_standard_one() -> None:
    original = _ident("CN", "1042233 52", "A", attrs=' com:dataFormat="original"')
    standard = _ident("CN", "104223352", "A", attrs=' com:dataFormat="standard"')
    for inner in (original + standard, standard + original):
        assert (
            str(identify(_xml(f"<pat:BibliographicData>{inner}</pat:BibliographicData>"), canon.XML_C14N2).record_id)
            == "CN:104223352:A"
        )
    unqualified = _ident("CN", "104223352", "A", attrs=' dataFormat="standard"') + _ident(
        "CN", "x", None, attrs=' dataFormat="original"'
    )
    assert (
        str(identify(_xml(f"<pat:BibliographicData>{unqualified}</pat:BibliographicData>"), canon.XML_C14N2).record_id)
        == "CN:104223352:A"
    )
    doc = {"patentPublication": {"bibliographicData": {"patentPublicationIdentification": [
        {**OWN_JSON, "dataFormat": "original", "publicationNumber": "EP 3 123 456"}, {**OWN_JSON, "dataFormat": "standard"}]}}}  # fmt: skip
    assert str(_json_id(doc)) == "EP:3123456:B1"


def test_a_foreign_data_format_attribute_selects_nothing() -> None:
    original = _ident("CN", "104223353", "A", attrs=' com:dataFormat="original"')
    foreign = _ident("CN", "104223352", "A", attrs=' x:dataFormat="standard"')
    doc = _xml(
        f"<pat:BibliographicData>{original}{foreign}</pat:BibliographicData>", extra_ns=' xmlns:x="urn:not-st96"'
    )
    found = identify(doc, canon.XML_C14N2)
    assert found.record_id is None and found.problem is not None and "ambiguous" in found.problem


def test_two_standard_identifications_stay_ambiguous() -> None:
    standard = _ident("CN", "104223352", "A", attrs=' com:dataFormat="standard"')
    other = _ident("CN", "104223353", "A", attrs=' com:dataFormat="standard"')
    found = identify(_xml(f"<pat:BibliographicData>{standard}{other}</pat:BibliographicData>"), canon.XML_C14N2)
    assert found.record_id is None and found.problem is not None and "ambiguous" in found.problem


# ---------------------------------------------------------------------------- one reading of the bytes


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"'
        + b" " * 400
        + b'encoding="ISO-8859-1"?>'
        + _xml(f"<pat:BibliographicData>{_ident('EP', '3123456')}<pat:T>caf\xe9</pat:T></pat:BibliographicData>"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?>'
        + _xml(f"<pat:BibliographicData>{_ident('EP', '3123456')}<pat:T>caf\xe9</pat:T></pat:BibliographicData>"),
        b'<?xml version="1.0" encoding="UTF-16"?>'
        + _xml(f"<pat:BibliographicData>{_ident('EP', '3123456')}</pat:BibliographicData>"),
        b'\xef\xbb\xbf<?xml version="1.0" encoding="ISO-8859-1"?>'
        + _xml(f"<pat:BibliographicData>{_ident('EP', '3123456')}</pat:BibliographicData>"),
        "\ufeff".encode("utf-16-le")
        + _xml(f"<pat:BibliographicData>{_ident('EP', '3123456')}</pat:BibliographicData>")
        .decode()
        .encode("utf-16-le"),
    ],
)
def test_identification_reads_the_bytes_as_canonicalization_does(data: bytes) -> None:
    try:
        canonical = canon.canonical_bytes(data, canon.XML_C14N2)
    except CanonicalizationError:
        assert identify(data, canon.XML_C14N2).record_id is None  # a file canonicalization refuses names no record
    else:
        assert identify(data, canon.XML_C14N2) == identify(canonical, canon.XML_C14N2)


def test_a_huge_number_is_refused_at_once() -> None:
    with pytest.raises(RecordIdError, match="longer than 80"):
        RecordId("EP", "1" + " " * 200_000 + "x")  # quadratic backtracking if patterns ran on it
    found = identify(
        _xml(f"<pat:BibliographicData>{_ident('EP', '1' + ' ' * 200_000 + '1')}</pat:BibliographicData>"),
        canon.XML_C14N2,
    )
    assert found.record_id is None and found.problem is not None and "longer than 80" in found.problem


def test_dtd_is_still_refused_and_depth_still_bounded() -> None:
    dtd = b'<!DOCTYPE r [<!ENTITY e "EP">]><pat:PatentPublication xmlns:pat="' + PAT.encode() + b'"/>'
    assert identify(dtd, canon.XML_C14N2).record_id is None
    deep = _xml("<pat:BibliographicData>" * 40 + _ident("EP", "3123456") + "</pat:BibliographicData>" * 40)
    assert identify(deep, canon.XML_C14N2).record_id is None


# ---------------------------------------------------------------------------- properties

GENERIC_OFFICES = ("EP", "US", "WO", "DE", "KR", "CN", "EM", "TW", "GB")
LETTERS = st.from_regex(r"[A-Z]{0,3}", fullmatch=True)
SEPARATORS = st.sampled_from(["", "", " ", ",", ".", "/", "-"])


@dataclass(frozen=True)
class Publication:
    """What distinguishes a publication: office, number prefix letters, era year (JP), serial value, kind."""

    office: str
    letters: str
    year: int | None
    serial: int
    kind: str | None


@st.composite
def publications(draw: st.DrawFn) -> Publication:
    kind = draw(st.none() | st.from_regex(r"[A-Z][0-9]?", fullmatch=True))
    if draw(st.booleans()):
        return Publication(
            "JP", draw(st.sampled_from("MTSHR")), draw(st.integers(1, 64)), draw(st.integers(0, 999_999)), kind
        )
    office = draw(st.sampled_from(GENERIC_OFFICES))
    letters = draw(
        LETTERS.filter(lambda s, o=office: not s.startswith(o))
    )  # the office's own code in front is its prefix
    return Publication(office, letters, None, draw(st.integers(0, 10**12)), kind)


@st.composite
def spellings(draw: st.DrawFn, pub: Publication) -> tuple[str, str | None]:
    """A number as people write it (case, separators, zeros, office prefix, kind inside) and the kind given beside it."""
    digits = str(pub.serial)
    if draw(st.booleans()):
        digits = "0" * draw(st.integers(0, 3)) + digits
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(digits) - 1)), max_size=3)))
    grouped = "".join(
        digits[a:b] + (draw(SEPARATORS) if b < len(digits) else "")
        for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)
    )
    if pub.year is not None:
        if draw(st.booleans()):  # the year and a separator: H1-123456, H01 123456
            year = str(pub.year).zfill(draw(st.sampled_from([1, 2])))
            number = (
                pub.letters
                + draw(st.sampled_from(["", " "]))
                + year
                + draw(st.sampled_from(["-", " ", "/", "."]))
                + grouped
            )
        else:  # compact: always two digits of year
            number = pub.letters + str(pub.year).zfill(2) + digits
    else:
        number = pub.letters + grouped
    if draw(st.booleans()):
        number = pub.office + draw(st.sampled_from(["", " ", "/"])) + number
    kind = pub.kind
    if kind is not None and draw(st.booleans()):
        number += draw(st.sampled_from(["", " "])) + kind
        kind = draw(st.sampled_from([None, kind]))
    if draw(st.booleans()):
        number = number.lower()
    return number, kind


def _decode(rid: RecordId) -> Publication:
    """The publication an id names: every id decodes to one publication, so no two publications share an id."""
    letters = rid.number[: len(rid.number) - len(rid.number.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))]
    digits = rid.number[len(letters) :]
    if rid.office == "JP" and len(letters) == 1:
        return Publication("JP", letters, int(digits[:2]), int(digits[2:]), rid.kind)
    return Publication(rid.office, letters, None, int(digits), rid.kind)


@settings(max_examples=400)
@given(st.data())
def test_distinct_publications_never_share_an_id_and_spellings_of_one_always_do(data: st.DataObject) -> None:
    pub = data.draw(publications())
    number, kind = data.draw(spellings(pub))
    rid = RecordId(pub.office, number, kind)
    assert _decode(rid) == pub  # injective: the id determines the publication
    again, kind2 = data.draw(spellings(pub))
    assert RecordId(pub.office.lower(), again, kind2) == rid  # one publication, one id
    other = data.draw(publications())
    other_number, other_kind = data.draw(spellings(other))
    assert (RecordId(other.office, other_number, other_kind) == rid) == (other == pub)


@settings(max_examples=300)
@given(st.data())
def test_every_path_gives_the_same_id(data: st.DataObject) -> None:
    pub = data.draw(publications())
    number, kind = data.draw(spellings(pub))
    rid = RecordId(pub.office, number, kind)
    assert _xml_id(pub.office, number, kind) == rid
    flat = {"IPOfficeCode": pub.office, "PublicationNumber": number} | (
        {"PatentDocumentKindCode": kind} if kind else {}
    )
    assert _json_id({"patentPublication": flat}) == rid
    assert RecordId.parse(f"{pub.office}:{number}" + (f":{kind}" if kind else "")) == rid
    assert RecordId.parse(str(rid)) == rid and str(RecordId.parse(str(rid))) == str(rid)
    try:
        words = RecordId.parse(f"{pub.office} {number}" + (f" {kind}" if kind else ""))
    except RecordIdError:
        pass  # without colons a number is a prefix and digits: some spellings need the colon form
    else:
        assert words == rid
    if not any(c in number for c in " ,./"):
        named = RecordId.from_filename(f"{pub.office}-{number}" + (f"-{kind}" if kind else "") + ".pdf")
        assert named is None or named == rid


# ---------------------------------------------------------------------------- ids anchored before the fix

#: Ids earlier versions wrote in canonical form that today's rule spells otherwise or refuses.
EARLIER_IDS = [
    "WO:WO2024123456:A1",
    "EP:EP3123456",
    "EP:3123456B1",
    "EP:3123456B1:A1",
    "CN:200910012345X",
    "EP:123AB",
    "JP:H11012345",
    "JP:H1",
]


@pytest.mark.parametrize("rid", EARLIER_IDS)
def test_ids_anchored_before_stay_canonical_in_manifests(rid: str) -> None:
    from registry.core import merkle
    from registry.core.formats import BatchManifest
    from registry.core.leaves import LeafValue
    from registry.core.records import is_canonical

    assert is_canonical(rid)
    values = [
        LeafValue(rid, "0x" + "ab" * 32, canon.XML_C14N2),
        LeafValue(rid.split(":")[0] + ":1", "0x" + "cd" * 32, canon.RAW),
    ]
    root = "0x" + merkle.MerkleTree.from_leaves([v.leaf() for v in values]).root.hex()
    manifest = BatchManifest(rid.split(":")[0], root, values)
    assert BatchManifest.loads(manifest.dumps(), office=rid.split(":")[0], root=root, leaf_count=2).values == tuple(
        values
    )


@pytest.mark.parametrize("rid", ["EP:03123456", "ep:1", "XX:1", "EP:1:B12", "EP:1-2", "SE:1 ", "\u017fE:1"])
def test_ids_in_neither_form_are_not_canonical(rid: str) -> None:
    from registry.core.records import is_canonical

    assert not is_canonical(rid)


def _bundle_for(rid: str, content_hash: str) -> object:
    from registry.core import merkle
    from registry.core.formats import ProofBundle
    from registry.core.leaves import LeafValue

    values = [LeafValue(rid, content_hash, canon.XML_C14N2), LeafValue("WO:1", "0x" + "cd" * 32, canon.RAW)]
    tree = merkle.MerkleTree.from_leaves([v.leaf() for v in values])
    return ProofBundle(
        chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3", office=rid.split(":")[0],
        root="0x" + tree.root.hex(), value=values[0], proof=tuple("0x" + p.hex() for p in tree.proof(0)),
        leaf_count=2, transaction_hash="0x" + "11" * 32, block_number=12, anchored_at="2026-11-21T10:00:00Z",
    )  # fmt: skip


def test_a_changed_file_of_a_record_anchored_under_its_earlier_id_is_tampered_not_mismatch() -> None:
    from registry.core.records import same_record
    from registry.verify.verdicts import mismatch

    original = _xml(
        f"<pat:BibliographicData>{_ident('WO', 'WO/2024/123456', 'A1')}<pat:T>one</pat:T></pat:BibliographicData>"
    )
    changed = original.replace(b"one", b"two")
    anchored = canon.content_hash(original, canon.XML_C14N2)
    legacy = _bundle_for("WO:WO2024123456:A1", anchored)  # the id the earlier rule gave this document
    assert mismatch(None, changed, "wo.xml", legacy) is None  # the bundle's own record: its verdict is TAMPERED
    other = _bundle_for("WO:2024999999:A1", anchored)
    found = mismatch(None, changed, "wo.xml", other)
    assert found is not None and found.verdict == "MISMATCH"
    assert same_record("WO:WO2024123456:A1", "WO:2024123456:A1") and not same_record("WO:1", "WO:2")
    assert not same_record("EP", "EP:1")
