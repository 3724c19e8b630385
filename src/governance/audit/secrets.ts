/** The `secrets` of an audit record: key, type and HMAC fingerprint of the value in the env file. */
import type { LoadedConfig } from '../../config/load.js';
import { envValues, readEnvFile } from '../../envfile/index.js';
import { RekeyError } from '../../lib/errors.js';
import { fingerprint, stackAuditKey } from './key.js';
import type { AuditSecret } from './types.js';

/**
 * Fingerprints the env file's current values of `keys` (configured secrets; the env file is read now
 * unless `env` is given).
 *
 * @example
 * await fingerprintSecrets(loaded, ['JWT_SECRET']); // [{ key: 'JWT_SECRET', type: 'jwt', fingerprint: '…' }]
 */
export async function fingerprintSecrets(
  loaded: LoadedConfig,
  keys: readonly string[],
  env?: ReadonlyMap<string, string>,
): Promise<AuditSecret[]> {
  const values = env ?? (await stackValues(loaded));
  const key = await stackAuditKey(loaded);
  return keys.map((k) => ({
    key: k,
    type: loaded.config.secrets.find((s) => s.key === k)?.type ?? 'unknown',
    fingerprint: fingerprint(key, values.get(k) ?? ''),
  }));
}

/**
 * The stack's values now: the env file's, or a store stack's store (read through the reader the CLI
 * gave the loaded config).
 *
 * @example
 * (await stackValues(loaded)).get('JWT_SECRET');
 */
export async function stackValues(loaded: LoadedConfig): Promise<ReadonlyMap<string, string>> {
  if (loaded.envFile !== undefined) return envValues((await readEnvFile(loaded.envFile)).doc);
  if (loaded.readStore !== undefined) return loaded.readStore();
  throw new RekeyError('ERR_INTERNAL', 'a store stack was loaded without its store');
}
