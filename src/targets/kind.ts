/**
 * Building a secret type's target. Each type's `config.ts` names its factory module (usually its
 * `kind.ts`, exporting `create`); ./index.ts loads it when a secret of that type is configured.
 */
import type { SecretConfigOf, SecretType } from './registry.js';
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

/** What a type's factory module exports as `create`. */
export type TargetFactory<T extends SecretType> = (
  secret: SecretConfigOf<T>,
  env: TargetEnv,
) => Target | Promise<Target>;
