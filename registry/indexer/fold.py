"""Registry events -> index rows: the one decoding and folding of contract events, for the indexer and the archive.

The indexer (:mod:`registry.indexer.sync`) folds the logs it reads from a node; the chain archive's reader
(:mod:`registry.archive.reader`) folds the logs an archive proves. Both decode with :func:`decode` against
:func:`event_table` and write with :func:`apply_event`, so a rule of how an event changes the index lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from registry.core.contract import OFFICE_STATUS
from registry.store.index_writer import IndexWriter

#: The AnchorRegistry and OfficeRegistry events the index folds.
ANCHOR_EVENTS: Final = ("BatchAnchored", "BatchRevoked", "LeafRevoked")
OFFICE_EVENTS: Final = (
    "OfficeAdmitted",
    "OfficeStatusChanged",
    "SignerAdded",
    "SignerRemoved",
    "SignerCompromised",
    "RegistryFrozen",
)


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def event_table(
    anchors: Any,
    offices: Any,
    anchor_events: Iterable[str] = ANCHOR_EVENTS,
    office_events: Iterable[str] = OFFICE_EVENTS,
) -> dict[tuple[str, str], Any]:
    """(lower-case address, topic 0) -> the web3 event object that decodes it, for one registry version."""
    table: dict[tuple[str, str], Any] = {}
    for contract, names in ((anchors, anchor_events), (offices, office_events)):
        for name in names:
            event = getattr(contract.events, name)()
            table[(str(contract.address).lower(), event.topic)] = event
    return table


def decode(table: Mapping[tuple[str, str], Any], log: Mapping[str, Any]) -> Any | None:
    """The decoded event (web3 ``EventData``) of a raw log, or None if it is not one the table knows."""
    topics = log.get("topics") or []
    event = table.get((str(log["address"]).lower(), _hex(topics[0]))) if topics else None
    return event.process_log(log) if event is not None else None


def apply_event(writer: IndexWriter, e: Any, times: Mapping[int, int]) -> int:
    """Write one decoded event (inside the writer's transaction); 1 for a new batch, else 0.

    ``times`` gives the timestamp of each block holding a ``BatchAnchored``. ``SignerCompromised`` writes
    nothing: what a mark changes (revocations that no longer stand) is settled by the caller."""
    name, a, block = str(e["event"]), e["args"], int(e["blockNumber"])
    if name == "RegistryFrozen":  # of the OfficeRegistry that emitted it: where later versions went
        writer.freeze(str(e["address"]), block, str(a["successor"]))
        return 0
    office = bytes(a["office"]).decode("ascii")
    w = writer
    if name == "BatchAnchored":
        w.add_batch(
            root=_hex(a["root"]),
            office=office,
            signer=str(a["signer"]),
            block_number=block,
            log_index=int(e["logIndex"]),
            timestamp=times[block],
            leaf_count=int(a["leafCount"]),
            manifest_uri=str(a["manifestURI"]),
            tx_hash=_hex(e["transactionHash"]),
            registry=str(e["address"]).lower(),
        )
        return 1
    if name == "BatchRevoked":
        w.revoke_batch(office, _hex(a["root"]), int(a["reason"]), block)
    elif name == "LeafRevoked":
        w.revoke_leaf(office, _hex(a["root"]), _hex(a["leaf"]), int(a["reason"]), block)
    elif name == "OfficeAdmitted":
        w.admit_office(office, str(a["name"]), str(a["baseURI"]), block)
    elif name == "OfficeStatusChanged":
        w.set_office_status(office, OFFICE_STATUS[int(a["status"])])
    elif name == "SignerAdded":
        w.add_signer(office, str(a["signer"]), int(a["fromBlock"]))
    elif name == "SignerRemoved":
        w.remove_signer(office, str(a["signer"]), int(a["untilBlock"]))
    return 0
