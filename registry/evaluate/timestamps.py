"""What an RFC 3161 time-stamp adds: the authority's round trip per batch, and bytes per batch and per record.

Measured against the local authority (``openssl ts -reply`` over HTTP on 127.0.0.1, :mod:`registry.node.tsa`)
through the same stamper and outbound policy ``ipreg anchor --tsa`` uses, with roots drawn from the run's
seed; no transaction is sent (a token does not change the anchoring transaction or its gas). A qualified
authority on the network adds its own round trip; the bytes are those of any single-certificate token.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from registry.core.stamps import TimestampToken
from registry.evaluate.context import Run
from registry.node.tsa import LOCAL_POLICY, LocalAuthority
from registry.timestamps.config import load_config
from registry.timestamps.stamper import Stamper
from registry.timestamps.tokens import check_token


def _json_bytes(tokens: tuple[TimestampToken, ...]) -> int:
    """Bytes the ``timestamps`` field adds to a document (its one-line JSON with the separator)."""
    return len(json.dumps({"timestamps": [t.to_json() for t in tokens]})) - 2  # drop the braces: ', "timestamps": …'


def measure(run: Run, batch_size: int, rounds: int = 10) -> dict[str, Any]:
    """Round trip per batch (median, max), token size, bytes per batch (manifest) and per record (bundle)."""
    tsa = LocalAuthority(run.work)
    config = load_config(run.work, [tsa.start()], [tsa.root_cert], LOCAL_POLICY, ["127.0.0.0/8"])
    stamper = Stamper(config)
    rng = run.rng("timestamps")
    seconds: list[float] = []
    checks: list[float] = []
    tokens: tuple[TimestampToken, ...] = ()
    try:
        for _ in range(rounds):
            root = "0x" + rng.randbytes(32).hex()
            clock = time.perf_counter()
            tokens = tuple(stamper(root))
            seconds.append(time.perf_counter() - clock)
            clock = time.perf_counter()
            assert check_token(tokens[0], root, config.anchors, None).status == "valid"
            checks.append(time.perf_counter() - clock)
    finally:
        tsa.stop()
    added = _json_bytes(tokens)
    return {
        "authority": "local openssl ts -reply over HTTP (127.0.0.1)",
        "rounds": rounds,
        "batchSize": batch_size,
        "latencyPerBatchMs": {
            "median": round(statistics.median(seconds) * 1000, 2),
            "max": round(max(seconds) * 1000, 2),
        },
        "latencyPerRecordMs": round(statistics.median(seconds) * 1000 / batch_size, 4),
        "tokenBytes": len(tokens[0].token),
        "manifestBytesPerBatch": added,
        "manifestBytesPerRecord": round(added / batch_size, 2),
        "bundleBytesPerRecord": added,
        "offlineCheckMs": round(statistics.median(checks) * 1000, 2),
    }
