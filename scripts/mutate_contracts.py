#!/usr/bin/env python3
"""Mutation test of the contracts: apply each hand-made mutant to a copy, run forge at CI settings, score.

Every mutant breaks one rule of contracts 3.1.0 (the sixteen kinds of issue 21, the rules added for it in
3.0.0 and the office consent rule of 3.1.0). A mutant is *killed* when ``forge test`` (``foundry.toml`` as CI
runs it, ``--fail-fast``) fails on the mutated copy; it *survives* when the suite still passes. Prints one
line per mutant, the score and the time taken; exits 1 if any mutant survived or did not apply (its text
no longer in the contract).

    python scripts/mutate_contracts.py              # all mutants
    python scripts/mutate_contracts.py -k cascade   # those whose name contains "cascade"
    python scripts/mutate_contracts.py --baseline   # the suite must pass on the unmutated copy first
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FORGE = REPO / "local-chain" / "node_modules" / ".bin" / "forge"
OFFICES = "contracts/OfficeRegistry.sol"
ANCHORS = "contracts/AnchorRegistry.sol"


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` (exactly once in ``path``) by ``new``, and each pair of ``more`` likewise."""

    name: str
    path: str
    old: str
    new: str
    more: tuple[tuple[str, str], ...] = ()

    def apply(self, text: str) -> str | None:
        """The mutated text, or None if an ``old`` is not found exactly once."""
        for old, new in ((self.old, self.new), *self.more):
            if text.count(old) != 1:
                return None
            text = text.replace(old, new)
        return text


MUTANTS: tuple[Mutant, ...] = (
    # ---- the sixteen kinds of the issue (on the 3.0.0 code)
    Mutant("execute-twice", OFFICES, "if (p.executed) revert AlreadyExecuted(id);", ""),
    Mutant(
        "double-approval",
        OFFICES,
        "if (_approvals[id][approver] == _offices[approver].epoch + 1) revert AlreadyApproved(id, approver);",
        "",
    ),
    Mutant(
        "anchor-while-suspended",
        OFFICES,
        "active = code != bytes2(0) && _offices[code].status == OfficeStatus.Active;",
        "active = code != bytes2(0);",
    ),
    Mutant("last-signer-removable", OFFICES, "if (_signers[code].length == 1) revert LastSigner(code, signer);", ""),
    Mutant(
        "void-nominations-accepted",
        OFFICES,
        "if ((n.nominator != address(0) && _officeOf[n.nominator] != code) || n.round",
        "if (false && n.round",
        (("if (_nominations[code][nominee].nominator == signer) {", "if (false) {"),),
    ),
    Mutant("freeze-ignored", ANCHORS, "if (frozenAt != 0) revert RegistryFrozen(frozenAt, offices.successor());", ""),
    Mutant("no-expiry", OFFICES, "if (block.number > p.expiresBlock) revert ProposalExpired(id, p.expiresBlock);", ""),
    Mutant(
        "payload-mismatch-accepted",
        OFFICES,
        "if (p.payloadHash != payloadHash) revert PayloadMismatch(id, p.payloadHash, payloadHash);",
        "",
    ),
    Mutant("threshold-off-by-one", OFFICES, "if (approvals < required)", "if (approvals + 1 < required)"),
    Mutant(
        "stale-approvals-count",
        OFFICES,
        "return _isActive(code) && _approvals[id][code] == _offices[code].epoch + 1;",
        "return _isActive(code) && _approvals[id][code] != 0;",
    ),
    Mutant(
        "suspend-below-minimum",
        OFFICES,
        "if (_isActive(code) && _activeCount - 1 < MIN_ACTIVE) revert",
        "if (_isActive(code) && _activeCount < MIN_ACTIVE) revert",
    ),
    Mutant("unsafe-rule-accepted", OFFICES, "&& r.minApprovals >= MIN_ACTIVE", "&& r.minApprovals >= 1"),
    Mutant(
        "suspended-office-votes",
        OFFICES,
        "if (status != OfficeStatus.Active) revert OfficeNotActive(code, status);\n    }\n\n"
        "    /// @dev The caller's office, whatever",
        "status;\n    }\n\n    /// @dev The caller's office, whatever",
    ),
    Mutant(
        "root-reanchored",
        ANCHORS,
        "if (existing.blockNumber != 0) revert RootAlreadyAnchored(root, code, existing.blockNumber);",
        "",
    ),
    Mutant(
        "compromise-ignored",
        OFFICES,
        "if (from != 0 && blockNumber >= from) return false;\n        return wasSignerAt",
        "return wasSignerAt",
    ),
    Mutant(
        "revoked-twice",
        ANCHORS,
        "if (r.reason != 0 && _stands(code, r)) revert AlreadyRevoked(root, bytes32(0), r.reason);",
        "",
    ),
    # ---- the rules of 3.0.0
    Mutant(
        "key-mark-retroactive",
        OFFICES,
        "uint64 fromBlock = uint64(block.number);\n        _checkCompromise",
        "uint64 fromBlock = 1;\n        _checkCompromise",
    ),
    Mutant(
        "key-mark-unattributed",
        OFFICES,
        "_compromise(code, signer, fromBlock, msg.sender);",
        "_compromise(code, signer, fromBlock, address(0));",
    ),
    Mutant("revocation-always-stands", ANCHORS, "return from == 0 || from > r.atBlock;", "return true;"),
    Mutant(
        "revocation-stands-at-mark",
        ANCHORS,
        "return from == 0 || from > r.atBlock;",
        "return from == 0 || from >= r.atBlock;",
    ),
    Mutant(
        "revocation-while-suspended",
        ANCHORS,
        "if (!active) revert NotAnActiveSigner(msg.sender, code);\n        if (_batches",
        "if (_batches",
    ),
    Mutant(
        "revocation-unattributed",
        ANCHORS,
        "_batchRevocations[code][root] = Record(reason, msg.sender, uint64(block.number));",
        "_batchRevocations[code][root] = Record(reason, address(0), uint64(block.number));",
    ),
    Mutant(
        "cascade-off",
        OFFICES,
        "for (uint256 i = 0; i <= MAX_CHAIN; ++i) {",
        "for (uint256 i = 0; i < 0; ++i) {",
    ),
    Mutant("cascade-one-level", OFFICES, "            current = nominator;\n", ""),
    Mutant("cascade-keeps-current-keys", OFFICES, "if (from == 0) continue;", "if (s != signer) continue;"),
    Mutant(
        "no-signer-cap",
        OFFICES,
        "if (_signers[code].length + _pendingList[code].length >= MAX_SIGNERS) {",
        "if (false) {",
    ),
    Mutant(
        "no-chain-cap",
        OFFICES,
        "if (nominator != address(0) && _origins[code][nominator].depth >= MAX_CHAIN) {",
        "if (false) {",
    ),
    Mutant("key-reused", OFFICES, "if (_terms[code][signer].length != 0) revert KeyAlreadyUsed(signer, code);", ""),
    Mutant(
        "lapsed-nominations-kept",
        OFFICES,
        "if (_nominations[code][nominee].nominator == signer) {",
        "if (false) {",
    ),
    Mutant(
        "replace-keeps-pending",
        OFFICES,
        "while (pending.length != 0) _dropNomination(code, pending[pending.length - 1]);",
        "",
    ),
    Mutant(
        "squatted-payload-blocks",
        OFFICES,
        "return !p.executed && !p.cancelled && block.number <= p.expiresBlock && _counts(id, p.proposer);",
        "return !p.executed && !p.cancelled && block.number <= p.expiresBlock;",
    ),
    Mutant(
        "suspended-proposer-executes",
        OFFICES,
        "if (!_counts(id, p.proposer)) revert ProposerNotActive(id, p.proposer);",
        "",
    ),
    Mutant("anyone-cancels", OFFICES, "if (p.proposer != code) revert NotProposer(id, code);", ""),
    Mutant("cancelled-still-live", OFFICES, "if (p.cancelled) revert ProposalIsCancelled(id);", ""),
    Mutant("unanimity", OFFICES, "return need > n - 1 ? n - 1 : need;", "return need > n ? n : need;"),
    Mutant("lone-office", OFFICES, "if (n <= MIN_ACTIVE) return MIN_ACTIVE;", "if (n <= MIN_ACTIVE) return 1;"),
    Mutant(
        "last-key-mark-below-minimum",
        OFFICES,
        "if (was && !_isActive(code) && _activeCount < MIN_ACTIVE) "
        "revert GovernanceWouldStall(_activeCount, MIN_ACTIVE);",
        "",
    ),
    Mutant("no-office-consent", OFFICES, "if (_isActive(code)) revert OfficeConsentMissing(id, code);", ""),
    # ---- the office consent rule of 3.1.0 (the evaluation's governance story)
    Mutant(
        "mark-before-deactivation",
        OFFICES,
        "if (fromBlock <= since) revert MarkBeforeDeactivation(id, code, signer, fromBlock, since);",
        "",
    ),
    Mutant("mark-in-deactivation-block", OFFICES, "if (fromBlock <= since) revert", "if (fromBlock < since) revert"),
    Mutant(
        "deactivation-not-recorded", OFFICES, "            _offices[code].deactivatedAt = uint64(block.number);\n", ""
    ),
    Mutant(
        "frozen-without-consent",
        OFFICES,
        "if (_frozenAt != 0) revert FrozenRegistryConsentMissing(id, code, _frozenAt);",
        "",
    ),
    Mutant("unannounced-without-consent", OFFICES, "emit ActedWithoutConsent(id, action, code);", ""),
    Mutant("freeze-without-code", OFFICES, "if (next.code.length == 0) revert NoCodeAt(next);", ""),
)


#: The unit and fuzz suites first (fast), then the invariants; both at the CI settings of foundry.toml.
PHASES = (("--no-match-contract", "RegistryInvariants"), ("--match-contract", "RegistryInvariants"))
#: A failing sequence is not shrunk here (shrinking makes a kill slower, not more certain).
ENV = {**os.environ, "FOUNDRY_INVARIANT_SHRINK_RUN_LIMIT": "0", "FOUNDRY_FUZZ_SHRINK_RUN_LIMIT": "0"}


def run_forge(tree: Path) -> tuple[bool, float]:
    """``forge test --fail-fast`` in ``tree``, unit suites then invariants; (passed, seconds)."""
    started = time.perf_counter()
    for phase in PHASES:
        proc = subprocess.run(
            [str(FORGE), "test", "--fail-fast", *phase], cwd=tree, env=ENV, capture_output=True, text=True, timeout=900
        )
        out = proc.stdout + proc.stderr
        if proc.returncode != 0 and "Compiler run failed" in out:
            raise RuntimeError(f"the mutated copy does not compile:\n{out[-2000:]}")
        # forge 1.7.1 exits 0 under --fail-fast even when a test failed: read its verdict as well.
        if proc.returncode != 0 or "[FAIL" in out or "Suite result: FAILED" in out:
            return False, time.perf_counter() - started
    return True, time.perf_counter() - started


def copy_tree(into: Path) -> None:
    """The files forge needs, with local-chain linked (not copied)."""
    for name in ("contracts", "tests/foundry"):
        shutil.copytree(REPO / name, into / name)
    shutil.copy2(REPO / "foundry.toml", into / "foundry.toml")
    (into / "local-chain").symlink_to(REPO / "local-chain")


def main() -> int:
    """Run every selected mutant; print killed/survived and the score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("--baseline", action="store_true", help="check the unmutated suite passes first")
    args = parser.parse_args()
    if not FORGE.exists():
        print(f"error: {FORGE} missing: run scripts/setup.sh --dev", file=sys.stderr)
        return 2
    selected = [m for m in MUTANTS if args.k in m.name]
    started = time.perf_counter()
    killed, bad = 0, []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        if args.baseline:
            ok, seconds = run_forge(tree)
            print(f"baseline: {'passes' if ok else 'FAILS'} ({seconds:.1f} s)")
            if not ok:
                return 1
        for m in selected:
            target = tree / m.path
            original = (REPO / m.path).read_text(encoding="utf-8")
            mutated = m.apply(original)
            if mutated is None:
                print(f"{m.name:<40} NOT APPLIED (its text is not in {m.path} exactly once)")
                bad.append(m.name)
                continue
            target.write_text(mutated, encoding="utf-8")
            try:
                passed, seconds = run_forge(tree)
            finally:
                target.write_text(original, encoding="utf-8")
            if passed:
                bad.append(m.name)
            else:
                killed += 1
            print(f"{m.name:<40} {'SURVIVED' if passed else 'killed'} ({seconds:.1f} s)", flush=True)
    total = len(selected)
    score = 100.0 * killed / total if total else 100.0
    print(f"mutation score: {killed}/{total} killed ({score:.0f}%) in {time.perf_counter() - started:.0f} s")
    if bad:
        print("survived or not applied: " + ", ".join(bad))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
