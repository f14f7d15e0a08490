"""The monitor as a background loop of ``ipreg serve``, configured from the environment.

``IPREG_MONITOR_OFFICES`` (comma list of office codes, and/or ``all`` for the witness) turns it on;
``IPREG_MONITOR_INTERVAL`` (seconds, default 15), ``IPREG_MONITOR_WEBHOOK`` with
``IPREG_MONITOR_WEBHOOK_SECRET_FILE`` post findings (through the outbound policy). Findings go to the
findings log in the home and to the service's log (one line each); the loop has its own store connection
and outlives any failure (logged once, retried).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from registry.chain.client import Chain
from registry.config import Settings, env_number, env_text
from registry.core.st3 import is_st3
from registry.errors import ConfigError
from registry.indexer.fetch import FetchPolicy
from registry.monitor.follow import Monitor, follow
from registry.monitor.rules import Watch
from registry.monitor.webhook import Webhook, read_secret
from registry.store.outbox import Store

#: Default seconds between two passes of the service's monitor.
DEFAULT_INTERVAL = 15.0

log = logging.getLogger("registry.monitor")


@dataclass(frozen=True, slots=True)
class LoopOptions:
    """What the service's monitor watches, how often, and where it posts."""

    watches: tuple[Watch, ...]
    interval: float = DEFAULT_INTERVAL
    webhook: Webhook | None = None

    @classmethod
    def from_env(cls) -> LoopOptions | None:
        """The options of ``IPREG_MONITOR_*``, or None when ``IPREG_MONITOR_OFFICES`` is unset (loop off)."""
        offices = env_text("IPREG_MONITOR_OFFICES")
        if not offices:
            return None
        watches: list[Watch] = []
        for item in (o.strip() for o in offices.split(",") if o.strip()):
            if item.lower() == "all":
                watches.append(Watch(None))
            elif is_st3(item.upper()):
                watches.append(Watch(item.upper()))
            else:
                raise ConfigError(f"IPREG_MONITOR_OFFICES: unknown WIPO ST.3 office code {item!r}")
        interval = env_number("IPREG_MONITOR_INTERVAL")
        if interval is not None and not interval > 0:
            raise ConfigError("IPREG_MONITOR_INTERVAL must be positive seconds")
        url = env_text("IPREG_MONITOR_WEBHOOK")
        webhook = None
        if url:
            secret_file = env_text("IPREG_MONITOR_WEBHOOK_SECRET_FILE")
            if not secret_file:
                raise ConfigError("IPREG_MONITOR_WEBHOOK needs IPREG_MONITOR_WEBHOOK_SECRET_FILE")
            webhook = Webhook(url, read_secret(Path(secret_file)), FetchPolicy.from_env())
        return cls(tuple(watches), interval or DEFAULT_INTERVAL, webhook)


class MonitorLoop:
    """The monitor on a daemon thread; :meth:`stop` ends it after the running pass."""

    def __init__(self, settings: Settings, chain: Chain, options: LoopOptions) -> None:
        self.settings = settings
        self.chain = chain
        self.options = options
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ipreg-monitor", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop and wait for the running pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        store = Store(self.settings.store_file)
        try:
            monitors = [
                Monitor(self.chain, store, self.settings, w, webhook=self.options.webhook, emit=_log_finding)
                for w in self.options.watches
            ]
            follow(monitors, self.options.interval, self._stop, on_error=lambda p: log.warning("monitor: %s", p))
        except Exception:  # the service must outlive its monitor: say so once
            log.exception("monitor loop stopped")
        finally:
            store.close()


def _log_finding(line: str) -> None:
    log.warning("monitor finding: %s", line)
