/**
 * `rekey check`, `rekey status` and `rekey serve` through the built CLI, on the engine's throwaway
 * file-held stack (test/engine/stack.ts): exit codes, GitHub annotations, the JSON document, and the
 * metrics after a real rotation.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Stack, useStacks } from '../engine/stack.js';
import { samples } from '../helpers/exposition.js';

const stack = useStacks();

const DAY = 86_400_000;
const KEYS = ['JWT_SECRET', 'API_SECRET_KEY', 'SINGLE_PASSWORD', 'OVERLAP_PASSWORD'];

/** Records a rotation `days` ago the playbook's way: the annotation at the top of the env file. */
async function annotate(s: Stack, days: number): Promise<void> {
  const when = new Date(Date.now() - days * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const text = await fs.readFile(s.envFile, 'utf8');
  await fs.writeFile(s.envFile, `# LastSecretRotation: ${when}\n${text}`);
}

const GHA = { env: { GITHUB_ACTIONS: 'true' } };

describe('rekey check', { timeout: 180_000 }, () => {
  it('exit 3 when no secret has a recorded rotation, with an ::error:: annotation each under GitHub Actions', async () => {
    const s = await stack();
    const r = await s.run(['check'], GHA);
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    for (const [i, key] of KEYS.entries()) {
      expect(lines[i]).toMatch(new RegExp(`^::error title=rekey%3A ${key} never rotated::${key} \\(`));
    }
    expect(r.stderr).toMatch(/4 of 4 secrets fail the rotation policy/);
    expect(r.stderr).toMatch(
      /ERR_OVERDUE: 4 secrets overdue: JWT_SECRET, API_SECRET_KEY, SINGLE_PASSWORD, OVERLAP_PASSWORD/,
    );
    // Outside GitHub Actions: nothing on stdout.
    const plain = await s.run(['check']);
    expect(plain.code).toBe(3);
    expect(plain.stdout).toBe('');
  });

  it('exit 3 when overdue, exit 0 with ::warning:: when due soon, exit 0 and silent when fresh', async () => {
    const overdue = await stack();
    await annotate(overdue, 100);
    const o = await overdue.run(['check'], GHA);
    expect(o.code).toBe(3);
    expect(o.stdout).toMatch(
      /^::error title=rekey%3A JWT_SECRET overdue::JWT_SECRET \(jwt\) is overdue: last rotated \d{4}-\d\d-\d\d \(100d ago\), max age 90d, due \d{4}/m,
    );

    const soon = await stack();
    await annotate(soon, 80);
    const w = await soon.run(['check'], GHA);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout.trim().split('\n')).toEqual(
      KEYS.map((k) => expect.stringMatching(new RegExp(`^::warning title=rekey%3A ${k} due soon::`))),
    );
    expect(w.stderr).toMatch(/all 4 secrets within the rotation policy \(4 warnings\)/);

    const fresh = await stack();
    await annotate(fresh, 3);
    const f = await fresh.run(['check'], GHA);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe('');
    expect(f.stderr).toMatch(/all 4 secrets within the rotation policy\n/);
  });

  it('--json prints one document (no annotations) and still exits 3', async () => {
    const s = await stack();
    await annotate(s, 100);
    const r = await s.run(['check', '--json'], GHA);
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, beforeRelease: false });
    expect(doc.findings.map((f: { key: string; reason: string }) => [f.key, f.reason])).toEqual(
      KEYS.map((k) => [k, 'overdue']),
    );
    expect(doc.secrets).toHaveLength(4);
    expect(r.stdout).not.toMatch(/::error/);
  });

  it('a rotation brings an overdue stack back to exit 0', async () => {
    const s = await stack();
    await annotate(s, 100);
    expect((await s.run(['check'])).code).toBe(3);
    expect((await s.run(['rotate', '--yes'])).code).toBe(0);
    const r = await s.run(['check', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, findings: [] });
  });
});

describe('rekey status --json', { timeout: 180_000 }, () => {
  it('shows each secret with its source, age, due date, state, outcome and trigger', async () => {
    const s = await stack();
    await annotate(s, 30);
    const before = JSON.parse((await s.run(['status', '--json'])).stdout);
    expect(before.ok).toBe(true);
    expect(
      before.secrets.map((x: { key: string; state: string; source: string }) => [x.key, x.state, x.source]),
    ).toEqual(KEYS.map((k) => [k, 'ok', 'annotation']));
    expect(before.secrets[0].ageMs).toBeGreaterThanOrEqual(30 * DAY);
    expect(before.secrets[0].maxAgeMs).toBe(90 * DAY);

    // A partial rotation dates only the key it rotated; the others keep the age the backup records.
    const r = await s.run(['rotate', '--only', 'JWT_SECRET', '--trigger', 'compromise', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const after = JSON.parse((await s.run(['status', '--json'])).stdout);
    const jwt = after.secrets[0];
    expect(jwt).toMatchObject({ key: 'JWT_SECRET', type: 'jwt', state: 'ok', lastTrigger: 'compromise' });
    expect(jwt.ageMs).toBeLessThan(60_000);
    expect(jwt.lastAttempt).toMatchObject({ outcome: 'rotated', trigger: 'compromise', kind: 'rotate' });
    expect(Date.parse(jwt.dueAt) - Date.parse(jwt.lastRotated)).toBe(90 * DAY);
    const api = after.secrets[1];
    expect(api).toMatchObject({ key: 'API_SECRET_KEY', source: 'annotation', state: 'ok' });
    expect(api.ageMs).toBeGreaterThanOrEqual(30 * DAY);
    expect(api.lastAttempt).toBeUndefined();
  });

  it('a rotation that rolled back shows as rotation failing', async () => {
    const s = await stack();
    await s.faults({ 'stage:SINGLE_PASSWORD': 'fail' });
    expect((await s.run(['rotate', '--yes'])).code).toBe(1);
    const doc = JSON.parse((await s.run(['status', '--json'])).stdout);
    expect(doc.secrets.map((x: { state: string }) => x.state)).toEqual(KEYS.map(() => 'rotation-failing'));
    expect(doc.secrets[2].lastAttempt).toMatchObject({ outcome: 'rolled-back', trigger: 'manual' }); // no --trigger
    const human = await s.run(['status']);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(
      /SINGLE_PASSWORD\s+command\s+never\s+-\s+90d\s+now\s+rotation failing\s+rolled-back\s+manual/,
    );
  });
});

/** `rekey serve` on a free port; resolves with its URL once it listens. */
async function serve(s: Stack, args: string[] = []) {
  const server = s.start(['serve', '--port', '0', ...args]);
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.child.stderr?.on('data', (b) => {
      err += b;
      const m = /serving Prometheus metrics on (\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    server.done.then((r) => reject(new Error(`serve exited ${r.code}: ${r.stderr}`)));
  });
  return { url, ...server };
}

describe('rekey serve', { timeout: 180_000 }, () => {
  it('exposes the metrics of the state on disk after a real rotation, read afresh at each scrape', async () => {
    const s = await stack();
    const stackName = path.basename(s.dir);
    const r = await s.run(['rotate', '--yes', '--trigger', 'release']);
    expect(r.code, r.stderr).toBe(0);
    const server = await serve(s);
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const name of [
        'rekey_secret_age_seconds',
        'rekey_secret_max_age_seconds',
        'rekey_secret_overdue',
        'rekey_last_rotation_timestamp_seconds',
        'rekey_rotations_total',
        'rekey_secret_needs_attention',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      const m = samples(text);
      for (const [key, type] of [
        ['JWT_SECRET', 'jwt'],
        ['API_SECRET_KEY', 'api-key'],
        ['SINGLE_PASSWORD', 'command'],
        ['OVERLAP_PASSWORD', 'command'],
      ]) {
        const labels = `stack="${stackName}",key="${key}",type="${type}"`;
        expect(m.get(`rekey_secret_age_seconds{${labels}}`)).toBeLessThan(120);
        expect(m.get(`rekey_secret_max_age_seconds{${labels}}`)).toBe(90 * 86400);
        expect(m.get(`rekey_secret_overdue{${labels}}`)).toBe(0);
        expect(m.get(`rekey_secret_needs_attention{${labels}}`)).toBe(0);
      }
      expect(m.get(`rekey_rotations_total{stack="${stackName}",trigger="release",outcome="rotated"}`)).toBe(
        1,
      );
      expect(m.get(`rekey_rotations_total{stack="${stackName}",trigger="scheduled",outcome="rotated"}`)).toBe(
        0,
      );
      const last = m.get(`rekey_last_rotation_timestamp_seconds{stack="${stackName}",outcome="rotated"}`)!;
      expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(120);
      // No secret value in the exposition.
      for (const v of (await s.env()).values()) if (v.length > 8) expect(text).not.toContain(v);

      // A failed rotation appears at the next scrape.
      await s.faults({ 'stage:SINGLE_PASSWORD': 'fail' });
      expect((await s.run(['rotate', '--yes'])).code).toBe(1);
      const again = samples(await (await fetch(server.url)).text());
      expect(
        again.get(`rekey_rotations_total{stack="${stackName}",trigger="manual",outcome="rolled-back"}`),
      ).toBe(1);
      expect(
        again.get(`rekey_rotations_total{stack="${stackName}",trigger="release",outcome="rotated"}`),
      ).toBe(1);
    } finally {
      server.child.kill('SIGTERM');
    }
    const done = await server.done;
    expect(done.code).toBe(0);
  });

  it('refuses to bind beyond loopback without a token file (exit 2); with one, requires the bearer token', async () => {
    const s = await stack();
    const refused = await s.run(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ERR_SERVE_UNPROTECTED/);

    const tokenFile = path.join(s.dir, 'metrics-token');
    await fs.writeFile(tokenFile, 'short\n', { mode: 0o600 });
    const weak = await s.run(['serve', '--host', '0.0.0.0', '--port', '0', '--token-file', tokenFile]);
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/ERR_SERVE_TOKEN/);

    const token = 'f3b1c0ffee5e1ec7ab1e5ca1ab1e0dd5';
    await fs.writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const server = await serve(s, ['--host', '0.0.0.0', '--token-file', tokenFile]);
    const url = server.url.replace('0.0.0.0', '127.0.0.1');
    try {
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('rekey_secret_overdue');
    } finally {
      server.child.kill('SIGTERM');
    }
    const done = await server.done;
    expect(done.code).toBe(0);
    expect(done.stderr).not.toContain(token);
  });
});
