"""Compile the Solidity contracts offline with the pinned solcjs behind ``local-chain/solc``.

Used by ``scripts/compile_contracts.py`` and by the reproducibility test; the runtime never
compiles: it loads the artifacts shipped in ``registry/artifacts``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
SOLC_WRAPPER = REPO_ROOT / "local-chain" / "solc"
ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
DEPLOYED_CONTRACTS = ("OfficeRegistry", "AnchorRegistry")

#: The design's EVM version: the default artifacts (anvil ``--hardfork prague``, py-evm).
DEFAULT_EVM_VERSION = "prague"
#: The widest-reach build: no PUSH0 (Shanghai), MCOPY or transient storage (Cancun), so it runs on
#: ganache 7.9, Besu/GoQuorum networks and L2s whose newest fork is London/Paris.
PORTABLE_EVM_VERSION = "paris"
#: Each shipped artifact set and its folder: the default in ``registry/artifacts``, others beside it.
EVM_VERSIONS: dict[str, Path] = {
    DEFAULT_EVM_VERSION: ARTIFACTS_DIR,
    PORTABLE_EVM_VERSION: ARTIFACTS_DIR / PORTABLE_EVM_VERSION,
}

_OUTPUT = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"]

SETTINGS: dict[str, Any] = {
    "evmVersion": DEFAULT_EVM_VERSION,
    "optimizer": {"enabled": True, "runs": 1000},
    "outputSelection": {"*": {"*": _OUTPUT}},
}


def settings_for(evm_version: str = DEFAULT_EVM_VERSION) -> dict[str, Any]:
    """The compiler settings of one artifact set (only ``evmVersion`` differs between sets)."""
    if evm_version not in EVM_VERSIONS:
        raise ValueError(f"unsupported evmVersion {evm_version!r} (shipped: {', '.join(EVM_VERSIONS)})")
    return {**SETTINGS, "evmVersion": evm_version}


def standard_input(contracts_dir: Path = CONTRACTS_DIR, evm_version: str = DEFAULT_EVM_VERSION) -> dict[str, Any]:
    """The standard-JSON input: every source under ``contracts/`` by content, fixed settings."""
    sources = {path.name: {"content": path.read_text(encoding="utf-8")} for path in sorted(contracts_dir.glob("*.sol"))}
    return {"language": "Solidity", "sources": sources, "settings": settings_for(evm_version)}


def compile_contracts(
    contracts_dir: Path = CONTRACTS_DIR, solc: Path = SOLC_WRAPPER, evm_version: str = DEFAULT_EVM_VERSION
) -> dict[str, dict[str, Any]]:
    """Compile and return ``{name: {"abi", "bytecode", "deployedBytecode", "immutableReferences", …}}``.

    Raises ``RuntimeError`` with the compiler's messages if compilation fails.
    """
    import solcx

    settings = settings_for(evm_version)
    output = solcx.compile_standard(standard_input(contracts_dir, evm_version), solc_binary=str(solc))
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
                    "settings": {k: v for k, v in settings.items() if k != "outputSelection"},
                    "abi": data["abi"],
                    "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                    "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                    "immutableReferences": data["evm"]["deployedBytecode"].get("immutableReferences", {}),
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
