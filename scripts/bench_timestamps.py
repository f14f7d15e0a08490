#!/usr/bin/env python3
"""What an RFC 3161 time-stamp adds per batch and per record: latency, bytes in manifest and bundles, verify time.

    .venv/bin/python scripts/bench_timestamps.py                       # 10 batches of 100 records
    .venv/bin/python scripts/bench_timestamps.py --batches 20 --batch-size 1000

Anchors the same kind of sample gazette twice on the embedded chain (in-process EVM), without and with
the local authority (``openssl ts -reply`` over HTTP on 127.0.0.1, registry/node/tsa.py), and prints JSON:
the authority's round trip per batch (request, HTTP, openssl signing, reply check), the token's DER size,
the bytes it adds to the manifest (once per batch) and to every bundle (base64 in each record's bundle),
and the offline check's time per token. A remote qualified authority adds its network round trip.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import EMBEDDED
from registry.core.formats import ProofBundle
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.node.tsa import LOCAL_POLICY, LocalAuthority
from registry.store.outbox import Store
from registry.timestamps import Stamper, check_token, load_config


def run(work: Path, files: list[Path], stamper: Stamper | None, batch_size: int) -> tuple[Anchorer, float]:
    """Anchor ``files`` on a fresh embedded chain; the Anchorer and the run's seconds."""
    chain = Chain(connect(EMBEDDED))
    deploy_dev(chain)
    account = dev_signer("EP")
    assert account is not None
    a = Anchorer(Store(work / "store.sqlite"), chain, account, "EP", work / "manifests", batch_size=batch_size)
    a.stamper = stamper
    a.submit(prepare_files(files))
    clock = time.perf_counter()
    a.run(work / "proofs")
    return a, time.perf_counter() - clock


def sizes(work: Path) -> tuple[list[int], list[int]]:
    """Bytes of every manifest and of every bundle written in ``work``."""
    manifests = [p.stat().st_size for p in sorted((work / "manifests" / "EP").glob("*.json"))]
    bundles = [p.stat().st_size for p in sorted((work / "proofs").glob("*.proof.json"))]
    return manifests, bundles


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ipreg-bench-tsa-") as tmp:
        root = Path(tmp)
        files = generate_gazette(root / "g", office="EP", count=args.batches * args.batch_size, seed=3)
        tsa = LocalAuthority(root / "tsa-home")
        cfg = load_config(root, [tsa.start()], [tsa.root_cert], LOCAL_POLICY, ["127.0.0.0/8"])
        try:
            _plain, plain_seconds = run(root / "plain", files, None, args.batch_size)
            stamped, stamped_seconds = run(root / "stamped", files, Stamper(cfg), args.batch_size)
        finally:
            tsa.stop()
        m0, b0 = sizes(root / "plain")
        m1, b1 = sizes(root / "stamped")
        per_batch = stamped.stamp_seconds / args.batches
        bundle = ProofBundle.loads((next((root / "stamped" / "proofs").glob("*.proof.json"))).read_bytes())
        token = bundle.timestamps[0]
        clock = time.perf_counter()
        rounds = 50
        for _ in range(rounds):
            assert check_token(token, bundle.root, cfg.anchors, None).status == "valid"
        check_ms = (time.perf_counter() - clock) / rounds * 1000
        print(
            json.dumps(
                {
                    "batches": args.batches,
                    "batchSize": args.batch_size,
                    "authority": "local openssl ts -reply over HTTP on 127.0.0.1",
                    "latencyPerBatchMs": round(per_batch * 1000, 1),
                    "latencyPerRecordMs": round(per_batch * 1000 / args.batch_size, 3),
                    "runSecondsWithout": round(plain_seconds, 3),
                    "runSecondsWith": round(stamped_seconds, 3),
                    "tokenDerBytes": len(token.token),
                    "manifestBytesAddedPerBatch": round(statistics.mean(m1) - statistics.mean(m0)),
                    "bundleBytesAddedPerRecord": round(statistics.mean(b1) - statistics.mean(b0)),
                    "bundleBytesAddedPerBatch": round((statistics.mean(b1) - statistics.mean(b0)) * args.batch_size),
                    "offlineCheckMsPerToken": round(check_ms, 2),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
