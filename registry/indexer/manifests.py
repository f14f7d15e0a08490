"""Batch manifests: finding one (this home's copy, its URI, a mirror) and accepting only values that rebuild the root.

A manifest (``ipreg-manifest-v1``) lists the leaf values of one anchored batch. The indexer takes
nothing from it on trust: every value must parse, every record id must be valid and belong to the
anchoring office, and together they must rebuild the root the chain anchored (:func:`manifest_values`).

Usage::

    values = manifest_of(batch, FetchPolicy.from_env(), home / "manifests")
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from registry.core.content_address import content_digest
from registry.core.formats import BatchManifest, ManifestError
from registry.core.leaves import LeafValue
from registry.indexer.fetch import FetchError, FetchPolicy, fetch_url
from registry.store.index import IndexedBatch

#: Largest manifest fetched (a 10,000-record manifest is about 2 MB).
MANIFEST_MAX_BYTES: Final = 64 * 1024 * 1024
#: Seconds before a manifest fetch gives up.
MANIFEST_TIMEOUT: Final = 10.0

_OFFICE: Final = re.compile(r"[A-Z]{2}")
_ROOT: Final = re.compile(r"0x[0-9a-f]{64}")


def read_manifest(
    uri: str,
    max_bytes: int = MANIFEST_MAX_BYTES,
    timeout: float = MANIFEST_TIMEOUT,
    allow_files: bool = False,
    policy: FetchPolicy | None = None,
) -> bytes:
    """The bytes behind an ``http(s)://`` manifest URI, under ``policy`` (default: https to public addresses).

    ``file://`` URIs are never read by URI (a chain-supplied path must not make this machine read its
    disk): an office's own manifests are found by office and root in its manifest folder
    (:func:`local_manifest`). ``allow_files`` is kept for callers of the old signature and ignored.
    ManifestError (its ``public`` text free of remote and network details) if refused or unavailable.
    """
    del allow_files
    policy = policy or FetchPolicy(max_bytes=max_bytes, timeout=timeout)
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "file":
        raise ManifestError("file manifests are not read by URI", "manifest URI names a local file")
    if content_digest(uri) is not None:
        raise ManifestError("content-addressed manifest: no copy here or at a mirror", "no copy of the manifest found")
    if scheme not in ("http", "https"):
        raise ManifestError(
            f"unsupported manifest URI scheme {scheme[:20] or '(none)'!r}", "unsupported manifest URI scheme"
        )
    try:
        return fetch_url(uri, policy)
    except FetchError as exc:
        raise ManifestError(exc.diagnostics(), exc.public) from None


def local_manifest(folder: Path | None, office: str, root: str, max_bytes: int) -> bytes | None:
    """This home's copy of a manifest (``<folder>/<OFFICE>/<root>.json``), or None.

    The path is built from the anchored office code and root only (both validated shapes), never from
    the URI, so no chain-supplied text can point it elsewhere.
    """
    if folder is None or not _OFFICE.fullmatch(office) or not _ROOT.fullmatch(root):
        return None
    path = folder / office / f"{root}.json"
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        return path.read_bytes()
    except OSError:
        return None


def manifest_values(body: bytes, batch: IndexedBatch) -> list[LeafValue]:
    """The values of a manifest, accepted only if they rebuild the batch's anchored root and every
    record id is valid and of the anchoring office (:meth:`BatchManifest.loads`). Messages never echo
    the manifest's content."""
    return list(BatchManifest.loads(body, office=batch.office, root=batch.root, leaf_count=batch.leaf_count).values)


def manifest_of(batch: IndexedBatch, policy: FetchPolicy, local_folder: Path | None) -> list[LeafValue]:
    """The verified values of a batch: this home's copy first (in ``local_folder``), then its URI (or a
    mirror for ``ni:``), fetched under ``policy``. ManifestError if no copy rebuilds the anchored root."""
    local = local_manifest(local_folder, batch.office, batch.root, policy.max_bytes)
    local_problem: ManifestError | None = None
    if local is not None:
        try:
            return manifest_values(local, batch)
        except ManifestError as exc:  # a forged or stale file here: try the URI, report this if all fail
            local_problem = exc
    digest = content_digest(batch.manifest_uri)
    if digest is None:
        try:
            return manifest_values(read_manifest(batch.manifest_uri, policy=policy), batch)
        except ManifestError:
            if local_problem is not None:
                raise local_problem from None
            raise
    problem = local_problem or ManifestError(
        f"content-addressed manifest of batch {batch.root}: no copy here or at a mirror",
        "no copy of the content-addressed manifest found here or at a configured mirror",
    )
    for mirror in policy.mirrors:
        url = f"{mirror.rstrip('/')}/{batch.office}/{batch.root}.json"
        try:
            body = read_manifest(url, policy=policy)
        except ManifestError as exc:
            problem = exc
            continue
        if hashlib.sha256(body).digest() != digest:
            problem = ManifestError(f"mirror copy of batch {batch.root} has another content hash")
            continue
        return manifest_values(body, batch)
    raise problem
