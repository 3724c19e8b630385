/**
 * The demo app's Vault read (demo/app/vault.ts, the `rekey demo --store vault-kv` variant) against the
 * Vault KV v2 stand-in: the secret's fields win over the env file's, and a refused read (wrong token,
 * missing secret, no Vault) is an AppConfigError naming the path and the status, never the token or a
 * value.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppConfigError, loadConfig } from '../../demo/app/config.js';
import { freePort } from '../../demo/stack/ports.js';
import { startVaultStandIn, type VaultStandIn } from '../../demo/stand-ins/vault-kv.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'root-token-canary-5678';
const running: VaultStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

const ENV = {
  POSTGRES_USER: 'bi_app',
  POSTGRES_PASSWORD: 'pg-Secret-1234567',
  POSTGRES_DB: 'business_intelligence',
  REDIS_PASSWORD: 'redis-Secret-1234567',
  JWT_SECRET: 'env-file-jwt-secret-that-loses',
  API_SECRET_KEY: 'env-file-api-key-that-loses',
};
const VAULT = {
  JWT_SECRET: 'vault-jwt-secret-canary-1234567890',
  JWT_SECRET_PREVIOUS: 'vault-jwt-previous-canary-123456',
  API_SECRET_KEY: 'vault-api-key-canary-1234567890',
};

async function stack(vaultAddr: string, token = TOKEN, secretPath = 'demo/app') {
  const dir = await tempDir();
  await writeFile(path.join(dir, 'vault-token'), `${token}\n`, { mode: 0o600 });
  const file = path.join(dir, '.env');
  const lines = Object.entries({
    ...ENV,
    VAULT_ADDR: vaultAddr,
    VAULT_KV_PATH: secretPath,
    VAULT_TOKEN_FILE: 'vault-token',
  }).map(([k, v]) => `${k}=${v}`);
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

async function vault() {
  const v = await startVaultStandIn({ tokens: { [TOKEN]: 'root' }, mounts: [{ path: 'secret' }] });
  running.push(v);
  const res = await fetch(`${v.url}/v1/secret/data/demo/app`, {
    method: 'POST',
    headers: { 'x-vault-token': TOKEN },
    body: JSON.stringify({ data: VAULT }),
  });
  expect(res.status).toBe(200);
  return v;
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

describe('demo app: secrets from Vault', () => {
  it("lays the KV v2 secret's fields over the env file's values", async () => {
    const v = await vault();
    const config = await loadConfig(await stack(v.url));
    expect(config.jwt).toEqual({ current: VAULT.JWT_SECRET, previous: VAULT.JWT_SECRET_PREVIOUS });
    expect(config.apiKey.current).toBe(VAULT.API_SECRET_KEY);
    expect(config.postgres.password).toBe(ENV.POSTGRES_PASSWORD);
  });

  it('refuses to start on a wrong token, a missing secret or no Vault, naming no value', async () => {
    const v = await vault();
    const cases = [
      {
        file: await stack(v.url, 'wrong-token-canary-9999'),
        message: /refused to read secret\/data\/demo\/app: HTTP 403/,
      },
      {
        file: await stack(v.url, TOKEN, 'demo/other'),
        message: /refused to read secret\/data\/demo\/other: HTTP 404/,
      },
      { file: await stack(`http://127.0.0.1:${await freePort()}`), message: /did not answer/ },
    ];
    for (const c of cases) {
      const error = await refusal(loadConfig(c.file));
      expect(error).toBeInstanceOf(AppConfigError);
      expect(error?.message).toMatch(c.message);
      for (const secret of [TOKEN, 'wrong-token-canary-9999', ...Object.values(VAULT), ...Object.values(ENV)])
        expect(error?.message).not.toContain(secret);
    }
  });
});
