"""Compile the Solidity contracts offline with the pinned solcjs behind ``local-chain/solc``.

Used by ``scripts/compile_contracts.py`` and by the reproducibility test; the runtime never
compiles: it loads the artifacts shipped in ``registry/artifacts``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"
SOLC_WRAPPER = REPO_ROOT / "local-chain" / "solc"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
DEPLOYED_CONTRACTS = ("OfficeRegistry", "AnchorRegistry")

SETTINGS: dict[str, Any] = {
    "evmVersion": "prague",
    "optimizer": {"enabled": True, "runs": 1000},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


def standard_input(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, Any]:
    """The standard-JSON input: every source under ``contracts/`` by content, fixed settings."""
    sources = {path.name: {"content": path.read_text(encoding="utf-8")} for path in sorted(contracts_dir.glob("*.sol"))}
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_contracts(contracts_dir: Path = CONTRACTS_DIR, solc: Path = SOLC_WRAPPER) -> dict[str, dict[str, Any]]:
    """Compile and return ``{name: {"abi", "bytecode", "deployedBytecode", "compiler"}}``.

    Raises ``RuntimeError`` with the compiler's messages if compilation fails.
    """
    import solcx

    output = solcx.compile_standard(standard_input(contracts_dir), solc_binary=str(solc))
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise RuntimeError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    version = _solc_version(solc)
    artifacts: dict[str, dict[str, Any]] = {}
    for source in output["contracts"].values():
        for name, data in source.items():
            if name in DEPLOYED_CONTRACTS:
                artifacts[name] = {
                    "contractName": name,
                    "compiler": version,
                    "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
                    "abi": data["abi"],
                    "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                    "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                }
    return artifacts


def _solc_version(solc: Path) -> str:
    import subprocess

    out = subprocess.run([str(solc), "--version"], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1].removeprefix("Version: ")


def write_artifacts(artifacts: dict[str, dict[str, Any]], out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    """Write one ``<Name>.json`` per contract, stable formatting, and return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, artifact in sorted(artifacts.items()):
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
