/**
 * The Kubernetes store and deploy together, as the engine drives them on a failed rollout: the new
 * values committed to the Secret, the restart never becomes available (ProgressDeadlineExceeded), the
 * old data patched back at the Secret's resourceVersion, the same restart again, rolled out. The
 * stand-in's call log then holds the values only in the two Secret writes (base64 forms included).
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../demo/stand-ins/kubernetes.js';
import { kubernetesDeploySchema } from '../../src/config/kubernetes.js';
import { createKubernetesDeployer, RESTARTED_AT } from '../../src/deploy/kubernetes.js';
import type { DeployRequest, StoreChange } from '../../src/engine/ports.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { encodedForms } from '../../src/lib/redact.js';
import { KubernetesStore } from '../../src/stores/kubernetes/store.js';
import { record } from '../helpers/resilience.js';

const running: KubernetesStandIn[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

const OLD = { JWT_SECRET: 'old-jwt-canary-aaaa1111', API_SECRET_KEY: 'old-api-canary-bbbb2222' };
const NEW = { JWT_SECRET: 'new-jwt-canary-cccc3333', API_SECRET_KEY: 'new-api-canary-dddd4444' };
const changes = (v: Record<string, string>): StoreChange[] =>
  Object.entries(v).map(([key, value]) => ({ key, value }));

it('rolls back a rollout that never becomes available: old Secret data, then the same restart again', async () => {
  const k8s = await startKubernetesStandIn({ tickMs: 20 });
  running.push(k8s);
  const dir = await makeOwnedDir('rekey-k8s-rollback-', { base: tmpdir() });
  dirs.push(dir);
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, k8s.kubeconfig(), { mode: 0o600 });
  k8s.handler.putSecret('bi', 'bi-secrets', { ...OLD, DATABASE_HOST: 'db.internal' });
  k8s.handler.putWorkload('deployment', 'bi', 'bi-api', { replicas: 2, deadlineSteps: 3 });

  const store = KubernetesStore.open(
    { type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' },
    { kubeconfig },
  );
  const deployer = createKubernetesDeployer(
    kubernetesDeploySchema.parse({ namespace: 'bi', workloads: ['deployment/bi-api'], timeout: '20s' }),
    { kubeconfig, pollMs: 10 },
  );
  const request = (label: string): DeployRequest => ({
    env: new Map(Object.entries(NEW)),
    extraEnv: {},
    secretKeys: Object.keys(NEW),
    logFile: path.join(dir, 'logs', `${label}.log`),
    started: async () => {},
  });

  await store.check();
  await deployer.check();
  const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
  const committed = await store.commit(prepared.record, changes(NEW));

  // The new pods never become available (say the app cannot use the new values).
  k8s.handler.neverAvailable('deployment', 'bi', 'bi-api');
  const failed = await deployer.run('deploy', request('deploy')).catch((e: unknown) => e);
  expect(failed).toMatchObject({
    code: 'ERR_DEPLOY_FAILED',
    message: 'deployment "bi-api" exceeded its progress deadline',
  });

  await store.restore(committed.record!, changes(OLD), NEW);
  expect(k8s.handler.secret('bi', 'bi-secrets').data).toEqual({ ...OLD, DATABASE_HOST: 'db.internal' });
  // Pods reading the old values come up again.
  k8s.handler.neverAvailable('deployment', 'bi', 'bi-api', false);
  await deployer.run('rollback', request('rollback'));

  const d = k8s.handler.workload('deployment', 'bi', 'bi-api') as {
    metadata: { generation: number };
    spec: { template: { metadata: { annotations: Record<string, string> } } };
    status: Record<string, number>;
  };
  expect(d.metadata.generation).toBe(3); // restarted twice
  expect(d.spec.template.metadata.annotations[RESTARTED_AT]).toBeTruthy();
  expect(d.status).toMatchObject({ observedGeneration: 3, updatedReplicas: 2, availableReplicas: 2 });
  const ops = k8s.log().map((r) => r.op);
  expect(ops.indexOf('secrets.patch')).toBeLessThan(ops.indexOf('deployments.patch'));
  expect(ops.lastIndexOf('secrets.patch')).toBeLessThan(ops.lastIndexOf('deployments.patch'));

  const canaries = [...Object.values(OLD), ...Object.values(NEW)].flatMap((v) => [v, ...encodedForms(v)]);
  const carrying = k8s.log().filter((r) => canaries.some((c) => r.body.includes(c) || r.path.includes(c)));
  record({
    kind: 'failure',
    suite: 'kubernetes store + deploy',
    point: 'deploy',
    cause: 'rollout never available (ProgressDeadlineExceeded)',
    exit: null,
    rolledBack: k8s.handler.secret('bi', 'bi-secrets').data.JWT_SECRET === OLD.JWT_SECRET,
  });
  record({
    kind: 'canary',
    suite: 'kubernetes store + deploy',
    scope: 'Kubernetes API stand-in request log (Secret writes aside)',
    values: 4,
    places: k8s.log().length - 2,
    occurrences: carrying.length - 2,
  });
  expect(carrying.map((r) => r.op)).toEqual(['secrets.patch', 'secrets.patch']);
});
