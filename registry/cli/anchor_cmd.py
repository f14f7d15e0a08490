"""``ipreg anchor``: canonicalize, batch, anchor and write one proof bundle per record (resumable)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..anchor import Anchorer
from ..errors import ConfigError
from ..ingest import collect_files, load_manifest, prepare_files
from ..keys import load_signer
from ..records import RecordId
from ..st3 import is_st3
from .common import (
    HomeOption,
    JsonFlag,
    RpcOption,
    console,
    emit_json,
    open_chain,
    open_store,
    progress_bar,
    settings,
)


def anchor(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to anchor.", show_default=False)],
    office: Annotated[str, typer.Option("--office", help="ST.3 code of the anchoring office, e.g. EP.")],
    proofs: Annotated[Path | None, typer.Option("--proofs", help="Where to write the proof bundles.")] = None,
    record_id: Annotated[
        str | None, typer.Option("--id", help="Record id of a single file, e.g. EP:1234567:B1.")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="CSV/JSON file mapping file names to ids.")
    ] = None,
    canonicalization: Annotated[str | None, typer.Option("--canon", help="Force xml-c14n2, json-jcs or raw.")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Records per batch ($IPREG_BATCH_SIZE).")
    ] = None,
    confirmations: Annotated[int | None, typer.Option("--confirmations", help="Blocks before a batch is done.")] = None,
    sealed: Annotated[bool, typer.Option("--sealed", help="Anchor salted commitments (unpublished records).")] = False,
    manifest_base: Annotated[
        str | None,
        typer.Option(
            "--manifest-base",
            help="Public base URL of batch manifests (default: a content address ni:///sha-256;... of each"
            " manifest, served from this home or any mirror; never a local path).",
        ),
    ] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Anchor records of one office. Re-running resumes; nothing is anchored twice."""
    started = time.perf_counter()
    office = office.upper()
    if not is_st3(office):
        raise ConfigError(f"unknown WIPO ST.3 office code {office!r}")
    s = settings(home, rpc_url=rpc_url, batch_size=batch_size, confirmations=confirmations)
    rid = RecordId.parse(record_id) if record_id else None
    ids = load_manifest(manifest) if manifest else None
    files = collect_files(paths)
    show = not as_json
    with progress_bar(show, len(files), "canonicalizing") as advance:
        prepared = prepare_files(files, rid, ids, canonicalization, on_progress=advance)
    canonicalized = time.perf_counter()
    chain = open_chain(s)
    assert chain.deployment is not None
    account = load_signer(s, office, chain.deployment)
    signs_for = chain.office_of(account.address)
    if signs_for != office:
        raise ConfigError(
            f"key {account.address} is not a current signer of {office}"
            + (f" (it signs for {signs_for})" if signs_for else "")
        )
    store = open_store(s)
    proofs_dir = proofs or s.home / "proofs" / office
    with progress_bar(show, len(prepared), "anchoring") as advance:
        done = [0, 0]  # records, batches

        def on_progress(event: str, n: int) -> None:
            if event == "anchored":
                done[0] += n
                done[1] += 1
                elapsed = time.perf_counter() - started
                advance(n, rate=f"{done[1]} batch(es), {done[0] / elapsed:,.0f} rec/s")

        anchorer = Anchorer(
            store,
            chain,
            account,
            office,
            s.home / "manifests",
            manifest_base or None,
            s.batch_size,
            s.confirmations,
            on_progress,
        )
        submitted = anchorer.submit(prepared, sealed=sealed)
        accepted = time.perf_counter()
        result = anchorer.run(proofs_dir if not sealed else None)
    # Records anchored earlier (re-run, or duplicates): make sure their bundles exist.
    old_batches = {r.batch_id for r in submitted.existing if r.batch_id is not None}
    for batch_id in sorted(old_batches):
        batch = store.batch(batch_id)
        if batch.status == "anchored" and not sealed:
            result.bundles += anchorer.write_bundles(batch, proofs_dir, only_missing=True)
    elapsed = time.perf_counter() - started
    summary = {
        "office": office,
        "files": len(files),
        "accepted": submitted.accepted,
        "alreadyAnchored": submitted.already,
        "newVersions": submitted.new_versions,
        "anchored": result.records,
        "batches": [
            {
                "root": b.root,
                "leafCount": b.leaf_count,
                "transactionHash": b.tx_hash,
                "blockNumber": b.block_number,
                "gasUsed": b.gas_used,
            }
            for b in result.batches
        ],
        "gasUsed": result.gas_used,
        "bundlesWritten": result.bundles,
        "proofsDir": None if sealed else str(proofs_dir),
        "seconds": round(elapsed, 3),
        "recordsPerSecond": round(result.records / elapsed, 1) if elapsed > 0 else None,
        "pending": store.pending_count(office),
        "phaseSeconds": {
            "canonicalize": round(canonicalized - started, 3),
            "accept": round(accepted - canonicalized, 3),
            **{k: round(v, 3) for k, v in result.seconds.items()},
        },
    }
    if as_json:
        emit_json(summary)
        return
    for b in result.batches:
        console.print(
            f"batch {b.root}  {b.leaf_count} records  block {b.block_number}  tx {b.tx_hash}  gas {b.gas_used}"
        )
    typer.echo(
        f"{office}: {summary['anchored']} records anchored in {len(result.batches)} batch(es), "
        f"{submitted.already} already anchored, {submitted.new_versions} new version(s); "
        f"{result.bundles} proof bundle(s) in {summary['proofsDir'] or '(sealed: use ipreg reveal)'}; "
        f"{elapsed:.2f} s"
    )
