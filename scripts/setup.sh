#!/usr/bin/env bash
# Set up a checkout: Python venv with the package (and dev tools with --dev), the pinned anvil + solc
# toolchain in local-chain/ (npm), ape in .venv-ape (--dev or --ape), and Debian chromium for the browser
# tests (--dev). Idempotent and quick when nothing changed: each part is skipped while its stamp (a hash
# of the files that pin it) matches, so a fresh machine (CI) installs everything and a re-run installs
# nothing. It fails (non-zero, one line naming the part) when a required part could not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=run
case "${1:-}" in
  "") ;;
  --dev) mode=dev ;;
  --ape) mode=ape ;;
  *) echo "error: unknown option ${1} (expected --dev, --ape or nothing)" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
fail() { echo "error: setup: $*" >&2; exit 1; }
stamp_of() { cat "$@" 2>/dev/null | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-64; }
fresh() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }  # fresh STAMPFILE VALUE: part already installed

# --- Python venv: the package (+ dev tools) at the versions pyproject.toml pins.
[ -x .venv/bin/python ] || "$PY" -m venv .venv || fail "cannot create .venv with $PY"
extra=evaluate; [ "$mode" = dev ] && extra=dev
want="$extra $("$PY" --version 2>&1) $(stamp_of pyproject.toml)"
if ! fresh .venv/.ipreg-stamp "$want"; then
  rm -f .venv/.ipreg-stamp
  .venv/bin/python -m pip install -q --upgrade pip >.venv/pip.log 2>&1 \
    && .venv/bin/python -m pip install -q -e ".[$extra]" >>.venv/pip.log 2>&1 \
    || { cat .venv/pip.log >&2; fail "pip could not install the package (.[$extra]); log above"; }
  echo "$want" >.venv/.ipreg-stamp
fi
[ "$mode" = run ] && exit 0

# --- ape (evaluators' tool) in its own venv: its pytest plugin must not join the project's pytest run.
[ -x .venv-ape/bin/python ] || "$PY" -m venv .venv-ape || fail "cannot create .venv-ape"
want="ape $("$PY" --version 2>&1) $(stamp_of pyproject.toml)"
if ! fresh .venv-ape/.ipreg-stamp "$want"; then
  rm -f .venv-ape/.ipreg-stamp
  .venv-ape/bin/python -m pip install -q -e ".[ape]" >.venv-ape/pip.log 2>&1 \
    || { cat .venv-ape/pip.log >&2; fail "pip could not install ape (.[ape]); log above"; }
  echo "$want" >.venv-ape/.ipreg-stamp
fi
[ "$mode" = ape ] && exit 0

# --- local-chain toolchain (anvil, forge, solcjs, OpenZeppelin, Hardhat EDR, ganache) from the lockfile.
want="npm $(node --version 2>/dev/null) $(stamp_of local-chain/package.json local-chain/package-lock.json)"
if ! fresh local-chain/node_modules/.ipreg-stamp "$want"; then
  # npm ci refuses this lockfile when the registry mirror lacks anvil's other-platform optional
  # packages; npm install --no-save then installs the same pinned versions without touching it.
  (cd local-chain && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null \
     || npm install --no-save --no-audit --no-fund --loglevel=error; }) || fail "npm could not install local-chain/"
  # Hardhat 3's EDR needs Node >= 22: npm skips its native binding under an older node, so install
  # once more under the pinned node@22 (local-chain/node_modules/node) when the system node is older.
  if [ -x local-chain/node_modules/node/bin/node ] \
     && ! compgen -G "local-chain/node_modules/@nomicfoundation/edr-*-*" >/dev/null; then
    (cd local-chain && export PATH="$PWD/node_modules/node/bin:$PATH" && { npm ci --no-audit --no-fund --loglevel=error \
       2>/dev/null || npm install --no-save --no-audit --no-fund --loglevel=error; }) || fail "npm could not install Hardhat EDR"
  fi
  echo "$want" >local-chain/node_modules/.ipreg-stamp
fi

# --- chromium (browser tests) and wrk (service benchmarks) from Debian, waiting for a busy dpkg lock.
if ! command -v chromium >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and there is no apt-get to install it"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  apt_log=$(mktemp)
  # DPkg::Lock::Timeout: wait up to 5 minutes for another apt/dpkg (e.g. unattended upgrades) to finish.
  if ! { $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq \
         && $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium wrk; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2; rm -f "$apt_log"
    fail "apt-get could not install chromium and wrk (log above); the browser tests need chromium"
  fi
  rm -f "$apt_log"
fi
command -v chromium >/dev/null 2>&1 || fail "chromium is still missing after apt-get install"
