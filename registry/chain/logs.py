"""Reading the registries' logs over a block range, consistently: the one reader of raw logs for the index
and the monitor (each decodes what it needs)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from web3 import Web3

from registry.chain.client import Chain
from registry.errors import ChainError

#: How often a range is read again when its last block changes under the reader.
_ATTEMPTS = 5


def block_hash(chain: Chain, number: int) -> str | None:
    """The canonical hash of block ``number`` (``0x`` + 64 hex digits), or None if the chain is shorter."""
    from web3.exceptions import BlockNotFound

    try:
        return "0x" + bytes(chain.rpc(lambda: chain.w3.eth.get_block(number))["hash"]).hex()
    except BlockNotFound:
        return None


def stable_logs(chain: Chain, addresses: Iterable[str], lo: int, hi: int, what: str) -> tuple[list[Any], str]:
    """Logs of ``addresses`` in blocks ``lo..hi`` and the hash of block ``hi``, read again if block ``hi`` changed
    while they were read (a reorganisation under way); ChainError naming ``what`` to re-run if it keeps changing."""
    wanted = [Web3.to_checksum_address(a) for a in addresses]
    for _ in range(_ATTEMPTS):
        before = block_hash(chain, hi)
        logs = chain.rpc(lambda: chain.w3.eth.get_logs({"address": wanted, "fromBlock": lo, "toBlock": hi}))
        after = block_hash(chain, hi)
        if after is not None and after == before:
            return list(logs), after
    raise ChainError(f"the chain keeps changing at block {hi}: {what} again later")
