"""``ipreg archive``: export the chain archive a proof needs if the chain stops, and check one.

Parsing and printing only: :mod:`registry.archive.export` writes, :mod:`registry.archive.format` checks.
Verify a bundle against an archive with ``ipreg verify FILE --proof BUNDLE --archive ARCHIVE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from registry.cli.common import HomeOption, JsonFlag, RpcOption, emit_json, open_chain, settings

app = typer.Typer(help="The chain archive: what verifying a proof needs with no live node (registry/archive.md).")


def _summary(proven: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "chainId": proven.chain_id,
        "anchorRegistry": proven.anchor_registry,
        "officeRegistry": proven.office_registry,
        "fromBlock": proven.deployment_block,
        "headBlock": proven.head_number,
        "headHash": proven.head_hash,
        "registryLogs": len(proven.logs),
        "codeProven": proven.code_proven,
        "code": proven.code_check,
        **extra,
    }


def _print(body: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(body)
        return
    typer.echo(
        f"{verb}: blocks {body['fromBlock']}..{body['headBlock']} of registry {body['anchorRegistry']}"
        f" (chain {body['chainId']}), {body['registryLogs']} registry log(s) proven"
    )
    typer.echo(f"  head hash     {body['headHash']}")
    typer.echo("  witness       compare the head hash with a second source before relying on the archive")
    typer.echo(f"  code          {body['code']}")


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="The archive file to write (JSON).")],
    confirmations: Annotated[
        int, typer.Option("--confirmations", min=1, help="Export up to latest - N + 1 (final blocks only).")
    ] = 1,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Write headers from the deployment block to the head, the registries' receipts and code proofs."""
    from registry.archive.export import export_archive

    done = export_archive(open_chain(settings(home, rpc_url=rpc_url)), out, confirmations)
    body = _summary(done.proven, {"path": str(out), "bytes": done.size, "headers": done.headers})
    _print(body, as_json, f"archive written to {out} ({done.size:,} bytes)")


@app.command("check")
def check(
    archive: Annotated[Path, typer.Argument(help="The archive file.")],
    as_json: JsonFlag = False,
) -> None:
    """Check an archive's proofs (headers, links, receipts, code) with no node; print its head to witness."""
    from registry.archive.reader import load_archive

    proven = load_archive(archive)
    _print(_summary(proven, {"path": str(archive)}), as_json, "archive proves itself")
