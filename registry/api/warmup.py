"""Before the first request: the app's lazily built state built, and the startup heap kept out of the collector.

Two pauses stopped the event loop (and with it ``/health`` and every other request) for hundreds of
milliseconds once the service was loaded:

- FastAPI builds each router's route state (dependency analysis, validators and serializers of every
  route) when the first request reaches it, on the event loop. :func:`prepare_routes` builds it at
  startup: it sends every documented path an ``OPTIONS`` request, which is matched against every route
  and answered by none (no endpoint runs, nothing touches the chain), and builds the OpenAPI document.
- A full collection of the cyclic garbage collector walks every tracked object, a few hundred thousand
  after the imports, while it holds the interpreter lock. :func:`freeze_heap` moves everything alive at
  startup into the collector's permanent generation, so later collections walk only what was allocated
  since.
"""

from __future__ import annotations

import gc
import re
from typing import Any

from fastapi import FastAPI
from starlette.types import Message

#: A path parameter in an OpenAPI path (``{code}``, ``{record_id:path}``).
_PARAM = re.compile(r"\{[^}]*\}")


async def _status_of(app: Any, method: str, path: str) -> int:
    """Send one bodiless request through ``app`` (an ASGI app) in process; the response status."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"startup")],
        "client": None,
        "server": None,
        "state": {},
    }
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


async def prepare_routes(app: FastAPI) -> dict[str, int]:
    """Build every route's state and the OpenAPI document now, not on the event loop of a first request.

    Returns the status each documented path answered to ``OPTIONS`` (405: matched, run by none)."""
    paths = [_PARAM.sub("x", path) for path in app.openapi().get("paths", {})]
    return {path: await _status_of(app, "OPTIONS", path) for path in ["/", *paths]}


def freeze_heap() -> int:
    """Collect once, then keep everything alive out of later collections; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw_heap() -> None:
    """Give the frozen objects back to the collector (the app stopped: what it held may now be garbage)."""
    gc.unfreeze()
