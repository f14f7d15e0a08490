"""The contract calls the library has no function for yet (revocation, governance), in one place.

Everything else in the evaluation goes through the library (Anchorer, verify, Chain); when the
contracts change, this module is where the evaluation adapts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from ..chain import Chain, TxResult, office_bytes
from .context import checksum

ACTIONS = {"admit": 0, "suspend": 1, "reinstate": 2}
ZERO_ADDRESS = "0x" + "00" * 20


def revoke_leaf(
    chain: Chain, account: LocalAccount, root: str, leaf: bytes, proof: Sequence[str], reason: int
) -> TxResult:
    """Revoke one record of a batch (the batch's own office)."""
    return chain.transact(account, chain.anchors.functions.revokeLeaf(root, leaf, list(proof), reason))


def revoke_batch(chain: Chain, account: LocalAccount, root: str, reason: int) -> TxResult:
    """Revoke a whole batch (the batch's own office)."""
    return chain.transact(account, chain.anchors.functions.revokeBatch(root, reason))


@dataclass(frozen=True, slots=True)
class Decision:
    """A governance proposal carried out: who approved, how many blocks and seconds it took."""

    proposal: int
    approvals: list[str]
    threshold: int
    first_block: int
    last_block: int
    transactions: int
    gas: int


def threshold(chain: Chain) -> int:
    """The current approval threshold."""
    return int(chain.rpc(lambda: chain.offices.functions.threshold().call()))


def govern(
    chain: Chain,
    action: str,
    office: str,
    voters: Sequence[tuple[str, LocalAccount]],
    name: str = "",
    base_uri: str = "",
    signer: str | None = None,
) -> Decision:
    """Propose ``action`` on ``office`` as the first voter, approve with the next ones up to the threshold, execute."""
    needed = threshold(chain)
    fn = chain.offices.functions.propose(
        ACTIONS[action], office_bytes(office), name, base_uri, checksum(signer) if signer else ZERO_ADDRESS
    )
    results = [chain.transact(voters[0][1], fn)]
    proposal = int(chain.rpc(lambda: chain.offices.functions.proposalCount().call())) - 1
    approvals = [voters[0][0]]
    for code, account in voters[1:needed]:
        results.append(chain.transact(account, chain.offices.functions.approve(proposal)))
        approvals.append(code)
    results.append(chain.transact(voters[0][1], chain.offices.functions.execute(proposal)))
    return Decision(
        proposal,
        approvals,
        needed,
        results[0].block_number,
        results[-1].block_number,
        len(results),
        sum(r.gas_used for r in results),
    )


def rotate_signer(chain: Chain, account: LocalAccount, old: str, new: str) -> list[TxResult]:
    """Replace ``old`` by ``new`` for the signer's office; the transactions it took."""
    return [chain.transact(account, chain.offices.functions.rotateSigner(checksum(old), checksum(new)))]


def compromise_supported(chain: Chain) -> bool:
    """Whether the deployed OfficeRegistry can mark a key compromised."""
    names = [str(item.get("name", "")) for item in chain.offices.abi if item.get("type") == "function"]
    return any("ompromis" in name for name in names)
