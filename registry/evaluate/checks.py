"""Independent checks of what the pipeline wrote: interoperability, verification rates, privacy.

Interoperability: every bundle of the run is checked twice, independently of the library's
verifier: with the AnchorRegistry's ``verifyRecord`` view (one ``eth_call`` per bundle; on a JSON-RPC
node sent in batches) and with OpenZeppelin's own ``StandardMerkleTree.verify`` (the npm package
``@openzeppelin/merkle-tree`` pinned in ``local-chain/``, run in node).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from eth_typing import HexStr
from eth_utils.abi import get_abi_output_types

from registry.anchor.stored import reveal_bundle
from registry.audit.run import audit_folder
from registry.chain.payloads import office_bytes
from registry.core.canon import canonicalization_for, content_hash
from registry.core.formats import ProofBundle
from registry.core.leaves import SEALED
from registry.errors import ConfigError
from registry.evaluate.context import Run
from registry.evaluate.pipeline import OfficeRun
from registry.node.anvil import LOCAL_CHAIN_DIR
from registry.verify.verdict import VERIFIED
from registry.verify.verdicts import verify_bundle, verify_file

OZ_MERKLE = LOCAL_CHAIN_DIR / "node_modules" / "@openzeppelin" / "merkle-tree" / "dist" / "index.js"
_OZ_SCRIPT = """
import { StandardMerkleTree } from %s;
import { readFileSync } from "node:fs";
const items = JSON.parse(readFileSync(process.argv[2], "utf8"));
const failed = [];
items.forEach((b, i) => {
  let ok = false;
  try { ok = StandardMerkleTree.verify(b.root, b.leafEncoding, b.value, b.proof); } catch (e) { ok = false; }
  if (!ok) failed.push(i);
});
console.log(JSON.stringify({ checked: items.length, failed }));
"""
_BATCH = 400
#: Sealed records per office revealed and verified (each reveal rebuilds its batch's tree).
REVEAL_SAMPLE = 25


def load_bundles(offices: list[OfficeRun]) -> list[ProofBundle]:
    """Every proof bundle the throughput phase wrote, sorted by file name."""
    return [ProofBundle.loads(p.read_bytes()) for o in offices for p in sorted(o.proofs.glob("*.proof.json"))]


def _contract_results(run: Run, bundles: list[ProofBundle]) -> list[tuple[bool, bool]]:
    """(leaf values proven in the batch, batch of the bundle's office) per bundle, from ``verifyRecord``."""
    chain = run.chain
    if run.kind == "embedded":
        out = []
        for b in bundles:
            included, batch, _ = chain.verify_record(b.office, b.root, b.proof, b.value.encode())
            out.append((included, batch is not None and batch.office == b.office))
        return out
    to = chain.anchors.address
    calls = []
    for b in bundles:
        fn = chain.anchors.functions.verifyRecord(office_bytes(b.office), b.root, b.value.encode(), list(b.proof))
        calls.append(fn._encode_transaction_data())
    types = get_abi_output_types(fn.abi)  # same function for all
    out = []
    with httpx.Client(timeout=120, trust_env=False) as client:
        for start in range(0, len(calls), _BATCH):
            body = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [{"to": to, "data": data}, "latest"]}
                for i, data in enumerate(calls[start : start + _BATCH], start)
            ]
            answers = sorted(client.post(run.rpc_url, json=body).json(), key=lambda a: a["id"])
            for answer in answers:
                included, batch = chain.w3.codec.decode(types, bytes.fromhex(answer["result"][2:]))[:2]
                office = bytes(batch[0]).decode("ascii", "replace")
                b = bundles[int(answer["id"])]
                out.append((bool(included), int(batch[3]) != 0 and office == b.office))
    return out


def oz_verify(run: Run, bundles: list[ProofBundle]) -> list[int]:
    """Indexes of the bundles OpenZeppelin's ``StandardMerkleTree.verify`` rejects."""
    if not OZ_MERKLE.is_file():
        raise ConfigError(
            f"@openzeppelin/merkle-tree is not installed in {LOCAL_CHAIN_DIR}: run scripts/setup.sh --dev"
        )
    folder = run.work / "oz"
    folder.mkdir(parents=True, exist_ok=True)
    items = [b.to_json() for b in bundles]  # the bundles as written: OZ reads root, leafEncoding, value, proof
    (folder / "bundles.json").write_text(json.dumps(items), encoding="utf-8")
    (folder / "verify.mjs").write_text(_OZ_SCRIPT % json.dumps(OZ_MERKLE.as_uri()), encoding="utf-8")
    proc = subprocess.run(
        ["node", str(folder / "verify.mjs"), str(folder / "bundles.json")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ConfigError(f"OpenZeppelin check failed to run: {proc.stderr.strip()[:200]}")
    body = json.loads(proc.stdout)
    if body["checked"] != len(bundles):
        raise ConfigError("OpenZeppelin check did not check every bundle")
    return [int(i) for i in body["failed"]]


def interoperability(run: Run, offices: list[OfficeRun]) -> dict[str, Any]:
    """Every bundle through the contract view and OpenZeppelin's verify; counts."""
    bundles = load_bundles(offices)
    t = time.perf_counter()
    contract = _contract_results(run, bundles)
    contract_seconds = time.perf_counter() - t
    run.advance("interoperability", 0.5)
    t = time.perf_counter()
    oz_failed = oz_verify(run, bundles)
    oz_seconds = time.perf_counter() - t
    run.advance("interoperability", 1.0)
    contract_ok = sum(1 for inc, office in contract if inc and office)
    return {
        "bundles": len(bundles),
        "sealedBundles": sum(1 for b in bundles if b.value.canonicalization == SEALED),
        "contractView": {"accepted": contract_ok, "rejected": len(bundles) - contract_ok,
                         "seconds": round(contract_seconds, 3)},
        "openZeppelin": {"accepted": len(bundles) - len(oz_failed), "rejected": len(oz_failed),
                         "seconds": round(oz_seconds, 3), "package": "@openzeppelin/merkle-tree@1.0.8"},
        "both": sum(1 for i, (inc, off) in enumerate(contract) if inc and off and i not in set(oz_failed)),
    }  # fmt: skip


def rates(run: Run, offices: list[OfficeRun]) -> dict[str, Any]:
    """Live verification (one bundle at a time, contract calls) and folder audit rates."""
    bundles = [b for b in load_bundles(offices) if b.value.canonicalization != SEALED]  # sealed: see privacy
    rng = run.rng("verify-sample")
    sample = rng.sample(bundles, min(run.scenario.verify_samples, len(bundles)))
    stores = {o.office: o.store for o in offices}
    t = time.perf_counter()
    verdicts: dict[str, int] = {}
    for b in sample:
        v = verify_bundle(run.chain, b, None, stores.get(b.office))
        verdicts[v.verdict] = verdicts.get(v.verdict, 0) + 1
    verify_seconds = time.perf_counter() - t
    biggest = max(offices, key=lambda o: len(o.published))
    report = audit_folder(run.chain, None, biggest.folder / "published", biggest.office, biggest.proofs)
    run.advance("rates", 1.0)
    return {
        "verify": {
            "bundles": len(sample),
            "seconds": round(verify_seconds, 3),
            "perSecond": len(sample) / verify_seconds if verify_seconds else None,
            "verdicts": verdicts,
        },
        "audit": {
            "office": biggest.office,
            "records": report.records,
            "ok": report.ok,
            "counts": report.counts,
            "seconds": round(report.seconds, 3),
            "perSecond": report.rate(),
            "verifyPerSecond": report.rate(report.verify_seconds),
            "rpcCalls": report.rpc_calls,
        },
    }


def _tx_bytes(run: Run, tx_hash: HexStr) -> bytes:
    """Calldata and log data of a mined transaction: what it put on chain besides topics."""
    w3 = run.chain.w3
    tx = run.chain.rpc(lambda: w3.eth.get_transaction(tx_hash))
    receipt = run.chain.rpc(lambda: w3.eth.get_transaction_receipt(tx_hash))
    return bytes(tx["input"]) + b"".join(
        bytes(lg["data"]) + b"".join(bytes(t) for t in lg["topics"]) for lg in receipt["logs"]
    )


def _numbers(record_id: str) -> list[str]:
    return [p for p in record_id.split(":")[1:2] if p]


def privacy(run: Run, offices: list[OfficeRun]) -> dict[str, Any]:
    """Sealed records: what the manifests and the chain show, and whether reveals verify."""
    checked = leaks = revealed = reveals_ok = wrong_salt_rejected = unrevealed_unknown = 0
    leak_examples: list[str] = []
    shapes_ok = True
    for o in offices:
        if not o.sealed:
            continue
        sealed = [
            r
            for r in (
                o.store.records_by_hash(content_hash(p.read_bytes(), canonicalization_for(p.name))) for p in o.sealed
            )
        ]
        records = [r[-1] for r in sealed if r]
        manifests = {p: p.read_bytes() for p in (run.manifest_dir / o.office).glob("*.json")}
        batch_ids = {r.batch_id for r in records}
        chain_bytes = b""
        for batch in o.batches:
            if batch.id in batch_ids and batch.tx_hash:
                chain_bytes += _tx_bytes(run, HexStr(batch.tx_hash))
        for m in manifests.values():
            for value in json.loads(m)["values"]:
                if value[2] == SEALED and not (value[0] == o.office and re.fullmatch(r"0x[0-9a-f]{64}", value[1])
                                               and value[3] == "0x" + "00" * 32):  # fmt: skip
                    shapes_ok = False
        reveal_sample = run.rng("reveal", o.office).sample(records, min(REVEAL_SAMPLE, len(records)))
        for r in records:
            checked += 1
            secrets = [r.record_id.encode(), r.content_hash.encode(), bytes.fromhex(r.content_hash[2:])]
            secrets += [n.encode() for n in _numbers(r.record_id)]
            where = [name for name, blob in [("manifest", b"".join(manifests.values())), ("chain", chain_bytes)]
                     if any(s in blob for s in secrets)]  # fmt: skip
            if where:
                leaks += 1
                if len(leak_examples) < 5:
                    leak_examples.append(f"{r.record_id} visible in {', '.join(where)}")
            if r not in reveal_sample:
                continue
            revealed += 1
            bundle = reveal_bundle(o.store, run.chain, r.record_id)
            source = Path(r.source or "")
            verdict = verify_file(run.chain, o.store, source.read_bytes(), source.name, bundle)
            reveals_ok += verdict.verdict == VERIFIED
            reveal = dict(bundle.extra["reveal"])
            reveal["salt"] = "0x" + bytes(31 * [0] + [1]).hex()
            forged = replace(bundle, extra={"reveal": reveal})
            wrong_salt_rejected += verify_bundle(run.chain, forged, r.content_hash).verdict != VERIFIED
            plain = replace(bundle, extra={})
            unrevealed_unknown += verify_bundle(run.chain, plain, r.content_hash).verdict != VERIFIED
    run.advance("privacy", 1.0)
    return {
        "sealedRecords": checked,
        "manifestShapeOnlyOfficeAndCommitment": shapes_ok,
        "recordsWithDisclosure": leaks,
        "disclosureExamples": leak_examples,
        "revealsChecked": revealed,
        "revealsVerified": reveals_ok,
        "wrongSaltRejected": wrong_salt_rejected,
        "withoutRevealNotVerified": unrevealed_unknown,
        "searched": "record id, document number and content hash (hex and raw) in every manifest of the office "
        "and in the calldata and logs of the batches holding sealed records",
    }
