"""A light, read-only JSON-RPC reader for verifying a proof bundle: no web3 import.

``ipreg verify FILE --proof BUNDLE`` is run per file by auditors; importing web3 alone costs about
0.6 s of CPU. This module makes the reads a verdict needs (``eth_chainId``, ``eth_blockNumber``,
``AnchorRegistry.verifyRecord``, ``OfficeRegistry.isAuthorisedAt`` and ``compromisedFrom``, the office's
``BatchAnchored`` events for later versions) over plain HTTP with hand-written ABI encoding of their
fixed signatures, all at one block, and implements :class:`registry.verify.readers.ChainReader`.
Tests compare it with the web3 reader on a real node, call for call and verdict for verdict.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, Final

from sha3 import keccak_256

from registry.core.address import checksum_address
from registry.core.batch import AnchoredBatch, BatchInfo
from registry.errors import ChainError, ConfigError, NodeUnavailableError


def _selector(signature: str) -> bytes:
    digest: bytes = keccak_256(signature.encode("ascii")).digest()
    return digest[:4]


_VERIFY_RECORD: Final = _selector("verifyRecord(bytes2,bytes32,bytes,bytes32[])")
_IS_AUTHORISED_AT: Final = _selector("isAuthorisedAt(bytes2,address,uint256)")
_COMPROMISED_FROM: Final = _selector("compromisedFrom(bytes2,address)")
_OFFICES: Final = _selector("offices()")
_PREDECESSOR: Final = _selector("predecessor()")
_SUCCESSOR: Final = _selector("successor()")
_FROZEN_AT: Final = _selector("frozenAt()")
#: Longest chain of registry versions followed either way (as :data:`registry.chain.lineage.MAX_LINKS`).
_MAX_LINKS: Final = 16
_BATCH_ANCHORED: Final = "0x" + keccak_256(b"BatchAnchored(bytes32,bytes2,address,uint32,string)").hexdigest()


def _word(value: int | bytes) -> bytes:
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value.rjust(32, b"\0")


def _bytes32(hex_text: str) -> bytes:
    raw = bytes.fromhex(hex_text.removeprefix("0x"))
    if len(raw) != 32:
        raise ConfigError(f"not a 32-byte value: {hex_text[:80]!r}")
    return raw


def _office(office: str) -> bytes:
    code = office.encode("ascii")
    if len(code) != 2:
        raise ConfigError(f"not an office code: {office!r}")
    return code


#: The batch ``verifyRecord`` returns: the same type as the web3 path's.
LightBatch = BatchInfo


class LightReader:
    """:class:`registry.verify.readers.ChainReader` over plain JSON-RPC, bound to one AnchorRegistry."""

    def __init__(
        self, rpc_url: str, anchor_registry: str, retries: int = 5, timeout: float = 30.0, probe: bool = True
    ) -> None:
        """Bound to ``anchor_registry`` at ``rpc_url``; ``probe`` checks it is an AnchorRegistry now (else at
        the first read, so that an offline answer such as MISMATCH needs no node)."""
        if not rpc_url.startswith(("http://", "https://")):
            raise ConfigError(f"unsupported RPC URL {rpc_url!r} (expected http(s)://…)")
        self.rpc_url = rpc_url
        self.retries = retries
        self.timeout = timeout
        self.anchor_registry = checksum_address(anchor_registry)
        self._chain_id: int | None = None
        self._block: int | None = None
        self._request_id = 0
        self._office_registry: str | None = None
        if probe:
            self._probe()

    def _probe(self) -> str:
        """The OfficeRegistry of the bound AnchorRegistry (ConfigError if there is none at that address)."""
        if self._office_registry is None:
            address = self.anchor_registry
            if self._request("eth_getCode", [address, "latest"]) in (None, "0x", ""):
                raise ConfigError(f"no contract at {address} on this chain")
            try:
                out = self._call(address, _OFFICES, "latest")
            except ChainError:
                raise ConfigError(f"{address} is not an AnchorRegistry") from None
            if len(out) != 32:
                raise ConfigError(f"{address} is not an AnchorRegistry")
            self._office_registry = checksum_address("0x" + out[12:].hex())
        return self._office_registry

    @property
    def office_registry(self) -> str:
        """The OfficeRegistry the AnchorRegistry names."""
        return self._probe()

    def _request(self, method: str, params: list[Any]) -> Any:
        self._request_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._request_id, "method": method, "params": params}).encode()
        delay = 0.2
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.rpc_url, body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    reply = json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if attempt == self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise NodeUnavailableError(
                        f"chain node not reachable at {self.rpc_url}: {type(reason).__name__}"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except ValueError:
                raise ChainError(f"the node at {self.rpc_url} answered {method} with no JSON") from None
        if not isinstance(reply, dict):
            raise ChainError(f"malformed JSON-RPC answer to {method}")
        if reply.get("error") is not None:
            error = reply["error"]
            message = error.get("message") if isinstance(error, dict) else error
            if method == "eth_call" and isinstance(error, dict) and "revert" in str(message).lower():
                raise _revert(error)
            raise ChainError(f"{method} failed: {str(message)[:200]}")
        return reply.get("result")

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC request with this reader's retries: its result; NodeUnavailableError if the node does
        not answer, ChainError for an error answer (:class:`ContractRevertError`, decoded, for a reverted call)."""
        return self._request(method, params)

    def call(self, to: str, data: bytes) -> bytes:
        """``eth_call`` of ``data`` to ``to`` at the state block (:meth:`state_block`)."""
        return self._call(to, data)

    @property
    def registry(self) -> str:
        """The AnchorRegistry this reader is bound to."""
        return self.anchor_registry

    def state_block(self) -> int:
        """The latest block at first use; every later call reads the state at this block."""
        if self._block is None:
            self._block = int(str(self._request("eth_blockNumber", [])), 16)
        return self._block

    def _call(self, to: str, data: bytes, at: str | None = None) -> bytes:
        block = at or hex(self.state_block())
        result = self._request("eth_call", [{"to": to, "data": "0x" + data.hex()}, block])
        if not isinstance(result, str) or not result.startswith("0x"):
            raise ChainError("malformed eth_call result")
        return bytes.fromhex(result[2:])

    def chain_id(self) -> int:
        """Chain id of the endpoint (asked once, after checking the registry is there)."""
        self._probe()
        if self._chain_id is None:
            self._chain_id = int(str(self._request("eth_chainId", [])), 16)
        return self._chain_id

    def verify_record(
        self, office: str, root: str, proof: Sequence[str], values: bytes
    ) -> tuple[bool, LightBatch | None, int]:
        """``AnchorRegistry.verifyRecord(office, root, values, proof)``: (included, batch or None, leaf revocation)."""
        elements = [_bytes32(p) for p in proof]
        padded = values + b"\0" * (-len(values) % 32)
        data = (
            _VERIFY_RECORD
            + _office(office).ljust(32, b"\0")
            + _bytes32(root)
            + _word(4 * 32)  # offset of the dynamic values
            + _word(4 * 32 + 32 + len(padded))  # offset of the dynamic proof array
            + _word(len(values))
            + padded
            + _word(len(elements))
            + b"".join(elements)
        )
        self._probe()
        out = self._call(self.anchor_registry, data)
        if len(out) != 10 * 32:
            raise ChainError(f"unexpected verifyRecord answer of {len(out)} bytes")
        words = [out[i : i + 32] for i in range(0, len(out), 32)]
        number = int.from_bytes(words[4], "big")
        batch = None
        if number != 0:
            batch = LightBatch(
                root.lower(),
                words[1][:2].decode("ascii"),
                checksum_address("0x" + words[2][12:].hex()),
                int.from_bytes(words[3], "big"),
                number,
                int.from_bytes(words[5], "big"),
                int.from_bytes(words[6], "big"),
            )
        return int.from_bytes(words[0], "big") != 0, batch, int.from_bytes(words[7], "big")

    def is_authorised_at(self, office: str, signer: str, block_number: int) -> bool:
        """``OfficeRegistry.isAuthorisedAt(office, signer, block)``: a signer then, and not marked compromised."""
        data = (
            _IS_AUTHORISED_AT
            + _office(office).ljust(32, b"\0")
            + _word(bytes.fromhex(checksum_address(signer)[2:]))
            + _word(block_number)
        )
        out = self._call(self.office_registry, data)
        if len(out) != 32:
            raise ChainError(f"unexpected isAuthorisedAt answer of {len(out)} bytes")
        return int.from_bytes(out, "big") != 0

    def compromised_from(self, office: str, signer: str) -> int | None:
        """``OfficeRegistry.compromisedFrom(office, signer)``: the marked block, or None."""
        data = _COMPROMISED_FROM + _office(office).ljust(32, b"\0") + _word(bytes.fromhex(checksum_address(signer)[2:]))
        out = self._call(self.office_registry, data)
        if len(out) != 32:
            raise ChainError(f"unexpected compromisedFrom answer of {len(out)} bytes")
        return int.from_bytes(out, "big") or None

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """``office``'s ``BatchAnchored`` events from ``from_block`` to the state block (one ``eth_getLogs``)."""
        to_block = self.state_block()
        if from_block > to_block:
            return []
        topic = "0x" + _office(office).ljust(32, b"\0").hex()
        logs = self._request(
            "eth_getLogs",
            [
                {
                    "address": self.anchor_registry,
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                    "topics": [_BATCH_ANCHORED, None, topic],
                }
            ],
        )
        if not isinstance(logs, list):
            raise ChainError("malformed eth_getLogs result")
        out = [_anchored(log) for log in logs if isinstance(log, dict) and not log.get("removed")]
        return sorted(out, key=lambda b: b.block_number)

    def related(self, registry: str) -> LightReader | None:
        """A light reader of ``registry`` at this block if it is a confirmed predecessor or successor (both ends
        name each other, as :func:`registry.chain.lineage.lineage` requires), else None."""
        target = registry.lower()
        for step in (self._predecessor, self._successor):
            current: LightReader | None = self
            for _ in range(_MAX_LINKS):
                current = step(current) if current is not None else None
                if current is None or current.anchor_registry.lower() == self.anchor_registry.lower():
                    break
                if current.anchor_registry.lower() == target:
                    return current
        return None

    def successor(self) -> LightReader | str | None:
        """The confirmed successor at the state block: this registry frozen (by then) in favour of an
        AnchorRegistry naming it as ``predecessor()``; None if there is none or it does not name this one back;
        why not, if its contracts are not shipped builds (:func:`registry.chain.artifacts.successor_code_problem`).
        A node that does not answer raises (the verdict says what it could not check)."""
        if self._nonzero_word(self.office_registry, _FROZEN_AT) is None:
            return None
        following = self._successor(self, frozen=True)
        if following is None:
            return None
        from registry.chain.artifacts import successor_code_problem

        at = hex(self.state_block())
        codes = [self._request("eth_getCode", [a, at]) for a in (following.anchor_registry, following.office_registry)]
        raw = [bytes.fromhex(str(c)[2:]) if isinstance(c, str) and c.startswith("0x") else b"" for c in codes]
        return successor_code_problem(following.anchor_registry, raw[0], raw[1]) or following

    def _nonzero_word(self, to: str, selector: bytes) -> bytes | None:
        """A view's one-word answer; None if zero or the registry version lacks the view (a node down raises)."""
        try:
            out = self._call(to, selector)
        except NodeUnavailableError:
            raise
        except ChainError:
            return None  # a registry version without the migration interface
        return out if len(out) == 32 and int.from_bytes(out, "big") else None

    def _address(self, to: str, selector: bytes) -> str | None:
        out = self._nonzero_word(to, selector)
        return None if out is None else checksum_address("0x" + out[12:].hex())

    def _bound(self, address: str) -> LightReader | None:
        try:
            other = LightReader(self.rpc_url, address, self.retries, self.timeout)
        except ConfigError:
            return None
        other._block = self.state_block()
        return other

    def _frozen(self) -> bool:
        try:
            out = self._call(self.office_registry, _FROZEN_AT)
        except ChainError:
            return False
        return len(out) == 32 and int.from_bytes(out, "big") != 0

    def _predecessor(self, reader: LightReader) -> LightReader | None:
        claimed = reader._address(reader.anchor_registry, _PREDECESSOR)
        previous = reader._bound(claimed) if claimed is not None else None
        if previous is None or not previous._frozen():
            return None
        named = previous._address(previous.office_registry, _SUCCESSOR)
        return previous if named is not None and named.lower() == reader.anchor_registry.lower() else None

    def _successor(self, reader: LightReader, frozen: bool = False) -> LightReader | None:
        if not frozen and not reader._frozen():
            return None
        named = reader._address(reader.office_registry, _SUCCESSOR)
        following = reader._bound(named) if named is not None else None
        if following is None:
            return None
        back = following._address(following.anchor_registry, _PREDECESSOR)
        return following if back is not None and back.lower() == reader.anchor_registry.lower() else None


def _revert(error: dict[str, Any]) -> ChainError:
    """The typed contract error of a reverted ``eth_call`` (decoded as the web3 client decodes it)."""
    from registry.chain.reverts import revert_error  # eth-abi: imported only when a call reverts

    data = error.get("data")
    if isinstance(data, dict):  # some nodes nest it: {"data": {"data": "0x…"}}
        data = data.get("data")
    return revert_error("call reverted: ", data if isinstance(data, str) else None)


def _anchored(log: dict[str, Any]) -> AnchoredBatch:
    """One ``BatchAnchored`` log: root, office, signer (topics), leaf count and manifest URI (data)."""
    try:
        topics = [bytes.fromhex(str(t)[2:]) for t in log["topics"]]
        data = bytes.fromhex(str(log["data"])[2:])
        length = int.from_bytes(data[64:96], "big")
        if len(topics) != 4 or length > len(data) - 96:
            raise ValueError("short log")
        return AnchoredBatch(
            "0x" + topics[1].hex(),
            topics[2][:2].decode("ascii"),
            checksum_address("0x" + topics[3][12:].hex()),
            int(str(log["blockNumber"]), 16),
            int.from_bytes(data[0:32], "big"),
            data[96 : 96 + length].decode("utf-8", "replace"),
            str(log.get("transactionHash") or ""),
        )
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        raise ChainError("malformed BatchAnchored log") from None
