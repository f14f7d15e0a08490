"""The service's state and operations: chain, per-thread stores, signers, caches, the batch and index loops.

Routes call these methods; this module calls the registry's library (store queries, the
:class:`~registry.anchor.pipeline.Anchorer` outbox pipeline, :mod:`registry.verify.verdicts`) and holds no SQL.
Nothing here runs at import: :func:`registry.api.create_app` builds one :class:`Service`.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from starlette.concurrency import run_in_threadpool
from web3 import EthereumTesterProvider

from registry.anchor.pipeline import Anchorer, RunResult, reveal_bundle
from registry.api.cache import BatchTrees, CachedReader, TtlCache
from registry.api.errors import (
    BatchInProgressError,
    NotAnchoredYetError,
    OfficeNotServedError,
    TooBusyError,
    public_message,
)
from registry.api.limits import Admission
from registry.chain.client import Chain, connect
from registry.chain.deployments import Deployment
from registry.chain.keys import load_signer
from registry.config import EMBEDDED, Settings
from registry.core import canon
from registry.core.batch import utc_iso
from registry.core.records import SEALED, ProofBundle, RecordId
from registry.core.st3 import is_st3
from registry.errors import ChainError, ConfigError, ForbiddenError, InputError, NotFoundError, RegistryError
from registry.files.ingest import PreparedRecord
from registry.indexer.sync import Index, IndexedBatch, Indexer, SyncResult
from registry.store.outbox import Store, StoredBatch, StoredRecord
from registry.store.tokens import office_for_token
from registry.verify import verdicts as verify

T = TypeVar("T")
#: Seconds a health result is reused (so a burst of /health calls costs one probe).
HEALTH_REUSE_SECONDS = 0.5

log = logging.getLogger("registry.api")

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Default seconds between two passes of the background indexer.
DEFAULT_INDEX_INTERVAL = 5.0
#: Longest wait between index passes after repeated failures (the wait doubles per failure).
INDEX_MAX_BACKOFF = 60.0

_MANIFEST_OFFICE = re.compile(r"[A-Za-z]{2}")
_MANIFEST_NAME = re.compile(r"(0x[0-9a-fA-F]{64})\.json")


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


#: Environment variables of the service's limits: (variable, setting, type).
_ENV_SETTINGS: tuple[tuple[str, str, type], ...] = (
    ("IPREG_MAX_SUBMIT_BYTES", "max_submit_bytes", int),
    ("IPREG_MAX_BODY_BYTES", "max_body_bytes", int),
    ("IPREG_BODY_TIMEOUT", "body_timeout", float),
    ("IPREG_HEADER_TIMEOUT", "header_timeout", float),
    ("IPREG_MAX_CONNECTIONS", "max_connections", int),
    ("IPREG_SERVICE_RPC_TIMEOUT", "rpc_timeout", float),
    ("IPREG_HEALTH_TIMEOUT", "health_timeout", float),
    ("IPREG_UPLOAD_CONCURRENCY", "upload_concurrency", int),
    ("IPREG_UPLOAD_WORKERS", "upload_workers", int),
    ("IPREG_BATCH_CONCURRENCY", "batch_concurrency", int),
    ("IPREG_RETRY_AFTER", "retry_after", int),
)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """How the HTTP service behaves (beyond the registry's :class:`~registry.config.Settings`)."""

    #: Largest request body accepted (uploads included); larger ones get 413 while being read.
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    #: Anchor pending records every this many seconds in the background; None: only on request.
    batch_interval: float | None = None
    #: Offices this instance writes for; None: every office whose key it can load.
    offices: frozenset[str] | None = None
    #: Seconds chain state (batches, revocations) is reused when verifying.
    cache_seconds: float = 5.0
    #: Public base URL of batch manifests (default: content addresses ``ni:///sha-256;...`` of the manifests,
    #: kept under ``$IPREG_HOME/manifests`` and served at ``/v1/manifests``).
    manifest_base: str | None = None
    #: Longest wait for another batch of the same office before answering 409.
    batch_wait_seconds: float = 120.0
    #: Follow the chain's events (and fetch every office's published manifests) into the index every
    #: this many seconds, so verification knows the records of all offices; 0 disables the loop. It never
    #: runs on the in-process EVM (its only writer is this process): call ``Service.sync_index()`` there.
    index_interval: float = DEFAULT_INDEX_INTERVAL
    #: Largest body of a record submission (``POST /v1/offices/{code}/records``); None: ``max_upload_bytes``.
    max_submit_bytes: int | None = None
    #: Largest body of every other route.
    max_body_bytes: int = 64 * 1024
    #: Seconds for a request body to arrive completely (408 after that).
    body_timeout: float = 30.0
    #: Seconds for a request's headers to arrive (the connection is closed with 408 after that).
    header_timeout: float = 10.0
    #: Open connections at most; more are answered 503 and closed at once.
    max_connections: int = 1000
    #: Seconds of one JSON-RPC call from the service (request handlers, batches).
    rpc_timeout: float = 5.0
    #: Seconds ``/health`` waits for the node before it answers ``degraded``.
    health_timeout: float = 0.08
    #: Large uploads (verify, submit) handled at once; more get 429 with ``Retry-After``.
    upload_concurrency: int = 2
    #: Workers canonicalizing uploads (apart from the threads serving reads).
    upload_workers: int = 1
    #: Canonicalize uploads in worker processes (True) or threads (False: no extra process).
    upload_processes: bool = True
    #: Batch runs requested at once (running or waiting for the office's lock); more get 429.
    batch_concurrency: int = 4
    #: Seconds a client is told to wait (``Retry-After``) when turned away.
    retry_after: int = 2

    @property
    def submit_bytes(self) -> int:
        """The effective submission body limit."""
        return self.max_submit_bytes if self.max_submit_bytes is not None else self.max_upload_bytes

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1 or self.submit_bytes < 1 or self.max_body_bytes < 1:
            raise ConfigError("body size limits must be at least 1 byte")
        for name in ("body_timeout", "header_timeout", "rpc_timeout", "health_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be positive seconds")
        for name in ("max_connections", "upload_concurrency", "upload_workers", "batch_concurrency", "retry_after"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1")
        if self.batch_interval is not None and self.batch_interval <= 0:
            raise ConfigError("batch interval must be positive seconds")
        if self.cache_seconds < 0:
            raise ConfigError("cache seconds must not be negative")
        if not self.index_interval >= 0:  # also refuses NaN
            raise ConfigError("index interval must be zero (off) or positive seconds")
        for office in self.offices or ():
            if not is_st3(office):
                raise ConfigError(f"unknown WIPO ST.3 office code {office!r}")

    @classmethod
    def from_env(cls, **overrides: Any) -> ServiceSettings:
        """``IPREG_MAX_UPLOAD_BYTES``, ``IPREG_BATCH_INTERVAL``, ``IPREG_SERVICE_OFFICES`` (comma list),
        ``IPREG_CACHE_SECONDS``, ``IPREG_MANIFEST_BASE``, ``IPREG_INDEX_INTERVAL`` (0: off), and the limits
        of ``_ENV_SETTINGS`` (``IPREG_HEALTH_TIMEOUT``, ``IPREG_UPLOAD_CONCURRENCY`` ...);
        ``overrides`` (None = unset) win."""
        values: dict[str, Any] = {}
        upload = _env_float("IPREG_MAX_UPLOAD_BYTES")
        if upload is not None:
            values["max_upload_bytes"] = int(upload)
        interval = _env_float("IPREG_BATCH_INTERVAL")
        if interval is not None:
            values["batch_interval"] = interval or None
        cache = _env_float("IPREG_CACHE_SECONDS")
        if cache is not None:
            values["cache_seconds"] = cache
        index_interval = _env_float("IPREG_INDEX_INTERVAL")
        if index_interval is not None:
            values["index_interval"] = index_interval
        offices = os.environ.get("IPREG_SERVICE_OFFICES")
        if offices:
            values["offices"] = frozenset(o.strip().upper() for o in offices.split(",") if o.strip())
        if os.environ.get("IPREG_MANIFEST_BASE"):
            values["manifest_base"] = os.environ["IPREG_MANIFEST_BASE"]
        for env, key, kind in _ENV_SETTINGS:
            number = _env_float(env)
            if number is not None:
                values[key] = kind(number)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# ---------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class OfficeView:
    """An office as the chain (and the index, for signers) describes it."""

    code: str
    name: str
    base_uri: str
    status: str
    signers: list[dict[str, Any]] | None
    pending_count: int


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch of the outbox or of the index."""

    root: str
    office: str
    leaf_count: int
    status: str
    manifest_uri: str | None
    signer: str | None
    transaction_hash: str | None
    block_number: int | None
    anchored_at: str | None
    gas_used: int | None
    revocation_reason: int | None
    error: str | None
    records: list[dict[str, str]] | None = None
    sealed_count: int | None = None


@dataclass(frozen=True, slots=True)
class VersionView:
    """One version (content) of a record id."""

    content_hash: str
    canonicalization: str
    supersedes: str
    leaf: str
    status: str
    root: str | None
    block_number: int | None
    transaction_hash: str | None
    anchored_at: str | None
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class RecordView:
    """A record id with its versions, oldest first."""

    record_id: str
    office: str
    status: str
    versions: list[VersionView]


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revocation mined for an office: its batch, the record's leaf (None for a whole batch)."""

    office: str
    root: str
    record_id: str | None
    leaf: str | None
    reason: int
    transaction_hash: str
    block_number: int


@dataclass(frozen=True, slots=True)
class Submission:
    """What happened to a record submitted through the API."""

    record: StoredRecord
    accepted: bool
    new_version: bool
    batch: StoredBatch | None


@dataclass(slots=True)
class Health:
    """What ``/health`` reports."""

    chain_reachable: bool
    chain_id: int | None
    block_number: int | None
    pending: int | None
    anchor_registry: str | None
    problem: str | None = None
    indexed_block: int | None = None


class _Local(threading.local):
    store: Store | None = None


@dataclass
class _Loop:
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)


# ---------------------------------------------------------------------------- the service


class Service:
    """One per app: the chain, stores (one per thread), signing keys, caches, the background batch loop."""

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
        self._offices: TtlCache[str, tuple[str, str, str] | None] = TtlCache(30.0, 512)
        self._office_codes: TtlCache[str, list[str]] = TtlCache(30.0, 1)
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
        self._probe: tuple[float, Future[Health]] | None = None
        self._last_health: tuple[float, Health] | None = None

    # -- plumbing

    @property
    def chain(self) -> Chain:
        """The chain client, connected on first use (a node that is down gives 503 until it is back)."""
        if self._chain is None:
            with self._connect_lock:
                if self._chain is None:
                    deployment = Deployment.load(self.settings.deployment_file)
                    w3 = connect(self.settings.rpc_url, timeout=self.options.rpc_timeout)
                    chain = Chain(w3, deployment, retries=self.settings.rpc_retries)
                    chain.check_code()
                    self._chain = chain
        return self._chain

    @property
    def deployment(self) -> Deployment:
        """The deployment the service serves."""
        dep = self.chain.deployment
        if dep is None:
            raise ConfigError("the chain client has no deployment")
        return dep

    @property
    def reader(self) -> CachedReader:
        """Cached chain state for verification."""
        if self._reader is None:
            self._reader = CachedReader(self.chain, self.options.cache_seconds)
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

    async def run_upload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` (canonicalization, hashing) on the bounded upload pool, not on the read threads."""
        return await asyncio.wrap_future(self.upload_pool.submit(fn, *args))

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

    async def hash_upload(self, data: bytes, filename: str, method: str | None) -> tuple[str, str, str | None]:
        """(content hash, canonicalization, record id hint) of an upload, computed on the canonicalization pool."""
        return await asyncio.wrap_future(self.canon_pool().submit(hash_upload, data, filename, method))

    async def verify_upload(self, data: bytes, filename: str, bundle: ProofBundle | None) -> verify.Verdict:
        """Verdict for an uploaded file: hashed on the canonicalization pool, judged on the read threads."""
        if bundle is None:
            digest, _, hint = await self.hash_upload(data, filename, None)
            return await run_in_threadpool(self.verify_hash, digest, hint)
        method = bundle.value.canonicalization
        if method == SEALED:
            reveal = bundle.extra.get("reveal")
            method = str(reveal.get("canonicalization")) if isinstance(reveal, dict) else canon.RAW
        if method not in canon.CANONICALIZATIONS:
            raise InputError(f"bundle names unknown canonicalization {method[:40]!r}")
        digest, _, _ = await self.hash_upload(data, filename, method)
        return await run_in_threadpool(self._verify_bundle_digest, bundle, digest)

    def _verify_bundle_digest(self, bundle: ProofBundle, digest: str) -> verify.Verdict:
        mismatch = self._foreign_registry(bundle)
        if mismatch is not None:
            return mismatch
        with self.guard():
            return verify.verify_bundle(self.chain, bundle, digest, self.store())

    async def run_batch(self, office: str) -> RunResult:
        """``anchor_pending`` on the write pool; 429 (``Retry-After``) beyond ``batch_concurrency`` runs."""
        if not self.batch_runs.try_enter():
            raise TooBusyError(
                f"more than {self.batch_runs.limit} batch runs requested at once; retry in"
                f" {self.batch_runs.retry_after} s (pending records are anchored by the running batch too)",
                self.batch_runs.retry_after,
            )
        try:
            return await asyncio.wrap_future(self.write_pool.submit(self.anchor_pending, office))
        finally:
            self.batch_runs.leave()

    async def health_async(self) -> Health:
        """``health()`` within ``health_timeout``: a node that does not answer in time gives ``degraded``.

        One probe runs at a time on its own thread (a stalled node ties up that thread only); a result
        younger than half a second is reused.
        """
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
        return Health(
            False,
            None,
            None,
            None,
            None,
            f"chain node did not answer within {self.options.health_timeout:g} s (waiting {waited:.1f} s)",
        )

    def _probe_done(self, future: Future[Health]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._last_health = (time.monotonic(), future.result())

    def close(self) -> None:
        """Stop the background loops and executors and close every store connection."""
        self.stop_loop()
        for pool in (self.upload_pool, self.write_pool, self.health_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        if self._canon_pool is not None:
            self._canon_pool.shutdown(wait=False, cancel_futures=True)
        with self._stores_lock:
            for store in self._stores:
                with suppress(Exception):  # closing is best effort
                    store.close()
            self._stores.clear()

    # -- auth and signing

    def office_of_token(self, token: str) -> str | None:
        """The office a bearer token belongs to."""
        return office_for_token(self.store(), token)

    def signer(self, office: str) -> LocalAccount:
        """The key this instance signs ``office``'s batches with (checked against the chain once)."""
        account = self._signers.get(office)
        if account is not None:
            return account
        if self.options.offices is not None and office not in self.options.offices:
            raise OfficeNotServedError(f"this service instance does not sign for office {office}")
        try:
            account = load_signer(self.settings, office, self.deployment)
        except ConfigError as exc:
            raise OfficeNotServedError(f"this service instance cannot sign for {office}: {exc.diagnostics()}") from None
        with self.guard():
            signs_for = self.chain.office_of(account.address)
        if signs_for != office:
            raise OfficeNotServedError(
                f"key {account.address} is not a current signer of {office}"
                + (f" (it signs for {signs_for})" if signs_for else "")
            )
        self._signers[office] = account
        return account

    # -- offices

    def office_codes(self) -> list[str]:
        """Registered office codes (cached for 30 s)."""

        def load() -> list[str]:
            with self.guard():
                return self.chain.office_codes()

        return self._office_codes.get("codes", load)

    def check_office(self, code: str) -> str:
        """``code`` if it names a registered office; 400 for a malformed code, 404 for an unknown one."""
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise InputError(f"invalid office code {code!r} (two letters, WIPO ST.3)")
        code = code.upper()
        if not is_st3(code) or code not in self.office_codes():
            raise NotFoundError(f"office {code} is not registered")
        return code

    def office(self, code: str) -> OfficeView:
        """One registered office."""
        code = self.check_office(code)

        def load() -> tuple[str, str, str] | None:
            with self.guard():
                return self.chain.office_info(code)

        info = self._offices.get(code, load)
        if info is None:
            raise NotFoundError(f"office {code} is not registered")
        name, base_uri, status = info
        store = self.store()
        return OfficeView(code, name, base_uri, status, self._signers_of(store, code), store.pending_count(code))

    def offices(self) -> list[OfficeView]:
        """Every registered office."""
        return [self.office(code) for code in self.office_codes()]

    @staticmethod
    def _signers_of(store: Store, code: str) -> list[dict[str, Any]] | None:
        index = _index(store)
        if index is None:
            return None
        return [
            {"address": s.address, "fromBlock": s.from_block, "untilBlock": s.until_block} for s in index.signers(code)
        ]

    # -- batches

    def _revocation(self, office: str, root: str) -> int | None:
        try:
            with self.guard():
                info = self.reader.batch_state(office, root).info
        except ChainError:
            return None
        return info.revocation_reason if info is not None else None

    def _batch_view(self, b: StoredBatch, with_records: bool = False) -> BatchView:
        records = sealed = None
        if with_records:
            stored = self.store().batch_records(b.id)
            records = [{"recordId": r.record_id, "contentHash": r.content_hash} for r in stored if r.salt is None][
                :1000
            ]
            sealed = sum(1 for r in stored if r.salt is not None)
        return BatchView(
            b.root,
            b.office,
            b.leaf_count,
            b.status,
            b.manifest_uri,
            b.signer,
            b.tx_hash,
            b.block_number,
            utc_iso(b.timestamp) if b.timestamp else None,
            b.gas_used,
            self._revocation(b.office, b.root) if b.status == "anchored" else None,
            b.error,
            records,
            sealed,
        )

    def batches(self, office: str | None, limit: int) -> list[BatchView]:
        """Recent batches, newest first: this instance's outbox, then batches only the index knows."""
        if office is not None:
            office = self.check_office(office)
        store = self.store()
        views = [self._batch_view(b) for b in store.batches(office, limit=limit)]
        index = _index(store)
        if index is not None and len(views) < limit:
            known = {(v.office, v.root) for v in views}
            for ib in index.batches(office, limit=limit):
                if (ib.office, ib.root) not in known:
                    views.append(_index_batch_view(ib))
        views.sort(key=lambda v: (v.block_number is not None, -(v.block_number or 0)))
        return views[:limit]

    def batch(self, root: str) -> BatchView:
        """One batch by root (outbox, index, or the chain alone)."""
        root = _check_root(root)
        store = self.store()
        stored = store.batch_by_root(root)
        if stored is not None:
            return self._batch_view(stored, with_records=True)
        index = _index(store)
        # Batches belong to (office, root): another office may have anchored a copy of this root first.
        # Prefer the batch whose manifest rebuilt it (its records are of the anchoring office).
        indexed = index.batches_with_root(root) if index is not None else []
        ib = next((b for b in indexed if b.manifest_status == "indexed"), indexed[0] if indexed else None)
        if ib is not None:
            return _index_batch_view(ib)
        with self.guard():  # batches belong to (office, root): the first office that anchored this root
            info = next(
                (i for c in self.office_codes() if (i := self.reader.batch_state(c, root).info) is not None), None
            )
        if info is None:
            raise NotFoundError(f"no batch with root {root}")
        return BatchView(
            root,
            info.office,
            info.leaf_count,
            "anchored",
            None,
            info.signer,
            None,
            info.block_number,
            info.anchored_at,
            None,
            info.revocation_reason,
            None,
        )

    # -- records and proofs

    def _bundle(self, store: Store, record: StoredRecord) -> ProofBundle | None:
        if record.batch_id is None:
            return None
        dep = self.deployment
        return self.trees.bundle(store, dep.chain_id, dep.anchor_registry, store.batch(record.batch_id), record)

    def record(self, record_id: str) -> RecordView:
        """A record id's versions and status (sealed records are not public)."""
        rid = str(RecordId.parse(record_id))
        store = self.store()
        versions: list[VersionView] = []
        stored = [v for v in store.versions(rid) if v.salt is None]
        for v in stored:
            batch = store.batch(v.batch_id) if v.batch_id is not None else None
            status = "pending" if batch is None else "anchored" if batch.status == "anchored" else "batching"
            if (
                batch is not None
                and batch.status == "anchored"
                and self._leaf_revoked(batch.office, batch.root, v.leaf)
            ):
                status = "revoked"
            versions.append(
                VersionView(
                    v.content_hash,
                    v.canonicalization,
                    v.supersedes,
                    "0x" + v.leaf.hex(),
                    status,
                    batch.root if batch else None,
                    batch.block_number if batch else None,
                    batch.tx_hash if batch else None,
                    utc_iso(batch.timestamp) if batch is not None and batch.timestamp else None,
                )
            )
        if not versions:
            index = _index(store)
            for leaf in index.versions(rid) if index is not None else []:
                revoked = self._leaf_revoked(leaf.office, leaf.root, bytes.fromhex(leaf.leaf[2:]))
                versions.append(
                    VersionView(
                        leaf.content_hash,
                        leaf.canonicalization,
                        leaf.supersedes,
                        leaf.leaf,
                        "revoked" if revoked else "anchored",
                        leaf.root,
                        leaf.block_number,
                        leaf.tx_hash,
                        utc_iso(leaf.timestamp),
                    )
                )
        if not versions:
            raise NotFoundError(f"no record {rid} is known to this service")
        position = {version.leaf: k for k, version in enumerate(versions)}
        for newer in list(versions):
            k = position.get(newer.supersedes)
            if k is None or newer.status == "revoked":
                continue
            old = versions[k]
            status = "superseded" if newer.status == "anchored" and old.status == "anchored" else old.status
            versions[k] = replace(old, status=status, superseded_by=f"{rid}@{newer.content_hash}")
        return RecordView(rid, rid.split(":", 1)[0], versions[-1].status, versions)

    def _leaf_revoked(self, office: str, root: str, leaf: bytes) -> bool:
        try:
            with self.guard():
                info = self.reader.batch_state(office, root).info
                return info is not None and bool(
                    info.revocation_reason or self.reader.leaf_revocation(office, root, leaf)
                )
        except ChainError:
            return False

    def proof(self, record_id: str, content_hash: str | None = None) -> ProofBundle:
        """The proof bundle of the latest anchored version (or of the version with ``content_hash``)."""
        rid = str(RecordId.parse(record_id))
        if content_hash is not None:
            content_hash = _check_hash(content_hash)
        store = self.store()
        for v in reversed([v for v in store.versions(rid) if v.salt is None]):
            if content_hash is not None and v.content_hash != content_hash:
                continue
            bundle = self._bundle(store, v)
            if bundle is not None:
                return bundle
        index = _index(store)
        if index is not None:
            for leaf in reversed(index.versions(rid)):
                if content_hash is None or leaf.content_hash == content_hash:
                    dep = self.deployment
                    return index.bundle(leaf, dep.chain_id, dep.anchor_registry)
        which = f" with content {content_hash}" if content_hash else ""
        raise NotFoundError(f"no anchored version of {rid}{which} is known to this service")

    # -- verification

    def verify_hash(self, digest: str, record_hint: str | None = None) -> verify.Verdict:
        """Verdict for a content hash: an anchored record with this content, from cached chain state."""
        digest = _check_hash(digest)
        store = self.store()
        with self.guard():
            for record in reversed([r for r in store.records_by_hash(digest) if r.salt is None]):
                bundle = self._bundle(store, record)
                if bundle is not None:
                    return verify.verify_bundle(self.chain, bundle, digest, store, reader=self.reader)
            index = _index(store)
            indexed = index.leaves_by_hash(digest) if index is not None else []
            if index is not None and indexed:
                own = [x for x in indexed if x.record_id.split(":", 1)[0] == x.office]  # by the record's office
                leaf = ([x for x in indexed if x.record_id == record_hint] or own or indexed)[-1]
                dep = self.deployment
                bundle = index.bundle(leaf, dep.chain_id, dep.anchor_registry)
                return verify.verify_bundle(self.chain, bundle, digest, store, reader=self.reader)
            return verify.verify_hash(self.chain, store, digest, record_hint=record_hint)

    def verify_file(self, data: bytes, filename: str, bundle: ProofBundle | None = None) -> verify.Verdict:
        """Verdict for an uploaded file, with its proof bundle or by its content hash."""
        if bundle is not None:
            return self.verify_bundle(bundle, data, filename)
        hashes = verify.file_hashes(data, filename)
        hint = verify.record_hint(data, filename, hashes[0][1])
        return verify.first_known(hashes, lambda d: self.verify_hash(d, hint))

    def verify_bundle(self, bundle: ProofBundle, data: bytes | None = None, filename: str = "") -> verify.Verdict:
        """Verdict for a proof bundle (and the file it speaks for, if given)."""
        mismatch = self._foreign_registry(bundle)
        if mismatch is not None:
            return mismatch
        store = self.store()
        with self.guard():
            if data is not None:
                return verify.verify_file(self.chain, store, data, filename, bundle)
            return verify.verify_bundle(self.chain, bundle, None, store, reader=self.reader)

    def _foreign_registry(self, bundle: ProofBundle) -> verify.Verdict | None:
        """UNKNOWN if the bundle names another registry than this service's; else None."""
        dep = self.deployment
        if bundle.registry.lower() != dep.anchor_registry.lower():
            value = bundle.value
            return verify.Verdict(
                verify.UNKNOWN,
                f"the bundle names registry {bundle.registry}; this service serves"
                f" {dep.anchor_registry} on chain {dep.chain_id}: verify it against its own chain",
                office=bundle.office,
                record_id=value.record_id if value.canonicalization != SEALED else None,
                content_hash=value.content_hash,
                root=bundle.root,
            )
        return None

    # -- office writes

    def submit(self, office: str, prepared: PreparedRecord, sealed: bool = False) -> Submission:
        """Accept one record into the outbox (idempotent; a new content of a known id is a new version);
        ``sealed``: only a salted commitment is anchored, until the office reveals it."""
        account = self.signer(office)  # refuse before storing anything if this instance cannot anchor it
        store = self.store()
        with self._lock(self._submit_locks, office):
            anchorer = self._anchorer(store, account, office)
            result = anchorer.submit([prepared], sealed=sealed)
        record = store.record_by_key(str(prepared.record_id), prepared.content_hash)
        if record is None:
            raise InputError(f"{prepared.record_id} with content {prepared.content_hash} was not stored")
        batch = store.batch(record.batch_id) if record.batch_id is not None else None
        return Submission(record, result.accepted > 0, result.new_versions > 0, batch)

    def reveal(self, office: str, record_id: str, content_hash: str | None = None) -> ProofBundle:
        """The revealing bundle of a sealed record of ``office`` (its salt opened); 403 for another office's."""
        rid = RecordId.parse(record_id)
        if rid.office != office:
            raise ForbiddenError(f"office {office} cannot reveal a record of office {rid.office}")
        if content_hash is not None:
            content_hash = _check_hash(content_hash)
        store = self.store()
        sealed = [r for r in store.versions(str(rid)) if r.salt is not None]
        sealed = [r for r in sealed if content_hash is None or r.content_hash == content_hash]
        if not sealed:
            which = f" with content {content_hash}" if content_hash else ""
            raise NotFoundError(f"no sealed record {rid}{which} of office {office} here")
        newest = sealed[-1]
        if newest.batch_id is None or store.batch(newest.batch_id).status != "anchored":
            raise NotAnchoredYetError(f"sealed record {rid} is not anchored yet: trigger or wait for its batch")
        with self.guard():
            return reveal_bundle(store, self.chain, str(rid), content_hash)

    def revoke(
        self,
        office: str,
        reason: int,
        root: str | None = None,
        record_id: str | None = None,
        content_hash: str | None = None,
    ) -> Revocation:
        """Revoke ``office``'s batch ``root``, or one anchored version of its record ``record_id``, signed
        with the office's key. 403 for a record of another office; 404 if the office anchored no such
        batch or no such record is known here (outbox or index); 409 if already revoked."""
        rid: RecordId | None = None
        if record_id is not None:
            rid = RecordId.parse(record_id)
            if rid.office != office:
                raise ForbiddenError(f"office {office} cannot revoke a record of office {rid.office}")
        if content_hash is not None:
            content_hash = _check_hash(content_hash)
        account = self.signer(office)
        store = self.store()
        bundle: ProofBundle | None = None
        if rid is not None:
            with self.guard():
                bundle = verify.bundle_for_record(self.chain, store, str(rid), content_hash)
            if bundle is None or bundle.office != office:
                which = f" with content {content_hash}" if content_hash else ""
                raise NotFoundError(f"no anchored version of {rid}{which} is known here")
            root = bundle.root
        else:
            root = _check_root(root or "")
            with self.guard():
                if self.chain.batch_of(office, root) is None:  # batches are (office, root): only its own
                    raise NotFoundError(f"office {office} anchored no batch with root {root}")
        lock = self._lock(self._batch_locks, office)  # one transaction of the office's key at a time
        timeout = self.options.batch_wait_seconds
        if not (lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)):
            raise BatchInProgressError(f"a batch of {office} is being anchored; try again when it is done")
        try:
            with self.guard():
                raw_root = bytes.fromhex(root[2:])
                if bundle is not None:
                    proof = [bytes.fromhex(p[2:]) for p in bundle.proof]
                    result = self.chain.revoke_leaf(account, raw_root, bundle.value.encode(), proof, reason)
                else:
                    result = self.chain.revoke_batch(account, raw_root, reason)
        finally:
            lock.release()
        self.reader.clear()
        leaf = "0x" + bundle.value.leaf().hex() if bundle is not None else None
        return Revocation(
            office, root, str(rid) if rid else None, leaf, reason, result.transaction_hash, result.block_number
        )

    def pending(self, office: str, limit: int) -> tuple[int, list[StoredRecord], list[StoredBatch]]:
        """(count, oldest pending records, unfinished batches) of an office."""
        store = self.store()
        return store.pending_count(office), store.pending(office, limit), store.unfinished_batches(office)

    def _anchorer(self, store: Store, account: LocalAccount, office: str) -> Anchorer:
        return Anchorer(
            store,
            self.chain,
            account,
            office,
            self.settings.home / "manifests",
            self.options.manifest_base,
            self.settings.batch_size,
            self.settings.confirmations,
        )

    def anchor_pending(self, office: str, wait: float | None = None) -> RunResult:
        """Batch and anchor the office's pending records now; never two batches of one office at once."""
        account = self.signer(office)
        lock = self._lock(self._batch_locks, office)
        timeout = self.options.batch_wait_seconds if wait is None else wait
        acquired = lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)
        if not acquired:
            raise BatchInProgressError(f"a batch of {office} is being anchored; try again when it is done")
        try:
            store = self.store()
            with self.guard():
                result = self._anchorer(store, account, office).run()
            if result.batches:
                self.reader.clear()
            return result
        finally:
            lock.release()

    # -- health

    def health(self) -> Health:
        """Chain reachable? Latest block, pending records, the last block the index holds."""
        pending: int | None
        indexed: int | None = None
        try:
            store = self.store()
            pending = store.pending_count()
            index = _index(store)
            indexed = index.cursor() if index is not None else None
        except (RegistryError, sqlite3.Error):
            pending = None
        try:
            chain = self.chain
            with self.guard():
                block = int(chain.w3.eth.block_number)
                chain_id = self.reader.chain_id()
            return Health(True, chain_id, block, pending, self.deployment.anchor_registry, indexed_block=indexed)
        except RegistryError as exc:
            log.warning("health: %s", exc.diagnostics())
            return Health(False, None, None, pending, None, public_message(exc), indexed)
        except Exception as exc:
            return Health(False, None, None, pending, None, f"chain node not reachable: {type(exc).__name__}", indexed)

    # -- published manifests

    def manifest_path(self, office: str, name: str) -> Path:
        """The file of a batch manifest this instance published (``<OFFICE>/<root>.json``).

        Only a two-letter ST.3 code and ``0x`` + 64 hex digits + ``.json`` are accepted, so the path
        never leaves ``$IPREG_HOME/manifests``; 404 if there is no such manifest.
        """
        found = _MANIFEST_NAME.fullmatch(name)
        if not _MANIFEST_OFFICE.fullmatch(office) or not is_st3(office.upper()) or found is None:
            raise NotFoundError(f"no manifest {office[:8]}/{name[:80]} (expected OFFICE/0x<64 hex digits>.json)")
        base = (self.settings.home / "manifests").resolve()
        path = base / office.upper() / f"{found.group(1).lower()}.json"
        if not path.is_file() or not path.resolve().is_relative_to(base):
            raise NotFoundError(f"no manifest of batch {found.group(1).lower()} of office {office.upper()} here")
        return path

    # -- background batches and index

    def start_loop(self) -> None:
        """Start the background loops: batches if ``batch_interval`` is set, the index unless it is 0."""
        interval = self.options.batch_interval
        if interval is not None and self._loop.thread is None:
            self._loop.stop.clear()
            self._loop.thread = threading.Thread(
                target=self._run_loop, args=(interval,), name="ipreg-batches", daemon=True
            )
            self._loop.thread.start()
        if self.options.index_interval > 0 and self._index_loop.thread is None and not self._embedded():
            self._index_loop.stop.clear()
            self._index_loop.thread = threading.Thread(
                target=self._run_index_loop, args=(self.options.index_interval,), name="ipreg-index", daemon=True
            )
            self._index_loop.thread.start()

    def stop_loop(self) -> None:
        """Stop the loops and wait for a running batch (and index pass) to finish."""
        self._loop.stop.set()
        self._index_loop.stop.set()
        thread = self._loop.thread
        if thread is not None:
            thread.join(timeout=self.options.batch_wait_seconds)
            self._loop.thread = None
        thread = self._index_loop.thread
        if thread is not None:
            thread.join(timeout=30.0)
            self._index_loop.thread = None

    def _run_loop(self, interval: float) -> None:
        while not self._loop.stop.wait(interval):
            self.anchor_due()

    def _open_indexer(self) -> Indexer:
        # file:// manifests stay off: a URI anchored by any office must not make this server read its
        # own disk (this instance's own batches are in its outbox anyway).
        return Indexer(self.settings.store_file, self.chain, self.settings.confirmations, allow_file_manifests=False)

    def sync_index(self, indexer: Indexer | None = None) -> SyncResult:
        """One pass of the index loop: new confirmed events, then pending manifests (from their offices)."""
        own = indexer is None
        indexer = indexer or self._open_indexer()
        try:
            with self.guard():
                result = indexer.sync()
        finally:
            if own:
                indexer.close()
        if result.batches or result.events:
            self.reader.clear()
        for root, error in result.manifest_failures:
            log.warning("index: manifest of batch %s not indexed yet (retried later): %s", root, error)
        if result.events or result.manifests_indexed:
            log.info(
                "index: blocks %d..%d, %d event(s), %d manifest(s) with %d record(s)",
                result.from_block,
                result.to_block,
                result.events,
                result.manifests_indexed,
                result.leaves,
            )
        return result

    def _run_index_loop(self, interval: float) -> None:
        """Index every ``interval`` s; a failure is logged once and retried with a growing wait."""
        indexer: Indexer | None = None
        last_problem: str | None = None
        wait = 0.0
        try:
            while not self._index_loop.stop.wait(wait):
                try:
                    if indexer is None:
                        indexer = self._open_indexer()
                    self.sync_index(indexer)
                except Exception as exc:  # the loop must outlive any failure: log, back off, retry
                    problem = exc.diagnostics() if isinstance(exc, RegistryError) else f"{type(exc).__name__}: {exc}"
                    self._index_failures += 1
                    if problem != last_problem:
                        log.warning("index loop: %s (retrying)", problem)
                    last_problem = problem
                    if indexer is not None and not isinstance(exc, RegistryError):
                        with suppress(Exception):
                            indexer.close()
                        indexer = None
                    wait = max(interval, min(INDEX_MAX_BACKOFF, interval * 2 ** min(self._index_failures, 10)))
                    continue
                if last_problem is not None:
                    log.info("index loop: working again")
                last_problem = None
                self._index_failures = 0
                wait = interval
        finally:
            if indexer is not None:
                with suppress(Exception):
                    indexer.close()

    def anchor_due(self) -> dict[str, int]:
        """One pass of the loop: anchor every served office with pending work; return records anchored."""
        done: dict[str, int] = {}
        try:
            offices = self.store().offices_with_work()
        except RegistryError as exc:
            log.warning("batch loop: %s", exc.diagnostics())
            return done
        for office in offices:
            if self.options.offices is not None and office not in self.options.offices:
                continue
            try:
                done[office] = self.anchor_pending(office, wait=0).records
            except BatchInProgressError:
                continue
            except RegistryError as exc:
                log.warning("batch loop, office %s: %s", office, exc.diagnostics())
            except Exception:
                log.exception("batch loop, office %s", office)
        return done


def hash_upload(data: bytes, filename: str, method: str | None) -> tuple[str, str, str | None]:
    """(content hash, canonicalization, record id hint) of an upload; runs in a worker process."""
    digest, used = verify.file_hash(data, filename, method)
    return digest, used, verify.record_hint(data, filename, used)


def _index_batch_view(ib: IndexedBatch) -> BatchView:
    """A batch only the index knows (anchored by another office or instance)."""
    return BatchView(
        ib.root,
        ib.office,
        ib.leaf_count,
        "anchored",
        ib.manifest_uri,
        ib.signer,
        ib.tx_hash,
        ib.block_number,
        ib.anchored_at,
        None,
        ib.revocation_reason,
        ib.manifest_error,
    )


def _index(store: Store) -> Index | None:
    """The indexer's read model in this store file, or None."""
    return Index.of(store.db)


def _check_hash(value: str) -> str:
    text = value.strip().lower()
    if len(text) != 66 or not text.startswith("0x") or any(c not in "0123456789abcdef" for c in text[2:]):
        raise InputError(f"invalid content hash {value[:80]!r} (0x followed by 64 hex digits)")
    return text


def _check_root(value: str) -> str:
    text = value.strip().lower()
    if len(text) != 66 or not text.startswith("0x") or any(c not in "0123456789abcdef" for c in text[2:]):
        raise InputError(f"invalid batch root {value[:80]!r} (0x followed by 64 hex digits)")
    return text


def check_hash(value: str) -> str:
    """A content hash normalised to lowercase; InputError (400) if malformed."""
    return _check_hash(value)
