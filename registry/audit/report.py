"""The audit report: one row per record (spilled to a temporary file as it arrives) and its summary figures.

What must never happen: a row lost or counted twice when spilling (the counts always add up: rows
are records plus MISSING ones, statuses sum to the rows); a report file left half-written (it is
written beside, synced, renamed by :func:`registry.files.atomic.write_atomic`).
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import orjson

from registry.files.atomic import write_atomic
from registry.verify.verdict import VERIFIED, Verdict

MISSING: Final = "MISSING"
REPORT_FORMAT: Final = "ipreg-audit-v1"
#: Exit status of ``ipreg audit`` when a record needs attention (errors exit with 1).
EXIT_ATTENTION: Final = 3


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
    #: The verdict's reason code (the same on every verification path); empty for rows no verdict made.
    reason_code: str = ""

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
            verdict.reason_code,
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
            "reasonCode": self.reason_code,
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
            self.reason_code,
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
