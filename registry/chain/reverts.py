"""Revert decoding: one typed error per custom error of the contracts (``OfficeRegistry``, ``AnchorRegistry``).

:func:`revert_error` turns revert data into the matching subclass of :class:`ContractRevertError`, with
the decoded values in ``values`` (field name -> value as the ABI decodes it); ``registry.chain.client``
raises it when a call would revert or reverted::

    try:
        chain.anchor_batch(account, root, 1, uri)
    except RootAlreadyAnchored as exc:
        print(exc.values["blockNumber"])
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from registry.chain.artifacts import artifact
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
    """OfficeRegistry: The same action with the same payload is already pending: approve that one."""

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
    """AnchorRegistry: Not a current signer of an active office (a suspended one neither anchors nor revokes)."""

    error_name = "NotAnActiveSigner"
    contract = "AnchorRegistry"


class NominationVoid(ContractError):
    """OfficeRegistry: The nomination is void: its nominator no longer signs, or governance replaced the keys since."""

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


class AlreadyCompromised(ContractError):
    """OfficeRegistry: The key is already marked compromised; only governance moves it earlier."""

    error_name = "AlreadyCompromised"
    contract = "OfficeRegistry"


class GovernanceNomination(ContractError):
    """OfficeRegistry: A nomination made by governance is withdrawn by governance only (replace-signers again)."""

    error_name = "GovernanceNomination"
    contract = "OfficeRegistry"


class KeyAlreadyUsed(ContractError):
    """OfficeRegistry: The key signed for this office before: keys are never reused, nominate a fresh one."""

    error_name = "KeyAlreadyUsed"
    contract = "OfficeRegistry"


class NoCodeAt(ContractError):
    """OfficeRegistry: The successor must be a deployed contract (freeze)."""

    error_name = "NoCodeAt"
    contract = "OfficeRegistry"


class NominationChainTooLong(ContractError):
    """OfficeRegistry: Too many key-made nominations in a row: ask governance (replace-signers)."""

    error_name = "NominationChainTooLong"
    contract = "OfficeRegistry"


class NotProposer(ContractError):
    """OfficeRegistry: Only the proposing office withdraws its proposal (others: propose cancel)."""

    error_name = "NotProposer"
    contract = "OfficeRegistry"


class OfficeConsentMissing(ContractError):
    """OfficeRegistry: Re-keying or marking a key of an active office needs its own approval."""

    error_name = "OfficeConsentMissing"
    contract = "OfficeRegistry"


class FrozenRegistryConsentMissing(ContractError):
    """OfficeRegistry: In a frozen registry re-keying or marking a key of an office needs its own approval."""

    error_name = "FrozenRegistryConsentMissing"
    contract = "OfficeRegistry"


class MarkBeforeDeactivation(ContractError):
    """OfficeRegistry: Without the office's approval a mark must start after the office stopped being active."""

    error_name = "MarkBeforeDeactivation"
    contract = "OfficeRegistry"


class ProposalIsCancelled(ContractError):
    """OfficeRegistry: The proposal was cancelled."""

    error_name = "ProposalIsCancelled"
    contract = "OfficeRegistry"


class ProposerNotActive(ContractError):
    """OfficeRegistry: The proposing office is no longer active since it proposed: propose again."""

    error_name = "ProposerNotActive"
    contract = "OfficeRegistry"


class TooManySigners(ContractError):
    """OfficeRegistry: The office has the most signers and pending nominations allowed: remove or cancel one first."""

    error_name = "TooManySigners"
    contract = "OfficeRegistry"


#: Every custom error class by its Solidity name.
BY_NAME: dict[str, type[ContractError]] = {cls.error_name: cls for cls in ContractError.__subclasses__()}


# ---------------------------------------------------------------------------- decoding


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table = {}
    for name in ("OfficeRegistry", "AnchorRegistry"):
        for item in artifact(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                table[selector] = (item["name"], types, [i["name"] for i in item["inputs"]])
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        if len(value) == 2:
            return value.decode("ascii", "replace") if any(value) else "none"
        return "0x" + value.hex()
    return str(value)


def _decode(data: Any) -> tuple[str, str | None, dict[str, Any]]:
    """(message, custom error name or None, decoded values by field name)."""
    if isinstance(data, str):
        raw = bytes.fromhex(data.removeprefix("0x")) if data.startswith("0x") else b""
    elif isinstance(data, bytes):
        raw = data
    else:
        raw = b""
    if len(raw) >= 4 and raw[:4] in _error_table():
        name, types, names = _error_table()[raw[:4]]
        try:
            values = abi_decode(types, raw[4:])
        except Exception:
            return name, name, {}
        message = f"{name}({', '.join(f'{n}={_fmt(v)}' for n, v in zip(names, values, strict=True))})"
        by_name = {
            n: to_checksum_address(v) if t == "address" else v for n, t, v in zip(names, types, values, strict=True)
        }
        return message, name, by_name
    return (str(data) if data else "reverted without reason"), None, {}


def revert_error(prefix: str, data: Any) -> ContractRevertError:
    """The typed error (one of the classes above) for revert ``data``, its message after ``prefix``."""
    message, name, values = _decode(data)
    cls = BY_NAME.get(name or "")
    if cls is None:
        return ContractRevertError(f"{prefix}{message}")
    words = (cls.__doc__ or "").split(": ", 1)[-1].strip()
    return cls(f"{prefix}{message}: {words}" if words else f"{prefix}{message}", values)


def tester_revert_data(exc: BaseException) -> bytes:
    """The raw revert payload the in-process EVM attaches to a failed call."""
    seen: BaseException | None = exc
    while seen is not None:
        for arg in seen.args:
            if isinstance(arg, bytes):
                return arg
        seen = seen.__context__
    return b""
