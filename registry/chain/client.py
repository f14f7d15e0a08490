"""Web3 client mirroring the contracts; contract errors become typed errors.

Talks JSON-RPC (any Ethereum node) or the in-process EVM (``embedded``). Signs locally with
eth-account; never logs keys. Decides nothing about what to anchor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from eth_typing import HexStr
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError
from web3.logs import DISCARD
from web3.types import BlockIdentifier

from registry.chain import views
from registry.chain.artifacts import artifact
from registry.chain.deployments import Deployment
from registry.chain.dev import fund_embedded
from registry.chain.payloads import (
    ProposalView,
    RevocationInfo,
    SignerInfo,
    batch_info_of,
    encode_payload,
    office_bytes,
    revocation_of,
)
from registry.chain.reverts import revert_error, tester_revert_data
from registry.chain.views import check_deployment
from registry.config import EMBEDDED
from registry.core.batch import BatchInfo
from registry.core.contract import ACTIONS, GovernanceRule
from registry.errors import ChainError, ConfigError, ContractRevertError, NodeUnavailableError, TransactionTimeout

T = TypeVar("T")

#: Seconds between receipt polls while a transaction is not mined, and between head polls after.
_RECEIPT_POLL = 0.05
_CONFIRMATION_POLL = 0.2


# ---------------------------------------------------------------------------- connection


def connect(rpc_url: str, timeout: float = 30.0) -> Web3:
    """A Web3 for ``rpc_url`` (``embedded`` = fresh in-process EVM with funded dev accounts)."""
    if rpc_url == EMBEDDED:
        w3 = Web3(EthereumTesterProvider())
        fund_embedded(w3)
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


class Chain:
    """The registry's contracts on one chain."""

    def __init__(self, w3: Web3, deployment: Deployment | None = None, retries: int = 5) -> None:
        self.w3 = w3
        self.retries = retries
        self.deployment = deployment
        self._offices: Contract | None = None
        self._anchors: Contract | None = None
        if deployment is not None:
            self.bind(deployment)

    def bind(self, deployment: Deployment) -> None:
        """Point this client at ``deployment``'s contracts."""
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
        chain.bind(Deployment(chain.rpc(lambda: w3.eth.chain_id), str(offices), address, 0, "external"))
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
        code = lambda: self.w3.eth.get_code(Web3.to_checksum_address(dep.anchor_registry))  # noqa: E731
        check_deployment(dep, chain_id, lambda: bool(self.rpc(code)))

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
            raise revert_error("transaction would revert: ", tester_revert_data(exc)) from None
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

    def confirmed(
        self, tx_hash: str, confirmations: int = 1, timeout: float = 120.0, what: str = "transaction"
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The receipt of ``tx_hash`` and its block, once that block has ``confirmations`` blocks (itself included).

        The one confirmation wait: it re-reads the receipt until its block is the canonical one at
        that height, so a transaction moved by a reorganisation is followed to its new block.
        Raises :class:`ContractRevertError` if it reverted, :class:`TransactionTimeout` if it is not
        confirmed within ``timeout`` s (``what`` names the transaction in both messages).
        """
        deadline = time.monotonic() + timeout
        w3 = self.w3
        while True:
            try:
                receipt = self.rpc(lambda: w3.eth.get_transaction_receipt(HexStr(tx_hash)))
            except TransactionNotFound:
                receipt = None
            if receipt is not None:
                if receipt["status"] != 1:
                    raise ContractRevertError(f"{what} {tx_hash} reverted in block {receipt['blockNumber']}")
                number = int(receipt["blockNumber"])
                if confirmations <= 1 or self.rpc(lambda: w3.eth.block_number) >= number + confirmations - 1:
                    block = self.rpc(lambda: w3.eth.get_block(number))  # noqa: B023 - called at once
                    if bytes(block["hash"]) == bytes(receipt["blockHash"]):
                        return dict(receipt), dict(block)
            if time.monotonic() > deadline:
                state = "not mined" if receipt is None else f"in block {receipt['blockNumber']}, not yet confirmed"
                raise TransactionTimeout(
                    f"{what} {tx_hash} {state} after {timeout:.0f} s waiting for {confirmations} confirmation(s)"
                )
            time.sleep(_RECEIPT_POLL if receipt is None else _CONFIRMATION_POLL)

    def wait(self, tx_hash: str, timeout: float = 120.0, confirmations: int = 1) -> TxResult:
        """Wait for the receipt (and ``confirmations`` blocks, following a reorganisation); see :meth:`confirmed`."""
        receipt, block = self.confirmed(tx_hash, confirmations, timeout)
        return TxResult(tx_hash, int(receipt["blockNumber"]), int(block["timestamp"]), int(receipt["gasUsed"]))

    def receipt(self, tx_hash: str) -> TxResult | None:
        """The mined result of ``tx_hash``, or None if it is not (yet) in a block."""
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
            raise revert_error("call reverted: ", tester_revert_data(exc)) from None

    # -- reads: the views of :mod:`registry.chain.views` (one decoder for this client and the light one)

    def office_view(self, fn: str, *args: Any) -> Any:
        """The OfficeRegistry's view ``fn(*args)`` as web3 returns it; a revert becomes the typed contract error."""
        return self.call(getattr(self.offices.functions, fn)(*args))

    def office_events(self, event: str, office: str, from_block: int) -> list[dict[str, Any]]:
        """The arguments of the OfficeRegistry's ``event`` logs about ``office`` from ``from_block`` on."""
        handle = getattr(self.offices.events, event)()
        logs = self.rpc(
            lambda: handle.get_logs(from_block=from_block, argument_filters={"office": office_bytes(office)})
        )
        return [dict(log["args"]) for log in logs]

    def block_number(self) -> int:
        """The latest block."""
        return int(self.rpc(lambda: self.w3.eth.block_number))

    # -- reads: anchors

    def batch_of(self, office: str, root: str) -> BatchInfo | None:
        """The batch ``office`` anchored under ``root``, or None."""
        b = self.call(self.anchors.functions.batchOf(office_bytes(office), root))
        return batch_info_of(root, b)

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """On-chain check of ABI-encoded leaf ``values``: (included, batch, leaf revocation reason)."""
        included, b, reason, _leaf, _authorised = self.call(
            self.anchors.functions.verifyRecord(office_bytes(office), root, values, list(proof))
        )
        return bool(included), batch_info_of(root, b), int(reason)

    def leaf_revocation(self, office: str, root: str, leaf: bytes, block: BlockIdentifier = "latest") -> int:
        """Revocation reason of one leaf of ``office``'s batch ``root`` (0: not revoked, or it does not stand)."""
        return int(self.call(self.anchors.functions.leafRevocation(office_bytes(office), root, leaf), block))

    def batch_revocation(self, office: str, root: str) -> RevocationInfo:
        """Who revoked ``office``'s batch ``root``, when, and whether it stands (contracts 3.0.0)."""
        return revocation_of(self.call(self.anchors.functions.batchRevocation(office_bytes(office), root)))

    def leaf_revocation_info(self, office: str, root: str, leaf: bytes) -> RevocationInfo:
        """Who revoked one record of ``office``'s batch ``root``, when, and whether it stands (3.0.0)."""
        fn = self.anchors.functions.leafRevocationInfo(office_bytes(office), root, leaf)
        return revocation_of(self.call(fn))

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
        return views.compromised_from(self, office, signer)

    def compromise_mark(self, office: str, signer: str) -> tuple[int, int, str] | None:
        """The key's own mark as recorded: (from block, block made, by: key address or "governance"), or None."""
        return views.compromise_mark(self, office, signer)

    def office_of(self, signer: str) -> str | None:
        """The office ``signer`` currently signs for."""
        code = bytes(self.call(self.offices.functions.officeOf(Web3.to_checksum_address(signer))))
        return None if code == b"\x00\x00" else code.decode("ascii")

    def office_info(self, office: str) -> tuple[str, str, str]:
        """(name, baseURI, status) of an office."""
        return views.office_info(self, office)

    def office_codes(self) -> list[str]:
        """All registered office codes."""
        return views.office_codes(self)

    def signers(self, office: str) -> list[SignerInfo]:
        """Every key that ever signed for ``office``: terms, compromise mark (with its author), nomination."""
        return views.signers_of(self, office)

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
        return views.required_approvals(self)

    def proposal(self, proposal_id: int) -> ProposalView:
        """One proposal with its decoded payload and the approvals that would count now."""
        return views.proposal(self, proposal_id)

    def proposals(self) -> list[ProposalView]:
        """Every proposal, oldest first."""
        return views.proposals(self)

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

    def mark_compromised(self, account: LocalAccount, signer: str) -> TxResult:
        """Mark a key of ``account``'s office compromised from the mined block on (removes it if current).

        A key's mark is never retroactive; an earlier block is the governance action ``mark-compromised``.
        """
        fn = self.offices.functions.markCompromised(Web3.to_checksum_address(signer))
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

    def cancel(self, account: LocalAccount, proposal_id: int) -> TxResult:
        """Withdraw a pending proposal of ``account``'s office (others: propose ``cancel``)."""
        return self.transact(account, self.offices.functions.cancel(proposal_id))
