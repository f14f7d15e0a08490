"""Asking the configured authorities for tokens over a batch root: RFC 3161 over HTTP, retried, checked.

Requests go through the outbound policy of :mod:`registry.indexer.fetch` (checked and pinned address per
hop, bounded size and time; no internal address unless the configuration allows its range). Every reply
is checked (:func:`registry.timestamps.tokens.token_of_reply`) before it is returned, so nothing
unverified is ever stored. An authority that is down is asked again after ``retry_delay`` seconds,
doubled each time, ``attempts`` times; then :class:`AuthorityUnavailable` stops the caller's batch
(its records stay pending, and a re-run resumes).

Usage::

    stamper = Stamper(load_config(home, urls=["https://tsa.example/tsr"]))
    tokens = stamper(root)                       # one TimestampToken per authority
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from registry.core.stamps import TimestampToken
from registry.errors import InputError
from registry.indexer.fetch import FetchError, fetch_url
from registry.timestamps.config import Authority, TimestampConfig
from registry.timestamps.tokens import TimestampError, new_request, token_of_reply

#: The media types of RFC 3161 over HTTP (RFC 3161 section 3.4).
QUERY_TYPE: Final = "application/timestamp-query"


class AuthorityUnavailable(TimestampError):
    """No valid token from an authority after every attempt: the batch waits, nothing is anchored."""

    code = "timestampAuthorityUnavailable"
    #: What the run did before it stopped (set by the anchoring pipeline: a RunResult).
    result: object | None = None


def request_token(authority: Authority, root: str, config: TimestampConfig) -> TimestampToken:
    """One request to ``authority`` for ``root``; TimestampError (refused reply) or FetchError (network, policy)."""
    request = new_request(root)
    reply = fetch_url(authority.url, config.fetch_policy(), body=request.der, content_type=QUERY_TYPE)
    return TimestampToken(authority.url, token_of_reply(reply, request, root, authority.anchors))


class Stamper:
    """Tokens over a root from every configured authority, each retried with backoff (see module docstring)."""

    def __init__(
        self,
        config: TimestampConfig,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self.config = config
        self.sleep = sleep
        #: Called with (authority, attempt, problem) before each wait (progress output, logs).
        self.on_retry = on_retry or (lambda _a, _n, _p: None)

    @property
    def authorities(self) -> tuple[Authority, ...]:
        """The authorities asked."""
        return self.config.authorities

    def __call__(self, root: str, have: frozenset[str] = frozenset()) -> list[TimestampToken]:
        """A token from every authority not in ``have`` (their URLs); AuthorityUnavailable after the last attempt."""
        return [self._one(a, root) for a in self.config.authorities if a.url not in have]

    def _one(self, authority: Authority, root: str) -> TimestampToken:
        delay = self.config.retry_delay
        problem = ""
        for attempt in range(1, self.config.attempts + 1):
            try:
                return request_token(authority, root, self.config)
            except FetchError as exc:
                problem = str(exc).replace("manifest", "time-stamp reply")
            except (TimestampError, InputError) as exc:
                problem = exc.diagnostics()
            if attempt < self.config.attempts:
                self.on_retry(authority.url, attempt, problem)
                self.sleep(delay)
                delay *= 2
        raise AuthorityUnavailable(
            f"time-stamping authority {authority.url} gave no valid token for root {root} after"
            f" {self.config.attempts} attempt(s) ({problem}); nothing was anchored for it, its records stay"
            " pending: re-run `ipreg anchor` to resume"
        )


def stamper_for(config: TimestampConfig, on_retry: Callable[[str, int, str], None] | None = None) -> Stamper | None:
    """A Stamper for the configured authorities, or None when there is none (batches get no tokens)."""
    return Stamper(config, on_retry=on_retry) if config.authorities else None
