/**
 * The requester is proven by a signature (`rekey request --key`): the requester recorded and compared
 * by approvals.forbidSelfApproval is the principal of the key that signed the request, never the name
 * written in the request file. An unsigned request is refused under the default policy.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChangeRequest } from '../../src/governance/approvals/request.js';
import { requestDigest } from '../../src/governance/approvals/request.js';
import { requestMessage } from '../../src/governance/approvals/requester.js';
import { record } from '../helpers/resilience.js';
import {
  addApprovalByHand,
  approved,
  EMAIL,
  expectUnchanged,
  type GovStack,
  type Person,
  readJsonl,
  signDigest,
  snapshot,
  useGovStacks,
} from './helpers.js';

const { stack } = useGovStacks();

/** What someone editing a request by hand signs with ssh-keygen: the request message as `principal`. */
function signRequestByHand(keyFile: string, digest: string, principal: string): string {
  return execFileSync('/usr/bin/ssh-keygen', ['-Y', 'sign', '-f', keyFile, '-n', 'rekey'], {
    input: requestMessage(digest, principal),
    stdio: ['pipe', 'pipe', 'ignore'],
  })
    .toString()
    .trim();
}

/** The SHA-256 fingerprint of a person's key, as `ssh-keygen -l` prints it. */
function fingerprint(s: GovStack, who: Person): string {
  return execFileSync('/usr/bin/ssh-keygen', ['-l', '-f', `${s.key(who)}.pub`])
    .toString()
    .split(' ')[1]!;
}

async function editRequest(s: GovStack, id: string, edit: (r: ChangeRequest) => void): Promise<void> {
  const file = s.requestFile(id);
  const r = JSON.parse(await fs.readFile(file, 'utf8')) as ChangeRequest;
  edit(r);
  await fs.writeFile(file, JSON.stringify(r, null, 2));
}

/** Runs a command that must be refused, records the bad-input row, checks that nothing changed. */
async function refused(s: GovStack, args: string[], code: number, label: string): Promise<string> {
  const before = await snapshot(s);
  const run = await s.run(args);
  const after = await snapshot(s);
  record({
    kind: 'bad-input',
    suite: 'governance/signed-request',
    case: label,
    exit: run.code,
    expected: code,
    code: /ERR_[A-Z_]+/.exec(run.stderr)?.[0] ?? '',
    unchanged: after.env.equals(before.env) && after.files.join() === before.files.join(),
  });
  expect(run.code, run.stderr).toBe(code);
  await expectUnchanged(s, before);
  return run.stderr;
}

describe('signed requests', () => {
  it('a request alice signed whose file names bob as requester: alice cannot approve it', async () => {
    const s = await stack({
      roles: { 'security-lead': [EMAIL.alice], 'devops-lead': [EMAIL.bob, EMAIL.carol] },
    });
    const req = await s.run([
      'request',
      '--trigger',
      'scheduled',
      '--ticket',
      'CHG-9',
      '--key',
      s.key('alice'),
      '--json',
    ]);
    expect(req.code, req.stderr).toBe(0);
    const { id, requester } = JSON.parse(req.stdout) as { id: string; requester: string };
    expect(requester).toBe(EMAIL.alice);
    // alice rewrites the file as bob's request: requester bob, digest recomputed, signed again with her
    // key as bob (she has no other).
    await editRequest(s, id, (r) => {
      r.requester = EMAIL.bob;
      r.digest = requestDigest(r);
      r.requesterSignature = signRequestByHand(s.key('alice'), r.digest, EMAIL.bob);
    });
    const digest = JSON.parse(await fs.readFile(s.requestFile(id), 'utf8')).digest as string;

    const err = await refused(
      s,
      ['approve', id, '--role', 'security-lead', '--key', s.key('alice')],
      5,
      'approve a request signed by the approver, its file naming another requester',
    );
    expect(err).toMatch(
      /ERR_APPROVAL_INVALID: alice@example.com requested req-\S+ \(signed it with this key\) and cannot approve it/,
    );

    // Her approval written in by hand, with carol's for the other role, does not authorize a rotation.
    await addApprovalByHand(s.requestFile(id), {
      role: 'security-lead',
      principal: EMAIL.alice,
      signature: signDigest(s.key('alice'), digest, 'security-lead', EMAIL.alice),
    });
    await addApprovalByHand(s.requestFile(id), {
      role: 'devops-lead',
      principal: EMAIL.carol,
      signature: signDigest(s.key('carol'), digest, 'devops-lead', EMAIL.carol),
    });
    const rot = await refused(
      s,
      ['rotate', '--yes', '--request', id],
      5,
      'rotate --request: a request whose requester field names someone other than its signer',
    );
    expect(rot).toMatch(
      /ERR_APPROVAL_INVALID: .*names bob@example.com as requester, but it was signed by alice@example.com/,
    );
  });

  it('an edited requester field is refused: by the approvers, and at rotation', async () => {
    const s = await stack();
    const r = await s.request(); // signed by carol
    // Someone changes the requester before anyone approved, and recomputes the digest.
    await editRequest(s, r.id, (x) => {
      x.requester = 'dave@example.com';
      x.digest = requestDigest(x);
    });
    const err = await refused(
      s,
      ['approve', r.id, '--role', 'security-lead', '--key', s.key('alice')],
      5,
      'approve a request whose requester was edited (digest recomputed)',
    );
    expect(err).toMatch(
      /names dave@example.com as requester, but it was signed by carol@example.com; not signed/,
    );
    const listed = JSON.parse((await s.run(['requests', '--json'])).stdout).requests[0];
    expect(listed).toMatchObject({ id: r.id, status: 'invalid' });
    expect(listed.problems).toEqual([
      expect.stringMatching(/^requester signature: the request names dave@example.com as requester/),
    ]);

    // Approvals signed by hand over the edited digest do not make it usable.
    const digest = JSON.parse(await fs.readFile(s.requestFile(r.id), 'utf8')).digest as string;
    for (const [role, who] of [
      ['security-lead', 'alice'],
      ['devops-lead', 'bob'],
    ] as const) {
      await addApprovalByHand(s.requestFile(r.id), {
        role,
        principal: EMAIL[who],
        signature: signDigest(s.key(who), digest, role, EMAIL[who]),
      });
    }
    const rot = await refused(
      s,
      ['rotate', '--yes', '--request', r.id],
      5,
      'rotate --request: the requester field edited (digest recomputed, approvals signed over it)',
    );
    expect(rot).toMatch(
      /ERR_APPROVAL_INVALID: change request \S+: the request names dave@example.com as requester/,
    );

    // Edited without recomputing the digest: altered.
    const s2 = await stack();
    const r2 = await approved(s2);
    await editRequest(s2, r2.id, (x) => {
      x.requester = 'dave@example.com';
    });
    const rot2 = await refused(
      s2,
      ['rotate', '--yes', '--request', r2.id],
      5,
      'rotate --request: the requester field edited after approval',
    );
    expect(rot2).toMatch(/ERR_APPROVAL_INVALID: change request \S+: it was altered after it was created/);
  });

  it('an unsigned request is refused under forbidSelfApproval (default); false is the explicit opt-out', async () => {
    const s = await stack({ forbidSelfApproval: false });
    const config = path.join(s.dir, 'rekey.yaml');
    const optOut = await fs.readFile(config, 'utf8');
    const byDefault = optOut.replace('  forbidSelfApproval: false\n', '');
    expect(byDefault).not.toBe(optOut);
    // Made and approved while the opt-out was on, then the default comes back.
    const r = await s.request({ unsigned: true });
    expect(r.requesterSignature).toBeUndefined();
    await s.approve(r.id, 'security-lead', 'alice');
    await s.approve(r.id, 'devops-lead', 'bob');
    await fs.writeFile(config, byDefault);
    const shown = JSON.parse((await s.run(['requests', '--json'])).stdout).requests[0];
    expect(shown).toMatchObject({ id: r.id, status: 'invalid' });
    expect(shown.problems).toEqual([expect.stringContaining('not signed by its requester')]);

    const err = await refused(
      s,
      ['rotate', '--yes', '--request', r.id],
      5,
      'rotate --request: an unsigned request, forbidSelfApproval on (default)',
    );
    // One line saying what is wrong, one saying what to do.
    const lines = err.trim().split('\n');
    const at = lines.findIndex((l) => l.includes('ERR_'));
    expect(lines[at]).toMatch(
      /ERR_APPROVAL_INVALID: change request \S+ is not signed by its requester, and approvals.forbidSelfApproval needs the requester proven by a signature; nothing was changed/,
    );
    expect(lines.slice(at + 1)).toEqual([expect.stringContaining('rekey request --key PATH')]);
    expect(err).not.toMatch(/\n\s+at /); // no stack trace

    // `rekey request` without --key is refused before anything is written.
    const made = await refused(
      s,
      ['request', '--trigger', 'scheduled', '--ticket', 'CHG-1'],
      2,
      'rekey request without --key, forbidSelfApproval on (default)',
    );
    expect(made).toMatch(/ERR_USAGE: rekey request needs --key/);
    expect(await fs.readdir(path.join(s.stateDir, 'requests'))).toEqual([`${r.id}.json`]);

    // The explicit opt-out: the unsigned request authorizes the rotation.
    await fs.writeFile(config, optOut);
    const ok = await s.run(['rotate', '--yes', '--json', '--request', r.id]);
    expect(ok.code, ok.stderr).toBe(0);
    const rotated = (await readJsonl(s.auditFile)).at(-1)!;
    expect(rotated).toMatchObject({ kind: 'rotate', outcome: 'rotated', requestId: r.id });
    expect(rotated.requestedBy).toBeUndefined(); // nobody was proven to have asked
  });

  it('the audit records name the verified requester with its key fingerprint', async () => {
    const s = await stack();
    const r = await approved(s); // requested (and signed) by carol
    expect(r.requester).toBe(EMAIL.carol);
    const run = await s.run(['rotate', '--yes', '--json', '--request', r.id]);
    expect(run.code, run.stderr).toBe(0);
    const records = await readJsonl(s.auditFile);
    const carol = { principal: EMAIL.carol, fingerprint: fingerprint(s, 'carol') };
    expect(carol.fingerprint).toMatch(/^SHA256:/);
    expect(records.find((x) => x.kind === 'request')).toMatchObject({ requestId: r.id, requestedBy: carol });
    expect(records.at(-1)).toMatchObject({ kind: 'rotate', outcome: 'rotated', requestedBy: carol });
  });
});
