/**
 * The principal is inside what an approver signs (`rekey-approval-v3`: digest, role, principal):
 * the name written beside a signature is the one signed, and must be a principal of the signing key
 * in allowed_signers; approvals signed by an older rekey (v2, no principal) are refused with a message
 * saying to approve again.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { approvalMessage, legacyApprovalMessage } from '../../src/governance/approvals/ssh.js';
import { addApprovalByHand, EMAIL, expectUnchanged, snapshot, useGovStacks } from './helpers.js';

const { stack } = useGovStacks();

function verifies(
  signers: string,
  principal: string,
  signature: string,
  message: string,
  dir: string,
): boolean {
  const sig = path.join(dir, 'sig');
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', sig], { input: `${signature}\n` });
  try {
    execFileSync(
      '/usr/bin/ssh-keygen',
      ['-Y', 'verify', '-f', signers, '-I', principal, '-n', 'rekey', '-s', sig],
      {
        input: message,
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    return true;
  } catch {
    return false;
  }
}

describe('the principal is signed', () => {
  it('rekey approve signs digest, role and principal (found from the key without --principal)', async () => {
    const s = await stack();
    const r = await s.request();
    const cli = await s.run(['approve', r.id, '--role', 'security-lead', '--key', s.key('alice')]);
    expect(cli.code, cli.stderr).toBe(0);
    const saved = JSON.parse(await fs.readFile(s.requestFile(r.id), 'utf8'));
    const a = saved.approvals[0];
    expect(a.principal).toBe(EMAIL.alice);
    const signers = path.join(s.dir, 'allowed_signers');
    expect(
      verifies(
        signers,
        EMAIL.alice,
        a.signature,
        approvalMessage(r.digest, 'security-lead', EMAIL.alice),
        s.dir,
      ),
    ).toBe(true);
    expect(
      verifies(signers, EMAIL.alice, a.signature, legacyApprovalMessage(r.digest, 'security-lead'), s.dir),
    ).toBe(false);
  });

  it('the name beside a signature is the signed one: renamed to another name of the same key, it is refused', async () => {
    const s = await stack({
      roles: { 'security-lead': [EMAIL.alice, 'dan@example.com'], 'devops-lead': [EMAIL.bob] },
    });
    // alice's key is also listed as dan (one person, two names on one line).
    const signers = path.join(s.dir, 'allowed_signers');
    const text = await fs.readFile(signers, 'utf8');
    await fs.writeFile(signers, text.replace(`${EMAIL.alice} `, `${EMAIL.alice},dan@example.com `));
    const r = await s.request();
    const asDan = await s.run([
      'approve',
      r.id,
      '--role',
      'security-lead',
      '--key',
      s.key('alice'),
      '--principal',
      'dan@example.com',
    ]);
    expect(asDan.code, asDan.stderr).toBe(0);
    await s.approve(r.id, 'devops-lead', 'bob');
    // Rewrite the signed name (dan) to the key's other name (alice): it no longer verifies.
    const doc = JSON.parse(await fs.readFile(s.requestFile(r.id), 'utf8'));
    doc.approvals[0].principal = EMAIL.alice;
    await fs.writeFile(s.requestFile(r.id), JSON.stringify(doc, null, 2));
    const before = await snapshot(s);
    const run = await s.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/ERR_APPROVAL_INVALID: .*security-lead by alice@example.com does not verify/);
    await expectUnchanged(s, before);
    // --principal naming someone else's principal: refused before anything is recorded.
    const other = await s.run([
      'approve',
      r.id,
      '--role',
      'devops-lead',
      '--key',
      s.key('carol'),
      '--principal',
      EMAIL.bob,
    ]);
    expect(other.code, other.stderr).toBe(5);
    expect(other.stderr).toContain('belongs to carol@example.com, not to bob@example.com');
  }, 60_000);

  it('an approval signed by an older rekey (v2: no principal) is refused, saying to approve again', async () => {
    const s = await stack();
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    const legacy = execFileSync('/usr/bin/ssh-keygen', ['-Y', 'sign', '-f', s.key('bob'), '-n', 'rekey'], {
      input: legacyApprovalMessage(r.digest, 'devops-lead'),
      stdio: ['pipe', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    await addApprovalByHand(s.requestFile(r.id), {
      role: 'devops-lead',
      principal: EMAIL.bob,
      signature: legacy,
    });
    const before = await snapshot(s);
    const run = await s.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toContain(
      'signed by an older rekey, without the principal in the message: approve again',
    );
    await expectUnchanged(s, before);
  });
});
