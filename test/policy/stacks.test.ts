/**
 * Two configs in one folder (issue 11 item 2): each stack keeps its own state (journal, lock,
 * history, schedule) and reads only its own records from the shared audit log. Stack A is the engine
 * test stack (rekey.yaml, .env.production); stack B (rekey-b.yaml, .env.staging) manages keys of the
 * same names, file-held, last rotated long ago.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type Stack, useStacks } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';

const stack = useStacks();

const B_ENV = `# LastSecretRotation: 2020-01-01T00:00:00Z
JWT_SECRET=jwt-staging-b2xkc3RhZ2luZ3NlY3JldDEyMzQ1Njc4
JWT_SECRET_PREVIOUS=
API_SECRET_KEY=api-staging-c3RhZ2luZ2FwaWtleTEyMzQ1Njc4OTA
`;

async function withB(s: Stack): Promise<{ b: string[]; bEnv: string }> {
  const bEnv = path.join(s.dir, '.env.staging');
  await fs.writeFile(bEnv, B_ENV, { mode: 0o600 });
  await fs.writeFile(
    path.join(s.dir, 'rekey-b.yaml'),
    `envFile: .env.staging
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: API_SECRET_KEY, type: api-key }
`,
  );
  return { b: ['--config', 'rekey-b.yaml'], bEnv };
}

async function statusOf(s: Stack, args: string[]) {
  const r = await s.run([...args, 'status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    secrets: Array<{ key: string; state: string; source: string; lastAttempt?: { id: string } }>;
  };
}

describe('two configs in one folder', { timeout: 180_000 }, () => {
  it("a rotation of A is not B's: check B still exits 3, status B shows only B's records", async () => {
    const s = await stack();
    const { b } = await withB(s);
    expect((await s.run(['check'])).code).toBe(3); // A: never rotated
    expect((await s.run([...b, 'check'])).code).toBe(3); // B: last rotated in 2020
    const rotated = await s.run(['rotate', '--yes', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const id = JSON.parse(rotated.stdout).id as string;

    expect((await s.run(['check'])).code).toBe(0);
    const check = await s.run([...b, 'check']);
    expect(check.code, check.stderr).toBe(3);
    const a = await statusOf(s, []);
    expect(a.secrets.every((x) => x.state === 'ok' && x.lastAttempt?.id === id)).toBe(true);
    const bs = await statusOf(s, b);
    expect(bs.secrets.map((x) => [x.key, x.state, x.source, x.lastAttempt])).toEqual([
      ['JWT_SECRET', 'overdue', 'annotation', undefined],
      ['API_SECRET_KEY', 'overdue', 'annotation', undefined],
    ]);
    // Each stack has its own state directory; A, the first, keeps the configured one.
    const [la, lb] = await Promise.all([
      loadConfig(path.join(s.dir, 'rekey.yaml')),
      loadConfig(path.join(s.dir, 'rekey-b.yaml')),
    ]);
    expect(la.stateDir).toBe(s.stateDir);
    expect(lb.stateDir).toBe(path.join(s.stateDir, 'stacks', lb.stackKey));
    expect(lb.stackKey).toMatch(/^env\.staging-[0-9a-f]{12}$/);
    // One audit log, one chain: every record names its stack.
    const verify = await s.run(['audit', 'verify']);
    expect(verify.code, verify.stderr).toBe(0);
    // `audit show` of B: none of A's records (it listed every stack's before), and says so.
    const showB = await s.run([...b, 'audit', 'show']);
    expect(showB.code, showB.stderr).toBe(0);
    const shownB = showB.stdout + showB.stderr;
    expect(shownB).not.toContain(id);
    // (Its stack key's "staging-" is redacted here: B's fixture secrets contain that word.)
    expect(shownB).toMatch(/no record of this stack \(env\..*\) in the audit log/);
    expect(shownB).toMatch(
      /\d+ records? of other stacks sharing this log not shown \(--all-stacks shows them\)/,
    );
    const showA = JSON.parse((await s.run(['audit', 'show', '--json'])).stdout) as {
      records: Array<{ rotationId?: string; stackKey?: string }>;
      otherStacks?: number;
    };
    expect(showA.records.some((r) => r.rotationId === id)).toBe(true);
    expect(new Set(showA.records.map((r) => r.stackKey))).toEqual(new Set([la.stackKey]));
    const allB = JSON.parse((await s.run([...b, 'audit', 'show', '--all-stacks', '--json'])).stdout) as {
      records: Array<{ rotationId?: string }>;
    };
    expect(allB.records.some((r) => r.rotationId === id)).toBe(true);
  });

  it("recover B leaves A's interrupted rotation, lock and backup alone; recover A finishes it", async () => {
    const s = await stack();
    const { b, bEnv } = await withB(s);
    const crashed = await s.run(['rotate', '--yes'], {
      env: { REKEY_CRASH_AT: 'stage:SINGLE_PASSWORD@end' },
    });
    expect(crashed.signal).toBe('SIGKILL');
    const lockFile = path.join(s.stateDir, 'lock');
    const lock = await fs.readFile(lockFile, 'utf8');
    const backups = (await fs.readdir(s.dir)).filter((f) => f.includes('.backup-'));
    expect(backups).toHaveLength(1);

    const r = await s.run([...b, 'recover', '--yes', '--json']);
    const untouched = (await fs.readFile(lockFile, 'utf8')) === lock && !r.stderr.includes(backups[0]!);
    record({
      kind: 'concurrency',
      suite: 'two stacks in one folder',
      case: "recover of stack B while A's rotation is interrupted",
      ok: r.code === 0 && untouched,
      detail: `exit ${r.code}; A's lock, journal and backup ${untouched ? 'untouched' : 'TOUCHED'}`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('nothing-to-do');
    expect(`${r.stdout}${r.stderr}`).not.toContain(backups[0]!);
    expect(r.stderr).not.toMatch(/took over the lock/);
    expect(await fs.readFile(lockFile, 'utf8')).toBe(lock);
    expect(existsSync(path.join(s.stateDir, 'journal.json'))).toBe(true);
    expect(await fs.readFile(bEnv, 'utf8')).toBe(B_ENV);
    // B is not blocked by A's interrupted rotation either: its own lock and journal.
    expect((await s.run([...b, 'plan'])).code).toBe(0);

    const ra = await s.run(['recover', '--yes', '--json']);
    expect(ra.code, ra.stderr).toBe(0);
    expect(JSON.parse(ra.stdout).outcome).toBe('rolled-back');
    await s.assertConsistent();
  });

  it("refuses a journal of another env file found in B's state directory (exit 4, names its env file)", async () => {
    const s = await stack();
    const { b, bEnv } = await withB(s);
    await s.run(['rotate', '--yes'], { env: { REKEY_CRASH_AT: 'stage:SINGLE_PASSWORD@end' } });
    const lb = await loadConfig(path.join(s.dir, 'rekey-b.yaml'));
    await fs.mkdir(lb.stateDir, { recursive: true, mode: 0o700 });
    await fs.copyFile(path.join(s.stateDir, 'journal.json'), path.join(lb.stateDir, 'journal.json'));
    await fs.copyFile(path.join(s.stateDir, 'lock'), path.join(lb.stateDir, 'lock'));
    const lock = await fs.readFile(path.join(lb.stateDir, 'lock'), 'utf8');

    const r = await s.run([...b, 'recover', '--yes']);
    record({
      kind: 'concurrency',
      suite: 'two stacks in one folder',
      case: "a journal of stack A found in stack B's state directory",
      ok: r.code === 4 && (await fs.readFile(bEnv, 'utf8')) === B_ENV,
      detail: `recover B: exit ${r.code}, names A's env file; B's env file and the lock unchanged`,
    });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain(`belongs to the env file ${await fs.realpath(s.envFile)}`);
    expect(r.stderr).not.toMatch(/took over the lock|backup-/);
    expect(await fs.readFile(path.join(lb.stateDir, 'lock'), 'utf8')).toBe(lock);
    expect(await fs.readFile(bEnv, 'utf8')).toBe(B_ENV);
  });

  it('a state folder written before stacks were told apart stays with the stack it belongs to', async () => {
    const s = await stack();
    // A rotates once, then is interrupted: its journal and history lie in .rekey itself, and its
    // audit records carry no stack key, as an earlier version wrote them.
    expect((await s.run(['rotate', '--yes', '--only', 'JWT_SECRET'])).code).toBe(0);
    await s.run(['rotate', '--yes'], { env: { REKEY_CRASH_AT: 'stage:SINGLE_PASSWORD@end' } });
    await fs.rm(path.join(s.stateDir, 'stack-env'));
    const audit = path.join(s.dir, 'rekey-audit.jsonl');
    const lines = (await fs.readFile(audit, 'utf8')).trim().split('\n');
    await fs.writeFile(
      audit,
      `${lines.map((l) => JSON.stringify({ ...JSON.parse(l), stackKey: undefined })).join('\n')}\n`,
    );
    const { b } = await withB(s);

    // B comes first: it must not take the folder (nor A's journal) for its own.
    expect((await s.run([...b, 'check'])).code).toBe(3);
    const bs = await statusOf(s, b);
    expect(bs.secrets.every((x) => x.lastAttempt === undefined)).toBe(true);
    const a = await statusOf(s, []);
    expect(a.secrets.find((x) => x.key === 'JWT_SECRET')).toMatchObject({ source: 'audit' });
    const r = await s.run(['recover', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('rolled-back');
    await s.assertConsistent();
  });

  it('an env file renamed while its rotation was interrupted: rotate is blocked, recover finishes it', async () => {
    const s = await stack();
    expect((await s.run(['rotate', '--yes'])).code).toBe(0); // the stack owns .rekey
    await s.run(['rotate', '--yes'], { env: { REKEY_CRASH_AT: 'stage:SINGLE_PASSWORD@end' } });
    const renamed = path.join(s.dir, '.env.prod');
    await fs.rename(s.envFile, renamed);
    const config = path.join(s.dir, 'rekey.yaml');
    await fs.writeFile(
      config,
      (await fs.readFile(config, 'utf8')).replace('envFile: .env.production', 'envFile: .env.prod'),
    );
    const blocked = await s.run(['rotate', '--yes']);
    expect(blocked.code, blocked.stderr).toBe(6);
    const r = await s.run(['recover', '--yes', '--json']);
    record({
      kind: 'concurrency',
      suite: 'two stacks in one folder',
      case: 'env file renamed while its rotation was interrupted',
      ok: blocked.code === 6 && r.code === 0,
      detail: `rotate: exit ${blocked.code} (journal pending); recover: exit ${r.code}, ${r.code === 0 ? JSON.parse(r.stdout).outcome : 'failed'}`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('rolled-back');
    expect(existsSync(path.join(s.stateDir, 'journal.json'))).toBe(false);
  });
});
