/**
 * The Kubernetes deployer against the API stand-in, through the real client-node: restart like
 * `kubectl rollout restart` and wait like `kubectl rollout status`, workloads in the listed order each
 * rolled out before the next; a paused Deployment refused before anything restarts; a rollout that
 * never becomes available fails (ProgressDeadlineExceeded) or times out; RBAC named; progress redacted.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type KubernetesStandIn,
  type KubernetesStandInOptions,
  startKubernetesStandIn,
} from '../../demo/stand-ins/kubernetes.js';
import type { KubernetesDeployConfig } from '../../src/config/kubernetes.js';
import { kubernetesDeploySchema } from '../../src/config/kubernetes.js';
import { createKubernetesDeployer, RESTARTED_AT } from '../../src/deploy/kubernetes.js';
import type { DeployRequest } from '../../src/engine/ports.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';

const running: KubernetesStandIn[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

async function fresh(options: KubernetesStandInOptions = {}) {
  const k8s = await startKubernetesStandIn({ tickMs: 20, ...options });
  running.push(k8s);
  const dir = await makeOwnedDir('rekey-k8s-deploy-', { base: tmpdir() });
  dirs.push(dir);
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, k8s.kubeconfig(), { mode: 0o600 });
  k8s.handler.putWorkload('deployment', 'bi', 'bi-api', { replicas: 2 });
  k8s.handler.putWorkload('statefulset', 'bi', 'bi-worker', { replicas: 2 });
  const deployer = (config: Partial<KubernetesDeployConfig> = {}) =>
    createKubernetesDeployer(
      kubernetesDeploySchema.parse({
        namespace: 'bi',
        workloads: ['deployment/bi-api', 'statefulset/bi-worker'],
        timeout: '20s',
        ...config,
      }),
      { kubeconfig, pollMs: 10, backoffMs: 5 },
    );
  const request = (extra: Partial<DeployRequest> = {}): DeployRequest => ({
    env: new Map(),
    extraEnv: {},
    secretKeys: [],
    logFile: path.join(dir, 'logs', 'deploy.log'),
    started: async () => {
      throw new Error('a Kubernetes deploy has no process group');
    },
    ...extra,
  });
  return { k8s, deployer, request, dir };
}

const ops = (k8s: KubernetesStandIn) => k8s.log().map((r) => r.op);

describe('kubernetes deployer', () => {
  it('restarts the workloads in the listed order, each rolled out before the next', async () => {
    // Slow steps (100 ms) so the waiting lines are seen even on a loaded machine.
    const { k8s, deployer, request } = await fresh({ tickMs: 100 });
    const d = deployer();
    expect(d.command).toBe('rollout restart deployment/bi-api, then statefulset/bi-worker in namespace bi');
    const { ms } = await d.run('deploy', request());
    expect(ms).toBeGreaterThan(0);

    const dep = k8s.handler.workload('deployment', 'bi', 'bi-api') as {
      spec: { template: { metadata: { annotations: Record<string, string> } } };
      status: Record<string, number>;
    };
    expect(dep.spec.template.metadata.annotations[RESTARTED_AT]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    );
    expect(dep.status).toMatchObject({ observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2 });
    const sts = k8s.handler.workload('statefulset', 'bi', 'bi-worker') as { status: Record<string, unknown> };
    expect(sts.status).toMatchObject({ observedGeneration: 2, currentRevision: 'bi-worker-2' });

    // The StatefulSet was patched only after the Deployment's last status read said it was rolled out.
    const o = ops(k8s);
    const stsPatch = o.indexOf('statefulsets.patch');
    expect(o.indexOf('deployments.patch')).toBeLessThan(stsPatch);
    expect(o.slice(stsPatch + 1)).not.toContain('deployments.get');

    const log = await readFile(request().logFile, 'utf8');
    expect(log).toContain('Waiting for deployment "bi-api" rollout to finish');
    expect(log).toMatch(
      /deployment "bi-api" successfully rolled out\n[\s\S]*statefulset.apps\/bi-worker restarted/,
    );
    expect(log).toContain('statefulset "bi-worker" rolling update complete 2 pods at revision bi-worker-2');
    expect((await stat(request().logFile)).mode & 0o777).toBe(0o600);
  });

  it('refuses a paused Deployment before restarting anything', async () => {
    const { k8s, deployer, request } = await fresh();
    k8s.handler.putWorkload('deployment', 'bi', 'paused-api', { paused: true });
    const e = await deployer({ workloads: ['statefulset/bi-worker', 'deployment/paused-api'] })
      .run('deploy', request())
      .catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message: 'deploy: deployment/paused-api is paused: rekey does not restart a paused Deployment',
    });
    expect((e as { hint: string }).hint).toContain('kubectl -n bi rollout resume deployment/paused-api');
    expect(ops(k8s).filter((op) => op.endsWith('.patch'))).toEqual([]);
  });

  it('fails on ProgressDeadlineExceeded and restarts nothing after the failed workload', async () => {
    const { k8s, deployer, request } = await fresh();
    k8s.handler.putWorkload('deployment', 'bi', 'bi-api', { replicas: 2, deadlineSteps: 3 });
    k8s.handler.neverAvailable('deployment', 'bi', 'bi-api');
    const e = await deployer()
      .run('deploy', request())
      .catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message: 'deployment "bi-api" exceeded its progress deadline',
    });
    expect((e as { details: string[] }).details[0]).toBe(`output: ${request().logFile}`);
    // The progress lines so far (how many depends on the machine's speed), then the failure.
    const details = (e as { details: string[] }).details.join('\n');
    expect(details).toContain('deployment.apps/bi-api restarted');
    expect(details).toMatch(/exceeded its progress deadline$/);
    expect(ops(k8s)).not.toContain('statefulsets.patch');
    // No resilience row here: this is the deployer alone (no rotation to roll back); the rotation's
    // rollback after the same failure records its row (test/kubernetes/rotate.test.ts).
  });

  it('times out a rollout that never becomes available, within deploy.kubernetes.timeout', async () => {
    const { k8s, deployer, request } = await fresh();
    k8s.handler.putWorkload('statefulset', 'bi', 'bi-worker', { replicas: 2 });
    k8s.handler.neverAvailable('statefulset', 'bi', 'bi-worker');
    const started = Date.now();
    const e = await deployer({ timeout: '1s' })
      .run('rollback', request())
      .catch((x: unknown) => x);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e).toMatchObject({
      code: 'ERR_DEPLOY_TIMEOUT',
      message: 'rollback: statefulset/bi-worker did not roll out within 1s',
    });
    expect((e as { details: string[] }).details.join('\n')).toMatch(
      /Waiting for 1 pods of statefulset "bi-worker"/,
    );
  });

  it('names the missing permission per workload (SelfSubjectAccessReview)', async () => {
    const { deployer } = await fresh({
      rbac: [
        {
          verbs: ['get', 'patch'],
          apiGroups: ['apps'],
          resources: ['deployments'],
          resourceNames: ['bi-api'],
        },
        { verbs: ['get'], apiGroups: ['apps'], resources: ['statefulsets'] },
      ],
    });
    await expect(deployer().check()).rejects.toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message:
        'kubernetes: rekey may not patch statefulset/bi-worker in namespace bi (SelfSubjectAccessReview)',
    });
    const ok = await fresh();
    await expect(ok.deployer().check()).resolves.toBeUndefined();
  });

  it('preflight (check) without a readable kubeconfig says how to give one', async () => {
    const d = createKubernetesDeployer(
      kubernetesDeploySchema.parse({ namespace: 'bi', workloads: ['deployment/bi-api'] }),
      { kubeconfig: path.join(tmpdir(), 'rekey-no-such-kubeconfig') },
    );
    await expect(d.check()).rejects.toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message: 'kubernetes: the kubeconfig cannot be read (ENOENT)',
      hint: expect.stringMatching(/KUBECONFIG/),
    });
  });

  it('preflight (check) refuses a missing workload and a paused Deployment, restarting nothing', async () => {
    const { k8s, deployer } = await fresh();
    await expect(
      deployer({ workloads: ['deployment/bi-api', 'statefulset/absent'] }).check(),
    ).rejects.toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message: 'kubernetes: statefulset/absent does not exist in namespace bi',
      hint: expect.stringMatching(/deploy\.kubernetes\.workloads/),
    });
    k8s.handler.putWorkload('deployment', 'bi', 'paused-api', { paused: true });
    await expect(
      deployer({ workloads: ['statefulset/bi-worker', 'deployment/paused-api'] }).check(),
    ).rejects.toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message: 'kubernetes: deployment/paused-api is paused: rekey does not restart a paused Deployment',
    });
    expect(ops(k8s).filter((op) => op.endsWith('.patch'))).toEqual([]);
  });

  it('fails with the API server reason when a workload is missing or patching is forbidden', async () => {
    const { deployer, request } = await fresh({
      rbac: [{ verbs: ['get'], apiGroups: ['apps'], resources: ['*'] }],
    });
    await expect(
      deployer({ workloads: ['deployment/absent'] }).run('deploy', request()),
    ).rejects.toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message: expect.stringMatching(/reading deployment\/absent: deployments.apps "absent" not found/),
    });
    await expect(deployer().run('deploy', request())).rejects.toMatchObject({
      code: 'ERR_DEPLOY_FAILED',
      message: expect.stringMatching(/restarting deployment\/bi-api: .*cannot patch resource "deployments"/),
    });
  });

  it('redacts the progress lines it keeps', async () => {
    const { k8s, deployer, request } = await fresh();
    const value = 'canary-secret-name-0123456789';
    k8s.handler.putWorkload('deployment', 'bi', value, { replicas: 1 });
    const req = request({ env: new Map([['APP_TOKEN', value]]), secretKeys: ['APP_TOKEN'] });
    await deployer({ workloads: [`deployment/${value}`] }).run('deploy', req);
    const log = await readFile(req.logFile, 'utf8');
    expect(log).toContain('[REDACTED:APP_TOKEN]');
    expect(log).not.toContain(value);
  });

  it('accepts the config of DESIGN.md and refuses what is not TYPE/NAME', () => {
    expect(
      kubernetesDeploySchema.parse({
        namespace: 'bi',
        workloads: ['deployment/bi-api', 'statefulset/bi-worker'],
        timeout: '5m',
      }),
    ).toEqual({ namespace: 'bi', workloads: ['deployment/bi-api', 'statefulset/bi-worker'], timeout: '5m' });
    expect(kubernetesDeploySchema.parse({ namespace: 'bi', workloads: ['deploy/x'] }).timeout).toBe('5m');
    for (const bad of [
      { namespace: 'bi', workloads: [] },
      { namespace: 'bi', workloads: ['daemonset/x'] },
      { namespace: 'bi', workloads: ['bi-api'] },
      { namespace: 'Bi', workloads: ['deployment/x'] },
      { namespace: 'bi', workloads: ['deployment/x'], timeout: 'soon' },
    ])
      expect(kubernetesDeploySchema.safeParse(bad).success).toBe(false);
  });
});
