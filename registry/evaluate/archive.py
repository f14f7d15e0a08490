"""Twenty years on: the run's chain exported as an archive, a sample of bundles verified from it with no node.

At the end of the run the chain archive is exported (:func:`registry.archive.export.export_archive`: headers
from the deployment block, the registries' receipts, the contracts' code proofs), read back and checked
(:func:`registry.archive.reader.load_archive`), and a sample of the run's bundles (random ones, every probe's
record with its versions, and altered copies) is verified twice with the one Verifier: against the live node
at the archive's head, and against the archive alone (:class:`~registry.archive.reader.ArchiveReader`: no
chain client at all). Measured: archive bytes, export, check and per-bundle verify times, agreement (verdict,
reason and checks). Computed, formula shown: archive bytes per year at the scenario's volume, from the
measured bytes per header and per anchoring block and the scenario's block time (``[archive] block_seconds``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import statistics
import time
from pathlib import Path
from typing import Any

from registry.anchor.pipeline import bundle_name
from registry.archive.export import export_archive
from registry.archive.reader import ArchiveReader, load_archive, served_from_archive
from registry.core.formats import ProofBundle
from registry.evaluate.context import Run
from registry.evaluate.markup import _e, num, table
from registry.evaluate.pipeline import OfficeRun
from registry.verify.readers import LiveReader
from registry.verify.verdict import Verdict
from registry.verify.verifier import Verifier
from registry.verify.versions import VersionSources

SECONDS_PER_YEAR = 365 * 86_400


def _sample(run: Run, offices: list[OfficeRun], probes: dict[str, Any], size: int) -> list[tuple[str, ProofBundle]]:
    """(kind, bundle): every probe record's versions, a random sample of the run's bundles, altered copies."""
    picked: dict[Path, str] = {}
    for o in offices:
        if o.office == probes.get("office"):
            for row in probes.get("rows", []):
                for record in o.store.versions(str(row.get("recordId") or "")):
                    path = o.proofs / bundle_name(record)
                    if path.is_file():
                        picked.setdefault(path, f"probe {row['probe']}")
    every = sorted(p for o in offices for p in o.proofs.glob("*.proof.json"))
    for path in run.rng("archive").sample(every, min(size, len(every))):
        picked.setdefault(path, "random")
    out = [(kind, ProofBundle.loads(path.read_bytes())) for path, kind in sorted(picked.items())]
    for _kind, bundle in out[:3]:
        if bundle.proof:
            out.append(("proof altered", dataclasses.replace(bundle, proof=("0x" + "00" * 32, *bundle.proof[1:]))))
        out.append(("root altered", dataclasses.replace(bundle, root="0x" + "77" * 32)))
    return out


def _same(archived: Verdict, live: Verdict, note: str) -> bool:
    a, b = archived.to_json(), live.to_json()
    for check in a["checks"]:
        check["detail"] = check["detail"].replace(f" ({note})", "").replace(note, "")
    return bool(a == b)


def measure(run: Run, offices: list[OfficeRun], probes: dict[str, Any]) -> dict[str, Any]:
    """Export, check, verify the sample both ways; sizes, times, agreement and the yearly growth."""
    sc = run.scenario
    path = run.work / "chain-archive.json"
    clock = time.perf_counter()
    exported = export_archive(run.chain, path)
    export_seconds = time.perf_counter() - clock
    head = exported.proven.head_number
    sources = VersionSources(None, None, run.manifest_dir)
    live = Verifier(LiveReader(run.chain, head), sources=sources)
    sample = _sample(run, offices, probes, sc.archive_samples)
    live_verdicts = [live.verify_bundle(b) for _k, b in sample]
    # From here on no chain client: the archive file alone.
    clock = time.perf_counter()
    proven = load_archive(path)
    reader = ArchiveReader(proven, exported.proven.head_hash)
    check_seconds = time.perf_counter() - clock
    offline = Verifier(reader, sources=VersionSources(None, None, run.manifest_dir))
    note = reader.describe()
    seconds: list[float] = []
    agree = 0
    verdicts: dict[str, int] = {}
    disagreements: list[dict[str, Any]] = []
    for (kind, bundle), expected in zip(sample, live_verdicts, strict=True):
        clock = time.perf_counter()
        got = served_from_archive(offline.verify_bundle(bundle), reader)
        seconds.append(time.perf_counter() - clock)
        verdicts[got.verdict] = verdicts.get(got.verdict, 0) + 1
        if _same(got, expected, note):
            agree += 1
        else:
            disagreements.append(
                {"kind": kind, "live": expected.verdict, "archive": got.verdict, "record": got.record_id}
            )
    body = json.loads(path.read_bytes())
    header_bytes = sum(len(json.dumps(h, separators=(",", ":"))) for h in body["headers"])
    receipt_bytes = sum(len(json.dumps(r, separators=(",", ":"))) for r in body["receipts"].values())
    fixed = exported.size - header_bytes - receipt_bytes
    anchored = len(reader.office_batches_all())
    per_header = header_bytes / max(1, exported.headers)
    per_batch_receipts = receipt_bytes / max(1, anchored)
    batches_per_year = sc.weekly_volume * 52 / max(1, sc.pipeline_batch_size)
    headers_per_year = SECONDS_PER_YEAR / sc.archive_block_seconds
    per_year = headers_per_year * per_header + batches_per_year * per_batch_receipts
    ratio = len(gzip.compress(path.read_bytes(), 6)) / exported.size
    return {
        "headBlock": head,
        "headHash": exported.proven.head_hash,
        "headers": exported.headers,
        "receiptBlocks": exported.receipt_blocks,
        "registryLogs": len(proven.logs),
        "batchesAnchored": anchored,
        "codeProven": proven.code_proven,
        "archiveBytes": exported.size,
        "gzipRatio": round(ratio, 3),
        "bytesPerHeader": round(per_header, 1),
        "receiptBytesPerBatch": round(per_batch_receipts, 1),
        "fixedBytes": fixed,
        "blockSeconds": sc.archive_block_seconds,
        "batchesPerYear": round(batches_per_year, 1),
        "headersPerYear": round(headers_per_year),
        "bytesPerYear": round(per_year),
        "gzipBytesPerYear": round(per_year * ratio),
        "bytesPerYearFormula": (
            "headersPerYear x bytesPerHeader + batchesPerYear x receiptBytesPerBatch"
            " (headersPerYear = 365 days / blockSeconds; batchesPerYear = weekly volume x 52 / batch size)"
        ),
        "exportSeconds": round(export_seconds, 3),
        "checkSeconds": round(check_seconds, 3),
        "verifyMsPerBundle": {
            "median": round(statistics.median(seconds) * 1000, 3) if seconds else None,
            "max": round(max(seconds) * 1000, 3) if seconds else None,
        },
        "sample": len(sample),
        "agree": agree,
        "verdicts": dict(sorted(verdicts.items())),
        "disagreements": disagreements[:20],
        "nodeUsed": False,
    }


def section(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """The report's "Twenty years on" section."""
    del plots
    a = report.get("archive")
    if not a:
        return ""
    verdicts = ", ".join(f"{k} {v}" for k, v in a["verdicts"].items())
    rows = [
        ["archive", f"{num(a['archiveBytes'])} bytes", f"to block {num(a['headBlock'])}, gzip x{a['gzipRatio']}"],
        ["headers", num(a["headers"]), f"{num(a['bytesPerHeader'], 1)} bytes each"],
        ["blocks with registry receipts", num(a["receiptBlocks"]), f"{num(a['registryLogs'])} registry logs proven"],
        ["receipt bytes per batch", num(a["receiptBytesPerBatch"], 1), f"{num(a['batchesAnchored'])} batches"],
        ["bytes per year (computed)", num(a["bytesPerYear"]), f"gzip: {num(a['gzipBytesPerYear'])}"],
        ["export", f"{num(a['exportSeconds'], 2)} s", "from the live node"],
        ["check + state rebuild", f"{num(a['checkSeconds'], 2)} s", "hashes, links, receipts tries, code proofs"],
        ["verify per bundle", f"{num(a['verifyMsPerBundle']['median'], 2)} ms", "median, archive only"],
        ["agreement with live verdicts", f"{a['agree']} / {a['sample']}", verdicts],
    ]  # fmt: skip
    return (
        '<section id="archive"><h2>Twenty years on: verifying with no chain</h2>'
        "<p>What a proof needs if the chain stops: the bundle, the chain archive (every block header from the"
        " deployment on, the receipts of the blocks that hold the registries' events, the contracts' code proven"
        " under the head's state root), and the time-stamp token where present. The archive was exported at the"
        " end of this run; a sample of bundles (random ones, the probes' records, altered copies) was verified"
        " against the live node at the archive's head and against the archive alone, with no node."
        f" The archive's head hash <code>{_e(a['headHash'])}</code> is the one value an auditor must compare with"
        " a second source; a revocation after the head is not seen.</p>"
        + table(["figure", "measured", "note"], rows)
        + f'<p class="note">Bytes per year = {_e(a["bytesPerYearFormula"])}; block time {_e(a["blockSeconds"])} s'
        " (scenario key [archive] block_seconds). On a shared chain each anchoring block's receipts include other"
        " parties' transactions, which this single-tenant run does not have.</p></section>"
    )


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One line for the summary: archive growth per year and agreement with the live verdicts."""
    a = report.get("archive")
    if not a:
        return []
    return [
        [
            "Verify with no chain (archive)",
            f"{a['agree']}/{a['sample']} verdicts as live",
            f"archive {num(a['bytesPerYear'] / 1e6, 1)} MB/year at {a['blockSeconds']} s blocks",
        ]
    ]
