/**
 * Which env keys a secret owns: the one place it is decided, per type, from the secret's config.
 * Config loading (redaction, `${KEY}` refusal, duplicate keys), the targets (`Target.keys`,
 * `Target.secretKeys`) and, through the targets, rollback's backup diff and recover all read it here.
 */
import type { SecretConfig, SecretConfigOf, SecretType } from './schema.js';

export interface OwnedKeys {
  /** Keys rekey reads and writes at commit (the secret's key, its grace slot, the role name, …). */
  readonly written: readonly string[];
  /** Keys whose values are secret (redacted, never copied into the config): may include keys only read. */
  readonly secret: readonly string[];
}

const OWNED: { readonly [T in SecretType]: (secret: SecretConfigOf<T>) => OwnedKeys } = {
  jwt: (s) => slots(s.key, s.previousKey),
  'api-key': (s) => slots(s.key, s.previousKey),
  generic: (s) => slots(s.key),
  // alternating: the role name (userKey) is written beside the password, but is no secret (a userKey
  // without `strategy: alternating` is refused by the target); the admin password is secret but only
  // read, never written.
  postgres: (s) => ({
    written: s.userKey ? [s.userKey, s.key] : [s.key],
    secret: s.admin ? [s.key, s.admin.passwordKey] : [s.key],
  }),
  redis: (s) => ({ written: [s.key], secret: s.admin ? [s.key, s.admin.passwordKey] : [s.key] }),
  grafana: (s) => slots(s.key),
  command: (s) => slots(s.key),
};

function slots(key: string, previousKey?: string): OwnedKeys {
  const keys = previousKey ? [key, previousKey] : [key];
  return { written: keys, secret: keys };
}

/**
 * @example
 * ownedKeys({ key: 'JWT_SECRET', type: 'jwt', previousKey: 'JWT_SECRET_PREVIOUS' });
 * // { written: ['JWT_SECRET', 'JWT_SECRET_PREVIOUS'], secret: ['JWT_SECRET', 'JWT_SECRET_PREVIOUS'] }
 */
export function ownedKeys(secret: SecretConfig): OwnedKeys {
  return (OWNED[secret.type] as (s: SecretConfig) => OwnedKeys)(secret);
}

/** Whether `type` names a secret type (for the raw config, before validation). */
export function isSecretType(type: unknown): type is SecretType {
  return typeof type === 'string' && Object.hasOwn(OWNED, type);
}
