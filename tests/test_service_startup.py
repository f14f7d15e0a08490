"""Before the first request the service has built what FastAPI would otherwise build on the event loop of that
request (every route's state), and frozen its startup heap out of the cyclic collector's full collections.
Real uvicorn server on the embedded chain; behaviour only (what gets built when), no timing.
"""

from __future__ import annotations

import gc
from typing import Any

import httpx
import pydantic
import pytest
from test_service_limits import Running, running  # noqa: F401  (fixture)

from registry.api.warmup import freeze_heap, thaw_heap


def test_the_first_requests_build_no_route_state_on_the_event_loop(
    running: Running,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []
    original = pydantic.TypeAdapter.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(args[0] if args else kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(pydantic.TypeAdapter, "__init__", counting)
    answers = [
        httpx.get(running.url + "/health", timeout=30),
        httpx.get(running.url + "/v1/offices", timeout=30),
        httpx.get(running.url + "/v1/offices/EP", timeout=30),
        httpx.get(running.url + "/v1/batches", timeout=30),
        httpx.get(running.url + "/v1/records/EP:1234567:B1", timeout=30),
        httpx.post(running.url + "/v1/verify", json={"contentHash": "0x" + "00" * 32}, timeout=30),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 404, 200]
    assert built == []  # every validator and serializer of these routes was built at startup


def test_the_startup_heap_is_frozen_while_the_service_runs(running: Running) -> None:  # noqa: F811
    assert gc.get_freeze_count() > 0  # a full collection walks only what was allocated since startup


def test_freezing_and_thawing_the_heap() -> None:
    thaw_heap()
    frozen = freeze_heap()
    try:
        assert frozen == gc.get_freeze_count() > 0
    finally:
        thaw_heap()
    assert gc.get_freeze_count() == 0
