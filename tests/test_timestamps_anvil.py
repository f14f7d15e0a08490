"""``ipreg anchor --tsa`` on a real anvil node: an authority outage loses nothing, anchors nothing twice, and the
re-run resumes; ``ipreg verify`` shows the authority's time beside the block time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode

from registry.evaluate.samples import generate_gazette
from registry.node.anvil import free_port

pytestmark = pytest.mark.anvil

IPREG = str(Path(sys.executable).parent / "ipreg")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([IPREG, *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_an_authority_outage_during_ipreg_anchor_loses_nothing_and_the_rerun_anchors_once(
    tmp_path: Path, anvil: AnvilNode
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "IPREG_HOME": str(home), "IPREG_RPC_URL": anvil.rpc_url}
    assert run(env, "deploy").returncode == 0
    home.joinpath("timestamps.toml").write_text("attempts = 2\nretry_delay = 0\n", encoding="utf-8")
    gazette = tmp_path / "gazette"
    generate_gazette(gazette, office="EP", count=5, seed=11, kinds=("st96-patent",))
    proofs = tmp_path / "proofs"
    down = f"http://127.0.0.1:{free_port()}/tsr"  # nothing listens there: the authority is down
    args = ["anchor", str(gazette), "--office", "EP", "--proofs", str(proofs), "--batch-size", "2"]
    failed = run(env, *args, "--tsa", down, "--tsa-allow-network", "127.0.0.0/8")
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "records stay pending" in errors[0] and "retrying" in failed.stderr
    assert not proofs.exists() or not list(proofs.iterdir())

    again = run(env, *args, "--tsa", "local", "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["anchored"] == 5 and summary["pending"] == 0 and len(summary["batches"]) == 3
    assert all(len(b["timestamps"]) == 1 and b["timestamps"][0]["time"] for b in summary["batches"])
    roots = [b["root"] for b in summary["batches"]]
    assert len(set(roots)) == 3

    third = json.loads(run(env, *args, "--tsa", "local", "--json").stdout)  # nothing left: nothing anchored twice
    assert third["anchored"] == 0 and third["batches"] == [] and third["alreadyAnchored"] == 5

    bundle = next(proofs.glob("*.proof.json"))
    home.joinpath("timestamps.toml").write_text('[[trust]]\ncerts = ["tsa/root.pem"]\n', encoding="utf-8")
    verdict = json.loads(run(env, "verify", "--proof", str(bundle), "--json").stdout)
    assert verdict["verdict"] == "VERIFIED" and verdict["timestamps"][0]["status"] == "valid"
    assert verdict["timestamps"][0]["time"] and verdict["anchoredAt"]
    text = run(env, "verify", "--proof", str(bundle)).stdout
    assert "(block time)" in text and "VALID" in text
