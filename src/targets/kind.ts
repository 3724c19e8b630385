/**
 * What a secret type brings besides its config shape (src/config/schema.ts) and the keys it owns
 * (src/config/owned-keys.ts): its factory, its `rekey init` detection, and whether `rekey schedule`
 * may rotate it unattended by default. Each type's folder exports one; src/targets/registry.ts lists
 * them once.
 */
import type { SecretConfigOf, SecretType } from '../config/schema.js';
import type { Target } from './types.js';

/** Everything a live target may need besides its own config section. */
export interface TargetEnv {
  /** Current env-file values (for keys a target reads besides its own, such as an admin password). */
  readonly env: ReadonlyMap<string, string>;
  readonly configDir: string;
  /** `sessions.redis.evictUnknown`: on compromise, Redis targets remove other users' new passwords. */
  readonly evictUnknown?: boolean;
  /** The stack's state directory (PostgreSQL keeps the names of LOGIN roles there). */
  readonly stateDir?: string;
}

/** A secret `rekey init` found in an env file: the keys it names and its commented rekey.yaml lines. */
export interface InitDetection {
  readonly key: string;
  readonly lines: readonly string[];
}

export interface SecretKind<T extends SecretType> {
  readonly type: T;
  /**
   * `unattended: true` is allowed without `--allow-unattended`: the rotation keeps the old credential
   * working until the new one is verified and needs no user-facing change.
   */
  readonly unattendedByDefault: boolean;
  /** `rekey init`: this type's secret in an env file with these keys and values, if any. */
  detect?(env: ReadonlyMap<string, string>): InitDetection | undefined;
  /** Builds the target; the type's module (and its driver) is loaded only when asked for. */
  create(secret: SecretConfigOf<T>, env: TargetEnv): Promise<Target>;
}

/** The first of `names` the env file has. */
export const firstKey = (env: ReadonlyMap<string, string>, ...names: string[]) =>
  names.find((n) => env.has(n));
