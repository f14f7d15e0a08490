"""A Hyperledger Besu QBFT network for a consortium genesis: the files, derived, never hand-edited.

``local-chain/besu/network.toml`` says who runs which validator node (one per office: its node's
public key, host and ports) and the chain's parameters; the registry's genesis TOML says which
offices and signer keys exist. :func:`network_files` derives from both the Besu ``genesis.json``
(QBFT ``extraData`` naming the validators, zero base fee, prefunded office signers and deployer),
``permissions_config.toml`` (node and account allowlists) and ``static-nodes.json``, so that the
chain and the registry cannot disagree on who takes part. ``scripts/make_besu_network.py`` writes
them; a test checks the committed files are exactly what this module derives.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import rlp
from eth_keys.datatypes import PublicKey
from eth_utils.address import to_checksum_address

from registry.chain.genesis import Genesis, GenesisError

NETWORK_FORMAT: Final = "ipreg-besu-network-v1"
#: QBFT's fixed mixHash ("ctical byzantine fault tolerance"), required by Besu for QBFT genesis blocks.
QBFT_MIX_HASH: Final = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
#: Pre-Shanghai milestones: the ``paris`` artifact set uses no opcode newer than London.
MILESTONES: Final = (
    "homesteadBlock",
    "eip150Block",
    "eip155Block",
    "eip158Block",
    "byzantiumBlock",
    "constantinopleBlock",
    "petersburgBlock",
    "istanbulBlock",
    "muirGlacierBlock",
    "berlinBlock",
    "londonBlock",
)


@dataclass(frozen=True, slots=True)
class Validator:
    """One office's validator node: its node public key (not its signer key), host and ports."""

    office: str
    public_key: str
    host: str
    p2p_port: int
    rpc_url: str

    @property
    def address(self) -> str:
        """The validator address QBFT knows: keccak of the node public key, last 20 bytes."""
        key = PublicKey(bytes.fromhex(self.public_key.removeprefix("0x")))
        return str(key.to_checksum_address())

    @property
    def enode(self) -> str:
        """The node's enode URL."""
        return f"enode://{self.public_key.removeprefix('0x')}@{self.host}:{self.p2p_port}"


@dataclass(frozen=True, slots=True)
class Network:
    """The parsed ``network.toml``."""

    genesis_file: Path
    block_period_seconds: int
    request_timeout_seconds: int
    epoch_length: int
    gas_limit: int
    deployer: str
    prefund_wei: int
    validators: tuple[Validator, ...]

    @classmethod
    def load(cls, path: Path) -> Network:
        """Read ``network.toml``; ``genesis`` is relative to its folder."""
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise GenesisError(f"{path}: {exc}") from None
        if doc.get("format") != NETWORK_FORMAT:
            raise GenesisError(f"{path}: format must be {NETWORK_FORMAT!r}")
        try:
            validators = tuple(
                Validator(str(v["office"]), str(v["enode_public_key"]), str(v["host"]), int(v["p2p_port"]),
                          str(v["rpc_url"]))
                for v in doc["validators"]
            )  # fmt: skip
            network = cls(
                (path.parent / str(doc["genesis"])).resolve(),
                int(doc["block_period_seconds"]),
                int(doc["request_timeout_seconds"]),
                int(doc["epoch_length"]),
                int(doc["gas_limit"]),
                str(to_checksum_address(str(doc["deployer"]))),
                int(str(doc["prefund_wei"]), 0),
                validators,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GenesisError(f"{path}: {exc}") from None
        for v in network.validators:
            if len(bytes.fromhex(v.public_key.removeprefix("0x"))) != 64:
                raise GenesisError(f"{path}: validator of {v.office} needs a 64-byte node public key")
        return network


def extra_data(validators: list[str]) -> str:
    """QBFT genesis ``extraData``: RLP([32-byte vanity, [validators], no vote, round 0, no seals])."""
    body = [b"\x00" * 32, [bytes.fromhex(a.removeprefix("0x")) for a in validators], [], b"", []]
    return "0x" + bytes(rlp.encode(body)).hex()


def decode_extra_data(value: str) -> list[str]:
    """The validator addresses named by a QBFT ``extraData``."""
    decoded = rlp.decode(bytes.fromhex(value.removeprefix("0x")))
    return [str(to_checksum_address(bytes(a))) for a in decoded[1]]


def check_consistency(network: Network, genesis: Genesis) -> None:
    """Validators = offices, one each; raise GenesisError naming the first disagreement."""
    offices = [o.code for o in genesis.offices]
    nodes = [v.office for v in network.validators]
    if sorted(nodes) != sorted(offices) or len(set(nodes)) != len(nodes):
        raise GenesisError(f"validators of {', '.join(nodes)} but genesis offices {', '.join(offices)}: one each")
    if genesis.chain_id is None:
        raise GenesisError("the genesis names no chain_id; a Besu network needs one")
    if genesis.evm_version != "paris":
        raise GenesisError(f"the genesis asks for the {genesis.evm_version} build; this network runs London (paris)")
    if not 2 <= network.block_period_seconds <= 5:
        raise GenesisError(f"block period {network.block_period_seconds} s is outside 2-5 s")
    if network.request_timeout_seconds <= network.block_period_seconds:
        raise GenesisError("the QBFT round timeout must exceed the block period")


def network_files(network: Network, genesis: Genesis) -> dict[str, str]:
    """``{file name: text}`` of the derived Besu files (stable formatting)."""
    check_consistency(network, genesis)
    by_office = {v.office: v for v in network.validators}
    ordered = [by_office[o.code] for o in genesis.offices]
    accounts = [network.deployer] + [s for o in genesis.offices for s in o.signers]
    config: dict[str, Any] = {"chainId": genesis.chain_id}
    config |= {m: 0 for m in MILESTONES}
    config |= {
        "zeroBaseFee": True,
        "qbft": {
            "blockperiodseconds": network.block_period_seconds,
            "epochlength": network.epoch_length,
            "requesttimeoutseconds": network.request_timeout_seconds,
        },
    }
    besu_genesis = {
        "config": config,
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": hex(network.gas_limit),
        "difficulty": "0x1",
        "mixHash": QBFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "alloc": {a.lower().removeprefix("0x"): {"balance": hex(network.prefund_wei)} for a in accounts},
        "extraData": extra_data([v.address for v in ordered]),
    }
    allow_accounts = ",\n  ".join(f'"{a}"' for a in accounts)
    allow_nodes = ",\n  ".join(f'"{v.enode}"' for v in ordered)
    permissions = (
        "# Derived by scripts/make_besu_network.py from network.toml and the genesis TOML: do not edit.\n"
        "# Accounts that may send transactions: the deployer and every genesis office signer.\n"
        f"accounts-allowlist=[\n  {allow_accounts}\n]\n"
        "# Nodes that may connect: one validator per office.\n"
        f"nodes-allowlist=[\n  {allow_nodes}\n]\n"
    )
    return {
        "genesis.json": json.dumps(besu_genesis, indent=2) + "\n",
        "permissions_config.toml": permissions,
        "static-nodes.json": json.dumps([v.enode for v in ordered], indent=2) + "\n",
    }


def write_network(network_toml: Path, out_dir: Path | None = None) -> list[Path]:
    """Derive and write the Besu files next to ``network.toml`` (or into ``out_dir``)."""
    network = Network.load(network_toml)
    files = network_files(network, Genesis.load(network.genesis_file))
    out_dir = out_dir or network_toml.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
