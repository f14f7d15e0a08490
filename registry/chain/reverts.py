"""One typed error per custom error of the contracts (``OfficeRegistry``, ``AnchorRegistry``).

``registry.chain.client`` raises the matching subclass of :class:`ContractRevertError` when a call would revert
or reverted, with the decoded values in ``values`` (field name -> value as the ABI decodes it)::

    try:
        chain.anchor_batch(account, root, 1, uri)
    except RootAlreadyAnchored as exc:
        print(exc.values["blockNumber"])
"""

from __future__ import annotations

from typing import Any, ClassVar

from registry.errors import ContractRevertError


class ContractError(ContractRevertError):
    """A revert with a known custom error: ``error_name`` and its decoded ``values``."""

    error_name: ClassVar[str] = ""
    contract: ClassVar[str] = ""

    def __init__(self, message: str, values: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.values: dict[str, Any] = dict(values or {})


class AlreadyApproved(ContractError):
    """OfficeRegistry: The office already approved this proposal."""

    error_name = "AlreadyApproved"
    contract = "OfficeRegistry"


class AlreadyExecuted(ContractError):
    """OfficeRegistry: The proposal was already executed."""

    error_name = "AlreadyExecuted"
    contract = "OfficeRegistry"


class AlreadyFrozen(ContractError):
    """OfficeRegistry: The registry was already frozen."""

    error_name = "AlreadyFrozen"
    contract = "OfficeRegistry"


class AlreadyRevoked(ContractError):
    """AnchorRegistry: Already revoked."""

    error_name = "AlreadyRevoked"
    contract = "AnchorRegistry"


class DuplicateProposal(ContractError):
    """OfficeRegistry: The same action about the same subject is already pending."""

    error_name = "DuplicateProposal"
    contract = "OfficeRegistry"


class EmptyBatch(ContractError):
    """AnchorRegistry: A batch needs a non-zero root and at least one leaf."""

    error_name = "EmptyBatch"
    contract = "AnchorRegistry"


class GovernanceWouldStall(ContractError):
    """OfficeRegistry: The action would leave too few active offices for governance to act."""

    error_name = "GovernanceWouldStall"
    contract = "OfficeRegistry"


class InvalidCompromiseBlock(ContractError):
    """OfficeRegistry: A compromise block must lie in [1, current block] and before an existing mark."""

    error_name = "InvalidCompromiseBlock"
    contract = "OfficeRegistry"


class InvalidOfficeCode(ContractError):
    """OfficeRegistry: The office code is not two capital letters."""

    error_name = "InvalidOfficeCode"
    contract = "OfficeRegistry"


class InvalidReason(ContractError):
    """AnchorRegistry: Revocation needs a non-zero reason code."""

    error_name = "InvalidReason"
    contract = "AnchorRegistry"


class LastSigner(ContractError):
    """OfficeRegistry: An office can never remove its last key."""

    error_name = "LastSigner"
    contract = "OfficeRegistry"


class LeafNotInBatch(ContractError):
    """AnchorRegistry: The leaf is not part of the batch."""

    error_name = "LeafNotInBatch"
    contract = "AnchorRegistry"


class LengthMismatch(ContractError):
    """OfficeRegistry: Constructor arrays differ in length."""

    error_name = "LengthMismatch"
    contract = "OfficeRegistry"


class NeverASigner(ContractError):
    """OfficeRegistry: The key was never a signer of the office."""

    error_name = "NeverASigner"
    contract = "OfficeRegistry"


class NoStatusChange(ContractError):
    """OfficeRegistry: The action would not change the office's status."""

    error_name = "NoStatusChange"
    contract = "OfficeRegistry"


class NotASigner(ContractError):
    """AnchorRegistry: The caller is not a current signer of any office."""

    error_name = "NotASigner"
    contract = "AnchorRegistry"


class NotAnActiveSigner(ContractError):
    """AnchorRegistry: The caller is not a current signer of an active office."""

    error_name = "NotAnActiveSigner"
    contract = "AnchorRegistry"


class NominationVoid(ContractError):
    """OfficeRegistry: The nomination was made by a since-compromised key or before governance replaced the keys."""

    error_name = "NominationVoid"
    contract = "OfficeRegistry"


class NotNominated(ContractError):
    """OfficeRegistry: The account has no pending nomination from the office."""

    error_name = "NotNominated"
    contract = "OfficeRegistry"


class OfficeAlreadyRegistered(ContractError):
    """OfficeRegistry: The office is already registered."""

    error_name = "OfficeAlreadyRegistered"
    contract = "OfficeRegistry"


class OfficeNotActive(ContractError):
    """OfficeRegistry: The office is not active."""

    error_name = "OfficeNotActive"
    contract = "OfficeRegistry"


class PayloadMismatch(ContractError):
    """OfficeRegistry: The approval names another payload than the proposal's."""

    error_name = "PayloadMismatch"
    contract = "OfficeRegistry"


class ProposalExpired(ContractError):
    """OfficeRegistry: The proposal expired."""

    error_name = "ProposalExpired"
    contract = "OfficeRegistry"


class RegistryFrozen(ContractError):
    """AnchorRegistry: The registry is frozen: no new batches (see its successor)."""

    error_name = "RegistryFrozen"
    contract = "AnchorRegistry"


class RootAlreadyAnchored(ContractError):
    """AnchorRegistry: The office anchored this root before."""

    error_name = "RootAlreadyAnchored"
    contract = "AnchorRegistry"


class SignerAlreadyRegistered(ContractError):
    """OfficeRegistry: The account is already a current signer."""

    error_name = "SignerAlreadyRegistered"
    contract = "OfficeRegistry"


class ThresholdNotReached(ContractError):
    """OfficeRegistry: The proposal lacks approvals of currently active offices."""

    error_name = "ThresholdNotReached"
    contract = "OfficeRegistry"


class TooFewOffices(ContractError):
    """OfficeRegistry: Governance needs more genesis offices."""

    error_name = "TooFewOffices"
    contract = "OfficeRegistry"


class UnauthorisedSigner(ContractError):
    """OfficeRegistry: The account is not a current signer of the office it acts for."""

    error_name = "UnauthorisedSigner"
    contract = "OfficeRegistry"


class UnknownBatch(ContractError):
    """AnchorRegistry: The office has no batch with this root."""

    error_name = "UnknownBatch"
    contract = "AnchorRegistry"


class UnknownOffice(ContractError):
    """OfficeRegistry: The office is not registered."""

    error_name = "UnknownOffice"
    contract = "OfficeRegistry"


class UnknownProposal(ContractError):
    """OfficeRegistry: No proposal with this id."""

    error_name = "UnknownProposal"
    contract = "OfficeRegistry"


class UnsafeRule(ContractError):
    """OfficeRegistry: The governance rule is unsafe (minority, single office or no expiry)."""

    error_name = "UnsafeRule"
    contract = "OfficeRegistry"


class ZeroAddress(ContractError):
    """OfficeRegistry: The zero address cannot be a signer or a successor."""

    error_name = "ZeroAddress"
    contract = "OfficeRegistry"


#: Every custom error class by its Solidity name.
BY_NAME: dict[str, type[ContractError]] = {cls.error_name: cls for cls in ContractError.__subclasses__()}
