/** The postgres type: a role's password, set with a SCRAM verifier (or two alternating roles). */
import type { SecretKind } from '../kind.js';

export const postgresKind: SecretKind<'postgres'> = {
  type: 'postgres',
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
  create: async (secret, env) => (await import('./index.js')).postgresTarget(secret, env),
};
