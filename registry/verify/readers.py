"""What a verification reads from the chain: the :class:`ChainReader` protocol and the live web3 reader.

Every verdict's questions go through one reader bound to one AnchorRegistry, and every answer is
read at one block (:meth:`ChainReader.state_block`), which the verdict reports. Readers: the live
web3 reader here, the light JSON-RPC reader (:mod:`registry.chain.light`, no web3), the service's
short-lived cache (:mod:`registry.api.cache`) and the audit's per-batch snapshot
(:mod:`registry.audit.snapshot`, with the index). Tests run them all against the same chain state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from registry.core.batch import AnchoredBatch, BatchInfo

if TYPE_CHECKING:  # web3 is imported where a chain is used (the light JSON-RPC reader starts without it)
    from registry.chain.client import Chain


class ChainReader(Protocol):
    """What a verification reads from the chain, all at :meth:`state_block`."""

    @property
    def registry(self) -> str:
        """The AnchorRegistry this reader asks (checksummed)."""
        ...

    def chain_id(self) -> int:
        """Chain id of the endpoint."""
        ...

    def state_block(self) -> int:
        """The block whose state every answer reflects (fixed on first use)."""
        ...

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """(the leaf of ABI-encoded ``values`` is in the batch (office, root), the batch or None, revocation)."""
        ...

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt``: ``signer`` was a signer of ``office`` at ``block_number`` and not marked compromised."""
        ...

    def compromised_from(self, office: str, signer: str) -> int | None:
        """``compromisedFrom``: the block from which ``signer``'s key is marked compromised for ``office``, or None."""
        ...

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """The batches ``office`` anchored from ``from_block`` up to the state block, oldest first.

        Raises :class:`registry.errors.ChainError` if the node refuses the query."""
        ...

    def related(self, registry: str) -> ChainReader | None:
        """A reader of ``registry`` at the same block if it is a confirmed predecessor or successor of this
        reader's registry (migration: both ends name each other), else None."""
        ...

    def successor(self) -> ChainReader | str | None:
        """The registry's confirmed successor at the state block, where later versions of its records live.

        A reader of it at the same block when this registry was frozen (at or before the state block) in favour
        of an AnchorRegistry that names this one as its ``predecessor()``; None when there is none to follow
        (not frozen, or the named contract does not name this registry back: not followed); a sentence saying
        why, when this reader cannot tell or cannot read the successor (the later-versions check then says
        it was not checked beyond this registry, never passes silently)."""
        ...


def batch_info(root: str, b: Any) -> BatchInfo | None:
    """A ``Batch`` struct as returned by web3 (None when not anchored)."""
    if int(b[3]) == 0:
        return None
    return BatchInfo(root.lower(), bytes(b[0]).decode("ascii"), str(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]))


class LiveReader:
    """A :class:`ChainReader` making the contract calls through web3, at one block."""

    def __init__(self, chain: Chain, block: int | None = None) -> None:
        self.chain = chain
        self._block = block
        self._chain_id: int | None = None
        self._successor: list[ChainReader | str | None] = []  # empty: not read yet

    @property
    def registry(self) -> str:
        """The AnchorRegistry of the chain client."""
        return str(self.chain.anchors.address)

    def chain_id(self) -> int:
        """Chain id of the endpoint."""
        if self._chain_id is None:
            self._chain_id = int(self.chain.rpc(lambda: self.chain.w3.eth.chain_id))
        return self._chain_id

    def state_block(self) -> int:
        """The latest block at first use."""
        if self._block is None:
            self._block = int(self.chain.rpc(lambda: self.chain.w3.eth.block_number))
        return self._block

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """``verifyRecord`` on chain (the contract hashes the values into the leaf)."""
        fn = self.chain.anchors.functions.verifyRecord(office.encode("ascii"), root, values, list(proof))
        included, b, reason, _leaf, _authorised = self.chain.call(fn, self.state_block())
        return bool(included), batch_info(root, b), int(reason)

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt`` on chain."""
        fn = self.chain.offices.functions.isAuthorisedAt(office.encode("ascii"), signer, block_number)
        return bool(self.chain.call(fn, self.state_block()))

    def compromised_from(self, office: str, signer: str) -> int | None:
        """``compromisedFrom`` on chain."""
        fn = self.chain.offices.functions.compromisedFrom(office.encode("ascii"), signer)
        return int(self.chain.call(fn, self.state_block())) or None

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """``BatchAnchored`` events of ``office`` (one ``eth_getLogs``)."""
        return web3_office_batches(self.chain, office, from_block, self.state_block())

    def related(self, registry: str) -> ChainReader | None:
        """A reader of a confirmed version of this registry (:func:`registry.chain.lineage.lineage`)."""
        chain = lineage_member(self.chain, registry)
        return LiveReader(chain, self.state_block()) if chain is not None else None

    def successor(self) -> ChainReader | str | None:
        """The confirmed successor at the state block (:func:`confirmed_successor`)."""
        if not self._successor:
            self._successor = [successor_reader(self.chain, self.state_block())]
        return self._successor[0]


def confirmed_successor(chain: Chain, block: int) -> Chain | str | None:
    """The client of ``chain``'s successor if, at ``block``, the registry was frozen in its favour and it names
    the registry as its ``predecessor()`` (both ends agree, as :mod:`registry.chain.lineage` requires); None if
    there is none to follow; why not, if it names the registry back but its contracts (AnchorRegistry and the
    OfficeRegistry it calls) are not builds this package ships
    (:func:`~registry.chain.artifacts.successor_code_problem`).

    The freeze is read at ``block`` (a successor named later does not count for a verdict read at ``block``);
    a node refusing a read raises :class:`registry.errors.ChainError` (the caller says what it could not check).
    """
    from web3.exceptions import BadFunctionCallOutput, ContractLogicError

    from registry.chain.artifacts import successor_code_problem
    from registry.chain.client import Chain as Client
    from registry.errors import ConfigError, ContractRevertError

    refused = (ContractRevertError, ContractLogicError, BadFunctionCallOutput, ValueError)
    try:
        if int(chain.call(chain.offices.functions.frozenAt(), block)) == 0:
            return None
        named = str(chain.call(chain.offices.functions.successor(), block))
    except refused:
        return None  # a registry version without the migration interface
    if int(named, 16) == 0:
        return None
    try:
        following = Client.for_registry(chain.w3, named, retries=chain.retries)
        back = str(following.call(following.anchors.functions.predecessor(), block))
    except (ConfigError, *refused):
        return None  # not an AnchorRegistry naming a predecessor: not followed
    if back.lower() != str(chain.anchors.address).lower():
        return None
    anchor_code, office_code = (
        bytes(chain.rpc(lambda a=str(c.address): chain.w3.eth.get_code(a, block)))  # type: ignore[misc]
        for c in (following.anchors, following.offices)
    )
    return successor_code_problem(named, anchor_code, office_code) or following


def successor_reader(chain: Chain, block: int) -> ChainReader | str | None:
    """:meth:`ChainReader.successor` for the web3 readers: a live reader of the confirmed successor at ``block``."""
    found = confirmed_successor(chain, block)
    return found if found is None or isinstance(found, str) else LiveReader(found, block)


def lineage_member(chain: Chain, registry: str) -> Chain | None:
    """The client of ``registry`` if it is a confirmed version of ``chain``'s registry (not itself), else None."""
    from registry.chain.lineage import lineage

    for member in lineage(chain):
        dep = member.deployment
        if member is not chain and dep is not None and dep.anchor_registry.lower() == registry.lower():
            return member
    return None


def web3_office_batches(chain: Chain, office: str, from_block: int, to_block: int) -> list[AnchoredBatch]:
    """``office``'s ``BatchAnchored`` events in [from_block, to_block], oldest first (through web3)."""
    from registry.errors import ChainError

    if from_block > to_block:
        return []
    try:
        logs = chain.rpc(
            lambda: chain.anchors.events.BatchAnchored().get_logs(
                from_block=from_block, to_block=to_block, argument_filters={"office": office.encode("ascii")}
            )
        )
    except ChainError:
        raise
    except Exception as exc:  # a node refusing the range answers with its own error types
        raise ChainError(f"the node refused the BatchAnchored log query: {type(exc).__name__}") from None
    out = [
        AnchoredBatch(
            "0x" + bytes(e["args"]["root"]).hex(),
            bytes(e["args"]["office"]).decode("ascii"),
            str(e["args"]["signer"]),
            int(e["blockNumber"]),
            int(e["args"]["leafCount"]),
            str(e["args"]["manifestURI"]),
            "0x" + bytes(e["transactionHash"]).hex(),
        )
        for e in logs
    ]
    return sorted(out, key=lambda b: b.block_number)
