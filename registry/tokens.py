"""Per-office API tokens for the service's write endpoints.

A token is shown once, when it is created; the store keeps only its SHA-256 hash, so a copy
of the database does not let anyone write for an office.

Usage::

    token = create_token(store, "EP")        # give it to the EP office's IT staff
    office_for_token(store, token)           # "EP"
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from .errors import InputError
from .st3 import is_st3
from .store import Store

#: Every token starts with this, so a leaked one is easy to recognise (e.g. by secret scanners).
TOKEN_PREFIX: Final = "ipreg_"
_MAX_TOKEN_LENGTH: Final = 200


def token_hash(token: str) -> str:
    """SHA-256 of the token, lowercase hex: what the store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(store: Store, office: str, label: str | None = None) -> str:
    """Create a new API token for ``office``; store only its hash and return the token itself."""
    if not is_st3(office):
        raise InputError(f"unknown WIPO ST.3 office code {office!r}")
    token = f"{TOKEN_PREFIX}{office.lower()}_{secrets.token_urlsafe(32)}"
    store.add_token(token_hash(token), office, label)
    return token


def office_for_token(store: Store, token: str) -> str | None:
    """The office a token belongs to, or None if it is not a known token."""
    if not token or len(token) > _MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    return store.token_office(token_hash(token))
