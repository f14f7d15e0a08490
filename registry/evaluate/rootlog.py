"""RootLog, the bare event-only alternative (``contracts/eval/RootLog.sol``): compiled at run time and deployed.

Evaluation only: the contract is not one of the product's deployed contracts and no artifact of it is
shipped. It is compiled with the project's pinned solcjs (``local-chain/solc``) and the shipped
artifacts' settings, so its gas is comparable with AnchorRegistry's; the output is cached by the hash
of the compiler input, like EAS's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.contract import Contract

from registry.chain.client import Chain, TxResult
from registry.errors import ConfigError
from registry.evaluate.eas import _cache_dir
from registry.files.atomic import write_atomic
from registry.node.toolchain import CONTRACTS_DIR, SETTINGS, SOLC_WRAPPER

SOURCE = CONTRACTS_DIR / "eval" / "RootLog.sol"
NAME = "RootLog"


def compile_rootlog() -> tuple[dict[str, Any], bool]:
    """ABI and creation bytecode of RootLog; (artifact, from_cache)."""
    if not SOURCE.is_file():
        raise ConfigError(f"{SOURCE} is missing (the evaluation's RootLog contract)")
    settings = {**SETTINGS, "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}
    standard = {
        "language": "Solidity",
        "sources": {"RootLog.sol": {"content": SOURCE.read_text()}},
        "settings": settings,
    }
    key = hashlib.sha256(json.dumps(standard, sort_keys=True).encode()).hexdigest()[:24]
    cached = _cache_dir().parent / "rootlog" / f"rootlog-{key}.json"
    if cached.is_file():
        try:
            body: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
            return body, True
        except ValueError:
            pass
    if not SOLC_WRAPPER.is_file():
        raise ConfigError(f"{SOLC_WRAPPER} is missing: run scripts/setup.sh --dev")
    import solcx

    output = solcx.compile_standard(standard, solc_binary=str(SOLC_WRAPPER))
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ConfigError("RootLog does not compile: " + errors[0].get("formattedMessage", errors[0]["message"]))
    data = output["contracts"]["RootLog.sol"][NAME]
    out = {"abi": data["abi"], "bytecode": "0x" + data["evm"]["bytecode"]["object"]}
    write_atomic(cached, json.dumps(out).encode("utf-8"))
    return out, False


@dataclass
class RootLog:
    """RootLog deployed on a chain."""

    chain: Chain
    contract: Contract
    deploy_gas: int

    @classmethod
    def deploy(cls, chain: Chain, deployer: LocalAccount) -> RootLog:
        """Compile (or take from cache) and deploy."""
        artifact, _ = compile_rootlog()
        w3 = chain.w3
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        result = chain.wait(chain.send(deployer, chain.build(deployer, data=factory.constructor().data_in_transaction)))
        receipt = chain.rpc(lambda: w3.eth.get_transaction_receipt(HexStr(result.transaction_hash)))
        address = Web3.to_checksum_address(str(receipt["contractAddress"]))
        return cls(chain, w3.eth.contract(address=address, abi=artifact["abi"]), result.gas_used)

    def log_root(self, account: LocalAccount, root: bytes, count: int, uri: str) -> TxResult:
        """One ``logRoot``."""
        return self.chain.transact(account, self.contract.functions.logRoot(root, count, uri))
