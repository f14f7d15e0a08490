"""Names and rules mirrored from ``contracts/Common.sol`` (light: importable without web3)."""

from __future__ import annotations

from dataclasses import dataclass

#: Governance actions in the order of ``Common.sol``'s ``Action``.
ACTIONS = ("admit", "suspend", "reinstate", "replace-signers", "mark-compromised", "set-rule", "freeze")
#: Office statuses in the order of ``Common.sol``'s ``OfficeStatus``.
OFFICE_STATUS = ("none", "active", "suspended")
#: The zero address, as the contracts return it for "none" (no predecessor, no successor).
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True, slots=True)
class GovernanceRule:
    """required(n) = min(n, max(min_approvals, floor(n * numerator / denominator) + 1)); proposals live ttl blocks."""

    numerator: int = 1
    denominator: int = 2
    min_approvals: int = 2
    ttl_blocks: int = 50_400  # about 7 days of 12-second blocks

    def required(self, active: int) -> int:
        """Approvals needed with ``active`` active offices (what the contract computes)."""
        need = max(self.min_approvals, active * self.numerator // self.denominator + 1)
        return min(active, need)

    def as_tuple(self) -> tuple[int, int, int, int]:
        """The ABI tuple ``(numerator, denominator, minApprovals, ttlBlocks)``."""
        return (self.numerator, self.denominator, self.min_approvals, self.ttl_blocks)
