"""Bundle files and archives on disk: writing many small files, one archive per batch, and reading archives back.

Archives (``ipreg anchor --bundle-archive``):

- ``zip``: ``batch-<root>.proofs.zip``, stored (not compressed), one member per record named and
  holding exactly what the per-record file would (``EP-1234567-B1--<12 hex>.proof.json``); an office
  can serve it as is, and ``unzip`` gives back the per-record files.
- ``jsonl``: ``batch-<root>.proofs.jsonl``, one bundle per line (the same JSON object, compact).

Reading is bounded (:data:`MAX_ARCHIVE_BYTES`, :data:`MAX_BUNDLE_BYTES` per member or line) and picks a
record's bundle by record id or by the content hash of the file it is verified with.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Final

from registry.core.canon import canonicalization_for
from registry.core.canon import content_hash as hash_of
from registry.core.formats import ProofBundle
from registry.errors import BundleError, InputError, RegistryError
from registry.files.atomic import write_atomic
from registry.files.ingest import prepare_bytes

ARCHIVE_FORMATS: Final = ("zip", "jsonl")
#: Largest archive member or line read back (a bundle of a 2**32-record batch is about 3 KB).
MAX_BUNDLE_BYTES: Final = 1024 * 1024
#: Largest archive read by ``ipreg verify`` (a batch of 2**20 records is about 1 GB of bundles).
MAX_ARCHIVE_BYTES: Final = 4 * 1024 * 1024 * 1024


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
