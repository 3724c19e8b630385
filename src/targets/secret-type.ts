/**
 * What a secret type is, in the part of it that config loading needs: its rekey.yaml schema, the env
 * keys a secret of it owns, its `rekey init` detection, whether `rekey schedule` may rotate it
 * unattended by default, and the module that builds its target. Each type's folder exports one from
 * `config.ts` (zod, lib and ../config/pieces.ts only); ./registry.ts lists them once.
 */
import type { z } from 'zod';

/** The env keys a secret owns: the one answer, used by config loading and by its target. */
export interface OwnedKeys {
  /** Keys rekey reads and writes at commit (the secret's key, its grace slot, the role name, …): `Target.keys`. */
  readonly written: readonly string[];
  /** Keys whose values are secret (redacted, never copied into the config): may include keys only read. */
  readonly secret: readonly string[];
}

/** A secret `rekey init` found in an env file: the keys it names and its commented rekey.yaml lines. */
export interface InitDetection {
  readonly key: string;
  readonly lines: readonly string[];
}

/** A rule of one secret that its schema cannot express: the field it concerns and what is wrong. */
export interface SecretProblem {
  readonly field: string;
  readonly message: string;
}

export interface SecretTypeSpec<T extends string = string, S extends z.ZodObject = z.ZodObject> {
  /** The `type:` of the secret in rekey.yaml. */
  readonly type: T;
  /** `z.strictObject({ ...commonSecretFields, type: z.literal(T), …its own fields })`. */
  readonly schema: S;
  /** The env keys a validated secret of this type owns. */
  ownedKeys(secret: z.output<S>): OwnedKeys;
  /**
   * `unattended: true` is allowed without `--allow-unattended`: the rotation keeps the old credential
   * working until the new one is verified and needs no user-facing change.
   */
  readonly unattendedByDefault: boolean;
  /** Random bytes of a new value when the secret sets no alphabet (else a password of characters). */
  readonly defaultBytes?: number;
  /** `rekey init`: this type's secret in an env file with these keys and values, if any. */
  detect?(env: ReadonlyMap<string, string>): InitDetection | undefined;
  /** Cross-field rules of one validated secret (checked at config loading), the first problem if any. */
  check?(secret: z.output<S>): SecretProblem | undefined;
  /**
   * URL of the module whose `create` (a `TargetFactory`, src/targets/kind.ts) builds the target:
   * the URL of `./kind.js` beside it (`new URL(…, import.meta.url).href`). Named, not imported: the target and its driver sit
   * above config in the layers and are loaded only when a secret of the type is configured.
   */
  readonly factory: string;
}

/** Types a spec: `export const fileTokenType = secretType({ type: 'file-token', … })`. */
export function secretType<T extends string, S extends z.ZodObject>(
  spec: SecretTypeSpec<T, S>,
): SecretTypeSpec<T, S> {
  return spec;
}

/** A key and its optional grace slot: both written, both secret. */
export function slots(key: string, previousKey?: string): OwnedKeys {
  const keys = previousKey ? [key, previousKey] : [key];
  return { written: keys, secret: keys };
}

/** The first of `names` the env file has. */
export const firstKey = (env: ReadonlyMap<string, string>, ...names: string[]) =>
  names.find((n) => env.has(n));
