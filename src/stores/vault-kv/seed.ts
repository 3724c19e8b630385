/**
 * `rekey migrate --to vault-kv`: the first copy of the values into one KV v2 secret. The write is
 * check-and-set against the version read (`cas: 0` when the secret does not exist yet: Vault then
 * refuses if someone created it meanwhile); other fields of the secret are kept.
 */
import type { VaultKvStoreConfig } from '../../config/store.js';
import type { Values } from '../../engine/ports.js';
import type { StoreSeeder } from '../seed.js';
import { VaultClient, type VaultClientOptions } from './client.js';
import { VaultKvStore } from './store.js';

/**
 * @example
 * const seeder = await vaultKvSeeder({ type: 'vault-kv', mount: 'secret', path: 'bi/production' });
 */
export async function vaultKvSeeder(
  config: VaultKvStoreConfig,
  options: VaultClientOptions = {},
): Promise<StoreSeeder> {
  const auth = {
    ...(config.address === undefined ? {} : { address: config.address }),
    ...(config.namespace === undefined ? {} : { namespace: config.namespace }),
    ...(config.tokenFile === undefined ? {} : { tokenFile: config.tokenFile }),
    ...(config.appRole === undefined ? {} : { appRole: config.appRole }),
  };
  const client = await VaultClient.connect(auth, options);
  const store = await VaultKvStore.open(config, options);
  const { mount, path } = config;
  /** What the last read saw: the version to check-and-set against (0: no secret) and its fields. */
  let seen: { version: number; data: Readonly<Record<string, unknown>> } | undefined;
  return {
    name: store.name,
    async check() {
      await store.check();
      // The first write of a secret that does not exist yet needs `create` (later ones `update`).
      if ((await client.read(mount, path)) === undefined)
        await store.requireCapabilities(['read', 'update', 'create']);
    },
    async read(keys) {
      const v = await client.read(mount, path);
      seen = { version: v?.version ?? 0, data: v?.data ?? {} };
      const out = new Map<string, string>();
      for (const k of keys) {
        const value = seen.data[k];
        if (typeof value === 'string') out.set(k, value);
      }
      return out;
    },
    async write(values: Values) {
      if (seen === undefined) throw new Error('vaultKvSeeder: write before read');
      const version = await client.write(mount, path, { ...seen.data, ...values }, seen.version);
      seen = { version, data: { ...seen.data, ...values } };
      return `Vault version ${version} of ${mount}/data/${path} written`;
    },
  };
}
