"""Deploy the registry from a genesis: the one deployer, for ``ipreg deploy``, the dev preset and tests.

One job: turn a :class:`~registry.chain.genesis.Genesis` into contracts on a chain (OfficeRegistry, then
AnchorRegistry), wait until each step has its confirmations (:meth:`Chain.confirmed`, which follows a
reorganisation), check each step holds the shipped runtime code, and return the
:class:`~registry.chain.deployments.DeploymentRecord` that ``ipreg deploy`` writes
(``$IPREG_HOME/deployment.json``). :func:`deploy` refuses what ipreg must not do (another chain than
the genesis', a predecessor already frozen); :func:`deploy_offices` hands the contracts whatever it is
given (the constructors judge), :func:`deploy_dev` deploys the dev preset. Checking a deployment
afterwards is :mod:`registry.chain.deploy_checks`.

The deployer key has no privilege in the contracts: it only pays for the two creations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from web3 import Web3

from registry.chain.artifacts import artifact_set, matching_set
from registry.chain.client import Chain
from registry.chain.deployments import Deployment, DeploymentRecord, DeployStep
from registry.chain.dev import DEV_RULE, dev_account
from registry.chain.genesis import Genesis, GenesisOffice
from registry.chain.payloads import office_bytes
from registry.core.contract import ZERO_ADDRESS, GovernanceRule
from registry.errors import ChainError, ConfigError, TransactionTimeout
from registry.node.toolchain import DEFAULT_EVM_VERSION

_INVALID_OPCODE_HINTS: Final = ("invalid opcode", "opcode", "invalidopcode", "notactivated", "not activated")


# ---------------------------------------------------------------------------- creation code


def constructor_args(
    contract: str, genesis: Genesis, office_registry: str | None = None, predecessor: str | None = None
) -> list[Any]:
    """The constructor arguments of ``contract`` for ``genesis``: the one place that maps genesis to ABI.

    ``predecessor`` is the AnchorRegistry this one succeeds (migration), for contracts that take it.
    """
    if contract == "OfficeRegistry":
        return [
            [office_bytes(o.code) for o in genesis.offices],
            [o.name for o in genesis.offices],
            [o.base_uri for o in genesis.offices],
            [Web3.to_checksum_address(o.signers[0]) for o in genesis.offices],
            genesis.rule.as_tuple(),
        ]
    if contract == "AnchorRegistry":
        if office_registry is None:
            raise ValueError("AnchorRegistry needs the OfficeRegistry address")
        args: list[Any] = [Web3.to_checksum_address(office_registry)]
        inputs = _constructor_inputs("AnchorRegistry")
        if len(inputs) == 2:  # (officeRegistry, predecessor) once migration is in the contract
            args.append(Web3.to_checksum_address(predecessor or ZERO_ADDRESS))
        elif predecessor is not None:
            raise ConfigError("the shipped AnchorRegistry cannot name a predecessor")
        return args
    raise ValueError(f"unknown contract {contract}")


def _constructor_inputs(contract: str) -> list[dict[str, Any]]:
    abi = artifact_set()[contract]["abi"]
    ctor = next((item for item in abi if item["type"] == "constructor"), None)
    return list(ctor["inputs"]) if ctor else []


def creation_data(w3: Web3, contract: str, evm_version: str, args: Sequence[Any]) -> str:
    """Creation code of the shipped artifact followed by the ABI-encoded constructor arguments."""
    art = artifact_set(evm_version)[contract]
    data: str = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(*args).data_in_transaction
    return data


# ---------------------------------------------------------------------------- deploy


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _create(
    chain: Chain,
    deployer: LocalAccount,
    contract: str,
    evm_version: str,
    args: Sequence[Any],
    confirmations: int,
    timeout: float,
) -> DeployStep:
    data = creation_data(chain.w3, contract, evm_version, args)
    try:
        tx = chain.build(deployer, data=data)
    except ChainError as exc:
        text = str(exc).lower()
        if evm_version != "paris" and any(h in text for h in _INVALID_OPCODE_HINTS):
            raise ChainError(
                f"the node rejects the {evm_version} build of {contract} ({str(exc)[:120]}): its EVM is older;"
                " deploy the portable build with --evm-version paris"
            ) from None
        raise
    tx_hash = chain.send(deployer, tx)
    try:
        receipt, _block = chain.confirmed(tx_hash, confirmations, timeout, what="deployment transaction")
    except TransactionTimeout as exc:
        raise TransactionTimeout(f"{exc} (a node that mines only on demand needs --confirmations 1)") from None
    address = str(receipt["contractAddress"])
    code = bytes(chain.rpc(lambda: chain.w3.eth.get_code(Web3.to_checksum_address(address))))
    if matching_set(contract, code) != evm_version:
        raise ChainError(f"{contract} at {address} does not hold the shipped {evm_version} runtime code")
    return DeployStep(
        contract,
        address,
        _hex(receipt["transactionHash"]),
        int(receipt["blockNumber"]),
        _hex(receipt["blockHash"]),
        int(receipt["gasUsed"]),
        Web3.keccak(code).to_0x_hex(),
    )


def deploy(
    chain: Chain,
    deployer: LocalAccount,
    genesis: Genesis,
    *,
    evm_version: str | None = None,
    confirmations: int = 1,
    preset: str = "genesis",
    predecessor: str | None = None,
    timeout: float = 300.0,
    on_step: Callable[[DeployStep], None] | None = None,
) -> DeploymentRecord:
    """Deploy OfficeRegistry with ``genesis`` and AnchorRegistry over it; bind ``chain`` to them.

    Refuses a chain other than ``genesis.chain_id``. Each creation waits for ``confirmations`` and is
    checked to hold the shipped runtime code before the next step.
    """
    evm_version = evm_version or genesis.evm_version
    artifact_set(evm_version)  # unknown version: ConfigError before any transaction
    chain_id = int(chain.rpc(lambda: chain.w3.eth.chain_id))
    if genesis.chain_id is not None and genesis.chain_id != chain_id:
        raise ConfigError(f"the genesis is for chain {genesis.chain_id}, the endpoint serves chain {chain_id}")
    if confirmations < 1:
        raise ConfigError(f"confirmations must be at least 1, got {confirmations}")
    if predecessor is not None:
        previous = Chain.for_registry(chain.w3, predecessor, retries=chain.retries)  # an AnchorRegistry here
        if previous.frozen_at() != 0:
            raise ConfigError(
                f"predecessor {predecessor} is already frozen in favour of {previous.successor()}: deploy no"
                " second successor"
            )
    return _deploy(chain, deployer, genesis, evm_version, confirmations, preset, predecessor, timeout, on_step)


def _deploy(
    chain: Chain,
    deployer: LocalAccount,
    genesis: Genesis,
    evm_version: str,
    confirmations: int,
    preset: str,
    predecessor: str | None,
    timeout: float,
    on_step: Callable[[DeployStep], None] | None,
) -> DeploymentRecord:
    """The two creations, each confirmed and checked before the next; ``chain`` bound to them after."""
    chain_id = int(chain.rpc(lambda: chain.w3.eth.chain_id))
    steps: list[DeployStep] = []
    office_args = constructor_args("OfficeRegistry", genesis)
    steps.append(_create(chain, deployer, "OfficeRegistry", evm_version, office_args, confirmations, timeout))
    if on_step is not None:
        on_step(steps[-1])
    anchor_args = constructor_args("AnchorRegistry", genesis, steps[0].address, predecessor)
    steps.append(_create(chain, deployer, "AnchorRegistry", evm_version, anchor_args, confirmations, timeout))
    if on_step is not None:
        on_step(steps[-1])
    deployment = Deployment(chain_id, steps[0].address, steps[1].address, steps[0].block_number, preset)
    chain.bind(deployment)
    return DeploymentRecord(
        deployment,
        genesis,
        evm_version,
        str(deployer.address),
        tuple(steps),
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        confirmations,
        predecessor,
    )


def deploy_offices(
    chain: Chain,
    deployer: LocalAccount,
    offices: Sequence[tuple[str, str, str, str]],
    rule: GovernanceRule = DEV_RULE,
    preset: str = "dev",
    predecessor: str | None = None,
) -> Deployment:
    """Deploy genesis ``offices`` ``(code, name, baseURI, signer)`` under ``rule`` exactly as given.

    No genesis or predecessor checks: the contracts' constructors judge (a revert raises its typed
    error from ``registry.chain.reverts``). ``predecessor`` is the AnchorRegistry this one succeeds.
    """
    genesis = Genesis(tuple(GenesisOffice(code, name, uri, (signer,)) for code, name, uri, signer in offices), rule)
    record = _deploy(chain, deployer, genesis, DEFAULT_EVM_VERSION, 1, preset, predecessor, 300.0, None)
    return record.deployment


def deploy_dev(chain: Chain, extra: tuple[str, ...] = ()) -> Deployment:
    """The dev preset: genesis EP, US, JP, EM, WO, each with one anvil dev account, ``DEV_RULE``; ``extra``
    evaluation offices (``EVAL_OFFICES``) join the genesis."""
    return deploy(chain, dev_account(0), Genesis.dev(extra), preset="dev").deployment
