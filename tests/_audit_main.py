"""Today's in-memory audit (main at 2443bd3), kept as the reference of the differential test.

Not used by the package. Only the parts the streaming audit changed are kept here (rows, report,
expected list, bundles, folder and feed audits, per-batch counts); unchanged pieces are imported.

Audit an office's publications: every record re-hashed and verified, then checked against a list.

Two sources: a folder of publication files (with their proof bundles, or through the index), or
an office's whole feed from the index. Verification runs offline against a per-batch snapshot of
on-chain state (:class:`SnapshotReader`), so one audit makes a few calls per batch, not per record.

Expected list (``--expected FILE``), in the style of a WIPO ST.37 authority file, one entry a line::

    # comments and blank lines are ignored
    EP:1234567:B1              a record id
    EP:1234567                 a number without kind code: any kind of that number matches
    1234567,B1                 number and kind code (the office is the audited one)
    EP;1234567;B1;20260107     office, number, kind, publication date (ignored); ',' ';' or tab

A first line whose number column is not a document number (``publication_number,kind``) is a header.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from web3.exceptions import Web3RPCError

from registry.audit.bundles import _bundle_record_id, _claims

# Unchanged by the streaming audit: shared, not copied (the reference differs where the audit changed).
from registry.audit.expected import ExpectedEntry
from registry.audit.hashing import HashedFile, _hash_chunk, _hash_one
from registry.audit.run import _index_of
from registry.audit.snapshot import _BatchState, _SnapshotBatch
from registry.chain.client import Chain
from registry.core import canon, merkle
from registry.core.batch import BatchInfo, utc_iso
from registry.core.formats import ProofBundle
from registry.core.leaves import ZERO_HASH
from registry.core.records import RecordId
from registry.errors import InputError, RecordIdError, RegistryError
from registry.files.ingest import collect_files
from registry.store.index import Index, IndexedLeaf
from registry.store.outbox import Store
from registry.verify.readers import web3_office_batches
from registry.verify.verdict import UNKNOWN, VERIFIED, Verdict
from registry.verify.verifier import Verifier
from registry.verify.versions import VersionSources

MISSING: Final = "MISSING"
REPORT_FORMAT: Final = "ipreg-audit-v1"
#: Exit status of ``ipreg audit`` when a record needs attention (errors exit with 1).
EXIT_ATTENTION: Final = 3

Progress = Callable[[int], None]
_SEPARATORS: Final = re.compile(r"[,;\t]")
#: Largest proof bundle file read (a bundle of a 2**32-record batch is about 3 KB).
_MAX_BUNDLE_BYTES: Final = 1024 * 1024
#: Merkle nodes remembered per batch before the memory is given back (about 100 bytes each).
_MAX_NODES: Final = 500_000


# ---------------------------------------------------------------------------- expected list


def parse_expected(text: str, office: str, source: str = "expected list") -> list[ExpectedEntry]:
    """Parse an expected list (see the module docstring); raise InputError naming the line."""
    entries: list[ExpectedEntry] = []
    first = True
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header, first = first, False
        try:
            if ":" in line:
                rid = RecordId.parse(line)
            else:
                cells = [c.strip().upper() for c in _SEPARATORS.split(line)]
                own = office
                if len(cells[0]) == 2 and cells[0].isalpha():
                    own, cells = cells[0], cells[1:] or [""]
                if header and not cells[0][:1].isdigit():
                    continue
                rid = RecordId(own, cells[0], cells[1] if len(cells) > 1 and cells[1] else None)
        except RecordIdError as exc:
            raise InputError(f"{source}, line {n}: {exc.diagnostics()}") from None
        entries.append(ExpectedEntry(rid.office, rid.number, rid.kind, n))
    return entries


def load_expected(path: Path, office: str) -> list[ExpectedEntry]:
    """Read an expected list file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read expected list {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_expected(text, office, str(path))


# ---------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One record of an audit (or one expected record not found: ``MISSING``)."""

    status: str
    reason: str
    record_id: str | None
    file: str | None = None
    expected: bool | None = None
    office: str | None = None
    content_hash: str | None = None
    root: str | None = None
    block_number: int | None = None
    transaction_hash: str | None = None
    anchored_at: str | None = None
    superseded_by: str | None = None

    @property
    def attention(self) -> bool:
        """Whether a person should look at this row."""
        return self.status != VERIFIED or self.expected is False

    @classmethod
    def of(cls, verdict: Verdict, file: str | None = None) -> AuditRow:
        """A row from a verdict."""
        return cls(
            verdict.verdict,
            verdict.reason,
            verdict.record_id,
            file,
            None,
            verdict.office,
            verdict.content_hash,
            verdict.root,
            verdict.block_number,
            verdict.transaction_hash,
            verdict.anchored_at,
            verdict.superseded_by,
        )

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase JSON."""
        return {
            "status": self.status,
            "reason": self.reason,
            "recordId": self.record_id,
            "file": self.file,
            "expected": self.expected,
            "office": self.office,
            "contentHash": self.content_hash,
            "root": self.root,
            "blockNumber": self.block_number,
            "transactionHash": self.transaction_hash,
            "anchoredAt": self.anchored_at,
            "supersededBy": self.superseded_by,
        }


@dataclass(slots=True)
class AuditReport:
    """The outcome of an audit: summary figures and one row per record."""

    office: str
    source: str
    chain_id: int
    registry: str
    block_number: int
    started_at: str
    rows: list[AuditRow] = field(default_factory=list)
    expected_count: int | None = None
    unmatched_bundles: int = 0
    hash_seconds: float = 0.0
    verify_seconds: float = 0.0
    seconds: float = 0.0
    rpc_calls: int = 0

    @property
    def records(self) -> int:
        """Records audited (rows other than MISSING)."""
        return sum(1 for r in self.rows if r.status != MISSING)

    @property
    def status_counts(self) -> dict[str, int]:
        """Rows by status; they add up to the number of rows (records audited plus MISSING ones)."""
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    @property
    def unexpected(self) -> int:
        """Rows not on the expected list; each is also counted under its status (an overlap, not a status)."""
        return sum(1 for r in self.rows if r.expected is False)

    @property
    def counts(self) -> dict[str, int]:
        """Rows by status, plus ``UNEXPECTED`` (records not on the expected list, overlapping the statuses)."""
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        counts["UNEXPECTED"] = sum(1 for r in self.rows if r.expected is False)
        return counts

    @property
    def ok(self) -> bool:
        """True only if every record verified and nothing expected is missing."""
        return all(r.status == VERIFIED for r in self.rows)

    @property
    def attention(self) -> list[AuditRow]:
        """Rows a person should look at."""
        return [r for r in self.rows if r.attention]

    def rate(self, seconds: float | None = None) -> float | None:
        """Records per second over ``seconds`` (default: the whole audit)."""
        seconds = self.seconds if seconds is None else seconds
        return round(self.records / seconds, 1) if seconds > 0 else None

    def summary(self) -> dict[str, Any]:
        """Summary figures (lowerCamelCase)."""
        return {
            "format": REPORT_FORMAT,
            "ok": self.ok,
            "office": self.office,
            "source": self.source,
            "chainId": self.chain_id,
            "registry": self.registry,
            "blockNumber": self.block_number,
            "startedAt": self.started_at,
            "records": self.records,
            "expected": self.expected_count,
            "counts": self.counts,
            "statusCounts": self.status_counts,
            "unexpected": self.unexpected,
            "rowCount": len(self.rows),
            "attention": len(self.attention),
            "unmatchedBundles": self.unmatched_bundles,
            "seconds": round(self.seconds, 3),
            "hashSeconds": round(self.hash_seconds, 3),
            "verifySeconds": round(self.verify_seconds, 3),
            "recordsPerSecond": self.rate(),
            "verifiedPerSecond": self.rate(self.verify_seconds),
            "rpcCalls": self.rpc_calls,
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON report: summary, rows needing attention, then every row."""
        return {
            **self.summary(),
            "attentionRows": [r.to_json() for r in self.attention],
            "rows": [r.to_json() for r in self.rows],
        }


# ---------------------------------------------------------------------------- on-chain snapshot


class SnapshotReader:
    """A :class:`registry.verify.readers.ChainReader` over one block, cached per batch.

    One ``batchOf`` per (office, root) and one ``isAuthorisedAt`` per (office, signer, block); Merkle proofs are
    checked locally. Leaf revocations come from the index when it has reached the snapshot block,
    else from the root's ``LeafRevoked`` events (one ``eth_getLogs`` per batch); only if a node
    refuses that query is ``leafRevocation`` called per record.
    """

    def __init__(self, chain: Chain, index: Index | None = None, block_number: int | None = None) -> None:
        self.chain = chain
        self.index = index
        self.calls = 0
        self.block_number = (
            block_number if block_number is not None else self._call(lambda: int(chain.w3.eth.block_number))
        )
        self._chain_id: int | None = None
        self._batches: dict[str, _BatchState] = {}
        self._signers: dict[tuple[str, str, int], bool] = {}
        self._anchored: dict[str, list[Any]] = {}

    def _call(self, fn: Callable[[], Any]) -> Any:
        self.calls += 1
        return self.chain.rpc(fn)

    def chain_id(self) -> int:
        """Chain id of the endpoint (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self._call(lambda: self.chain.w3.eth.chain_id))
        return self._chain_id

    def batch(self, office: str, root: str) -> _BatchState:
        """The cached state of ``office``'s batch under ``root`` (asked once)."""
        root = root.lower()
        state = self._batches.get(f"{office}:{root}")
        if state is not None:
            return state
        b = self._call(
            lambda: self.chain.anchors.functions.batchOf(office.encode("ascii"), root).call(
                block_identifier=self.block_number
            )
        )
        info = None
        revoked: dict[str, int] | None = {}
        if int(b[3]) != 0:
            info = _SnapshotBatch(
                root,
                bytes(b[0]).decode("ascii"),
                str(b[1]),
                int(b[2]),
                int(b[3]),
                int(b[4]),
                int(b[5]),
                utc_iso(int(b[2])),
            )
            revoked = self._revoked(office, root, info.block_number)
        state = self._batches[f"{office}:{root}"] = _BatchState(info, revoked, bytes.fromhex(root[2:]))
        return state

    def _revoked(self, office: str, root: str, from_block: int) -> dict[str, int] | None:
        cursor = self.index.cursor() if self.index is not None else None
        if self.index is not None and cursor is not None and cursor >= self.block_number:
            candidates = self.index.revoked_leaves(office, root)
        else:
            try:
                logs = self._call(
                    lambda: self.chain.anchors.events.LeafRevoked().get_logs(
                        from_block=from_block,
                        to_block=self.block_number,
                        argument_filters={"root": bytes.fromhex(root[2:]), "office": office.encode("ascii")},
                    )
                )
            except (Web3RPCError, ValueError):
                return None  # the node refuses the range: ask per record
            candidates = {"0x" + bytes(e["args"]["leaf"]).hex(): int(e["args"]["reason"]) for e in logs}
        # contracts 3.0.0: a revocation stands only if the contract's view says so (its key not compromised)
        standing = {}
        for leaf in candidates:
            fn = self.chain.anchors.functions.leafRevocation(office.encode("ascii"), root, bytes.fromhex(leaf[2:]))
            reason = int(self._call(lambda fn=fn: fn.call(block_identifier=self.block_number)))
            if reason:
                standing[leaf] = reason
        return standing

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, BatchInfo | None, int]:
        """Local Merkle check of the values' leaf against the cached batch; revocation from the cached set."""
        leaf = merkle.leaf_hash(values)
        state = self.batch(office, root)
        if state.info is None:
            return False, None, 0
        included = state.included(leaf, proof)
        if state.revoked is not None:
            return included, state.info, state.revoked.get("0x" + leaf.hex(), 0)
        reason = self._call(
            lambda: self.chain.anchors.functions.leafRevocation(office.encode("ascii"), root, leaf).call(
                block_identifier=self.block_number
            )
        )
        return included, state.info, int(reason)

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``isAuthorisedAt`` (signer term, not compromised), asked once per (office, signer, block)."""
        key = (office, signer.lower(), block_number)
        if key not in self._signers:
            self.calls += 1
            fn = self.chain.offices.functions.isAuthorisedAt(office.encode("ascii"), signer, block_number)
            self._signers[key] = bool(fn.call(block_identifier=self.block_number))
        return self._signers[key]

    # The reader protocol's later additions (registry pinned, one block, compromise marks, later batches).
    @property
    def registry(self) -> str:
        return str(self.chain.anchors.address)

    def state_block(self) -> int:
        return self.block_number

    def compromised_from(self, office: str, signer: str) -> int | None:
        self.calls += 1
        fn = self.chain.offices.functions.compromisedFrom(office.encode("ascii"), signer)
        return int(fn.call(block_identifier=self.block_number)) or None

    def related(self, registry: str) -> Any:
        from registry.verify.readers import LiveReader, lineage_member

        chain = lineage_member(self.chain, registry)
        return LiveReader(chain, self.block_number) if chain is not None else None

    def successor(self) -> Any:
        """The confirmed successor at the snapshot block (the reader protocol's; added with successor supersession)."""
        from registry.verify.readers import successor_reader

        if not hasattr(self, "_successor"):
            self.calls += 1  # one read of the freeze per audit, as the streaming audit does
            self._successor = successor_reader(self.chain, self.block_number)
        return self._successor

    def office_batches(self, office: str, from_block: int) -> list[Any]:
        every = self._anchored.get(office)
        if every is None:
            self.calls += 1
            every = self._anchored[office] = web3_office_batches(self.chain, office, 0, self.block_number)
        return [b for b in every if b.block_number >= from_block]


# ---------------------------------------------------------------------------- hashing


def hash_files(files: Sequence[Path], workers: int | None = None, progress: Progress | None = None) -> list[HashedFile]:
    """Canonicalize and hash every file, finding its record id; a bad file is a row, not an abort."""
    cpus = os.cpu_count() or 1
    workers = workers if workers is not None else (min(cpus, 8) if cpus > 2 and len(files) >= 2000 else 1)
    paths = [str(f) for f in files]
    if workers <= 1:
        out = []
        for k, p in enumerate(paths, 1):
            out.append(_hash_one(p))
            if progress is not None and k % 200 == 0:
                progress(200)
        if progress is not None:
            progress(len(paths) % 200)
        return out
    chunks = [paths[i : i + 500] for i in range(0, len(paths), 500)]
    result: list[HashedFile] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_hash_chunk, chunks):
            result.extend(part)
            if progress is not None:
                progress(len(part))
    return result


# ---------------------------------------------------------------------------- bundles


def load_bundles(proofs_dir: Path) -> tuple[dict[str, list[ProofBundle]], list[AuditRow]]:
    """Every ``*.proof.json`` under ``proofs_dir`` by the record id it speaks for; unreadable ones as rows."""
    if not proofs_dir.is_dir():
        raise InputError(f"no such proofs folder: {proofs_dir}")
    by_id: dict[str, list[ProofBundle]] = {}
    bad: list[AuditRow] = []
    paths = sorted(
        os.path.join(folder, name)
        for folder, _, names in os.walk(proofs_dir)
        for name in names
        if name.endswith(".proof.json")
    )
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_BUNDLE_BYTES + 1)
            if len(data) > _MAX_BUNDLE_BYTES:
                raise InputError(f"larger than {_MAX_BUNDLE_BYTES} bytes")
            bundle = ProofBundle.loads(data)
        except (RegistryError, OSError) as exc:
            reason = exc.diagnostics() if isinstance(exc, RegistryError) else str(exc)
            bad.append(AuditRow(UNKNOWN, f"unreadable proof bundle: {reason}", None, path))
            continue
        by_id.setdefault(_bundle_record_id(bundle), []).append(bundle)
    return by_id, bad


def _pick(bundles: Sequence[ProofBundle], content_hash: str) -> ProofBundle:
    """The bundle for this content, else the newest one (whose check then reports the mismatch)."""
    same = [b for b in bundles if _claims(b)[1] == content_hash]
    return max(same or bundles, key=lambda b: b.block_number)


# ---------------------------------------------------------------------------- audits


class _Context:
    """What every record of one audit shares: chain snapshot, store, index and known successors.

    Supersession is looked up in bulk (one index query, the loaded bundles) rather than per record;
    the outbox, if the store has one, is asked per record.
    """

    def __init__(self, chain: Chain, store: Store | None, index: Index | None) -> None:
        if chain.deployment is None:
            raise InputError("no registry to audit against: give a deployment or --registry")
        self.chain = chain
        self.index = index
        self.outbox = store if store is not None and store.counts()["records"] else None
        self.reader = SnapshotReader(chain, index)
        self.registry = chain.deployment.anchor_registry.lower()
        self.indexed_successors = index.successors() if index is not None else {}
        self.bundle_successors: dict[str, ProofBundle] = {}
        sources = VersionSources(self.outbox, index, max_batches=10**9, bundles=self._successors)
        self.verifier = Verifier(self.reader, chain_id=chain.deployment.chain_id, sources=sources)

    def verify(self, bundle: ProofBundle, content_hash: str | None) -> Verdict:
        # Verdicts (later versions included) come from the one Verifier, as the streamed audit's do.
        return self.verifier.verify_bundle(bundle, content_hash)

    def _successors(self, leaf: str, record_id: str) -> list[ProofBundle]:
        newer = self.bundle_successors.get(leaf)
        return [newer] if newer is not None and newer.value.record_id == record_id else []

    def index_bundle(self, leaf: IndexedLeaf) -> ProofBundle:
        dep = self.chain.deployment
        assert dep is not None and self.index is not None
        return self.index.bundle(leaf, dep.chain_id, dep.anchor_registry)


def _report(ctx: _Context, office: str, source: str) -> AuditReport:
    dep = ctx.chain.deployment
    assert dep is not None
    return AuditReport(
        office,
        source,
        dep.chain_id,
        dep.anchor_registry,
        ctx.reader.block_number,
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def publication_files(folder: Path, proofs_dir: Path | None = None) -> list[Path]:
    """The files of ``folder`` an audit hashes: not proof bundles, nothing under ``proofs_dir``."""
    if not folder.is_dir():
        raise InputError(f"no such folder: {folder}")
    files = [f for f in collect_files([folder]) if not f.name.endswith(".proof.json")]
    proofs_root = proofs_dir.resolve() if proofs_dir is not None else None
    if proofs_root is None or not proofs_root.is_relative_to(folder.resolve()):
        return files
    return [f for f in files if proofs_root not in f.resolve().parents]


def audit_folder(
    chain: Chain,
    store: Store | None,
    folder: Path,
    office: str,
    proofs_dir: Path | None = None,
    expected: Sequence[ExpectedEntry] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Audit a folder of ``office``'s publication files, with bundles from ``proofs_dir`` or via the index."""
    started = time.perf_counter()
    files = publication_files(folder, proofs_dir)
    index = _index_of(chain, store)
    ctx = _Context(chain, store, index)
    report = _report(ctx, office, f"folder {folder}")
    hashed = hash_files(files, workers, progress)
    report.hash_seconds = time.perf_counter() - started
    verify_started = time.perf_counter()
    bundles, bad = load_bundles(proofs_dir) if proofs_dir is not None else ({}, [])
    used: set[int] = set()
    ctx.bundle_successors = {
        b.value.supersedes: b for group in bundles.values() for b in group if b.value.supersedes != ZERO_HASH
    }
    rows = list(bad)
    for h in hashed:
        rows.append(_audit_file(ctx, h, bundles, used))
    report.unmatched_bundles = sum(len(g) for g in bundles.values()) - len(used)
    report.rows = _apply_expected(rows, office, expected)
    report.expected_count = len(expected) if expected is not None else None
    report.verify_seconds = time.perf_counter() - verify_started
    report.seconds = time.perf_counter() - started
    report.rpc_calls = ctx.reader.calls
    return report


def _audit_file(ctx: _Context, h: HashedFile, bundles: dict[str, list[ProofBundle]], used: set[int]) -> AuditRow:
    if h.error is not None or h.record_id is None or h.content_hash is None:
        return AuditRow(UNKNOWN, h.error or "no record id", None, h.path)
    candidates = bundles.get(h.record_id)
    bundle: ProofBundle | None = None
    if candidates:
        bundle = _pick(candidates, h.content_hash)
        used.add(id(bundle))
    elif ctx.index is not None:
        leaves = [x for x in ctx.index.leaves_by_hash(h.content_hash) if x.record_id == h.record_id]
        leaves = leaves or ctx.index.versions(h.record_id)
        bundle = ctx.index_bundle(leaves[-1]) if leaves else None
    if bundle is None:
        where = "no proof bundle in the proofs folder" if bundles else "nothing in the index"
        return AuditRow(UNKNOWN, f"{where} for {h.record_id}", h.record_id, h.path, content_hash=h.content_hash)
    content_hash = h.content_hash
    method = _claims(bundle)[2]
    if method != h.canonicalization and method in canon.CANONICALIZATIONS:
        try:
            content_hash = canon.content_hash(Path(h.path).read_bytes(), method)
        except (RegistryError, OSError) as exc:
            reason = exc.diagnostics() if isinstance(exc, RegistryError) else str(exc)
            return AuditRow(UNKNOWN, f"cannot hash as {method}: {reason}", h.record_id, h.path)
    return AuditRow.of(ctx.verify(bundle, content_hash), h.path)


def audit_feed(
    chain: Chain,
    store: Store,
    office: str,
    expected: Sequence[ExpectedEntry] | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit the newest version of every record ``office`` anchored, as the index knows them."""
    started = time.perf_counter()
    index = _index_of(chain, store)
    if index is None or index.cursor() is None:
        raise InputError("no index in the store: run `ipreg index sync` first")
    ctx = _Context(chain, store, index)
    report = _report(ctx, office, "feed")
    latest: dict[str, IndexedLeaf] = {}
    for leaf in index.office_leaves(office):
        latest[leaf.record_id] = leaf
    ordered = sorted(latest.values(), key=lambda x: (x.block_number, x.root, x.position))
    rows = [
        AuditRow(
            UNKNOWN,
            f"records of batch {b.root} are unknown: {b.manifest_error or 'manifest not fetched'}",
            None,
            office=office,
            root=b.root,
            block_number=b.block_number,
            transaction_hash=b.tx_hash,
            anchored_at=b.anchored_at,
        )
        for b in index.unindexed_batches(office)
    ]
    for k, leaf in enumerate(ordered, 1):
        rows.append(AuditRow.of(ctx.verify(ctx.index_bundle(leaf), None)))
        if progress is not None and k % 200 == 0:
            progress(200)
    if progress is not None:
        progress(len(ordered) % 200)
    report.rows = _apply_expected(rows, office, expected)
    report.expected_count = len(expected) if expected is not None else None
    report.seconds = report.verify_seconds = time.perf_counter() - started
    report.rpc_calls = ctx.reader.calls
    return report


def _apply_expected(rows: list[AuditRow], office: str, expected: Sequence[ExpectedEntry] | None) -> list[AuditRow]:
    """Mark rows not on the list (or of another office) unexpected; add a MISSING row per unmatched entry."""
    by_number: dict[tuple[str, str], list[ExpectedEntry]] = {}
    for e in expected or ():
        by_number.setdefault((e.office, e.number), []).append(e)
    matched: set[ExpectedEntry] = set()
    out: list[AuditRow] = []
    for row in rows:
        if row.record_id is None:
            out.append(row)
            continue
        try:
            rid = RecordId.parse(row.record_id)
        except RecordIdError:
            out.append(replace(row, expected=False))
            continue
        if rid.office != office:
            out.append(replace(row, expected=False, reason=f"{row.reason}; the record belongs to office {rid.office}"))
            continue
        if expected is None:
            out.append(row)
            continue
        hits = [e for e in by_number.get((rid.office, rid.number), ()) if e.kind is None or e.kind == rid.kind]
        matched.update(hits)
        out.append(replace(row, expected=bool(hits)))
    for e in expected or ():
        if e not in matched:
            out.append(
                AuditRow(
                    MISSING,
                    f"expected (line {e.line}) but not found",
                    e.label,
                    expected=True,
                    office=e.office,
                )
            )
    return out


# ---------------------------------------------------------------------------- plot data


def batches_over_time(report: AuditReport) -> list[tuple[str, int, str | None, int]]:
    """(root, block, anchored at, records of this audit in it) per batch, oldest first."""
    batches: dict[str, list[Any]] = {}
    for r in report.rows:
        if r.root is None or r.block_number is None:
            continue
        entry = batches.setdefault(r.root, [r.root, r.block_number, r.anchored_at, 0])
        entry[3] += 1
    return sorted(((str(b[0]), int(b[1]), b[2], int(b[3])) for b in batches.values()), key=lambda b: (b[1], b[0]))
