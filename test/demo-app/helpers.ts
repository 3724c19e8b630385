/**
 * Helpers for the demo app tests: a seeded database on a throwaway PostgreSQL, env files in temp dirs,
 * small HTTP calls, and the built runner (dist/demo/app/cluster.js) as a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import { get } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { seed } from '../../demo/app/schema.js';
import type { RunnerStatus } from '../../demo/app/status.js';
import type { PostgresServer } from '../../demo/stack/postgres.js';
import { asSuperuser, createLoginRole } from '../../demo/stack/postgres-roles.js';
import type { RedisServer } from '../../demo/stack/redis.js';
import { sleep } from '../../demo/stack/wait.js';
import { withRedisClient } from '../helpers/services.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RUNNER = path.join(ROOT, 'dist/demo/app/cluster.js');
export const DATABASE = 'business_intelligence';

/** Polls `check` every 50 ms until it returns true; throws `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A random secret of `bytes` random bytes, URL-safe. */
export const secret = (prefix: string, bytes = 24) => `${prefix}-${randomBytes(bytes).toString('base64url')}`;

/** Creates login role `name` (member of `memberOf` when given). */
export async function addRole(server: PostgresServer, name: string, memberOf?: string): Promise<string> {
  const password = secret(`pg-${name}`);
  await createLoginRole(server, { name, password });
  if (memberOf !== undefined) {
    await asSuperuser(server, (c) =>
      c.query(`GRANT ${pg.escapeIdentifier(memberOf)} TO ${pg.escapeIdentifier(name)}`),
    );
  }
  return password;
}

/**
 * Creates role `bi_app` owning database business_intelligence and seeds it as that role. Returns the
 * values for an env file.
 */
export async function seededDatabase(server: PostgresServer): Promise<Record<string, string>> {
  const user = 'bi_app';
  const password = secret('pg');
  const analyst = secret('analyst', 12);
  await createLoginRole(server, { name: user, password, database: DATABASE });
  const client = new pg.Client({ host: server.host, port: server.port, user, password, database: DATABASE });
  await client.connect();
  try {
    await seed(client, { analystPassword: analyst });
  } finally {
    await client.end();
  }
  return {
    POSTGRES_HOST: server.host,
    POSTGRES_PORT: String(server.port),
    POSTGRES_USER: user,
    POSTGRES_PASSWORD: password,
    POSTGRES_DB: DATABASE,
    DEMO_USER_PASSWORD: analyst,
  };
}

/** The Redis and app secret part of an env file. */
export function appValues(redis: RedisServer, port = 0): Record<string, string> {
  return {
    REDIS_HOST: redis.host,
    REDIS_PORT: String(redis.port),
    REDIS_PASSWORD: redis.password,
    JWT_SECRET: secret('jwt', 32),
    JWT_SECRET_PREVIOUS: '',
    API_SECRET_KEY: secret('api', 32),
    API_SECRET_KEY_PREVIOUS: '',
    APP_HOST: '127.0.0.1',
    APP_PORT: String(port),
    SESSION_TTL: '600',
  };
}

/** Writes an env file (0600) with `values`, atomically (a reader never sees half a file). */
export async function writeEnv(file: string, values: Record<string, string>): Promise<void> {
  const text = `# demo app test env\n${Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.rename(tmp, file);
}

/** Runs commands on a NEW Redis connection with `password`. */
export async function redisCommands(
  redis: RedisServer,
  password: string,
  commands: string[][],
): Promise<unknown[]> {
  return withRedisClient(redis, password, async (client) => {
    const replies: unknown[] = [];
    for (const command of commands) replies.push(await client.sendCommand(command));
    return replies;
  });
}

export interface Answer {
  status: number;
  body: unknown;
}

/** One JSON request. */
export async function call(
  url: string,
  init: { method?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** Throws unless the runner was built after every source file of demo/app last changed. */
export function assertBuilt(): void {
  if (!existsSync(RUNNER)) throw new Error(`${RUNNER} is missing: run \`npm run build\` first`);
  const built = statSync(RUNNER).mtimeMs;
  const dir = path.join(ROOT, 'demo/app');
  const newer = readdirSync(dir).find(
    (f) => f.endsWith('.ts') && statSync(path.join(dir, f)).mtimeMs > built,
  );
  if (newer !== undefined) throw new Error(`dist is older than demo/app/${newer}: run \`npm run build\``);
}

/** A running runner (cluster primary) started as a child process. */
export interface Runner {
  child: ChildProcess;
  stateDir: string;
  pidFile: string;
  logFile: string;
  stderr(): string;
  status(): Promise<RunnerStatus | undefined>;
  /** Waits until the status satisfies `predicate`; throws with the log tail on timeout. */
  waitFor(predicate: (s: RunnerStatus) => boolean, timeoutMs?: number): Promise<RunnerStatus>;
  /** Resolves with the exit code (or signal) once it exited. */
  exited: Promise<number | NodeJS.Signals | null>;
  log(): Promise<string>;
}

/** Starts `node dist/demo/app/cluster.js` with the env file and a state dir in `dir`. */
export function startRunner(dir: string, envFile: string, extra: string[] = []): Runner {
  const stateDir = path.join(dir, 'state');
  const pidFile = path.join(stateDir, 'app.pid');
  const logFile = path.join(stateDir, 'app.log');
  const args = [RUNNER, '--env-file', envFile, '--state', stateDir, '--pidfile', pidFile];
  args.push('--log-file', logFile, ...extra);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  child.stdout?.resume();
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  const status = async () => {
    const text = await fs.readFile(path.join(stateDir, 'app-status.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as RunnerStatus);
  };
  const log = () => fs.readFile(logFile, 'utf8').catch(() => '');
  return {
    child,
    stateDir,
    pidFile,
    logFile,
    stderr: () => stderr,
    status,
    log,
    exited,
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await status();
        if (s !== undefined && predicate(s)) return s;
        if (Date.now() > deadline || child.exitCode !== null) {
          const tail = (await log()).split('\n').slice(-15).join('\n');
          throw new Error(`runner status never matched: ${JSON.stringify(s)}\n${stderr}\n${tail}`);
        }
        await sleep(50);
      }
    },
  };
}

/** The outcome of a load run. */
export interface LoadResult {
  sent: number;
  ok: number;
  failures: string[];
}

/**
 * Sends `GET url` every `intervalMs` without waiting for answers (an open loop), alternating between
 * fetch (a keep-alive pool) and a fresh connection per request, until `stop()`.
 */
export function healthLoad(url: string, intervalMs = 20): { stop(): Promise<LoadResult> } {
  const result: LoadResult = { sent: 0, ok: 0, failures: [] };
  const pending = new Set<Promise<void>>();
  const record = (p: Promise<number>) => {
    const tracked = p.then(
      (status) => {
        if (status === 200) result.ok++;
        else result.failures.push(`status ${status}`);
      },
      (err: unknown) => {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        result.failures.push(`${(err as Error).message} ${cause?.code ?? cause?.message ?? ''}`.trim());
      },
    );
    pending.add(tracked);
    void tracked.finally(() => pending.delete(tracked));
  };
  const fresh = () =>
    new Promise<number>((resolve, reject) => {
      const req = get(url, { agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  const pooled = async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status;
  };
  const timer = setInterval(() => {
    result.sent++;
    record(result.sent % 2 === 0 ? pooled() : fresh());
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
      return result;
    },
  };
}
