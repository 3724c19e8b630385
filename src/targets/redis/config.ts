/** The redis type: an ACL user's password, old and new both valid between stage and finish. */
import { z } from 'zod';
import { commonSecretFields, envKey, port } from '../../config/pieces.js';
import { secretType } from '../secret-type.js';

export const redisType = secretType({
  type: 'redis',
  schema: z.strictObject({
    ...commonSecretFields,
    type: z.literal('redis'),
    host: z.string().default('127.0.0.1'),
    port: port.default(6379),
    user: z.string().min(1).default('default'),
    tls: z.boolean().default(false),
    persist: z
      .enum(['auto', 'rewrite', 'acl-save', 'none'])
      .default('auto')
      .describe('How the new password survives a Redis restart; auto detects config file / aclfile.'),
    admin: z
      .strictObject({ user: z.string().min(1), passwordKey: envKey })
      .optional()
      .describe(
        'An ACL user allowed ACL, CONFIG and CLIENT (e.g. default), for a least-privileged `user`: ACL reads and changes, persistence and eviction go through it. Its password (passwordKey in the env file) is read, never written by this secret (another secret may rotate it: see docs/secret-types.md).',
      ),
  }),
  // The admin password is secret but only read, never written.
  ownedKeys: (s) => ({ written: [s.key], secret: s.admin ? [s.key, s.admin.passwordKey] : [s.key] }),
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
  factory: new URL('./kind.js', import.meta.url).href,
});
