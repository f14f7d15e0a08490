"""The contracts' Foundry suite (fuzz + invariants) and Slither, run from pytest so CI runs them.

Both tools are installed by ``scripts/setup.sh --dev`` (forge from the pinned ``@foundry-rs/forge`` in
local-chain/, slither from the dev extra); a missing tool fails these tests rather than skipping them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORGE = REPO / "local-chain" / "node_modules" / ".bin" / "forge"


@pytest.mark.foundry
def test_forge_suite_passes() -> None:
    assert FORGE.exists(), f"{FORGE} missing: run scripts/setup.sh --dev (npm ci in local-chain/)"
    proc = subprocess.run(
        [str(FORGE), "test"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for name in (
        "invariant_governanceCanAlwaysAct",
        "invariant_onlyActiveApprovalsCount",
        "invariant_batchNeverChanges",
        "invariant_authorisedExactlyWhenValid",
        "invariant_compromisedKeysActsDoNotStand",
        "invariant_everyCallAsPredicted",
        "invariant_noSingleOfficeActsAlone",
        "invariant_recoveryGasIndependentOfTheKeySet",
        "test_N1_keyMarkIsNeverRetroactive",
        "test_N2_thiefRevocationsDoNotStand",
        "test_N3a_keysNominatedByTheThiefAreVoid",
        "test_N3b_signerCap",
        "test_N4_otherPayloadNeverBlocks",
        "test_N5_noOfficeActsAlone",
        "test_N6_noUnanimity",
        "test_N7_rekeyNeedsOwnConsentOrSuspension",
        "test_N8_freezeNeedsACodedSuccessor",
        "test_N9_eventsNameTheActingKey",
        "test_N10_nominationsLapseWithTheirNominator",
        "testFuzz_noPreemption",
        "testFuzz_leafFromValues",
    ):
        assert f"[PASS] {name}" in out, f"{name} did not run:\n{out[-3000:]}"


@pytest.mark.slither
def test_slither_has_no_unexplained_high_or_medium_finding() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "slither_check.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert ", 0 unexplained High/Medium" in proc.stdout
