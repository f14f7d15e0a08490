"""Expected lists: what an office says it published, parsed line by line and matched as rows arrive.

Expected list (``--expected FILE``), in the style of a WIPO ST.37 authority file, one entry a line::

    # comments and blank lines are ignored
    EP:1234567:B1              a record id
    EP:1234567                 a number without kind code: any kind of that number matches
    1234567,B1                 number and kind code (the office is the audited one)
    EP;1234567;B1;20260107     office, number, kind, publication date (ignored); ',' ';' or tab

A first line whose number column is not a document number (``publication_number,kind``) is a header.
The entries live in a temporary database (:class:`registry.store.audit.ExpectedTable`), not in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from registry.core.records import RecordId
from registry.errors import InputError, RecordIdError
from registry.store.audit import ExpectedTable

if TYPE_CHECKING:
    import sqlite3

_SEPARATORS: Final = re.compile(r"[,;\t]")


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
        self.table = ExpectedTable()
        self.count = 0
        self.add(entries)
        self.table.create_index()

    @property
    def db(self) -> sqlite3.Connection:
        """The temporary database."""
        return self.table.db

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
        self.table.insert(batch)
        self.count += len(batch)

    def match(self, office: str, number: str, kind: str | None) -> bool:
        """Whether an entry names this record (a number without kind code matches any kind); marks them found."""
        return self.table.match(office, number, kind)

    def unmatched(self) -> Iterator[ExpectedEntry]:
        """Entries no row matched, in list order."""
        for office, number, kind, line in self.table.unmatched():
            yield ExpectedEntry(office, number, kind, line)

    def close(self) -> None:
        """Delete the temporary database."""
        self.table.close()


def load_expected(path: Path, office: str) -> ExpectedList:
    """Read an expected list file line by line into a temporary database.

    InputError names an unreadable file or a bad line.
    """
    try:
        with path.open(encoding="utf-8-sig") as handle:
            return ExpectedList(_iter_expected(_file_lines(handle), office, str(path)))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read expected list {path}: {getattr(exc, 'strerror', None) or exc}") from None
