"""The streaming audit against today's in-memory one, and the spill that makes it flat.

What must never happen:
- a record reported VERIFIED that is not (or any verdict or reason other than the in-memory audit's):
  random scenarios (versions, a revoked leaf, a revoked batch, tampered and unreadable files,
  unreadable and duplicated bundles, missing and extra expected entries) give exactly the rows of
  ``_audit_main`` (a copy of the audit before streaming), in the same order;
- a row lost or counted twice when spilling: what is iterated back is what was added, and the
  counts (statuses, unexpected, attention, batches) are those of the rows;
- a report file left half-written: a failure while writing leaves the old file and no temporary one;
- hashing workers outliving a killed audit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import _audit_main as reference
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.anchor.pipeline import Anchorer
from registry.audit.expected import ExpectedList, load_expected, parse_expected
from registry.audit.html import batches_over_time
from registry.audit.report import MISSING, AuditReport, AuditRow, RowLog
from registry.audit.run import audit_feed, audit_folder
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core.leaves import LeafValue
from registry.core.merkle import MerkleTree
from registry.evaluate.samples import generate_gazette
from registry.files.atomic import write_atomic
from registry.files.ingest import prepare_file, prepare_files
from registry.indexer.sync import Indexer
from registry.store.outbox import Store

#: Summary figures that are timings (they differ between any two runs).
_TIMINGS = {"seconds", "hashSeconds", "verifySeconds", "recordsPerSecond", "verifiedPerSecond", "startedAt"}


@dataclass
class World:
    chain: Chain
    office_store: Store
    auditor: Store
    proofs: Path
    pool: dict[str, bytes]  # publication files an auditor may hold: every version, the extra record
    ids: list[str]


def _revoke_leaf(chain: Chain, store: Store, batch_id: int, root: str, source: str) -> None:
    ep = dev_signer("EP")
    assert ep is not None
    records = store.batch_records(batch_id)
    tree = MerkleTree.from_leaves([r.leaf for r in records])
    k = next(i for i, r in enumerate(records) if r.source == source)
    r = records[k]
    values = LeafValue(r.record_id, r.content_hash, r.canonicalization, r.supersedes)
    chain.revoke_leaf(ep, bytes.fromhex(root[2:]), values.encode(), tree.proof(k), 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("stream")
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    ep = dev_signer("EP")
    assert ep is not None
    store = Store(tmp / "office.sqlite")
    anchorer = Anchorer(store, chain, ep, "EP", tmp / "manifests")
    proofs = tmp / "proofs"
    files = generate_gazette(tmp / "g", office="EP", count=10, seed=7, kinds=("st96-patent", "st97-json", "pdf"))
    pool = {f"v1/{f.name}": f.read_bytes() for f in files}
    anchorer.submit(prepare_files(files))
    (first,) = anchorer.run(proofs).batches
    _revoke_leaf(chain, store, first.id, first.root, str(files[0]))
    pdfs = [f for f in files if f.suffix == ".pdf"]
    assert len(pdfs) >= 2
    # A corrected version of pdfs[0] (batch 2), with a record not anchored before.
    pdfs[0].write_bytes(pdfs[0].read_bytes() + b"\n% corrected\n")
    pool[f"v2/{pdfs[0].name}"] = pdfs[0].read_bytes()
    (extra,) = generate_gazette(tmp / "extra", office="EP", count=1, seed=99, kinds=("pdf",))
    pool[f"x/{extra.name}"] = extra.read_bytes()
    anchorer.submit(prepare_files([pdfs[0], extra]))
    anchorer.run(proofs)
    # A corrected version of pdfs[1] in a batch revoked as a whole: it supersedes nothing.
    pdfs[1].write_bytes(pdfs[1].read_bytes() + b"\n% corrected\n")
    pool[f"v2b/{pdfs[1].name}"] = pdfs[1].read_bytes()
    anchorer.submit(prepare_files([pdfs[1]]))
    (third,) = anchorer.run(proofs).batches
    chain.revoke_batch(ep, bytes.fromhex(third.root[2:]), 2)
    auditor = Store(tmp / "auditor.sqlite")
    indexer = Indexer(auditor.path, chain)
    assert indexer.sync().manifest_failures == []
    indexer.close()
    ids = [str(prepare_file(f).record_id) for f in [*files, extra]]
    return World(chain, store, auditor, proofs, pool, ids)


def _stable(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in _TIMINGS}


def _row(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row.to_json().items() if k != "reasonCode"}  # the reference's rows predate it


def _rows(report: Any) -> list[dict[str, Any]]:
    return [_row(r) for r in report.rows]


def _same(new: AuditReport, old: Any) -> None:
    assert _rows(new) == _rows(old)
    assert _stable(new.summary()) == _stable(old.summary())
    assert [_row(r) for r in new.attention] == [_row(r) for r in old.attention]
    assert batches_over_time(new) == reference.batches_over_time(old)
    assert sum(new.status_counts.values()) == len(new.rows) == new.records + new.status_counts.get(MISSING, 0)


def _expected_lines(world: World, picks: list[int], bare: list[bool], strangers: int) -> str:
    lines = ["publication_number,kind"]
    for k, no_kind in zip(picks, bare, strict=False):
        rid = world.ids[k % len(world.ids)]
        lines.append(rid.rsplit(":", 1)[0] if no_kind else rid)
    lines += [f"EP:{9_000_000 + n}:A1" for n in range(strangers)]
    return "\n".join(lines)


expected_strategy = st.one_of(
    st.none(),
    st.tuples(
        st.lists(st.integers(0, 20), max_size=14),
        st.lists(st.booleans(), min_size=14, max_size=14),
        st.integers(0, 3),
    ),
)


_MODES: Final = ("bundles", "index", "index+bundles", "outbox+bundles")


def _audit_both(
    world: World,
    names: set[str],
    tampered: set[str],
    junk: int,
    dropped: set[Path],
    twins: set[Path],
    bad: int,
    mode: str,
    expected_text: str | None,
) -> AuditReport:
    """Audit one folder with the streaming and with the in-memory code; check they agree; the new report."""
    with tempfile.TemporaryDirectory() as tmp:
        folder, proofs = Path(tmp) / "folder", Path(tmp) / "proofs"
        folder.mkdir()
        proofs.mkdir()
        for name in names:
            body = world.pool[name] + (b"\n% tampered\n" if name in tampered and name.endswith(".pdf") else b"")
            (folder / name).parent.mkdir(exist_ok=True)
            (folder / name).write_bytes(body)
        for n in range(junk):
            (folder / f"junk-{n}.xml").write_bytes(b"<not really")
        for path in sorted(world.proofs.glob("*.proof.json")):
            if path not in dropped:
                shutil.copy(path, proofs / path.name)
            if path in twins:
                shutil.copy(path, proofs / f"twin-{path.name}")
        for n in range(bad):
            (proofs / f"bad-{n}.proof.json").write_bytes(b'{"format": "nope"')
        entries = parse_expected(expected_text, "EP") if expected_text is not None else None
        store = {"bundles": None, "index": world.auditor, "outbox+bundles": world.office_store}.get(mode, world.auditor)
        given_proofs = proofs if "bundles" in mode else None
        old = reference.audit_folder(world.chain, store, folder, "EP", given_proofs, entries, workers=1)
        new = audit_folder(world.chain, store, folder, "EP", given_proofs, entries, workers=1)
        _same(new, old)
        return new


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), mode=st.sampled_from(_MODES), expected=expected_strategy)
def test_folder_audit_gives_the_rows_of_the_in_memory_audit(
    world: World, data: st.DataObject, mode: str, expected: tuple[list[int], list[bool], int] | None
) -> None:
    pool = sorted(world.pool)
    bundles = sorted(world.proofs.glob("*.proof.json"))
    names = data.draw(st.sets(st.sampled_from(pool)), "files")
    tampered = data.draw(st.sets(st.sampled_from(sorted(names))) if names else st.just(set()), "tampered")
    dropped = data.draw(st.sets(st.sampled_from(bundles), max_size=4), "dropped bundles")
    twins = data.draw(st.sets(st.sampled_from(bundles), max_size=2), "twin bundles")
    junk, bad = data.draw(st.integers(0, 2), "junk files"), data.draw(st.integers(0, 2), "bad bundles")
    text = _expected_lines(world, *expected) if expected is not None else None
    _audit_both(world, names, tampered, junk, dropped, twins, bad, mode, text)


@pytest.mark.parametrize("mode", _MODES)
def test_every_verdict_of_a_full_folder_is_the_in_memory_one(world: World, mode: str) -> None:
    """Every version and every bundle, the pdfs tampered as well: all the verdicts the scenario is about."""
    pdfs = {n for n in world.pool if n.endswith(".pdf") and n.startswith("v1/")}
    text = _expected_lines(world, list(range(0, 11, 2)), [True, False] * 7, 2)
    report = _audit_both(world, set(world.pool), set(), 1, set(), set(), 1, mode, text)
    assert {"VERIFIED", "REVOKED", "SUPERSEDED", "UNKNOWN", MISSING} <= set(report.status_counts)
    tampered = _audit_both(world, pdfs, pdfs, 0, set(), set(), 0, mode, None)
    assert "TAMPERED" in tampered.status_counts


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expected=expected_strategy)
def test_feed_audit_gives_the_rows_of_the_in_memory_audit(
    world: World, expected: tuple[list[int], list[bool], int] | None
) -> None:
    entries = parse_expected(_expected_lines(world, *expected), "EP") if expected is not None else None
    old = reference.audit_feed(world.chain, world.auditor, "EP", entries)
    new = audit_feed(world.chain, world.auditor, "EP", entries)
    _same(new, old)
    statuses = {r.status for r in new.rows}
    assert {"VERIFIED", "REVOKED"} <= statuses  # the scenario reaches the verdicts it is about


def test_expected_list_from_a_file_matches_the_parsed_text(world: World, tmp_path: Path) -> None:
    text = _expected_lines(world, [0, 1, 2, 3, 4, 11], [False, True, False, True, False, False], 2)
    path = tmp_path / "expected.csv"
    path.write_text("\ufeff" + text.replace("\n", "\r\n") + "\n\x0c# trailing\n", encoding="utf-8")
    from_file = load_expected(path, "EP")
    assert list(from_file.unmatched()) == parse_expected(text + "\n\x0c# trailing", "EP")
    assert from_file.count == len(parse_expected(text, "EP"))
    new = audit_feed(world.chain, world.auditor, "EP", from_file)
    old = reference.audit_feed(world.chain, world.auditor, "EP", parse_expected(text, "EP"))
    assert _rows(new) == _rows(old)


# ---------------------------------------------------------------------------- the spill

text_st = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
rows_st = st.lists(
    st.builds(
        AuditRow,
        status=st.sampled_from(["VERIFIED", "TAMPERED", "REVOKED", "SUPERSEDED", "UNKNOWN", MISSING]),
        reason=text_st,
        record_id=st.one_of(st.none(), text_st),
        file=st.one_of(st.none(), text_st, st.just("bad-\udce9-name.xml")),
        expected=st.sampled_from([None, True, False]),
        root=st.one_of(st.none(), st.sampled_from(["0xaa", "0xbb", "0xcc"])),
        block_number=st.one_of(st.none(), st.integers(0, 2**40)),
        anchored_at=st.one_of(st.none(), st.just("2026-01-01T00:00:00Z")),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows_st)
def test_spilled_rows_come_back_exactly_and_the_counts_add_up(rows: list[AuditRow]) -> None:
    log = RowLog()
    for k, row in enumerate(rows):
        log.add(row)
        if k == len(rows) // 2:
            assert list(log) == rows[: k + 1]  # reading while adding loses nothing
    assert list(log) == rows and list(log) == rows and len(log) == len(rows)
    status: dict[str, int] = {}
    for r in rows:
        status[r.status] = status.get(r.status, 0) + 1
    assert log.status_counts == status and sum(log.status_counts.values()) == len(rows)
    assert sum(log.unexpected_by_status.values()) == sum(1 for r in rows if r.expected is False)
    assert log.attention == sum(1 for r in rows if r.attention)
    assert sum(b[3] for b in log.batches.values()) == sum(1 for r in rows if r.root and r.block_number is not None)
    report = AuditReport("EP", "feed", 1, "0x" + "12" * 20, 5, "2026-12-01T10:00:00Z", log)
    assert report.records + report.status_counts.get(MISSING, 0) == len(rows)
    with tempfile.TemporaryFile() as out:
        report.write_json(out)
        out.seek(0)
        body = json.loads(out.read())
    assert body == json.loads(json.dumps(report.to_json()))
    assert len(body["rows"]) == body["rowCount"] == len(rows) and len(body["attentionRows"]) == body["attention"]
    log.close()


def test_a_report_that_fails_while_written_leaves_the_old_file(tmp_path: Path) -> None:
    report = AuditReport(
        "EP", "feed", 1, "0x" + "12" * 20, 5, "2026-12-01T10:00:00Z", [AuditRow("VERIFIED", "", "EP:1:A1")]
    )
    target = tmp_path / "out" / "report.json"
    report.save_json(target)
    before = target.read_bytes()
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # as readable as any file written, not 0600
    assert json.loads(before)["rows"][0]["recordId"] == "EP:1:A1"

    def broken(out: IO[bytes]) -> None:
        out.write(b'{"format": "ipreg-audit-v1", "rows": [')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(target, broken)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]


def test_expected_list_lives_in_a_temporary_database() -> None:
    entries = parse_expected("EP:1:A1\nEP:1\nEP:2:B1", "EP")
    listed = ExpectedList(entries)
    assert listed.db.execute("PRAGMA database_list").fetchone()[2] == ""  # SQLite's temporary file
    assert listed.match("EP", "1", "A1") and not listed.match("EP", "2", "A1")
    assert [e.label for e in listed.unmatched()] == ["EP:2:B1"]


# ---------------------------------------------------------------------------- workers

_HASHER = """
import sys, time
from registry.audit.hashing import hash_files
paths = [sys.argv[1]] * 3000
for k, h in enumerate(hash_files(paths, workers=2)):
    if k == 0:
        print("hashing", flush=True)
        time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(c) for c in handle.read().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_hashing_workers_exit_when_the_audit_is_killed(tmp_path: Path) -> None:
    (sample,) = generate_gazette(tmp_path / "g", office="EP", count=1, seed=3, kinds=("st97-json",))
    proc = subprocess.Popen([sys.executable, "-c", _HASHER, str(sample)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "hashing"
    workers = _children(proc.pid)
    assert len(workers) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{w}").exists() and _state(w) != "Z" for w in workers):
        assert time.monotonic() < deadline, f"workers {workers} left behind"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_html_lists_at_most_the_cap_and_says_how_many_more() -> None:
    from registry.audit.html import render_html

    rows = [AuditRow("TAMPERED", f"reason {k}", f"EP:{k}:A1") for k in range(5)] + [AuditRow("VERIFIED", "", "EP:9:A1")]
    report = AuditReport("EP", "feed", 1, "0x" + "12" * 20, 5, "2026-12-01T10:00:00Z", rows)
    page = render_html(report, limit=2)
    assert "reason 0" in page and "reason 1" in page and "reason 2" not in page
    assert "3 more rows needing attention" in page and "Rows that need attention (5)" in page
    assert "Attention: 5 of 6 rows need a look." in page
    full = render_html(report)
    assert all(f"reason {k}" in full for k in range(5)) and "more rows needing attention" not in full


def test_bundles_indexed_on_workers_are_those_indexed_here(tmp_path: Path) -> None:
    """The parallel scan keeps path order, every bundle and every unreadable one, exactly as the serial one."""
    from registry.anchor.bundles import BatchRenderer, proof_texts
    from registry.audit.bundles import BundleIndex

    values = [LeafValue(f"EP:{2_000_000 + i}:B1", "0x" + f"{i:064x}", "raw").as_list() for i in range(1_200)]
    tree = MerkleTree.from_leaves([LeafValue(*v).leaf() for v in values])
    renderer = BatchRenderer.of(
        31337, "0x" + "ab" * 20, "EP", "0x" + tree.root.hex(), len(values), "0x" + "cd" * 32, 9, "t"
    )
    folder = tmp_path / "proofs"
    (folder / "sub").mkdir(parents=True)
    for i, (v, text) in enumerate(zip(values, proof_texts(tree), strict=True)):
        (folder / ("sub" if i % 3 else "") / f"EP-{2_000_000 + i}-B1.proof.json").write_bytes(renderer.render(v, text))
    for name in ("EP-1-B1.proof.json", "sub/EP-2-B1.proof.json"):
        (folder / name).write_bytes(b"{not json")
    scans = []
    for workers in (1, 2):
        index = BundleIndex(folder)
        bad = [(r.file, r.reason) for r in index.scan(workers=workers)]
        kept = index.db.execute(
            "SELECT seq, path, claim_id, claim_hash, block_number, supersedes, used FROM bundles ORDER BY seq"
        ).fetchall()
        picked = index.pick("EP:2000005:B1", "0x" + f"{5:064x}")
        scans.append((bad, kept, index.count, picked))
        index.close()
    assert scans[0] == scans[1]
    bad, kept, count, picked = scans[0]
    assert len(bad) == 2 and count == len(kept) == len(values)
    assert [row[1] for row in kept] == sorted(row[1] for row in kept)  # path order
    assert picked is not None and picked.value.record_id == "EP:2000005:B1"
