import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { type GrafanaStandIn, startGrafanaStandIn } from '../../demo/grafana/standin.js';
import { type PostgresServer, startPostgres } from '../../demo/stack/postgres.js';
import { createLoginRole } from '../../demo/stack/postgres-roles.js';
import { type RedisServer, startRedis } from '../../demo/stack/redis.js';
import { JournalStore } from '../../src/engine/journal.js';
import { envValues, parseEnv } from '../../src/envfile/index.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { type CliResult, startCli } from '../engine/stack.js';

export const INITIAL = {
  JWT_SECRET: 'jwtInitialSecretValue0123456789abcdefABCDEF',
  API_SECRET_KEY: 'apiInitialKeyValue0123456789abcdefABCDEF',
  POSTGRES_PASSWORD: 'pgInitialPassword0123456789abcdefAB',
  REDIS_PASSWORD: 'redisInitialPassword0123456789abcdef',
  GRAFANA_ADMIN_PASSWORD: 'grafanaInitialPassword0123456789abc',
} as const;

export interface LiveStack {
  dir: string;
  envFile: string;
  pg: PostgresServer;
  redis: RedisServer;
  grafana: () => GrafanaStandIn;
  /** Restarts the Grafana stand-in on the same port and data file (or starts it after `stopGrafana`). */
  startGrafana(): Promise<void>;
  stopGrafana(): Promise<void>;
  /** Moves the stand-in's clock past the lockout window. */
  forwardClock(ms: number): void;
  run(args: string[], options?: { env?: Record<string, string> }): Promise<CliResult>;
  env(): Promise<Map<string, string>>;
  /** Every value any secret key has held (old and new), for canary scans. */
  seen: Set<string>;
  /** The same, per key. */
  seenBy: Map<string, Set<string>>;
  assertConsistent(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface LiveOptions {
  strongPolicy?: boolean;
  extraConfig?: string;
  redisMode?: 'config' | 'aclfile' | 'cmdline';
}

export async function makeLiveStack(options: LiveOptions = {}): Promise<LiveStack> {
  const dir = await makeOwnedDir('rekey-live-');
  const pgServer = await startPostgres({ logStatementAll: true });
  await createLoginRole(pgServer, {
    name: 'bi_user',
    password: INITIAL.POSTGRES_PASSWORD,
    database: 'business_intelligence',
  });
  const redis = await startRedis({ password: INITIAL.REDIS_PASSWORD, mode: options.redisMode ?? 'config' });
  let offset = 0;
  const now = () => Date.now() + offset;
  const grafanaData = path.join(dir, 'grafana-data', 'grafana.json');
  await fs.mkdir(path.dirname(grafanaData), { recursive: true });
  let grafana: GrafanaStandIn | undefined = await startGrafanaStandIn({
    dataFile: grafanaData,
    initialPassword: INITIAL.GRAFANA_ADMIN_PASSWORD,
    strongPolicy: options.strongPolicy ?? false,
    now,
  });
  const grafanaPort = grafana.port;

  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(
    envFile,
    `# BI stack
JWT_SECRET=${INITIAL.JWT_SECRET}
JWT_SECRET_PREVIOUS=
API_SECRET_KEY=${INITIAL.API_SECRET_KEY}
API_SECRET_KEY_PREVIOUS=
POSTGRES_USER=bi_user
POSTGRES_PASSWORD=${INITIAL.POSTGRES_PASSWORD}
POSTGRES_DB=business_intelligence
REDIS_PASSWORD=${INITIAL.REDIS_PASSWORD}
GRAFANA_ADMIN_PASSWORD=${INITIAL.GRAFANA_ADMIN_PASSWORD}
`,
    { mode: 0o600 },
  );
  await fs.writeFile(path.join(dir, 'deploy.sh'), '#!/bin/sh\necho "deployed $1"\n', { mode: 0o755 });
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    `envFile: .env.production
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: API_SECRET_KEY, type: api-key, previousKey: API_SECRET_KEY_PREVIOUS }
  - { key: POSTGRES_PASSWORD, type: postgres, port: ${pgServer.port}, user: "\${POSTGRES_USER}", database: "\${POSTGRES_DB}", sslmode: disable }
  - { key: REDIS_PASSWORD, type: redis, port: ${redis.port} }
  - { key: GRAFANA_ADMIN_PASSWORD, type: grafana, url: "${grafana.url}", user: admin }
deploy: { command: sh deploy.sh deploy, rollback: sh deploy.sh rollback, timeout: 20s }
verifyPolicy: { deadline: 3s, attemptTimeout: 2s, successes: 1 }
${options.extraConfig ?? ''}
`,
  );

  const seen = new Set<string>();
  const seenBy = new Map<string, Set<string>>();
  const note = (k: string, v: string) => {
    if (!/SECRET|PASSWORD|KEY/.test(k) || v.length < 16) return;
    seen.add(v);
    seenBy.set(k, (seenBy.get(k) ?? new Set()).add(v));
  };
  for (const [k, v] of Object.entries(INITIAL)) note(k, v);
  const readEnv = async () => envValues(parseEnv(await fs.readFile(envFile, 'utf8')));
  const remember = async () => {
    for (const [k, v] of await readEnv()) note(k, v);
    for (const f of await fs.readdir(dir)) {
      if (!f.includes('.backup-')) continue;
      for (const [k, v] of envValues(parseEnv(await fs.readFile(path.join(dir, f), 'utf8')))) note(k, v);
    }
    // Values a crashed rotation generated live only in its journal until recover: collect them too.
    const journal = path.join(dir, '.rekey', 'journal.json');
    if (existsSync(journal)) {
      const j = (await new JournalStore(path.dirname(journal)).read())!;
      for (const t of j.targets) for (const [k, v] of Object.entries(t.new)) note(k, v);
    }
  };

  const stack: LiveStack = {
    dir,
    envFile,
    pg: pgServer,
    redis,
    grafana: () => {
      if (!grafana) throw new Error('grafana stand-in stopped');
      return grafana;
    },
    async startGrafana() {
      await grafana?.close();
      grafana = await startGrafanaStandIn({ dataFile: grafanaData, port: grafanaPort, now });
    },
    async stopGrafana() {
      await grafana?.close();
      grafana = undefined;
    },
    forwardClock(ms) {
      offset += ms;
    },
    async run(args, o = {}) {
      const result = await startCli(args, dir, { ...process.env, NO_COLOR: '1', ...o.env }).done;
      await remember();
      return result;
    },
    env: readEnv,
    seen,
    seenBy,
    async assertConsistent() {
      const env = await readEnv();
      const problems: string[] = [];
      // PostgreSQL: the env file's password logs in; every other value seen does not.
      const pgLogin = async (password: string) => {
        const c = new pg.Client({
          host: '127.0.0.1',
          port: pgServer.port,
          user: env.get('POSTGRES_USER'),
          password,
          database: 'business_intelligence',
        });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } catch {
          return false;
        } finally {
          await c.end().catch(() => {});
        }
      };
      if (!(await pgLogin(env.get('POSTGRES_PASSWORD')!)))
        problems.push('postgres rejects the env file password');
      for (const v of seenBy.get('POSTGRES_PASSWORD') ?? []) {
        if (v !== env.get('POSTGRES_PASSWORD') && (await pgLogin(v)))
          problems.push('postgres accepts another value');
      }
      // Redis: the env file's password works and is the only one.
      const client = createClient({
        socket: { port: redis.port, reconnectStrategy: false },
        password: env.get('REDIS_PASSWORD'),
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const user = (await client.sendCommand(['ACL', 'GETUSER', 'default'])) as unknown[];
        const passwords = user[user.indexOf('passwords') + 1] as unknown[];
        if (passwords.length !== 1) problems.push(`redis holds ${passwords.length} passwords`);
      } catch {
        problems.push('redis rejects the env file password');
      } finally {
        client.destroy();
      }
      // Grafana: the env file's password logs in (probing other values would count toward the lockout).
      const res = await fetch(`${stack.grafana().url}/api/user`, {
        headers: {
          authorization: `Basic ${Buffer.from(`admin:${env.get('GRAFANA_ADMIN_PASSWORD')}`).toString('base64')}`,
        },
      });
      if (res.status !== 200) problems.push(`grafana answers ${res.status} to the env file password`);
      if (existsSync(path.join(dir, '.rekey', 'journal.json'))) problems.push('journal still pending');
      if (problems.length > 0) throw new Error(problems.join('; '));
    },
    async cleanup() {
      await grafana?.close();
      await pgServer.stop();
      await redis.stop();
      await removeOwnedDir(dir);
    },
  };
  return stack;
}
