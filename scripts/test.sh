#!/usr/bin/env bash
# `npm test`: make sure PostgreSQL and Redis are installed, install node modules when needed, then run
# vitest with any arguments given (e.g. `npm test -- test/smoke`). vitest's global setup
# (test/global-setup.ts) builds dist/ unless it was built from these very sources.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh

# Installed from this very lockfile? The stamp is the lockfile's hash, written after `npm ci`
# (a modification time would say "stale" in every fresh checkout, and `npm ci` in a checkout whose
# node_modules is a link to another's would rewrite that other one).
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.rekey-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  if [ -f node_modules/.package-lock.json ] && [ ! -f node_modules/.rekey-lock-sha256 ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    : # installed before stamps existed, and newer than the lockfile: trust it, stamp it below
  else
    npm ci
  fi
  echo "$lock_sum" > node_modules/.rekey-lock-sha256
fi

# Throwaway servers live in temp dirs; initdb is two to three times faster on tmpfs. Use /dev/shm
# when it has room (a container's default 64 MB does not: a cluster takes about 40 MB).
if [ -z "${REKEY_STACK_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm_free_kb="$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')"
  if [ "${shm_free_kb:-0}" -ge 2097152 ]; then export REKEY_STACK_TMPDIR=/dev/shm; fi
fi

exec npx vitest run "$@"
