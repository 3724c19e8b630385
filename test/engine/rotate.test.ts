/**
 * The rotation engine end to end through the built CLI, against file-held secrets and two scriptable
 * services (single-password and overlap): the happy path, a failure at every step, deploy failures,
 * concurrency, and the canary scan.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { ENV_TEXT, INITIAL, type Stack, useStacks, writtenFiles } from './stack.js';

/** Whether a run ended rolled back: exit 1, env file byte-identical, every service on its old value. */
async function rolledBack(s: Stack, code: number | null): Promise<boolean> {
  return (
    code === 1 &&
    (await fs.readFile(s.envFile, 'utf8')) === ENV_TEXT &&
    (await s.assertConsistent().then(
      () => true,
      () => false,
    ))
  );
}

const stack = useStacks();

const ALL_STEPS = [
  'stage:JWT_SECRET',
  'stage:API_SECRET_KEY',
  'stage:OVERLAP_PASSWORD',
  'test:JWT_SECRET',
  'test:API_SECRET_KEY',
  'test:OVERLAP_PASSWORD',
  'stage:SINGLE_PASSWORD',
  'test:SINGLE_PASSWORD',
  'commit',
  'deploy',
  'verify',
];

describe('rotate', () => {
  it('rotates every secret, changing only their values and the annotation', async () => {
    const s = await stack();
    const r = await s.run(['rotate', '--yes', '--json']);
    expect(r.stderr).not.toMatch(/ERR_/);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.outcome).toBe('rotated');
    expect(doc.keys).toEqual(['JWT_SECRET', 'API_SECRET_KEY', 'SINGLE_PASSWORD', 'OVERLAP_PASSWORD']);

    const env = await s.env();
    expect(env.get('JWT_SECRET_PREVIOUS')).toBe(INITIAL.JWT_SECRET);
    for (const k of Object.keys(INITIAL) as Array<keyof typeof INITIAL>) {
      expect(env.get(k)).not.toBe(INITIAL[k]);
      expect(env.get(k)!.length).toBeGreaterThanOrEqual(32);
    }
    const text = await fs.readFile(s.envFile, 'utf8');
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^# LastSecretRotation: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Every other line is the same except the rotated values.
    const before = ENV_TEXT.split('\n');
    expect(lines.slice(1)).toHaveLength(before.length);
    lines.slice(1).forEach((line, i) => {
      const old = before[i]!;
      const changed = Object.values(INITIAL).find((v) => old.includes(v));
      if (changed === undefined) {
        if (old.startsWith('JWT_SECRET_PREVIOUS='))
          expect(line).toBe(`JWT_SECRET_PREVIOUS=${INITIAL.JWT_SECRET}`);
        else expect(line).toBe(old);
      } else {
        const [pre, post] = old.split(changed) as [string, string];
        expect(line.startsWith(pre) && line.endsWith(post)).toBe(true);
      }
    });
    // Mode kept; backup byte-identical.
    expect((await fs.stat(s.envFile)).mode & 0o777).toBe(0o600);
    const backups = (await fs.readdir(s.dir)).filter((f) => f.startsWith('.env.production.backup-'));
    expect(backups).toHaveLength(1);
    expect(await fs.readFile(path.join(s.dir, backups[0]!), 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
    // The journal is archived without values.
    const history = await fs.readdir(path.join(s.stateDir, 'history'));
    expect(history).toHaveLength(1);
  });

  it.each(ALL_STEPS)(
    'a failure at %s rolls everything back (exit 1, env file byte-identical)',
    async (step) => {
      const s = await stack();
      const before = await fs.stat(s.envFile);
      const r = await s.run(['rotate', '--yes', '--json'], { env: { REKEY_FAIL_AT: step } });
      record({
        kind: 'failure',
        suite: 'engine (file-held + scriptable services)',
        point: step,
        cause: 'injected failure (REKEY_FAIL_AT)',
        exit: r.code,
        rolledBack: await rolledBack(s, r.code),
      });
      expect(r.code, r.stderr).toBe(1);
      expect(JSON.parse(r.stdout).outcome).toBe('rolled-back');
      expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
      expect((await fs.stat(s.envFile)).mode).toBe(before.mode);
      await s.assertConsistent();
      expect(await s.accepted('SINGLE_PASSWORD')).toEqual([INITIAL.SINGLE_PASSWORD]);
      expect(await s.accepted('OVERLAP_PASSWORD')).toEqual([INITIAL.OVERLAP_PASSWORD]);
      const deploys = await fs.readFile(path.join(s.dir, 'deploys.log'), 'utf8').catch(() => '');
      const deployed = ALL_STEPS.indexOf(step) >= ALL_STEPS.indexOf('deploy');
      expect(deploys.includes('rollback')).toBe(deployed);
    },
  );

  it.each([
    ['stage:SINGLE_PASSWORD', 'fail'],
    ['stage:OVERLAP_PASSWORD', 'fail'],
    ['test:SINGLE_PASSWORD', 'reject'],
    ['test:OVERLAP_PASSWORD', 'reject'],
  ])('a service failing at %s (%s) rolls back', async (point, how) => {
    const s = await stack();
    await s.faults({ [point]: how });
    const r = await s.run(['rotate', '--yes']);
    record({
      kind: 'failure',
      suite: 'engine (file-held + scriptable services)',
      point,
      cause: `service ${how === 'fail' ? 'error' : 'rejects the new value'}`,
      exit: r.code,
      rolledBack: await rolledBack(s, r.code),
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/rolled back/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
  });

  it('a service that rejects its current value stops at preflight and changes nothing', async () => {
    const s = await stack();
    await fs.writeFile(
      path.join(s.dir, 'service-SINGLE_PASSWORD.json'),
      JSON.stringify({ mode: 'single', accepted: ['drifted'] }),
    );
    const r = await s.run(['rotate', '--yes']);
    record({
      kind: 'failure',
      suite: 'engine (file-held + scriptable services)',
      point: 'preflight',
      cause: 'service rejects the current value (drift)',
      exit: r.code,
      rolledBack: r.code === 1 && (await fs.readFile(s.envFile, 'utf8')) === ENV_TEXT,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_TARGET_AUTH: preflight: SINGLE_PASSWORD/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    expect((await fs.readdir(s.dir)).some((f) => f.includes('backup'))).toBe(false);
  });

  it('a failing deploy rolls back and shows its last lines', async () => {
    const s = await stack();
    await fs.writeFile(path.join(s.dir, 'deploy-fault'), 'fail-deploy');
    const r = await s.run(['rotate', '--yes']);
    record({
      kind: 'failure',
      suite: 'engine (file-held + scriptable services)',
      point: 'deploy',
      cause: 'deploy command fails (exit 7)',
      exit: r.code,
      rolledBack: await rolledBack(s, r.code),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_DEPLOY_FAILED/);
    expect(r.stderr).toMatch(/boom: deploy failed/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
  });

  it('a deploy that hangs past its timeout is killed and rolled back', async () => {
    const s = await stack({ deployTimeout: '1s' });
    await fs.writeFile(path.join(s.dir, 'deploy-fault'), 'hang-deploy');
    const t0 = Date.now();
    const r = await s.run(['rotate', '--yes']);
    record({
      kind: 'failure',
      suite: 'engine (file-held + scriptable services)',
      point: 'deploy',
      cause: 'deploy command hangs past its timeout',
      exit: r.code,
      rolledBack: await rolledBack(s, r.code),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_DEPLOY_TIMEOUT/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    await s.assertConsistent();
  });

  it('a deploy that prints secrets has them redacted in what rekey shows and stores', async () => {
    const s = await stack();
    await fs.writeFile(path.join(s.dir, 'deploy-fault'), 'leak-deploy');
    const r = await s.run(['rotate', '--yes']);
    record({
      kind: 'failure',
      suite: 'engine (file-held + scriptable services)',
      point: 'deploy',
      cause: 'deploy prints the secrets, then fails',
      exit: r.code,
      rolledBack: await rolledBack(s, r.code),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SINGLE_PASSWORD=\[REDACTED:SINGLE_PASSWORD\]/);
    const env = await s.env();
    const logs = await fs.readdir(path.join(s.stateDir, 'logs'));
    const stored = (
      await Promise.all(logs.map((l) => fs.readFile(path.join(s.stateDir, 'logs', l), 'utf8')))
    ).join('\n');
    expect(stored).toMatch(/\[REDACTED:SINGLE_PASSWORD\]/);
    for (const v of [...Object.values(INITIAL), ...env.values()].filter((v) => v.length > 8)) {
      expect(r.stderr).not.toContain(v);
      expect(stored).not.toContain(v);
    }
  });

  it('two concurrent rotations: one proceeds, the other exits 6 naming the holder', async () => {
    const s = await stack();
    await fs.writeFile(path.join(s.dir, 'deploy-fault'), 'slow-deploy');
    const a = s.start(['rotate', '--yes']);
    // Wait until the first holds the lock.
    for (let i = 0; i < 100; i++) {
      if (await fs.stat(path.join(s.stateDir, 'lock')).catch(() => undefined)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const b = await s.run(['rotate', '--yes']);
    const ra = await a.done;
    const consistent = await s.assertConsistent().then(
      () => true,
      () => false,
    );
    record({
      kind: 'concurrency',
      suite: 'engine (file-held + scriptable services)',
      case: 'two `rekey rotate` at once',
      ok: ra.code === 0 && b.code === 6 && consistent,
      detail: `first exit ${ra.code}, second exit ${b.code} (${/ERR_[A-Z_]+/.exec(b.stderr)?.[0] ?? '?'})`,
    });
    expect(ra.code, ra.stderr).toBe(0);
    expect(b.code).toBe(6);
    expect(b.stderr).toMatch(/ERR_LOCKED: locked by `rekey rotate`, pid \d+ on .+, started \d{4}-/);
    await s.assertConsistent();
    const deploys = (await fs.readFile(path.join(s.dir, 'deploys.log'), 'utf8')).trim().split('\n');
    expect(deploys).toHaveLength(1);
  });

  it('without a terminal and without --yes, rotate refuses with exit 2 and changes nothing', async () => {
    const s = await stack();
    const r = await s.run(['rotate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ERR_CONFIRMATION_REQUIRED/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
  });

  it('--json prints exactly one JSON document on stdout, also on failure', async () => {
    const s = await stack();
    for (const env of [{}, { REKEY_FAIL_AT: 'verify' }] as Array<Record<string, string>>) {
      const r = await s.run(['rotate', '--yes', '--json'], { env });
      expect(() => JSON.parse(r.stdout)).not.toThrow();
    }
    const bad = await s.run(['rotate', '--yes', '--json', '--only', 'NOPE']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error.code).toBe('ERR_ONLY_UNKNOWN');
  });

  it('canary: no old or new value in stdout, stderr, stored files or child argv/env', async () => {
    const s = await stack({ deploy: 'sh deploy.sh deploy; ps -eo args > argv.txt; env > childenv.txt' });
    const outputs: string[] = [];
    for (const args of [
      ['plan'],
      ['plan', '--json'],
      ['rotate', '--yes'],
      ['rotate', '--yes', '--json'],
      ['verify'],
      ['verify', '--json'],
    ]) {
      const r = await s.run(args);
      expect(r.code, r.stderr).toBe(0);
      outputs.push(r.stdout, r.stderr);
    }
    const fail = await s.run(['rotate', '--yes'], { env: { REKEY_FAIL_AT: 'verify' } });
    outputs.push(fail.stdout, fail.stderr);
    const env = await s.env();
    const backups = (await fs.readdir(s.dir)).filter((f) => f.includes('.backup-'));
    const values = new Set<string>([...Object.values(INITIAL), ...env.values()]);
    for (const b of backups) {
      for (const line of (await fs.readFile(path.join(s.dir, b), 'utf8')).split('\n')) {
        const v = line.split('=')[1]?.replace(/"/g, '').split(' ')[0];
        if (v) values.add(v);
      }
    }
    const secrets = [...values].filter((v) => v.length >= 16 && v !== 'bi-api');
    expect(secrets.length).toBeGreaterThanOrEqual(12);
    const files = (await writtenFiles(s.dir)).filter((f) => !path.basename(f).startsWith('service-'));
    const stored = await Promise.all(files.map(async (f) => [f, await fs.readFile(f, 'utf8')] as const));
    record({
      kind: 'canary',
      suite: 'engine (file-held + scriptable services)',
      scope: 'stdout, stderr, state dir, deploy logs, child argv (ps) and environment; every encoded form',
      values: secrets.length,
      places: outputs.length + stored.length,
      occurrences: leakOccurrences(secrets, [...outputs, ...stored.map(([, t]) => t)]),
    });
    // Every form: the value, URL-encoded, hex, base64 (both alphabets, 3 alignments), 8+ character pieces.
    expect(findLeak(secrets, outputs)).toBeUndefined();
    for (const [f, text] of stored) expect(findLeak(secrets, [text]), `found in ${f}`).toBeUndefined();
  });
});

describe('a full disk mid-rotation', () => {
  it.each(['test:SINGLE_PASSWORD@end', 'deploy@end', 'verify@begin'])(
    'journal writes failing from %s on: the rollback still returns every service, recover closes the journal',
    async (point) => {
      const s = await stack();
      const r = await s.run(['rotate', '--yes', '--json'], { env: { REKEY_DISK_FULL_AT: point } });
      const doc = JSON.parse(r.stdout);
      record({
        kind: 'failure',
        suite: 'engine (file-held + scriptable services)',
        point,
        cause: 'disk full: every journal write fails from here on',
        exit: r.code,
        rolledBack:
          r.code === 1 &&
          (await fs.readFile(s.envFile, 'utf8')) === ENV_TEXT &&
          (await s.accepted('SINGLE_PASSWORD')).join() === INITIAL.SINGLE_PASSWORD,
      });
      expect(r.code, r.stderr).toBe(1);
      expect(doc.outcome).toBe('rolled-back');
      expect(doc.warnings.join()).toMatch(/journal could not be written.*rekey recover/);
      expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
      expect(await s.accepted('SINGLE_PASSWORD')).toEqual([INITIAL.SINGLE_PASSWORD]);
      expect(await s.accepted('OVERLAP_PASSWORD')).toEqual([INITIAL.OVERLAP_PASSWORD]);
      // The disk has room again: recover closes the journal (redoing the idempotent rollback).
      const rec = await s.run(['recover', '--yes', '--json']);
      expect(rec.code, rec.stderr).toBe(0);
      await s.assertConsistent();
    },
  );
});
