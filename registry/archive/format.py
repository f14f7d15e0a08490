"""The chain archive's format and its proof check: headers linked by hash, receipts proven by receiptsRoot.

An archive (``ipreg-chain-archive-v1``, one JSON file) holds every block header from the deployment block to
the export head (as ``0x`` + its RLP: the block hash is its keccak, and each parent link is checked), the
receipts of every block whose ``logsBloom`` admits one of the two registry contracts (all receipts of such a
block, so the block's receipts trie is rebuilt and compared with its ``receiptsRoot``),
and where the node gave them the two contracts' account proofs at the head (code hash under the head's
``stateRoot``) with their runtime code. :func:`check_archive` refuses anything that does not hold with one
:class:`ArchiveError` line; what it returns (:class:`ProvenChain`) holds only proven logs. What it cannot
prove is the head itself: an auditor compares :attr:`ProvenChain.head_hash` with a second source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import rlp
from eth_bloom.bloom import BloomFilter
from eth_hash.auto import keccak
from trie.hexary import HexaryTrie

from registry.errors import InputError

FORMAT: Final = "ipreg-chain-archive-v1"

#: Header fields in RLP order; the first 15 are in every header, the rest from the fork that added them on.
HEADER_FIELDS: Final = (
    "parentHash",
    "sha3Uncles",
    "miner",
    "stateRoot",
    "transactionsRoot",
    "receiptsRoot",
    "logsBloom",
    "difficulty",
    "number",
    "gasLimit",
    "gasUsed",
    "timestamp",
    "extraData",
    "mixHash",
    "nonce",
    "baseFeePerGas",
    "withdrawalsRoot",
    "blobGasUsed",
    "excessBlobGas",
    "parentBeaconBlockRoot",
    "requestsHash",
)
INTEGER_FIELDS: Final = frozenset(
    {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"}
)
_REQUIRED: Final = 15


class ArchiveError(InputError):
    """The archive is malformed or does not prove what it claims (one line naming the problem)."""

    code = "invalidArchive"


@dataclass(frozen=True, slots=True)
class ProvenLog:
    """One log of a registry contract, proven by its block's receiptsRoot."""

    address: str  # lower-case
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: str
    log_index: int
    transaction_index: int
    #: As the exporting node named it: an index into the chain, not proven by the archive.
    transaction_hash: str = ""


@dataclass(frozen=True, slots=True)
class ProvenChain:
    """What a checked archive proves, up to its head (which a second source must confirm)."""

    chain_id: int
    anchor_registry: str
    office_registry: str
    deployment_block: int
    head_number: int
    head_hash: str
    timestamps: Mapping[int, int]
    logs: tuple[ProvenLog, ...]
    #: How the contracts' code was checked (or why it could not be).
    code_check: str
    code_proven: bool
    releases: Mapping[str, str] = field(default_factory=dict)


def _bytes(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ArchiveError(f"archive field {what} is not 0x-hex")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise ArchiveError(f"archive field {what} is not 0x-hex") from None
    if size is not None and len(raw) != size:
        raise ArchiveError(f"archive field {what} is not {size} bytes")
    return raw


def _int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ArchiveError(f"archive field {what} is not a non-negative integer")


def header_rlp(header: Mapping[str, Any]) -> bytes:
    """The RLP encoding of a header given as JSON-RPC fields (its keccak is the block hash)."""
    items: list[Any] = []
    for i, name in enumerate(HEADER_FIELDS):
        if name not in header or header[name] is None:
            if i < _REQUIRED:
                raise ArchiveError(f"header field {name} missing")
            if any(header.get(later) is not None for later in HEADER_FIELDS[i + 1 :]):
                raise ArchiveError(f"header field {name} missing before a later field")
            break
        value = header[name]
        items.append(_int(value, name) if name in INTEGER_FIELDS else _bytes(value, name))
    return bytes(rlp.encode(items))


def header_hash(header: Mapping[str, Any]) -> str:
    """``0x`` + the keccak of :func:`header_rlp`."""
    return "0x" + keccak(header_rlp(header)).hex()


def header_fields(raw_hex: Any, position: int) -> tuple[dict[str, str], str]:
    """(the JSON-RPC fields, the block hash) of a header stored as ``0x`` + its RLP (the hash is its keccak)."""
    raw = _bytes(raw_hex, f"header {position}")
    try:
        items = rlp.decode(raw)
    except Exception:  # the rlp library raises its own types for malformed input
        raise ArchiveError(f"header {position} is not RLP") from None
    if not isinstance(items, list) or not _REQUIRED <= len(items) <= len(HEADER_FIELDS):
        raise ArchiveError(f"header {position} does not have the fields of a block header")
    out: dict[str, str] = {}
    for name, item in zip(HEADER_FIELDS, items, strict=False):
        if not isinstance(item, bytes):
            raise ArchiveError(f"header {position}: field {name} is not a byte string")
        out[name] = hex(int.from_bytes(item, "big")) if name in INTEGER_FIELDS else "0x" + item.hex()
    return out, "0x" + keccak(raw).hex()


def receipt_bytes(receipt: Mapping[str, Any]) -> bytes:
    """A receipt's consensus encoding (EIP-2718: a type byte before the RLP list for typed transactions); its bloom
    is computed from its logs."""
    status = _int(receipt.get("status"), "receipt status")
    logs: list[tuple[bytes, list[bytes], bytes]] = [
        (
            _bytes(log.get("address"), "log address", 20),
            [_bytes(t, "log topic", 32) for t in log.get("topics", [])],
            _bytes(log.get("data"), "log data"),
        )
        for log in receipt.get("logs", [])
    ]
    bloom = BloomFilter()
    for address, topics, _data in logs:
        bloom.add(address)
        for topic in topics:
            bloom.add(topic)
    body = rlp.encode(
        [status, _int(receipt.get("cumulativeGasUsed"), "cumulativeGasUsed"), int(bloom).to_bytes(256, "big"), logs]
    )
    kind = _int(receipt.get("type", 0), "receipt type")
    return bytes(body) if kind == 0 else bytes([kind]) + bytes(body)


def receipts_root(receipts: Sequence[Mapping[str, Any]]) -> str:
    """The root of the receipts trie of a block's receipts, in transaction order."""
    t = HexaryTrie({})
    for i, receipt in enumerate(receipts):
        t[rlp.encode(i)] = receipt_bytes(receipt)
    return "0x" + bytes(t.root_hash).hex()


def bloom_admits(logs_bloom: str, addresses: Sequence[str]) -> bool:
    """Whether a header's ``logsBloom`` may hold a log of one of ``addresses`` (false positives possible)."""
    bloom = BloomFilter(int.from_bytes(_bytes(logs_bloom, "logsBloom", 256), "big"))
    return any(bytes.fromhex(a[2:]) in bloom for a in addresses)


def _account(state_root: str, address: str, proof: Sequence[str]) -> tuple[bytes, bytes]:
    """(storage root, code hash) of ``address`` proven under ``state_root`` by an ``eth_getProof`` account proof."""
    try:
        nodes = [rlp.decode(_bytes(p, "account proof node")) for p in proof]
        raw = HexaryTrie.get_from_proof(  # type: ignore[no-untyped-call]
            _bytes(state_root, "stateRoot", 32), keccak(bytes.fromhex(address[2:])), nodes
        )
    except Exception:  # the trie library raises its own types for a proof that does not lead to the root
        raise ArchiveError(f"the account proof of {address} does not lead to the head's stateRoot") from None
    if not raw:
        raise ArchiveError(f"the account proof of {address} shows no account at the head")
    _nonce, _balance, storage_root, code_hash = rlp.decode(raw)
    return bytes(storage_root), bytes(code_hash)


def _code(
    body: Mapping[str, Any], head: Mapping[str, Any], anchor: str, office: str
) -> tuple[str, bool, dict[str, str]]:
    """Check the contracts' code at the head: proven by account proofs, a shipped release, the office link."""
    from registry.chain.artifacts import artifact, matching_release

    accounts = body.get("accounts")
    if not accounts:
        return "no account proofs in the archive (the node gave none): the contracts' code is not proven", False, {}
    releases: dict[str, str] = {}
    for name, address in (("AnchorRegistry", anchor), ("OfficeRegistry", office)):
        entry = accounts.get(address) if isinstance(accounts, Mapping) else None
        if not isinstance(entry, Mapping):
            raise ArchiveError(f"no account proof for the {name} {address}")
        _storage, code_hash = _account(head["stateRoot"], address, entry.get("accountProof") or [])
        code = _bytes(entry.get("code"), f"code of {address}")
        if keccak(code) != code_hash:
            raise ArchiveError(f"the code of the {name} {address} does not hash to its proven code hash")
        release = matching_release(name, code)
        if release is None:
            raise ArchiveError(f"the code at {address} is no released {name}")
        releases[name] = release
        if name == "AnchorRegistry":
            refs = artifact("AnchorRegistry")["immutableReferences"]
            linked = {code[int(r["start"]) : int(r["start"]) + 32][12:].hex() for rs in refs.values() for r in rs}
            if office[2:] not in linked:
                raise ArchiveError(f"the AnchorRegistry {anchor} does not name the OfficeRegistry {office}")
    detail = (
        f"code of both contracts proven under the head's stateRoot: AnchorRegistry {releases['AnchorRegistry']},"
        f" OfficeRegistry {releases['OfficeRegistry']}, linked"
    )
    return detail, True, releases


def check_archive(body: Any) -> ProvenChain:
    """Check an archive's proofs (headers, parent links, bloom coverage, receipts roots, code); ArchiveError if any
    fails. Returns only what is proven: the registry contracts' logs and the blocks' times."""
    if not isinstance(body, Mapping) or body.get("format") != FORMAT:
        raise ArchiveError(f"not a chain archive (format {FORMAT} expected)")
    try:
        from registry.core.address import checksum_address

        anchor = checksum_address(str(body["anchorRegistry"])).lower()
        office = checksum_address(str(body["officeRegistry"])).lower()
    except Exception:
        raise ArchiveError("the archive names no valid registry addresses") from None
    chain_id = _int(body.get("chainId"), "chainId")
    start = _int(body.get("deploymentBlock"), "deploymentBlock")
    headers = body.get("headers")
    receipts = body.get("receipts")
    claimed = body.get("head")
    if not isinstance(headers, list) or not headers or not isinstance(receipts, Mapping):
        raise ArchiveError("the archive holds no headers or no receipts table")
    if not isinstance(claimed, Mapping):
        raise ArchiveError("the archive names no head")
    previous: str | None = None
    times: dict[int, int] = {}
    logs: list[ProvenLog] = []
    wanted = ("0x" + anchor[2:], "0x" + office[2:])
    header: dict[str, str] = {}
    for position, raw in enumerate(headers):
        header, computed = header_fields(raw, position)
        number = _int(header.get("number"), "number")
        if number != start + position:
            raise ArchiveError(f"header {position} is block {number}, expected {start + position}")
        if previous is not None and str(header["parentHash"]).lower() != previous:
            raise ArchiveError(f"block {number} does not link to block {number - 1} (parentHash differs)")
        previous = computed
        times[number] = _int(header.get("timestamp"), "timestamp")
        block = receipts.get(str(number))
        if block is None:
            if bloom_admits(str(header["logsBloom"]), wanted):
                raise ArchiveError(f"block {number} may hold registry logs (logsBloom) but its receipts are missing")
            continue
        if not isinstance(block, list):
            raise ArchiveError(f"the receipts of block {number} are not a list")
        if receipts_root(block) != str(header["receiptsRoot"]).lower():
            raise ArchiveError(f"block {number}: its receipts do not rebuild the header's receiptsRoot")
        index = 0
        for tx_index, receipt in enumerate(block):
            for log in receipt.get("logs", []):
                address = str(log["address"]).lower()
                if address in wanted:
                    topics = tuple(bytes.fromhex(str(t)[2:]) for t in log.get("topics", []))
                    data = bytes.fromhex(str(log.get("data", "0x"))[2:])
                    tx_hash = str(receipt.get("transactionHash") or "")
                    logs.append(ProvenLog(address, topics, data, number, computed, index, tx_index, tx_hash))
                index += 1
    assert previous is not None
    head_number = start + len(headers) - 1
    if _int(claimed.get("number"), "head number") != head_number or str(claimed.get("hash", "")).lower() != previous:
        raise ArchiveError(f"the archive's head does not match its last header (block {head_number}, {previous})")
    extra = set(receipts) - {str(n) for n in times}
    if extra:
        raise ArchiveError(f"receipts of block(s) outside the archive's headers: {sorted(extra)[:3]}")
    detail, proven, releases = _code(body, header, anchor, office)
    return ProvenChain(
        chain_id, anchor, office, start, head_number, previous, times, tuple(logs), detail, proven, releases
    )
