/** Session invalidation configured under `sessions:`. */
import type { ParsedConfig } from '../config/schema.js';
import type { SessionInvalidator } from './types.js';

export type { SessionInvalidator } from './types.js';

/** The invalidator the config asks for, or undefined when none is configured (Redis purge: next commit). */
export function createSessions(_config: ParsedConfig, _env: ReadonlyMap<string, string>): SessionInvalidator | undefined {
  return undefined;
}
