"""``ipreg hash --canonical``: an auditor sees exactly the bytes that were hashed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry.core import canon

IPREG = Path(sys.executable).parent / "ipreg"
DOC = b'<?xml version="1.0"   encoding="ISO-8859-1"?>\n<p:r xmlns:p="urn:a" b="2" a="1"><!-- c -->caf\xe9</p:r>\n'


def run(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    env.update(IPREG_HOME=str(home), IPREG_RPC_URL="http://127.0.0.1:9", IPREG_RPC_RETRIES="0", NO_COLOR="1")
    return subprocess.run([str(IPREG), *args], capture_output=True, env=env, timeout=120, check=False)


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "EP-1234567-B1.xml"
    path.write_bytes(DOC)
    return path


def test_canonical_bytes_on_stdout_are_what_is_hashed(tmp_path: Path, doc: Path) -> None:
    result = run(tmp_path, "hash", str(doc), "--canonical")
    assert result.returncode == 0, result.stderr
    assert result.stdout == '<p:r xmlns:p="urn:a" a="1" b="2">café</p:r>'.encode()
    hashed = run(tmp_path, "hash", str(doc))
    assert hashed.stdout.split()[0].decode() == "0x" + hashlib.sha256(result.stdout).hexdigest()
    assert hashed.stdout.split()[1] == b"xml-c14n2-v3"


def test_canonical_bytes_of_an_earlier_method(tmp_path: Path, doc: Path) -> None:
    result = run(tmp_path, "hash", str(doc), "--canonical", "--canon", "xml-c14n2-v2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == canon.canonical_bytes(DOC, canon.XML_C14N2_V2)


def test_canonical_bytes_to_a_file(tmp_path: Path, doc: Path) -> None:
    out = tmp_path / "out" / "canonical.xml"
    result = run(tmp_path, "hash", str(doc), "--canonical", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == canon.canonical_bytes(DOC, canon.XML_C14N2)
    assert b'"contentHash": "' + canon.content_hash(DOC, canon.XML_C14N2).encode() in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--canonical", "SECOND"], b"one file"),
        (["--canonical", "--json"], b"--out"),
        (["--out", "x.xml"], b"--out needs --canonical"),
        (["--canonical", "--canon", "xml-c14n"], b"unknown canonicalization"),
    ],
)
def test_canonical_usage_errors_are_one_line(tmp_path: Path, doc: Path, args: list[str], fragment: bytes) -> None:
    result = run(tmp_path, "hash", str(doc), *[str(doc) if a == "SECOND" else a for a in args])
    assert result.returncode != 0 and result.stdout == b""
    assert result.stderr.count(b"\n") == 1 and result.stderr.startswith(b"error: ") and fragment in result.stderr


def test_refused_document_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<?xml version="1.0" encoding="unicode_escape"?><r>\\u003cb/\\u003e</r>')
    out = tmp_path / "canonical.xml"
    result = run(tmp_path, "hash", str(bad), "--canonical", "--out", str(out))
    assert result.returncode != 0 and not out.exists()
    assert result.stderr.startswith(b"error: ") and b"unicode_escape" in result.stderr
