"""What every phase of an evaluation shares: the chain, the node (when the run owns one), paths, clocks."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.chain.client import Chain, connect
from registry.evaluate.scenario import Scenario
from registry.node.anvil import LocalChain, rpc_call

#: Manifests are published (in the scenario) under this base URL; the files live in ``<work>/home/manifests``.
MANIFEST_BASE = "https://register.example.org/ipreg"
#: The cost phase's priced batches (synthetic leaves, no manifest) name URIs of the same length under this.
PRICING_BASE = "https://register.example.org/price"
Progress = Callable[[str, float], None]


def derived_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed for one part of the workload: same scenario seed and parts, same seed."""
    text = ":".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


@dataclass
class Run:
    """One evaluation in progress."""

    scenario: Scenario
    seed: int
    chain: Chain
    kind: str  # "embedded", "anvil" or "url"
    rpc_url: str
    work: Path
    node: LocalChain | None = None
    advance: Callable[[str, float], None] = lambda _phase, _fraction: None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        """IPREG_HOME of the run (deployment, manifests, the killed process's store)."""
        return self.work / "home"

    @property
    def manifest_dir(self) -> Path:
        """Where every anchorer of the run writes its manifests."""
        return self.home / "manifests"

    def rng(self, *parts: object) -> random.Random:
        """A deterministic random generator for one part of the workload."""
        return random.Random(derived_seed(self.seed, *parts))

    def new_chain(self) -> Chain:
        """A second client of the same chain (for a thread); the embedded chain has only one."""
        if self.kind == "embedded":
            return self.chain
        return Chain(connect(self.rpc_url, timeout=60), self.chain.deployment)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """A raw JSON-RPC call (debug / anvil methods); not for the embedded chain."""
        return rpc_call(self.rpc_url, method, params, timeout=30.0)

    def set_block_time(self, seconds: float | None) -> bool:
        """Interval mining at ``seconds`` (None: one block per transaction); False if the node cannot."""
        if self.kind == "embedded":
            return False
        if seconds and seconds != int(seconds):
            self.notes.append(f"block time {seconds:g} s: anvil's interval mining takes whole seconds only")
            return False
        try:
            if seconds:
                self.rpc("evm_setIntervalMining", [int(seconds)])
            else:
                self.rpc("evm_setIntervalMining", [0])
                self.rpc("evm_setAutomine", [True])
        except Exception as exc:
            self.notes.append(f"no interval mining on this node ({type(exc).__name__}); latency at its own pace")
            return False
        return True

    def mine(self) -> None:
        """One empty block (embedded chain, or a node in automine mode that supports ``evm_mine``)."""
        if self.kind == "embedded":
            self.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        else:
            self.rpc("evm_mine", [])

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Record how long a phase took."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - started, 3)


def manifest_path(run: Run, uri: str) -> Path | None:
    """The local file behind a manifest URI this run anchored, or None if it is not one of the run's."""
    if uri.startswith(MANIFEST_BASE + "/"):
        return run.manifest_dir / uri.removeprefix(MANIFEST_BASE + "/")
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return Path(unquote(urlsplit(uri).path))
    return None


def hex32(value: bytes) -> str:
    """``0x`` + 64 hex digits."""
    return "0x" + bytes(value).hex()
