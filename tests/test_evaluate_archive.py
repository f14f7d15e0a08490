"""The evaluation's "twenty years on" phase (:mod:`registry.evaluate.archive`) on the embedded chain.

What must never happen: a figure that disagrees with the chain (head, batches, logs) or with itself (the bytes
per year not following its formula from the measured figures); an archive verdict counted as agreeing when it
differs from the live one; a sample without the verdicts that matter (revoked, tampered, unknown).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core.formats import ProofBundle
from registry.evaluate import archive
from registry.evaluate.context import Run
from registry.evaluate.pipeline import OfficeRun, anchorer_for
from registry.evaluate.samples import generate_gazette
from registry.evaluate.scenario import load_scenario
from registry.files.ingest import prepare_files
from registry.store.outbox import Store


def test_measure_agrees_with_the_live_chain(tmp_path: Path) -> None:
    from registry.anchor.pipeline import bundle_name

    chain = Chain(connect("embedded"))
    deployment = deploy_dev(chain)
    scenario = dataclasses.replace(load_scenario(builtin="small"), archive_samples=5)
    run = Run(scenario, 7, chain, "embedded", "embedded", tmp_path / "work")
    run.home.mkdir(parents=True)
    deployment.save(run.home / "deployment.json")
    store = Store(tmp_path / "store.sqlite")
    anchorer = anchorer_for(run, "EP", store)
    files = generate_gazette(tmp_path / "g", office="EP", count=8, seed=3, kinds=("st96-patent",))
    proofs = tmp_path / "proofs"
    anchorer.submit(prepare_files(files))
    anchorer.run(proofs)
    record = store.versions(store.records_by_hash(prepare_files(files[:1])[0].content_hash)[0].record_id)[0]
    bundle = ProofBundle.loads((proofs / bundle_name(record)).read_bytes())
    ep = dev_signer("EP")
    assert ep is not None
    chain.revoke_leaf(ep, bytes.fromhex(bundle.root[2:]), bundle.value.encode(), bundle.proof, 1)
    office = OfficeRun("EP", store, anchorer, tmp_path / "g", files, [], proofs)
    probes = {"office": "EP", "rows": [{"probe": "revoked", "recordId": record.record_id}]}

    fig = archive.measure(run, [office], probes)

    assert fig["headBlock"] == chain.w3.eth.block_number
    assert fig["agree"] == fig["sample"] >= 5 + 1 + 1  # random, the revoked probe, altered copies
    assert fig["verdicts"]["REVOKED"] == 1 and fig["verdicts"]["TAMPERED"] >= 1 and fig["verdicts"]["UNKNOWN"] >= 1
    assert fig["batchesAnchored"] == 1 and fig["nodeUsed"] is False
    logs = chain.w3.eth.get_logs(
        {"address": [chain.anchors.address, chain.offices.address], "fromBlock": deployment.block_number}
    )
    assert fig["registryLogs"] == len(logs)
    assert fig["archiveBytes"] == (run.work / "chain-archive.json").stat().st_size
    assert fig["headers"] == fig["headBlock"] - deployment.block_number + 1
    assert fig["codeProven"] is False  # the in-process EVM gives no account proofs: said, not hidden
    expected = (
        365 * 86_400 / fig["blockSeconds"] * fig["bytesPerHeader"] + fig["batchesPerYear"] * fig["receiptBytesPerBatch"]
    )
    assert abs(fig["bytesPerYear"] - expected) <= 0.001 * expected + 2_000  # the rounded inputs
    report = {"archive": fig}
    assert f"{fig['agree']} / {fig['sample']}" in archive.section(report, {})
    assert archive.summary_rows(report)[0][1] == f"{fig['agree']}/{fig['sample']} verdicts as live"
    store.close()
