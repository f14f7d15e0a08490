"""The shipped artifacts are reproducible: recompiling contracts/ gives the same ABI and bytecode.

Every shipped set (``prague`` by default, ``paris`` for older nodes) is checked, and the portable set
is checked to hold no opcode its EVM version lacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry.node.toolchain import (
    DEFAULT_EVM_VERSION,
    DEPLOYED_CONTRACTS,
    EVM_VERSIONS,
    PORTABLE_EVM_VERSION,
    REPO_ROOT,
    compile_contracts,
    settings_for,
    write_artifacts,
)

SOLCJS = REPO_ROOT / "local-chain" / "node_modules" / "solc"
#: Opcodes introduced after Paris: PUSH0 (Shanghai), TLOAD/TSTORE/MCOPY/BLOBHASH/BLOBBASEFEE (Cancun).
POST_PARIS = {0x5F: "PUSH0", 0x5C: "TLOAD", 0x5D: "TSTORE", 0x5E: "MCOPY", 0x49: "BLOBHASH", 0x4A: "BLOBBASEFEE"}


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict[str, dict[str, Any]]]:
    if not SOLCJS.is_dir():  # an error, not a skip: CI must have the pinned compiler
        pytest.fail(f"pinned solcjs not installed ({SOLCJS} missing): run scripts/setup.sh --dev")
    return {v: compile_contracts(evm_version=v) for v in EVM_VERSIONS}


def shipped(evm_version: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EVM_VERSIONS[evm_version] / f"{name}.json").read_text(encoding="utf-8"))
    return body


def opcodes(code_hex: str) -> list[int]:
    """The opcodes of runtime or creation code, push data skipped, the CBOR metadata trailer cut off."""
    code = bytes.fromhex(code_hex.removeprefix("0x"))
    meta = int.from_bytes(code[-2:], "big") + 2 if len(code) > 2 else 0
    code = code[: len(code) - meta] if meta < len(code) else code
    out, pc = [], 0
    while pc < len(code):
        op = code[pc]
        out.append(op)
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return out


def test_default_and_portable_sets() -> None:
    assert DEFAULT_EVM_VERSION == "prague" and PORTABLE_EVM_VERSION in EVM_VERSIONS
    assert settings_for("paris")["evmVersion"] == "paris" and settings_for()["evmVersion"] == "prague"
    with pytest.raises(ValueError, match="unsupported evmVersion"):
        settings_for("osaka")


@pytest.mark.parametrize("evm_version", list(EVM_VERSIONS))
def test_compiles_exactly_the_deployed_contracts(
    compiled: dict[str, dict[str, dict[str, Any]]], evm_version: str
) -> None:
    assert sorted(compiled[evm_version]) == sorted(DEPLOYED_CONTRACTS)
    assert sorted(p.stem for p in EVM_VERSIONS[evm_version].glob("*.json")) == sorted(DEPLOYED_CONTRACTS)


@pytest.mark.parametrize("evm_version", list(EVM_VERSIONS))
@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
@pytest.mark.parametrize("field", ["bytecode", "deployedBytecode", "abi", "immutableReferences"])
def test_recompilation_reproduces_artifact(
    compiled: dict[str, dict[str, dict[str, Any]]], evm_version: str, name: str, field: str
) -> None:
    fresh, committed = compiled[evm_version][name][field], shipped(evm_version, name)[field]
    if field in ("bytecode", "deployedBytecode"):
        assert fresh.startswith("0x") and len(fresh) > 2
    assert fresh == committed, f"{evm_version}/{name}.{field} differs from registry/artifacts: recompile and commit"


@pytest.mark.parametrize("evm_version", list(EVM_VERSIONS))
@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
def test_artifact_metadata(compiled: dict[str, dict[str, dict[str, Any]]], evm_version: str, name: str) -> None:
    artifact = shipped(evm_version, name)
    assert artifact["contractName"] == name
    assert artifact["compiler"] == compiled[evm_version][name]["compiler"]
    assert artifact["compiler"].startswith("0.8.37+")
    assert artifact["settings"] == {k: v for k, v in settings_for(evm_version).items() if k != "outputSelection"}


@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
def test_sets_share_the_abi_and_differ_in_code(name: str) -> None:
    default, portable = shipped(DEFAULT_EVM_VERSION, name), shipped(PORTABLE_EVM_VERSION, name)
    assert default["abi"] == portable["abi"]
    assert default["deployedBytecode"] != portable["deployedBytecode"]


@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
@pytest.mark.parametrize("field", ["bytecode", "deployedBytecode"])
def test_portable_set_has_no_post_paris_opcode(name: str, field: str) -> None:
    used = {POST_PARIS[op] for op in opcodes(shipped(PORTABLE_EVM_VERSION, name)[field]) if op in POST_PARIS}
    assert used == set(), f"paris/{name}.{field} uses {sorted(used)}"
    # The scanner sees them where they are: the prague build pushes zero with PUSH0.
    assert 0x5F in opcodes(shipped(DEFAULT_EVM_VERSION, name)[field])


@pytest.mark.parametrize("evm_version", list(EVM_VERSIONS))
def test_written_artifacts_are_byte_identical(
    compiled: dict[str, dict[str, dict[str, Any]]], evm_version: str, tmp_path: Path
) -> None:
    for path in write_artifacts(compiled[evm_version], tmp_path):
        assert path.read_bytes() == (EVM_VERSIONS[evm_version] / path.name).read_bytes(), path.name
