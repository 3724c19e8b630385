/** How new values of each secret type are generated (defaults and per-secret `length`/`alphabet`). */
import type { SecretConfig } from '../config/schema.js';
import { ALPHANUMERIC, type GenerateSpec, validateSpec } from '../lib/generate.js';

const DEFAULT_BYTES: Partial<Record<SecretConfig['type'], number>> = { jwt: 64, 'api-key': 32 };

/**
 * The generation spec of a secret, validated (entropy ≥ 128 bits, safe alphabet).
 *
 * @example
 * specFor({ key: 'JWT_SECRET', type: 'jwt' }); // { kind: 'bytes', bytes: 64 }
 */
export function specFor(secret: SecretConfig, where = secret.key): GenerateSpec {
  const bytes = DEFAULT_BYTES[secret.type];
  const spec: GenerateSpec =
    bytes !== undefined && secret.alphabet === undefined
      ? { kind: 'bytes', bytes: secret.length ?? bytes }
      : {
          kind: 'chars',
          length: secret.length ?? 32,
          alphabet: secret.alphabet ?? ALPHANUMERIC,
          ...(secret.everyClass ? { everyClass: true } : {}),
        };
  validateSpec(spec, where);
  return spec;
}
