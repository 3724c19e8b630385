/**
 * `rekey rollback` on a store stack, through the built CLI against each stand-in: without --backup it
 * returns to the values the last rotation replaced, read from the store's own history (Vault version,
 * SSM parameter versions, Secrets Manager version), live services included; when that history no
 * longer holds them it refuses, changing nothing, and says what to do.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLOCK_SKEW_MS } from '../../../src/engine/previous.js';
import { FAKE_SERVICE } from '../../engine/stack.js';
import { findLeak } from '../../helpers/leak-forms.js';
import { record } from '../../helpers/resilience.js';
import {
  INITIAL,
  KEYS,
  makeStoreStack,
  STORE_TYPES,
  type StoreStack,
  type StoreType,
  TOKEN,
} from './store-stack.js';

/** A single-password service (test/fixtures/fake-service.mjs) whose password lives in the store. */
const SERVICE = 'SERVICE_PASSWORD';
const SERVICE_OLD = 'serviceOldPw7Kq2Lm9Xz4Rt6Vb8Nw3Hy5';
const ALL = [...KEYS, SERVICE];
const OLD: Record<string, string> = { ...INITIAL, [SERVICE]: SERVICE_OLD };

const stacks: StoreStack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

async function open(type: StoreType): Promise<StoreStack> {
  const s = await makeStoreStack(type, {
    extra: {
      secrets: [`  - { key: ${SERVICE}, type: command, run: "node ${FAKE_SERVICE}", overlap: false }`],
      values: { [SERVICE]: SERVICE_OLD },
    },
  });
  stacks.push(s);
  await fs.writeFile(
    path.join(s.dir, `service-${SERVICE}.json`),
    JSON.stringify({ mode: 'single', accepted: [SERVICE_OLD] }),
  );
  return s;
}

const accepted = async (s: StoreStack): Promise<string[]> =>
  JSON.parse(await fs.readFile(path.join(s.dir, `service-${SERVICE}.json`), 'utf8')).accepted;

describe.each(STORE_TYPES)('rekey rollback on a %s stack', (type) => {
  it('without --backup returns the store and the service to the values the last rotation replaced', async () => {
    const s = await open(type);
    const rotated = await s.run(['rotate', '--yes']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const after = await s.values();
    for (const k of ALL) expect(after[k]).not.toBe(OLD[k]);
    expect(await accepted(s)).toEqual([after[SERVICE]]);

    const rb = await s.run(['rollback', '--yes', '--json']);
    expect(rb.code, rb.stderr).toBe(0);
    expect(JSON.parse(rb.stdout).outcome).toBe('rotated');
    expect(rb.stderr).toMatch(/returning to the values before rotation \d{8}T\d{6}Z-[0-9a-f]+ \(/);
    const back = await s.values();
    for (const k of ALL) expect(back[k], k).toBe(OLD[k]);
    expect(back.UNMANAGED).toBe('kept-as-is');
    // The service accepts the old password again, and only it; a fresh verify agrees.
    expect(await accepted(s)).toEqual([SERVICE_OLD]);
    const verify = await s.run(['verify', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    // No value in the output: neither the old nor the rotated ones.
    const values = new Set([...ALL.map((k) => OLD[k]!), ...ALL.map((k) => after[k]!)]);
    expect(findLeak(values, [rb.stdout, rb.stderr, verify.stdout, verify.stderr])).toBeUndefined();
    // The audit log names what was undone: the rotation, by its id (never a value).
    const audit = (await fs.readFile(path.join(s.dir, 'rekey-audit.jsonl'), 'utf8')).trim().split('\n');
    const last = JSON.parse(audit.at(-1)!) as { rollbackFrom?: string };
    expect(last.rollbackFrom).toMatch(/^rotation \d{8}T\d{6}Z-[0-9a-f]+$/);
  }, 120_000);
});

/** Raw Vault API call to the stand-in (what an operator's `vault` CLI would do). */
async function vault(s: StoreStack, method: string, route: string, body?: unknown): Promise<void> {
  const res = await fetch(`${s.url}/v1/${route}`, {
    method,
    headers: { 'X-Vault-Token': TOKEN },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${route}`).toBeLessThan(300);
}

describe('rekey rollback when the store no longer holds the old values', () => {
  it('vault-kv: the old version pruned by max_versions: refused, nothing changed, says what to do', async () => {
    const s = await open('vault-kv');
    await vault(s, 'POST', 'secret/metadata/bi/production', { max_versions: 2 });
    expect((await s.run(['rotate', '--yes'])).code).toBe(0); // version 2
    await s.otherWrite('UNMANAGED', 'edited-by-someone'); // version 3: version 1 pruned
    const held = await s.values();
    const rb = await s.run(['rollback', '--yes']);
    const unchanged = JSON.stringify(await s.values()) === JSON.stringify(held);
    record({
      kind: 'bad-input',
      suite: 'store vault-kv (stand-in, built CLI)',
      case: 'rollback after max_versions pruned the old version',
      exit: rb.code,
      code: 'ERR_BACKUP_NOT_FOUND',
      unchanged,
    });
    expect(rb.code).toBe(2);
    expect(rb.stderr).toMatch(
      /ERR_BACKUP_NOT_FOUND: vault-kv: the values before the last rotation, version 1 of secret\/data\/bi\/production, are no longer kept \(Vault pruned it/,
    );
    expect(rb.stderr).toMatch(
      /Pass --backup PATH .*vault kv metadata put -max-versions=10 -mount=secret bi\/production/,
    );
    expect(unchanged).toBe(true);
    expect(await accepted(s)).toEqual([held[SERVICE]]);
  }, 60_000);

  it('vault-kv: the old version soft-deleted: refused, says how to undelete it', async () => {
    const s = await open('vault-kv');
    expect((await s.run(['rotate', '--yes'])).code).toBe(0);
    await vault(s, 'POST', 'secret/delete/bi/production', { versions: [1] });
    const rb = await s.run(['rollback', '--yes']);
    expect(rb.code).toBe(2);
    expect(rb.stderr).toMatch(/version 1 of secret\/data\/bi\/production, are deleted/);
    expect(rb.stderr).toMatch(/vault kv undelete -mount=secret -versions=1 bi\/production/);
  }, 60_000);

  it('aws-ssm: a parameter deleted and re-created since (its versions start again): refused', async () => {
    const s = await open('aws-ssm');
    expect((await s.run(['rotate', '--yes'])).code).toBe(0);
    const { DeleteParameterCommand, SSMClient } = await import('@aws-sdk/client-ssm');
    const ssm = new SSMClient({
      region: 'us-east-1',
      endpoint: s.url,
      credentials: { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' },
    });
    // Later than the rotation's start by more than the clock skew rekey allows for.
    await new Promise((r) => setTimeout(r, CLOCK_SKEW_MS + 500));
    await ssm.send(new DeleteParameterCommand({ Name: '/bi/production/JWT_SECRET' }));
    await s.otherWrite('JWT_SECRET', 'recreated-value-0001'); // version 1 again, not the old value
    const held = await s.values();
    const rb = await s.run(['rollback', '--yes']);
    expect(rb.code).toBe(2);
    expect(rb.stderr).toMatch(
      /ERR_BACKUP_NOT_FOUND: aws-ssm: version 1 of \/bi\/production\/JWT_SECRET was written after the last rotation began/,
    );
    expect(await s.values()).toEqual(held);
  }, 60_000);
});
