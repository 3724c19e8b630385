/**
 * Building targets: each secret type's `config.ts` (listed in ./registry.ts) names the module that
 * builds its target.
 */
import { RekeyError } from '../lib/errors.js';
import type { TargetEnv, TargetFactory } from './kind.js';
import { type SecretConfig, type SecretType, specOf } from './registry.js';
import type { Target } from './types.js';

export type { TargetEnv, TargetFactory } from './kind.js';
export type { CheckResult, PlanNote, Target, TargetContext, TargetDescription, Values } from './types.js';

/**
 * Builds the target for one configured secret. Each type's module (and its driver: pg, node-redis)
 * is loaded only when a secret of that type is configured, so commands start fast.
 *
 * @example
 * const targets = await Promise.all(config.secrets.map((s) => createTarget(s, { env, configDir })));
 */
export async function createTarget(secret: SecretConfig, env: TargetEnv): Promise<Target> {
  const spec = specOf(secret.type);
  const mod = spec && ((await import(spec.factory)) as { create?: unknown });
  if (typeof mod?.create !== 'function') {
    throw new RekeyError('ERR_INTERNAL', `secret type ${secret.type} has no target factory`);
  }
  return (mod.create as TargetFactory<SecretType>)(secret, env);
}

/** Builds every configured target, in config order. */
export function createTargets(secrets: readonly SecretConfig[], env: TargetEnv): Promise<Target[]> {
  return Promise.all(secrets.map((s) => createTarget(s, env)));
}
