/**
 * The playbook done by hand, as an operator following it would, for the zero-downtime benchmark's
 * baseline. Run in the stack's folder: `node dist/bench/naive-rotate.js <grafana-url>`.
 *
 *   1. rotate_secrets.sh's part: new values for the five secrets written into .env.production
 *      (JWT_SECRET_PREVIOUS / API_SECRET_KEY_PREVIOUS stay empty: the playbook has no grace slot);
 *   2. apply them to the live services, since they do not read the file: PostgreSQL `ALTER ROLE …
 *      PASSWORD` (a role has one password), Redis `CONFIG SET requirepass` (replaces it), Grafana
 *      `PUT /api/user/password`;
 *   3. redeploy: `bash scripts/deploy.sh deploy` (the same command rekey runs);
 *   4. invalidate sessions: `redis-cli FLUSHALL`;
 *   5. verify: GET /api/health.
 * Differences from a human with psql/redis-cli, none of which changes what the app sees: the
 * Postgres password is sent as a SCRAM verifier (no plaintext in the server log), and every secret
 * travels over the protocol or in REDISCLI_AUTH, never argv. Prints one JSON document with the step
 * timings on stdout; no secret.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { envValues, parseEnv } from '../src/envfile/index.js';
import { ALPHANUMERIC, generate } from '../src/lib/generate.js';
import { scramVerifier } from '../src/targets/postgres/scram.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENV_FILE = '.env.production';
const password = () => generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC });

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args[0]} exited ${code}`)),
    );
  });
}

async function main(grafanaUrl: string): Promise<void> {
  const steps: Array<{ id: string; ms: number; startedAt: number }> = [];
  const step = async (id: string, fn: () => Promise<unknown>) => {
    const startedAt = performance.timeOrigin + performance.now();
    await fn();
    steps.push({ id, startedAt, ms: performance.timeOrigin + performance.now() - startedAt });
  };
  const text = await readFile(ENV_FILE, 'utf8');
  const old = envValues(parseEnv(text, ENV_FILE));
  const get = (k: string) => old.get(k) ?? '';
  const next: Record<string, string> = {
    JWT_SECRET: randomBytes(64).toString('base64url'),
    API_SECRET_KEY: randomBytes(32).toString('base64url'),
    POSTGRES_PASSWORD: password(),
    REDIS_PASSWORD: password(),
    GRAFANA_ADMIN_PASSWORD: password(),
  };

  await step('write-env-file', () =>
    writeFile(
      ENV_FILE,
      text
        .split('\n')
        .map((line) => {
          const key = /^([A-Z_]+)=/.exec(line)?.[1];
          return key !== undefined && key in next ? `${key}=${next[key]}` : line;
        })
        .join('\n'),
      { mode: 0o600 },
    ),
  );

  await step('postgres-alter-role', async () => {
    const user = get('POSTGRES_USER');
    const client = new pg.Client({
      host: get('POSTGRES_HOST'),
      port: Number(get('POSTGRES_PORT')),
      user,
      password: get('POSTGRES_PASSWORD'),
      database: get('POSTGRES_DB'),
    });
    await client.connect();
    try {
      const verifier = scramVerifier(next.POSTGRES_PASSWORD ?? '');
      await client.query(`ALTER ROLE ${pg.escapeIdentifier(user)} PASSWORD ${pg.escapeLiteral(verifier)}`);
    } finally {
      await client.end();
    }
  });

  await step('redis-config-set-requirepass', async () => {
    const client = createClient({
      socket: { host: get('REDIS_HOST'), port: Number(get('REDIS_PORT')), reconnectStrategy: false },
      password: get('REDIS_PASSWORD'),
    });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.sendCommand(['CONFIG', 'SET', 'requirepass', next.REDIS_PASSWORD ?? '']);
    } finally {
      client.destroy();
    }
  });

  await step('grafana-password', async () => {
    const res = await fetch(`${grafanaUrl}/api/user/password`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`admin:${get('GRAFANA_ADMIN_PASSWORD')}`).toString('base64')}`,
      },
      body: JSON.stringify({
        oldPassword: get('GRAFANA_ADMIN_PASSWORD'),
        newPassword: next.GRAFANA_ADMIN_PASSWORD,
        confirmNew: next.GRAFANA_ADMIN_PASSWORD,
      }),
    });
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`grafana answered ${res.status}`);
  });

  await step('deploy', () => run('bash', [path.join(REPO, 'scripts/deploy.sh'), 'deploy']));

  await step('redis-cli-flushall', () =>
    run('redis-cli', ['-h', get('REDIS_HOST'), '-p', get('REDIS_PORT'), 'FLUSHALL'], {
      PATH: process.env.PATH ?? '',
      REDISCLI_AUTH: next.REDIS_PASSWORD ?? '',
    }),
  );

  await step('verify-health', async () => {
    const res = await fetch(`http://${get('APP_HOST')}:${get('APP_PORT')}/api/health`);
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`health answered ${res.status}`);
  });

  process.stdout.write(`${JSON.stringify({ ok: true, steps })}\n`);
}

main(process.argv[2] ?? '').catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String((err as Error).message) })}\n`);
  process.exit(1);
});
