"""``ipreg demo``: the whole story on the embedded chain (in-process EVM), nothing to start."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ..anchor import Anchorer, bundle_name
from ..chain import Chain, connect, dev_signer
from ..config import EMBEDDED
from ..ingest import collect_files, prepare_files
from ..records import ProofBundle
from ..samples import generate_gazette
from ..store import Store
from ..verify import verify_file


def demo(
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the sample gazette, store and bundles.")] = None,
    count: Annotated[int, typer.Option("--count", help="Records in the sample gazette.")] = 6,
) -> None:
    """Deploy on an in-process EVM, anchor a sample EP gazette, verify a record and a tampered copy."""
    out = out or Path(tempfile.mkdtemp(prefix="ipreg-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    say = typer.echo
    chain = Chain(connect(EMBEDDED))
    deployment = chain.deploy_dev()
    say(f"1. deployed on the embedded chain {deployment.chain_id}: AnchorRegistry {deployment.anchor_registry}")
    say(f"   genesis offices: {', '.join(chain.office_codes())} (governance: majority of active offices, min. 2)")

    gazette = out / "gazette"
    generate_gazette(gazette, office="EP", count=count, seed=2026, kinds=("st96-patent", "st97-json", "pdf"))
    files = collect_files([gazette])
    say(f"2. sample EP gazette: {len(files)} files (ST.96 XML, ST.97-style JSON, PDF) in {gazette}")

    for stale in out.glob("registry.sqlite*"):  # the embedded chain starts empty: so does the demo's store
        stale.unlink()
    store = Store(out / "registry.sqlite")
    account = dev_signer("EP")
    assert account is not None
    anchorer = Anchorer(store, chain, account, "EP", out / "manifests")
    anchorer.submit(prepare_files(files))
    proofs = out / "proofs"
    result = anchorer.run(proofs)
    batch = result.batches[0]
    say(f"3. anchored {result.records} records in one batch: root {batch.root}")
    say(f"   block {batch.block_number}, transaction {batch.tx_hash}, gas {batch.gas_used}")

    record = next(r for r in store.batch_records(batch.id) if (r.source or "").endswith(".xml"))
    original = Path(record.source or "")
    bundle_path = proofs / bundle_name(record)
    bundle = ProofBundle.loads(bundle_path.read_bytes())
    verdict = verify_file(chain, store, original.read_bytes(), original.name, bundle)
    say(f"4. verify {original.name} with its bundle: {verdict.verdict}")
    say(f"   {verdict.reason}")

    tampered = out / f"tampered-{original.name}"
    text = original.read_text(encoding="utf-8")
    altered = text.replace('languageCode="en">', 'languageCode="en">Improved ', 1)  # one changed word of the title
    tampered.write_text(altered, encoding="utf-8")
    verdict = verify_file(chain, store, tampered.read_bytes(), tampered.name, bundle)
    say(f"5. verify a copy with one word added to the title, {tampered.name}: {verdict.verdict}")
    say(f"   {verdict.reason}")

    say(f"6. {result.bundles} proof bundles (ipreg-proof-v1) in {proofs}")
    say("   next: `ipreg chain up && ipreg deploy && ipreg anchor FOLDER --office EP` on a local anvil node")
