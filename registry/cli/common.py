"""Shared plumbing of the CLI commands: settings, chain, store, output. No registry logic."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from registry.config import Settings

if TYPE_CHECKING:  # web3 (via chain) and rich are imported on first use, not when the CLI starts
    from rich.console import Console

    from registry.chain.client import Chain
    from registry.store.outbox import Store

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
RpcOption = Annotated[str | None, typer.Option("--rpc-url", help="JSON-RPC endpoint (default $IPREG_RPC_URL).")]
HomeOption = Annotated[Path | None, typer.Option("--home", help="Data directory (default $IPREG_HOME or ~/.ipreg).")]


class _LazyConsole:
    """The rich console on stderr, created (and rich imported) on first use."""

    _console: Console | None = None

    def get(self) -> Console:
        """The console itself."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """``Console.print`` on stderr."""
        self.get().print(*objects, **kwargs)


console = _LazyConsole()


def settings(home: Path | None = None, **overrides: Any) -> Settings:
    """Settings with CLI overrides."""
    return Settings.load(home=home, **overrides)


def open_chain(s: Settings, need_deployment: bool = True) -> Chain:
    """Connected client bound to the recorded deployment."""
    from registry.chain.client import Chain, connect
    from registry.chain.deployments import Deployment

    w3 = connect(s.rpc_url)
    if not need_deployment:
        return Chain(w3, retries=s.rpc_retries)
    chain = Chain(w3, Deployment.load(s.deployment_file), retries=s.rpc_retries)
    chain.check_code()
    return chain


def open_store(s: Settings) -> Store:
    """The local store."""
    from registry.store.outbox import Store

    return Store(s.store_file)


def emit_json(body: Any) -> None:
    """JSON on stdout."""
    sys.stdout.write(json.dumps(body, indent=2) + "\n")


def make_progress(target: Any) -> Any:
    """The progress display: one line that never wraps (columns shrink or are cut with an ellipsis)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Column

    def text(fmt: str, width: int | None = None) -> TextColumn:
        return TextColumn(fmt, table_column=Column(no_wrap=True, overflow="ellipsis", max_width=width))

    columns: list[Any] = [
        text("{task.description}", 16),
        BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=6)),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
    ]
    if target.width >= 80:  # the rate only where it fits beside the counts
        columns.append(text("{task.fields[rate]}", 28))
    columns.append(TimeElapsedColumn(table_column=Column(no_wrap=True)))
    return Progress(
        *columns,
        console=target,
        transient=False,
        expand=True,
    )


@contextmanager
def progress_bar(enabled: bool, total: int, label: str) -> Iterator[Any]:
    """A rich progress bar on terminals; a no-op advance function otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _n, **_kw: None
        return
    with make_progress(console.get()) as bar:
        task = bar.add_task(label, total=total, rate="")

        def advance(n: int, **fields: Any) -> None:
            bar.update(task, advance=n, **fields)

        yield advance
