"""Fixtures of the ape suite: the two registry contracts deployed by ape on its test chain."""

from __future__ import annotations

from typing import Any

import pytest

GENESIS = ("EP", "US", "JP", "EM", "WO")
#: Governance rule (numerator, denominator, minApprovals, ttlBlocks): a strict majority of active offices.
RULE = (1, 2, 2, 50_400)
ZERO_ADDRESS = "0x" + "00" * 20


@pytest.fixture(scope="module")
def deployer(accounts: Any) -> Any:
    return accounts[0]


@pytest.fixture(scope="module")
def signers(accounts: Any) -> dict[str, Any]:
    """One signing account per genesis office."""
    return {code: accounts[i] for i, code in enumerate(GENESIS, start=1)}


@pytest.fixture(scope="module")
def offices(project: Any, deployer: Any, signers: dict[str, Any]) -> Any:
    codes = [c.encode() for c in GENESIS]
    names = [f"Office {c}" for c in GENESIS]
    uris = [f"https://register.{c.lower()}.example/" for c in GENESIS]
    return deployer.deploy(project.OfficeRegistry, codes, names, uris, [signers[c] for c in GENESIS], RULE)


@pytest.fixture(scope="module")
def anchors(project: Any, deployer: Any, offices: Any) -> Any:
    return deployer.deploy(project.AnchorRegistry, offices, ZERO_ADDRESS)
