"""The versions of a registry: predecessors and successors linked from both ends (migration).

A link counts only when both contracts agree: the newer AnchorRegistry names the older one as its
``predecessor()`` (an immutable of its code) *and* the older one's governance froze it in favour of
the newer one (``successor()``). A registry merely claiming a predecessor is not followed, so no one
can graft their registry onto another's history. Reads only.
"""

from __future__ import annotations

from web3.exceptions import ContractLogicError

from registry.chain.client import Chain
from registry.errors import ChainError, ConfigError

#: Longest chain of versions followed either way.
MAX_LINKS = 16


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _zero(address: str) -> bool:
    return int(address, 16) == 0


def _bind(chain: Chain, address: str) -> Chain | None:
    try:
        return Chain.for_registry(chain.w3, address, retries=chain.retries)
    except (ConfigError, ChainError, ContractLogicError, ValueError):
        return None


def _predecessor(chain: Chain) -> Chain | None:
    """The confirmed predecessor of ``chain``'s registry, or None."""
    try:
        claimed = chain.predecessor()
    except (ChainError, ContractLogicError, ValueError):
        return None  # a registry version without the migration interface
    if _zero(claimed):
        return None
    previous = _bind(chain, claimed)
    if previous is None or previous.frozen_at() == 0:
        return None
    assert chain.deployment is not None
    return previous if _same(previous.successor(), chain.deployment.anchor_registry) else None


def _successor(chain: Chain) -> Chain | None:
    """The confirmed successor of ``chain``'s registry, or None."""
    try:
        if chain.frozen_at() == 0:
            return None
        named = chain.successor()
    except (ChainError, ContractLogicError, ValueError):
        return None
    following = _bind(chain, named)
    if following is None:
        return None
    assert chain.deployment is not None
    try:
        return following if _same(following.predecessor(), chain.deployment.anchor_registry) else None
    except (ChainError, ContractLogicError, ValueError):
        return None


def lineage(chain: Chain) -> list[Chain]:
    """Every confirmed version around ``chain``'s registry, oldest first (``chain`` itself included)."""
    assert chain.deployment is not None
    seen = {chain.deployment.anchor_registry.lower()}
    older: list[Chain] = []
    current = chain
    for _ in range(MAX_LINKS):
        previous = _predecessor(current)
        if previous is None or previous.deployment is None or previous.deployment.anchor_registry.lower() in seen:
            break
        seen.add(previous.deployment.anchor_registry.lower())
        older.insert(0, previous)
        current = previous
    newer: list[Chain] = []
    current = chain
    for _ in range(MAX_LINKS):
        following = _successor(current)
        if following is None or following.deployment is None or following.deployment.anchor_registry.lower() in seen:
            break
        seen.add(following.deployment.anchor_registry.lower())
        newer.append(following)
        current = following
    return [*older, chain, *newer]
