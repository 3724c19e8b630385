/**
 * The store a stack's config names, built for the commands: the env file (`envFile:`), or the one
 * managed store of the `store:` section (DESIGN.md, "Stores"). Store paths (`tokenFile`,
 * `appRole.secretIdFile`) are relative to rekey.yaml like every other path.
 */
import path from 'node:path';
import type { LoadedConfig, StoreReader } from '../config/load.js';
import type { StoreConfig } from '../config/store.js';
import type { Store } from '../engine/ports.js';
import { RekeyError } from '../lib/errors.js';
import { createEnvFileStore } from '../stores/env-file/index.js';

/**
 * A managed store from its config section (no call to the store is made here). Loaded on demand:
 * the AWS SDK is only needed by a stack whose store is in AWS (and `rekey status` starts fast).
 *
 * @example
 * const store = await openManagedStore({ type: 'aws-ssm', prefix: '/bi/production/' }, '/srv/app');
 */
export async function openManagedStore(config: StoreConfig, dir: string): Promise<Store> {
  switch (config.type) {
    case 'vault-kv': {
      const { VaultKvStore } = await import('../stores/vault-kv/store.js');
      return VaultKvStore.open({
        ...config,
        ...(config.tokenFile === undefined ? {} : { tokenFile: path.resolve(dir, config.tokenFile) }),
        ...(config.appRole === undefined
          ? {}
          : { appRole: { ...config.appRole, secretIdFile: path.resolve(dir, config.appRole.secretIdFile) } }),
      });
    }
    case 'aws-ssm': {
      const { AwsSsmStore } = await import('../stores/aws-ssm/store.js');
      return new AwsSsmStore(config);
    }
    case 'aws-secretsmanager': {
      const { AwsSecretsManagerStore } = await import('../stores/aws-secretsmanager/store.js');
      return new AwsSecretsManagerStore(config);
    }
    case 'kubernetes': {
      const { KubernetesStore } = await import('../stores/kubernetes/store.js');
      return KubernetesStore.open(config);
    }
  }
}

/**
 * One store per process and config: the reader `${NAME}` and the audit fingerprints use, and the
 * store the engine drives, are the same object (one Vault login, one set of SDK clients).
 */
export function storeOpener(): {
  open: (config: StoreConfig, dir: string) => Promise<Store>;
  reader: (config: StoreConfig, dir: string) => StoreReader;
} {
  const opened = new Map<string, Promise<Store>>();
  const open = (config: StoreConfig, dir: string) => {
    const key = JSON.stringify([config, dir]);
    let store = opened.get(key);
    if (store === undefined) {
      store = openManagedStore(config, dir);
      opened.set(key, store);
    }
    return store;
  };
  return {
    open,
    reader: (config, dir) => async () => {
      const store = await open(config, dir);
      await store.check();
      return (await store.read()).values;
    },
  };
}

/** The stack's store: the managed one of `store:`, else the env file. */
export async function stackStore(
  loaded: LoadedConfig,
  open: (config: StoreConfig, dir: string) => Promise<Store>,
  options: { allowUnignored: boolean },
): Promise<Store> {
  if (loaded.config.store !== undefined) return open(loaded.config.store, loaded.dir);
  if (loaded.envFile === undefined)
    throw new RekeyError('ERR_INTERNAL', 'a config without store: and without envFile: was loaded');
  return createEnvFileStore(loaded.envFile, {
    ...(loaded.config.envFileMode === undefined
      ? {}
      : { mode: Number.parseInt(loaded.config.envFileMode, 8) }),
    allowUnignored: options.allowUnignored,
  });
}
