"""An office's keys as the OfficeRegistry records them: terms, compromise marks with their authors, nominations.

Addresses come from the ``SignerAdded`` / ``SignerNominated`` events since the deployment block; terms,
marks and nominations from the contract's views (``signerTerms``, ``compromisedFrom``, ``compromiseMark``,
``nomination``). ``Chain.signers`` and ``Chain.compromise_mark`` delegate here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from web3 import Web3

from registry.chain.payloads import SignerInfo, office_bytes
from registry.core.contract import ZERO_ADDRESS

if TYPE_CHECKING:
    from registry.chain.client import Chain


def compromise_mark(chain: Chain, office: str, signer: str) -> tuple[int, int, str] | None:
    """The key's own mark: (from block, block in which it was made, key address or "governance"), or None."""
    fn = chain.offices.functions.compromiseMark(office_bytes(office), Web3.to_checksum_address(signer))
    from_block, at_block, by = chain.call(fn)
    if not int(from_block):
        return None
    return int(from_block), int(at_block), "governance" if int(str(by), 16) == 0 else str(by)


def signers_of(chain: Chain, office: str) -> list[SignerInfo]:
    """Every key that ever signed for (or was nominated by) ``office``, with its terms, marks and nomination."""
    code = office_bytes(office)
    start = chain.deployment.block_number if chain.deployment is not None else 0
    addresses: dict[str, None] = {}
    for name in ("SignerAdded", "SignerNominated"):
        event = getattr(chain.offices.events, name)()

        def fetch(event: Any = event) -> list[Any]:
            return list(event.get_logs(from_block=start, argument_filters={"office": code}))

        for log in chain.rpc(fetch):
            addresses.setdefault(Web3.to_checksum_address(log["args"]["signer"]), None)
    current = {Web3.to_checksum_address(a) for a in chain.call(chain.offices.functions.signersOf(code))}
    out = []
    for address in addresses:
        terms = [(int(t[0]), int(t[1]) or None) for t in chain.call(chain.offices.functions.signerTerms(code, address))]
        pending, replaces = chain.call(chain.offices.functions.nomination(code, address))
        mark = compromise_mark(chain, office, address)
        out.append(
            SignerInfo(
                address=address,
                current=address in current,
                terms=tuple(terms),
                compromised_from=chain.compromised_from(office, address),
                nominated=bool(pending),
                replaces=None if str(replaces) == ZERO_ADDRESS or int(str(replaces), 16) == 0 else str(replaces),
                marked_by=mark[2] if mark else None,
                marked_at=mark[1] if mark else None,
            )
        )
    return out
