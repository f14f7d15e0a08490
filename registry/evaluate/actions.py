"""Governance and key actions as the offices carry them out, on the library's Chain methods.

One place for the multi-step flows (proposal -> approvals up to the required number -> execution;
nomination -> acceptance), so the governance timeline and the probes read as events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.types import Wei

from registry.chain.client import Chain, TxResult
from registry.chain.dev import dev_account


@dataclass(frozen=True, slots=True)
class Decision:
    """A governance proposal carried out: who approved, the transactions it took."""

    proposal: int
    approvals: list[str]
    required: int
    active: int
    results: list[TxResult]

    @property
    def gas(self) -> int:
        """Gas of all its transactions."""
        return sum(r.gas_used for r in self.results)


def govern(
    chain: Chain, action: str, office: str | None, voters: Sequence[tuple[str, LocalAccount]], **params: Any
) -> Decision:
    """Propose ``action`` as the first voter, approve with the next ones up to the required number, execute."""
    required = chain.required_approvals()
    active = chain.active_office_count()
    proposal, first = chain.propose(voters[0][1], action, office, **params)
    results = [first]
    approvals = [voters[0][0]]
    counted = chain.proposal(proposal).counted_approvals
    for code, account in voters[1:]:
        if counted >= required:
            break
        results.append(chain.approve(account, proposal))
        approvals.append(code)
        counted = chain.proposal(proposal).counted_approvals
    results.append(chain.execute(voters[0][1], proposal))
    return Decision(proposal, approvals, required, active, results)


def add_key(chain: Chain, office_key: LocalAccount, new: LocalAccount, office: str) -> list[TxResult]:
    """Nominate ``new`` for the office and let it accept (the key consents)."""
    return [chain.add_signer(office_key, new.address), chain.accept_signer(new, office)]


def rotate_key(chain: Chain, old: LocalAccount, new: LocalAccount, office: str) -> list[TxResult]:
    """Nominate ``new`` to replace ``old``; ``old`` is removed when ``new`` accepts."""
    return [chain.rotate_signer(old, old.address, new.address), chain.accept_signer(new, office)]


def spare_account(chain: Chain, index: int) -> LocalAccount:
    """Dev account ``index``, funded from account 0 if it has no ether (the embedded chain funds only a few)."""
    account = dev_account(index)
    w3 = chain.w3
    if chain.rpc(lambda: w3.eth.get_balance(account.address)) < 10**18:
        funder = dev_account(0)
        tx = {
            "to": account.address,
            "value": Wei(10**20),
            "gas": 21_000,
            "chainId": chain.rpc(lambda: w3.eth.chain_id),
            "nonce": chain.rpc(lambda: w3.eth.get_transaction_count(funder.address, "pending")),
            "maxFeePerGas": 2 * int(chain.rpc(lambda: w3.eth.get_block("latest")).get("baseFeePerGas", 0) or 0) + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        chain.wait(chain.send(funder, tx))
    return account
