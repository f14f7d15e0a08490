"""The shipped contract artifacts (ABI, creation and runtime code): the one loader, and code matching.

``registry/artifacts/<Name>.json`` is the default build (``prague``); other EVM versions sit in a
folder of their own beside it (``registry/artifacts/paris/``). Every reader of an ABI or of
bytecode (the client, the deployer, the revert decoder, the deployment checks) goes through
:func:`artifact_set`, so each file is read once per process. Light: no web3.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from registry.errors import ConfigError
from registry.node.toolchain import DEFAULT_EVM_VERSION, DEPLOYED_CONTRACTS, EVM_VERSIONS


@cache
def artifact_set(evm_version: str = DEFAULT_EVM_VERSION) -> dict[str, dict[str, Any]]:
    """The shipped artifacts of one EVM version, by contract name."""
    if evm_version not in EVM_VERSIONS:
        raise ConfigError(f"no artifacts for evmVersion {evm_version!r} (shipped: {', '.join(EVM_VERSIONS)})")
    folder = resources.files("registry").joinpath("artifacts")
    if evm_version != DEFAULT_EVM_VERSION:
        folder = folder.joinpath(evm_version)
    return {
        name: json.loads(folder.joinpath(f"{name}.json").read_text(encoding="utf-8")) for name in DEPLOYED_CONTRACTS
    }


def artifact(name: str, evm_version: str = DEFAULT_EVM_VERSION) -> dict[str, Any]:
    """ABI and bytecode of contract ``name`` as shipped in ``registry/artifacts`` (default build)."""
    return artifact_set(evm_version)[name]


def mask_immutables(code: bytes, references: dict[str, Any]) -> bytes:
    """``code`` with every immutable slot zeroed, as the compiler leaves them in ``deployedBytecode``."""
    out = bytearray(code)
    for refs in references.values():
        for ref in refs:
            start, length = int(ref["start"]), int(ref["length"])
            out[start : start + length] = bytes(min(length, max(0, len(out) - start)))
    return bytes(out)


def matching_set(contract: str, code: bytes) -> str | None:
    """The shipped EVM version whose runtime code ``code`` is (immutables masked), or None."""
    for evm_version in EVM_VERSIONS:
        art = artifact_set(evm_version)[contract]
        expected = bytes.fromhex(art["deployedBytecode"].removeprefix("0x"))
        if len(code) == len(expected) and mask_immutables(code, art["immutableReferences"]) == expected:
            return evm_version
    return None


def matching_release(contract: str, code: bytes) -> str | None:
    """The release whose runtime code ``code`` is: "current (<evmVersion>)" for the shipped builds, or
    "<version> (<evmVersion>)" of an earlier release (:mod:`registry.chain.releases`: a predecessor a
    migration may name, a chain an archive holds), else None."""
    from eth_utils.crypto import keccak

    from registry.chain.releases import ANCHOR_REGISTRY_RELEASES, OFFICE_REGISTRY_RELEASES

    shipped = matching_set(contract, code)
    if shipped is not None:
        return f"current ({shipped})"
    earlier = {"AnchorRegistry": ANCHOR_REGISTRY_RELEASES, "OfficeRegistry": OFFICE_REGISTRY_RELEASES}
    for row in earlier.get(contract, ()):
        if len(code) == row["length"]:
            masked = mask_immutables(code, row["immutableReferences"])
            if "0x" + keccak(masked).hex() == row["runtimeKeccak"]:
                return f"{row['version']} ({row['evmVersion']})"
    return None


def successor_code_problem(address: str, anchor_code: bytes, office_code: bytes) -> str | None:
    """None if a migration's successor ``address`` runs shipped builds (its AnchorRegistry ``anchor_code``, and
    ``office_code`` of the OfficeRegistry that one calls), else why its later versions cannot be judged.

    A successor is judged by its own contracts; the freeze guarantees only that the successor has code, and an
    AnchorRegistry takes any OfficeRegistry address. Their answers mean what this package reads them to mean
    only when both are builds it ships (a successor's are at least as new as its predecessor's)."""
    if matching_set("AnchorRegistry", anchor_code) is not None and matching_set("OfficeRegistry", office_code):
        return None
    return (
        f"its successor {address} names it back, but its AnchorRegistry or the OfficeRegistry that one calls is not"
        " a contract build this ipreg ships, so its answers cannot be judged (verify with a current ipreg)"
    )
