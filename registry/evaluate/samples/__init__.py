"""Deterministic sample gazette generator (stdlib only).

Produces small, realistic-looking IP office publication files for tests,
demos and benchmarks:

* ``st96-patent``    -- WIPO ST.96 patent publication XML (``pat:PatentPublication``)
* ``st96-trademark`` -- WIPO ST.96 trademark application XML (``tmk:TrademarkApplication``)
* ``st97-json``      -- ST.97-style JSON patent publication record
* ``pdf``            -- a one-page PDF whose record id is carried by the file name

Every file is named after its record id (``EP-1234567-B1.xml``,
``EM-018912345.xml``, ``EP-1234567-B1.pdf`` ...). Output is fully
deterministic: the same arguments always yield byte-identical files.

``count`` is the total number of files of one call; the requested kinds are
assigned round-robin (file ``i`` gets ``kinds[i % len(kinds)]``). Publication
and application numbers are unique within one call, across all kinds.

The documents are rendered by :mod:`registry.evaluate.samples.documents` from string templates
(no XML library, so ~100,000 files take a few seconds), with the tables and number pools of
:mod:`registry.evaluate.samples.vocab` (free of XML special characters, so nothing needs escaping).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import NamedTuple

from registry.evaluate.samples.documents import (
    NS_COMMON,
    NS_PATENT,
    NS_TRADEMARK,
    make_patent,
    pdf,
    st96_patent_xml,
    st96_trademark_xml,
    st97_json,
)
from registry.evaluate.samples.vocab import LANES, draw_numbers, patent_number_space, trademark_number_space

__all__ = [
    "KINDS",
    "NS_COMMON",
    "NS_PATENT",
    "NS_TRADEMARK",
    "SampleFile",
    "generate_gazette",
    "iter_gazette",
]

KINDS: tuple[str, ...] = ("st96-patent", "st96-trademark", "st97-json", "pdf")


class SampleFile(NamedTuple):
    """One generated sample document (not yet written to disk)."""

    name: str
    """File name, e.g. ``EP-1234567-B1.xml``."""
    record_id: str
    """Record id a reader should extract, e.g. ``EP:1234567:B1``."""
    kind: str
    """One of :data:`KINDS`."""
    data: bytes
    """Exact file content."""


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _check_args(office: str, count: int, kinds: Sequence[str]) -> tuple[str, ...]:
    """Validate arguments; return the kinds as a tuple."""
    if not (len(office) == 2 and office.isascii() and office.isalpha() and office.isupper()):
        raise ValueError(f"office must be a two-letter upper-case ST.3 code, got {office!r}")
    if count < 0:
        raise ValueError("count must be >= 0")
    if isinstance(kinds, str):  # a lone string is a Sequence[str] too; be forgiving
        kinds = (kinds,)
    kinds_t = tuple(kinds)
    if not kinds_t:
        raise ValueError("at least one kind is required")
    unknown = [k for k in kinds_t if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind(s) {unknown}; choose from {list(KINDS)}")
    if len(set(kinds_t)) != len(kinds_t):
        raise ValueError(f"duplicate kinds in {list(kinds_t)}")
    return kinds_t


def iter_gazette(
    office: str = "EP",
    count: int = 10,
    seed: int = 0,
    kinds: Sequence[str] = ("st96-patent",),
) -> Iterator[SampleFile]:
    """Yield ``count`` deterministic sample documents without touching the disk.

    Arguments are validated eagerly (before the first item is requested).
    File ``i`` is of kind ``kinds[i % len(kinds)]``. All documents share one
    gazette publication date (a Wednesday in 2026 chosen from ``seed``). Seeds that differ modulo
    10 never share a publication or application number (every number ends in the digit ``seed % 10``).
    Publication / application numbers are unique within the call and
    ascending within each number pool.

    Raises:
        ValueError: unknown/duplicate kinds, bad office code, negative count,
            or a count larger than the office's number pool.
    """
    kinds_t = _check_args(office, count, kinds)
    rng = random.Random(seed)
    gazette = date.fromordinal(date(2026, 1, 7).toordinal() + 7 * rng.randrange(52))
    plan = [kinds_t[i % len(kinds_t)] for i in range(count)]
    n_tm = plan.count("st96-trademark")
    lane = seed % LANES
    patent_numbers = draw_numbers(rng, patent_number_space(office), count - n_tm, "patent publication", lane)
    tm_numbers = draw_numbers(rng, trademark_number_space(office), n_tm, "trademark application", lane)
    return _iter(rng, office, gazette, plan, patent_numbers, tm_numbers)


def _iter(
    rng: random.Random,
    office: str,
    gazette: date,
    plan: list[str],
    patent_numbers: list[str],
    tm_numbers: list[str],
) -> Iterator[SampleFile]:
    """Generator body of :func:`iter_gazette`."""
    pn = iter(patent_numbers)
    tn = iter(tm_numbers)
    pub_date = gazette.isoformat()
    for kind in plan:
        if kind == "st96-trademark":
            number = next(tn)
            data = st96_trademark_xml(rng, office, number, gazette)
            # the record id is the canonical form (registry.core.records.normalize_number: no leading zeros)
            yield SampleFile(f"{office}-{number}.xml", f"{office}:{number.lstrip('0') or '0'}", kind, data)
            continue
        p = make_patent(rng, office, next(pn), gazette, pub_date)
        stem = f"{office}-{p.number}-{p.kind_code}"
        rid = f"{office}:{p.number}:{p.kind_code}"
        if kind == "st96-patent":
            yield SampleFile(stem + ".xml", rid, kind, st96_patent_xml(p))
        elif kind == "st97-json":
            yield SampleFile(stem + ".json", rid, kind, st97_json(p))
        else:  # pdf
            yield SampleFile(stem + ".pdf", rid, kind, pdf(p))


_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


def generate_gazette(
    out_dir: Path,
    office: str = "EP",
    count: int = 10,
    seed: int = 0,
    kinds: Sequence[str] = ("st96-patent",),
) -> list[Path]:
    """Write ``count`` deterministic sample publication files into ``out_dir``.

    ``out_dir`` is created if needed; existing files with the same names are
    overwritten. Same arguments produce byte-identical files. See
    :func:`iter_gazette` for how kinds and numbers are assigned.

    Returns:
        The paths written, in generation order.
    """
    files = iter_gazette(office=office, count=count, seed=seed, kinds=kinds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    append = paths.append
    # Open files relative to a directory descriptor where supported (saves a
    # path walk per file); fall back to joined paths elsewhere (Windows).
    use_dir_fd = os.open in os.supports_dir_fd
    dir_fd = os.open(out_dir, os.O_RDONLY) if use_dir_fd else None
    try:
        for f in files:
            if dir_fd is not None:
                fd = os.open(f.name, _OPEN_FLAGS, 0o644, dir_fd=dir_fd)
            else:
                fd = os.open(out_dir / f.name, _OPEN_FLAGS, 0o644)
            try:
                view = memoryview(f.data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            append(out_dir / f.name)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    return paths
