"""``ipreg reveal``: open a sealed record so anyone can verify it existed at the sealed anchor's time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.common import HomeOption, RpcOption, open_chain, open_store, settings


def reveal(
    record_id: Annotated[str, typer.Argument(help="Record id of the sealed record, e.g. EP:1234567:A1.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the revealing proof bundle.")],
    content_hash: Annotated[str | None, typer.Option("--content-hash", help="Which sealed version.")] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Write a proof bundle with the salt revealed; `ipreg verify FILE --proof OUT` then checks it."""
    from registry.anchor.stored import reveal_bundle
    from registry.core.records import RecordId

    s = settings(home, rpc_url=rpc_url)
    rid = str(RecordId.parse(record_id))
    bundle = reveal_bundle(open_store(s), open_chain(s), rid, content_hash)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(bundle.dumps(), encoding="utf-8")
    typer.echo(f"revealed {rid}: sealed in block {bundle.block_number} at {bundle.anchored_at}; bundle in {out}")
