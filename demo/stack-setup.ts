/**
 * Builds the demo stack in a temp folder: a throwaway PostgreSQL (SCRAM) with the BI database and
 * app role, a Redis with its own config file, the Grafana stand-in, the env file with initial
 * secrets, a .gitignore, and a rekey.yaml covering all five secrets, the deploy script, the session
 * purge and the health and login checks. Every process id is written to `.run/` so `--keep` can leave
 * the stack running and `stop-demo.sh` can stop it by pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, promises as fs, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ALPHANUMERIC, generate } from '../src/lib/generate.js';
import { makeOwnedDir, OWNED_MARKER, OWNED_MARKER_HEADER, removeOwnedDir } from '../src/lib/owned-dir.js';
import { seed } from './app/schema.js';
import { freePort } from './stack/ports.js';
import { type PostgresServer, startPostgres } from './stack/postgres.js';
import { createLoginRole } from './stack/postgres-roles.js';
import { type RedisServer, startRedis } from './stack/redis.js';

export interface DemoStack {
  readonly dir: string;
  readonly envFile: string;
  readonly appUrl: string;
  readonly grafanaUrl: string;
  readonly pg: PostgresServer;
  readonly redis: RedisServer;
  readonly grafanaPid: number;
  /** The initial values (kept in memory only, to prove the old ones are rejected later). */
  readonly initial: Readonly<Record<string, string>>;
  /** The keys rekey.yaml rotates. */
  readonly rotated: readonly string[];
  /** The servers it started, as `.run/pids` and stop-demo.sh list them. */
  readonly servers: readonly DemoProcess[];
  stop(): Promise<void>;
}

const password = () => generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC });

/**
 * @example
 * const stack = await setUpDemoStack({ repo, keep: false });
 * await stack.stop();
 */
export async function setUpDemoStack(options: { repo: string; keep: boolean }): Promise<DemoStack> {
  const base = process.env.REKEY_STACK_TMPDIR ?? os.tmpdir();
  const dir = await makeOwnedDir('rekey-demo-', { base });
  // A set-up that fails half-way stops what it started (servers kept for --keep included) and
  // removes its folder: nothing is left running or lying around.
  const undo: Array<() => unknown> = [];
  try {
    return await buildStack(options, dir, undo);
  } catch (error) {
    for (const step of undo.reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => {});
    await removeOwnedDir(dir).catch(() => {});
    throw error;
  }
}

type Options = { repo: string; keep: boolean };

async function buildStack(options: Options, dir: string, undo: Array<() => unknown>): Promise<DemoStack> {
  const run = path.join(dir, '.run');
  await fs.mkdir(run, { mode: 0o700 });
  const initial = {
    JWT_SECRET: randomBytes(64).toString('base64url'),
    API_SECRET_KEY: randomBytes(32).toString('base64url'),
    POSTGRES_PASSWORD: password(),
    REDIS_PASSWORD: password(),
    GRAFANA_ADMIN_PASSWORD: password(),
    DEMO_USER_PASSWORD: password(),
  };

  const pgServer = await startPostgres({ persistent: options.keep });
  undo.push(() => pgServer.stop());
  await createLoginRole(pgServer, {
    name: 'bi_user',
    password: initial.POSTGRES_PASSWORD,
    database: 'business_intelligence',
  });
  const client = new pg.Client({
    host: '127.0.0.1',
    port: pgServer.port,
    user: 'bi_user',
    password: initial.POSTGRES_PASSWORD,
    database: 'business_intelligence',
  });
  await client.connect();
  try {
    await seed(client, { analystPassword: initial.DEMO_USER_PASSWORD });
  } finally {
    await client.end();
  }
  const redis = await startRedis({
    password: initial.REDIS_PASSWORD,
    mode: 'config',
    persistent: options.keep,
  });
  undo.push(() => redis.stop());

  const grafanaPort = await freePort();
  await fs.mkdir(path.join(dir, 'grafana'), { recursive: true, mode: 0o700 });
  const grafanaLog = openSync(path.join(run, 'grafana.log'), 'a', 0o600);
  const grafana: ChildProcess = spawn(
    process.execPath,
    [
      path.join(options.repo, 'dist/demo/grafana/main.js'),
      '--port',
      String(grafanaPort),
      '--data',
      path.join(dir, 'grafana', 'grafana.json'),
    ],
    {
      // Like GF_SECURITY_ADMIN_PASSWORD in the Grafana container: read on first start only.
      env: { PATH: process.env.PATH ?? '', GF_SECURITY_ADMIN_PASSWORD: initial.GRAFANA_ADMIN_PASSWORD },
      stdio: ['ignore', grafanaLog, grafanaLog],
      detached: true,
    },
  );
  closeSync(grafanaLog);
  undo.push(() => grafana.kill('SIGTERM'));
  if (options.keep) grafana.unref();
  const grafanaUrl = `http://127.0.0.1:${grafanaPort}`;
  await waitFor(`${grafanaUrl}/api/health`);

  const appPort = await freePort();
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(
    envFile,
    [
      '# BI stack — production settings (demo)',
      'APP_HOST=127.0.0.1',
      `APP_PORT=${appPort}`,
      'POSTGRES_HOST=127.0.0.1',
      `POSTGRES_PORT=${pgServer.port}`,
      'POSTGRES_USER=bi_user',
      `POSTGRES_PASSWORD=${initial.POSTGRES_PASSWORD}`,
      'POSTGRES_DB=business_intelligence',
      'REDIS_HOST=127.0.0.1',
      `REDIS_PORT=${redis.port}`,
      `REDIS_PASSWORD=${initial.REDIS_PASSWORD}`,
      `JWT_SECRET=${initial.JWT_SECRET}`,
      'JWT_SECRET_PREVIOUS=',
      `API_SECRET_KEY=${initial.API_SECRET_KEY}`,
      'API_SECRET_KEY_PREVIOUS=',
      `GRAFANA_ADMIN_PASSWORD=${initial.GRAFANA_ADMIN_PASSWORD}`,
      `DEMO_USER_PASSWORD=${initial.DEMO_USER_PASSWORD}`,
      'SESSION_TTL=3600',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await fs.writeFile(
    path.join(dir, '.gitignore'),
    '.env.production\n.env.production.backup-*\n.rekey/\n.run/\n',
  );
  const deploy = `bash ${JSON.stringify(path.join(options.repo, 'scripts/deploy.sh'))}`;
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    `# The demo stack: every secret of the playbook, on live services.
envFile: .env.production
stack: demo
policy: { maxAge: 90d, warnBefore: 14d, releaseMaxAge: 30d }
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: API_SECRET_KEY, type: api-key, previousKey: API_SECRET_KEY_PREVIOUS }
  - { key: POSTGRES_PASSWORD, type: postgres, host: 127.0.0.1, port: ${pgServer.port}, user: "\${POSTGRES_USER}", database: business_intelligence, sslmode: disable }
  - { key: REDIS_PASSWORD, type: redis, host: 127.0.0.1, port: ${redis.port} }
  - { key: GRAFANA_ADMIN_PASSWORD, type: grafana, url: "${grafanaUrl}", user: admin }
deploy:
  command: ${deploy} deploy
  rollback: ${deploy} rollback
  timeout: 2m
sessions:
  redis: { patterns: ["session:*"], on: [compromise, personnel] }
verify:
  - { name: App Health, http: "http://127.0.0.1:${appPort}/api/health", expect: 200 }
  - { name: Auth, login: { url: "http://127.0.0.1:${appPort}/api/auth/login", body: { username: analyst, password: "\${DEMO_USER_PASSWORD}" } }, jwtKey: JWT_SECRET }
verifyPolicy: { deadline: 60s, attemptTimeout: 5s, successes: 2 }
`,
  );
  const servers: DemoProcess[] = [
    { name: 'grafana', pid: grafana.pid ?? -1, signal: 'TERM' },
    { name: 'redis', pid: redis.pid, signal: 'TERM', dir: redis.dir },
    { name: 'postgres', pid: pgServer.pid, signal: 'INT', dir: pgServer.dir },
  ].map((p) => ({ ...p, started: processStarted(p.pid) }) as DemoProcess);
  await writeStopFiles(options.repo, dir, servers);
  return {
    dir,
    envFile,
    appUrl: `http://127.0.0.1:${appPort}`,
    grafanaUrl,
    pg: pgServer,
    redis,
    grafanaPid: grafana.pid ?? -1,
    initial,
    rotated: [
      'JWT_SECRET',
      'API_SECRET_KEY',
      'POSTGRES_PASSWORD',
      'REDIS_PASSWORD',
      'GRAFANA_ADMIN_PASSWORD',
    ],
    servers,
    async stop() {
      try {
        process.kill(grafana.pid ?? -1, 'SIGTERM');
      } catch {
        // already gone
      }
      await Promise.all([pgServer.stop(), redis.stop()]);
      await removeOwnedDir(dir);
    },
  };
}

/** Polls `url` until it answers 2xx; throws after `timeoutMs`. */
export async function waitFor(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A server the demo started, as stop-demo.sh stops it. */
export interface DemoProcess {
  readonly name: string;
  readonly pid: number;
  /** Its start time (field 22 of /proc/<pid>/stat); '' where /proc is missing. */
  readonly started: string;
  readonly signal: 'TERM' | 'INT';
  /** Its own marked temp dir, removed after it stopped. */
  readonly dir?: string;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), '' where /proc is missing. */
export function processStarted(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/**
 * `.run/pids` (for people and tests; stop-demo.sh does not read it) and stop-demo.sh for `servers`.
 *
 * @example
 * await writeStopFiles(repo, stack.dir, [vault, ...stack.servers]);
 */
export async function writeStopFiles(
  repo: string,
  dir: string,
  servers: readonly DemoProcess[],
): Promise<void> {
  await fs.writeFile(
    path.join(dir, '.run', 'pids'),
    servers.map((p) => `${p.name} ${p.pid} ${p.started || '-'} ${p.dir ?? '-'}\n`).join(''),
  );
  await fs.writeFile(path.join(dir, 'stop-demo.sh'), stopScript({ repo, dir, servers }), { mode: 0o755 });
}

/** Quotes a string for bash (single quotes; nothing inside is expanded). */
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The script `--keep` leaves beside the stack. It stops each server by pid only if that pid still
 * belongs to the process the demo started (same start time: pids are reused), then removes exactly
 * the folders listed here — each only if it still holds the marker rekey wrote when it created it
 * (src/lib/owned-dir.ts), naming that very folder. It never computes a parent folder.
 */
export function stopScript(o: { repo: string; dir: string; servers: readonly DemoProcess[] }): string {
  const dirs = [...o.servers.flatMap((p) => (p.dir === undefined ? [] : [p.dir])), o.dir];
  return `#!/usr/bin/env bash
# Stops the rekey demo stack and removes its folders (generated by rekey demo --keep).
# Removes only the folders listed below, each only while it holds the ${OWNED_MARKER} marker naming it.
set -u
failed=0

# Field N (3 = state, 22 = start time) of /proc/PID/stat, empty when unknown.
stat_field() {
  local stat fields
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  read -r -a fields <<<"\${stat##*) }"
  echo "\${fields[$(($2 - 3))]:-}"
}
started() { stat_field "$1" 22; }
# True while PID runs (a zombie nobody reaped yet has ended).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  case "$(stat_field "$1" 3)" in Z | X) return 1 ;; esac
}

# stop_server NAME PID START SIGNAL: stops it only while PID is still the process the demo started.
stop_server() {
  local name="$1" pid="$2" want="$3" signal="$4"
  alive "$pid" || return 0
  if [ -n "$want" ] && [ "$(started "$pid")" != "$want" ]; then
    echo "stop-demo.sh: pid $pid is no longer the demo's $name (it was reused): not killed" >&2
    return 0
  fi
  kill "-$signal" "$pid" 2>/dev/null
  for _ in $(seq 1 100); do alive "$pid" || return 0; sleep 0.1; done
  echo "stop-demo.sh: the demo's $name (pid $pid) did not stop on SIG$signal: killing it" >&2
  kill -KILL "$pid" 2>/dev/null
  for _ in $(seq 1 50); do alive "$pid" || return 0; sleep 0.1; done
}

# remove_owned DIR: removes DIR only if it is a real folder (not a link) holding our marker naming it:
# everything in it first, then this script and the marker, then the folder; so a removal cut short
# (kill -9, a power cut) leaves the marker, and this script, to run again.
remove_owned() {
  local dir="$1" marker="$1/${OWNED_MARKER}" real header owner
  [ -e "$dir" ] || [ -L "$dir" ] || return 0
  refuse() { echo "stop-demo.sh: refusing to remove $dir: $1 (nothing removed)" >&2; failed=1; }
  if [ -L "$dir" ] || [ ! -d "$dir" ]; then refuse "not a folder"; return; fi
  real="$(cd -P -- "$dir" && pwd -P)" || { refuse "cannot enter it"; return; }
  case "$real" in
    / | /tmp | /var/tmp | /dev/shm | "\${HOME:-/}" | "\${TMPDIR:-/tmp}") refuse "a protected folder"; return ;;
  esac
  if [ -L "$marker" ] || [ ! -f "$marker" ] || [ ! -O "$marker" ]; then
    refuse "no ${OWNED_MARKER} marker of ours in it"
    return
  fi
  { IFS= read -r header; IFS= read -r owner; } <"$marker"
  if [ "$header" != ${shq(OWNED_MARKER_HEADER)} ] || [ "$owner" != "$real" ] || [ "$real" != "$dir" ]; then
    refuse "its marker names another folder"
    return
  fi
  find "$real" -mindepth 1 -maxdepth 1 ! -name ${shq(OWNED_MARKER)} ! -name stop-demo.sh -exec rm -rf -- {} + &&
    rm -f -- "$real/stop-demo.sh" "$marker" && rmdir -- "$real" ||
    { echo "stop-demo.sh: could not remove all of $dir" >&2; failed=1; }
}

cd ${shq(o.dir)} && bash ${shq(path.join(o.repo, 'scripts/deploy.sh'))} stop || true
${o.servers.map((p) => `stop_server ${p.name} ${p.pid} ${shq(p.started)} ${p.signal}`).join('\n')}
cd /
${dirs.map((d) => `remove_owned ${shq(d)}`).join('\n')}
if [ "$failed" = 0 ]; then echo "demo stack stopped and removed"; else exit 1; fi
`;
}
