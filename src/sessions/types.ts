/** Session invalidation, as the engine sees it: described for the plan, run after the deploy. */
import type { TargetContext } from '../targets/types.js';

export interface SessionInvalidator {
  /** One line for the plan, e.g. `purge session:* on redis 127.0.0.1:6379 db 0 (SCAN + UNLINK)`. */
  describe(): string;
  /** Purges; `env` holds the env file's values after commit. Returns a summary (counts, no secret). */
  invalidate(ctx: TargetContext, env: ReadonlyMap<string, string>): Promise<string>;
}
