/** The file-held types (jwt, api-key, generic): the value lives only in the env file. */
import { firstKey, type SecretKind } from '../kind.js';

export const jwtKind: SecretKind<'jwt'> = {
  type: 'jwt',
  unattendedByDefault: false,
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
  create: async (secret) => (await import('./file-held.js')).fileHeldTarget(secret),
};

export const apiKeyKind: SecretKind<'api-key'> = {
  type: 'api-key',
  unattendedByDefault: false,
  detect(env) {
    if (!env.has('API_SECRET_KEY')) return undefined;
    return {
      key: 'API_SECRET_KEY',
      lines: ['  - { key: API_SECRET_KEY, type: api-key, previousKey: API_SECRET_KEY_PREVIOUS }'],
    };
  },
  create: async (secret) => (await import('./file-held.js')).fileHeldTarget(secret),
};

export const genericKind: SecretKind<'generic'> = {
  type: 'generic',
  unattendedByDefault: false,
  create: async (secret) => (await import('./file-held.js')).fileHeldTarget(secret),
};
