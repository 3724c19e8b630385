/**
 * The Vault KV v2 stand-in driven by rekey's own Vault client (src/stores/vault-kv/client.ts):
 * versions and check-and-set, soft delete / undelete / destroy, max_versions pruning, the mount's KV
 * version, capabilities-self, token check, namespaces, AppRole.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  startVaultStandIn,
  type VaultStandIn,
  type VaultStandInOptions,
} from '../../demo/stand-ins/vault-kv.js';
import { VaultClient } from '../../src/stores/vault-kv/client.js';

const TOKEN = 'stand-in-root-token';
const running: VaultStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function fresh(options: VaultStandInOptions = {}, token = TOKEN, namespace?: string) {
  const vault = await startVaultStandIn({ tokens: { [TOKEN]: 'root' }, ...options });
  running.push(vault);
  const client = await VaultClient.connect(
    { address: vault.url, ...(namespace === undefined ? {} : { namespace }) },
    { env: { VAULT_TOKEN: token }, backoffMs: 10 },
  );
  return { vault, client };
}

async function http(vault: VaultStandIn, method: string, path: string, body?: unknown, token = TOKEN) {
  const res = await fetch(`${vault.url}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('Vault KV v2 stand-in', () => {
  it('writes versions with check-and-set and reads any kept version', async () => {
    const { vault, client } = await fresh();
    expect(await client.read('secret', 'bi/prod')).toBeUndefined();
    expect(await client.write('secret', 'bi/prod', { A: 'a1', OTHER: 'keep' }, 0)).toBe(1);
    await expect(client.write('secret', 'bi/prod', { A: 'x' }, 0)).rejects.toMatchObject({
      code: 'ERR_STORE_CONFLICT',
    });
    expect(await client.write('secret', 'bi/prod', { A: 'a2', OTHER: 'keep' }, 1)).toBe(2);
    expect(await client.read('secret', 'bi/prod')).toEqual({
      data: { A: 'a2', OTHER: 'keep' },
      // Vault's metadata.created_time (rollback tells a re-created secret's versions by it).
      created: expect.any(String),
      version: 2,
      deleted: false,
      destroyed: false,
    });
    expect((await client.read('secret', 'bi/prod', 1))?.data).toEqual({ A: 'a1', OTHER: 'keep' });
    // The raw CAS error is Vault's own body.
    const raw = await http(vault, 'POST', 'secret/data/bi/prod', { options: { cas: 1 }, data: { A: 'z' } });
    expect(raw).toEqual({
      status: 400,
      body: { errors: ['check-and-set parameter did not match the current version'] },
    });
    const meta = await client.metadata('secret', 'bi/prod');
    expect(meta).toMatchObject({ currentVersion: 2, oldestVersion: 1, maxVersions: 0 });
    expect([...(meta?.versions.keys() ?? [])]).toEqual([1, 2]);
  });

  it('soft-deletes, undeletes and destroys versions (404 with metadata while deleted)', async () => {
    const { vault, client } = await fresh();
    await client.write('secret', 's', { A: '1' }, 0);
    await client.write('secret', 's', { A: '2' }, 1);
    expect((await http(vault, 'DELETE', 'secret/data/s')).status).toBe(204);
    expect(await client.read('secret', 's')).toEqual({
      data: null,
      version: 2,
      deleted: true,
      destroyed: false,
    });
    await http(vault, 'POST', 'secret/undelete/s', { versions: [2] });
    expect((await client.read('secret', 's'))?.data).toEqual({ A: '2' });
    await http(vault, 'PUT', 'secret/destroy/s', { versions: [1] });
    expect(await client.read('secret', 's', 1)).toMatchObject({ data: null, destroyed: true });
    expect((await client.metadata('secret', 's'))?.versions.get(1)).toEqual({
      deleted: false,
      destroyed: true,
    });
  });

  it('keeps at most max_versions (the smaller of the mount and the secret), oldest dropped', async () => {
    const { vault, client } = await fresh({ mounts: [{ path: 'secret', maxVersions: 3 }] });
    for (let i = 0; i < 5; i++) await client.write('secret', 'p', { A: String(i) }, i);
    let meta = await client.metadata('secret', 'p');
    expect([...(meta?.versions.keys() ?? [])]).toEqual([3, 4, 5]);
    expect(await client.read('secret', 'p', 1)).toBeUndefined();
    expect(await client.mountConfig('secret')).toEqual({ maxVersions: 3, casRequired: false });
    await http(vault, 'POST', 'secret/metadata/p', { max_versions: 1 });
    await client.write('secret', 'p', { A: 'last' }, 5);
    meta = await client.metadata('secret', 'p');
    expect([...(meta?.versions.keys() ?? [])]).toEqual([6]);
  });

  it('tells KV v2 from v1 and from no mount', async () => {
    const { client } = await fresh({ mounts: [{ path: 'secret' }, { path: 'kv1', version: '1' }] });
    expect(await client.kvVersion('secret')).toEqual({ type: 'kv', version: '2' });
    expect(await client.kvVersion('kv1')).toEqual({ type: 'kv', version: '1' });
    expect(await client.kvVersion('nope')).toBeUndefined();
  });

  it('checks the token: unknown → 403 permission denied; policies limit capabilities', async () => {
    const { vault } = await fresh({
      tokens: {
        [TOKEN]: 'root',
        'read-only': { 'secret/data/app/*': ['read'], 'secret/metadata/app/*': ['read'] },
      },
    });
    expect(await http(vault, 'GET', 'secret/data/x', undefined, 'wrong')).toEqual({
      status: 403,
      body: { errors: ['permission denied'] },
    });
    const ro = await VaultClient.connect({ address: vault.url }, { env: { VAULT_TOKEN: 'read-only' } });
    expect(await ro.capabilities(['secret/data/app/prod', 'secret/data/other'])).toEqual({
      'secret/data/app/prod': ['read'],
      'secret/data/other': ['deny'],
    });
    await expect(ro.write('secret', 'app/prod', { A: 'v' }, 0)).rejects.toMatchObject({
      code: 'ERR_STORE_AUTH',
    });
    const bad = await VaultClient.connect({ address: vault.url }, { env: { VAULT_TOKEN: 'wrong' } });
    await expect(bad.read('secret', 'app/prod')).rejects.toMatchObject({ code: 'ERR_STORE_AUTH' });
  });

  it('keeps namespaces apart', async () => {
    const opts: VaultStandInOptions = {
      namespaces: ['team-a'],
      mounts: [{ path: 'secret' }, { path: 'secret', namespace: 'team-a' }],
    };
    const { vault, client } = await fresh(opts, TOKEN, 'team-a');
    await client.write('secret', 'p', { A: 'in-namespace' }, 0);
    const root = await VaultClient.connect({ address: vault.url }, { env: { VAULT_TOKEN: TOKEN } });
    expect(await root.read('secret', 'p')).toBeUndefined();
    expect((await client.read('secret', 'p'))?.data).toEqual({ A: 'in-namespace' });
  });

  it('injects faults: a conflict on the next write, 500s and 429s retried by the client', async () => {
    const { vault, client } = await fresh();
    await client.write('secret', 'f', { A: '1' }, 0);
    vault.faults.add({ kind: 'conflict', op: 'vault.write' });
    await expect(client.write('secret', 'f', { A: '2' }, 1)).rejects.toMatchObject({
      code: 'ERR_STORE_CONFLICT',
    });
    vault.faults.add({ kind: 'error500', op: 'vault.write' });
    vault.faults.add({ kind: 'throttle', op: 'vault.write' });
    expect(await client.write('secret', 'f', { A: '2' }, 1)).toBe(2);
    expect(
      vault
        .log()
        .filter((r) => r.op === 'vault.write')
        .map((r) => r.status),
    ).toEqual([200, 400, 500, 429, 200]);
  });

  it('logs AppRole logins without their credentials, and no token anywhere', async () => {
    const { vault } = await fresh({
      appRoles: [{ roleId: 'role-1', secretId: 'secret-id-canary-55aa', policy: 'root' }],
    });
    const login = await fetch(`${vault.url}/v1/auth/approle/login`, {
      method: 'POST',
      body: JSON.stringify({ role_id: 'role-1', secret_id: 'secret-id-canary-55aa' }),
    });
    expect(login.status).toBe(200);
    const wrong = await fetch(`${vault.url}/v1/auth/approle/login`, {
      method: 'POST',
      body: JSON.stringify({ role_id: 'role-1', secret_id: 'nope' }),
    });
    expect(wrong.status).toBe(400);
    const log = JSON.stringify(vault.log());
    expect(log).not.toContain('secret-id-canary-55aa');
    expect(log).not.toContain(TOKEN);
  });
});
