"""What the OfficeRegistry's views say about offices, keys and proposals: decoded once, for every reader.

A reader is anything with :class:`OfficeViews`: the web3 client (:class:`registry.chain.client.Chain`,
which also serves the in-process EVM) and the plain JSON-RPC one (:class:`registry.chain.light_views.LightViews`,
no web3: the read-only commands' fast start-up). Both return view results as web3 does (one output alone, a
struct as a tuple, addresses checksummed); the functions here turn them into the registry's types, so
``ipreg office list / signers / proposals`` print the same bytes whichever reader answered. Light: no web3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from registry.chain.payloads import ProposalView, SignerInfo, code_str, decode_payload, office_bytes
from registry.core.address import checksum_address
from registry.core.contract import ACTIONS, OFFICE_STATUS, ZERO_ADDRESS
from registry.errors import ConfigError, ContractRevertError

if TYPE_CHECKING:
    from registry.chain.deployments import Deployment

__all__ = [
    "OfficeViews",
    "check_deployment",
    "compromise_mark",
    "compromised_from",
    "office_codes",
    "office_info",
    "proposal",
    "proposals",
    "required_approvals",
    "signers_of",
]


class OfficeViews(Protocol):
    """Reads of the bound OfficeRegistry, results as web3 returns them."""

    @property
    def deployment(self) -> Deployment | None:
        """The deployment read (its block bounds the event searches)."""
        ...

    def office_view(self, fn: str, *args: Any) -> Any:
        """The view ``fn(*args)`` of the OfficeRegistry (``bytes2`` as bytes, addresses checksummed);
        :class:`ContractRevertError` if it reverts."""
        ...

    def office_events(self, event: str, office: str, from_block: int) -> list[dict[str, Any]]:
        """The arguments of the OfficeRegistry's ``event`` logs about ``office`` from ``from_block`` on, in order."""
        ...

    def block_number(self) -> int:
        """The head block the reads answer for."""
        ...


def check_deployment(dep: Deployment, chain_id: int, has_code: Callable[[], bool]) -> None:
    """ConfigError unless the node serves the deployment's chain (``chain_id``) and holds its AnchorRegistry
    (``has_code()``, asked only on the right chain)."""
    if chain_id != dep.chain_id:
        raise ConfigError(f"deployment is for chain {dep.chain_id}, the endpoint serves chain {chain_id}")
    if not has_code():
        raise ConfigError(f"no AnchorRegistry at {dep.anchor_registry} on chain {chain_id}: redeploy or check the node")


# ---------------------------------------------------------------------------- offices


def office_codes(r: OfficeViews) -> list[str]:
    """All registered office codes, in admission order."""
    return [bytes(c).decode("ascii") for c in r.office_view("officeCodes")]


def office_info(r: OfficeViews, office: str) -> tuple[str, str, str]:
    """(name, baseURI, status) of an office."""
    name, uri, status = r.office_view("office", office_bytes(office))
    return str(name), str(uri), OFFICE_STATUS[int(status)]


# ---------------------------------------------------------------------------- keys


def compromised_from(r: OfficeViews, office: str, signer: str) -> int | None:
    """First block from which ``signer`` is marked compromised for ``office``, or None."""
    return int(r.office_view("compromisedFrom", office_bytes(office), checksum_address(signer))) or None


def compromise_mark(r: OfficeViews, office: str, signer: str) -> tuple[int, int, str] | None:
    """The key's own mark: (from block, block in which it was made, key address or "governance"), or None."""
    from_block, at_block, by = r.office_view("compromiseMark", office_bytes(office), checksum_address(signer))
    if not int(from_block):
        return None
    return int(from_block), int(at_block), "governance" if int(str(by), 16) == 0 else str(by)


def signers_of(r: OfficeViews, office: str) -> list[SignerInfo]:
    """Every key that ever signed for (or was nominated by) ``office``, with its terms, marks and nomination."""
    code = office_bytes(office)
    from_block = r.deployment.block_number if r.deployment is not None else 0
    addresses: dict[str, None] = {}
    for name in ("SignerAdded", "SignerNominated"):
        for args in r.office_events(name, office, from_block):
            addresses.setdefault(checksum_address(str(args["signer"])), None)
    current = {checksum_address(str(a)) for a in r.office_view("signersOf", code)}
    out = []
    for address in addresses:
        terms = [(int(t[0]), int(t[1]) or None) for t in r.office_view("signerTerms", code, address)]
        pending, replaces = r.office_view("nomination", code, address)
        mark = compromise_mark(r, office, address)
        out.append(
            SignerInfo(
                address=address,
                current=address in current,
                terms=tuple(terms),
                compromised_from=compromised_from(r, office, address),
                nominated=bool(pending),
                replaces=None if str(replaces) == ZERO_ADDRESS or int(str(replaces), 16) == 0 else str(replaces),
                marked_by=mark[2] if mark else None,
                marked_at=mark[1] if mark else None,
            )
        )
    return out


# ---------------------------------------------------------------------------- governance


def required_approvals(r: OfficeViews) -> int:
    """Approvals a proposal executed now needs."""
    return int(r.office_view("requiredApprovals"))


def proposal(r: OfficeViews, proposal_id: int) -> ProposalView:
    """One proposal with its decoded payload and the approvals that would count now."""
    p = r.office_view("proposal", proposal_id)
    counted = int(r.office_view("countedApprovals", proposal_id))
    action = ACTIONS[int(p[0])]
    try:
        cancelled = bool(r.office_view("proposalCancelled", proposal_id))
    except ContractRevertError:  # a 2.0.0 registry (no cancellation)
        cancelled = False
    return ProposalView(
        id=proposal_id,
        action=action,
        office=code_str(p[1]),
        proposer=code_str(p[2]),
        executed=bool(p[3]),
        created_block=int(p[4]),
        expires_block=int(p[5]),
        payload_hash="0x" + bytes(p[6]).hex(),
        payload=decode_payload(action, bytes(p[7])),
        approvers=tuple(code_str(c) for c in p[8]),
        counted_approvals=counted,
        cancelled=cancelled,
    )


def proposals(r: OfficeViews) -> list[ProposalView]:
    """Every proposal, oldest first."""
    return [proposal(r, i) for i in range(int(r.office_view("proposalCount")))]
