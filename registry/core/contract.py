"""Names and rules mirrored from ``contracts/Common.sol`` (light: importable without web3)."""

from __future__ import annotations

from dataclasses import dataclass

#: Governance actions in the order of ``Common.sol``'s ``Action``.
ACTIONS = ("admit", "suspend", "reinstate", "replace-signers", "mark-compromised", "set-rule", "freeze", "cancel")
#: Office statuses in the order of ``Common.sol``'s ``OfficeStatus``.
OFFICE_STATUS = ("none", "active", "suspended")
#: The zero address, as the contracts return it for "none" (no predecessor, no successor).
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True, slots=True)
class GovernanceRule:
    """required(n) = 2 for n <= 2, else min(n - 1, max(2, min_approvals, floor(n * num / den) + 1)); ttl in blocks.

    No office ever acts alone (at least 2; with fewer than 2 active offices nothing executes) and, with 3 or
    more active offices, never all of them (no single office can veto): contracts 3.0.0.
    """

    numerator: int = 1
    denominator: int = 2
    min_approvals: int = 2
    ttl_blocks: int = 50_400  # about 7 days of 12-second blocks

    def required(self, active: int) -> int:
        """Approvals needed with ``active`` active offices (what the contract computes)."""
        if active <= 2:
            return 2
        need = max(2, self.min_approvals, active * self.numerator // self.denominator + 1)
        return min(active - 1, need)

    def as_tuple(self) -> tuple[int, int, int, int]:
        """The ABI tuple ``(numerator, denominator, minApprovals, ttlBlocks)``."""
        return (self.numerator, self.denominator, self.min_approvals, self.ttl_blocks)
