"""``xml-c14n2-v3`` against libxml2 (lxml) and ElementTree, over generated documents (issue 18).

The generators aim at what merged meanings before: one prefix rebound at several depths, the
default namespace undeclared (``xmlns=""``), QName-like attribute values and text (single, lists,
XPath) with prefixes in and out of scope, NameChars beyond ``\\w`` (U+00B7, a combining mark,
U+203F, U+2040), comments and processing instructions. The properties:

- the canonical form is well-formed (libxml2 and expat parse it) and its own canonical form;
- parsed by libxml2 it has the source's infoset: names (with their prefixes), attributes, text,
  processing instructions and the same in-scope namespaces at every element; so two documents
  whose infosets differ can never share canonical bytes (checked on pairs as well);
- it is byte for byte libxml2's inclusive Canonical XML 1.0 without comments, the rule v3 follows;
- C14N 2.0 writers that rewrite prefixes (ElementTree, lxml), told which attribute is a QName,
  give the canonical form and the source the same output.

Bounded example counts (``CANON_FUZZ_EXAMPLES``, default 100): the file runs in well under a minute.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from registry.core import canon

X = canon.XML_C14N2
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
#: Examples per property: bounded for CI; ``CANON_FUZZ_EXAMPLES=5000`` for a deeper run by hand.
EXAMPLES = int(os.environ.get("CANON_FUZZ_EXAMPLES", "100"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PREFIXES = ["p", "q", "p\u00b7q", "e\u0301"]  # expat (XML 1.0 4th edition names) refuses U+203F/U+2040 in names
URIS = ["urn:A", "urn:B", "urn:A/b", "http://www.wipo.int/standards/XMLSchema/ST96/Common"]
LOCALS = ["a", "b", "Claim", "v\u00b7w"]
QREF = "{urn:Q}ref"  # the attribute the C14N 2.0 writers are told is a QName


def c14n(data: bytes) -> bytes:
    return canon.canonical_bytes(data, X)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(">", "&gt;")


@st.composite
def qname_like(draw: st.DrawFn, scope: dict[str, str]) -> str:
    """Text that may be one QName, a list of them or an XPath, with prefixes in or out of scope."""
    prefixes = [p for p in scope if p] + ["p", "zz", "a\u203fb", "x\u2040"]
    parts = [
        f"{draw(st.sampled_from(prefixes))}:{draw(st.sampled_from(LOCALS))}" for _ in range(draw(st.integers(1, 3)))
    ]
    shape = draw(st.sampled_from(["single", "list", "xpath", "words"]))
    if shape == "single":
        return parts[0]
    if shape == "list":
        return " ".join(parts)
    if shape == "xpath":
        return "/" + "/".join(parts) + f"[@{parts[0]}]"
    return draw(st.sampled_from(["", " ", "\n  ", "plain & <text>", "a:b:c"]))


@st.composite
def element(draw: st.DrawFn, scope: dict[str, str], depth: int = 0) -> str:
    """One element as text: declarations (rebinding, undeclaring the default), names, values, children."""
    scope = dict(scope)
    decls: list[str] = []
    for prefix in draw(st.lists(st.sampled_from([*PREFIXES, ""]), unique=True, max_size=3)):
        if prefix == "":
            uri = draw(st.sampled_from(["", *URIS]))
            decls.append(f' xmlns="{uri}"')
        else:
            uri = draw(st.sampled_from(URIS))
            decls.append(f" xmlns:{prefix}={uri!r}".replace("'", '"'))
        scope[prefix] = uri
    bound = [p for p, u in scope.items() if p and u]
    prefix = draw(st.sampled_from(["", *bound]))
    name = f"{prefix}:{draw(st.sampled_from(LOCALS))}" if prefix else draw(st.sampled_from(LOCALS))
    attrs: dict[tuple[str, str], str] = {}  # (namespace URI, local) -> written attribute
    for key in draw(st.lists(st.sampled_from(["k", "ref", *[f"{p}:k" for p in bound]]), unique=True, max_size=3)):
        p, _, local = key.rpartition(":")
        expanded = (scope[p] if p else "", local)
        if expanded not in attrs:
            attrs[expanded] = f' {key}="{_esc(draw(qname_like(scope)))}"'
    if draw(st.booleans()):  # a value the reference writers are told is a QName: declared on the element
        attrs[("urn:Q", "ref")] = (
            f' xmlns:rq="urn:Q" rq:ref="{draw(st.sampled_from(bound or ["xsd"]))}:{draw(st.sampled_from(LOCALS))}"'
        )
        if not bound:
            attrs[("urn:Q", "ref")] = ' xmlns:rq="urn:Q" xmlns:xsd="urn:A" rq:ref="xsd:a"'
    content: list[str] = [_esc(draw(qname_like(scope)))]
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            content.append(draw(element(scope, depth + 1)))
            content.append(draw(st.sampled_from(["", "<!-- c -->", "<?pi d?>", _esc(draw(qname_like(scope))), " "])))
    return f"<{name}{''.join(decls)}{''.join(attrs.values())}>{''.join(content)}</{name}>"


DOCUMENTS = element({"": ""}).map(lambda doc: doc.encode("utf-8"))


def infoset(data: bytes) -> Any:
    """What a reader of the document sees, through libxml2: per element its Clark name, prefix,
    in-scope namespaces, attributes and content (adjacent text merged across comments; PIs kept)."""
    root = etree.fromstring(data, PARSER)

    def walk(el: Any) -> Any:
        content: list[Any] = []

        def text(t: str | None) -> None:
            if not t:
                return
            if content and isinstance(content[-1], str):
                content[-1] += t
            else:
                content.append(t)

        text(el.text)
        for child in el:
            if isinstance(child.tag, str):
                content.append(walk(child))
            elif child.tag is etree.PI:
                content.append(("?", child.target, child.text or ""))
            text(child.tail)
        namespaces = sorted((p or "", u) for p, u in el.nsmap.items() if u)  # xmlns="": no default namespace
        return (el.tag, el.prefix, namespaces, sorted(el.attrib.items()), content)

    return walk(root)


@SETTINGS
@given(DOCUMENTS)
def test_canonical_form_is_well_formed_a_fixed_point_and_has_the_sources_infoset(data: bytes) -> None:
    once = c14n(data)
    ET.fromstring(once)  # expat
    assert infoset(once) == infoset(data)  # libxml2: same names, values, text, namespaces in scope
    assert c14n(once) == once


@SETTINGS
@given(DOCUMENTS, DOCUMENTS)
def test_different_infosets_never_share_canonical_bytes(a: bytes, b: bytes) -> None:
    if infoset(a) != infoset(b):
        assert c14n(a) != c14n(b)


@SETTINGS
@given(DOCUMENTS, st.sampled_from(URIS), st.data())
def test_rebinding_one_declaration_changes_the_bytes(data: bytes, uri: str, draw: st.DataObject) -> None:
    text = data.decode()
    spots = [i for i in range(len(text)) if text.startswith(" xmlns:", i)]
    if not spots:
        return
    at = draw.draw(st.sampled_from(spots))
    start = text.index('"', at) + 1
    end = text.index('"', start)
    if text[start:end] == uri:
        return
    other = (text[:start] + uri + text[end:]).encode()
    try:
        etree.fromstring(other, PARSER)
    except etree.XMLSyntaxError:
        return  # now two attributes with one expanded name: not a document
    assert infoset(other) != infoset(data)
    assert c14n(other) != c14n(data)


@SETTINGS
@given(DOCUMENTS)
def test_equals_libxml2_inclusive_c14n(data: bytes) -> None:
    # no ST.96 element-only names in these documents: v3 is then exactly inclusive C14N 1.0 without comments
    tree = etree.fromstring(data, PARSER).getroottree()
    assert c14n(data) == etree.tostring(tree, method="c14n", with_comments=False)


@SETTINGS
@given(DOCUMENTS)
def test_prefix_rewriting_c14n2_writers_see_the_same_document(data: bytes) -> None:
    # only where no prefix is rebound: both writers (lxml's is a port of ElementTree's) resolve a
    # QName-aware value under a rebound prefix with a stale binding, in the source itself
    bindings: dict[str, set[str]] = {}
    for prefix, uri in re.findall(r'xmlns(?::([^=]+))?="([^"]*)"', data.decode()):
        bindings.setdefault(prefix, set()).add(uri)
    if any(len(uris) > 1 for uris in bindings.values()):
        return
    options: dict[str, Any] = {"rewrite_prefixes": True, "qname_aware_attrs": [QREF], "with_comments": False}
    once = c14n(data).decode()
    assert ET.canonicalize(once, **options) == ET.canonicalize(data.decode(), **options)
    assert etree.canonicalize(once, **options) == etree.canonicalize(data.decode(), **options)


TEXTS = {
    "Shift_JIS": "特許請求の範囲¥‾ｱｲ",
    "EUC-JP": "特許請求の範囲",
    "ISO-2022-JP": "特許請求",
    "EUC-KR": "특허 청구",
    "GBK": "专利权利要求",
    "GB2312": "专利",
    "windows-1252": "Brevet européen — « revendication » €",
    "ISO-8859-15": "Brevet € œ",
    "ISO-8859-2": "Patent łódź",
    "KOI8-R": "патент",
    "windows-1251": "патент",
    "ISO-8859-7": "δίπλωμα",
    "US-ASCII": "plain",
}


@settings(max_examples=max(EXAMPLES // 2, 1), deadline=None)
@given(st.sampled_from(sorted(TEXTS)), st.data())
def test_declared_encodings_read_like_libxml2_and_hash_like_utf8(label: str, draw: st.DataObject) -> None:
    pool = TEXTS[label]
    text = "".join(draw.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12)))
    codec = canon.xml_c14n2.ENCODINGS[label.lower()] if label != "Shift_JIS" else "shift_jis"
    raw = text.replace("¥", "\\").replace("‾", "~") if label == "Shift_JIS" else text
    space = " " * draw.draw(st.integers(1, 600))
    data = f'<?xml version="1.0"{space}encoding="{label}"?><r a="{raw}">{raw}</r>'.encode(codec)
    parsed = etree.fromstring(data, PARSER)
    assert (parsed.get("a"), parsed.text) == (text, text)  # libxml2's reading
    assert c14n(data) == f'<r a="{text}">{text}</r>'.encode()  # ours: the same characters, as UTF-8
