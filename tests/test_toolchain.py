"""The shipped artifacts are reproducible: recompiling contracts/ gives the same ABI and bytecode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry.toolchain import (
    ARTIFACTS_DIR,
    DEPLOYED_CONTRACTS,
    REPO_ROOT,
    SETTINGS,
    compile_contracts,
    write_artifacts,
)

SOLCJS = REPO_ROOT / "local-chain" / "node_modules" / "solc"

pytestmark = pytest.mark.skipif(
    not SOLCJS.is_dir(),
    reason=f"pinned solcjs not installed ({SOLCJS} missing): run `npm ci` in local-chain/ (scripts/setup.sh --dev)",
)


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict[str, Any]]:
    return compile_contracts()


def shipped(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return body


def test_compiles_exactly_the_deployed_contracts(compiled: dict[str, dict[str, Any]]) -> None:
    assert sorted(compiled) == sorted(DEPLOYED_CONTRACTS)
    assert sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json")) == sorted(DEPLOYED_CONTRACTS)


@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
@pytest.mark.parametrize("field", ["bytecode", "deployedBytecode", "abi"])
def test_recompilation_reproduces_artifact(compiled: dict[str, dict[str, Any]], name: str, field: str) -> None:
    fresh, committed = compiled[name][field], shipped(name)[field]
    if field != "abi":
        assert fresh.startswith("0x") and len(fresh) > 2
    assert fresh == committed, f"{name}.{field} differs from registry/artifacts: recompile and commit"


@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
def test_artifact_metadata(compiled: dict[str, dict[str, Any]], name: str) -> None:
    artifact = shipped(name)
    assert artifact["contractName"] == name
    assert artifact["compiler"] == compiled[name]["compiler"]
    assert artifact["compiler"].startswith("0.8.37+")
    assert artifact["settings"] == {k: v for k, v in SETTINGS.items() if k != "outputSelection"}


def test_written_artifacts_are_byte_identical(compiled: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    for path in write_artifacts(compiled, tmp_path):
        assert path.read_bytes() == (ARTIFACTS_DIR / path.name).read_bytes(), path.name
