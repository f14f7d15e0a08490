"""``ipreg revoke``: revoke a whole batch, or one record given its proof bundle, for the acting office."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.chain.keys import load_signer
from registry.cli.common import HomeOption, RpcOption, open_chain, settings
from registry.core.formats import ProofBundle
from registry.errors import InputError

app = typer.Typer(help="Revoke a batch or a record of your office.", no_args_is_help=True)

AsOffice = Annotated[str, typer.Option("--as", help="The acting office (its key signs).")]
Reason = Annotated[int, typer.Option("--reason", min=1, max=255, help="Reason code 1-255 (see `ipreg verify`).")]


@app.command("batch")
def revoke_batch(
    root: Annotated[str, typer.Argument(help="Merkle root of the batch (0x + 64 hex).")],
    acting: AsOffice,
    reason: Reason = 1,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Revoke every record of one of the acting office's batches (not while it is suspended; after a freeze too)."""
    raw = root.removeprefix("0x")
    if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        raise InputError(f"not a batch root: {root!r} (expected 0x and 64 hex digits)")
    s = settings(home, rpc_url=rpc_url)
    chain = open_chain(s)
    assert chain.deployment is not None
    account = load_signer(s, acting.upper(), chain.deployment)
    from registry.monitor.journal import sending

    with sending(s, chain, acting.upper(), account.address, "revokeBatch", [bytes.fromhex(raw)]):
        result = chain.revoke_batch(account, bytes.fromhex(raw), reason)
    typer.echo(f"batch 0x{raw.lower()} revoked (reason {reason}) in block {result.block_number}")


@app.command("record")
def revoke_record(
    bundle_path: Annotated[Path, typer.Argument(help="The record's proof bundle (as `ipreg anchor --proofs` wrote).")],
    acting: AsOffice,
    reason: Reason = 1,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Revoke one record: the contract recomputes its leaf from the bundle's values and checks the proof."""
    if not bundle_path.is_file():
        raise InputError(f"no proof bundle at {bundle_path}")
    bundle = ProofBundle.loads(bundle_path.read_bytes())
    if bundle.office != acting.upper():
        raise InputError(f"{bundle_path} is a record of office {bundle.office}, not {acting.upper()}")
    s = settings(home, rpc_url=rpc_url)
    chain = open_chain(s)
    assert chain.deployment is not None
    account = load_signer(s, acting.upper(), chain.deployment)
    root = bytes.fromhex(bundle.root.removeprefix("0x"))
    proof = [bytes.fromhex(p.removeprefix("0x")) for p in bundle.proof]
    values = bundle.value.encode()
    from registry.monitor.journal import sending

    with sending(s, chain, acting.upper(), account.address, "revokeLeaf", [root, values]):
        result = chain.revoke_leaf(account, root, values, proof, reason)
    typer.echo(
        f"record {bundle.value.record_id} of batch {bundle.root} revoked (reason {reason})"
        f" in block {result.block_number}"
    )
