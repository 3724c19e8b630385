/**
 * The secret types, listed once: adding a type is its folder plus one line here (docs/secret-types.md).
 * Typed so that every type of the config schema has exactly one entry. `rekey init` detects in this
 * order.
 */
import type { SecretConfig, SecretType } from '../config/schema.js';
import { commandKind } from './command/kind.js';
import { apiKeyKind, genericKind, jwtKind } from './file/kind.js';
import { grafanaKind } from './grafana/kind.js';
import type { InitDetection, SecretKind, TargetEnv } from './kind.js';
import { postgresKind } from './postgres/kind.js';
import { redisKind } from './redis/kind.js';
import type { Target } from './types.js';

export const SECRET_KINDS: { readonly [T in SecretType]: SecretKind<T> } = {
  jwt: jwtKind,
  'api-key': apiKeyKind,
  generic: genericKind,
  postgres: postgresKind,
  redis: redisKind,
  grafana: grafanaKind,
  command: commandKind,
};

/** Every registered kind, in registry order. */
export function secretKinds(): readonly SecretKind<SecretType>[] {
  return Object.values(SECRET_KINDS) as SecretKind<SecretType>[];
}

/** The kind of a type name, or undefined for a name no type has. */
export function kindOf(type: string): SecretKind<SecretType> | undefined {
  return Object.hasOwn(SECRET_KINDS, type)
    ? (SECRET_KINDS[type as SecretType] as SecretKind<SecretType>)
    : undefined;
}

/** Builds the target of one configured secret through its kind. */
export function createTargetOf(secret: SecretConfig, env: TargetEnv): Promise<Target> {
  return (SECRET_KINDS[secret.type] as SecretKind<SecretType>).create(secret, env);
}

/** `rekey init`: what every kind detects in an env file, in registry order. */
export function detectSecrets(env: ReadonlyMap<string, string>): InitDetection[] {
  return secretKinds().flatMap((k) => k.detect?.(env) ?? []);
}
