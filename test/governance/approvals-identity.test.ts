/**
 * Who approved comes from the signature, never from the request file: a wildcard line or one key
 * listed under two names in allowed_signers cannot let one key fill both roles, whatever names and
 * roles are written beside its signatures, and whichever message (today's, or the digest alone) it
 * signed.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { legacyApprovalMessage } from '../../src/governance/approvals/ssh.js';
import { approvalState } from '../../src/governance/approvals/state.js';
import {
  addApprovalByHand,
  EMAIL,
  expectUnchanged,
  type GovStack,
  makeGovStack,
  signDigest,
  snapshot,
  useGovStacks,
} from './helpers.js';

const { track } = useGovStacks();

const ROLES = ['security-lead', 'devops-lead'] as const;

async function publicKey(s: GovStack, who: 'alice' | 'bob' | 'carol'): Promise<string> {
  const [type, blob] = (await fs.readFile(`${s.key(who)}.pub`, 'utf8')).split(' ');
  return `${type} ${blob}`;
}

/** Lines listing alice's key under `names` (one line per entry), plus carol's own line. */
async function listAlice(s: GovStack, entries: readonly string[]): Promise<void> {
  const alice = await publicKey(s, 'alice');
  const lines = entries.map((names) => `${names} namespaces="rekey" ${alice}`);
  lines.push(`${EMAIL.carol} namespaces="rekey" ${await publicKey(s, 'carol')}`);
  await fs.writeFile(path.join(s.dir, 'allowed_signers'), `${lines.join('\n')}\n`);
}

/** Signs the digest alone (what rekey signed before roles were bound). */
function signBare(keyFile: string, digest: string): string {
  return execFileSync('/usr/bin/ssh-keygen', ['-Y', 'sign', '-f', keyFile, '-n', 'rekey'], {
    input: digest,
    stdio: ['pipe', 'pipe', 'ignore'],
  })
    .toString()
    .trim();
}

/** Signs the message of rekey-approval-v2 (digest and role, no principal). */
function signLegacy(keyFile: string, digest: string, role: string): string {
  return execFileSync('/usr/bin/ssh-keygen', ['-Y', 'sign', '-f', keyFile, '-n', 'rekey'], {
    input: legacyApprovalMessage(digest, role),
    stdio: ['pipe', 'pipe', 'ignore'],
  })
    .toString()
    .trim();
}

/**
 * Every approval alice's one key can forge for both roles, under every name: signed as each name
 * and written under each name, plus the digest alone and the v2 message.
 */
function forgeries(s: GovStack, digest: string, names: readonly string[]) {
  const bare = signBare(s.key('alice'), digest);
  const out: Array<{ role: string; principal: string; signature: string }> = [];
  for (const role of ROLES) {
    const legacy = signLegacy(s.key('alice'), digest, role);
    for (const signedAs of names) {
      const bound = signDigest(s.key('alice'), digest, role, signedAs);
      for (const principal of names) out.push({ role, principal, signature: bound });
    }
    for (const principal of names) {
      out.push({ role, principal, signature: bare }, { role, principal, signature: legacy });
    }
  }
  return out;
}

describe('approver identity from the signature', () => {
  it('a wildcard line: alice signs once, her entry copied as bob / devops-lead, is refused', async () => {
    const s = await makeGovStack();
    track(s);
    await listAlice(s, ['*@example.com']);
    const r = await s.request();
    for (const f of forgeries(s, r.digest, [EMAIL.alice, EMAIL.bob])) {
      await addApprovalByHand(s.requestFile(r.id), f);
    }
    const before = await snapshot(s);
    const run = await s.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(5);
    await expectUnchanged(s, before);
    // rekey approve finds the wildcard, not a listed approver.
    const cli = await s.run(['approve', r.id, '--role', 'security-lead', '--key', s.key('alice')]);
    expect(cli.code).toBe(5);
    expect(cli.stderr).toContain('belongs to *@example.com, not listed for security-lead');
  });

  it('one key listed under two names: the second approval with it is refused', async () => {
    const s = await makeGovStack();
    track(s);
    await listAlice(s, [`${EMAIL.alice},${EMAIL.bob}`]);
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    const cli = await s.run(['approve', r.id, '--role', 'devops-lead', '--key', s.key('alice')]);
    expect(cli.code, cli.stderr).toBe(2);
    expect(cli.stderr).toContain('already approved this request as security-lead');
    // Signed for devops-lead by alice's key, under bob's name: bob is a name of that key, but the key
    // already approved.
    await addApprovalByHand(s.requestFile(r.id), {
      role: 'devops-lead',
      principal: EMAIL.bob,
      signature: signDigest(s.key('alice'), r.digest, 'devops-lead', EMAIL.bob),
    });
    const before = await snapshot(s);
    const run = await s.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/devops-lead.*second person with another key/);
    await expectUnchanged(s, before);
  });

  it('property: no single key, however it is listed in allowed_signers, satisfies two roles', async () => {
    const s = await makeGovStack();
    track(s);
    const r = await s.request();
    const patterns = [
      EMAIL.alice,
      EMAIL.bob,
      `${EMAIL.alice},${EMAIL.bob}`,
      '*@example.com',
      '?ob@example.com,alice@*',
    ];
    // Every listing of alice's key on one line or on two lines.
    const shapes: string[][] = [];
    for (let i = 0; i < patterns.length; i++) {
      shapes.push([patterns[i]!]);
      for (let j = i + 1; j < patterns.length; j++) shapes.push([patterns[i]!, patterns[j]!]);
    }
    const forged = forgeries(s, r.digest, [EMAIL.alice, EMAIL.bob]);
    const doc = JSON.parse(await fs.readFile(s.requestFile(r.id), 'utf8'));
    const request = { ...doc, approvals: forged.map((f) => ({ ...f, signedAt: r.created })) };
    for (const shape of shapes) {
      await listAlice(s, shape);
      const state = await approvalState(await s.loaded(), request);
      expect({ shape, satisfied: state.satisfied }).toEqual({ shape, satisfied: false });
      expect(state.approvals.length, JSON.stringify(shape)).toBeLessThanOrEqual(1);
    }
    // Control: the same request with bob's own key added is satisfied (the check is not just "never").
    await listAlice(s, [EMAIL.alice]);
    await fs.appendFile(
      path.join(s.dir, 'allowed_signers'),
      `${EMAIL.bob} namespaces="rekey" ${await publicKey(s, 'bob')}\n`,
    );
    const withBob = {
      ...request,
      approvals: [
        {
          role: 'security-lead',
          principal: EMAIL.alice,
          signature: signDigest(s.key('alice'), r.digest, 'security-lead', EMAIL.alice),
          signedAt: r.created,
        },
        {
          role: 'devops-lead',
          principal: EMAIL.bob,
          signature: signDigest(s.key('bob'), r.digest, 'devops-lead', EMAIL.bob),
          signedAt: r.created,
        },
      ],
    };
    expect((await approvalState(await s.loaded(), withBob)).satisfied).toBe(true);
  }, 120_000);
});

describe('a request is bound to one stack', () => {
  it('a request approved in a/app, copied to b/app (same stack name, same approvers), is refused', async () => {
    const a = await makeGovStack({ more: 'stack: app\n' });
    const b = await makeGovStack({ more: 'stack: app\n' });
    track(a, b);
    // b trusts the same approvers as a.
    await fs.copyFile(path.join(a.dir, 'allowed_signers'), path.join(b.dir, 'allowed_signers'));
    const r = await a.request();
    await a.approve(r.id, 'security-lead', 'alice');
    await a.approve(r.id, 'devops-lead', 'bob');
    const copied = path.join(b.dir, 'copied.json');
    await fs.copyFile(a.requestFile(r.id), copied);
    // Even with a's stack id copied over b's (a copy of the whole folder, state included).
    await fs.mkdir(b.stateDir, { recursive: true });
    await fs.copyFile(path.join(a.stateDir, 'stack-id'), path.join(b.stateDir, 'stack-id')).catch(() => {});
    const before = await snapshot(b);
    const run = await b.run(['rotate', '--yes', '--request', copied]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/ERR_APPROVAL_INVALID: .*it is for the env file .*, not /);
    await expectUnchanged(b, before);
    // And on a, where it was made, it runs.
    const ok = await a.run(['rotate', '--yes', '--request', r.id]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('a request whose state folder was replaced (another stack id) is refused', async () => {
    const a = await makeGovStack();
    track(a);
    const r = await a.request();
    await a.approve(r.id, 'security-lead', 'alice');
    await a.approve(r.id, 'devops-lead', 'bob');
    await fs.writeFile(path.join(a.stateDir, 'stack-id'), `${'0'.repeat(32)}\n`);
    const run = await a.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/it is for stack id [0-9a-f]{32}, not this stack's 0{32}/);
  });
});

describe('requester and expiry', () => {
  it('forbidSelfApproval (default): the requester cannot approve their own request', async () => {
    const s = await makeGovStack({
      roles: { 'security-lead': [EMAIL.alice, EMAIL.carol], 'devops-lead': [EMAIL.bob] },
    });
    track(s);
    const r = await s.request(); // requested by carol@example.com
    expect(r.requester).toBe(EMAIL.carol);
    const cli = await s.run(['approve', r.id, '--role', 'security-lead', '--key', s.key('carol')]);
    expect(cli.code, cli.stderr).toBe(5);
    expect(cli.stderr).toContain('carol@example.com requested');
    await s.approve(r.id, 'devops-lead', 'bob');
    await addApprovalByHand(s.requestFile(r.id), {
      role: 'security-lead',
      principal: EMAIL.carol,
      signature: signDigest(s.key('carol'), r.digest, 'security-lead', EMAIL.carol),
    });
    const before = await snapshot(s);
    const run = await s.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/security-lead: carol@example.com requested it and cannot approve it/);
    await expectUnchanged(s, before);
  });

  it('a request expires at creation + approvals.expiry as configured when it is used', async () => {
    const s = await makeGovStack({ expiry: '7d' });
    track(s);
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    await s.approve(r.id, 'devops-lead', 'bob');
    const config = path.join(s.dir, 'rekey.yaml');
    await fs.writeFile(config, (await fs.readFile(config, 'utf8')).replace('expiry: 7d', 'expiry: 1s'));
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, Date.parse(r.created) + 1200 - Date.now())),
    );
    const before = await snapshot(s);
    const run = await s.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/ERR_APPROVAL_INVALID: .*expired on/);
    await expectUnchanged(s, before);
  });
});

describe('the approvals lock', () => {
  it('two approvers at once, one slow to sign (a passphrase, a key touch): both approvals are kept', async () => {
    const s = await makeGovStack();
    track(s);
    const r = await s.request();
    // alice's ssh-keygen takes 17 s to sign (longer than anyone waits for a lock).
    const bin = path.join(s.dir, 'slow-bin');
    await fs.mkdir(bin);
    await fs.writeFile(
      path.join(bin, 'ssh-keygen'),
      '#!/bin/sh\n[ "$2" = sign ] && sleep 17\nexec /usr/bin/ssh-keygen "$@"\n',
      { mode: 0o755 },
    );
    const slow = s.start(['approve', r.id, '--role', 'security-lead', '--key', s.key('alice')], {
      env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const fast = await s.run(['approve', r.id, '--role', 'devops-lead', '--key', s.key('bob')]);
    expect(fast.code, fast.stderr).toBe(0);
    const done = await slow.done;
    expect(done.code, done.stderr).toBe(0);
    const saved = JSON.parse(await fs.readFile(s.requestFile(r.id), 'utf8'));
    expect(saved.approvals.map((a: { role: string }) => a.role).sort()).toEqual([
      'devops-lead',
      'security-lead',
    ]);
    const run = await s.run(['rotate', '--yes', '--request', r.id]);
    expect(run.code, run.stderr).toBe(0);
  }, 90_000);

  it('a request lock whose holder is alive is never taken over, however old', async () => {
    const s = await makeGovStack();
    track(s);
    const r = await s.request();
    // This test process holds the request's lock (found the way approve finds it).
    const { acquireLock } = await import('../../src/lib/lock.js');
    const { sha256 } = await import('../../src/lib/hash.js');
    const lockDir = path.join(s.stateDir, 'locks', `request-${sha256(s.requestFile(r.id)).slice(0, 16)}`);
    const lock = await acquireLock(lockDir, 'approve');
    try {
      const old = new Date(Date.now() - 3600_000);
      await fs.utimes(path.join(lockDir, 'lock'), old, old);
      const cli = await s.run(['approve', r.id, '--role', 'security-lead', '--key', s.key('alice')]);
      expect(cli.code, cli.stderr).not.toBe(0);
      expect(cli.stderr).toContain('ERR_LOCKED');
      const saved = JSON.parse(await fs.readFile(s.requestFile(r.id), 'utf8'));
      expect(saved.approvals).toEqual([]);
      expect(existsSync(path.join(lockDir, 'lock'))).toBe(true); // not removed by the waiter
    } finally {
      await lock.release();
    }
  }, 60_000);
});

describe('break-glass switches', () => {
  const args = [
    'rotate',
    '--yes',
    '--trigger',
    'compromise',
    '--break-glass',
    'key in a gist',
    '--operator',
    'root',
  ];

  it('approvals.breakGlass: false refuses break-glass (exit 5, nothing changed)', async () => {
    const s = await makeGovStack({ more: '' });
    track(s);
    const config = path.join(s.dir, 'rekey.yaml');
    const text = await fs.readFile(config, 'utf8');
    await fs.writeFile(config, text.replace('  allowedSigners:', '  breakGlass: false\n  allowedSigners:'));
    const before = await snapshot(s);
    const run = await s.run(args);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toContain('break-glass is switched off');
    await expectUnchanged(s, before);
  });

  it('approvals.breakGlass.allowed: the OS user is refused, whatever --operator says', async () => {
    const s = await makeGovStack();
    track(s);
    const config = path.join(s.dir, 'rekey.yaml');
    const text = await fs.readFile(config, 'utf8');
    await fs.writeFile(
      config,
      text.replace('  allowedSigners:', '  breakGlass: { allowed: [oncall-nobody-here] }\n  allowedSigners:'),
    );
    const before = await snapshot(s);
    const run = await s.run(args);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(
      /break-glass is allowed only to oncall-nobody-here .*the OS user \S+ proves no principal/,
    );
    await expectUnchanged(s, before);
    // (--key with an allowed principal's key: test/governance/break-glass-identity.test.ts.)
  });
});

describe('rekey check and break-glass', () => {
  it('exits 3 while a break-glass rotation lacks its approvals after approvals.breakGlassDeadline', async () => {
    const s = await makeGovStack();
    track(s);
    const run = await s.run(['rotate', '--yes', '--trigger', 'compromise', '--break-glass', 'key in a gist']);
    expect(run.code, run.stderr).toBe(0);
    const id = /change request (req-\S+)/.exec(run.stderr)?.[1];
    expect(id).toBeDefined();
    expect((await s.run(['check'])).code).toBe(0); // within the default 24h
    const config = path.join(s.dir, 'rekey.yaml');
    const text = await fs.readFile(config, 'utf8');
    await fs.writeFile(
      config,
      text.replace('  allowedSigners:', '  breakGlassDeadline: 1s\n  allowedSigners:'),
    );
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const late = await s.run(['check']);
    expect(late.code, late.stderr).toBe(3);
    expect(late.stderr).toContain(`still lack their approvals after approvals.breakGlassDeadline: ${id}`);
    await s.approve(id!, 'security-lead', 'alice');
    await s.approve(id!, 'devops-lead', 'bob');
    expect((await s.run(['check'])).code).toBe(0);
  }, 60_000);
});
