"""``ipreg office keystore``: a new encrypted key for an office, safe by default.

Never replaces the key an office signs with: if it has one (its keystore or, on the dev preset,
its dev key), the new key is written beside it and the command says how to switch. On a local
dev chain the new key is funded from an anvil dev account; elsewhere the command says what the
key needs (funds, authorisation, acceptance), with hints that fit the office's state on chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.cli.common import HomeOption, RpcOption, console, settings
from registry.core.st3 import is_st3
from registry.errors import InputError, RegistryError

if TYPE_CHECKING:
    from registry.chain.client import Chain
    from registry.chain.deployments import Deployment
    from registry.config import Settings


def keystore(
    office: Annotated[str, typer.Option("--office", help="The office the key will sign for.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Keystore path (default $IPREG_HOME/keys/<OFFICE>.json, or <OFFICE>-<address>.json beside"
            " an existing key).",
        ),
    ] = None,
    fund: Annotated[
        bool, typer.Option("--fund/--no-fund", help="On a local dev chain, fund the key from a dev account.")
    ] = True,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Create a new key in an encrypted keystore (password: $IPREG_PASSWORD_FILE, $IPREG_KEYSTORE_PASSWORD,
    a prompt, or one line on stdin). Prints the address on stdout, where the key is and what it needs on
    stderr; never the private key."""
    from registry.chain.keys import create_keystore, create_office_keystore, new_password, working_key

    code = office.upper()
    if not is_st3(code):
        raise InputError(f"unknown WIPO ST.3 office code {office!r}")
    s = settings(home, rpc_url=rpc_url)
    chain, deployment = _chain_or_none(s)
    current = working_key(s, code, deployment)
    password = new_password(s)
    if out is not None:
        address, path = create_keystore(out, password), out
    else:
        address, path = create_office_keystore(s, code, password, beside=current is not None)
    typer.echo(address)  # stdout: the address alone, for `NEW=$(ipreg office keystore --office EP)`
    typer.echo(f"new key {address} for {code} in {path} (encrypted; the private key is never shown)", err=True)
    for line in _next_steps(s, chain, deployment, code, address, path, current, fund):
        typer.echo(f"  {line}", err=True)


def _chain_or_none(s: Settings) -> tuple[Chain | None, Deployment | None]:
    """The recorded deployment and its chain, or None where there is none or the node is down."""
    if not s.deployment_file.exists():
        return None, None
    from registry.chain.client import Chain, connect
    from registry.chain.deployments import Deployment

    try:
        deployment = Deployment.load(s.deployment_file)
        return Chain(connect(s.rpc_url), deployment, retries=0), deployment
    except RegistryError as exc:
        console.print(f"note: cannot check the office on chain ({exc.diagnostics()})")
        return None, None


def _next_steps(
    s: Settings,
    chain: Chain | None,
    deployment: Deployment | None,
    code: str,
    address: str,
    path: Path,
    current: str | None,
    fund: bool,
) -> list[str]:
    """What the new key needs before it can sign, fitted to the office's state."""
    from registry.chain.dev import fund_from_dev_account, is_local_dev_chain

    steps: list[str] = []
    if current is not None:
        steps.append(f"{code} still signs with {current}; this key is beside it and not used yet")
    if chain is not None and deployment is not None and fund and is_local_dev_chain(s, deployment):
        tx = fund_from_dev_account(chain, address)
        steps.append(f"funded with 10 ETH from anvil dev account 0 (local dev chain), tx {tx}")
    else:
        steps.append(f"fund it: send ETH for gas to {address} (each batch costs about 84,000 gas)")
    status = None
    if chain is not None:
        try:
            status = chain.office_info(code)[2]
        except RegistryError:
            status = None
    if status == "none":
        steps.append(
            f"{code} is not an office yet: an active office proposes its admission with this key as first"
            f' signer: `ipreg office propose admit {code} --name "…" --signer {address} --as XX`,'
            " then approvals up to the threshold (`ipreg office approve N --as XX`, `ipreg office proposals` lists"
            " them), then `ipreg office execute N --as XX`"
        )
    elif status == "suspended":
        steps.append(
            f"{code} is suspended: it cannot add signers until governance reinstates it"
            f" (`ipreg office propose reinstate {code} --as XX`)"
        )
    else:
        steps.append(
            f"authorise it with a current {code} key: `ipreg office add-signer {address} --as {code}`"
            f" (`ipreg office signers {code}` lists them)"
            f", then the new key accepts: `ipreg office accept {code} --keystore {path}`"
        )
    default = s.keys_dir / f"{code}.json"
    if path != default or current is not None:
        steps.append(
            f"sign with it once authorised: IPREG_KEYSTORE={path} for one command, or make it the office's key"
            f" with `mv {path} {default}` (after `ipreg office rotate-signer OLD {address} --as {code}` to retire"
            " the old one)"
        )
    return steps
