"""Per-office API tokens for the service's write endpoints.

A token is shown once, when it is created; the store keeps only its SHA-256 hash, so a copy
of the database does not let anyone write for an office.

Usage::

    token = create_token(store, "EP")        # give it to the EP office's IT staff
    office_for_token(store, token)           # "EP"
    [t.token_id for t in list_tokens(store)] # public ids (start of the hash)
    revoke_token(store, token_id)            # effective for the next request
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from registry.core.st3 import is_st3
from registry.errors import InputError
from registry.store.outbox import Store

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
    _add(store, token_hash(token), office, label)
    return token


#: Characters of a token's hash that name it in ``ipreg token list / revoke`` (not secret).
TOKEN_ID_LENGTH: Final = 12


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: its public id (start of its hash), office, label, creation time."""

    token_id: str
    office: str
    label: str | None
    created_at: str


def list_tokens(store: Store, office: str | None = None) -> list[TokenInfo]:
    """Every token (of ``office``); the tokens themselves are not stored, only their hashes."""
    return [TokenInfo(h[:TOKEN_ID_LENGTH], o, lbl, c) for h, o, lbl, c in _rows(store, office)]


def revoke_token(store: Store, token_id: str) -> TokenInfo:
    """Revoke the token whose id (or full hash) is ``token_id``, at once: the next request with it gets 401.

    InputError if no token or more than one matches (ids are prefixes of at least 8 hex digits)."""
    wanted = token_id.strip().lower()
    if len(wanted) < 8 or len(wanted) > 64 or any(c not in "0123456789abcdef" for c in wanted):
        raise InputError(f"invalid token id {token_id[:80]!r} (8 to 64 hex digits, as `ipreg token list` shows)")
    matches = [t for t in _rows(store) if t[0].startswith(wanted)]
    if not matches:
        raise InputError(f"no token with id {wanted}")
    if len(matches) > 1:
        raise InputError(f"token id {wanted} is ambiguous: give more digits")
    h, office, label, created = matches[0]
    _remove(store, h)
    return TokenInfo(h[:TOKEN_ID_LENGTH], office, label, created)


def office_for_token(store: Store, token: str) -> str | None:
    """The office a token belongs to, or None if it is not a known token."""
    if not token or len(token) > _MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    return _office(store, token_hash(token))


# ---------------------------------------------------------------------------- the tokens table (hashes only)


def _add(store: Store, digest: str, office: str, label: str | None = None) -> None:
    """Remember the hash of an office's API token."""
    with store.transaction() as db:
        db.execute("INSERT INTO tokens (token_hash, office, label) VALUES (?, ?, ?)", (digest, office, label))


def _office(store: Store, digest: str) -> str | None:
    """The office whose token hashes to ``digest``, if any."""
    row = store.db.execute("SELECT office FROM tokens WHERE token_hash = ?", (digest,)).fetchone()
    return str(row[0]) if row else None


def _rows(store: Store, office: str | None = None) -> list[tuple[str, str, str | None, str]]:
    """(token hash, office, label, created) of every token (of ``office``), oldest first."""
    sql = "SELECT token_hash, office, label, created_at FROM tokens"
    args: tuple[str, ...] = ()
    if office is not None:
        sql, args = sql + " WHERE office = ?", (office,)
    return [(str(h), str(o), lbl, str(c)) for h, o, lbl, c in store.db.execute(sql + " ORDER BY rowid", args)]


def _remove(store: Store, digest: str) -> bool:
    """Forget a token (by its full hash); whether it existed."""
    with store.transaction() as db:
        return db.execute("DELETE FROM tokens WHERE token_hash = ?", (digest,)).rowcount > 0
