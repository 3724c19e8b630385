/**
 * The eviction report of a compromise rotation: "what an attacker could still use", per service.
 * The engine stays generic: each target says what it removed or found through its optional
 * `evictions()` (see Target); a target without it is said to be not checked, with the reason.
 * An empty list for a service never happens: "checked and clean" is a finding of its own.
 */
import type { EvictionFinding, Target } from '../targets/types.js';
import type { Journal } from './journal.js';

/**
 * The findings of a finished compromise rotation, or undefined for any other run.
 *
 * @example
 * const eviction = evictionReport(run.journal, (key) => run.target(key));
 * // [{ service: 'Redis 127.0.0.1:6379 (REDIS_PASSWORD)', foothold: 'passwords', status: 'removed', … }]
 */
export function evictionReport(
  journal: Journal,
  target: (key: string) => Target,
): EvictionFinding[] | undefined {
  if (journal.trigger !== 'compromise' || journal.kind !== 'rotate') return undefined;
  const findings: EvictionFinding[] = [];
  for (const jt of journal.targets) {
    const t = target(jt.key);
    const own = t.evictions?.();
    if (own && own.length > 0) {
      findings.push(...own);
      continue;
    }
    const service = `${t.key} (${t.type})`;
    if (t.describe('compromise').fileOnly) {
      findings.push({
        service,
        foothold: 'passwords',
        status: 'removed',
        text: 'held only in the env file: the old value is gone from it (no previous slot kept on compromise)',
      });
    } else {
      findings.push({
        service,
        foothold: 'passwords',
        status: 'unchecked',
        text: `could not check: the ${t.type} target ${own ? 'found nothing to report in this process (finish ran in `rekey recover`?)' : 'has no eviction checks'}; sessions, tokens or users an attacker created there are not looked for`,
      });
    }
  }
  const purge = journal.steps.find((s) => s.id === 'invalidate:sessions');
  findings.push(
    purge?.state === 'done'
      ? {
          service: 'app sessions',
          foothold: 'sessions',
          status: 'removed',
          text: 'sessions purged (sessions.redis)',
        }
      : {
          service: 'app sessions',
          foothold: 'sessions',
          status: 'unchecked',
          text: 'could not check: no `sessions` configured, app sessions issued before the rotation stay valid unless the app ties them to a rotated secret',
        },
  );
  return findings;
}
