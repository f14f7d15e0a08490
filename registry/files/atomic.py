"""The one atomic writer: readers see the old file or the new one, never half of it, across a crash.

The new bytes go to a temporary file beside the target (same folder, so the rename stays on one file
system), are flushed and fsynced, renamed over the target, and the folder is fsynced so the rename
itself survives a power cut. A failure part-way leaves the old file (or none) and no temporary file.
The file gets the permissions any file written by the process gets (``0o666`` less the umask), not
``mkstemp``'s ``0600``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["fsync_dir", "write_atomic", "write_json_atomic"]


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, created ``0o666`` so the kernel applies the umask.

    (Never ``os.umask`` read-and-restore: that changes the mask of every thread for a moment.)
    """
    while True:
        tmp = str(path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp"))
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue


def fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` (a rename into it) durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(
    path: Path, data: bytes | Callable[[IO[bytes]], None], *, mode: int | None = None, exclusive: bool = False
) -> None:
    """Write ``data`` (bytes, or a function that writes to a binary handle) to ``path`` atomically and durably.

    ``mode`` sets the file's permission bits (default: ``0o666`` less the umask). ``exclusive`` never
    replaces an existing file (FileExistsError; the new file is linked into place, not renamed over).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary(path)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                data(out)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, body: Any, compact: bool = False) -> None:
    """Write ``body`` as JSON (indented, or one line with ``compact``) through :func:`write_atomic`."""
    text = json.dumps(body, indent=None if compact else 2) + "\n"
    write_atomic(path, text.encode("utf-8"))
