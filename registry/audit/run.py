"""Audit an office's publications: every record re-hashed and verified, then checked against a list.

Two sources: a folder of publication files (with their proof bundles, or through the index), or
an office's whole feed from the index. Verification runs offline against a per-batch snapshot of
on-chain state (:class:`SnapshotReader`), so one audit makes a few calls per batch, not per record.

Expected list (``--expected FILE``), in the style of a WIPO ST.37 authority file, one entry a line::

    # comments and blank lines are ignored
    EP:1234567:B1              a record id
    EP:1234567                 a number without kind code: any kind of that number matches
    1234567,B1                 number and kind code (the office is the audited one)
    EP;1234567;B1;20260107     office, number, kind, publication date (ignored); ',' ';' or tab

A first line whose number column is not a document number (``publication_number,kind``) is a header.

Flat memory: nothing held grows with the number of records. Rows are spilled to a temporary file
as they arrive while their counts are kept (:class:`RowLog`); the expected list and the proofs
folder's bundle index live in temporary SQLite databases (:class:`ExpectedList`,
:class:`BundleIndex`); files are listed one folder at a time and hashed on all cores with a few
chunks in flight; the feed is read batch by batch, each batch's newest versions and their
successors selected in SQL; the JSON report is streamed from the spill.

What must never happen (tested in tests/test_audit_stream.py against a copy of the in-memory
audit): a record reported VERIFIED that is not, or any verdict or reason other than before; a row
lost or counted twice when spilling (the counts always add up: rows are records plus MISSING ones,
statuses sum to the rows); a report file left half-written (written beside, synced, renamed);
hashing workers outliving a killed audit.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import os
import pickle
import re
import sqlite3
import tempfile
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import orjson
from web3 import Web3
from web3.exceptions import Web3RPCError

from registry.chain.client import Chain
from registry.core import canon, merkle
from registry.core.batch import BatchInfo, utc_iso
from registry.core.records import SEALED, ProofBundle, RecordId
from registry.errors import InputError, RecordIdError, RegistryError
from registry.files.ingest import StageOptions, bounded_map, chunked, iter_files, prepare_file, start_workers
from registry.indexer.sync import Index, IndexedBatch, IndexedLeaf
from registry.store.outbox import Store
from registry.verify.verdicts import SUPERSEDED, UNKNOWN, VERIFIED, Verdict, verify_bundle

MISSING: Final = "MISSING"
REPORT_FORMAT: Final = "ipreg-audit-v1"
#: Exit status of ``ipreg audit`` when a record needs attention (errors exit with 1).
EXIT_ATTENTION: Final = 3

Progress = Callable[[int], None]
_SEPARATORS: Final = re.compile(r"[,;\t]")
#: Largest proof bundle file read (a bundle of a 2**32-record batch is about 3 KB).
_MAX_BUNDLE_BYTES: Final = 1024 * 1024
#: Merkle nodes remembered per batch before the memory is given back (about 100 bytes each).
_MAX_NODES: Final = 500_000
#: Batches whose Merkle nodes are kept (an audit goes batch by batch; older ones give their memory back).
_HOT_BATCHES: Final = 4
#: Rows needing attention listed in the HTML report (all of them are in the JSON report).
HTML_ATTENTION_ROWS: Final = 10_000
#: Files per hashing chunk, and files below which hashing stays in this process.
_HASH_CHUNK: Final = 500
_PARALLEL_FILES: Final = 2000


# ---------------------------------------------------------------------------- expected list


@dataclass(frozen=True, slots=True)
class ExpectedEntry:
    """One line of an expected list: a publication number with an optional kind code."""

    office: str
    number: str
    kind: str | None
    line: int

    @property
    def label(self) -> str:
        """As a record id (``EP:1234567:B1`` or ``EP:1234567``)."""
        return str(RecordId(self.office, self.number, self.kind))


def _iter_expected(lines: Iterable[str], office: str, source: str) -> Iterator[ExpectedEntry]:
    """The entries of an expected list's lines (numbered from 1), lazily; InputError names a bad line."""
    first = True
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header, first = first, False
        try:
            if ":" in line:
                rid = RecordId.parse(line)
            else:
                cells = [c.strip().upper() for c in _SEPARATORS.split(line)]
                own = office
                if len(cells[0]) == 2 and cells[0].isalpha():
                    own, cells = cells[0], cells[1:] or [""]
                if header and not cells[0][:1].isdigit():
                    continue
                rid = RecordId(own, cells[0], cells[1] if len(cells) > 1 and cells[1] else None)
        except RecordIdError as exc:
            raise InputError(f"{source}, line {n}: {exc.diagnostics()}") from None
        yield ExpectedEntry(rid.office, rid.number, rid.kind, n)


def parse_expected(text: str, office: str, source: str = "expected list") -> list[ExpectedEntry]:
    """Parse an expected list (see the module docstring); raise InputError naming the line."""
    return list(_iter_expected(text.splitlines(), office, source))


def _file_lines(handle: IO[str]) -> Iterator[str]:
    """The lines of a text file as ``str.splitlines`` cuts the whole text, one line in memory at a time."""
    for chunk in handle:
        yield from chunk.splitlines() or [""]


class ExpectedList:
    """An expected list in a temporary SQLite database (a file, not memory), matched as rows arrive.

    The database is private to this object and deleted when it is closed (SQLite's temporary
    on-disk database), so a list of millions of entries costs a few pages of cache.
    """

    def __init__(self, entries: Iterable[ExpectedEntry] = ()) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE entries (office TEXT NOT NULL, number TEXT NOT NULL, kind TEXT, line INTEGER NOT NULL,"
            " matched INTEGER NOT NULL DEFAULT 0);"
        )
        self.count = 0
        self.add(entries)
        self.db.execute("CREATE INDEX entries_number ON entries(office, number)")

    def add(self, entries: Iterable[ExpectedEntry]) -> None:
        """Store entries (in list order: MISSING rows come out in that order)."""
        batch: list[tuple[str, str, str | None, int]] = []
        for e in entries:
            batch.append((e.office, e.number, e.kind, e.line))
            if len(batch) >= 10_000:
                self._insert(batch)
                batch = []
        self._insert(batch)

    def _insert(self, batch: list[tuple[str, str, str | None, int]]) -> None:
        self.db.executemany("INSERT INTO entries (office, number, kind, line) VALUES (?, ?, ?, ?)", batch)
        self.count += len(batch)

    @classmethod
    def load(cls, path: Path, office: str) -> ExpectedList:
        """Read an expected list file line by line; InputError names an unreadable file or a bad line."""
        try:
            with path.open(encoding="utf-8-sig") as handle:
                return cls(_iter_expected(_file_lines(handle), office, str(path)))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read expected list {path}: {getattr(exc, 'strerror', None) or exc}") from None

    def match(self, office: str, number: str, kind: str | None) -> bool:
        """Whether an entry names this record (a number without kind code matches any kind); marks them found."""
        cur = self.db.execute(
            "UPDATE entries SET matched = 1 WHERE office = ? AND number = ? AND (kind IS NULL OR kind = ?)",
            (office, number, kind),
        )
        return cur.rowcount > 0

    def unmatched(self) -> Iterator[ExpectedEntry]:
        """Entries no row matched, in list order."""
        rows = self.db.execute("SELECT office, number, kind, line FROM entries WHERE matched = 0 ORDER BY rowid")
        for office, number, kind, line in rows:
            yield ExpectedEntry(office, number, kind, line)

    def close(self) -> None:
        """Delete the temporary database."""
        self.db.close()


def load_expected(path: Path, office: str) -> ExpectedList:
    """Read an expected list file (into a temporary database)."""
    return ExpectedList.load(path, office)


# ---------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One record of an audit (or one expected record not found: ``MISSING``)."""

    status: str
    reason: str
    record_id: str | None
    file: str | None = None
    expected: bool | None = None
    office: str | None = None
    content_hash: str | None = None
    root: str | None = None
    block_number: int | None = None
    transaction_hash: str | None = None
    anchored_at: str | None = None
    superseded_by: str | None = None

    @property
    def attention(self) -> bool:
        """Whether a person should look at this row."""
        return self.status != VERIFIED or self.expected is False

    @classmethod
    def of(cls, verdict: Verdict, file: str | None = None) -> AuditRow:
        """A row from a verdict."""
        return cls(
            verdict.verdict,
            verdict.reason,
            verdict.record_id,
            file,
            None,
            verdict.office,
            verdict.content_hash,
            verdict.root,
            verdict.block_number,
            verdict.transaction_hash,
            verdict.anchored_at,
            verdict.superseded_by,
        )

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase JSON."""
        return {
            "status": self.status,
            "reason": self.reason,
            "recordId": self.record_id,
            "file": self.file,
            "expected": self.expected,
            "office": self.office,
            "contentHash": self.content_hash,
            "root": self.root,
            "blockNumber": self.block_number,
            "transactionHash": self.transaction_hash,
            "anchoredAt": self.anchored_at,
            "supersededBy": self.superseded_by,
        }

    def fields(self) -> tuple[Any, ...]:
        """The row's values in field order (how a row is spilled)."""
        return (
            self.status,
            self.reason,
            self.record_id,
            self.file,
            self.expected,
            self.office,
            self.content_hash,
            self.root,
            self.block_number,
            self.transaction_hash,
            self.anchored_at,
            self.superseded_by,
        )


def _dumps(value: Any) -> bytes:
    """One JSON line; a path that is not valid UTF-8 (surrogate escapes) is written escaped."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode("ascii")


def _loads(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


class RowLog:
    """The rows of an audit, spilled to a temporary file as they arrive, with their counts kept on the way.

    Memory does not grow with the rows: each row is one JSON line of an unnamed temporary file (gone
    when the process ends, however it ends), read back only when the rows are iterated. What must
    never happen: a row lost or counted twice. Every :meth:`add` writes exactly one line and counts
    it once; ``len()`` is the number of lines written and iteration yields exactly those lines.
    """

    def __init__(self, rows: Iterable[AuditRow] = ()) -> None:
        self._file = tempfile.TemporaryFile(prefix="ipreg-audit-rows-")  # noqa: SIM115 (closed by close())
        weakref.finalize(self, self._file.close)
        self._count = 0
        self.status_counts: dict[str, int] = {}
        self.unexpected_by_status: dict[str, int] = {}
        self.attention = 0
        #: root -> [root, block, anchored at, rows] (the first row naming the root gives block and time)
        self.batches: dict[str, list[Any]] = {}
        for row in rows:
            self.add(row)

    def add(self, row: AuditRow) -> None:
        """Spill one row and count it."""
        self._file.write(_dumps(row.fields()) + b"\n")
        self._count += 1
        status = row.status
        self.status_counts[status] = self.status_counts.get(status, 0) + 1
        if row.expected is False:
            self.unexpected_by_status[status] = self.unexpected_by_status.get(status, 0) + 1
        if row.attention:
            self.attention += 1
        if row.root is not None and row.block_number is not None:
            entry = self.batches.get(row.root)
            if entry is None:
                entry = self.batches[row.root] = [row.root, row.block_number, row.anchored_at, 0]
            entry[3] += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[AuditRow]:
        """Every row in the order added (read with ``pread``: adding while iterating is safe)."""
        self._file.flush()
        fd, offset, end, rest = self._file.fileno(), 0, self._file.tell(), b""
        while offset < end:
            block = os.pread(fd, min(1 << 20, end - offset), offset)
            if not block:
                break
            offset += len(block)
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield AuditRow(*_loads(line))
        if rest:
            yield AuditRow(*_loads(rest))

    def close(self) -> None:
        """Delete the spill file."""
        self._file.close()


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file through ``write`` into a temporary file beside ``path``, synced, then renamed over it.

    A failure part-way (or a kill) leaves the old file, or none, never half of the new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report is as readable as any file written
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@dataclass(slots=True, init=False)
class AuditReport:
    """The outcome of an audit: summary figures and one row per record (spilled, see :class:`RowLog`)."""

    office: str
    source: str
    chain_id: int
    registry: str
    block_number: int
    started_at: str
    rows: RowLog
    expected_count: int | None
    unmatched_bundles: int
    hash_seconds: float
    verify_seconds: float
    seconds: float
    rpc_calls: int

    def __init__(
        self,
        office: str,
        source: str,
        chain_id: int,
        registry: str,
        block_number: int,
        started_at: str,
        rows: Iterable[AuditRow] = (),
        expected_count: int | None = None,
    ) -> None:
        self.office, self.source, self.chain_id, self.registry = office, source, chain_id, registry
        self.block_number, self.started_at = block_number, started_at
        self.rows = rows if isinstance(rows, RowLog) else RowLog(rows)
        self.expected_count = expected_count
        self.unmatched_bundles = 0
        self.hash_seconds = self.verify_seconds = self.seconds = 0.0
        self.rpc_calls = 0

    @property
    def records(self) -> int:
        """Records audited (rows other than MISSING)."""
        return len(self.rows) - self.rows.status_counts.get(MISSING, 0)

    @property
    def status_counts(self) -> dict[str, int]:
        """Rows by status; they add up to the number of rows (records audited plus MISSING ones)."""
        return dict(self.rows.status_counts)

    @property
    def unexpected(self) -> int:
        """Rows not on the expected list; each is also counted under its status (an overlap, not a status)."""
        return sum(self.rows.unexpected_by_status.values())

    @property
    def counts(self) -> dict[str, int]:
        """Rows by status, plus ``UNEXPECTED`` (records not on the expected list, overlapping the statuses)."""
        return {**self.rows.status_counts, "UNEXPECTED": self.unexpected}

    @property
    def ok(self) -> bool:
        """True only if every record verified and nothing expected is missing."""
        return all(k == VERIFIED for k in self.rows.status_counts)

    @property
    def attention(self) -> Iterator[AuditRow]:
        """Rows a person should look at (read back from the spill)."""
        return (r for r in self.rows if r.attention)

    @property
    def attention_count(self) -> int:
        """How many rows need attention."""
        return self.rows.attention

    def rate(self, seconds: float | None = None) -> float | None:
        """Records per second over ``seconds`` (default: the whole audit)."""
        seconds = self.seconds if seconds is None else seconds
        return round(self.records / seconds, 1) if seconds > 0 else None

    def summary(self) -> dict[str, Any]:
        """Summary figures (lowerCamelCase)."""
        return {
            "format": REPORT_FORMAT,
            "ok": self.ok,
            "office": self.office,
            "source": self.source,
            "chainId": self.chain_id,
            "registry": self.registry,
            "blockNumber": self.block_number,
            "startedAt": self.started_at,
            "records": self.records,
            "expected": self.expected_count,
            "counts": self.counts,
            "statusCounts": self.status_counts,
            "unexpected": self.unexpected,
            "rowCount": len(self.rows),
            "attention": self.attention_count,
            "unmatchedBundles": self.unmatched_bundles,
            "seconds": round(self.seconds, 3),
            "hashSeconds": round(self.hash_seconds, 3),
            "verifySeconds": round(self.verify_seconds, 3),
            "recordsPerSecond": self.rate(),
            "verifiedPerSecond": self.rate(self.verify_seconds),
            "rpcCalls": self.rpc_calls,
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON report in memory (small audits; :meth:`write_json` streams the same shape)."""
        return {
            **self.summary(),
            "attentionRows": [r.to_json() for r in self.attention],
            "rows": [r.to_json() for r in self.rows],
        }

    def write_json(self, out: IO[bytes]) -> None:
        """Stream the JSON report (summary, rows needing attention, then every row) one row a line."""
        out.write(b"{\n")
        for key, value in self.summary().items():
            out.write(b"  " + _dumps(key) + b": " + _dumps(value) + b",\n")
        for key, rows, last in (("attentionRows", self.attention, b",\n"), ("rows", iter(self.rows), b"\n")):
            out.write(b"  " + _dumps(key) + b": [")
            sep = b"\n    "
            for row in rows:
                out.write(sep + _dumps(row.to_json()))
                sep = b",\n    "
            out.write((b"\n  ]" if sep != b"\n    " else b"]") + last)
        out.write(b"}\n")

    def save_json(self, path: Path) -> None:
        """Write the JSON report to ``path`` atomically (see :func:`write_atomic`)."""
        write_atomic(path, self.write_json)

    def close(self) -> None:
        """Delete the spilled rows."""
        self.rows.close()


# ---------------------------------------------------------------------------- on-chain snapshot


@dataclass(frozen=True, slots=True)
class _SnapshotBatch(BatchInfo):
    """A batch read once, with its time already formatted."""

    at: str = ""

    @property
    def anchored_at(self) -> str:
        """UTC time of the anchoring block."""
        return self.at


class _BatchState:
    """One batch of a snapshot: on-chain record, revoked leaves, and the Merkle nodes computed so far."""

    __slots__ = ("info", "nodes", "revoked", "root")

    def __init__(self, info: BatchInfo | None, revoked: dict[str, int] | None, root: bytes) -> None:
        self.info = info
        self.revoked = revoked
        self.root = root
        self.nodes: dict[bytes, bytes] = {}

    def included(self, leaf: bytes, proof: Sequence[str]) -> bool:
        """``MerkleProof.verify``, exactly; each sorted pair is hashed once per batch (proofs share nodes)."""
        nodes = self.nodes
        if len(nodes) > _MAX_NODES:
            nodes.clear()
        node = leaf
        for element in proof:
            sibling = bytes.fromhex(element[2:])
            pair = node + sibling if node < sibling else sibling + node
            parent = nodes.get(pair)
            if parent is None:
                parent = nodes[pair] = merkle.keccak(pair)
            node = parent
        return node == self.root


class SnapshotReader:
    """A :class:`registry.verify.verdicts.ChainReader` over one block, cached per batch.

    One ``batchOf`` per (office, root) and one ``isAuthorisedAt`` per (office, signer, block); Merkle proofs are
    checked locally. Leaf revocations come from the index when it has reached the snapshot block,
    else from the root's ``LeafRevoked`` events (one ``eth_getLogs`` per batch); only if a node
    refuses that query is ``leafRevocation`` called per record.
    """

    def __init__(self, chain: Chain, index: Index | None = None, block_number: int | None = None) -> None:
        self.chain = chain
        self.index = index
        self.calls = 0
        self.block_number = (
            block_number if block_number is not None else self._call(lambda: int(chain.w3.eth.block_number))
        )
        self._chain_id: int | None = None
        self._batches: dict[str, _BatchState] = {}
        self._signers: dict[tuple[str, str, int], bool] = {}
        self._hot: OrderedDict[str, _BatchState] = OrderedDict()
        self._last = ""

    def _call(self, fn: Callable[[], Any]) -> Any:
        self.calls += 1
        return self.chain.rpc(fn)

    def chain_id(self) -> int:
        """Chain id of the endpoint (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self._call(lambda: self.chain.w3.eth.chain_id))
        return self._chain_id

    def batch(self, office: str, root: str) -> _BatchState:
        """The cached state of ``office``'s batch under ``root`` (asked once)."""
        root = root.lower()
        key = f"{office}:{root}"
        state = self._batches.get(key)
        if state is not None:
            if key != self._last:
                self._warm(key, state)
            return state
        b = self._call(
            lambda: self.chain.anchors.functions.batchOf(office.encode("ascii"), root).call(
                block_identifier=self.block_number
            )
        )
        info = None
        revoked: dict[str, int] | None = {}
        if int(b[3]) != 0:
            info = _SnapshotBatch(
                root,
                bytes(b[0]).decode("ascii"),
                str(b[1]),
                int(b[2]),
                int(b[3]),
                int(b[4]),
                int(b[5]),
                utc_iso(int(b[2])),
            )
            revoked = self._revoked(office, root, info.block_number)
        state = self._batches[key] = _BatchState(info, revoked, bytes.fromhex(root[2:]))
        self._warm(key, state)
        return state

    def _warm(self, key: str, state: _BatchState) -> None:
        """Keep the Merkle nodes of the last few batches used; older batches give theirs back."""
        self._last = key
        hot = self._hot
        hot[key] = state
        hot.move_to_end(key)
        while len(hot) > _HOT_BATCHES:
            hot.popitem(last=False)[1].nodes = {}

    def _revoked(self, office: str, root: str, from_block: int) -> dict[str, int] | None:
        cursor = self.index.cursor() if self.index is not None else None
        if self.index is not None and cursor is not None and cursor >= self.block_number:
            return self.index.revoked_leaves(office, root)
        try:
            logs = self._call(
                lambda: self.chain.anchors.events.LeafRevoked().get_logs(
                    from_block=from_block,
                    to_block=self.block_number,
                    argument_filters={"root": bytes.fromhex(root[2:]), "office": office.encode("ascii")},
                )
            )
        except (Web3RPCError, ValueError):
            return None  # the node refuses the range: ask per record
        return {"0x" + bytes(e["args"]["leaf"]).hex(): int(e["args"]["reason"]) for e in logs}

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """Local Merkle check of the values' leaf against the cached batch; revocation from the cached set."""
        leaf = merkle.leaf_hash(values)
        state = self.batch(office, root)
        if state.info is None:
            return False, None, 0
        included = state.included(leaf, proof)
        if state.revoked is not None:
            return included, state.info, state.revoked.get("0x" + leaf.hex(), 0)
        reason = self._call(
            lambda: self.chain.anchors.functions.leafRevocation(office.encode("ascii"), root, leaf).call(
                block_identifier=self.block_number
            )
        )
        return included, state.info, int(reason)

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt`` (signer term, not compromised), asked once per (office, signer, block)."""
        key = (office, signer.lower(), block_number)
        if key not in self._signers:
            self.calls += 1
            self._signers[key] = self.chain.is_authorised_at(office, signer, block_number)
        return self._signers[key]


# ---------------------------------------------------------------------------- hashing


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
        chunks = chunked(itertools.chain(head, paths), _HASH_CHUNK)
        for part in bounded_map(pool, _hash_chunk, chunks, workers):
            if progress is not None:
                progress(len(part))
            yield from part


def default_workers(files: int) -> int:
    """Hashing processes for ``files`` files: all cores (at most 8) from 2,000 files on, else this one."""
    cpus = os.cpu_count() or 1
    return min(cpus, 8) if cpus > 1 and files >= _PARALLEL_FILES else 1


# ---------------------------------------------------------------------------- bundles


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
        self.db = sqlite3.connect("")
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE paths (path BLOB NOT NULL);"
            "CREATE TABLE bundles (seq INTEGER PRIMARY KEY, path BLOB NOT NULL, claim_id TEXT NOT NULL,"
            " claim_hash TEXT NOT NULL, block_number INTEGER NOT NULL, value_id TEXT NOT NULL,"
            " value_hash TEXT NOT NULL, supersedes TEXT NOT NULL, body BLOB NOT NULL,"
            " used INTEGER NOT NULL DEFAULT 0);"
        )
        names = (
            (os.fsencode(os.path.join(folder, name)),)
            for folder, _, files in os.walk(proofs_dir)
            for name in files
            if name.endswith(".proof.json")
        )
        while batch := list(itertools.islice(names, 10_000)):
            self.db.executemany("INSERT INTO paths VALUES (?)", batch)
        #: Readable bundles indexed (after :meth:`scan`).
        self.count = 0

    def scan(self, workers: int | None = None) -> Iterator[AuditRow]:
        """Read every bundle once (path order; parsed on all cores for large folders); yield the unreadable ones."""
        total = int(self.db.execute("SELECT count(*) FROM paths").fetchone()[0])
        workers = workers if workers is not None else default_workers(total)
        paths = (raw for (raw,) in self.db.execute("SELECT path FROM paths ORDER BY path"))
        chunks = chunked(paths, _HASH_CHUNK)
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
        self.db.executescript(
            "DROP TABLE paths; CREATE INDEX bundles_claim ON bundles(claim_id);"
            " CREATE INDEX bundles_supersedes ON bundles(supersedes);"
        )

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        self.db.executemany(
            "INSERT INTO bundles (path, claim_id, claim_hash, block_number, value_id, value_hash, supersedes, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self.count += len(rows)

    def has(self, record_id: str) -> bool:
        """Whether any bundle speaks for ``record_id``."""
        return self.db.execute("SELECT 1 FROM bundles WHERE claim_id = ? LIMIT 1", (record_id,)).fetchone() is not None

    def pick(self, record_id: str, content_hash: str) -> ProofBundle | None:
        """The bundle for this content, else the newest one for the record (the first in path order of equals).

        Marks it used.
        """
        row = self.db.execute(
            "SELECT seq, body FROM bundles WHERE claim_id = ?"
            " ORDER BY claim_hash = ? DESC, block_number DESC, seq LIMIT 1",
            (record_id, content_hash),
        ).fetchone()
        if row is None:
            return None
        self.db.execute("UPDATE bundles SET used = 1 WHERE seq = ?", (row[0],))
        return _unpickle(row[1])

    def successor(self, leaf: str, record_id: str) -> ProofBundle | None:
        """The bundle naming ``leaf`` as superseded (the last in path order), if it is of ``record_id``."""
        row = self.db.execute(
            "SELECT value_id, body FROM bundles WHERE supersedes = ? ORDER BY seq DESC LIMIT 1", (leaf,)
        ).fetchone()
        if row is None or row[0] != record_id:
            return None
        return _unpickle(row[1])

    @property
    def unmatched(self) -> int:
        """Bundles no file used."""
        return int(self.db.execute("SELECT count(*) - coalesce(sum(used), 0) FROM bundles").fetchone()[0])

    def close(self) -> None:
        """Delete the temporary database."""
        self.db.close()


def load_bundles(proofs_dir: Path) -> tuple[dict[str, list[ProofBundle]], list[AuditRow]]:
    """Every ``*.proof.json`` under ``proofs_dir`` by the record id it speaks for; unreadable ones as rows.

    All in memory: for small folders (the audit itself uses :class:`BundleIndex`).
    """
    if not proofs_dir.is_dir():
        raise InputError(f"no such proofs folder: {proofs_dir}")
    by_id: dict[str, list[ProofBundle]] = {}
    bad: list[AuditRow] = []
    paths = sorted(
        os.path.join(folder, name)
        for folder, _, names in os.walk(proofs_dir)
        for name in names
        if name.endswith(".proof.json")
    )
    for path in paths:
        try:
            bundle = _read_bundle(path)
        except (RegistryError, OSError) as exc:
            reason = exc.diagnostics() if isinstance(exc, RegistryError) else str(exc)
            bad.append(AuditRow(UNKNOWN, f"unreadable proof bundle: {reason}", None, path))
            continue
        by_id.setdefault(_bundle_record_id(bundle), []).append(bundle)
    return by_id, bad


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


# ---------------------------------------------------------------------------- audits


class _Context:
    """What every record of one audit shares: chain snapshot, store, index and the folder's bundles.

    Supersession is looked up per record in the index (or given by the feed's query), then in the
    folder's bundles, then in the outbox if the store has one.
    """

    def __init__(self, chain: Chain, store: Store | None, index: Index | None) -> None:
        if chain.deployment is None:
            raise InputError("no registry to audit against: give a deployment or --registry")
        self.chain = chain
        self.index = index
        self.outbox = store if store is not None and store.counts()["records"] else None
        self.reader = SnapshotReader(chain, index)
        self.registry = chain.deployment.anchor_registry.lower()
        self.bundles: BundleIndex | None = None

    def verify(
        self, bundle: ProofBundle, content_hash: str | None, indexed: tuple[str, str] | bool | None = True
    ) -> Verdict:
        """The bundle's verdict, SUPERSEDED if a newer version exists.

        ``indexed``: True to ask the index for a successor; else the (record id, content hash) of
        the successor the index is known to hold for this leaf's record, or None if it holds none.
        """
        if bundle.registry.lower() != self.registry:
            return Verdict(
                UNKNOWN,
                f"the bundle is for registry {bundle.registry}, the audit checks {self.registry}",
                office=bundle.office,
                record_id=bundle.value.record_id,
                content_hash=content_hash,
                root=bundle.root,
            )
        verdict = verify_bundle(self.chain, bundle, content_hash, None, self.reader)
        if verdict.verdict != VERIFIED or verdict.record_id is None or verdict.office is None:
            return verdict
        if isinstance(indexed, tuple) and indexed[0] != verdict.record_id:
            indexed = True  # not the record the query assumed: ask the index
        newer = self._newer(bundle.value.leaf(), verdict.record_id, verdict.office, indexed)
        if newer is None:
            return verdict
        return replace(
            verdict,
            verdict=SUPERSEDED,
            superseded_by=f"{newer[0]}@{newer[1]}",
            reason=f"a newer version of {newer[0]} exists (content {newer[1]})",
        )

    def _newer(
        self, leaf: bytes, record_id: str, office: str, indexed: tuple[str, str] | bool | None
    ) -> tuple[str, str] | None:
        """(record id, content hash) of a version superseding ``leaf``, if any source knows one."""
        key = "0x" + leaf.hex()
        if isinstance(indexed, tuple):
            return indexed
        if indexed and self.index is not None:
            x = self.index.superseded_by(key, office, record_id)
            if x is not None:
                return x.record_id, x.content_hash
        newer = self.bundles.successor(key, record_id) if self.bundles is not None else None
        if newer is not None:
            check = verify_bundle(self.chain, newer, None, None, self.reader)
            if check.verdict in (VERIFIED, SUPERSEDED) and check.office == office:
                return newer.value.record_id, newer.value.content_hash
        found = self.outbox.superseded_by(leaf) if self.outbox is not None else None
        return (found.record_id, found.content_hash) if found is not None else None

    def index_bundle(self, leaf: IndexedLeaf) -> ProofBundle:
        dep = self.chain.deployment
        assert dep is not None and self.index is not None
        return self.index.bundle(leaf, dep.chain_id, dep.anchor_registry)


def _index_of(chain: Chain, store: Store | None) -> Index | None:
    """The store's index if it follows the audited registry."""
    if store is None or chain.deployment is None:
        return None
    return Index.of(store.db, chain.deployment.anchor_registry)


def _report(ctx: _Context, office: str, source: str) -> AuditReport:
    dep = ctx.chain.deployment
    assert dep is not None
    return AuditReport(
        office,
        source,
        dep.chain_id,
        dep.anchor_registry,
        ctx.reader.block_number,
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def publication_files(folder: Path, proofs_dir: Path | None = None) -> Iterator[str]:
    """The files of ``folder`` an audit hashes (lazily, one folder's names at a time): not proof
    bundles, nothing under ``proofs_dir``."""
    if not folder.is_dir():
        raise InputError(f"no such folder: {folder}")
    proofs_root = proofs_dir.resolve() if proofs_dir is not None else None
    inside = proofs_root is not None and proofs_root.is_relative_to(folder.resolve())
    for f in iter_files([folder]):
        if f.endswith(".proof.json"):
            continue
        if inside and proofs_root in Path(f).resolve().parents:
            continue
        yield f


def count_publication_files(folder: Path, proofs_dir: Path | None = None) -> int:
    """How many files :func:`publication_files` yields (for a progress bar)."""
    return sum(1 for _ in publication_files(folder, proofs_dir))


class _Expect:
    """Applies an expected list to rows as they arrive, as :func:`audit_feed` and :func:`audit_folder` did in bulk."""

    def __init__(self, office: str, expected: ExpectedList | Sequence[ExpectedEntry] | None) -> None:
        self.office = office
        self.owned = expected is not None and not isinstance(expected, ExpectedList)
        self.expected = expected if isinstance(expected, ExpectedList) or expected is None else ExpectedList(expected)

    def row(self, row: AuditRow) -> AuditRow:
        """The row marked unexpected (not on the list, or of another office), or as it is."""
        if row.record_id is None:
            return row
        try:
            rid = RecordId.parse(row.record_id)
        except RecordIdError:
            return replace(row, expected=False)
        if rid.office != self.office:
            return replace(row, expected=False, reason=f"{row.reason}; the record belongs to office {rid.office}")
        if self.expected is None:
            return row
        return replace(row, expected=self.expected.match(rid.office, rid.number, rid.kind))

    def missing(self) -> Iterator[AuditRow]:
        """A MISSING row per entry no row matched, in list order."""
        if self.expected is None:
            return
        for e in self.expected.unmatched():
            yield AuditRow(MISSING, f"expected (line {e.line}) but not found", e.label, expected=True, office=e.office)

    @property
    def count(self) -> int | None:
        return self.expected.count if self.expected is not None else None

    def close(self) -> None:
        if self.owned and self.expected is not None:
            self.expected.close()


def audit_folder(
    chain: Chain,
    store: Store | None,
    folder: Path,
    office: str,
    proofs_dir: Path | None = None,
    expected: ExpectedList | Sequence[ExpectedEntry] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Audit a folder of ``office``'s publication files, with bundles from ``proofs_dir`` or via the index.

    Files are streamed and hashed on all cores; bundles indexed in a temporary database; rows spilled.
    """
    started = time.perf_counter()
    files = publication_files(folder, proofs_dir)
    index = _index_of(chain, store)
    ctx = _Context(chain, store, index)
    report = _report(ctx, office, f"folder {folder}")
    expect = _Expect(office, expected)
    try:
        ctx.bundles = BundleIndex(proofs_dir) if proofs_dir is not None else None
        if ctx.bundles is not None:
            for row in ctx.bundles.scan():
                report.rows.add(expect.row(row))
        bundle_seconds = time.perf_counter() - started
        verify_seconds = 0.0
        for h in hash_files(files, workers, progress):
            t = time.perf_counter()
            report.rows.add(expect.row(_audit_file(ctx, h)))
            verify_seconds += time.perf_counter() - t
        t = time.perf_counter()
        for row in expect.missing():
            report.rows.add(row)
        report.unmatched_bundles = ctx.bundles.unmatched if ctx.bundles is not None else 0
        report.expected_count = expect.count
        report.verify_seconds = verify_seconds + bundle_seconds + time.perf_counter() - t
        report.seconds = time.perf_counter() - started
        report.hash_seconds = max(report.seconds - report.verify_seconds, 0.0)
        report.rpc_calls = ctx.reader.calls
    finally:
        expect.close()
        if ctx.bundles is not None:
            ctx.bundles.close()
    return report


def _audit_file(ctx: _Context, h: HashedFile) -> AuditRow:
    if h.error is not None or h.record_id is None or h.content_hash is None:
        return AuditRow(UNKNOWN, h.error or "no record id", None, h.path)
    bundles = ctx.bundles
    bundle: ProofBundle | None = None
    picked = bundles.pick(h.record_id, h.content_hash) if bundles is not None else None
    if picked is not None:
        bundle = picked
    elif ctx.index is not None:
        leaves = [x for x in ctx.index.leaves_by_hash(h.content_hash) if x.record_id == h.record_id]
        leaves = leaves or ctx.index.versions(h.record_id)
        bundle = ctx.index_bundle(leaves[-1]) if leaves else None
    if bundle is None:
        readable = bundles is not None and bundles.count > 0
        where = "no proof bundle in the proofs folder" if readable else "nothing in the index"
        return AuditRow(UNKNOWN, f"{where} for {h.record_id}", h.record_id, h.path, content_hash=h.content_hash)
    content_hash = h.content_hash
    method = _claims(bundle)[2]
    if method != h.canonicalization and method in canon.CANONICALIZATIONS:
        try:
            content_hash = canon.content_hash(Path(h.path).read_bytes(), method)
        except (RegistryError, OSError) as exc:
            reason = exc.diagnostics() if isinstance(exc, RegistryError) else str(exc)
            return AuditRow(UNKNOWN, f"cannot hash as {method}: {reason}", h.record_id, h.path)
    return AuditRow.of(ctx.verify(bundle, content_hash), h.path)


#: The newest version of each record of one batch (none later in the index's order for that record
#: and office), with the content hash of the first non-revoked version naming it as superseded.
#: The indexes are forced (and CROSS JOIN fixes the loop order): the planner otherwise scans every
#: later batch per row.
_FEED_LEAVES: Final = (
    "SELECT l.root, l.position, l.leaf, l.record_id, l.content_hash, l.canonicalization, l.supersedes,"
    " b.office, b.block_number, b.timestamp, b.tx_hash, b.leaf_count,"
    " (SELECT s.content_hash FROM idx_leaves s INDEXED BY idx_leaves_supersedes"
    "  CROSS JOIN idx_batches sb ON sb.office = s.office AND sb.root = s.root"
    "  WHERE s.supersedes = l.leaf AND s.record_id = l.record_id AND sb.office = b.office"
    "  AND sb.revocation_reason = 0 AND NOT EXISTS (SELECT 1 FROM idx_revoked_leaves r"
    "  WHERE r.office = s.office AND r.root = s.root AND r.leaf = s.leaf)"
    "  ORDER BY sb.block_number, sb.log_index, s.position LIMIT 1)"
    " FROM idx_leaves l JOIN idx_batches b ON b.office = l.office AND b.root = l.root"
    " WHERE b.office = ? AND b.root = ? AND l.canonicalization != ?"
    " AND NOT EXISTS (SELECT 1 FROM idx_leaves n INDEXED BY idx_leaves_record"
    "  CROSS JOIN idx_batches nb ON nb.office = n.office AND nb.root = n.root"
    "  WHERE n.record_id = l.record_id AND n.office = b.office AND n.canonicalization != ?"
    "  AND (nb.block_number, nb.log_index, n.position) > (b.block_number, b.log_index, l.position))"
    " ORDER BY l.position"
)


def audit_feed(
    chain: Chain,
    store: Store,
    office: str,
    expected: ExpectedList | Sequence[ExpectedEntry] | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit the newest version of every record ``office`` anchored, as the index knows them.

    Batch by batch (oldest first, by block then root), each batch's newest versions and their
    successors selected in one query, so the per-batch tree and node caches stay hot.
    """
    started = time.perf_counter()
    index = _index_of(chain, store)
    if index is None or index.cursor() is None:
        raise InputError("no index in the store: run `ipreg index sync` first")
    ctx = _Context(chain, store, index)
    report = _report(ctx, office, "feed")
    dep = chain.deployment
    assert dep is not None
    expect = _Expect(office, expected)
    try:
        for b in index.unindexed_batches(office):
            reason = f"records of batch {b.root} are unknown: {b.manifest_error or 'manifest not fetched'}"
            row = AuditRow(
                UNKNOWN,
                reason,
                None,
                office=office,
                root=b.root,
                block_number=b.block_number,
                transaction_hash=b.tx_hash,
                anchored_at=b.anchored_at,
            )
            report.rows.add(expect.row(row))
        done = 0
        for batch in _office_batches(index, office):
            for row in _feed_batch(ctx, index, batch, dep.chain_id, dep.anchor_registry):
                report.rows.add(expect.row(row))
                done += 1
                if progress is not None and done % 200 == 0:
                    progress(200)
        if progress is not None:
            progress(done % 200)
        for row in expect.missing():
            report.rows.add(row)
        report.expected_count = expect.count
    finally:
        expect.close()
    report.seconds = report.verify_seconds = time.perf_counter() - started
    report.rpc_calls = ctx.reader.calls
    return report


def _office_batches(index: Index, office: str) -> list[IndexedBatch]:
    """The office's indexed batches in the audit's order (block, then root)."""
    sql = (
        "SELECT root, office, signer, block_number, log_index, timestamp, leaf_count, manifest_uri, tx_hash,"
        " revocation_reason, manifest_status, manifest_error, registry FROM idx_batches"
        " WHERE office = ? ORDER BY block_number, root"
    )
    return [IndexedBatch(*r) for r in index.db.execute(sql, (office,))]


def _feed_batch(ctx: _Context, index: Index, batch: IndexedBatch, chain_id: int, registry: str) -> Iterator[AuditRow]:
    """The rows of one batch's newest versions (bundles rebuilt from the index, as :meth:`Index.bundle`)."""
    rows = index.db.execute(_FEED_LEAVES, (batch.office, batch.root, SEALED, SEALED)).fetchall()
    if not rows:
        return
    tree = index.tree(batch.office, batch.root)
    holder = Web3.to_checksum_address(batch.registry) if batch.registry else registry
    for r in rows:
        leaf = IndexedLeaf(*r[:12])
        bundle = ProofBundle(
            chain_id=chain_id,
            registry=holder,
            office=leaf.office,
            root=leaf.root,
            value=leaf.value,
            proof=tuple("0x" + p.hex() for p in tree.proof(leaf.position)),
            leaf_count=leaf.leaf_count,
            transaction_hash=leaf.tx_hash,
            block_number=leaf.block_number,
            anchored_at=utc_iso(leaf.timestamp),
        )
        successor = (leaf.record_id, str(r[12])) if r[12] is not None else None
        yield AuditRow.of(ctx.verify(bundle, None, successor))


# ---------------------------------------------------------------------------- HTML


_CSS: Final = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:80rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.banner{padding:.8rem 1rem;border-radius:6px;font-weight:600}
.ok{background:#e6f4ea;color:#0d5322}.fail{background:#fdecea;color:#8a1c14}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border-bottom:1px solid #d8dee4;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,monospace;font-size:13px}
table.summary th{width:14rem}
.scroll{overflow-x:auto}
table.rows{width:100%}
table.rows td.record{white-space:nowrap;min-width:11rem}
table.rows td.file{min-width:10rem;max-width:16rem;overflow-wrap:anywhere}
table.rows td.reason{min-width:16rem;overflow-wrap:anywhere}
table.rows td.short{white-space:nowrap}
tr.total td{font-weight:600;border-top:2px solid #8c959f}
.status{font-weight:600;white-space:nowrap}
.note{color:#57606a;font-size:14px;max-width:60rem}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #d8dee4}
figcaption{color:#57606a;font-size:14px}
.plots{display:flex;flex-wrap:wrap;gap:1.5rem}
"""

#: Plot colours per status (attention in red shades, the rest grey).
_STATUS_COLOURS: Final = {VERIFIED: "#2da44e", MISSING: "#bf8700", SUPERSEDED: "#8c959f"}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: int) -> str:
    return f"{value:,}"


def _short(value: str | None, head: int = 10, tail: int = 6) -> str:
    """A long hex value shortened for a column (``0x1234abcd…9f3e2a``), in full in its title."""
    if value is None:
        return ""
    text = _e(value)
    if len(value) <= head + tail + 1:
        return text
    return f'<span title="{text}">{_e(value[:head])}…{_e(value[-tail:])}</span>'


def _file_cell(path: str | None) -> str:
    """The file's name, with its full path in the title."""
    if not path:
        return ""
    return f'<span title="{_e(path)}">{_e(os.path.basename(path) or path)}</span>'


def batches_over_time(report: AuditReport) -> list[tuple[str, int, str | None, int]]:
    """(root, block, anchored at, records of this audit in it) per batch, oldest first."""
    batches = report.rows.batches  # counted as the rows arrived
    return sorted(((str(b[0]), int(b[1]), b[2], int(b[3])) for b in batches.values()), key=lambda b: (b[1], b[0]))


def _png(fig: Any) -> str:
    import base64
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_batches(report: AuditReport) -> str | None:
    """PNG (base64) of the records per batch over time, or None if no row names a batch."""
    batches = batches_over_time(report)
    if not batches:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.add_subplot()
    timed = [b for b in batches if b[2]]
    if len(timed) == len(batches):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        xs: list[Any] = [datetime.strptime(str(b[2]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for b in batches]
        locator = AutoDateLocator(maxticks=6)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        ax.set_xlabel("anchored at (UTC)")
    else:
        xs = [b[1] for b in batches]
        ax.set_xlabel("block")
    counts = [b[3] for b in batches]
    ax.stem(xs, counts, basefmt=" ")
    ax.set_ylabel("records in this audit")
    ax.set_ylim(0, max(counts) * 1.15 + 1)
    ax.set_title(f"Records per batch over time ({len(batches)} batches)")
    import warnings

    with warnings.catch_warnings():  # a span of seconds makes the date locator warn; its ticks are fine
        warnings.simplefilter("ignore", UserWarning)
        return _png(fig)


def plot_verdicts(report: AuditReport) -> str | None:
    """PNG (base64) of rows per status (and the unexpected overlap), or None if there are no rows."""
    counts = report.status_counts
    if not counts:
        return None
    from matplotlib.figure import Figure

    labels = sorted(counts, key=lambda k: (k != VERIFIED, -counts[k], k))
    values = [counts[k] for k in labels]
    colours = [_STATUS_COLOURS.get(k, "#cf222e") for k in labels]
    if report.unexpected:
        labels.append("UNEXPECTED (overlap)")
        values.append(report.unexpected)
        colours.append("#8250df")
    fig = Figure(figsize=(6.4, 0.5 * len(labels) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.barh(labels[::-1], values[::-1], color=colours[::-1])
    ax.bar_label(bars, labels=[_n(v) for v in values[::-1]], padding=3)
    ax.set_xlim(0, max(values) * 1.2 + 1)
    ax.set_xlabel("rows")
    ax.set_title("Verdicts")
    return _png(fig)


def _counts_table(report: AuditReport) -> list[str]:
    """Rows per status with their total, the unexpected overlap, and how the figures add up."""
    counts = report.status_counts
    unexpected_by_status = report.rows.unexpected_by_status
    missing = counts.get(MISSING, 0)
    parts = [
        '<table><tr><th>Status</th><th class="num">Rows</th><th class="num">of which not expected</th></tr>',
        *(
            f'<tr><td class="status">{_e(k)}</td><td class="num">{_n(v)}</td>'
            f'<td class="num">{_n(unexpected_by_status.get(k, 0))}</td></tr>'
            for k, v in sorted(counts.items(), key=lambda kv: (kv[0] != VERIFIED, kv[0]))
        ),
        f'<tr class="total"><td>Total</td><td class="num">{_n(len(report.rows))}</td>'
        f'<td class="num">{_n(report.unexpected)}</td></tr>',
        "</table>",
    ]
    note = (
        f"The {_n(len(report.rows))} rows are the {_n(report.records)} records audited"
        f" and {_n(missing)} expected records not found (MISSING); each row has exactly one status."
    )
    if report.expected_count is not None:
        note += (
            f" Expected list: {_n(report.expected_count)} entries, {_n(report.expected_count - missing)} found."
            f" {_n(report.unexpected)} record(s) are not on it (UNEXPECTED): they overlap the statuses above,"
            " counted under their own status as well, not in addition."
        )
    parts.append(f'<p class="note">{_e(note)}</p>')
    return parts


def render_html(report: AuditReport, limit: int = HTML_ATTENTION_ROWS) -> str:
    """A self-contained HTML report: summary, counts that add up, plots, then the rows that need attention.

    Everything taken from the report is escaped; the plots are PNGs embedded as ``data:`` URIs, so the
    page loads nothing from anywhere. At most ``limit`` rows needing attention are listed (a line
    says how many more the JSON report holds), so the page stays a page at a million records.
    """
    s = report.summary()
    attention = report.attention_count
    if report.ok:
        banner = f"Passed: all {_n(report.records)} records verified, nothing missing."
    else:
        banner = f"Attention: {_n(attention)} of {_n(len(report.rows))} rows need a look."
    facts: Iterable[tuple[str, object]] = (
        ("Office", report.office),
        ("Source", report.source),
        ("Chain id", report.chain_id),
        ("Registry", report.registry),
        ("State at block", report.block_number),
        ("Audited at", report.started_at),
        ("Records audited", _n(report.records)),
        ("Expected", _n(report.expected_count) if report.expected_count is not None else "-"),
        ("Duration", f"{report.seconds:.2f} s"),
        ("Records per second", s["recordsPerSecond"]),
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Audit of {_e(report.office)} publications</title><style>{_CSS}</style></head><body>",
        f"<h1>Audit of {_e(report.office)} publications</h1>",
        f'<p class="banner {"ok" if report.ok else "fail"}">{_e(banner)}</p>',
        '<h2>Summary</h2><table class="summary">',
        *(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts),
        "</table>",
        "<h2>Records by status</h2>",
        *_counts_table(report),
    ]
    plots = [
        (plot_batches(report), "Records per batch over time",
         "Each stem is one batch: when it was anchored and how many of this audit's records it holds."),
        (plot_verdicts(report), "Verdicts", "Rows per status; UNEXPECTED overlaps the statuses."),
    ]  # fmt: skip
    shown = [(png, title, caption) for png, title, caption in plots if png is not None]
    if shown:
        parts.append('<h2>Over time</h2><div class="plots">')
        for png, title, caption in shown:
            parts.append(
                f'<figure><img alt="{_e(title)}" src="data:image/png;base64,{png}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
        parts.append("</div>")
    parts.append(f"<h2>Rows that need attention ({_n(attention)})</h2>")
    if not attention:
        parts.append("<p>None.</p>")
    else:
        parts.append(
            '<div class="scroll"><table class="rows"><tr><th>Status</th><th>Record</th><th>File</th>'
            "<th>Reason</th><th>Superseded by</th><th>Block</th><th>Transaction</th></tr>"
        )
        for r in itertools.islice(report.attention, limit):
            status = r.status + (" (unexpected)" if r.expected is False else "")
            parts.append(
                f'<tr><td class="status">{_e(status)}</td><td class="record mono">{_e(r.record_id)}</td>'
                f'<td class="file mono">{_file_cell(r.file)}</td><td class="reason">{_e(r.reason)}</td>'
                f'<td class="short mono">{_short(r.superseded_by, 24, 6)}</td><td class="num">{_e(r.block_number)}</td>'
                f'<td class="short mono">{_short(r.transaction_hash)}</td></tr>'
            )
        parts.append("</table></div>")
        if attention > limit:
            parts.append(
                f'<p class="note">{_e(f"… and {_n(attention - limit)} more rows needing attention:")}'
                " they are all in the JSON report (<code>--json-report</code>).</p>"
            )
    parts.append("</body></html>\n")
    return "\n".join(parts)
