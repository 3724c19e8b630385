/**
 * Issue 12, Grafana, through the built CLI: the attacker signs into the Grafana stand-in with the
 * stolen admin password (keeps the session cookie) and mints a service-account token; then
 * `rekey rotate --trigger compromise --yes`. The session is rejected afterwards (401); the token is
 * rejected (401) with `deleteTokensOnCompromise: true`, and reported by name, still working, without
 * it; the `--json` eviction section says which. A legitimate token made before the previous rotation
 * is never touched. (No approvals are configured in this stack, so no --break-glass.)
 * `rekey verify --trigger compromise` looks on its own, through the Grafana target's `checkFootholds`:
 * a session and a token the attacker made after a rotation are FOUND (exit 1, ERR_FOOTHOLD_FOUND,
 * the token named), nothing changes; after the compromise rotation it finds nothing (exit 0).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type GrafanaStandIn, startGrafanaStandIn } from '../../demo/grafana/standin.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { type CliResult, startCli, writtenFiles } from '../engine/stack.js';
import { record, targetOf } from '../helpers/resilience.js';

const KEY = 'GRAFANA_ADMIN_PASSWORD';
const FIRST = 'grafanaInitialPassword0123456789abc';
const SUITE = 'Grafana stand-in (built CLI)';

interface GrafanaStack {
  dir: string;
  grafana: GrafanaStandIn;
  run(args: string[], more?: Record<string, string>): Promise<CliResult>;
  password(): Promise<string>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function makeStack(extra: string): Promise<GrafanaStack> {
  const dir = await makeOwnedDir('rekey-grafana-evict-');
  cleanups.push(async () => {
    await removeOwnedDir(dir);
  });
  const grafana = await startGrafanaStandIn({
    dataFile: path.join(dir, 'grafana-data', 'grafana.json'),
    initialPassword: FIRST,
  });
  cleanups.push(() => grafana.close());
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(envFile, `${KEY}=${FIRST}\n`, { mode: 0o600 });
  await fs.writeFile(path.join(dir, 'deploy.sh'), '#!/bin/sh\necho "deployed $1"\n', { mode: 0o755 });
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    `envFile: .env.production
secrets:
  - { key: ${KEY}, type: grafana, url: "${grafana.url}", user: admin${extra} }
deploy: { command: sh deploy.sh deploy, rollback: sh deploy.sh rollback, timeout: 20s }
verifyPolicy: { deadline: 3s, attemptTimeout: 2s, successes: 1 }
`,
  );
  const env = { ...process.env, NO_COLOR: '1' } as Record<string, string>;
  delete env.REKEY_CRASH_AT;
  return {
    dir,
    grafana,
    async run(args, more = {}) {
      const { child, done } = startCli(args, dir, { ...env, ...more });
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      const r = await done;
      clearTimeout(timer);
      return r;
    },
    async password() {
      const m = new RegExp(`^${KEY}=(.*)$`, 'm').exec(await fs.readFile(envFile, 'utf8'));
      return m?.[1] ?? '';
    },
  };
}

async function status(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** What someone holding `password` leaves behind: a browser session and a service-account token. */
async function foothold(grafana: GrafanaStandIn, password: string, name: string) {
  const login = await fetch(`${grafana.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password }),
  });
  expect(login.status).toBe(200);
  const cookie = /grafana_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] ?? '';
  const post = async (p: string, body: unknown) =>
    (await (
      await fetch(`${grafana.url}${p}`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as { id: number; key: string };
  const sa = await post('/api/serviceaccounts', { name, role: 'Admin' });
  const token = await post(`/api/serviceaccounts/${sa.id}/tokens`, { name: `${name}-token` });
  const footholds = {
    session: () => status(`${grafana.url}/api/user`, { cookie }),
    token: () => status(`${grafana.url}/api/org`, { authorization: `Bearer ${token.key}` }),
  };
  expect(await footholds.session()).toBe(200);
  expect(await footholds.token()).toBe(200);
  return footholds;
}

type Finding = { service: string; foothold: string; status: string; text: string };

/** A scheduled rotation (the list of tokens), the attacker, then the compromise rotation. */
async function scenario(extra: string) {
  const s = await makeStack(extra);
  const legit = await foothold(s.grafana, FIRST, 'terraform');
  const first = await s.run(['rotate', '--yes']);
  expect(first.code, first.stderr).toBe(0);
  const stolen = await s.password();
  const attacker = await foothold(s.grafana, stolen, 'backup');
  const r = await s.run(['rotate', '--trigger', 'compromise', '--yes', '--json']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).not.toContain(stolen);
  expect(r.stderr).not.toContain(stolen);
  const eviction = (JSON.parse(r.stdout).eviction as Finding[]).filter((f) =>
    f.service.startsWith('Grafana '),
  );
  const of = (foothold: string) => eviction.filter((f) => f.foothold === foothold);
  return { s, legit, attacker, eviction, of };
}

describe('Grafana: a compromise rotation through the CLI evicts the attacker', { timeout: 180_000 }, () => {
  it('deleteTokensOnCompromise: true — the session and the new token are rejected (401)', async () => {
    const { legit, attacker, of } = await scenario(', deleteTokensOnCompromise: true');
    const session = await attacker.session();
    const token = await attacker.token();
    record({
      kind: 'eviction',
      suite: SUITE,
      service: 'Grafana',
      foothold: 'sessions',
      result: 'removed',
      ok: session === 401 && of('sessions')[0]?.status === 'removed',
    });
    record({
      kind: 'eviction',
      suite: SUITE,
      service: 'Grafana',
      foothold: 'tokens (deleteTokensOnCompromise: true)',
      result: 'removed',
      ok: token === 401 && of('tokens')[0]?.status === 'removed',
    });
    expect(session).toBe(401);
    expect(token).toBe(401);
    expect(await legit.token()).toBe(200);
    expect(of('sessions').map((f) => f.status)).toEqual(['removed']);
    expect(of('tokens').map((f) => f.status)).toEqual(['removed']);
    expect(of('tokens')[0]?.text).toContain('backup/backup-token');
    expect(of('tokens')[0]?.text).not.toContain('terraform');
  });

  it('default (switch off) — the session is rejected; the new token is reported by name, not deleted', async () => {
    const { s, legit, attacker, of } = await scenario('');
    const session = await attacker.session();
    const token = await attacker.token();
    const reported = of('tokens')[0];
    record({
      kind: 'eviction',
      suite: SUITE,
      service: 'Grafana',
      foothold: 'tokens (default: deleteTokensOnCompromise off)',
      result: 'reported',
      ok: token === 200 && reported?.status === 'reported' && /backup\/backup-token/.test(reported.text),
    });
    expect(session).toBe(401);
    expect(token).toBe(200);
    expect(await legit.token()).toBe(200);
    expect(of('sessions').map((f) => f.status)).toEqual(['removed']);
    expect(of('tokens').map((f) => f.status)).toEqual(['reported']);
    expect(reported?.text).toContain('backup/backup-token');
    expect(reported?.text).not.toContain('terraform');

    // The human output names it too.
    const human = await s.run(['rotate', '--trigger', 'compromise', '--yes']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(/Grafana http:\/\/127\.0\.0\.1:\d+ \(GRAFANA_ADMIN_PASSWORD\)/);
    expect(human.stderr).toContain('backup/backup-token');
  });

  it('kill -9 in the compromise finish: recover completes the eviction, and a re-run fails on nothing', async () => {
    for (const point of [`finish:${KEY}@begin`, `finish:${KEY}@end`]) {
      const s = await makeStack(', deleteTokensOnCompromise: true');
      const first = await s.run(['rotate', '--yes']);
      expect(first.code, first.stderr).toBe(0);
      const attacker = await foothold(s.grafana, await s.password(), 'backup');
      const failedBefore = s.grafana.stats().failedLogins;
      const r = await s.run(['rotate', '--trigger', 'compromise', '--yes'], { REKEY_CRASH_AT: point });
      expect(r.signal, `${point}: ${r.stderr}`).toBe('SIGKILL');
      const rec = await s.run(['recover', '--yes', '--json']);
      const session = await attacker.session();
      const token = await attacker.token();
      const failedLogins = s.grafana.stats().failedLogins - failedBefore;
      record({
        kind: 'crash',
        suite: SUITE,
        point: `${point} (--trigger compromise)`,
        target: targetOf(point),
        outcome: `recover exit ${rec.code}; attacker session ${session}, token ${token}`,
        converged: rec.code === 0 && session === 401 && token === 401 && failedLogins <= 1,
      });
      expect(rec.code, `${point}: ${rec.stderr}`).toBe(0);
      expect(session, point).toBe(401);
      expect(token, point).toBe(401);
      expect(failedLogins, point).toBeLessThanOrEqual(1);
    }
  });

  it('rekey verify --trigger compromise finds the session and the token made after a rotation (exit 1), changes nothing', async () => {
    const s = await makeStack(', deleteTokensOnCompromise: true');
    const legit = await foothold(s.grafana, FIRST, 'terraform');
    const first = await s.run(['rotate', '--yes']);
    expect(first.code, first.stderr).toBe(0);
    const stolen = await s.password();
    const attacker = await foothold(s.grafana, stolen, 'backup');
    const before = await unchanged(s);
    const failedBefore = s.grafana.stats().failedLogins;

    const r = await s.run(['verify', '--trigger', 'compromise', '--json']);
    const doc = JSON.parse(r.stdout) as { ok: boolean; eviction: Finding[] };
    const grafana = doc.eviction.filter((f) => f.service.startsWith('Grafana '));
    const tokens = grafana.find((f) => f.foothold === 'tokens');
    record({
      kind: 'eviction',
      suite: `${SUITE}, rekey verify --trigger compromise`,
      service: 'Grafana',
      foothold: 'tokens created after a rotation (rekey verify)',
      result: 'reported',
      ok:
        r.code === 1 &&
        tokens?.status === 'reported' &&
        (tokens?.text.includes('backup/backup-token') ?? false),
    });
    record({
      kind: 'eviction',
      suite: `${SUITE}, rekey verify --trigger compromise`,
      service: 'Grafana',
      foothold: 'sessions open after a rotation (rekey verify)',
      result: 'reported',
      ok: r.code === 1 && grafana.find((f) => f.foothold === 'sessions')?.status === 'reported',
    });
    expect(r.code, r.stderr).toBe(1);
    expect(doc.ok).toBe(false);
    expect(grafana.map((f) => [f.foothold, f.status])).toEqual([
      ['sessions', 'reported'],
      ['tokens', 'reported'],
    ]);
    expect(tokens?.text).toContain('backup/backup-token');
    expect(tokens?.text).not.toContain('terraform');
    expect(r.stderr).toContain('ERR_FOOTHOLD_FOUND');
    expect(r.stderr).toMatch(/tokens \(Grafana http:\/\/127\.0\.0\.1:\d+ \(GRAFANA_ADMIN_PASSWORD\)\)/);
    expect(r.stdout + r.stderr).not.toContain(stolen);

    // The human output names the token too.
    const human = await s.run(['verify', '--trigger', 'compromise']);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('ERR_FOOTHOLD_FOUND');
    expect(human.stderr).toContain('backup/backup-token');

    // Read-only: no file of rekey's, no session, no token, no password changed; no failed login spent.
    expect(await unchanged(s)).toEqual(before);
    expect(s.grafana.stats().failedLogins).toBe(failedBefore);
    expect(await attacker.session()).toBe(200);
    expect(await attacker.token()).toBe(200);
    expect(await legit.token()).toBe(200);

    // The compromise rotation removes both; verify then finds nothing (exit 0).
    const rotated = await s.run(['rotate', '--trigger', 'compromise', '--yes']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(await attacker.token()).toBe(401);
    const clean = await s.run(['verify', '--trigger', 'compromise', '--json']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(
      (JSON.parse(clean.stdout).eviction as Finding[])
        .filter((f) => f.service.startsWith('Grafana '))
        .map((f) => [f.foothold, f.status]),
    ).toEqual([
      ['sessions', 'clean'],
      ['tokens', 'clean'],
    ]);
  });
});

/**
 * What a read-only look must leave as it is: every file in the stack's folder but the stand-in's own
 * (hash of its bytes), and the stand-in's sessions, service accounts, tokens and password hashes.
 */
async function unchanged(s: GrafanaStack): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const f of await writtenFiles(s.dir)) {
    if (f.includes(`${path.sep}grafana-data${path.sep}`)) continue;
    out[path.relative(s.dir, f)] = createHash('sha256')
      .update(await fs.readFile(f))
      .digest('hex');
  }
  out.env = createHash('sha256')
    .update(await fs.readFile(path.join(s.dir, '.env.production')))
    .digest('hex');
  const data = JSON.parse(await fs.readFile(path.join(s.dir, 'grafana-data', 'grafana.json'), 'utf8'));
  out.grafana = {
    users: data.users,
    authTokens: data.authTokens,
    serviceAccounts: data.serviceAccounts,
    saTokens: data.saTokens,
  };
  return out;
}
