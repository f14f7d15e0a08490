"""Deploy the registry from a genesis, record it, and check a deployment against the shipped code.

One job: turn a :class:`~registry.chain.genesis.Genesis` into contracts on a chain (OfficeRegistry, then
AnchorRegistry), wait until each step has its confirmations, and write a deployment record that
every command reads (``$IPREG_HOME/deployment.json``). :func:`verify_deployment` lets any office
check a deployment independently: the runtime code on chain equals a shipped artifact set (immutable
values masked), the creation transactions carry exactly the shipped creation code and the genesis'
constructor arguments, and the genesis events match the file.

The deployer key has no privilege in the contracts: it only pays for the two creations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD

from registry.chain.client import Chain, Deployment, office_bytes
from registry.chain.genesis import Genesis
from registry.errors import ChainError, ConfigError, TransactionTimeout
from registry.files.atomic import write_json_atomic
from registry.node.toolchain import DEFAULT_EVM_VERSION, EVM_VERSIONS

RECORD_FORMAT: Final = "ipreg-deployment-v1"
CONTRACTS: Final = ("OfficeRegistry", "AnchorRegistry")
#: Chain ids of local development nodes (anvil/hardhat 31337, ganache 1337): the dev preset's home.
LOCAL_CHAIN_IDS: Final = frozenset({31337, 1337})
_INVALID_OPCODE_HINTS: Final = ("invalid opcode", "opcode", "invalidopcode", "notactivated", "not activated")


# ---------------------------------------------------------------------------- artifacts


@cache
def artifact_set(evm_version: str = DEFAULT_EVM_VERSION) -> dict[str, dict[str, Any]]:
    """The shipped artifacts of one EVM version, by contract name."""
    if evm_version not in EVM_VERSIONS:
        raise ConfigError(f"no artifacts for evmVersion {evm_version!r} (shipped: {', '.join(EVM_VERSIONS)})")
    folder = resources.files("registry").joinpath("artifacts")
    if evm_version != DEFAULT_EVM_VERSION:
        folder = folder.joinpath(evm_version)
    return {name: json.loads(folder.joinpath(f"{name}.json").read_text(encoding="utf-8")) for name in CONTRACTS}


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
            args.append(Web3.to_checksum_address(predecessor or "0x" + "00" * 20))
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


# ---------------------------------------------------------------------------- record


@dataclass(frozen=True, slots=True)
class DeployStep:
    """One mined contract creation."""

    contract: str
    address: str
    transaction_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    code_hash: str

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase JSON."""
        return {
            "contract": self.contract,
            "address": self.address,
            "transactionHash": self.transaction_hash,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "gasUsed": self.gas_used,
            "codeHash": self.code_hash,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> DeployStep:
        """Inverse of :meth:`to_json`."""
        return cls(
            str(body["contract"]),
            str(body["address"]),
            str(body["transactionHash"]),
            int(body["blockNumber"]),
            str(body["blockHash"]),
            int(body["gasUsed"]),
            str(body["codeHash"]),
        )


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """A deployment with its provenance: genesis, EVM version, deployer, every step's transaction."""

    deployment: Deployment
    genesis: Genesis
    evm_version: str
    deployer: str
    steps: tuple[DeployStep, ...]
    deployed_at: str
    confirmations: int = 1
    predecessor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def step(self, contract: str) -> DeployStep | None:
        """The creation step of ``contract``."""
        return next((s for s in self.steps if s.contract == contract), None)

    def to_json(self) -> dict[str, Any]:
        """The file body: :class:`Deployment`'s keys (every command reads those) and the provenance."""
        return {
            **asdict(self.deployment),
            "format": RECORD_FORMAT,
            "evm_version": self.evm_version,
            "deployer": self.deployer,
            "deployed_at": self.deployed_at,
            "confirmations": self.confirmations,
            "predecessor": self.predecessor,
            "genesis_digest": self.genesis.digest(),
            "genesis": self.genesis.to_json(),
            "steps": [s.to_json() for s in self.steps],
            **self.extra,
        }

    def save(self, path: Path) -> None:
        """Write atomically."""
        write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> DeploymentRecord | None:
        """The record at ``path``; None for a bare deployment file (older ``ipreg deploy``, ``external``)."""
        deployment = Deployment.load(path)
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != RECORD_FORMAT:
            return None
        try:
            return cls(
                deployment,
                Genesis.from_json(body["genesis"]),
                str(body["evm_version"]),
                str(body["deployer"]),
                tuple(DeployStep.from_json(s) for s in body["steps"]),
                str(body["deployed_at"]),
                int(body.get("confirmations") or 1),
                body.get("predecessor"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"unreadable deployment record {path}: {exc}") from None

    def summary(self) -> dict[str, Any]:
        """What ``ipreg deploy`` prints: chain id, addresses, block, code hashes, gas per step."""
        return {
            "chainId": self.deployment.chain_id,
            "officeRegistry": self.deployment.office_registry,
            "anchorRegistry": self.deployment.anchor_registry,
            "blockNumber": self.deployment.block_number,
            "preset": self.deployment.preset,
            "evmVersion": self.evm_version,
            "deployer": self.deployer,
            "deployedAt": self.deployed_at,
            "confirmations": self.confirmations,
            "predecessor": self.predecessor,
            "genesisDigest": self.genesis.digest(),
            "offices": [o.code for o in self.genesis.offices],
            "governance": self.genesis.governance_json(),
            "requiredApprovals": self.genesis.rule.required(len(self.genesis.offices)),
            "steps": [s.to_json() for s in self.steps],
            "gasUsed": sum(s.gas_used for s in self.steps),
        }


# ---------------------------------------------------------------------------- deploy


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def wait_confirmed(chain: Chain, tx_hash: str, confirmations: int, timeout: float, poll: float = 0.2) -> dict[str, Any]:
    """The receipt of ``tx_hash`` once its block has ``confirmations`` blocks (itself included).

    Re-reads the receipt after the wait, so a transaction moved by a reorganisation is followed to
    its new block; raises :class:`TransactionTimeout` if that does not happen within ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    w3 = chain.w3
    while True:
        try:
            receipt = chain.rpc(lambda: w3.eth.get_transaction_receipt(HexStr(tx_hash)))
        except TransactionNotFound:
            receipt = None
        if receipt is not None:
            if receipt["status"] != 1:
                raise ChainError(f"deployment transaction {tx_hash} reverted in block {receipt['blockNumber']}")
            number = int(receipt["blockNumber"])
            head = chain.rpc(lambda: w3.eth.block_number)
            if head >= number + confirmations - 1:
                canonical = chain.rpc(lambda: w3.eth.get_block(number))  # noqa: B023 - called at once
                if _hex(canonical["hash"]) == _hex(receipt["blockHash"]):
                    return dict(receipt)
        if time.monotonic() > deadline:
            state = "not mined" if receipt is None else f"in block {receipt['blockNumber']}, not yet confirmed"
            raise TransactionTimeout(
                f"deployment transaction {tx_hash} {state} after {timeout:.0f} s waiting for {confirmations}"
                " confirmation(s) (a node that mines only on demand needs --confirmations 1)"
            )
        time.sleep(poll)


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
    receipt = wait_confirmed(chain, chain.send(deployer, tx), confirmations, timeout)
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
    chain._bind(deployment)
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


# ---------------------------------------------------------------------------- verify


@dataclass(frozen=True, slots=True)
class Check:
    """One finding of :func:`verify_deployment`: passed or not, and why, in words."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """JSON."""
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def _code(chain: Chain, address: str) -> bytes:
    return bytes(chain.rpc(lambda: chain.w3.eth.get_code(Web3.to_checksum_address(address))))


def _code_checks(chain: Chain, contract: str, address: str, expected_version: str | None) -> tuple[list[Check], str]:
    code = _code(chain, address)
    if not code:
        return [Check(f"{contract}.code", False, f"no contract at {address}")], ""
    found = matching_set(contract, code)
    if found is None:
        return [Check(f"{contract}.code", False, f"the code at {address} is none of the shipped builds")], ""
    if expected_version is not None and found != expected_version:
        detail = f"the code at {address} is the shipped {found} build, the record says {expected_version}"
        return [Check(f"{contract}.code", False, detail)], found
    code_hash = Web3.keccak(code).to_0x_hex()
    detail = f"{address} holds the shipped {found} build (code hash {code_hash})"
    return [Check(f"{contract}.code", True, detail)], found


def _creation_check(chain: Chain, step: DeployStep, evm_version: str, args: Sequence[Any]) -> Check:
    name = f"{step.contract}.creation"
    try:
        tx = chain.rpc(lambda: chain.w3.eth.get_transaction(HexStr(step.transaction_hash)))
        receipt = chain.rpc(lambda: chain.w3.eth.get_transaction_receipt(HexStr(step.transaction_hash)))
    except TransactionNotFound:
        return Check(name, False, f"creation transaction {step.transaction_hash} is not on this chain")
    if tx.get("to") is not None or str(receipt["contractAddress"]).lower() != step.address.lower():
        return Check(name, False, f"transaction {step.transaction_hash} did not create {step.address}")
    expected = creation_data(chain.w3, step.contract, evm_version, args)
    if _hex(tx["input"]) != expected.lower():
        return Check(
            name, False, f"transaction {step.transaction_hash} carries other creation code or constructor arguments"
        )
    return Check(name, True, f"created by {step.transaction_hash} with the shipped code and these genesis arguments")


def _genesis_checks(chain: Chain, genesis: Genesis, step: DeployStep | None) -> list[Check]:
    """Offices, signers and rule on chain against ``genesis`` (the creation's events if known).

    The rule is read as it is now: a later ``set-rule`` by governance shows as a difference.
    """
    checks: list[Check] = []
    rule = chain.rule()
    checks.append(
        Check(
            "genesis.rule",
            rule == genesis.rule,
            f"rule on chain {rule.as_tuple()}, genesis {genesis.rule.as_tuple()}"
            " (numerator, denominator, minApprovals, ttlBlocks)",
        )
    )
    if step is not None:
        receipt = chain.rpc(lambda: chain.w3.eth.get_transaction_receipt(HexStr(step.transaction_hash)))
        own = chain.offices.address.lower()
        admitted = [
            (bytes(e["args"]["office"]).decode("ascii"), str(e["args"]["name"]), str(e["args"]["baseURI"]))
            for e in chain.offices.events.OfficeAdmitted().process_receipt(receipt, errors=DISCARD)
            if str(e["address"]).lower() == own
        ]
        signers = sorted(
            (bytes(e["args"]["office"]).decode("ascii"), str(e["args"]["signer"]).lower())
            for e in chain.offices.events.SignerAdded().process_receipt(receipt, errors=DISCARD)
            if str(e["address"]).lower() == own
        )
        source = f"events of {step.transaction_hash}"
    else:
        codes = chain.office_codes()[: len(genesis.offices)]
        admitted = [(c, *chain.office_info(c)[:2]) for c in codes]
        signers = sorted(
            (o.code, s.lower())
            for o in genesis.offices
            for s in o.signers
            if chain.was_signer_at(o.code, s, chain.deployment.block_number if chain.deployment else 0)
        )
        source = "current state (no creation transaction recorded)"
    wanted = [(o.code, o.name, o.base_uri) for o in genesis.offices]
    checks.append(
        Check(
            "genesis.offices",
            admitted == wanted,
            f"{source}: admitted {', '.join(a[0] for a in admitted) or 'none'}"
            + ("" if admitted == wanted else f"; the genesis lists {', '.join(w[0] for w in wanted)} (or other names)"),
        )
    )
    wanted_signers = sorted((o.code, s.lower()) for o in genesis.offices for s in o.signers)
    checks.append(
        Check(
            "genesis.signers",
            signers == wanted_signers,
            f"{len(signers)} genesis signer(s) on chain, {len(wanted_signers)} in the genesis"
            + ("" if signers == wanted_signers else ": they differ"),
        )
    )
    return checks


def _zero(address: str) -> bool:
    return int(address, 16) == 0


def migration_checks(chain: Chain, record: DeploymentRecord | None) -> list[Check]:
    """The links to the previous and next registry version, each checked from both ends.

    A predecessor is this registry's *own* claim (constructor, immutable); it is confirmed only when
    governance of the predecessor froze it in favour of this registry. A registry that names a
    predecessor frozen in favour of another registry is an imposter and fails.
    """
    dep = chain.deployment
    assert dep is not None
    checks: list[Check] = []
    claimed = chain.predecessor()
    recorded = record.predecessor if record is not None else None
    if recorded is not None and recorded.lower() != claimed.lower():
        checks.append(Check("migration.predecessor", False, f"the record says {recorded}, the contract {claimed}"))
    if not _zero(claimed):
        try:
            previous = Chain.for_registry(chain.w3, claimed, retries=chain.retries)
        except ConfigError as exc:
            return [*checks, Check("migration.predecessor", False, f"predecessor {claimed}: {exc}")]
        if matching_set("AnchorRegistry", _code(chain, claimed)) is None:
            checks.append(Check("migration.predecessor", False, f"predecessor {claimed} is not a shipped build"))
        frozen, successor = previous.frozen_at(), previous.successor()
        if frozen == 0:
            checks.append(
                Check(
                    "migration.predecessor",
                    True,
                    f"predecessor {claimed} is not frozen yet (it accepts anchors until its governance freezes it"
                    " in favour of this registry)",
                )
            )
        elif successor.lower() == dep.anchor_registry.lower():
            checks.append(
                Check("migration.predecessor", True, f"predecessor {claimed} frozen at block {frozen} for this one")
            )
        else:
            checks.append(
                Check(
                    "migration.predecessor",
                    False,
                    f"predecessor {claimed} was frozen at block {frozen} in favour of {successor}, not this registry",
                )
            )
    frozen = chain.frozen_at()
    if frozen != 0:
        successor = chain.successor()
        try:
            back = Chain.for_registry(chain.w3, successor, retries=chain.retries).predecessor()
        except ConfigError:
            back = "none"
        linked = back.lower() == dep.anchor_registry.lower()
        checks.append(
            Check(
                "migration.successor",
                linked,
                f"frozen at block {frozen} in favour of {successor}"
                + (", which names this registry as its predecessor" if linked else f", whose predecessor is {back}"),
            )
        )
    return checks


def verify_deployment(chain: Chain, record: DeploymentRecord | None, genesis: Genesis | None = None) -> list[Check]:
    """Every check of a deployment; all ``ok`` means the chain holds the shipped code with this genesis.

    ``chain`` is bound to the deployment. ``record`` (the deployment file's provenance, if any) says
    where to look; everything is read again from the chain. ``genesis`` (an office's own file) is
    compared with the chain; without it the recorded genesis is.
    """
    dep = chain.deployment
    if dep is None:
        raise ConfigError("no deployment to verify: run `ipreg deploy` first or give --deployment FILE")
    checks: list[Check] = []
    chain_id = int(chain.rpc(lambda: chain.w3.eth.chain_id))
    checks.append(Check("chainId", chain_id == dep.chain_id, f"endpoint chain {chain_id}, deployment {dep.chain_id}"))
    if genesis is not None and genesis.chain_id is not None:
        checks.append(
            Check("genesis.chainId", genesis.chain_id == chain_id, f"genesis {genesis.chain_id}, endpoint {chain_id}")
        )
    expected_version = record.evm_version if record else None
    office_checks, office_version = _code_checks(chain, "OfficeRegistry", dep.office_registry, expected_version)
    anchor_checks, anchor_version = _code_checks(chain, "AnchorRegistry", dep.anchor_registry, expected_version)
    checks += office_checks + anchor_checks
    if not (office_version and anchor_version):
        return checks
    linked = str(chain.rpc(lambda: chain.anchors.functions.offices().call()))
    checks.append(
        Check(
            "AnchorRegistry.offices",
            linked.lower() == dep.office_registry.lower(),
            f"AnchorRegistry reads offices from {linked}",
        )
    )
    if record is not None and genesis is not None and record.genesis.digest() != genesis.digest():
        checks.append(
            Check(
                "genesis.file",
                False,
                f"the file's genesis {genesis.digest()} is not the recorded one {record.genesis.digest()}",
            )
        )
    wanted = genesis or (record.genesis if record else None)
    if wanted is None:
        checks.append(Check("genesis", False, "no genesis to compare: give --genesis FILE"))
        return checks
    office_step = record.step("OfficeRegistry") if record else None
    anchor_step = record.step("AnchorRegistry") if record else None
    if office_step is not None:
        checks.append(_creation_check(chain, office_step, office_version, constructor_args("OfficeRegistry", wanted)))
    if anchor_step is not None and record is not None:
        args = constructor_args("AnchorRegistry", wanted, dep.office_registry, record.predecessor)
        checks.append(_creation_check(chain, anchor_step, anchor_version, args))
    checks += _genesis_checks(chain, wanted, office_step)
    checks += migration_checks(chain, record)
    return checks
