/**
 * Another writer wins the compare-and-set at commit: the rotation rolls back, the store keeps THEIR
 * values (neither rekey's new nor the old ones), and every place that says what the store holds says
 * so honestly: the result's `state` (--json), the human output, the audit log. Through the built CLI
 * against each stand-in.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INITIAL, makeStoreStack, STORE_TYPES, type StoreStack, type StoreType } from './store-stack.js';

const LABEL: Record<StoreType, string> = {
  'vault-kv': 'Vault secret',
  'aws-ssm': 'SSM parameters',
  'aws-secretsmanager': 'Secrets Manager secret',
};
/** Where each store says the old values are, in its line. */
const OLD_AT: Record<StoreType, RegExp> = {
  'vault-kv': /the old values are not in the store \(they are Vault version 1\)/,
  'aws-ssm': /their old values are not in the store \(they are \/bi\/production\/JWT_SECRET:1\)/,
  'aws-secretsmanager': /the old values are not in the store \(they are version \S+\)/,
};
const THEIRS = 'other-writer-value-0001';

const stacks: StoreStack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

/** A rotation paused at commit, another writer's write, then the rotation resumed. */
async function lostRace(s: StoreStack, args: readonly string[]) {
  const pause = path.join(s.dir, 'pause');
  const run = s.start(args, { REKEY_PAUSE_AT: 'commit@begin', REKEY_PAUSE_FILE: pause });
  for (let i = 0; i < 600 && !(await fs.stat(pause).catch(() => undefined)); i++)
    await new Promise((r) => setTimeout(r, 50));
  await s.otherWrite('JWT_SECRET', THEIRS);
  await fs.rm(pause);
  return run.done;
}

async function lastAudit(s: StoreStack): Promise<{ outcome: string; state?: Record<string, string> }> {
  const lines = (await fs.readFile(path.join(s.dir, 'rekey-audit.jsonl'), 'utf8')).trim().split('\n');
  return JSON.parse(lines.at(-1)!);
}

describe.each(STORE_TYPES)('another writer wins the commit on %s', (type) => {
  it("the result, --json and the audit log say the store holds the other writer's values", async () => {
    const s = await makeStoreStack(type);
    stacks.push(s);
    const r = await lostRace(s, ['rotate', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const v = await s.values();
    expect(v.JWT_SECRET).toBe(THEIRS);
    expect(v.API_SECRET_KEY).toBe(INITIAL.API_SECRET_KEY);

    const result = JSON.parse(r.stdout) as {
      outcome: string;
      state: Record<string, string>;
      warnings: string[];
    };
    expect(result.outcome).toBe('rolled-back');
    const line = result.state[LABEL[type]];
    expect(line).toMatch(/^another writer's values kept \(/);
    expect(line).toMatch(OLD_AT[type]);
    expect(line).not.toMatch(/restored/);
    expect(result.warnings).toContain(`${LABEL[type]}: ${line}`);
    const audit = await lastAudit(s);
    expect(audit.outcome).toBe('rolled-back');
    expect(audit.state?.[LABEL[type]]).toBe(line);
    // `rekey audit show` names it too.
    const listed = await s.run(['audit', 'show']);
    expect(listed.stdout + listed.stderr).toContain(`${LABEL[type]}: another writer's values kept`);
  }, 60_000);
});

describe('another writer wins the commit: human output', () => {
  it('prints the store line instead of claiming the old values are back', async () => {
    const s = await makeStoreStack('vault-kv');
    stacks.push(s);
    const r = await lostRace(s, ['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /warning Vault secret: another writer's values kept \(Vault version 2\); the old values are not in the store \(they are Vault version 1\)/,
    );
  }, 60_000);
});
