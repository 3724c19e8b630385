/**
 * The secret types, listed once: adding a type is its folder plus one line in SECRET_TYPE_SPECS
 * (docs/secret-types.md, "Adding a secret type"). The config's secret union (src/config/schema.ts),
 * the keys a secret owns, `rekey init` detection (in this order), unattended defaults and the target
 * factories (src/targets/index.ts) all come from this list. It sits below config in the layers
 * (test/docs/layers.test.ts): it and the types' `config.ts` import only zod, lib and config/pieces.ts.
 */
import type { z } from 'zod';
import { commandType } from './command/config.js';
import { apiKeyType, genericType, jwtType } from './file/config.js';
import { grafanaType } from './grafana/config.js';
import { postgresType } from './postgres/config.js';
import { redisType } from './redis/config.js';
import type { InitDetection, OwnedKeys, SecretProblem, SecretTypeSpec } from './secret-type.js';

export const SECRET_TYPE_SPECS = [
  jwtType,
  apiKeyType,
  genericType,
  postgresType,
  redisType,
  grafanaType,
  commandType,
] as const;

type Specs = typeof SECRET_TYPE_SPECS;
/** A secret type's name (`type:` in rekey.yaml). */
export type SecretType = Specs[number]['type'];
/** A validated secret of any type. */
export type SecretConfig = OutputOf<Specs[number]>;
type OutputOf<T> = T extends { schema: infer S extends z.ZodType } ? z.output<S> : never;
/** A validated secret of type T. */
export type SecretConfigOf<T extends SecretType> = Extract<SecretConfig, { type: T }>;
/** The secret types' schemas, in registry order (what `z.discriminatedUnion` takes). */
export type SecretSchemas = SchemasOf<Specs>;
type SchemasOf<T extends readonly unknown[]> = {
  -readonly [K in keyof T]: T[K] extends { schema: infer S } ? S : never;
};

/** Every type's name, in registry order. */
export const SECRET_TYPES: readonly SecretType[] = SECRET_TYPE_SPECS.map((s) => s.type);

/** The spec of a secret type, as the functions below use it (each type's own is narrower). */
export type AnySecretTypeSpec = SecretTypeSpec<SecretType, z.ZodObject>;

/** Every registered type, in registry order. */
export function secretTypeSpecs(): readonly AnySecretTypeSpec[] {
  return SECRET_TYPE_SPECS as readonly AnySecretTypeSpec[];
}

/** Whether `type` names a secret type (for the raw config, before validation). */
export function isSecretType(type: unknown): type is SecretType {
  return typeof type === 'string' && SECRET_TYPES.includes(type as SecretType);
}

/** The spec of a type name, or undefined for a name no type has. */
export function specOf(type: string): AnySecretTypeSpec | undefined {
  return secretTypeSpecs().find((s) => s.type === type);
}

function specFor(secret: SecretConfig): AnySecretTypeSpec {
  const spec = specOf(secret.type);
  if (spec === undefined) throw new TypeError(`no secret type ${secret.type}`);
  return spec;
}

/**
 * Which env keys a secret owns: the one answer (its type's `ownedKeys`). Config loading (redaction,
 * `${KEY}` refusal, duplicate keys) and the targets (`Target.keys`, `Target.secretKeys`), hence
 * rollback's backup diff and recover, read it here.
 *
 * @example
 * ownedKeys({ key: 'JWT_SECRET', type: 'jwt', previousKey: 'JWT_SECRET_PREVIOUS' });
 * // { written: ['JWT_SECRET', 'JWT_SECRET_PREVIOUS'], secret: ['JWT_SECRET', 'JWT_SECRET_PREVIOUS'] }
 */
export function ownedKeys(secret: SecretConfig): OwnedKeys {
  return specFor(secret).ownedKeys(secret);
}

/** The type's cross-field rules for one validated secret: the first problem, if any. */
export function secretProblem(secret: SecretConfig): SecretProblem | undefined {
  return specFor(secret).check?.(secret);
}

/** `rekey init`: what every type detects in an env file, in registry order. */
export function detectSecrets(env: ReadonlyMap<string, string>): InitDetection[] {
  return secretTypeSpecs().flatMap((s) => s.detect?.(env) ?? []);
}

/** The types `rekey schedule` may rotate unattended without `--allow-unattended`. */
export function defaultUnattendedTypes(): readonly SecretType[] {
  return secretTypeSpecs()
    .filter((s) => s.unattendedByDefault)
    .map((s) => s.type);
}
