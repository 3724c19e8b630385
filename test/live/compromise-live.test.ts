/**
 * The attacker test of `rekey rotate --trigger compromise --break-glass` (issue 12) on the demo stack
 * (real PostgreSQL, Redis, the Grafana stand-in, the demo app deployed by scripts/deploy.sh, PostgreSQL
 * on alternating roles as in bench/zero-downtime.ts) with approvals configured, so only break-glass
 * may rotate at once. The attacker acts first, with what was stolen (the env file's values): adds
 * their own Redis password, keeps a Redis connection open, keeps a PostgreSQL session open, holds a
 * JWT and the API key. Meanwhile a separate process loads the app (bench/load.ts, ~100 requests/s
 * over health, reports and me); once the rotation purged the sessions it switches to a fresh login
 * and the new API key, so the app's session reads are under load when Redis closes its connections.
 * Then every foothold must be gone, the output must carry the eviction report, and the load must
 * have seen 0 failed requests: 401 counts as expected only for a credential the rotation revoked.
 *
 * Grafana: the stack's Grafana password was rotated once before (a scheduled rotation, so rekey holds
 * the list of service-account tokens), and the config sets `deleteTokensOnCompromise: true`. With the
 * stolen admin password the attacker signs in (keeps the `grafana_session` cookie) and creates a
 * service-account token: afterwards both answer 401, and the `--json` eviction section says the
 * session was revoked and names the token as deleted. (Before the Grafana target revoked anything,
 * its finish did nothing: both kept answering 200.)
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMap, isSeq, parseDocument } from 'yaml';
import type { LoadCredentials, LoadStart, RequestRecord } from '../../bench/load.js';
import { useAlternatingRoles } from '../../bench/stack.js';
import { appLogin, appMe, appReports, redisLogin } from '../../demo/probes.js';
import { type DemoStack, setUpDemoStack } from '../../demo/stack-setup.js';
import { JournalStore } from '../../src/engine/journal.js';
import { envValues, parseEnv } from '../../src/envfile/index.js';
import type { EvictionFinding } from '../../src/targets/types.js';
import { startCli } from '../engine/stack.js';
import { EMAIL, makeSigners } from '../governance/helpers.js';
import { record } from '../helpers/resilience.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LOAD = path.join(REPO, 'dist/bench/load.js');
const SUITE = 'live compromise (attacker with the stolen env file, app under load)';
const ATTACKER_REDIS_PASSWORD = 'attackerOwnRedisPassword0123456789';
const ATTACKER_SERVICE_ACCOUNT = 'backup-exporter';
const RATE = 100;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the attacker left behind: planted before the rotation (asserting it works), observed after. */
interface Foothold {
  readonly service: string;
  readonly foothold: string;
  /** What the observation must be once the foothold is gone. */
  readonly gone: string | number;
  plant(): Promise<void>;
  observe(): Promise<string | number>;
}

function startLoad(start: Omit<LoadStart, 'type'>) {
  const child: ChildProcess = fork(LOAD, [], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let started: () => void = () => {};
  const running = new Promise<void>((r) => {
    started = r;
  });
  const done = new Promise<RequestRecord[]>((resolve, reject) => {
    child.on('message', (m: { type: string; requests?: RequestRecord[]; message?: string }) => {
      if (m.type === 'started') started();
      else if (m.type === 'done') resolve(m.requests ?? []);
      else if (m.type === 'error') reject(new Error(`load generator: ${m.message}`));
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited ${code}`));
    });
  });
  child.send({ type: 'start', ...start } satisfies LoadStart);
  return {
    running,
    switchTo: (c: Omit<LoadCredentials, 'type'>) => child.send({ type: 'credentials', ...c }),
    release: () => child.send({ type: 'release' }),
    done,
    kill: () => child.kill('SIGKILL'),
  };
}

const deployScript = (dir: string, what: 'deploy' | 'stop') =>
  new Promise<number | null>((resolve) => {
    const child = spawn('bash', [path.join(REPO, 'scripts/deploy.sh'), what], { cwd: dir, stdio: 'ignore' });
    child.on('close', resolve);
  });

describe('compromise rotation against an attacker holding the stolen env file', () => {
  let stack: DemoStack;
  const cleanups: Array<() => unknown> = [];
  beforeAll(async () => {
    stack = await setUpDemoStack({ repo: REPO, keep: false });
    cleanups.push(() => stack.stop());
    await useAlternatingRoles(stack);
    await makeSigners(stack.dir);
    const config = path.join(stack.dir, 'rekey.yaml');
    const doc = parseDocument(await fs.readFile(config, 'utf8'));
    const secrets = doc.get('secrets');
    const grafana = isSeq(secrets)
      ? secrets.items.find((item) => isMap(item) && item.get('key') === 'GRAFANA_ADMIN_PASSWORD')
      : undefined;
    if (!isMap(grafana)) throw new Error('the demo rekey.yaml has no GRAFANA_ADMIN_PASSWORD secret');
    grafana.set('deleteTokensOnCompromise', true);
    // 20 healthy checks in a row (200 ms apart) after the purge: time for the load to log in again
    // before the finish closes the Redis connections.
    doc.set(
      'verifyPolicy',
      doc.createNode({ deadline: '60s', attemptTimeout: '5s', successes: 20 }, { flow: true }),
    );
    const yaml = doc.toString({ lineWidth: 0 });
    await fs.writeFile(config, yaml);
    expect(yaml).toContain('sessions:');
    expect(await deployScript(stack.dir, 'deploy')).toBe(0);
    cleanups.push(() => deployScript(stack.dir, 'stop'));
    // A scheduled rotation of the Grafana password before (no approvals yet): rekey keeps the list
    // of service-account tokens, so the compromise rotation can tell which ones are new.
    const scheduled = await startCli(['rotate', '--only', 'GRAFANA_ADMIN_PASSWORD', '--yes'], stack.dir, {
      ...process.env,
      NO_COLOR: '1',
    }).done;
    expect(scheduled.code, scheduled.stderr).toBe(0);
    await fs.appendFile(
      config,
      `approvals:
  require: [security-lead, devops-lead]
  allowedSigners: allowed_signers
  roles:
    security-lead: [${EMAIL.alice}]
    devops-lead: [${EMAIL.bob}]
`,
    );
  }, 180_000);
  afterAll(async () => {
    for (const c of cleanups.reverse())
      await Promise.resolve()
        .then(c)
        .catch(() => {});
  });

  it('every foothold is gone, the output says so, and the app under load saw 0 failed requests', async () => {
    const env = envValues(parseEnv(await fs.readFile(stack.envFile, 'utf8')));
    const stolen = Object.fromEntries(env) as Record<string, string>;
    const redisPort = Number(stolen.REDIS_PORT);
    const pgPort = Number(stolen.POSTGRES_PORT);
    const cli = (args: string[]) => startCli(args, stack.dir, { ...process.env, NO_COLOR: '1' }).done;

    // Approvals are configured: without --break-glass, a compromise rotation is refused.
    const refused = await cli(['rotate', '--trigger', 'compromise', '--yes']);
    expect(refused.code, refused.stderr).not.toBe(0);
    expect(refused.stderr).toMatch(/approv/i);

    const login = await appLogin(stack.appUrl, stolen.DEMO_USER_PASSWORD!);
    expect(login.status).toBe(200);
    const oldToken = login.token ?? '';

    // The attacker's kept Redis connection (no reconnect: a closed one stays closed).
    const kept = createClient({
      socket: { host: '127.0.0.1', port: redisPort, reconnectStrategy: false },
      password: stolen.REDIS_PASSWORD,
    });
    kept.on('error', () => {});
    cleanups.push(() => kept.destroy());
    // The attacker's kept PostgreSQL session.
    const session = new pg.Client({
      host: '127.0.0.1',
      port: pgPort,
      user: stolen.POSTGRES_USER,
      password: stolen.POSTGRES_PASSWORD,
      database: 'business_intelligence',
    });
    const sessionErrors: string[] = [];
    session.on('error', (e: Error & { code?: string }) => sessionErrors.push(e.code ?? e.message));
    cleanups.push(() => session.end());
    let sessionPid = 0;
    // The attacker's Grafana footholds: a signed-in session (its cookie) and a token they minted.
    let grafanaCookie = '';
    let grafanaToken = '';

    const footholds: Foothold[] = [
      {
        service: 'Redis',
        foothold: 'password the attacker added to the rotated user',
        gone: 'WRONGPASS',
        async plant() {
          await kept.connect();
          await kept.sendCommand(['ACL', 'SETUSER', 'default', `>${ATTACKER_REDIS_PASSWORD}`]);
          expect(await redisLogin(redisPort, ATTACKER_REDIS_PASSWORD)).toBe('PONG');
        },
        observe: () => redisLogin(redisPort, ATTACKER_REDIS_PASSWORD),
      },
      {
        service: 'Redis',
        foothold: 'connection the attacker kept open',
        gone: 'closed',
        async plant() {
          expect(await kept.set('attacker:kept', '1')).toBe('OK');
        },
        observe: () =>
          kept.ping().then(
            () => 'still answers',
            () => 'closed',
          ),
      },
      {
        service: 'PostgreSQL',
        foothold: 'session the attacker kept open',
        gone: 'terminated',
        async plant() {
          await session.connect();
          sessionPid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        },
        async observe() {
          const answered = await session.query('SELECT 1').then(
            () => true,
            () => false,
          );
          const alive = await pgAlive(stack, sessionPid);
          return answered || alive ? 'still open' : 'terminated';
        },
      },
      {
        service: 'JWT',
        foothold: 'token signed with the stolen secret',
        gone: 401,
        async plant() {
          expect(await appMe(stack.appUrl, oldToken)).toBe(200);
        },
        observe: () => appMe(stack.appUrl, oldToken),
      },
      {
        service: 'API key',
        foothold: 'the stolen key',
        gone: 401,
        async plant() {
          expect(await appReports(stack.appUrl, stolen.API_SECRET_KEY!)).toBe(200);
        },
        observe: () => appReports(stack.appUrl, stolen.API_SECRET_KEY!),
      },
      {
        service: 'Grafana',
        foothold: 'session the attacker signed in with the stolen password',
        gone: 401,
        async plant() {
          grafanaCookie = await grafanaSignIn(stack.grafanaUrl, stolen.GRAFANA_ADMIN_PASSWORD!);
          expect(await grafanaStatus(stack.grafanaUrl, { cookie: grafanaCookie })).toBe(200);
        },
        observe: () => grafanaStatus(stack.grafanaUrl, { cookie: grafanaCookie }),
      },
      {
        service: 'Grafana',
        foothold: 'service-account token the attacker created (deleteTokensOnCompromise: true)',
        gone: 401,
        async plant() {
          grafanaToken = await grafanaMintToken(stack.grafanaUrl, grafanaCookie, ATTACKER_SERVICE_ACCOUNT);
          expect(await grafanaStatus(stack.grafanaUrl, { authorization: `Bearer ${grafanaToken}` })).toBe(
            200,
          );
        },
        observe: () => grafanaStatus(stack.grafanaUrl, { authorization: `Bearer ${grafanaToken}` }),
      },
    ];
    for (const f of footholds) await f.plant();

    // Tokens for the load, with their sessions, from before the rotation.
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++)
      tokens.push((await appLogin(stack.appUrl, stolen.DEMO_USER_PASSWORD!)).token ?? '');
    const load = startLoad({
      url: stack.appUrl,
      apiKey: stolen.API_SECRET_KEY!,
      tokens,
      rate: RATE,
      seconds: 5,
    });
    cleanups.push(load.kill);
    await load.running;
    await sleep(1500);

    const rotationStart = Date.now();
    const rotation = cli([
      'rotate',
      '--trigger',
      'compromise',
      '--break-glass',
      'env file stolen',
      '--yes',
      '--json',
    ]);
    // Once the old sessions are purged (after the deploy), the load switches to a fresh login and the
    // new API key: the app's session reads then run across the finish, where Redis closes connections.
    let switchedAt = 0;
    const journal = path.join(stack.dir, '.rekey', 'journal.json');
    const switcher = (async () => {
      for (;;) {
        const steps =
          (await new JournalStore(path.dirname(journal)).read().catch(() => undefined))?.steps ?? [];
        if (steps.some((s) => s.id === 'invalidate:sessions' && s.state === 'done')) break;
        if (Date.now() - rotationStart > 120_000) return;
        await sleep(20);
      }
      const now = envValues(parseEnv(await fs.readFile(stack.envFile, 'utf8')));
      const fresh: string[] = [];
      for (let i = 0; i < 5; i++)
        fresh.push((await appLogin(stack.appUrl, now.get('DEMO_USER_PASSWORD')!)).token ?? '');
      load.switchTo({ apiKey: now.get('API_SECRET_KEY')!, tokens: fresh });
      switchedAt = Date.now();
    })();
    const r = await rotation;
    const rotationEnd = Date.now();
    await switcher;
    await sleep(2000); // failures that show only after the rotation count too
    load.release();
    const records = await load.done;

    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      eviction?: EvictionFinding[];
      steps: Array<{ id: string; startedAt?: string; ms?: number }>;
    };

    const results: Array<{ f: Foothold; seen: string | number }> = [];
    for (const f of footholds) results.push({ f, seen: await f.observe() });
    for (const { f, seen } of results) {
      record({
        kind: 'eviction',
        suite: SUITE,
        service: f.service,
        foothold: f.foothold,
        result: 'removed',
        ok: seen === f.gone,
      });
    }
    const name = (f: Foothold) => `${f.service}: ${f.foothold}`;
    expect(Object.fromEntries(results.map(({ f, seen }) => [name(f), seen]))).toEqual(
      Object.fromEntries(footholds.map((f) => [name(f), f.gone])),
    );

    // The eviction report: Redis passwords (the old one and the attacker's) removed, connections closed.
    const redisFindings = (doc.eviction ?? []).filter((x) => x.service.includes('REDIS_PASSWORD'));
    expect(redisFindings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          foothold: 'passwords',
          status: 'removed',
          text: expect.stringMatching(/1 unknown/),
        }),
        expect.objectContaining({ foothold: 'connections', status: 'removed' }),
      ]),
    );

    // Grafana: the attacker's session revoked, their token named and deleted; nothing else of theirs left.
    const grafanaFindings = (doc.eviction ?? []).filter((x) => x.service.startsWith('Grafana '));
    expect(grafanaFindings.map((x) => [x.foothold, x.status])).toEqual([
      ['sessions', 'removed'],
      ['tokens', 'removed'],
    ]);
    expect(grafanaFindings[1]?.text).toContain(
      `${ATTACKER_SERVICE_ACCOUNT}/${ATTACKER_SERVICE_ACCOUNT}-token`,
    );
    expect(r.stdout + r.stderr).not.toContain(grafanaToken);
    expect(r.stdout + r.stderr).not.toContain(stolen.GRAFANA_ADMIN_PASSWORD!);

    // The load: nothing failed; 401 only for a credential from before the rotation, once it began.
    const failed = records.filter(
      (x) =>
        x.status === 0 ||
        x.status >= 500 ||
        (x.status === 401 && ((x.gen ?? 0) > 0 || x.sentAt < rotationStart)),
    );
    const finish = doc.steps.find((s) => s.id === 'finish:REDIS_PASSWORD');
    const finishAt = Date.parse(finish?.startedAt ?? '');
    // The switch came before Redis closed the app's connections, and reads ran across it.
    expect(switchedAt).toBeGreaterThan(0);
    expect(switchedAt).toBeLessThan(finishAt);
    const after = records.filter((x) => (x.gen ?? 0) > 0 && x.endpoint === 'me');
    expect(after.length).toBeGreaterThan(0);
    expect(
      records.filter((x) => x.sentAt >= rotationStart && x.sentAt <= rotationEnd).length,
    ).toBeGreaterThan(RATE);
    // On failure, the message carries the steps' start times and the app's log (no secrets in it).
    const at = (t: number) => `+${Math.round(t - rotationStart)} ms`;
    const context = failed.length
      ? [
          ...doc.steps.map((s) => `${s.id} ${at(Date.parse(s.startedAt ?? ''))} (${s.ms ?? '?'} ms)`),
          await fs.readFile(path.join(stack.dir, '.run', 'app.log'), 'utf8').catch((e: Error) => e.message),
        ].join('\n')
      : '';
    expect(
      failed.map((x) => `${x.endpoint} ${x.status || x.error} at ${at(x.sentAt)}`),
      context,
    ).toEqual([]);
  }, 240_000);
});

/** GET /api/org (a session's or a token's request) as `headers` authenticate it: the status. */
async function grafanaStatus(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}/api/org`, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** POST /login as admin with `password`: the `grafana_session` cookie. */
async function grafanaSignIn(url: string, password: string): Promise<string> {
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password }),
  });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  const cookie = /grafana_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
  expect(cookie).toBeDefined();
  return cookie ?? '';
}

/** Through the session: a service account `name` (Admin) and a token `<name>-token`; the token's value. */
async function grafanaMintToken(url: string, cookie: string, name: string): Promise<string> {
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`${url}${p}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.ok, `${p} answered ${res.status}`).toBe(true);
    return (await res.json()) as { id: number; key: string };
  };
  const account = await post('/api/serviceaccounts', { name, role: 'Admin' });
  const token = await post(`/api/serviceaccounts/${account.id}/tokens`, { name: `${name}-token` });
  expect(token.key.length).toBeGreaterThan(10);
  return token.key;
}

/** Whether a PostgreSQL backend still runs (asked as the server's superuser). */
async function pgAlive(stack: DemoStack, pid: number): Promise<boolean> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: stack.pg.port,
    user: 'postgres',
    password: stack.pg.superuserPassword,
    database: 'postgres',
  });
  await c.connect();
  try {
    const { rows } = await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    return rows.length > 0;
  } finally {
    await c.end();
  }
}
