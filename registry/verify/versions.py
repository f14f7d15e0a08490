"""Later versions of a record, found from the chain: the one rule for SUPERSEDED on every path.

A later version of a record (leaf L, record id R, anchored by office O at block B) is a leaf value
with record id R that names L as the version it supersedes, in a batch O anchored from block B on
(read from the chain's ``BatchAnchored`` events up to the verdict's state block), that counts: its
inclusion, batch and leaf revocation and signer are checked through the same reader as the record's
own (a revoked new version, or one anchored by a key not authorised then, does not supersede).

After a migration every later version lives in the successor: the search follows the registry's confirmed
successors (:meth:`~registry.verify.readers.ChainReader.successor`: frozen in its favour at the state block,
naming the registry back as ``predecessor()``, running shipped contract builds; at most :data:`MAX_HOPS`),
each judging its own versions by the same rule. The check names every registry it searched; a reader that
cannot follow (the index, an archive) makes it say "not checked beyond" the frozen registry.

The values of a later batch come from, in order: this home's outbox, the index, this home's
manifest copies, then its manifest URI (``https``) or a mirror (content-addressed ``ni:`` URIs),
fetched under the SSRF-safe :class:`registry.indexer.fetch.FetchPolicy`; every copy must rebuild the
anchored root. Work is bounded (batches and bytes); when a batch's values cannot be had, or a bound is
reached, the check says so and how to run it, instead of passing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from registry.core import merkle
from registry.core.batch import AnchoredBatch
from registry.core.content_address import content_digest
from registry.core.formats import ManifestError, ProofBundle
from registry.core.leaves import LeafValue
from registry.errors import ChainError, RegistryError
from registry.store.index import IndexedBatch
from registry.verify.readers import ChainReader
from registry.verify.verdict import C_LATER_VERSIONS, NOT_CHECKED, PASSED, Check

if TYPE_CHECKING:
    from registry.indexer.fetch import FetchPolicy
    from registry.store.index import Index
    from registry.store.outbox import Store

#: Later batches of the office examined at most per verdict.
MAX_BATCHES: Final = 256
#: Successors followed at most from a record's registry (each link confirmed from both ends).
MAX_HOPS: Final = 8
#: Manifest bytes fetched at most per verifier (all verdicts together).
MAX_BYTES: Final = 64 * 1024 * 1024
#: How an auditor runs the check that could not run.
HOW: Final = (
    "give --manifests URL (the office service's /v1/manifests or a mirror of <OFFICE>/<root>.json),"
    " set IPREG_MANIFEST_MIRRORS, or verify in a home whose index is synced (`ipreg index sync`)"
)


@dataclass(frozen=True, slots=True)
class Newer:
    """A later version that counts: its record id, content hash, batch root and block."""

    record_id: str
    content_hash: str
    root: str
    block_number: int


@dataclass
class VersionSources:
    """Where the values of a later batch may be read; each copy must rebuild the anchored root."""

    store: Store | None = None
    index: Index | None = None
    #: This home's manifest copies (``<folder>/<OFFICE>/<root>.json``).
    manifests: Path | None = None
    #: Remote fetching (``https`` manifest URIs, mirrors for ``ni:``), or a function making the policy on the first
    #: fetch (the HTTP client is imported only then); None: no network.
    policy: FetchPolicy | Callable[[], FetchPolicy] | None = None
    max_batches: int = MAX_BATCHES
    max_bytes: int = MAX_BYTES
    #: Bundles a caller holds of versions naming a leaf (an audit's proofs folder): (leaf, record id) -> bundles.
    bundles: Callable[[str, str], Sequence[ProofBundle]] | None = None
    _values: dict[tuple[str, str], _Values | str] = field(default_factory=dict)
    _fetched: int = 0

    def values(self, batch: AnchoredBatch) -> _Values | str:
        """The batch's values (with the positions of each leaf they supersede), or why they cannot be had.

        Cached per batch, so an audit reads each batch once."""
        key = (batch.office, batch.root.lower())
        found = self._values.get(key)
        if found is None:
            loaded = self._load(batch)
            found = self._values[key] = loaded if isinstance(loaded, str) else _Values.of(loaded)
        return found

    def _load(self, batch: AnchoredBatch) -> list[LeafValue] | str:
        root = batch.root.lower()
        for local in (self._outbox, self._indexed):
            values = local(batch.office, root)
            if values is not None and _rebuilds(values, root):
                return values
        from registry.indexer.manifests import local_manifest, manifest_values

        target = _indexed_batch(batch)
        body = local_manifest(self.manifests, batch.office, root, self.max_bytes)
        if body is not None:
            try:
                return manifest_values(body, target)
            except ManifestError:
                pass  # a stale or forged copy here: try the published one
        if self.policy is None:
            return "no local copy of its manifest and no fetching on this path"
        try:
            body = self._remote(batch)
            return manifest_values(body, target)
        except (ManifestError, RegistryError) as exc:
            public = getattr(exc, "public", None)
            return str(public or exc.diagnostics())[:200]

    def _outbox(self, office: str, root: str) -> list[LeafValue] | None:
        if self.store is None:
            return None
        from registry.store.outbox import BatchStatus
        from registry.store.proofs import leaf_value_of

        stored = self.store.batch_by_root(root)
        if stored is None or stored.office != office or stored.status != BatchStatus.ANCHORED:
            return None
        return [leaf_value_of(r) for r in self.store.batch_records(stored.id)]

    def _indexed(self, office: str, root: str) -> list[LeafValue] | None:
        if self.index is None:
            return None
        return [x.value for x in self.index.batch_leaves(office, root)] or None

    def _remote(self, batch: AnchoredBatch) -> bytes:
        """The published manifest's bytes (URI, or a mirror whose copy has the content address), bounded."""
        from dataclasses import replace

        from registry.indexer.manifests import read_manifest

        assert self.policy is not None
        if callable(self.policy):
            self.policy = self.policy()
        budget = self.max_bytes - self._fetched
        if budget <= 0:
            raise ManifestError("manifest byte budget spent", f"the cap of {self.max_bytes} manifest bytes was reached")
        policy = replace(self.policy, max_bytes=min(self.policy.max_bytes, budget))
        digest = content_digest(batch.manifest_uri)
        if digest is None:
            body = read_manifest(batch.manifest_uri, policy=policy)
        else:
            body = b""
            for mirror in policy.mirrors:
                try:
                    copy = read_manifest(
                        f"{mirror.rstrip('/')}/{batch.office}/{batch.root.lower()}.json", policy=policy
                    )
                except ManifestError:
                    continue
                if hashlib.sha256(copy).digest() == digest:
                    body = copy
                    break
            if not body:
                raise ManifestError("no mirror copy", "content-addressed manifest: no copy at a configured mirror")
        self._fetched += len(body)
        return body


@dataclass(frozen=True, slots=True)
class _Values:
    """A batch's values and, per superseded leaf (``0x``-hex), the positions of the values naming it."""

    values: list[LeafValue]
    superseding: dict[str, list[int]]

    @classmethod
    def of(cls, values: list[LeafValue]) -> _Values:
        superseding: dict[str, list[int]] = {}
        for position, value in enumerate(values):
            superseding.setdefault(value.supersedes.lower(), []).append(position)
        return cls(values, superseding)


def _rebuilds(values: Sequence[LeafValue], root: str) -> bool:
    return merkle.rebuild([v.leaf() for v in values], root) is not None


def _indexed_batch(batch: AnchoredBatch) -> IndexedBatch:
    """The batch in the shape the manifest checks take."""
    return IndexedBatch(
        batch.root.lower(), batch.office, batch.signer, batch.block_number, 0, 0, batch.leaf_count,
        batch.manifest_uri, batch.transaction_hash, 0, "", None,
    )  # fmt: skip


def later_version(
    reader: ChainReader, sources: VersionSources, leaf: bytes, record_id: str, office: str, root: str, block: int
) -> tuple[Newer | None, Check]:
    """The first later version of the record that counts (or None), and the check's report.

    Searched in the record's registry, then along its confirmed successors (:meth:`ChainReader.successor`, at most
    :data:`MAX_HOPS`): after a freeze every later version lives in the successor. There a version counts by the
    same rule, judged by the successor's own contracts (its batch, revocations and its OfficeRegistry's signer
    terms for the same office code): the frozen registry's governance chose that successor, and the successor
    names it as predecessor. The check names every registry it searched, and says when it could not go further.
    """
    target = "0x" + leaf.hex()
    held = list(sources.bundles(target, record_id)) if sources.bundles is not None else []
    search = _Search(sources.max_batches)
    current: ChainReader = reader
    seen = {reader.registry.lower()}
    beyond = ""
    for hop in range(MAX_HOPS + 1):
        newer = search.registry(current, sources, held, target, record_id, office, root if hop == 0 else "", block)
        if newer is not None:
            where = f"batch {newer.root} at block {newer.block_number} of registry {current.registry}"
            detail = f"later version {newer.content_hash} in {where}; searched {search.scope()}"
            return newer, Check(C_LATER_VERSIONS, PASSED, detail)
        try:
            following = current.successor()
        except ChainError as exc:
            beyond = f"its successor could not be read ({exc.diagnostics()[:120]})"
            break
        if following is None:
            break
        if isinstance(following, str):
            beyond = following
            break
        if hop == MAX_HOPS:
            beyond = f"it has a successor too, and at most {MAX_HOPS} successors are followed"
            break
        if following.registry.lower() in seen:
            break  # a loop of links (immutable predecessors make one impossible): nothing new to search
        seen.add(following.registry.lower())
        current = following
    problems = [*search.problems]
    if beyond:
        problems.append(f"not checked beyond registry {current.registry}: {beyond}")
    if problems:
        how = "" if not search.problems else f"; {HOW}"
        return None, Check(C_LATER_VERSIONS, NOT_CHECKED, f"{'; '.join(problems)}; searched {search.scope()}{how}")
    note = f"; not counted: {'; '.join(search.discounted[:3])}" if search.discounted else ""
    return None, Check(C_LATER_VERSIONS, PASSED, f"no later version in {search.scope()}{note}")


@dataclass
class _Search:
    """One verdict's search for later versions over the registries it follows: what it read and missed."""

    cap: int
    budget: int = -1
    searched: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    discounted: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.budget = self.cap

    def scope(self) -> str:
        """Which registries were searched, how many later batches of each, up to which block."""
        return "registries " + ", ".join(self.searched) if len(self.searched) > 1 else self.searched[0]

    def registry(
        self,
        reader: ChainReader,
        sources: VersionSources,
        held: Sequence[ProofBundle],
        target: str,
        record_id: str,
        office: str,
        root: str,
        block: int,
    ) -> Newer | None:
        """The first later version that counts in ``reader``'s registry (held bundles first, then its batches)."""
        for bundle in held:
            newer = _held(reader, bundle, target, record_id, office, block)
            if newer is not None:
                self.searched.append(f"{reader.registry} (a held bundle)")
                return newer
        label = f"{reader.registry} up to block {reader.state_block()}"
        try:
            batches = [b for b in reader.office_batches(office, block) if b.root.lower() != root.lower()]
        except ChainError as exc:
            self.searched.append(f"{label} (batches not listed)")
            self.problems.append(
                f"the office's later batches in {reader.registry} could not be listed ({exc.diagnostics()[:120]})"
            )
            return None
        allowed = max(0, self.budget)
        self.budget -= len(batches)
        examined = min(len(batches), allowed)
        self.searched.append(f"{label} ({examined} later batch(es) of {office})")
        if len(batches) > allowed:
            self.problems.append(
                f"cap of {self.cap} batches reached ({len(batches)} later batches) in registry {reader.registry}"
            )
        missing: list[str] = []
        for batch in batches[:allowed]:
            values = sources.values(batch)
            if isinstance(values, str):
                missing.append(f"{batch.root} ({values})")
                continue
            for position in values.superseding.get(target, ()):
                value = values.values[position]
                if value.record_id != record_id:
                    continue
                problem = _counts(reader, office, batch.root, values.values, position)
                if problem is None:
                    return Newer(value.record_id, value.content_hash, batch.root.lower(), batch.block_number)
                self.discounted.append(f"{batch.root}: {problem}")
        if missing:
            self.problems.append(
                f"values of {len(missing)} later batch(es) not available (registry {reader.registry}):"
                f" {'; '.join(missing[:3])}"
            )
        return None


def _counts(reader: ChainReader, office: str, root: str, values: Sequence[LeafValue], position: int) -> str | None:
    """None if the later version at ``position`` counts (included, not revoked, signer authorised), else why not."""
    tree = merkle.MerkleTree.from_leaves([v.leaf() for v in values])
    proof = ["0x" + p.hex() for p in tree.proof(position)]
    included, info, leaf_reason = reader.verify_record(office, root, proof, values[position].encode())
    if info is None or not included or info.office != office:
        return "not in the anchored batch"
    if info.revocation_reason or leaf_reason:
        return "revoked"
    if not reader.is_authorised_at(office, info.signer, info.block_number):
        return f"signer {info.signer} not authorised at block {info.block_number}"
    return None


def _held(
    reader: ChainReader, bundle: ProofBundle, target: str, record_id: str, office: str, block: int
) -> Newer | None:
    """The later version a held bundle proves, if it counts (same rule as a version found in a batch)."""
    value = bundle.value
    if (
        bundle.registry.lower() != reader.registry.lower()
        or value.supersedes.lower() != target
        or value.record_id != record_id
        or bundle.office != office
    ):
        return None
    included, info, leaf_reason = reader.verify_record(office, bundle.root, bundle.proof, value.encode())
    if info is None or not included or info.block_number < block or info.revocation_reason or leaf_reason:
        return None
    if not reader.is_authorised_at(office, info.signer, info.block_number):
        return None
    return Newer(value.record_id, value.content_hash, bundle.root.lower(), info.block_number)
