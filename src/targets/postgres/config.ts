/** The postgres type: a role's password, set with a SCRAM verifier (or two alternating roles). */
import { z } from 'zod';
import { commonSecretFields, envKey, port } from '../../config/pieces.js';
import { secretType } from '../secret-type.js';

export const postgresType = secretType({
  type: 'postgres',
  schema: z.strictObject({
    ...commonSecretFields,
    type: z.literal('postgres'),
    host: z.string().default('127.0.0.1'),
    port: port.default(5432),
    user: z.string().min(1).describe('The role whose password is rotated (single) or the current role.'),
    database: z.string().min(1).default('postgres'),
    sslmode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
    strategy: z.enum(['single', 'alternating']).default('single'),
    roles: z
      .tuple([z.string().min(1), z.string().min(1)])
      .optional()
      .describe('alternating: the two login roles.'),
    memberOf: z
      .string()
      .optional()
      .describe('alternating: the application role the login roles are members of (grants are shared).'),
    userKey: envKey.optional().describe('alternating: the env key that names the role (e.g. POSTGRES_USER).'),
    admin: z
      .strictObject({ user: z.string().min(1), passwordKey: envKey })
      .optional()
      .describe('A role with CREATEROLE, for alternating roles and VALID UNTIL.'),
    validUntil: z.string().default('infinity').describe('VALID UNTIL set with every new password.'),
    terminateOnCompromise: z.boolean().default(true),
  }),
  // alternating: the role name (userKey) is written beside the password, but is no secret (a userKey
  // without `strategy: alternating` is refused by the target); the admin password is secret but only
  // read, never written.
  ownedKeys: (s) => ({
    written: s.userKey ? [s.userKey, s.key] : [s.key],
    secret: s.admin ? [s.key, s.admin.passwordKey] : [s.key],
  }),
  unattendedByDefault: true,
  detect(env) {
    if (!env.has('POSTGRES_PASSWORD')) return undefined;
    const user = env.has('POSTGRES_USER') ? `"\${POSTGRES_USER}"` : 'postgres';
    const db = env.get('POSTGRES_DB') ?? 'postgres';
    const host = env.get('POSTGRES_HOST') ?? '127.0.0.1';
    const port = Number(env.get('POSTGRES_PORT') ?? 5432) || 5432;
    return {
      key: 'POSTGRES_PASSWORD',
      lines: [
        "  # The app role's password, set with a SCRAM verifier (the plaintext never reaches the server).",
        '  # strategy: alternating (two roles, zero downtime) needs roles, userKey and an admin connection.',
        `  - { key: POSTGRES_PASSWORD, type: postgres, host: ${host}, port: ${port}, user: ${user}, database: ${db} }`,
      ],
    };
  },
  check(s) {
    if (s.strategy !== 'alternating') return undefined;
    if (!s.roles) return { field: 'roles', message: 'required with strategy: alternating (two role names)' };
    if (!s.userKey)
      return {
        field: 'userKey',
        message: 'required with strategy: alternating (the env key naming the role)',
      };
    if (s.roles[0] === s.roles[1]) return { field: 'roles', message: 'the two roles must differ' };
    return undefined;
  },
  factory: new URL('./kind.js', import.meta.url).href,
});
