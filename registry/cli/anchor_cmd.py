"""``ipreg anchor``: canonicalize, batch, anchor and write one proof bundle per record (resumable)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.cli.common import (
    HomeOption,
    JsonFlag,
    RpcOption,
    emit_json,
    open_chain,
    open_store,
    progress_bar,
    settings,
)
from registry.core.st3 import is_st3
from registry.errors import ConfigError, InputError, Interrupted

if TYPE_CHECKING:
    from registry.anchor.staging import Intake
    from registry.files.ingest import FileError
    from registry.node.tsa import LocalAuthority


def anchor(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to anchor.", show_default=False)],
    office: Annotated[str, typer.Option("--office", help="ST.3 code of the anchoring office, e.g. EP.")],
    proofs: Annotated[Path | None, typer.Option("--proofs", help="Where to write the proof bundles.")] = None,
    record_id: Annotated[
        str | None, typer.Option("--id", help="Record id of a single file, e.g. EP:1234567:B1.")
    ] = None,
    id_map_file: Annotated[
        Path | None,
        typer.Option(
            "--manifest", help="File -> record id map: CSV (file,recordId) or a JSON object of file names to ids."
        ),
    ] = None,
    canonicalization: Annotated[
        str | None, typer.Option("--canon", help="Force xml-c14n2-v3, json-jcs-v2 or raw.")
    ] = None,
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
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Anchor the good files and report the bad ones (exit status 3)."),
    ] = False,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Anchor empty (0-byte) files too.")] = False,
    bundle_archive: Annotated[
        str | None,
        typer.Option("--bundle-archive", help="One archive of bundles per batch: zip or jsonl (default: a file each)."),
    ] = None,
    tsa: Annotated[
        list[str] | None,
        typer.Option(
            "--tsa",
            help="RFC 3161 time-stamping authority URL asked for a token over every batch root (repeatable; also"
            " [[authority]] in $IPREG_HOME/timestamps.toml). An authority that is down is retried; then the run stops"
            " with the records pending (re-run to resume). 'local': this home's test authority (openssl, 127.0.0.1).",
        ),
    ] = None,
    tsa_cert: Annotated[
        list[Path] | None,
        typer.Option("--tsa-cert", help="Trust anchor (root, intermediates; PEM/DER) for --tsa replies (repeatable)."),
    ] = None,
    tsa_policy: Annotated[
        str | None, typer.Option("--tsa-policy", help="Policy OID the --tsa tokens must carry.")
    ] = None,
    tsa_allow_network: Annotated[
        list[str] | None,
        typer.Option("--tsa-allow-network", help="Non-public range (CIDR) an authority may be at, e.g. 127.0.0.0/8."),
    ] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Anchor records of one office. Re-running resumes; nothing is anchored twice.

    The whole input is checked first: if any file cannot be anchored, every such file is listed and
    nothing is anchored (exit status 1), unless --skip-bad anchors the others (exit status 3).
    """
    from registry.anchor.staging import stage_input
    from registry.core.records import RecordId
    from registry.files.archives import ARCHIVE_FORMATS
    from registry.files.ingest import StageOptions, count_files, iter_files, load_id_map, start_workers

    started = time.perf_counter()
    office = office.upper()
    if not is_st3(office):
        raise ConfigError(f"unknown WIPO ST.3 office code {office!r}")
    s = settings(home, rpc_url=rpc_url, batch_size=batch_size, confirmations=confirmations)
    if not s.deployment_file.is_file():  # before anything is read or a store is created in this home
        raise ConfigError(f"no deployment at {s.deployment_file}: run `ipreg deploy` first (or set IPREG_HOME)")
    rid = RecordId.parse(record_id) if record_id else None
    if bundle_archive is not None and bundle_archive not in ARCHIVE_FORMATS:
        raise InputError(f"--bundle-archive must be one of {', '.join(ARCHIVE_FORMATS)}, got {bundle_archive!r}")
    id_map = load_id_map(id_map_file) if id_map_file else None
    from registry.timestamps.config import load_config
    from registry.timestamps.stamper import stamper_for

    urls, certs, networks = list(tsa or []), list(tsa_cert or []), list(tsa_allow_network or [])
    local: tuple[LocalAuthority, int] | None = None
    if "local" in urls:  # the home's local test authority (registry/node/tsa.py), for the tour and trials
        from registry.node.anvil import free_port
        from registry.node.tsa import LocalAuthority

        local = (LocalAuthority(s.home).ensure(), free_port())  # served while the records are anchored
        urls[urls.index("local")] = f"http://127.0.0.1:{local[1]}/tsr"
        certs.append(local[0].root_cert)
        networks.append("127.0.0.0/8")
    stamps = load_config(s.home, urls, certs, tsa_policy, networks)

    def on_retry(authority: str, attempt: int, problem: str) -> None:
        if not as_json:
            typer.echo(f"time-stamp: {authority} attempt {attempt} failed ({problem}); retrying", err=True)

    stamper = stamper_for(stamps, on_retry)
    if rid is not None and len(given := list(islice(iter_files(paths), 2))) != 1:
        raise InputError(f"--id names one record but {'no' if not given else 'more than one'} file was given")
    show = not as_json
    total = count_files(paths) if show and sys.stderr.isatty() else 0
    store = open_store(s)
    options = StageOptions(office, rid, id_map, canonicalization, allow_empty)
    # Workers first (forked small), then the chain modules load in the background while they check.
    done = _Progress()
    with _on_interrupt(office, done), _serving(local), start_workers(options) or nullcontext() as pool:
        preload = threading.Thread(target=_preload, daemon=True)
        preload.start()
        with progress_bar(show, total, "checking") as advance:
            intake = stage_input(store, iter_files(paths), options, advance, pool=pool)
        preload.join()
        from registry.anchor.run import anchorer_for, office_signer

        if intake.files == 0:
            raise InputError(f"no files to anchor in {', '.join(str(p) for p in paths)}")
        if intake.errors and not skip_bad:
            _refuse(intake, office, as_json)
        canonicalized = time.perf_counter()
        chain = open_chain(s)
        account = office_signer(s, chain, office)
        proofs_dir = proofs or s.home / "proofs" / office
        done.anchoring = True
        with progress_bar(show, intake.staged, "anchoring") as advance:

            def on_progress(event: str, n: int) -> None:
                if event == "anchored":
                    done.records += n
                    done.batches += 1
                    elapsed = time.perf_counter() - started
                    advance(n, rate=f"{done.batches} batch(es), {done.records / elapsed:,.0f} rec/s")

            anchorer = anchorer_for(s, store, chain, account, office, manifest_base, on_progress, pool, stamper)
            submitted, result = anchorer.anchor_staged(proofs_dir if not sealed else None, sealed, bundle_archive)
        elapsed = time.perf_counter() - started
        from registry.timestamps.tokens import token_time

        summary = {
            "office": office,
            "files": intake.files,
            "badFiles": [{"file": e.path, "reason": e.message} for e in intake.errors],
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
                    "timestamps": [
                        {"authority": t.authority, "time": token_time(t.token), "bytes": len(t.token)}
                        for t in result.tokens.get(b.root, ())
                    ],
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
                **{k: round(v, 3) for k, v in result.seconds.items()},
            },
        }
        if as_json:
            emit_json(summary)
            if intake.errors:
                raise typer.Exit(EXIT_SKIPPED)
            return
        for b in result.batches:
            typer.echo(
                f"batch {b.root}  {_count(b.leaf_count, 'record')}  block {b.block_number}  tx {b.tx_hash}"
                f"  gas {b.gas_used}",
                err=True,
            )
            for t in result.tokens.get(b.root, ()):
                typer.echo(f"  time-stamp {token_time(t.token)} by {t.authority} ({len(t.token)} bytes)", err=True)
        typer.echo(
            f"{office}: {_count(result.records, 'record')} anchored in {len(result.batches)} batch(es), "
            f"{submitted.already} already anchored, {submitted.new_versions} new version(s); "
            f"{result.bundles} proof bundle(s) in {summary['proofsDir'] or '(sealed: use ipreg reveal)'}; "
            f"{elapsed:.2f} s"
        )
        if intake.errors:
            for line in problem_groups(intake.errors):
                typer.echo(f"skipped: {line}", err=True)
            typer.echo(f"{len(intake.errors)} bad file(s) skipped (--skip-bad), summarized above", err=True)
            raise typer.Exit(EXIT_SKIPPED)


@contextmanager
def _serving(local: tuple[LocalAuthority, int] | None) -> Iterator[None]:
    """Serve the local test authority (``--tsa local``) on its port for the run, then stop it."""
    if local is None:
        yield
        return
    local[0].start(port=local[1])
    try:
        yield
    finally:
        local[0].stop()


@dataclass
class _Progress:
    """What this run has done so far (said when it is interrupted)."""

    records: int = 0
    batches: int = 0
    anchoring: bool = False  # past the checking of the files


@contextmanager
def _on_interrupt(office: str, done: _Progress) -> Iterator[None]:
    """Ctrl-C: one line saying what this run did and that re-running resumes (exit status 130)."""
    try:
        yield
    except KeyboardInterrupt:
        if not done.anchoring:
            what = "while the files were checked: nothing was accepted or anchored yet"
        else:
            anchored = f"{_count(done.records, 'record')} in {done.batches} batch(es)"
            what = f"after {anchored} were anchored; accepted records wait"
        resume = "re-run the same command to resume (nothing is anchored twice)"
        raise Interrupted(f"{office}: interrupted {what}; {resume}") from None


def _count(n: int, noun: str) -> str:
    """``1 record``, ``2 records``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _preload() -> None:
    """Import what anchoring needs (web3, eth-account: about a second) while the workers check files."""
    import importlib

    for name in ("registry.anchor.run",):
        importlib.import_module(name)


#: Exit status when --skip-bad anchored the good files and skipped bad ones.
EXIT_SKIPPED = 3


def _refuse(intake: Intake, office: str, as_json: bool) -> None:
    """List every bad file (one ``error:`` line each) and refuse the run; nothing was accepted."""
    if as_json:
        emit_json(
            {
                "office": office,
                "files": intake.files,
                "anchored": 0,
                "badFiles": [{"file": e.path, "reason": e.message} for e in intake.errors],
            }
        )
    good = intake.files - len(intake.errors)
    advice = (
        f"nothing was anchored; fix it, or give --skip-bad to anchor the other {good} file(s)"
        if good
        else "nothing was anchored"
    )
    if len(intake.errors) == 1:
        raise InputError(f"{intake.errors[0].message}; {advice}")
    groups = problem_groups(intake.errors)
    for line in groups[:_SHOWN_KINDS]:
        sys.stderr.write(f"error: {line}\n")
    if len(groups) > _SHOWN_KINDS:
        sys.stderr.write(f"error: and {len(groups) - _SHOWN_KINDS} more kinds of problem (--json lists every file)\n")
    raise InputError(
        f"{len(intake.errors)} of {intake.files} files cannot be anchored (summarized above); "
        + (
            f" nothing was anchored; fix them, or give --skip-bad to anchor the other {good}"
            if good
            else " nothing was anchored"
        )
    )


#: Kinds of problem listed one line each when a run is refused (the rest are counted).
_SHOWN_KINDS = 10


def problem_groups(errors: list[FileError]) -> list[str]:
    """One line per kind of problem: how many files, the first file's reason and a few more files."""
    groups: dict[str, list[FileError]] = {}
    for error in errors:
        groups.setdefault(error.kind, []).append(error)
    lines = []
    for kind, group in sorted(groups.items(), key=lambda item: -len(item[1])):
        others = [e.path for e in group[1:4]]
        more = f" (also {', '.join(others)}{', ...' if len(group) > 4 else ''})" if others else ""
        lines.append(f"{len(group)} file(s) {kind}: {group[0].message}{more}")
    return lines
