"""``ipreg monitor``: report every on-chain action in an office's name that the office did not take."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.cli.common import HomeOption, JsonFlag, RpcOption, open_chain, open_store, settings
from registry.core.st3 import is_st3
from registry.errors import InputError

if TYPE_CHECKING:  # web3 (via the monitor) is imported when the command runs
    from registry.monitor.webhook import Webhook

#: Exit status of ``--once`` when it delivered a finding.
EXIT_FINDINGS = 3


def monitor(
    office: Annotated[str | None, typer.Option("--office", help="Watch this office's name (ST.3 code).")] = None,
    watch_all: Annotated[
        bool, typer.Option("--all", help="Also watch every office as a witness (governance, marks, freezes).")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="One pass up to the confirmed head; exit 3 if it found something, else 0.")
    ] = False,
    from_block: Annotated[
        int | None, typer.Option("--from-block", min=0, help="Read from this block (default: the stored cursor).")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each finding here (outbound policy IPREG_MANIFEST_*).")
    ] = None,
    webhook_secret_file: Annotated[
        Path | None, typer.Option("--webhook-secret-file", help="Shared secret of the HMAC-SHA256 signature header.")
    ] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between passes (not --once).")] = 5.0,
    confirmations: Annotated[
        int | None, typer.Option("--confirmations", min=1, help="Blocks a block needs (default: the settings').")
    ] = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Follow the chain and print one JSON line per finding (also appended to $IPREG_HOME/monitor-findings.jsonl).

    A finding is an anchor, key change, revocation or governance act in the office's name that its own
    tooling (this home's outbox and journal) did not send, or governance about it by others, or a freeze.
    Resumable: the cursor is stored; a restart neither repeats nor misses a finding.
    """
    from registry.monitor.follow import Monitor, PassResult, follow
    from registry.monitor.rules import Watch

    watches: list[Watch] = []
    if office is not None:
        code = office.upper()
        if not is_st3(code):
            raise InputError(f"unknown WIPO ST.3 office code {office!r}")
        watches.append(Watch(code))
    if watch_all:
        watches.append(Watch(None))
    if not watches:
        raise InputError("name the office to watch (--office XX) or watch every office (--all)")
    hook = _webhook(webhook, webhook_secret_file)
    s = settings(home, rpc_url=rpc_url)
    chain = open_chain(s)
    store = open_store(s)

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def summary(result: PassResult) -> None:
        if as_json:
            import json

            sys.stderr.write(json.dumps(result.to_json()) + "\n")
        elif result.delivered or once:
            sys.stderr.write(
                f"monitor {result.watch}: blocks {result.from_block}..{result.to_block},"
                f" {len(result.delivered)} finding(s)\n"
            )

    try:
        monitors = [Monitor(chain, store, s, w, confirmations=confirmations, webhook=hook, emit=emit) for w in watches]
        if once:
            found = 0
            for m in monitors:
                result = m.pass_once(from_block)
                summary(result)
                found += len(result.delivered)
            raise typer.Exit(EXIT_FINDINGS if found else 0)
        if from_block is not None:
            for m in monitors:
                summary(m.pass_once(from_block))
        import threading

        follow(
            monitors,
            interval,
            threading.Event(),
            on_pass=summary,
            on_error=_complain,
        )
    finally:
        store.close()


def _webhook(url: str | None, secret_file: Path | None) -> Webhook | None:
    """The webhook of ``--webhook`` and ``--webhook-secret-file`` (both or neither)."""
    if url is None and secret_file is None:
        return None
    if url is None or secret_file is None:
        raise InputError("--webhook and --webhook-secret-file go together")
    from registry.indexer.fetch import FetchPolicy
    from registry.monitor.webhook import Webhook, read_secret

    return Webhook(url, read_secret(secret_file), FetchPolicy.from_env())


def _complain(problem: str) -> None:
    sys.stderr.write(f"monitor: {problem} (retrying)\n")
