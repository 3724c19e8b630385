/**
 * The four triggers end to end on the file-held stack (built CLI), each recorded in the rotation's
 * history and shown by status: scheduled (incl. `rekey schedule`), compromise, personnel, release.
 * The session and Postgres parts of compromise are checked in the plan here; the Postgres target's
 * own tests (test/targets/postgres) end the old role's sessions on a real server.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPlan, type PlanSecret } from '../../src/engine/plan.js';
import type { SecretStatus } from '../../src/policy/types.js';
import { INITIAL, type Stack, useStacks } from '../engine/stack.js';

const stack = useStacks();

const KEYS = ['JWT_SECRET', 'API_SECRET_KEY', 'SINGLE_PASSWORD', 'OVERLAP_PASSWORD'];

interface Archived {
  id: string;
  trigger: string;
  outcome: string;
  purgeSessions: boolean;
  meta: Record<string, unknown>;
  targets: Array<{ key: string }>;
}

/** The archived rotations of a stack, oldest first (by creation time: ids carry the second only). */
async function history(s: Stack): Promise<Archived[]> {
  const dir = path.join(s.stateDir, 'history');
  const all: Array<Archived & { createdAt: string }> = await Promise.all(
    (await fs.readdir(dir)).map(async (n) => JSON.parse(await fs.readFile(path.join(dir, n), 'utf8'))),
  );
  return all.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
}

async function status(s: Stack): Promise<SecretStatus[]> {
  const r = await s.run(['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).secrets;
}

describe('compromise', { timeout: 180_000 }, () => {
  it('empties the grace slot that scheduled keeps, and is recorded and shown in status', async () => {
    const scheduled = await stack();
    expect((await scheduled.run(['rotate', '--yes'])).code).toBe(0);
    expect((await scheduled.env()).get('JWT_SECRET_PREVIOUS')).toBe(INITIAL.JWT_SECRET);

    const s = await stack();
    const r = await s.run(['rotate', '--trigger', 'compromise', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ outcome: 'rotated', trigger: 'compromise', keys: KEYS });
    expect(doc.warnings).toContain(
      'trigger compromise but no `sessions` configured: existing sessions stay valid',
    );
    const env = await s.env();
    expect(env.get('JWT_SECRET_PREVIOUS')).toBe('');
    expect(env.get('JWT_SECRET')).not.toBe(INITIAL.JWT_SECRET);
    await s.assertConsistent(); // the overlap service accepts only the new password: the old is retired
    const [h] = await history(s);
    expect(h).toMatchObject({ trigger: 'compromise', outcome: 'rotated' });
    for (const x of await status(s)) {
      expect(x).toMatchObject({ state: 'ok', lastTrigger: 'compromise' });
      expect(x.lastAttempt).toMatchObject({ trigger: 'compromise', outcome: 'rotated' });
    }
    const human = await s.run(['status']);
    expect(human.stderr).toMatch(/JWT_SECRET\s+jwt\s+.*ok\s+rotated\s+compromise/);
  });

  it('allows break-glass (recorded), which no other trigger allows', async () => {
    const s = await stack();
    const refused = await s.run(['rotate', '--break-glass', 'key leaked', '--yes']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ERR_BREAK_GLASS_TRIGGER/);
    const r = await s.run([
      'rotate',
      '--trigger',
      'compromise',
      '--break-glass',
      'key leaked in a log',
      '--yes',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [h] = await history(s);
    expect(h?.meta.breakGlass).toBe('key leaked in a log');
  });

  it('in the plan: purges sessions whatever `sessions.redis.on` says, and ends old-credential sessions', () => {
    const secrets: PlanSecret[] = [
      { key: 'JWT_SECRET', type: 'jwt', overlap: true, fileOnly: true, hasAfterDeploy: false, actions: [] },
      {
        key: 'POSTGRES_PASSWORD',
        type: 'postgres',
        overlap: true,
        fileOnly: false,
        hasAfterDeploy: true,
        actions: [],
      },
    ];
    const sessions = { describe: 'delete keys matching session:*', on: ['release' as const] };
    const plan = (trigger: 'compromise' | 'scheduled' | 'release') =>
      buildPlan({ secrets, trigger, sessions, verifyChecks: 0 });
    expect(plan('compromise').purgeSessions).toBe(true);
    expect(plan('release').purgeSessions).toBe(true);
    expect(plan('scheduled').purgeSessions).toBe(false);
    expect(plan('scheduled').steps.find((x) => x.id === 'invalidate:sessions')?.title).toMatch(
      /sessions kept/,
    );
    expect(plan('compromise').steps.find((x) => x.id === 'invalidate:POSTGRES_PASSWORD')?.title).toBe(
      'end sessions of the old credential',
    );
  });
});

describe('personnel', { timeout: 180_000 }, () => {
  it('rotates every secret whatever --only says, unless --only is given with --force', async () => {
    const s = await stack();
    const all = await s.run(['rotate', '--trigger', 'personnel', '--only', 'JWT_SECRET', '--yes', '--json']);
    expect(all.code, all.stderr).toBe(0);
    const doc = JSON.parse(all.stdout);
    expect(doc.keys).toEqual(KEYS);
    expect(doc.warnings).toContain(
      'trigger personnel rotates every secret; --only ignored (add --force to honour it)',
    );

    const forced = await s.run([
      'rotate',
      '--trigger',
      'personnel',
      '--only',
      'JWT_SECRET',
      '--force',
      '--yes',
      '--json',
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout).keys).toEqual(['JWT_SECRET']);
    const h = await history(s);
    expect(h.map((x) => [x.trigger, x.targets.length])).toEqual([
      ['personnel', 4],
      ['personnel', 1],
    ]);
    const st = await status(s);
    expect(st.map((x) => x.lastAttempt?.trigger)).toEqual([
      'personnel',
      'personnel',
      'personnel',
      'personnel',
    ]);
  });
});

describe('release', { timeout: 180_000 }, () => {
  it('is what check --before-release gates (policy.releaseMaxAge); a release rotation passes it', async () => {
    const s = await stack({ extraConfig: 'policy: { maxAge: 90d, warnBefore: 14d, releaseMaxAge: 30d }' });
    const when = new Date(Date.now() - 40 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await fs.writeFile(s.envFile, `# LastSecretRotation: ${when}\n${await fs.readFile(s.envFile, 'utf8')}`);
    expect((await s.run(['check'])).code).toBe(0); // within maxAge
    const gate = await s.run(['check', '--before-release'], { env: { GITHUB_ACTIONS: 'true' } });
    expect(gate.code).toBe(3);
    expect(gate.stdout).toMatch(
      /^::error title=rekey%3A JWT_SECRET too old for a release::.*older than policy.releaseMaxAge 30d/m,
    );
    expect(gate.stderr).toMatch(/rekey rotate --trigger release/);

    expect((await s.run(['rotate', '--trigger', 'release', '--yes'])).code).toBe(0);
    const passed = await s.run(['check', '--before-release', '--json']);
    expect(passed.code, passed.stderr).toBe(0);
    expect(JSON.parse(passed.stdout)).toMatchObject({ ok: true, beforeRelease: true, findings: [] });
    expect((await status(s)).map((x) => x.lastTrigger)).toEqual(['release', 'release', 'release', 'release']);
    expect((await history(s))[0]?.trigger).toBe('release');
  });

  it('--before-release without policy.releaseMaxAge is a config error (exit 2), not a silent pass', async () => {
    const s = await stack();
    const r = await s.run(['check', '--before-release']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/policy\.releaseMaxAge is not set/);
  });
});

describe('scheduled: rekey schedule', { timeout: 180_000 }, () => {
  async function unattended(s: Stack): Promise<void> {
    const file = path.join(s.dir, 'rekey.yaml');
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace('overlap: false }', 'overlap: false, unattended: true }'));
  }
  const ALLOW = ['--allow-unattended', 'command'];

  it('rotates the due unattended secret alone, under the standing approval, and skips it once fresh', async () => {
    const s = await stack({
      extraConfig: 'schedule: { cron: "0 3 * * *", jitter: 0s, retries: 0, backoff: 1s, maxFailures: 2 }',
    });
    await unattended(s);
    const refused = await s.run(['schedule', '--once']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /ERR_UNATTENDED_REFUSED: SINGLE_PASSWORD: type command may not be rotated unattended/,
    );

    const r = await s.run(['schedule', '--once', '--json', ...ALLOW]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results).toEqual([
      { key: 'SINGLE_PASSWORD', outcome: 'rotated', attempts: 1, rotationId: expect.any(String) },
    ]);
    const env = await s.env();
    expect(env.get('SINGLE_PASSWORD')).not.toBe(INITIAL.SINGLE_PASSWORD);
    expect(env.get('JWT_SECRET')).toBe(INITIAL.JWT_SECRET);
    await s.assertConsistent();
    const [h] = await history(s);
    expect(h).toMatchObject({
      trigger: 'scheduled',
      outcome: 'rotated',
      meta: { unattended: true, only: ['SINGLE_PASSWORD'] },
    });
    expect(h?.meta.standingApproval).toMatch(/SINGLE_PASSWORD has unattended: true/);
    expect(h?.meta.operator).toMatch(/^rekey schedule \(/);
    const st = await status(s);
    expect(st[2]).toMatchObject({
      key: 'SINGLE_PASSWORD',
      unattended: true,
      state: 'ok',
      lastTrigger: 'scheduled',
    });
    expect(st[2]?.lastAttempt).toMatchObject({ unattended: true });

    const again = await s.run(['schedule', '--once', '--json', ...ALLOW]);
    expect(JSON.parse(again.stdout).results).toEqual([
      { key: 'SINGLE_PASSWORD', outcome: 'skipped', attempts: 0, detail: expect.stringMatching(/^not due/) },
    ]);
  });

  it('in the foreground: rotates at the cron time, stops cleanly on SIGTERM', async () => {
    const s = await stack({
      extraConfig: 'schedule: { cron: "* * * * * *", jitter: 0s, retries: 0, backoff: 1s, maxFailures: 2 }',
    });
    await unattended(s);
    const { child, done } = s.start(['schedule', ...ALLOW]);
    const historyDir = path.join(s.stateDir, 'history');
    const deadline = Date.now() + 60_000;
    while ((await fs.readdir(historyDir).catch(() => [])).length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/next run at \d{4}-/);
    expect(r.stderr).toMatch(/SINGLE_PASSWORD: rotated, rotation \d{8}T\d{6}Z-/);
    expect(r.stderr).toMatch(/SIGTERM: stopping/);
    const h = await history(s);
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ trigger: 'scheduled', outcome: 'rotated', meta: { unattended: true } });
    await s.assertConsistent();
  });

  it('--once stopped by SIGTERM mid-rotation (a timer timeout): rolls back, exit 1, not counted as a failure', async () => {
    const s = await stack({
      extraConfig: 'schedule: { cron: "0 3 * * *", jitter: 0s, retries: 2, backoff: 1s, maxFailures: 1 }',
    });
    await unattended(s);
    await fs.writeFile(path.join(s.dir, 'deploy-fault'), 'slow-deploy');
    const { child, done } = s.start(['schedule', '--once', ...ALLOW]);
    const deploys = path.join(s.dir, 'deploys.log');
    for (let i = 0; i < 400 && !existsSync(deploys); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/SIGTERM: stopping/);
    expect(r.stderr).toMatch(/ERR_INTERRUPTED: the scheduled run was stopped by a signal/);
    expect((await s.env()).get('SINGLE_PASSWORD')).toBe(INITIAL.SINGLE_PASSWORD);
    await s.assertConsistent();
    expect(existsSync(path.join(s.stateDir, 'journal.json'))).toBe(false);
    const st = await status(s);
    expect(st[2]).toMatchObject({ key: 'SINGLE_PASSWORD', state: expect.not.stringMatching(/attention/) });
  });

  it('after maxFailures failed runs: needs attention (exit 4), shown in status, cleared by --clear', async () => {
    const s = await stack({
      extraConfig: 'schedule: { cron: "0 3 * * *", jitter: 0s, retries: 1, backoff: 1s, maxFailures: 2 }',
    });
    await unattended(s);
    await s.faults({ 'stage:SINGLE_PASSWORD': 'fail' });
    const first = await s.run(['schedule', '--once', ...ALLOW]);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/attempt 2 failed/);
    const second = await s.run(['schedule', '--once', ...ALLOW]);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(/ERR_NEEDS_ATTENTION: unattended rotation stopped for SINGLE_PASSWORD/);
    const st = await status(s);
    expect(st[2]).toMatchObject({ state: 'needs-attention', schedule: { consecutiveFailures: 2 } });
    expect(st[2]?.schedule?.needsAttention?.reason).toMatch(/^2 failed runs in a row; last: ERR_/);
    const check = await s.run(['check'], { env: { GITHUB_ACTIONS: 'true' } });
    expect(check.stdout).toMatch(/^::warning title=rekey%3A SINGLE_PASSWORD needs attention::/m);
    // No more attempts while it needs attention.
    const calls = async () => (await fs.readFile(path.join(s.dir, 'calls.log'), 'utf8')).split('\n').length;
    const before = await calls();
    const third = await s.run(['schedule', '--once', '--json', ...ALLOW]);
    expect(JSON.parse(third.stdout).results[0]).toMatchObject({
      outcome: 'skipped',
      detail: expect.stringMatching(/^needs attention since/),
    });
    expect(await calls()).toBe(before);

    const cleared = await s.run(['schedule', '--clear', 'SINGLE_PASSWORD', '--json']);
    expect(JSON.parse(cleared.stdout)).toEqual({ ok: true, cleared: ['SINGLE_PASSWORD'] });
    await s.faults({});
    expect((await s.run(['schedule', '--once', ...ALLOW])).code).toBe(0);
    expect((await status(s))[2]).toMatchObject({ state: 'ok' });
  });
});
