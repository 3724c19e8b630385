/**
 * Change control end to end through the built CLI, with real ssh-keygen keys: two valid approvals let
 * a rotation run; every missing, duplicated, unlisted, expired, reused, tampered or mismatched
 * approval is refused with exit 5 and nothing changed.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestDigest } from '../../src/governance/approvals/request.js';
import { INITIAL } from '../engine/stack.js';
import {
  addApprovalByHand,
  approved,
  EMAIL,
  expectUnchanged,
  type GovStack,
  readJsonl,
  signDigest,
  snapshot,
  useGovStacks,
} from './helpers.js';

const { stack } = useGovStacks();

/** Runs a rotation that must be refused with exit 5 and change nothing; returns stderr. */
async function refused(s: GovStack, args: string[], code = 5): Promise<string> {
  const before = await snapshot(s);
  const r = await s.run(['rotate', '--yes', ...args]);
  expect(r.code, r.stderr).toBe(code);
  await expectUnchanged(s, before);
  return r.stderr;
}

describe('approvals', () => {
  it('rekey request says what proves the requester: the signature (principal, key)', async () => {
    const s = await stack();
    const signed = await s.run([
      'request',
      '--trigger',
      'scheduled',
      '--ticket',
      'CHG-8',
      '--key',
      s.key('carol'),
    ]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout + signed.stderr).toMatch(
      new RegExp(`requester: ${EMAIL.carol} \\(signed by ${EMAIL.carol}, key SHA256:`),
    );
  });

  it('request, two approvals with the CLI, then the rotation runs and the request is spent', async () => {
    const s = await stack();
    const req = await s.run([
      'request',
      '--trigger',
      'scheduled',
      '--ticket',
      'CHG-7',
      '--reason',
      'quarterly',
      '--key',
      s.key('carol'),
      '--json',
    ]);
    expect(req.code, req.stderr).toBe(0);
    const { id, keys, digest, requester } = JSON.parse(req.stdout) as {
      id: string;
      keys: string[];
      digest: string;
      requester: string;
    };
    expect(requester).toBe(EMAIL.carol); // the principal of the key that signed the request
    expect(keys).toEqual(['JWT_SECRET', 'API_SECRET_KEY', 'SINGLE_PASSWORD', 'OVERLAP_PASSWORD']);

    const a = await s.run(['approve', id, '--role', 'security-lead', '--key', s.key('alice')]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain('still needed: devops-lead');
    const b = await s.run(['approve', id, '--role', 'devops-lead', '--key', s.key('bob'), '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ satisfied: true, approval: { principal: EMAIL.bob } });

    // The signatures are plain OpenSSH signatures a reviewer can check by hand.
    const file = JSON.parse(await fs.readFile(s.requestFile(id), 'utf8'));
    expect(file.digest).toBe(digest);
    expect(file.approvals.map((x: { principal: string }) => x.principal)).toEqual([EMAIL.alice, EMAIL.bob]);

    const list = await s.run(['requests', '--json']);
    expect(JSON.parse(list.stdout).requests[0]).toMatchObject({ id, status: 'approved', missing: [] });

    const r = await s.run(['rotate', '--yes', '--json', '--request', id, '--operator', 'oncall@example.com']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('rotated');
    await s.assertConsistent();
    expect((await s.env()).get('SINGLE_PASSWORD')).not.toBe(INITIAL.SINGLE_PASSWORD);

    const records = await readJsonl(s.auditFile);
    expect(records.map((x) => `${x.kind}:${x.outcome}`)).toEqual([
      'request:recorded',
      'approval:recorded',
      'approval:recorded',
      'rotate:rotated',
    ]);
    expect(records[3]).toMatchObject({
      requestId: id,
      ticket: 'CHG-7',
      operator: 'oncall@example.com',
      approvals: [
        { role: 'security-lead', principal: EMAIL.alice },
        { role: 'devops-lead', principal: EMAIL.bob },
      ],
    });

    // Single use: the same request cannot authorize a second rotation.
    const again = await refused(s, ['--request', id]);
    expect(again).toMatch(/ERR_APPROVAL_INVALID: .*already used by rotation/);
    const listed = JSON.parse((await s.run(['requests', '--json'])).stdout).requests[0];
    expect(listed).toMatchObject({ status: 'used', rotationId: JSON.parse(r.stdout).id });
  });

  it('refuses a rotation without any request, naming the roles', async () => {
    const s = await stack();
    const err = await refused(s, []);
    expect(err).toContain('ERR_APPROVAL_MISSING');
    expect(err).toContain('security-lead and devops-lead');
    const records = await readJsonl(s.auditFile);
    expect(records.at(-1)).toMatchObject({
      kind: 'rotate',
      outcome: 'refused',
      error: { code: 'ERR_APPROVAL_MISSING' },
    });
  });

  it('refuses a request missing an approval, naming the missing role', async () => {
    const s = await stack();
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    const err = await refused(s, ['--request', r.id]);
    expect(err).toMatch(/ERR_APPROVAL_MISSING: .*lacks the approval of devops-lead/);
    expect(existsSync(path.join(s.stateDir, 'requests', `${r.id}.used`))).toBe(false);
  });

  it('refuses one person approving twice (duplicated principal)', async () => {
    const s = await stack({
      roles: { 'security-lead': [EMAIL.alice], 'devops-lead': [EMAIL.bob, EMAIL.alice] },
    });
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    // rekey approve itself refuses the second approval by alice…
    const cli = await s.run(['approve', r.id, '--role', 'devops-lead', '--key', s.key('alice')]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('already approved this request as security-lead');
    // …and one added by hand does not count either.
    await addApprovalByHand(s.requestFile(r.id), {
      role: 'devops-lead',
      principal: EMAIL.alice,
      signature: signDigest(s.key('alice'), r.digest, 'devops-lead', EMAIL.alice),
    });
    const err = await refused(s, ['--request', r.id]);
    expect(err).toMatch(
      /ERR_APPROVAL_MISSING: .*devops-lead.*alice@example.com already approved as security-lead/,
    );
  });

  it('refuses an approval by a principal not listed for the role', async () => {
    const s = await stack();
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    const cli = await s.run(['approve', r.id, '--role', 'devops-lead', '--key', s.key('carol')]);
    expect(cli.code).toBe(5);
    expect(cli.stderr).toContain('not listed for devops-lead');
    await addApprovalByHand(s.requestFile(r.id), {
      role: 'devops-lead',
      principal: EMAIL.carol,
      signature: signDigest(s.key('carol'), r.digest, 'devops-lead', EMAIL.carol),
    });
    const err = await refused(s, ['--request', r.id]);
    expect(err).toMatch(/ERR_APPROVAL_MISSING: .*carol@example.com, not listed for devops-lead/);
  });

  it('refuses a key that is not in allowed_signers, and a signature claiming someone else', async () => {
    const s = await stack();
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    const cli = await s.run(['approve', r.id, '--role', 'devops-lead', '--key', s.key('eve')]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('ERR_SIGNER_UNKNOWN');
    // eve signs and writes bob's name on it.
    await addApprovalByHand(s.requestFile(r.id), {
      role: 'devops-lead',
      principal: EMAIL.bob,
      signature: signDigest(s.key('eve'), r.digest, 'devops-lead', EMAIL.bob),
    });
    const err = await refused(s, ['--request', r.id]);
    expect(err).toMatch(/ERR_APPROVAL_INVALID: .*devops-lead by bob@example.com does not verify/);
  });

  it('refuses an expired request', async () => {
    // Long enough to sign the request and both approvals on a loaded machine (each signature is a few
    // ssh-keygen runs), then waited out.
    const s = await stack({ expiry: '15s' });
    const r = await approved(s);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, Date.parse(r.expires) - Date.now()) + 200),
    );
    const err = await refused(s, ['--request', r.id]);
    expect(err).toMatch(/ERR_APPROVAL_INVALID: .*expired/);
  });

  it('refuses a request edited after approval (keys widened, digest recomputed)', async () => {
    const s = await stack();
    const r = await approved(s, { only: ['JWT_SECRET'] });
    const file = s.requestFile(r.id);
    const edited = JSON.parse(await fs.readFile(file, 'utf8'));
    edited.keys = ['JWT_SECRET', 'SINGLE_PASSWORD'];
    await fs.writeFile(file, JSON.stringify(edited));
    expect(await refused(s, ['--request', r.id, '--only', 'JWT_SECRET,SINGLE_PASSWORD'])).toMatch(
      /ERR_APPROVAL_INVALID: .*altered after it was created/,
    );
    // Recomputing the digest does not help: the signatures are over the original one.
    edited.digest = requestDigest(edited);
    await fs.writeFile(file, JSON.stringify(edited));
    expect(await refused(s, ['--request', r.id, '--only', 'JWT_SECRET,SINGLE_PASSWORD'])).toMatch(
      /ERR_APPROVAL_INVALID: .*does not verify/,
    );
  });

  it('refuses a request whose signature bytes were tampered with', async () => {
    const s = await stack();
    const r = await approved(s);
    const file = s.requestFile(r.id);
    const doc = JSON.parse(await fs.readFile(file, 'utf8'));
    const lines: string[] = doc.approvals[1].signature.split('\n');
    const i = lines.length - 3; // inside the base64 of the signature blob
    lines[i] = `${lines[i]!.slice(0, 10)}${lines[i]![10] === 'A' ? 'B' : 'A'}${lines[i]!.slice(11)}`;
    doc.approvals[1].signature = lines.join('\n');
    await fs.writeFile(file, JSON.stringify(doc));
    expect(await refused(s, ['--request', r.id])).toMatch(
      /ERR_APPROVAL_INVALID: .*devops-lead by bob@example.com does not verify/,
    );
  });

  it('refuses a rotation that does not match the request (keys, trigger, ticket)', async () => {
    const s = await stack();
    const r = await approved(s, { only: ['JWT_SECRET'], ticket: 'CHG-9' });
    expect(await refused(s, ['--request', r.id, '--only', 'API_SECRET_KEY'])).toMatch(
      /ERR_APPROVAL_INVALID: .*approves JWT_SECRET \(trigger scheduled\), but this rotation is API_SECRET_KEY/,
    );
    expect(await refused(s, ['--request', r.id, '--only', 'JWT_SECRET', '--trigger', 'release'])).toContain(
      'ERR_APPROVAL_INVALID',
    );
    expect(await refused(s, ['--request', r.id, '--only', 'JWT_SECRET', '--ticket', 'CHG-10'])).toMatch(
      /for ticket CHG-9, not CHG-10/,
    );
    expect(await refused(s, ['--request', 'req-20990101-000000'])).toContain('no change request');
    // The request was never claimed: it still works for what it approves.
    const ok = await s.run(['rotate', '--yes', '--request', r.id, '--only', 'JWT_SECRET']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('recover', () => {
  it('a rotation that stopped before changing anything gives its request back: the same command runs again', async () => {
    const s = await stack();
    const req = await approved(s);
    // The journal cannot be written (a full disk): the rotation stops before its first change.
    const failed = await s.run(['rotate', '--yes', '--request', req.id], {
      env: { REKEY_DISK_FULL_AT: 'prepare@begin' },
    });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/ENOSPC/);
    expect(failed.stderr).toMatch(new RegExp(`change request ${req.id} is still unused`));
    expect(existsSync(path.join(s.stateDir, 'journal.json'))).toBe(false);
    expect((await s.env()).get('SINGLE_PASSWORD')).toBe(INITIAL.SINGLE_PASSWORD);

    const r = await s.run(['rotate', '--yes', '--json', '--request', req.id]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('rotated');
    await s.assertConsistent();
    expect(await refused(s, ['--request', req.id])).toContain('already used');
  });

  it('finishes an approved rotation killed half-way and audits it with its request and approvals', async () => {
    const s = await stack();
    const req = await approved(s);
    const killed = await s.run(['rotate', '--yes', '--request', req.id], {
      env: { REKEY_CRASH_AT: 'deploy@begin' },
    });
    expect(killed.signal).toBe('SIGKILL');
    const r = await s.run(['recover', '--yes', '--json', '--operator', 'ops2@example.com']);
    expect(r.code, r.stderr).toBe(0);
    const rotationId = JSON.parse(r.stdout).id as string;
    await s.assertConsistent();
    const last = (await readJsonl(s.auditFile)).at(-1);
    expect(last).toMatchObject({
      kind: 'recover',
      outcome: 'rotated',
      rotationId,
      requestId: req.id,
      operator: 'ops2@example.com',
      approvals: [
        { role: 'security-lead', principal: EMAIL.alice },
        { role: 'devops-lead', principal: EMAIL.bob },
      ],
    });
    const listed = JSON.parse((await s.run(['requests', '--json'])).stdout).requests[0];
    expect(listed).toMatchObject({ status: 'used', rotationId });
    expect(await refused(s, ['--request', req.id])).toContain('already used');
  });
});

describe('break-glass', () => {
  it('is refused unless the trigger is compromise (exit 2, nothing changed)', async () => {
    const s = await stack();
    const err = await refused(s, ['--break-glass', 'leaked in a paste'], 2);
    expect(err).toContain('ERR_BREAK_GLASS_TRIGGER');
    expect(await refused(s, ['--break-glass', 'x', '--trigger', 'release'], 2)).toContain(
      'ERR_BREAK_GLASS_TRIGGER',
    );
  });

  it('rotates at once on compromise, records it, and stays outstanding until two approvals', async () => {
    const s = await stack();
    const r = await s.run([
      'rotate',
      '--yes',
      '--json',
      '--trigger',
      'compromise',
      '--break-glass',
      'JWT secret in a public gist',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/break-glass: rotating without approvals; change request (req-\S+)/);
    const rotationId = JSON.parse(r.stdout).id as string;
    const records = await readJsonl(s.auditFile);
    expect(records.map((x) => `${x.kind}:${x.outcome}`)).toEqual(['break-glass:recorded', 'rotate:rotated']);
    const requestId = records[0]!.requestId as string;
    expect(records[1]).toMatchObject({
      breakGlass: 'JWT secret in a public gist',
      requestId,
      trigger: 'compromise',
    });

    const { outstandingApprovals } = await import('../../src/governance/approvals/index.js');
    expect(await outstandingApprovals(await s.loaded())).toEqual([
      expect.objectContaining({ requestId, rotationId, keys: expect.arrayContaining(['JWT_SECRET']) }),
    ]);
    // The break-glass record cannot authorize another rotation.
    expect(await refused(s, ['--request', requestId, '--trigger', 'compromise'])).toContain('break-glass');

    await s.approve(requestId, 'security-lead', 'alice');
    expect(await outstandingApprovals(await s.loaded())).toHaveLength(1);
    await s.approve(requestId, 'devops-lead', 'bob');
    expect(await outstandingApprovals(await s.loaded())).toEqual([]);
    const list = JSON.parse((await s.run(['requests', '--json'])).stdout).requests;
    expect(list[0]).toMatchObject({ id: requestId, status: 'approved after the fact', rotationId });
  });
});

describe('change control off', () => {
  it('plan and rotate warn, and the rotation runs', async () => {
    const s = await stack({ approvals: false });
    const plan = await s.run(['plan', '--json']);
    expect(plan.stderr).toContain('change control is off');
    expect(() => JSON.parse(plan.stdout)).not.toThrow();
    const r = await s.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('change control is off');
    const req = await s.run(['rotate', '--yes', '--request', 'req-1']);
    expect(req.code).toBe(2);
    expect(req.stderr).toContain('ERR_APPROVALS_OFF');
  });
});
