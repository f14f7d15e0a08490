"""The first pass of an anchoring run: check every file on all cores and stage the good ones.

Light on purpose (no web3): ``ipreg anchor`` stages with this module while the chain modules are
still being imported, and the check of a large gazette overlaps that import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from registry.anchor.checkpoints import checkpoint
from registry.files.ingest import FileError, StageOptions, WorkerPool, stream_staged
from registry.store.outbox import Store


@dataclass(slots=True)
class Intake:
    """The checked input of a run: how many files, how many staged, every bad file (input order)."""

    files: int = 0
    staged: int = 0
    errors: list[FileError] = field(default_factory=list)
    #: Record ids given with two or more contents in this input (their files are among ``errors``).
    conflicting: list[str] = field(default_factory=list)
    seconds: float = 0.0


def stage_input(
    store: Store,
    files: Iterable[str],
    options: StageOptions,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    pool: WorkerPool | None = None,
) -> Intake:
    """Check every file of a run (on all cores) and stage the good ones; accept nothing yet.

    Memory stays flat: files stream through the workers a few chunks at a time and staged rows go
    to a TEMP table of the store's connection (:meth:`Store.stage_begin`). Every bad file is
    collected, and so is every record id that comes with two different contents (those files are
    unstaged). Whether the run may go on with the good files is the caller's decision. ``pool``
    (from :func:`registry.files.ingest.start_workers` with the same ``options``) is used and left running.
    """
    started = time.perf_counter()
    intake = Intake()
    store.stage_begin()
    for part in stream_staged(files, options, workers, pool=pool):
        rows = [x for x in part if not isinstance(x, FileError)]
        intake.errors.extend(x for x in part if isinstance(x, FileError))
        store.stage(rows)  # type: ignore[arg-type]
        intake.files += len(part)
        intake.staged += len(rows)
        if progress is not None:
            progress(len(part))
        checkpoint("after-stage-chunk")
    for record_id, paths in list(store.staged_conflicts()):
        intake.conflicting.append(record_id)
        intake.errors.extend(
            FileError(
                p,
                f"{p}: {record_id} comes with {len(paths)} different contents in this input"
                f" ({', '.join(paths)}); anchor its versions in order, one run each",
                "give one record id several contents",
            )
            for p in paths
        )
        intake.staged -= len(paths)
    store.unstage_record_ids(intake.conflicting)  # never accepted: which content is the first version?
    intake.seconds = time.perf_counter() - started
    return intake
