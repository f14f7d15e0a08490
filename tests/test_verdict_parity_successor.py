"""After a migration, one verdict whichever reader asks: later versions live in the successor (anvil, real chain).

The scenario: EP anchors two records in a registry; a successor registry naming it as ``predecessor()`` is
deployed and the first registry's governance freezes it in favour of the successor; EP anchors a new version of
one record there. A second pair: a registry frozen in favour of a "successor" that does not name it back
(the frozen registry's majority naming a hostile contract), with a "new version" anchored there.

What must never happen: the old record reading VERIFIED (on any reader, pinned on either registry) while its
new version stands in the confirmed successor; a reader that cannot look into the successor (the index, an
archive) saying VERIFIED without saying that later versions beyond the frozen registry were not checked; a
"successor" that does not name the frozen registry as its predecessor making a record SUPERSEDED.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode, start_anvil
from test_migration import freeze, genesis

from registry.anchor.pipeline import Anchorer, bundle_name
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy, deploy_offices
from registry.chain.dev import dev_account
from registry.core.contract import GovernanceRule
from registry.core.formats import ProofBundle
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import Store
from registry.verify.readers import ChainReader
from registry.verify.verdict import NOT_CHECKED, PASSED, SUPERSEDED, VERIFIED, Verdict
from registry.verify.verifier import Verifier
from registry.verify.versions import VersionSources

pytestmark = pytest.mark.anvil


@dataclass
class Migrated:
    """One anvil: the frozen registry, its successor, the office's outbox and the bundles of both."""

    node: AnvilNode
    chain: Chain
    store: Store
    tmp: Path
    first: str
    successor: str
    old: ProofBundle  # superseded by ``newer`` (anchored in the successor)
    control: ProofBundle  # no later version anywhere
    newer: ProofBundle
    hostile_first: str = ""
    hostile: str = ""
    hostile_old: ProofBundle | None = None
    unshipped_first: str = ""
    unshipped: str = ""
    unshipped_old: ProofBundle | None = None
    registries: dict[str, str] = field(default_factory=dict)


def _anchor(store: Store, chain: Chain, files: list[Path], tmp: Path, tag: str) -> list[ProofBundle]:
    anchorer = Anchorer(store, chain, dev_account(1), "EP", tmp / "manifests")
    anchorer.submit(prepare_files(files))
    proofs = tmp / f"proofs-{tag}"
    result = anchorer.run(proofs)
    return [
        ProofBundle.loads((proofs / bundle_name(r)).read_bytes())
        for b in result.batches
        for r in store.batch_records(b.id)
    ]


def _changed(original: Path, folder: Path) -> Path:
    changed = folder / original.name
    changed.parent.mkdir(parents=True, exist_ok=True)
    text = original.read_text(encoding="utf-8")
    changed.write_text(text.replace('languageCode="en">', 'languageCode="en">Corrected ', 1), encoding="utf-8")
    assert changed.read_bytes() != original.read_bytes()
    return changed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    tmp = tmp_path_factory.mktemp("successor")
    node = start_anvil(tmp / "chain")
    try:
        w3 = connect(node.rpc_url, timeout=60)
        first = Chain(w3)
        first_record = deploy(first, dev_account(0), genesis())
        store = Store(tmp / "ep.sqlite")
        files = sorted(generate_gazette(tmp / "g", office="EP", count=2, seed=11))
        bundles = {b.value.record_id: b for b in _anchor(store, first, files, tmp, "first")}
        successor = Chain(w3)
        successor_record = deploy(
            successor, dev_account(0), genesis(), predecessor=first_record.deployment.anchor_registry
        )
        freeze(first, successor_record.deployment.anchor_registry)
        (newer,) = _anchor(store, successor, [_changed(files[0], tmp / "new")], tmp, "successor")
        old = bundles[newer.value.record_id]
        control = next(b for r, b in bundles.items() if r != newer.value.record_id)
        assert newer.value.supersedes == "0x" + old.value.leaf().hex()
        world = Migrated(
            node, first, store, tmp, first_record.deployment.anchor_registry,
            successor_record.deployment.anchor_registry, old, control, newer,
        )  # fmt: skip
        _hostile(world, w3)
        _unshipped(world, w3)
        yield world
    finally:
        node.chain.stop()


def _hostile(world: Migrated, w3: object) -> None:
    """A registry frozen in favour of a contract that does not name it as its predecessor (a hostile majority's
    pick: a working AnchorRegistry of its own, naming no predecessor), holding a "new version" of a record."""
    first = Chain(w3)  # type: ignore[arg-type]
    record = deploy(first, dev_account(0), genesis())
    store = Store(world.tmp / "hostile.sqlite")
    files = sorted(generate_gazette(world.tmp / "h", office="EP", count=1, seed=12))
    (old,) = _anchor(store, first, files, world.tmp, "hostile-first")
    other = Chain(w3)  # type: ignore[arg-type]
    offices = [(o.code, o.name, o.base_uri, o.signers[0]) for o in genesis().offices]
    hostile = deploy_offices(other, dev_account(0), offices, GovernanceRule())
    other = Chain.for_registry(w3, hostile.anchor_registry)  # type: ignore[arg-type]
    assert int(other.predecessor(), 16) == 0
    freeze(first, hostile.anchor_registry)
    assert first.successor().lower() == hostile.anchor_registry.lower()
    (newer,) = _anchor(store, other, [_changed(files[0], world.tmp / "h-new")], world.tmp, "hostile-new")
    assert newer.value.supersedes == "0x" + old.value.leaf().hex()  # it does claim to supersede the record
    world.hostile_first = record.deployment.anchor_registry
    world.hostile = hostile.anchor_registry
    world.hostile_old = old
    world.registries["hostile-store"] = str(world.tmp / "hostile.sqlite")


def _unshipped(world: Migrated, w3: object) -> None:
    """A registry frozen in favour of a shipped AnchorRegistry that names it back but calls a contract that is no
    OfficeRegistry (an AnchorRegistry takes any address): its answers cannot be judged, never followed silently."""
    from registry.chain.deploy import _create
    from registry.node.toolchain import DEFAULT_EVM_VERSION

    first = Chain(w3)  # type: ignore[arg-type]
    record = deploy(first, dev_account(0), genesis())
    store = Store(world.tmp / "unshipped.sqlite")
    files = sorted(generate_gazette(world.tmp / "u", office="EP", count=1, seed=13))
    (old,) = _anchor(store, first, files, world.tmp, "unshipped-first")
    args = [world.first, record.deployment.anchor_registry]  # "office registry": code, but an AnchorRegistry's
    step = _create(first, dev_account(0), "AnchorRegistry", DEFAULT_EVM_VERSION, args, 1, 60.0)
    freeze(first, step.address)
    assert Chain.for_registry(first.w3, step.address).predecessor().lower() == record.deployment.anchor_registry.lower()
    world.unshipped_first = record.deployment.anchor_registry
    world.unshipped = step.address
    world.unshipped_old = old
    world.registries["unshipped-store"] = str(world.tmp / "unshipped.sqlite")


# -- the readers a verifier uses, each pinned on a given registry


def live(w: Migrated, registry: str) -> ChainReader:
    from registry.verify.readers import LiveReader

    return LiveReader(Chain.for_registry(w.chain.w3, registry))


def light(w: Migrated, registry: str) -> ChainReader:
    from registry.chain.light import LightReader

    return LightReader(w.node.rpc_url, registry)


def service(w: Migrated, registry: str) -> ChainReader:
    from registry.api.cache import CachedReader, PinnedReader

    cache = CachedReader(Chain.for_registry(w.chain.w3, registry))
    return PinnedReader(cache, int(w.chain.w3.eth.block_number))


def audit(w: Migrated, registry: str) -> ChainReader:
    from registry.audit.snapshot import SnapshotReader

    return SnapshotReader(Chain.for_registry(w.chain.w3, registry))


LIVE_READERS: dict[str, Callable[[Migrated, str], ChainReader]] = {
    "live": live,
    "light": light,
    "service": service,
    "audit": audit,
}


def _verdict(w: Migrated, reader: ChainReader, bundle: ProofBundle, store: Store | None = None) -> Verdict:
    store = store or w.store
    return Verifier(reader, sources=VersionSources(store)).verify_bundle(bundle)


@pytest.mark.parametrize("pinned", ["first", "successor"])
@pytest.mark.parametrize("path", sorted(LIVE_READERS))
def test_a_version_in_the_successor_supersedes_on_every_reader(world: Migrated, path: str, pinned: str) -> None:
    registry = world.first if pinned == "first" else world.successor
    reader = LIVE_READERS[path](world, registry)
    old = _verdict(world, reader, world.old)
    assert old.verdict == SUPERSEDED, old.checks
    assert old.superseded_by == f"{world.newer.value.record_id}@{world.newer.value.content_hash}"
    check = old.check("laterVersions")
    assert check is not None and check.result == PASSED and world.successor.lower() in check.detail.lower()
    # The record without a later version: VERIFIED, the check naming both registries it searched.
    control = _verdict(world, LIVE_READERS[path](world, registry), world.control)
    assert control.verdict == VERIFIED and control.not_checked == (), control.checks
    searched = control.check("laterVersions")
    assert searched is not None and searched.result == PASSED
    assert world.first.lower() in searched.detail.lower() and world.successor.lower() in searched.detail.lower()
    newer = _verdict(world, LIVE_READERS[path](world, registry), world.newer)
    assert newer.verdict == VERIFIED, newer.checks


def test_the_index_says_it_did_not_look_beyond_the_frozen_registry(world: Migrated) -> None:
    """The index holds the freeze but does not judge another registry's batches: never a silent VERIFIED."""
    from registry.api.index_reader import IndexReader
    from registry.indexer.sync import Indexer
    from registry.store.index import Index

    first = Chain.for_registry(world.chain.w3, world.first)
    indexer = Indexer(world.tmp / "auditor-index.sqlite", first, local_manifests=world.tmp / "manifests")
    try:
        indexer.sync()
        reader = IndexReader(Index(indexer.db), world.first, int(world.chain.w3.eth.chain_id))
        for bundle in (world.old, world.control):
            verdict = _verdict(world, reader, bundle)
            check = verdict.check("laterVersions")
            assert verdict.verdict in (VERIFIED, SUPERSEDED) and check is not None
            assert verdict.verdict == VERIFIED and check.result == NOT_CHECKED, verdict.checks
            assert "not checked beyond registry" in check.detail and world.successor.lower() in check.detail.lower()
            assert "laterVersions" in [c.name for c in verdict.not_checked] and "NOT CHECKED" in verdict.reason
    finally:
        indexer.close()


def test_an_index_of_a_registry_never_frozen_says_so(world: Migrated) -> None:
    """The successor itself is not frozen: the index answers the check in full (no false 'not checked')."""
    from registry.api.index_reader import IndexReader
    from registry.indexer.sync import Indexer
    from registry.store.index import Index

    successor = Chain.for_registry(world.chain.w3, world.successor)
    indexer = Indexer(world.tmp / "successor-index.sqlite", successor, local_manifests=world.tmp / "manifests")
    try:
        indexer.sync()
        reader = IndexReader(Index(indexer.db), world.successor, int(world.chain.w3.eth.chain_id))
        verdict = _verdict(world, reader, world.newer)
        check = verdict.check("laterVersions")
        assert verdict.verdict == VERIFIED and check is not None and check.result == PASSED, verdict.checks
    finally:
        indexer.close()


def test_an_archive_says_it_did_not_look_beyond_the_frozen_registry(world: Migrated) -> None:
    from registry.archive.export import export_archive
    from registry.archive.reader import ArchiveReader, load_archive

    path = world.tmp / "first-archive.json"
    export_archive(Chain.for_registry(world.chain.w3, world.first), path)
    reader = ArchiveReader(load_archive(path))
    verdict = _verdict(world, reader, world.old)
    check = verdict.check("laterVersions")
    assert verdict.verdict == VERIFIED and check is not None and check.result == NOT_CHECKED, verdict.checks
    assert "not checked beyond registry" in check.detail and "an archive holds one registry" in check.detail
    assert world.successor.lower() in check.detail.lower()
    # An archive of the successor (never frozen) answers the check in full.
    path = world.tmp / "successor-archive.json"
    export_archive(Chain.for_registry(world.chain.w3, world.successor), path)
    verdict = _verdict(world, ArchiveReader(load_archive(path)), world.newer)
    check = verdict.check("laterVersions")
    assert verdict.verdict == VERIFIED and check is not None and check.result == PASSED, verdict.checks


@pytest.mark.parametrize("path", sorted(LIVE_READERS))
def test_a_successor_not_naming_the_frozen_registry_is_not_followed(world: Migrated, path: str) -> None:
    """The frozen registry's majority named a contract that does not name it back: its versions do not count."""
    assert world.hostile_old is not None
    store = Store(Path(world.registries["hostile-store"]))
    verdict = _verdict(world, LIVE_READERS[path](world, world.hostile_first), world.hostile_old, store)
    check = verdict.check("laterVersions")
    assert verdict.verdict == VERIFIED and check is not None and check.result == PASSED, verdict.checks
    assert world.hostile.lower() not in check.detail.lower()
    # Pinned on the hostile contract, the frozen registry's bundle is another registry's (no link either way).
    foreign = _verdict(world, LIVE_READERS[path](world, world.hostile), world.hostile_old, store)
    assert foreign.verdict == "UNKNOWN" and foreign.reason_code == "foreign-registry"


@pytest.mark.parametrize("path", sorted(LIVE_READERS))
def test_a_successor_whose_contracts_are_not_shipped_builds_is_said_not_checked(world: Migrated, path: str) -> None:
    """The freeze guarantees only that the successor has code: one naming the frozen registry back but calling
    a contract that is no OfficeRegistry is not searched, and the check says so (never a silent VERIFIED)."""
    assert world.unshipped_old is not None
    store = Store(Path(world.registries["unshipped-store"]))
    verdict = _verdict(world, LIVE_READERS[path](world, world.unshipped_first), world.unshipped_old, store)
    check = verdict.check("laterVersions")
    assert verdict.verdict == VERIFIED and check is not None and check.result == NOT_CHECKED, verdict.checks
    assert f"not checked beyond registry {world.unshipped_first}" in check.detail
    assert "not a contract build this ipreg ships" in check.detail and world.unshipped.lower() in check.detail.lower()


def test_an_index_that_cannot_tell_whether_the_registry_was_frozen_says_so(world: Migrated) -> None:
    """An index built before freezes were indexed does not know where later versions are: never a silent VERIFIED.
    A reorganisation below the freeze forgets it with the rest."""
    from registry.api.index_reader import IndexReader
    from registry.indexer.sync import Indexer
    from registry.store.index import FREEZES, Index

    first = Chain.for_registry(world.chain.w3, world.first)
    indexer = Indexer(world.tmp / "old-index.sqlite", first, local_manifests=world.tmp / "manifests")
    try:
        indexer.sync()
        index = Index(indexer.db)
        office_registry = index.meta()["officeRegistry"]
        frozen = index.frozen(office_registry)
        assert isinstance(frozen, tuple) and frozen[0] == first.frozen_at()
        kept = [n for n, _ in index.kept_blocks() if n < frozen[0]]
        with indexer.writer.transaction() as db:  # as an index synced by an earlier release left it
            db.execute("DELETE FROM idx_meta WHERE key = ? OR key LIKE 'frozen:%'", (FREEZES,))
        reader = IndexReader(index, world.first, int(world.chain.w3.eth.chain_id))
        verdict = _verdict(world, reader, world.control)
        check = verdict.check("laterVersions")
        assert verdict.verdict == VERIFIED and check is not None and check.result == NOT_CHECKED, verdict.checks
        assert "built before freezes were indexed" in check.detail
        indexer.writer.restart(0, index.meta()["versions"])  # read again from the start: the freeze is seen
        indexer.sync()
        assert index.frozen(office_registry) == frozen
        assert kept  # the chain is shorter than the reorganisation window: every block is kept
        indexer.writer.roll_back(max(kept), {})  # a reorganisation to a block before the freeze forgets it
        assert index.frozen(office_registry) is None
    finally:
        indexer.close()


def test_the_successor_chain_is_followed_a_bounded_number_of_hops(tmp_path: Path) -> None:
    """Registries frozen one into the next: versions are searched through MAX_HOPS successors, and the check says
    when the chain goes on beyond them (in-process EVM)."""
    from registry.config import EMBEDDED
    from registry.verify.readers import LiveReader
    from registry.verify.versions import MAX_HOPS

    w3 = connect(EMBEDDED)
    chains = [Chain(w3)]
    deploy(chains[0], dev_account(0), genesis())
    store = Store(tmp_path / "ep.sqlite")
    files = sorted(generate_gazette(tmp_path / "g", office="EP", count=2, seed=14))
    bundles = {b.value.record_id: b for b in _anchor(store, chains[0], files, tmp_path, "0")}
    for hop in range(1, MAX_HOPS + 2):
        following = Chain(w3)
        previous = chains[-1].deployment
        assert previous is not None
        record = deploy(following, dev_account(0), genesis(), predecessor=previous.anchor_registry)
        freeze(chains[-1], record.deployment.anchor_registry)
        chains.append(following)
        if hop == MAX_HOPS:  # the last one followed holds the new version
            (newer,) = _anchor(store, following, [_changed(files[0], tmp_path / "new")], tmp_path, "new")
    old = bundles.pop(newer.value.record_id)
    (other,) = bundles.values()
    first = chains[0].deployment
    assert first is not None
    verdict = Verifier(LiveReader(Chain.for_registry(w3, first.anchor_registry)), store=store).verify_bundle(old)
    assert (
        verdict.verdict == SUPERSEDED and verdict.superseded_by == f"{newer.value.record_id}@{newer.value.content_hash}"
    )
    control = Verifier(LiveReader(Chain.for_registry(w3, first.anchor_registry)), store=store).verify_bundle(other)
    check = control.check("laterVersions")  # no later version in 9 registries searched, and a 10th beyond
    assert control.verdict == VERIFIED and check is not None and check.result == NOT_CHECKED, control.checks
    assert f"at most {MAX_HOPS} successors are followed" in check.detail
