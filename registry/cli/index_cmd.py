"""``ipreg index sync|rebuild|status``: follow the contracts' events into the local index."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.cli.common import HomeOption, JsonFlag, RpcOption, console, emit_json, open_chain, progress_bar, settings
from registry.config import Settings
from registry.errors import ConfigError

if TYPE_CHECKING:  # web3 (via chain and indexer) is imported when a command runs
    from registry.chain.client import Chain
    from registry.indexer.sync import SyncResult

app = typer.Typer(
    help="The local index of the registry's events (offices, signers, batches, records).",
    no_args_is_help=True,
)

RegistryOption = Annotated[
    str | None,
    typer.Option("--registry", help="AnchorRegistry address to follow when there is no local deployment file."),
]
ConfirmationsOption = Annotated[
    int | None,
    typer.Option("--confirmations", help="Blocks a change needs before it is indexed ($IPREG_CONFIRMATIONS)."),
]


_NO_DEPLOYMENT = "no local deployment: give --registry ADDRESS of the AnchorRegistry to follow"


def index_chain(s: Settings, registry: str | None = None) -> Chain:
    """The chain to index: the local deployment, or the AnchorRegistry at ``registry`` (an auditor's case)."""
    from registry.chain.client import Chain, connect

    if registry is not None:
        return Chain.for_registry(connect(s.rpc_url), registry, s.rpc_retries)
    if not s.deployment_file.exists():
        raise ConfigError(_NO_DEPLOYMENT)
    return open_chain(s)


def _run(
    rebuild: bool,
    registry: str | None,
    confirmations: int | None,
    retry_failed: bool,
    rpc_url: str | None,
    home: Path | None,
    as_json: bool,
) -> None:
    from registry.indexer.sync import Indexer

    s = settings(home, rpc_url=rpc_url, confirmations=confirmations)
    chain = index_chain(s, registry)
    indexer = Indexer(s.store_file, chain, s.confirmations)
    try:
        cursor = indexer.index.cursor()
        latest = chain.rpc(lambda: chain.w3.eth.block_number)
        start = indexer.deployment.block_number if rebuild or cursor is None else cursor + 1
        with progress_bar(not as_json, max(0, latest - start + 1), "indexing blocks") as advance:
            result = indexer.rebuild(advance) if rebuild else indexer.sync(advance, retry_failed=retry_failed)
        status = indexer.status()
    finally:
        indexer.close()
    show(result, status, as_json)


def sync_line(result: SyncResult) -> str:
    """One line on what a sync did; "up to date" when there was no new confirmed block."""
    if result.to_block < result.from_block:
        fetched = f"; {result.manifests_indexed} manifest(s) fetched again" if result.manifests_indexed else ""
        return f"index up to date: no new confirmed block after block {result.to_block}{fetched}"
    blocks = (
        f"block {result.from_block}"
        if result.from_block == result.to_block
        else f"blocks {result.from_block}..{result.to_block}"
    )
    return (
        f"indexed {blocks}: {result.events} event(s), {result.batches} new batch(es),"
        f" {result.manifests_indexed} manifest(s) with {result.leaves} record(s)"
    )


def show(result: SyncResult, status: dict[str, object], as_json: bool) -> None:
    """Print a sync result and the index status."""
    if as_json:
        emit_json({**result.to_json(), "status": status})
        return
    typer.echo(sync_line(result))
    for root, error in result.manifest_failures:
        console.print(f"[yellow]manifest of batch {root} not indexed (retried later): {error}[/yellow]")
    typer.echo(
        f"index: {status['offices']} offices, {status['batches']} batches, {status['records']} records,"
        f" cursor block {status['cursor']} of {status['latestBlock']}"
    )


@app.command("sync")
def sync(
    registry: RegistryOption = None,
    confirmations: ConfirmationsOption = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Fetch failed manifests again now.")] = False,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Index new confirmed blocks and fetch their batches' manifests (resumable)."""
    _run(False, registry, confirmations, retry_failed, rpc_url, home, as_json)


@app.command("rebuild")
def rebuild(
    registry: RegistryOption = None,
    confirmations: ConfirmationsOption = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Drop the index and build it again from the chain alone (and the published manifests)."""
    _run(True, registry, confirmations, False, rpc_url, home, as_json)


@app.command("status")
def status(
    registry: RegistryOption = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Cursor, chain head and what the index holds."""
    from registry.chain.light_views import open_views  # no web3 for an http(s) node: fast start-up
    from registry.store.index import Index
    from registry.store.index_writer import IndexWriter

    s = settings(home, rpc_url=rpc_url)
    if registry is None and not s.deployment_file.exists():
        raise ConfigError(_NO_DEPLOYMENT)
    reader = open_views(s, registry)  # the registry the index follows, as index_chain binds it
    followed, latest = reader.deployment, reader.block_number()
    assert followed is not None
    writer = IndexWriter.open(s.store_file)
    try:
        body = Index(writer.db).status(followed.chain_id, followed.anchor_registry, latest, s.confirmations)
    finally:
        writer.close()
    if as_json:
        emit_json(body)
        return
    for key, value in body.items():
        typer.echo(f"{key:<24} {value}")
