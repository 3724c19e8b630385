/** The file-held types (jwt, api-key, generic): the value lives only in the env file. */
import { z } from 'zod';
import { commonSecretFields, envKey } from '../../config/pieces.js';
import { firstKey, secretType, slots } from '../secret-type.js';

const factory = new URL('./kind.js', import.meta.url).href;

export const jwtType = secretType({
  type: 'jwt',
  schema: z.strictObject({
    ...commonSecretFields,
    type: z.literal('jwt'),
    previousKey: envKey.optional().describe('Receives the old value, so tokens in flight keep verifying.'),
    algorithm: z
      .enum(['HS256', 'HS384', 'HS512'])
      .optional()
      .describe(
        "The app's HMAC algorithm, for `rekey doctor`'s length check (RFC 7518 §3.2); default: the env's JWT_ALGORITHM, else HS256.",
      ),
  }),
  ownedKeys: (s) => slots(s.key, s.previousKey),
  unattendedByDefault: false,
  defaultBytes: 64,
  detect(env) {
    const key = firstKey(env, 'JWT_SECRET', 'SECRET_KEY');
    if (key === undefined) return undefined;
    return {
      key,
      lines: [
        '  # Signing secret of the API app. The old value moves to the previous slot so tokens in flight keep verifying.',
        `  - { key: ${key}, type: jwt, previousKey: ${key}_PREVIOUS }`,
      ],
    };
  },
  factory,
});

export const apiKeyType = secretType({
  type: 'api-key',
  schema: z.strictObject({
    ...commonSecretFields,
    type: z.literal('api-key'),
    previousKey: envKey.optional().describe('Receives the old value for a grace window.'),
  }),
  ownedKeys: (s) => slots(s.key, s.previousKey),
  unattendedByDefault: false,
  defaultBytes: 32,
  detect(env) {
    if (!env.has('API_SECRET_KEY')) return undefined;
    return {
      key: 'API_SECRET_KEY',
      lines: ['  - { key: API_SECRET_KEY, type: api-key, previousKey: API_SECRET_KEY_PREVIOUS }'],
    };
  },
  factory,
});

export const genericType = secretType({
  type: 'generic',
  schema: z.strictObject({ ...commonSecretFields, type: z.literal('generic') }),
  ownedKeys: (s) => slots(s.key),
  unattendedByDefault: false,
  factory,
});
