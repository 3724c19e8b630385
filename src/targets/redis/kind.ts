/** The redis type: an ACL user's password, old and new both valid between stage and finish. */
import type { SecretKind } from '../kind.js';

export const redisKind: SecretKind<'redis'> = {
  type: 'redis',
  unattendedByDefault: true,
  detect(env) {
    if (!env.has('REDIS_PASSWORD')) return undefined;
    const host = env.get('REDIS_HOST') ?? '127.0.0.1';
    const port = Number(env.get('REDIS_PORT') ?? 6379) || 6379;
    return {
      key: 'REDIS_PASSWORD',
      lines: [
        '  # Old and new passwords are both valid between stage and finish (ACL SETUSER >new ... <old).',
        `  - { key: REDIS_PASSWORD, type: redis, host: ${host}, port: ${port} }`,
      ],
    };
  },
  create: async (secret, env) => (await import('./index.js')).redisTarget(secret, env),
};
