"""``ipreg office keystore`` on a real anvil node: safe by default.

What must never happen: a new key silently replacing the key an office signs with; a new key left
without gas and without a word; a hint that cannot work for the office's state (add-signer for an
office not yet admitted); a password prompt warning when the password comes from a pipe; the private
key on any output.
"""

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
PASSWORD = "correct horse battery"


def run(
    env: dict[str, str], *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([IPREG, *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, f"ipreg {' '.join(args)} -> {proc.returncode}: {proc.stderr}"
    return proc


@pytest.fixture
def env(tmp_path: Path, anvil: AnvilNode) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    return {**base, "IPREG_HOME": str(tmp_path / "home"), "IPREG_RPC_URL": anvil.rpc_url}


def _balance(env: dict[str, str], address: str) -> int:
    from web3 import HTTPProvider, Web3

    return int(Web3(HTTPProvider(env["IPREG_RPC_URL"])).eth.get_balance(Web3.to_checksum_address(address)))


def test_new_key_beside_the_working_one_funded_and_usable(tmp_path: Path, env: dict[str, str]) -> None:
    run(env, "deploy")
    keys = Path(env["IPREG_HOME"]) / "keys"
    proc = run(env, "office", "keystore", "--office", "EP", stdin=PASSWORD + "\n")
    assert "GetPassWarning" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    address = proc.stdout.strip()  # stdout holds the address alone
    first = proc.stderr.splitlines()[0].split()
    assert first[2] == address
    path = Path(first[6])
    assert path.parent == keys and path.name == f"EP-{address[2:10].lower()}.json"
    assert not (keys / "EP.json").exists()  # the dev key keeps signing
    body = json.loads(path.read_text())
    assert "crypto" in body and (path.stat().st_mode & 0o777) == 0o600
    assert body["crypto"]["ciphertext"] not in proc.stdout + proc.stderr
    assert "still signs with the dev preset key" in proc.stderr
    assert "funded with 10 ETH" in proc.stderr and _balance(env, address) == 10 * 10**18
    assert f"ipreg office add-signer {address} --as EP" in proc.stderr
    assert f"IPREG_KEYSTORE={path}" in proc.stderr

    # The working key still anchors; the hint's add-signer works (funds were there); then the new key signs.
    gazette = tmp_path / "g"
    generate_gazette(gazette, office="EP", count=2, seed=4)
    run(env, "anchor", str(gazette), "--office", "EP", "--proofs", str(tmp_path / "p"))
    run(env, "office", "add-signer", address, "--as", "EP")
    more = tmp_path / "g2"
    generate_gazette(more, office="EP", count=2, seed=5)
    with_new = {**env, "IPREG_KEYSTORE": str(path), "IPREG_KEYSTORE_PASSWORD": PASSWORD}
    run(with_new, "office", "accept", "EP", "--keystore", str(path))  # two steps: the new key consents
    summary = json.loads(run(with_new, "anchor", str(more), "--office", "EP", "--proofs", str(tmp_path / "p"),
                             "--json").stdout)  # fmt: skip
    assert summary["anchored"] == 2

    # A second new key never lands on the first one.
    again = run(env, "office", "keystore", "--office", "EP", stdin=PASSWORD + "\n")
    assert Path(again.stderr.splitlines()[0].split()[6]) != path and path.exists()


def test_office_not_admitted_gets_the_admission_hint(env: dict[str, str]) -> None:
    run(env, "deploy")
    proc = run(env, "office", "keystore", "--office", "KR", stdin=PASSWORD + "\n")
    address = proc.stdout.strip()
    keys = Path(env["IPREG_HOME"]) / "keys"
    assert (keys / "KR.json").exists()  # KR had no key: the default place
    assert "KR is not an office yet" in proc.stderr
    assert "propose admit KR" in proc.stderr and f"--signer {address}" in proc.stderr
    assert "add-signer" not in proc.stderr


def test_refuses_short_password_and_existing_out(env: dict[str, str], tmp_path: Path) -> None:
    proc = run(env, "office", "keystore", "--office", "EP", stdin="short\n", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    out = tmp_path / "k.json"
    out.write_text("{}")
    proc = run(env, "office", "keystore", "--office", "EP", "--out", str(out), stdin=PASSWORD + "\n", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr and out.read_text() == "{}"


def test_without_a_deployment_says_what_the_key_needs(env: dict[str, str]) -> None:
    proc = run(env, "office", "keystore", "--office", "EP", stdin=PASSWORD + "\n")
    assert (Path(env["IPREG_HOME"]) / "keys" / "EP.json").exists()
    assert "fund it: send ETH" in proc.stderr and "add-signer" in proc.stderr
