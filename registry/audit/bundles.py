"""A folder's proof bundles for an audit: each read and checked once, indexed for lookup by record and leaf.

The index lives in a temporary database (:class:`registry.store.audit.BundleTable`), not in memory.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from registry.audit.hashing import HASH_CHUNK, default_workers
from registry.audit.report import AuditRow
from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED
from registry.errors import InputError, RegistryError
from registry.files.ingest import StageOptions, bounded_map, chunked, start_workers
from registry.store.audit import BundleTable
from registry.verify.verdict import UNKNOWN

if TYPE_CHECKING:
    import sqlite3

#: Largest proof bundle file read (a bundle of a 2**32-record batch is about 3 KB).
_MAX_BUNDLE_BYTES: Final = 1024 * 1024


def _read_bundle(path: str) -> ProofBundle:
    with open(path, "rb") as handle:
        data = handle.read(_MAX_BUNDLE_BYTES + 1)
    if len(data) > _MAX_BUNDLE_BYTES:
        raise InputError(f"larger than {_MAX_BUNDLE_BYTES} bytes")
    return ProofBundle.loads(data)


def _index_chunk(paths: list[bytes]) -> list[tuple[Any, ...] | AuditRow]:
    """Read and check bundle files: per file its index row (with the pickled bundle) or an UNKNOWN row."""
    out: list[tuple[Any, ...] | AuditRow] = []
    for raw in paths:
        path = os.fsdecode(raw)
        try:
            bundle = _read_bundle(path)
        except (RegistryError, OSError) as exc:
            reason = exc.diagnostics() if isinstance(exc, RegistryError) else str(exc)
            out.append(AuditRow(UNKNOWN, f"unreadable proof bundle: {reason}", None, path))
            continue
        claim_id, claim_hash, _ = _claims(bundle)
        v = bundle.value
        body = pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL)
        out.append((raw, claim_id, claim_hash, bundle.block_number, v.record_id, v.content_hash, v.supersedes, body))
    return out


def _unpickle(body: bytes) -> ProofBundle:
    bundle = pickle.loads(body)  # written by this process into its private temporary database
    assert isinstance(bundle, ProofBundle)
    return bundle


class BundleIndex:
    """The proof bundles of a folder, indexed in a temporary SQLite database (a file, not memory).

    One streaming pass reads and checks every ``*.proof.json`` (in path order) and keeps what the
    audit looks up (the record id and content hash it speaks for, its block, the leaf it supersedes)
    and the parsed bundle itself, pickled: the bundle verified is the one read and checked, never a
    file read again later. The database is private to this process (SQLite's temporary file,
    unlinked when opened), so nothing else can write what is unpickled. Unreadable bundles are
    returned by the pass as rows.
    """

    def __init__(self, proofs_dir: Path) -> None:
        if not proofs_dir.is_dir():
            raise InputError(f"no such proofs folder: {proofs_dir}")
        self.table = BundleTable()
        self.table.add_paths(
            os.fsencode(os.path.join(folder, name))
            for folder, _, files in os.walk(proofs_dir)
            for name in files
            if name.endswith(".proof.json")
        )
        #: Readable bundles indexed (after :meth:`scan`).
        self.count = 0

    @property
    def db(self) -> sqlite3.Connection:
        """The temporary database."""
        return self.table.db

    def scan(self, workers: int | None = None) -> Iterator[AuditRow]:
        """Read every bundle once (path order; parsed on all cores for large folders); yield the unreadable ones."""
        total = self.table.path_count()
        workers = workers if workers is not None else default_workers(total)
        chunks = chunked(self.table.paths(), HASH_CHUNK)
        rows: list[tuple[Any, ...]] = []
        with contextlib.ExitStack() as stack:
            pool = start_workers(StageOptions(""), workers) if workers > 1 else None
            if pool is not None:
                stack.enter_context(pool)
                parts: Iterator[list[tuple[Any, ...] | AuditRow]] = bounded_map(pool, _index_chunk, chunks, workers)
            else:
                parts = (_index_chunk(part) for part in chunks)
            for part in parts:
                for entry in part:
                    if isinstance(entry, AuditRow):
                        yield entry
                    else:
                        rows.append(entry)
                if len(rows) >= 10_000:
                    self._insert(rows)
                    rows = []
        self._insert(rows)
        self.table.finish()

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        self.table.insert(rows)
        self.count += len(rows)

    def pick(self, record_id: str, content_hash: str) -> ProofBundle | None:
        """The bundle for this content, else the newest one for the record (the first in path order of equals).

        Marks it used.
        """
        body = self.table.pick(record_id, content_hash)
        return _unpickle(body) if body is not None else None

    def successor(self, leaf: str, record_id: str) -> ProofBundle | None:
        """The bundle naming ``leaf`` as superseded (the last in path order), if it is of ``record_id``."""
        found = self.table.successor(leaf)
        if found is None or found[0] != record_id:
            return None
        return _unpickle(found[1])

    @property
    def unmatched(self) -> int:
        """Bundles no file used."""
        return self.table.unused()

    def close(self) -> None:
        """Delete the temporary database."""
        self.table.close()


def _claims(bundle: ProofBundle) -> tuple[str, str, str]:
    """(record id, content hash, canonicalization) a bundle speaks for (a revealed sealed record's own)."""
    reveal = bundle.extra.get("reveal")
    if bundle.value.canonicalization == SEALED and isinstance(reveal, dict):
        get = reveal.get
        return str(get("recordId")), str(get("contentHash")), str(get("canonicalization"))
    value = bundle.value
    return value.record_id, value.content_hash, value.canonicalization


def _bundle_record_id(bundle: ProofBundle) -> str:
    return _claims(bundle)[0]
