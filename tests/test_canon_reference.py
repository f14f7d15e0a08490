"""The fast C14N 2.0 writer produces exactly what the standard library's reference writer does."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core import canon


def reference_c14n2(data: bytes) -> bytes:
    """Stdlib ``C14NWriterTarget(rewrite_prefixes=True)``, dropping whitespace-only text like ours."""
    out: list[str] = []
    target = ET.C14NWriterTarget(out.append, rewrite_prefixes=True)

    class Filter:
        def __init__(self) -> None:
            self.pending: list[str] = []

        def flush(self) -> None:
            text = "".join(self.pending)
            self.pending.clear()
            if text.strip(" \t\r\n"):
                target.data(text)

        def start(self, tag: str, attrs: dict[str, str]) -> None:
            self.flush()
            target.start(tag, attrs)

        def end(self, tag: str) -> None:
            self.flush()
            target.end(tag)

        def data(self, text: str) -> None:
            self.pending.append(text)

        def start_ns(self, prefix: str, uri: str) -> None:
            self.flush()
            target.start_ns(prefix, uri)

        def pi(self, name: str, text: str) -> None:
            self.flush()
            target.pi(name, text)

        def close(self) -> Any:
            return None

    parser = ET.XMLParser(target=Filter())
    parser.feed(data)
    parser.close()
    return _unprefix_empty_namespace("".join(out)).encode("utf-8")


def _unprefix_empty_namespace(text: str) -> str:
    """The stdlib binds a prefix to the empty namespace (``xmlns:nK=""``); ours leaves such names bare.

    Drop that declaration and prefix, and renumber the prefixes assigned after it.
    """
    match = re.search(r' xmlns:n(\d+)=""', text)
    if match is None:
        return text
    k = int(match.group(1))
    text = text.replace(match.group(0), "")
    text = re.sub(rf"(?<=[<\s/])n{k}:", "", text)

    def renumber(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f"n{n - 1}" if n > k else f"n{n}"

    return re.sub(r"(?<=[<\s/:])n(\d+)(?=[:=])", renumber, text)


NAMES = st.sampled_from(["a", "b", "Title", "x-y", "n_1"])
URIS = st.sampled_from(["", "urn:a", "urn:b", "http://www.wipo.int/standards/XMLSchema/ST96/Common"])
PREFIXES = st.sampled_from(["p", "q", "com", "pat"])
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
    | st.sampled_from(["&", "<", ">", '"', "\t", "\n", "\r", " "]),
    max_size=12,
)


@st.composite
def element(draw: st.DrawFn, depth: int = 0) -> str:
    """Random element with namespaces (default or prefixed), attributes, text and children."""
    name = draw(NAMES)
    uri = draw(URIS)
    prefix = draw(PREFIXES)
    use_default = draw(st.booleans())
    decl = ""
    if uri:
        decl = f' xmlns="{uri}"' if use_default else f' xmlns:{prefix}="{uri}"'
        qname = name if use_default else f"{prefix}:{name}"
    else:
        qname = name
    attrs = draw(st.dictionaries(st.sampled_from(["k", "v", "id", "lang"]), TEXT, max_size=3))
    attr_text = "".join(f' {k}="{ET_escape(v)}"' for k, v in attrs.items())
    if uri and not use_default and draw(st.booleans()):
        attr_text += f' {prefix}:q="1"'
    if draw(st.booleans()):
        attr_text += ' xml:lang="en"'
    children = draw(st.lists(element(depth + 1), max_size=3)) if depth < 3 else []
    text = ET_escape(draw(TEXT))
    tail = "".join(children)
    return f"<{qname}{decl}{attr_text}>{text}{tail}</{qname}>"


def ET_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
    )


@settings(max_examples=300, deadline=None)
@given(element())
def test_fast_writer_matches_reference(doc: str) -> None:
    data = doc.encode("utf-8")
    assert canon.canonical_bytes(data, canon.XML_C14N2_V1) == reference_c14n2(data)


def test_processing_instructions_and_xml_namespace_match_reference() -> None:
    data = (
        b'<?pi a?><r xmlns="urn:a" xmlns:b="urn:b" b:y="1" x="2"><b:c xml:lang="en">t&amp;<![CDATA[<]]></b:c>'
        b'<?pi x?><d/><e xmlns="urn:c"><f/></e><g/></r><?after?>'
    )
    assert canon.canonical_bytes(data, canon.XML_C14N2_V1) == reference_c14n2(data)


@settings(max_examples=200, deadline=None)
@given(element())
def test_canonical_xml_is_well_formed_and_a_fixed_point(doc: str) -> None:
    once = canon.canonical_bytes(doc.encode("utf-8"), canon.XML_C14N2_V1)
    ET.fromstring(once)  # well-formed: no prefix bound to the empty namespace
    assert canon.canonical_bytes(once, canon.XML_C14N2_V1) == once
