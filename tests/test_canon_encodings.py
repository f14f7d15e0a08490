"""Every accepted encoding label is read by ``xml-c14n2-v3`` exactly as libxml2 (lxml) reads it.

For each label of :data:`registry.core.xml_c14n2.ENCODINGS`: every single byte and (for multi-byte
encodings) every two-byte sequence that the project reads is read by libxml2 as the same
character(s). A sequence libxml2 reads but the project refuses is allowed (a refusal is never a
second reading). The UTF-16 family is checked on a sample.
"""

from __future__ import annotations

import pytest
from lxml import etree

from registry.core import canon
from registry.core.xml_c14n2 import ENCODINGS, decode_input
from registry.errors import CanonicalizationError

PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
MULTI_BYTE = {"shift_jis", "euc_jp", "euc_kr", "gb2312", "gbk"}


def _ours(label: str, seq: bytes) -> str | None:
    data = b'<?xml version="1.0" encoding="' + label.encode() + b'"?><r>' + seq + b"</r>"
    try:
        return decode_input(data).decode("utf-8").split("<r>", 1)[1][: -len("</r>")]
    except (CanonicalizationError, UnicodeDecodeError):  # UTF-8 is checked by the parser, not by decode_input
        return None


def _sequences(codec: str) -> list[bytes]:
    singles = [bytes([b]) for b in range(0x20, 0x100) if b not in b"<&|"]
    if codec not in MULTI_BYTE:
        return singles
    return singles + [bytes([a, b]) for a in range(0x80, 0x100) for b in range(0x40, 0x100) if b != 0x7C]


@pytest.mark.parametrize("label", sorted(ENCODINGS))
def test_every_sequence_we_read_libxml2_reads_alike(label: str) -> None:
    codec = ENCODINGS[label]
    read = [(seq, text) for seq in _sequences(codec) if (text := _ours(label, seq)) is not None]
    assert len(read) > 90, label
    # all sequences we read, one document: libxml2 must read it, and every piece alike
    body = b"|".join(seq for seq, _ in read)
    doc = b'<?xml version="1.0" encoding="' + label.encode() + b'"?><r>' + body + b"</r>"
    theirs = (etree.fromstring(doc, PARSER).text or "").split("|")
    ours = [text for _, text in read]
    assert len(theirs) == len(ours), label
    differ = [(seq.hex(), a, b) for (seq, b), a in zip(read, theirs, strict=True) if a != b]
    assert differ == [], (label, differ[:10])


@pytest.mark.parametrize("label", ["UTF-16", "UTF-16LE", "UTF-16BE"])
def test_utf16_reads_like_libxml2(label: str) -> None:
    text = "特許 Brevet européen \U0001d518 ¥\\~"
    codec = {"UTF-16": "utf-16", "UTF-16LE": "utf-16-le", "UTF-16BE": "utf-16-be"}[label]
    data = f'<?xml version="1.0" encoding="{label}"?><r>{text}</r>'.encode(codec)
    assert etree.fromstring(data, PARSER).text == text
    assert canon.canonical_bytes(data, canon.XML_C14N2) == f"<r>{text}</r>".encode()


def test_utf16_byte_order_must_match_the_label() -> None:
    data = '<?xml version="1.0" encoding="UTF-16BE"?><r/>'.encode("utf-16-le")
    with pytest.raises(CanonicalizationError, match="UTF-16LE"):
        canon.canonical_bytes(data, canon.XML_C14N2)


def test_labels_are_iana_names_and_case_insensitive() -> None:
    assert {"shift_jis", "ms_kanji", "csshiftjis", "iso-8859-1", "latin1", "windows-1252", "euc-jp"} <= set(ENCODINGS)
    assert not {"sjis", "cp932", "windows-31j", "gb18030", "big5", "utf8", "unicode_escape"} & set(ENCODINGS)
    upper = canon.canonical_bytes('<?xml version="1.0" encoding="LATIN1"?><r>é</r>'.encode("latin-1"), canon.XML_C14N2)
    assert upper == "<r>é</r>".encode()


def test_euc_jp_sequence_with_two_readings_is_refused() -> None:
    data = b'<?xml version="1.0" encoding="EUC-JP"?><r>\x8f\xa2\xb7</r>'
    assert etree.fromstring(data, PARSER).text == "\uff5e"  # libxml2; Python's euc_jp says "~"
    with pytest.raises(CanonicalizationError, match="two readings"):
        canon.canonical_bytes(data, canon.XML_C14N2)
