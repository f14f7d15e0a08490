"""``ipreg office``: offices, governance (propose / approve / execute), signers and keystores."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from registry.cli import keystore_cmd
from registry.cli.common import HomeOption, JsonFlag, RpcOption, emit_json, open_chain, settings
from registry.core.contract import ACTIONS
from registry.core.st3 import is_st3
from registry.errors import InputError

if TYPE_CHECKING:  # web3 (via chain) and eth-account are imported when a command runs
    from eth_account.signers.local import LocalAccount

    from registry.chain.client import Chain

app = typer.Typer(help="Offices, governance, signers and keystores.", no_args_is_help=True)

AsOffice = Annotated[str, typer.Option("--as", help="The acting office (its key signs).")]
KeystoreOption = Annotated[
    Path | None, typer.Option("--keystore", help="Keystore of the acting key (default $IPREG_HOME/keys/<OFFICE>.json).")
]


def _code(code: str) -> str:
    code = code.upper()
    if not is_st3(code):
        raise InputError(f"unknown WIPO ST.3 office code {code!r}")
    return code


def _address(text: str) -> str:
    from web3 import Web3

    if not Web3.is_address(text):
        raise InputError(f"not an Ethereum address: {text!r}")
    return str(Web3.to_checksum_address(text))


def _acting(
    rpc_url: str | None, home: Path | None, office: str, keystore: Path | None = None
) -> tuple[Chain, LocalAccount]:
    from registry.chain.keys import load_signer

    s = settings(home, rpc_url=rpc_url, **({"keystore": keystore} if keystore else {}))
    chain = open_chain(s)
    assert chain.deployment is not None
    return chain, load_signer(s, _code(office), chain.deployment)


@contextmanager
def _sending(
    home: Path | None, office: str, chain: Chain, account: LocalAccount, call: str, args: Sequence[Any]
) -> Iterator[None]:
    """Record the call in this home's journal before it is sent (``ipreg monitor`` then knows it as the office's)."""
    from registry.monitor.journal import sending

    with sending(settings(home), chain, _code(office), account.address, call, args):
        yield


@app.command("list")
def list_offices(rpc_url: RpcOption = None, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Registered offices with status."""
    from registry.chain import views
    from registry.chain.light_views import open_views

    reader = open_views(settings(home, rpc_url=rpc_url))
    rows = []
    for code in views.office_codes(reader):
        name, uri, status = views.office_info(reader, code)
        rows.append({"code": code, "name": name, "baseUri": uri, "status": status})
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            typer.echo(f"{r['code']}  {r['status']:<9}  {r['name']}")


@app.command("signers")
def signers(
    office: Annotated[str, typer.Argument(help="ST.3 code of the office.")],
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every key of an office with its validity terms, compromise mark and pending nomination."""
    from registry.chain import views
    from registry.chain.light_views import open_views

    reader = open_views(settings(home, rpc_url=rpc_url))
    rows: list[dict[str, Any]] = [
        {
            "address": k.address,
            "current": k.current,
            "terms": [{"fromBlock": f, "untilBlock": u} for f, u in k.terms],
            "compromisedFromBlock": k.compromised_from,
            "markedBy": k.marked_by,
            "markedAtBlock": k.marked_at,
            "nominated": k.nominated,
            "replaces": k.replaces,
        }
        for k in views.signers_of(reader, _code(office))
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo(f"no signers recorded for {office.upper()}")
    for r in rows:
        terms = ", ".join(f"[{t['fromBlock']}, {t['untilBlock'] or 'now'}]" for t in r["terms"]) or "none"
        state = "current" if r["current"] else "nominated" if r["nominated"] else "former"
        mark = f"  COMPROMISED from block {r['compromisedFromBlock']}" if r["compromisedFromBlock"] else ""
        if r["markedBy"]:
            mark += f" (marked by {r['markedBy']} in block {r['markedAtBlock']})"
        elif r["compromisedFromBlock"]:
            mark += " (nominated by a compromised key)"
        typer.echo(f"{r['address']}  {state:<9}  terms {terms}{mark}")


@app.command("proposals")
def proposals(rpc_url: RpcOption = None, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Every governance proposal with its payload, approvers and the approvals that count now."""
    from registry.chain import views
    from registry.chain.light_views import open_views

    reader = open_views(settings(home, rpc_url=rpc_url))
    required = views.required_approvals(reader)
    head = reader.block_number()
    rows: list[dict[str, Any]] = []
    for p in views.proposals(reader):
        state = (
            "executed"
            if p.executed
            else "cancelled"
            if p.cancelled
            else "expired"
            if head > p.expires_block
            else "pending"
        )
        rows.append(
            {
                "id": p.id,
                "action": p.action,
                "office": p.office,
                "proposer": p.proposer,
                "state": state,
                "payload": {k: v for k, v in p.payload.items()},
                "payloadHash": p.payload_hash,
                "approvers": list(p.approvers),
                "countedApprovals": p.counted_approvals,
                "requiredApprovals": required,
                "expiresBlock": p.expires_block,
            }
        )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no proposals")
    for r in rows:
        payload = " ".join(f"{k}={v}" for k, v in r["payload"].items())
        typer.echo(
            f"{r['id']:>4}  {r['action']:<16} {r['office'] or '--'}  {r['state']:<8}"
            f" {r['countedApprovals']}/{required} ({', '.join(a or '?' for a in r['approvers'])})"
            f"  expires {r['expiresBlock']}  {payload}  payload {r['payloadHash']}"
        )


@app.command("propose")
def propose(
    action: Annotated[str, typer.Argument(help=", ".join(ACTIONS) + ".")],
    code: Annotated[
        str | None, typer.Argument(help="ST.3 code of the office concerned (not for set-rule, freeze, cancel).")
    ],
    acting: AsOffice,
    name: Annotated[str, typer.Option("--name", help="admit: name of the office.")] = "",
    base_uri: Annotated[str, typer.Option("--base-uri", help="admit: base URI of its register.")] = "",
    signer: Annotated[
        str | None, typer.Option("--signer", help="admit: first key; replace-signers: new key; mark-compromised: key.")
    ] = None,
    from_block: Annotated[int | None, typer.Option("--from-block", help="mark-compromised: first bad block.")] = None,
    rule: Annotated[
        str | None, typer.Option("--rule", help="set-rule: NUM/DEN,MIN,TTL, e.g. 1/2,2,50400 (majority, floor 2).")
    ] = None,
    successor: Annotated[str | None, typer.Option("--successor", help="freeze: the successor registry.")] = None,
    target: Annotated[int | None, typer.Option("--proposal", help="cancel: the proposal to cancel.")] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Propose a governance action; the acting office approves it at once.

    mark-compromised marks a key from an earlier block (a key's own `ipreg office compromise` acts from now
    only); it executes only with the office's own approval, except for an office that is no longer active
    (suspended, or without a key) in a registry that is not frozen, and then only from a block after the one
    in which the office stopped being active (contracts 3.1.0). replace-signers likewise needs the office's
    approval unless it is no longer active and the registry not frozen.
    """
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r} ({', '.join(ACTIONS)})")
    if action == "cancel":
        if target is None or target < 0:
            raise InputError("cancel needs --proposal ID")
        params: dict[str, Any] = {"proposal_id": target}
    else:
        params = _params(action, name, base_uri, signer, from_block, rule, successor)
    office = None if action in ("set-rule", "freeze", "cancel") else _code(code or "")
    chain, account = _acting(rpc_url, home, acting)
    from registry.chain.payloads import encode_payload, office_bytes

    code_arg = office_bytes(office) if office else b"\x00\x00"
    call_args = [ACTIONS.index(action), code_arg, encode_payload(action, **params)]
    with _sending(home, acting, chain, account, "propose", call_args):
        proposal_id, result = chain.propose(account, action, office, **params)
    payload_hash = chain.proposal(proposal_id).payload_hash
    typer.echo(
        f"proposal {proposal_id}: {action} {office or ''} (approved by {acting.upper()}), payload {payload_hash},"
        f" tx {result.transaction_hash}"
    )


def _params(
    action: str,
    name: str,
    base_uri: str,
    signer: str | None,
    from_block: int | None,
    rule: str | None,
    successor: str | None,
) -> dict[str, Any]:
    if action == "admit":
        if not signer:
            raise InputError("admitting an office needs --signer ADDRESS")
        return {"name": name, "base_uri": base_uri, "signer": _address(signer)}
    if action == "replace-signers":
        if not signer:
            raise InputError("replace-signers needs --signer ADDRESS (the new key, which then accepts)")
        return {"nominee": _address(signer)}
    if action == "mark-compromised":
        if not signer or from_block is None:
            raise InputError("mark-compromised needs --signer ADDRESS and --from-block N")
        return {"signer": _address(signer), "from_block": from_block}
    if action == "set-rule":
        try:
            fraction, floor, ttl = (rule or "").split(",")
            num, den = fraction.split("/")
            return {
                "numerator": int(num),
                "denominator": int(den),
                "min_approvals": int(floor),
                "ttl_blocks": int(ttl),
            }
        except ValueError:
            raise InputError(f"--rule must be NUM/DEN,MIN,TTL (e.g. 1/2,2,50400), not {rule!r}") from None
    if action == "freeze":
        if not successor:
            raise InputError("freeze needs --successor ADDRESS")
        return {"successor": _address(successor)}
    return {}


@app.command("approve")
def approve(
    proposal: int,
    acting: AsOffice,
    payload_hash: Annotated[
        str | None, typer.Option("--payload", help="The payload hash you reviewed (`ipreg office proposals`).")
    ] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Approve a proposal on behalf of the acting office (binds to its payload hash)."""
    chain, account = _acting(rpc_url, home, acting)
    with _sending(home, acting, chain, account, "approve", [proposal]):
        result = chain.approve(account, proposal, payload_hash)
    p = chain.proposal(proposal)
    typer.echo(
        f"proposal {proposal}: {p.counted_approvals}/{chain.required_approvals()} approvals,"
        f" tx {result.transaction_hash}"
    )


@app.command("execute")
def execute(proposal: int, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Carry out a proposal that has the approvals of enough active offices."""
    chain, account = _acting(rpc_url, home, acting)
    result = chain.execute(account, proposal)
    typer.echo(f"proposal {proposal} executed, tx {result.transaction_hash}")


@app.command("add-signer")
def add_signer(address: str, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Nominate another key for the acting office; it counts once it accepts (`ipreg office accept`)."""
    chain, account = _acting(rpc_url, home, acting)
    with _sending(home, acting, chain, account, "addSigner", [_address(address)]):
        chain.add_signer(account, _address(address))
    typer.echo(
        f"{_address(address)} nominated for {acting.upper()}; it must run `ipreg office accept {acting.upper()}`"
    )


@app.command("accept")
def accept(
    office: Annotated[str, typer.Argument(help="The office that nominated the key.")],
    keystore: KeystoreOption = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Accept a nomination: the key in the keystore becomes a signer of the office from this block on."""
    chain, account = _acting(rpc_url, home, office, keystore)
    from registry.chain.payloads import office_bytes

    with _sending(home, office, chain, account, "acceptSigner", [office_bytes(_code(office))]):
        result = chain.accept_signer(account, _code(office))
    typer.echo(f"{account.address} signs for {office.upper()} from block {result.block_number}")


@app.command("remove-signer")
def remove_signer(address: str, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Withdraw a key of the acting office (its past anchors stay authorised at their blocks); never the last."""
    chain, account = _acting(rpc_url, home, acting)
    with _sending(home, acting, chain, account, "removeSigner", [_address(address)]):
        result = chain.remove_signer(account, _address(address))
    typer.echo(f"{_address(address)} no longer signs for {acting.upper()} from block {result.block_number}")


@app.command("rotate-signer")
def rotate_signer(old: str, new: str, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Nominate NEW to replace OLD; OLD is removed when NEW accepts (`ipreg office accept`)."""
    chain, account = _acting(rpc_url, home, acting)
    with _sending(home, acting, chain, account, "rotateSigner", [_address(old), _address(new)]):
        chain.rotate_signer(account, _address(old), _address(new))
    typer.echo(f"{_address(new)} nominated to replace {_address(old)} for {acting.upper()}; it must accept")


@app.command("compromise")
def compromise(address: str, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Stop a key of the acting office now: compromised from the mined block on (never retroactive).

    Anchors and revocations the key made before stay as they are; to discount them from the theft on,
    governance marks the key from an earlier block (`ipreg office propose mark-compromised`, with this
    office's own approval).
    """
    chain, account = _acting(rpc_url, home, acting)
    key = _address(address)
    with _sending(home, acting, chain, account, "markCompromised", [key]):
        result = chain.mark_compromised(account, key)
    office = acting.upper()
    typer.echo(
        f"{key} marked compromised for {office} from block {result.block_number}"
        f" (and removed if it was a signer), tx {result.transaction_hash}\n"
        f"to discount what it did since an earlier block N, ask governance:"
        f" ipreg office propose mark-compromised {office} --signer {key} --from-block N --as {office}"
    )


@app.command("cancel")
def cancel(proposal: int, acting: AsOffice, rpc_url: RpcOption = None, home: HomeOption = None) -> None:
    """Withdraw a pending proposal of the acting office (other offices: `ipreg office propose cancel`)."""
    chain, account = _acting(rpc_url, home, acting)
    with _sending(home, acting, chain, account, "cancel", [proposal]):
        result = chain.cancel(account, proposal)
    typer.echo(f"proposal {proposal} withdrawn by {acting.upper()}, tx {result.transaction_hash}")


app.command("keystore")(keystore_cmd.keystore)
