/**
 * The Kubernetes API stand-in driven by the real @kubernetes/client-node 1.4 (a KubeConfig loaded from
 * a temp kubeconfig file pointing at the stand-in): every answer is accepted unchanged. Secrets with
 * resourceVersion and 409, workloads with the fake controller, SelfSubjectAccessReview from the RBAC
 * table, Leases with create / replace CAS, injected faults and the call log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../demo/stand-ins/kubernetes.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';

const running: KubernetesStandIn[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

async function fresh(options: Parameters<typeof startKubernetesStandIn>[0] = {}) {
  const k8s = await startKubernetesStandIn({ tickMs: 20, ...options });
  running.push(k8s);
  const dir = await makeOwnedDir('rekey-k8s-', { base: tmpdir() });
  dirs.push(dir);
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, k8s.kubeconfig(), { mode: 0o600 });
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return { k8s, kc };
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const codeOf = (e: unknown) => (e instanceof ApiException ? e.code : undefined);
/** The client hands error bodies over as text: the API server's Status. */
const statusOf = (e: unknown) =>
  JSON.parse(String((e as ApiException<string>).body)) as { reason: string; message: string; code: number };

describe('Kubernetes API stand-in with the real client', () => {
  it('serves a Secret and applies a merge patch with resourceVersion, 409 on a stale one', async () => {
    const { k8s, kc } = await fresh();
    k8s.handler.putSecret('bi', 'bi-secrets', { JWT_SECRET: 'old-jwt', OTHER: 'kept' });
    const core = kc.makeApiClient(CoreV1Api);
    const s = await core.readNamespacedSecret({ name: 'bi-secrets', namespace: 'bi' });
    expect(Buffer.from(s.data!.JWT_SECRET!, 'base64').toString()).toBe('old-jwt');
    const rv = s.metadata!.resourceVersion!;

    const patched = await core.patchNamespacedSecret(
      {
        name: 'bi-secrets',
        namespace: 'bi',
        body: {
          metadata: { resourceVersion: rv },
          data: { JWT_SECRET: Buffer.from('new-jwt').toString('base64') },
        },
      },
      merge,
    );
    expect(patched.metadata!.resourceVersion).not.toBe(rv);
    expect(k8s.handler.secret('bi', 'bi-secrets').data).toEqual({ JWT_SECRET: 'new-jwt', OTHER: 'kept' });

    const stale = await core
      .patchNamespacedSecret(
        {
          name: 'bi-secrets',
          namespace: 'bi',
          body: { metadata: { resourceVersion: rv }, data: { JWT_SECRET: 'eA==' } },
        },
        merge,
      )
      .catch((e: unknown) => e);
    expect(codeOf(stale)).toBe(409);
    expect(statusOf(stale)).toMatchObject({ reason: 'Conflict', code: 409 });
    expect(k8s.handler.secret('bi', 'bi-secrets').data.JWT_SECRET).toBe('new-jwt');

    // The client's default patch type (JSON patch) is refused: rekey must choose merge patch.
    const json = await core
      .patchNamespacedSecret({
        name: 'bi-secrets',
        namespace: 'bi',
        body: [{ op: 'remove', path: '/data/OTHER' }],
      })
      .catch((e: unknown) => e);
    expect(codeOf(json)).toBe(415);
    expect(
      codeOf(await core.readNamespacedSecret({ name: 'nope', namespace: 'bi' }).catch((e: unknown) => e)),
    ).toBe(404);
  });

  it('restarts a Deployment; the controller advances observedGeneration, then updated, then available', async () => {
    const { k8s, kc } = await fresh({ tickMs: 150 });
    k8s.handler.putWorkload('deployment', 'bi', 'bi-api', { replicas: 3 });
    const apps = kc.makeApiClient(AppsV1Api);
    const before = await apps.readNamespacedDeployment({ name: 'bi-api', namespace: 'bi' });
    expect(before.metadata!.generation).toBe(1);
    expect(before.status).toMatchObject({ observedGeneration: 1, updatedReplicas: 3, availableReplicas: 3 });

    const at = new Date().toISOString();
    const patched = await apps.patchNamespacedDeployment(
      {
        name: 'bi-api',
        namespace: 'bi',
        body: {
          spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(patched.metadata!.generation).toBe(2);
    expect(patched.status!.observedGeneration).toBe(1);
    expect(patched.spec!.template.metadata!.annotations!['kubectl.kubernetes.io/restartedAt']).toBe(at);

    const seen: string[] = [];
    for (let i = 0; i < 100; i++) {
      const d = await apps.readNamespacedDeployment({ name: 'bi-api', namespace: 'bi' });
      const st = d.status!;
      seen.push(`${st.observedGeneration}/${st.updatedReplicas}/${st.availableReplicas}/${st.replicas}`);
      if (
        st.observedGeneration === 2 &&
        st.updatedReplicas === 3 &&
        st.availableReplicas === 3 &&
        st.replicas === 3
      )
        break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen.at(-1)).toBe('2/3/3/3');
    expect(seen.some((s) => s.startsWith('2/1/'))).toBe(true);
  });

  it('reports ProgressDeadlineExceeded when new pods never become available, and shows paused', async () => {
    const { k8s, kc } = await fresh();
    k8s.handler.putWorkload('deployment', 'bi', 'bi-api', { replicas: 2, deadlineSteps: 2 });
    k8s.handler.putWorkload('deployment', 'bi', 'paused', { paused: true });
    k8s.handler.neverAvailable('deployment', 'bi', 'bi-api');
    const apps = kc.makeApiClient(AppsV1Api);
    k8s.handler.editWorkload('deployment', 'bi', 'bi-api', {
      template: { metadata: { annotations: { x: '1' } } },
    });
    await new Promise((r) => setTimeout(r, 80));
    const d = await apps.readNamespacedDeployment({ name: 'bi-api', namespace: 'bi' });
    expect(d.status!.conditions!.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect((await apps.readNamespacedDeployment({ name: 'paused', namespace: 'bi' })).spec!.paused).toBe(
      true,
    );
  });

  it('rolls a StatefulSet to a new revision', async () => {
    const { k8s, kc } = await fresh();
    k8s.handler.putWorkload('statefulset', 'bi', 'worker', { replicas: 2 });
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.patchNamespacedStatefulSet(
      {
        name: 'worker',
        namespace: 'bi',
        body: { spec: { template: { metadata: { annotations: { a: 'b' } } } } },
      },
      merge,
    );
    const mid = await apps.readNamespacedStatefulSet({ name: 'worker', namespace: 'bi' });
    expect(mid.status!.currentRevision).toBe('worker-1');
    await new Promise((r) => setTimeout(r, 120));
    const done = await apps.readNamespacedStatefulSet({ name: 'worker', namespace: 'bi' });
    expect(done.status).toMatchObject({
      observedGeneration: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      currentRevision: 'worker-2',
      updateRevision: 'worker-2',
    });
  });

  it('answers SelfSubjectAccessReview from the RBAC table and forbids what it does not allow', async () => {
    const { k8s, kc } = await fresh({
      rbac: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['bi-secrets'] }],
    });
    k8s.handler.putSecret('bi', 'bi-secrets', { A: 'a' });
    const auth = kc.makeApiClient(AuthorizationV1Api);
    const ask = (verb: string) =>
      auth.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: { namespace: 'bi', verb, group: '', resource: 'secrets', name: 'bi-secrets' },
          },
        },
      });
    expect((await ask('get')).status!.allowed).toBe(true);
    expect((await ask('patch')).status!.allowed).toBe(false);
    const core = kc.makeApiClient(CoreV1Api);
    const e = await core
      .patchNamespacedSecret({ name: 'bi-secrets', namespace: 'bi', body: { data: { A: 'Yg==' } } }, merge)
      .catch((x: unknown) => x);
    expect(codeOf(e)).toBe(403);
    expect(statusOf(e).message).toMatch(/cannot patch resource "secrets"/);
  });

  it('creates a Lease once (409 AlreadyExists) and replaces it only at its resourceVersion', async () => {
    const { k8s, kc } = await fresh();
    const co = kc.makeApiClient(CoordinationV1Api);
    const now = new V1MicroTime();
    const created = await co.createNamespacedLease({
      namespace: 'bi',
      body: {
        metadata: { name: 'rekey' },
        spec: { holderIdentity: 'a', leaseDurationSeconds: 30, renewTime: now },
      },
    });
    expect(created.metadata!.resourceVersion).toBeTruthy();
    const again = await co
      .createNamespacedLease({
        namespace: 'bi',
        body: { metadata: { name: 'rekey' }, spec: { holderIdentity: 'b' } },
      })
      .catch((e: unknown) => e);
    expect(codeOf(again)).toBe(409);
    expect(statusOf(again).reason).toBe('AlreadyExists');

    const read = await co.readNamespacedLease({ name: 'rekey', namespace: 'bi' });
    expect(read.spec!.holderIdentity).toBe('a');
    const replaced = await co.replaceNamespacedLease({
      name: 'rekey',
      namespace: 'bi',
      body: {
        metadata: { name: 'rekey', resourceVersion: read.metadata!.resourceVersion! },
        spec: { holderIdentity: 'b', renewTime: new V1MicroTime() },
      },
    });
    expect(replaced.spec!.holderIdentity).toBe('b');
    const stale = await co
      .replaceNamespacedLease({
        name: 'rekey',
        namespace: 'bi',
        body: {
          metadata: { name: 'rekey', resourceVersion: read.metadata!.resourceVersion! },
          spec: { holderIdentity: 'c' },
        },
      })
      .catch((e: unknown) => e);
    expect(codeOf(stale)).toBe(409);
    // A plain Date is sent with milliseconds, which the API server refuses for a MicroTime.
    const ms = await co
      .replaceNamespacedLease({
        name: 'rekey',
        namespace: 'bi',
        body: {
          metadata: { name: 'rekey' },
          spec: { holderIdentity: 'c', renewTime: new Date() as V1MicroTime },
        },
      })
      .catch((e: unknown) => e);
    expect(codeOf(ms)).toBe(400);
    expect(k8s.handler.lease('bi', 'rekey')).toMatchObject({ spec: { holderIdentity: 'b' } });
  });

  it('injects a 409 on the next write, and logs every call', async () => {
    const { k8s, kc } = await fresh();
    k8s.handler.putSecret('bi', 'bi-secrets', { A: 'a' });
    const core = kc.makeApiClient(CoreV1Api);
    k8s.faults.add({ kind: 'conflict' });
    const e = await core
      .patchNamespacedSecret({ name: 'bi-secrets', namespace: 'bi', body: { data: { A: 'Yg==' } } }, merge)
      .catch((x: unknown) => x);
    expect(codeOf(e)).toBe(409);
    expect(k8s.handler.secret('bi', 'bi-secrets').data.A).toBe('a');
    await core.readNamespacedSecret({ name: 'bi-secrets', namespace: 'bi' });
    expect(k8s.log().map((r) => `${r.op} ${r.status}${r.fault ? ` ${r.fault}` : ''}`)).toEqual([
      'secrets.patch 409 conflict',
      'secrets.get 200',
    ]);
  });

  it('requires the bearer token when one is set', async () => {
    const { k8s } = await fresh({ token: 'right' });
    k8s.handler.putSecret('bi', 's', { A: 'a' });
    const dir = dirs[0]!;
    const file = path.join(dir, 'wrong');
    await writeFile(file, k8s.kubeconfig({ token: 'wrong' }));
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const e = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: 's', namespace: 'bi' })
      .catch((x: unknown) => x);
    expect(codeOf(e)).toBe(401);
  });

  it('runs as its own process (main.js kubernetes), seeded and driven through the control API', async () => {
    const main = path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      '../../dist/demo/stand-ins/main.js',
    );
    const dir = await makeOwnedDir('rekey-k8s-main-', { base: tmpdir() });
    dirs.push(dir);
    await writeFile(path.join(dir, 'token'), 'proc-token\n', { mode: 0o600 });
    const child: ChildProcess = spawn(
      process.execPath,
      [main, 'kubernetes', '--token-file', path.join(dir, 'token'), '--tick-ms', '10'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`stand-in exited ${code}`)));
      });
      const { service, url } = JSON.parse(line) as { service: string; url: string };
      expect(service).toBe('kubernetes');
      const post = (route: string, body: unknown) =>
        fetch(`${url}/__stand-in/kubernetes/${route}`, { method: 'POST', body: JSON.stringify(body) });
      expect((await post('secret', { namespace: 'bi', name: 's', data: { A: 'a' } })).status).toBe(204);
      expect((await post('workload', { kind: 'deployment', namespace: 'bi', name: 'api' })).status).toBe(204);
      expect((await post('rbac', { rules: [] })).status).toBe(204);

      const file = path.join(dir, 'kubeconfig');
      await writeFile(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '  - name: p',
          '    cluster:',
          `      server: ${url}`,
          '      insecure-skip-tls-verify: true',
          'users:',
          '  - name: u',
          '    user:',
          '      token: proc-token',
          'contexts:',
          '  - name: p',
          '    context: { cluster: p, user: u }',
          'current-context: p',
          '',
        ].join('\n'),
      );
      const kc = new KubeConfig();
      kc.loadFromFile(file);
      const core = kc.makeApiClient(CoreV1Api);
      expect(
        codeOf(await core.readNamespacedSecret({ name: 's', namespace: 'bi' }).catch((e: unknown) => e)),
      ).toBe(403);
      await post('rbac', {});
      const s = await core.readNamespacedSecret({ name: 's', namespace: 'bi' });
      expect(Buffer.from(s.data!.A!, 'base64').toString()).toBe('a');
      const log = (await (await fetch(`${url}/__stand-in/log`)).json()) as { op: string; status: number }[];
      expect(log.map((r) => `${r.op} ${r.status}`)).toEqual(['secrets.get 403', 'secrets.get 200']);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
