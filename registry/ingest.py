"""Turn files into prepared records: canonicalize, hash, find the record id (no store, no chain).

Large inputs are canonicalized on all cores (process pool, chunks of files).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import canon
from .errors import InputError, RegistryError
from .records import RecordId, identify

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


def load_manifest(path: Path) -> dict[str, RecordId]:
    """A manifest mapping file names (or paths) to record ids: CSV ``file,recordId`` or JSON object."""
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


def prepare_file(
    path: Path,
    record_id: RecordId | None = None,
    manifest: dict[str, RecordId] | None = None,
    canonicalization: str | None = None,
) -> PreparedRecord:
    """Canonicalize and hash one file and find its id (``--id``, manifest, content, file name)."""
    method = canonicalization or canon.canonicalization_for(path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        canonical = canon.canonical_bytes(data, method)
        digest = canon.sha256_hex(canonical)
        rid = record_id or (manifest.get(path.name) or manifest.get(str(path)) if manifest else None)
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


def _prepare_chunk(
    args: tuple[list[str], dict[str, RecordId] | None, str | None],
) -> list[PreparedRecord] | str:
    paths, manifest, method = args
    try:
        return [prepare_file(Path(p), None, manifest, method) for p in paths]
    except RegistryError as exc:
        return exc.diagnostics()


def prepare_files(
    files: Sequence[Path],
    record_id: RecordId | None = None,
    manifest: dict[str, RecordId] | None = None,
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
            prepared.append(prepare_file(f, record_id, manifest, canonicalization))
            if on_progress and len(prepared) % 100 == 0:
                on_progress(100)
        if on_progress:
            on_progress(len(prepared) % 100)
        return prepared
    chunks = [[str(p) for p in files[i : i + _CHUNK]] for i in range(0, len(files), _CHUNK)]
    result: list[PreparedRecord] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_prepare_chunk, [(c, manifest, canonicalization) for c in chunks]):
            if isinstance(part, str):
                raise InputError(part)
            result.extend(part)
            if on_progress:
                on_progress(len(part))
    return result
