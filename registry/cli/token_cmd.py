"""``ipreg token``: per-office API tokens for the service's write endpoints."""

from __future__ import annotations

from typing import Annotated

import typer

from registry.cli.common import HomeOption, JsonFlag, emit_json, open_store, settings
from registry.store.tokens import create_token, list_tokens, revoke_token

app = typer.Typer(help="API tokens of the offices (for `ipreg serve` writes).", no_args_is_help=True)


@app.command("create")
def create(
    office: Annotated[str, typer.Option("--office", help="ST.3 code of the office the token writes for.")],
    label: Annotated[str | None, typer.Option("--label", help="A note on who holds the token.")] = None,
    home: HomeOption = None,
) -> None:
    """Create a token for OFFICE and print it once; only its SHA-256 hash is stored."""

    s = settings(home)
    store = open_store(s)
    try:
        token = create_token(store, office.upper(), label)
    finally:
        store.close()
    typer.echo(token)
    typer.echo(f"token for {office.upper()} created; it is shown only now (only its hash is kept).", err=True)


@app.command("list")
def list_(
    office: Annotated[str | None, typer.Option("--office", help="Only this office's tokens.")] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List tokens: id (start of the token's hash, not the token), office, label, creation time."""
    s = settings(home)
    store = open_store(s)
    try:
        tokens = list_tokens(store, office.upper() if office else None)
    finally:
        store.close()
    if as_json:
        emit_json([{"id": t.token_id, "office": t.office, "label": t.label, "createdAt": t.created_at} for t in tokens])
        return
    for t in tokens:
        typer.echo(f"{t.token_id}  {t.office}  {t.created_at}  {t.label or ''}".rstrip())
    if not tokens:
        typer.echo("no tokens", err=True)


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="Token id as `ipreg token list` shows it.", show_default=False)],
    home: HomeOption = None,
) -> None:
    """Revoke a token at once: a running service refuses it from the next request on."""
    s = settings(home)
    store = open_store(s)
    try:
        info = revoke_token(store, token_id)
    finally:
        store.close()
    typer.echo(f"token {info.token_id} of {info.office} revoked", err=True)
