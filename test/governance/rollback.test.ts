/**
 * Issue 11 item 11: the trigger each record holds is the real one (`manual` for a hand rotation
 * without --trigger, `rollback` for `rekey rollback`), a rollback does not reset a secret's age, and
 * `rekey rollback` needs approvals where rotations need them (an approved request with trigger
 * `rollback`, or --break-glass approved after the fact).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SecretStatus } from '../../src/policy/types.js';
import { INITIAL } from '../engine/stack.js';
import { approved, expectUnchanged, type GovStack, readJsonl, snapshot, useGovStacks } from './helpers.js';

const { stack } = useGovStacks();

async function backups(s: GovStack): Promise<string[]> {
  return (await fs.readdir(s.dir))
    .filter((f) => f.includes('.backup-'))
    .sort()
    .map((f) => path.join(s.dir, f));
}

async function status(s: GovStack): Promise<SecretStatus[]> {
  const r = await s.run(['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).secrets;
}

describe('recorded triggers', { timeout: 180_000 }, () => {
  it('a hand rotation without --trigger is manual, with it the trigger given; a rollback is rollback and does not reset the age', async () => {
    const s = await stack({ approvals: false });
    const first = await s.run(['rotate', '--yes', '--json', '--only', 'JWT_SECRET']);
    expect(first.code, first.stderr).toBe(0);
    const second = await s.run([
      'rotate',
      '--yes',
      '--json',
      '--trigger',
      'scheduled',
      '--only',
      'JWT_SECRET',
    ]);
    expect(second.code, second.stderr).toBe(0);
    const [, afterFirst] = await backups(s); // the backup of the second rotation: the first one's values
    const back = await s.run(['rollback', '--yes', '--json', '--backup', afterFirst!]);
    expect(back.code, back.stderr).toBe(0);

    const rotations = (await readJsonl(s.auditFile)).filter((r) => r.kind !== 'break-glass');
    expect(rotations.map((r) => `${r.kind}:${r.trigger}:${r.outcome}`)).toEqual([
      'rotate:manual:rotated',
      'rotate:scheduled:rotated',
      'rollback:rollback:rotated',
    ]);
    // Ordered by creation time: the three can share a second, and ids carry the second only.
    const history = (
      await Promise.all(
        (
          await fs.readdir(path.join(s.stateDir, 'history'))
        ).map(async (f) => JSON.parse(await fs.readFile(path.join(s.stateDir, 'history', f), 'utf8'))),
      )
    ).sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
    expect(history.map((h) => h.meta.recordedTrigger ?? h.trigger)).toEqual([
      'manual',
      'scheduled',
      'rollback',
    ]);

    // The rollback undid the second rotation: JWT_SECRET's age is the first rotation's again.
    const jwt = (await status(s)).find((x) => x.key === 'JWT_SECRET')!;
    const firstId = JSON.parse(first.stdout).id as string;
    const firstRecord = rotations.find((r) => r.rotationId === firstId)!;
    expect(jwt).toMatchObject({ lastTrigger: 'manual', lastRotated: firstRecord.time });
    expect(jwt.lastAttempt).toMatchObject({ kind: 'rollback', trigger: 'rollback', outcome: 'rotated' });
  });
});

describe('rollback under change control', { timeout: 240_000 }, () => {
  it('needs an approved request with trigger rollback; refusals change nothing; the request is single-use', async () => {
    const s = await stack();
    const rotation = await approved(s);
    const r = await s.run(['rotate', '--yes', '--request', rotation.id]);
    expect(r.code, r.stderr).toBe(0);
    const [backup] = await backups(s);

    const refuse = async (args: string[]) => {
      const before = await snapshot(s);
      const x = await s.run(['rollback', '--yes', '--backup', backup!, ...args]);
      expect(x.code, x.stderr).toBe(5);
      await expectUnchanged(s, before);
      return x.stderr;
    };
    const none = await refuse([]);
    expect(none).toContain('ERR_APPROVAL_MISSING');
    expect(none).toMatch(/before a rollback/);
    expect(none).toContain('rekey request --trigger rollback');
    expect((await readJsonl(s.auditFile)).at(-1)).toMatchObject({
      kind: 'rollback',
      trigger: 'rollback',
      outcome: 'refused',
    });
    // A request for a rotation does not authorize a rollback.
    const other = await approved(s, { trigger: 'scheduled' });
    expect(await refuse(['--request', other.id])).toMatch(
      /ERR_APPROVAL_INVALID: .*trigger scheduled.*trigger rollback/,
    );
    // Half approved is not approved.
    const half = await s.request({ trigger: 'rollback' });
    await s.approve(half.id, 'security-lead', 'alice');
    expect(await refuse(['--request', half.id])).toMatch(/ERR_APPROVAL_MISSING: .*devops-lead/);

    const ok = await approved(s, { trigger: 'rollback' });
    const done = await s.run(['rollback', '--yes', '--json', '--backup', backup!, '--request', ok.id]);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).outcome).toBe('rotated');
    expect((await s.env()).get('SINGLE_PASSWORD')).toBe(INITIAL.SINGLE_PASSWORD);
    await s.assertConsistent();
    expect((await readJsonl(s.auditFile)).at(-1)).toMatchObject({
      kind: 'rollback',
      trigger: 'rollback',
      outcome: 'rotated',
      requestId: ok.id,
      approvals: [{ role: 'security-lead' }, { role: 'devops-lead' }],
    });
    // Single use.
    const [, second] = await backups(s);
    const again = await s.run(['rollback', '--yes', '--backup', second!, '--request', ok.id]);
    expect(again.code, again.stderr).toBe(5);
    expect(again.stderr).toMatch(/already used/);
  });

  it('a rollback request binds the values it returns to: an approval for one backup cannot be spent on a file the operator wrote', async () => {
    const s = await stack();
    const rotation = await approved(s);
    expect((await s.run(['rotate', '--yes', '--request', rotation.id])).code).toBe(0);
    const [backup] = await backups(s);
    const ok = await approved(s, { trigger: 'rollback', backup: backup! });
    expect(ok.returnTo?.what).toContain(path.basename(backup!));
    expect(JSON.stringify(ok)).not.toContain(INITIAL.SINGLE_PASSWORD);

    // The attacker (an operator with the approved request) writes a "backup" of their own: the
    // approved file with one password replaced by a value they know.
    const known = 'attacker-chosen-password-0123456789';
    const forged = path.join(s.dir, '.env.production.backup-forged');
    const text = await fs.readFile(backup!, 'utf8');
    expect(text).toContain(INITIAL.SINGLE_PASSWORD);
    await fs.writeFile(forged, text.replace(INITIAL.SINGLE_PASSWORD, known), { mode: 0o600 });
    const before = await snapshot(s);
    const bad = await s.run(['rollback', '--yes', '--backup', forged, '--request', ok.id]);
    expect(bad.code, bad.stderr).toBe(5);
    expect(bad.stderr).toMatch(/ERR_APPROVAL_INVALID: .*approves a return to .*backup-.*other values/);
    expect(bad.stderr).not.toContain(known);
    await expectUnchanged(s, before);
    expect((await s.env()).get('SINGLE_PASSWORD')).not.toBe(known);

    // The refusal did not spend the request: the approved backup still goes through.
    const done = await s.run(['rollback', '--yes', '--json', '--backup', backup!, '--request', ok.id]);
    expect(done.code, done.stderr).toBe(0);
    expect((await s.env()).get('SINGLE_PASSWORD')).toBe(INITIAL.SINGLE_PASSWORD);
    await s.assertConsistent();
  });

  it('a rollback request is refused at once for a backup that changes nothing, or --only other than what differs', async () => {
    const s = await stack();
    const rotation = await approved(s, { only: ['JWT_SECRET'] });
    expect((await s.run(['rotate', '--yes', '--only', 'JWT_SECRET', '--request', rotation.id])).code).toBe(0);
    const [backup] = await backups(s);
    await expect(
      s.request({ trigger: 'rollback', backup: backup!, only: ['SINGLE_PASSWORD'] }),
    ).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: expect.stringMatching(/returns JWT_SECRET .*not --only SINGLE_PASSWORD/),
    });
    const same = path.join(s.dir, '.env.production.backup-same');
    await fs.copyFile(path.join(s.dir, '.env.production'), same);
    await expect(s.request({ trigger: 'rollback', backup: same })).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: expect.stringMatching(/nothing to roll back/),
    });
  });

  it('--break-glass rolls back at once and stays outstanding until approved after the fact', async () => {
    const s = await stack();
    const rotation = await approved(s);
    expect((await s.run(['rotate', '--yes', '--request', rotation.id])).code).toBe(0);
    const [backup] = await backups(s);
    const r = await s.run([
      'rollback',
      '--yes',
      '--json',
      '--backup',
      backup!,
      '--break-glass',
      'new secrets broke login',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/break-glass: rotating without approvals; change request (req-\S+)/);
    await s.assertConsistent();
    const records = await readJsonl(s.auditFile);
    const [glass, rolled] = records.slice(-2);
    expect(glass).toMatchObject({ kind: 'break-glass', trigger: 'rollback', outcome: 'recorded' });
    expect(rolled).toMatchObject({
      kind: 'rollback',
      trigger: 'rollback',
      outcome: 'rotated',
      breakGlass: 'new secrets broke login',
      requestId: glass!.requestId,
    });
    const { outstandingApprovals } = await import('../../src/governance/approvals/index.js');
    expect(await outstandingApprovals(await s.loaded())).toEqual([
      expect.objectContaining({ requestId: glass!.requestId }),
    ]);
  });
});
