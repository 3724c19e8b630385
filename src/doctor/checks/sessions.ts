/**
 * Sessions (RK701): a pattern purge (SCAN + UNLINK of `session:*`) where a dedicated Redis db would
 * be emptied in O(1) by `sessions.redis.flushDb`. The numbers quoted are bench/results/purge.md's.
 */
import type { DoctorContext } from '../context.js';
import type { Check, Finding, Rule } from '../finding.js';

const RULE = {
  id: 'RK701',
  name: 'sessions-pattern-purge',
  severity: 'info',
  summary: 'sessions purged by pattern where a dedicated Redis db (flushDb) would be O(1)',
} as const satisfies Rule;

export const sessionsCheck: Check<DoctorContext> = {
  name: 'sessions',
  rules: [RULE],
  async run(ctx) {
    const redis = ctx.loaded.config.sessions?.redis;
    if (redis === undefined || redis.flushDb !== undefined || redis.flushAll) return [];
    const finding: Finding = {
      rule: RULE.id,
      severity: RULE.severity,
      message: `sessions are purged by pattern (${(redis.patterns ?? ['session:*']).join(', ')}): SCAN reads every key of the db`,
      why: 'Measured here (bench/results/purge.md): 1M sessions among 1M other keys take 10.6 s by pattern, 58 ms with FLUSHDB ASYNC of a dedicated db.',
      fix: 'Have the app keep sessions in their own Redis db (e.g. db 1) and set `sessions.redis.flushDb: 1`.',
      location: { file: ctx.loaded.path },
    };
    return [finding];
  },
};
