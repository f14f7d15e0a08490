"""Exporting the chain archive from a live node: what a proof needs if the chain stops (``ipreg archive export``).

Reads, for the deployment's registry, every header from the deployment block to a head (``latest`` less
``confirmations`` - 1), the receipts of every block whose ``logsBloom`` admits one of the two contracts,
and the contracts' account proofs and code at the head (``eth_getProof``; a node without it gives none,
and the archive says so). Headers are read in JSON-RPC batches where the transport allows. The file is
written atomically; it is checked with :func:`registry.archive.format.check_archive` before it is written,
so an export never leaves an archive that does not prove itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from eth_hash.auto import keccak

from registry.archive.format import (
    FORMAT,
    HEADER_FIELDS,
    INTEGER_FIELDS,
    ProvenChain,
    bloom_admits,
    check_archive,
    header_rlp,
)
from registry.chain.client import Chain
from registry.errors import ChainError, ConfigError
from registry.files.atomic import write_atomic

#: Headers asked for per JSON-RPC batch.
BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class Exported:
    """What an export wrote: the proven view of the archive and its size."""

    path: Path
    proven: ProvenChain
    size: int
    headers: int
    receipt_blocks: int


def _hex(value: Any) -> Any:
    """A web3 value as JSON-RPC spells it (bytes as 0x-hex, integers as 0x-quantities)."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, Mapping):
        return {str(k): _hex(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_hex(v) for v in value]
    return value


def _bloom(value: Any) -> str:
    """A logs bloom as 256 bytes of hex (the in-process EVM gives it shortened)."""
    return "0x" + (value.to_bytes(256, "big") if isinstance(value, int) else bytes(value).rjust(256, b"\0")).hex()


def _header(block: Mapping[str, Any]) -> dict[str, Any]:
    body = {**_hex(block), "logsBloom": _bloom(block["logsBloom"])}
    out = {name: body[name] for name in (*HEADER_FIELDS, "hash") if body.get(name) is not None}
    for name in ("miner",):
        out[name] = str(out[name]).lower()
    return out


def _receipt(receipt: Mapping[str, Any]) -> dict[str, Any]:
    body = _hex(receipt)
    return {
        "type": body.get("type", "0x0"),
        "status": body["status"],
        "cumulativeGasUsed": body["cumulativeGasUsed"],
        "logs": [
            {"address": str(log["address"]).lower(), "topics": log["topics"], "data": log["data"]}
            for log in body["logs"]
        ],
        "transactionHash": body.get("transactionHash"),
    }


def _embedded_header(chain: Chain, number: int) -> dict[str, Any]:
    """A header of the in-process EVM, read from py-evm itself (its JSON-RPC view pads ``extraData``)."""
    import rlp

    header = chain.w3.provider.ethereum_tester.backend.chain.get_canonical_block_header_by_number(number)  # type: ignore[attr-defined]
    fields = rlp.decode(rlp.encode(header))
    out: dict[str, Any] = {}
    for name, raw in zip(HEADER_FIELDS, fields, strict=False):
        value = bytes(raw)
        out[name] = hex(int.from_bytes(value, "big")) if name in INTEGER_FIELDS else "0x" + value.hex()
    out["hash"] = "0x" + bytes(header.hash).hex()
    return out


def _blocks(chain: Chain, first: int, last: int) -> list[dict[str, Any]]:
    """Headers ``first..last``, in batches where the provider supports them."""
    w3 = chain.w3
    if hasattr(w3.provider, "ethereum_tester"):
        return [_embedded_header(chain, n) for n in range(first, last + 1)]
    out: list[dict[str, Any]] = []
    lo = first
    while lo <= last:
        hi = min(last, lo + BATCH - 1)
        got: list[Any]
        try:
            with w3.batch_requests() as batch:
                for n in range(lo, hi + 1):
                    batch.add(w3.eth.get_block(n))
                got = chain.rpc(batch.execute)
        except Exception:  # a provider without batches (the in-process EVM): one request per block
            got = [chain.rpc(partial(w3.eth.get_block, n)) for n in range(lo, hi + 1)]
        out.extend(_header(b) for b in got)
        lo = hi + 1
    return out


def _receipts(chain: Chain, number: int) -> list[dict[str, Any]]:
    w3: Any = chain.w3
    try:
        got = chain.rpc(lambda: w3.eth.get_block_receipts(number))
    except Exception:  # a node without eth_getBlockReceipts: one request per transaction
        block = chain.rpc(lambda: w3.eth.get_block(number))
        got = [chain.rpc(partial(w3.eth.get_transaction_receipt, t)) for t in block["transactions"]]
    return [_receipt(r) for r in sorted(got, key=lambda r: int(r["transactionIndex"]))]


def _accounts(chain: Chain, addresses: list[str], head: int) -> dict[str, Any] | None:
    w3: Any = chain.w3
    out: dict[str, Any] = {}
    for address in addresses:
        checksummed = w3.to_checksum_address(address)
        try:
            proof = chain.rpc(partial(w3.eth.get_proof, checksummed, [], head))
        except Exception:  # eth_getProof is optional (the in-process EVM has none): the archive says so
            return None
        code = chain.rpc(partial(w3.eth.get_code, checksummed, head))
        out[address] = {"accountProof": _hex(list(proof["accountProof"])), "code": "0x" + bytes(code).hex()}
    return out


def _raw(header: dict[str, Any]) -> str:
    """A header as ``0x`` + its RLP, after checking that it hashes to the hash the node named."""
    raw = header_rlp(header)
    if "0x" + keccak(raw).hex() != str(header.get("hash", "")).lower():
        raise ChainError(
            f"block {int(header['number'], 16)}: the node's header fields do not hash to its block hash"
            " (a header layout this exporter does not know, e.g. QBFT's seals in extraData)"
        )
    return "0x" + raw.hex()


def build_archive(chain: Chain, confirmations: int = 1) -> dict[str, Any]:
    """The archive body for ``chain``'s deployment, up to ``latest - confirmations + 1``."""
    dep = chain.deployment
    if dep is None:
        raise ConfigError("no deployment to export: run `ipreg deploy` or give the registry address")
    latest = int(chain.rpc(lambda: chain.w3.eth.block_number))
    head = latest - max(1, confirmations) + 1
    if head < dep.block_number:
        raise ChainError(f"the head (block {head}) is below the deployment block {dep.block_number}")
    wanted = [dep.anchor_registry.lower(), dep.office_registry.lower()]
    headers = _blocks(chain, dep.block_number, head)
    receipts = {
        str(int(h["number"], 16)): _receipts(chain, int(h["number"], 16))
        for h in headers
        if bloom_admits(h["logsBloom"], wanted)
    }
    accounts = _accounts(chain, wanted, head)
    body: dict[str, Any] = {
        "format": FORMAT,
        "chainId": dep.chain_id,
        "anchorRegistry": wanted[0],
        "officeRegistry": wanted[1],
        "deploymentBlock": dep.block_number,
        "head": {"number": head, "hash": str(headers[-1]["hash"]).lower()},
        "witness": (
            "compare head.hash with a second source (another node, a newspaper, a notary's record, the"
            " consortium's published checkpoints): the archive proves everything up to its head, not the head"
        ),
        "headers": [_raw(h) for h in headers],
        "receipts": receipts,
    }
    if accounts is not None:
        body["accounts"] = accounts
    return body


def export_archive(chain: Chain, out: Path, confirmations: int = 1) -> Exported:
    """Build, check and atomically write the archive of ``chain``'s deployment to ``out``."""
    body = build_archive(chain, confirmations)
    proven = check_archive(body)  # never write an archive that does not prove itself
    data = (json.dumps(body, separators=(",", ":")) + "\n").encode("utf-8")
    write_atomic(out, data)
    return Exported(out, proven, len(data), len(body["headers"]), len(body["receipts"]))
