#!/usr/bin/env python3
"""Audit throughput: generate N records, anchor them on a local anvil node, then audit them three ways.

    .venv/bin/python scripts/bench_audit.py              # 10,000 records, fresh anvil from local-chain/
    .venv/bin/python scripts/bench_audit.py --count 2000 --embedded
    .venv/bin/python scripts/bench_audit.py --rpc-url http://127.0.0.1:8545 --json

Figures (records per second):
  - folder + bundles: every file re-hashed, then verified from its proof bundle (what an auditor
    holding a gazette and its bundles does); ``verify`` is the verification phase alone (bundles
    read, parsed and checked against the per-batch chain snapshot), ``hash`` the re-hashing phase;
  - folder + index: the same files, bundles rebuilt from the local index instead;
  - feed: the office's whole feed from the index (no files).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.anchor.pipeline import Anchorer
from registry.audit.report import AuditReport
from registry.audit.run import audit_feed, audit_folder
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.indexer.sync import Indexer
from registry.store.outbox import Store


def _figures(report: AuditReport) -> dict[str, object]:
    return {
        "records": report.records,
        "ok": report.ok,
        "seconds": round(report.seconds, 3),
        "recordsPerSecond": report.rate(),
        "hashSeconds": round(report.hash_seconds, 3),
        "hashPerSecond": report.rate(report.hash_seconds) if report.hash_seconds else None,
        "verifySeconds": round(report.verify_seconds, 3),
        "verifyPerSecond": report.rate(report.verify_seconds),
        "rpcCalls": report.rpc_calls,
    }


def run(rpc_url: str, work: Path, count: int, seed: int) -> dict[str, object]:
    """Generate, anchor, index and audit; return the figures."""
    chain = Chain(connect(rpc_url, timeout=120))
    deploy_dev(chain)
    gazette = work / "gazette"
    t = time.perf_counter()
    files = generate_gazette(gazette, office="EP", count=count, seed=seed, kinds=("st96-patent", "st97-json", "pdf"))
    generated = time.perf_counter() - t

    account = dev_signer("EP")
    assert account is not None
    office_store = Store(work / "office.sqlite")
    proofs = work / "proofs"
    t = time.perf_counter()
    anchorer = Anchorer(office_store, chain, account, "EP", work / "manifests")
    anchorer.submit(prepare_files(files))
    anchored = anchorer.run(proofs)
    anchoring = time.perf_counter() - t

    auditor = Store(work / "auditor.sqlite")
    t = time.perf_counter()
    indexer = Indexer(auditor.path, chain)
    synced = indexer.sync()
    indexer.close()
    indexing = time.perf_counter() - t

    with_bundles = audit_folder(chain, None, gazette, "EP", proofs)
    with_index = audit_folder(chain, auditor, gazette, "EP")
    feed = audit_feed(chain, auditor, "EP")
    for name, report in (("folder+bundles", with_bundles), ("folder+index", with_index), ("feed", feed)):
        if not report.ok or report.records != count:
            raise SystemExit(f"{name} audit did not verify all {count} records: {report.counts}")
    return {
        "count": count,
        "rpcUrl": rpc_url,
        "generateSeconds": round(generated, 2),
        "anchor": {
            "seconds": round(anchoring, 2),
            "batches": len(anchored.batches),
            "gasUsed": anchored.gas_used,
        },
        "index": {"seconds": round(indexing, 2), "records": synced.leaves},
        "folderWithBundles": _figures(with_bundles),
        "folderWithIndex": _figures(with_index),
        "feed": _figures(feed),
    }


def main() -> None:
    """Parse arguments, start anvil unless told otherwise, run, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="records to generate and audit")
    parser.add_argument("--seed", type=int, default=2026)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--rpc-url", help="use this node instead of starting anvil")
    where.add_argument("--embedded", action="store_true", help="use the in-process EVM instead of anvil")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ipreg-bench-audit-") as tmp:
        work = Path(tmp)
        node = None
        if args.embedded:
            rpc_url = "embedded"
        elif args.rpc_url:
            rpc_url = args.rpc_url
        else:
            from registry.node.anvil import LocalChain, free_port

            node = LocalChain(work / "chain", free_port())
            node.start()
            rpc_url = node.rpc_url
        try:
            figures = run(rpc_url, work, args.count, args.seed)
        finally:
            if node is not None:
                node.stop()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    anchor, index = figures["anchor"], figures["index"]
    assert isinstance(anchor, dict) and isinstance(index, dict)
    print(
        f"{args.count} records on {figures['rpcUrl']}: anchored in {anchor['seconds']} s"
        f" ({anchor['batches']} batch), indexed in {index['seconds']} s"
    )
    print(f"{'audit':<16}{'records/s':>12}{'verify/s':>12}{'hash/s':>12}{'seconds':>10}{'rpc calls':>11}")
    for label, key in (
        ("folder+bundles", "folderWithBundles"),
        ("folder+index", "folderWithIndex"),
        ("feed", "feed"),
    ):
        f = figures[key]
        assert isinstance(f, dict)
        print(
            f"{label:<16}{f['recordsPerSecond'] or 0:>12,.0f}{f['verifyPerSecond'] or 0:>12,.0f}"
            f"{f['hashPerSecond'] or 0:>12,.0f}{f['seconds']:>10}{f['rpcCalls']:>11}"
        )


if __name__ == "__main__":
    main()
