/**
 * Change-control fixtures: real OpenSSH keys made with ssh-keygen in the stack's folder (alice and
 * bob are the listed approvers, carol is in allowed_signers but listed for no role, eve is unknown),
 * an allowed_signers file, a stack with an `approvals:` section, and a snapshot of everything a
 * refused rotation must leave untouched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { openStack } from '../../src/cli/context.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import type { RequestTrigger } from '../../src/config/triggers.js';
import { silentProgress } from '../../src/engine/progress.js';
import { approveRequest } from '../../src/governance/approvals/index.js';
import type { ChangeRequest } from '../../src/governance/approvals/request.js';
import { approvalMessage } from '../../src/governance/approvals/ssh.js';
import { requestRotation } from '../../src/governance/request-rotation.js';
import { makeStack, type Stack, type StackOptions } from '../engine/stack.js';

export const PEOPLE = ['alice', 'bob', 'carol', 'eve'] as const;
export type Person = (typeof PEOPLE)[number];
export const EMAIL: Record<Person, string> = {
  alice: 'alice@example.com',
  bob: 'bob@example.com',
  carol: 'carol@example.com',
  eve: 'eve@example.com',
};

/** Generates an ed25519 key per person in `dir/keys` and an allowed_signers file (eve left out). */
export async function makeSigners(dir: string): Promise<{ key: (p: Person) => string; signers: string }> {
  const keys = path.join(dir, 'keys');
  await fs.mkdir(keys, { recursive: true, mode: 0o700 });
  const lines: string[] = [];
  for (const p of PEOPLE) {
    const file = path.join(keys, p);
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', EMAIL[p], '-f', file]);
    const [type, blob] = (await fs.readFile(`${file}.pub`, 'utf8')).split(' ');
    if (p !== 'eve') lines.push(`${EMAIL[p]} namespaces="rekey" ${type} ${blob}`);
  }
  const signers = path.join(dir, 'allowed_signers');
  await fs.writeFile(signers, `${lines.join('\n')}\n`);
  return { key: (p) => path.join(keys, p), signers };
}

export interface GovStack extends Stack {
  key(p: Person): string;
  loaded(): Promise<LoadedConfig>;
  /** A change request made in-process, exactly as `rekey request --key` (carol's) makes it. */
  /** Signed by carol with her key unless `unsigned` (then carol is only the declared requester). */
  request(o?: {
    trigger?: RequestTrigger;
    only?: string[];
    ticket?: string;
    unsigned?: boolean;
    /** A rollback request: the backup it returns to (default: the newest, as `rekey rollback`). */
    backup?: string;
  }): Promise<ChangeRequest>;
  approve(id: string, role: string, who: Person): Promise<void>;
  requestFile(id: string): string;
  auditFile: string;
}

export interface GovOptions extends StackOptions {
  /** approvals.roles (default: security-lead → alice, devops-lead → bob). */
  roles?: Record<string, string[]>;
  expiry?: string;
  /** approvals.forbidSelfApproval (default: absent, i.e. true). */
  forbidSelfApproval?: boolean;
  /** false: no approvals section at all. */
  approvals?: boolean;
  more?: string;
}

export async function makeGovStack(options: GovOptions = {}): Promise<GovStack> {
  const roles = options.roles ?? { 'security-lead': [EMAIL.alice], 'devops-lead': [EMAIL.bob] };
  const approvals =
    options.approvals === false
      ? ''
      : `approvals:
  require: [security-lead, devops-lead]
  allowedSigners: allowed_signers
  roles:
${Object.entries(roles)
  .map(([r, ps]) => `    ${r}: [${ps.join(', ')}]`)
  .join('\n')}
${options.expiry ? `  expiry: ${options.expiry}\n` : ''}${options.forbidSelfApproval !== undefined ? `  forbidSelfApproval: ${options.forbidSelfApproval}\n` : ''}`;
  const stack = await makeStack({ ...options, extraConfig: `${approvals}${options.more ?? ''}` });
  const { key } = await makeSigners(stack.dir);
  const config = path.join(stack.dir, 'rekey.yaml');
  const loaded = () => loadConfig(config);
  return {
    ...stack,
    key,
    loaded,
    auditFile: path.join(stack.dir, 'rekey-audit.jsonl'),
    async request(o = {}) {
      const deps = await openStack({ config }, { progress: silentProgress });
      const { request } = await requestRotation(deps, {
        trigger: o.trigger ?? 'scheduled',
        ticket: o.ticket ?? 'CHG-1042',
        ...(o.only ? { only: o.only } : {}),
        ...(o.backup ? { backup: o.backup } : {}),
        operator: 'carol@example.com',
        // Signed by carol (approvals.forbidSelfApproval, the default, refuses unsigned requests).
        ...(o.unsigned ? {} : { key: key('carol') }),
      });
      return request;
    },
    async approve(id, role, who) {
      await approveRequest(await loaded(), id, { role, key: key(who), operator: EMAIL[who] });
    },
    requestFile: (id) => path.join(stack.stateDir, 'requests', `${id}.json`),
  };
}

/**
 * Signs an approval of `role` as `principal` on a request digest directly with ssh-keygen (what someone editing a
 * request by hand would do).
 */
export function signDigest(keyFile: string, digest: string, role: string, principal: string): string {
  return execFileSync('/usr/bin/ssh-keygen', ['-Y', 'sign', '-f', keyFile, '-n', 'rekey'], {
    input: approvalMessage(digest, role, principal),
    stdio: ['pipe', 'pipe', 'ignore'],
  })
    .toString()
    .trim();
}

/** Adds an approval entry to a request file by hand. */
export async function addApprovalByHand(
  file: string,
  entry: { role: string; principal: string; signature: string },
): Promise<void> {
  const r = JSON.parse(await fs.readFile(file, 'utf8')) as ChangeRequest;
  r.approvals.push({ ...entry, signedAt: new Date().toISOString() });
  await fs.writeFile(file, JSON.stringify(r, null, 2));
}

export interface Snapshot {
  env: Buffer;
  single: string[];
  overlap: string[];
  files: string[];
  calls: number;
}

/** The fake services' call log (op:KEY per line). */
async function calls(s: Stack): Promise<string[]> {
  const text = await fs.readFile(path.join(s.dir, 'calls.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

/** What a refused rotation must not change: env file bytes, both services, the files beside them. */
export async function snapshot(s: Stack): Promise<Snapshot> {
  return {
    env: await fs.readFile(s.envFile),
    single: await s.accepted('SINGLE_PASSWORD'),
    overlap: await s.accepted('OVERLAP_PASSWORD'),
    // The audit log may grow (a refusal is recorded), the state directory holds the lock and the
    // audit chain head, the services log the read-only checks of preflight; nothing else may change.
    files: (await fs.readdir(s.dir))
      .filter((f) => !['rekey-audit.jsonl', 'calls.log', '.rekey'].includes(f))
      .sort(),
    calls: (await calls(s)).length,
  };
}

export async function expectUnchanged(s: Stack, before: Snapshot): Promise<void> {
  const now = await snapshot(s);
  expect(now.env.equals(before.env)).toBe(true);
  expect(now.single).toEqual(before.single);
  expect(now.overlap).toEqual(before.overlap);
  expect(now.files).toEqual(before.files); // no backup, no deploy log
  // The services were only asked whether they accept the current value: nothing staged or reverted.
  expect((await calls(s)).slice(before.calls).every((c) => c.startsWith('check:'))).toBe(true);
  expect(existsSync(path.join(s.stateDir, 'journal.json'))).toBe(false);
}

export async function readJsonl(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await fs.readFile(file, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The governance stacks of a test file, each cleaned up after its test: `stack()` makes one, `track()`
 * adopts one made otherwise.
 *
 * @example
 * const { stack } = useGovStacks(); const s = await stack({ require: 2 });
 */
export function useGovStacks(): {
  stack(options?: GovOptions): Promise<GovStack>;
  track(...made: GovStack[]): void;
} {
  let stacks: GovStack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.map((s) => s.cleanup()));
    stacks = [];
  });
  return {
    async stack(options) {
      const s = await makeGovStack(options);
      stacks.push(s);
      return s;
    },
    track(...made) {
      stacks.push(...made);
    },
  };
}

/** A request approved by alice (security-lead) and bob (devops-lead). */
export async function approved(s: GovStack, o?: Parameters<GovStack['request']>[0]): Promise<ChangeRequest> {
  const r = await s.request(o);
  await s.approve(r.id, 'security-lead', 'alice');
  await s.approve(r.id, 'devops-lead', 'bob');
  return r;
}
