#!/usr/bin/env bash
# `npm test`: make sure PostgreSQL and Redis are installed, install node modules when needed, then run
# vitest with any arguments given (e.g. `npm test -- test/smoke`). vitest's global setup
# (test/global-setup.ts) builds dist/ unless it was built from these very sources.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh

# npm writes node_modules/.package-lock.json on every install: older than package-lock.json = stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi

# Throwaway servers live in temp dirs; initdb is two to three times faster on tmpfs. Use /dev/shm
# when it has room (a container's default 64 MB does not: a cluster takes about 40 MB).
if [ -z "${REKEY_STACK_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm_free_kb="$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')"
  if [ "${shm_free_kb:-0}" -ge 2097152 ]; then export REKEY_STACK_TMPDIR=/dev/shm; fi
fi

exec npx vitest run "$@"
