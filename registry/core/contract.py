"""Names mirrored from ``contracts/Common.sol`` (light: importable without web3)."""

from __future__ import annotations

#: Governance actions in the order of ``Common.sol``'s ``Action``.
ACTIONS = ("admit", "suspend", "reinstate", "replace-signers", "mark-compromised", "set-rule", "freeze")
#: Office statuses in the order of ``Common.sol``'s ``OfficeStatus``.
OFFICE_STATUS = ("none", "active", "suspended")
