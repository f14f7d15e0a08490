#!/usr/bin/env python3
"""The lean reference for scripts/bench_pipeline.py: the same work as ``ipreg anchor``, nothing else.

    .venv/bin/python scripts/lean_anchor.py GAZETTE OUT --batch-size 10000 [--phased]

Read every file, canonicalize it with the project's canonicalizer on all cores, SHA-256, record id,
leaf; SQLite outbox rows (same UNIQUE keys as the store); per batch a tree with all proofs and one
bundle file per record, in the bundle format's bytes (chain fields are placeholders: there is no
chain). No checks beyond what the canonicalizer does, no resumability, no chain, no progress.
``--phased`` canonicalizes the whole input before the first batch, as ``ipreg anchor`` must (it checks
every file before it accepts any); without it batches start while workers still canonicalize.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.core.canon import canonical_bytes, canonicalization_for
from registry.core.identify import id_from_document
from registry.core.leaves import ZERO_HASH, LeafValue
from registry.core.merkle import MerkleTree
from registry.core.records import RecordId

Row = tuple[str, str, str, bytes, str]  # record id, content hash, canonicalization, leaf, path


def prepare(paths: list[str]) -> list[Row]:
    """Read, canonicalize, hash, id, leaf."""
    out = []
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        method = canonicalization_for(path)
        canonical = canonical_bytes(data, method)
        digest = "0x" + hashlib.sha256(canonical).hexdigest()
        rid = str(id_from_document(canonical, method) or RecordId.from_filename(os.path.basename(path)))
        out.append((rid, digest, method, LeafValue(rid, digest, method, ZERO_HASH).leaf(), path))
    return out


def flush(db: sqlite3.Connection, rows: list[Row], out: str, number: int) -> None:
    """Outbox rows, the batch's tree with every proof, one bundle file per record."""
    with db:
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", [(*r, number) for r in rows])
    tree = MerkleTree.from_leaves([r[3] for r in rows])
    root = "0x" + tree.root.hex()
    head = (
        '{\n  "format": "ipreg-proof-v1",\n  "chainId": 31337,\n  "registry": "0x' + "0" * 40 + '",\n'
        f'  "office": "EP",\n  "root": "{root}",\n'
        '  "leafEncoding": ["string", "bytes32", "string", "bytes32"],\n  "value": ["'
    )
    tail = (
        f'],\n  "leafCount": {len(rows)},\n  "transactionHash": "0x{"0" * 64}",\n'
        '  "blockNumber": 1,\n  "anchoredAt": "2026-01-01T00:00:00Z"\n}\n'
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for (rid, digest, method, _, _), proof in zip(rows, tree.proofs(), strict=True):
        body = f'{head}{rid}", "{digest}", "{method}", "{ZERO_HASH}"],\n  "proof": ['
        body += ", ".join(f'"0x{p.hex()}"' for p in proof) + tail
        fd = os.open(f"{out}/{rid.replace(':', '-')}--{digest[2:14]}.proof.json", flags, 0o644)
        os.write(fd, body.encode())
        os.close(fd)


def main() -> int:
    """Run the lean pipeline; print {"records": n} as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gazette", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--phased", action="store_true")
    args = parser.parse_args()
    (args.out / "proofs").mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(args.out / "lean.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS records (record_id TEXT, content_hash TEXT, canonicalization TEXT,"
        " leaf BLOB UNIQUE, path TEXT, batch INTEGER, UNIQUE (record_id, content_hash))"
    )
    names = sorted(os.listdir(args.gazette))
    paths = [str(args.gazette / n) for n in names]
    chunks = [paths[i : i + 500] for i in range(0, len(paths), 500)]
    proofs, batches, count = str(args.out / "proofs"), 0, 0
    pending: list[Row] = []
    with Pool(os.cpu_count() or 1) as pool:
        for part in pool.imap(prepare, chunks):
            pending.extend(part)
            while not args.phased and len(pending) >= args.batch_size:
                flush(db, pending[: args.batch_size], proofs, batches)
                pending, batches, count = pending[args.batch_size :], batches + 1, count + args.batch_size
    for start in range(0, len(pending), args.batch_size):
        flush(db, pending[start : start + args.batch_size], proofs, batches)
        batches, count = batches + 1, count + len(pending[start : start + args.batch_size])
    print(json.dumps({"records": count, "batches": batches}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
