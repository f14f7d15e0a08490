"""The Ethereum Attestation Service, compiled from ``local-chain/node_modules`` and deployed for comparison.

EAS's sources pin ``pragma solidity 0.8.29``: they are compiled with solcjs 0.8.29 (npm alias
``solc-0.8.29`` behind ``local-chain/solc-0.8.29``) against the OpenZeppelin release EAS itself
builds with (npm alias ``@openzeppelin/contracts-5.3.0``, remapped), with the settings of EAS's own
deployments. The compiled output is cached by the hash of the compiler input; no EAS bytecode is
committed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.contract import Contract

from registry.chain.client import Chain, TxResult
from registry.errors import ConfigError
from registry.files.atomic import write_atomic
from registry.node.anvil import LOCAL_CHAIN_DIR

EAS_PACKAGE = "@ethereum-attestation-service/eas-contracts"
OZ_ALIAS = "@openzeppelin/contracts-5.3.0"
SOLC_EAS = LOCAL_CHAIN_DIR / "solc-0.8.29"
#: The schema attested in the comparison: the same values a registry leaf commits to.
SCHEMA = "string recordId,bytes32 contentHash,string canonicalization,bytes32 supersedes"
#: The schema of EAS attesting a batch's Merkle root (one attestation per batch): root, office code, leaf count.
#: No manifest URI: EAS keeps the attestation's data in storage, and the URI follows from the root by convention.
ROOT_SCHEMA = "bytes32 root,bytes2 office,uint32 count"
_SETTINGS: dict[str, Any] = {  # as in EAS's deployments (solcInputs), plus the OpenZeppelin remapping
    "optimizer": {"enabled": True, "runs": 1_000_000},
    "evmVersion": "paris",
    "metadata": {"bytecodeHash": "none"},
    "remappings": [f"@openzeppelin/contracts/={OZ_ALIAS}/"],
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


def package_dir() -> Path:
    """Where npm installed EAS; ConfigError with the setup hint if it is missing."""
    folder = LOCAL_CHAIN_DIR / "node_modules" / EAS_PACKAGE
    if not (folder / "contracts" / "EAS.sol").is_file() or not (LOCAL_CHAIN_DIR / "node_modules" / OZ_ALIAS).is_dir():
        raise ConfigError(f"{EAS_PACKAGE} is not installed in {LOCAL_CHAIN_DIR}: run scripts/setup.sh --dev")
    return folder


def version() -> str:
    """The pinned EAS package version."""
    body = json.loads((package_dir() / "package.json").read_text(encoding="utf-8"))
    return str(body["version"])


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ipreg" / "eas"


def compile_eas() -> tuple[dict[str, dict[str, Any]], bool]:
    """ABI and bytecode of ``SchemaRegistry`` and ``EAS``; (artifacts, from_cache)."""
    folder = package_dir()
    base = f"{EAS_PACKAGE}/contracts/"
    sources = {
        base + name: {"content": (folder / "contracts" / name).read_text(encoding="utf-8")}
        for name in ("EAS.sol", "SchemaRegistry.sol")
    }
    standard = {"language": "Solidity", "sources": sources, "settings": _SETTINGS}
    key = hashlib.sha256(json.dumps(standard, sort_keys=True).encode() + version().encode()).hexdigest()[:24]
    cached = _cache_dir() / f"eas-{key}.json"
    if cached.is_file():
        try:
            body: dict[str, dict[str, Any]] = json.loads(cached.read_text(encoding="utf-8"))
            return body, True
        except ValueError:
            pass
    if not SOLC_EAS.is_file():
        raise ConfigError(f"{SOLC_EAS} is missing: run scripts/setup.sh --dev")
    import solcx

    output = solcx.compile_standard(standard, solc_binary=str(SOLC_EAS), allow_paths=str(LOCAL_CHAIN_DIR))
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ConfigError("EAS does not compile: " + errors[0].get("formattedMessage", errors[0]["message"]))
    out: dict[str, dict[str, Any]] = {}
    for name in ("EAS", "SchemaRegistry"):
        data = output["contracts"][f"{base}{name}.sol"][name]
        out[name] = {"abi": data["abi"], "bytecode": "0x" + data["evm"]["bytecode"]["object"]}
    write_atomic(cached, json.dumps(out).encode("utf-8"))
    return out, False


@dataclass
class EAS:
    """EAS deployed on a chain, with the comparison schema registered."""

    chain: Chain
    eas: Contract
    registry: Contract
    schema_uid: bytes
    deploy_gas: int
    root_schema_uid: bytes = b""

    @classmethod
    def deploy(cls, chain: Chain, deployer: LocalAccount) -> EAS:
        """Compile (or take from cache), deploy SchemaRegistry and EAS, register both comparison schemas."""
        artifacts, _ = compile_eas()
        w3 = chain.w3

        def create(name: str, *args: Any) -> tuple[str, TxResult]:
            factory = w3.eth.contract(abi=artifacts[name]["abi"], bytecode=artifacts[name]["bytecode"])
            tx = chain.build(deployer, data=factory.constructor(*args).data_in_transaction)
            result = chain.wait(chain.send(deployer, tx))
            address = chain.rpc(lambda: w3.eth.get_transaction_receipt(HexStr(result.transaction_hash)))[
                "contractAddress"
            ]
            return str(address), result

        reg_address, r1 = create("SchemaRegistry")
        eas_address, r2 = create("EAS", reg_address)
        registry = w3.eth.contract(
            address=Web3.to_checksum_address(reg_address), abi=artifacts["SchemaRegistry"]["abi"]
        )
        eas = w3.eth.contract(address=Web3.to_checksum_address(eas_address), abi=artifacts["EAS"]["abi"])
        uids = []
        for schema in (SCHEMA, ROOT_SCHEMA):
            chain.transact(deployer, registry.functions.register(schema, "0x" + "00" * 20, True))
            uid = Web3.solidity_keccak(["string", "address", "bool"], [schema, "0x" + "00" * 20, True])
            if registry.functions.getSchema(uid).call()[0] != uid:
                raise ConfigError("EAS schema registration did not produce the expected schema uid")
            uids.append(bytes(uid))
        return cls(chain, eas, registry, uids[0], r1.gas_used + r2.gas_used, uids[1])

    def _request_data(self, data: bytes) -> tuple[str, int, bool, bytes, bytes, int]:
        # recipient, expirationTime, revocable, refUID, data, value
        return ("0x" + "00" * 20, 0, True, b"\x00" * 32, data, 0)

    def attest(self, account: LocalAccount, data: bytes, schema_uid: bytes | None = None) -> TxResult:
        """One ``attest`` of ABI-encoded schema data (under :data:`SCHEMA` unless ``schema_uid``)."""
        fn = self.eas.functions.attest((schema_uid or self.schema_uid, self._request_data(data)))
        return self.chain.transact(account, fn)

    def multi_attest(self, account: LocalAccount, items: list[bytes]) -> TxResult:
        """One ``multiAttest`` of several records under the schema."""
        fn = self.eas.functions.multiAttest([(self.schema_uid, [self._request_data(d) for d in items])])
        return self.chain.transact(account, fn)
