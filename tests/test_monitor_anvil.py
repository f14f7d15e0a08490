"""``ipreg monitor`` on anvil through the real command line: the office's own work is quiet, a thief is not.

EP anchors twice, adds a second key (nominated and accepted through ``ipreg office``), anchors with it,
rotates its dev key to a third one, revokes a batch: ``ipreg monitor --office EP --once`` says nothing
(exit 0). A thief who copied EP's second keystore (and its password) anchors from another machine (a
second home: no outbox, no journal), twice; the long-running monitor reports the first within two blocks of
its confirmation, with the command to mark the key compromised; killed (SIGKILL) then and restarted, it
has printed each forged anchor exactly once; the command then runs as given and the office stays quiet.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode
from web3 import HTTPProvider, Web3

from registry.evaluate.samples import generate_gazette
from registry.node.anvil import free_port

pytestmark = pytest.mark.anvil

IPREG = str(Path(sys.executable).parent / "ipreg")


def run(env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([IPREG, *args], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, f"ipreg {' '.join(args)} -> {proc.returncode}: {proc.stdout}\n{proc.stderr}"
    return proc


def gazette(tmp: Path, name: str, seed: int) -> str:
    generate_gazette(tmp / name, office="EP", count=3, seed=seed, kinds=("st97-json",))
    return str(tmp / name)


def test_the_office_is_quiet_and_a_thief_is_reported_within_two_blocks(tmp_path: Path, anvil: AnvilNode) -> None:
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IPREG_")},
        "IPREG_HOME": str(home),
        "IPREG_RPC_URL": anvil.rpc_url,
        "IPREG_KEYSTORE_PASSWORD": "a long passphrase",
    }
    run(env, "deploy")
    first = json.loads(run(env, "anchor", gazette(tmp_path, "g1", 1), "--office", "EP", "--json").stdout)
    run(env, "anchor", gazette(tmp_path, "g2", 2), "--office", "EP")
    old = run(env, "office", "signers", "EP", "--json")
    (dev_key,) = [k["address"] for k in json.loads(old.stdout)]

    second = run(env, "office", "keystore", "--office", "EP").stdout.strip()
    second_file = next(home.glob("keys/EP-*.json"))
    run(env, "office", "add-signer", second, "--as", "EP")
    run(env, "office", "accept", "EP", "--keystore", str(second_file))
    with_second = {**env, "IPREG_KEYSTORE": str(second_file)}
    run(with_second, "anchor", gazette(tmp_path, "g3", 3), "--office", "EP")

    third = run(env, "office", "keystore", "--office", "EP").stdout.strip()
    third_file = next(p for p in home.glob("keys/EP-*.json") if p != second_file)
    run(env, "office", "rotate-signer", dev_key, third, "--as", "EP")
    run(env, "office", "accept", "EP", "--keystore", str(third_file))
    with_third = {**env, "IPREG_KEYSTORE": str(third_file)}
    run(with_third, "revoke", "batch", first["batches"][0]["root"], "--as", "EP", "--reason", "1")

    quiet = run(env, "monitor", "--office", "EP", "--once")
    assert quiet.stdout == ""

    # The long-running monitor, polling.
    lines: queue.Queue[tuple[str, int]] = queue.Queue()
    w3 = Web3(HTTPProvider(anvil.rpc_url))
    proc = subprocess.Popen(
        [IPREG, "monitor", "--office", "EP", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((line, w3.eth.block_number))

    threading.Thread(target=reader, daemon=True).start()
    try:
        # The thief: EP's second keystore and its password on another machine (no outbox there).
        thief_home = tmp_path / "thief"
        (thief_home / "keys").mkdir(parents=True)
        shutil.copy(home / "deployment.json", thief_home / "deployment.json")
        shutil.copy(second_file, thief_home / "keys" / "EP.json")
        thief = {**env, "IPREG_HOME": str(thief_home)}
        forged = [
            json.loads(run(thief, "anchor", gazette(tmp_path, f"forged{i}", 90 + i), "--office", "EP", "--json").stdout)
            for i in range(2)
        ]
        block = forged[0]["batches"][0]["blockNumber"]
        line, head = lines.get(timeout=60)
    finally:
        proc.kill()  # killed at once, whatever it was doing
        proc.wait(timeout=30)
    finding = json.loads(line)
    assert finding["kind"] == "anchor-not-in-outbox" and finding["office"] == "EP"
    assert finding["block"] == block and finding["key"] == second
    assert head <= block + 2, f"reported at head {head}, anchored in block {block}"
    command = finding["actions"][0].split(" (", 1)[0]
    assert command == f"ipreg office compromise {second} --as EP"
    assert f"--from-block {block}" in finding["actions"][1]

    # Restarted: what the killed monitor printed and what the restart prints are both forged anchors, once each.
    before_kill = [line]
    while not lines.empty():
        before_kill.append(lines.get()[0])
    after = run(env, "monitor", "--office", "EP", "--once", code=3 if len(before_kill) < 2 else 0)
    printed = [json.loads(x) for x in [*before_kill, *after.stdout.splitlines()]]
    assert sorted(f["block"] for f in printed) == [f["batches"][0]["blockNumber"] for f in forged]
    assert run(env, "monitor", "--office", "EP", "--once").stdout == ""
    # The office runs the command (signed with its third key, which the thief does not hold): still quiet.
    run(with_third, *command.split()[1:])
    assert run(env, "monitor", "--office", "EP", "--once").stdout == ""
    # A witness sees the mark.
    witness = run(env, "monitor", "--all", "--once", code=3)
    assert "signer-compromised" in [json.loads(x)["kind"] for x in witness.stdout.splitlines()]
    # The findings are in the home's log.
    logged = [json.loads(x) for x in (home / "monitor-findings.jsonl").read_text().splitlines()]
    assert {f["block"] for f in printed} <= {f["block"] for f in logged}

    # `ipreg serve` with IPREG_MONITOR_OFFICES runs the same monitor in the background: an auditor's home (no
    # outbox, no journal: every act of EP is someone else's there) logs EP's acts as findings.
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    shutil.copy(home / "deployment.json", auditor / "deployment.json")
    served = {**env, "IPREG_HOME": str(auditor), "IPREG_MONITOR_OFFICES": "EP", "IPREG_MONITOR_INTERVAL": "0.2"}
    serve = subprocess.Popen(
        [IPREG, "serve", "--port", str(free_port()), "--index-interval", "0"],
        env=served,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    findings = auditor / "monitor-findings.jsonl"
    try:
        for _ in range(600):
            if findings.is_file() and sum(1 for _ in findings.open()) >= 3:
                break
            assert serve.poll() is None, serve.communicate()[1][-2000:]
            threading.Event().wait(0.1)
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    kinds = [json.loads(x)["kind"] for x in findings.read_text().splitlines()]
    assert kinds.count("anchor-not-in-outbox") >= 3, kinds
