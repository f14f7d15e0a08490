"""The ape project, as evaluators use it: ``ape compile``, ``ape test``, ``ape run`` / ``ape console`` on anvil.

ape lives in its own venv (``.venv-ape``, made by ``scripts/setup.sh --dev``) so that its pytest
plugin stays out of this suite; these tests shell out to ``scripts/ape``. A missing ape fails them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.chain.artifacts import artifact
from registry.node.anvil import find_anvil, free_port, rpc_call

ROOT = Path(__file__).resolve().parent.parent
APE = ROOT / "scripts" / "ape"


def _ape(*args: str, timeout: float = 600, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not (ROOT / ".venv-ape" / "bin" / "ape").exists():
        pytest.fail("ape is not installed in .venv-ape: run scripts/setup.sh --dev")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTEST"))}
    return subprocess.run(
        [str(APE), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, input=stdin
    )


def _code_without_metadata(hex_code: str) -> bytes:
    """Runtime bytecode without solc's CBOR metadata trailer (it hashes source paths, which differ)."""
    code = bytes.fromhex(hex_code.removeprefix("0x"))
    length = int.from_bytes(code[-2:], "big")
    assert code[-length - 2 : -length - 2 + 1] == b"\xa2", "no CBOR metadata trailer"
    return code[: -length - 2]


@pytest.fixture(scope="module")
def compiled() -> dict[str, object]:
    proc = _ape("compile", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest: dict[str, object] = json.loads((ROOT / ".build" / "__local__.json").read_text(encoding="utf-8"))
    return manifest


def test_ape_compile_reproduces_the_shipped_runtime_bytecode(compiled: dict[str, object]) -> None:
    types = compiled["contractTypes"]
    assert isinstance(types, dict)
    for name in ("OfficeRegistry", "AnchorRegistry"):
        ours = artifact(name)["deployedBytecode"]
        theirs = types[name]["runtimeBytecode"]["bytecode"]
        assert _code_without_metadata(theirs) == _code_without_metadata(ours), name


def test_ape_test_suite(compiled: dict[str, object]) -> None:
    proc = _ape("test", "ape_tests", "-q", "-p", "no:cacheprovider")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


@pytest.fixture
def anvil_1337() -> Iterator[str]:
    """anvil with chain id 1337 (what ape's local network expects), stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [str(find_anvil()), "--chain-id", "1337", "--hardfork", "prague", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                rpc_call(url, "eth_chainId")
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)


@pytest.mark.anvil
def test_ape_run_and_console_on_anvil(compiled: dict[str, object], anvil_1337: str) -> None:
    network = f"ethereum:local:{anvil_1337}"
    proc = _ape("run", "ape_anchor", "--network", anvil_1337)  # a bare URL: scripts/ape names it ape's way
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "chain 1337:" in proc.stdout and "included=True authorised=True" in proc.stdout
    code = 'print("BLOCK", chain.blocks.head.number, project.AnchorRegistry.contract_type.name)\nexit\n'
    console = _ape("console", "--network", network, stdin=code, timeout=300)
    assert console.returncode == 0, console.stdout[-2000:] + console.stderr[-2000:]
    assert "AnchorRegistry" in console.stdout and "BLOCK " in console.stdout
