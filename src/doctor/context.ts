/**
 * What every doctor check reads: the loaded stack, its values now (the env file's or the store's),
 * the managed secrets with the keys whose values are secret, and where each key sits in the env file.
 * Built once by the command; the checks never write.
 */
import type { LoadedConfig } from '../config/load.js';
import type { SecretConfig } from '../targets/registry.js';
import { ownedKeys } from '../targets/registry.js';

export interface ManagedSecret {
  readonly config: SecretConfig;
  /** The keys whose values are secret (the secret's key, its grace slot, …). */
  readonly secretKeys: readonly string[];
  /** The keys a rotation of it writes (its key, grace slot, role name): what it replaces. */
  readonly writtenKeys: readonly string[];
}

export interface DoctorContext {
  readonly loaded: LoadedConfig;
  /** The stack's values now: the env file's, or for a store stack the store's. */
  readonly values: ReadonlyMap<string, string>;
  readonly secrets: readonly ManagedSecret[];
  /** 1-based line of each key in the env file, when the stack has one (finding locations). */
  readonly lines: ReadonlyMap<string, number>;
  readonly now: Date;
}

/**
 * @example
 * const ctx = doctorContext(loaded, values, new Date());
 */
export function doctorContext(
  loaded: LoadedConfig,
  values: ReadonlyMap<string, string>,
  now: Date,
): DoctorContext {
  const lines = new Map<string, number>();
  for (const e of loaded.env?.doc.entries ?? []) if (!lines.has(e.key)) lines.set(e.key, e.line);
  return {
    loaded,
    values,
    secrets: loaded.config.secrets.map((config) => {
      const owned = ownedKeys(config);
      return { config, secretKeys: owned.secret, writtenKeys: owned.written };
    }),
    lines,
    now,
  };
}

/** Where a key is, for a finding's location: its env file line, or rekey.yaml for a store stack. */
export function keyLocation(ctx: DoctorContext, key: string): { file: string; line?: number } {
  const line = ctx.lines.get(key);
  if (ctx.loaded.envFile !== undefined && line !== undefined) return { file: ctx.loaded.envFile, line };
  return { file: ctx.loaded.path };
}
