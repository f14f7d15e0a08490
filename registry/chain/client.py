"""Web3 client mirroring the contracts; contract errors become typed errors.

Talks JSON-RPC (any Ethereum node) or the in-process EVM (``embedded``). Signs locally with
eth-account; never logs keys. Decides nothing about what to anchor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from eth_typing import HexStr
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError
from web3.logs import DISCARD
from web3.types import BlockIdentifier, Wei

from registry.chain import reverts as contract_errors
from registry.config import EMBEDDED
from registry.core.batch import BatchInfo as BatchInfo
from registry.core.batch import utc_iso as utc_iso
from registry.core.contract import ACTIONS, OFFICE_STATUS
from registry.errors import ChainError, ConfigError, ContractRevertError, NodeUnavailableError, TransactionTimeout
from registry.files.atomic import write_json_atomic

#: Anvil's (and Hardhat's) public development mnemonic: for local dev presets only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_OFFICES: tuple[tuple[str, str, str], ...] = (
    ("EP", "European Patent Office", "https://register.epo.org/application?number="),
    ("US", "United States Patent and Trademark Office", "https://ppubs.uspto.gov/pubwebapp/?q="),
    ("JP", "Japan Patent Office", "https://www.j-platpat.inpit.go.jp/?q="),
    (
        "EM",
        "European Union Intellectual Property Office",
        "https://euipo.europa.eu/eSearch/#details/trademarks/",
    ),
    ("WO", "World Intellectual Property Organization", "https://patentscope.wipo.int/search/en/"),
)
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True, slots=True)
class GovernanceRule:
    """required(n) = min(n, max(min_approvals, floor(n * numerator / denominator) + 1)); proposals live ttl blocks."""

    numerator: int = 1
    denominator: int = 2
    min_approvals: int = 2
    ttl_blocks: int = 50_400  # about 7 days of 12-second blocks

    def required(self, active: int) -> int:
        """Approvals needed with ``active`` active offices (what the contract computes)."""
        need = max(self.min_approvals, active * self.numerator // self.denominator + 1)
        return min(active, need)

    def as_tuple(self) -> tuple[int, int, int, int]:
        """The ABI tuple ``(numerator, denominator, minApprovals, ttlBlocks)``."""
        return (self.numerator, self.denominator, self.min_approvals, self.ttl_blocks)


#: The dev preset's rule: a strict majority of the active offices, at least 2, proposals live ~7 days.
DEV_RULE = GovernanceRule()

T = TypeVar("T")


@cache
def dev_account(index: int) -> LocalAccount:
    """Anvil dev account ``index`` (0 deploys; 1.. are the dev offices' signers)."""
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def dev_signer(office: str) -> LocalAccount | None:
    """The dev-preset signer of a genesis office, or None if the office is not in the preset."""
    for i, (code, _, _) in enumerate(DEV_OFFICES, start=1):
        if code == office:
            return dev_account(i)
    return None


@cache
def artifact(name: str) -> dict[str, Any]:
    """ABI and bytecode shipped in ``registry/artifacts``."""
    text = resources.files("registry").joinpath("artifacts").joinpath(f"{name}.json").read_text(encoding="utf-8")
    body: dict[str, Any] = json.loads(text)
    return body


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table = {}
    for name in ("OfficeRegistry", "AnchorRegistry"):
        for item in artifact(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                table[selector] = (item["name"], types, [i["name"] for i in item["inputs"]])
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        if len(value) == 2:
            return value.decode("ascii", "replace") if any(value) else "none"
        return "0x" + value.hex()
    return str(value)


def decode_revert(data: Any) -> str:
    """Name and values of a custom error from revert data, e.g. ``RootAlreadyAnchored(root=0x…)``."""
    return _decode(data)[0]


def _decode(data: Any) -> tuple[str, str | None, dict[str, Any]]:
    """(message, custom error name or None, decoded values by field name)."""
    if isinstance(data, str):
        raw = bytes.fromhex(data.removeprefix("0x")) if data.startswith("0x") else b""
    elif isinstance(data, bytes):
        raw = data
    else:
        raw = b""
    if len(raw) >= 4 and raw[:4] in _error_table():
        name, types, names = _error_table()[raw[:4]]
        try:
            values = abi_decode(types, raw[4:])
        except Exception:
            return name, name, {}
        message = f"{name}({', '.join(f'{n}={_fmt(v)}' for n, v in zip(names, values, strict=True))})"
        by_name = {
            n: Web3.to_checksum_address(v) if t == "address" else v
            for n, t, v in zip(names, types, values, strict=True)
        }
        return message, name, by_name
    return (str(data) if data else "reverted without reason"), None, {}


def revert_error(prefix: str, data: Any) -> ContractRevertError:
    """The typed error (``registry.chain.reverts``) for revert ``data``, its message after ``prefix``."""
    message, name, values = _decode(data)
    cls = contract_errors.BY_NAME.get(name or "")
    if cls is None:
        return ContractRevertError(f"{prefix}{message}")
    return cls(f"{prefix}{message}", values)


def _tester_revert_data(exc: BaseException) -> bytes:
    """The raw revert payload the in-process EVM attaches to a failed call."""
    seen: BaseException | None = exc
    while seen is not None:
        for arg in seen.args:
            if isinstance(arg, bytes):
                return arg
        seen = seen.__context__
    return b""


# ---------------------------------------------------------------------------- deployment


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
            known = {f.name for f in fields(cls)}  # a deployment record carries more (registry.chain.deploy)
            return cls(**{k: v for k, v in body.items() if k in known})
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"unreadable deployment file {path}: {exc}") from None


# ---------------------------------------------------------------------------- connection


def connect(rpc_url: str, timeout: float = 30.0) -> Web3:
    """A Web3 for ``rpc_url`` (``embedded`` = fresh in-process EVM with funded dev accounts)."""
    if rpc_url == EMBEDDED:
        w3 = Web3(EthereumTesterProvider())
        funder = w3.eth.accounts[0]
        for i in range(len(DEV_OFFICES) + 3):
            w3.eth.send_transaction({"from": funder, "to": dev_account(i).address, "value": Wei(10**21)})
        return w3
    if not rpc_url.startswith(("http://", "https://")):
        raise ConfigError(f"unsupported RPC URL {rpc_url!r} (expected http(s)://… or 'embedded')")
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - connectivity probe
    except Exception as exc:
        raise NodeUnavailableError(f"chain node not reachable at {rpc_url}: {type(exc).__name__}") from None
    return w3


def _is_transport_error(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout | ConnectionError)


# ---------------------------------------------------------------------------- client


@dataclass(frozen=True, slots=True)
class TxResult:
    """A mined transaction."""

    transaction_hash: str
    block_number: int
    timestamp: int
    gas_used: int


def office_bytes(code: str) -> bytes:
    """ST.3 code as ``bytes2``."""
    return code.encode("ascii")


class Chain:
    """The registry's contracts on one chain."""

    def __init__(self, w3: Web3, deployment: Deployment | None = None, retries: int = 5) -> None:
        self.w3 = w3
        self.retries = retries
        self.deployment = deployment
        self._offices: Contract | None = None
        self._anchors: Contract | None = None
        if deployment is not None:
            self._bind(deployment)

    def _bind(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._offices = self.w3.eth.contract(
            address=Web3.to_checksum_address(deployment.office_registry),
            abi=artifact("OfficeRegistry")["abi"],
        )
        self._anchors = self.w3.eth.contract(
            address=Web3.to_checksum_address(deployment.anchor_registry),
            abi=artifact("AnchorRegistry")["abi"],
        )

    @property
    def offices(self) -> Contract:
        """The OfficeRegistry contract."""
        if self._offices is None:
            raise ConfigError("no deployment: run `ipreg deploy` first")
        return self._offices

    @property
    def anchors(self) -> Contract:
        """The AnchorRegistry contract."""
        if self._anchors is None:
            raise ConfigError("no deployment: run `ipreg deploy` first")
        return self._anchors

    @classmethod
    def for_registry(cls, w3: Web3, anchor_registry: str, retries: int = 5) -> Chain:
        """Bind to an AnchorRegistry address alone (as an auditor holding only a bundle does)."""
        address = Web3.to_checksum_address(anchor_registry)
        chain = cls(w3, retries=retries)
        if not chain.rpc(lambda: w3.eth.get_code(address)):
            raise ConfigError(f"no contract at {anchor_registry} on this chain")
        anchors = w3.eth.contract(address=address, abi=artifact("AnchorRegistry")["abi"])
        try:
            offices = chain.rpc(lambda: anchors.functions.offices().call())
        except (ContractLogicError, ValueError):
            raise ConfigError(f"{anchor_registry} is not an AnchorRegistry") from None
        chain._bind(Deployment(chain.rpc(lambda: w3.eth.chain_id), str(offices), address, 0, "external"))
        return chain

    # -- plumbing

    def rpc(self, call: Callable[[], T]) -> T:
        """Run a read with bounded retries on transport errors; NodeUnavailableError after that."""
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                return call()
            except Exception as exc:
                if not _is_transport_error(exc):
                    raise
                if attempt == self.retries:
                    raise NodeUnavailableError(
                        f"chain node not reachable after {self.retries + 1} attempts: {type(exc).__name__}"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def check_code(self) -> None:
        """Raise ConfigError if the deployment's contracts are not on this chain."""
        dep = self.deployment
        if dep is None:
            raise ConfigError("no deployment: run `ipreg deploy` first")
        chain_id = self.rpc(lambda: self.w3.eth.chain_id)
        if chain_id != dep.chain_id:
            raise ConfigError(f"deployment is for chain {dep.chain_id}, the endpoint serves chain {chain_id}")
        code = self.rpc(lambda: self.w3.eth.get_code(Web3.to_checksum_address(dep.anchor_registry)))
        if not code:
            raise ConfigError(
                f"no AnchorRegistry at {dep.anchor_registry} on chain {chain_id}: redeploy or check the node"
            )

    def build(
        self,
        account: LocalAccount,
        fn: ContractFunction | None = None,
        *,
        data: str | None = None,
        nonce: int | None = None,
        fee_multiplier: float = 1.0,
    ) -> dict[str, Any]:
        """A signed-ready EIP-1559 transaction for ``fn`` (estimates gas, decoding custom errors)."""
        tx: dict[str, Any] = {"from": account.address, "chainId": self.rpc(lambda: self.w3.eth.chain_id)}
        if fn is not None:
            tx = dict(fn.build_transaction({"from": account.address, "chainId": tx["chainId"], "gas": 1}))
            del tx["gas"]
        elif data is not None:
            tx["data"] = data
        try:
            gas = self.rpc(lambda: self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            raise revert_error("transaction would revert: ", exc.data) from None
        except TesterTransactionFailed as exc:
            raise revert_error("transaction would revert: ", _tester_revert_data(exc)) from None
        except (Web3RPCError, EthValidationError) as exc:
            raise ChainError(f"gas estimation failed: {str(exc)[:200]}") from None
        latest = self.rpc(lambda: self.w3.eth.get_block("latest"))
        base = int(latest.get("baseFeePerGas", 0) or 0)
        tip = 10**9
        tx.update(
            gas=int(gas * 1.2) + 10_000,
            maxPriorityFeePerGas=int(tip * fee_multiplier),
            maxFeePerGas=int((2 * base + tip) * fee_multiplier),
            nonce=nonce
            if nonce is not None
            else self.rpc(lambda: self.w3.eth.get_transaction_count(account.address, "pending")),
        )
        tx.pop("gasPrice", None)
        return tx

    def send(self, account: LocalAccount, tx: dict[str, Any]) -> str:
        """Sign locally and broadcast; return the transaction hash (0x-hex)."""
        signed = account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        try:
            self.rpc(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        except Web3RPCError as exc:
            message = str(exc)
            if "already known" not in message and "AlreadyKnown" not in message:
                raise ChainError(f"transaction rejected by the node: {message[:200]}") from None
        return tx_hash

    def wait(self, tx_hash: str, timeout: float = 120.0, confirmations: int = 1) -> TxResult:
        """Wait for the receipt (and ``confirmations`` blocks); raise ContractRevertError if it failed."""
        try:
            receipt = self.rpc(
                lambda: self.w3.eth.wait_for_transaction_receipt(HexStr(tx_hash), timeout=timeout, poll_latency=0.05)
            )
        except TimeExhausted:
            raise TransactionTimeout(f"transaction {tx_hash} not mined within {timeout:.0f} s") from None
        if receipt["status"] != 1:
            raise ContractRevertError(f"transaction {tx_hash} reverted in block {receipt['blockNumber']}")
        block_number = int(receipt["blockNumber"])
        while confirmations > 1 and self.rpc(lambda: self.w3.eth.block_number) < block_number + confirmations - 1:
            time.sleep(0.2)
        block = self.rpc(lambda: self.w3.eth.get_block(block_number))
        return TxResult(tx_hash, block_number, int(block["timestamp"]), int(receipt["gasUsed"]))

    def receipt(self, tx_hash: str) -> TxResult | None:
        """The mined result of ``tx_hash``, or None if it is not (yet) in a block."""
        from web3.exceptions import TransactionNotFound

        try:
            receipt = self.rpc(lambda: self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        if receipt is None:
            return None
        if receipt["status"] != 1:
            raise ContractRevertError(f"transaction {tx_hash} reverted in block {receipt['blockNumber']}")
        block = self.rpc(lambda: self.w3.eth.get_block(receipt["blockNumber"]))
        return TxResult(tx_hash, int(receipt["blockNumber"]), int(block["timestamp"]), int(receipt["gasUsed"]))

    def transact(self, account: LocalAccount, fn: ContractFunction, confirmations: int = 1) -> TxResult:
        """Build, sign, send and wait for one contract call."""
        return self.wait(self.send(account, self.build(account, fn)), confirmations=confirmations)

    def call(self, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """A view call with retries; a revert becomes the typed contract error."""
        try:
            return self.rpc(lambda: fn.call(block_identifier=block))
        except (ContractCustomError, ContractLogicError) as exc:
            raise revert_error("call reverted: ", exc.data) from None
        except TesterTransactionFailed as exc:
            raise revert_error("call reverted: ", _tester_revert_data(exc)) from None

    # -- deployment

    def deploy(
        self,
        deployer: LocalAccount,
        genesis: Sequence[tuple[str, str, str, str]],
        rule: GovernanceRule = DEV_RULE,
        preset: str = "dev",
        predecessor: str = ZERO_ADDRESS,
    ) -> Deployment:
        """Deploy OfficeRegistry (genesis ``(code, name, baseURI, signer)``, ``rule``) and AnchorRegistry.

        ``predecessor`` is the AnchorRegistry this deployment succeeds (zero address for a first one).
        """
        office_art, anchor_art = artifact("OfficeRegistry"), artifact("AnchorRegistry")
        factory = self.w3.eth.contract(abi=office_art["abi"], bytecode=office_art["bytecode"])
        ctor = factory.constructor(
            [office_bytes(g[0]) for g in genesis],
            [g[1] for g in genesis],
            [g[2] for g in genesis],
            [Web3.to_checksum_address(g[3]) for g in genesis],
            rule.as_tuple(),
        )
        first = self.wait(self.send(deployer, self.build(deployer, data=ctor.data_in_transaction)))
        offices_address = self.rpc(lambda: self.w3.eth.get_transaction_receipt(HexStr(first.transaction_hash)))[
            "contractAddress"
        ]
        factory = self.w3.eth.contract(abi=anchor_art["abi"], bytecode=anchor_art["bytecode"])
        ctor = factory.constructor(offices_address, Web3.to_checksum_address(predecessor))
        second = self.wait(self.send(deployer, self.build(deployer, data=ctor.data_in_transaction)))
        anchors_address = self.rpc(lambda: self.w3.eth.get_transaction_receipt(HexStr(second.transaction_hash)))[
            "contractAddress"
        ]  # type: ignore[arg-type]
        deployment = Deployment(
            chain_id=self.w3.eth.chain_id,
            office_registry=str(offices_address),
            anchor_registry=str(anchors_address),
            block_number=first.block_number,
            preset=preset,
        )
        self._bind(deployment)
        return deployment

    def deploy_dev(self) -> Deployment:
        """The dev preset: genesis EP, US, JP, EM, WO, each with one anvil dev account, ``DEV_RULE``."""
        genesis = [(code, name, uri, dev_account(i).address) for i, (code, name, uri) in enumerate(DEV_OFFICES, 1)]
        return self.deploy(dev_account(0), genesis, DEV_RULE)

    # -- reads: anchors

    def batch_of(self, office: str, root: str) -> BatchInfo | None:
        """The batch ``office`` anchored under ``root``, or None."""
        b = self.call(self.anchors.functions.batchOf(office_bytes(office), root))
        return _batch_info(root, b)

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """On-chain check of ABI-encoded leaf ``values``: (included, batch, leaf revocation reason)."""
        included, b, reason, _leaf, _authorised = self.call(
            self.anchors.functions.verifyRecord(office_bytes(office), root, values, list(proof))
        )
        return bool(included), _batch_info(root, b), int(reason)

    def leaf_revocation(self, office: str, root: str, leaf: bytes, block: BlockIdentifier = "latest") -> int:
        """Revocation reason of one leaf of ``office``'s batch ``root`` (0: not revoked)."""
        return int(self.call(self.anchors.functions.leafRevocation(office_bytes(office), root, leaf), block))

    def predecessor(self) -> str:
        """The AnchorRegistry this one succeeds (zero address if none)."""
        return str(self.call(self.anchors.functions.predecessor()))

    # -- reads: offices and signers

    def was_signer_at(self, office: str, signer: str, block_number: int) -> bool:
        """Whether ``signer`` held a signer term of ``office`` covering ``block_number`` (compromise ignored)."""
        fn = self.offices.functions.wasSignerAt(office_bytes(office), Web3.to_checksum_address(signer), block_number)
        return bool(self.call(fn))

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``was_signer_at`` and the key was not marked compromised for ``office`` at ``block_number``."""
        fn = self.offices.functions.isAuthorisedAt(office_bytes(office), Web3.to_checksum_address(signer), block_number)
        return bool(self.call(fn))

    def compromised_from(self, office: str, signer: str) -> int | None:
        """First block from which ``signer`` is marked compromised for ``office``, or None."""
        fn = self.offices.functions.compromisedFrom(office_bytes(office), Web3.to_checksum_address(signer))
        block = int(self.call(fn))
        return block or None

    def office_of(self, signer: str) -> str | None:
        """The office ``signer`` currently signs for."""
        code = bytes(self.call(self.offices.functions.officeOf(Web3.to_checksum_address(signer))))
        return None if code == b"\x00\x00" else code.decode("ascii")

    def office_info(self, office: str) -> tuple[str, str, str]:
        """(name, baseURI, status) of an office."""
        name, uri, status = self.call(self.offices.functions.office(office_bytes(office)))
        return str(name), str(uri), OFFICE_STATUS[int(status)]

    def office_codes(self) -> list[str]:
        """All registered office codes."""
        return [bytes(c).decode("ascii") for c in self.call(self.offices.functions.officeCodes())]

    def signers(self, office: str) -> list[SignerInfo]:
        """Every key that ever signed for ``office``, with its terms, compromise mark and nomination state.

        Addresses come from the ``SignerAdded`` / ``SignerNominated`` events since the deployment block;
        terms and marks from the contract's views.
        """
        code = office_bytes(office)
        start = self.deployment.block_number if self.deployment is not None else 0
        addresses: dict[str, None] = {}
        for name in ("SignerAdded", "SignerNominated"):
            event = getattr(self.offices.events, name)()

            def fetch(event: Any = event) -> list[Any]:
                return list(event.get_logs(from_block=start, argument_filters={"office": code}))

            for log in self.rpc(fetch):
                addresses.setdefault(Web3.to_checksum_address(log["args"]["signer"]), None)
        current = {Web3.to_checksum_address(a) for a in self.call(self.offices.functions.signersOf(code))}
        out = []
        for address in addresses:
            terms = [
                (int(t[0]), int(t[1]) or None) for t in self.call(self.offices.functions.signerTerms(code, address))
            ]
            pending, replaces = self.call(self.offices.functions.nomination(code, address))
            out.append(
                SignerInfo(
                    address=address,
                    current=address in current,
                    terms=tuple(terms),
                    compromised_from=self.compromised_from(office, address),
                    nominated=bool(pending),
                    replaces=None if str(replaces) == ZERO_ADDRESS or int(str(replaces), 16) == 0 else str(replaces),
                )
            )
        return out

    # -- reads: governance

    def rule(self) -> GovernanceRule:
        """The governance rule in force."""
        r = self.call(self.offices.functions.rule())
        return GovernanceRule(int(r[0]), int(r[1]), int(r[2]), int(r[3]))

    def active_office_count(self) -> int:
        """Offices that are active and have at least one signer."""
        return int(self.call(self.offices.functions.activeOfficeCount()))

    def required_approvals(self) -> int:
        """Approvals a proposal executed now needs."""
        return int(self.call(self.offices.functions.requiredApprovals()))

    def proposal(self, proposal_id: int) -> ProposalView:
        """One proposal with its decoded payload and the approvals that would count now."""
        p = self.call(self.offices.functions.proposal(proposal_id))
        counted = int(self.call(self.offices.functions.countedApprovals(proposal_id)))
        action = ACTIONS[int(p[0])]
        payload = bytes(p[7])
        return ProposalView(
            id=proposal_id,
            action=action,
            office=_code_str(p[1]),
            proposer=_code_str(p[2]),
            executed=bool(p[3]),
            created_block=int(p[4]),
            expires_block=int(p[5]),
            payload_hash="0x" + bytes(p[6]).hex(),
            payload=decode_payload(action, payload),
            approvers=tuple(_code_str(c) for c in p[8]),
            counted_approvals=counted,
        )

    def proposals(self) -> list[ProposalView]:
        """Every proposal, oldest first."""
        count = int(self.call(self.offices.functions.proposalCount()))
        return [self.proposal(i) for i in range(count)]

    def frozen_at(self) -> int:
        """Block at which the registry was frozen, 0 if not frozen."""
        return int(self.call(self.offices.functions.frozenAt()))

    def successor(self) -> str:
        """The successor AnchorRegistry set by the freeze (zero address if none)."""
        return str(self.call(self.offices.functions.successor()))

    # -- writes: anchors

    def anchor_batch(self, account: LocalAccount, root: bytes, leaf_count: int, manifest_uri: str) -> TxResult:
        """Anchor one batch for ``account``'s office and wait for it."""
        return self.transact(account, self.anchors.functions.anchorBatch(root, leaf_count, manifest_uri))

    def revoke_batch(self, account: LocalAccount, root: bytes, reason: int) -> TxResult:
        """Revoke a whole batch of ``account``'s office."""
        return self.transact(account, self.anchors.functions.revokeBatch(root, reason))

    def revoke_leaf(
        self, account: LocalAccount, root: bytes, values: bytes, proof: Sequence[bytes | str], reason: int
    ) -> TxResult:
        """Revoke one record (ABI-encoded leaf ``values`` with its ``proof``) of ``account``'s office."""
        return self.transact(account, self.anchors.functions.revokeLeaf(root, values, list(proof), reason))

    # -- writes: signers

    def add_signer(self, account: LocalAccount, signer: str) -> TxResult:
        """Nominate ``signer`` for ``account``'s office (it must accept with :meth:`accept_signer`)."""
        return self.transact(account, self.offices.functions.addSigner(Web3.to_checksum_address(signer)))

    def rotate_signer(self, account: LocalAccount, old: str, new: str) -> TxResult:
        """Nominate ``new`` to replace ``old``; ``old`` is removed when ``new`` accepts."""
        fn = self.offices.functions.rotateSigner(Web3.to_checksum_address(old), Web3.to_checksum_address(new))
        return self.transact(account, fn)

    def accept_signer(self, account: LocalAccount, office: str) -> TxResult:
        """``account`` accepts its nomination by ``office``."""
        return self.transact(account, self.offices.functions.acceptSigner(office_bytes(office)))

    def remove_signer(self, account: LocalAccount, signer: str) -> TxResult:
        """Remove ``signer`` from ``account``'s office (never its last key)."""
        return self.transact(account, self.offices.functions.removeSigner(Web3.to_checksum_address(signer)))

    def mark_compromised(self, account: LocalAccount, signer: str, from_block: int) -> TxResult:
        """Mark a key of ``account``'s office compromised from ``from_block`` on (removes it if current)."""
        fn = self.offices.functions.markCompromised(Web3.to_checksum_address(signer), from_block)
        return self.transact(account, fn)

    # -- writes: governance

    def propose(self, account: LocalAccount, action: str, office: str | None, **params: Any) -> tuple[int, TxResult]:
        """Propose ``action`` (one of ``ACTIONS``) about ``office``; return (proposal id, transaction)."""
        payload = encode_payload(action, **params)
        code = office_bytes(office) if office else b"\x00\x00"
        fn = self.offices.functions.propose(ACTIONS.index(action), code, payload)
        result = self.transact(account, fn)
        receipt = self.rpc(lambda: self.w3.eth.get_transaction_receipt(HexStr(result.transaction_hash)))
        created = self.offices.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
        return int(created[0]["args"]["id"]), result

    def approve(self, account: LocalAccount, proposal_id: int, payload_hash: str | None = None) -> TxResult:
        """Approve for ``account``'s office; binds to ``payload_hash`` (default: the proposal's, as read now)."""
        if payload_hash is None:
            payload_hash = self.proposal(proposal_id).payload_hash
        fn = self.offices.functions.approve(proposal_id, bytes.fromhex(payload_hash.removeprefix("0x")))
        return self.transact(account, fn)

    def execute(self, account: LocalAccount, proposal_id: int) -> TxResult:
        """Carry out a proposal that has enough approvals of active offices."""
        return self.transact(account, self.offices.functions.execute(proposal_id))


# ---------------------------------------------------------------------------- governance payloads


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """One key of an office: its validity terms ``(fromBlock, untilBlock or None)`` and marks."""

    address: str
    current: bool
    terms: tuple[tuple[int, int | None], ...]
    compromised_from: int | None
    nominated: bool
    replaces: str | None


@dataclass(frozen=True, slots=True)
class ProposalView:
    """A governance proposal as the contract stores it, payload decoded."""

    id: int
    action: str
    office: str | None
    proposer: str | None
    executed: bool
    created_block: int
    expires_block: int
    payload_hash: str
    payload: dict[str, Any]
    approvers: tuple[str | None, ...]
    counted_approvals: int


_PAYLOAD_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "admit": (("name", "string"), ("base_uri", "string"), ("signer", "address")),
    "suspend": (),
    "reinstate": (),
    "replace-signers": (("nominee", "address"),),
    "mark-compromised": (("signer", "address"), ("from_block", "uint64")),
    "set-rule": (
        ("numerator", "uint16"),
        ("denominator", "uint16"),
        ("min_approvals", "uint16"),
        ("ttl_blocks", "uint64"),
    ),
    "freeze": (("successor", "address"),),
}


def encode_payload(action: str, **params: Any) -> bytes:
    """``abi.encode`` of an action's parameters (names as in ``_PAYLOAD_TYPES``); ChainError if wrong."""
    if action not in _PAYLOAD_TYPES:
        raise ChainError(f"unknown governance action {action!r} (expected one of {', '.join(ACTIONS)})")
    fields = _PAYLOAD_TYPES[action]
    missing = [n for n, _ in fields if n not in params]
    extra = sorted(set(params) - {n for n, _ in fields})
    if missing or extra:
        raise ChainError(f"action {action}: missing {missing or 'nothing'}, unexpected {extra or 'nothing'}")
    values = [Web3.to_checksum_address(params[n]) if t == "address" else params[n] for n, t in fields]
    if not fields:
        return b""
    return abi_encode([t for _, t in fields], values)


def decode_payload(action: str, payload: bytes) -> dict[str, Any]:
    """The parameters of a stored payload by name (addresses checksummed); ``{}`` for empty payloads."""
    fields = _PAYLOAD_TYPES[action]
    if not fields:
        return {}
    values = abi_decode([t for _, t in fields], payload)
    return {n: (Web3.to_checksum_address(v) if t == "address" else v) for (n, t), v in zip(fields, values, strict=True)}


def _code_str(raw: Any) -> str | None:
    code = bytes(raw)
    return None if code == b"\x00\x00" else code.decode("ascii")


def _batch_info(root: str, b: Any) -> BatchInfo | None:
    if int(b[3]) == 0:
        return None
    return BatchInfo(root, bytes(b[0]).decode("ascii"), str(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]))
