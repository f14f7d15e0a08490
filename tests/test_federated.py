"""The federated model for real: three office services and one auditor, each its own `ipreg serve`.

One anvil node and the dev-preset contracts. EP, US and JP each run a service with its own home
holding only its own encrypted keystore (the dev-preset key is withdrawn on chain, so only that
keystore key signs for the office) and its own API token. The offices submit generated gazette
records over HTTP and force a batch; each batch's manifest is published by the office's own service
(``GET /v1/manifests/{office}/{root}.json``) and anchored under that URL. A fourth service with no
keys and no tokens, the auditor, knows nothing but the chain and what the offices publish: its
index loop follows the events and fetches the manifests, and it must then give every office's
files the verdict VERIFIED with the right provenance, a tampered copy TAMPERED and an unknown file
UNKNOWN, while refusing every write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from anvil_fixtures import AnvilNode
from eth_account.signers.local import LocalAccount

from registry.api.service import Service
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.deployments import Deployment
from registry.chain.dev import dev_account, dev_signer
from registry.chain.keys import create_keystore, unlock
from registry.config import ServiceSettings, Settings
from registry.evaluate.samples import generate_gazette, iter_gazette
from registry.node.anvil import LocalChain, free_port

OFFICES = ("EP", "US", "JP")
KINDS = ("st96-patent", "st97-json", "pdf", "st96-trademark")
RECORDS_PER_OFFICE = 4
PASSWORD = "federation-test-password"
#: scrypt work factor of the test keystores (the real default costs ~1 s per unlock).
CHEAP_KDF = 2**10
#: Index loop period of every service in this test.
INDEX_INTERVAL = "0.3"
STARTUP_SECONDS = 30.0
CATCH_UP_SECONDS = 30.0
HTTP_TIMEOUT = 30.0


def _ipreg() -> list[str]:
    """The installed `ipreg` entry point next to this interpreter (else the same entry in-process)."""
    script = Path(sys.executable).parent / "ipreg"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from registry.cli import main; main()"]


def _env(home: Path, rpc_url: str) -> dict[str, str]:
    """A clean environment for one instance: only its home, the node and the keystore password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    env.update(IPREG_HOME=str(home), IPREG_RPC_URL=rpc_url, IPREG_KEYSTORE_PASSWORD=PASSWORD)
    # The fleet lives on loopback: allow it explicitly (the default policy refuses it, see test_fetch.py).
    env.update(IPREG_MANIFEST_SCHEMES="http,https", IPREG_MANIFEST_ALLOW_NETWORKS="127.0.0.0/8")
    env.update(IPREG_HEALTH_TIMEOUT="2")  # a loaded test machine: "degraded" only for a node that is really gone
    return env


@dataclass
class Instance:
    """One running `ipreg serve`."""

    name: str
    home: Path
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    token: str | None = None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def describe(self) -> str:
        return f"{self.name} ({self.url}, exit {self.proc.poll()}); log:\n{self.log_text()[-4000:]}"


@dataclass
class Fleet:
    """The services started by a test; stopped (terminate, wait, kill if need be) at teardown."""

    instances: list[Instance] = field(default_factory=list)

    def stop(self, instance: Instance, timeout: float = 20.0) -> int:
        if instance.proc.poll() is None:
            instance.proc.terminate()
            try:
                instance.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                instance.proc.kill()
                instance.proc.wait(timeout=10)
        return int(instance.proc.returncode)

    def stop_all(self) -> None:
        for instance in self.instances:
            if instance.proc.poll() is None:
                instance.proc.terminate()
        for instance in self.instances:
            self.stop(instance)


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    services = Fleet()
    try:
        yield services
    finally:
        services.stop_all()


# ---------------------------------------------------------------------------- set-up helpers


def _fund(chain: Chain, to: str, wei: int = 10**19) -> None:
    """Send gas money from the deployer (a dev account) to a new key."""
    funder = dev_account(0)
    w3 = chain.w3
    base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
    tx = {
        "from": funder.address,
        "to": to,
        "value": wei,
        "gas": 21_000,
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(funder.address, "pending"),
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 2 * base + 10**9,
    }
    chain.wait(chain.send(funder, tx))


def _office_home(root: Path, code: str, chain: Chain, deployment: Deployment) -> tuple[Path, str]:
    """A home with the deployment and a new encrypted keystore for ``code``, the only key of the office."""
    home = root / f"office-{code}"
    deployment.save(home / "deployment.json")
    address = create_keystore(home / "keys" / f"{code}.json", PASSWORD, kdf_iterations=CHEAP_KDF)
    dev: LocalAccount | None = dev_signer(code)
    assert dev is not None, f"{code} is not a dev-preset office"
    chain.add_signer(dev, address)
    _fund(chain, address)
    chain.accept_signer(unlock(home / "keys" / f"{code}.json", PASSWORD), code)
    chain.remove_signer(dev, dev.address)
    assert chain.office_of(address) == code, f"new key {address} does not sign for {code}"
    assert chain.office_of(dev.address) is None, f"the dev key of {code} still signs"
    return home, address


def _create_tokens(homes: dict[str, Path], rpc_url: str) -> dict[str, str]:
    """`ipreg token create --office XX` in each office's home (in parallel); the printed tokens."""
    procs = {
        code: subprocess.Popen(
            [*_ipreg(), "token", "create", "--office", code, "--label", "federation test"],
            env=_env(home, rpc_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for code, home in homes.items()
    }
    tokens = {}
    for code, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"ipreg token create --office {code} failed: {err}"
        token = out.strip().splitlines()[0].strip() if out.strip() else ""
        assert token, f"ipreg token create --office {code} printed no token: {out!r} {err!r}"
        tokens[code] = token
    return tokens


def _start(fleet: Fleet, name: str, home: Path, rpc_url: str, *extra: str) -> Instance:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = home.parent / f"{name}.log"
    out = log.open("wb")
    args = [*_ipreg(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--public-url", url, "--index-interval", INDEX_INTERVAL, "--log-level", "info", *extra]
    proc = subprocess.Popen(args, env=_env(home, rpc_url), stdout=out, stderr=subprocess.STDOUT)
    out.close()  # the child holds its own descriptor
    instance = Instance(name, home, url, proc, log)
    fleet.instances.append(instance)
    return instance


def _wait_healthy(client: httpx.Client, instances: list[Instance]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    waiting = list(instances)
    while waiting:
        for instance in list(waiting):
            assert instance.proc.poll() is None, f"service exited during start-up: {instance.describe()}"
            try:
                r = client.get(instance.url + "/health", timeout=2.0)
            except httpx.TransportError:
                continue
            if r.status_code == 200 and r.json().get("chainReachable") is True:
                waiting.remove(instance)
        if waiting:
            assert time.monotonic() < deadline, "not healthy in time: " + "; ".join(i.describe() for i in waiting)
            time.sleep(0.1)


def _until(what: str, probe: Callable[[], Any], ok: Callable[[Any], bool], seconds: float = CATCH_UP_SECONDS) -> Any:
    """Poll ``probe`` until ``ok`` holds for its value; fail with the last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}; last: {value!r}")
        time.sleep(0.2)


def _error(r: httpx.Response, status: int | tuple[int, ...], what: str) -> dict[str, Any]:
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, f"{what}: expected HTTP {statuses}, got {r.status_code}: {r.text[:500]}"
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), f"{what}: error body {body}"
    return dict(body["error"])


def _tampered(data: bytes) -> bytes:
    """The same document with its first date changed (ids and length untouched)."""
    found = re.search(rb"(20\d\d)-(\d\d)-(\d\d)", data)
    assert found is not None, "sample without a date"
    day = b"%02d" % (int(found.group(3)) % 28 + 1)
    out = data[: found.start(3)] + day + data[found.end(3) :]
    assert out != data and len(out) == len(data)
    return out


# ---------------------------------------------------------------------------- the test


@pytest.mark.anvil
def test_three_offices_and_an_auditor(tmp_path: Path, anvil: AnvilNode, fleet: Fleet) -> None:
    started = time.monotonic()
    chain = Chain(connect(anvil.rpc_url))
    deployment = deploy_dev(chain)

    homes: dict[str, Path] = {}
    keys: dict[str, str] = {}
    for code in OFFICES:
        homes[code], keys[code] = _office_home(tmp_path, code, chain, deployment)
    auditor_home = tmp_path / "auditor"
    deployment.save(auditor_home / "deployment.json")
    assert sorted(p.name for p in auditor_home.iterdir()) == ["deployment.json"]
    for code, home in homes.items():
        assert sorted(p.name for p in (home / "keys").iterdir()) == [f"{code}.json"]

    tokens = _create_tokens(homes, anvil.rpc_url)
    offices = {code: _start(fleet, code, homes[code], anvil.rpc_url, "--office", code) for code in OFFICES}
    for code, instance in offices.items():
        instance.token = tokens[code]
    auditor = _start(fleet, "auditor", auditor_home, anvil.rpc_url)

    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        _wait_healthy(client, [*offices.values(), auditor])

        # -- each office submits its gazette through its own service and forces a batch
        files: dict[str, list[tuple[str, str, bytes]]] = {}
        batches: dict[str, dict[str, Any]] = {}
        for seed, (code, office) in enumerate(offices.items(), start=1):
            paths = generate_gazette(tmp_path / "gazettes" / code, code, RECORDS_PER_OFFICE, seed, KINDS)
            ids = [f.record_id for f in iter_gazette(code, RECORDS_PER_OFFICE, seed, KINDS)]
            records = [(p.name, rid, p.read_bytes()) for p, rid in zip(paths, ids, strict=True)]
            files[code] = records
            auth = {"Authorization": f"Bearer {office.token}"}
            for name, _, data in records:
                r = client.post(f"{office.url}/v1/offices/{code}/records", files={"file": (name, data)}, headers=auth)
                assert r.status_code == 202, f"{code} submitting {name}: {r.status_code} {r.text[:500]}"
            r = client.post(f"{office.url}/v1/offices/{code}/batches", headers=auth)
            assert r.status_code == 200, f"{code} batch: {r.status_code} {r.text[:500]}\n{office.describe()}"
            run = r.json()
            assert run["anchored"] == RECORDS_PER_OFFICE and run["pending"] == 0, run
            (batch,) = run["batches"]
            assert batch["status"] == "anchored", batch
            assert batch["signer"].lower() == keys[code].lower(), f"{code} batch not signed by its keystore key"
            manifest_uri = f"{office.url}/v1/manifests/{code}/{batch['root']}.json"
            assert batch["manifestURI"] == manifest_uri, batch
            batches[code] = batch

        # -- what the chain holds: the offices' own manifest URLs
        on_chain = chain.anchors.events.BatchAnchored().get_logs(from_block=deployment.block_number)
        uris = {"0x" + bytes(e["args"]["root"]).hex(): e["args"]["manifestURI"] for e in on_chain}
        for code, batch in batches.items():
            assert uris.get(batch["root"]) == batch["manifestURI"], f"{code}: anchored manifestURI differs"

        # -- each office publishes its manifests (and nothing else)
        ep = offices["EP"]
        manifest = client.get(batches["EP"]["manifestURI"])
        assert manifest.status_code == 200, manifest.text[:500]
        assert manifest.headers["content-type"].startswith("application/json")
        doc = manifest.json()
        assert doc["format"] == "ipreg-manifest-v1" and doc["office"] == "EP" and doc["root"] == batches["EP"]["root"]
        assert sorted(v[0] for v in doc["values"]) == sorted(rid for _, rid, _ in files["EP"])
        missing = "0x" + "ab" * 32
        for path in (
            f"/v1/manifests/EP/{missing}.json",  # well-formed, absent
            f"/v1/manifests/US/{batches['EP']['root']}.json",  # another office's folder (404)
            f"/v1/manifests/EP/{batches['EP']['root']}.json.tmp",
            f"/v1/manifests/EP/{batches['EP']['root']}",
            f"/v1/manifests/ZZ/{missing}.json",  # not an ST.3 office
            "/v1/manifests/EP/%2E%2E",
            "/v1/manifests/%2E%2E/deployment.json",
            "/v1/manifests/EP/..%2F..%2Fdeployment.json",
            "/v1/manifests/EP/..%2Fkeys%2FEP.json",
        ):
            # 404 for a well-formed name this office does not hold; 400 for one outside the documented pattern
            err = _error(client.get(ep.url + path), (400, 404), f"GET {path}")
            assert err["code"] in ("notFound", "invalidInput"), err
            if path.endswith(".json") and "%" not in path and "ZZ" not in path:
                assert err["code"] == "notFound", (path, err)

        # -- office writes: only the office's own token, only for that office
        body = {"recordId": "US:2026000001:A1", "contentHash": "0x" + "11" * 32, "canonicalization": "raw"}
        ep_auth = {"Authorization": f"Bearer {ep.token}"}
        _error(client.post(f"{ep.url}/v1/offices/US/records", json=body, headers=ep_auth), 403, "EP token for US")
        _error(client.post(f"{ep.url}/v1/offices/US/batches", headers=ep_auth), 403, "EP token batches US")
        us = offices["US"]
        _error(client.post(f"{us.url}/v1/offices/US/records", json=body, headers=ep_auth), 401, "EP token at US")

        # -- the auditor: no keys, no tokens, no writes
        for code in OFFICES:
            auth = {"Authorization": f"Bearer {tokens[code]}"}
            for headers in ({}, auth):
                r = client.post(
                    f"{auditor.url}/v1/offices/{code}/records",
                    json=body | {"recordId": f"{code}:2026000001:A1"},
                    headers=headers,
                )
                _error(r, (401, 403, 503), f"auditor write for {code}")
                r = client.post(f"{auditor.url}/v1/offices/{code}/batches", headers=headers)
                _error(r, (401, 403, 503), f"auditor batch for {code}")
                r = client.get(f"{auditor.url}/v1/offices/{code}/pending", headers=headers)
                _error(r, (401, 403, 503), f"auditor outbox of {code}")
        assert not (auditor_home / "keys").exists() and not (auditor_home / "manifests").exists()

        # -- the auditor's index catches up with every office (chain + published manifests)
        last_block = max(int(b["blockNumber"]) for b in batches.values())
        _until(
            f"the auditor's index to reach block {last_block}",
            lambda: client.get(auditor.url + "/health").json(),
            lambda h: (h.get("indexedBlock") or -1) >= last_block,
        )

        def verify(instance: Instance, name: str, data: bytes) -> dict[str, Any]:
            r = client.post(instance.url + "/v1/verify", files={"file": (name, data)})
            assert r.status_code == 200, f"{instance.name} verify {name}: {r.status_code} {r.text[:500]}"
            return dict(r.json())

        for code in OFFICES:
            batch = batches[code]
            for name, rid, data in files[code]:
                verdict = _until(
                    f"the auditor to verify {name} of {code}",
                    partial(verify, auditor, name, data),
                    lambda v: v["verdict"] != "UNKNOWN",
                )
                assert verdict["verdict"] == "VERIFIED", f"{name}: {verdict}"
                assert verdict["office"] == code and verdict["recordId"] == rid, verdict
                assert verdict["root"] == batch["root"], verdict
                assert verdict["transactionHash"] == batch["transactionHash"], verdict
                assert verdict["blockNumber"] == batch["blockNumber"], verdict
                assert verdict["anchoredAt"] and verdict["signer"].lower() == keys[code].lower(), verdict

                tampered = verify(auditor, name, _tampered(data))
                assert tampered["verdict"] == "TAMPERED", f"tampered {name}: {tampered}"
                assert tampered["office"] == code and tampered["recordId"] == rid, tampered

            rid = files[code][0][1]
            record = client.get(f"{auditor.url}/v1/records/{rid}")
            assert record.status_code == 200 and record.json()["status"] == "anchored", record.text[:500]
            proof = client.get(f"{auditor.url}/v1/records/{rid}/proof")
            assert proof.status_code == 200 and proof.json()["root"] == batch["root"], proof.text[:500]
            listed = client.get(f"{auditor.url}/v1/batches/{batch['root']}").json()
            assert listed["manifestURI"] == batch["manifestURI"] and listed["error"] is None, listed

        # -- files nobody anchored
        (unknown,) = generate_gazette(tmp_path / "gazettes" / "EM", "EM", 1, 9, ("st96-patent",))
        for name, data in ((unknown.name, unknown.read_bytes()), ("scan.pdf", b"%PDF-1.4\n% nothing anchored\n")):
            verdict = verify(auditor, name, data)
            assert verdict["verdict"] == "UNKNOWN", f"{name}: {verdict}"

        # -- every office service is an auditor of the others too (through its own index)
        for k, code in enumerate(OFFICES):
            other = OFFICES[(k + 1) % len(OFFICES)]
            name, rid, data = files[other][0]
            verdict = _until(
                f"{code}'s service to verify {name} of {other}",
                partial(verify, offices[code], name, data),
                lambda v: v["verdict"] != "UNKNOWN",
            )
            assert verdict["verdict"] == "VERIFIED" and verdict["office"] == other, verdict

    # -- shutdown: every service stops promptly and cleanly (the loops end with the app)
    for instance in fleet.instances:
        t0 = time.monotonic()
        status = fleet.stop(instance)
        assert time.monotonic() - t0 < 15, f"{instance.name} took too long to stop"
        # uvicorn shuts the app down (lifespan: loops stopped, stores closed), then re-raises SIGTERM
        assert status in (0, -signal.SIGTERM), f"{instance.name} exited with {status}: {instance.describe()}"
        log = instance.log_text()
        assert "Application shutdown complete" in log, f"no clean shutdown: {instance.describe()}"
        assert "Traceback" not in log, instance.describe()
    assert time.monotonic() - started < 120, "the federation test got slow"


def test_index_loop_survives_a_dead_node_and_stops(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No node behind the endpoint: the loop logs the problem once, keeps retrying, and ends on close."""
    Deployment(31337, "0x" + "11" * 20, "0x" + "22" * 20, 0).save(tmp_path / "deployment.json")
    settings = Settings(home=tmp_path, rpc_url=f"http://127.0.0.1:{free_port()}", rpc_retries=0)
    service = Service(settings, ServiceSettings(index_interval=0.02))
    caplog.set_level(logging.WARNING, logger="registry.api")
    service.start_loop()
    try:
        _until(
            "a few failed index passes",
            lambda: service._index_failures,
            lambda n: n >= 3,
            seconds=10,
        )
        assert any(t.name == "ipreg-index" and t.is_alive() for t in threading.enumerate())
        assert service.health().chain_reachable is False
    finally:
        t0 = time.monotonic()
        service.close()
    assert time.monotonic() - t0 < 5, "the index loop did not stop promptly"
    assert not any(t.name == "ipreg-index" for t in threading.enumerate()), "the index loop outlived close()"
    problems = [r.getMessage() for r in caplog.records if r.getMessage().startswith("index loop:")]
    assert len(problems) == 1 and "retrying" in problems[0], problems  # one line, not one per attempt


@pytest.mark.anvil
def test_audit_feed_after_serve(tmp_path: Path, anvil: AnvilNode, fleet: Fleet) -> None:
    """`ipreg anchor` (no manifest base) puts no local path on chain; `ipreg serve` on the same home indexes
    the batch from the home's own copy, and `ipreg audit --feed` afterwards still passes."""
    home = tmp_path / "home"
    env = _env(home, anvil.rpc_url)
    for k in ("IPREG_MANIFEST_SCHEMES", "IPREG_MANIFEST_ALLOW_NETWORKS"):
        env.pop(k)  # the default fetch policy: nothing on loopback is fetched, and nothing needs to be

    def ipreg(*args: str, status: int = 0) -> str:
        proc = subprocess.run([*_ipreg(), *args], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == status and "Traceback" not in proc.stderr, f"ipreg {args}: {proc.stderr}"
        return proc.stdout

    ipreg("deploy", "--json")
    generate_gazette(tmp_path / "gazette", "EP", 12, 5, KINDS)
    summary = json.loads(ipreg("anchor", str(tmp_path / "gazette"), "--office", "EP", "--json"))
    assert summary["anchored"] == 12
    chain = Chain(connect(anvil.rpc_url), Deployment.load(home / "deployment.json"))
    events = chain.anchors.events.BatchAnchored().get_logs(from_block=0)
    uris = [str(e["args"]["manifestURI"]) for e in events]
    assert uris and all(u.startswith("ni:///sha-256;") for u in uris), uris
    assert not any(str(home) in u or "file:" in u for u in uris)
    anchored_block = max(int(e["blockNumber"]) for e in events)

    instance = _start(fleet, "EP", home, anvil.rpc_url)
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        _wait_healthy(client, [instance])
        _until(
            "the service's index to reach the anchored block",
            lambda: client.get(instance.url + "/health").json().get("indexedBlock") or 0,
            lambda n: n >= anchored_block,
        )
    assert fleet.stop(instance) in (0, -signal.SIGTERM), instance.describe()
    db = sqlite3.connect(home / "registry.sqlite")
    rows = db.execute("SELECT manifest_status, manifest_error FROM idx_batches").fetchall()
    db.close()
    assert rows and all(r == ("indexed", None) for r in rows), rows
    report = json.loads(ipreg("audit", "--feed", "--office", "EP", "--json"))
    assert report["records"] == 12 and report["ok"] is True, report


@pytest.mark.anvil
def test_concurrent_writers_and_kill_9_of_the_server_anchor_each_record_once(tmp_path: Path, fleet: Fleet) -> None:
    """Four writers submit through the API while the service batches every 0.3 s on a node with 1 s blocks;
    the server is SIGKILLed mid-way and restarted. Counted from the chain's BatchAnchored events (and the
    manifests they anchor): every accepted record exactly once, nothing else."""
    node = LocalChain(tmp_path / "chain", free_port(), block_time=1.0)
    node.start()
    try:
        home = tmp_path / "home"
        env = _env(home, node.rpc_url)
        proc = subprocess.run([*_ipreg(), "deploy", "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        token = _create_tokens({"EP": home}, node.rpc_url)["EP"]
        extra = ("--office", "EP", "--batch-interval", "0.3")
        current = [_start(fleet, "EP-1", home, node.rpc_url, *extra)]
        total, writers = 120, 4
        accepted: dict[str, int] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def write(k0: int) -> None:
            with httpx.Client(timeout=10) as client:
                for k in range(k0, total, writers):
                    body = {
                        "recordId": f"EP:{5000000 + k}:A1",
                        "contentHash": "0x%064x" % (k + 1),
                        "canonicalization": "raw",
                    }
                    while not stop.is_set():
                        try:
                            r = client.post(
                                current[0].url + "/v1/offices/EP/records",
                                json=body,
                                headers={"Authorization": f"Bearer {token}"},
                            )
                        except httpx.TransportError:
                            time.sleep(0.1)  # the server is down: retry the same record
                            continue
                        if r.status_code in (200, 202):
                            with lock:
                                accepted[body["recordId"]] = accepted.get(body["recordId"], 0) + 1
                            break
                        assert r.status_code in (429, 503), r.text
                        time.sleep(0.1)

        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            _wait_healthy(client, current)
            threads = [threading.Thread(target=write, args=(k,), daemon=True) for k in range(writers)]
            for t in threads:
                t.start()
            _until("a third of the records accepted", lambda: len(accepted), lambda n: n >= total // 3)
            current[0].proc.send_signal(signal.SIGKILL)  # mid-batch: batches run every 0.3 s
            assert current[0].proc.wait(timeout=30) == -signal.SIGKILL
            current[0] = _start(fleet, "EP-2", home, node.rpc_url, *extra)
            _wait_healthy(client, current)
            for t in threads:
                t.join(timeout=CATCH_UP_SECONDS * 4)
            stop.set()
            assert len(accepted) == total, f"{len(accepted)} of {total} accepted"
            _until(
                "every accepted record anchored",
                lambda: client.get(current[0].url + "/health").json().get("pending"),
                lambda n: n == 0,
                seconds=CATCH_UP_SECONDS * 2,
            )
        time.sleep(3)  # batches in flight reach their confirmation
        assert fleet.stop(current[0]) in (0, -signal.SIGTERM), current[0].describe()
        chain = Chain(connect(node.rpc_url), Deployment.load(home / "deployment.json"))
        events = chain.anchors.events.BatchAnchored().get_logs(from_block=0)
        on_chain: dict[str, int] = {}
        for e in events:
            root = "0x" + bytes(e["args"]["root"]).hex()
            manifest = json.loads((home / "manifests" / "EP" / f"{root}.json").read_text())
            assert len(manifest["values"]) == int(e["args"]["leafCount"])
            for value in manifest["values"]:
                on_chain[value[0]] = on_chain.get(value[0], 0) + 1
        assert set(on_chain) == set(accepted), "anchored records differ from the accepted ones"
        assert all(n == 1 for n in on_chain.values()), {k: n for k, n in on_chain.items() if n != 1}
        assert sum(on_chain.values()) == total
    finally:
        node.stop()
