"""What is unexpected: one transaction's events, judged against what the office itself did.

**Its own** (no finding), for a watched office O:

- an anchor whose root is in O's outbox (any state: built, sent, anchored), whichever of O's keys sent it;
- a key, governance or revocation call (``addSigner``, ``rotateSigner``, ``acceptSigner``, ``removeSigner``,
  ``markCompromised``, ``propose``, ``approve``, ``cancel``, ``revokeBatch``, ``revokeLeaf``) that O's tooling
  recorded in its journal (:mod:`registry.monitor.journal`) before sending, from the very key that sent the
  transaction, bound to the first transaction that carries it (within ``INTENT_WINDOW_BLOCKS`` of its
  recording); every event of that transaction is its own
  (a rotation's removal of the old key, a mark's removal and voided nominations);
- a governance execution of a proposal O proposed or approved through its tooling (its effects included).

Everything else touching O is a finding: **alerts** for acts in O's name (an anchor not in the outbox, a key
nominated, accepted, removed, rotated or marked, a revocation, a proposal, approval or cancellation by O's
office that its tooling did not send), for governance carried out against O without its approval (O
suspended, its signers replaced, its key marked: the lost-key recovery path, or a majority taking over its
name) and for any office's signers replaced without its approval; **notices** for others' governance naming
O (or the whole registry: rule, freeze) and each approval, other executions O did not consent to, and any
freeze.

**Witness** (``--all``, no office): notices for every governance act and compromise mark and freeze, and
alerts for anchors by keys not authorised for their office at their block (as the chain says when read) and
for an office's signers replaced without its approval.

Without an office's approval: the contract says so (``ActedWithoutConsent``, contracts 3.1.0); on 3.0.0
contracts, the office is not among the proposal's approvers (the witness needs the event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.chain.client import Chain
from registry.chain.payloads import ProposalView
from registry.monitor.events import ChainEvent, ChainTx, code_of, hex0x
from registry.monitor.findings import ALERT, NOTICE, Finding, discount_from, review, stop_key
from registry.monitor.journal import INTENT_WINDOW_BLOCKS, JOURNALED, call_subject
from registry.store.monitor import MonitorLog
from registry.store.outbox import Store

#: Key events of an office and the finding kind each gives when the office did not send it.
_KEY_EVENTS = {
    "SignerNominated": "signer-nominated",
    "NominationCancelled": "nomination-cancelled",
    "SignerAdded": "signer-added",
    "SignerRemoved": "signer-removed",
    "SignerCompromised": "signer-compromised",
    "NominationVoided": "nomination-voided",
    "OfficeAdmitted": "office-admitted",
    "OfficeStatusChanged": "office-status-changed",
}
_GOVERNANCE = ("ProposalCreated", "ProposalApproved", "ProposalCancelled")
#: Governance acts on an office that it must hear of loudly when it did not approve them.
_AGAINST_OFFICE = ("suspend", "replace-signers", "mark-compromised")
#: What an office whose signers governance replaced without it should do, and every other office.
_TAKEN_OVER = (
    "if the office did not lose its keys, a majority has put a key of its own in its name: its records from"
    " that key's acceptance on are not the office's; tell the other offices and auditors"
)


@dataclass(frozen=True, slots=True)
class Watch:
    """What one monitor watches: an office's own name (``office``) or every office as a witness (None)."""

    office: str | None

    @property
    def name(self) -> str:
        """The cursor's and the findings' key: ``office:EP`` or ``all``."""
        return f"office:{self.office}" if self.office else "all"


class Judge:
    """Judges transactions for one watch; binds the tooling's journal entries as it recognises them."""

    def __init__(self, chain: Chain, log: MonitorLog, outbox: Store, watch: Watch, held: frozenset[str]) -> None:
        self.chain = chain
        self.log = log
        self.outbox = outbox
        self.watch = watch
        #: Addresses (checksummed) of the keys the office holds in this home's keystores.
        self.held = held
        self._proposals: dict[int, ProposalView] = {}

    def judge(self, tx: ChainTx) -> list[Finding]:
        """The findings of one transaction (none for the genesis)."""
        if tx.genesis:
            return []
        if self.watch.office is None:
            return [f for e in tx.events if (f := self._witness(tx, e)) is not None]
        if tx.named("ProposalExecuted"):
            return self._execution(tx, self.watch.office)
        return self._own_office(tx, self.watch.office)

    def wants(self, events: list[ChainEvent]) -> bool:
        """Whether a transaction with these events may concern the watch (the others are not read further)."""
        if self.watch.office is None:
            return True
        return any(
            e.name.startswith("Proposal")
            or e.name in ("RegistryFrozen", "RuleChanged")
            or ("office" in e.args and code_of(e.args["office"]) == self.watch.office)
            for e in events
        )

    def prepare(self, txs: list[ChainTx]) -> None:
        """Read the proposals these transactions name before the store transaction that judges them opens."""
        for tx in txs:
            for e in tx.events:
                if e.name.startswith("Proposal"):
                    self.proposal(int(e.args["id"]))

    # -- helpers

    def proposal(self, proposal_id: int) -> ProposalView:
        """A proposal as the chain has it now (read once per monitor)."""
        if proposal_id not in self._proposals:
            self._proposals[proposal_id] = self.chain.proposal(proposal_id)
        return self._proposals[proposal_id]

    def _finding(
        self,
        tx: ChainTx,
        e: ChainEvent,
        kind: str,
        severity: str,
        office: str,
        key: str | None,
        why: str,
        actions: tuple[str, ...] = (),
        details: dict[str, Any] | None = None,
    ) -> Finding:
        return Finding(
            kind=kind,
            severity=severity,
            office=office,
            block=tx.block_number,
            transaction=tx.tx_hash,
            log_index=e.log_index,
            position=e.position,
            event=e.name,
            key=key,
            why=why,
            actions=actions,
            details=details or {},
        )

    def _own_intent(self, tx: ChainTx, office: str) -> int | None:
        """The journal entry this transaction carries out for ``office``, or None."""
        if tx.call is None or tx.call not in JOURNALED:
            return None
        subject = call_subject(tx.call, tx.call_args)
        return self.log.claim(office, tx.sender, tx.call, subject, tx.tx_hash, tx.block_number, INTENT_WINDOW_BLOCKS)

    def _in_outbox(self, tx: ChainTx, office: str) -> bool:
        if tx.call != "anchorBatch" or not tx.call_args:
            return False
        batch = self.outbox.batch_by_root(hex0x(tx.call_args[0]))
        return batch is not None and batch.office == office

    def _held(self, key: str) -> str:
        return "a key this office holds" if key in self.held else "a key not in this home's keystores"

    # -- an office's own name

    def _own_office(self, tx: ChainTx, office: str) -> list[Finding]:
        intent = self._own_intent(tx, office)
        own = intent is not None or self._in_outbox(tx, office)
        if intent is not None and tx.call == "propose":
            for e in tx.named("ProposalCreated"):
                self.log.set_result(intent, str(int(e.args["id"])))
        if own:
            return []
        out: list[Finding] = []
        for e in tx.events:
            finding = self._unexpected(tx, e, office)
            if finding is not None:
                out.append(finding)
        return out

    def _unexpected(self, tx: ChainTx, e: ChainEvent, office: str) -> Finding | None:
        """The finding of one event of a transaction the office's tooling did not send, if it touches it."""
        a = e.args
        subject = code_of(a["office"]) if "office" in a and e.name not in _GOVERNANCE else None
        if e.name == "BatchAnchored" and subject == office:
            signer = str(a["signer"])
            return self._finding(
                tx,
                e,
                "anchor-not-in-outbox",
                ALERT,
                office,
                signer,
                f"batch {hex0x(a['root'])} was anchored under {office} by {signer} ({self._held(signer)}), and its"
                " root is in no batch of this office's outbox: the key is being used elsewhere",
                (stop_key(office, signer), discount_from(office, signer, tx.block_number)),
                {"root": hex0x(a["root"]), "leafCount": int(a["leafCount"]), "manifestURI": str(a["manifestURI"])},
            )
        if e.name in ("BatchRevoked", "LeafRevoked") and subject == office:
            leaf = hex0x(a["leaf"]) if "leaf" in a else "0x" + "00" * 32
            by = next(
                (str(r.args["by"]) for r in tx.named("RevokedBy") if hex0x(r.args["leaf"]) == leaf),
                tx.sender,
            )
            what = "the whole batch" if e.name == "BatchRevoked" else f"record (leaf) {leaf}"
            return self._finding(
                tx,
                e,
                "revocation-not-sent",
                ALERT,
                office,
                by,
                f"{what} of batch {hex0x(a['root'])} was revoked (reason {int(a['reason'])}) by {by}, and this"
                " office's tooling sent no such revocation",
                (
                    stop_key(office, by),
                    discount_from(office, by, tx.block_number) + " — the revocation then no longer stands",
                ),
                {"root": hex0x(a["root"]), "leaf": leaf, "reason": int(a["reason"])},
            )
        if e.name in _KEY_EVENTS and subject == office:
            return self._key_event(tx, e, office)
        if e.name in _GOVERNANCE:
            return self._governance(tx, e, office)
        if e.name == "RegistryFrozen":
            return self._frozen(tx, e, office)
        return None

    def _key_event(self, tx: ChainTx, e: ChainEvent, office: str) -> Finding:
        a = e.args
        kind = _KEY_EVENTS[e.name]
        key = str(a["by"]) if e.name == "SignerCompromised" and int(str(a["by"]), 16) else tx.sender
        target = str(a["signer"]) if "signer" in a else None
        if e.name in ("OfficeAdmitted", "OfficeStatusChanged"):
            return self._finding(tx, e, kind, NOTICE, office, key, f"{e.name} for {office}", (review(office),))
        actions = [stop_key(office, key)]
        if target is not None and target != key and e.name in ("SignerNominated", "SignerAdded"):
            actions.append(stop_key(office, target))
        actions.append(discount_from(office, key, tx.block_number))
        why = {
            "SignerNominated": f"{target} was nominated for {office} ({self._held(target or '')})",
            "NominationCancelled": f"the nomination of {target} for {office} was withdrawn",
            "SignerAdded": f"{target} became a signer of {office} ({self._held(target or '')})",
            "SignerRemoved": f"{target} stopped being a signer of {office}",
            "SignerCompromised": f"{target} was marked compromised for {office} from block {a.get('fromBlock')}",
            "NominationVoided": f"the nomination of {target} for {office} was voided",
        }[e.name]
        return self._finding(
            tx,
            e,
            kind,
            ALERT,
            office,
            key,
            f"{why} in a transaction from {key} ({tx.call or 'an indirect call'}) that this office's tooling"
            " did not send",
            tuple(actions),
            {"signer": target},
        )

    def _governance(self, tx: ChainTx, e: ChainEvent, office: str) -> Finding | None:
        a = e.args
        proposal_id = int(a["id"])
        if _proposers_approval(tx, e):
            return None
        actor = code_of(a.get("proposer") or a.get("approver") or a.get("by") or b"\x00\x00")
        verb = {"ProposalCreated": "proposed", "ProposalApproved": "approved", "ProposalCancelled": "cancelled"}
        if actor == office:
            return self._finding(
                tx,
                e,
                "governance-in-name",
                ALERT,
                office,
                tx.sender,
                f"proposal {proposal_id} was {verb[e.name]} in {office}'s name by {tx.sender}, and this office's"
                " tooling sent no such call",
                (stop_key(office, tx.sender), f"ipreg office cancel {proposal_id} --as {office} (if still pending)"),
                {"proposal": proposal_id},
            )
        p = self.proposal(proposal_id)
        if p.office not in (office, None) or self.log.consented(office, proposal_id, _approve(proposal_id)):
            return None
        kind = {
            "ProposalCreated": "governance-proposal",
            "ProposalApproved": "governance-approval",
            "ProposalCancelled": "governance-cancelled",
        }[e.name]
        about = f"about {office}" if p.office == office else "about the whole registry"
        return self._finding(
            tx,
            e,
            kind,
            NOTICE,
            office,
            tx.sender,
            f"{actor} {verb[e.name]} proposal {proposal_id} ({p.action} {about})",
            (review(office), f"ipreg office approve {proposal_id} --as {office} (only if you agree)"),
            {"proposal": proposal_id, "action": p.action, "payload": _plain(p.payload), "by": actor},
        )

    def _frozen(self, tx: ChainTx, e: ChainEvent, office: str) -> Finding:
        successor = str(e.args["successor"])
        return self._finding(
            tx,
            e,
            "registry-frozen",
            NOTICE,
            office,
            None,
            f"the registry was frozen in favour of {successor}: no new batches here",
            (f"ipreg deployment … (point this home at the successor {successor})",),
            {"successor": successor},
        )

    def _execution(self, tx: ChainTx, office: str) -> list[Finding]:
        out: list[Finding] = []
        for e in tx.named("ProposalExecuted"):
            proposal_id = int(e.args["id"])
            p = self.proposal(proposal_id)
            effects = [ev.name for ev in tx.events if "office" in ev.args and code_of(ev.args["office"]) == office]
            against = _without_consent(tx, p) or not self.log.consented(office, proposal_id, _approve(proposal_id))
            if p.office == office and p.action in _AGAINST_OFFICE and against:
                out.append(self._against(tx, e, office, p, effects))
                continue
            if p.office != office and p.action == "replace-signers" and _without_consent(tx, p):
                out.append(self._rekeyed(tx, e, office, p))
                continue
            if (p.office in (office, None) or effects) and not self.log.consented(
                office, proposal_id, _approve(proposal_id)
            ):
                out.append(
                    self._finding(
                        tx,
                        e,
                        "governance-executed",
                        NOTICE,
                        office,
                        None,
                        f"proposal {proposal_id} ({p.action}) was carried out without this office's tooling"
                        f" proposing or approving it; effects on {office}: {', '.join(effects) or 'none'}",
                        (review(office),),
                        {"proposal": proposal_id, "action": p.action, "payload": _plain(p.payload)},
                    )
                )
        out.extend(self._frozen(tx, e, office) for e in tx.named("RegistryFrozen"))
        return out

    def _against(self, tx: ChainTx, e: ChainEvent, office: str, p: ProposalView, effects: list[str]) -> Finding:
        """Governance suspended ``office``, replaced its signers or marked its key without its approval."""
        what = {
            "suspend": f"{office} was suspended",
            "replace-signers": f"the signers of {office} were replaced by {p.payload.get('nominee')}",
            "mark-compromised": f"{p.payload.get('signer')} of {office} was marked compromised from block"
            f" {p.payload.get('from_block')}",
        }[p.action]
        actions = [review(office)]
        if p.action == "replace-signers":
            actions.append(_TAKEN_OVER)
        return self._finding(
            tx,
            e,
            "governance-without-consent",
            ALERT,
            office,
            None,
            f"{what} by governance (proposal {p.id}) without this office's approval; effects on {office}:"
            f" {', '.join(effects) or 'none'}",
            tuple(actions),
            {"proposal": p.id, "action": p.action, "payload": _plain(p.payload)},
        )

    def _rekeyed(self, tx: ChainTx, e: ChainEvent, office: str, p: ProposalView) -> Finding:
        """Another office's signers were replaced by governance without its approval (every watcher)."""
        subject = p.office or "?"
        return self._finding(
            tx,
            e,
            "office-rekeyed-without-consent",
            ALERT,
            office,
            None,
            f"governance (proposal {p.id}) replaced the signers of {subject} by {p.payload.get('nominee')} without"
            f" {subject}'s approval (it was suspended or had lost its keys)",
            (review(subject), _TAKEN_OVER),
            {"proposal": p.id, "action": p.action, "office": subject, "payload": _plain(p.payload)},
        )

    # -- a witness

    def _witness(self, tx: ChainTx, e: ChainEvent) -> Finding | None:
        a = e.args
        if e.name == "BatchAnchored":
            office = code_of(a["office"]) or "?"
            signer = str(a["signer"])
            if self.chain.is_authorised_at(office, signer, tx.block_number):
                return None
            return self._finding(
                tx,
                e,
                "anchor-unauthorised",
                ALERT,
                office,
                signer,
                f"{signer} was not an authorised key of {office} at block {tx.block_number}: its batch"
                f" {hex0x(a['root'])} verifies as UNAUTHORISED",
                (stop_key(office, signer), discount_from(office, signer, tx.block_number)),
                {"root": hex0x(a["root"])},
            )
        if e.name == "SignerCompromised":
            office = code_of(a["office"]) or "?"
            by = str(a["by"]) if int(str(a["by"]), 16) else "governance"
            return self._finding(
                tx,
                e,
                "signer-compromised",
                NOTICE,
                office,
                str(a["signer"]),
                f"{a['signer']} was marked compromised for {office} from block {int(a['fromBlock'])} by {by}",
                ("ipreg office signers " + office,),
                {"fromBlock": int(a["fromBlock"]), "by": by},
            )
        if e.name == "ProposalExecuted":
            p = self.proposal(int(a["id"]))
            if p.action == "replace-signers" and any(
                int(w.args["id"]) == p.id for w in tx.named("ActedWithoutConsent")
            ):
                return self._rekeyed(tx, e, "*", p)
        if e.name in (*_GOVERNANCE, "ProposalExecuted"):
            if _proposers_approval(tx, e):
                return None
            p = self.proposal(int(a["id"]))
            return self._finding(
                tx,
                e,
                "governance-" + e.name.removeprefix("Proposal").lower(),
                NOTICE,
                p.office or "*",
                tx.sender,
                f"{e.name} {int(a['id'])}: {p.action} {p.office or '(the whole registry)'}",
                (review(p.office),),
                {"proposal": int(a["id"]), "action": p.action, "payload": _plain(p.payload)},
            )
        if e.name == "RegistryFrozen":
            return self._frozen(tx, e, "*")
        return None


def _proposers_approval(tx: ChainTx, e: ChainEvent) -> bool:
    """Whether ``e`` is the approval a proposal gets from its proposer in the transaction that creates it."""
    return e.name == "ProposalApproved" and any(c.args["id"] == e.args["id"] for c in tx.named("ProposalCreated"))


def _without_consent(tx: ChainTx, p: ProposalView) -> bool:
    """Whether ``tx`` carried out ``p`` (suspend, re-key, mark) without its office's approval: the contract's
    ``ActedWithoutConsent`` (3.1.0) or, on 3.0.0 contracts, the office is not among the approvers."""
    if any(int(e.args["id"]) == p.id for e in tx.named("ActedWithoutConsent")):
        return True
    return p.action in _AGAINST_OFFICE and p.office not in p.approvers


def _approve(proposal_id: int) -> str:
    return call_subject("approve", [proposal_id])


def _plain(payload: dict[str, Any]) -> dict[str, Any]:
    """A decoded payload as JSON values."""
    return {
        k: (hex0x(v) if isinstance(v, bytes) else v if isinstance(v, int | str | bool) else str(v))
        for k, v in payload.items()
    }
