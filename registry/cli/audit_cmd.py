"""``ipreg audit``: verify a folder of an office's publications, or its whole feed; write reports."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.cli.common import HomeOption, JsonFlag, RpcOption, console, open_store, progress_bar, settings
from registry.cli.index_cmd import RegistryOption, index_chain
from registry.config import Settings
from registry.core.st3 import is_st3
from registry.errors import ConfigError, InputError

if TYPE_CHECKING:  # web3 (via audit, chain and indexer) is imported when the command runs
    from registry.audit.report import AuditReport
    from registry.chain.client import Chain

_SHOWN = 20


def _chain(s: Settings, registry: str | None, proofs: Path | None) -> Chain:
    """The local deployment, else ``--registry``, else the registry named by the first proof bundle."""
    from registry.chain.client import Chain, connect
    from registry.core.formats import ProofBundle

    if registry is not None or s.deployment_file.exists():
        return index_chain(s, registry)
    first = next(iter(sorted(proofs.rglob("*.proof.json"))), None) if proofs is not None else None
    if first is None:
        raise ConfigError("no local deployment and no proof bundles: give --registry ADDRESS")
    bundle = ProofBundle.loads(first.read_bytes())
    return Chain.for_registry(connect(s.rpc_url), bundle.registry, s.rpc_retries)


def _sync(s: Settings, chain: Chain) -> None:
    from registry.indexer.sync import Indexer

    indexer = Indexer(s.store_file, chain, s.confirmations)
    try:
        result = indexer.sync()
    finally:
        indexer.close()
    for root, error in result.manifest_failures:
        console.print(f"[yellow]manifest of batch {root} not indexed: {error}[/yellow]")


def audit(
    office: Annotated[str, typer.Option("--office", help="ST.3 code of the audited office, e.g. EP.")],
    folder: Annotated[Path | None, typer.Argument(help="Folder of publication files to audit.")] = None,
    feed: Annotated[bool, typer.Option("--feed", help="Audit the office's whole feed from the index.")] = False,
    proofs: Annotated[Path | None, typer.Option("--proofs", help="Folder of proof bundles (*.proof.json).")] = None,
    expected: Annotated[
        Path | None,
        typer.Option("--expected", help="Expected publications, one a line: EP:1234567:B1, or number[,kind] (CSV)."),
    ] = None,
    json_report: Annotated[Path | None, typer.Option("--json-report", help="Write the JSON report here.")] = None,
    html_report: Annotated[Path | None, typer.Option("--html-report", help="Write the HTML report here.")] = None,
    sync: Annotated[bool, typer.Option("--sync/--no-sync", help="Bring the index up to date first.")] = True,
    registry: RegistryOption = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-hash and verify every record; list missing, unexpected, tampered, revoked and superseded ones.

    Exit status 0 only if every record verified and nothing expected is missing; 3 if any row needs attention.
    """
    import time

    from registry.audit.expected import load_expected
    from registry.audit.hashing import default_workers
    from registry.audit.report import EXIT_ATTENTION
    from registry.audit.run import audit_feed, audit_folder, count_publication_files
    from registry.store.index import Index
    from registry.store.index_schema import has_index

    started = time.perf_counter()
    office = office.upper()
    if not is_st3(office):
        raise InputError(f"give --office with a WIPO ST.3 office code (got {office!r})")
    if feed == (folder is not None):
        raise InputError("give either a FOLDER or --feed")
    s = settings(home, rpc_url=rpc_url)
    chain = _chain(s, registry, proofs)
    entries = load_expected(expected, office) if expected is not None else None
    store = open_store(s) if s.store_file.exists() else None
    if sync and (feed or proofs is None or (store is not None and has_index(store.db))):
        _sync(s, chain)
        store = store or open_store(s)
    show = not as_json
    from registry.timestamps.config import load_config

    anchors = load_config(s.home).anchors  # time-stamp trust anchors ($IPREG_HOME/timestamps.toml)
    if feed:
        index = Index.of(store.db) if store is not None else None
        if store is None or index is None:
            raise InputError("no index: run `ipreg index sync` first")
        with progress_bar(show, index.record_count(office), "verifying") as advance:
            report = audit_feed(chain, store, office, entries, advance, anchors)
    else:
        assert folder is not None
        files = count_publication_files(folder, proofs)
        with progress_bar(show, files, "auditing") as advance:
            workers = default_workers(files)
            report = audit_folder(chain, store, folder, office, proofs, entries, advance, workers, anchors)
    # The report's seconds (and records/s) are the command's wall time: connecting, syncing, reading the
    # expected list and the audit itself, not the verification loop alone.
    report.seconds = max(report.seconds, time.perf_counter() - started)
    try:
        _write(report, json_report, html_report, as_json)
    finally:
        report.close()
        if entries is not None:
            entries.close()
    if not report.ok:  # SystemExit, not typer.Exit: the status must survive ``app(standalone_mode=False)``
        raise SystemExit(EXIT_ATTENTION)


def _write(report: AuditReport, json_report: Path | None, html_report: Path | None, as_json: bool) -> None:
    """The reports, each written whole or not at all; the JSON streamed from the spilled rows."""
    from registry.audit.html import render_html
    from registry.files.atomic import write_atomic

    if json_report is not None:
        report.save_json(json_report)
    if html_report is not None:
        write_atomic(html_report, render_html(report).encode("utf-8"))
    if as_json:
        sys.stdout.flush()
        report.write_json(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        _print(report)


def _print(report: AuditReport) -> None:
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(report.status_counts.items()) if v)
    overlap = f"; {report.unexpected:,} of them not expected" if report.unexpected else ""
    typer.echo(
        f"{'PASSED' if report.ok else 'ATTENTION'}: {report.office} {report.source}: {report.records:,} records,"
        f" {len(report.rows):,} rows ({counts}{overlap}) at block {report.block_number}"
    )
    typer.echo(
        f"  {report.seconds:.2f} s, {report.rate() or 0:,.0f} records/s"
        f" (verification {report.rate(report.verify_seconds) or 0:,.0f} records/s,"
        f" {report.rpc_calls} RPC calls)"
    )
    for row in itertools.islice(report.attention, _SHOWN):
        mark = " (unexpected)" if row.expected is False else ""
        typer.echo(f"  {row.status}{mark}  {row.record_id or '-'}  {row.file or ''}  {row.reason}")
    if report.attention_count > _SHOWN:
        typer.echo(f"  … and {report.attention_count - _SHOWN} more rows needing attention (see the reports)")
