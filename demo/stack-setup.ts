/**
 * Builds the demo stack in a temp folder: a throwaway PostgreSQL (SCRAM) with the BI database and
 * app role, a Redis with its own config file, the Grafana stand-in, the env file with initial
 * secrets, a .gitignore, and a rekey.yaml covering all five secrets, the deploy script, the session
 * purge and the health and login checks. Every process id is written to `.run/` so `--keep` can leave
 * the stack running and `stop-demo.sh` can stop it by pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, promises as fs, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ALPHANUMERIC, generate } from '../src/core/generate.js';
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
  const dir = await fs.mkdtemp(path.join(base, 'rekey-demo-'));
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
  await fs.writeFile(
    path.join(run, 'pids'),
    `postgres ${pgServer.pid} ${pgServer.dataDir}\nredis ${redis.pid} ${redis.dir}\ngrafana ${grafana.pid}\n`,
  );
  await fs.writeFile(
    path.join(dir, 'stop-demo.sh'),
    `#!/usr/bin/env bash
# Stops the demo stack by pid and removes its folder.
cd ${JSON.stringify(dir)} && bash ${JSON.stringify(path.join(options.repo, 'scripts/deploy.sh'))} stop || true
while read -r name pid extra; do
  case "$name" in
    postgres) kill -INT "$pid" 2>/dev/null ;;
    *) kill -TERM "$pid" 2>/dev/null ;;
  esac
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  [ -n "$extra" ] && rm -rf "$(dirname "$extra")" 2>/dev/null
done < ${JSON.stringify(path.join(run, 'pids'))}
rm -rf ${JSON.stringify(dir)}
echo "demo stack stopped and removed"
`,
    { mode: 0o755 },
  );

  return {
    dir,
    envFile,
    appUrl: `http://127.0.0.1:${appPort}`,
    grafanaUrl,
    pg: pgServer,
    redis,
    grafanaPid: grafana.pid ?? -1,
    initial,
    async stop() {
      try {
        process.kill(grafana.pid ?? -1, 'SIGTERM');
      } catch {
        // already gone
      }
      await Promise.all([pgServer.stop(), redis.stop()]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitFor(url: string, timeoutMs = 15_000): Promise<void> {
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
