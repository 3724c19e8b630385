#!/usr/bin/env bash
# Makes sure the programs behind the throwaway test services are installed: redis-server and the
# PostgreSQL server programs (initdb, postgres), plus the `postgres` system user when running as root
# (initdb and postgres refuse to run as root; demo/stack runs them as that user), and Debian's
# `chromium` for the browser tests (test/browser: playwright-core drives it by path, never a browser
# download; REKEY_CHROMIUM names another executable).
# Installs them with apt-get when root; otherwise prints what to install and exits 2.
# Quiet when everything is present. The system-wide services the packages may start (on 5432 and
# 6379) are never used: every test starts its own servers on free ports.
set -euo pipefail

have_postgres() {
  local bindir
  if command -v pg_config >/dev/null 2>&1; then
    bindir="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/postgres" ]; then return 0; fi
  fi
  local initdb
  for initdb in /usr/lib/postgresql/*/bin/initdb; do
    if [ -x "$initdb" ] && [ -x "$(dirname "$initdb")/postgres" ]; then return 0; fi
  done
  return 1
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if ! have_postgres; then
  missing+=(postgresql)
elif [ "$(id -u)" -eq 0 ] && ! getent passwd postgres >/dev/null 2>&1; then
  missing+=(postgresql)
fi
have_chromium() {
  if [ -n "${REKEY_CHROMIUM:-}" ]; then [ -x "$REKEY_CHROMIUM" ]; return; fi
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}
# `--no-browser` (the demo): chromium is for the browser tests only.
browser=yes
[ "${1:-}" = "--no-browser" ] && browser=no
[ "$browser" = no ] || have_chromium || missing+=(chromium)
if [ "$(id -u)" -eq 0 ] && ! command -v setpriv >/dev/null 2>&1; then missing+=(util-linux); fi

if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-services: missing ${missing[*]}; rekey's tests and demo need redis-server and the PostgreSQL server programs (the browser tests chromium)." >&2
  echo "Install them as root, e.g. on Debian/Ubuntu:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
  exit 2
fi

echo "ensure-services: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
command -v redis-server >/dev/null 2>&1 || { echo "ensure-services: redis-server still missing" >&2; exit 1; }
have_postgres || { echo "ensure-services: PostgreSQL server programs still missing" >&2; exit 1; }
[ "$browser" = no ] || have_chromium || { echo "ensure-services: chromium still missing" >&2; exit 1; }
