/**
 * The vault-kv store against the Vault stand-in: preflight checks, one CAS write per commit (other
 * fields untouched), a concurrent writer making the commit fail, a lost answer and a re-run treated
 * as already committed, restore as a new CAS version, and no value in any request but the writes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  startVaultStandIn,
  type VaultStandIn,
  type VaultStandInOptions,
} from '../../demo/stand-ins/vault-kv.js';
import type { StoreChange } from '../../src/engine/ports.js';
import { VaultKvStore } from '../../src/stores/vault-kv/store.js';

import { conflictRow } from './helpers.js';

const TOKEN = 'stand-in-root-token';
const running: VaultStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

const OLD = { JWT_SECRET: 'old-jwt-canary-1111', API_KEY: 'old-api-canary-2222' };
const NEW = { JWT_SECRET: 'new-jwt-canary-3333', API_KEY: 'new-api-canary-4444' };
const changes = (v: Record<string, string>): StoreChange[] =>
  Object.entries(v).map(([key, value]) => ({ key, value }));

async function fresh(options: VaultStandInOptions = {}, token = TOKEN) {
  const vault = await startVaultStandIn({ tokens: { [TOKEN]: 'root' }, ...options });
  running.push(vault);
  vault.handler.writeDirect('secret', 'bi/production', { ...OLD, DATABASE_HOST: 'db.internal' });
  const store = await VaultKvStore.open(
    { type: 'vault-kv', address: vault.url, mount: 'secret', path: 'bi/production' },
    { env: { VAULT_TOKEN: token }, backoffMs: 10 },
  );
  return { vault, store };
}

async function held(vault: VaultStandIn) {
  const res = await fetch(`${vault.url}/v1/secret/data/bi/production`, {
    headers: { 'x-vault-token': TOKEN },
  });
  const body = (await res.json()) as {
    data: { data: Record<string, string>; metadata: { version: number } };
  };
  return { data: body.data.data, version: body.data.metadata.version };
}

describe('vault-kv store', () => {
  it('passes preflight on a KV v2 mount the token can read and write', async () => {
    const { store } = await fresh();
    await expect(store.check()).resolves.toBeUndefined();
    expect(store.name).toMatch(/^Vault http:\/\/127\.0\.0\.1:\d+ secret\/data\/bi\/production$/);
  });

  it('refuses a KV v1 mount, a secret keeping one version, and a token that cannot write', async () => {
    const vault = await startVaultStandIn({
      tokens: { [TOKEN]: 'root' },
      mounts: [{ path: 'secret', version: '1' }],
    });
    running.push(vault);
    const onV1 = await VaultKvStore.open(
      { type: 'vault-kv', address: vault.url, mount: 'secret', path: 'p' },
      { env: { VAULT_TOKEN: TOKEN } },
    );
    await expect(onV1.check()).rejects.toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
      message: expect.stringMatching(/KV version 1/),
    });

    const one = await fresh({ mounts: [{ path: 'secret', maxVersions: 1 }] });
    await expect(one.store.check()).rejects.toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
      message: expect.stringMatching(/only 1 version/),
    });

    const ro = await fresh({ tokens: { [TOKEN]: 'root', ro: { 'secret/data/bi/*': ['read'] } } }, 'ro');
    await expect(ro.store.check()).rejects.toMatchObject({
      code: 'ERR_STORE_AUTH',
      message: expect.stringMatching(/lacks update/),
    });
  });

  it('commits with one CAS write (other fields untouched) and restores as a new version', async () => {
    const { vault, store } = await fresh();
    const snap = await store.read();
    expect(snap.values.get('JWT_SECRET')).toBe(OLD.JWT_SECRET);
    expect(snap.version).toBe('1');
    const prepared = await store.prepare(snap, changes(NEW), new Date());
    expect(prepared.record).toMatchObject({
      type: 'vault-kv',
      version: 1,
      mount: 'secret',
      path: 'bi/production',
    });
    expect(JSON.stringify(prepared.record)).not.toMatch(/canary/);
    const committed = await store.commit(prepared.record, changes(NEW));
    expect(committed.summary).toBe('Vault version 2 written');
    expect(await held(vault)).toEqual({ data: { ...NEW, DATABASE_HOST: 'db.internal' }, version: 2 });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('new');

    // Re-running the commit (after a crash) changes nothing.
    expect((await store.commit(committed.record!, changes(NEW))).summary).toBe(
      'already committed (Vault version 2)',
    );
    expect((await held(vault)).version).toBe(2);

    // Restore without the old values at hand: read from the journaled version.
    const restored = await store.restore(committed.record!, [], NEW);
    expect(restored.summary).toBe('old values written back as Vault version 3');
    expect(await held(vault)).toEqual({ data: { ...OLD, DATABASE_HOST: 'db.internal' }, version: 3 });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('old');
    expect((await store.restore(committed.record!, changes(OLD), NEW)).summary).toBe(
      'Vault already holds the old values',
    );

    // Only the two writes carried a value.
    const carrying = vault.log().filter((r) => /canary/.test(r.body));
    expect(carrying.map((r) => r.op)).toEqual(['vault.write', 'vault.write']);
  });

  it('fails the commit when another writer changed the secret after preflight, writing nothing', async () => {
    const { vault, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    vault.handler.writeDirect('secret', 'bi/production', { ...OLD, DATABASE_HOST: 'db2.internal' });
    expect(
      await conflictRow(
        'vault-kv store',
        'another writer between preflight and commit',
        store.commit(prepared.record, changes(NEW)),
        async () => (await held(vault)).data.DATABASE_HOST === 'db2.internal',
      ),
    ).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect(await held(vault)).toEqual({ data: { ...OLD, DATABASE_HOST: 'db2.internal' }, version: 2 });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('old');
  });

  it('fails the commit when Vault answers a CAS mismatch (the race lost inside Vault)', async () => {
    const { vault, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    vault.faults.add({ kind: 'conflict', op: 'vault.write' });
    expect(
      await conflictRow(
        'vault-kv store',
        'check-and-set refused by Vault at commit (injected mismatch)',
        store.commit(prepared.record, changes(NEW)),
        async () => (await held(vault)).version === 1,
      ),
    ).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect((await held(vault)).version).toBe(1);
  });

  it('refuses prepare when the secret changed since it was read', async () => {
    const { vault, store } = await fresh();
    const snap = await store.read();
    vault.handler.writeDirect('secret', 'bi/production', { ...OLD });
    await expect(store.prepare(snap, changes(NEW), new Date())).rejects.toMatchObject({
      code: 'ERR_STORE_CONFLICT',
    });
  });

  it('treats a write whose answer was lost as committed (the retry meets its own version)', async () => {
    const { vault, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    vault.faults.add({ kind: 'drop', op: 'vault.write' });
    const committed = await store.commit(prepared.record, changes(NEW));
    expect(committed.summary).toBe('already committed (Vault version 2)');
    expect(await held(vault)).toMatchObject({ version: 2, data: { ...NEW } });
  });

  it('commits through throttling and 500s', async () => {
    const { vault, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    vault.faults.add({ kind: 'throttle', op: 'vault.write' });
    vault.faults.add({ kind: 'error500', op: 'vault.write' });
    expect((await store.commit(prepared.record, changes(NEW))).summary).toBe('Vault version 2 written');
  });

  it('refuses to restore over values someone else wrote after the commit', async () => {
    const { vault, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    const committed = await store.commit(prepared.record, changes(NEW));
    vault.handler.writeDirect('secret', 'bi/production', { ...NEW, JWT_SECRET: 'hand-edit' });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('other');
    const e = await store.restore(committed.record!, changes(OLD), NEW).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_STORE_CHANGED' });
    expect((e as { hint: string }).hint).toContain(
      'vault kv rollback -mount=secret -version=1 bi/production',
    );
    expect((await held(vault)).data.JWT_SECRET).toBe('hand-edit');
  });

  it("knows its own journal records from another secret's", async () => {
    const { store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    expect(await store.owner(prepared.record)).toBeUndefined();
    expect(await store.owns(prepared.record)).toBe(true);
    expect(await store.owner({ ...prepared.record, path: 'bi/staging' })).toMatch(/bi\/staging, not /);
    expect(await store.owner({ type: 'env-file' })).toMatch(/^a env-file store/);
  });
});
