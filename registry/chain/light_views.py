"""The OfficeRegistry's views over plain JSON-RPC (no web3): the read-only commands' reader.

``ipreg office list / signers / proposals`` and ``ipreg index status`` in a home whose node is an
http(s) URL read through :class:`LightViews`: calls encoded and results decoded by :mod:`registry.chain.abi`
from the shipped ABI, all at one block (the :class:`registry.chain.light.LightReader`'s state block), and
returned as web3 returns them, so :mod:`registry.chain.views` decodes them for both readers alike.
:func:`open_views` picks the reader of a home: this one for http(s) nodes, the web3 client for the
in-process EVM (``embedded``), which needs eth-tester.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from registry.chain import abi
from registry.chain.artifacts import artifact
from registry.chain.light import LightReader
from registry.chain.views import OfficeViews, check_deployment
from registry.core.address import checksum_address
from registry.errors import ChainError

if TYPE_CHECKING:
    from registry.chain.deployments import Deployment
    from registry.config import Settings

__all__ = ["LightViews", "open_views"]


@cache
def _abi(contract: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = artifact(contract)["abi"]
    return body


class LightViews:
    """:class:`registry.chain.views.OfficeViews` of one deployment over JSON-RPC, every read at one block."""

    def __init__(self, reader: LightReader, deployment: Deployment) -> None:
        """Reads through ``reader`` (its node, retries and state block) the OfficeRegistry of ``deployment``."""
        self.reader = reader
        self.deployment = deployment
        self.office_registry = checksum_address(deployment.office_registry)

    @classmethod
    def open(cls, rpc_url: str, deployment: Deployment, retries: int = 5) -> LightViews:
        """Bound to ``deployment`` after checking the node serves its chain and holds its AnchorRegistry."""
        reader = LightReader(rpc_url, deployment.anchor_registry, retries, probe=False)
        chain_id = int(str(reader.request("eth_chainId", [])), 16)
        check_deployment(
            deployment,
            chain_id,
            lambda: reader.request("eth_getCode", [reader.anchor_registry, "latest"]) not in (None, "0x", ""),
        )
        return cls(reader, deployment)

    def office_view(self, fn: str, *args: Any) -> Any:
        """The OfficeRegistry's view ``fn(*args)`` at the state block, as web3 returns it."""
        entry = abi.function_entry(_abi("OfficeRegistry"), fn)
        data = abi.selector(entry) + abi.encode([abi.type_of(p) for p in entry["inputs"]], args)
        out = abi.decode([abi.type_of(p) for p in entry["outputs"]], self.reader.call(self.office_registry, data))
        return out[0] if len(out) == 1 else out

    def office_events(self, event: str, office: str, from_block: int) -> list[dict[str, Any]]:
        """The arguments of the OfficeRegistry's ``event`` logs about ``office`` from ``from_block`` to the state
        block (one ``eth_getLogs``), in chain order."""
        entry = abi.function_entry(_abi("OfficeRegistry"), event, "event")
        to_block = self.reader.state_block()
        if from_block > to_block:
            return []
        position = [p["name"] for p in entry["inputs"] if p.get("indexed")].index("office")
        topics: list[str | None] = [abi.event_topic(entry), *[None] * position]
        topics.append("0x" + office.encode("ascii").ljust(32, b"\0").hex())
        query = {
            "address": self.office_registry,
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "topics": topics,
        }
        logs = self.reader.request("eth_getLogs", [query])
        if not isinstance(logs, list):
            raise ChainError("malformed eth_getLogs result")
        out = []
        for log in logs:
            if not isinstance(log, dict) or log.get("removed"):
                continue
            try:
                out.append(abi.decode_log(entry, [str(t) for t in log["topics"]], str(log["data"])))
            except (KeyError, TypeError, ValueError):
                raise ChainError(f"malformed {event} log") from None
        return out

    def block_number(self) -> int:
        """The state block: every read answers for it."""
        return self.reader.state_block()


def open_views(s: Settings, registry: str | None = None) -> OfficeViews:
    """The reader of the home's deployment, or of the AnchorRegistry at ``registry`` alone (an auditor's case,
    bound as :meth:`registry.chain.client.Chain.for_registry` binds it): :class:`LightViews` for an http(s) node
    (no web3 imported), the web3 client otherwise (the in-process EVM)."""
    from registry.chain.deployments import Deployment

    if s.rpc_url.startswith(("http://", "https://")):
        if registry is None:
            return LightViews.open(s.rpc_url, Deployment.load(s.deployment_file), s.rpc_retries)
        reader = LightReader(s.rpc_url, registry, s.rpc_retries)  # ConfigError unless an AnchorRegistry is there
        bound = Deployment(reader.chain_id(), reader.office_registry, reader.anchor_registry, 0, "external")
        return LightViews(reader, bound)
    from registry.chain.client import Chain, connect

    if registry is not None:
        return Chain.for_registry(connect(s.rpc_url), registry, s.rpc_retries)
    chain = Chain(connect(s.rpc_url), Deployment.load(s.deployment_file), retries=s.rpc_retries)
    chain.check_code()
    return chain
