"""Pytest fixtures running a real anvil node (from local-chain/) for integration tests.

Import from ``tests/conftest.py``::

    from anvil_fixtures import anvil, anvil_session  # noqa: F401

Tests using them carry ``@pytest.mark.anvil`` (deselect with ``-m "not anvil"``). A missing
anvil binary makes the fixture error with the ``npm ci`` hint rather than skip silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.errors import ConfigError
from registry.node.anvil import LocalChain, free_port


@dataclass(frozen=True)
class AnvilNode:
    """A running anvil node: its endpoint and the :class:`LocalChain` that controls it."""

    chain: LocalChain
    rpc_url: str


def start_anvil(state_dir: Path, attempts: int = 3) -> AnvilNode:
    """Start anvil on a free port (retrying if another process grabs the port first)."""
    last: ConfigError | None = None
    for _ in range(attempts):
        chain = LocalChain(state_dir, free_port())
        try:
            chain.start()
        except ConfigError as exc:
            if "already in use" not in str(exc):
                raise
            last = exc
            continue
        return AnvilNode(chain=chain, rpc_url=chain.rpc_url)
    assert last is not None
    raise last


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    """A fresh anvil node for one test (state in the test's tmp dir), stopped afterwards."""
    node = start_anvil(tmp_path / "chain")
    try:
        yield node
    finally:
        node.chain.stop()


@pytest.fixture(scope="session")
def anvil_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """One anvil node shared by the session (per xdist worker), stopped at the end."""
    node = start_anvil(tmp_path_factory.mktemp("anvil-session") / "chain")
    try:
        yield node
    finally:
        node.chain.stop()
