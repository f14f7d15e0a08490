# ruff: noqa: E501  (the XML cases read best on one line each)
"""The current methods (``xml-c14n2-v3``, ``json-jcs-v2``): never merge two meanings, keep the safe equivalences, idempotent.

``xml-c14n2-v2`` (frozen, verification only) keeps its own tests here where its bytes differ (prefix
rewriting, ``xsi:type`` refusals, agreement with the stdlib's prefix-rewriting writer).

The adversary's goal is a false VERIFIED: two documents whose meaning can differ but whose content
hash is the same. The cases below are such pairs (they must differ) and the equivalences the
specification keeps (they must not). The properties check, over generated documents, that the
canonical form keeps the meaning (so it can never merge two meanings), that it is its own
canonical form, and that it agrees with Python's reference C14N 2.0 writer where both apply.
"""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.core import canon
from registry.core.st96 import ELEMENT_ONLY
from registry.errors import CanonicalizationError
from registry.evaluate.samples import iter_gazette

X = canon.XML_C14N2
V2 = canon.XML_C14N2_V2
J = canon.JSON_JCS
PAT = "http://www.wipo.int/standards/XMLSchema/ST96/Patent"
COM = "http://www.wipo.int/standards/XMLSchema/ST96/Common"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
VECTORS = Path(__file__).parent / "vectors"


def c14n(data: bytes | str, method: str = X) -> bytes:
    return canon.canonical_bytes(data.encode("utf-8") if isinstance(data, str) else data, method)


def st96(body: str) -> str:
    return f'<pat:PatentPublication xmlns:pat="{PAT}" xmlns:com="{COM}">{body}</pat:PatentPublication>'


# ----------------------------------------------------------------------- identifiers


def test_identifiers() -> None:
    assert canon.CURRENT == ("xml-c14n2-v3", "json-jcs-v2", "raw")
    assert set(canon.CANONICALIZATIONS) == {
        "xml-c14n2-v3", "json-jcs-v2", "raw", "xml-c14n2-v2", "xml-c14n2", "json-jcs"
    }  # fmt: skip
    assert canon.EARLIER[X] == ("xml-c14n2-v2", "xml-c14n2")
    assert all(canon.is_xml(m) for m in ("xml-c14n2-v3", "xml-c14n2-v2", "xml-c14n2"))
    assert canon.canonicalization_for("EP-1-B1.xml") == X
    assert canon.canonicalization_for("EP-1-B1.json") == J
    for old in canon.LEGACY:
        with pytest.raises(CanonicalizationError, match="verifying old records only"):
            canon.for_anchoring(old)
    assert canon.for_anchoring(X) == X


def test_old_identifiers_still_compute_their_old_bytes() -> None:
    # the v1 bytes of a leaf written before v2 must not move: v1 drops whitespace-only text everywhere
    doc = b'<r xmlns="urn:a">\n  <b>first</b> <i>claim</i>\n</r>'
    assert (
        canon.canonical_bytes(doc, canon.XML_C14N2_V1)
        == b'<n0:r xmlns:n0="urn:a"><n0:b>first</n0:b><n0:i>claim</n0:i></n0:r>'
    )
    assert c14n(doc, V2) == b'<n0:r xmlns:n0="urn:a">\n  <n0:b>first</n0:b> <n0:i>claim</n0:i>\n</n0:r>'
    assert c14n(doc) == b'<r xmlns="urn:a">\n  <b>first</b> <i>claim</i>\n</r>'
    assert canon.canonical_bytes(b"[1.0, 9007199254740993.0]", canon.JSON_JCS_V1) == b"[1,9007199254740992]"


# ----------------------------------------------------------------------- never merge (XML)

DIFFERENT = [
    pytest.param(b"<r>The <b>first</b> <i>claim</i></r>", b"<r>The <b>first</b><i>claim</i></r>", id="mixed-space"),
    pytest.param(
        st96(
            "<pat:Claims><pat:Claim><pat:ClaimText>The <com:B>first</com:B> <com:I>claim</com:I></pat:ClaimText></pat:Claim></pat:Claims>"
        ),
        st96(
            "<pat:Claims><pat:Claim><pat:ClaimText>The <com:B>first</com:B><com:I>claim</com:I></pat:ClaimText></pat:Claim></pat:Claims>"
        ),
        id="st96-claim-text",
    ),
    pytest.param(
        st96("<pat:Abstract><com:P>H<com:Sub>2</com:Sub> O</com:P></pat:Abstract>"),
        st96("<pat:Abstract><com:P>H<com:Sub>2</com:Sub>O</com:P></pat:Abstract>"),
        id="st96-paragraph-sub",
    ),
    pytest.param(
        st96(
            "<pat:Claims><pat:Claim><pat:ClaimText>a<com:Sup>2</com:Sup>\n<com:Sup>3</com:Sup></pat:ClaimText></pat:Claim></pat:Claims>"
        ),
        st96(
            "<pat:Claims><pat:Claim><pat:ClaimText>a<com:Sup>2</com:Sup><com:Sup>3</com:Sup></pat:ClaimText></pat:Claim></pat:Claims>"
        ),
        id="st96-newline-between-inline",
    ),
    pytest.param(
        st96('<pat:Claims xml:space="preserve">\n <pat:Claim/></pat:Claims>'),
        st96('<pat:Claims xml:space="preserve"><pat:Claim/></pat:Claims>'),
        id="xml-space-preserve-in-element-only",
    ),
    pytest.param(
        b'<r xml:space="preserve"><a/> <b/></r>', b'<r xml:space="preserve"><a/><b/></r>', id="xml-space-preserve"
    ),
    pytest.param(b"<r><a/> <b/></r>", b"<r><a/><b/></r>", id="unknown-content-model-keeps-whitespace"),
    pytest.param(
        st96("<com:IPOfficeCode> </com:IPOfficeCode>"), st96("<com:IPOfficeCode/>"), id="simple-content-space"
    ),
    pytest.param(st96("<pat:X> <pat:Y/></pat:X>"), st96("<pat:X><pat:Y/></pat:X>"), id="st96-name-not-in-schemas"),
    pytest.param(
        f'<r xmlns:xsi="{XSI}" xmlns:t="urn:a"><v xsi:type="t:Amount"/></r>',
        f'<r xmlns:xsi="{XSI}" xmlns:t="urn:b"><v xsi:type="t:Amount"/></r>',
        id="xsi-type-namespace",
    ),
    pytest.param(
        f'<r xmlns:xsi="{XSI}" xmlns="urn:a"><v xsi:type="Amount"/></r>',
        f'<r xmlns:xsi="{XSI}" xmlns="urn:b"><v xsi:type="Amount"/></r>',
        id="xsi-type-default-namespace",
    ),
    pytest.param(b'<r xmlns:t="urn:a" ref="t:X"/>', b'<r xmlns:t="urn:b" ref="t:X"/>', id="qname-like-attribute"),
    pytest.param(b'<r xmlns:t="urn:a"><v>t:X</v></r>', b'<r xmlns:t="urn:b"><v>t:X</v></r>', id="qname-like-text"),
    pytest.param(b"<r><?pi a&amp;b?></r>", b"<r><?pi a&b?></r>", id="pi-data"),
    pytest.param(b"<r>a\r\nb</r>", b"<r>a&#13;&#10;b</r>", id="line-end-vs-reference"),
    pytest.param(b'<r a="x y"/>', b'<r a="x&#9;y"/>', id="attribute-tab"),
    pytest.param(b'<r xmlns:p="urn:a" p:k="1"/>', b'<r xmlns:p="urn:b" p:k="1"/>', id="attribute-namespace"),
    pytest.param(b'<r xmlns="urn:a"/>', b'<r xmlns="urn:ab"/>', id="element-namespace"),
    pytest.param(b"<r>\xc3\xa9</r>", b"<r>e\xcc\x81</r>", id="no-unicode-normalisation"),
]


@pytest.mark.parametrize(("left", "right"), DIFFERENT)
def test_different_meanings_have_different_hashes(left: bytes | str, right: bytes | str) -> None:
    assert c14n(left) != c14n(right)


EQUAL = [
    pytest.param(b'<r b="2" a="1"/>', b"<r a='1' b='2'></r>", id="attribute-order-quotes-empty"),
    pytest.param(b"<r>&#233;&#xE9;<![CDATA[<&]]></r>", "<r>éé&lt;&amp;</r>", id="references-cdata"),
    pytest.param(b"<r>a<!-- c -->b</r>", b"<r>ab</r>", id="comments"),
    pytest.param(b'<?xml version="1.0" encoding="UTF-8"?>\n<r/>', b"<r/>", id="declaration"),
    pytest.param(
        st96(
            "\n  <pat:BibliographicData>\n    <pat:PatentPublicationIdentification>\n      <com:IPOfficeCode>EP</com:IPOfficeCode>\n    </pat:PatentPublicationIdentification>\n  </pat:BibliographicData>\n"
        ),
        st96(
            "<pat:BibliographicData><pat:PatentPublicationIdentification><com:IPOfficeCode>EP</com:IPOfficeCode></pat:PatentPublicationIdentification></pat:BibliographicData>"
        ),
        id="st96-element-only-indentation",
    ),
    pytest.param(
        st96(
            '<pat:Claims xml:space="preserve"><pat:Claim xml:space="default">\n <pat:ClaimText>x</pat:ClaimText>\n</pat:Claim></pat:Claims>'
        ),
        st96(
            '<pat:Claims xml:space="preserve"><pat:Claim xml:space="default"><pat:ClaimText>x</pat:ClaimText></pat:Claim></pat:Claims>'
        ),
        id="xml-space-default-resets",
    ),
]


@pytest.mark.parametrize(("left", "right"), EQUAL)
def test_safe_equivalences_are_kept(left: bytes | str, right: bytes | str) -> None:
    assert c14n(left) == c14n(right)
    assert c14n(left, V2) == c14n(right, V2)


V2_ONLY_EQUAL = [
    pytest.param(b'<p:r xmlns:p="urn:a"><p:x/></p:r>', b'<r xmlns="urn:a"><q:x xmlns:q="urn:a"/></r>', id="prefixes"),
    pytest.param(
        f'<r xmlns:xsi="{XSI}" xmlns:t="urn:a"><v xsi:type="t:Amount"/></r>',
        f'<r xmlns:i="{XSI}" xmlns:u="urn:a"><v i:type=" u:Amount "/></r>',
        id="xsi-type-prefixes",
    ),
]


@pytest.mark.parametrize(("left", "right"), V2_ONLY_EQUAL)
def test_prefix_equivalences_hold_in_v2_only(left: bytes | str, right: bytes | str) -> None:
    assert c14n(left, V2) == c14n(right, V2)
    assert c14n(left) != c14n(right)  # v3 keeps prefixes as written: a false TAMPERED, never a merge


def _reindent(data: bytes) -> bytes:
    """Re-indent a document the way a pretty-printer would (lxml's indent), keeping prefixes, declarations and mixed text."""
    from lxml import etree

    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    for el in root.iter():
        el.text = el.text.strip() if el.text and not el.text.strip() else el.text
        el.tail = el.tail.strip() if el.tail and not el.tail.strip() else el.tail
    etree.indent(root, space="    ")
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=True))


@pytest.mark.parametrize("kind", ["st96-patent", "st96-trademark"])
def test_reindented_st96_gazette_record_still_verifies(kind: str) -> None:
    for sample in iter_gazette(office="EP", count=20, seed=5, kinds=(kind,)):
        assert c14n(_reindent(sample.data)) == c14n(sample.data), sample.name


def test_prefix_rewriting_never_leaves_an_undeclared_prefix() -> None:
    doc = f'<r xmlns:xsi="{XSI}" xmlns:t="urn:a"><v xsi:type="t:Amount"/><w xmlns:t="urn:b" xsi:type="t:B"/></r>'
    out = c14n(doc, V2)
    assert b"t:" not in out
    ET.fromstring(out)  # well-formed, every prefix declared
    assert _xsi_types(out) == [("urn:a", "Amount"), ("urn:b", "B")]
    assert _xsi_types(c14n(doc)) == [("urn:a", "Amount"), ("urn:b", "B")]  # v3: the same, prefixes as written


def _xsi_types(data: bytes) -> list[tuple[str, str]]:
    """Resolve every xsi:type with the prefixes in scope (independently of the canonicalizer)."""
    found: list[tuple[str, str]] = []
    scopes: list[dict[str, str]] = [{}]
    for event, item in ET.iterparse(__import__("io").BytesIO(data), events=("start-ns", "start", "end")):
        if event == "start-ns":
            prefix, uri = item  # type: ignore[misc]
            scopes[-1] = {**scopes[-1], prefix: uri}
        elif event == "start":
            value = item.get(f"{{{XSI}}}type")  # type: ignore[union-attr]
            if value is not None:
                prefix, _, local = value.strip().rpartition(":")
                found.append((scopes[-1].get(prefix, ""), local))
            scopes.append(dict(scopes[-1]))
        else:
            scopes.pop()
    return found


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (f'<r xmlns:xsi="{XSI}" xsi:type="q:T"/>', "undeclared prefix"),
        (f'<r xmlns:xsi="{XSI}" xsi:type="a:b:c"/>', "not a QName"),
        (b'<r xmlns:n1="urn:a" v="n1:X"/>', "reserves"),
        (b'<r v="n0:X"/>', "reserves"),
    ],
)
def test_qname_values_that_cannot_be_kept_are_refused_by_v2(doc: bytes | str, fragment: str) -> None:
    with pytest.raises(CanonicalizationError, match=fragment):
        c14n(doc, V2)
    c14n(doc)  # v3 rewrites no prefix, so it keeps such values as written


# -------------------------------------------------------------- generated documents (XML)

NAMESPACES = ("urn:a", "urn:b", "urn:a/b", PAT, COM)
NAMES = ("Claims", "Claim", "ClaimText", "P", "B", "BibliographicData", "x", "é")
TEXT = st.lists(st.sampled_from([*"ab &<>\"' \t\n\r]é", "t:v"]), max_size=6).map("".join)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    ns = draw(st.sampled_from(NAMESPACES))
    el = ET.Element(f"{{{ns}}}{draw(st.sampled_from(NAMES))}")
    for key in draw(
        st.lists(
            st.sampled_from(["k", "v", "{urn:a}k", "{urn:a/b}k", "{http://www.w3.org/XML/1998/namespace}space"]),
            unique=True,
            max_size=3,
        )
    ):
        el.set(key, draw(st.sampled_from(["preserve", "default"])) if key.endswith("}space") else draw(TEXT))
    el.text = draw(st.none() | TEXT)
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            child = draw(elements(depth + 1))
            child.tail = draw(st.none() | TEXT)
            el.append(child)
    return el


def _meaning(data: bytes) -> Any:
    """What a reader of the document may rely on (ElementTree's view, no knowledge of the canonicalizer).

    Whitespace-only text counts, except directly inside an ST.96 element the schemas make element-only
    (and not under xml:space="preserve").
    """
    root = ET.fromstring(data)

    def walk(el: ET.Element, preserve: bool) -> Any:
        space = el.get("{http://www.w3.org/XML/1998/namespace}space")
        preserve = space == "preserve" if space in ("preserve", "default") else preserve
        uri, _, local = el.tag[1:].partition("}") if el.tag.startswith("{") else ("", "", el.tag)
        drop = not preserve and local in ELEMENT_ONLY.get(uri, frozenset())

        def keep(text: str | None) -> str:
            text = text or ""
            return "" if drop and not text.strip(" \t\r\n") else text

        parts: list[Any] = [keep(el.text)]
        for child in el:
            parts.append(walk(child, preserve))
            parts.append(keep(child.tail))
        merged: list[Any] = []
        for part in parts:  # adjacent text is one text node
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        return (el.tag, sorted(el.attrib.items()), merged)

    return walk(root, False)


def _serialize(el: ET.Element) -> bytes:
    return ET.tostring(el, encoding="utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elements())
def test_canonical_form_keeps_the_meaning_and_is_its_own_canonical_form(root: ET.Element) -> None:
    data = _serialize(root)
    once = c14n(data)
    assert _meaning(once) == _meaning(data)  # so two different meanings can never share the bytes
    assert c14n(once) == once


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elements(), elements())
def test_never_merge(a: ET.Element, b: ET.Element) -> None:
    da, db = _serialize(a), _serialize(b)
    if _meaning(da) != _meaning(db):
        assert c14n(da) != c14n(db)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elements(), st.data())
def test_one_whitespace_change_where_it_may_matter_changes_the_hash(root: ET.Element, data: st.DataObject) -> None:
    nodes = list(root.iter())
    el = data.draw(st.sampled_from(nodes))
    before = _serialize(root)
    el.text = (el.text or "") + " "
    after = _serialize(root)
    if _meaning(before) != _meaning(after):
        assert c14n(before) != c14n(after)


def _stdlib(data: bytes) -> bytes:
    return ET.canonicalize(
        data.decode("utf-8"), rewrite_prefixes=True, strip_text=False, qname_aware_attrs=[f"{{{XSI}}}type"]
    ).encode("utf-8")


STDLIB_SAFE = ("urn:a", "urn:b", "urn:c")


@st.composite
def stdlib_documents(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    """Documents where both must agree: namespaced names, no ST.96 element-only names, no PIs."""
    el = ET.Element(f"{{{draw(st.sampled_from(STDLIB_SAFE))}}}{draw(st.sampled_from(['a', 'b', 'Claim']))}")
    # qualified attributes only: the stdlib gives unqualified names a prefix bound to "" (xmlns:n0="")
    for key in draw(st.lists(st.sampled_from(["{urn:a}v", "{urn:b}k", "{urn:c}z"]), unique=True, max_size=3)):
        el.set(key, draw(TEXT))
    if draw(st.booleans()):
        el.set(f"{{{XSI}}}type", f"{{{draw(st.sampled_from(STDLIB_SAFE))}}}T")
    el.text = draw(st.none() | TEXT)
    if depth < 2:
        for _ in range(draw(st.integers(0, 3))):
            child = draw(stdlib_documents(depth + 1))
            child.tail = draw(st.none() | TEXT)
            el.append(child)
    return el


def _with_qname_values(el: ET.Element) -> bytes:
    """Serialize, writing xsi:type values as prefixed QNames bound on the element itself."""
    counter = iter(range(10_000))
    for node in el.iter():
        value = node.get(f"{{{XSI}}}type")
        if value is not None and value.startswith("{"):
            uri, local = value[1:].split("}")
            prefix = f"q{next(counter)}"
            node.set(f"xmlns:{prefix}", uri)
            node.set(f"{{{XSI}}}type", f"{prefix}:{local}")
    return ET.tostring(el, encoding="utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stdlib_documents())
def test_agrees_with_the_stdlib_c14n2_writer(root: ET.Element) -> None:
    data = _with_qname_values(root)
    assert c14n(data, V2) == _stdlib(data)


def test_stdlib_differs_only_where_the_spec_is_on_our_side() -> None:
    # PI data: the stdlib escapes it, which is not idempotent; C14N 2.0 writes PI data as it is
    pi = b"<r><?pi a&b?></r>"
    assert c14n(pi) == pi and c14n(pi, V2) == pi and _stdlib(pi) != pi
    # attribute order: (namespace URI, local name), not the string "{uri}local"
    doc = b'<r xmlns:p="urn:a" xmlns:q="urn:a/b" xmlns:s="urn:a-" q:x="1" p:y="2" s:z="3"/>'
    out = c14n(doc).decode()
    assert out.index('"2"') < out.index('"3"') < out.index('"1"')


# ---------------------------------------------------------------------------- encodings

TEXT_JA = "特許請求の範囲、第一の請求項"
TEXT_EU = "Brevet européen — « revendication » €"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("Shift_JIS", TEXT_JA),
        ("EUC-JP", TEXT_JA),
        ("ISO-2022-JP", TEXT_JA),
        ("EUC-KR", "특허 청구"),
        ("windows-1252", TEXT_EU),
        ("ISO-8859-15", "Brevet européen « revendication » €"),
        ("ISO-8859-1", "Brevet européen"),
        ("US-ASCII", "plain"),
        ("UTF-16", TEXT_JA),
    ],
)
def test_any_declared_encoding_hashes_like_utf8(encoding: str, text: str) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?>\n<r a="{text}">{text}</r>'
    utf8 = f'<?xml version="1.0" encoding="UTF-8"?>\n<r a="{text}">{text}</r>'.encode()
    assert c14n(body.encode(encoding)) == c14n(utf8)
    assert c14n(body.encode(encoding), V2) == c14n(utf8, V2)


@pytest.mark.parametrize(("encoding", "text"), [("GB18030", "专利权利要求"), ("Big5", "專利")])
def test_encodings_libxml2_reads_otherwise_are_refused_by_v3(encoding: str, text: str) -> None:
    data = f'<?xml version="1.0" encoding="{encoding}"?>\n<r>{text}</r>'.encode(encoding)
    assert c14n(data, V2) == f"<r>{text}</r>".encode()  # v2's old leaves still verify
    with pytest.raises(CanonicalizationError, match="is not accepted"):
        c14n(data)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("<r>é</r>".encode("cp1252"), "no encoding declared"),
        ('<?xml version="1.0" encoding="UTF-8"?><r>é</r>'.encode("cp1252"), "not UTF-8"),
        (
            '<?xml version="1.0" encoding="Shift_JIS"?><r>\udcff</r>'.encode("utf-8", "surrogateescape"),
            "is not.*Shift_JIS",
        ),
        (b'<?xml version="1.0" encoding="UTF-16"?><r/>', "cannot be read"),
        ('<?xml version="1.0" encoding="UTF-8"?><r/>'.encode("utf-16"), "UTF-16"),
        (b'<?xml version="1.0" encoding="UTF-7"?><r>+ADw-</r>', "not accepted"),
        (b'<?xml version="1.0" encoding="cp500"?><r/>', "not accepted"),
        (b'<?xml version="1.0" encoding="base64"?><r/>', "encoding"),
        (b'\xef\xbb\xbf<?xml version="1.0" encoding="Shift_JIS"?><r/>', "byte order mark"),
    ],
)
def test_undeclared_or_wrong_encoding_is_a_clear_error(data: bytes, fragment: str) -> None:
    with pytest.raises(CanonicalizationError, match=fragment) as info:
        c14n(data)
    assert "\n" not in info.value.diagnostics()


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>',
        b'<!DOCTYPE r SYSTEM "http://example.com/r.dtd"><r/>',
        '<?xml version="1.0" encoding="Shift_JIS"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode("shift_jis"),
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><r/>'.encode("utf-16"),
        b"<a>" * 300 + b"</a>" * 300,
        b"<a>" * 100_000,
    ],
)
def test_hostile_input_is_refused_in_one_line(data: bytes) -> None:
    with pytest.raises(CanonicalizationError) as info:
        c14n(data)
    assert "\n" not in info.value.diagnostics()


def test_depth_limit_is_exact() -> None:
    deep = b"<a>" * canon.MAX_XML_DEPTH + b"</a>" * canon.MAX_XML_DEPTH
    assert c14n(deep).count(b"<a>") == canon.MAX_XML_DEPTH
    with pytest.raises(CanonicalizationError, match="deeper"):
        c14n(b"<a>" + deep + b"</a>")


# ---------------------------------------------------------------------------- JSON numbers


def jcs(data: bytes | str) -> bytes:
    return canon.canonical_bytes(data.encode() if isinstance(data, str) else data, J)


RFC8785_EXAMPLES = [
    # RFC 8785 section 3.2.2.3 / appendix B (IEEE 754 bit pattern -> ES6 form)
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), RFC8785_EXAMPLES)
def test_rfc8785_examples(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert rfc8785.dumps(value).decode() == expected
    assert jcs(expected) == expected.encode()  # the RFC's canonical output is accepted as input
    assert jcs(f'{{"amount":{expected}}}') == f'{{"amount":{expected}}}'.encode()


def test_rfc8785_object_example() -> None:
    doc = '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "literals": [null, true, false]}'
    # 333333333.33333329 has another value than its canonical form 333333333.3333333: refused (never merge)
    with pytest.raises(CanonicalizationError, match=r"RFC 8785 form 333333333\.3333333"):
        jcs(doc)
    fixed = doc.replace("333333333.33333329", "333333333.3333333")
    assert jcs(fixed) == b'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}'


def _vectors() -> list[tuple[float, str]]:
    lines = (VECTORS / "es6_numbers.txt").read_text().split()
    return [(struct.unpack(">d", bytes.fromhex(h))[0], s) for h, s in (line.split(",") for line in lines)]


def test_es6_number_vectors() -> None:
    vectors = _vectors()
    assert len(vectors) >= 3000
    for value, expected in vectors:
        assert rfc8785.dumps(value).decode() == expected, expected
        assert jcs(expected) == expected.encode(), expected  # canonical outputs are always accepted
        assert Decimal(repr(value)) == Decimal(expected)  # the rule's reference spelling
        seventeen = f"{value:.17g}"  # another spelling: accepted exactly when it is the same value
        if Decimal(seventeen) == Decimal(expected):
            assert jcs(seventeen) == expected.encode()
        else:
            with pytest.raises(CanonicalizationError):
                jcs(seventeen)


@st.composite
def decimal_spellings(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A decimal value and several spellings of it (all with exactly that value)."""
    digits = draw(st.integers(0, 10**20))
    exponent = draw(st.integers(-30, 30))
    sign = draw(st.sampled_from(["", "-"]))
    value = Decimal(f"{sign}{digits}e{exponent}")
    text = str(digits)
    pad = draw(st.integers(0, 3)) if digits else 0
    spellings = [
        f"{sign}{text}e{exponent}",
        f"{sign}{text}{'0' * pad}E{exponent - pad:+d}",
        f"{sign}{format(value.copy_abs(), 'f')}",
    ]
    if len(text) > 1:
        spellings.append(f"{sign}{text[0]}.{text[1:]}e{exponent + len(text) - 1}")
    return format(value, "f"), spellings


@settings(max_examples=500, deadline=None)
@given(decimal_spellings())
def test_every_spelling_of_a_value_is_treated_alike(case: tuple[str, list[str]]) -> None:
    _value, spellings = case
    outcomes = set()
    for spelling in spellings:
        try:
            outcomes.add(jcs(spelling))
        except CanonicalizationError:
            outcomes.add(b"refused")
    assert len(outcomes) == 1, (spellings, outcomes)


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_json_numbers_never_merge(a: float, b: float) -> None:
    for x, y in ((repr(a), repr(b)), (f"{a:.17g}", f"{b:.17g}"), (repr(a), f"{a:.17g}")):
        try:
            cx, cy = jcs(x), jcs(y)
        except CanonicalizationError:
            continue
        if Decimal(x) != Decimal(y):
            assert cx != cy, (x, y)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(10**30), 10**30)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_json_canonical_form_is_accepted_and_its_own_canonical_form(value: Any) -> None:
    import json

    try:
        once = jcs(json.dumps(value))
    except CanonicalizationError as exc:
        assert "RFC 8785 form" in str(exc)  # only numbers that would change value are refused
        return
    assert jcs(once) == once


def test_number_edge_cases() -> None:
    assert jcs("[-0, 0.0, -0.0, 1e-7, 100e-2, 1E+2]") == b"[0,0,0,1e-7,1,100]"
    for refused in ("9007199254740993", "9007199254740993.0", "1e-400", "0.10000000000000001", "1152921504606846976"):
        with pytest.raises(CanonicalizationError, match="RFC 8785 form"):
            jcs(refused)
    assert jcs("1152921504606847000") == b"1152921504606847000"
    assert not math.isinf(float(jcs("1.7976931348623157e308")))


def test_huge_numbers_are_refused() -> None:
    for data in (b"1" * 5000, b"0." + b"0" * 100_000 + b"1", b"1e-99999999999", b"[" + b"9" * 100_000 + b"]"):
        with pytest.raises(CanonicalizationError):
            jcs(data)
