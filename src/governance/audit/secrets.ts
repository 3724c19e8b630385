/** The `secrets` of an audit record: key, type and HMAC fingerprint of the value in the env file. */
import { type LoadedConfig, stackValues } from '../../config/load.js';
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
