#!/usr/bin/env bash
# Set up a fresh checkout: Python venv with the package (and dev tools with --dev),
# the pinned anvil + solc toolchain in local-chain/ (npm ci), ape in .venv-ape (--dev), and Debian
# chromium for browser tests (--dev, when apt-get is available and chromium is missing). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_install() {  # quiet unless it fails: then the whole log
  .venv/bin/python -m pip install -q "$@" >.venv/pip.log 2>&1 || { cat .venv/pip.log >&2; exit 1; }
}
pip_install --upgrade pip
if [ "$dev" = 1 ]; then
  pip_install -e ".[dev]"
else
  pip_install -e ".[evaluate]"
fi
if [ "$dev" = 1 ]; then
  # npm ci refuses this lockfile when the registry mirror lacks anvil's other-platform optional
  # packages; npm install --no-save then installs the same pinned versions without touching it.
  (cd local-chain && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null \
     || npm install --no-save --no-audit --no-fund --loglevel=error; })
  # Hardhat 3's EDR needs Node >= 22: npm skips its native binding under an older node, so install
  # once more under the pinned node@22 (local-chain/node_modules/node) when the system node is older.
  if [ -x local-chain/node_modules/node/bin/node ] \
     && ! compgen -G "local-chain/node_modules/@nomicfoundation/edr-*-*" >/dev/null; then
    (cd local-chain && export PATH="$PWD/node_modules/node/bin:$PATH" && { npm ci --no-audit --no-fund --loglevel=error \
       2>/dev/null || npm install --no-save --no-audit --no-fund --loglevel=error; })
  fi
  # ape (evaluators' tool) in its own venv: its pytest plugin must not join the project's pytest run.
  [ -x .venv-ape/bin/python ] || "$PY" -m venv .venv-ape
  .venv-ape/bin/python -m pip install -q -e ".[ape]" >.venv-ape/pip.log 2>&1 || { cat .venv-ape/pip.log >&2; exit 1; }
  if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium wrk >/dev/null) || echo "note: chromium not installed; the browser tests will fail" >&2
  fi
fi
