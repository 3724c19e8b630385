/**
 * The target registry: one factory per secret type, each in its own folder.
 */
import type { SecretConfig } from '../config/schema.js';
import { commandTarget } from './command/index.js';
import { fileHeldTarget } from './file/file-held.js';
import { grafanaTarget } from './grafana/index.js';
import { postgresTarget } from './postgres/index.js';
import { redisTarget } from './redis/index.js';
import type { Target } from './types.js';

export type { CheckResult, PlanNote, Target, TargetContext, TargetDescription, Values } from './types.js';

/** Everything a live target may need besides its own config section. */
export interface TargetEnv {
  /** Current env-file values (for keys a target reads besides its own, such as an admin password). */
  readonly env: ReadonlyMap<string, string>;
  readonly configDir: string;
}

/**
 * Builds the target for one configured secret.
 *
 * @example
 * const targets = config.secrets.map((s) => createTarget(s, { env, configDir }));
 */
export function createTarget(secret: SecretConfig, env: TargetEnv): Target {
  switch (secret.type) {
    case 'jwt':
    case 'api-key':
    case 'generic':
      return fileHeldTarget(secret);
    case 'command':
      return commandTarget(secret, env.configDir);
    case 'grafana':
      return grafanaTarget(secret, env);
    case 'postgres':
      return postgresTarget(secret, env);
    case 'redis':
      return redisTarget(secret, env);
  }
}
