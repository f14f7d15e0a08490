"""What a verification reads from the chain: the :class:`ChainReader` protocol and the live reader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # web3 is imported where a chain is used (the light JSON-RPC reader starts without it)
    from registry.chain.client import Chain
    from registry.core.batch import BatchInfo


class ChainReader(Protocol):
    """What a verification reads from the chain: live calls, or an audit's per-batch cache."""

    def chain_id(self) -> int:
        """Chain id of the endpoint."""
        ...

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """(the leaf of ABI-encoded ``values`` is in the batch (office, root), the batch or None, revocation)."""
        ...

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """Whether ``signer`` was a signer of ``office``, not marked compromised, at ``block_number``."""
        ...


class LiveReader:
    """A :class:`ChainReader` making the contract calls for every record."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def chain_id(self) -> int:
        """Chain id of the endpoint."""
        return int(self.chain.rpc(lambda: self.chain.w3.eth.chain_id))

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """``verifyRecord`` on chain (the contract hashes the values into the leaf)."""
        return self.chain.verify_record(office, root, proof, values)

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt`` on chain."""
        return self.chain.is_authorised_at(office, signer, block_number)
