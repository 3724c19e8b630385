/**
 * The zero-downtime runner as `scripts/deploy.sh` starts it (the BUILT dist/demo/app/cluster.js, a
 * child process), against a real PostgreSQL and Redis: SIGHUP under load with new credentials drops
 * no request, a reload to unusable credentials keeps the old workers, SIGTERM drains.
 */
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerStatus } from '../../demo/app/status.js';
import { freePort } from '../../demo/stack/ports.js';
import { asSuperuser } from '../../demo/stack/postgres-roles.js';
import { sleep } from '../../demo/stack/wait.js';
import { usePostgres, useRedis } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';
import {
  addRole,
  appValues,
  assertBuilt,
  call,
  healthLoad,
  type Runner,
  redisCommands,
  secret,
  seededDatabase,
  startRunner,
  until,
  writeEnv,
} from './helpers.js';

const postgres = usePostgres();
const redis = useRedis();

const readyPids = (s: RunnerStatus) =>
  s.workers
    .filter((w) => w.state === 'ready')
    .map((w) => w.pid)
    .sort();

describe('the app runner (node:cluster primary)', () => {
  let dir: string;
  let envFile: string;
  let values: Record<string, string>;
  let url: string;
  let runner: Runner;
  /** Every secret value the runner's workers could have seen. */
  const secrets = new Set<string>();

  const hup = async (): Promise<RunnerStatus> => {
    const sent = new Date().toISOString();
    runner.child.kill('SIGHUP');
    return runner.waitFor((s) => s.lastReload !== null && s.lastReload.startedAt >= sent, 40_000);
  };
  const rewriteEnv = async (next: Record<string, string>) => {
    for (const [key, value] of Object.entries(next)) {
      if (/PASSWORD|SECRET/.test(key) && value !== '') secrets.add(value);
    }
    await writeEnv(envFile, next);
  };

  beforeAll(async () => {
    assertBuilt();
    dir = await tempDir('rekey-demo-runner-');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    values = { ...(await seededDatabase(postgres())), ...appValues(redis(), port) };
    envFile = path.join(dir, '.env.production');
    await rewriteEnv(values);
    runner = startRunner(dir, envFile, ['--workers', '2', '--ready-timeout', '20', '--drain-timeout', '5']);
    await runner.waitFor((s) => s.lastReload?.ok === true);
  });

  afterAll(async () => {
    if (runner.child.exitCode === null && runner.child.signalCode === null) {
      runner.child.kill('SIGTERM');
      const timer = setTimeout(() => runner.child.kill('SIGKILL'), 15_000);
      await runner.exited;
      clearTimeout(timer);
    }
    const log = await runner.log();
    expect(log).toContain('generation 2 serving');
    for (const value of secrets) expect(log, 'a secret reached the log').not.toContain(value);
    expect(runner.stderr()).toBe('');
  });

  it('starts generation 1 with two ready workers, its pid in the pidfile', async () => {
    const status = await runner.status();
    expect(status).toMatchObject({
      generation: 1,
      pid: runner.child.pid,
      lastReload: { ok: true, error: null },
    });
    expect(readyPids(status as RunnerStatus)).toHaveLength(2);
    expect(readFileSync(runner.pidFile, 'utf8').trim()).toBe(String(runner.child.pid));
    expect(await call(`${url}/api/health`)).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('replaces its workers on SIGHUP with zero failed requests; the new ones use the new credentials', async () => {
    const before = (await runner.status()) as RunnerStatus;
    const oldRedisPassword = values.REDIS_PASSWORD ?? '';
    const load = healthLoad(`${url}/api/health`, 20);
    await sleep(1000);

    // What a rotation stages: a second valid credential next to each old one.
    const greenPassword = await addRole(postgres(), 'bi_app_green', 'bi_app');
    const newRedisPassword = secret('redis');
    await redisCommands(redis(), oldRedisPassword, [['ACL', 'SETUSER', 'default', `>${newRedisPassword}`]]);
    values = {
      ...values,
      POSTGRES_USER: 'bi_app_green',
      POSTGRES_PASSWORD: greenPassword,
      REDIS_PASSWORD: newRedisPassword,
    };
    await rewriteEnv(values);
    const after = await hup();
    await sleep(1000);
    const result = await load.stop();

    expect(after.lastReload).toMatchObject({ ok: true, generation: 2, error: null });
    expect(after.generation).toBe(2);
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(80);
    const newPids = readyPids(after);
    expect(newPids).toHaveLength(2);
    for (const pid of readyPids(before)) expect(newPids).not.toContain(pid);
    expect(after.workers.every((w) => w.generation === 2)).toBe(true);

    // Retire the old credentials and cut every connection: only workers holding the new ones recover.
    await redisCommands(redis(), newRedisPassword, [
      ['ACL', 'SETUSER', 'default', `<${oldRedisPassword}`],
      ['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'],
    ]);
    await expect(redisCommands(redis(), oldRedisPassword, [['PING']])).rejects.toThrow(/WRONGPASS/);
    await asSuperuser(postgres(), async (c) => {
      await c.query('ALTER ROLE bi_app NOLOGIN');
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'bi_app'");
    });
    await until(async () => (await call(`${url}/api/health`)).status === 200, 'health 200 after the cut');
    for (let i = 0; i < 10; i++) expect((await call(`${url}/api/health`)).status).toBe(200);
    const users = await asSuperuser(postgres(), async (c) => {
      const { rows } = await c.query<{ usename: string }>(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'rekey-demo-app'",
      );
      return rows.map((r) => r.usename);
    });
    expect(users).toEqual(['bi_app_green']);
    const login = await call(`${url}/api/auth/login`, {
      method: 'POST',
      json: { username: 'analyst', password: values.DEMO_USER_PASSWORD },
    });
    expect(login.status).toBe(200);
  });

  it('keeps the old workers serving when the new ones cannot pass their health check', async () => {
    const before = (await runner.status()) as RunnerStatus;
    const load = healthLoad(`${url}/api/health`, 50);
    const attempt = async (next: Record<string, string>, error: RegExp) => {
      await rewriteEnv(next);
      const started = Date.now();
      const failed = await hup();
      expect(failed.lastReload).toMatchObject({ ok: false, generation: before.generation + 1 });
      expect(failed.lastReload?.error).toMatch(error);
      expect(failed.generation).toBe(before.generation);
      expect(readyPids(failed)).toEqual(readyPids(before));
      expect(Date.now() - started, 'a refused credential fails fast').toBeLessThan(15_000);
    };
    await attempt(
      { ...values, REDIS_PASSWORD: secret('redis-wrong') },
      /redis refused the credentials: WRONGPASS/,
    );
    await attempt(
      { ...values, POSTGRES_PASSWORD: secret('pg-wrong') },
      /postgres refused the credentials: password authentication failed for user "bi_app_green"/,
    );
    const { JWT_SECRET: _dropped, ...incomplete } = values;
    await attempt(incomplete, /JWT_SECRET is missing or empty/);
    expect((await load.stop()).failures).toEqual([]);

    await rewriteEnv(values);
    const recovered = await hup();
    expect(recovered).toMatchObject({ generation: before.generation + 1, lastReload: { ok: true } });
  });

  it('drains on SIGTERM: an in-flight request completes, then it exits 0 and removes its pidfile', async () => {
    const body = JSON.stringify({ username: 'analyst', password: values.DEMO_USER_PASSWORD });
    const req = request(`${url}/api/auth/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
      },
    });
    const response = once(req, 'response');
    req.flushHeaders();
    await once(req, 'continue'); // a worker has the request
    runner.child.kill('SIGTERM');
    await runner.waitFor((s) => s.stopping);
    await until(
      () =>
        fetch(`${url}/api/health`).then(
          () => false,
          () => true,
        ),
      'new connections to be refused',
    );
    req.end(body);
    const [res] = (await response) as [import('node:http').IncomingMessage];
    let text = '';
    for await (const chunk of res) text += (chunk as Buffer).toString('utf8');
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ token: expect.any(String) });
    expect(await runner.exited).toBe(0);
    expect(existsSync(runner.pidFile)).toBe(false);
    expect(await runner.status()).toMatchObject({ stopping: true, workers: [] });
  });
});

describe('the app runner, when its first generation never becomes healthy', () => {
  const redisServer = useRedis();

  it('stops, exits 1, says why in the status file and removes its pidfile', async () => {
    assertBuilt();
    const dir = await tempDir('rekey-demo-runner-');
    const envFile = path.join(dir, '.env.production');
    const closedPort = await freePort(); // nothing listens there: connection refused, not an auth error
    await writeEnv(envFile, {
      POSTGRES_PORT: String(closedPort),
      POSTGRES_USER: 'bi_app',
      POSTGRES_PASSWORD: secret('pg'),
      POSTGRES_DB: 'business_intelligence',
      ...appValues(redisServer(), await freePort()),
    });
    const failing = startRunner(dir, envFile, ['--ready-timeout', '2']);
    expect(await failing.exited).toBe(1);
    expect(await failing.status()).toMatchObject({
      generation: 0,
      workers: [],
      lastReload: { ok: false, generation: 1, error: expect.stringMatching(/within 2 s/) },
    });
    expect(existsSync(failing.pidFile)).toBe(false);
  });
});
