"""``ipreg verify``: the verdict for a file, a content hash, a record id or a bundle alone.

Parsing and printing only: :func:`registry.verify.connect.cli_verifier` builds the one
:class:`~registry.verify.verifier.Verifier`. Exit status 0 only for VERIFIED.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.cli.common import HomeOption, JsonFlag, RpcOption, emit_json, open_store, settings
from registry.errors import InputError
from registry.verify.verdict import help_text

if TYPE_CHECKING:
    from registry.verify.verdict import Verdict

_HASH = re.compile(r"0x[0-9a-f]{64}")


def verify(
    file: Annotated[Path | None, typer.Argument(help="The record to verify.", show_default=False)] = None,
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Its proof bundle (then only the endpoint is needed).")
    ] = None,
    content_hash: Annotated[str | None, typer.Option("--hash", help="Verify a content hash (0x…) instead.")] = None,
    record_id: Annotated[str | None, typer.Option("--record", help="Verify a record id's newest version.")] = None,
    registry: Annotated[
        str | None,
        typer.Option("--registry", help="Pin the AnchorRegistry address (an outside auditor: the consortium's)."),
    ] = None,
    chain_id: Annotated[int | None, typer.Option("--chain-id", help="Pin the chain id of --registry.")] = None,
    manifests: Annotated[
        list[str] | None,
        typer.Option(
            "--manifests",
            metavar="URL",
            help="Where batch manifests are published (<URL>/<OFFICE>/<root>.json).",
            show_default=False,
        ),
    ] = None,
    tsa_cert: Annotated[
        list[Path] | None,
        typer.Option(
            "--tsa-cert",
            help="Trust anchor (PEM/DER) of time-stamp tokens (repeatable; also $IPREG_HOME/timestamps.toml).",
        ),
    ] = None,
    archive: Annotated[
        Path | None,
        typer.Option("--archive", help="Verify against an exported chain archive (no node: `ipreg archive export`)."),
    ] = None,
    archive_head: Annotated[
        str | None,
        typer.Option("--archive-head", help="The archive's head hash as witnessed from a second source (0x…)."),
    ] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    if sum(x is not None for x in (file, content_hash, record_id)) > 1:
        raise InputError("give one of FILE, --hash or --record")
    if file is None and proof is None and content_hash is None and record_id is None:
        raise typer.BadParameter(  # a usage mistake: exit status 2, like a missing argument
            "nothing to verify: give FILE, --proof BUNDLE, --hash 0x… or --record OFFICE:NUMBER[:KIND]"
        )
    if (registry is None) != (chain_id is None):
        raise InputError("give --registry ADDRESS and --chain-id N together")
    if archive_head is not None and (archive is None or not _HASH.fullmatch(archive_head.lower())):
        raise InputError("--archive-head needs --archive and a block hash (0x and 64 hex digits)")
    if content_hash is not None and not _HASH.fullmatch(content_hash.lower()):
        raise InputError(f"invalid content hash {content_hash!r} (0x and 64 hex digits)")
    from registry.core.formats import ProofBundle
    from registry.files.archives import is_archive, pick_from_archive
    from registry.verify.connect import cli_verifier
    from registry.verify.verdict import EXIT_CODES

    s = settings(home, rpc_url=rpc_url)
    data = _read(file) if file is not None else b""  # bad input fails before any network call
    bundle = None
    if proof is not None:
        try:
            bundle = (
                pick_from_archive(proof, file.name if file else None, data, record_id, content_hash)
                if is_archive(proof)  # a batch's archive (--bundle-archive): this record's bundle in it
                else ProofBundle.loads(proof.read_bytes())
            )
        except OSError as exc:
            raise InputError(f"cannot read proof bundle {proof}: {exc.strerror or exc}") from None
    store = open_store(s) if s.store_file.exists() else None
    verifier = cli_verifier(
        s,
        store,
        registry,
        chain_id,
        bundle.registry if bundle is not None else None,
        tuple(manifests or ()),
        tuple(tsa_cert or ()),
        archive,
        archive_head,
    )
    if file is not None:
        verdict = verifier.verify_file(data, file.name, bundle)
    elif bundle is not None:
        verdict = verifier.verify_bundle(bundle, content_hash.lower() if content_hash else None)
    elif content_hash is not None:
        verdict = verifier.verify_hash(content_hash.lower())
    else:
        assert record_id is not None
        verdict = verifier.verify_record_id(record_id)
    if archive is not None:
        from registry.archive.reader import ArchiveReader, served_from_archive

        assert isinstance(verifier.reader, ArchiveReader)
        verdict = served_from_archive(verdict, verifier.reader)
    show(verdict, as_json)
    raise typer.Exit(EXIT_CODES[verdict.verdict])


verify.__doc__ = f"""Verify against the chain; the verdict says what it checked and against what.

Give FILE (with or without --proof), --proof alone (the bundle's own record), --hash or --record.
--proof may be a batch's bundle archive (.zip or .jsonl): the bundle of FILE, --record or --hash in it.
In a home with a deployment its registry is pinned; an outside auditor pins one with --registry and
--chain-id (a bundle naming another registry is refused: UNKNOWN, foreign-registry).

{help_text()}
"""


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
    state = f"state at block {verdict.state_block}" if verdict.state_block is not None else "no chain state read"
    where = f"{verdict.registry} (chain {verdict.chain_id}, {state})" if verdict.registry else None
    for label, value in (
        ("office", verdict.office),
        ("record", verdict.record_id),
        *hashes,
        ("anchored", f"{verdict.anchored_at} (block time)" if verdict.anchored_at else None),
        ("block", verdict.block_number),
        ("transaction", verdict.transaction_hash),
        ("superseded by", verdict.superseded_by),
        ("reason code", verdict.reason_code),
        ("checked in", where),
    ):
        if value is not None:
            typer.echo(f"  {label:<13} {value}")
    for t in verdict.timestamps:
        by = f"{t.signer} ({t.authority})" if t.signer else t.authority
        shown = f"{t.time} by {by}" if t.time is not None else f"no time shown ({t.authority})"
        typer.echo(f"  {'time-stamp':<13} {shown}: {t.status.upper()}")
    stamps = verdict.check("timeStamps")
    if stamps is not None and stamps.result == "absent":
        typer.echo(f"  {'time-stamp':<13} none in the bundle (dated by the block's time only)")
    if verdict.checks:
        typer.echo("  checks")
        for c in verdict.checks:
            typer.echo(f"    {c.result:<11} {c.name}: {c.detail}")
