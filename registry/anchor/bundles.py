"""Writing proof bundles fast, one file per record or one archive per batch, and reading archives.

The bytes of every bundle are exactly those of :meth:`registry.core.formats.ProofBundle.dumps` (tests
compare them): the fields a batch shares are rendered once per batch, and each record adds only
its value tuple and proof, so a bundle costs a few string joins instead of a JSON encoder run.

Archives (``--bundle-archive``):

- ``zip``: ``batch-<root>.proofs.zip``, stored (not compressed), one member per record named and
  holding exactly what the per-record file would (``EP-1234567-B1--<12 hex>.proof.json``); an office
  can serve it as is, and ``unzip`` gives back the per-record files.
- ``jsonl``: ``batch-<root>.proofs.jsonl``, one bundle per line (the same JSON object, compact).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import orjson

from registry.core.canon import canonicalization_for
from registry.core.canon import content_hash as hash_of
from registry.core.fields import json_text
from registry.core.formats import PER_RECORD, PROOF_BUNDLE, ProofBundle
from registry.core.merkle import MerkleTree
from registry.core.proofs import BatchFacts
from registry.errors import BundleError, InputError, RegistryError
from registry.files.atomic import write_atomic
from registry.files.ingest import prepare_bytes

ARCHIVE_FORMATS: Final = ("zip", "jsonl")
#: Largest archive member or line read back (a bundle of a 2**32-record batch is about 3 KB).
MAX_BUNDLE_BYTES: Final = 1024 * 1024
#: Largest archive read by ``ipreg verify`` (a batch of 2**20 records is about 1 GB of bundles).
MAX_ARCHIVE_BYTES: Final = 4 * 1024 * 1024 * 1024


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
    ) -> BatchRenderer:
        """The renderer for a batch given its facts one by one (see :meth:`for_batch`)."""
        return cls.for_batch(
            BatchFacts(chain_id, registry, office, root, leaf_count, transaction_hash, block_number, anchored_at)
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


# ---------------------------------------------------------------------------- writing


def write_files(items: Iterable[tuple[str, bytes]]) -> int:
    """Write each ``(path, data)`` as one file; return how many.

    A plain create-and-write (the floor for one file per record). A run that crashes midway leaves
    at most a partial file behind, which :func:`differs` detects, so a re-run rewrites it.
    """
    n = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for path, data in items:
        fd = os.open(path, flags, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        n += 1
    return n


def differs(path: str, data: bytes) -> bool:
    """Whether the file at ``path`` is missing or does not hold exactly ``data``."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(data) + 1) != data
    except OSError:
        return True


def archive_name(root: str, fmt: str) -> str:
    """File name of a batch's archive: ``batch-<root>.proofs.zip`` or ``.proofs.jsonl``."""
    if fmt not in ARCHIVE_FORMATS:
        raise InputError(f"unknown bundle archive format {fmt!r} (expected one of {', '.join(ARCHIVE_FORMATS)})")
    return f"batch-{root}.proofs.{fmt}"


def write_archive(path: Path, fmt: str, members: Iterable[tuple[str, bytes]]) -> int:
    """Write a batch's archive atomically (:func:`registry.files.atomic.write_atomic`); return how many bundles."""
    if fmt not in ARCHIVE_FORMATS:
        raise InputError(f"unknown bundle archive format {fmt!r} (expected one of {', '.join(ARCHIVE_FORMATS)})")
    written = 0

    def write(handle: IO[bytes]) -> None:
        nonlocal written
        if fmt == "zip":
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, data in members:
                    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, data)
                    written += 1
        else:
            for _name, data in members:
                handle.write(data)
                written += 1

    write_atomic(path, write)
    return written


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


# ---------------------------------------------------------------------------- reading


def is_archive(path: Path) -> bool:
    """Whether ``path`` names a bundle archive (by its ending) rather than one bundle."""
    return path.name.endswith((".zip", ".jsonl"))


def _archive_items(path: Path) -> Iterator[tuple[str, bytes]]:
    """(member name or line number, bytes) of every bundle in an archive, lazily."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read bundle archive {path}: {exc.strerror or exc}") from None
    if size > MAX_ARCHIVE_BYTES:
        raise InputError(f"bundle archive {path} is larger than {MAX_ARCHIVE_BYTES} bytes")
    if path.name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    if info.file_size > MAX_BUNDLE_BYTES:
                        raise InputError(f"{path}: member {info.filename} is larger than {MAX_BUNDLE_BYTES} bytes")
                    yield info.filename, archive.read(info)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"bundle archive {path} is not a readable zip file: {exc}") from None
        return
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(iter(lambda: handle.readline(MAX_BUNDLE_BYTES + 1), b""), 1):
                if len(line) > MAX_BUNDLE_BYTES:
                    raise InputError(f"{path}: line {number} is longer than {MAX_BUNDLE_BYTES} bytes")
                if line.strip():
                    yield f"line {number}", line
    except OSError as exc:
        raise InputError(f"cannot read bundle archive {path}: {exc.strerror or exc}") from None


def find_in_archive(path: Path, record_ids: Sequence[str] = (), content_hash: str | None = None) -> list[ProofBundle]:
    """The bundles of an archive for any of ``record_ids`` or with ``content_hash`` (newest block last).

    Only entries that mention a wanted id or hash are parsed; a malformed one that does is an error
    naming it.
    """
    wanted = [f'"{r}"'.encode() for r in record_ids] + ([f'"{content_hash}"'.encode()] if content_hash else [])
    if not wanted:
        raise InputError("name the record (FILE, --record or --hash) to pick its bundle from an archive")
    found: list[ProofBundle] = []
    for where, data in _archive_items(path):
        if not any(w in data for w in wanted):
            continue
        try:
            bundle = ProofBundle.loads(data)
        except BundleError as exc:
            raise BundleError(f"{path}, {where}: {exc.diagnostics()}") from None
        value = bundle.value
        if value.record_id in record_ids or value.content_hash == content_hash:
            found.append(bundle)
    found.sort(key=lambda b: b.block_number)
    return found


def pick_from_archive(
    path: Path,
    file_name: str | None = None,
    data: bytes | None = None,
    record_id: str | None = None,
    content_hash: str | None = None,
) -> ProofBundle:
    """The bundle an archive holds for a file (its content, else its record id), a record id or a hash.

    For a file, the bundle with the file's content hash wins; if only another version of its record
    is in the archive, that bundle is returned (its verification then names the mismatch).
    """
    ids = [record_id] if record_id else []
    digest = content_hash
    what = record_id or content_hash or ""
    if file_name is not None and data is not None:
        what = file_name
        try:
            prepared = prepare_bytes(Path(file_name), data)
            ids, digest = [str(prepared.record_id)], prepared.content_hash
        except RegistryError:
            try:
                digest = hash_of(data, canonicalization_for(file_name))
            except RegistryError:
                digest = None
        if not ids and digest is None:
            raise InputError(f"{file_name}: neither a record id nor a content hash to look up in {path}")
    found = find_in_archive(path, ids, digest)
    if not found:
        raise InputError(f"bundle archive {path} holds no bundle for {what}")
    same = [b for b in found if digest is not None and b.value.content_hash == digest]
    return (same or found)[-1]
