/**
 * A stack whose secrets live in a Kubernetes Secret and whose app is a Deployment and a StatefulSet,
 * end to end through the built CLI against the Kubernetes API stand-in run as its own process:
 * - `rekey plan` names the workloads in order; a missing permission on one is named, and `rotate`
 *   then changes nothing;
 * - `rekey rotate --yes` patches the Secret at the resourceVersion it read, restarts the workloads in
 *   the listed order (each rolled out before the next), verifies, exit 0;
 * - a rollout that never becomes available (ProgressDeadlineExceeded) rolls back: the Secret holds
 *   the old data again and the workloads were restarted again after it, exit 1;
 * - another writer between preflight and commit rolls back, its data kept; a 409 answering the
 *   commit's patch rolls back too, the Secret untouched;
 * - canary: no old or new value in the CLI output, the state dir, or the stand-in's request log
 *   (the Secret writes themselves aside).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import {
  filesUnder,
  INITIAL,
  KEYS,
  type KubeStack,
  type LoggedRequest,
  makeKubeStack,
  NAMESPACE,
  SECRET,
} from './kube-stack.js';

const SUITE = 'store kubernetes + deploy kubernetes (stand-in, built CLI)';
const managed = (v: Record<string, string | undefined>) => Object.fromEntries(KEYS.map((k) => [k, v[k]]));
const OLD = managed(INITIAL);
const SECRET_PATH = `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`;

/** The successful writes of the log, in order: `secret` for the Secret, the workload's kind otherwise. */
function writes(log: readonly LoggedRequest[]): string[] {
  return (
    log
      // The Lease (the lock across pods: test/kubernetes-lock/) is no write of the rotation's.
      .filter(
        (l) =>
          l.write &&
          l.status === 200 &&
          l.op !== 'selfsubjectaccessreviews.create' &&
          !l.op.startsWith('leases.'),
      )
      .map((l) => (l.op === 'secrets.patch' ? 'secret' : l.op.replace('s.patch', '')))
  );
}

describe('Kubernetes store + deploy through the CLI', () => {
  const stacks: KubeStack[] = [];
  /** Every value the Secret held: what the canary scan looks for. */
  const seen = new Set<string>(KEYS.map((k) => INITIAL[k]!));
  const open = async () => {
    const s = await makeKubeStack();
    stacks.push(s);
    return s;
  };
  const remember = async (s: KubeStack) => {
    const { data } = await s.secret();
    for (const k of KEYS) if (data[k]) seen.add(data[k]!);
    return data;
  };

  afterAll(async () => {
    // CLI output, state dirs (journal history, logs, audit log), and the stand-in's request log but
    // for the Secret writes (which must carry the values).
    const texts: string[] = [];
    for (const s of stacks) {
      for (const r of s.results) texts.push(r.stdout, r.stderr);
      texts.push(...(await filesUnder(path.join(s.dir, '.rekey'))));
      if (s.standIn.exitCode === null)
        texts.push(
          ...(await s.log()).filter((l) => l.op !== 'secrets.patch').map((l) => `${l.path} ${l.body}`),
        );
      await s.stop();
    }
    const n = leakOccurrences(seen, texts);
    record({
      kind: 'canary',
      suite: SUITE,
      scope: 'output, state dir, audit log, stand-in request log (all but the Secret writes)',
      values: seen.size,
      places: texts.length,
      occurrences: n,
    });
    expect(findLeak(seen, texts)).toBeUndefined();
  });

  it('plan names the workloads in order; rotate patches the Secret, restarts them in order, verifies', async () => {
    const s = await open();
    const plan = await s.run(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const doc = JSON.parse(plan.stdout) as {
      store: { type: string };
      steps: { id: string; title: string }[];
    };
    expect(doc.store.type).toBe('kubernetes');
    expect(doc.steps.find((st) => st.id === 'deploy')?.title).toBe(
      'restart deployment/bi-api, then statefulset/bi-worker (namespace bi), each rolled out before the next, within 60s',
    );
    const human = await s.run(['plan']);
    expect(human.stdout + human.stderr).toContain(
      'restart deployment/bi-api, then statefulset/bi-worker (namespace bi)',
    );

    const before = await s.secret();
    const from = (await s.log()).length;
    const r = await s.run(['rotate', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const after = await remember(s);
    for (const k of KEYS) expect(after[k]).not.toBe(INITIAL[k]);
    expect(after.DATABASE_HOST).toBe('db.internal');

    const log = (await s.log()).slice(from);
    // The commit: one merge patch carrying the resourceVersion read before, then the restarts in order.
    expect(writes(log)).toEqual(['secret', 'deployment', 'statefulset']);
    const commit = log.find((l) => l.op === 'secrets.patch')!;
    expect(commit.path).toBe(SECRET_PATH);
    expect(JSON.parse(commit.body).metadata).toEqual({ resourceVersion: before.resourceVersion });
    // The StatefulSet is restarted only once the Deployment was seen rolled out.
    const stsPatch = log.findIndex((l) => l.op === 'statefulsets.patch');
    const depPatch = log.findIndex((l) => l.op === 'deployments.patch');
    expect(log.slice(depPatch + 1, stsPatch).some((l) => l.op === 'deployments.get')).toBe(true);
    // The last look at each workload was a finished rollout (the deploy log says so).
    const logs = path.join(s.dir, '.rekey', 'logs');
    const deployLog = (await fs.readdir(logs)).find((f) => f.endsWith('-deploy.log'))!;
    const text = await fs.readFile(path.join(logs, deployLog), 'utf8');
    expect(text).toMatch(
      /deployment "bi-api" successfully rolled out\n[\s\S]*statefulset "bi-worker" rolling update complete/,
    );

    const verify = await s.run(['verify', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    const status = await s.run(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
  });

  it('a missing permission on a workload is named by plan, and rotate changes nothing', async () => {
    const s = await open();
    await s.rbac([
      { verbs: ['get', 'patch'], apiGroups: [''], resources: ['secrets'], resourceNames: [SECRET] },
      { verbs: ['get', 'patch'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['bi-api'] },
      { verbs: ['get'], apiGroups: ['apps'], resources: ['statefulsets'] },
      { verbs: ['get', 'create', 'update'], apiGroups: ['coordination.k8s.io'], resources: ['leases'] },
    ]);
    const plan = await s.run(['plan']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain(
      'kubernetes: rekey may not patch statefulset/bi-worker in namespace bi (SelfSubjectAccessReview)',
    );
    expect(plan.stderr).toContain(
      '{ apiGroups: ["apps"], resources: ["deployments", "statefulsets"], resourceNames: ["bi-api", "bi-worker"], verbs: ["get", "patch"] }',
    );
    const before = await s.secret();
    const from = (await s.log()).length;
    const r = await s.run(['rotate', '--yes']);
    const after = await s.secret();
    const unchanged =
      after.resourceVersion === before.resourceVersion && writes((await s.log()).slice(from)).length === 0;
    record({
      kind: 'bad-input',
      suite: SUITE,
      case: 'rekey may not patch a workload (SelfSubjectAccessReview at preflight)',
      exit: r.code,
      expected: 1,
      code: 'ERR_DEPLOY_FAILED',
      unchanged,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('rekey may not patch statefulset/bi-worker');
    expect(unchanged).toBe(true);
  });

  it('a rollout that never becomes available rolls back: old Secret data, then the workloads restarted again', async () => {
    const s = await open();
    await s.control('progress-deadline', { namespace: NAMESPACE, name: 'bi-api' });
    const pause = path.join(s.dir, 'pause');
    const from = (await s.log()).length;
    const run = s.start(['rotate', '--yes'], {
      REKEY_PAUSE_AT: 'rollback-deploy@begin',
      REKEY_PAUSE_FILE: pause,
    });
    // The old data is back when the rollback's restart begins: its new pods start healthy.
    for (let i = 0; i < 1200 && !(await fs.stat(pause).catch(() => undefined)); i++)
      await new Promise((r) => setTimeout(r, 50));
    const during = await s.secret();
    await s.control('never-available', {
      kind: 'deployment',
      namespace: NAMESPACE,
      name: 'bi-api',
      stuck: false,
    });
    await fs.rm(pause);
    const r = await run.done;
    const after = await remember(s);
    const log = (await s.log()).slice(from);
    const order = writes(log);
    const rolledBack =
      r.code === 1 &&
      JSON.stringify(managed(after)) === JSON.stringify(OLD) &&
      JSON.stringify(order) ===
        JSON.stringify(['secret', 'deployment', 'secret', 'deployment', 'statefulset']);
    record({
      kind: 'failure',
      suite: SUITE,
      point: 'deploy',
      cause: 'rollout never available (ProgressDeadlineExceeded)',
      exit: r.code,
      rolledBack,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/deployment "bi-api" exceeded its progress deadline/);
    expect(managed(during.data)).toEqual(OLD);
    expect(managed(after)).toEqual(OLD);
    expect(after.DATABASE_HOST).toBe('db.internal');
    // commit, the failed restart, the restore, then the same restarts again in order.
    expect(order).toEqual(['secret', 'deployment', 'secret', 'deployment', 'statefulset']);
    expect((await s.run(['recover', '--yes', '--json'])).stdout).toContain('nothing-to-do');
  });

  it("another writer between preflight and commit: rolled back, the other writer's data kept", async () => {
    const s = await open();
    const pause = path.join(s.dir, 'pause');
    const from = (await s.log()).length;
    const run = s.start(['rotate', '--yes'], { REKEY_PAUSE_AT: 'commit@begin', REKEY_PAUSE_FILE: pause });
    for (let i = 0; i < 1200 && !(await fs.stat(pause).catch(() => undefined)); i++)
      await new Promise((r) => setTimeout(r, 50));
    await s.otherWrite({ JWT_SECRET: 'other-writer-value-0001' });
    await fs.rm(pause);
    const r = await run.done;
    const v = await remember(s);
    const order = writes((await s.log()).slice(from));
    const ok =
      r.code === 1 &&
      JSON.stringify(order) === JSON.stringify(['secret']) &&
      v.JWT_SECRET === 'other-writer-value-0001' &&
      v.API_SECRET_KEY === INITIAL.API_SECRET_KEY;
    record({
      kind: 'concurrency',
      suite: SUITE,
      case: 'another writer between preflight and commit (resourceVersion changed)',
      ok,
      detail: ok
        ? "rotation rolled back (exit 1), nothing restarted; the other writer's data kept"
        : `exit ${r.code}; writes ${order.join(', ')}`,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ERR_STORE_CONFLICT|another writer/);
    // Only the other writer's patch: rekey wrote nothing, restarted nothing.
    expect(order).toEqual(['secret']);
    expect(v.JWT_SECRET).toBe('other-writer-value-0001');
    expect(v.API_SECRET_KEY).toBe(INITIAL.API_SECRET_KEY);
    expect(v.DATABASE_HOST).toBe('db.internal');
    const again = await s.run(['recover', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('a 409 Conflict answering the commit patch rolls back: the Secret keeps the old data, nothing restarted', async () => {
    const s = await open();
    const before = await s.secret();
    const from = (await s.log()).length;
    await fetch(`${s.url}/__stand-in/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'conflict', op: 'secrets.patch', count: 1 }),
    });
    const r = await s.run(['rotate', '--yes']);
    const after = await s.secret();
    const log = (await s.log()).slice(from);
    const conflicts = log.filter((l) => l.op === 'secrets.patch' && l.status === 409).length;
    const ok =
      r.code === 1 &&
      conflicts === 1 &&
      writes(log).length === 0 &&
      after.resourceVersion === before.resourceVersion;
    record({
      kind: 'concurrency',
      suite: SUITE,
      case: 'the API server answers the commit patch 409 Conflict',
      ok,
      detail: ok
        ? 'rotation rolled back (exit 1); the Secret untouched, nothing restarted'
        : `exit ${r.code}; ${conflicts} conflicts; writes ${writes(log).join(', ')}`,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ERR_STORE_CONFLICT/);
    expect(conflicts).toBe(1);
    expect(writes(log)).toEqual([]);
    expect(managed(after.data)).toEqual(OLD);
    expect(after.resourceVersion).toBe(before.resourceVersion);
  });
});
