"""Run the local anvil node from ``local-chain/`` with its state kept across down/up.

One job: start, stop and inspect a detached ``anvil`` process whose chain state lives in a
directory (``state.json``, ``anvil.pid``, ``anvil.log``). Anvil loads ``state.json`` at start,
dumps it every second and again when it exits on SIGTERM, so blocks, transactions, receipts,
logs and balances survive a restart. Talks to the node with plain JSON-RPC over HTTP
(``urllib``), not web3, to stay light.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from registry.config import env_text
from registry.errors import ConfigError, NodeUnavailableError

#: Chain id of the local node (anvil's default, kept explicit).
CHAIN_ID = 31337
#: EVM hardfork of the local node.
HARDFORK = "prague"
#: Anvil's public development mnemonic (its default, kept explicit).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: Seconds between anvil's periodic state dumps.
STATE_INTERVAL = 1
#: ``<repo>/local-chain``, where ``npm ci`` installs the pinned anvil.
LOCAL_CHAIN_DIR = Path(__file__).resolve().parents[2] / "local-chain"

STATE_FILE = "state.json"
PID_FILE = "anvil.pid"
LOG_FILE = "anvil.log"
LOCK_FILE = "anvil.lock"

# Never send requests for the local node through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _platform_package() -> str:
    """Name of the npm package holding the anvil binary for this platform, e.g. ``anvil-linux-amd64``."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = "win32" if sys.platform.startswith("win") else sys.platform
    return f"anvil-{system}-{arch}"


def find_anvil() -> Path:
    """The anvil binary: ``$IPREG_ANVIL``, else the one ``npm ci`` put in ``local-chain/``, else ``PATH``."""
    env = env_text("IPREG_ANVIL")
    if env:
        path = Path(env).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ConfigError(f"IPREG_ANVIL={env} is not an executable file")
    exe = "anvil.exe" if sys.platform.startswith("win") else "anvil"
    local = LOCAL_CHAIN_DIR / "node_modules" / "@foundry-rs" / _platform_package() / "bin" / exe
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ConfigError(f"anvil not found: run `npm ci` in {LOCAL_CHAIN_DIR} (or set IPREG_ANVIL)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_of(rpc_url: str) -> int:
    """The TCP port of an ``http(s)://`` RPC URL (80/443 when the URL names none)."""
    parts = urlsplit(rpc_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"RPC URL {rpc_url!r} is not an http(s):// URL")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"RPC URL {rpc_url!r} has an invalid port") from None
    if port is None:
        return 443 if parts.scheme == "https" else 80
    return port


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """One JSON-RPC call; raises :class:`NodeUnavailableError` if there is no valid answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError) as exc:  # URLError, timeouts, resets, bad JSON
        raise NodeUnavailableError(f"{url}: {method} failed: {exc}") from None
    if not isinstance(answer, dict) or "result" not in answer:
        raise NodeUnavailableError(f"{url}: {method} answered {answer!r}")
    return answer["result"]


def _port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (zombie children of ours are reaped and count as dead)."""
    wnohang = getattr(os, "WNOHANG", None)
    if wnohang is not None:
        with contextlib.suppress(ChildProcessError, OSError):
            done, _ = os.waitpid(pid, wnohang)
            if done == pid:
                return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _is_anvil(pid: int) -> bool:
    """Whether ``pid`` runs anvil (guards against a recycled pid); true where /proc is missing."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.is_dir():
        return True
    try:
        argv0 = cmdline.read_bytes().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return False
    return Path(argv0).name.startswith("anvil")


class _Detached(subprocess.Popen[bytes]):
    """A child meant to outlive its Popen object: no "still running" warning when collected.

    Its exit status is reaped by :func:`_pid_alive` (``waitpid``) when a stop or status looks.
    """

    def __del__(self) -> None:
        """Outliving this object is the point of a detached node."""


class LocalChain:
    """A detached anvil node whose state lives in ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        block_time: float | None = None,
        chain_id: int = CHAIN_ID,
        hardfork: str = HARDFORK,
    ):
        """Describe the node; nothing starts until :meth:`start`.

        ``block_time`` of None mines one block per transaction (automine); a number mines on
        that interval in seconds. ``chain_id`` and ``hardfork`` other than 31337 / prague stand in
        for a consortium chain (e.g. the Besu network's London EVM).
        """
        self.chain_id = chain_id
        self.hardfork = hardfork
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.port = port
        self.host = host
        self.block_time = block_time
        self._proc: _Detached | None = None

    # ------------------------------------------------------------------ paths and helpers

    @property
    def rpc_url(self) -> str:
        """HTTP JSON-RPC endpoint of the node."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def state_file(self) -> Path:
        """Chain state anvil loads at start and dumps periodically and at exit."""
        return self.state_dir / STATE_FILE

    @property
    def pid_file(self) -> Path:
        """Process id of the running anvil."""
        return self.state_dir / PID_FILE

    @property
    def log_file(self) -> Path:
        """Anvil's stdout and stderr (the previous run's is kept as ``anvil.log.1``)."""
        return self.state_dir / LOG_FILE

    def command(self) -> list[str]:
        """The anvil command line."""
        cmd = [
            str(find_anvil()),
            "--hardfork", self.hardfork,
            "--host", self.host,
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--mnemonic", DEV_MNEMONIC,
            "--state", str(self.state_file),
            "--state-interval", str(STATE_INTERVAL),
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", f"{self.block_time:g}"]
        return cmd

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _alive_pid(self) -> int | None:
        """The pid from ``anvil.pid`` if that process is a live anvil; a stale pid file is removed."""
        pid = self._read_pid()
        if pid is None:
            return None
        if self._proc is not None and self._proc.pid == pid:
            alive = self._proc.poll() is None
        else:
            alive = _pid_alive(pid) and _is_anvil(pid)
        if not alive:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def _answers(self) -> bool:
        """Whether the node answers ``eth_chainId`` with the local chain id."""
        try:
            return int(rpc_call(self.rpc_url, "eth_chainId", timeout=1.0), 16) == self.chain_id
        except (NodeUnavailableError, TypeError, ValueError):
            return False

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise start/stop on this state directory across processes (where fcntl exists)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        with (self.state_dir / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _log_tail(self) -> str:
        """Last meaningful line anvil wrote, for error messages."""
        try:
            lines = [line.strip() for line in self.log_file.read_text(errors="replace").splitlines()]
        except OSError:
            return ""
        lines = [line for line in lines if line and not line.startswith("For more information")]
        return lines[-1] if lines else ""

    # ------------------------------------------------------------------ public API

    def is_running(self) -> bool:
        """Whether the anvil of this state directory is alive and answering on its port."""
        return self._alive_pid() is not None and self._answers()

    def start(self, timeout: float = 20) -> None:
        """Start anvil detached and wait until it answers; a no-op if it already runs.

        Raises :class:`ConfigError` if the port is taken by another process or anvil exits
        at start (bad state file, bad flags), :class:`NodeUnavailableError` if it does not
        answer within ``timeout`` seconds.
        """
        with self._lock():
            pid = self._alive_pid()
            if pid is not None:
                deadline = time.monotonic() + min(timeout, 5.0)
                while time.monotonic() < deadline:
                    if self._answers():
                        return
                    time.sleep(0.1)
                raise ConfigError(
                    f"anvil (pid {pid}) of {self.state_dir} runs but does not answer on {self.rpc_url}; "
                    "stop it first (ipreg chain down)"
                )
            if _port_open(self.host, self.port):
                raise ConfigError(f"port {self.port} on {self.host} is already in use by another process")
            self._spawn(timeout)

    def _spawn(self, timeout: float) -> None:
        """Launch anvil, record its pid and wait for ``eth_chainId``."""
        cmd = self.command()
        if self.log_file.exists():
            os.replace(self.log_file, self.log_file.with_name(LOG_FILE + ".1"))
        # Anvil rewrites state.json in place (not atomically) every second: keep the last state
        # it accepted as state.json.bak, promoted only once this start succeeds.
        pending = self.state_file.with_name(STATE_FILE + ".pending")
        if self.state_file.exists():
            shutil.copyfile(self.state_file, pending)
        with self.log_file.open("wb") as log:
            proc = _Detached(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=True,
            )
        self._proc = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                pending.unlink(missing_ok=True)
                backup = self.state_file.with_name(STATE_FILE + ".bak")
                hint = f" (last good state: {backup})" if backup.exists() else ""
                reason = self._log_tail() or f"see {self.log_file}"
                raise ConfigError(f"anvil exited at start (code {proc.returncode}): {reason}{hint}")
            if self._answers():
                break
            if time.monotonic() > deadline:
                self._terminate(proc.pid, 5.0)
                self.pid_file.unlink(missing_ok=True)
                pending.unlink(missing_ok=True)
                raise NodeUnavailableError(
                    f"anvil did not answer on {self.rpc_url} within {timeout:g}s (see {self.log_file})"
                )
            time.sleep(0.05)
        if pending.exists():
            os.replace(pending, self.state_file.with_name(STATE_FILE + ".bak"))

    def _wait_dead(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _pid_alive(pid):
                return True
            time.sleep(0.05)
        return False

    def _terminate(self, pid: int, timeout: float) -> None:
        """SIGTERM (anvil dumps its state and exits), then SIGKILL after ``timeout`` seconds."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_dead(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            self._wait_dead(pid, 5.0)

    def stop(self, timeout: float = 10) -> bool:
        """Stop anvil, letting it dump its state; False if it was not running."""
        with self._lock():
            pid = self._alive_pid()
            if pid is None:
                return False
            self._terminate(pid, timeout)
            self.pid_file.unlink(missing_ok=True)
            self._proc = None
            return True

    def status(self) -> dict[str, Any]:
        """``running``, ``pid``, ``host``, ``port``, ``rpc_url``, ``chain_id``, ``block_number``, files."""
        pid = self._alive_pid()
        chain_id: int | None = None
        block: int | None = None
        if pid is not None:
            try:
                chain_id = int(rpc_call(self.rpc_url, "eth_chainId"), 16)
                block = int(rpc_call(self.rpc_url, "eth_blockNumber"), 16)
            except (NodeUnavailableError, TypeError, ValueError):
                chain_id = block = None
        return {
            "running": pid is not None and chain_id == self.chain_id,
            "pid": pid,
            "host": self.host,
            "port": self.port,
            "rpc_url": self.rpc_url,
            "chain_id": chain_id,
            "block_number": block,
            "state_file": str(self.state_file),
            "log_file": str(self.log_file),
        }
