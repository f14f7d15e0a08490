"""A :class:`~registry.verify.readers.ChainReader` over the index the service keeps: verdicts when the node stalls.

Every answer is the chain state the indexer followed up to its cursor (the reader's state block): the
batch as anchored (office, signer, block, batch revocation), its revoked leaves, the office's signer
terms and anchored batches. The Merkle proof is checked locally, as the contract does. What the index
does not hold it does not pretend to know: compromise marks are reported *not checked* (through
:attr:`IndexReader.marks_unknown`), and a bundle naming another version of the registry cannot be
judged (``NodeUnavailableError``: 503, retry when the node answers).
"""

from __future__ import annotations

from collections.abc import Sequence

from registry.core.batch import AnchoredBatch, BatchInfo
from registry.errors import NodeUnavailableError
from registry.store.index import Index, IndexedBatch


class IndexReader:
    """Chain state as the index holds it at its cursor (no node call)."""

    def __init__(self, index: Index, registry: str, chain_id: int, node_block: int | None = None) -> None:
        cursor = index.cursor()
        if cursor is None:
            raise NodeUnavailableError("the index holds no chain state yet and the node does not answer")
        self.index = index
        self._registry = registry
        self._chain_id = chain_id
        self.block = cursor
        #: The node's head when it last answered (how far behind the index is), if known.
        self.node_block = node_block

    #: Why the compromise check cannot be run from the index (read by the Verifier).
    marks_unknown = (
        "compromise marks are not in the index and the node did not answer:"
        " verify again when the service's /health says ok"
    )

    @property
    def registry(self) -> str:
        """The service's AnchorRegistry."""
        return self._registry

    def chain_id(self) -> int:
        """The deployment's chain id (the index follows that deployment only)."""
        return self._chain_id

    def state_block(self) -> int:
        """The index's cursor: every answer reflects the chain up to this block."""
        return self.block

    @property
    def behind(self) -> int | None:
        """Blocks the index is behind the node's last known head (None if the head is unknown)."""
        return None if self.node_block is None else max(0, self.node_block - self.block)

    def describe(self) -> str:
        """One phrase for a verdict's checks: served from the index at which block, how far behind."""
        lag = "" if self.behind is None else f", {self.behind} block(s) behind the node's last known head"
        return f"served from the index at block {self.block}{lag}: the chain node did not answer"

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """(the leaf is in the indexed batch, the batch, the leaf's indexed revocation reason)."""
        return self.index.verify_record(office, root, list(proof), values)

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``signer`` held a term for ``office`` at ``block_number`` by the indexed events (marks: see above)."""
        return self.index.was_signer_at(office, signer, block_number)

    def compromised_from(self, office: str, signer: str) -> int | None:
        """Unknown to the index: None (the Verifier reports the compromise check as not checked)."""
        return None

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """``office``'s indexed batches from ``from_block`` to the cursor, oldest first."""
        found: list[IndexedBatch] = []
        before: int | None = None
        own = self._registry.lower()
        while True:
            page = self.index.batches(office, limit=1000, before_block=before)
            # Only this registry's batches: another version's are judged by its own contracts, not here.
            found.extend(b for b in page if b.block_number >= from_block and b.registry.lower() in ("", own))
            if len(page) < 1000 or page[-1].block_number < from_block:
                break
            before = page[-1].block_number
        found.sort(key=lambda b: (b.block_number, b.log_index))
        return [
            AnchoredBatch(b.root, b.office, b.signer, b.block_number, b.leaf_count, b.manifest_uri, b.tx_hash)
            for b in found
        ]

    def related(self, registry: str) -> IndexReader | None:
        """Other versions of the registry need the node (their lineage is read from the chain): 503."""
        raise NodeUnavailableError(
            f"the bundle names registry {registry}; judging another version of the registry needs the chain node"
        )

    def successor(self) -> str | None:
        """None if the index saw no freeze of this registry up to its cursor. Else why later versions beyond it
        are not checked: the index does not judge versions held by another registry (its batches and signer
        terms are read by that registry's contracts), nor can an index built before freezes were indexed tell."""
        meta = self.index.meta()
        if meta.get("anchorRegistry") != self._registry.lower():
            return "the index follows another registry: later versions beyond this one cannot be looked up in it"
        frozen = self.index.frozen(meta.get("officeRegistry", ""))
        if frozen is False:
            return (
                "this index was built before freezes were indexed, so whether the registry was frozen in favour of"
                " a successor (holding later versions) is not known: `ipreg index rebuild`, or verify again when the"
                " service's /health says ok"
            )
        if frozen is None or frozen is True:
            return None
        block, successor = frozen
        return (
            f"the registry was frozen at block {block} in favour of {successor} and the index does not judge versions"
            " held by another registry: verify again when the service's /health says ok"
        )
