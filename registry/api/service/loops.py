"""The service's background loops: anchor pending records every ``batch_interval``, index the chain every
``index_interval`` (events of every office, then their published manifests), probe the node every
``health_interval`` (``/health`` answers from the last probe, without a thread), and the monitor when
``IPREG_MONITOR_OFFICES`` is set (:mod:`registry.monitor.loop`).

Each loop runs on its own daemon thread, outlives any failure (logged once, retried with a growing wait)
and ends when :meth:`Loops.stop_loop` is called (by ``Service.close()`` when the app shuts down).
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress

from registry.api.errors import BatchInProgressError
from registry.api.service.writes import Writes
from registry.errors import RegistryError
from registry.indexer.sync import Indexer, SyncResult
from registry.monitor.loop import LoopOptions, MonitorLoop

#: Longest wait between index passes after repeated failures (the wait doubles per failure).
INDEX_MAX_BACKOFF = 60.0

log = logging.getLogger("registry.api")


class Loops(Writes):
    """The background batch and index loops (the batch loop anchors through :meth:`Writes.anchor_pending`)."""

    _monitor: MonitorLoop | None = None

    def start_loop(self) -> None:
        """Start the background loops: batches if ``batch_interval`` is set, the index unless it is 0, health."""
        if self._health_loop.thread is None:
            self._health_loop.stop.clear()
            self._health_loop.thread = threading.Thread(
                target=self._run_health_loop, name="ipreg-health-loop", daemon=True
            )
            self._health_loop.thread.start()
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
        monitor = LoopOptions.from_env()
        if monitor is not None and self._monitor is None and not self._embedded():
            self._monitor = MonitorLoop(self.settings, self.chain, monitor)
            self._monitor.start()

    def stop_loop(self) -> None:
        """Stop the loops and wait for a running batch (and index pass) to finish."""
        self._loop.stop.set()
        self._index_loop.stop.set()
        self._health_loop.stop.set()
        self._health_loop.thread = None  # a probe stuck on a stalled node ends with its RPC timeout
        thread = self._loop.thread
        if thread is not None:
            thread.join(timeout=self.options.batch_wait_seconds)
            self._loop.thread = None
        thread = self._index_loop.thread
        if thread is not None:
            thread.join(timeout=30.0)
            self._index_loop.thread = None
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None

    # -- batches

    def _run_loop(self, interval: float) -> None:
        while not self._loop.stop.wait(interval):
            self.anchor_due()

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

    # -- health

    def _run_health_loop(self) -> None:
        """Probe the node every ``health_interval`` s; a stalled node blocks this thread only."""
        stop = self._health_loop.stop
        while not stop.is_set():
            try:
                self.probe_health()
            except Exception:  # the loop must outlive any failure
                log.exception("health loop")
            stop.wait(self.options.health_interval)

    # -- index

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
