"""Turn files into prepared records: canonicalize, hash, find the record id (no store, no chain).

Large inputs are canonicalized on all cores. :func:`stream_staged` walks the input lazily and keeps
a bounded number of chunks in flight, so memory does not grow with the gazette; every bad file
becomes a :class:`FileError` row instead of aborting, so a run can list them all at once.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from registry.core import canon
from registry.core.identify import identify
from registry.core.leaves import ZERO_HASH, LeafValue
from registry.core.records import RecordId
from registry.errors import InputError, RegistryError

_In = TypeVar("_In")
_Out = TypeVar("_Out")

#: Below this many files a process pool costs more than it saves.
PARALLEL_THRESHOLD = 2000
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A file ready to enter the outbox."""

    path: str
    record_id: RecordId
    content_hash: str
    canonicalization: str


@dataclass(frozen=True, slots=True)
class FileError:
    """A file that cannot be anchored, and why (one line; ``kind`` groups files with the same problem)."""

    path: str
    message: str
    kind: str = "cannot be anchored"


#: A file checked and ready to stage: (path, record id, office, content hash, canonicalization,
#: leaf of the value tuple with a zero ``supersedes``). Plain tuples: cheap to pickle and store.
Staged = tuple[str, str, str, str, str, bytes]

#: File name (or path) -> record id, from the file given with ``--manifest`` (not a batch manifest).
IdMap = dict[str, RecordId]


def iter_files(paths: Iterable[Path]) -> Iterator[str]:
    """Files named directly plus every regular file under named folders, lazily.

    Each folder's names are sorted (hidden ones skipped), subfolders visited where they sort, so
    only one folder's names are in memory at a time.
    Every path is checked first: InputError names all missing ones at once.
    """
    paths = list(paths)
    missing = [str(p) for p in paths if not p.is_dir() and not p.is_file()]
    if missing:
        raise InputError(f"no such file or folder: {', '.join(missing)}")
    for path in paths:
        if path.is_dir():
            yield from _walk(str(path))
        else:
            yield str(path)


def _walk(folder: str) -> Iterator[str]:
    files: list[str] = []
    dirs: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if not entry.is_symlink():  # like os.walk: linked folders are not followed
                    dirs.append(entry.name)
            elif entry.is_file():  # regular files only: a FIFO or socket would block or fail
                files.append(entry.name)
    subfolders = set(dirs)
    files.extend(dirs)
    files.sort()  # names only (no tuples): a folder of a million files stays small
    for name in files:
        full = os.path.join(folder, name)
        if name in subfolders:
            yield from _walk(full)
        else:
            yield full


def count_files(paths: Iterable[Path]) -> int:
    """How many files :func:`iter_files` yields (for a progress bar), without keeping their names."""
    return sum(1 for _ in iter_files(paths))


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Files named directly plus every regular file under named folders (sorted, hidden ones skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found: list[str] = []
            for folder, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.extend(os.path.join(folder, n) for n in names if not n.startswith("."))
            found.sort()
            files.extend(Path(f) for f in found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"no such file or folder: {path}")
    return files


def load_id_map(path: Path) -> IdMap:
    """The file given with ``--manifest``: file names (or paths) -> record ids (CSV ``file,recordId`` or JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read manifest {path}: {exc.strerror}") from None
    pairs: list[tuple[str, str]]
    if path.suffix.lower() == ".json":
        canon.check_json_depth(text, f"manifest {path}")
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise InputError(f"manifest {path} is not valid JSON: {exc}") from None
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise InputError(f"manifest {path} must be a JSON object mapping file names to record ids")
        pairs = list(body.items())
    else:
        rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
        if rows and rows[0][0].strip().lower() in ("file", "filename", "path"):
            rows = rows[1:]
        if any(len(r) < 2 for r in rows):
            raise InputError(f"manifest {path}: every row needs two columns: file, recordId")
        pairs = [(r[0].strip(), r[1].strip()) for r in rows]
    result = {}
    for name, rid in pairs:
        try:
            result[name] = RecordId.parse(rid)
        except RegistryError as exc:
            raise InputError(f"manifest {path}, entry {name}: {exc.diagnostics()}") from None
    return result


def prepare_bytes(
    path: Path,
    data: bytes,
    record_id: RecordId | None = None,
    id_map: IdMap | None = None,
    canonicalization: str | None = None,
) -> PreparedRecord:
    """Canonicalize and hash one file's bytes and find its id (``--id``, the id map, content, file name)."""
    method = canonicalization or canon.canonicalization_for(path.name)
    try:
        canonical = canon.canonical_bytes(data, method)
        digest = canon.sha256_hex(canonical)
        rid = record_id or (id_map.get(path.name) or id_map.get(str(path)) if id_map else None)
        problem = None
        if rid is None:
            # ids are read from the canonical form: comments are gone, CDATA and references resolved
            own = identify(canonical, method)
            rid, problem = own.record_id, own.problem
        rid = rid or RecordId.from_filename(path.name)
    except RegistryError as exc:
        raise type(exc)(f"{path}: {exc.diagnostics()}") from None
    if rid is None:
        raise InputError(
            f"{path}: no record id ({problem + '; ' if problem else ''}give --id, a manifest entry, the document's"
            " own ST.96/ST.97 identification, or name the file OFFICE-NUMBER[-KIND].ext)"
        )
    return PreparedRecord(str(path), rid, digest, method)


def prepare_file(
    path: Path,
    record_id: RecordId | None = None,
    id_map: IdMap | None = None,
    canonicalization: str | None = None,
) -> PreparedRecord:
    """Canonicalize and hash one file and find its id (``--id``, the id map, content, file name)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return prepare_bytes(path, data, record_id, id_map, canonicalization)


# ---------------------------------------------------------------------------- streaming


@dataclass(frozen=True, slots=True)
class StageOptions:
    """How the files of an anchoring run are checked (sent once to every worker)."""

    office: str
    record_id: RecordId | None = None
    id_map: IdMap | None = None
    canonicalization: str | None = None
    allow_empty: bool = False

    def __post_init__(self) -> None:
        if self.canonicalization is not None:  # old identifiers are for verification only
            canon.for_anchoring(self.canonicalization)


_OPTIONS: StageOptions | None = None


def _init_worker(options: StageOptions) -> None:
    global _OPTIONS
    _OPTIONS = options
    parent = os.getppid()
    # Ctrl-C reaches the whole process group: the parent stops the run and says what is done; a worker
    # leaves quietly when the parent shuts the pool down (no traceback per worker).
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:  # a run killed mid-check (SIGKILL) must not leave its workers behind
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


#: How files refused with an error of each code are summarized ("N files ...").
_KINDS: Final = {
    "invalidContent": "cannot be canonicalized",
    "invalidRecordId": "have no valid record id",
    "invalidInput": "cannot be anchored",
}


def stage_file(path: str, options: StageOptions) -> Staged | FileError:
    """Check one file for an anchoring run: a staged row, or the reason it cannot be anchored."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return FileError(path, f"{path}: cannot read: {exc.strerror or exc}", "cannot be read")
    if not data and not options.allow_empty:
        return FileError(
            path, f"{path}: empty file (0 bytes); give --allow-empty to anchor empty files", "are empty (0 bytes)"
        )
    try:
        p = prepare_bytes(Path(path), data, options.record_id, options.id_map, options.canonicalization)
    except RegistryError as exc:
        return FileError(path, exc.diagnostics(), _KINDS.get(exc.code, "cannot be anchored"))
    office = p.record_id.office
    if office != options.office:
        return FileError(
            path,
            f"{path}: record {p.record_id} belongs to {office}, not to the anchoring office {options.office}",
            f"belong to another office than {options.office}",
        )
    rid = str(p.record_id)
    leaf = LeafValue(rid, p.content_hash, p.canonicalization, ZERO_HASH).leaf()
    return (p.path, rid, office, p.content_hash, p.canonicalization, leaf)


def _stage_chunk(paths: list[str]) -> list[Staged | FileError]:
    assert _OPTIONS is not None
    return [stage_file(p, _OPTIONS) for p in paths]


def chunked(items: Iterable[_In], size: int) -> Iterator[list[_In]]:
    """``items`` in lists of ``size`` (the last one shorter), lazily."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def bounded_map(
    pool: ProcessPoolExecutor, fn: Callable[[list[_In]], _Out], chunks: Iterable[list[_In]], workers: int
) -> Iterator[_Out]:
    """``fn`` over ``chunks`` on ``pool``, results in input order, at most ``2 * workers`` chunks in flight.

    The input is consumed only as results are taken, so memory does not grow with it.
    """
    flight: deque[Future[_Out]] = deque()
    for part in chunks:
        if len(flight) >= 2 * workers:
            yield flight.popleft().result()
        flight.append(pool.submit(fn, part))
    while flight:
        yield flight.popleft().result()


class WorkerPool(ProcessPoolExecutor):
    """A process pool that knows its size (the workers of one run)."""

    def __init__(self, size: int, options: StageOptions) -> None:
        super().__init__(max_workers=size, initializer=_init_worker, initargs=(options,))
        self.size = size


def start_workers(options: StageOptions, workers: int | None = None) -> WorkerPool | None:
    """A pool of ``workers`` processes (default: one per core) checking files with ``options``; None for one.

    Every worker is forked at once, from the caller as it is now: call this before heavy modules are
    imported, so the workers stay small. Workers exit when their parent dies, even by SIGKILL. The
    same pool can write proof bundles later in the run (:class:`registry.anchor.bundles.BundleWriter`).
    The caller shuts it down (``with`` or ``shutdown()``).
    """
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return None
    pool = WorkerPool(workers, options)
    for started in [pool.submit(int) for _ in range(workers)]:
        started.result()
    return pool


def stream_staged(
    files: Iterable[str],
    options: StageOptions,
    workers: int | None = None,
    chunk: int = _CHUNK,
    pool: WorkerPool | None = None,
) -> Iterator[list[Staged | FileError]]:
    """Check files in input order, chunk by chunk, on all cores; at most ``2 * workers`` chunks in flight.

    ``pool`` (from :func:`start_workers` with the same ``options``) is used as is and left running;
    without it a pool is started for the call and shut down after it.
    """
    if pool is not None:
        yield from bounded_map(pool, _stage_chunk, chunked(files, chunk), pool.size)
        return
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for part in chunked(files, chunk):
            yield [stage_file(p, options) for p in part]
        return
    # Start the workers before the first folder is listed: forked from a small parent, they do not
    # share (and count) the pages of a million-name listing.
    own = start_workers(options, workers)
    assert own is not None
    with own:
        yield from bounded_map(own, _stage_chunk, chunked(files, chunk), workers)


# ---------------------------------------------------------------------------- whole lists


def _prepare_chunk(
    args: tuple[list[str], IdMap | None, str | None],
) -> list[PreparedRecord] | str:
    paths, id_map, method = args
    try:
        return [prepare_file(Path(p), None, id_map, method) for p in paths]
    except RegistryError as exc:
        return exc.diagnostics()


def prepare_files(
    files: Sequence[Path],
    record_id: RecordId | None = None,
    id_map: IdMap | None = None,
    canonicalization: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[PreparedRecord]:
    """Prepare every file (in parallel for large inputs); the first bad file aborts with its error."""
    if record_id is not None and len(files) != 1:
        raise InputError(f"--id names one record but {len(files)} files were given")
    if canonicalization is not None:
        canon.for_anchoring(canonicalization)
    workers = workers or os.cpu_count() or 1
    if len(files) < PARALLEL_THRESHOLD or workers == 1:
        prepared = []
        for f in files:
            prepared.append(prepare_file(f, record_id, id_map, canonicalization))
            if on_progress and len(prepared) % 100 == 0:
                on_progress(100)
        if on_progress:
            on_progress(len(prepared) % 100)
        return prepared
    chunks = [[str(p) for p in files[i : i + _CHUNK]] for i in range(0, len(files), _CHUNK)]
    result: list[PreparedRecord] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_prepare_chunk, [(c, id_map, canonicalization) for c in chunks]):
            if isinstance(part, str):
                raise InputError(part)
            result.extend(part)
            if on_progress:
                on_progress(len(part))
    return result
