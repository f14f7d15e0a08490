"""End to end on a real anvil node: the ``ipreg`` command as an office and an auditor use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode

from registry.evaluate.samples import generate_gazette

pytestmark = pytest.mark.anvil

IPREG = str(Path(sys.executable).parent / "ipreg")


def run(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ipreg`` with ``env``; fail loudly on an unexpected status or a traceback."""
    proc = subprocess.run([IPREG, *args], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, f"ipreg {' '.join(args)} -> {proc.returncode}: {proc.stderr}"
    return proc


@pytest.fixture
def env(tmp_path: Path, anvil: AnvilNode) -> dict[str, str]:
    """Environment of one office installation against the test's anvil node."""
    return {**os.environ, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}


def test_anchor_folder_verify_tamper_and_survive_restart(tmp_path: Path, env: dict[str, str], anvil: AnvilNode) -> None:
    gazette = tmp_path / "gazette"
    files = generate_gazette(gazette, office="EP", count=8, seed=7, kinds=("st96-patent", "st97-json", "pdf"))
    proofs = tmp_path / "proofs"
    deployed = json.loads(run(env, "deploy", "--json").stdout)
    assert deployed["offices"] == ["EP", "US", "JP", "EM", "WO"]

    summary = json.loads(run(env, "anchor", str(gazette), "--office", "EP", "--proofs", str(proofs), "--json").stdout)
    assert summary["anchored"] == len(files) == 8
    assert len(summary["batches"]) == 1 and summary["bundlesWritten"] == 8
    bundles = sorted(proofs.glob("*.proof.json"))
    assert len(bundles) == 8

    by_id = {json.loads(b.read_text())["value"][0]: b for b in bundles}
    hashes = {row["file"]: row for row in json.loads(run(env, "hash", *map(str, files), "--json").stdout)}
    for f in files:
        bundle = by_id[hashes[str(f)]["recordId"]]
        with_bundle = json.loads(run(env, "verify", str(f), "--proof", str(bundle), "--json").stdout)
        without = json.loads(run(env, "verify", str(f), "--json").stdout)
        for verdict in (with_bundle, without):
            assert verdict["verdict"] == "VERIFIED"
            assert verdict["office"] == "EP"
            assert verdict["recordId"] == hashes[str(f)]["recordId"]
            assert verdict["blockNumber"] == summary["batches"][0]["blockNumber"]
            assert verdict["transactionHash"] == summary["batches"][0]["transactionHash"]
            assert verdict["anchoredAt"].endswith("Z")

    # By content hash, by record id, and by the bundle alone.
    first = files[0]
    digest, rid = hashes[str(first)]["contentHash"], hashes[str(first)]["recordId"]
    for args in (("--hash", digest), ("--record", rid), ("--proof", str(by_id[rid]))):
        verdict = json.loads(run(env, "verify", *args, "--json").stdout)
        assert (verdict["verdict"], verdict["recordId"], verdict["contentHash"]) == ("VERIFIED", rid, digest)
    proc = run(env, "verify", "--hash", "0x" + "ab" * 32, "--json", check=False)
    assert proc.returncode == 4 and json.loads(proc.stdout)["verdict"] == "UNKNOWN"

    # An auditor with nothing but the bundle and the endpoint: a fresh home, no deployment, no store.
    auditor = {**env, "IPREG_HOME": str(tmp_path / "auditor")}
    xml = next(f for f in files if f.suffix == ".xml")
    xml_bundle = by_id[hashes[str(xml)]["recordId"]]
    assert (
        json.loads(run(auditor, "verify", str(xml), "--proof", str(xml_bundle), "--json").stdout)["verdict"]
        == "VERIFIED"
    )

    # Tamper one byte of meaning: a digit of the publication date. Formatting changes stay VERIFIED.
    text = xml.read_text(encoding="utf-8")
    reformatted = tmp_path / "reformatted.xml"
    reformatted.write_text(text.replace("\n", "\n  ").replace('<?xml version="1.0" encoding="UTF-8"?>', ""), "utf-8")
    assert run(auditor, "verify", str(reformatted), "--proof", str(xml_bundle), "--json").returncode == 0
    tampered = tmp_path / "tampered.xml"
    marker = "<com:PublicationDate>2"
    assert marker in text
    tampered.write_text(text.replace(marker, "<com:PublicationDate>1", 1), "utf-8")
    for home_env, extra in ((auditor, ["--proof", str(xml_bundle)]), (env, [])):
        proc = run(home_env, "verify", str(tampered), *extra, "--json", check=False)
        assert proc.returncode == 3
        assert json.loads(proc.stdout)["verdict"] == "TAMPERED"

    unknown = tmp_path / "EP-9999999-A1.pdf"
    unknown.write_bytes(b"%PDF-1.4 not anchored")
    proc = run(env, "verify", str(unknown), "--json", check=False)
    assert proc.returncode == 4 and json.loads(proc.stdout)["verdict"] == "UNKNOWN"

    # Stop and restart the chain: the anchors are still there.
    anvil.chain.stop()
    anvil.chain.start()
    assert (
        json.loads(run(auditor, "verify", str(xml), "--proof", str(xml_bundle), "--json").stdout)["verdict"]
        == "VERIFIED"
    )

    # Re-running the same anchor command anchors nothing twice.
    again = json.loads(run(env, "anchor", str(gazette), "--office", "EP", "--proofs", str(proofs), "--json").stdout)
    assert again["anchored"] == 0 and again["alreadyAnchored"] == 8 and again["batches"] == []


def test_chain_up_down_keeps_state(tmp_path: Path) -> None:
    from registry.node.anvil import free_port

    env = {
        **os.environ,
        "IPREG_HOME": str(tmp_path / "home"),
        "IPREG_RPC_URL": f"http://127.0.0.1:{free_port()}",
    }
    run(env, "chain", "up")
    try:
        run(env, "deploy")
        gazette = tmp_path / "g"
        generate_gazette(gazette, office="US", count=3, seed=1)
        run(env, "anchor", str(gazette), "--office", "US", "--proofs", str(tmp_path / "p"))
        run(env, "chain", "down")
        run(env, "chain", "up")
        status = json.loads(run(env, "chain", "status", "--json").stdout)
        assert status["running"] is True
        f = sorted(gazette.iterdir())[0]
        assert json.loads(run(env, "verify", str(f), "--json").stdout)["verdict"] == "VERIFIED"
    finally:
        run(env, "chain", "down", check=False)
