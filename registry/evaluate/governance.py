"""The governance timeline: the scenario's admissions, suspensions, key rotations and key compromises.

Each event is carried out on chain as the offices would (proposal, approvals up to the threshold,
execution; or the office's own signer call), timed in blocks and seconds, with what verification
and anchoring said before and after.
"""

from __future__ import annotations

import time
from typing import Any

from eth_account.signers.local import LocalAccount

from ..anchor import bundle_name
from ..chain import DEV_OFFICES, dev_account, dev_signer
from ..errors import RegistryError
from ..ingest import prepare_files
from ..records import ProofBundle
from ..samples import generate_gazette
from ..store import Store
from ..verify import verify_bundle
from . import actions
from .context import Run, derived_seed
from .pipeline import OfficeRun, anchorer_for
from .scenario import Event

#: Dev accounts for keys the scenario creates (admitted offices, rotated keys); 1..5 are the genesis offices.
_SPARE_ACCOUNTS = (6, 7)


class _Keys:
    """Which key signs for which office now (the run changes them)."""

    def __init__(self) -> None:
        self.current: dict[str, LocalAccount] = {}
        for code, _, _ in DEV_OFFICES:
            account = dev_signer(code)
            assert account is not None
            self.current[code] = account
        self.spare = [dev_account(i) for i in _SPARE_ACCOUNTS]
        self.active = [code for code, _, _ in DEV_OFFICES]

    def take_spare(self) -> LocalAccount:
        if not self.spare:
            raise RuntimeError("no spare dev account left for a new key")
        return self.spare.pop(0)

    def voters(self, excluding: str | None = None) -> list[tuple[str, LocalAccount]]:
        return [(c, self.current[c]) for c in self.active if c != excluding]


def _sample_bundle(offices: list[OfficeRun], office: str) -> tuple[ProofBundle, Store] | None:
    for o in offices:
        if o.office == office:
            records = [r for b in o.batches for r in o.store.batch_records(b.id) if r.salt is None]
            if records:
                return ProofBundle.loads((o.proofs / bundle_name(records[0])).read_bytes()), o.store
    return None


def _verdict(run: Run, sample: tuple[ProofBundle, Store] | None) -> str | None:
    if sample is None:
        return None
    return verify_bundle(run.chain, sample[0], None, sample[1]).verdict


def _try_anchor(run: Run, office: str, account: LocalAccount, tag: str) -> str:
    """Anchor three new records of ``office`` with ``account``; the verdict of one, or the refusal."""
    folder = run.work / "governance" / tag
    files = generate_gazette(folder, office=office, count=3, seed=derived_seed(run.seed, "gov", tag))
    store = Store(run.work / "stores" / f"gov-{tag}.sqlite")
    try:
        anchorer = anchorer_for(run, office, store, batch_size=10, account=account)
        anchorer.submit(prepare_files(files))
        try:
            result = anchorer.run(run.work / "governance" / f"{tag}-proofs")
        except RegistryError as exc:
            why = exc.diagnostics()
            return f"anchoring refused: {why.split('would revert: ', 1)[-1][:120]}"
        batch = result.batches[0]
        record = store.batch_records(batch.id)[0]
        bundle = ProofBundle.loads((run.work / "governance" / f"{tag}-proofs" / bundle_name(record)).read_bytes())
        return f"new anchor {verify_bundle(run.chain, bundle, None, store).verdict}"
    finally:
        store.close()


def _block(run: Run) -> int:
    return int(run.chain.rpc(lambda: run.chain.w3.eth.block_number))


def _event(run: Run, e: Event, keys: _Keys, offices: list[OfficeRun], step: int) -> dict[str, Any]:
    office = e.office or ""
    sample = _sample_bundle(offices, office)
    row: dict[str, Any] = {"event": e.kind, "office": office, "verdictBefore": _verdict(run, sample)}
    started = time.perf_counter()
    first = _block(run) + 1
    if e.kind == "admit":
        signer = keys.take_spare()
        row["anchorBefore"] = _try_anchor(run, office, signer, f"{step}-before")
        d = actions.govern(run.chain, "admit", office, keys.voters(), e.name or office,
                           f"https://register.{office.lower()}.example/", signer.address)  # fmt: skip
        keys.current[office] = signer
        keys.active.append(office)
        row.update(approvals=f"{', '.join(d.approvals)} ({len(d.approvals)} of threshold {d.threshold})",
                   transactions=d.transactions, gas=d.gas)  # fmt: skip
    elif e.kind == "suspend":
        row["anchorBefore"] = _try_anchor(run, office, keys.current[office], f"{step}-before")
        d = actions.govern(run.chain, "suspend", office, keys.voters(excluding=office))
        keys.active.remove(office)
        row.update(approvals=f"{', '.join(d.approvals)} ({len(d.approvals)} of threshold {d.threshold})",
                   transactions=d.transactions, gas=d.gas)  # fmt: skip
    elif e.kind == "rotate-key":
        old = keys.current[office]
        new = keys.take_spare()
        txs = actions.rotate_signer(run.chain, old, old.address, new.address)
        keys.current[office] = new
        row.update(approvals=f"{office} alone (its own key)", transactions=len(txs), gas=sum(t.gas_used for t in txs))
        row["oldKeyAfter"] = _try_anchor(run, office, old, f"{step}-old-key")
    elif e.kind == "compromise-key":
        if not actions.compromise_supported(run.chain):
            row.update(note="not run: the deployed OfficeRegistry has no key-compromise function", transactions=0)
            row["seconds"] = 0.0
            row["verdictAfter"] = row["verdictBefore"]
            return row
        raise AssertionError("compromise-key support is added with the contracts that provide it")
    last = _block(run)
    row["seconds"] = time.perf_counter() - started
    row["blocks"] = max(last - first + 1, 0)
    row["firstBlock"], row["lastBlock"] = first, last
    row["verdictAfter"] = _verdict(run, sample)
    row["anchorAfter"] = _try_anchor(run, office, keys.current[office], f"{step}-after")
    notes = [f"{k}: {row[k]}" for k in ("anchorBefore", "oldKeyAfter", "anchorAfter") if k in row]
    row["note"] = "; ".join(notes)
    return row


def timeline(run: Run, offices: list[OfficeRun]) -> dict[str, Any]:
    """Carry out the scenario's governance events in order; one row each."""
    events = run.scenario.events_of("admit", "suspend", "rotate-key", "compromise-key")
    keys = _Keys()
    rows = []
    for i, e in enumerate(events):
        rows.append(_event(run, e, keys, offices, i))
        run.advance("governance", (i + 1) / len(events))
    return {"events": rows, "threshold": actions.threshold(run.chain), "notes": []}
