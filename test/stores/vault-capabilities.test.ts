/**
 * What the vault-kv preflight demands of the token, per Vault's KV v2 ACL rules: `read` and `update`
 * on the data path (rekey's check-and-set write of an existing secret is a full overwrite: `create`
 * covers only a secret that does not exist, `patch` only partial updates), and for `rekey migrate`
 * into a secret that does not exist yet also `create`. The error names the missing capability, what
 * the token has, and what the missing one is for. Against the Vault stand-in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Capability, startVaultStandIn, type VaultStandIn } from '../../demo/stand-ins/vault-kv.js';
import { vaultKvSeeder } from '../../src/stores/vault-kv/seed.js';
import { VaultKvStore } from '../../src/stores/vault-kv/store.js';

const ROOT = 'stand-in-root-token';
const running: VaultStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** A stand-in with the secret written, and a token whose policy on it is `caps`. */
async function withToken(caps: readonly string[], secret = 'bi/production') {
  const vault = await startVaultStandIn({
    // 'patch' is a real Vault capability the stand-in's type does not list: it only reports it.
    tokens: { [ROOT]: 'root', limited: { 'secret/data/bi/*': caps as Capability[] } },
  });
  running.push(vault);
  vault.handler.writeDirect('secret', 'bi/production', { JWT_SECRET: 'old-jwt-canary-1111' });
  const config = { type: 'vault-kv' as const, address: vault.url, mount: 'secret', path: secret };
  const options = { env: { VAULT_TOKEN: 'limited' }, backoffMs: 10 };
  return { config, options };
}

describe('vault-kv preflight capabilities', () => {
  it('create + patch without update: refused, naming update, what the token has and why', async () => {
    const { config, options } = await withToken(['read', 'create', 'patch']);
    const store = await VaultKvStore.open(config, options);
    const err = await store.check().then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; hint: string },
    );
    expect(err?.code).toBe('ERR_STORE_AUTH');
    expect(err?.message).toBe(
      'vault-kv: the token lacks update on secret/data/bi/production (it has: create, patch, read)',
    );
    expect(err?.hint).toMatch(/^update writes a new version of the existing secret with check-and-set/);
    expect(err?.hint).toMatch(/patch only partial updates/);
    expect(err?.hint).toContain('capabilities = ["read", "update"]');
  });

  it('read + update is enough to rotate an existing secret', async () => {
    const { config, options } = await withToken(['read', 'update']);
    await expect((await VaultKvStore.open(config, options)).check()).resolves.toBeUndefined();
  });

  it('rekey migrate into a secret that does not exist yet also needs create, said before any write', async () => {
    const { config, options } = await withToken(['read', 'update'], 'bi/staging');
    const seeder = await vaultKvSeeder(config, options);
    await expect(seeder.check()).rejects.toMatchObject({
      code: 'ERR_STORE_AUTH',
      message: 'vault-kv: the token lacks create on secret/data/bi/staging (it has: read, update)',
      hint: expect.stringMatching(/^create writes the first version of a secret that does not exist yet/),
    });
    // With create too, preflight passes and the first write succeeds.
    const ok = await withToken(['read', 'update', 'create'], 'bi/staging');
    const seeder2 = await vaultKvSeeder(ok.config, ok.options);
    await expect(seeder2.check()).resolves.toBeUndefined();
    await seeder2.read(['JWT_SECRET']);
    await expect(seeder2.write({ JWT_SECRET: 'first-canary-5555' })).resolves.toMatch(/version 1/);
  });
});
