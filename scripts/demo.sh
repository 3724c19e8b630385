#!/usr/bin/env bash
# `npm run demo`: on a fresh Debian machine with Node 20, installs PostgreSQL and Redis when missing
# (as root; otherwise says what to install), installs dependencies, builds, then runs `rekey demo`.
# Arguments go to `rekey demo` (e.g. `npm run demo -- --keep`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh --no-browser
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing dependencies (npm ci)…" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
# Build when the sources are newer than the build (a fresh clone always builds).
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src demo -name '*.ts' -newer dist/src/cli/main.js -print -quit)" ]; then
  echo "building…" >&2
  npm run --silent build >&2
fi

# initdb is two to three times faster on tmpfs; use /dev/shm when it has room.
if [ -z "${REKEY_STACK_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm_free_kb="$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')"
  if [ "${shm_free_kb:-0}" -ge 1048576 ]; then export REKEY_STACK_TMPDIR=/dev/shm; fi
fi

exec node dist/src/cli/main.js demo "$@"
