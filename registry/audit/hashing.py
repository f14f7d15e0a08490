"""Hashing publication files for an audit: record id and content hash of each, on all cores for many files.

Memory does not grow with the number of files (a few chunks in flight); hashing workers never
outlive a killed audit.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from registry.core import canon
from registry.errors import RegistryError
from registry.files.ingest import StageOptions, bounded_map, chunked, prepare_file, start_workers

#: Called with how many more files are done.
Progress = Callable[[int], None]
#: Files per chunk handed to a worker (files hashed, bundles read), and files below which hashing stays here.
HASH_CHUNK: Final = 500
_PARALLEL_FILES: Final = 2000


@dataclass(frozen=True, slots=True)
class HashedFile:
    """A publication file: its record id and content hash, or why neither could be had."""

    path: str
    record_id: str | None
    content_hash: str | None
    canonicalization: str
    error: str | None = None


def _hash_one(path: str) -> HashedFile:
    method = canon.canonicalization_for(path)
    try:
        p = prepare_file(Path(path))
    except RegistryError as exc:
        return HashedFile(path, None, None, method, exc.diagnostics())
    return HashedFile(path, str(p.record_id), p.content_hash, p.canonicalization)


def _hash_chunk(paths: list[str]) -> list[HashedFile]:
    return [_hash_one(p) for p in paths]


def hash_files(
    files: Iterable[str | Path], workers: int | None = None, progress: Progress | None = None
) -> Iterator[HashedFile]:
    """Canonicalize and hash every file (in input order), finding its record id; a bad file is a row, not an abort.

    Large inputs are hashed on all cores, with at most ``2 * workers`` chunks of files in flight, so
    memory does not grow with the number of files; the workers exit if this process is killed.
    """
    paths = (str(f) for f in files)
    head: list[str] = []
    if workers is None:  # decide on the first files (their listing has begun before the workers fork)
        head = list(itertools.islice(paths, _PARALLEL_FILES))
        workers = default_workers(len(head))
    if workers <= 1:
        k = 0
        for k, p in enumerate(itertools.chain(head, paths), 1):
            yield _hash_one(p)
            if progress is not None and k % 200 == 0:
                progress(200)
        if progress is not None:
            progress(k % 200)
        return
    # Forked before a large folder is listed (the workers do not share its pages); a worker whose
    # parent is gone (SIGKILL) exits on its own.
    pool = start_workers(StageOptions(""), workers)
    assert pool is not None
    with pool:
        chunks = chunked(itertools.chain(head, paths), HASH_CHUNK)
        for part in bounded_map(pool, _hash_chunk, chunks, workers):
            if progress is not None:
                progress(len(part))
            yield from part


def default_workers(files: int) -> int:
    """Hashing processes for ``files`` files: all cores (at most 8) from 2,000 files on, else this one."""
    cpus = os.cpu_count() or 1
    return min(cpus, 8) if cpus > 1 and files >= _PARALLEL_FILES else 1
