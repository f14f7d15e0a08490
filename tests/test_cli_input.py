"""Bad input to the real ``ipreg`` console script.

Each must give a non-zero status, exactly one ``error:`` line on stderr, no traceback, and store nothing.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from registry.core import canon
from registry.core.formats import ProofBundle
from registry.core.leaves import LeafValue
from registry.evaluate.samples import generate_gazette

IPREG = Path(sys.executable).parent / "ipreg"
CLOSED_PORT_RPC = "http://127.0.0.1:9"  # nothing listens there: a test never reaches a real node

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1)) * 10)
               for i in range(1, 10))
    + b"]>\n<lolz>&lol9;</lolz>\n"
)  # fmt: skip


def run(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    env["IPREG_HOME"] = str(home)
    env["IPREG_RPC_URL"] = CLOSED_PORT_RPC
    env["IPREG_RPC_RETRIES"] = "0"
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(IPREG), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def assert_nothing_stored(home: Path) -> None:
    store = home / "registry.sqlite"
    if store.exists():
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for table in ("records", "batches"):
                if table in tables:
                    assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        finally:
            db.close()
    assert not (home / "proofs").exists()
    assert not (home / "manifests").exists() or not any((home / "manifests").iterdir())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def deployed(home: Path) -> Path:
    """A home with a deployment record (the node behind it is never reached: input is refused first)."""
    body = {"chain_id": 31337, "office_registry": "0x" + "11" * 20, "anchor_registry": "0x" + "22" * 20}
    (home / "deployment.json").write_text(json.dumps({**body, "block_number": 1}), encoding="utf-8")
    return home


@pytest.fixture
def files(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    return path


def test_console_script_exists() -> None:
    assert IPREG.is_file(), f"{IPREG} missing: pip install -e . into this venv"


# ---------------------------------------------------------------------------- ipreg hash

BAD_FOR_HASH = [
    pytest.param("EP-1234567-B1.xml", BILLION_LAUGHS, "DOCTYPE", id="xml-dtd-entities"),
    pytest.param(
        "EP-1234567-B1.xml", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DOCTYPE",
        id="xml-external-entity",
    ),
    pytest.param("EP-1234567-B1.xml", b"<a><b></a>", "malformed XML", id="xml-malformed"),
    pytest.param("EP-1234567-B1.xml", b"<a><b>text", "malformed XML", id="xml-truncated"),
    pytest.param(
        "EP-1234567-B1.xml", b'<?xml version="1.0" encoding="no-such-codec"?><a/>', "EP-1234567-B1.xml",
        id="xml-unknown-encoding",
    ),
    pytest.param("EP-1234567-B1.json", b'{"a":1,"b":{"c":1,"c":2}}', "duplicate key", id="json-dup-key"),
    pytest.param("EP-1234567-B1.json", b'{"a":NaN}', "NaN", id="json-nan"),
    pytest.param("EP-1234567-B1.json", b'{"a":[1,2', "malformed JSON", id="json-truncated"),
    # The CLI imports web3, whose dependencies raise the recursion limit to 100000 (py_ecc, py-evm): a
    # deeply nested document must still be refused, not overflow the C stack (exit status 139).
    pytest.param("EP-1234567-B1.json", b"[" * 100_000, "JSON", id="json-deep"),
    pytest.param("EP-1234567-B1.json", b"[" * 100_000 + b"]" * 100_000, "JSON", id="json-deep-closed"),
    pytest.param("EP-1234567-B1.json", b"1" * 5000, "EP-1234567-B1.json", id="json-5000-digits"),
    pytest.param("notes.json", b'{"a":Infinity}', "notes.json", id="json-no-id"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "fragment"), BAD_FOR_HASH)
def test_hash_bad_input(home: Path, files: Path, name: str, content: bytes, fragment: str) -> None:
    path = files / name
    path.write_bytes(content)
    result = run(home, "hash", str(path))
    assert_one_error_line(result, fragment, name)
    assert result.stdout == ""


def test_hash_missing_file(home: Path, files: Path) -> None:
    missing = files / "EP-1234567-B1.xml"
    result = run(home, "hash", str(missing))
    assert_one_error_line(result, "EP-1234567-B1.xml")


def test_hash_one_bad_file_among_good_ones(home: Path, files: Path) -> None:
    good = generate_gazette(files, office="EP", count=2)
    bad = files / "EP-9999999-A1.json"
    bad.write_bytes(b'{"a":1,"a":1}')
    result = run(home, "hash", str(good[0]), str(bad), str(good[1]))
    assert_one_error_line(result, "EP-9999999-A1.json", "duplicate key")


def test_hash_unknown_canonicalization(home: Path, files: Path) -> None:
    path = generate_gazette(files, office="EP", count=1)[0]
    result = run(home, "hash", str(path), "--canon", "xml-c14n")
    assert_one_error_line(result, "xml-c14n")


def test_hash_json_output(home: Path, files: Path) -> None:
    paths = generate_gazette(files, office="EP", count=4, kinds=("st96-patent", "st96-trademark", "st97-json", "pdf"))
    plain = files / "anonymous.xml"
    plain.write_bytes(b'<?xml version="1.0"?>\n<r xmlns="urn:x">\n  <s a="1">t</s>\n</r>\n')
    result = run(home, "hash", *map(str, [*paths, plain]), "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = json.loads(result.stdout)
    assert [r["file"] for r in rows] == [str(p) for p in [*paths, plain]]
    for row, path in zip(rows, [*paths, plain], strict=True):
        method = canon.canonicalization_for(path.name)
        assert row["canonicalization"] == method
        assert row["contentHash"] == canon.content_hash(path.read_bytes(), method)
    assert [r["recordId"] for r in rows[:4]] == [p.stem.replace("-", ":") for p in paths]
    assert rows[4]["recordId"] is None
    # no schema says urn:x is element-only, so its indentation is kept (xml-c14n2-v2 and -v3); v1 dropped it
    indented = canon.content_hash(b'<r xmlns="urn:x">\n  <s a="1">t</s>\n</r>', canon.XML_C14N2)
    assert rows[4]["contentHash"] == indented
    assert indented != canon.content_hash(b'<r xmlns="urn:x"><s a="1">t</s></r>', canon.XML_C14N2)


def test_hash_text_output(home: Path, files: Path) -> None:
    path = generate_gazette(files, office="EP", count=1)[0]
    result = run(home, "hash", str(path))
    assert result.returncode == 0, result.stderr
    digest = canon.content_hash(path.read_bytes(), canon.XML_C14N2)
    assert result.stdout.split() == [digest, "xml-c14n2-v3", path.stem.replace("-", ":"), str(path)]


# ---------------------------------------------------------------------------- ipreg anchor


@pytest.mark.parametrize(
    ("bad_name", "content", "fragment"),
    [
        ("EP-9999999-A1.xml", BILLION_LAUGHS, "DOCTYPE"),
        ("EP-0000001-A1.xml", b"<a><b></a>", "malformed XML"),
        ("EP-5000000-A1.json", b'{"a":1,"a":2}', "duplicate key"),
        ("EP-5000000-A1.json", b'{"x":NaN}', "NaN"),
        ("no-id-here.pdf", b"%PDF-1.4 nothing to see", "no record id"),
    ],
)
def test_anchor_folder_with_one_hostile_file_stores_nothing(
    deployed: Path, files: Path, bad_name: str, content: bytes, fragment: str
) -> None:
    generate_gazette(files, office="EP", count=6, kinds=("st96-patent", "st97-json", "pdf"))
    (files / bad_name).write_bytes(content)
    result = run(deployed, "anchor", str(files), "--office", "EP")
    assert_one_error_line(result, bad_name, fragment)
    assert_nothing_stored(deployed)


def test_anchor_deeply_nested_manifest(deployed: Path, files: Path) -> None:
    path = generate_gazette(files / "docs", office="EP", count=1)[0]
    manifest = files / "manifest.json"
    manifest.write_bytes(b"[" * 100_000)
    result = run(deployed, "anchor", str(path), "--office", "EP", "--manifest", str(manifest))
    assert_one_error_line(result, "manifest")
    assert_nothing_stored(deployed)


def test_anchor_unknown_office(deployed: Path, files: Path) -> None:
    generate_gazette(files, office="EP", count=2)
    result = run(deployed, "anchor", str(files), "--office", "ZZ")
    assert_one_error_line(result, "ZZ")
    assert_nothing_stored(deployed)


def test_anchor_missing_folder(deployed: Path, files: Path) -> None:
    result = run(deployed, "anchor", str(files / "nowhere"), "--office", "EP")
    assert_one_error_line(result, "nowhere")
    assert_nothing_stored(deployed)


def test_anchor_bad_record_id_flag(deployed: Path, files: Path) -> None:
    path = generate_gazette(files, office="EP", count=1)[0]
    result = run(deployed, "anchor", str(path), "--office", "EP", "--id", "EP:not-a-number")
    assert_one_error_line(result, "NOT-A-NUMBER")
    assert_nothing_stored(deployed)


# ---------------------------------------------------------------------------- ipreg verify


def _bundle_body() -> dict[str, object]:
    value = LeafValue("EP:1234567:B1", "0x" + "ab" * 32, canon.XML_C14N2)
    bundle = ProofBundle(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", "EP", "0x" + value.leaf().hex(),
                         value, (), 1, "0x" + "11" * 32, 1, "2026-11-21T10:00:00Z")  # fmt: skip
    return bundle.to_json()


@pytest.mark.parametrize(
    ("proof_text", "fragment"),
    [
        ("this is not json", "JSON"),
        ("", "JSON"),
        ('{"format": "ipreg-proof-v1"', "JSON"),
        ("[1, 2, 3]", "object"),
        (json.dumps({**_bundle_body(), "format": "ipreg-proof-v0"}), "format"),
        (json.dumps({**_bundle_body(), "leafEncoding": ["string", "bytes32"]}), "leafEncoding"),
        (json.dumps({k: v for k, v in _bundle_body().items() if k != "root"}), "root"),
        (json.dumps({**_bundle_body(), "root": "0x1234"}), "root"),
    ],
)
def test_verify_malformed_bundle(home: Path, files: Path, proof_text: str, fragment: str) -> None:
    record = generate_gazette(files, office="EP", count=1)[0]
    proof = files / "bundle.json"
    proof.write_text(proof_text)
    result = run(home, "verify", str(record), "--proof", str(proof))
    assert_one_error_line(result, fragment)


def test_verify_deeply_nested_bundle(home: Path, files: Path) -> None:
    record = generate_gazette(files, office="EP", count=1)[0]
    proof = files / "bundle.json"
    proof.write_bytes(b'{"format":' * 50_000 + b"1" + b"}" * 50_000)
    result = run(home, "verify", str(record), "--proof", str(proof))
    assert_one_error_line(result, "bundle")


def test_verify_bundle_with_bad_registry_address(home: Path, files: Path) -> None:
    # Refused when the bundle is read, before any endpoint is asked (the embedded EVM would be reachable).
    record = generate_gazette(files, office="EP", count=1)[0]
    proof = files / "bundle.json"
    proof.write_text(json.dumps({**_bundle_body(), "registry": "not-an-address"}))
    result = run(home, "verify", str(record), "--proof", str(proof), "--rpc-url", "embedded")
    assert_one_error_line(result, "registry")


def test_verify_missing_bundle_file(home: Path, files: Path) -> None:
    record = generate_gazette(files, office="EP", count=1)[0]
    result = run(home, "verify", str(record), "--proof", str(files / "absent.json"))
    assert_one_error_line(result, "absent.json")


def test_verify_missing_record_file(home: Path, files: Path) -> None:
    proof = files / "bundle.json"
    proof.write_text(json.dumps(_bundle_body()))
    result = run(home, "verify", str(files / "EP-1234567-B1.xml"), "--proof", str(proof))
    assert_one_error_line(result, "EP-1234567-B1.xml")


def test_anchor_in_an_empty_home_says_no_deployment_and_creates_nothing(home: Path, files: Path) -> None:
    generate_gazette(files, office="EP", count=2)
    result = run(home, "anchor", str(files), "--office", "EP")
    assert_one_error_line(result, "no deployment", "ipreg deploy")
    assert list(home.iterdir()) == []


@pytest.mark.parametrize(
    ("env", "flags", "fragment"),
    [
        ({"IPREG_BATCH_SIZE": "abc"}, (), "IPREG_BATCH_SIZE must be a whole number, got 'abc'"),
        ({}, ("--batch-size", "0"), "--batch-size must be at least 1, got 0"),
        ({"IPREG_CONFIRMATIONS": "-2"}, (), "IPREG_CONFIRMATIONS must be at least 0, got -2"),
    ],
)
def test_bad_settings_are_named_before_any_input_is_read(
    deployed: Path, tmp_path: Path, env: dict[str, str], flags: tuple[str, ...], fragment: str
) -> None:
    """A bad setting is refused first (the input does not even exist), naming the variable or flag."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    environ.update(IPREG_HOME=str(deployed), IPREG_RPC_URL=CLOSED_PORT_RPC, **env)
    result = subprocess.run(
        [str(IPREG), "anchor", str(tmp_path / "no-such-folder"), "--office", "EP", *flags],
        capture_output=True, text=True, env=environ, timeout=120, check=False,
    )  # fmt: skip
    assert_one_error_line(result, fragment)


def test_many_bad_files_are_summarized_by_kind(deployed: Path, files: Path) -> None:
    """200 files of the wrong office: one line for the kind of problem (count and examples), not 200."""
    generate_gazette(files, office="US", count=200, kinds=("st96-patent",))
    result = run(deployed, "anchor", str(files), "--office", "EP")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: 200 file(s) belong to another office than EP: ") and "(also " in lines[0]
    assert lines[1].startswith("error: 200 of 200 files cannot be anchored") and "--skip-bad" not in lines[1]
    assert_nothing_stored(deployed)


def test_hash_of_a_folder_hashes_every_file_under_it(home: Path, files: Path) -> None:
    paths = generate_gazette(files / "sub", office="EP", count=3, kinds=("st96-patent", "st97-json", "pdf"))
    result = run(home, "hash", str(files), "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(row["file"] for row in json.loads(result.stdout)) == sorted(str(p) for p in paths)


def test_verify_with_nothing_to_verify_is_a_usage_error(home: Path) -> None:
    result = run(home, "verify")
    assert result.returncode == 2
    assert_one_error_line(result, "nothing to verify", "ipreg verify --help")


def test_audit_without_office_is_a_usage_error(home: Path, files: Path) -> None:
    result = run(home, "audit", str(files))
    assert result.returncode == 2
    assert_one_error_line(result, "--office", "ipreg audit --help")


def test_serve_on_a_busy_port_says_so_once(home: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(home, "serve", "--port", str(port))
    assert result.returncode == 2
    assert_one_error_line(result, f"port {port} is in use")
    assert "serving" not in result.stdout


def test_a_node_that_does_not_answer_gets_a_hint(deployed: Path) -> None:
    result = run(deployed, "office", "list")
    assert_one_error_line(result, "not reachable", "ipreg chain up", "re-run")


def test_verify_without_deployment_or_bundle(home: Path, files: Path) -> None:
    record = generate_gazette(files, office="EP", count=1)[0]
    result = run(home, "verify", str(record))
    assert_one_error_line(result, "--proof")
    assert not (home / "deployment.json").exists()
