/**
 * Building targets: each secret type's factory is in its folder, listed in ./registry.ts.
 */
import type { SecretConfig } from '../config/schema.js';
import type { TargetEnv } from './kind.js';
import { createTargetOf } from './registry.js';
import type { Target } from './types.js';

export type { TargetEnv } from './kind.js';
export type { CheckResult, PlanNote, Target, TargetContext, TargetDescription, Values } from './types.js';

/**
 * Builds the target for one configured secret. Each type's module (and its driver: pg, node-redis)
 * is loaded only when a secret of that type is configured, so commands start fast.
 *
 * @example
 * const targets = await Promise.all(config.secrets.map((s) => createTarget(s, { env, configDir })));
 */
export function createTarget(secret: SecretConfig, env: TargetEnv): Promise<Target> {
  return createTargetOf(secret, env);
}

/** Builds every configured target, in config order. */
export function createTargets(secrets: readonly SecretConfig[], env: TargetEnv): Promise<Target[]> {
  return Promise.all(secrets.map((s) => createTarget(s, env)));
}
