"""The Besu QBFT specification in local-chain/besu/ parses and agrees with the genesis TOML.

Besu cannot run here; what can be checked is that the committed files are exactly what
``registry.chain.besu`` derives, that validators are the offices (one node each, addresses from the node
public keys), that only the genesis accounts may transact, that gas is free and blocks come every
2-5 s, and that the network's EVM (London) runs the build the genesis asks for (``paris``: no
opcode newer than London; deployed on anvil ``--hardfork london`` in test_deploy_cli.py).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest
from eth_keys.datatypes import PublicKey

from registry.chain.besu import (
    MILESTONES,
    QBFT_MIX_HASH,
    Network,
    check_consistency,
    decode_extra_data,
    network_files,
    write_network,
)
from registry.chain.genesis import Genesis, GenesisError
from registry.node.toolchain import REPO_ROOT

BESU = REPO_ROOT / "local-chain" / "besu"
NETWORK = BESU / "network.toml"


@pytest.fixture(scope="module")
def network() -> Network:
    return Network.load(NETWORK)


@pytest.fixture(scope="module")
def genesis(network: Network) -> Genesis:
    assert network.genesis_file == (REPO_ROOT / "local-chain" / "genesis.example.toml").resolve()
    return Genesis.load(network.genesis_file)


def test_committed_files_are_derived(tmp_path: Path) -> None:
    for path in write_network(NETWORK, tmp_path):
        assert path.read_bytes() == (BESU / path.name).read_bytes(), f"{path.name}: run scripts/make_besu_network.py"


def test_genesis_json(network: Network, genesis: Genesis) -> None:
    body = json.loads((BESU / "genesis.json").read_text())
    config = body["config"]
    assert config["chainId"] == genesis.chain_id == 20260
    assert all(config[m] == 0 for m in MILESTONES)
    assert not {k for k in config if k.endswith("Time")}  # no Shanghai/Cancun/Prague: a London EVM
    assert genesis.evm_version == "paris"
    assert config["zeroBaseFee"] is True
    qbft = config["qbft"]
    assert 2 <= qbft["blockperiodseconds"] <= 5 < qbft["requesttimeoutseconds"] + 2
    assert body["mixHash"] == QBFT_MIX_HASH and body["difficulty"] == "0x1"
    validators = decode_extra_data(body["extraData"])
    by_office = {v.office: v for v in network.validators}
    assert validators == [by_office[o.code].address for o in genesis.offices]  # validators = offices, in order
    for v in network.validators:  # the address really is the node key's
        assert PublicKey(bytes.fromhex(v.public_key)).to_checksum_address() == v.address
    funded = {"0x" + a for a in body["alloc"]}
    signers = {s.lower() for o in genesis.offices for s in o.signers}
    assert funded == signers | {network.deployer.lower()}
    assert all(int(v["balance"], 16) >= 10**20 for v in body["alloc"].values())
    assert int(body["gasLimit"], 16) >= 10_000_000  # a 2.2 M-gas creation fits in a block


def test_permissions(network: Network, genesis: Genesis) -> None:
    perms = tomllib.loads((BESU / "permissions_config.toml").read_text())
    accounts = [a.lower() for a in perms["accounts-allowlist"]]
    assert accounts == [network.deployer.lower()] + [s.lower() for o in genesis.offices for s in o.signers]
    pubkeys = [e.removeprefix("enode://").split("@")[0] for e in perms["nodes-allowlist"]]
    assert sorted(pubkeys) == sorted(v.public_key for v in network.validators)
    assert json.loads((BESU / "static-nodes.json").read_text()) == perms["nodes-allowlist"]


def test_node_config() -> None:
    node = tomllib.loads((BESU / "node.toml").read_text())
    assert node["min-gas-price"] == 0
    assert node["permissions-nodes-config-file-enabled"] and node["permissions-accounts-config-file-enabled"]
    for key in (
        "genesis-file",
        "permissions-nodes-config-file",
        "permissions-accounts-config-file",
        "static-nodes-file",
    ):
        assert (BESU / Path(node[key]).name).is_file(), key
    assert "QBFT" in node["rpc-http-api"] and "PERM" in node["rpc-http-api"]
    assert node["discovery-enabled"] is False


def test_disagreements_are_refused(network: Network, genesis: Genesis) -> None:
    fewer = dataclasses.replace(network, validators=network.validators[:-1])
    with pytest.raises(GenesisError, match="one each"):
        check_consistency(fewer, genesis)
    twice = dataclasses.replace(network, validators=(*network.validators[:-1], network.validators[0]))
    with pytest.raises(GenesisError, match="one each"):
        network_files(twice, genesis)
    with pytest.raises(GenesisError, match="London"):
        check_consistency(network, dataclasses.replace(genesis, evm_version="prague"))
    with pytest.raises(GenesisError, match="chain_id"):
        check_consistency(network, dataclasses.replace(genesis, chain_id=None))
    with pytest.raises(GenesisError, match="outside 2-5"):
        check_consistency(dataclasses.replace(network, block_period_seconds=1), genesis)


def test_bad_network_file(tmp_path: Path) -> None:
    text = NETWORK.read_text()
    (tmp_path / "n.toml").write_text(text.replace('format = "ipreg-besu-network-v1"', 'format = "x"'))
    with pytest.raises(GenesisError, match="format"):
        Network.load(tmp_path / "n.toml")
    (tmp_path / "k.toml").write_text(text.replace("42fad0a7", "42", 1))
    with pytest.raises(GenesisError, match="64-byte"):
        Network.load(tmp_path / "k.toml")
