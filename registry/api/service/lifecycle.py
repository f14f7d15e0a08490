"""The service's construction, plumbing and health: chain connection, per-thread stores, executors, ``/health``.

:class:`ServiceCore` holds every piece of state the reads, writes and loops share; it is built once by
:func:`registry.api.create_app` (through :class:`registry.api.service.Service`), never at import.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from starlette.concurrency import run_in_threadpool
from web3 import EthereumTesterProvider

from registry import verify
from registry.api.bodies import JsonLimits
from registry.api.cache import BatchTrees, CachedReader, TtlCache
from registry.api.errors import public_message
from registry.api.gate import ChainGate
from registry.api.limits import Admission, ClientLimits
from registry.api.schemas import HealthPublic
from registry.chain.client import Chain, connect
from registry.chain.deployments import Deployment
from registry.config import EMBEDDED, ServiceSettings, Settings
from registry.errors import ConfigError, NodeUnavailableError, RegistryError
from registry.store.index import Index
from registry.store.outbox import Store

#: Seconds a health result is reused (so a burst of /health calls costs one probe).
HEALTH_REUSE_SECONDS = 0.5

#: Threads serving reads that run Python code at once (the others wait for a slot, or for the node, without
#: competing for the interpreter lock): the event loop gets the lock within a switch interval or two.
READ_SLOTS = 2

log = logging.getLogger("registry.api")

T = TypeVar("T")


class _Local(threading.local):
    store: Store | None = None


@dataclass(frozen=True, slots=True)
class HealthState:
    """What the health loop last found: when its probe started and ended, and the answer it gave."""

    started: float
    finished: float | None
    answer: HealthPublic | None


@dataclass
class _Loop:
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)


class ServiceCore:
    """The state of one service: the chain, stores (one per thread), signing keys, caches, executors."""

    def __init__(self, settings: Settings, options: ServiceSettings, chain: Chain | None = None) -> None:
        self.settings = settings
        self.options = options
        self._chain = chain
        self._connect_lock = threading.Lock()
        self._local = _Local()
        self._stores: list[Store] = []
        self._stores_lock = threading.Lock()
        self._signers: dict[str, LocalAccount] = {}
        self._submit_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._batch_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_lock = threading.Lock()
        self._reader: CachedReader | None = None
        self._embedded_guard = threading.RLock()
        self.trees = BatchTrees()
        self._office_table_cache: TtlCache[str, dict[str, tuple[str, str, str]]] = TtlCache(30.0, 1)
        self._loop = _Loop()
        self._index_loop = _Loop()
        self._index_failures = 0
        # Long work never runs on the threads that serve reads: uploads (canonicalization) and batch runs
        # have their own bounded executors, admitted up to a limit (429 beyond), and /health its own probe.
        self.upload_pool = ThreadPoolExecutor(options.upload_workers, thread_name_prefix="ipreg-upload")
        self._canon_pool: ProcessPoolExecutor | None = None
        self._canon_lock = threading.Lock()
        self.write_pool = ThreadPoolExecutor(2, thread_name_prefix="ipreg-write")
        self.health_pool = ThreadPoolExecutor(1, thread_name_prefix="ipreg-health")
        self.uploads = Admission(options.upload_concurrency, options.retry_after)
        self.batch_runs = Admission(options.batch_concurrency, options.retry_after)
        self._probe: tuple[float, Future[HealthPublic]] | None = None
        self._last_health: tuple[float, HealthPublic] | None = None
        # Every chain call of a request runs on this bounded pool within the request's read budget.
        self.gate = ChainGate(options.chain_workers, direct=self._embedded(), slots=READ_SLOTS)
        #: Kept by the health loop (``/health`` reads it without a thread); None until its first probe.
        self.health_state: HealthState | None = None
        self._health_loop = _Loop()
        self._deployment: Deployment | None = None
        self.clients = ClientLimits(options.client_requests, options.token_failures_free, options.retry_after)
        self.json_limits = JsonLimits(options.max_json_bytes, options.max_json_keys, options.max_json_depth)

    # -- plumbing

    @property
    def chain(self) -> Chain:
        """The chain client, connected on first use (a node that is down gives 503 until it is back)."""
        if self._chain is None:
            # A request does not queue behind a connection attempt (that may wait on a stalled node).
            if not self._connect_lock.acquire(blocking=not self.gate.in_deadline()):
                raise NodeUnavailableError("connecting to the chain node")
            try:
                if self._chain is None:
                    self._chain = self.gate.call(self._connect)
            finally:
                self._connect_lock.release()
        return self._chain

    def _connect(self) -> Chain:
        w3 = connect(self.settings.rpc_url, timeout=self.options.rpc_timeout)
        chain = Chain(w3, self.deployment, retries=self.settings.rpc_retries)
        chain.check_code()
        return chain

    @property
    def deployment(self) -> Deployment:
        """The deployment the service serves."""
        if self._deployment is None:
            dep = self._chain.deployment if self._chain is not None else Deployment.load(self.settings.deployment_file)
            if dep is None:
                raise ConfigError("the chain client has no deployment")
            self._deployment = dep
        return self._deployment

    @property
    def reader(self) -> CachedReader:
        """Cached chain state for verification."""
        if self._reader is None:
            self._reader = CachedReader(self.chain, self.options.cache_seconds, self.gate)
        return self._reader

    def _embedded(self) -> bool:
        """Whether the chain is the in-process EVM (no other writer than this process; not thread-safe)."""
        chain = self._chain
        if chain is None:
            return self.settings.rpc_url == EMBEDDED
        return isinstance(chain.w3.provider, EthereumTesterProvider)

    def guard(self) -> Any:
        """Serialise chain access where the client is not thread-safe (the in-process EVM)."""
        chain = self._chain
        if chain is not None and isinstance(chain.w3.provider, EthereumTesterProvider):
            return self._embedded_guard
        return nullcontext()

    def store(self) -> Store:
        """This thread's store connection."""
        store = self._local.store
        if store is None:
            store = Store(self.settings.store_file)
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        return store

    def _lock(self, table: defaultdict[str, threading.Lock], office: str) -> threading.Lock:
        with self._locks_lock:
            return table[office]

    # -- executors

    def canon_pool(self) -> Executor:
        """Where uploads are canonicalized: worker processes (``upload_processes``), so a 20 MB XML does not
        hold the interpreter lock of the threads serving reads; else the upload thread pool."""
        if not self.options.upload_processes:
            return self.upload_pool
        with self._canon_lock:
            if self._canon_pool is None:
                context = multiprocessing.get_context("spawn")  # never fork a threaded server
                self._canon_pool = ProcessPoolExecutor(self.options.upload_workers, mp_context=context)
            return self._canon_pool

    async def run_read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a thread serving reads, once one of the read slots is free (:class:`ReadSlots`)."""
        return await run_in_threadpool(self.gate.slots.run, fn, *args)

    async def hash_upload(self, data: bytes, filename: str, method: str | None) -> tuple[str, str, str | None]:
        """(content hash, canonicalization, record id hint) of an upload, computed on the canonicalization pool."""
        return await asyncio.wrap_future(self.canon_pool().submit(hash_upload, data, filename, method))

    def _shutdown(self) -> None:
        """Stop the executors and close every store connection (the loops are stopped first)."""
        for pool in (self.upload_pool, self.write_pool, self.health_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        self.gate.shutdown()
        if self._canon_pool is not None:
            self._canon_pool.shutdown(wait=False, cancel_futures=True)
        with self._stores_lock:
            for store in self._stores:
                with suppress(Exception):  # closing is best effort
                    store.close()
            self._stores.clear()

    # -- health

    def health(self) -> HealthPublic:
        """Chain reachable? Latest block, pending records, the last block the index holds."""
        pending: int | None
        indexed: int | None = None
        try:
            store = self.store()
            pending = store.pending_count()
            index = index_of(store)
            indexed = index.cursor() if index is not None else None
        except (RegistryError, sqlite3.Error):
            pending = None
        try:
            chain = self.chain
            with self.guard():
                block = int(chain.w3.eth.block_number)
                chain_id = self.reader.chain_id()
            return _health(True, chain_id, block, pending, self.deployment.anchor_registry, indexed_block=indexed)
        except RegistryError as exc:
            log.warning("health: %s", exc.diagnostics())
            return _health(False, None, None, pending, None, public_message(exc), indexed)
        except Exception as exc:
            problem = f"chain node not reachable: {type(exc).__name__}"
            return _health(False, None, None, pending, None, problem, indexed)

    def health_now(self) -> HealthPublic | None:
        """``/health`` from the health loop's state, on the event loop (no thread); None if the loop is not running.

        ``degraded`` while the loop's probe has waited for the node longer than ``health_timeout``, or
        when its last probe is older than two probe intervals (the loop itself is stuck)."""
        state = self.health_state
        if state is None:
            return None
        now = time.monotonic()
        timeout = self.options.health_timeout
        if state.finished is None and now - state.started > timeout:
            last = state.answer
            return _health(
                False,
                None,
                None,
                last.pending if last is not None else None,
                None,
                f"chain node did not answer within {timeout:g} s (waiting {now - state.started:.1f} s)",
                last.indexed_block if last is not None else None,
            )
        if state.answer is None:
            return None
        if state.finished is not None and now - state.finished > 2 * self.options.health_interval + timeout + 1:
            problem = f"no health probe for {now - state.finished:.1f} s"
            return state.answer.model_copy(update={"status": "degraded", "problem": problem})
        return state.answer

    def probe_health(self) -> HealthPublic:
        """One probe of the health loop (its own thread): the answer is kept for ``/health``; the chain gate
        is closed again when the node answers."""
        previous = self.health_state
        self.health_state = HealthState(time.monotonic(), None, previous.answer if previous else None)
        answer = self.health()
        self.health_state = HealthState(self.health_state.started, time.monotonic(), answer)
        if answer.chain_reachable:
            self.gate.note_ok()
        return answer

    async def health_async(self) -> HealthPublic:
        """``/health``: from the health loop's state when it runs (no thread at all); else ``health()`` within
        ``health_timeout`` on its own one-thread pool (a node that does not answer in time gives ``degraded``).
        """
        kept = self.health_now()
        if kept is not None:
            return kept
        now = time.monotonic()
        last = self._last_health
        if last is not None and now - last[0] < HEALTH_REUSE_SECONDS:
            return last[1]
        probe = self._probe
        if probe is None or probe[1].done():
            future = self.health_pool.submit(self.health)
            future.add_done_callback(self._probe_done)
            probe = (now, future)
            self._probe = probe
        started, future = probe
        remaining = started + self.options.health_timeout - now
        if not future.done() and remaining > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), remaining)
        if future.done() and future.exception() is None:
            return future.result()
        waited = time.monotonic() - started
        return _health(
            False,
            None,
            None,
            None,
            None,
            f"chain node did not answer within {self.options.health_timeout:g} s (waiting {waited:.1f} s)",
        )

    def _probe_done(self, future: Future[HealthPublic]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._last_health = (time.monotonic(), future.result())


def _health(
    reachable: bool,
    chain_id: int | None,
    block_number: int | None,
    pending: int | None,
    anchor_registry: str | None,
    problem: str | None = None,
    indexed_block: int | None = None,
) -> HealthPublic:
    """What ``/health`` reports: ``degraded`` whenever the chain is not reachable."""
    return HealthPublic(
        status="ok" if reachable else "degraded",
        chain_reachable=reachable,
        chain_id=chain_id,
        block_number=block_number,
        pending=pending,
        anchor_registry=anchor_registry,
        problem=problem,
        indexed_block=indexed_block,
    )


def hash_upload(data: bytes, filename: str, method: str | None) -> tuple[str, str, str | None]:
    """(content hash, canonicalization, record id hint) of an upload; runs in a worker process."""
    digest, used = verify.file_hash(data, filename, method)
    return digest, used, verify.record_hint(data, filename, used)


def index_of(store: Store) -> Index | None:
    """The indexer's read model in this store file, or None."""
    return Index.of(store.db)
