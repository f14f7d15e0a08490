"""Running the app under uvicorn with the service's own limits on slow and hostile clients.

uvicorn alone has no header read timeout and no connection limit that answers before a request is
parsed: a client trickling its headers, or a thousand idle sockets, hold connections forever. The
:class:`GuardedH11Protocol` adds, per connection:

- a **header timeout**: the request line and headers must arrive within ``header_timeout`` seconds of
  the connection (or of the previous response); else ``408`` (JSON) and the connection is closed;
- a **body timeout**: once the headers are in, the whole body must arrive within ``body_timeout``
  seconds, whether or not the application reads it; else ``408`` and close;
- a **connection limit**: above ``max_connections`` open connections a new one gets ``503`` with
  ``Retry-After`` and is closed at once;
- h11-level errors (malformed requests) answered with the one JSON error body.

:class:`RepeatFilter` rate-limits repeated log lines (e.g. "Too many open files" from the accept loop),
so an attack cannot fill the disk with tracebacks. Production: run behind a reverse proxy (see the
README's service section); these limits still hold without one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import Server

from registry.api.errors import error_body

log = logging.getLogger("registry.api")

#: Loggers whose repeated lines are rate-limited.
GUARDED_LOGGERS = ("uvicorn.error", "asyncio", "registry.api", "uvicorn")


class RepeatFilter(logging.Filter):
    """Let at most ``burst`` records of one kind (logger, message template, exception type) through
    per ``interval`` seconds; the next one let through says how many were suppressed."""

    def __init__(self, burst: int = 5, interval: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self._seen: dict[tuple[str, str, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to emit ``record`` (it may be annotated with a count of suppressed ones)."""
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, str(record.msg), exc)
        now = time.monotonic()
        start, count, suppressed = self._seen.get(key, (now, 0, 0))
        if now - start >= self.interval:
            start, count = now, 0
        if count >= self.burst:
            self._seen[key] = (start, count, suppressed + 1)
            return False
        self._seen[key] = (start, count + 1, 0)
        if len(self._seen) > 1000:  # bounded memory whatever the variety of messages
            self._seen = {key: self._seen[key]}
        if suppressed:
            record.msg = f"{record.msg} ({suppressed} similar message(s) suppressed)"
        return True


def install_log_filters(burst: int = 5, interval: float = 10.0) -> RepeatFilter:
    """Rate-limit repeated records on the service's loggers and their handlers."""
    flt = RepeatFilter(burst, interval)
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(flt)
    return flt


def _json_response(status: int, reason: bytes, code: str, message: str, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 response with the one error body, closing the connection (raw bytes)."""
    body = json.dumps(error_body(code, message)).encode("utf-8")
    head = [
        f"HTTP/1.1 {status} ".encode() + reason,
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    if retry_after is not None:
        head.append(b"retry-after: " + str(retry_after).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body timeouts, a connection limit and JSON errors."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000
    retry_after: int = 2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    @classmethod
    def configured(
        cls, header_timeout: float, body_timeout: float, max_connections: int, retry_after: int
    ) -> type[GuardedH11Protocol]:
        """A subclass with these limits (uvicorn instantiates the class it is given)."""
        attrs = {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_connections": max_connections,
            "retry_after": retry_after,
        }
        return type("ConfiguredGuardedH11Protocol", (cls,), attrs)

    # -- connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(
                _json_response(
                    503,
                    b"Service Unavailable",
                    "tooManyConnections",
                    f"more than {self.max_connections} open connections; retry in {self.retry_after} s",
                    self.retry_after,
                )
            )
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track_request_state()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request's headers get the same limit

    # -- timers

    def _track_request_state(self) -> None:
        state = self.conn.their_state
        if state is not h11.IDLE and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if state is h11.SEND_BODY and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_timeout)
        elif state is not h11.SEND_BODY and self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout)

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.cycle is None or self.cycle.response_complete:
            message = f"request headers not received within {self.header_timeout:g} s"
            self.transport.write(_json_response(408, b"Request Timeout", "requestTimeout", message))
        self.transport.close()

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        if self.cycle is not None and not self.cycle.response_started:
            message = f"request body not received within {self.body_timeout:g} s"
            self.transport.write(_json_response(408, b"Request Timeout", "requestTimeout", message))
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()

    # -- h11 errors as JSON

    def send_400_response(self, msg: str) -> None:
        """A malformed request: the one JSON error body (not uvicorn's text/plain), then close."""
        self.transport.write(_json_response(400, b"Bad Request", "badRequest", f"invalid HTTP request: {msg}"))
        self.transport.close()


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted`` (up to the hard limit); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def build_server(
    app: Any,
    host: str,
    port: int,
    *,
    header_timeout: float = 10.0,
    body_timeout: float = 30.0,
    max_connections: int = 1000,
    retry_after: int = 2,
    log_level: str = "info",
    keep_alive: float = 5.0,
) -> Server:
    """A uvicorn server for ``app`` with the guarded protocol; ``server.run()`` serves until stopped.

    The connection limit is kept below the process's open-file limit (raised where allowed), so the
    service refuses connections with 503 before the accept loop runs out of descriptors.
    """
    files = raise_open_file_limit(max_connections + 256)
    if max_connections + 64 > files:
        log.warning("open-file limit %d: connection limit lowered from %d", files, max_connections)
        max_connections = max(16, files - 64)
    protocol = GuardedH11Protocol.configured(header_timeout, body_timeout, max_connections, retry_after)
    config = Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_level=log_level,
        proxy_headers=False,
        timeout_keep_alive=int(max(1, keep_alive)),
        server_header=False,
        lifespan="on",
    )
    server = Server(config)
    install_log_filters()
    return server
