"""The ``timestamps`` entry of bundles and manifests: one RFC 3161 time-stamp token and the authority that gave it.

A token is the DER ``TimeStampToken`` (CMS ``ContentInfo``) an authority returned for the SHA-256
imprint of a batch root; in JSON it is ``{"authority": "<name or URL>", "token": "<base64 DER>"}``.
This module only reads, checks the shape of and writes the entry (bounded sizes, strict base64); what a
token *says* is checked by :mod:`registry.timestamps.tokens`, offline, when a verdict is computed.

Usage::

    entry = TimestampToken.from_json({"authority": "https://tsa.example", "token": "MIIC…"})
    entry.to_json()                                  # the same object back
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from registry.errors import BundleError

#: Most tokens one batch may carry (one per configured authority).
MAX_TOKENS: Final = 8
#: Largest DER token accepted (a token with its signing certificate is 1-3 KB; chains may be longer).
MAX_TOKEN_BYTES: Final = 32 * 1024
#: Longest authority name (a URL or a label).
MAX_AUTHORITY: Final = 300


@dataclass(frozen=True, slots=True)
class TimestampToken:
    """One authority's RFC 3161 time-stamp token (DER) over a batch root."""

    authority: str
    token: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.authority, str) or not self.authority.strip():
            raise BundleError("timestamps: an entry's authority must be non-empty text")
        if len(self.authority) > MAX_AUTHORITY:
            raise BundleError(f"timestamps: an authority name is longer than {MAX_AUTHORITY} characters")
        if not isinstance(self.token, bytes) or not self.token:
            raise BundleError("timestamps: an entry's token must be non-empty bytes")
        if len(self.token) > MAX_TOKEN_BYTES:
            raise BundleError(f"timestamps: a token is larger than {MAX_TOKEN_BYTES} bytes")

    def to_json(self) -> dict[str, str]:
        """``{"authority", "token"}`` with the token in standard base64."""
        return {"authority": self.authority, "token": base64.b64encode(self.token).decode("ascii")}

    @classmethod
    def from_json(cls, body: Any) -> TimestampToken:
        """An entry from its JSON object; BundleError naming the problem."""
        if not isinstance(body, dict) or set(body) != {"authority", "token"}:
            raise BundleError('timestamps: each entry must be {"authority": …, "token": …}')
        text = body["token"]
        if not isinstance(text, str) or len(text) > 2 * MAX_TOKEN_BYTES:
            raise BundleError("timestamps: a token must be base64 text")
        try:
            der = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise BundleError("timestamps: a token is not valid base64") from None
        return cls(body["authority"], der)


def read_tokens(value: Any, name: str) -> tuple[TimestampToken, ...]:
    """The ``timestamps`` list of a document (BundleError if malformed)."""
    if not isinstance(value, list):
        raise BundleError(f"{name} must be a list of time-stamp entries")
    if len(value) > MAX_TOKENS:
        raise BundleError(f"{name} has {len(value)} entries (at most {MAX_TOKENS})")
    return tuple(TimestampToken.from_json(item) for item in value)


def check_tokens(value: Any, name: str) -> None:
    """Check a model's ``timestamps`` attribute: a tuple of at most MAX_TOKENS entries."""
    if not isinstance(value, tuple) or any(not isinstance(t, TimestampToken) for t in value):
        raise BundleError(f"{name} must be a tuple of time-stamp entries")
    if len(value) > MAX_TOKENS:
        raise BundleError(f"{name} has {len(value)} entries (at most {MAX_TOKENS})")


def write_tokens(value: Sequence[TimestampToken]) -> list[dict[str, str]]:
    """The JSON list of ``timestamps``."""
    return [t.to_json() for t in value]
