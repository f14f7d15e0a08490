"""Record ids: ``<ST.3 office>:<document number>[:<ST.16 kind code>]``, one canonical spelling per document.

:class:`RecordId` validates and normalises on construction; :func:`normalize_number` is the one
spelling of a document number; ST.13 application numbers are checked by :func:`validate_st13`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Final

from registry.core.st3 import UNKNOWN, is_st3
from registry.errors import RecordIdError

_ST13 = re.compile(r"[0-9]{15}")

# ---------------------------------------------------------------------------- record ids

#: A normalised document number: up to three capitals (US ``D``/``RE``/``PP``/``H``/``T``, TW ``I``/``M``/``D``,
#: JP era letters, ...), then digits without leading zeros, then digits or capitals (check characters).
_NUMBER = re.compile(r"([A-Z]{0,3})0*([0-9][0-9A-Z]*)")
#: ST.16 kind code: a capital letter and an optional digit (A1, B2, S, E, P2, U, ...).
_KIND = re.compile(r"[A-Z][0-9]?")
#: Separators people write inside numbers: spaces, commas, full stops, slashes, dashes.
_SEPARATORS = re.compile(r"[\s,./\-]+")
_PARTS = re.compile(r"[\s:\-]+")
MAX_NUMBER_LENGTH: Final = 20


def normalize_number(text: str) -> str:
    """The one canonical spelling of a document number, or RecordIdError.

    ASCII only (so no letter can turn into another by case mapping), capitals, separators (spaces,
    commas, full stops, slashes, dashes) removed, leading zeros of the digits removed:
    ``08/936,998`` -> ``8936998``, ``d0912345`` -> ``D912345``, ``RE 49,123`` -> ``RE49123``.
    """
    compact = _SEPARATORS.sub("", text.upper()) if text.isascii() else ""
    match = _NUMBER.fullmatch(compact)
    number = match.group(1) + match.group(2) if match else ""
    if not match or len(number) > MAX_NUMBER_LENGTH:
        raise RecordIdError(
            f"invalid document number {text[:40]!r} (up to 3 capitals, then digits, then digits or capitals;"
            f" at most {MAX_NUMBER_LENGTH} characters)"
        )
    return number


def _office(text: str) -> str:
    code = text.strip().upper()
    if code == UNKNOWN:
        raise RecordIdError("office code XX is ST.3's code for an unknown office: a record needs its own office's code")
    if not is_st3(code):
        raise RecordIdError(f"unknown WIPO ST.3 office code {text[:20]!r}")
    return code


def _kind(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    kind = text.strip().upper()
    if not text.isascii() or not _KIND.fullmatch(kind):
        raise RecordIdError(f"invalid ST.16 kind code {text[:20]!r} (a capital letter and an optional digit)")
    return kind


@dataclass(frozen=True, slots=True, order=True)
class RecordId:
    """``<ST.3 office>:<document number>[:<ST.16 kind code>]``, validated and normalised on construction.

    One document has one id: ``RecordId("us", "08/936,998")`` is ``US:8936998`` (see :func:`normalize_number`).
    """

    office: str
    number: str
    kind: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.office, str) or not isinstance(self.number, str):
            raise RecordIdError("record id parts must be text")
        object.__setattr__(self, "office", _office(self.office))
        object.__setattr__(self, "number", normalize_number(self.number))
        object.__setattr__(self, "kind", _kind(self.kind))

    @classmethod
    def parse(cls, text: str) -> RecordId:
        """Parse a record id as machines or people write it; raise RecordIdError naming the problem.

        ``EP:1234567:B1``, ``EP 1234567 B1``, ``EP1234567B1``, ``US 11,234,567 B2``, ``EP 3 123 456 A1``,
        ``us:d912345:s`` and ``TW I712345 B`` all parse; the result prints in the canonical form.
        With colons the parts are explicit; without, a last part that is a kind code (``B2``) is the kind
        and the number must be up to three capitals and digits.
        """
        if not isinstance(text, str) or not text.strip() or len(text) > 80:
            raise RecordIdError(
                f"invalid record id {str(text)[:80]!r} (expected OFFICE:NUMBER[:KIND], e.g. EP:1234567:B1)"
            )
        if not text.isascii():
            raise RecordIdError(f"invalid record id {text[:80]!r}: record ids are ASCII")
        norm = text.strip().upper()
        try:
            if ":" in norm:
                parts = [p.strip() for p in norm.split(":")]
                if len(parts) not in (2, 3) or not all(parts):
                    raise RecordIdError("expected OFFICE:NUMBER[:KIND]")
                return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
            tokens = [t for t in _PARTS.split(re.sub(r"[,./]", "", norm)) if t]
            return cls._from_tokens(tokens)
        except RecordIdError as exc:
            raise RecordIdError(f"invalid record id {text[:80]!r}: {exc.diagnostics()}") from None

    @classmethod
    def _from_tokens(cls, tokens: list[str]) -> RecordId:
        if not tokens:
            raise RecordIdError("empty")
        first = tokens[0]
        if len(first) > 2 and first[:2].isalpha() and re.match(r"[A-Z]{0,3}[0-9]", first[2:]):
            tokens = [first[:2], first[2:], *tokens[1:]]
        if len(tokens) < 2 or len(tokens[0]) != 2:
            raise RecordIdError("expected an office code, a number and an optional kind code")
        office, rest = tokens[0], tokens[1:]
        kind = None
        if len(rest) >= 2 and _KIND.fullmatch(rest[-1]):
            kind = rest.pop()
        elif len(rest) == 1:
            compact = re.fullmatch(r"([A-Z]{0,3}[0-9]+)([A-Z][0-9]?)", rest[0])
            if compact:
                rest, kind = [compact.group(1)], compact.group(2)
        number = "".join(rest)
        if not re.fullmatch(r"[A-Z]{0,3}[0-9]+", number):
            raise RecordIdError(
                f"document number {' '.join(rest)[:40]!r} is not a prefix and digits (write OFFICE:NUMBER[:KIND])"
            )
        return cls(office, number, kind)

    @classmethod
    def from_filename(cls, name: str) -> RecordId | None:
        """The id carried by a file name ``OFFICE-NUMBER[-KIND].ext``, or None if it carries none."""
        stem = PurePath(name).name.split(".")[0]
        parts = stem.split("-")
        if len(parts) not in (2, 3) or len(parts[0]) != 2 or not parts[0].isalpha() or not all(parts):
            return None
        try:
            return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
        except RecordIdError:
            return None

    def __str__(self) -> str:
        return f"{self.office}:{self.number}:{self.kind}" if self.kind else f"{self.office}:{self.number}"


def canonical_record_id(text: str) -> str:
    """The canonical id of a record id in any accepted spelling (``US 11,234,567 B2`` -> ``US:11234567:B2``)."""
    return str(RecordId.parse(text))


def validate_st13(number: str) -> str:
    """Validate a WIPO ST.13 application number (15 digits); return it."""
    if not _ST13.fullmatch(number):
        raise RecordIdError(f"invalid ST.13 application number {number!r} (15 digits expected)")
    return number
