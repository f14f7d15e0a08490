"""An ape script: deploy both registry contracts and anchor one batch (``ape run``, not plain python).

    local-chain/node_modules/.bin/anvil --chain-id 1337 --hardfork prague --port 8545 &
    scripts/ape run ape_anchor --network ethereum:local:node

Uses the node's first unlocked dev accounts (anvil's): account 0 deploys, 1..3 are genesis offices
EP, US and JP (a strict majority of active offices); prints the addresses, the batch and its gas.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    """Deploy, anchor a batch of two records, verify one of them on chain."""
    from ape import accounts, chain, project
    from eth_abi import encode
    from eth_utils import keccak

    test = accounts.test_accounts
    codes = [b"EP", b"US", b"JP"]

    def values(record_id: str) -> bytes:
        fields = [record_id, keccak(record_id.encode()), "raw", b"\x00" * 32]
        return bytes(encode(["string", "bytes32", "string", "bytes32"], fields))

    def leaf(record_id: str) -> bytes:
        return bytes(keccak(keccak(values(record_id))))

    deployer: Any = test[0]
    offices = deployer.deploy(
        project.OfficeRegistry, codes, ["EPO", "USPTO", "JPO"], ["https://e/", "https://u/", "https://j/"],
        [test[1], test[2], test[3]], (1, 2, 2, 50_400),
    )  # fmt: skip
    anchors = deployer.deploy(project.AnchorRegistry, offices, "0x" + "00" * 20)
    a, b = leaf("EP:4000001:B1"), leaf("EP:4000002:B1")
    root = keccak(min(a, b) + max(a, b))
    receipt = anchors.anchorBatch(root, 2, "https://register.example.org/ipreg/EP/demo.json", sender=test[1])
    print(f"chain {chain.chain_id}: OfficeRegistry {offices.address}, AnchorRegistry {anchors.address}")
    print(f"batch 0x{root.hex()} anchored in block {receipt.block_number}, gas {receipt.gas_used}")
    result = anchors.verifyRecord(b"EP", root, values("EP:4000001:B1"), [b])
    print(f"verifyRecord(EP:4000001:B1): included={result.included} authorised={result.authorised}")
