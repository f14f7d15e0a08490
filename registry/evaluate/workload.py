"""The scenario's records, deterministic: same scenario and seed, byte-identical files.

Each office's volume is split over its record kinds by largest remainder; every kind is drawn from
the sample generator with a seed derived from (scenario seed, part, office, kind), and record ids
repeated across kinds are dropped (drawn with a margin), so a workload never holds two contents
for one record id by accident. ``sealed`` records are ST.96 patent documents anchored sealed.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

from registry.evaluate.context import derived_seed
from registry.evaluate.samples import SampleFile, iter_gazette
from registry.evaluate.scenario import OfficeLoad


@dataclass(frozen=True, slots=True)
class Batchload:
    """One office's records of one part of the run: published files and sealed ones."""

    office: str
    published: tuple[SampleFile, ...]
    sealed: tuple[SampleFile, ...]

    @property
    def count(self) -> int:
        """All records."""
        return len(self.published) + len(self.sealed)

    def write(self, folder: Path) -> tuple[list[Path], list[Path]]:
        """Write the files under ``folder/published`` and ``folder/sealed``; return both path lists."""
        out: list[list[Path]] = []
        for sub, files in (("published", self.published), ("sealed", self.sealed)):
            target = folder / sub
            target.mkdir(parents=True, exist_ok=True)
            paths = []
            for f in files:
                path = target / f.name
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.write(fd, f.data)
                finally:
                    os.close(fd)
                paths.append(path)
            out.append(paths)
        return out[0], out[1]


def split(total: int, kinds: tuple[tuple[str, float], ...]) -> dict[str, int]:
    """``total`` records over the kinds' fractions (largest remainder; exact sum)."""
    raw = [(k, total * share) for k, share in kinds]
    counts = {k: math.floor(x) for k, x in raw}
    left = total - sum(counts.values())
    for k, _ in sorted(raw, key=lambda kx: (-(kx[1] - math.floor(kx[1])), kx[0]))[:left]:
        counts[k] += 1
    return counts


def office_records(load: OfficeLoad, count: int, seed: int, part: str, seen: set[str] | None = None) -> Batchload:
    """``count`` records of ``load``'s kind mix for one part of the run (``part`` names it).

    ``seen`` (record ids already used by earlier parts of the run) is updated: ids never repeat.
    """
    seen = set() if seen is None else seen
    published: list[SampleFile] = []
    sealed: list[SampleFile] = []
    for kind, n in sorted(split(count, load.kinds).items()):
        if n == 0:
            continue
        sample_kind = "st96-patent" if kind == "sealed" else kind
        drawn = iter_gazette(
            office=load.code,
            count=n + n // 20 + 8,
            seed=derived_seed(seed, part, load.code, kind),
            kinds=(sample_kind,),
        )
        taken = 0
        for f in drawn:
            if f.record_id in seen:
                continue
            seen.add(f.record_id)
            (sealed if kind == "sealed" else published).append(f)
            taken += 1
            if taken == n:
                break
    return Batchload(load.code, tuple(published), tuple(sealed))


def fingerprint(loads: list[Batchload]) -> str:
    """SHA-256 over every file name and content, in order: equal for equal workloads."""
    digest = hashlib.sha256()
    for load in loads:
        for f in (*load.published, *load.sealed):
            digest.update(f.name.encode() + b"\0" + hashlib.sha256(f.data).digest())
    return "0x" + digest.hexdigest()
