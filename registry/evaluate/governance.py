"""The governance timeline: the scenario's admissions, suspensions, key rotations and key compromises.

Each event is carried out on chain as the offices would (proposal, approvals up to the threshold,
execution; or the office's own signer call), timed in blocks and seconds, with what verification
and anchoring said before and after. A key compromise also times the office's monitor: from the stolen
key's forged anchor (made from another machine) to ``ipreg monitor``'s finding, and to the compromise mark.
"""

from __future__ import annotations

import json
import time
from typing import Any

from eth_account.signers.local import LocalAccount

from registry.anchor.pipeline import bundle_name
from registry.chain.client import Chain
from registry.chain.dev import DEV_OFFICES, dev_signer
from registry.config import Settings
from registry.core.formats import ProofBundle
from registry.errors import RegistryError
from registry.evaluate import actions
from registry.evaluate.context import Run, derived_seed
from registry.evaluate.pipeline import OfficeRun, anchorer_for
from registry.evaluate.samples import generate_gazette
from registry.evaluate.scenario import Event
from registry.files.ingest import prepare_files
from registry.monitor import Monitor, Watch
from registry.store.outbox import Store
from registry.verify.verdicts import verify_bundle

#: First dev account for keys the timeline creates (1..5: genesis offices; 8, 9: the probes' keys).
_FIRST_SPARE = 10


class _Keys:
    """Which key signs for which office now (the run changes them), and fresh keys on demand."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.current: dict[str, LocalAccount] = {}
        for code, _, _ in DEV_OFFICES:
            account = dev_signer(code)
            assert account is not None
            self.current[code] = account
        self.next_index = _FIRST_SPARE
        self.active = [code for code, _, _ in DEV_OFFICES]

    def fresh(self) -> LocalAccount:
        account = actions.spare_account(self.chain, self.next_index)
        self.next_index += 1
        return account

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


def _try_anchor(run: Run, office: str, account: LocalAccount, tag: str) -> tuple[str, ProofBundle | None]:
    """Anchor three new records of ``office`` with ``account``: (what happened, a bundle of one of them)."""
    folder = run.work / "governance" / tag
    files = generate_gazette(folder, office=office, count=3, seed=derived_seed(run.seed, "gov", tag))
    store = Store(run.work / "governance" / f"{tag}.sqlite")  # not an outbox of the exactly-once count
    try:
        anchorer = anchorer_for(run, office, store, batch_size=10, account=account)
        anchorer.submit(prepare_files(files))
        try:
            result = anchorer.run(run.work / "governance" / f"{tag}-proofs")
        except RegistryError as exc:
            return f"anchoring refused: {exc.diagnostics().split('would revert: ', 1)[-1][:120]}", None
        batch = result.batches[0]
        record = store.batch_records(batch.id)[0]
        bundle = ProofBundle.loads((run.work / "governance" / f"{tag}-proofs" / bundle_name(record)).read_bytes())
        return f"new anchor {verify_bundle(run.chain, bundle, None, store).verdict}", bundle
    finally:
        store.close()


def _monitor(run: Run, offices: list[OfficeRun], office: str, forged: ProofBundle) -> dict[str, Any]:
    """The office's monitor (over its outbox) from the forged anchor's block on: its finding, in blocks and s."""
    own = next((o.store for o in offices if o.office == office), None)
    store = own or Store(run.work / "governance" / f"monitor-{office}.sqlite")
    started = time.perf_counter()
    try:
        result = Monitor(run.chain, store, Settings(home=run.home, rpc_url=run.rpc_url), Watch(office)).pass_once(
            forged.block_number
        )
    finally:
        if own is None:
            store.close()
    kinds = [k for line in result.delivered if (k := json.loads(line))["block"] == forged.block_number]
    return {
        "finding": kinds[0]["kind"] if kinds else None,
        "blocksToFinding": result.to_block - forged.block_number,
        "secondsToFinding": time.perf_counter() - started,
    }


def _block(run: Run) -> int:
    return int(run.chain.rpc(lambda: run.chain.w3.eth.block_number))


def _decided(row: dict[str, Any], d: actions.Decision) -> None:
    row.update(
        approvals=f"{', '.join(d.approvals)} ({len(d.approvals)} needed of {d.active} active offices)",
        transactions=len(d.results),
        gas=d.gas,
    )


def _event(run: Run, e: Event, keys: _Keys, offices: list[OfficeRun], step: int) -> dict[str, Any]:
    office = e.office or ""
    sample = _sample_bundle(offices, office)
    row: dict[str, Any] = {"event": e.kind, "office": office, "verdictBefore": _verdict(run, sample)}
    notes: list[str] = []
    started = time.perf_counter()
    first = _block(run) + 1
    if e.kind == "admit":
        signer = keys.fresh()
        notes.append("before: " + _try_anchor(run, office, signer, f"{step}-before")[0])
        first = _block(run) + 1
        started = time.perf_counter()
        d = actions.govern(run.chain, "admit", office, keys.voters(), name=e.name or office,
                           base_uri=f"https://register.{office.lower()}.example/", signer=signer.address)  # fmt: skip
        d.results.append(run.chain.accept_signer(signer, office))  # the admitted office's key consents
        keys.current[office] = signer
        keys.active.append(office)
        _decided(row, d)
    elif e.kind == "suspend":
        notes.append("before: " + _try_anchor(run, office, keys.current[office], f"{step}-before")[0])
        first = _block(run) + 1
        started = time.perf_counter()
        _decided(row, actions.govern(run.chain, "suspend", office, keys.voters(excluding=office)))
        keys.active.remove(office)
    elif e.kind == "rotate-key":
        old, new = keys.current[office], keys.fresh()
        txs = actions.rotate_key(run.chain, old, new, office)
        keys.current[office] = new
        row.update(approvals=f"{office} nominates, the new key accepts", transactions=len(txs),
                   gas=sum(t.gas_used for t in txs))  # fmt: skip
        notes.append("old key after: " + _try_anchor(run, office, old, f"{step}-old-key")[0])
    elif e.kind == "compromise-key":
        suspect = keys.current[office]
        text, bundle = _try_anchor(run, office, suspect, f"{step}-suspect")  # the thief, on another machine
        forged_at = time.perf_counter()
        seen = _monitor(run, offices, office, bundle) if bundle is not None else None
        first = _block(run) + 1
        started = time.perf_counter()
        replacement = keys.fresh()
        mark_from = bundle.block_number if bundle is not None else first
        # Contracts 3.0.0: a mark from an earlier block is governance's, with the office's own approval; a key
        # nominated by the suspect after that block would be void, so governance nominates the replacement.
        others = keys.voters(office)
        marked = actions.govern(run.chain, "mark-compromised", office, [(office, suspect), *others],
                                signer=suspect.address, from_block=mark_from)  # fmt: skip
        rekeyed = actions.govern(run.chain, "replace-signers", office, others, nominee=replacement.address)
        txs = [*marked.results, *rekeyed.results, run.chain.accept_signer(replacement, office)]
        keys.current[office] = replacement
        row.update(approvals=f"governance ({', '.join(marked.approvals)}) marks the key, then"
                             f" ({', '.join(rekeyed.approvals)}) nominates a new one, which accepts",
                   transactions=len(txs), gas=sum(t.gas_used for t in txs))  # fmt: skip
        if bundle is not None:
            after = verify_bundle(run.chain, bundle, None).verdict
            notes.append(f"anchor made by the key at block {bundle.block_number}: {text.split()[-1]} -> {after}")
        if seen is not None:
            seen["secondsToMark"] = time.perf_counter() - forged_at
            seen["verdictBefore"], seen["verdictAfter"] = text.split()[-1], after
            row["monitor"] = seen
            notes.append(
                f"monitor: {seen['finding'] or 'no finding'} {seen['blocksToFinding']} block(s),"
                f" {seen['secondsToFinding']:.2f} s after the forged anchor; marked"
                f" {seen['secondsToMark']:.2f} s after it"
            )
        notes.append(f"key marked compromised from block {mark_from}")
    last = _block(run)
    row["seconds"] = time.perf_counter() - started
    row["blocks"] = max(last - first + 1, 0)
    row["firstBlock"], row["lastBlock"] = first, last
    row["verdictAfter"] = _verdict(run, sample)
    notes.append("after: " + _try_anchor(run, office, keys.current[office], f"{step}-after")[0])
    row["note"] = "; ".join(notes)
    return row


def timeline(run: Run, offices: list[OfficeRun]) -> dict[str, Any]:
    """Carry out the scenario's governance events in order; one row each."""
    events = run.scenario.events_of("admit", "suspend", "rotate-key", "compromise-key")
    keys = _Keys(run.chain)
    rows = []
    began = time.perf_counter()
    for i, e in enumerate(events):
        started = time.perf_counter() - began
        rows.append(_event(run, e, keys, offices, i))
        rows[-1]["startedSeconds"] = round(started, 3)  # since the first event began (wall clock)
        rows[-1]["endedSeconds"] = round(time.perf_counter() - began, 3)
        run.advance("governance", (i + 1) / len(events))
    rule = run.chain.rule()
    return {
        "events": rows,
        "rule": f"strict majority of active offices ({rule.numerator}/{rule.denominator} + 1), at least "
        f"{rule.min_approvals}; proposals live {rule.ttl_blocks} blocks",
        "requiredNow": run.chain.required_approvals(),
        "activeNow": run.chain.active_office_count(),
        "genesis": [code for code, _, _ in DEV_OFFICES],
        "notes": [],
    }
