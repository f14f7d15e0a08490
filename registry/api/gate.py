"""Where every chain call of a request runs: its own bounded pool, within the request's deadline.

A request never waits on the node longer than its read budget and never holds a thread the others
need: :meth:`ChainGate.call` runs the call on the chain pool and waits at most until the deadline the
request set with :meth:`ChainGate.deadline`; past it, or when every chain worker is already stuck on
the node, it raises :class:`~registry.errors.NodeUnavailableError` at once (the read then answers from
the index, or 503 with ``Retry-After``). Once a call timed out, the gate is *open* (the node is taken as
stalled) and refuses further calls at once until a call succeeds again (the health loop's probe, which
is not gated, or :meth:`ChainGate.note_ok`).

Calls made outside a deadline (the background loops, the command line) run directly on the caller's
thread: only requests are gated.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import TypeVar

from registry.errors import NodeUnavailableError

T = TypeVar("T")


class _Deadline(threading.local):
    at: float | None = None
    failed: bool = False


class ChainGate:
    """A bounded pool for the chain calls of requests, each waited for at most until its request's deadline."""

    def __init__(self, workers: int = 8, *, direct: bool = False) -> None:
        self.workers = workers
        #: Run calls on the caller's thread even within a deadline (the in-process EVM cannot stall).
        self.direct = direct
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ipreg-chain")
        self._lock = threading.Lock()
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
        """Within this block, this thread's gated calls end by ``seconds`` from now (nested: the earlier wins)."""
        previous = self._local.at
        at = time.monotonic() + seconds
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
            self._release(None)
            raise self._refuse("the service is stopping") from None
        future.add_done_callback(self._release)
        try:
            result = future.result(timeout=remaining)
        except FutureTimeout:
            self._local.at = 0.0  # the rest of this request does not wait on the node again
            if self.stalled_since is None:
                self.stalled_since = time.monotonic()
            raise self._refuse(f"no answer within the read budget ({remaining:.2f} s)") from None
        self.stalled_since = None
        return result

    def _release(self, _: object) -> None:
        with self._lock:
            self._busy = max(0, self._busy - 1)

    def shutdown(self) -> None:
        """Stop the pool (calls still stuck on the node are abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
