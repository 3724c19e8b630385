/**
 * Kill -9 at every step boundary of a five-secret rotation on live services (real PostgreSQL and
 * Redis, the Grafana stand-in), then `rekey recover`: every run converges to a stack where every
 * service accepts exactly what the env file holds, and a second recover is a no-op. The boundaries
 * come from `rekey plan --json` of this very stack (read while the file is collected, so each one is
 * a test of its own: `-t 'crash at commit@end'` runs one), so a new step is covered as soon as it exists.
 * The cases run in order on one stack, as a service would live through them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { crashPoints, planSteps } from '../engine/plan-points.js';
import { record, targetOf } from '../helpers/resilience.js';
import { makeLiveStack } from './live-stack.js';

const s = await makeLiveStack();
afterAll(async () => {
  await s.cleanup();
});
const points = crashPoints(planSteps(await s.run(['plan', '--json'])));
const outcomes: Record<string, string[]> = {};

describe('kill -9 at every step boundary with every live target', () => {
  it('covers every step of the plan', () => {
    expect(points.length).toBeGreaterThanOrEqual(40);
    for (const id of [
      'stage:POSTGRES_PASSWORD',
      'stage:REDIS_PASSWORD',
      'stage:GRAFANA_ADMIN_PASSWORD',
      'commit',
      'finish:REDIS_PASSWORD',
    ]) {
      expect(points).toContain(`${id}@end`);
    }
  });

  it.each(points)(
    'crash at %s converges after recover',
    async (point) => {
      s.forwardClock(6 * 60_000); // each case starts outside Grafana's lockout window
      const failedBefore = s.grafana().stats().failedLogins;
      const r = await s.run(['rotate', '--yes'], { env: { REKEY_CRASH_AT: point } });
      expect(r.signal, `${point}: ${r.stderr}`).toBe('SIGKILL');
      const rec = await s.run(['recover', '--yes', '--json']);
      const outcome = /"outcome": "([a-z-]+)"/.exec(rec.stdout)?.[1] ?? `exit ${rec.code}`;
      outcomes[outcome] = [...(outcomes[outcome] ?? []), point];
      const problem = await s.assertConsistent().then(
        () => undefined,
        (e: Error) => e.message,
      );
      const again = await s.run(['recover', '--yes', '--json']);
      const failedLogins = s.grafana().stats().failedLogins - failedBefore;
      record({
        kind: 'crash',
        suite: 'live (PostgreSQL, Redis, Grafana stand-in, jwt, api-key)',
        point,
        target: targetOf(point),
        outcome: `${outcome}${failedLogins > 0 ? ` (${failedLogins} failed Grafana login)` : ''}`,
        converged:
          rec.code === 0 &&
          problem === undefined &&
          again.stdout.includes('"nothing-to-do"') &&
          failedLogins <= 1,
      });
      expect(rec.code, `${point}: ${rec.stderr}`).toBe(0);
      expect(problem, point).toBeUndefined();
      expect(JSON.parse(again.stdout).outcome, point).toBe('nothing-to-do');
      // A crash and its recovery never cost Grafana more than one failed login.
      expect(failedLogins, point).toBeLessThanOrEqual(1);
    },
    180_000,
  );

  it('crashes ended both ways (rolled forward and rolled back), and the stack keeps rotating', async () => {
    expect(outcomes.rotated?.length ?? 0).toBeGreaterThan(5);
    expect(outcomes['rolled-back']?.length ?? 0).toBeGreaterThan(5);
    const last = await s.run(['rotate', '--yes']);
    expect(last.code, last.stderr).toBe(0);
    await s.assertConsistent();
  });
});
