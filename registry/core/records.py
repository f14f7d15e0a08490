"""Record ids: ``<ST.3 office>:<document number>[:<ST.16 kind code>]``, one id per publication.

:func:`normalize` is the one rule that turns an office, a number and a kind code as written anywhere (a
document's own identification, ``RecordId.parse`` for the CLI, the API and manifests, a file's name)
into the canonical id; :class:`RecordId` applies it on construction, so every path gives one id. It is
injective on what distinguishes publications (see ``normalize``); ST.13 application numbers are
checked by :func:`validate_st13`.
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

#: Separators people write inside numbers: white space, commas, full stops, slashes, dashes.
_SEP: Final = r"[\s,./\-]"
_SEPARATORS = re.compile(_SEP + "+")
_LEADING_SEPARATORS = re.compile("^" + _SEP + "+")
#: What follows the office's own code written in front of a number: up to three capitals, then digits.
_AFTER_OFFICE = re.compile(rf"{_SEP}*[A-Z]{{0,3}}{_SEP}*[0-9]")
#: A canonical document number: up to three capitals (US ``D``/``RE``/``PP``, TW ``I``/``M``, ...), digits
#: without leading zeros, digits or capitals inside, and a digit at the end (a trailing letter is a kind code).
_NUMBER = re.compile(r"([A-Z]{0,3})0*([0-9](?:[0-9A-Z]*[0-9])?)")
#: ST.16 kind code: a capital letter and an optional digit (A1, B2, S, E, P2, U, ...).
_KIND = re.compile(r"[A-Z][0-9]?")
#: A kind code written at the end of the number, after its last digit (``3123456B1``, ``3 123 456 B1``).
_TRAILING_KIND = re.compile(rf"(.*[0-9]){_SEP}*([A-Z][0-9]?)")
#: A check character after a full stop at the end (``20123456.7``, ``200910012345.X``).
_CHECK = re.compile(r".*[0-9]\.([0-9A-Z])")
#: Japanese era numbers (JP only): era letter (Meiji, Taisho, Showa, Heisei, Reiwa), year, serial.
_ERA = re.compile(rf"(MEI|TAI|SHO|HEI|REI|[MTSHR]){_SEP}*([0-9].*)")
_ERA_YEAR = re.compile(rf"([0-9]{{1,2}}){_SEP}+([0-9].*)")
MAX_NUMBER_LENGTH: Final = 20
#: A number as written (separators, office code, kind code included): longer is refused before it is read.
MAX_WRITTEN_LENGTH: Final = 80


def _refuse_number(text: str, why: str) -> RecordIdError:
    return RecordIdError(f"invalid document number {text[:40]!r}: {why}")


def _era_number(letter: str, rest: str, text: str) -> str:
    """``H1-123456`` -> ``H01123456``: the era year always has two digits, so the year never runs into the serial."""
    split = _ERA_YEAR.fullmatch(rest)
    if split:  # the separator ends the year: H1-123456, H 11 23456
        year, serial = split.group(1), _SEPARATORS.sub("", split.group(2))
    else:  # written without one: the year is the first two digits (H1123456 is H11-23456, as in DOCDB)
        digits = _SEPARATORS.sub("", rest)
        year, serial = digits[:2], digits[2:]
    if not serial.isdigit():
        raise _refuse_number(text, "a Japanese era number is an era letter, the year, then the serial (H11-123456)")
    return letter[0] + year.zfill(2) + (serial.lstrip("0") or "0")


def normalize(office: str, number: str, kind: str | None = None) -> tuple[str, str, str | None]:
    """The canonical ``(office, number, kind)`` of a record id as written anywhere, or RecordIdError (one line).

    One publication, one id: ASCII case, separators (white space, commas, full stops, slashes, dashes),
    leading zeros, the office's own code in front of the number (``WO/2024/123456``, ``EP3123456``) and
    a kind code at its end (``3123456B1``) do not change the id; a kind code at the end that differs from
    the one given is refused. Two publications, two ids: nothing else is dropped. The separators
    join fields of fixed width in every office's numbering except the Japanese era year (one or two
    digits), which the id writes with two (``H1-123456`` -> ``H01123456``, ``H11-23456`` -> ``H1123456``).
    A check letter after a full stop (``.X``) is refused: without the stop it would read as a kind code.
    Only ASCII is accepted, checked before any case mapping (LATIN SMALL LETTER LONG S + E is not ``SE``).
    """
    code = _office(office)
    given = _kind(kind)
    if not isinstance(number, str) or not number.isascii():
        raise RecordIdError(f"invalid document number {str(number)[:40]!r}: document numbers are ASCII")
    text = number.strip().upper()
    if len(text) > MAX_WRITTEN_LENGTH:  # before any pattern: bounded work whatever a document holds
        raise _refuse_number(text, f"longer than {MAX_WRITTEN_LENGTH} characters as written")
    body = text
    while body.startswith(code) and _AFTER_OFFICE.match(body[2:]):
        body = _LEADING_SEPARATORS.sub("", body[2:])
    check = _CHECK.fullmatch(body)
    if check and check.group(1).isalpha():
        raise _refuse_number(text, f"check character {check.group(1)!r} after a full stop (give the number without it)")
    tail = None if check else _TRAILING_KIND.fullmatch(body)
    if tail:
        body, written = tail.group(1), tail.group(2)
        if given is not None and written != given:
            raise _refuse_number(text, f"it ends with kind code {written} but the kind code is {given}")
        if _TRAILING_KIND.fullmatch(body):
            raise _refuse_number(text, "it ends with two kind codes")
        given = written
    era = _ERA.fullmatch(body) if code == "JP" else None
    if era:
        canonical = _era_number(era.group(1), era.group(2), text)
    else:
        match = _NUMBER.fullmatch(_SEPARATORS.sub("", body))
        if not match:
            raise _refuse_number(
                text, "up to 3 capitals, then digits, then digits or capitals, ending with a digit or a kind code"
            )
        canonical = match.group(1) + match.group(2)
    if len(canonical) > MAX_NUMBER_LENGTH:
        raise _refuse_number(text, f"at most {MAX_NUMBER_LENGTH} characters")
    return code, canonical, given


def normalize_number(text: str, office: str) -> str:
    """The canonical spelling of a document number of ``office`` (see :func:`normalize`), or RecordIdError."""
    return normalize(office, text)[1]


def _office(text: str) -> str:
    if not isinstance(text, str) or not text.isascii():  # before upper(): "\u017fE".upper() is "SE"
        raise RecordIdError(f"unknown WIPO ST.3 office code {str(text)[:20]!r} (two ASCII letters)")
    code = text.strip().upper()
    if code == UNKNOWN:
        raise RecordIdError("office code XX is ST.3's code for an unknown office: a record needs its own office's code")
    if not is_st3(code):
        raise RecordIdError(f"unknown WIPO ST.3 office code {text[:20]!r}")
    return code


def _kind(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if not text.isascii():
        raise RecordIdError(f"invalid ST.16 kind code {text[:20]!r} (a capital letter and an optional digit)")
    kind = text.strip().upper()
    if not _KIND.fullmatch(kind):
        raise RecordIdError(f"invalid ST.16 kind code {text[:20]!r} (a capital letter and an optional digit)")
    return kind


@dataclass(frozen=True, slots=True, order=True)
class RecordId:
    """``<ST.3 office>:<document number>[:<ST.16 kind code>]``, validated and normalised on construction.

    One publication has one id, whoever writes it how: ``RecordId("us", "08/936,998")`` is ``US:8936998``,
    ``RecordId("WO", "WO/2024/123456", "A1")`` is ``WO:2024123456:A1`` (see :func:`normalize`).
    """

    office: str
    number: str
    kind: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.office, str) or not isinstance(self.number, str):
            raise RecordIdError("record id parts must be text")
        office, number, kind = normalize(self.office, self.number, self.kind)
        object.__setattr__(self, "office", office)
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "kind", kind)

    @classmethod
    def parse(cls, text: str) -> RecordId:
        """Parse a record id as machines or people write it; raise RecordIdError naming the problem.

        ``EP:1234567:B1``, ``EP 1234567 B1``, ``EP1234567B1``, ``US 11,234,567 B2``, ``EP 3 123 456 A1``,
        ``us:d912345:s``, ``TW I712345 B`` and ``JP H11-23456 A`` all parse; the result prints in the
        canonical form. With colons the parts are explicit; without, the office is the first two letters
        and a last part that is a kind code (``B2``) is the kind. Either way the parts go through
        :func:`normalize`, as a document's own identification and a file's name do.
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
            return cls._from_words(norm)
        except RecordIdError as exc:
            raise RecordIdError(f"invalid record id {text[:80]!r}: {exc.diagnostics()}") from None

    @classmethod
    def _from_words(cls, norm: str) -> RecordId:
        spaced = _WORDS.fullmatch(norm)
        if not spaced:
            raise RecordIdError("expected an office code, a number and an optional kind code")
        office, number, kind = spaced.group(1), spaced.group(2), spaced.group(3)
        if not _PLAIN.fullmatch(_SEPARATORS.sub("", number)):
            raise RecordIdError(
                f"document number {number[:40]!r} is not a prefix and digits (write OFFICE:NUMBER[:KIND])"
            )
        return cls(office, number, kind)

    @classmethod
    def from_filename(cls, name: str) -> RecordId | None:
        """The id carried by a file name ``OFFICE-NUMBER[-KIND].ext``, or None if it carries none.

        The number may hold dashes of its own (``JP-H01-123456-A.pdf``); a last part that is a kind code is the kind.
        """
        stem = PurePath(name).name.split(".")[0]
        parts = stem.split("-")
        if len(parts) < 2 or len(parts[0]) != 2 or not parts[0].isalpha() or not all(parts):
            return None
        kind = parts.pop() if len(parts) > 2 and _KIND.fullmatch(parts[-1].upper()) else None
        if len(parts) > 2 and not _PLAIN.fullmatch("".join(parts[1:]).upper()):
            return None  # a number in several parts is a prefix and digits (EP-1234567-B12 names nothing)
        try:
            return cls(parts[0], "-".join(parts[1:]), kind)
        except RecordIdError:
            return None

    def __str__(self) -> str:
        return f"{self.office}:{self.number}:{self.kind}" if self.kind else f"{self.office}:{self.number}"


#: ``OFFICE NUMBER [KIND]`` without colons: two letters (followed by a separator, or by the number itself when
#: it starts with up to three capitals and a digit), the number, and a last word that is a kind code.
_WORDS = re.compile(rf"([A-Z]{{2}})(?:{_SEP}+|(?=[A-Z]{{0,3}}[0-9]))(.+?)(?:[\s\-]+([A-Z][0-9]?))?")
#: What a number may be when written without colons: a prefix and digits, and a kind code written onto it.
_PLAIN = re.compile(r"[A-Z]{0,3}[0-9]+(?:[A-Z][0-9]?)?")


#: The number rule before issue 18 (frozen): ids anchored under it stay valid on chain, in manifests and bundles.
_EARLIER_NUMBER = re.compile(r"([A-Z]{0,3})0*([0-9][0-9A-Z]*)")
_EARLIER_ID = re.compile(r"([A-Z]{2}):([A-Z0-9]{1,20})(?::([A-Z][0-9]?))?")


def is_canonical(text: str) -> bool:
    """True if ``text`` is a record id in canonical form: today's (a fixed point of :meth:`RecordId.parse`), or
    the form ids had before issue 18 (an ST.3 office, a number its rule left unchanged, a kind), which
    earlier versions anchored and which therefore stays valid wherever it was written."""
    try:
        if str(RecordId.parse(text)) == text:
            return True
    except RecordIdError:
        pass
    earlier = _EARLIER_ID.fullmatch(text) if isinstance(text, str) else None
    number = _EARLIER_NUMBER.fullmatch(earlier.group(2)) if earlier else None
    return bool(
        earlier
        and number
        and number.group(1) + number.group(2) == earlier.group(2)
        and is_st3(earlier.group(1))
        and earlier.group(1) != UNKNOWN
    )


def same_record(a: str, b: str) -> bool:
    """True if two record ids name one record: equal, or equal once read by today's rule (an id anchored
    under the earlier rule, ``WO:WO2024123456:A1``, names the record a document now calls ``WO:2024123456:A1``)."""
    if a == b:
        return True
    try:
        return RecordId.parse(a) == RecordId.parse(b)
    except RecordIdError:
        return False


def canonical_record_id(text: str) -> str:
    """The canonical id of a record id in any accepted spelling (``US 11,234,567 B2`` -> ``US:11234567:B2``)."""
    return str(RecordId.parse(text))


def validate_st13(number: str) -> str:
    """Validate a WIPO ST.13 application number (15 digits); return it."""
    if not _ST13.fullmatch(number):
        raise RecordIdError(f"invalid ST.13 application number {number!r} (15 digits expected)")
    return number
