#!/usr/bin/env bash
# The playbook's command, kept as written: `bash scripts/rotate_secrets.sh .env.production`.
# A thin wrapper over `rekey rotate` with the rekey.yaml beside the env file (or $REKEY_CONFIG). It
# refuses when that config manages a different env file. Extra arguments go to `rekey rotate`
# (e.g. --trigger compromise --yes).
set -euo pipefail

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: bash scripts/rotate_secrets.sh ENVFILE [rekey rotate options]" >&2
  exit 2
fi
env_file="$1"
shift
if [ ! -f "$env_file" ]; then
  echo "rotate_secrets.sh: ERR_ENVFILE_NOT_FOUND: $env_file does not exist" >&2
  echo "  → pass the env file the stack reads, e.g. .env.production" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="$here/dist/src/cli/main.js"
if [ ! -f "$cli" ]; then
  (cd "$here" && { [ -d node_modules ] || npm ci --silent; } && npm run --silent build)
fi
config="${REKEY_CONFIG:-$(dirname "$env_file")/rekey.yaml}"

# The config must manage this very env file.
managed="$(node --input-type=module -e '
  const { loadConfig } = await import(process.argv[1]);
  const { realpathSync } = await import("node:fs");
  try { const l = await loadConfig(process.argv[2]); console.log(realpathSync(l.envFile)); } catch { console.log(""); }
' "$here/dist/src/config/load.js" "$config")"
if [ -n "$managed" ] && [ "$managed" != "$(realpath "$env_file")" ]; then
  echo "rotate_secrets.sh: ERR_USAGE: $config manages $managed, not $env_file" >&2
  echo "  → set REKEY_CONFIG to the rekey.yaml of $env_file" >&2
  exit 2
fi

exec node "$cli" --config "$config" rotate "$@"
