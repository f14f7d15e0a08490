"""A :class:`~registry.verify.readers.ChainReader` over a checked chain archive: verdicts with no live node.

The archive's proven logs (:func:`registry.archive.format.check_archive`) are folded into an in-memory index
by the indexer's own code (:mod:`registry.indexer.fold`): batches, revocations, offices, signer terms. What
the index leaves to the chain the reader settles from the proven events as the contracts do: compromise
marks (``SignerCompromised``, and ``NominationVoided`` for keys a mark voided) decide ``isAuthorisedAt``
and ``compromisedFrom``, and a revocation stands only if its key (``RevokedBy``) was not marked compromised
at or before its block. Every answer is the state at the archive's head; a revocation after it is not seen,
and :meth:`ArchiveReader.describe` says so in every verdict (:func:`served_from_archive`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.archive.format import ArchiveError, ProvenChain, ProvenLog, check_archive
from registry.core.address import checksum_address
from registry.core.batch import AnchoredBatch, BatchInfo
from registry.indexer.fold import apply_event, decode, event_table
from registry.store.index import Index
from registry.store.index_writer import IndexWriter

if TYPE_CHECKING:
    from registry.verify.verdict import Verdict

#: Events the reader needs beyond those the index folds.
_EXTRA_ANCHOR = ("RevokedBy",)
_EXTRA_OFFICE = ("NominationVoided",)


def load_archive(path: Path) -> ProvenChain:
    """Read and check an archive file (ArchiveError, one line, if it is unreadable or proves nothing)."""
    try:
        body = json.loads(path.read_bytes())
    except OSError as exc:
        raise ArchiveError(f"cannot read archive {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise ArchiveError(f"{path} is not JSON: not a chain archive") from None
    return check_archive(body)


def _web3_log(log: ProvenLog, address: str) -> dict[str, Any]:
    from hexbytes import HexBytes

    return {
        "address": address,
        "topics": [HexBytes(t) for t in log.topics],
        "data": HexBytes(log.data),
        "blockNumber": log.block_number,
        "blockHash": HexBytes(bytes.fromhex(log.block_hash[2:])),
        "logIndex": log.log_index,
        "transactionIndex": log.transaction_index,
        "transactionHash": HexBytes(bytes.fromhex(log.transaction_hash[2:]) if log.transaction_hash else b"\0" * 32),
    }


class ArchiveReader:
    """Chain state at an archive's head, rebuilt from its proven events (no node call)."""

    def __init__(self, proven: ProvenChain, expected_head: str | None = None) -> None:
        """``expected_head``: the head hash an auditor witnessed from a second source (ArchiveError if it differs)."""
        if expected_head is not None and expected_head.lower() != proven.head_hash:
            raise ArchiveError(
                f"the archive's head {proven.head_hash} (block {proven.head_number})"
                f" is not the witnessed {expected_head}"
            )
        from web3 import Web3

        from registry.chain.artifacts import artifact

        self.proven = proven
        self.witnessed = expected_head is not None
        w3: Any = Web3()
        anchors = w3.eth.contract(
            address=checksum_address(proven.anchor_registry), abi=artifact("AnchorRegistry")["abi"]
        )
        offices = w3.eth.contract(
            address=checksum_address(proven.office_registry), abi=artifact("OfficeRegistry")["abi"]
        )
        table = event_table(anchors, offices)
        extra = event_table(anchors, offices, _EXTRA_ANCHOR, _EXTRA_OFFICE)
        self.writer = IndexWriter.open(Path(":memory:"))
        self.index = Index(self.writer.db)
        self._marks: dict[tuple[str, str], int] = {}
        self._marked_at: dict[str, list[tuple[int, int]]] = {}  # office -> (mark from, block of the mark)
        revoked_by: dict[tuple[str, str, str | None], tuple[int, str]] = {}
        self.frozen: tuple[int, str] | None = None
        with self.writer.transaction():
            for log in proven.logs:
                address = checksum_address(log.address)
                e = decode(table, _web3_log(log, address))
                if e is not None:
                    apply_event(self.writer, e, proven.timestamps)
                    if e["event"] == "SignerCompromised":
                        self._mark(e, int(e["args"]["fromBlock"]))
                    elif e["event"] == "RegistryFrozen":
                        self.frozen = (int(e["args"]["blockNumber"]), str(e["args"]["successor"]))
                    continue
                x = decode(extra, _web3_log(log, address))
                if x is None:
                    continue
                a = x["args"]
                if x["event"] == "RevokedBy":
                    raw_leaf = bytes(a["leaf"])
                    leaf = "0x" + raw_leaf.hex() if any(raw_leaf) else None  # zero: the whole batch
                    key = (bytes(a["office"]).decode("ascii"), "0x" + bytes(a["root"]).hex(), leaf)
                    revoked_by[key] = (log.block_number, str(a["by"]))
                elif x["event"] == "NominationVoided":
                    self._mark(x, int(a["fromBlock"]))
            for (office, root, leaf), (block, by) in revoked_by.items():
                mark = self.compromised_from(office, by)
                if mark is not None and mark <= block:  # a revocation by a key compromised then does not stand
                    self.writer.discount(office, root, leaf)
        self._ambiguous = ""

    def _mark(self, e: Any, from_block: int) -> None:
        office = bytes(e["args"]["office"]).decode("ascii")
        key = (office, str(e["args"]["signer"]).lower())
        self._marks[key] = min(self._marks.get(key, from_block), from_block)
        if e["event"] == "SignerCompromised":
            self._marked_at.setdefault(office, []).append((from_block, int(e["blockNumber"])))

    @property
    def registry(self) -> str:
        """The archive's AnchorRegistry."""
        return checksum_address(self.proven.anchor_registry)

    def chain_id(self) -> int:
        """The chain id the archive names (bound to the chain by the witnessed head hash)."""
        return self.proven.chain_id

    def state_block(self) -> int:
        """The archive's head: every answer is the state there."""
        return self.proven.head_number

    def describe(self) -> str:
        """One phrase for a verdict's checks: checked against which archive, up to which block and head."""
        head = f"head hash {self.proven.head_hash}"
        witness = "witnessed" if self.witnessed else "compare it with a second source (--archive-head)"
        code = "" if self.proven.code_proven else "; the contracts' code is not proven (no account proofs)"
        return (
            f"checked against a chain archive up to block {self.proven.head_number}, {head} ({witness});"
            f" a revocation after block {self.proven.head_number} would not be seen{code}"
        )

    @property
    def marks_unknown(self) -> str:
        """Why the last :meth:`is_authorised_at` could not settle the compromise check ('' if it could)."""
        return self._ambiguous

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """(the leaf is in the archived batch, the batch with its standing revocation, the leaf's revocation)."""
        return self.index.verify_record(office, root, list(proof), values)

    def compromised_from(self, office: str, signer: str) -> int | None:
        """The block from which ``signer``'s key is compromised for ``office`` by the proven marks, or None."""
        return self._marks.get((office, signer.lower()))

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """A signer of ``office`` at ``block_number`` (its proven terms) and not marked compromised from it."""
        self._ambiguous = ""
        mark = self.compromised_from(office, signer)
        if mark is not None and block_number >= mark:
            return False
        if not self.index.was_signer_at(office, signer, block_number):
            return False
        terms = [s for s in self.index.signers(office) if s.address.lower() == signer.lower()]
        accepted = min((s.from_block for s in terms), default=block_number)
        until = max((s.until_block or 0 for s in terms), default=0)
        # A key removed before another key's mark may have been nominated by it after the mark's block: the
        # contract voids it then, but no event names its nominator. Not settled here: said, never passed.
        for from_block, marked_in in self._marked_at.get(office, []):
            if mark is None and from_block <= accepted and until and until < marked_in:
                self._ambiguous = (
                    f"{signer} was removed before a key of {office} was marked compromised from block {from_block};"
                    " whether that key nominated it is not in the archive's events"
                )
        return True

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """``office``'s archived batches from ``from_block`` to the head, oldest first."""
        found = [b for b in self.index.batches(office, limit=1 << 62) if b.block_number >= from_block]
        found.sort(key=lambda b: (b.block_number, b.log_index))
        return [
            AnchoredBatch(b.root, b.office, b.signer, b.block_number, b.leaf_count, b.manifest_uri, b.tx_hash)
            for b in found
        ]

    def office_batches_all(self) -> list[AnchoredBatch]:
        """Every archived batch of every office, oldest first."""
        return sorted(
            (b for o in {b.office for b in self.index.batches(limit=1 << 62)} for b in self.office_batches(o, 0)),
            key=lambda b: b.block_number,
        )

    def related(self, registry: str) -> ArchiveReader | None:
        """An archive holds one registry version: a bundle of another is judged against its own archive."""
        del registry
        return None

    def successor(self) -> str | None:
        """None if the registry was not frozen by the archive's head; else why later versions in its successor
        are not checked (an archive holds one registry: verify against the successor's archive or a node)."""
        if self.frozen is None:
            return None
        block, successor = self.frozen
        return (
            f"the registry was frozen at block {block} in favour of {successor}, and an archive holds one registry:"
            " verify against the successor's archive or a node"
        )


def served_from_archive(verdict: Verdict, reader: ArchiveReader) -> Verdict:
    """The verdict with every check that ran saying it was checked against the archive (block, head hash)."""
    note = reader.describe()
    checks = tuple(
        replace(c, detail=f"{c.detail} ({note})" if c.detail else note) if c.result in ("passed", "failed") else c
        for c in verdict.checks
    )
    return replace(verdict, checks=checks)
