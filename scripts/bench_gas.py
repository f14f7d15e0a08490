#!/usr/bin/env python3
"""Gas of anchorBatch for real batches of 1, 100 and 10,000 leaves (and more) on anvil, and of every
other operation of the contracts (governance, signers, compromise, revocation, views).

    .venv/bin/python scripts/bench_gas.py
    .venv/bin/python scripts/bench_gas.py --sizes 1,100,10000,100000

The cost of a batch must not grow with its leaf count. For comparison, EAS multiAttest spends
~280,000 gas per attested record.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_merkle import values
from eth_account.signers.local import LocalAccount

from registry.chain.client import Chain, TxResult, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_account, dev_signer
from registry.core import merkle
from registry.core.leaves import LeafValue
from registry.node.anvil import LocalChain, free_port

EAS_GAS_PER_RECORD = 280_000


def main() -> int:
    """Anchor one batch per size and print gas figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,100,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    node = LocalChain(Path(tempfile.mkdtemp(prefix="ipreg-gas-")), free_port())
    node.start()
    try:
        chain = Chain(connect(node.rpc_url))
        deploy_dev(chain)
        account = dev_signer("EP")
        assert account is not None
        print(f"{'leaves':>10} {'gas':>10} {'gas/record':>12} {'vs EAS (280k/record)':>22}")
        all_values = values(max(sizes) + len(sizes))
        for k, size in enumerate(sizes):
            batch = all_values[k : k + size]  # distinct roots
            tree = merkle.MerkleTree.from_leaves([v.leaf() for v in batch])
            manifest = f"https://register.example.org/ipreg/EP/0x{tree.root.hex()}.json"
            result = chain.anchor_batch(account, tree.root, size, manifest)
            ratio = EAS_GAS_PER_RECORD * size / result.gas_used
            print(f"{size:>10,} {result.gas_used:>10,} {result.gas_used / size:>12,.2f} {ratio:>20,.0f}x less")
        print()
        for label, gas in operations(chain, all_values):
            print(f"{label:<46} {gas:>10,}")
    finally:
        node.stop()
    return 0


def operations(chain: Chain, all_values: list[LeafValue]) -> list[tuple[str, int]]:
    """Gas of each state-changing operation (receipts) and of the main views (estimates)."""
    ep, us, jp = (dev_signer(c) for c in ("EP", "US", "JP"))
    assert ep is not None and us is not None and jp is not None
    new, newer = dev_account(6), dev_account(7)
    rows: list[tuple[str, int]] = []

    def note(label: str, result: TxResult) -> None:
        rows.append((label, result.gas_used))

    batch = all_values[-16:]
    tree = merkle.MerkleTree.from_leaves([v.leaf() for v in batch])
    note("anchorBatch (16 leaves)", chain.anchor_batch(ep, tree.root, 16, "https://register.example.org/m.json"))
    note("revokeLeaf (proof of 4 nodes)", chain.revoke_leaf(ep, tree.root, batch[3].encode(), tree.proof(3), 2))
    note("revokeBatch", chain.revoke_batch(ep, tree.root, 1))
    note("addSigner (nominate)", chain.add_signer(ep, new.address))
    note("acceptSigner", chain.accept_signer(new, "EP"))
    note("rotateSigner (nominate)", chain.rotate_signer(ep, new.address, newer.address))
    note("acceptSigner (rotation, removes the old key)", chain.accept_signer(newer, "EP"))
    note("markCompromised (removes the key)", chain.mark_compromised(ep, new.address))
    pid, result = chain.propose(ep, "suspend", "WO")
    note("propose (suspend)", result)
    note("approve", chain.approve(us, pid))
    note("approve (3rd)", chain.approve(jp, pid))
    note("execute (suspend, 3 approvals counted)", chain.execute(ep, pid))
    pid, result = chain.propose(
        ep, "admit", "KR", name="Korean IP Office", base_uri="https://kipo/", signer=new.address
    )
    note("propose (admit)", result)
    chain.approve(us, pid)
    chain.approve(jp, pid)
    note("execute (admit)", chain.execute(ep, pid))
    note("removeSigner", chain.remove_signer(ep, newer.address))
    fn = chain.anchors.functions.verifyRecord(b"EP", tree.root, batch[5].encode(), tree.proof(5))
    rows.append(("verifyRecord (view, eth_estimateGas)", fn.estimate_gas()))
    view = chain.offices.functions.isAuthorisedAt(b"EP", ep.address, 1)
    rows.append(("isAuthorisedAt (view, key with 1 term)", view.estimate_gas()))
    return rows + recovery(chain, us, jp)


def recovery(chain: Chain, us: LocalAccount, jp: LocalAccount) -> list[tuple[str, int]]:
    """Contracts 3.0.0: governance's retroactive mark and re-keying at the signer cap (8 keys of US)."""
    keys = [dev_account(10 + i) for i in range(7)]
    for key in keys:
        chain.w3.eth.send_transaction({"from": chain.w3.eth.accounts[0], "to": key.address, "value": 10**18})
        chain.add_signer(us, key.address)
        chain.accept_signer(key, "US")
    wo = dev_signer("WO")
    em = dev_signer("EM")
    assert wo is not None and em is not None
    rows: list[tuple[str, int]] = []
    pid, _ = chain.propose(us, "mark-compromised", "US", signer=keys[0].address, from_block=1)
    chain.approve(jp, pid)
    chain.approve(em, pid)
    rows.append(("execute (governance mark-compromised, cascade)", chain.execute(us, pid).gas_used))
    view = chain.offices.functions.isAuthorisedAt(b"US", keys[1].address, 1)
    rows.append(("isAuthorisedAt (view, key nominated by a key)", view.estimate_gas()))
    nominee = dev_account(19)
    pid, _ = chain.propose(us, "replace-signers", "US", nominee=nominee.address)
    chain.approve(jp, pid)
    chain.approve(em, pid)
    rows.append(
        (
            f"execute (replace-signers, {len(chain.offices.functions.signersOf(b'US').call())} keys)",
            chain.execute(us, pid).gas_used,
        )
    )
    pid, _ = chain.propose(jp, "suspend", "EM")
    rows.append(("cancel (by the proposer)", chain.cancel(jp, pid).gas_used))
    return rows


if __name__ == "__main__":
    sys.exit(main())
