/**
 * Who broke glass: with `--key`, the principal of an SSH signature over this stack and rotation
 * (checked against approvals.breakGlass.allowed); without it, the OS user, recorded as such and never
 * enough for an `allowed` list; `--operator` is only a note.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestDigest } from '../../src/governance/approvals/request.js';
import { record } from '../helpers/resilience.js';
import {
  addApprovalByHand,
  EMAIL,
  expectUnchanged,
  type GovStack,
  readJsonl,
  signDigest,
  snapshot,
  useGovStacks,
} from './helpers.js';

const { stack } = useGovStacks();

const GLASS = ['rotate', '--yes', '--trigger', 'compromise', '--break-glass', 'key in a gist'];

async function allow(s: GovStack, setting: string): Promise<void> {
  const config = path.join(s.dir, 'rekey.yaml');
  const text = await fs.readFile(config, 'utf8');
  await fs.writeFile(
    config,
    text.replace('  allowedSigners:', `  breakGlass: ${setting}\n  allowedSigners:`),
  );
}

async function refusedUnchanged(s: GovStack, args: string[], code: number, label: string): Promise<string> {
  const before = await snapshot(s);
  const run = await s.run(args);
  const after = await snapshot(s);
  const unchanged = after.env.equals(before.env) && after.files.join() === before.files.join();
  record({
    kind: 'bad-input',
    suite: 'governance/break-glass-identity',
    case: label,
    exit: run.code,
    expected: code,
    code: /ERR_[A-Z_]+/.exec(run.stderr)?.[0] ?? '',
    unchanged,
  });
  expect(run.code, run.stderr).toBe(code);
  await expectUnchanged(s, before);
  return run.stderr;
}

describe('break-glass identity', () => {
  it('allowed list: the OS user (and any --operator) is refused; --key of an allowed principal runs, recorded as ssh', async () => {
    const s = await stack();
    await allow(s, `{ allowed: [${EMAIL.alice}, ${os.userInfo().username}] }`);
    // Even an OS user whose name is listed proves no principal; --operator proves nothing either.
    const err = await refusedUnchanged(
      s,
      [...GLASS, '--operator', EMAIL.alice],
      5,
      'break-glass, allowed list, no --key (OS user, --operator an allowed name)',
    );
    expect(err).toMatch(
      /ERR_APPROVAL_MISSING: break-glass is allowed only to .* proven by an SSH signature; the OS user \S+ proves no principal/,
    );
    expect(err).toContain('--key PATH');
    // carol is in allowed_signers but not allowed to break glass; eve is not in allowed_signers.
    expect(
      await refusedUnchanged(
        s,
        [...GLASS, '--key', s.key('carol')],
        5,
        'break-glass --key of a principal not allowed',
      ),
    ).toContain('belongs to carol@example.com, not allowed to break glass');
    expect(
      await refusedUnchanged(
        s,
        [...GLASS, '--key', s.key('eve')],
        5,
        'break-glass --key not in allowed_signers',
      ),
    ).toContain('is not in allowed_signers');

    const ok = await s.run([...GLASS, '--key', s.key('alice'), '--operator', 'a note']);
    expect(ok.code, ok.stderr).toBe(0);
    const glass = (await readJsonl(s.auditFile)).find((r) => r.kind === 'break-glass');
    expect(glass).toMatchObject({
      operator: EMAIL.alice, // the break-glass record's requester: the verified principal
      breakGlassBy: {
        identity: 'ssh',
        principal: EMAIL.alice,
        fingerprint: expect.stringMatching(/^SHA256:/),
      },
    });
    // The after-the-fact request names alice as requester: she cannot approve her own break-glass.
    const request = JSON.parse(await fs.readFile(s.requestFile(String(glass!.requestId)), 'utf8')) as {
      requester: string;
    };
    expect(request.requester).toBe(EMAIL.alice);

    // The request is written unsigned by rekey: whoever can write the state directory could rename its
    // requester (digest recomputed). The requester comes from the audit log's break-glass record, so
    // alice still cannot approve her own break-glass.
    const file = s.requestFile(String(glass!.requestId));
    const edited = JSON.parse(await fs.readFile(file, 'utf8'));
    edited.requester = EMAIL.carol;
    edited.digest = requestDigest(edited);
    await fs.writeFile(file, JSON.stringify(edited, null, 2));
    const self = await s.run([
      'approve',
      String(glass!.requestId),
      '--role',
      'security-lead',
      '--key',
      s.key('alice'),
    ]);
    expect(self.code, self.stderr).toBe(5);
    expect(self.stderr).toMatch(
      /ERR_APPROVAL_INVALID: .*alice@example\.com.* cannot approve it \(approvals\.forbidSelfApproval\)/,
    );

    // Then alice renames herself in the audit log's break-glass record (without the audit key she
    // cannot redo its MAC and the chain): a record of a log that does not verify names nobody.
    const lines = (await fs.readFile(s.auditFile, 'utf8')).split('\n');
    const at = lines.findIndex((l) => l.includes('"kind":"break-glass"'));
    const forged = JSON.parse(lines[at] ?? '{}');
    forged.operator = EMAIL.carol;
    forged.breakGlassBy = {
      ...forged.breakGlassBy,
      principal: EMAIL.carol,
      fingerprint: 'SHA256:Y2Fyb2wncyBrZXkgZmluZ2VycHJpbnQgKG1hZGUgdXAp',
    };
    lines[at] = JSON.stringify(forged);
    await fs.writeFile(s.auditFile, lines.join('\n'));
    const forgedSelf = await refusedUnchanged(
      s,
      ['approve', String(glass!.requestId), '--role', 'security-lead', '--key', s.key('alice')],
      5,
      'the breaker renamed in the break-glass audit record approves their own review',
    );
    expect(forgedSelf).toContain('is named by no break-glass record of a verified audit log');

    // Nor can she sign her approval into the request file by hand, beside bob's: with no verified
    // record, the file's own (edited) requester does not stand in, and nothing counts as approved.
    const id = String(glass!.requestId);
    const digest = (JSON.parse(await fs.readFile(file, 'utf8')) as { digest: string }).digest;
    await addApprovalByHand(file, {
      role: 'security-lead',
      principal: EMAIL.alice,
      signature: signDigest(s.key('alice'), digest, 'security-lead', EMAIL.alice),
    });
    await addApprovalByHand(file, {
      role: 'devops-lead',
      principal: EMAIL.bob,
      signature: signDigest(s.key('bob'), digest, 'devops-lead', EMAIL.bob),
    });
    const listed = JSON.parse((await s.run(['requests', '--json'])).stdout) as {
      requests: Array<{ id: string; status: string }>;
    };
    expect(listed.requests.find((r) => r.id === id)?.status).toBe('approval outstanding');
  }, 90_000);

  it('no --key: the OS user is recorded as such, not --operator', async () => {
    const s = await stack();
    const ok = await s.run([...GLASS, '--operator', EMAIL.bob]);
    expect(ok.code, ok.stderr).toBe(0);
    const glass = (await readJsonl(s.auditFile)).find((r) => r.kind === 'break-glass');
    expect(glass).toMatchObject({ breakGlassBy: { identity: 'os-user', user: os.userInfo().username } });
  });

  it('--key without --break-glass, and --key without approvals:, are refused before anything changes', async () => {
    const s = await stack();
    expect(
      await refusedUnchanged(
        s,
        ['rotate', '--yes', '--key', s.key('alice')],
        2,
        '--key without --break-glass',
      ),
    ).toContain('it needs --break-glass');
    const off = await stack({ approvals: false });
    expect(
      await refusedUnchanged(
        off,
        [...GLASS, '--key', off.key('alice')],
        2,
        'break-glass --key without approvals:',
      ),
    ).toContain('ERR_APPROVALS_OFF');
  });

  it('rollback --break-glass --key: the principal is recorded', async () => {
    const s = await stack();
    await allow(s, `{ allowed: [${EMAIL.bob}] }`);
    const approved = await s.request();
    await s.approve(approved.id, 'security-lead', 'alice');
    await s.approve(approved.id, 'devops-lead', 'bob');
    expect((await s.run(['rotate', '--yes', '--request', approved.id])).code).toBe(0);
    const run = await s.run(['rollback', '--yes', '--break-glass', 'login broken', '--key', s.key('bob')]);
    expect(run.code, run.stderr).toBe(0);
    const glass = (await readJsonl(s.auditFile)).find((r) => r.kind === 'break-glass');
    expect(glass).toMatchObject({
      trigger: 'rollback',
      breakGlassBy: { identity: 'ssh', principal: EMAIL.bob },
    });
  }, 90_000);
});
