"""``ipreg verify``: the verdict for a file (exit status 0 only for VERIFIED)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..chain import Chain, connect
from ..errors import ConfigError, InputError
from ..records import ProofBundle
from ..verify import EXIT_CODES, Verdict, verify_file
from .common import HomeOption, JsonFlag, RpcOption, emit_json, open_chain, open_store, settings


def verify(
    file: Annotated[Path, typer.Argument(help="The record to verify.", show_default=False)],
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Its proof bundle (then only the endpoint is needed).")
    ] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify a record against the chain: VERIFIED, TAMPERED, UNKNOWN, REVOKED, SUPERSEDED or UNAUTHORISED."""
    s = settings(home, rpc_url=rpc_url)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from None
    store = open_store(s) if s.store_file.exists() else None
    if proof is not None:
        try:
            bundle = ProofBundle.loads(proof.read_bytes())
        except OSError as exc:
            raise InputError(f"cannot read proof bundle {proof}: {exc.strerror or exc}") from None
        chain = Chain.for_registry(connect(s.rpc_url), bundle.registry, s.rpc_retries)
        verdict = verify_file(chain, store, data, file.name, bundle)
    else:
        if not s.deployment_file.exists():
            raise ConfigError("no proof bundle and no local deployment: give --proof BUNDLE")
        verdict = verify_file(open_chain(s), store, data, file.name)
    show(verdict, as_json)
    raise typer.Exit(EXIT_CODES[verdict.verdict])


def show(verdict: Verdict, as_json: bool) -> None:
    """Print a verdict for people or machines."""
    if as_json:
        emit_json(verdict.to_json())
        return
    typer.echo(f"{verdict.verdict}: {verdict.reason}")
    for label, value in (
        ("office", verdict.office),
        ("record", verdict.record_id),
        ("content", verdict.content_hash),
        ("anchored", verdict.anchored_at),
        ("block", verdict.block_number),
        ("transaction", verdict.transaction_hash),
        ("superseded by", verdict.superseded_by),
    ):
        if value is not None:
            typer.echo(f"  {label:<13} {value}")
