"""A freeze mid-anchor: governance freezes the registry (in favour of a successor) between two batches of a run.

On the fault chain, a registry of its own and its successor (so the freeze touches no other fault). The
anchoring run stops at the next batch with the contract's refusal; a re-run on the frozen registry says
the same; the same outbox pointed at the successor anchors what is left. Counted exactly once across
both registries; a bundle of the frozen registry verifies before and after, against either.
"""

from __future__ import annotations

from typing import Any

from registry.anchor.checkpoints import HOOKS
from registry.chain.client import Chain
from registry.chain.deploy import deploy
from registry.chain.dev import DEV_OFFICES, dev_account, dev_signer
from registry.chain.genesis import Genesis
from registry.errors import RegistryError
from registry.evaluate import actions
from registry.evaluate.context import Run
from registry.evaluate.faults import once_for
from registry.evaluate.faults_chain import Clock, office, verdict


def freeze_mid_anchor(sub: Run, size: int, seen: set[str]) -> dict[str, Any]:
    """Three batches of WO; the registry is frozen right after the first is anchored."""
    old, new = Chain(sub.chain.w3), Chain(sub.chain.w3)
    deploy(old, dev_account(0), Genesis.dev(), preset="dev")
    assert old.deployment is not None
    deploy(new, dev_account(0), Genesis.dev(), preset="dev", predecessor=old.deployment.anchor_registry)
    assert new.deployment is not None
    voters = [(code, account) for code, _, _ in DEV_OFFICES if (account := dev_signer(code)) is not None]
    o = office(sub, "WO", 3 * size, size, "freeze", seen, chain=old)
    state: dict[str, Any] = {}

    def hook(moment: str) -> None:
        if moment == "after-batch" and "frozenAt" not in state:
            state["verdictBefore"] = verdict(old, o.bundle())
            d = actions.govern(old, "freeze", None, voters, successor=new.deployment.anchor_registry)  # type: ignore[union-attr]
            state["frozenAt"] = d.results[-1].block_number
            state["approvals"] = d.approvals

    HOOKS.append(hook)
    errors: list[str] = []
    try:
        for _ in range(2):  # the run that meets the freeze, and a re-run on the frozen registry
            try:
                o.anchorer.run(o.proofs)
            except RegistryError as exc:
                errors.append(exc.diagnostics())
    finally:
        HOOKS.remove(hook)
    anchored_old = sum(b.leaf_count for b in o.store.batches("WO", "anchored"))
    pending = o.store.pending_count("WO")
    after_freeze = verdict(old, o.bundle())
    clock = Clock()
    o.anchorer.chain = new  # what an office does: point its home at the successor, run again
    rerun = o.anchorer.run(o.proofs)
    recovered = clock()
    remaining = o.bundle(size)
    result = {
        "run": True,
        "office": "WO",
        "records": o.records,
        "batchSize": size,
        "frozenAtBlock": state.get("frozenAt"),
        "approvals": state.get("approvals"),
        "errorsSeen": errors,
        "anchoredInFrozenRegistry": anchored_old,
        "pendingAfterFreeze": pending,
        "verdictBefore": state.get("verdictBefore"),
        "verdictAfterFreeze": after_freeze,
        "verdictAgainstSuccessor": verdict(new, o.bundle()),
        "rerunOnSuccessorAnchored": rerun.records,
        "verdictOfSuccessorBundle": verdict(new, remaining),
        "recoverySeconds": recovered,
        "pendingAfter": o.store.pending_count("WO"),
        "exactlyOnce": once_for(sub, [o.store.path], [old, new]),
    }
    o.store.close()
    return result
