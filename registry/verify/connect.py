"""The verifier of a command line: its registry pinned, its reader chosen, its version sources set.

An office's or auditor's home with a deployment pins the deployment's registry; ``--registry ADDRESS
--chain-id N`` pins another (an outside auditor with nothing but a bundle and an endpoint). With no
pin at all the bundle's own registry is used and every verdict says that it was not pinned. Over
HTTP(S) the light JSON-RPC reader is used in every home (no web3 import: fast start-up; it answers
every question of the reader protocol, tested against the web3 reader); web3 only for the embedded
chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from registry.config import Settings
from registry.core.address import checksum_address
from registry.errors import ConfigError
from registry.store.outbox import Store
from registry.timestamps.config import load_config
from registry.verify.readers import ChainReader
from registry.verify.verifier import Verifier
from registry.verify.versions import VersionSources

if TYPE_CHECKING:
    from registry.indexer.fetch import FetchPolicy


def cli_verifier(
    s: Settings,
    store: Store | None,
    registry: str | None = None,
    chain_id: int | None = None,
    bundle_registry: str | None = None,
    mirrors: Sequence[str] = (),
    tsa_certs: Sequence[Path] = (),
    archive: Path | None = None,
    archive_head: str | None = None,
) -> Verifier:
    """The verifier for ``ipreg verify``: pinned registry, reader, later-version sources, and the trust anchors
    of time-stamp tokens (``$IPREG_HOME/timestamps.toml`` and ``tsa_certs``). With ``archive`` the reader is the
    chain archive's (no node; :mod:`registry.archive.reader`), its head checked against ``archive_head`` if given."""
    from registry.chain.deployments import Deployment

    deployment = Deployment.load(s.deployment_file) if s.deployment_file.exists() else None
    pinned = True
    if registry is not None:
        address = checksum_address(registry)
    elif deployment is not None:
        address = checksum_address(deployment.anchor_registry)
        chain_id = chain_id if chain_id is not None else deployment.chain_id
    elif bundle_registry is not None:
        address, pinned = checksum_address(bundle_registry), False
    else:
        raise ConfigError(
            "no proof bundle and no local deployment: give --proof BUNDLE (and --registry ADDRESS --chain-id N"
            " to pin the registry), or run in a home with a deployment"
        )
    if store is not None and (deployment is None or address.lower() != deployment.anchor_registry.lower()):
        store = None  # the home's outbox and index belong to its own deployment, not to the pinned registry
    reader: ChainReader
    if archive is not None:
        from registry.archive.reader import ArchiveReader, load_archive

        reader = ArchiveReader(load_archive(archive), archive_head)
        if reader.registry.lower() != address.lower():
            raise ConfigError(f"the archive holds registry {reader.registry}, not the pinned {address}")
    elif s.rpc_url.startswith(("http://", "https://")):  # any home: the light reader (no web3: fast start-up)
        from registry.chain.light import LightReader

        reader = LightReader(s.rpc_url, address, s.rpc_retries, probe=False)
    else:
        from registry.chain.client import Chain, connect
        from registry.verify.readers import LiveReader

        w3 = connect(s.rpc_url)
        if deployment is not None and address.lower() == deployment.anchor_registry.lower():
            chain = Chain(w3, deployment, retries=s.rpc_retries)
            chain.check_code()
        else:
            chain = Chain.for_registry(w3, address, s.rpc_retries)
        reader = LiveReader(chain)
    stamps = load_config(s.home, cert_files=tsa_certs)
    return Verifier(
        reader,
        chain_id=chain_id,
        store=store,
        sources=sources(s, store, address, mirrors),
        pinned=pinned,
        timestamp_anchors=stamps.anchors,
        timestamp_tolerance=stamps.tolerance,
    )


def sources(s: Settings, store: Store | None, registry: str, mirrors: Sequence[str] = ()) -> VersionSources:
    """Where later versions' values are read: the store, the index, this home's manifests, then fetched under
    ``IPREG_MANIFEST_*`` (the policy is made, and the HTTP client imported, on the first fetch)."""
    from registry.store.index import Index

    for mirror in mirrors:
        if not mirror.startswith(("http://", "https://")):
            raise ConfigError(f"--manifests must be an absolute http(s) URL, got {mirror[:80]!r}")

    def policy() -> FetchPolicy:
        from dataclasses import replace

        from registry.indexer.fetch import FetchPolicy

        found = FetchPolicy.from_env()
        return replace(found, mirrors=(*found.mirrors, *(m.rstrip("/") for m in mirrors))) if mirrors else found

    index = Index.of(store.db, registry) if store is not None else None
    return VersionSources(store, index, s.home / "manifests", policy)
