"""The deployment file: where the contracts live (:class:`Deployment`) and how they got there.

``ipreg deploy`` writes ``$IPREG_HOME/deployment.json``; every other command reads its
:class:`Deployment` keys. A file written from a genesis also carries the provenance
(:class:`DeploymentRecord`: genesis, EVM version, deployer, each creation step) that
``ipreg deployment verify`` checks. Reading and writing only; no chain access.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from registry.errors import ConfigError
from registry.files.atomic import write_json_atomic

if TYPE_CHECKING:  # read with a deployment record only (every command loads a Deployment: start-up time)
    from registry.chain.genesis import Genesis

RECORD_FORMAT: Final = "ipreg-deployment-v1"


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where the contracts live; written by ``ipreg deploy`` and read by every other command."""

    chain_id: int
    office_registry: str
    anchor_registry: str
    block_number: int
    preset: str = "dev"

    def save(self, path: Path) -> None:
        """Write atomically."""
        write_json_atomic(path, {k: v for k, v in asdict(self).items()})

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Read; raise ConfigError if missing or malformed."""
        if not path.is_file():
            raise ConfigError(f"no deployment at {path}: run `ipreg deploy` first (or set IPREG_HOME)")
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(cls)}  # a DeploymentRecord's file carries more
            return cls(**{k: v for k, v in body.items() if k in known})
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"unreadable deployment file {path}: {exc}") from None


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
        from registry.chain.genesis import Genesis

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
