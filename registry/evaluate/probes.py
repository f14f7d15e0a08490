"""The verdict table: probes built from the run's own records, each with its expected verdict.

tampered: an anchored file with one word changed, verified with its bundle; revoked: records the
office revoked on chain; superseded: records re-anchored with new content, the old version
verified; unknown: files never anchored; unauthorised: another office's record anchored by this
office, and an anchor by a key the office then marks compromised from that block on. A control
probe (untouched file) must say VERIFIED.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from registry.anchor.pipeline import bundle_name
from registry.chain.dev import dev_signer
from registry.core.batch import utc_iso
from registry.core.canon import canonicalization_for, content_hash
from registry.core.formats import ProofBundle
from registry.core.leaves import ZERO_HASH, LeafValue
from registry.core.proofs import BatchFacts, build_bundle
from registry.evaluate import actions
from registry.evaluate.context import PRICING_BASE, Run, derived_seed
from registry.evaluate.pipeline import OfficeRun
from registry.evaluate.samples import iter_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import StoredRecord
from registry.verify.verdict import REVOKED, SUPERSEDED, TAMPERED, UNAUTHORISED, UNKNOWN, VERIFIED, Verdict
from registry.verify.verdicts import verify_file  # the one Verifier, over the run's chain (and store)


def _record(o: OfficeRun, path: Path) -> StoredRecord:
    digest = content_hash(path.read_bytes(), canonicalization_for(path.name))
    return [r for r in o.store.records_by_hash(digest) if r.salt is None][-1]


def _bundle(o: OfficeRun, record: StoredRecord) -> ProofBundle:
    return ProofBundle.loads((o.proofs / bundle_name(record)).read_bytes())


def _alter(data: bytes) -> bytes:
    text = data.decode("utf-8")
    altered = text.replace('languageCode="en">', 'languageCode="en">Improved ', 1)
    return altered.encode("utf-8") if altered != text else data + b"\n<!-- -->x"


def _single_anchor(run: Run, account: LocalAccount, office: str, record_id: str, data: bytes, name: str) -> ProofBundle:
    """Anchor one record as a batch of one straight through the contract (no outbox); its bundle."""
    method = canonicalization_for(name)
    value = LeafValue(record_id, content_hash(data, method), method, ZERO_HASH)
    root = value.leaf()  # a tree of one leaf: the root is the leaf, the proof is empty
    result = run.chain.anchor_batch(account, root, 1, f"{PRICING_BASE}/{office}/0x{root.hex()}.json")
    dep = run.chain.deployment
    assert dep is not None
    facts = BatchFacts(
        dep.chain_id,
        dep.anchor_registry,
        office,
        "0x" + root.hex(),
        1,
        result.transaction_hash,
        result.block_number,
        utc_iso(result.timestamp),
    )
    return build_bundle(facts, value, ())


def run_probes(run: Run, offices: list[OfficeRun], seen: set[str]) -> dict[str, Any]:
    """Build and verify every probe; rows of (probe, record, expected, obtained, reason)."""
    o = next((x for x in offices if any(p.suffix == ".xml" for p in x.published)), offices[0])
    account = dev_signer(o.office)
    assert account is not None
    wanted = dict(run.scenario.probes)
    xml = [p for p in o.published if p.suffix == ".xml"]
    need = 1 + sum(wanted[k] for k in ("tampered", "revoked", "superseded", "unauthorised"))
    picks = run.rng("probes").sample(xml, min(need, len(xml)))
    rows: list[dict[str, Any]] = []

    def add(kind: str, expected: str, verdict: Verdict, record_id: str | None) -> None:
        rows.append(
            {
                "probe": kind,
                "recordId": verdict.record_id or record_id,
                "expected": expected,
                "obtained": verdict.verdict,
                "match": verdict.verdict == expected,
                "reason": verdict.reason,
                "reasonCode": verdict.reason_code,
                "stateBlock": verdict.state_block,
            }
        )

    def take() -> Path:
        if not picks:
            raise RuntimeError(f"not enough anchored XML records of {o.office} for the probes")
        return picks.pop()

    control = take()
    rec = _record(o, control)
    add("control", VERIFIED, verify_file(run.chain, o.store, control.read_bytes(), control.name, _bundle(o, rec)),
        rec.record_id)  # fmt: skip

    for _ in range(wanted["tampered"]):
        path = take()
        rec = _record(o, path)
        add("tampered", TAMPERED, verify_file(run.chain, o.store, _alter(path.read_bytes()), path.name,
                                              _bundle(o, rec)), rec.record_id)  # fmt: skip

    for _ in range(wanted["revoked"]):
        path = take()
        rec = _record(o, path)
        bundle = _bundle(o, rec)
        run.chain.revoke_leaf(account, bytes.fromhex(bundle.root[2:]), bundle.value.encode(), bundle.proof, 1)
        add("revoked", REVOKED, verify_file(run.chain, o.store, path.read_bytes(), path.name, bundle), rec.record_id)

    superseded = [take() for _ in range(wanted["superseded"])]
    if superseded:
        folder = run.work / "probes" / "new-versions"
        folder.mkdir(parents=True, exist_ok=True)
        olds = [(p, _record(o, p)) for p in superseded]
        newer = []
        for p, _ in olds:
            target = folder / p.name
            target.write_bytes(_alter(p.read_bytes()))
            newer.append(target)
        o.anchorer.submit(prepare_files(newer))
        o.anchorer.run(run.work / "probes" / "proofs")
        for p, r in olds:
            add("superseded", SUPERSEDED, verify_file(run.chain, o.store, p.read_bytes(), p.name, _bundle(o, r)),
                r.record_id)  # fmt: skip

    unknown = [f for f in iter_gazette(o.office, wanted["unknown"] + 20, derived_seed(run.seed, "unknown"),
                                       ("st96-patent",)) if f.record_id not in seen][: wanted["unknown"]]  # fmt: skip
    for f in unknown:
        add("unknown", UNKNOWN, verify_file(run.chain, o.store, f.data, f.name), f.record_id)

    for i in range(wanted["unauthorised"]):
        if i % 2 == 0:  # an office anchors a record of another office
            foreign = "US" if o.office != "US" else "EP"
            f = next(iter_gazette(foreign, 1, derived_seed(run.seed, "foreign", i), ("st96-patent",)))
            bundle = _single_anchor(run, account, o.office, f.record_id, f.data, f.name)
            add("unauthorised", UNAUTHORISED, verify_file(run.chain, None, f.data, f.name, bundle), f.record_id)
        else:  # an anchor by a key its office later marks compromised from that block on
            key = actions.spare_account(run.chain, 8 + i)
            actions.add_key(run.chain, account, key, o.office)
            f = next(
                x
                for x in iter_gazette(o.office, 30, derived_seed(run.seed, "compromised", i), ("st96-patent",))
                if x.record_id not in seen
            )
            seen.add(f.record_id)
            bundle = _single_anchor(run, key, o.office, f.record_id, f.data, f.name)
            # From an earlier block: a governance action, the office's own approval first (contracts 3.0.0).
            others = [c for c in run.chain.office_codes() if c != o.office and run.chain.office_info(c)[2] == "active"]
            signers = {c: dev_signer(c) for c in (o.office, *others)}
            voters = [(c, k) for c, k in signers.items() if k is not None]
            actions.govern(run.chain, "mark-compromised", o.office, voters, signer=key.address,
                           from_block=bundle.block_number)  # fmt: skip
            add("unauthorised", UNAUTHORISED, verify_file(run.chain, None, f.data, f.name, bundle), f.record_id)
    run.advance("probes", 1.0)
    return {
        "office": o.office,
        "rows": rows,
        "probes": len(rows),
        "matched": sum(1 for r in rows if r["match"]),
    }
