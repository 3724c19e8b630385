/**
 * The in-cluster packaging (deploy/kubernetes/): the manifests parse, each object is of the kind and
 * API version expected, the Role is least privilege (named objects only, get/patch, no wildcard), the
 * CronJob runs `schedule --once` as non-root with concurrencyPolicy Forbid and the state on a PVC, the
 * config it carries is valid for the store and deploy schemas, and the image runs as a non-root user
 * with rekey as the entrypoint. (`kubectl --dry-run=client` needs a cluster: not available here.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { leaseName } from '../../src/cli/stack-lock.js';
import { kubernetesDeploySchema } from '../../src/config/kubernetes.js';
import { storeSchema } from '../../src/config/store.js';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/kubernetes');
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
};
const docs = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Obj;
  });

describe('deploy/kubernetes packaging', () => {
  it('rbac.yaml grants get/patch on the named Secret and workloads and the Lease, nothing else', () => {
    const objs = docs('rbac.yaml');
    expect(objs.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([
      'v1 ServiceAccount',
      'rbac.authorization.k8s.io/v1 Role',
      'rbac.authorization.k8s.io/v1 RoleBinding',
    ]);
    const rules = (
      objs[1] as unknown as {
        rules: { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[];
      }
    ).rules;
    for (const r of rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs, ...(r.resourceNames ?? [])]).not.toContain('*');
      if (!(r.resources[0] === 'leases' && r.verbs.join() === 'create'))
        expect(r.resourceNames?.length).toBeGreaterThan(0);
      expect(r.verbs.every((v) => ['get', 'patch', 'create', 'update'].includes(v))).toBe(true);
    }
    expect(rules.find((r) => r.resources.includes('secrets'))).toEqual({
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['bi-secrets'],
      verbs: ['get', 'patch'],
    });
    // The Lease rekey takes for the CronJob's store (get, update by name; create cannot be named).
    const cronConfig = parse(
      (docs('cronjob.yaml')[1] as unknown as { data: Record<string, string> }).data['rekey.yaml']!,
    ) as { store: unknown };
    const store = storeSchema.parse(cronConfig.store);
    if (store.type !== 'kubernetes') throw new Error('the CronJob config has no kubernetes store');
    expect(rules.filter((r) => r.resources.includes('leases'))).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [leaseName(store)],
        verbs: ['get', 'update'],
      },
    ]);
  });

  it('cronjob.yaml runs schedule --once, non-root, never two at once, state on a PVC, a valid config', () => {
    const objs = docs('cronjob.yaml');
    expect(objs.map((o) => o.kind)).toEqual(['PersistentVolumeClaim', 'ConfigMap', 'CronJob']);
    interface Pod {
      serviceAccountName: string;
      securityContext: Record<string, unknown>;
      containers: { args: string[]; securityContext: Record<string, unknown> }[];
      volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
    }
    const cron = objs[2] as unknown as {
      apiVersion: string;
      spec: { concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: Pod } } } };
    };
    expect(cron.apiVersion).toBe('batch/v1');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe('rekey');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    const c = pod.containers[0]!;
    expect(c.args.slice(-2)).toEqual(['schedule', '--once']);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(pod.volumes.find((v) => v.name === 'state')?.persistentVolumeClaim?.claimName).toBe(
      objs[0]!.metadata.name,
    );
    const config = parse((objs[1] as unknown as { data: Record<string, string> }).data['rekey.yaml']!) as {
      store: unknown;
      deploy: { kubernetes: unknown };
    };
    expect(storeSchema.parse(config.store)).toMatchObject({ type: 'kubernetes', name: 'bi-secrets' });
    expect(kubernetesDeploySchema.parse(config.deploy.kubernetes).workloads).toEqual([
      'deployment/bi-api',
      'statefulset/bi-worker',
    ]);
  });

  it('the Dockerfile builds on node:20-slim and runs rekey as a non-root user', () => {
    const text = readFileSync(path.join(DIR, 'Dockerfile'), 'utf8');
    const from = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(from.every((f) => f === 'node:20-slim')).toBe(true);
    const user = /^USER (\S+)/m.exec(text)?.[1] ?? '';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(text).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/src\/cli\/main\.js"\]$/m);
  });
});
