"""Where every chain call of a request runs: its own bounded pool, within the request's deadline.

A request never waits on the node longer than its read budget and never holds a thread the others
need: :meth:`ChainGate.call` runs the call on the chain pool and waits at most until the deadline the
request set with :meth:`ChainGate.deadline`; past it, or when every chain worker is already stuck on
the node, it raises :class:`~registry.errors.NodeUnavailableError` at once (the read then answers from
the index, or 503 with ``Retry-After``). Once a call timed out, the gate is *open* (the node is taken as
stalled): every call still waiting is cut at once, and further calls are refused at once until a call
succeeds again (the health loop's probe, which is not gated, or :meth:`ChainGate.note_ok`).

The budget counts from when the request became ready to be answered (:func:`start_clock`: its arrival,
set by the app's middleware, or the moment an uploaded input was in hand), not from when a thread took it
up: time spent waiting for a thread is time the client waited too.

Threads serving reads run Python code at most :class:`ReadSlots` ``n`` at a time, and give their slot
back while they wait (for the node, or for another request loading the same state): few runnable
threads, so the event loop (``/health``, accepting, parsing) gets the interpreter lock when it asks.

Calls made outside a deadline (the background loops, the command line) run directly on the caller's
thread: only requests are gated.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from registry.errors import NodeUnavailableError

T = TypeVar("T")

#: When the current request became ready to be answered (monotonic seconds); None outside a request.
_READY: ContextVar[float | None] = ContextVar("ipreg_request_ready", default=None)


def start_clock(at: float | None = None) -> None:
    """The current request's read budget counts from ``at`` (default: now); its task and threads see it."""
    _READY.set(time.monotonic() if at is None else at)


class ReadSlots:
    """At most ``n`` threads serving reads run Python code at once; a waiting thread gives its slot back."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._free = threading.Semaphore(n)
        self._held = threading.local()

    def holding(self) -> bool:
        """Whether this thread holds a slot now."""
        return bool(getattr(self._held, "on", False))

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on this thread once a slot is free (nested calls use the slot already held)."""
        if self.holding():
            return fn(*args)
        self._free.acquire()
        self._held.on = True
        try:
            return fn(*args)
        finally:
            self._held.on = False
            self._free.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """While this thread waits in this block, its slot (if it holds one) serves another thread."""
        if not self.holding():
            yield
            return
        self._held.on = False
        self._free.release()
        try:
            yield
        finally:
            self._free.acquire()
            self._held.on = True


class _Deadline(threading.local):
    at: float | None = None
    failed: bool = False


class ChainGate:
    """A bounded pool for the chain calls of requests, each waited for at most until its request's deadline."""

    def __init__(self, workers: int = 8, *, direct: bool = False, slots: int = 2) -> None:
        self.workers = workers
        #: Run calls on the caller's thread even within a deadline (the in-process EVM cannot stall).
        self.direct = direct
        #: The threads serving reads that may run Python code at once.
        self.slots = ReadSlots(slots)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ipreg-chain")
        self._lock = threading.Lock()
        #: Notified when a call finishes or the gate opens (waiting calls re-check).
        self._changed = threading.Condition()
        self._busy = 0
        self._local = _Deadline()
        #: monotonic time of the last call that timed out with no success since (None: the gate is closed).
        self.stalled_since: float | None = None
        #: Calls refused or timed out (for the benchmark and tests).
        self.refused = 0

    @property
    def busy(self) -> int:
        """Chain workers running a call now (stuck on a stalled node, or answering)."""
        return self._busy

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Within this block, this thread's gated calls end by ``seconds`` from the request's clock
        (:func:`start_clock`; now outside a request). Nested: the earlier deadline wins."""
        previous = self._local.at
        ready = _READY.get()
        at = (time.monotonic() if ready is None else ready) + seconds
        self._local.at = at if previous is None else min(previous, at)
        if previous is None:
            self._local.failed = False
        try:
            yield
        finally:
            self._local.at = previous

    def failed(self) -> bool:
        """Whether a gated call of this thread's current (or last) request was refused or timed out."""
        return self._local.failed

    def in_deadline(self) -> bool:
        """Whether this thread serves a request (its chain calls are gated)."""
        return self._local.at is not None and not self.direct

    def note_ok(self) -> None:
        """The node answered (a probe outside the gate): close the gate again."""
        self.stalled_since = None

    def _refuse(self, why: str) -> NodeUnavailableError:
        self.refused += 1
        self._local.failed = True
        return NodeUnavailableError(f"chain node: {why}")

    def _open(self) -> None:
        """A call outlived its deadline: the node is taken as stalled; every waiting call is cut now."""
        with self._changed:
            if self.stalled_since is None:
                self.stalled_since = time.monotonic()
            self._changed.notify_all()

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the chain pool, waited for until this thread's deadline (directly if there is none)."""
        at = self._local.at
        if at is None or self.direct:
            return fn()
        if self.stalled_since is not None:
            raise self._refuse("not answering (stalled); served from the index where it can")
        remaining = at - time.monotonic()
        if remaining <= 0:
            raise self._refuse("no answer within the read budget")
        with self._lock:
            if self._busy >= self.workers:
                raise self._refuse(f"all {self.workers} chain workers are waiting for the node")
            self._busy += 1
        try:
            future: Future[T] = self._pool.submit(fn)
        except RuntimeError:  # shut down
            self._finished(None)
            raise self._refuse("the service is stopping") from None
        future.add_done_callback(self._finished)
        with self.slots.released(), self._changed:
            self._changed.wait_for(lambda: future.done() or self.stalled_since is not None, timeout=remaining)
        if not future.done():
            self._local.at = 0.0  # the rest of this request does not wait on the node again
            if self.stalled_since is not None and time.monotonic() < at:
                raise self._refuse("another request found it stalled; served from the index where it can")
            self._open()
            raise self._refuse(f"no answer within the read budget ({remaining:.2f} s)")
        result = future.result()
        self.stalled_since = None
        return result

    def acquire(self, lock: threading.Lock) -> None:
        """Take ``lock`` (another request of this service may hold it while it waits on the node for the same
        state) within this thread's deadline, the read slot given back meanwhile; refused past the deadline."""
        if lock.acquire(blocking=False):
            return
        at = self._local.at
        with self.slots.released():
            if at is None or self.direct:
                lock.acquire()
                return
            if lock.acquire(timeout=max(0.0, at - time.monotonic())):
                return
        raise self._refuse("another request is waiting for the node for the same state")

    def _finished(self, _: object) -> None:
        with self._lock:
            self._busy = max(0, self._busy - 1)
        with self._changed:
            self._changed.notify_all()

    def shutdown(self) -> None:
        """Stop the pool (calls still stuck on the node are abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
