/**
 * The kill -9 sweep with the Kubernetes store and deploy, through the built CLI against the API
 * stand-in run as its own process: rekey's whole process group is killed at every step boundary of
 * the plan (and at the rollback's own steps, after an injected verify failure), then `rekey recover`
 * runs. After it the Secret holds exactly the old values or exactly the new ones (its other keys
 * untouched), and what the pods would run with agrees: every workload restarted after the Secret's
 * last write whenever it was restarted at all (or the Secret holds the new values), a second
 * recover does nothing, and no value reached the output, the state dir or the stand-in's request
 * log other than the Secret writes.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crashPoints, planSteps } from '../engine/plan-points.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record, targetOf } from '../helpers/resilience.js';
import {
  filesUnder,
  KEYS,
  type KubeStack,
  type LoggedRequest,
  makeKubeStack,
  WORKLOADS,
} from './kube-stack.js';

const SUITE = 'store kubernetes + deploy kubernetes, kill -9 of the process group (stand-in, built CLI)';

/**
 * Whether the pods would run with what the Secret holds: per workload, its last restart in `log` came
 * after the Secret's last successful write; a workload not restarted still runs the values from before
 * (`secretChanged` false). Returns what is wrong, or undefined.
 */
function podsDisagree(log: readonly LoggedRequest[], secretChanged: boolean): string | undefined {
  const lastWrite = log.findLastIndex((l) => l.op === 'secrets.patch' && l.status === 200);
  for (const w of WORKLOADS) {
    const op = `${w.split('/')[0]}s.patch`;
    const lastRestart = log.findLastIndex((l) => l.op === op && l.status === 200);
    if (lastRestart === -1) {
      if (secretChanged) return `${w} never restarted, but the Secret holds new values`;
    } else if (lastRestart < lastWrite) return `${w} restarted before the Secret's last write`;
  }
  return undefined;
}

describe('kill -9 with the Kubernetes store and deploy', () => {
  let stack: KubeStack | undefined;
  const seen = new Set<string>();

  afterAll(async () => {
    if (stack === undefined) return;
    const texts: string[] = [];
    for (const r of stack.results) texts.push(r.stdout, r.stderr);
    texts.push(...(await filesUnder(path.join(stack.dir, '.rekey'))));
    texts.push(
      ...(await stack.log()).filter((l) => l.op !== 'secrets.patch').map((l) => `${l.path} ${l.body}`),
    );
    await stack.stop();
    record({
      kind: 'canary',
      suite: SUITE,
      scope: 'output, state dir, audit log, stand-in request log (all but the Secret writes)',
      values: seen.size,
      places: texts.length,
      occurrences: leakOccurrences(seen, texts),
    });
    expect(findLeak(seen, texts)).toBeUndefined();
  });

  it('at every step boundary (and the rollback steps), recover leaves the Secret all old or all new, pods agreeing', async () => {
    const s = await makeKubeStack();
    stack = s;
    const values = async () => {
      const { data } = await s.secret();
      for (const k of KEYS) if (data[k]) seen.add(data[k]!);
      return data;
    };
    const steps = planSteps(await s.run(['plan', '--json']));
    const points: Array<{ point: string; env?: NodeJS.ProcessEnv }> = [
      ...crashPoints(steps).map((point) => ({ point })),
      // The rollback of a failed verify: the Secret restored, then the restarts again.
      ...['restore@begin', 'restore@end', 'rollback-deploy@begin', 'rollback-deploy@end'].map((point) => ({
        point,
        env: { REKEY_FAIL_AT: 'verify' },
      })),
    ];
    expect(points.map((p) => p.point)).toContain('deploy@end');
    for (const { point, env } of points) {
      const before = await values();
      const from = (await s.log()).length;
      const r = await s.killAt(point, ['rotate', '--yes'], env);
      // The killed run's Lease keeps everyone out until it expires (5 s here): recover waits that out.
      let rec = await s.run(['recover', '--yes', '--json']);
      for (let i = 0; i < 20 && /ERR_LOCKED/.test(rec.stderr); i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        rec = await s.run(['recover', '--yes', '--json']);
      }
      const after = await values();
      const again = await s.run(['recover', '--yes', '--json']);
      const log = (await s.log()).slice(from);
      let outcome = `exit ${rec.code}`;
      try {
        outcome = (JSON.parse(rec.stdout) as { outcome: string }).outcome;
      } catch {}
      const allOld = KEYS.every((k) => after[k] === before[k]);
      const allNew = KEYS.every((k) => after[k] !== before[k]);
      const disagree = podsDisagree(log, allNew);
      const converged =
        r.signal === 'SIGKILL' &&
        rec.code === 0 &&
        (allOld || allNew) &&
        after.DATABASE_HOST === 'db.internal' &&
        disagree === undefined &&
        again.stdout.includes('nothing-to-do');
      const label = env === undefined ? point : `${point} (after a failed verify)`;
      record({ kind: 'crash', suite: SUITE, point: label, target: targetOf(point), outcome, converged });
      expect(r.signal, `${label}: ${r.stderr}`).toBe('SIGKILL');
      expect(rec.code, `${label}: ${rec.stderr}`).toBe(0);
      expect(allOld || allNew, `${label}: ${outcome}`).toBe(true);
      expect(after.DATABASE_HOST).toBe('db.internal');
      expect(disagree, `${label}: ${outcome}`).toBeUndefined();
      expect(again.stdout, label).toContain('nothing-to-do');
    }
  }, 1_200_000);
});
