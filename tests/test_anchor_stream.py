"""The streaming pipeline: whole-input check, staging, flat chunks, fast bundle bytes, bundle archives."""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.anchor.bundles import PARALLEL_BUNDLES, BatchRenderer, BundleWriter, proof_texts
from registry.anchor.pipeline import Anchorer, bundle_name
from registry.anchor.staging import Intake, stage_input
from registry.anchor.stored import batch_bundles
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import EMBEDDED
from registry.core.formats import ProofBundle
from registry.core.leaves import LeafValue
from registry.core.merkle import MerkleTree, keccak
from registry.errors import InputError
from registry.evaluate.samples import generate_gazette
from registry.files.archives import archive_name, pick_from_archive
from registry.files.ingest import StageOptions, iter_files, start_workers, stream_staged
from registry.store.outbox import Store
from registry.verify.verdict import TAMPERED, VERIFIED
from registry.verify.verdicts import verify_file

HEX32 = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())


@pytest.fixture
def chain() -> Chain:
    c = Chain(connect(EMBEDDED))
    deploy_dev(c)
    return c


def make_anchorer(tmp_path: Path, chain: Chain, batch_size: int = 10_000, office: str = "EP") -> Anchorer:
    account = dev_signer(office)
    assert account is not None
    return Anchorer(Store(tmp_path / "store.sqlite"), chain, account, office, tmp_path / "m", batch_size=batch_size)


def stage(a: Anchorer, *paths: Path, allow_empty: bool = False, workers: int = 1) -> Intake:
    return stage_input(a.store, iter_files(paths), StageOptions(a.office, allow_empty=allow_empty), workers=workers)


# ---------------------------------------------------------------------------- bundle bytes


@settings(max_examples=150, deadline=None)
@given(
    chain_id=st.integers(min_value=1, max_value=2**64),
    registry=st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    office=st.sampled_from(["EP", "US", "JP"]),
    root=HEX32,
    record_id=st.one_of(st.from_regex(r"[A-Z]{2}:[0-9]{1,12}(:[A-Z][0-9]?)?", fullmatch=True), st.text(max_size=30)),
    content=HEX32,
    method=st.sampled_from(["xml-c14n2", "json-jcs", "raw", "sealed-sha256"]),
    supersedes=HEX32,
    proof=st.lists(HEX32, max_size=40),
    leaf_count=st.integers(min_value=1, max_value=2**32 - 1),
    tx=st.one_of(HEX32, st.just("")),
    block=st.integers(min_value=0, max_value=2**63),
    at=st.text(max_size=25),
)
def test_fast_renderer_writes_exactly_the_bytes_of_proof_bundle_dumps(
    chain_id: int,
    registry: str,
    office: str,
    root: str,
    record_id: str,
    content: str,
    method: str,
    supersedes: str,
    proof: list[str],
    leaf_count: int,
    tx: str,
    block: int,
    at: str,
) -> None:
    value = LeafValue(record_id, content, method, supersedes)
    bundle = ProofBundle(chain_id, registry, office, root, value, tuple(proof), leaf_count, tx, block, at)
    renderer = BatchRenderer.of(chain_id, registry, office, root, leaf_count, tx, block, at)
    text = ", ".join(f'"{p}"' for p in proof)
    assert renderer.render(value.as_list(), text) == bundle.dumps().encode("utf-8")
    assert json.loads(renderer.line(value.as_list(), text)) == bundle.to_json()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True))
def test_proof_texts_are_the_trees_proofs(leaves: list[bytes]) -> None:
    tree = MerkleTree.from_leaves(leaves)
    expected = [", ".join(f'"0x{p.hex()}"' for p in proof) for proof in tree.proofs()]
    assert proof_texts(tree) == expected


# ---------------------------------------------------------------------------- whole-input check


def bad_folder(tmp_path: Path) -> tuple[Path, list[Path]]:
    folder = tmp_path / "g"
    generate_gazette(folder, office="EP", count=6, seed=11, kinds=("st96-patent", "st97-json", "pdf"))
    bad = [folder / "EP-9000001-A1.pdf", folder / "EP-9000002-A1.xml", folder / "US-9000003-A1.pdf"]
    bad[0].write_bytes(b"")  # empty
    bad[1].write_bytes(b"<a><b></a>")  # malformed
    bad[2].write_bytes(b"%PDF-1.4 another office")  # not EP's
    (folder / "x").mkdir()
    versions = [folder / "x" / "EP-9000004-A1.pdf", folder / "x" / "EP-9000004-A1.txt"]
    versions[0].write_bytes(b"%PDF-1.4 one")
    versions[1].write_bytes(b"%PDF-1.4 two")  # same record id, other content
    return folder, bad + versions


def test_every_bad_file_is_listed_in_one_pass_and_nothing_is_accepted(tmp_path: Path, chain: Chain) -> None:
    folder, bad = bad_folder(tmp_path)
    a = make_anchorer(tmp_path, chain)
    intake = stage(a, folder)
    assert intake.files == 11
    assert sorted(e.path for e in intake.errors) == sorted(str(p) for p in bad)
    reasons = {Path(e.path).name: e.message for e in intake.errors}
    assert "empty file" in reasons["EP-9000001-A1.pdf"] and "--allow-empty" in reasons["EP-9000001-A1.pdf"]
    assert "malformed XML" in reasons["EP-9000002-A1.xml"]
    assert "belongs to US" in reasons["US-9000003-A1.pdf"]
    assert "2 different contents" in reasons["EP-9000004-A1.txt"]
    assert intake.conflicting == ["EP:9000004:A1"]
    # Staged, not accepted: neither this connection's outbox nor another connection sees a record.
    assert a.store.counts()["records"] == 0
    assert Store(a.store.path).counts()["records"] == 0
    assert a.store.staged_count() > 0
    staged = {row[0] for row in a.store.staged_rows(1, a.store.staged_count())}
    assert staged.isdisjoint(str(p) for p in bad)  # the two versions of EP:9000004:A1 are unstaged too


def test_skip_bad_anchors_the_good_files_only(tmp_path: Path, chain: Chain) -> None:
    folder, bad = bad_folder(tmp_path)
    a = make_anchorer(tmp_path, chain)
    stage(a, folder)
    submitted, result = a.anchor_staged(tmp_path / "proofs")
    assert submitted.accepted == result.records == 6
    anchored = {r.source for b in result.batches for r in a.store.batch_records(b.id)}
    assert anchored.isdisjoint(str(p) for p in bad)
    assert len(list((tmp_path / "proofs").glob("*.proof.json"))) == 6


def test_empty_files_are_anchored_only_when_asked(tmp_path: Path, chain: Chain) -> None:
    empty = tmp_path / "EP-1000001-A1.pdf"
    empty.write_bytes(b"")
    a = make_anchorer(tmp_path, chain)
    assert [e.path for e in stage(a, empty).errors] == [str(empty)]
    intake = stage(a, empty, allow_empty=True)
    assert intake.errors == [] and intake.staged == 1
    submitted, result = a.anchor_staged(tmp_path / "proofs")
    assert submitted.accepted == result.records == 1


def test_streaming_keeps_a_bounded_number_of_files_in_flight(tmp_path: Path) -> None:
    files = [str(p) for p in generate_gazette(tmp_path / "g", office="EP", count=60, seed=12)]
    taken = 0

    def feed() -> Iterator[str]:
        nonlocal taken
        for f in files:
            taken += 1
            yield f

    stream = stream_staged(feed(), StageOptions("EP"), workers=2, chunk=5)
    first = next(stream)
    assert len(first) == 5
    assert taken <= 5 * (2 * 2 + 1) + 1  # at most 2 x workers chunks submitted ahead, not the whole input
    rest = [row for part in stream for row in part]
    assert [row[0] for row in first + rest] == files  # input order kept


# ---------------------------------------------------------------------------- chunks and resumption


def test_chunked_run_batches_in_order_and_rerun_is_a_noop(tmp_path: Path, chain: Chain) -> None:
    folder = tmp_path / "g"
    generate_gazette(folder, office="EP", count=25, seed=13, kinds=("st96-patent", "st97-json"))
    a = make_anchorer(tmp_path, chain, batch_size=7)
    stage(a, folder, workers=2)
    submitted, result = a.anchor_staged(tmp_path / "proofs")
    assert submitted.accepted == 25 and [b.leaf_count for b in result.batches] == [7, 7, 7, 4]
    stage(a, folder)
    again, rerun = a.anchor_staged(tmp_path / "proofs")
    assert (again.accepted, again.already, rerun.batches) == (0, 25, [])
    assert len(chain.anchors.events.BatchAnchored().get_logs(from_block=0)) == 4


def test_a_half_written_bundle_is_rewritten_by_the_rerun(tmp_path: Path, chain: Chain) -> None:
    folder = tmp_path / "g"
    generate_gazette(folder, office="EP", count=5, seed=14)
    a = make_anchorer(tmp_path, chain)
    stage(a, folder)
    a.anchor_staged(tmp_path / "proofs")
    victim = sorted((tmp_path / "proofs").glob("*.proof.json"))[2]
    whole = victim.read_bytes()
    victim.write_bytes(whole[:100])  # what a crash mid-write leaves
    stage(a, folder)
    _, result = a.anchor_staged(tmp_path / "proofs")
    assert result.bundles == 1 and victim.read_bytes() == whole


def test_per_file_bundles_equal_the_reference_serializer(tmp_path: Path, chain: Chain) -> None:
    folder = tmp_path / "g"
    generate_gazette(folder, office="EP", count=9, seed=15, kinds=("st96-patent", "st97-json", "pdf"))
    a = make_anchorer(tmp_path, chain, batch_size=4)
    stage(a, folder)
    _, result = a.anchor_staged(tmp_path / "proofs")
    for batch in result.batches:
        for record, bundle in batch_bundles(a.store, chain, batch):
            assert (tmp_path / "proofs" / bundle_name(record)).read_bytes() == bundle.dumps().encode()


# ---------------------------------------------------------------------------- archives


@pytest.mark.parametrize("fmt", ["zip", "jsonl"])
def test_archive_per_batch_verifies_each_record(tmp_path: Path, chain: Chain, fmt: str) -> None:
    folder = tmp_path / "g"
    files = generate_gazette(folder, office="EP", count=7, seed=16, kinds=("st96-patent", "st97-json", "pdf"))
    a = make_anchorer(tmp_path, chain, batch_size=4)
    stage(a, folder)
    _, result = a.anchor_staged(tmp_path / "proofs", archive=fmt)
    archives = sorted((tmp_path / "proofs").iterdir())
    assert [p.name for p in archives] == sorted(archive_name(b.root, fmt) for b in result.batches)
    assert result.bundles == 7
    if fmt == "zip":
        for batch in result.batches:
            with zipfile.ZipFile(tmp_path / "proofs" / archive_name(batch.root, fmt)) as z:
                for record, bundle in batch_bundles(a.store, chain, batch):
                    assert z.read(bundle_name(record)) == bundle.dumps().encode()  # the per-file bytes

    def owner_of(path: Path) -> Path:
        return next(
            p for p in archives if any(str(r.source) == str(path) for r in a.store.batch_records(_batch_of(a, p).id))
        )

    for path in files:
        data = path.read_bytes()
        bundle = pick_from_archive(owner_of(path), path.name, data)
        assert verify_file(chain, a.store, data, path.name, bundle).verdict == VERIFIED
    # A changed file gets its record's bundle, and so the verdict TAMPERED.
    changed = tmp_path / files[0].name
    changed.write_bytes(files[0].read_bytes().replace(b"</pat:PatentPublication>", b"<x/></pat:PatentPublication>"))
    owner = owner_of(files[0])
    bundle = pick_from_archive(owner, changed.name, changed.read_bytes())
    assert verify_file(chain, a.store, changed.read_bytes(), changed.name, bundle).verdict == TAMPERED
    stranger = tmp_path / "EP-7777777-A1.pdf"
    stranger.write_bytes(b"%PDF-1.4 not in any batch")
    with pytest.raises(InputError, match="holds no bundle"):
        pick_from_archive(owner, stranger.name, stranger.read_bytes())


def _batch_of(a: Anchorer, archive: Path):  # type: ignore[no-untyped-def]
    root = archive.name.split("-", 1)[1].split(".", 1)[0]
    batch = a.store.batch_by_root(root)
    assert batch is not None
    return batch


def test_archive_lookup_ignores_a_hash_mentioned_only_by_another_record(tmp_path: Path) -> None:
    renderer = BatchRenderer.of(1, "0x" + "11" * 20, "EP", "0x" + "22" * 32, 2, "0x" + "33" * 32, 1, "t")
    wanted = "0x" + keccak(b"a").hex()
    other = LeafValue("EP:1:A1", "0x" + keccak(b"b").hex(), "raw", wanted)  # names the hash as supersedes
    path = tmp_path / "a.proofs.jsonl"
    path.write_bytes(renderer.line(other.as_list(), '"0x' + "44" * 32 + '"'))
    with pytest.raises(InputError, match="holds no bundle"):
        pick_from_archive(path, content_hash=wanted)
    assert pick_from_archive(path, record_id="EP:1:A1").value == other


def test_walk_skips_hidden_special_files_and_linked_folders(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "g"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.pdf").write_bytes(b"b")
    (folder / "sub" / "a.pdf").write_bytes(b"a")
    (folder / ".hidden.pdf").write_bytes(b"h")
    os.mkfifo(folder / "pipe.pdf")  # opening it would block the run
    (folder / "link").symlink_to(folder / "sub")  # a loop would never end
    assert list(iter_files([folder])) == [str(folder / "b.pdf"), str(folder / "sub" / "a.pdf")]
    with pytest.raises(InputError, match=r"nowhere.*elsewhere"):
        list(iter_files([folder / "nowhere", folder / "elsewhere"]))


# ---------------------------------------------------------------------------- bundles on the workers
#
# Must never happen: a bundle written by a worker that differs by one byte from the one this process
# would write, a bundle lost or written twice when a batch is split among workers, or a failed write
# that passes silently (the run must fail, after every job has finished).


def _synthetic_batch(n: int, seed: int) -> tuple[BatchRenderer, MerkleTree, list[tuple[str, list[str]]]]:
    rng = random.Random(seed)
    values = [
        LeafValue(f"EP:{1_000_000 + i}:B1", "0x" + rng.randbytes(32).hex(), "xml-c14n2-v2").as_list() for i in range(n)
    ]
    tree = MerkleTree.from_leaves([LeafValue(*v).leaf() for v in values])
    renderer = BatchRenderer.of(31337, "0x" + "ab" * 20, "EP", "0x" + tree.root.hex(), n, "0x" + "cd" * 32, 7, "t")
    return renderer, tree, [(f"EP-{1_000_000 + i}-B1.proof.json", v) for i, v in enumerate(values)]


@pytest.mark.parametrize("archive", [None, "zip", "jsonl"])
def test_bundles_written_on_workers_are_those_written_here(tmp_path: Path, archive: str | None) -> None:
    n = PARALLEL_BUNDLES + 501  # large enough for the workers, split unevenly
    renderer, tree, items = _synthetic_batch(n, 21)
    pool = start_workers(StageOptions("EP"), 2)
    assert pool is not None
    outputs = []
    with pool:
        for writer, where in ((BundleWriter(pool, 2), "workers"), (BundleWriter(), "here")):
            folder = tmp_path / where
            folder.mkdir()
            target = folder / archive_name("0x" + tree.root.hex(), archive) if archive else folder
            writer.write(renderer, target, tree, items, archive)
            assert writer.finish() == n
            outputs.append({p.name: p.read_bytes() for p in folder.iterdir()})
    assert outputs[0] == outputs[1]
    if archive is None:
        assert len(outputs[0]) == n
        texts = proof_texts(tree)
        for (name, value), text in list(zip(items, texts, strict=True))[:: n // 20]:
            assert outputs[0][name] == renderer.render(value, text)


def test_a_failed_bundle_job_fails_the_run_after_every_job(tmp_path: Path) -> None:
    renderer, tree, items = _synthetic_batch(PARALLEL_BUNDLES * 2, 22)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_bytes(b"x")
    pool = start_workers(StageOptions("EP"), 2)
    assert pool is not None
    with pool:
        good = BundleWriter(pool, 2)
        good.write(renderer, tmp_path, tree, items)
        bad = BundleWriter(pool, 2)
        bad.write(renderer, not_a_folder, tree, items)
        with pytest.raises(NotADirectoryError):
            bad.finish()
        assert not bad._flight  # every job was waited for
        assert good.finish() == len(items)


def test_a_run_with_workers_writes_every_bundle_once_and_each_verifies(tmp_path: Path, chain: Chain) -> None:
    folder = tmp_path / "g"
    files = generate_gazette(folder, office="EP", count=PARALLEL_BUNDLES + 300, seed=23, kinds=("pdf",))
    options = StageOptions("EP")
    pool = start_workers(options, 2)
    assert pool is not None
    with pool:
        a = make_anchorer(tmp_path, chain, batch_size=PARALLEL_BUNDLES + 100)
        a.pool = pool
        stage_input(a.store, iter_files([folder]), options, pool=pool)
        _, result = a.anchor_staged(tmp_path / "proofs")
    assert result.bundles == len(files) and [b.leaf_count for b in result.batches] == [PARALLEL_BUNDLES + 100, 200]
    written = {p.name: p.read_bytes() for p in (tmp_path / "proofs").iterdir()}
    expected = {
        bundle_name(record): bundle.dumps().encode()
        for batch in result.batches
        for record, bundle in batch_bundles(a.store, chain, batch)
    }
    assert written == expected
    for path in files[:: len(files) // 10]:
        record = a.store.latest_versions([f"EP:{path.stem.split('-')[1]}:{path.stem.split('-')[2]}"])
        (stored,) = record.values()
        bundle = ProofBundle.loads(written[bundle_name(stored)])
        assert verify_file(chain, a.store, path.read_bytes(), path.name, bundle).verdict == VERIFIED
