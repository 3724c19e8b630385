/**
 * How new values of each secret type are generated: the type's `defaultBytes` (./registry.ts), else a
 * password of characters; per-secret `length`/`alphabet`.
 */
import { ALPHANUMERIC, type GenerateSpec, validateSpec } from '../lib/generate.js';
import { type SecretConfig, specOf } from './registry.js';

/**
 * The generation spec of a secret, validated (entropy ≥ 128 bits, safe alphabet).
 *
 * @example
 * specFor({ key: 'JWT_SECRET', type: 'jwt' }); // { kind: 'bytes', bytes: 64 }
 */
export function specFor(secret: SecretConfig, where = secret.key): GenerateSpec {
  const bytes = specOf(secret.type)?.defaultBytes;
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
