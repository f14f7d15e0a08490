"""The chain gate's promises, one by one: a read never waits on the node past its budget, counted from its
arrival; a call already waiting is cut as soon as the node is known to be stalled; a request never waits
behind another request's load of the same chain state past its own deadline; threads waiting on the node
run no Python and hold no read slot. Threads and events only: the "node" is a function blocked on an event,
and every assertion is about which path answered (and in which order), never about how long it took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import copy_context
from typing import Any

import pytest

from registry.api.cache import CachedReader, TtlCache
from registry.api.gate import ChainGate, ReadSlots, start_clock
from registry.errors import NodeUnavailableError

#: Generous guard so that a broken promise fails the test instead of hanging it (not a latency bound).
HANG = 30.0


@pytest.fixture
def gate() -> Iterator[ChainGate]:
    g = ChainGate(4, slots=1)
    try:
        yield g
    finally:
        g.shutdown()


def _in_request(gate: ChainGate, seconds: float, fn: Callable[[], Any], ready: float | None = None) -> Any:
    """``fn`` as a request's thread runs it: its clock started at ``ready`` (default now), within its budget."""

    def body() -> Any:
        start_clock(ready)
        with gate.deadline(seconds):
            return fn()

    return copy_context().run(body)


@contextmanager
def _releasing(event: threading.Event) -> Iterator[None]:
    """Set ``event`` on the way out, whatever happened (a failing test must not leave threads blocked)."""
    try:
        yield
    finally:
        event.set()


def test_a_call_waiting_on_the_node_is_cut_when_another_request_finds_it_stalled(gate: ChainGate) -> None:
    node = threading.Event()  # the stalled node: set only at the end
    waiting = threading.Event()

    def stuck() -> str:
        waiting.set()
        node.wait()
        return "node answered"

    with ThreadPoolExecutor(2) as pool, _releasing(node):
        patient: Future[Any] = pool.submit(_in_request, gate, 3600.0, lambda: gate.call(stuck))
        assert waiting.wait(HANG)
        # another request with a short budget times out: the gate opens, and the patient call is cut now
        with pytest.raises(NodeUnavailableError, match="within the read budget"):
            _in_request(gate, 0.01, lambda: gate.call(node.wait))
        with pytest.raises(NodeUnavailableError, match="another request found it stalled"):
            patient.result(timeout=HANG)
        assert not node.is_set()  # cut while the node still did not answer


def test_the_budget_counts_from_the_request_s_arrival_not_from_when_a_thread_took_it(gate: ChainGate) -> None:
    asked: list[str] = []
    # the request arrived long ago (it waited for a thread): its budget is spent, the node is not asked
    with pytest.raises(NodeUnavailableError, match="no answer within the read budget"):
        _in_request(gate, 5.0, lambda: gate.call(lambda: asked.append("node")), ready=time.monotonic() - 10.0)
    assert asked == []
    assert gate.stalled_since is None  # a spent budget says nothing about the node
    # the same request just arrived: the node is asked
    assert _in_request(gate, 3600.0, lambda: gate.call(lambda: asked.append("node") or 7)) == 7
    assert asked == ["node"]


def test_a_request_does_not_wait_past_its_deadline_for_another_s_load_of_the_same_state(gate: ChainGate) -> None:
    cache: TtlCache[str, str] = TtlCache(60.0)
    node = threading.Event()
    loading = threading.Event()

    def slow_load() -> str:
        loading.set()
        node.wait()
        return "head"

    def first() -> str:
        return cache.get("head", lambda: gate.call(slow_load), gate.acquire)

    with ThreadPoolExecutor(1) as pool, _releasing(node):
        loader = pool.submit(_in_request, gate, 3600.0, first)
        assert loading.wait(HANG)  # the first request holds the loading lock, waiting on the node
        with pytest.raises(NodeUnavailableError, match="waiting for the node for the same state"):
            _in_request(gate, 0.01, lambda: cache.get("head", lambda: gate.call(slow_load), gate.acquire))
        assert not node.is_set() and not loader.done()  # refused while the loader still waits
        node.set()
        assert loader.result(timeout=HANG) == "head"
    # outside a request the wait is unbounded and the value is shared
    assert cache.get("head", lambda: "other", gate.acquire) == "head"


def test_the_cached_reader_waits_for_a_loader_within_the_deadline() -> None:
    gate = ChainGate(2, slots=1)
    reader = CachedReader.__new__(CachedReader)  # only the gated cache plumbing is exercised
    reader.gate = gate
    cache: TtlCache[str, int] = TtlCache(60.0)
    node = threading.Event()
    try:
        with ThreadPoolExecutor(1) as pool:
            loader = pool.submit(_in_request, gate, 3600.0, lambda: reader._get(cache, "k", lambda: node.wait() and 1))
            while not gate.busy:  # the loader's call reached the chain pool
                time.sleep(0.001)
            with pytest.raises(NodeUnavailableError):
                _in_request(gate, 0.01, lambda: reader._get(cache, "k", lambda: 2))
            node.set()
            assert loader.result(timeout=HANG) == 1
    finally:
        node.set()
        gate.shutdown()


def test_a_thread_waiting_on_the_node_gives_its_read_slot_to_another(gate: ChainGate) -> None:
    node = threading.Event()
    waiting = threading.Event()

    def stuck() -> str:
        waiting.set()
        node.wait()
        return "late"

    with ThreadPoolExecutor(2) as pool, _releasing(node):
        slow = pool.submit(_in_request, gate, 3600.0, lambda: gate.slots.run(lambda: gate.call(stuck)))
        assert waiting.wait(HANG)
        # the only slot is free while the first read waits on the node: a second read runs to the end
        assert pool.submit(gate.slots.run, lambda: "index answer").result(timeout=HANG) == "index answer"
        assert not slow.done()
        node.set()
        assert slow.result(timeout=HANG) == "late"


def test_read_slots_let_at_most_n_threads_run_at_once() -> None:
    slots = ReadSlots(2)
    release = threading.Event()
    inside: list[str] = []

    def work(name: str) -> str:
        inside.append(name)
        release.wait()
        return name

    with ThreadPoolExecutor(3) as pool, _releasing(release):
        futures = [pool.submit(slots.run, work, name) for name in "abc"]
        while len(inside) < 2:  # two reads got a slot
            time.sleep(0.001)
        assert not slots._free.acquire(blocking=False)  # no slot is left for the third: it waits
        assert len(inside) == 2
        release.set()
        assert sorted(f.result(timeout=HANG) for f in futures) == ["a", "b", "c"]
    assert slots.run(lambda: slots.run(lambda: "nested")) == "nested"  # a nested call reuses the slot held
