"""The read-only commands over the light JSON-RPC reader say what they said over web3, byte for byte.

What must never happen: ``ipreg office list / signers / proposals`` or ``ipreg index status`` printing another
office status, key state, term, compromise mark, nomination, approval count, proposal state or payload than
the chain holds, or than the web3 reader printed (their output is what an office's staff act on); a reader
answering from another registry than the home's, or from a chain that does not hold its deployment.
The expected outputs were captured with the web3 reader before the light one replaced it
(``tests/vectors/read_only_outputs.json``); the views are also compared call for call with the web3 client.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from office_home import OfficeHome

from registry.chain import views
from registry.chain.client import Chain, connect
from registry.chain.deployments import Deployment
from registry.chain.light_views import LightViews
from registry.errors import ConfigError

pytestmark = pytest.mark.anvil

IPREG = Path(sys.executable).parent / "ipreg"
VECTORS = json.loads((Path(__file__).parent / "vectors" / "read_only_outputs.json").read_text(encoding="utf-8"))


def _run(home: OfficeHome, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "IPREG_HOME": str(home.home), "IPREG_RPC_URL": home.rpc_url, "IPREG_RPC_RETRIES": "0"}
    proc = subprocess.run([str(IPREG), *args], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout.replace(str(home.home), "{home}"), proc.stderr


#: What a contract release changes in `deployment show` (its deployment gas and runtime code hash), not the reader.
_BUILD = re.compile(r"gas [0-9,]+  code hash 0x[0-9a-f]{64}")


def _sans_build(result: list[Any]) -> list[Any]:
    return [_BUILD.sub("gas {gas}  code hash {code}", x) if isinstance(x, str) else x for x in result]


@pytest.mark.parametrize("case", sorted(VECTORS["cases"]))
def test_output_is_what_the_web3_reader_printed(office_home: OfficeHome, case: str) -> None:
    args = [a.format(registry=office_home.anchor_registry) for a in case.split()]
    assert _sans_build(list(_run(office_home, *args))) == _sans_build(VECTORS["cases"][case])


def test_views_answer_as_the_web3_client(office_home: OfficeHome) -> None:
    """Call for call on the same chain: every office's info and keys, every proposal, the rule's approvals."""
    dep = Deployment.load(office_home.home / "deployment.json")
    chain = Chain(connect(office_home.rpc_url), dep)
    light = LightViews.open(office_home.rpc_url, dep, retries=0)
    codes = views.office_codes(light)
    assert codes == chain.office_codes() == ["EP", "US", "JP", "EM", "WO"]
    for code in [*codes, "KR"]:
        assert views.signers_of(light, code) == chain.signers(code)
        if code in codes:
            assert views.office_info(light, code) == chain.office_info(code)
        for key in chain.signers(code):
            assert views.compromise_mark(light, code, key.address) == chain.compromise_mark(code, key.address)
    assert views.proposals(light) == chain.proposals()
    assert {p.action for p in views.proposals(light)} == {"admit", "suspend", "set-rule", "mark-compromised"}
    assert views.required_approvals(light) == chain.required_approvals()
    assert light.block_number() == chain.block_number()


def test_views_refuse_a_deployment_the_chain_does_not_hold(office_home: OfficeHome) -> None:
    dep = Deployment.load(office_home.home / "deployment.json")
    other_chain = Deployment(1, dep.office_registry, dep.anchor_registry, dep.block_number)
    with pytest.raises(ConfigError, match="deployment is for chain 1, the endpoint serves chain 31337"):
        LightViews.open(office_home.rpc_url, other_chain, retries=0)
    nowhere = Deployment(dep.chain_id, dep.office_registry, "0x" + "42" * 20, dep.block_number)
    with pytest.raises(ConfigError, match="no AnchorRegistry at 0x4242"):
        LightViews.open(office_home.rpc_url, nowhere, retries=0)


def test_views_read_the_home_s_office_registry_only(office_home: OfficeHome) -> None:
    """The replaced deployment on the same chain has offices and keys of its own: never mixed in."""
    old = Deployment.load(office_home.home / "deployments" / "replaced" / "deployment.json")
    light = LightViews.open(office_home.rpc_url, old, retries=0)
    assert [k.address for k in views.signers_of(light, "EP")] == ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]
    assert views.proposals(light) == []
    assert views.office_info(light, "JP")[2] == "active"


def test_index_status_refuses_what_is_not_an_anchor_registry(office_home: OfficeHome) -> None:
    code, out, err = _run(office_home, "index", "status", "--registry", "0x" + "42" * 20)
    assert (code, out) == (1, "") and err.startswith("error: no contract at 0x4242"), err
    dep = Deployment.load(office_home.home / "deployment.json")
    code, out, err = _run(office_home, "index", "status", "--registry", dep.office_registry)
    assert (code, out) == (1, "") and err == f"error: {dep.office_registry} is not an AnchorRegistry\n", err
