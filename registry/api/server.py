"""Running the app under uvicorn with the service's own limits on slow and hostile clients.

uvicorn alone has no header read timeout and no connection limit that answers before a request is
parsed: a client trickling its headers, or a thousand idle sockets, hold connections forever. The
:class:`GuardedH11Protocol` adds, per connection:

- a **header timeout**: the request line and headers must arrive within ``header_timeout`` seconds of
  the connection (or of the previous response); else ``408`` (JSON) and the connection is closed;
- a **body timeout**: once the headers are in, the whole body must arrive within ``body_timeout``
  seconds, whether or not the application reads it; else ``408`` and close;
- a **connection limit per client address**: above ``client_connections`` open connections from one
  address, its new one gets ``503`` with ``Retry-After`` and is closed at once;
- a **connection limit**: above ``max_connections`` open connections, the connection that has waited
  longest for its request headers (of the address holding the most connections) is closed to make
  room, so a trickling flood does not lock others out; only if none is waiting does the new one get
  ``503`` with ``Retry-After``;
- h11-level errors (malformed requests) answered with the one JSON error body.

:class:`RepeatFilter` rate-limits repeated log lines (e.g. "Too many open files" from the accept loop),
so an attack cannot fill the disk with tracebacks; :class:`OneLineFilter` turns the accept loop's
"out of system resource" and client disconnects into one line without a traceback. Production: run
behind a reverse proxy (see the README's service section); these limits still hold without one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import Server

from registry.api.errors import error_body

log = logging.getLogger("registry.api")

#: Descriptors kept apart from client connections: stores (one per thread), pools, pipes, the log, a new accept.
FILE_RESERVE = 256

#: Connections accepted per turn of the event loop (asyncio accepts up to the backlog in one turn).
ACCEPT_BURST = 128

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


class OneLineFilter(logging.Filter):
    """Records of expected conditions (no descriptor left for ``accept``, a client gone mid-request) as one
    line: the exception's type and message instead of its traceback."""

    QUIET = ("out of system resource", "Too many open files", "ClientDisconnect")

    def filter(self, record: logging.LogRecord) -> bool:
        """Always emit; drop the traceback of the expected conditions."""
        exc = record.exc_info[1] if record.exc_info else None
        text = f"{record.msg} {type(exc).__name__ if exc else ''} {exc or ''}"
        if exc is not None and any(q in text for q in self.QUIET):
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install_log_filters(burst: int = 5, interval: float = 10.0) -> RepeatFilter:
    """Rate-limit repeated records on the service's loggers and their handlers; expected conditions on one line."""
    flt = RepeatFilter(burst, interval)
    quiet = OneLineFilter()
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        logger.addFilter(quiet)
        logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(quiet)
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
    client_connections: int = 256
    retry_after: int = 2
    #: Open connections per client address (shared by the connections of one server).
    per_client: ClassVar[dict[str, int]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._address = ""
        self._opened = 0.0
        #: True while the connection waits for a request's headers (may be closed to make room).
        self._waiting = False

    @classmethod
    def configured(
        cls,
        header_timeout: float,
        body_timeout: float,
        max_connections: int,
        retry_after: int,
        client_connections: int = 256,
    ) -> type[GuardedH11Protocol]:
        """A subclass with these limits (uvicorn instantiates the class it is given)."""
        attrs = {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_connections": max_connections,
            "client_connections": client_connections,
            "retry_after": retry_after,
            "per_client": {},
        }
        return type("ConfiguredGuardedH11Protocol", (cls,), attrs)

    # -- connection

    def _refuse(self, transport: asyncio.Transport, message: str) -> None:
        transport.write(_json_response(503, b"Service Unavailable", "tooManyConnections", message, self.retry_after))
        transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = str(self.client[0]) if self.client else "unknown"
        self._opened = self.loop.time()
        count = self.per_client.get(self._address, 0) + 1
        self.per_client[self._address] = count
        if count > self.client_connections:
            limit = self.client_connections
            self._refuse(
                transport, f"more than {limit} open connections from this address; retry in {self.retry_after} s"
            )
            return
        if len(self.connections) > self.max_connections and not self._make_room():
            self._refuse(transport, f"more than {self.max_connections} open connections; retry in {self.retry_after} s")
            return
        self._waiting = True
        self._arm_header_timer()

    def _make_room(self) -> bool:
        """Close the connection waiting longest for its headers, of the address with the most connections."""
        victim: GuardedH11Protocol | None = None
        best: tuple[int, float] | None = None
        for other in self.connections:
            if other is self or not isinstance(other, GuardedH11Protocol) or not other._waiting:
                continue
            key = (self.per_client.get(other._address, 0), -other._opened)
            if best is None or key > best:
                victim, best = other, key
        if victim is None:
            return False
        victim._waiting = False
        victim._cancel_timers()
        victim.transport.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        self._waiting = False
        if self._address:
            count = self.per_client.get(self._address, 1) - 1
            if count > 0:
                self.per_client[self._address] = count
            else:
                self.per_client.pop(self._address, None)
            self._address = ""
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track_request_state()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._waiting = True
            self._arm_header_timer()  # the next request's headers get the same limit

    # -- timers

    def _track_request_state(self) -> None:
        state = self.conn.their_state
        if state is not h11.IDLE:
            self._waiting = False
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
    client_connections: int = 256,
) -> Server:
    """A uvicorn server for ``app`` with the guarded protocol; ``server.run()`` serves until stopped.

    The connection limit is kept below the process's open-file limit (raised where allowed), so the
    service refuses connections with 503 before the accept loop runs out of descriptors.
    """
    files = raise_open_file_limit(max_connections + FILE_RESERVE)
    if max_connections + FILE_RESERVE > files:
        log.warning("open-file limit %d: connection limit lowered from %d", files, max_connections)
        max_connections = max(16, files - FILE_RESERVE)
    protocol = GuardedH11Protocol.configured(
        header_timeout, body_timeout, max_connections, retry_after, min(client_connections, max_connections)
    )
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
        # Connections accepted per turn of the event loop (and the listen queue): a burst of refused
        # connections gives its descriptors back before the next turn, keeping descriptors for others.
        backlog=ACCEPT_BURST,
    )
    server = Server(config)
    install_log_filters()
    return server
