"""RFC 6920 content addresses (``ni:///sha-256;<base64url>``): a manifest named by its bytes, any copy serves it."""

from __future__ import annotations

import base64
import hashlib
from typing import Final

__all__ = ["NI_PREFIX", "content_address", "content_digest"]

#: Prefix of an RFC 6920 SHA-256 content address.
NI_PREFIX: Final = "ni:///sha-256;"


def content_address(data: bytes) -> str:
    """RFC 6920 ``ni:///sha-256;<base64url>`` of ``data``."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return NI_PREFIX + digest


def content_digest(uri: str) -> bytes | None:
    """The SHA-256 digest named by an ``ni:`` content address, or None if ``uri`` is not one."""
    if not uri.startswith(NI_PREFIX):
        return None
    text = uri[len(NI_PREFIX) :].split("?", 1)[0]
    if len(text) != 43:
        return None
    try:
        digest = base64.urlsafe_b64decode(text + "=")
    except ValueError:
        return None
    return digest if len(digest) == 32 else None
