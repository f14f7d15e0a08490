"""``ipreg demo``: the whole story on the embedded chain (in-process EVM), nothing to start."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer


def demo(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Keep the sample gazette, store and bundles here (default: a temporary folder)."),
    ] = None,
    count: Annotated[int, typer.Option("--count", help="Records in the sample gazette.")] = 6,
) -> None:
    """Deploy on an in-process EVM, anchor a sample EP gazette, verify a record and a tampered copy."""
    if count < 1:
        from registry.errors import InputError

        raise InputError(f"--count must be at least 1, got {count}")
    if out is not None:
        _demo(out, count, keep=True)
        return
    with tempfile.TemporaryDirectory(prefix="ipreg-demo-") as tmp:
        _demo(Path(tmp), count, keep=False)


def _demo(out: Path, count: int, keep: bool) -> None:
    """The demo's story, with its files in ``out`` (removed afterwards unless ``keep``)."""
    from registry.anchor.pipeline import Anchorer, bundle_name
    from registry.chain.client import Chain, connect
    from registry.chain.deploy import deploy_dev
    from registry.chain.dev import dev_signer
    from registry.config import EMBEDDED
    from registry.core.formats import ProofBundle
    from registry.evaluate.samples import generate_gazette
    from registry.files.ingest import collect_files, prepare_files
    from registry.node.tsa import LOCAL_POLICY, LocalAuthority
    from registry.store.outbox import Store
    from registry.timestamps.config import load_config
    from registry.timestamps.stamper import Stamper
    from registry.verify.readers import LiveReader
    from registry.verify.verifier import Verifier

    out.mkdir(parents=True, exist_ok=True)
    say = typer.echo
    chain = Chain(connect(EMBEDDED))
    deployment = deploy_dev(chain)
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
    tsa = LocalAuthority(out)  # a real RFC 3161 authority (openssl ts) on 127.0.0.1, test root made in out/tsa
    stamps = load_config(out, [tsa.start()], [tsa.root_cert], LOCAL_POLICY, ["127.0.0.0/8"])
    try:
        anchorer = Anchorer(store, chain, account, "EP", out / "manifests", stamper=Stamper(stamps))
        anchorer.submit(prepare_files(files))
        proofs = out / "proofs"
        result = anchorer.run(proofs)
    finally:
        tsa.stop()
    batch = result.batches[0]
    say(f"3. anchored {result.records} records in one batch: root {batch.root}")
    say(f"   block {batch.block_number}, transaction {batch.tx_hash}, gas {batch.gas_used}")
    for token in result.tokens.get(batch.root, ()):
        size = len(token.token)
        say(f"   RFC 3161 time-stamp of the root by the local test authority {token.authority} ({size} bytes)")
    verifier = Verifier(LiveReader(chain), chain_id=deployment.chain_id, store=store, timestamp_anchors=stamps.anchors)

    record = next(r for r in store.batch_records(batch.id) if (r.source or "").endswith(".xml"))
    original = Path(record.source or "")
    bundle_path = proofs / bundle_name(record)
    bundle = ProofBundle.loads(bundle_path.read_bytes())
    verdict = verifier.verify_file(original.read_bytes(), original.name, bundle)
    say(f"4. verify {original.name} with its bundle: {verdict.verdict}")
    say(f"   {verdict.reason}")
    say(f"   block time      {verdict.anchored_at}")
    for t in verdict.timestamps:
        say(f"   authority time  {t.time or '(not shown)'} ({t.status}: {t.authority})")

    tampered = out / f"tampered-{original.name}"
    text = original.read_text(encoding="utf-8")
    altered = text.replace('languageCode="en">', 'languageCode="en">Improved ', 1)  # one changed word of the title
    tampered.write_text(altered, encoding="utf-8")
    verdict = verifier.verify_file(tampered.read_bytes(), tampered.name, bundle)
    say(f"5. verify a copy with one word added to the title, {tampered.name}: {verdict.verdict}")
    say(f"   {verdict.reason}")

    where = f"in {proofs}" if keep else "written, then removed with the demo's temporary folder (--out DIR keeps them)"
    say(f"6. {result.bundles} proof bundles (ipreg-proof-v1) {where}")

    from registry.config import Settings
    from registry.monitor import Monitor, Watch

    seen = Monitor(chain, store, Settings(home=out, rpc_url=EMBEDDED), Watch("EP")).pass_once()
    say(
        f"7. ipreg monitor --office EP: {len(seen.delivered)} finding(s) in blocks {seen.from_block}..{seen.to_block}"
        " (every act in EP's name was EP's own)"
    )
    say("   next: `ipreg chain up && ipreg deploy && ipreg anchor FOLDER --office EP` on a local anvil node")
