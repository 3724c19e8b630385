/**
 * The post-rotation validation table: the configured HTTP and login checks, then each target's own
 * rows (new credential accepted on a fresh connection; retired old credential rejected).
 */
import { ms } from '../config/load.js';
import type { ParsedConfig } from '../config/schema.js';
import type { CheckResult, TargetCheck, TargetContext, Verifier } from '../engine/ports.js';
import { mapLimit } from '../lib/limit.js';
import { safeMessage } from '../lib/redact.js';
import { type CheckTiming, runHttpCheck } from './http.js';
import { runLoginCheck } from './login.js';

export type { TargetCheck } from '../engine/ports.js';

/**
 * `verifyPolicy.interval` when not configured: the spacing between two successes of a check.
 * Chosen from `npm run bench -- settle` on the demo app (bench/README.md): no check flipped after the
 * deploy returned, so the rule's floor applies — twice the p99 round trip of the slowest verify check
 * (Auth, 120 ms), rounded up to 50 ms.
 */
export const DEFAULT_INTERVAL = '250ms';

/** Targets checked at once when the config names no `concurrency` (the schema's default). */
const DEFAULT_TARGETS_AT_ONCE = 8;

/**
 * The `Verifier` port (src/engine/ports.ts) over the configured checks and `verifyPolicy`, read once
 * here: the engine is given this, not the config.
 *
 * @example
 * const rows = await createVerifier(loaded.config).verify(ctx, env, [{ target, next }]);
 */
export function createVerifier(
  config: Pick<ParsedConfig, 'verify' | 'verifyPolicy'> & { readonly concurrency?: number },
): Verifier {
  const settings = {
    verify: config.verify,
    verifyPolicy: config.verifyPolicy,
    ...(config.concurrency === undefined ? {} : { concurrency: config.concurrency }),
  };
  return {
    checks: settings.verify.length,
    verify: (ctx, env, targets) => runChecks({ config: settings, env, targets, ctx }),
  };
}

export function timingOf(config: Pick<ParsedConfig, 'verifyPolicy'>): CheckTiming {
  return {
    deadlineMs: ms(config.verifyPolicy.deadline),
    attemptTimeoutMs: ms(config.verifyPolicy.attemptTimeout),
    successes: config.verifyPolicy.successes,
    intervalMs: ms(config.verifyPolicy.interval ?? DEFAULT_INTERVAL),
  };
}

/**
 * Runs every check and returns the rows in table order. Never throws: a check that errors is a
 * failed row.
 *
 * @example
 * const rows = await runChecks({ config, env, targets: [{ target, next }], ctx });
 * rows.every((r) => r.ok);
 */
export async function runChecks(options: {
  readonly config: Pick<ParsedConfig, 'verify' | 'verifyPolicy'> & { readonly concurrency?: number };
  readonly env: ReadonlyMap<string, string>;
  readonly targets: readonly TargetCheck[];
  readonly ctx: TargetContext;
}): Promise<CheckResult[]> {
  const timing = timingOf(options.config);
  const configured = await Promise.all(
    options.config.verify.map((check) => {
      if ('http' in check) return runHttpCheck(check, timing);
      const secret = options.env.get(check.jwtKey);
      if (secret === undefined) {
        return Promise.resolve({
          name: check.name,
          ok: false,
          detail: `${check.jwtKey} missing from the env file`,
        });
      }
      return runLoginCheck(check, secret, timing);
    }),
  );
  // Each target's rows on its own connections: up to `concurrency` targets at once, rows in order.
  const perTarget = await mapLimit(
    options.targets,
    options.config.concurrency ?? DEFAULT_TARGETS_AT_ONCE,
    async (t): Promise<CheckResult[]> => {
      const started = Date.now();
      try {
        return await t.target.verify(options.ctx, t.next, t.previous, t.retired);
      } catch (e) {
        return [
          {
            name: t.target.key,
            target: t.target.key,
            ok: false,
            detail: safeMessage(e),
            ms: Date.now() - started,
          },
        ];
      }
    },
  );
  return [...configured, ...perTarget.flat()];
}
