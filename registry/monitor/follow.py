"""Following the chain for one watch: from a stored cursor, confirmed blocks only, every finding delivered once.

One pass reads the blocks from the cursor to ``latest - confirmations + 1`` in ranges; each range's findings
and the cursor move are one store transaction, so a killed monitor resumes where it stopped. Each pass
first reads again the last ``confirmations`` blocks below the cursor (more after a reorganisation below it:
:data:`REORG_RESCAN`); findings are deduplicated by (transaction, the log's position in it, kind), so a
re-read finds nothing twice. Delivery follows the commit: the log file in the home (appended, synced),
stdout (the ``emit`` callback), then the webhook; a finding is marked delivered after it is written, so
a crash between the two repeats that one finding on restart, never loses it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from registry.chain.client import Chain
from registry.config import Settings
from registry.errors import ConfigError, RegistryError
from registry.monitor.events import BLOCK_STEP, EventReader
from registry.monitor.findings import Finding
from registry.monitor.keys import held_keys
from registry.monitor.rules import Judge, Watch
from registry.monitor.webhook import Webhook
from registry.store.monitor import MonitorLog
from registry.store.outbox import Store

#: Blocks read again below the cursor when the cursor's block is no longer on the chain.
REORG_RESCAN: Final = 128
#: The findings log in the home (one JSON line per finding, every watch).
LOG_NAME: Final = "monitor-findings.jsonl"

log = logging.getLogger("registry.monitor")


@dataclass(slots=True)
class PassResult:
    """What one pass read and delivered."""

    watch: str
    from_block: int
    to_block: int
    transactions: int = 0
    new_findings: int = 0
    delivered: list[str] = field(default_factory=list)
    webhook_failures: int = 0
    reorganised: bool = False

    def to_json(self) -> dict[str, object]:
        """lowerCamelCase summary."""
        return {
            "watch": self.watch,
            "fromBlock": self.from_block,
            "toBlock": self.to_block,
            "transactions": self.transactions,
            "findings": len(self.delivered),
            "webhookFailures": self.webhook_failures,
            "reorganised": self.reorganised,
        }


def log_path(settings: Settings) -> Path:
    """The findings log of this home."""
    return settings.home / LOG_NAME


class Monitor:
    """One watch (an office's name, or every office) over one store and one chain."""

    def __init__(
        self,
        chain: Chain,
        store: Store,
        settings: Settings,
        watch: Watch,
        *,
        confirmations: int | None = None,
        webhook: Webhook | None = None,
        emit: Callable[[str], None] | None = None,
        step: int = BLOCK_STEP,
    ) -> None:
        if chain.deployment is None:
            raise ConfigError("no deployment: run `ipreg deploy` first")
        self.chain = chain
        self.store = store
        self.settings = settings
        self.watch = watch
        self.confirmations = max(1, settings.confirmations if confirmations is None else confirmations)
        self.webhook = webhook
        self.emit = emit
        self.step = max(1, step)
        self.reader = EventReader(chain)
        self.log = MonitorLog(store.db)
        held = held_keys(settings, watch.office, chain.deployment) if watch.office else frozenset()
        self.judge = Judge(chain, self.log, store, watch, held)
        self.start = chain.deployment.block_number
        #: Cursor and findings are per watch and per deployment (a store keeps them apart if it ever sees two).
        self.key = f"{watch.name}@{chain.deployment.anchor_registry.lower()}"

    def first_block(self, from_block: int | None = None) -> tuple[int, bool]:
        """Where this pass starts (and whether the cursor's block was reorganised away)."""
        if from_block is not None:
            return from_block, False
        cursor = self.log.cursor(self.key)
        if cursor is None:
            return self.start, False
        number, known = cursor
        if self.reader.block_hash(number) != known:
            log.warning("monitor %s: block %d changed (reorganisation): reading again", self.watch.name, number)
            return max(self.start, number - REORG_RESCAN), True
        return max(self.start, number + 1 - self.confirmations), False

    def pass_once(self, from_block: int | None = None, crash_after: int | None = None) -> PassResult:
        """Read every confirmed block from the cursor, log new findings, deliver them; resumable.

        ``crash_after`` (tests) raises after that many committed ranges, as a killed process would stop.
        """
        first, reorganised = self.first_block(from_block)
        target = self.reader.head() - self.confirmations + 1
        result = PassResult(self.watch.name, first, max(first - 1, target), reorganised=reorganised)
        self.deliver(result)  # what a killed run logged but did not deliver
        lo, ranges = first, 0
        while lo <= target:
            hi = min(lo + self.step - 1, target)
            txs, hi_hash = self.reader.read(lo, hi, self.judge.wants)
            self.judge.prepare(txs)
            with self.log.transaction():
                for tx in txs:
                    for finding in self.judge.judge(tx):
                        result.new_findings += self._add(finding)
                self.log.set_cursor(self.key, hi, hi_hash)
            result.transactions += len(txs)
            ranges += 1
            if crash_after is not None and ranges >= crash_after:
                raise KeyboardInterrupt("stopped for a test")
            self.deliver(result)
            lo = hi + 1
        return result

    def _add(self, finding: Finding) -> int:
        return int(
            self.log.add_finding(
                self.key, finding.transaction, finding.position, finding.kind, finding.block, finding.line()
            )
        )

    def deliver(self, result: PassResult) -> None:
        """Write logged findings not yet delivered: log file, stdout, then the webhook."""
        pending = self.log.unreported(self.key)
        if pending:
            _append(log_path(self.settings), [p.body for p in pending])
            for p in pending:
                if self.emit is not None:
                    self.emit(p.body)
                result.delivered.append(p.body)
            with self.log.transaction():
                self.log.mark_reported([p.id for p in pending])
        unsent = self.log.unsent(self.key)
        if not unsent:
            return
        if self.webhook is None:
            with self.log.transaction():
                self.log.mark_sent([p.id for p in unsent])
            return
        for p in unsent:
            try:
                self.webhook.post(p.body.encode("utf-8"))
            except RegistryError as exc:
                result.webhook_failures += 1
                log.warning("monitor webhook: %s (retried next pass)", exc.diagnostics())
                return
            with self.log.transaction():
                self.log.mark_sent([p.id])


def _append(path: Path, lines: Sequence[str]) -> None:
    """Append lines to the findings log and sync them to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def follow(
    monitors: Sequence[Monitor],
    interval: float,
    stop: threading.Event,
    on_pass: Callable[[PassResult], None] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> None:
    """Run passes of every monitor every ``interval`` s until ``stop`` is set; failures are reported and retried."""
    wait = 0.0
    last: str | None = None
    while not stop.wait(wait):
        try:
            for monitor in monitors:
                result = monitor.pass_once()
                if on_pass is not None:
                    on_pass(result)
        except Exception as exc:  # a long-running monitor outlives any failure: say it once, retry later
            problem = exc.diagnostics() if isinstance(exc, RegistryError) else f"{type(exc).__name__}: {exc}"[:300]
            if problem != last and on_error is not None:
                on_error(problem)
            last = problem
            wait = min(60.0, max(interval, wait * 2 or interval))
            continue
        last = None
        wait = interval
