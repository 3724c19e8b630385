#!/usr/bin/env bash
# The playbook's deploy command for the demo stack: `bash scripts/deploy.sh deploy|rollback|status|stop`.
# Works on the stack in the current directory (the folder of rekey.yaml; rekey runs deploys there):
# the env file `.env.production` (or $REKEY_ENV_FILE) and the app runner's state in `.run/`.
#
#   deploy    start the BI API app (demo/app/cluster.ts), or, when it runs, replace its workers one by
#             one from the current env file (SIGHUP: no dropped request), then wait for health
#   rollback  restore the newest env-file backup and redeploy. Run by hand, that is `rekey rollback`,
#             which returns the LIVE services to the backup's values too (restoring the file alone
#             would lock the app out). Run by rekey during its own rollback (REKEY_PHASE=rollback),
#             rekey has already restored the file (or refused to, if someone edited it): redeploy only
#   status    what runs: pid, generation, workers, health
#   stop      drain and stop the app
#
# No secret is ever put on a command line: the app reads the env file itself.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack="${REKEY_STACK_DIR:-$PWD}"
env_file="${REKEY_ENV_FILE:-$stack/.env.production}"
run_dir="$stack/.run"
pidfile="$run_dir/app.pid"
status_file="$run_dir/app-status.json"
runner="$repo/dist/demo/app/cluster.js"

die() {
  echo "deploy.sh: $1" >&2
  [ $# -gt 1 ] && echo "  → $2" >&2
  exit "${3:-1}"
}

# A non-secret setting of the env file (APP_HOST, APP_PORT).
setting() {
  local line
  line="$(grep -E "^(export )?$1=" "$env_file" | tail -n 1 || true)"
  line="${line#export }"
  line="${line#*=}"
  line="${line%\"}"
  echo "${line#\"}"
}

health_url() { echo "http://$(setting APP_HOST | sed 's/^$/127.0.0.1/'):$(setting APP_PORT | sed 's/^$/8000/')/api/health"; }

# Alive = the process exists and is not a zombie: where pid 1 does not reap (containers without an
# init), a killed runner stays in state Z and `kill -0` still succeeds on it.
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { kill -0 "$1" 2>/dev/null; return; }
  stat="${stat##*) }"
  case "${stat%% *}" in Z | X) return 1 ;; esac
}

# The runner's pid, only while the pid file names a live process running this stack's runner (a
# stale pid file whose pid was reused by another program is never signalled).
running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid="$(cat "$pidfile")"
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  alive "$pid" || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "$runner" || return 1
  fi
  echo "$pid"
}

# Reads a field of the runner's status file with node (no jq on a fresh machine).
status_field() {
  node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const v = process.argv[2].split(".").reduce((o, k) => (o == null ? o : o[k]), s);
    console.log(v == null ? "" : typeof v === "object" ? JSON.stringify(v) : v);' "$status_file" "$1" 2>/dev/null || true
}

wait_healthy() {
  local url deadline
  url="$(health_url)"
  deadline=$((SECONDS + ${DEPLOY_HEALTH_TIMEOUT:-60}))
  while [ $SECONDS -lt $deadline ]; do
    if node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$url"; then
      echo "healthy: $url"
      return 0
    fi
    # The runner gave up (its first workers never became healthy): say why at once.
    if ! running_pid >/dev/null && [ -f "$status_file" ]; then
      die "the app stopped: $(status_field lastReload.error)" "fix the cause (see $run_dir/app.log), then deploy again"
    fi
    sleep 0.2
  done
  die "the app is not healthy at $url" "see $run_dir/app.log (no secrets in it)"
}

deploy() {
  [ -f "$runner" ] || (cd "$repo" && npm run --silent build)
  [ -f "$env_file" ] || die "no env file at $env_file" "run from the stack's folder or set REKEY_ENV_FILE" 2
  mkdir -p "$run_dir"
  chmod 700 "$run_dir"
  local pid
  if pid="$(running_pid)"; then
    local asked
    asked="$(node -e 'console.log(new Date().toISOString())')"
    echo "reloading the app (pid $pid): replacing workers one by one"
    kill -HUP "$pid"
    local deadline=$((SECONDS + ${DEPLOY_RELOAD_TIMEOUT:-90}))
    while [ $SECONDS -lt $deadline ]; do
      local started
      started="$(status_field lastReload.startedAt)"
      if [ -n "$started" ] && [[ ! "$started" < "$asked" ]] && [ -n "$(status_field lastReload.at)" ] \
        && [[ ! "$(status_field lastReload.at)" < "$started" ]]; then
        if [ "$(status_field lastReload.ok)" = "true" ]; then
          echo "reloaded: generation $(status_field generation)"
          wait_healthy
          return 0
        fi
        die "the new workers did not become healthy: $(status_field lastReload.error)" "the old workers keep serving; fix the cause and deploy again"
      fi
      sleep 0.2
    done
    die "no reload finished within ${DEPLOY_RELOAD_TIMEOUT:-90}s" "see $run_dir/app.log"
  fi
  echo "starting the app"
  REKEY_DEMO_ENV_FILE="$env_file" setsid nohup node "$runner" --state "$run_dir" --pidfile "$pidfile" \
    --log-file "$run_dir/app.log" </dev/null >/dev/null 2>&1 &
  local deadline=$((SECONDS + 60))
  until running_pid >/dev/null; do
    [ $SECONDS -lt $deadline ] || die "the app did not start" "see $run_dir/app.log"
    sleep 0.1
  done
  wait_healthy
}

rollback() {
  if [ "${REKEY_PHASE:-}" != "rollback" ]; then
    echo "deploy.sh rollback: restoring the env file alone would lock the app out (the services hold the new values);" >&2
    echo "running \`rekey rollback\`, which returns the live services to the backup's values too" >&2
    exec node "$repo/dist/src/cli/main.js" --config "$stack/rekey.yaml" rollback "$@"
  fi
  deploy
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "app: running, pid $pid, generation $(status_field generation), workers $(status_field workers | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).map(w=>`${w.pid}:${w.state}`).join(" "))}catch{console.log("?")}})')"
    if node -e 'fetch(process.argv[1]).then((r) => { console.log(`health: ${r.status}`); }, () => console.log("health: unreachable"))' "$(health_url)"; then :; fi
  else
    echo "app: not running"
  fi
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid"
    echo "app stopped"
  else
    echo "app: not running"
  fi
}

case "${1:-}" in
  deploy) deploy ;;
  rollback) shift; rollback "$@" ;;
  status) status ;;
  stop) stop ;;
  *) die "usage: bash scripts/deploy.sh deploy|rollback|status|stop" "" 2 ;;
esac
