/**
 * All five secret types on live services (real PostgreSQL and Redis, the Grafana stand-in), through
 * the built CLI: the happy path and the validation table, drift caught at preflight, a policy
 * rejection, each service going down at stage, test and verify (rolled back, or exit 4 then
 * `recover` once it is back), and the canary scan including the PostgreSQL server log.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { INITIAL, type LiveStack, makeLiveStack } from './live-stack.js';

describe('five secrets on live services', () => {
  let s: LiveStack;
  beforeAll(async () => {
    s = await makeLiveStack();
  });
  afterAll(async () => {
    await s.cleanup();
  });

  it('plan shows every secret accepted and changes nothing', async () => {
    const before = await fs.readFile(s.envFile, 'utf8');
    const r = await s.run(['plan', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.secrets.map((x: { current: string }) => x.current)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // Single-password services are staged last.
    const stages = doc.steps
      .filter((x: { phase: string }) => x.phase === 'stage')
      .map((x: { target: string }) => x.target);
    expect(stages.slice(-2)).toEqual(['POSTGRES_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(before);
  });

  it('rotates all five, and verify prints the full validation table', async () => {
    const r = await s.run(['rotate', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const env = await s.env();
    for (const [k, v] of Object.entries(INITIAL)) expect(env.get(k), k).not.toBe(v);
    expect(env.get('JWT_SECRET_PREVIOUS')).toBe(INITIAL.JWT_SECRET);
    expect(env.get('API_SECRET_KEY_PREVIOUS')).toBe(INITIAL.API_SECRET_KEY);
    await s.assertConsistent();

    const v = await s.run(['verify']);
    expect(v.code, v.stderr).toBe(0);
    for (const row of ['DB Access', 'Redis Auth', 'Grafana Login', 'JWT_SECRET', 'API_SECRET_KEY'])
      expect(v.stderr).toContain(row);
    const json = JSON.parse((await s.run(['verify', '--json'])).stdout);
    expect(json.ok).toBe(true);
    // During the rotation, old PostgreSQL and Redis passwords were checked as rejected.
    const rows = JSON.parse(r.stdout).checks as Array<{ name: string; ok: boolean }>;
    expect(rows.filter((x) => /old/i.test(x.name)).length).toBeGreaterThanOrEqual(1);
    expect(rows.every((x) => x.ok)).toBe(true);
  });

  it('drift: a service that rejects the env file value stops the rotation at preflight, nothing changed', async () => {
    const before = await fs.readFile(s.envFile, 'utf8');
    await fs.writeFile(
      s.envFile,
      before.replace(/^REDIS_PASSWORD=.*$/m, 'REDIS_PASSWORD=notTheRealPassword0123456789'),
    );
    const drifted = await fs.readFile(s.envFile, 'utf8');
    const r = await s.run(['rotate', '--yes']);
    record({
      kind: 'failure',
      suite: 'live (PostgreSQL, Redis, Grafana stand-in, jwt, api-key)',
      point: 'preflight',
      cause: 'Redis rejects the env file value (drift)',
      exit: r.code,
      rolledBack: r.code === 1 && (await fs.readFile(s.envFile, 'utf8')) === drifted,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_TARGET_AUTH: preflight: REDIS_PASSWORD/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(drifted);
    await fs.writeFile(s.envFile, before);
    await s.assertConsistent();
  });

  const SERVICES = [
    ['postgres', 'POSTGRES_PASSWORD'],
    ['redis', 'REDIS_PASSWORD'],
    ['grafana', 'GRAFANA_ADMIN_PASSWORD'],
  ] as const;
  const POINTS = (key: string) => [
    `stage:${key}@begin`,
    `stage:${key}@end`,
    `test:${key}@begin`,
    'verify@begin',
  ];

  for (const [service, key] of SERVICES) {
    for (const point of POINTS(key)) {
      it(`${service} down at ${point}: rolled back to the old values (after recover once it is back)`, async () => {
        s.forwardClock(6 * 60_000); // past Grafana's lockout window from earlier cases
        const before = await fs.readFile(s.envFile, 'utf8');
        const pauseFile = path.join(s.dir, 'paused');
        const running = s.run(['rotate', '--yes', '--json'], {
          env: { REKEY_PAUSE_AT: point, REKEY_PAUSE_FILE: pauseFile },
        });
        for (let i = 0; i < 400 && !existsSync(pauseFile); i++) await new Promise((r) => setTimeout(r, 25));
        expect(existsSync(pauseFile)).toBe(true);
        await stop(service);
        await fs.rm(pauseFile);
        const r = await running;
        await start(service);
        let recovered = 'not needed';
        if (r.code === 4) {
          const rec = await s.run(['recover', '--yes', '--json']);
          recovered = /"outcome": "([a-z-]+)"/.exec(rec.stdout)?.[1] ?? `exit ${rec.code}`;
        }
        const consistent = await s.assertConsistent().then(
          () => true,
          () => false,
        );
        const back = (await fs.readFile(s.envFile, 'utf8')) === before;
        record({
          kind: 'failure',
          suite: 'live (PostgreSQL, Redis, Grafana stand-in, jwt, api-key)',
          point,
          cause: `${service} down${r.code === 4 ? ' (also during the rollback: exit 4, then recover once it is back)' : ''}`,
          exit: r.code,
          rolledBack:
            [1, 4].includes(r.code ?? -1) &&
            (r.code === 1 || recovered === 'rolled-back') &&
            consistent &&
            back,
        });
        expect([1, 4], r.stderr).toContain(r.code);
        if (r.code === 4) {
          expect(JSON.parse(r.stdout).state[key]).toMatch(/UNKNOWN|revert failed/);
          expect(recovered).toBe('rolled-back');
        }
        expect(await fs.readFile(s.envFile, 'utf8')).toBe(before);
        await s.assertConsistent();
      });
    }
  }

  async function stop(service: 'postgres' | 'redis' | 'grafana') {
    if (service === 'postgres') await s.pg.halt();
    else if (service === 'redis') await s.redis.kill();
    else await s.stopGrafana();
  }
  async function start(service: 'postgres' | 'redis' | 'grafana') {
    if (service === 'postgres') await s.pg.start();
    else if (service === 'redis') await s.redis.restart();
    else await s.startGrafana();
  }

  it("canary: no old or new value in any output, file the run wrote, or the servers' logs", async () => {
    const outputs: string[] = [];
    for (const args of [
      ['plan'],
      ['rotate', '--yes'],
      ['rotate', '--yes', '--trigger', 'compromise'],
      ['verify', '--json'],
    ]) {
      const r = await s.run(args);
      expect(r.code, r.stderr).toBe(0);
      outputs.push(r.stdout, r.stderr);
    }
    const logs = [await s.pg.readLog(), await fs.readFile(s.redis.logFile, 'utf8')];
    expect(logs[0]).toMatch(/ALTER ROLE/); // log_statement=all is on: the statements are there...
    const stored: Array<[string, string]> = [];
    const walk = async (d: string) => {
      for (const e of await fs.readdir(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!/\.env\.production(\.backup-.*)?$/.test(p) && !p.includes('grafana-data'))
          stored.push([p, await fs.readFile(p, 'utf8')]);
      }
    };
    await walk(s.dir);
    expect(s.seen.size).toBeGreaterThanOrEqual(15);
    record({
      kind: 'canary',
      suite: 'live (PostgreSQL, Redis, Grafana stand-in, jwt, api-key)',
      scope: 'stdout, stderr, state dir, audit log, PostgreSQL server log (log_statement=all), Redis log',
      values: s.seen.size,
      places: outputs.length + logs.length + stored.length,
      occurrences: leakOccurrences(s.seen, [...outputs, ...logs, ...stored.map(([, t]) => t)]),
    });
    // Every form: the value, URL-encoded, hex, base64 (both alphabets, 3 alignments), 8+ character pieces.
    expect(findLeak(s.seen, outputs)).toBeUndefined();
    expect(findLeak(s.seen, logs)).toBeUndefined(); // ...but never a password
    for (const [f, text] of stored) expect(findLeak(s.seen, [text]), `found in ${f}`).toBeUndefined();
  });
});

describe('a password policy rejection', () => {
  let s: LiveStack;
  beforeAll(async () => {
    s = await makeLiveStack({ strongPolicy: true });
  });
  afterAll(async () => {
    await s.cleanup();
  });

  it('Grafana refusing the new password rolls the whole stack back (exit 1)', async () => {
    const before = await fs.readFile(s.envFile, 'utf8');
    const r = await s.run(['rotate', '--yes']);
    record({
      kind: 'failure',
      suite: 'live (PostgreSQL, Redis, Grafana stand-in, jwt, api-key)',
      point: 'stage:GRAFANA_ADMIN_PASSWORD',
      cause: 'Grafana password policy rejects the new value',
      exit: r.code,
      rolledBack:
        r.code === 1 &&
        (await fs.readFile(s.envFile, 'utf8')) === before &&
        (await s.assertConsistent().then(
          () => true,
          () => false,
        )),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/password policy/);
    expect(r.stderr).toMatch(/everyClass/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(before);
    await s.assertConsistent();
    expect(s.grafana().stats().failedLogins).toBe(0);
  });
});
