"""Reading the registry's events for the monitor: one :class:`ChainTx` per transaction, with its call.

Logs of both contracts in a block range (``eth_getLogs``), decoded through the web3 contract objects the
:class:`~registry.chain.client.Chain` exposes, grouped by transaction; each transaction comes with its
sender and its decoded call (function and arguments, when it called a registry contract directly),
because what matters is who sent what. Each event carries its position among its transaction's registry
events, which a reorganisation does not change (its log index in the block may). Reads only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from eth_typing import HexStr
from web3 import Web3

from registry.chain.client import Chain
from registry.chain.logs import block_hash, stable_logs

#: Blocks per ``eth_getLogs`` request.
BLOCK_STEP: Final = 2000


def hex0x(value: Any) -> str:
    """``0x``-hex of bytes (or an already hex string), lowercase."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def code_of(value: bytes) -> str | None:
    """An office code from ``bytes2`` (None for 0x0000)."""
    raw = bytes(value)
    return None if raw == b"\x00\x00" else raw.decode("ascii", "replace")


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """One decoded event: its name, arguments, log index in its block and position among its transaction's."""

    name: str
    args: dict[str, Any]
    log_index: int
    position: int


@dataclass(slots=True)
class ChainTx:
    """A transaction that emitted registry events: sender, call (None if not a direct call) and events."""

    tx_hash: str
    block_number: int
    block_hash: str
    sender: str
    to: str | None
    call: str | None
    call_args: list[Any]
    #: True for the creation of the deployment's OfficeRegistry (the genesis signers).
    genesis: bool
    events: list[ChainEvent] = field(default_factory=list)

    def named(self, *names: str) -> list[ChainEvent]:
        """The events of these names, in order."""
        return [e for e in self.events if e.name in names]


class EventReader:
    """Reads and decodes the registry's events for one deployment."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        anchors, offices = chain.anchors, chain.offices
        self.contracts = {anchors.address.lower(): anchors, offices.address.lower(): offices}
        self._events: dict[tuple[str, str], Any] = {}
        for contract in (anchors, offices):
            for abi in contract.abi:
                if abi.get("type") == "event":
                    event = getattr(contract.events, str(abi.get("name")))()
                    self._events[(contract.address.lower(), hex0x(event.topic))] = event

    def head(self) -> int:
        """The chain's latest block number."""
        return int(self.chain.rpc(lambda: self.chain.w3.eth.block_number))

    def block_hash(self, number: int) -> str | None:
        """The canonical hash at ``number``, or None if the chain is shorter."""
        return block_hash(self.chain, number)

    def read(
        self, lo: int, hi: int, keep: Callable[[list[ChainEvent]], bool] | None = None
    ) -> tuple[list[ChainTx], str]:
        """The transactions with registry events in blocks ``lo..hi`` (chain order) and the hash of ``hi``.

        ``keep`` chooses, from its events alone, which transactions are wanted (only those are read from
        the node). Read again if block ``hi`` changed while its logs were read (a reorganisation under way).
        """
        logs, after = stable_logs(self.chain, self.contracts, lo, hi, "run the monitor")
        groups: dict[str, list[ChainEvent]] = {}
        for log in sorted(logs, key=lambda lg: (int(lg["blockNumber"]), int(lg["logIndex"]))):
            topics = log.get("topics") or []
            event = self._events.get((str(log["address"]).lower(), hex0x(topics[0]))) if topics else None
            if event is None:
                continue
            decoded = event.process_log(log)
            group = groups.setdefault(hex0x(log["transactionHash"]), [])
            # A transaction lies in one block and ranges are whole blocks: its registry logs are all here, so
            # their order among themselves is the same whichever block a reorganisation moves it to.
            group.append(ChainEvent(str(decoded["event"]), dict(decoded["args"]), int(log["logIndex"]), len(group)))
        txs = []
        for tx_hash, events in groups.items():
            if keep is None or keep(events):
                tx = self._transaction(tx_hash)
                tx.events = events
                txs.append(tx)
        return txs, str(after)

    def _transaction(self, tx_hash: str) -> ChainTx:
        w3 = self.chain.w3
        tx = self.chain.rpc(lambda: w3.eth.get_transaction(HexStr(tx_hash)))
        to = str(tx["to"]).lower() if tx.get("to") else None
        call: str | None = None
        args: list[Any] = []
        contract = self.contracts.get(to) if to is not None else None
        if contract is not None:
            try:
                fn, params = contract.decode_function_input(tx["input"])
                call = str(fn.fn_name)
                args = list(params.values())
            except (ValueError, KeyError):
                call = None
        genesis = False
        if to is None:  # a creation: the genesis only if it created one of the registry's contracts
            receipt = self.chain.rpc(lambda: w3.eth.get_transaction_receipt(HexStr(tx_hash)))
            created = receipt.get("contractAddress")
            genesis = created is not None and str(created).lower() in self.contracts
        return ChainTx(
            tx_hash=tx_hash,
            block_number=int(tx["blockNumber"]),
            block_hash=hex0x(tx["blockHash"]),
            sender=str(Web3.to_checksum_address(tx["from"])),
            to=to,
            call=call,
            call_args=args,
            genesis=genesis,
        )
