"""``ipreg monitor`` on the in-process EVM: quiet for the office's own work, a finding for every act of a thief.

A thief holds EP's key (the same private key, used from another machine: no outbox, no journal) or acts
through other offices; the office's own work goes through its outbox and the journal its tooling writes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.types import Wei

from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.chain.payloads import office_bytes
from registry.config import EMBEDDED, Settings
from registry.core.formats import ProofBundle
from registry.errors import ConfigError, ContractRevertError
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import collect_files, prepare_files
from registry.indexer.fetch import FetchPolicy, parse_networks
from registry.monitor.follow import Monitor, PassResult, log_path
from registry.monitor.journal import INTENT_WINDOW_BLOCKS, call_subject, own_call
from registry.monitor.loop import LoopOptions, MonitorLoop
from registry.monitor.rules import Watch
from registry.monitor.webhook import SIGNATURE_HEADER, Webhook
from registry.store.monitor import MonitorLog
from registry.store.outbox import Store


def _key(chain: Chain) -> LocalAccount:
    account: LocalAccount = Account.create()
    funder = chain.w3.eth.accounts[0]
    chain.w3.eth.send_transaction({"from": funder, "to": account.address, "value": Wei(10**20)})
    return account


@dataclass
class Office:
    """EP's installation: chain, home, store, its dev key; anchors through its outbox, key acts journaled."""

    chain: Chain
    settings: Settings
    store: Store
    key: LocalAccount
    tmp: Path
    runs: int = 0

    def anchor(self, key: LocalAccount | None = None, count: int = 2) -> str:
        self.runs += 1
        gazette = self.tmp / f"gazette-{self.runs}"
        generate_gazette(gazette, office="EP", count=count, seed=100 + self.runs, kinds=("st97-json",))
        anchorer = Anchorer(self.store, self.chain, key or self.key, "EP", self.tmp / "manifests")
        anchorer.submit(prepare_files(collect_files([gazette])))
        return str(anchorer.run(self.tmp / f"proofs-{self.runs}").batches[0].root)

    def own(self, key: LocalAccount, call: str, args: list[Any]) -> Any:
        return own_call(self.store, self.chain, "EP", key.address, call, args)

    def monitor(self, watch: str | None = "EP", **kw: Any) -> Monitor:
        return Monitor(self.chain, self.store, self.settings, Watch(watch), **kw)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    chain = Chain(connect(EMBEDDED))
    deploy_dev(chain)
    settings = Settings(home=tmp_path / "home", rpc_url=EMBEDDED)
    store = Store(settings.store_file)
    key = dev_signer("EP")
    assert key is not None
    yield Office(chain, settings, store, key, tmp_path)
    store.close()


def _kinds(result: PassResult) -> list[str]:
    return [json.loads(line)["kind"] for line in result.delivered]


def _own_work(o: Office) -> dict[str, Any]:
    """The demo-like flow through the office's tooling: two anchors, a record revoked, a second key, its
    anchor, a rotation, a batch revoked: all its own."""
    first = o.anchor()
    o.anchor()
    # One record of the second batch revoked, as `ipreg revoke record` and the service send it.
    bundle = ProofBundle.loads(next((o.tmp / "proofs-2").glob("*.proof.json")).read_bytes())
    values, root2 = bundle.value.encode(), bytes.fromhex(bundle.root[2:])
    with o.own(o.key, "revokeLeaf", [root2, values]):
        o.chain.revoke_leaf(o.key, root2, values, [bytes.fromhex(p[2:]) for p in bundle.proof], 1)
    second = _key(o.chain)
    with o.own(o.key, "addSigner", [second.address]):
        o.chain.add_signer(o.key, second.address)
    with o.own(second, "acceptSigner", [office_bytes("EP")]):
        o.chain.accept_signer(second, "EP")
    by_second = o.anchor(second)
    third = _key(o.chain)
    with o.own(second, "rotateSigner", [o.key.address, third.address]):
        o.chain.rotate_signer(second, o.key.address, third.address)
    with o.own(third, "acceptSigner", [office_bytes("EP")]):
        o.chain.accept_signer(third, "EP")
    root = bytes.fromhex(first[2:])
    with o.own(third, "revokeBatch", [root]):
        o.chain.revoke_batch(third, root, 2)
    return {"first": first, "bySecond": by_second, "second": second, "third": third}


def test_the_office_own_work_gives_no_finding(office: Office) -> None:
    _own_work(office)
    result = office.monitor().pass_once()
    assert result.transactions >= 8
    assert result.delivered == []
    assert not log_path(office.settings).exists() or log_path(office.settings).read_text() == ""


def test_a_thief_with_the_office_key_is_reported_with_the_command_to_stop_it(office: Office) -> None:
    office.anchor()
    # The same private key on another machine: no outbox, no journal.
    forged = office.chain.anchor_batch(office.key, b"\x11" * 32, 1, "https://thief.example/m.json")
    result = office.monitor().pass_once()
    assert _kinds(result) == ["anchor-not-in-outbox"]
    finding = json.loads(result.delivered[0])
    assert finding["office"] == "EP" and finding["severity"] == "alert"
    assert finding["block"] == forged.block_number and finding["transaction"] == forged.transaction_hash
    assert finding["key"] == office.key.address
    assert finding["actions"][0].startswith(f"ipreg office compromise {office.key.address} --as EP")
    assert (
        f"ipreg office propose mark-compromised EP --signer {office.key.address} --from-block {forged.block_number}"
        in finding["actions"][1]
    )
    assert "the key is being used elsewhere" in finding["why"]
    # In the log of the home too, as the same line.
    assert log_path(office.settings).read_text().splitlines() == result.delivered


def test_key_acts_the_tooling_did_not_send_are_alerts(office: Office) -> None:
    thief = _key(office.chain)
    office.chain.add_signer(office.key, thief.address)  # with the stolen key, from the thief's machine
    office.chain.accept_signer(thief, "EP")
    office.chain.remove_signer(thief, office.key.address)
    result = office.monitor().pass_once()
    assert _kinds(result) == ["signer-nominated", "signer-added", "signer-removed"]
    nominated, added, removed = (json.loads(x) for x in result.delivered)
    assert nominated["key"] == office.key.address and nominated["details"]["signer"] == thief.address
    assert "not in this home's keystores" in nominated["why"]
    assert added["key"] == thief.address and any(f"compromise {thief.address}" in a for a in added["actions"])
    assert removed["key"] == thief.address


def test_a_journal_entry_covers_one_transaction_only(office: Office) -> None:
    new = _key(office.chain)
    with office.own(office.key, "addSigner", [new.address]):
        office.chain.add_signer(office.key, new.address)
    # The thief withdraws the nomination and makes the same call again: that second call is not the office's.
    office.chain.transact(office.key, office.chain.offices.functions.cancelNomination(new.address))
    office.chain.add_signer(office.key, new.address)
    assert _kinds(office.monitor().pass_once()) == ["nomination-cancelled", "signer-nominated"]


def test_a_refused_call_leaves_no_journal_entry(office: Office) -> None:
    with pytest.raises(ContractRevertError), office.own(office.key, "removeSigner", [office.key.address]):
        office.chain.remove_signer(office.key, office.key.address)  # its last key: refused
    assert office.store.db.execute("SELECT count(*) FROM monitor_intents").fetchone()[0] == 0


def test_a_revocation_the_office_did_not_send(office: Office) -> None:
    root = office.anchor()
    office.chain.revoke_batch(office.key, bytes.fromhex(root[2:]), 3)
    (line,) = office.monitor().pass_once().delivered
    finding = json.loads(line)
    assert finding["kind"] == "revocation-not-sent" and finding["details"]["root"] == root
    assert finding["key"] == office.key.address
    assert "no longer stands" in finding["actions"][1]


def test_governance_in_the_office_name_and_about_it(office: Office) -> None:
    chain = office.chain
    jp, us = dev_signer("JP"), dev_signer("US")
    assert jp is not None and us is not None
    # Others propose to suspend EP and approve: notices. The thief approves in EP's name: an alert.
    proposal, _ = chain.propose(jp, "suspend", "EP")
    chain.approve(us, proposal)
    chain.approve(office.key, proposal)
    # EP's own proposal (through its tooling) and its approval by others: quiet.
    from registry.chain.payloads import encode_payload

    with office.own(office.key, "propose", [1, office_bytes("US"), encode_payload("suspend")]):
        own, _ = chain.propose(office.key, "suspend", "US")
    chain.approve(jp, own)
    result = office.monitor().pass_once()
    findings = [json.loads(x) for x in result.delivered]
    assert [(f["kind"], f["severity"]) for f in findings] == [
        ("governance-proposal", "notice"),
        ("governance-approval", "notice"),
        ("governance-in-name", "alert"),
    ]
    assert findings[0]["details"]["action"] == "suspend" and findings[0]["details"]["by"] == "JP"
    assert f"ipreg office cancel {proposal} --as EP" in findings[2]["actions"][1]


def test_restart_neither_misses_nor_repeats(office: Office, tmp_path: Path) -> None:
    stolen = _own_work(office)["second"]  # the office's current second key, stolen
    thief = _key(office.chain)
    office.chain.anchor_batch(stolen, b"\x22" * 32, 1, "x")
    office.chain.add_signer(stolen, thief.address)
    office.chain.accept_signer(thief, "EP")
    office.chain.anchor_batch(thief, b"\x33" * 32, 1, "x")
    # The reference: one clean pass over a copy of the store.
    copy = Store(tmp_path / "copy" / "registry.sqlite")
    office.store.db.backup(copy.db)
    clean = Monitor(office.chain, copy, Settings(home=tmp_path / "copy"), Watch("EP")).pass_once().delivered
    copy.close()
    assert len(clean) == 4
    # Killed after two ranges of one block, at the worst moment (findings committed, not yet delivered).
    with pytest.raises(KeyboardInterrupt):
        office.monitor(step=1).pass_once(crash_after=2)
    seen: list[str] = []
    for _ in range(3):  # restarted, and killed again further on, then to the end
        try:
            seen += office.monitor(step=1).pass_once(crash_after=5).delivered
        except KeyboardInterrupt:
            continue
    seen += office.monitor(step=1).pass_once().delivered
    seen += office.monitor().pass_once().delivered  # and once more: nothing new
    assert seen == clean
    assert log_path(office.settings).read_text().splitlines() == clean


def test_a_reorganisation_below_the_cursor_is_read_again(office: Office) -> None:
    tester = office.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    snapshot = tester.take_snapshot()
    tester.mine_blocks(3)
    assert office.monitor().pass_once().delivered == []
    tester.revert_to_snapshot(snapshot)  # the three blocks are gone; another branch grows
    forged = office.chain.anchor_batch(office.key, b"\x44" * 32, 1, "x")
    tester.mine_blocks(4)
    result = office.monitor().pass_once()
    assert result.reorganised
    assert [json.loads(x)["block"] for x in result.delivered] == [forged.block_number]
    assert office.monitor().pass_once().delivered == []


def test_confirmations_hold_a_finding_back_until_confirmed(office: Office) -> None:
    office.chain.anchor_batch(office.key, b"\x55" * 32, 1, "x")
    assert office.monitor(confirmations=3).pass_once().delivered == []
    office.chain.w3.provider.ethereum_tester.mine_blocks(2)  # type: ignore[attr-defined]
    assert _kinds(office.monitor(confirmations=3).pass_once()) == ["anchor-not-in-outbox"]


def test_a_witness_sees_marks_governance_and_unauthorised_anchors(office: Office) -> None:
    chain = office.chain
    office.anchor()
    forged = chain.anchor_batch(office.key, b"\x66" * 32, 1, "x")
    jp, us = dev_signer("JP"), dev_signer("US")
    assert jp is not None and us is not None
    # EP (through governance, with its own approval) discounts its key from the forged anchor's block on.
    proposal, _ = chain.propose(
        office.key, "mark-compromised", "EP", signer=office.key.address, from_block=forged.block_number
    )
    chain.approve(jp, proposal)
    chain.approve(us, proposal)
    chain.execute(jp, proposal)
    findings = [json.loads(x) for x in office.monitor(None).pass_once().delivered]
    kinds = [(f["kind"], f["office"]) for f in findings]
    assert ("anchor-unauthorised", "EP") in kinds
    assert ("signer-compromised", "EP") in kinds
    assert [k for k, _ in kinds if k.startswith("governance-")] == [
        "governance-created",
        "governance-approved",
        "governance-approved",
        "governance-executed",
    ]
    unauthorised = next(f for f in findings if f["kind"] == "anchor-unauthorised")
    assert unauthorised["block"] == forged.block_number
    # The office's own batch before the theft stays authorised: no finding for it.
    assert sum(f["kind"] == "anchor-unauthorised" for f in findings) == 1


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_webhook_gets_each_finding_signed_through_the_outbound_policy(
    office: Office, caplog: pytest.LogCaptureFixture
) -> None:
    secret = b"s3cret-shared-with-the-office-soc"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        office.chain.anchor_batch(office.key, b"\x77" * 32, 1, "x")
        # The default policy (https to public addresses) refuses a loopback address: nothing is sent, kept.
        refused = office.monitor(webhook=Webhook(url, secret, FetchPolicy())).pass_once()
        assert refused.webhook_failures == 1 and len(refused.delivered) == 1 and _Hook.received == []
        allowed = FetchPolicy(schemes=frozenset({"http"}), allow_networks=parse_networks("127.0.0.0/8"))
        again = office.monitor(webhook=Webhook(url, secret, allowed)).pass_once()
        assert again.delivered == [] and again.webhook_failures == 0
        ((headers, body),) = _Hook.received
        assert json.loads(body)["kind"] == "anchor-not-in-outbox"
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE_HEADER] == expected
        assert office.monitor(webhook=Webhook(url, secret, allowed)).pass_once().webhook_failures == 0
        assert len(_Hook.received) == 1
    finally:
        server.shutdown()
        server.server_close()
    assert secret.decode() not in caplog.text
    assert secret.decode() not in repr(Webhook(url, secret, FetchPolicy()))


def test_store_dedupes_findings_per_watch(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    log = MonitorLog(db)
    assert log.add_finding("office:EP", "0xAB", 0, "k", 5, "{}")
    assert not log.add_finding("office:EP", "0xab", 0, "k", 5, "{}")
    assert log.add_finding("all", "0xab", 0, "k", 5, "{}")
    assert log.add_finding("office:EP", "0xab", 1, "k", 5, "{}")


def test_the_service_loop_reports_from_the_environment(office: Office, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPREG_MONITOR_OFFICES", "EP, all")
    monkeypatch.setenv("IPREG_MONITOR_INTERVAL", "0.05")
    options = LoopOptions.from_env()
    assert options is not None and options.watches == (Watch("EP"), Watch(None)) and options.webhook is None
    office.chain.anchor_batch(office.key, b"\x88" * 32, 1, "x")
    loop = MonitorLoop(office.settings, office.chain, options)
    loop.start()
    try:
        for _ in range(600):
            if log_path(office.settings).is_file() and log_path(office.settings).read_text():
                break
            threading.Event().wait(0.05)
    finally:
        loop.stop()
    (line,) = log_path(office.settings).read_text().splitlines()
    assert json.loads(line)["kind"] == "anchor-not-in-outbox"
    monkeypatch.setenv("IPREG_MONITOR_OFFICES", "XX")
    with pytest.raises(ConfigError, match="XX"):
        LoopOptions.from_env()
    monkeypatch.setenv("IPREG_MONITOR_OFFICES", "EP")
    monkeypatch.setenv("IPREG_MONITOR_WEBHOOK", "https://soc.example/hook")
    with pytest.raises(ConfigError, match="SECRET_FILE"):
        LoopOptions.from_env()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--office XX"),
        (["--office", "E1"], "unknown WIPO ST.3 office code"),
        (["--office", "EP", "--webhook", "https://x.example/h"], "go together"),
    ],
)
def test_bad_monitor_input_is_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "IPREG_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ipreg"), "monitor", *args], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: ") and message in line


def test_the_demo_is_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from registry.cli.demo_cmd import demo

    demo(out=tmp_path / "demo", count=3)
    assert "7. ipreg monitor --office EP: 0 finding(s)" in capsys.readouterr().out


def test_a_journal_entry_binds_once_and_only_within_its_window(tmp_path: Path) -> None:
    log = MonitorLog(sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None))
    subject = call_subject("addSigner", ["0x" + "ab" * 20])
    intent = log.expect("EP", "0xKey", "addSigner", subject, after_block=10)
    # Recorded, never mined (its sender timed out): a thief's identical call after the window is not covered.
    late = 10 + INTENT_WINDOW_BLOCKS + 1
    assert log.claim("EP", "0xKEY", "addSigner", subject, "0x01", late, INTENT_WINDOW_BLOCKS) is None
    assert log.claim("EP", "0xkey", "addSigner", subject, "0x02", 9, INTENT_WINDOW_BLOCKS) is None  # before it
    assert log.claim("EP", "0xkey", "addSigner", subject, "0x03", 12, INTENT_WINDOW_BLOCKS) == intent
    assert log.claim("EP", "0xkey", "addSigner", subject, "0x03", 14, INTENT_WINDOW_BLOCKS) == intent  # re-read
    assert log.claim("EP", "0xkey", "addSigner", subject, "0x04", 13, INTENT_WINDOW_BLOCKS) is None  # bound
    assert log.claim("US", "0xkey", "addSigner", subject, "0x05", 12, INTENT_WINDOW_BLOCKS) is None
