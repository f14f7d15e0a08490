"""The office tooling's journal: what it sends in the office's name, recorded before it is broadcast.

Key, governance and revocation calls are not in the outbox (only batches are), so the tooling that sends
them (``ipreg office …``, ``ipreg revoke …``, the service's revocations) records each call here first;
the monitor then takes a transaction for the office's own only if it carries a recorded call from the
recorded key (:meth:`registry.store.monitor.MonitorLog.claim`). :func:`call_subject` is the one spelling
of a call's identity, for the tooling (from the arguments it sends) and the monitor (from the decoded
transaction input) alike.

Usage::

    with own_call(store, chain, "EP", account.address, "addSigner", [new_key]):
        chain.add_signer(account, new_key)
    with sending(settings, chain, "EP", account.address, "removeSigner", [old_key]):   # the CLI: this home's store
        chain.remove_signer(account, old_key)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from eth_utils.address import is_address, to_checksum_address

from registry.errors import NodeUnavailableError, TransactionTimeout
from registry.store.monitor import MonitorLog

if TYPE_CHECKING:
    from registry.chain.client import Chain
    from registry.config import Settings
    from registry.store.outbox import Store

#: Calls of the tooling the journal records, with how many of their leading arguments identify them.
JOURNALED: Final[dict[str, int]] = {
    "addSigner": 1,
    "rotateSigner": 2,
    "acceptSigner": 1,
    "removeSigner": 1,
    "markCompromised": 1,
    "cancelNomination": 1,
    "propose": 3,
    "approve": 1,
    "cancel": 1,
    "revokeBatch": 1,
    "revokeLeaf": 2,
}


#: Blocks after its recording in which a journal entry can still be carried out (about a day at 12 s a block):
#: a call recorded but never mined (its sender timed out) does not cover a thief's identical call for ever.
INTENT_WINDOW_BLOCKS: Final = 7200


def _norm(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if is_address(text):
        return str(to_checksum_address(text))
    if text.startswith("0x"):
        return text.lower()
    return text


def call_subject(call: str, args: Sequence[Any]) -> str:
    """The identity of a journaled call: SHA-256 of its identifying arguments, normalised (hex)."""
    count = JOURNALED.get(call)
    if count is None:
        raise ValueError(f"{call} is not a journaled call")
    text = "\x1f".join([call, *(_norm(a) for a in args[:count])])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextmanager
def own_call(store: Store, chain: Chain, office: str, key: str, call: str, args: Sequence[Any]) -> Iterator[None]:
    """Record that ``office``'s tooling sends ``call(args)`` with ``key``, around the block that sends it.

    Recorded before the transaction exists (so a monitor never sees it unrecorded); withdrawn if the block
    raises anything but a timeout or an unreachable node (then the transaction may still be mined).
    """
    log = MonitorLog(store.db)
    head = int(chain.rpc(lambda: chain.w3.eth.block_number))
    intent = log.expect(office, key, call, call_subject(call, args), head)
    try:
        yield
    except (TransactionTimeout, NodeUnavailableError):
        raise
    except BaseException:
        log.withdraw(intent)
        raise


@contextmanager
def sending(settings: Settings, chain: Chain, office: str, key: str, call: str, args: Sequence[Any]) -> Iterator[None]:
    """:func:`own_call` on this home's store (opened and closed around the block): for the CLI's commands."""
    from registry.store.outbox import Store

    store = Store(settings.store_file)
    try:
        with own_call(store, chain, office, key, call, args):
            yield
    finally:
        store.close()
