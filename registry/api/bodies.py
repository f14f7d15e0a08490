"""JSON request bodies read under limits on size, keys and depth before anything is materialized.

The bytes are checked as they arrive (:class:`JsonShape` counts object keys and nesting on the raw
bytes, strings and escapes skipped), so a body over a limit is refused as soon as the limit is passed,
with nothing parsed; a body within the limits is parsed by ``json.loads`` on a worker thread, never on
the event loop. The scan itself runs on a worker thread too, a chunk at a time.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from registry.api.errors import MalformedJsonError, PayloadTooLargeError
from registry.core import canon
from registry.errors import CanonicalizationError

#: The bytes that matter to the shape of a JSON text (all ASCII: never inside a UTF-8 sequence).
_TOKENS: Final = re.compile(rb'[\\"{}\[\]:]')
_BACKSLASH, _QUOTE, _COLON = 0x5C, 0x22, 0x3A
_OPEN: Final = frozenset(b"{[")
_CLOSE: Final = frozenset(b"}]")


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """Largest JSON body (bytes), most object keys, deepest nesting."""

    max_bytes: int = 1024 * 1024
    max_keys: int = 10_000
    max_depth: int = 64


class JsonShape:
    """Size, keys and depth of a JSON text fed in chunks; :class:`PayloadTooLargeError` past a limit."""

    def __init__(self, limits: JsonLimits) -> None:
        self.limits = limits
        self.size = 0
        self.keys = 0
        self.depth = 0
        self._in_string = False
        self._escaped = False  # the previous chunk ended with a backslash inside a string

    def feed(self, chunk: bytes) -> None:
        """Account for the next bytes of the body."""
        limits = self.limits
        self.size += len(chunk)
        if self.size > limits.max_bytes:
            raise PayloadTooLargeError(f"JSON body above {limits.max_bytes} bytes")
        skip = 0 if self._escaped else -1
        self._escaped = False
        in_string = self._in_string
        depth = self.depth
        keys = self.keys
        for match in _TOKENS.finditer(chunk):
            i = match.start()
            if i == skip:
                continue
            c = chunk[i]
            if in_string:
                if c == _BACKSLASH:
                    skip = i + 1
                elif c == _QUOTE:
                    in_string = False
            elif c == _QUOTE:
                in_string = True
            elif c in _OPEN:
                depth += 1
                if depth > limits.max_depth:
                    raise PayloadTooLargeError(f"JSON body nested deeper than {limits.max_depth} levels")
            elif c in _CLOSE:
                depth -= 1
            elif c == _COLON:
                keys += 1
                if keys > limits.max_keys:
                    raise PayloadTooLargeError(f"JSON body with more than {limits.max_keys} object keys")
        self._escaped = skip == len(chunk)
        self._in_string = in_string
        self.depth = depth
        self.keys = keys


def parse_json(raw: bytes, what: str = "request body") -> Any:
    """``raw`` parsed (depth-checked, UTF-8); MalformedJsonError naming the problem."""
    try:
        return canon.load_json(raw, what)
    except CanonicalizationError as exc:
        raise MalformedJsonError(exc.diagnostics()) from None


#: Bodies up to this size are checked and parsed on the event loop (tens of microseconds: cheaper than a
#: thread hop, and a hash to verify does not queue behind the reads for a thread).
INLINE_JSON: Final = 16 * 1024

#: Runs a function on a worker thread (the service's read threads; starlette's pool by default).
Runner = Callable[..., Awaitable[Any]]


async def read_json(request: Request, limits: JsonLimits, run: Runner = run_in_threadpool) -> Any:
    """The request's JSON body: its shape checked chunk by chunk as it arrives (off the event loop), then
    parsed on a worker thread (``run``); a body of at most :data:`INLINE_JSON` bytes is checked and parsed
    on the event loop. 413 as soon as a limit is passed (the rest of the body is not read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise PayloadTooLargeError(f"JSON body of {declared} bytes above {limits.max_bytes} bytes")
    shape = JsonShape(limits)
    chunks: list[bytes] = []
    pending: list[bytes] = []
    pending_size = 0
    total = 0
    async for chunk in request.stream():
        if not chunk:
            continue
        pending.append(chunk)
        pending_size += len(chunk)
        total += len(chunk)
        if pending_size >= 64 * 1024:  # scan in slices of 64 KiB: a thread hop per slice, not per packet
            data = b"".join(pending)
            await run(shape.feed, data)
            chunks.append(data)
            pending, pending_size = [], 0
    data = b"".join(pending)
    if total <= INLINE_JSON:
        shape.feed(data)
        return parse_json(data)
    if pending:
        await run(shape.feed, data)
        chunks.append(data)
    return await run(parse_json, b"".join(chunks))
