"""Check a deployment against the shipped code and a genesis, from the chain alone.

:func:`verify_deployment` lets any office check a deployment independently: the runtime code on
chain equals a shipped artifact set (immutable values masked), the creation transactions carry
exactly the shipped creation code and the genesis' constructor arguments, the genesis events match
the file, and the links to a predecessor or successor registry hold from both ends. Reads only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD

from registry.chain.artifacts import matching_release, matching_set
from registry.chain.client import Chain
from registry.chain.deploy import constructor_args, creation_data
from registry.chain.deployments import DeploymentRecord, DeployStep
from registry.chain.genesis import Genesis
from registry.errors import ConfigError


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
    if bytes(tx["input"]) != bytes.fromhex(expected.removeprefix("0x")):
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
        if matching_release("AnchorRegistry", _code(chain, claimed)) is None:
            checks.append(
                Check(
                    "migration.predecessor", False, f"predecessor {claimed} is neither a shipped nor a released build"
                )
            )
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
