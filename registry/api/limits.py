"""ASGI middleware and per-client state: per-route body limits and read deadline, upload admission, requests in
progress and failed token attempts per client address, security headers."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.api.errors import PayloadTooLargeError, RequestTimeoutError, TooBusyError, error_body
from registry.api.gate import start_clock

log = logging.getLogger("registry.api")

#: Bodies of at most this size on the upload routes are "small" (a JSON hash or bundle): no upload slot.
SMALL_BODY: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Largest request body per route, and how long a body may take to arrive."""

    #: ``POST /v1/verify`` (file uploads).
    verify: int
    #: ``POST /v1/offices/{code}/records`` (submissions).
    submit: int
    #: Every other route.
    other: int = SMALL_BODY
    #: Seconds from the request's headers to the body's last byte; slower bodies get 408.
    body_timeout: float = 30.0
    #: Largest JSON body on any route (a hash, a bundle, a revocation): uploads are multipart.
    json: int = 1024 * 1024

    def for_route(self, method: str, path: str) -> tuple[int, bool]:
        """(limit, whether this is an upload route) for a request."""
        if method == "POST" and path == "/v1/verify":
            return self.verify, True
        if method == "POST" and path.startswith("/v1/offices/") and path.endswith("/records"):
            return self.submit, True
        return self.other, False


class Admission:
    """At most ``limit`` holders at once (on the event loop: no locking needed); others are turned away."""

    def __init__(self, limit: int, retry_after: int = 2) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.active = 0

    def try_enter(self) -> bool:
        """Take a slot if one is free."""
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def leave(self) -> None:
        """Give the slot back."""
        self.active = max(0, self.active - 1)


class ClientLimits:
    """Per client address: requests in progress, and failed token attempts (each one past ``free`` is delayed,
    the delay doubling up to ``max_delay``; the first such client is logged once, without the token)."""

    def __init__(self, requests: int, free_failures: int = 5, retry_after: int = 2, max_delay: float = 8.0) -> None:
        self.requests = requests
        self.free_failures = free_failures
        self.retry_after = retry_after
        self.max_delay = max_delay
        self.in_flight: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self._logged: set[str] = set()

    def enter(self, client: str) -> bool:
        """Count a request of ``client`` in; False (refuse it) if it has ``requests`` in progress already."""
        count = self.in_flight.get(client, 0)
        if count >= self.requests:
            return False
        self.in_flight[client] = count + 1
        return True

    def leave(self, client: str) -> None:
        """A request of ``client`` is done."""
        count = self.in_flight.get(client, 0) - 1
        if count > 0:
            self.in_flight[client] = count
        else:
            self.in_flight.pop(client, None)

    def token_failed(self, client: str) -> float:
        """Record a failed token attempt; the seconds to delay its answer (0 for the first ``free`` ones)."""
        count = self.failures.get(client, 0) + 1
        if len(self.failures) > 100_000:  # bounded memory whatever the number of addresses
            self.failures.clear()
        self.failures[client] = count
        excess = count - self.free_failures
        if excess <= 0:
            return 0.0
        if client not in self._logged:
            self._logged.add(client)
            log.warning("client %s: %d failed token attempts; each further one is answered later", client, count)
        return float(min(self.max_delay, 0.25 * 2 ** min(excess - 1, 10)))

    def token_ok(self, client: str) -> None:
        """A valid token: that client's failures are forgiven."""
        if self.failures.pop(client, None) is not None:
            self._logged.discard(client)


def client_of(scope: Scope) -> str:
    """The client address of a request (the peer: proxy headers are not trusted)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class ClientLimitMiddleware:
    """At most ``limits.requests`` requests in progress per client address (``/health`` apart): more get 429
    with ``Retry-After`` at once, so one client's flood does not make the others wait."""

    def __init__(self, app: ASGIApp, limits: ClientLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/health":
            await self.app(scope, receive, send)
            return
        client = client_of(scope)
        if not self.limits.enter(client):
            retry = self.limits.retry_after
            await _send_error(
                send,
                429,
                TooBusyError.code,
                f"more than {self.limits.requests} requests of this client in progress; retry in {retry} s",
                [(b"retry-after", str(retry).encode())],
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limits.leave(client)


class BodyLimitMiddleware:
    """Per-route body limits (413 at once by ``Content-Length``, else while streaming), a body read
    deadline (408), and upload admission: more concurrent large uploads than ``uploads`` allows get 429
    with ``Retry-After`` before a byte of their body is read (so memory stays bounded)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits, uploads: Admission | None = None) -> None:
        self.app = app
        self.limits = limits
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, upload_route = self.limits.for_route(str(scope.get("method", "")), str(scope.get("path", "")))
        content_type = (_header(scope, b"content-type") or "").lower()
        media = content_type.split(";", 1)[0].strip()
        if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
            limit = min(limit, self.limits.json)  # checked as it streams by the JSON reader too
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_error(send, 400, "badRequest", "invalid Content-Length header")
                return
            if int(declared) > limit:
                await _send_error(send, 413, PayloadTooLargeError.code, _message(limit, int(declared)))
                return
        large = declared is None or int(declared) > SMALL_BODY or content_type.startswith("multipart/")
        admitted = False
        if upload_route and large and self.uploads is not None:
            if not self.uploads.try_enter():
                retry = self.uploads.retry_after
                await _drain(receive, limit, self.limits.body_timeout)  # so the client reads the answer
                await _send_error(
                    send,
                    429,
                    TooBusyError.code,
                    f"more than {self.uploads.limit} uploads in progress; retry in {retry} s",
                    [(b"retry-after", str(retry).encode())],
                )
                return
            admitted = True
        received = 0
        done = False
        deadline = asyncio.get_running_loop().time() + self.limits.body_timeout

        async def limited() -> Message:
            nonlocal received, done
            if done:
                return await receive()
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), max(remaining, 0.001))
            except TimeoutError:
                raise RequestTimeoutError(f"request body not received within {self.limits.body_timeout:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(_message(limit, None))
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        try:
            await self.app(scope, limited, send)
        finally:
            if admitted and self.uploads is not None:
                self.uploads.leave()


async def _drain(receive: Receive, limit: int, timeout: float) -> None:
    """Read and discard a request body (at most ``limit`` bytes, ``timeout`` seconds): nothing is kept."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = 0
    while seen <= limit:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _message(limit: int, size: int | None) -> str:
    got = f" ({size} bytes)" if size is not None else ""
    return f"request body{got} above the limit of {limit} bytes for this route"


class RequestClockMiddleware:
    """Starts each request's read-budget clock when the request reaches the app (:func:`start_clock`), so
    the budget includes any wait for a thread: a read answers within its budget of its arrival."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            start_clock()
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Same-origin-only content security policy and no sniffing, on every response."""

    HEADERS = (
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            b" connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
            b" frame-ancestors 'none'",
        ),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.HEADERS if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1").strip())
    return None


async def _send_error(
    send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(error_body(code, message)).encode("utf-8")
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
