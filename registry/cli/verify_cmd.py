"""``ipreg verify``: the verdict for a file, a content hash, a record id or a bundle alone.

Exit status 0 only for VERIFIED.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from registry.cli.common import HomeOption, JsonFlag, RpcOption, emit_json, open_chain, open_store, settings
from registry.errors import ConfigError, InputError

if TYPE_CHECKING:  # web3 (via chain, verify's chain lookups) is imported only where needed
    from registry.chain.client import Chain
    from registry.core.formats import ProofBundle
    from registry.store.outbox import Store
    from registry.verify.verdict import Verdict

_HASH = re.compile(r"0x[0-9a-f]{64}")


def verify(
    file: Annotated[Path | None, typer.Argument(help="The record to verify.", show_default=False)] = None,
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Its proof bundle (then only the endpoint is needed).")
    ] = None,
    content_hash: Annotated[str | None, typer.Option("--hash", help="Verify a content hash (0x…) instead.")] = None,
    record_id: Annotated[str | None, typer.Option("--record", help="Verify a record id's newest version.")] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify against the chain: VERIFIED, TAMPERED, UNKNOWN, REVOKED, SUPERSEDED or UNAUTHORISED.

    Give FILE (with or without --proof), --proof alone (the bundle's own record), --hash or --record.
    --proof may be a batch's bundle archive (.zip or .jsonl): the bundle of FILE, --record or --hash in it.
    """
    if sum(x is not None for x in (file, content_hash, record_id)) > 1:
        raise InputError("give one of FILE, --hash or --record")
    if file is None and proof is None and content_hash is None and record_id is None:
        raise InputError("nothing to verify: give FILE, --proof BUNDLE, --hash 0x… or --record OFFICE:NUMBER[:KIND]")
    from registry.core.formats import ProofBundle
    from registry.files.archives import is_archive, pick_from_archive
    from registry.verify.verdict import EXIT_CODES
    from registry.verify.verdicts import mismatch

    s = settings(home, rpc_url=rpc_url)
    data = _read(file) if file is not None else b""  # bad input fails before any network call
    store = open_store(s) if s.store_file.exists() else None
    if proof is not None:
        try:
            bundle = (
                pick_from_archive(proof, file.name if file else None, data, record_id, content_hash)
                if is_archive(proof)  # a batch's archive (--bundle-archive): this record's bundle in it
                else ProofBundle.loads(proof.read_bytes())
            )
        except OSError as exc:
            raise InputError(f"cannot read proof bundle {proof}: {exc.strerror or exc}") from None
        found = mismatch(store, data, file.name, bundle) if file is not None else None
        if found is not None:  # the bundle is another record's: said without asking the chain
            show(found, as_json)
            raise typer.Exit(EXIT_CODES[found.verdict])
        verdict = _with_bundle(s.rpc_url, s.rpc_retries, store, bundle, file, data, content_hash)
    else:
        from registry.verify.verdicts import verify_file, verify_hash, verify_record_id

        if not s.deployment_file.exists():
            raise ConfigError("no proof bundle and no local deployment: give --proof BUNDLE")
        chain = open_chain(s)
        if file is not None:
            verdict = verify_file(chain, store, data, file.name)
        elif content_hash is not None:
            if not _HASH.fullmatch(content_hash.lower()):
                raise InputError(f"invalid content hash {content_hash!r} (0x and 64 hex digits)")
            verdict = verify_hash(chain, store, content_hash.lower())
        else:
            assert record_id is not None
            verdict = verify_record_id(chain, store, record_id)
    show(verdict, as_json)
    raise typer.Exit(EXIT_CODES[verdict.verdict])


def _with_bundle(
    rpc_url: str,
    retries: int,
    store: Store | None,
    bundle: ProofBundle,
    file: Path | None,
    data: bytes,
    content_hash: str | None,
) -> Verdict:
    """The verdict of a bundle (and its file). Without a local store, over the light JSON-RPC reader."""
    from registry.verify.verdicts import verify_bundle, verify_file

    if store is None and rpc_url.startswith(("http://", "https://")):
        # An auditor's case: nothing but the bundle and the endpoint; no web3 import (fast start-up).
        from registry.chain.light import LightReader
        from registry.verify.hashing import file_content_hash

        reader = LightReader(rpc_url, bundle.registry, retries)
        digest = content_hash.lower() if content_hash else None
        if file is not None:
            digest = file_content_hash(data, bundle)
        return verify_bundle(cast("Chain", None), bundle, digest, None, reader)  # type: ignore[arg-type]
    from registry.chain.client import Chain, connect

    chain = Chain.for_registry(connect(rpc_url), bundle.registry, retries)
    if file is not None:
        return verify_file(chain, store, data, file.name, bundle)
    return verify_bundle(chain, bundle, content_hash.lower() if content_hash else None, store)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from None


def show(verdict: Verdict, as_json: bool) -> None:
    """Print a verdict for people or machines."""
    if as_json:
        emit_json(verdict.to_json())
        return
    typer.echo(f"{verdict.verdict}: {verdict.reason}")
    hashes: tuple[tuple[str, str | None], ...] = (("content", verdict.content_hash),)
    if verdict.anchored_hash is not None and verdict.anchored_hash != verdict.content_hash:
        hashes = (("anchored hash", verdict.anchored_hash), ("file hash", verdict.content_hash))
    for label, value in (
        ("office", verdict.office),
        ("record", verdict.record_id),
        *hashes,
        ("anchored", verdict.anchored_at),
        ("block", verdict.block_number),
        ("transaction", verdict.transaction_hash),
        ("superseded by", verdict.superseded_by),
    ):
        if value is not None:
            typer.echo(f"  {label:<13} {value}")
