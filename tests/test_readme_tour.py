"""The README's tour, run as a newcomer would: its bash blocks, in their order, in one shell, on anvil.

The blocks are read from README.md, so the README and this test cannot drift apart. Only what
cannot run here is adapted: ``IPREG_HOME`` and ``/tmp`` point into the test's folder, the node gets a
free port, ``scripts/setup.sh`` is not re-run (the suite's set-up did it), the gazette is smaller,
and ``ipreg serve`` (which runs until stopped) is started, asked for ``/health`` and stopped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from registry.node.anvil import free_port

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def tour_blocks() -> list[str]:
    """The ```bash blocks of the README between '## Tour' and the task force's figures."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = text[text.index("## Tour") : text.index("### The task force")]
    return re.findall(r"```bash\n(.*?)```", tour, flags=re.S)


def adapt(script: str, tmp: Path) -> str:
    lines = []
    for line in script.replace("\\\n", " ").splitlines():
        if line.strip().startswith("scripts/setup.sh"):
            continue
        line = re.sub(r"(?<![\w/])/tmp/", f"{tmp}/", line).replace("~/.ipreg", str(tmp / "home"))
        line = line.replace("--count 1000", "--count 30")
        lines.append(line)
    return "\n".join(lines)


def test_tour_blocks_use_the_venv() -> None:
    """Every ipreg command of the tour names the venv's ipreg (a newcomer has no other)."""
    for block in tour_blocks():
        for line in block.splitlines():
            code = line.split("#", 1)[0]
            assert not re.search(r"(^|[\s;(&|$])ipreg\s", code), line


def test_readme_tour_runs_to_the_end(tmp_path: Path) -> None:
    blocks = tour_blocks()
    assert len(blocks) >= 4
    script = adapt("\n".join(blocks), tmp_path)
    serve_lines = [line for line in script.splitlines() if ".venv/bin/ipreg serve" in line]
    assert len(serve_lines) == 1 and script.rstrip().endswith(serve_lines[0].rstrip())
    script = script.replace(serve_lines[0], "")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    env.update(IPREG_RPC_URL=f"http://127.0.0.1:{free_port()}", NO_COLOR="1", PATH=f"{VENV_BIN}:{env['PATH']}")
    home = tmp_path / "home"
    (tmp_path / "tour.sh").write_text(f"set -euo pipefail\n{script}\n", encoding="utf-8")
    try:
        proc = subprocess.run(["bash", str(tmp_path / "tour.sh")], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900, check=False)  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 0, f"tour failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert (tmp_path / "report.html").is_file()
        feed = json.loads((tmp_path / "feed.json").read_text())
        assert feed["ok"] is True and feed["records"] == 30
        tour_env = {**env, "IPREG_HOME": str(home)}
        listed = subprocess.run([str(VENV_BIN / "ipreg"), "office", "list", "--json"], env=tour_env,
                                capture_output=True, text=True, check=False)  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        offices = json.loads(listed.stdout)
        assert {o["code"]: o["status"] for o in offices}["KR"] == "active"
        assert (home / "keys" / "EP.json").is_file() and (home / "keys" / "KR.json").is_file()

        # The service line, last of the tour: it serves until stopped.
        port = free_port()
        serve = serve_lines[0].strip().split()
        serve_proc = subprocess.Popen([*serve, "--port", str(port), "--index-interval", "0"], cwd=ROOT,
                                      env={**tour_env, "IPREG_KEYSTORE_PASSWORD": "a long passphrase"},
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert serve_proc.poll() is None, serve_proc.communicate()[1][-2000:]
                    assert time.monotonic() < deadline, "ipreg serve did not answer /health"
                    time.sleep(0.5)
        finally:
            serve_proc.terminate()
            _, err = serve_proc.communicate(timeout=60)
        assert "Traceback" not in err, err
    finally:
        subprocess.run([str(VENV_BIN / "ipreg"), "chain", "down"], env={**env, "IPREG_HOME": str(home)},
                       capture_output=True, timeout=120, check=False)  # fmt: skip
