#!/usr/bin/env bash
# Set up everything (venv, dev tools, local-chain toolchain, chromium) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check registry tests scripts
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
exec .venv/bin/pytest -n 2 "$@"
