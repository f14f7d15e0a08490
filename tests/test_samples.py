"""Tests for the deterministic sample gazette generator (registry.evaluate.samples)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from registry.evaluate.samples import (
    KINDS,
    NS_COMMON,
    NS_PATENT,
    NS_TRADEMARK,
    generate_gazette,
    iter_gazette,
)

ALL_KINDS = list(KINDS)
COM = f"{{{NS_COMMON}}}"
PAT = f"{{{NS_PATENT}}}"
TMK = f"{{{NS_TRADEMARK}}}"


def _read_tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _first_text(root: ET.Element, tag: str) -> str:
    el = root.find(f".//{tag}")
    assert el is not None and el.text is not None, tag
    return el.text


def _record_id_from_file(path: Path) -> str:
    """Independent re-implementation of the record-id rules."""
    data = path.read_bytes()
    if path.suffix == ".xml":
        root = ET.fromstring(data)
        if root.tag == f"{PAT}PatentPublication":
            office = _first_text(root, f"{COM}IPOfficeCode")
            number = _first_text(root, f"{PAT}PublicationNumber")
            kind = _first_text(root, f"{COM}PatentDocumentKindCode")
            return f"{office}:{number}:{kind}"
        assert root.tag == f"{TMK}TrademarkApplication"
        office = _first_text(root, f"{COM}ReceivingOfficeCode")
        number = _first_text(root, f"{COM}ApplicationNumberText")
        return f"{office}:{(number or '').lstrip('0')}"  # record ids drop leading zeros
    if path.suffix == ".json":
        pub = json.loads(data)["PatentPublication"]
        return f"{pub['IPOfficeCode']}:{pub['PublicationNumber']}:{pub['PatentDocumentKindCode']}"
    assert path.suffix == ".pdf"
    return path.stem.replace("-", ":")


@pytest.mark.parametrize("office", ["EP", "US", "JP", "WO", "EM"])
def test_deterministic(tmp_path: Path, office: str) -> None:
    a = generate_gazette(tmp_path / "a", office=office, count=40, seed=7, kinds=ALL_KINDS)
    b = generate_gazette(tmp_path / "b", office=office, count=40, seed=7, kinds=ALL_KINDS)
    assert [p.name for p in a] == [p.name for p in b]
    assert _read_tree(tmp_path / "a") == _read_tree(tmp_path / "b")
    assert len(a) == 40


def test_seed_changes_output(tmp_path: Path) -> None:
    generate_gazette(tmp_path / "a", count=5, seed=1)
    generate_gazette(tmp_path / "b", count=5, seed=2)
    assert _read_tree(tmp_path / "a") != _read_tree(tmp_path / "b")


@pytest.mark.parametrize("office", ["EP", "US", "EM"])
def test_gazettes_of_other_seeds_share_no_record_id(office: str) -> None:
    """A second sample run with another seed is new publications, never new versions of the first run's."""
    kinds = ("st96-patent", "st96-trademark")
    runs = [{f.record_id for f in iter_gazette(office=office, count=2000, seed=s, kinds=kinds)} for s in range(10)]
    for i, a in enumerate(runs):
        assert len(a) == 2000
        for b in runs[i + 1 :]:
            assert not a & b


def test_iter_matches_files(tmp_path: Path) -> None:
    paths = generate_gazette(tmp_path, office="EP", count=12, seed=3, kinds=ALL_KINDS)
    items = list(iter_gazette(office="EP", count=12, seed=3, kinds=ALL_KINDS))
    assert [p.name for p in paths] == [i.name for i in items]
    for path, item in zip(paths, items, strict=True):
        assert path.read_bytes() == item.data
        assert _record_id_from_file(path) == item.record_id


@pytest.mark.parametrize("office", ["EP", "US", "JP", "WO", "EM", "DE"])
def test_ids_unique_and_well_formed(tmp_path: Path, office: str) -> None:
    paths = generate_gazette(tmp_path, office=office, count=400, seed=11, kinds=ALL_KINDS)
    assert len({p.name for p in paths}) == len(paths) == 400
    ids = [_record_id_from_file(p) for p in paths]
    assert len(set(ids)) == len(ids)
    for p, rid in zip(paths, ids, strict=True):
        parts = rid.split(":")
        assert parts[0] == office
        if len(parts) == 3:  # patent publication
            number, kind = parts[1], parts[2]
            assert kind in ({"A1", "A2"} if office == "WO" else {"A1", "A2", "B1", "B2"})
            if office in ("US", "JP", "WO"):
                assert re.fullmatch(r"2026\d{6}", number)
            else:
                assert re.fullmatch(r"\d{7}", number)
            assert p.name == f"{office}-{number}-{kind}{p.suffix}"
        else:  # trademark application
            number = parts[1]  # canonical: EUIPO's 018xxxxxx without its leading zero
            assert re.fullmatch(r"18\d{6}" if office == "EM" else r"\d{8}", number)
            assert p.name == f"{office}-{number.zfill(9 if office == 'EM' else 8)}.xml"


def test_xml_well_formed(tmp_path: Path) -> None:
    paths = generate_gazette(tmp_path, count=60, seed=5, kinds=("st96-patent", "st96-trademark"))
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = ET.fromstring(data)
        assert root.tag in (f"{PAT}PatentPublication", f"{TMK}TrademarkApplication")
        assert len(data) < 4096


def test_json_valid(tmp_path: Path) -> None:
    for p in generate_gazette(tmp_path, office="US", count=30, seed=9, kinds=["st97-json"]):
        doc = json.loads(p.read_text(encoding="utf-8"))
        pub = doc["PatentPublication"]
        for key in ("IPOfficeCode", "PublicationNumber", "PatentDocumentKindCode"):
            assert isinstance(pub[key], str)
        assert pub["Applicants"] and pub["IPCClassifications"] and pub["Abstract"]
        assert list(pub)[:3] == ["IPOfficeCode", "PublicationNumber", "PatentDocumentKindCode"]
        # The template must match what the stdlib encoder would write (indent=2, natural order).
        assert p.read_bytes() == (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def test_pdf_structure(tmp_path: Path) -> None:
    for p in generate_gazette(tmp_path, count=20, seed=4, kinds=["pdf"]):
        data = p.read_bytes()
        assert data.startswith(b"%PDF-")
        assert data.rstrip().endswith(b"%%EOF")
        # startxref points at the xref table, and every xref entry at its object.
        startxref = int(data.rsplit(b"startxref", 1)[1].split()[0])
        assert data[startxref:].startswith(b"xref\n")
        header = data[startxref:].split(b"\n")[1].split()
        first, size = int(header[0]), int(header[1])
        entries = data[startxref:].split(b"\n")[2 : 2 + size]
        for num, entry in enumerate(entries, first):
            assert len(entry) + 1 == 20  # each entry is exactly 20 bytes incl. EOL
            if entry.endswith(b" n "):
                off = int(entry[:10])
                assert data[off:].startswith(b"%d 0 obj" % num)
        m = re.search(rb"<< /Length (\d+) >>\nstream\n", data)
        assert m is not None
        body = data[m.end() : m.end() + int(m.group(1))]
        assert data[m.end() + len(body) :].startswith(b"endstream")


def test_empty_and_invalid_args(tmp_path: Path) -> None:
    assert generate_gazette(tmp_path / "empty", count=0) == []
    with pytest.raises(ValueError):
        generate_gazette(tmp_path, kinds=["st96-design"])
    with pytest.raises(ValueError):
        generate_gazette(tmp_path, office="europe")
    with pytest.raises(ValueError):
        generate_gazette(tmp_path, count=-1)
    with pytest.raises(ValueError):
        list(iter_gazette(office="US", count=1_000_001))
