"""scripts/setup.sh: a re-run on an installed checkout installs nothing; a missing part fails loudly.

The test command (scripts/test.sh) runs the set-up first, so every part's stamp is fresh here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETUP = REPO / "scripts" / "setup.sh"
STAMPS = (REPO / ".venv" / ".ipreg-stamp", REPO / ".venv-ape" / ".ipreg-stamp")
BASH = shutil.which("bash") or "/bin/bash"
NODE_STAMP = REPO / "local-chain" / "node_modules" / ".ipreg-stamp"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(SETUP), *args], cwd=REPO, capture_output=True, text=True, timeout=600, env=env)


def test_rerun_on_an_installed_checkout_installs_nothing() -> None:
    before = {p: p.read_text() for p in (*STAMPS, NODE_STAMP)}
    proc = _run("--dev")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # no pip, npm or apt-get ran (each prints)
    assert {p: p.read_text() for p in before} == before


def test_unknown_option_is_a_usage_error() -> None:
    proc = _run("--ape-only")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown option --ape-only (expected --dev, --ape or nothing)"


def test_a_missing_browser_without_apt_fails_instead_of_saying_success(tmp_path: Path) -> None:
    """PATH holds every tool set-up uses except chromium and apt-get: it must exit 1 naming chromium."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cat", "dirname", "sha256sum", "cut", "node", "python3", "mktemp", "id", "rm", "wrk"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    proc = _run("--dev", env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: setup: chromium is missing and there is no apt-get to install it"
    )
