"""Time-stamp tokens through the service: the proof route carries them, the verdicts show what they prove."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.anchor.pipeline import Anchorer
from registry.api import create_app
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import ServiceSettings, Settings
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.node.tsa import LocalAuthority
from registry.store.outbox import Store
from registry.timestamps import Stamper, load_config


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, list[Path]]]:
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home, rpc_url="embedded")
    chain = Chain(connect("embedded"))
    deploy_dev(chain).save(settings.deployment_file)
    tsa = LocalAuthority(home)
    url = tsa.start()
    # the service trusts the local authority's root for verification (timestamps.toml, [[trust]])
    (home / "timestamps.toml").write_text('[[trust]]\ncerts = ["tsa/root.pem"]\n', encoding="utf-8")
    cfg = load_config(home, [url], allow_networks=["127.0.0.0/8"])
    files = generate_gazette(home / "gazette", office="EP", count=2, seed=5, kinds=("st96-patent",))
    store = Store(settings.store_file)
    account = dev_signer("EP")
    assert account is not None
    anchorer = Anchorer(store, chain, account, "EP", home / "manifests", batch_size=1, stamper=Stamper(cfg))
    anchorer.submit(prepare_files(files))
    anchorer.run()
    store.close()
    tsa.stop()
    app = create_app(settings, chain, ServiceSettings(cache_seconds=30, health_timeout=10))
    with TestClient(app) as c:
        yield c, files


def _proof(c: TestClient, record_id: str) -> dict[str, Any]:
    r = c.get(f"/v1/records/{record_id}/proof")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_proof_route_carries_the_tokens_and_the_verdict_shows_the_authority_time(
    client: tuple[TestClient, list[Path]],
) -> None:
    c, files = client
    r = c.post("/v1/verify", files={"file": (files[0].name, files[0].read_bytes())})
    v = r.json()
    assert v["verdict"] == "VERIFIED", v
    bundle = _proof(c, v["recordId"])
    (entry,) = bundle["timestamps"]
    assert set(entry) == {"authority", "token"} and base64.b64decode(entry["token"])
    r = c.post("/v1/verify", json={"bundle": bundle})
    body = r.json()
    assert body["verdict"] == "VERIFIED" and body["timestamps"][0]["status"] == "valid"
    assert body["timestamps"][0]["time"].endswith("Z") and body["anchoredAt"].endswith("Z")
    assert {"name": "timeStamps", "result": "passed"}.items() <= next(
        ch for ch in body["checks"] if ch["name"] == "timeStamps"
    ).items()


def test_a_swapped_token_is_reported_invalid_by_the_api(client: tuple[TestClient, list[Path]]) -> None:
    c, files = client
    ids = [c.post("/v1/verify", files={"file": (f.name, f.read_bytes())}).json()["recordId"] for f in files]
    first, second = (_proof(c, rid) for rid in ids)
    assert first["root"] != second["root"]
    first["timestamps"] = second["timestamps"]
    r = c.post("/v1/verify", json={"bundle": first})
    body = r.json()
    assert body["verdict"] == "VERIFIED"  # the record is intact; the token is not accepted
    (shown,) = body["timestamps"]
    assert shown["status"] == "invalid" and shown["time"] is None
    assert "TIME-STAMP NOT ACCEPTED" in body["reason"]
