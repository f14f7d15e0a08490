"""``ipreg chain``: start, stop and inspect the local anvil node (state kept across down/up).

The node listens on the port of ``IPREG_RPC_URL`` and keeps its state in
``$IPREG_HOME/chain``. Errors are :class:`~registry.errors.RegistryError` subclasses; the
main CLI prints them as one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from registry.config import EMBEDDED, Settings
from registry.errors import ConfigError
from registry.node.anvil import LocalChain, port_of

app = typer.Typer(help="The local anvil node (local-chain/), state kept across down/up.")

HomeOption = Annotated[Path | None, typer.Option("--home", help="Data directory (default $IPREG_HOME or ~/.ipreg).")]
RpcOption = Annotated[
    str | None,
    typer.Option("--rpc-url", help="Endpoint whose port anvil listens on (default $IPREG_RPC_URL)."),
]

#: RPC hosts that name this machine, and the address anvil listens on for each.
_LOCAL_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}


def local_chain(settings: Settings | None = None) -> LocalChain:
    """The :class:`LocalChain` that ``settings.rpc_url`` points at, state in ``settings.chain_dir``."""
    settings = settings or Settings.load()
    if settings.rpc_url == EMBEDDED:
        raise ConfigError("rpc_url is 'embedded' (in-process EVM); set IPREG_RPC_URL=http://127.0.0.1:8545 for anvil")
    port = port_of(settings.rpc_url)
    parts = urlsplit(settings.rpc_url)
    host = _LOCAL_HOSTS.get(parts.hostname or "")
    if host is None or parts.scheme != "http":
        raise ConfigError(f"rpc_url {settings.rpc_url} is not a local http:// endpoint; the local node cannot serve it")
    return LocalChain(settings.chain_dir, port, host=host)


def _running_line(status: dict[str, Any]) -> str:
    return f"anvil running on {status['rpc_url']} (chain {status['chain_id']}, block {status['block_number']})"


@app.command()
def up(home: HomeOption = None, rpc_url: RpcOption = None) -> None:
    """Start anvil in the background (a no-op if it already runs)."""
    chain = local_chain(Settings.load(home=home, rpc_url=rpc_url))
    was_running = chain.is_running()
    chain.start()
    line = _running_line(chain.status())
    typer.echo(line + (" (already running)" if was_running else ""))


@app.command()
def down(home: HomeOption = None, rpc_url: RpcOption = None) -> None:
    """Stop anvil; it writes its state first, so the next `up` continues the same chain."""
    chain = local_chain(Settings.load(home=home, rpc_url=rpc_url))
    if chain.stop():
        typer.echo(f"anvil stopped; state kept in {chain.state_file}")
    else:
        typer.echo("anvil not running")


@app.command()
def status(
    home: HomeOption = None,
    rpc_url: RpcOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as a JSON object.")] = False,
) -> None:
    """Whether anvil runs, its pid, port and block number."""
    info = local_chain(Settings.load(home=home, rpc_url=rpc_url)).status()
    if as_json:
        typer.echo(json.dumps(info, sort_keys=True))
    elif info["running"]:
        typer.echo(_running_line(info) + f", pid {info['pid']}")
    else:
        typer.echo(f"anvil not running (port {info['port']}, state in {info['state_file']})")
