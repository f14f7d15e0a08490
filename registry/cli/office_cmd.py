"""``ipreg office``: offices, governance (propose / approve / execute), signers and keystores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import InputError
from ..st3 import is_st3
from . import keystore_cmd
from .common import HomeOption, JsonFlag, RpcOption, emit_json, open_chain, settings

if TYPE_CHECKING:  # web3 (via chain) and eth-account are imported when a command runs
    from ..chain import Chain

app = typer.Typer(help="Offices, governance, signers and keystores.", no_args_is_help=True)

ACTIONS = {"admit": 0, "suspend": 1, "reinstate": 2}
AsOffice = Annotated[str, typer.Option("--as", help="The acting office (its key signs).")]


def _code(code: str) -> str:
    code = code.upper()
    if not is_st3(code):
        raise InputError(f"unknown WIPO ST.3 office code {code!r}")
    return code


def office_bytes(code: str) -> bytes:
    """The ``bytes2`` of an office code (``registry.chain.office_bytes``, imported when used)."""
    from ..chain import office_bytes as encode

    return encode(code)


def _address(text: str) -> str:
    from web3 import Web3

    if not Web3.is_address(text):
        raise InputError(f"not an Ethereum address: {text!r}")
    return str(Web3.to_checksum_address(text))


def _acting(rpc_url: str | None, home: Path | None, office: str) -> tuple[Chain, object]:
    from ..keys import load_signer

    s = settings(home, rpc_url=rpc_url)
    chain = open_chain(s)
    assert chain.deployment is not None
    return chain, load_signer(s, _code(office), chain.deployment)


@app.command("list")
def list_offices(rpc_url: RpcOption = None, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Registered offices with status."""
    chain = open_chain(settings(home, rpc_url=rpc_url))
    rows = []
    for code in chain.office_codes():
        name, uri, status = chain.office_info(code)
        rows.append({"code": code, "name": name, "baseUri": uri, "status": status})
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            typer.echo(f"{r['code']}  {r['status']:<9}  {r['name']}")


@app.command("propose")
def propose(
    action: Annotated[str, typer.Argument(help="admit, suspend or reinstate.")],
    code: Annotated[str, typer.Argument(help="ST.3 code of the office concerned.")],
    acting: AsOffice,
    name: Annotated[str, typer.Option("--name", help="Name of the office to admit.")] = "",
    base_uri: Annotated[str, typer.Option("--base-uri", help="Base URI of its register.")] = "",
    signer: Annotated[str | None, typer.Option("--signer", help="First signer of the office to admit.")] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Propose a governance action; the acting office approves it at once."""
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r} (admit, suspend or reinstate)")
    if action == "admit" and not signer:
        raise InputError("admitting an office needs --signer ADDRESS")
    chain, account = _acting(rpc_url, home, acting)
    fn = chain.offices.functions.propose(
        ACTIONS[action],
        office_bytes(_code(code)),
        name,
        base_uri,
        _address(signer) if signer else "0x" + "00" * 20,
    )
    result = chain.transact(account, fn)  # type: ignore[arg-type]
    proposal_id = chain.offices.functions.proposalCount().call() - 1
    typer.echo(
        f"proposal {proposal_id}: {action} {code.upper()} (approved by {acting.upper()}), tx {result.transaction_hash}"
    )


@app.command("approve")
def approve(proposal: int, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Approve a proposal on behalf of the acting office."""
    chain, account = _acting(rpc_url, home, acting)
    result = chain.transact(account, chain.offices.functions.approve(proposal))  # type: ignore[arg-type]
    _, _, approvals, _ = chain.offices.functions.proposal(proposal).call()
    threshold = chain.offices.functions.threshold().call()
    typer.echo(f"proposal {proposal}: {approvals}/{threshold} approvals, tx {result.transaction_hash}")


@app.command("execute")
def execute(proposal: int, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Carry out a proposal that reached the threshold."""
    chain, account = _acting(rpc_url, home, acting)
    result = chain.transact(account, chain.offices.functions.execute(proposal))  # type: ignore[arg-type]
    typer.echo(f"proposal {proposal} executed, tx {result.transaction_hash}")


@app.command("add-signer")
def add_signer(address: str, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Authorise another key for the acting office."""
    chain, account = _acting(rpc_url, home, acting)
    result = chain.transact(account, chain.offices.functions.addSigner(_address(address)))  # type: ignore[arg-type]
    typer.echo(f"{_address(address)} signs for {acting.upper()} from block {result.block_number}")


@app.command("remove-signer")
def remove_signer(address: str, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Withdraw a key of the acting office (its past anchors stay authorised at their blocks)."""
    chain, account = _acting(rpc_url, home, acting)
    result = chain.transact(account, chain.offices.functions.removeSigner(_address(address)))  # type: ignore[arg-type]
    typer.echo(f"{_address(address)} no longer signs for {acting.upper()} from block {result.block_number}")


@app.command("rotate-signer")
def rotate_signer(old: str, new: str, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Replace one key of the acting office by another in one transaction."""
    chain, account = _acting(rpc_url, home, acting)
    fn = chain.offices.functions.rotateSigner(_address(old), _address(new))
    result = chain.transact(account, fn)  # type: ignore[arg-type]
    typer.echo(f"rotated {_address(old)} -> {_address(new)} for {acting.upper()} at block {result.block_number}")


app.command("keystore")(keystore_cmd.keystore)
