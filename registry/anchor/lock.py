"""The office lock: one anchoring run per office and store at a time (cron, CLI and service alike)."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from registry.errors import InputError


@contextmanager
def office_lock(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive advisory lock on ``path``; InputError if another process holds it past ``timeout``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise InputError(f"another anchoring run holds {path}; try again when it has finished") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
