/**
 * What other controllers do with the Secret rekey writes: External Secrets Operator owning it (refused
 * at preflight, `rekey plan` included: ESO would overwrite rekey's write from its source) and Stakater
 * Reloader restarting the workloads that use it (src/lib/kube-watchers.ts reads its annotations; the
 * kubernetes store's inspect puts the Secret's side in the plan's warnings).
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1PodSpec } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../demo/stand-ins/kubernetes.js';
import { preflight } from '../../src/engine/engine.js';
import { silentProgress } from '../../src/engine/progress.js';
import { externalSecretOwner, reloaderRestarts, usesSecret } from '../../src/lib/kube-watchers.js';
import { silentLogger } from '../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { KubernetesStore } from '../../src/stores/kubernetes/store.js';
import { createVerifier } from '../../src/verify/index.js';
import { FakeService, FakeTarget } from '../engine/fake/fakes.js';

const running: KubernetesStandIn[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

async function fresh(annotations?: Record<string, string>) {
  const k8s = await startKubernetesStandIn();
  running.push(k8s);
  k8s.handler.putSecret('bi', 'bi-secrets', { JWT_SECRET: 'old-jwt-canary-1111' }, annotations);
  const dir = await makeOwnedDir('rekey-k8s-watchers-', { base: tmpdir() });
  dirs.push(dir);
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, k8s.kubeconfig(), { mode: 0o600 });
  const store = KubernetesStore.open(
    { type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' },
    { kubeconfig, backoffMs: 5 },
  );
  return { k8s, store, dir };
}

const pod = (spec: Partial<V1PodSpec>): V1PodSpec => ({ containers: [{ name: 'app' }], ...spec });
const envFrom = pod({ containers: [{ name: 'app', envFrom: [{ secretRef: { name: 'bi-secrets' } }] }] });
const secret = { name: 'bi-secrets' };

describe('Reloader and ESO around the Kubernetes Secret', () => {
  it('knows which workload Reloader restarts when the Secret changes, and by which annotation', () => {
    const auto = { annotations: { 'reloader.stakater.com/auto': 'true' } };
    expect(reloaderRestarts(auto, envFrom, secret)).toBe('reloader.stakater.com/auto: "true"');
    // Auto modes only act on Secrets the pods use (env, envFrom, volumes, projected volumes).
    expect(reloaderRestarts(auto, pod({}), secret)).toBeUndefined();
    expect(
      usesSecret(pod({ volumes: [{ name: 'v', secret: { secretName: 'bi-secrets' } }] }), 'bi-secrets'),
    ).toBe(true);
    expect(
      usesSecret(
        pod({ volumes: [{ name: 'v', projected: { sources: [{ secret: { name: 'bi-secrets' } }] } }] }),
        'bi-secrets',
      ),
    ).toBe(true);
    expect(
      usesSecret(
        pod({
          initContainers: [
            {
              name: 'i',
              env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'bi-secrets', key: 'X' } } }],
            },
          ],
        }),
        'bi-secrets',
      ),
    ).toBe(true);
    expect(
      reloaderRestarts({ annotations: { 'reloader.stakater.com/auto': 'false' } }, envFrom, secret),
    ).toBe(undefined);
    expect(
      reloaderRestarts({ annotations: { 'secret.reloader.stakater.com/auto': 'true' } }, envFrom, secret),
    ).toBe('secret.reloader.stakater.com/auto: "true"');
    // Named Secrets: a comma-separated list.
    const named = { annotations: { 'secret.reloader.stakater.com/reload': 'other, bi-secrets' } };
    expect(reloaderRestarts(named, pod({}), secret)).toBe(
      'secret.reloader.stakater.com/reload: "other, bi-secrets"',
    );
    expect(reloaderRestarts(named, envFrom, { name: 'bi-secrets-2' })).toBeUndefined();
    // Search mode: only Secrets annotated match.
    const search = { annotations: { 'reloader.stakater.com/search': 'true' } };
    expect(reloaderRestarts(search, envFrom, secret)).toBeUndefined();
    expect(
      reloaderRestarts(search, envFrom, {
        name: 'bi-secrets',
        annotations: { 'reloader.stakater.com/match': 'true' },
      }),
    ).toMatch(/^reloader\.stakater\.com\/search/);
    expect(reloaderRestarts(undefined, envFrom, secret)).toBeUndefined();
  });

  it('names the ExternalSecret owning a Secret (external-secrets.io only)', () => {
    const ref = (apiVersion: string) => ({
      ownerReferences: [{ apiVersion, kind: 'ExternalSecret', name: 'bi', uid: 'u' }],
    });
    expect(externalSecretOwner(ref('external-secrets.io/v1beta1'))).toBe('bi');
    expect(externalSecretOwner(ref('example.com/v1'))).toBeUndefined();
    expect(externalSecretOwner(undefined)).toBeUndefined();
  });

  it('says in the plan when Reloader watches the Secret, and refuses an ESO-owned one before planning', async () => {
    const { store, k8s } = await fresh({ 'reloader.stakater.com/match': 'true' });
    const deps = {
      store,
      stateDir: '/nonexistent',
      stack: 'bi',
      makeTargets: () => [new FakeTarget(new FakeService('JWT_SECRET', 'old-jwt-canary-1111', true))],
      verifier: createVerifier({
        verify: [],
        verifyPolicy: { deadline: '1s', attemptTimeout: '1s', successes: 1 },
      }),
      progress: silentProgress,
      log: silentLogger,
    };
    const planned = await preflight(deps, { trigger: 'scheduled' }, { inspect: true });
    expect(planned.plan.warnings.join('\n')).toMatch(
      /Secret bi\/bi-secrets has reloader\.stakater\.com\/match: "true": Stakater Reloader restarts the workloads/,
    );
    // A rotation's preflight does not inspect: nothing extra read, no warning.
    expect((await preflight(deps, { trigger: 'scheduled' })).plan.warnings.join('\n')).not.toContain(
      'Reloader',
    );
    // No annotation, no warning.
    k8s.handler.editSecret('bi', 'bi-secrets', { metadata: { annotations: null } });
    expect(
      (await preflight(deps, { trigger: 'scheduled' }, { inspect: true })).plan.warnings.join('\n'),
    ).not.toContain('Reloader');
    k8s.handler.editSecret('bi', 'bi-secrets', {
      metadata: {
        ownerReferences: [
          { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: 'bi', uid: 'u' },
        ],
      },
    });
    await expect(preflight(deps, { trigger: 'scheduled' }, { inspect: true })).rejects.toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
      message: expect.stringContaining("would overwrite rekey's write"),
      hint: expect.stringContaining("Point `store:` at the ExternalSecret's source"),
    });
  });
});
