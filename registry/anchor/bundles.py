"""Rendering proof bundles fast and writing a batch's bundles on the run's worker processes.

The bytes of every bundle are exactly those of :meth:`registry.core.formats.ProofBundle.dumps` (tests
compare them): the fields a batch shares are rendered once per batch, and each record adds only
its value tuple and proof, so a bundle costs a few string joins instead of a JSON encoder run.

Files and archives on disk (and reading archives back) are :mod:`registry.files.archives`.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from registry.core.fields import json_text
from registry.core.formats import PER_RECORD, PROOF_BUNDLE
from registry.core.merkle import MerkleTree
from registry.core.proofs import BatchFacts
from registry.core.stamps import TimestampToken
from registry.files.archives import differs, write_archive, write_files


def proof_texts(tree: MerkleTree) -> list[str]:
    """The JSON array body of every input leaf's proof (``"0x…", "0x…"``), in input order.

    Top-down like :meth:`MerkleTree.proofs`: a node's text is its sibling's hex, then its parent's text.
    """
    return _node_texts(tree.tree, tree.positions)


def _node_texts(nodes: Sequence[bytes], positions: Sequence[int]) -> list[str]:
    """:func:`proof_texts` of the leaves at tree indices ``positions`` (a flat OpenZeppelin tree)."""
    hexed = ['"0x' + n.hex() + '"' for n in nodes]
    texts = [""] * len(nodes)
    for i in range(1, len(nodes)):
        sibling = hexed[i + 1] if i & 1 else hexed[i - 1]
        parent = texts[(i - 1) >> 1]
        texts[i] = sibling + ", " + parent if parent else sibling
    return [texts[i] for i in positions]


@dataclass(frozen=True, slots=True)
class BatchRenderer:
    """Renders the bundles of one anchored batch: shared fields once, then per record value and proof.

    ``head``, ``mid`` and ``tail`` are the text of ``ProofBundle.dumps`` around the per-record fields
    (:data:`registry.core.formats.PER_RECORD`), cut from the format's field table; ``shared`` is the
    bundle's JSON object with those fields left None.
    """

    head: str
    mid: str
    tail: str
    shared: dict[str, object]

    @classmethod
    def of(
        cls,
        chain_id: int,
        registry: str,
        office: str,
        root: str,
        leaf_count: int,
        transaction_hash: str,
        block_number: int,
        anchored_at: str,
        timestamps: tuple[TimestampToken, ...] = (),
    ) -> BatchRenderer:
        """The renderer for a batch given its facts one by one (see :meth:`for_batch`)."""
        return cls.for_batch(
            BatchFacts(
                chain_id, registry, office, root, leaf_count, transaction_hash, block_number, anchored_at, timestamps
            )
        )

    @classmethod
    def for_batch(cls, batch: BatchFacts) -> BatchRenderer:
        """The renderer for a batch (the same field order and spelling as ``ProofBundle.dumps``)."""
        shared = PROOF_BUNDLE.json_of(batch, slots=PER_RECORD)
        head, mid, tail = PROOF_BUNDLE.frame(shared, PER_RECORD)
        return cls(head, mid, tail, shared)

    def render(self, value: Sequence[str], proof_text: str) -> bytes:
        """The bundle file's bytes for one record (its leaf value tuple and :func:`proof_texts` entry)."""
        values = json_text(value if isinstance(value, list) else list(value))
        return (self.head + values + self.mid + "[" + proof_text + "]" + self.tail).encode("ascii")

    def line(self, value: Sequence[str], proof_text: str) -> bytes:
        """The bundle as one compact JSON line (for JSON Lines archives)."""
        body = dict(self.shared)
        body["value"] = list(value)
        body["proof"] = [p.strip('"') for p in proof_text.split(", ")] if proof_text else []
        try:
            return orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # an integer beyond 64 bits (chain ids may be that large)
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# ---------------------------------------------------------------------------- writing on workers

#: Below this many bundles a batch is written in the calling process (a job costs a few ms).
PARALLEL_BUNDLES: Final = 2000

#: One bundle job: renderer, folder, tree nodes, and per record (file name, value tuple, tree index);
#: the archive format (or None for one file each) and whether to skip files already right.
_Job = tuple[BatchRenderer, str, Sequence[bytes], list[tuple[str, list[str], int]], str | None, bool]


def _write_job(job: _Job) -> int:
    """Render and write one job's bundles (in a worker process or inline); return how many were written."""
    renderer, folder, nodes, items, archive, only_missing = job
    texts = _node_texts(nodes, [position for _, _, position in items])
    if archive is not None:
        render = renderer.line if archive == "jsonl" else renderer.render
        members = ((name, render(value, t)) for (name, value, _), t in zip(items, texts, strict=True))
        return write_archive(Path(folder), archive, members)
    prefix = folder + os.sep
    files = ((prefix + name, renderer.render(value, t)) for (name, value, _), t in zip(items, texts, strict=True))
    return write_files((p, d) for p, d in files if not only_missing or differs(p, d))


class BundleWriter:
    """Writes the bundles of anchored batches, on a run's worker processes while the next batch is anchored.

    A batch of at least :data:`PARALLEL_BUNDLES` records is split among the workers (an archive goes
    to one worker whole); at most two jobs per worker are in flight, so memory stays bounded by the
    batch size. Without a pool, or for small batches, bundles are written at once in this process.
    :meth:`finish` waits for every job and raises the first failure; bundles are written only for
    batches already anchored, so a crash midway loses no anchoring, and a re-run rewrites what is
    missing or half-written (``only_missing``).
    """

    def __init__(self, pool: Executor | None = None, workers: int = 1, progress: Callable[[int], None] | None = None):
        self.pool = pool
        self.workers = max(workers, 1)
        self.progress = progress or (lambda _n: None)
        self.written = 0
        self._flight: deque[Future[int]] = deque()

    def write(
        self,
        renderer: BatchRenderer,
        target: Path,
        tree: MerkleTree,
        items: Sequence[tuple[str, list[str]]],
        archive: str | None = None,
        only_missing: bool = False,
    ) -> None:
        """Queue one batch: ``target`` is the folder (one file each) or the archive's path; ``items`` in input order.

        ``items[i]`` is record ``i``'s bundle file name (archive member name) and value tuple.
        """
        jobs = [(name, value, position) for (name, value), position in zip(items, tree.positions, strict=True)]
        nodes = tree.tree
        if self.pool is None or len(jobs) < PARALLEL_BUNDLES:
            self._done(_write_job((renderer, str(target), nodes, jobs, archive, only_missing)))
            return
        parts = 1 if archive is not None else self.workers
        step = -(-len(jobs) // parts)
        for first in range(0, len(jobs), step):
            while len(self._flight) >= 2 * self.workers:
                self._done(self._flight.popleft().result())
            job: _Job = (renderer, str(target), nodes, jobs[first : first + step], archive, only_missing)
            self._flight.append(self.pool.submit(_write_job, job))

    def _done(self, n: int) -> None:
        self.written += n
        self.progress(n)

    def finish(self) -> int:
        """Wait for every queued job; return how many bundles were written in all (first failure raised)."""
        failure: BaseException | None = None
        while self._flight:
            future = self._flight.popleft()
            try:
                self._done(future.result())
            except Exception as exc:  # every job is waited for, then the first failure raised
                failure = failure or exc
        if failure is not None:
            raise failure
        return self.written
