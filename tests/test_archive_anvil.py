"""Twenty years on: verdicts from an exported chain archive with the node stopped, on anvil with real transactions.

The scenario is the verdict-parity world (:func:`test_verdict_parity.build`: anchors, revocations of a record and
a batch, a newer version, keys added, removed and marked compromised, a revocation by a compromised key, a sealed
record, a suspended office, a foreign registry). The archive is exported with ``ipreg archive export``, the
live verdicts are taken with ``ipreg verify``, the node is stopped, and ``ipreg verify --archive`` must give the
same verdict, reason and checks, each check saying it was checked against the archive up to its head.

What must never happen: a VERIFIED (or any verdict) from an archive whose header, log, receipt or head was
altered, dropped or forged; a verdict from the archive that differs from the live one; a verdict that does
not say up to which block and head hash it was checked.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anvil_fixtures import start_anvil
from test_verdict_parity import EXPECTED, IPREG, Case, World, _args, _env, build

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.config import Settings
from registry.store.outbox import Store
from registry.verify.verdict import EXIT_CODES

pytestmark = pytest.mark.anvil


@dataclass
class Archived:
    world: World
    archive: Path
    body: dict[str, Any]
    live: dict[str, dict[str, Any]]
    export: dict[str, Any]


def _ipreg(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from registry.cli import _register, app, main

    del main
    _register()
    result = CliRunner().invoke(app, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def _ipreg_process(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """The real ``ipreg`` (its error handling: one ``error:`` line, no traceback)."""
    proc = subprocess.run([str(IPREG), *args], capture_output=True, text=True, env=env, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _verify(w: World, case: Case, archive: Path | None) -> dict[str, Any]:
    args = _args(w, case, ["--archive", str(archive)] if archive is not None else [], True)
    code, out, err = _ipreg(args, _env(w.settings.home, w.node.rpc_url))
    body: dict[str, Any] = json.loads(out)
    assert code == EXIT_CODES[body["verdict"]], (code, body, err)
    return body


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archived]:
    tmp = tmp_path_factory.mktemp("archive")
    node = start_anvil(tmp / "anvil")
    try:
        settings = Settings(home=tmp / "office-home", rpc_url=node.rpc_url)
        chain = Chain(connect(node.rpc_url))
        deploy_dev(chain).save(settings.deployment_file)
        w = World(node, chain, settings, Store(settings.store_file), tmp)
        build(w)
        archive = tmp / "chain-archive.json"
        code, out, err = _ipreg(
            ["archive", "export", "--out", str(archive), "--json"], _env(settings.home, node.rpc_url)
        )
        assert code == 0, err
        export = json.loads(out)
        live = {name: _verify(w, case, None) for name, case in w.cases.items()}
    finally:
        node.chain.stop()  # from here on no node answers: every verdict below comes from the archive alone
    yield Archived(w, archive, json.loads(archive.read_bytes()), live, export)


def _strip(body: dict[str, Any], note: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    for check in out["checks"]:
        check["detail"] = check["detail"].replace(f" ({note})", "").replace(note, "")
    return out


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_archive_verdict_equals_the_live_one(archived: Archived, case: str) -> None:
    w = archived.world
    live = archived.live[case]
    assert (live["verdict"], live["reasonCode"]) == EXPECTED[case]  # the live world is what the parity test says
    got = _verify(w, w.cases[case], archived.archive)
    head, block = archived.export["headHash"], archived.export["headBlock"]
    ran = [c for c in got["checks"] if c["result"] in ("passed", "failed")]
    assert ran, got
    note = ran[0]["detail"][ran[0]["detail"].index("checked against a chain archive") :].rstrip(")")
    assert f"up to block {block}, head hash {head}" in note
    assert f"a revocation after block {block} would not be seen" in note
    assert all(note in c["detail"] for c in ran)
    assert _strip(got, note) == live
    assert got["stateBlock"] == (block if live["stateBlock"] is not None else None)


def test_export_proves_code_and_names_the_head(archived: Archived) -> None:
    e = archived.export
    assert e["codeProven"] is True and "linked" in e["code"]
    from eth_hash.auto import keccak

    assert e["headHash"] == "0x" + keccak(bytes.fromhex(archived.body["headers"][-1][2:])).hex()
    assert archived.body["witness"].startswith("compare head.hash with a second source")
    code, out, _ = _ipreg(["archive", "check", str(archived.archive), "--json"], {})
    assert code == 0 and json.loads(out)["headHash"] == e["headHash"]


def _logs_block(body: dict[str, Any]) -> str:
    """A block whose receipts hold a registry log (BatchAnchored or a revocation)."""
    anchor = body["anchorRegistry"]
    for number, receipts in body["receipts"].items():
        if any(log["address"] == anchor for r in receipts for log in r["logs"]):
            return str(number)
    raise AssertionError("no registry log in the archive")


def _edit_header(body: dict[str, Any], number: str, **fields: str) -> None:
    """Change fields of a stored header (its RLP re-encoded: its hash changes with it)."""
    from registry.archive.format import header_fields, header_rlp

    position = int(number) - body["deploymentBlock"]
    header, _hash = header_fields(body["headers"][position], position)
    body["headers"][position] = "0x" + header_rlp({**header, **fields}).hex()


def _drop_log(b: dict[str, Any]) -> None:
    n = _logs_block(b)
    for r in b["receipts"][n]:
        if r["logs"]:
            r["logs"].pop()
            return


def _alter_log(b: dict[str, Any]) -> None:
    n = _logs_block(b)
    log = next(log for r in b["receipts"][n] for log in r["logs"] if log["address"] == b["anchorRegistry"])
    log["topics"][1] = "0x" + "77" * 32


def _drop_receipts(b: dict[str, Any]) -> None:
    del b["receipts"][_logs_block(b)]


def _change_receipt(b: dict[str, Any]) -> None:
    b["receipts"][_logs_block(b)][0]["cumulativeGasUsed"] = "0x1"


def _change_header(b: dict[str, Any]) -> None:
    _edit_header(b, _logs_block(b), timestamp="0x1")


def _change_receipts_root(b: dict[str, Any]) -> None:
    """A header rewritten to fit altered receipts: the next block's parent link breaks."""
    n = _logs_block(b)
    _drop_log(b)
    from registry.archive.format import receipts_root

    _edit_header(b, n, receiptsRoot=receipts_root(b["receipts"][n]))


def _garbage_header(b: dict[str, Any]) -> None:
    b["headers"][1] = "0x" + "c0" * 3


def _drop_header(b: dict[str, Any]) -> None:
    b["headers"].pop(len(b["headers"]) // 2)


def _forge_head(b: dict[str, Any]) -> None:
    b["head"]["hash"] = "0x" + "ab" * 32


def _truncate(b: dict[str, Any]) -> None:
    """A shorter archive, consistent in itself (drops the last revocations): only the witnessed head catches it."""
    b["headers"] = b["headers"][:-3]
    from registry.archive.format import header_fields

    last, digest = header_fields(b["headers"][-1], len(b["headers"]) - 1)
    b["head"] = {"number": int(last["number"], 16), "hash": digest}
    b["receipts"] = {k: v for k, v in b["receipts"].items() if int(k) <= b["head"]["number"]}
    b.pop("accounts", None)


TAMPERS = {
    "a registry log dropped": (_drop_log, "receiptsRoot"),
    "a registry log altered": (_alter_log, "receiptsRoot"),
    "a block's receipts dropped": (_drop_receipts, "receipts are missing"),
    "a receipt changed": (_change_receipt, "receiptsRoot"),
    "a header changed": (_change_header, "does not link"),
    "a header rewritten to fit a dropped log": (_change_receipts_root, "does not link"),
    "a header that is no header": (_garbage_header, "header 1"),
    "a header dropped": (_drop_header, "expected"),
    "a forged head": (_forge_head, "head does not match"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_a_tampered_archive_is_refused_with_one_line(archived: Archived, tamper: str, tmp_path: Path) -> None:
    change, message = TAMPERS[tamper]
    body = copy.deepcopy(archived.body)
    change(body)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    w = archived.world
    for case in ("revoked record",):
        args = _args(w, w.cases[case], ["--archive", str(bad)], True)
        code, out, err = _ipreg_process(args, _env(w.settings.home, w.node.rpc_url))
        assert code != 0 and "VERIFIED" not in out and "REVOKED" not in out, (tamper, out)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (tamper, err)
        assert "Traceback" not in err


def test_a_shorter_archive_is_caught_by_the_witnessed_head(archived: Archived, tmp_path: Path) -> None:
    """A self-consistent archive cut before the revocations says VERIFIED up to its own (earlier) head: it must
    say which head, and with the witnessed head hash (--archive-head) it is refused."""
    body = copy.deepcopy(archived.body)
    _truncate(body)
    short = tmp_path / "short.json"
    short.write_text(json.dumps(body))
    w = archived.world
    env = _env(w.settings.home, w.node.rpc_url)
    code, out, err = _ipreg(_args(w, w.cases["revoked batch"], ["--archive", str(short)], True), env)
    seen = json.loads(out)
    assert seen["stateBlock"] == body["head"]["number"] < archived.export["headBlock"]
    assert any(body["head"]["hash"] in c["detail"] and "second source" in c["detail"] for c in seen["checks"])
    witnessed = ["--archive", str(short), "--archive-head", archived.export["headHash"]]
    code, out, err = _ipreg_process(_args(w, w.cases["revoked batch"], witnessed, True), env)
    assert code != 0 and out == "" and err.startswith("error:") and "not the witnessed" in err
    ok = ["--archive", str(archived.archive), "--archive-head", archived.export["headHash"]]
    code, out, err = _ipreg(_args(w, w.cases["control"], ok, True), env)
    assert code == 0 and json.loads(out)["verdict"] == "VERIFIED"
    assert "(witnessed)" in json.loads(out)["checks"][0]["detail"]
