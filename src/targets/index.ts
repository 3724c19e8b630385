/**
 * The target registry: one factory per secret type, each in its own folder.
 */
import type { SecretConfig } from '../config/schema.js';
import type { Target } from './types.js';

export type { CheckResult, PlanNote, Target, TargetContext, TargetDescription, Values } from './types.js';

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

/**
 * Builds the target for one configured secret. Each type's module (and its driver: pg, node-redis)
 * is loaded only when a secret of that type is configured, so commands start fast.
 *
 * @example
 * const targets = await Promise.all(config.secrets.map((s) => createTarget(s, { env, configDir })));
 */
export async function createTarget(secret: SecretConfig, env: TargetEnv): Promise<Target> {
  switch (secret.type) {
    case 'jwt':
    case 'api-key':
    case 'generic':
      return (await import('./file/file-held.js')).fileHeldTarget(secret);
    case 'command':
      return (await import('./command/index.js')).commandTarget(secret, env.configDir);
    case 'grafana':
      return (await import('./grafana/index.js')).grafanaTarget(secret, env);
    case 'postgres':
      return (await import('./postgres/index.js')).postgresTarget(secret, env);
    case 'redis':
      return (await import('./redis/index.js')).redisTarget(secret, env);
  }
}

/** Builds every configured target, in config order. */
export function createTargets(secrets: readonly SecretConfig[], env: TargetEnv): Promise<Target[]> {
  return Promise.all(secrets.map((s) => createTarget(s, env)));
}
