"""Time-stamp requests, replies and entries without a chain: what is refused before anything is stored."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rfc3161_client import decode_timestamp_response

from registry.core.formats import BatchManifest, ManifestError, ProofBundle
from registry.core.leaves import LeafValue
from registry.core.stamps import MAX_TOKENS, TimestampToken
from registry.errors import BundleError, ConfigError
from registry.node.tsa import LocalAuthority
from registry.timestamps import load_config
from registry.timestamps.tokens import TimestampError, new_request, token_of_reply

ROOT = "0x" + "ab" * 32
OTHER = "0x" + "cd" * 32
IPREG = Path(sys.executable).parent / "ipreg"


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalAuthority:
    return LocalAuthority(tmp_path_factory.mktemp("tsa")).ensure()


def test_a_reply_is_accepted_only_for_its_own_request_root_and_trusted_signer(
    tsa: LocalAuthority, tmp_path: Path
) -> None:
    request = new_request(ROOT)
    reply = tsa.respond(request.der)
    anchors = load_config(tmp_path, cert_files=[tsa.root_cert]).anchors
    assert token_of_reply(reply, request, ROOT, anchors)
    with pytest.raises(TimestampError, match="nonce"):  # a replayed reply to another request
        token_of_reply(reply, new_request(ROOT), ROOT)
    with pytest.raises(TimestampError, match="another imprint"):
        other = new_request(OTHER)
        token_of_reply(tsa.respond(other.der), other, ROOT)
    with pytest.raises(TimestampError, match="not an RFC 3161"):
        token_of_reply(b"<html>503</html>", request, ROOT)
    stranger = LocalAuthority(tmp_path / "stranger").ensure()
    untrusted = load_config(tmp_path, cert_files=[stranger.root_cert]).anchors
    with pytest.raises(TimestampError, match="untrusted"):
        token_of_reply(reply, request, ROOT, untrusted)


def test_the_local_authority_sends_only_its_signing_certificate(tsa: LocalAuthority) -> None:
    response = decode_timestamp_response(tsa.respond(new_request(ROOT).der))
    assert len(response.signed_data.certificates) == 1


def _bundle(**extra: object) -> dict[str, object]:
    value = LeafValue("EP:1234567:B1", "0x" + "11" * 32, "raw", "0x" + "00" * 32)
    body = {
        "format": "ipreg-proof-v1",
        "chainId": 31337,
        "registry": "0x" + "22" * 20,
        "office": "EP",
        "root": "0x" + value.leaf().hex(),
        "leafEncoding": ["string", "bytes32", "string", "bytes32"],
        "value": value.as_list(),
        "proof": [],
        "leafCount": 1,
        "transactionHash": "0x" + "33" * 32,
        "blockNumber": 5,
        "anchoredAt": "2026-12-07T10:00:00Z",
    }
    return {**body, **extra}


def test_bundle_entries_are_checked_on_reading() -> None:
    token = base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
    bundle = ProofBundle.from_json(_bundle(timestamps=[{"authority": "https://tsa.example", "token": token}]))
    assert bundle.timestamps == (TimestampToken("https://tsa.example", b"\x30\x03\x02\x01\x00"),)
    assert ProofBundle.from_json(_bundle()).timestamps == ()
    for bad, fragment in (
        ([{"authority": "x", "token": "not base64!"}], "base64"),
        ([{"authority": "", "token": token}], "authority"),
        ([{"authority": "x", "token": token, "more": 1}], "each entry"),
        ("MIIC", "list"),
        (None, "list"),
        ([{"authority": "x", "token": token}] * (MAX_TOKENS + 1), "at most"),
    ):
        with pytest.raises(BundleError, match=fragment):
            ProofBundle.from_json(_bundle(timestamps=bad))


def test_a_manifest_with_a_malformed_token_is_refused() -> None:
    value = LeafValue("EP:1234567:B1", "0x" + "11" * 32, "raw", "0x" + "00" * 32)
    root = "0x" + value.leaf().hex()
    good = BatchManifest("EP", root, (value,), (TimestampToken("https://tsa.example", b"\x30\x00"),))
    assert BatchManifest.loads(good.dumps(), office="EP", root=root).timestamps == good.timestamps
    doc = json.loads(good.dumps())
    doc["timestamps"][0]["token"] = "%%%"
    with pytest.raises(ManifestError, match="base64"):
        BatchManifest.loads(json.dumps(doc), office="EP", root=root)
    assert "timestamps" not in BatchManifest("EP", root, (value,)).dumps().decode()  # old manifests unchanged


def test_configuration_errors_name_the_problem(tmp_path: Path, tsa: LocalAuthority) -> None:
    with pytest.raises(ConfigError, match="absolute http"):
        load_config(tmp_path, ["ftp://tsa.example"])
    not_a_cert = tmp_path / "x.pem"
    not_a_cert.write_text("hello")
    with pytest.raises(ConfigError, match=r"no X\.509 certificate"):
        load_config(tmp_path, cert_files=[not_a_cert])
    with pytest.raises(ConfigError, match="no root"):
        load_config(tmp_path, cert_files=[tsa.signing_cert])  # an end-entity certificate is no trust anchor
    (tmp_path / "timestamps.toml").write_text("atempts = 3\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(tmp_path)
    (tmp_path / "timestamps.toml").write_text(
        f'[[authority]]\nurl = "https://q.example/tsr"\ncerts = ["{tsa.root_cert}"]\n'
    )
    cfg = load_config(tmp_path)
    assert [a.url for a in cfg.authorities] == ["https://q.example/tsr"] and cfg.anchors[
        0
    ].authority == cfg.authorities[0].url


def test_anchor_refuses_a_bad_authority_with_one_error_line_and_stores_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    body = {"chain_id": 31337, "office_registry": "0x" + "11" * 20, "anchor_registry": "0x" + "22" * 20}
    (home / "deployment.json").write_text(json.dumps({**body, "block_number": 1}), encoding="utf-8")
    (tmp_path / "EP-1234567-B1.pdf").write_bytes(b"%PDF-1.4 x")
    env = {**os.environ, "IPREG_HOME": str(home), "IPREG_RPC_URL": "http://127.0.0.1:9"}
    result = subprocess.run(
        [str(IPREG), "anchor", str(tmp_path / "EP-1234567-B1.pdf"), "--office", "EP", "--tsa", "gopher://x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "absolute http(s) URL" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (home / "registry.sqlite").exists()
