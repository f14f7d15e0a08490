"""The README's gas figures are the benchmark's: measured here on anvil, compared with the README's text.

A contract change that moves a figure fails this test until the README says the new figure
(``scripts/bench_gas.py`` prints them all).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from anvil_fixtures import AnvilNode

from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core import merkle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

pytestmark = pytest.mark.anvil

#: README name of a figure -> the benchmark's label for it.
NAMES = {
    "revokeLeaf": "revokeLeaf (proof of 4 nodes)",
    "revokeBatch": "revokeBatch",
    "propose": "propose (suspend)",
    "approve": "approve",
    "execute (suspend)": "execute (suspend, 3 approvals counted)",
    "acceptSigner": "acceptSigner",
    "markCompromised": "markCompromised (removes the key)",
    "governance mark-compromised": "execute (governance mark-compromised, cascade)",
    "replace-signers (7 keys)": "execute (replace-signers, 7 keys)",
    "cancel": "cancel (by the proposer)",
}


def _readme_figures() -> tuple[int, dict[str, int]]:
    (line,) = [
        x for x in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if "`scripts/bench_gas.py`" in x
    ]
    anchor = re.search(r"([0-9,]+) gas for 1 and 100 leaves", line)
    assert anchor, line
    found = {}
    for name in NAMES:
        match = re.search(re.escape(name) + r" ([0-9,]+)", line)
        assert match, f"{name} is not in the README's gas row: {line}"
        found[name] = int(match.group(1).replace(",", ""))
    return int(anchor.group(1).replace(",", "")), found


def test_readme_gas_figures_are_the_benchmarks(anvil: AnvilNode) -> None:
    from bench_gas import operations
    from bench_merkle import values

    chain = Chain(connect(anvil.rpc_url))
    deploy_dev(chain)
    ep = dev_signer("EP")
    assert ep is not None
    all_values = values(10_000 + 3)  # as the benchmark's default sizes (1, 100, 10000): the same calldata
    measured_anchor = []
    for k, size in enumerate((1, 100)):
        tree = merkle.MerkleTree.from_leaves([v.leaf() for v in all_values[k : k + size]])
        result = chain.anchor_batch(
            ep, tree.root, size, f"https://register.example.org/ipreg/EP/0x{tree.root.hex()}.json"
        )
        measured_anchor.append(result.gas_used)
    rows = dict(operations(chain, all_values))
    anchor, figures = _readme_figures()
    assert measured_anchor == [anchor, anchor]
    assert {name: rows[label] for name, label in NAMES.items()} == figures
