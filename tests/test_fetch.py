"""Manifest fetching (SSRF): what the chain may make an auditor's machine contact, and what it learns.

A real loopback HTTP server stands in for every remote side; the tests allow loopback explicitly where
they need it and check that the default policy refuses it without ever connecting.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_indexer import make_office

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core.content_address import content_address, content_digest
from registry.core.leaves import LEAF_ENCODING, SEALED, ZERO_HASH, LeafValue
from registry.core.merkle import MerkleTree
from registry.indexer.fetch import FetchError, FetchPolicy, fetch_url, is_public, parse_networks
from registry.indexer.sync import Indexer
from registry.store.index import Index

LOOPBACK = parse_networks("127.0.0.0/8")


@dataclass
class Remote:
    """A loopback HTTP server: ``routes`` path -> (status, headers, body); every request is recorded."""

    base: str
    port: int
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    trickle: float = 0.0


@pytest.fixture
def remote() -> Iterator[Remote]:
    state = Remote("", 0)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.seen.append((self.path, self.headers.get("Host", "")))
            status, headers, body = state.routes.get(self.path, (404, {}, b"internal secret 404 page"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.trickle:
                try:
                    for b in body:
                        self.wfile.write(bytes([b]))
                        self.wfile.flush()
                        time.sleep(state.trickle)
                except OSError:  # the client gave up, as it should
                    pass
            else:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    state.base = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def http_policy(**kw: object) -> FetchPolicy:
    values: dict[str, object] = {"schemes": frozenset({"http", "https"}), "allow_networks": LOOPBACK}
    values.update(kw)
    return FetchPolicy(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- addresses

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "100.100.100.200",  # Alibaba metadata (CGNAT range)
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "198.18.0.1",
    "::",
    "::1",
    "fe80::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:db8::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::200e"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not FetchPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@given(st.ip_addresses(v=4))
def test_a_public_v4_address_stays_public_in_every_ipv6_wrapping(ip: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address("::ffff:" + str(ip))
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ip))
    if not is_public(ip):  # never: a blocked address smuggled inside an IPv6 one
        assert not is_public(mapped) and not is_public(nat64)


def test_explicitly_allowed_networks_open_only_themselves() -> None:
    policy = FetchPolicy(allow_networks=parse_networks("127.0.0.0/8, 10.9.0.0/16"))
    assert policy.allows(ipaddress.ip_address("127.0.0.1")) and policy.allows(ipaddress.ip_address("10.9.1.1"))
    assert not policy.allows(ipaddress.ip_address("10.8.1.1"))
    assert not policy.allows(ipaddress.ip_address("169.254.169.254"))


# ---------------------------------------------------------------------------- fetching


def test_default_policy_never_connects_to_loopback(remote: Remote) -> None:
    remote.routes["/m.json"] = (200, {}, b"{}")
    for url in (f"{remote.base}/m.json", f"https://127.0.0.1:{remote.port}/m.json"):
        with pytest.raises(FetchError) as caught:
            fetch_url(url, FetchPolicy())
        assert caught.value.public == "manifest not available from its URI"
    with pytest.raises(FetchError, match="non-public address"):
        fetch_url(f"https://127.0.0.1:{remote.port}/m.json", FetchPolicy())
    assert remote.seen == []


def test_names_are_checked_after_resolution_and_the_address_is_pinned(remote: Remote) -> None:
    remote.routes["/m.json"] = (200, {}, b"manifest")
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        calls.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    url = f"http://mirror.example:{remote.port}/m.json"
    with pytest.raises(FetchError, match="non-public"):
        fetch_url(url, FetchPolicy(schemes=frozenset({"http"}), resolver=resolve))
    assert remote.seen == [] and calls == ["mirror.example"]
    # allowed: the connection goes to the resolved address, named in Host; resolved once per hop
    assert fetch_url(url, http_policy(resolver=resolve)) == b"manifest"
    assert remote.seen == [("/m.json", f"mirror.example:{remote.port}")]
    assert calls == ["mirror.example", "mirror.example"]


def test_a_name_resolving_to_any_blocked_address_is_refused(remote: Remote) -> None:
    def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.5")]

    with pytest.raises(FetchError, match=r"non-public address 10\.0\.0\.5"):
        fetch_url("https://rebind.example/m.json", FetchPolicy(resolver=resolve))


def test_redirects_are_checked_at_every_hop(remote: Remote) -> None:
    remote.routes["/to-metadata"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    remote.routes["/to-v6"] = (301, {"Location": "http://[::ffff:10.0.0.1]/x"}, b"")
    remote.routes["/to-ok"] = (307, {"Location": "/ok"}, b"")
    remote.routes["/ok"] = (200, {}, b"fine")
    remote.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    policy = http_policy()
    for path in ("/to-metadata", "/to-v6"):
        with pytest.raises(FetchError, match="non-public"):
            fetch_url(remote.base + path, policy)
    assert fetch_url(remote.base + "/to-ok", policy) == b"fine"
    with pytest.raises(FetchError, match="redirects"):
        fetch_url(remote.base + "/loop", policy)
    assert all(not p.startswith("/latest") for p, _ in remote.seen)


def test_size_and_time_limits(remote: Remote) -> None:
    remote.routes["/big"] = (200, {}, b"x" * 5000)
    with pytest.raises(FetchError) as caught:
        fetch_url(remote.base + "/big", http_policy(max_bytes=1000))
    assert caught.value.public == "manifest larger than the size limit"
    remote.routes["/slow"] = (200, {}, b"y" * 40)
    remote.trickle = 0.05  # 2 s for the body: longer than the whole-fetch limit
    with pytest.raises(FetchError, match="longer than"):
        fetch_url(remote.base + "/slow", http_policy(timeout=0.5))


def test_policy_hosts_and_schemes() -> None:
    policy = FetchPolicy(hosts=frozenset({"manifests.ep.example"}))
    with pytest.raises(FetchError, match="not in the allowed hosts"):
        fetch_url("https://evil.example/m.json", policy)
    with pytest.raises(FetchError, match="credentials"):
        fetch_url("https://user:pw@manifests.ep.example/m.json", policy)
    with pytest.raises(Exception, match="http and/or https"):
        FetchPolicy(schemes=frozenset({"gopher"}))


def test_policy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPREG_MANIFEST_SCHEMES", "https, http")
    monkeypatch.setenv("IPREG_MANIFEST_ALLOW_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("IPREG_MANIFEST_MIRRORS", "https://mirror.example/v1/manifests/")
    monkeypatch.setenv("IPREG_MANIFEST_TIMEOUT", "3")
    policy = FetchPolicy.from_env()
    assert policy.schemes == {"http", "https"} and policy.allows(ipaddress.ip_address("127.0.0.1"))
    assert policy.mirrors == ("https://mirror.example/v1/manifests",) and policy.timeout == 3.0
    monkeypatch.setenv("IPREG_MANIFEST_ALLOW_NETWORKS", "not-a-network")
    with pytest.raises(Exception, match="invalid address range"):
        FetchPolicy.from_env()


def test_content_addresses_round_trip() -> None:
    uri = content_address(b"manifest bytes")
    assert uri.startswith("ni:///sha-256;") and "=" not in uri
    digest = content_digest(uri)
    assert digest is not None and len(digest) == 32
    assert content_digest("ni:///sha-256;short") is None and content_digest("https://x/y") is None


# ---------------------------------------------------------------------------- the indexer


def test_the_index_records_no_network_details(tmp_path: Path, remote: Remote) -> None:
    """A manifest URI aimed at the auditor's own network: refused, not contacted, nothing echoed."""
    office = make_office(tmp_path, manifest_base=remote.base)
    (tmp_path / "manifests").rename(tmp_path / "elsewhere")  # no local copy: only the URI is left
    indexer = office.indexer()  # default policy
    (failure,) = indexer.sync().manifest_failures
    assert "not allowed" in failure[1]  # the operator's log knows why (http: not an allowed scheme)
    (batch,) = Index(indexer.db).unindexed_batches()
    assert batch.manifest_error == "manifest not available from its URI"
    assert remote.seen == []
    # allowed (a consortium LAN): a 404 page from the remote side is still not echoed
    lan = office.indexer(policy=http_policy())
    lan.sync(retry_failed=True)
    (batch,) = Index(lan.db).unindexed_batches()
    assert remote.seen and batch.manifest_error == "manifest not available from its URI"
    assert "404" not in (batch.manifest_error or "") and "secret" not in (batch.manifest_error or "")


def _anchor_values(chain: Chain, home: Path, values: list[LeafValue], uri: str | None = None) -> str:
    """Anchor ``values`` as an EP batch (manifest written to ``home/manifests``); return the root."""
    ep = dev_signer("EP")
    assert ep is not None
    tree = MerkleTree.from_leaves([v.leaf() for v in values])
    root = "0x" + tree.root.hex()
    folder = home / "manifests" / "EP"
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "format": "ipreg-manifest-v1",
        "office": "EP",
        "root": root,
        "leafEncoding": list(LEAF_ENCODING),
        "values": [v.as_list() for v in values],
    }
    data = json.dumps(body).encode()
    (folder / f"{root}.json").write_bytes(data)
    chain.anchor_batch(ep, tree.root, len(values), uri or content_address(data))
    return root


H1, H2 = "0x" + "11" * 32, "0x" + "22" * 32


@pytest.mark.parametrize(
    ("record_id", "problem"),
    [
        ("US:1234567:B1", "another office"),
        ("ep:1234567:b1", "canonical form"),
        (" EP:1234567", "canonical form"),
        ("EP:<script>", "invalid record id"),
        ("EP:1234567:B1:X", "invalid record id"),
        ("XX:1234567", "invalid record id"),
        ("EP", "invalid record id"),
    ],
)
def test_foreign_record_ids_get_the_local_grammar(tmp_path: Path, record_id: str, problem: str) -> None:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    root = _anchor_values(chain, tmp_path, [LeafValue("EP:1000001:A1", H1, "raw"), LeafValue(record_id, H2, "raw")])
    indexer = Indexer(tmp_path / "registry.sqlite", chain)
    (failure,) = indexer.sync().manifest_failures
    assert failure[0] == root and problem in failure[1]
    index = Index(indexer.db)
    assert index.leaves_by_hash(H1) == [] and index.leaves_by_hash(H2) == []
    (batch,) = index.unindexed_batches()
    assert record_id.strip() not in (batch.manifest_error or "").replace("EP:", "")  # not echoed


def test_sealed_leaves_must_name_the_anchoring_office(tmp_path: Path) -> None:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    _anchor_values(chain, tmp_path, [LeafValue("US", H1, SEALED, ZERO_HASH), LeafValue("EP:1000001", H2, "raw")])
    indexer = Indexer(tmp_path / "registry.sqlite", chain)
    (failure,) = indexer.sync().manifest_failures
    assert "sealed record 0" in failure[1]


def test_valid_ids_of_the_office_are_indexed(tmp_path: Path) -> None:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    _anchor_values(chain, tmp_path, [LeafValue("EP:1000001:A1", H1, "raw"), LeafValue("EP", H2, SEALED)])
    indexer = Indexer(tmp_path / "registry.sqlite", chain)
    result = indexer.sync()
    assert result.manifest_failures == [] and result.leaves == 2


def test_file_uris_are_never_read(tmp_path: Path) -> None:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    root = _anchor_values(chain, tmp_path / "office", [LeafValue("EP:1000001", H1, "raw")], secret.as_uri())
    indexer = Indexer(tmp_path / "auditor" / "registry.sqlite", chain)  # no local copy in the auditor's home
    (failure,) = indexer.sync().manifest_failures
    assert failure[0] == root and "not read by URI" in failure[1]
    (batch,) = Index(indexer.db).unindexed_batches()
    assert batch.manifest_error == "manifest URI names a local file"


def test_content_addressed_manifests_from_the_local_folder_or_a_mirror(tmp_path: Path, remote: Remote) -> None:
    office = make_office(tmp_path / "office")  # no manifest base: a content address goes on chain
    (stored,) = office.store.batches(status="anchored")
    manifest = office.tmp / "manifests" / "EP" / f"{stored.root}.json"
    assert stored.manifest_uri == content_address(manifest.read_bytes())
    assert "file:" not in stored.manifest_uri and str(tmp_path) not in stored.manifest_uri
    assert office.indexer().sync().leaves == 6  # this home's own copy, found by office and root

    auditor = tmp_path / "auditor" / "registry.sqlite"
    alone = Indexer(auditor, office.chain)
    (batch,) = Index(alone.db).unindexed_batches() if alone.sync().manifest_failures else [None]
    assert batch is not None and batch.manifest_error and "mirror" in batch.manifest_error
    alone.close()
    path = f"/v1/manifests/EP/{stored.root}.json"
    forged = json.loads(manifest.read_text())
    forged["values"].reverse()  # same values, other bytes: not the content address
    remote.routes[path] = (200, {}, json.dumps(forged).encode())
    mirror = http_policy(mirrors=(remote.base + "/v1/manifests",))
    assert (
        "another content hash"
        in Indexer(auditor, office.chain, policy=mirror).sync(retry_failed=True).manifest_failures[0][1]
    )
    remote.routes[path] = (200, {}, manifest.read_bytes())
    assert Indexer(auditor, office.chain, policy=mirror).sync(retry_failed=True).leaves == 6
