"""One verdict, whichever way an auditor asks: every case through every path, on anvil with real transactions.

Paths: ``ipreg verify`` in the office's home; ``ipreg verify`` as an outside auditor (fresh home, light
JSON-RPC reader, registry pinned with --registry/--chain-id, manifests from the office's published
base); ``POST /v1/verify`` with file and bundle; ``POST /v1/verify`` by content hash; the audit
(``audit_folder``); the evaluation's probe call (``verify_file`` as :mod:`registry.evaluate.probes` makes it).

What must never happen: two paths giving different verdicts or reason classes for one case; an
internal error on any path (the light path's crash on a compromised key was one); a VERIFIED that
does not say what it could not check. Where a path legitimately cannot know (no bundle on the hash
path, the audit pairing files and bundles by record id, later versions without manifests) the
expected answer is written down in :data:`EXCEPTIONS` and asserted exactly.

Each chain action of the scenario is one small function (:func:`anchor`, :func:`revoke_record`,
:func:`revoke_batch`, :func:`add_key`, :func:`remove_key`, :func:`mark_compromised`, :func:`suspend`,
:func:`anchor_raw`), so that a contract version with other rules is adapted in one place. One anvil
for the module, the scenario built once. ``pytest -s`` prints the case x path table.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from anvil_fixtures import AnvilNode, start_anvil
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from registry.anchor.pipeline import Anchorer, bundle_name
from registry.anchor.stored import reveal_bundle
from registry.api import create_app
from registry.audit.run import audit_folder
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import ServiceSettings, Settings
from registry.core.batch import utc_iso
from registry.core.canon import canonicalization_for, content_hash
from registry.core.content_address import content_address
from registry.core.formats import BatchManifest, ProofBundle
from registry.core.leaves import ZERO_HASH, LeafValue
from registry.core.proofs import BatchFacts, build_bundle
from registry.evaluate import actions
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_file, prepare_files
from registry.store.outbox import Store
from registry.verify.verdict import EXIT_CODES, NOT_CHECKED, Verdict
from registry.verify.verdicts import verify_file

pytestmark = pytest.mark.anvil

IPREG = Path(sys.executable).parent / "ipreg"
PATHS = ("cli-home", "cli-auditor", "cli-index", "api-file", "api-hash", "api-bundle", "audit", "probe")

#: case -> (verdict, reason code) every path must give, unless EXCEPTIONS says otherwise.
EXPECTED: dict[str, tuple[str, str]] = {
    "control": ("VERIFIED", "verified"),
    "tampered copy": ("TAMPERED", "content-differs"),
    "another record's bundle": ("MISMATCH", "other-record"),
    "foreign registry": ("UNKNOWN", "foreign-registry"),
    "revoked record": ("REVOKED", "record-revoked"),
    "revoked batch": ("REVOKED", "batch-revoked"),
    "superseded": ("SUPERSEDED", "superseded"),
    "unknown": ("UNKNOWN", "not-found"),
    "signer removed before the batch": ("UNAUTHORISED", "foreign-office-record"),
    "key compromised from the batch's block": ("UNAUTHORISED", "signer-compromised"),
    "sealed, before reveal": ("UNKNOWN", "sealed-no-reveal"),
    "sealed, after reveal": ("VERIFIED", "verified"),
    "suspended office, earlier batch": ("VERIFIED", "verified"),
    "revoked by a key compromised before its revocation": ("VERIFIED", "verified"),
}
#: (case, path) -> (verdict, reason code, why this path legitimately answers otherwise).
EXCEPTIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("another record's bundle", "api-hash"): ("VERIFIED", "verified", "no bundle on this path: the file's own record"),
    ("another record's bundle", "audit"): ("UNKNOWN", "not-found", "the audit pairs files with bundles by record id"),
    ("foreign registry", "api-hash"): ("UNKNOWN", "not-found", "no bundle naming a registry on this path"),
    ("signer removed before the batch", "api-hash"): (
        "UNKNOWN",
        "not-found",
        "anchored outside this service's outbox and index (no index synced)",
    ),
    ("sealed, before reveal", "api-hash"): ("UNKNOWN", "not-found", "sealed records are never found by hash"),
    ("sealed, before reveal", "audit"): ("UNKNOWN", "not-found", "an unrevealed bundle names no record id"),
    ("sealed, after reveal", "api-hash"): ("UNKNOWN", "not-found", "sealed records are never found by hash"),
    ("another record's bundle", "cli-index"): ("VERIFIED", "verified", "no bundle on this path: the file's own record"),
    ("foreign registry", "cli-index"): ("UNKNOWN", "not-found", "no bundle naming a registry on this path"),
    ("signer removed before the batch", "cli-index"): (
        "UNKNOWN",
        "not-found",
        "its manifest names another office's record: the index refuses it",
    ),
    ("sealed, before reveal", "cli-index"): ("UNKNOWN", "not-found", "sealed records are never found by hash"),
    ("sealed, after reveal", "cli-index"): ("UNKNOWN", "not-found", "sealed records are never found by hash"),
    ("tampered copy", "api-bundle"): ("VERIFIED", "verified", "no file on this path: the bundle's own record"),
    ("another record's bundle", "api-bundle"): (
        "VERIFIED",
        "verified",
        "no file on this path: the bundle's own record",
    ),
    ("unknown", "api-bundle"): ("n/a", "n/a", "the auditor holds no bundle to send"),
}


@dataclass
class Case:
    """What the auditor holds: a file (under its own name), perhaps its bundle, and the record it means."""

    file: Path
    bundle: ProofBundle | None
    record_id: str


@dataclass
class World:
    """The scenario: one anvil, the registry in the office's home, a second (foreign) registry."""

    node: AnvilNode
    chain: Chain
    settings: Settings
    store: Store
    tmp: Path
    manifests_url: str = ""
    cases: dict[str, Case] = field(default_factory=dict)


# -- the chain actions of the scenario, one function each


def anchor(
    w: World, office: str, account: LocalAccount, files: list[Path], sealed: bool = False
) -> dict[str, ProofBundle]:
    """Anchor ``files`` as one batch of ``office`` signed by ``account`` (outbox, manifest, bundles); by record id."""
    proofs = w.tmp / "proofs" / office
    anchorer = Anchorer(w.store, w.chain, account, office, w.settings.home / "manifests")
    anchorer.submit(prepare_files(files), sealed=sealed)
    (batch,) = anchorer.run(proofs).batches
    return {
        r.record_id: ProofBundle.loads((proofs / bundle_name(r)).read_bytes()) for r in w.store.batch_records(batch.id)
    }


def anchor_raw(w: World, account: LocalAccount, office: str, record_id: str, data: bytes, name: str) -> ProofBundle:
    """Anchor one record as a batch of one straight through the contract (its manifest published too)."""
    method = canonicalization_for(name)
    value = LeafValue(record_id, content_hash(data, method), method, ZERO_HASH)
    root = "0x" + value.leaf().hex()
    body = BatchManifest(office, root, (value,)).dumps()
    path = w.settings.home / "manifests" / office / f"{root}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    result = w.chain.anchor_batch(account, value.leaf(), 1, content_address(path.read_bytes()))
    dep = w.chain.deployment
    assert dep is not None
    facts = BatchFacts(
        dep.chain_id, dep.anchor_registry, office, root, 1, result.transaction_hash, result.block_number,
        utc_iso(result.timestamp),
    )  # fmt: skip
    return build_bundle(facts, value, ())


def revoke_record(w: World, office: str, bundle: ProofBundle, reason: int = 1, key: LocalAccount | None = None) -> None:
    """The office (its dev key, or ``key``) revokes one record (leaf) of a batch."""
    account = key or dev_signer(office)
    assert account is not None
    w.chain.revoke_leaf(account, bytes.fromhex(bundle.root[2:]), bundle.value.encode(), bundle.proof, reason)


def revoke_batch(w: World, office: str, bundle: ProofBundle, reason: int = 2) -> None:
    """The office revokes a whole batch."""
    account = dev_signer(office)
    assert account is not None
    w.chain.revoke_batch(account, bytes.fromhex(bundle.root[2:]), reason)


def add_key(w: World, office: str, key: LocalAccount) -> None:
    """The office nominates ``key``; the key accepts."""
    account = dev_signer(office)
    assert account is not None
    actions.add_key(w.chain, account, key, office)


def remove_key(w: World, office: str, key: LocalAccount) -> None:
    """The office removes ``key``."""
    account = dev_signer(office)
    assert account is not None
    w.chain.remove_signer(account, key.address)


def mark_compromised(w: World, office: str, key: LocalAccount, from_block: int) -> None:
    """``key`` marked compromised from ``from_block`` on: with contracts 3.0.0 a mark from an earlier block is
    the governance action ``mark-compromised``, the office's own approval first, then the other offices'."""
    codes = (office, *(c for c in ("EP", "US", "JP", "EM", "WO") if c != office))
    voters = [(code, a) for code in codes if (a := dev_signer(code))]
    actions.govern(w.chain, "mark-compromised", office, voters, signer=key.address, from_block=from_block)


def suspend(w: World, office: str) -> None:
    """Governance suspends ``office`` (the other genesis offices approve)."""
    voters = [(code, a) for code in ("EP", "US", "JP", "EM", "WO") if code != office and (a := dev_signer(code))]
    actions.govern(w.chain, "suspend", office, voters)


# -- the scenario, built once


def _alter(data: bytes) -> bytes:
    text = data.decode("utf-8")
    altered = text.replace('languageCode="en">', 'languageCode="en">Improved ', 1)
    assert altered != text
    return altered.encode("utf-8")


def _serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """The office's published manifest base: ``<URL>/<OFFICE>/<root>.json`` over HTTP."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def build(w: World) -> None:
    """Every case of :data:`EXPECTED`, with real transactions."""
    ep, us, jp, em, wo = (dev_signer(c) for c in ("EP", "US", "JP", "EM", "WO"))
    assert ep and us and jp and em and wo
    g = generate_gazette(w.tmp / "ep", office="EP", count=9, seed=11, kinds=("st96-patent",))
    first = anchor(w, "EP", ep, g[:6])
    rid = {f.name: str(prepare_file(f).record_id) for f in g}
    w.cases["control"] = Case(g[0], first[rid[g[0].name]], rid[g[0].name])
    tampered = w.tmp / "tampered" / g[1].name
    tampered.parent.mkdir()
    tampered.write_bytes(_alter(g[1].read_bytes()))
    w.cases["tampered copy"] = Case(tampered, first[rid[g[1].name]], rid[g[1].name])
    w.cases["another record's bundle"] = Case(g[2], first[rid[g[3].name]], rid[g[2].name])
    revoke_record(w, "EP", first[rid[g[4].name]])
    w.cases["revoked record"] = Case(g[4], first[rid[g[4].name]], rid[g[4].name])
    newer = w.tmp / "new-version" / g[5].name
    newer.parent.mkdir()
    newer.write_bytes(_alter(g[5].read_bytes()))
    anchor(w, "EP", ep, [newer])
    w.cases["superseded"] = Case(g[5], first[rid[g[5].name]], rid[g[5].name])
    third = anchor(w, "EP", ep, [g[6]])
    revoke_batch(w, "EP", third[rid[g[6].name]])
    w.cases["revoked batch"] = Case(g[6], third[rid[g[6].name]], rid[g[6].name])
    w.cases["unknown"] = Case(g[7], None, rid[g[7].name])

    # another registry on the same chain: the same offices, its own contracts
    other = Chain(connect(w.node.rpc_url))
    deploy_dev(other)
    foreign_store = Store(w.tmp / "foreign" / "registry.sqlite")
    f = g[8]
    anchorer = Anchorer(foreign_store, other, ep, "EP", w.tmp / "foreign" / "manifests")
    anchorer.submit(prepare_files([f]))
    (batch,) = anchorer.run(w.tmp / "foreign" / "proofs").batches
    (record,) = foreign_store.batch_records(batch.id)
    foreign = ProofBundle.loads((w.tmp / "foreign" / "proofs" / bundle_name(record)).read_bytes())
    w.cases["foreign registry"] = Case(f, foreign, record.record_id)

    # a key removed from EP, later a signer of JP, anchors an EP record in JP's name
    key = actions.spare_account(w.chain, 11)
    add_key(w, "EP", key)
    remove_key(w, "EP", key)
    add_key(w, "JP", key)
    stray = generate_gazette(w.tmp / "stray", office="EP", count=1, seed=12, kinds=("st96-patent",))[0]
    stray_id = str(prepare_file(stray).record_id)
    bundle = anchor_raw(w, key, "JP", stray_id, stray.read_bytes(), stray.name)
    w.cases["signer removed before the batch"] = Case(stray, bundle, stray_id)

    # a US key anchors and revokes an honest record, then US marks it compromised from that batch's block:
    # the key's batch is UNAUTHORISED and its revocation does not stand (contracts 3.0.0)
    us = dev_signer("US")
    assert us is not None
    honest_file = generate_gazette(w.tmp / "us-honest", office="US", count=1, seed=23, kinds=("st96-patent",))[0]
    honest_id = str(prepare_file(honest_file).record_id)
    honest = anchor(w, "US", us, [honest_file])[honest_id]
    thief = actions.spare_account(w.chain, 12)
    add_key(w, "US", thief)
    u = generate_gazette(w.tmp / "us", office="US", count=1, seed=13, kinds=("st96-patent",))[0]
    stolen = anchor(w, "US", thief, [u])
    u_id = str(prepare_file(u).record_id)
    revoke_record(w, "US", honest, key=thief)
    mark_compromised(w, "US", thief, stolen[u_id].block_number)
    w.cases["key compromised from the batch's block"] = Case(u, stolen[u_id], u_id)
    w.cases["revoked by a key compromised before its revocation"] = Case(honest_file, honest, honest_id)

    # EM seals a record; the bundle before and after the reveal
    s = generate_gazette(w.tmp / "em", office="EM", count=1, seed=14, kinds=("st96-patent",))[0]
    s_id = str(prepare_file(s).record_id)
    (sealed,) = anchor(w, "EM", em, [s], sealed=True).values()
    w.cases["sealed, before reveal"] = Case(s, sealed, s_id)
    w.cases["sealed, after reveal"] = Case(s, reveal_bundle(w.store, w.chain, s_id), s_id)

    # WO anchors, then governance suspends WO
    o = generate_gazette(w.tmp / "wo", office="WO", count=1, seed=15, kinds=("st96-patent",))[0]
    o_id = str(prepare_file(o).record_id)
    earlier = anchor(w, "WO", wo, [o])
    suspend(w, "WO")
    w.cases["suspended office, earlier batch"] = Case(o, earlier[o_id], o_id)
    assert set(w.cases) == set(EXPECTED)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("parity")
    node = start_anvil(tmp / "anvil")
    server = None
    try:
        home = tmp / "office-home"
        settings = Settings(home=home, rpc_url=node.rpc_url)
        chain = Chain(connect(node.rpc_url))
        deploy_dev(chain).save(settings.deployment_file)
        w = World(node, chain, settings, Store(settings.store_file), tmp)
        build(w)
        server, w.manifests_url = _serve(home / "manifests")
        index_home(w)
        yield w
    finally:
        if server is not None:
            server.shutdown()
        node.chain.stop()


# -- the paths


def _env(home: Path, rpc_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    env.update(IPREG_HOME=str(home), IPREG_RPC_URL=rpc_url, IPREG_RPC_RETRIES="0")
    env.update(IPREG_MANIFEST_SCHEMES="http,https", IPREG_MANIFEST_ALLOW_NETWORKS="127.0.0.0/8")
    return env


def _args(w: World, case: Case, extra: list[str], with_bundle: bool) -> list[str]:
    args = ["verify", str(case.file), "--json", *extra]
    if case.bundle is not None and with_bundle:
        proof = w.tmp / "bundles" / f"{abs(hash((str(case.file), case.bundle.dumps())))}.json"
        proof.parent.mkdir(exist_ok=True)
        proof.write_text(case.bundle.dumps(), encoding="utf-8")
        args += ["--proof", str(proof)]
    return args


def _cli_in_process(w: World, case: Case, home: Path, with_bundle: bool = True) -> dict[str, Any]:
    """The ``ipreg verify`` command run in this process (the homes' paths import web3: a process each is slow)."""
    from typer.testing import CliRunner

    from registry.cli import _register, app

    _register()
    result = CliRunner().invoke(app, _args(w, case, [], with_bundle), env=_env(home, w.node.rpc_url))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    body: dict[str, Any] = json.loads(result.stdout)
    assert result.exit_code == EXIT_CODES[body["verdict"]], (result.exit_code, body)
    return body


def _cli(w: World, case: Case, home: Path, extra: list[str], with_bundle: bool = True) -> dict[str, Any]:
    args = [str(IPREG), *_args(w, case, extra, with_bundle)]
    proc = subprocess.run(
        args, capture_output=True, text=True, env=_env(home, w.node.rpc_url), timeout=120, check=False
    )
    assert "Traceback" not in proc.stderr and proc.returncode != 70, proc.stderr
    body: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == EXIT_CODES[body["verdict"]], (proc.returncode, body)
    return body


def cli_home(w: World, case: Case) -> dict[str, Any]:
    """``ipreg verify`` in the office's home (its store, its deployment pinned)."""
    return _cli_in_process(w, case, w.settings.home)


def cli_auditor(w: World, case: Case, manifests: bool = True) -> dict[str, Any]:
    """``ipreg verify`` as an outside auditor: a fresh home, the registry pinned, the office's published manifests."""
    home = w.tmp / "auditor-home"
    shutil.rmtree(home, ignore_errors=True)
    dep = w.chain.deployment
    assert dep is not None
    pin = ["--registry", dep.anchor_registry, "--chain-id", str(dep.chain_id)]
    return _cli(w, case, home, pin + (["--manifests", w.manifests_url] if manifests else []))


def cli_index(w: World, case: Case) -> dict[str, Any]:
    """``ipreg verify FILE`` (no bundle) in an auditor's home whose index followed the chain and the manifests."""
    return _cli_in_process(w, case, w.tmp / "index-home", with_bundle=False)


def index_home(w: World) -> None:
    """An auditor's home: the consortium's deployment file, and ``ipreg index sync`` (manifests from the mirror)."""
    home = w.tmp / "index-home"
    home.mkdir()
    shutil.copy(w.settings.deployment_file, home / w.settings.deployment_file.name)
    env = {**_env(home, w.node.rpc_url), "IPREG_MANIFEST_MIRRORS": w.manifests_url}
    proc = subprocess.run(
        [str(IPREG), "index", "sync"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr


def _client(w: World) -> TestClient:
    return TestClient(
        create_app(w.settings, w.chain, ServiceSettings(cache_seconds=0.0, health_timeout=10, index_interval=0))
    )


def api_file(w: World, case: Case, client: TestClient) -> dict[str, Any]:
    """``POST /v1/verify`` with the file (and its bundle)."""
    files: dict[str, Any] = {"file": (case.file.name, case.file.read_bytes())}
    if case.bundle is not None:
        files["bundle"] = ("bundle.json", case.bundle.dumps(), "application/json")
    r = client.post("/v1/verify", files=files)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def api_bundle(w: World, case: Case, client: TestClient) -> dict[str, Any]:
    """``POST /v1/verify`` with the bundle alone (its own record)."""
    if case.bundle is None:
        return {"verdict": "n/a", "reasonCode": "n/a"}
    r = client.post("/v1/verify", json={"bundle": json.loads(case.bundle.dumps())})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def api_hash(w: World, case: Case, client: TestClient) -> dict[str, Any]:
    """``POST /v1/verify`` by the file's content hash, naming the record meant."""
    digest = content_hash(case.file.read_bytes(), canonicalization_for(case.file.name))
    r = client.post("/v1/verify", json={"contentHash": digest, "recordId": case.record_id})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def audit(w: World, case: Case) -> dict[str, Any]:
    """``ipreg audit``'s folder audit in the office's home: the file, and its bundle in the proofs folder."""
    folder = w.tmp / "audit" / str(abs(hash(str(case.file) + (case.bundle.dumps() if case.bundle else ""))))
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "proofs").mkdir(exist_ok=True)
    shutil.copy(case.file, folder / "files" / case.file.name)
    if case.bundle is not None:
        (folder / "proofs" / "case.proof.json").write_text(case.bundle.dumps(), encoding="utf-8")
    report = audit_folder(w.chain, w.store, folder / "files", case.record_id[:2], folder / "proofs", workers=1)
    rows = [r for r in report.rows if r.file is not None]
    assert len(rows) == 1, [(r.status, r.reason) for r in report.rows]
    return {"verdict": rows[0].status, "reasonCode": rows[0].reason_code, "reason": rows[0].reason}


def probe(w: World, case: Case) -> dict[str, Any]:
    """The evaluation's probe call: ``verify_file(chain, store, data, name, bundle)``."""
    v: Verdict = verify_file(w.chain, w.store, case.file.read_bytes(), case.file.name, case.bundle)
    return v.to_json()


def _run_all(w: World) -> dict[tuple[str, str], dict[str, Any]]:
    results: dict[tuple[str, str], dict[str, Any]] = {}
    with ThreadPoolExecutor(2) as pool:  # the outside auditor's runs are processes (light start-up): two at a time
        jobs: dict[tuple[str, str], Any] = {}
        for name, case in w.cases.items():
            jobs[(name, "cli-auditor")] = pool.submit(cli_auditor_isolated, w, case, name)
        for name, case in w.cases.items():
            results[(name, "cli-home")] = cli_home(w, case)
            results[(name, "cli-index")] = cli_index(w, case)
        with _client(w) as client:
            for name, case in w.cases.items():
                results[(name, "api-file")] = api_file(w, case, client)
                results[(name, "api-hash")] = api_hash(w, case, client)
                results[(name, "api-bundle")] = api_bundle(w, case, client)
        for name, case in w.cases.items():
            results[(name, "audit")] = audit(w, case)
            results[(name, "probe")] = probe(w, case)
        for key, job in jobs.items():
            results[key] = job.result()
    return results


def cli_auditor_isolated(w: World, case: Case, name: str) -> dict[str, Any]:
    """:func:`cli_auditor` with a home of its own (the jobs run side by side)."""
    home = w.tmp / "auditors" / str(abs(hash(name)))
    dep = w.chain.deployment
    assert dep is not None
    pin = ["--registry", dep.anchor_registry, "--chain-id", str(dep.chain_id), "--manifests", w.manifests_url]
    return _cli(w, case, home, pin)


def _table(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    width = max(len(c) for c in EXPECTED)
    head = f"{'case':<{width}} | " + " | ".join(f"{p:<32}" for p in PATHS)
    lines = [head, "-" * len(head)]
    for name in EXPECTED:
        cells = []
        for path in PATHS:
            r = results[(name, path)]
            mark = "*" if (name, path) in EXCEPTIONS else " "
            cells.append(f"{r['verdict']}/{r['reasonCode']}{mark}"[:32].ljust(32))
        lines.append(f"{name:<{width}} | " + " | ".join(cells))
    lines.append(
        "* a path that legitimately cannot know: "
        + "; ".join(f"{c} via {p}: {e[2]}" for (c, p), e in EXCEPTIONS.items())
    )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def results(world: World) -> dict[tuple[str, str], dict[str, Any]]:
    out = _run_all(world)
    print("\n" + _table(out))
    return out


@pytest.mark.parametrize("case", list(EXPECTED))
def test_same_verdict_and_reason_class_on_every_path(results: dict[tuple[str, str], dict[str, Any]], case: str) -> None:
    for path in PATHS:
        got = results[(case, path)]
        verdict, code = EXPECTED[case]
        if (case, path) in EXCEPTIONS:
            verdict, code, _why = EXCEPTIONS[(case, path)]
        assert (got["verdict"], got["reasonCode"]) == (verdict, code), (case, path, got.get("reason"))


def test_every_verdict_names_registry_chain_block_and_checks(
    world: World, results: dict[tuple[str, str], dict[str, Any]]
) -> None:
    dep = world.chain.deployment
    assert dep is not None
    for (case, path), body in results.items():
        if path == "audit" or body["verdict"] == "n/a":
            continue  # audit rows carry the report's registry, chain and block once (tested in test_audit)
        assert body["registry"].lower() == dep.anchor_registry.lower(), (case, path)
        assert body["chainId"] == dep.chain_id, (case, path)
        names = [c["name"] for c in body["checks"]]
        if body["stateBlock"] is not None:
            assert names, (case, path)
        if body["verdict"] == "VERIFIED":
            assert body["stateBlock"] >= (body["blockNumber"] or 0), (case, path)
            assert body["notChecked"] == [], (case, path, body["checks"])  # no silent VERIFIED on these paths
            for name in ("inclusion", "batchOwner", "signerAtBlock", "compromiseMark", "batchRevocation",
                         "recordRevocation", "laterVersions"):  # fmt: skip
                assert any(c["name"] == name and c["result"] == "passed" for c in body["checks"]), (case, path, name)


def test_auditor_without_manifests_says_later_versions_were_not_checked(world: World) -> None:
    """The outside auditor who cannot read the office's later batches is told so, never a silent VERIFIED."""
    body = cli_auditor(world, world.cases["superseded"], manifests=False)
    assert body["verdict"] == "VERIFIED" and body["notChecked"] == ["laterVersions"]
    check = next(c for c in body["checks"] if c["name"] == "laterVersions")
    assert check["result"] == NOT_CHECKED
    assert "values of 2 later batch(es) not available" in check["detail"]
    assert "give --manifests URL" in check["detail"]
    assert body["reason"].endswith("; NOT CHECKED: laterVersions (see checks)")


def test_unpinned_auditor_is_told_the_registry_came_from_the_bundle(world: World) -> None:
    home = world.tmp / "unpinned-home"
    body = _cli(world, world.cases["control"], home, ["--manifests", world.manifests_url])
    assert body["verdict"] == "VERIFIED" and body["notChecked"] == ["registry"]
    assert "taken from the bundle, not pinned" in next(c for c in body["checks"] if c["name"] == "registry")["detail"]


def test_help_lists_every_verdict_and_revocation_reason() -> None:
    proc = subprocess.run([str(IPREG), "verify", "--help"], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for verdict in EXIT_CODES:
        assert verdict in text, verdict
    for reason in ("1 withdrawn", "2 published in error", "3 replaced", "4 legal order"):
        assert reason in text, reason


def test_later_version_search_is_bounded_and_says_so(world: World) -> None:
    """A cap on later batches, or on manifest bytes, turns the check into 'not checked', naming the cap."""
    from registry.chain.light import LightReader
    from registry.indexer.fetch import FetchPolicy
    from registry.verify.readers import LiveReader
    from registry.verify.verifier import Verifier
    from registry.verify.versions import VersionSources

    case = world.cases["control"]
    capped = Verifier(LiveReader(world.chain), store=world.store, sources=VersionSources(world.store, max_batches=1))
    check = capped.verify_file(case.file.read_bytes(), case.file.name, case.bundle).check("laterVersions")
    assert check is not None and check.result == NOT_CHECKED
    assert "cap of 1 batches reached (2 later batches)" in check.detail
    dep = world.chain.deployment
    assert dep is not None
    policy = FetchPolicy(schemes=frozenset({"http"}), allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
                         mirrors=(world.manifests_url,))  # fmt: skip
    light = LightReader(world.node.rpc_url, dep.anchor_registry, retries=0)
    tight = Verifier(light, sources=VersionSources(policy=policy, max_bytes=10))
    verdict = tight.verify_file(case.file.read_bytes(), case.file.name, case.bundle)
    check = verdict.check("laterVersions")
    assert verdict.verdict == "VERIFIED" and check is not None and check.result == NOT_CHECKED, verdict.checks
    assert "values of 2 later batch(es) not available" in check.detail
    roomy = Verifier(light, sources=VersionSources(policy=policy))
    assert roomy.verify_file(case.file.read_bytes(), case.file.name, case.bundle).not_checked == ()
