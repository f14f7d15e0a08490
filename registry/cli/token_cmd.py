"""``ipreg token``: per-office API tokens for the service's write endpoints."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import HomeOption, open_store, settings

app = typer.Typer(help="API tokens of the offices (for `ipreg serve` writes).", no_args_is_help=True)


@app.command("create")
def create(
    office: Annotated[str, typer.Option("--office", help="ST.3 code of the office the token writes for.")],
    label: Annotated[str | None, typer.Option("--label", help="A note on who holds the token.")] = None,
    home: HomeOption = None,
) -> None:
    """Create a token for OFFICE and print it once; only its SHA-256 hash is stored."""
    from ..tokens import create_token

    s = settings(home)
    store = open_store(s)
    try:
        token = create_token(store, office.upper(), label)
    finally:
        store.close()
    typer.echo(token)
    typer.echo(f"token for {office.upper()} created; it is shown only now (only its hash is kept).", err=True)
