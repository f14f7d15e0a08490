"""Why a chain at all: the pipeline's records through RFC 3161 tokens alone and through a CT-style log, same run.

The same records the throughput phase anchored (same batches, same leaf values, in arrival order) go
through two alternatives, each measured here:

- **RFC 3161 tokens alone**, from the local authority (:mod:`registry.node.tsa`, ``openssl ts -reply``)
  through the stamper ``ipreg anchor --tsa`` uses, each token checked offline with the one rule
  (:func:`registry.timestamps.tokens.check_token`): one token per batch root (every batch, up to :data:`TOKEN_CAP`)
  and one per record (a seeded sample; the rest computed from it), plus a token over a hash no office
  anchored (the authority vouches for a time, not for an origin).
- **A Certificate-Transparency-style log** (:mod:`registry.evaluate.ctlog`, one server): every record an
  entry (office || ABI leaf value), one signed tree head per batch, inclusion proofs of every record
  (capped at :data:`PROOF_CAP`, seeded sample beyond) and consistency proofs between heads, all checked
  by the independent verifier; a split view (two heads of one size, both signed) shown to pass every
  check that does not compare heads; office-signed entries priced (Ed25519 per entry).

The chain's figures are this run's: the pipeline's gas for these records (receipts), bundle bytes on
disk, the live verification rate. Assumed prices (a token's, the log server's) are scenario keys,
printed next to every figure that uses them. The comparison table and the privacy figures
(:mod:`registry.evaluate.exposure`) are built in :mod:`registry.evaluate.altreport`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import statistics
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.leaves import LeafValue
from registry.evaluate import cost, exposure, timestamps
from registry.evaluate.altreport import comparison, plot, section, summary_rows
from registry.evaluate.context import Run, derived_seed
from registry.evaluate.ctlog import (
    Log,
    TreeHead,
    encode_consistency,
    encode_inclusion,
    leaf_hash,
    verify_consistency,
    verify_head,
    verify_inclusion,
)
from registry.evaluate.pipeline import OfficeRun
from registry.node.tsa import LOCAL_POLICY, LocalAuthority
from registry.store.proofs import leaf_value_of
from registry.timestamps.config import load_config
from registry.timestamps.stamper import Stamper
from registry.timestamps.tokens import VALID, check_token

#: Inclusion proofs made and verified per kind (against the batch's head, against the last head); a seeded
#: sample beyond this many records.
PROOF_CAP = 20_000
#: Batch roots time-stamped at most (a seeded sample beyond), and proof bundles read for their sizes.
TOKEN_CAP = 50
BUNDLE_CAP = 5_000
#: Entries signed and verified with an office key (the cost of office-signed entries), at most.
SIGN_SAMPLE = 1_000
#: Proofs mutated (one path hash replaced) to show the verifier refuses them.
MUTATIONS = 100
#: (office, root, [(leaf, value), ...]) per batch, in arrival order.
Arrivals = list[tuple[str, str, list[tuple[bytes, LeafValue]]]]
__all__ = ["arrivals", "entry_bytes", "measure", "plot", "section", "summary_rows"]


def _ms(values: list[float]) -> float | None:
    return round(statistics.median(values) * 1000, 3) if values else None


def _us(values: list[float]) -> float | None:
    return round(statistics.median(values) * 1e6, 2) if values else None


def entry_bytes(office: str, value: LeafValue) -> bytes:
    """A log entry for one record: the office's ST.3 code and the ABI-encoded leaf value the chain anchors."""
    return office.encode("ascii") + value.encode()


def arrivals(offices: list[OfficeRun]) -> Arrivals:
    """(office, root, [(leaf, value)]) per batch of the pipeline, in the order records were accepted."""
    out = []
    for o in offices:
        for b in o.batches:
            out.append((o.office, b.root, [(r.leaf, leaf_value_of(r)) for r in o.store.batch_records(b.id)]))
    return out


# ---------------------------------------------------------------------------- the chain (this run's figures)


def _chain(run: Run, offices: list[OfficeRun], figures: dict[str, Any]) -> dict[str, Any]:
    sc = run.scenario
    batches = [b for o in offices for b in o.batches]
    records = sum(b.leaf_count for b in batches)
    gas = sum(b.gas_used or 0 for b in batches)
    sizes, paths = [], []
    files = sorted(p for o in offices for p in o.proofs.glob("*.proof.json"))
    if len(files) > BUNDLE_CAP:
        files = run.rng("alternatives-bundles").sample(files, BUNDLE_CAP)
    for p in files:
        data = p.read_bytes()
        sizes.append(len(data))
        paths.append(32 * len(json.loads(data)["proof"]))
    per_year_gas = gas * 52 / sc.weeks
    growth = figures["cost"]["growth"]["perYear"]["anchorBatch"]
    priced = sorted(figures["cost"]["anchorBatch"], key=lambda b: b["batchSize"])
    slope = (priced[-1]["gas"] - priced[0]["gas"]) / max(1, priced[-1]["batchSize"] - priced[0]["batchSize"])
    verify_rate = figures["rates"]["verify"]["perSecond"]
    return {
        "records": records,
        "batches": len(batches),
        "gasUsed": gas,
        "gasPerRecord": gas / max(1, records),
        "fiatPerRecord": cost.fiat(run, gas / max(1, records)),
        "gasPerYear": per_year_gas,
        "fiatPerYear": cost.fiat(run, per_year_gas),
        "bundleBytesPerRecord": statistics.fmean(sizes) if sizes else None,
        "merklePathBytesPerRecord": statistics.fmean(paths) if paths else None,
        "chainBytesPerYear": growth["logBytes"] + growth["calldataBytes"] + (growth["stateBytes"] or 0),
        "chainStateBytesMeasured": growth["stateBytes"] is not None,
        "verifyMsPerRecord": 1000 / verify_rate if verify_rate else None,
        "gasPerExtraLeaf": slope,
    }


# ---------------------------------------------------------------------------- RFC 3161 tokens alone


def _tsa(run: Run, batches: Arrivals) -> dict[str, Any]:
    sc = run.scenario
    authority = LocalAuthority(run.work)
    config = load_config(run.work, [authority.start()], [authority.root_cert], LOCAL_POLICY, ["127.0.0.0/8"])
    stamper = Stamper(config)
    rng = run.rng("alternatives-tsa")
    leaves = [leaf for _, _, items in batches for leaf, _ in items]
    sample = rng.sample(leaves, min(sc.tsa_record_samples, len(leaves)))

    def stamp(imprints: list[str]) -> dict[str, Any]:
        asked: list[float] = []
        checked: list[float] = []
        valid = token_bytes = json_bytes = 0
        for root in imprints:
            clock = time.perf_counter()
            tokens = tuple(stamper(root))
            asked.append(time.perf_counter() - clock)
            clock = time.perf_counter()
            valid += check_token(tokens[0], root, config.anchors, None).status == VALID
            checked.append(time.perf_counter() - clock)
            token_bytes, json_bytes = len(tokens[0].token), timestamps._json_bytes(tokens)
        return {
            "requests": len(imprints),
            "valid": valid,
            "requestMs": _ms(asked),
            "requestMsMax": round(max(asked) * 1000, 3) if asked else None,
            "verifyMs": _ms(checked),
            "tokenBytes": token_bytes,
            "bundleBytes": json_bytes,
        }

    try:
        roots = [root for _, root, _ in batches]
        per_batch = stamp(roots if len(roots) <= TOKEN_CAP else rng.sample(roots, TOKEN_CAP))
        per_record = stamp(["0x" + leaf.hex() for leaf in sample])
        foreign = "0x" + rng.randbytes(32).hex()  # a hash no office anchored: the authority stamps it all the same
        token = stamper(foreign)[0]
        foreign_status = check_token(token, foreign, config.anchors, None).status
    finally:
        authority.stop()
    return {
        "authority": "local openssl ts -reply over HTTP (127.0.0.1), tokens checked offline against its root",
        "perBatch": per_batch,
        "perRecord": per_record,
        "foreignHashTokenStatus": foreign_status,
        "pricePerToken": sc.tsa_price_per_token,
        "priceAssumed": True,
    }


# ---------------------------------------------------------------------------- a CT-style log


def _key(run: Run, *parts: object) -> Ed25519PrivateKey:
    seed = derived_seed(run.seed, "alternatives-key", *parts).to_bytes(8, "big")
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())


def _ctlog(run: Run, batches: Arrivals) -> dict[str, Any]:
    rng = run.rng("alternatives-ctlog")
    log = Log(_key(run, "log"))
    heads: list[TreeHead] = []
    batch_of: list[int] = []  # the index of the head that first covers each entry
    append_seconds = sign_seconds = 0.0
    entries = [entry_bytes(office, value) for office, _, items in batches for _, value in items]
    at = 0
    for _, _, items in batches:
        clock = time.perf_counter()
        for e in entries[at : at + len(items)]:
            log.append(e)
        append_seconds += time.perf_counter() - clock
        at += len(items)
        clock = time.perf_counter()
        head = log.sign_head()
        sign_seconds += time.perf_counter() - clock
        batch_of += [len(heads)] * len(items)
        heads.append(head)
    n = log.size
    last = heads[-1] if heads else log.sign_head()
    key = log.public_key
    head_seconds: list[float] = []
    heads_ok = 0
    for h in heads:
        clock = time.perf_counter()
        heads_ok += verify_head(h, key)
        head_seconds.append(time.perf_counter() - clock)

    picks = sorted(rng.sample(range(n), PROOF_CAP)) if n > PROOF_CAP else list(range(n))
    inclusion: dict[str, Any] = {}
    for label in ("batchHead", "lastHead"):
        ok = 0
        seconds: list[float] = []
        sizes: list[int] = []
        lengths: list[int] = []
        for i in picks:
            h = heads[batch_of[i]] if label == "batchHead" else last
            path = log.inclusion_proof(i, h.tree_size)
            clock = time.perf_counter()
            ok += verify_inclusion(i, h.tree_size, leaf_hash(entries[i]), path, h.root)
            seconds.append(time.perf_counter() - clock)
            sizes.append(len(encode_inclusion(i, h.tree_size, path)))
            lengths.append(len(path))
        inclusion[label] = {
            "proofs": len(picks),
            "verified": ok,
            "bytesMean": statistics.fmean(sizes) if sizes else None,
            "bytesMax": max(sizes, default=None),
            "pathMax": max(lengths, default=None),
            "verifyUs": _us(seconds),
        }
    mutated = 0
    for i in rng.sample(picks, min(MUTATIONS, len(picks))):
        path = log.inclusion_proof(i, last.tree_size)
        if path:
            path[rng.randrange(len(path))] = rng.randbytes(32)
        mutated += not verify_inclusion(i, last.tree_size, leaf_hash(entries[i]), path, last.root)

    pairs = [*itertools.pairwise(heads), *((h, last) for h in heads[:-1])]
    c_ok = 0
    c_seconds: list[float] = []
    c_sizes: list[int] = []
    for a, b in pairs:
        proof = log.consistency_proof(a.tree_size, b.tree_size)
        clock = time.perf_counter()
        c_ok += verify_consistency(a.tree_size, b.tree_size, a.root, b.root, proof)
        c_seconds.append(time.perf_counter() - clock)
        c_sizes.append(len(encode_consistency(a.tree_size, b.tree_size, proof)))

    signed = _office_signatures(run, batches, entries, rng.sample(range(n), min(SIGN_SAMPLE, n)))
    return {
        "entries": n,
        "entryBytesMean": statistics.fmean(len(e) for e in entries) if entries else None,
        "appendSeconds": round(append_seconds, 4),
        "appendsPerSecond": n / append_seconds if append_seconds else None,
        "heads": len(heads),
        "headBytes": len(last.encode()),
        "signMsPerHead": round(sign_seconds * 1000 / max(1, len(heads)), 3),
        "headsVerified": heads_ok,
        "headVerifyUs": _us(head_seconds),
        "inclusion": inclusion,
        "mutatedProofsRefused": mutated,
        "mutatedProofs": min(MUTATIONS, len(picks)),
        "consistency": {
            "proofs": len(pairs),
            "verified": c_ok,
            "bytesMean": statistics.fmean(c_sizes) if c_sizes else None,
            "bytesMax": max(c_sizes, default=None),
            "verifyUs": _us(c_seconds),
        },
        "splitView": _split_view(run, log, last),
        "officeSignedEntries": signed,
        "serverCostPerYear": run.scenario.log_server_cost_per_year,
        "serverCostAssumed": True,
    }


def _split_view(run: Run, log: Log, honest: TreeHead) -> dict[str, Any]:
    """The operator shows a second view of the same size (its last entry altered): what each check finds."""
    n = log.size
    if n < 2:
        return {"run": False}
    fork = Log(_key(run, "log"))
    for e in log.entries[:-1]:
        fork.append(e)
    last = log.entries[-1]
    fork.append(last[:-1] + bytes([last[-1] ^ 1]))
    other = fork.sign_head()
    key = log.public_key
    old = log.root(n - 1)
    fig: dict[str, Any] = {
        "run": True,
        "treeSize": honest.tree_size,
        "sameSizeDifferentRoots": honest.tree_size == other.tree_size and honest.root != other.root,
        "bothHeadsSigned": verify_head(honest, key) and verify_head(other, key),
        "forkedEntryProvesInclusion": verify_inclusion(
            n - 1, n, leaf_hash(fork.entries[-1]), fork.inclusion_proof(n - 1), other.root
        ),
        "bothExtendOlderHead": verify_consistency(n - 1, n, old, honest.root, log.consistency_proof(n - 1))
        and verify_consistency(n - 1, n, old, other.root, fork.consistency_proof(n - 1)),
        "detectedByComparingHeads": not verify_consistency(n, n, honest.root, other.root, []),
    }
    alone = ("bothHeadsSigned", "forkedEntryProvesInclusion", "bothExtendOlderHead")
    fig["detectedWithoutComparingHeads"] = not all(fig[k] for k in alone)
    return fig


def _office_signatures(run: Run, batches: Arrivals, entries: list[bytes], picks: list[int]) -> dict[str, Any]:
    offices = [office for office, _, items in batches for _ in items]
    keys = {o: _key(run, "office", o) for o in set(offices)}
    signs: list[float] = []
    checks: list[float] = []
    for i in picks:
        key = keys[offices[i]]
        clock = time.perf_counter()
        signature = key.sign(entries[i])
        signs.append(time.perf_counter() - clock)
        public = key.public_key()
        clock = time.perf_counter()
        public.verify(signature, entries[i])  # raises InvalidSignature: never silently counted
        checks.append(time.perf_counter() - clock)
    return {"samples": len(picks), "verified": len(checks), "signatureBytes": 64, "signUs": _us(signs),
            "verifyUs": _us(checks)}  # fmt: skip


# ---------------------------------------------------------------------------- the phase


def measure(run: Run, offices: list[OfficeRun], figures: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's records through both alternatives; ``figures`` holds the earlier phases' (cost, rates, …)."""
    sc = run.scenario
    batches = arrivals(offices)
    chain = _chain(run, offices, figures)
    run.advance("alternatives", 0.2)
    tsa = _tsa(run, batches)
    run.advance("alternatives", 0.6)
    ct = _ctlog(run, batches)
    run.advance("alternatives", 0.9)
    privacy = exposure.measure(run, offices)
    privacy["paddingCost"] = exposure.padding_costs(
        privacy, chain["gasPerExtraLeaf"], sc.tsa_price_per_token, (ct["entryBytesMean"] or 0) + 64,
        ct["appendsPerSecond"] or 0.0,
    )  # fmt: skip
    out: dict[str, Any] = {
        "records": chain["records"],
        "batches": chain["batches"],
        "recordsPerYear": 52 * sc.weekly_volume,
        "batchesPerYear": figures["cost"]["growth"]["batchesPerYear"],
        "currency": sc.currency,
        "chain": chain,
        "rfc3161": tsa,
        "ctlog": ct,
        "privacy": privacy,
    }
    out["comparison"] = comparison(out, figures)
    run.advance("alternatives", 1.0)
    return out
