"""Input checks the service's reads and writes share: content hashes and batch roots (``0x`` + 64 hex digits)."""

from __future__ import annotations

from registry.errors import InputError

_HEX = frozenset("0123456789abcdef")


def _check_hex32(value: str, what: str) -> str:
    """``value`` as ``0x`` + 64 lowercase hex digits; InputError (400) naming ``what`` if malformed."""
    text = value.strip().lower()
    if len(text) != 66 or not text.startswith("0x") or any(c not in _HEX for c in text[2:]):
        raise InputError(f"invalid {what} {value[:80]!r} (0x followed by 64 hex digits)")
    return text


def check_hash(value: str) -> str:
    """A content hash normalised to lowercase; InputError (400) if malformed."""
    return _check_hex32(value, "content hash")


def check_root(value: str) -> str:
    """A batch root normalised to lowercase; InputError (400) if malformed."""
    return _check_hex32(value, "batch root")
