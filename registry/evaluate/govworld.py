"""The world of the governance story: its own registry on the run's chain, the offices' keys, what happened.

The story runs on a deployment of its own (same chain, same code, the dev genesis offices), so that a
freeze, a suspension or a captured office never touches the registry the other phases measure. This
module holds what the story needs at every step: the offices' keys (whose they really are), the log
of acts with their outcome (a mined transaction or the contract's error), the proposals' lives,
anchoring of probe records, and snapshots of every probe's verdict and every office's power to act,
each at the chain's (scaled) time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from registry.anchor.pipeline import bundle_name
from registry.chain.client import Chain, TxResult
from registry.chain.deploy import deploy_offices
from registry.chain.dev import DEV_OFFICES, DEV_RULE, dev_account, dev_signer
from registry.core.batch import AnchoredBatch
from registry.core.contract import GovernanceRule
from registry.core.formats import ProofBundle
from registry.errors import ContractRevertError, RegistryError
from registry.evaluate import actions
from registry.evaluate.context import Run, derived_seed
from registry.evaluate.govclock import Clock
from registry.evaluate.pipeline import anchorer_for
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.store.outbox import Store
from registry.verify.readers import ChainReader, LiveReader, lineage_member, web3_office_batches
from registry.verify.verifier import Verifier
from registry.verify.versions import VersionSources

#: First dev account for the story's new keys (the timeline's start at 10, the probes' use 8 and 9).
FIRST_KEY = 40


def error_name(exc: Exception) -> str:
    """The contract's custom error (``ProposalExpired``), else the error's first words."""
    name = getattr(exc, "error_name", "")
    if name:
        return str(name)
    text = exc.diagnostics() if isinstance(exc, RegistryError) else str(exc)
    return text.split("would revert: ", 1)[-1][:80]


class _Logs:
    """``BatchAnchored`` events already read, per (registry, office), up to a block: each block's logs are read
    once for all the story's auditors (eth-tester reads logs block by block; a dev node does not reorganise)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[int, list[AnchoredBatch]]] = {}

    def batches(self, chain: Chain, office: str, from_block: int, to_block: int) -> list[AnchoredBatch]:
        key = (str(chain.anchors.address).lower(), office)
        start, known = self.seen.get(key, (0, []))
        if to_block > start:
            known = [*known, *web3_office_batches(chain, office, start + 1, to_block)]
            self.seen[key] = (to_block, known)
        return [b for b in known if from_block <= b.block_number <= to_block]


class _Reader(LiveReader):
    """The live reader, its office batch listing served from :class:`_Logs` (the same events, read once)."""

    def __init__(self, chain: Chain, logs: _Logs, block: int | None = None) -> None:
        super().__init__(chain, block)
        self.logs = logs

    def office_batches(self, office: str, from_block: int) -> list[AnchoredBatch]:
        """``BatchAnchored`` events of ``office`` from ``from_block`` to the state block."""
        return self.logs.batches(self.chain, office, from_block, self.state_block())

    def related(self, registry: str) -> ChainReader | None:
        """A reader of a confirmed version of this registry, at the same block, sharing the logs."""
        chain = lineage_member(self.chain, registry)
        return _Reader(chain, self.logs, self.state_block()) if chain is not None else None


@dataclass
class Probe:
    """A record whose verdict the story follows: its bundle and who anchored it."""

    name: str
    office: str
    bundle: ProofBundle
    expected: str
    series: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OfficeState:
    """What the story knows of an office: its own key (None: lost) and a key others hold in its name."""

    code: str
    own: LocalAccount | None
    foreign: LocalAccount | None = None
    admitted: bool = True


class World:
    """The story's registry, offices, clock and records."""

    def __init__(self, run: Run, blocks_per_day: int, ttl_days: float) -> None:
        self.run = run
        self.folder = run.work / "governance-practice"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ttl_blocks = max(1, round(ttl_days * blocks_per_day))
        self.rule = GovernanceRule(DEV_RULE.numerator, DEV_RULE.denominator, DEV_RULE.min_approvals, self.ttl_blocks)
        self.chain = Chain(run.chain.w3)
        offices = [(c, n, u, str(dev_signer(c).address)) for c, n, u in DEV_OFFICES]  # type: ignore[union-attr]
        self.deployment = deploy_offices(self.chain, dev_account(0), offices, self.rule, preset="dev")
        self.successor: Chain | None = None
        self.clock = Clock(run, self.chain, blocks_per_day)
        self.offices: dict[str, OfficeState] = {c: OfficeState(c, dev_signer(c)) for c, _, _ in DEV_OFFICES}
        self.offices["KR"] = OfficeState("KR", None, admitted=False)  # admitted in chapter A
        self.acts: list[dict[str, Any]] = []
        self.proposals: dict[int, dict[str, Any]] = {}
        self.probes: list[Probe] = []
        self.actors: dict[str, list[dict[str, Any]]] = {}
        self.stories: list[dict[str, Any]] = []
        self.stores: dict[str, Store] = {}
        self.logs = _Logs()
        self._next_key = FIRST_KEY
        self._batch = 0

    # -- keys and offices

    def fresh_key(self) -> LocalAccount:
        """A funded key never used on this chain's registries before."""
        account = actions.spare_account(self.run.chain, self._next_key)
        self._next_key += 1
        return account

    def key(self, office: str) -> LocalAccount:
        """The key that signs for ``office`` now (its own, else the one others hold in its name)."""
        state = self.offices[office]
        account = state.foreign or state.own
        if account is None:
            raise AssertionError(f"{office} holds no key")
        return account

    def store(self, office: str) -> Store:
        """The office's outbox for the story (one per office, across both registries)."""
        if office not in self.stores:
            self.stores[office] = Store(self.folder / f"{office}.sqlite")
        return self.stores[office]

    def expiries(self) -> None:
        """Each proposal's expiry as a day (the block's time if mined, else extrapolated at blocks_per_day)."""
        head = self.clock.block
        for p in self.proposals.values():
            block = p["expiresBlock"]
            if block <= head:
                p["expiresDay"] = self.clock.day_of(block)
            else:
                p["expiresDay"] = round(self.clock.day() + (block - head) / self.clock.blocks_per_day, 3)

    def close(self) -> None:
        """Close the offices' outboxes."""
        for s in self.stores.values():
            s.close()

    # -- acts

    def story(self, key: str, title: str) -> None:
        """Start a chapter (drawn on the time axis)."""
        self.stories.append({"key": key, "title": title, "day": self.clock.day()})

    def act(self, what: str, by: str, do: Callable[[], Any], expect: str = "ok") -> Any:
        """Carry out one act now; log its day, block and outcome (``ok`` or the contract's error name)."""
        try:
            result = do()
            outcome, ok = "ok", True
        except ContractRevertError as exc:
            result, outcome, ok = None, error_name(exc), False
        block = result.block_number if isinstance(result, TxResult) else self.clock.block
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], TxResult):
            block = result[1].block_number
        self.acts.append(
            {
                "day": self.clock.day_of(block),
                "block": block,
                "act": what,
                "by": by,
                "outcome": outcome,
                "asExpected": outcome == expect,
                "chapter": self.stories[-1]["key"] if self.stories else "",
            }
        )
        return result if ok else None

    def propose(self, by: str, action: str, office: str | None, expect: str = "ok", **params: Any) -> int | None:
        """``by`` proposes; the proposal's life is followed from here."""
        made = self.act(
            f"propose {action} {office or ''}".strip(),
            by,
            lambda: self.chain.propose(self.key(by), action, office, **params),
            expect,
        )
        if made is None:
            return None
        proposal: int = made[0]
        tx: TxResult = made[1]
        view = self.chain.proposal(proposal)
        self.proposals[proposal] = {
            "id": proposal,
            "action": action,
            "office": office,
            "proposer": by,
            "createdDay": self.clock.day_of(tx.block_number),
            "createdBlock": tx.block_number,
            "expiresBlock": view.expires_block,
            "approvals": [{"office": by, "day": self.clock.day_of(tx.block_number), "outcome": "ok"}],
            "outcome": "pending",
            "outcomeDay": None,
            "chapter": self.stories[-1]["key"] if self.stories else "",
            "payloadHash": view.payload_hash,
        }
        return proposal

    def approve(self, by: str, proposal: int, expect: str = "ok") -> None:
        """``by`` approves ``proposal`` now (or the contract says why not)."""
        bound = self.proposals[proposal]["payloadHash"]  # the payload as proposed: approvals bind to it
        self.act(f"approve #{proposal}", by, lambda: self.chain.approve(self.key(by), proposal, bound), expect)
        last = self.acts[-1]
        self.proposals[proposal]["approvals"].append({"office": by, "day": last["day"], "outcome": last["outcome"]})

    def execute(self, by: str, proposal: int, expect: str = "ok") -> bool:
        """``by`` executes ``proposal`` now; the outcome closes its life if final."""
        done = self.act(f"execute #{proposal}", by, lambda: self.chain.execute(self.key(by), proposal), expect)
        p, last = self.proposals[proposal], self.acts[-1]
        p.setdefault("attempts", []).append({"day": last["day"], "outcome": last["outcome"]})
        if done is not None:
            p["outcome"], p["outcomeDay"] = "executed", last["day"]
        elif last["outcome"] == "ProposalExpired":
            p["outcome"], p["outcomeDay"] = "expired", last["day"]
        return done is not None

    def cancel(self, by: str, proposal: int) -> None:
        """The proposer withdraws ``proposal``."""
        if self.act(f"cancel #{proposal}", by, lambda: self.chain.cancel(self.key(by), proposal)) is not None:
            self.proposals[proposal]["outcome"], self.proposals[proposal]["outcomeDay"] = (
                "cancelled",
                self.acts[-1]["day"],
            )

    def decide(
        self, proposer: str, voters: list[str], action: str, office: str | None, expect: str = "ok", **params: Any
    ) -> bool:
        """Propose, approve with ``voters`` up to the required number, execute (``expect``: the execution's
        outcome, ``ok`` or the contract's error): one day's governance."""
        proposal = self.propose(proposer, action, office, **params)
        if proposal is None:
            return False
        for voter in voters[: self.chain.required_approvals() - 1]:  # the proposer's approval counts
            self.approve(voter, proposal)
        return self.execute(proposer, proposal, expect)

    # -- records

    def anchor(
        self,
        office: str,
        count: int,
        tag: str,
        chain: Chain | None = None,
        files: list[Path] | None = None,
        outbox: str | None = None,
    ) -> list[ProofBundle]:
        """Anchor ``count`` new records of ``office`` (or ``files``) with the key it signs with now, from the
        outbox ``outbox`` (default: the office's own); their bundles."""
        self._batch += 1
        files = files or generate_gazette(
            self.folder / f"gazette-{tag}",
            office=office,
            count=count,
            seed=derived_seed(self.run.seed, "governance-practice", tag),
        )
        store = self.store(outbox or office)
        anchorer = anchorer_for(
            self.run, office, store, chain=chain or self.chain, batch_size=100, account=self.key(office)
        )
        anchorer.submit(prepare_files(files))
        proofs = self.folder / f"proofs-{tag}"
        result = anchorer.run(proofs)
        out = []
        for batch in result.batches:
            for record in store.batch_records(batch.id):
                out.append(ProofBundle.loads((proofs / bundle_name(record)).read_bytes()))
        return out

    def probe(self, name: str, bundle: ProofBundle, expected: str) -> Probe:
        """Follow ``bundle``'s verdict from now on."""
        p = Probe(name, bundle.office, bundle, expected)
        self.probes.append(p)
        return p

    # -- snapshots

    def verifier(self, chain: Chain) -> Verifier:
        """An auditor pinned on ``chain``'s registry, reading the run's manifest copies for later versions."""
        return Verifier(
            _Reader(chain, self.logs),
            chain_id=self.deployment.chain_id,
            sources=VersionSources(manifests=self.run.manifest_dir),
        )

    def snapshot(self, label: str, verdicts: bool = True) -> None:
        """Every probe's verdict (auditors pinned on the first registry, and on the successor once there is one)
        and every office's power to act, now."""
        day = self.clock.day()
        old = self.verifier(self.chain)
        new = self.verifier(self.successor) if self.successor is not None else None
        for p in self.probes if verdicts else ():  # a step that changed no verdict's input: power only
            point: dict[str, Any] = {"day": day, "label": label, "verdict": old.verify_bundle(p.bundle).verdict}
            if new is not None:
                point["successorVerdict"] = new.verify_bundle(p.bundle).verdict
            p.series.append(point)
        frozen = self.chain.frozen_at() != 0
        for code, state in self.offices.items():
            self.actors.setdefault(code, []).append({"day": day, "state": self._power(code, state, frozen)})

    def _power(self, code: str, state: OfficeState, frozen: bool) -> str:
        """What ``code`` can do now: active, suspended, captured (others hold its key), key lost, not admitted."""
        if not state.admitted:
            return "not admitted"
        home = self.successor if frozen and self.successor is not None else self.chain
        signer = state.foreign if state.foreign is not None and home is self.chain else state.own
        if signer is not None and home.call(home.offices.functions.isActiveSigner(code.encode(), signer.address)):
            if signer is state.foreign:
                return "captured"
            return "active (successor)" if home is not self.chain else "active"
        status = home.office_info(code)[2]
        return "key lost" if status == "active" else status
