#!/usr/bin/env python3
"""Schemathesis (v4, all checks) against a real ``ipreg serve`` server on the embedded chain, with and
without an office token; exits non-zero on any failure.

The server (the guarded uvicorn protocol of ``ipreg serve``) runs in this process on a free port over a
fresh embedded chain with a few anchored EP records, so reads find data; schemathesis runs as its own
process (the ``schemathesis`` CLI of this virtualenv) against ``/openapi.json``.

    .venv/bin/python scripts/fuzz_api.py                        # a few thousand requests
    .venv/bin/python scripts/fuzz_api.py --max-examples 20 --max-time 50   # the CI budget
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.anchor.pipeline import Anchorer
from registry.api import create_app
from registry.api.server import build_server
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import ServiceSettings, Settings
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.node.anvil import free_port
from registry.store.outbox import Store
from registry.store.tokens import create_token

#: Per-operation configuration: an upload's *content* (bytes the schema cannot describe as valid XML/JSON)
#: may be refused with 400 (invalidContent) although its *shape* is schema-valid. On every route a
#: schema-violating body that is also over the route's size limit is refused with 413 before it is parsed.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

[[operations]]
include-path-regex = "^/v1/(verify|offices/\\\\{code\\\\}/records)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]
"""


def start(home: Path) -> tuple[str, str, object]:
    """A server over a fresh embedded chain with anchored samples; (base URL, EP token, server)."""
    settings = Settings(home=home, rpc_url="embedded")
    chain = Chain(connect("embedded"))
    deploy_dev(chain).save(settings.deployment_file)
    store = Store(settings.store_file)
    token = create_token(store, "EP", "fuzz")
    account = dev_signer("EP")
    assert account is not None
    files = generate_gazette(home / "gazette", office="EP", count=6, seed=3, kinds=("st96-patent", "pdf"))
    anchorer = Anchorer(store, chain, account, "EP", home / "manifests")
    anchorer.submit(prepare_files(files))
    anchorer.run(home / "proofs")
    store.close()
    options = ServiceSettings(upload_processes=False, max_upload_bytes=1024 * 1024, batch_wait_seconds=5)
    app = create_app(settings, chain, options)
    port = free_port()
    server = build_server(app, "127.0.0.1", port, log_level="error")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the service did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", token, server


def run(base: str, token: str | None, max_examples: int, max_time: int, workdir: Path, seed: int) -> int:
    """One schemathesis run; its exit status."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    cli = Path(sys.executable).parent / "schemathesis"
    cmd = [str(cli), "--config-file", str(config), "run", f"{base}/openapi.json", "--checks", "all"]
    cmd += ["--max-examples", str(max_examples), "--max-time", str(max_time), "--seed", str(seed)]
    cmd += ["--workers", "1", "--request-timeout", "30", "--suppress-health-check", "all"]
    cmd += ["--warnings", "off", "--continue-on-failure"]
    if token is not None:
        cmd += ["--header", f"Authorization: Bearer {token}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    print("$", " ".join(c if "Bearer" not in c else "Authorization: Bearer <token>" for c in cmd), flush=True)
    return subprocess.run(cmd, env=env, cwd=workdir, check=False).returncode


def main() -> None:
    """Start the server, run schemathesis without and with a token, report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-examples", type=int, default=150, help="examples per operation and phase")
    ap.add_argument("--max-time", type=int, default=600, help="seconds per run (with and without token)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ipreg-fuzz-") as tmp:
        work = Path(tmp)
        base, token, server = start(work / "home")
        try:
            statuses = {
                "without token": run(base, None, args.max_examples, args.max_time, work, args.seed),
                "with token": run(base, token, args.max_examples, args.max_time, work, args.seed),
            }
        finally:
            server.should_exit = True  # type: ignore[attr-defined]
    for name, status in statuses.items():
        print(f"schemathesis {name}: {'no failures' if status == 0 else f'FAILED (exit {status})'}")
    raise SystemExit(0 if all(s == 0 for s in statuses.values()) else 1)


if __name__ == "__main__":
    main()
