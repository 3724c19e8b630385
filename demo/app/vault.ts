/**
 * The demo app's Vault read (the `rekey demo --store vault-kv` variant, through demo/app/store.ts):
 * at start, a worker reads its secrets from one KV v2 secret and lays them over the env file's
 * values. The env file names where (never a secret): VAULT_ADDR, VAULT_KV_MOUNT (default `secret`),
 * VAULT_KV_PATH and VAULT_TOKEN_FILE (a file holding the token, relative to the env file's folder).
 * Errors name the path and Vault's status, never a value or the token.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The KV v2 secret's fields (strings only), read with the token from VAULT_TOKEN_FILE.
 *
 * @example
 * const fields = await readVaultFields(values, '/srv/bi'); // Map { 'JWT_SECRET' => '…', … }
 */
export async function readVaultFields(
  values: ReadonlyMap<string, string>,
  dir: string,
): Promise<Map<string, string>> {
  const address = (values.get('VAULT_ADDR') ?? '').replace(/\/+$/, '');
  const mount = values.get('VAULT_KV_MOUNT') || 'secret';
  const secretPath = values.get('VAULT_KV_PATH') ?? '';
  const tokenFile = values.get('VAULT_TOKEN_FILE') ?? '';
  if (secretPath === '' || tokenFile === '')
    throw new Error('VAULT_ADDR is set: VAULT_KV_PATH and VAULT_TOKEN_FILE are needed too');
  let token: string;
  try {
    token = (await readFile(path.resolve(dir, tokenFile), 'utf8')).trim();
  } catch (e) {
    throw new Error(
      `cannot read the Vault token file ${tokenFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const where = `${mount}/data/${secretPath}`;
  let res: Response;
  try {
    res = await fetch(`${address}/v1/${where}`, {
      headers: { 'x-vault-token': token },
      signal: AbortSignal.timeout(5000),
    });
  } catch (e) {
    throw new Error(`Vault at ${address} did not answer (${(e as Error).name})`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Vault refused to read ${where}: HTTP ${res.status}`);
  }
  const body = (await res.json()) as { data?: { data?: Record<string, unknown> } };
  const fields = new Map<string, string>();
  for (const [key, value] of Object.entries(body.data?.data ?? {}))
    if (typeof value === 'string') fields.set(key, value);
  return fields;
}
