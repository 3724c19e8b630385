/**
 * The kubernetes store against the Kubernetes API stand-in, through the real client-node: preflight
 * (SelfSubjectAccessReview naming the missing verb, immutable and ESO-owned Secrets refused), one
 * merge patch per commit carrying the resourceVersion (other keys untouched), a concurrent writer and
 * an injected 409 making the commit fail without overwriting, a lost answer treated as committed,
 * restore the same way, and no value in any request but the Secret writes (base64 included).
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type KubernetesStandIn,
  type KubernetesStandInOptions,
  startKubernetesStandIn,
} from '../../demo/stand-ins/kubernetes.js';
import type { StoreChange } from '../../src/engine/ports.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { encodedForms } from '../../src/lib/redact.js';
import { KubernetesStore } from '../../src/stores/kubernetes/store.js';
import { record } from '../helpers/resilience.js';
import { conflictRow } from './helpers.js';

const running: KubernetesStandIn[] = [];
const dirs: string[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

const OLD = { JWT_SECRET: 'old-jwt-canary-1111', API_KEY: 'old-api-canary-2222' };
const NEW = { JWT_SECRET: 'new-jwt-canary-3333', API_KEY: 'new-api-canary-4444' };
const changes = (v: Record<string, string>): StoreChange[] =>
  Object.entries(v).map(([key, value]) => ({ key, value }));

async function kubeconfigFile(k8s: KubernetesStandIn, o?: Parameters<KubernetesStandIn['kubeconfig']>[0]) {
  const dir = await makeOwnedDir('rekey-k8s-store-', { base: tmpdir() });
  dirs.push(dir);
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, k8s.kubeconfig(o), { mode: 0o600 });
  return file;
}

async function fresh(options: KubernetesStandInOptions = {}) {
  const k8s = await startKubernetesStandIn(options);
  running.push(k8s);
  k8s.handler.putSecret('bi', 'bi-secrets', { ...OLD, DATABASE_HOST: 'db.internal' });
  const store = KubernetesStore.open(
    { type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' },
    { kubeconfig: await kubeconfigFile(k8s), backoffMs: 5 },
  );
  return { k8s, store };
}

const held = (k8s: KubernetesStandIn) => k8s.handler.secret('bi', 'bi-secrets');

describe('kubernetes store', () => {
  it('passes preflight when rekey may get and patch the Secret', async () => {
    const { store, k8s } = await fresh();
    await expect(store.check()).resolves.toBeUndefined();
    expect(store.name).toMatch(/^Kubernetes Secret bi\/bi-secrets \(stand-in, http:\/\/127\.0\.0\.1:\d+\)$/);
    expect(k8s.log().map((r) => r.op)).toEqual([
      'selfsubjectaccessreviews.create',
      'selfsubjectaccessreviews.create',
      'secrets.get',
    ]);
  });

  it('names the missing permission (SelfSubjectAccessReview) and changes nothing', async () => {
    const { store, k8s } = await fresh({
      rbac: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['bi-secrets'] }],
    });
    const e = await store.check().catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'ERR_STORE_AUTH',
      message: 'kubernetes: rekey may not patch Secret bi/bi-secrets (SelfSubjectAccessReview)',
    });
    expect((e as { hint: string }).hint).toContain('resourceNames: ["bi-secrets"], verbs: ["get", "patch"]');
    expect(k8s.log().every((r) => !r.write || r.op === 'selfsubjectaccessreviews.create')).toBe(true);

    const none = await fresh({ rbac: [] });
    await expect(none.store.check()).rejects.toMatchObject({
      message: 'kubernetes: rekey may not get or patch Secret bi/bi-secrets (SelfSubjectAccessReview)',
    });
  });

  it('refuses an immutable Secret and one written by External Secrets Operator', async () => {
    const { k8s, store } = await fresh();
    k8s.handler.editSecret('bi', 'bi-secrets', {
      metadata: {
        ownerReferences: [
          { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: 'bi', uid: 'u' },
        ],
      },
    });
    await expect(store.check()).rejects.toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
      message: expect.stringMatching(/External Secrets Operator \(ExternalSecret bi\)/),
    });
    k8s.handler.editSecret('bi', 'bi-secrets', { metadata: { ownerReferences: null }, immutable: true });
    await expect(store.check()).rejects.toMatchObject({
      message: 'kubernetes: Secret bi/bi-secrets is immutable',
    });
  });

  it('commits with one merge patch at the read resourceVersion (other keys untouched), restores the same way', async () => {
    const { k8s, store } = await fresh();
    const snap = await store.read();
    expect(snap.values.get('JWT_SECRET')).toBe(OLD.JWT_SECRET);
    const rv = held(k8s).resourceVersion;
    expect(snap.version).toBe(rv);
    const prepared = await store.prepare(snap, changes(NEW), new Date());
    expect(prepared.record).toMatchObject({
      type: 'kubernetes',
      namespace: 'bi',
      name: 'bi-secrets',
      resourceVersion: rv,
    });
    expect(JSON.stringify(prepared.record)).not.toMatch(/canary/);

    const committed = await store.commit(prepared.record, changes(NEW));
    expect(committed.summary).toMatch(/^Secret bi\/bi-secrets patched \(resourceVersion \d+\)$/);
    expect(held(k8s).data).toEqual({ ...NEW, DATABASE_HOST: 'db.internal' });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('new');
    const patch = k8s.log().find((r) => r.op === 'secrets.patch')!;
    expect(JSON.parse(patch.body)).toEqual({
      metadata: { resourceVersion: rv },
      data: {
        JWT_SECRET: Buffer.from(NEW.JWT_SECRET).toString('base64'),
        API_KEY: Buffer.from(NEW.API_KEY).toString('base64'),
      },
    });

    // Re-running the commit (after a crash) writes nothing.
    const writes = () => k8s.log().filter((r) => r.op === 'secrets.patch').length;
    expect((await store.commit(committed.record!, changes(NEW))).summary).toMatch(/^already committed/);
    expect(writes()).toBe(1);

    const restored = await store.restore(committed.record!, changes(OLD), NEW);
    expect(restored.summary).toMatch(/^old values patched back into Secret bi\/bi-secrets/);
    expect(held(k8s).data).toEqual({ ...OLD, DATABASE_HOST: 'db.internal' });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('old');
    expect((await store.restore(committed.record!, changes(OLD), NEW)).summary).toBe(
      'Secret bi/bi-secrets already holds the old values',
    );
    expect(writes()).toBe(2);

    // Canary: only the two Secret writes carried a value, in any encoding.
    const canaries = [...Object.values(OLD), ...Object.values(NEW)].flatMap((v) => [v, ...encodedForms(v)]);
    const carrying = k8s.log().filter((r) => canaries.some((c) => r.body.includes(c) || r.path.includes(c)));
    expect(carrying.map((r) => r.op)).toEqual(['secrets.patch', 'secrets.patch']);
    record({
      kind: 'canary',
      suite: 'kubernetes store',
      scope: 'Kubernetes API stand-in request log (Secret writes aside)',
      values: 4,
      places: k8s.log().length - 2,
      occurrences: 0,
    });
  });

  it('removes on restore a key the rotation added', async () => {
    const { k8s, store } = await fresh();
    const prepared = await store.prepare(await store.read(), [], new Date());
    const added = { ...NEW, JWT_SECRET_PREVIOUS: 'prev-canary-5555' };
    const committed = await store.commit(prepared.record, changes(added));
    expect(held(k8s).data.JWT_SECRET_PREVIOUS).toBe('prev-canary-5555');
    await store.restore(committed.record!, changes(OLD), added);
    expect(held(k8s).data).toEqual({ ...OLD, DATABASE_HOST: 'db.internal' });
  });

  it('fails the commit when another writer changed the Secret after preflight, writing nothing', async () => {
    const { k8s, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    k8s.handler.writeSecret('bi', 'bi-secrets', { DATABASE_HOST: 'db2.internal' });
    expect(
      await conflictRow(
        'kubernetes store',
        'another writer between preflight and commit',
        store.commit(prepared.record, changes(NEW)),
        async () => held(k8s).data.DATABASE_HOST === 'db2.internal',
      ),
    ).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect(held(k8s).data).toEqual({ ...OLD, DATABASE_HOST: 'db2.internal' });
    expect(k8s.log().filter((r) => r.op === 'secrets.patch')).toEqual([]);
  });

  it('fails the commit when the API server answers 409 (the race lost inside the API server)', async () => {
    const { k8s, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    // The other writer lands between rekey's read and its patch: the patch's resourceVersion is stale.
    const before = held(k8s).resourceVersion;
    k8s.faults.add({ kind: 'conflict', op: 'secrets.patch' });
    expect(
      await conflictRow(
        'kubernetes store',
        '409 Conflict from the API server at commit (injected)',
        store.commit(prepared.record, changes(NEW)),
        async () => held(k8s).resourceVersion === before,
      ),
    ).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect(held(k8s).data).toEqual({ ...OLD, DATABASE_HOST: 'db.internal' });
  });

  it('refuses prepare when the Secret changed since it was read', async () => {
    const { k8s, store } = await fresh();
    const snap = await store.read();
    k8s.handler.writeSecret('bi', 'bi-secrets', { OTHER: 'x' });
    await expect(store.prepare(snap, changes(NEW), new Date())).rejects.toMatchObject({
      code: 'ERR_STORE_CONFLICT',
    });
  });

  it('treats a patch whose answer was lost as committed, and commits through 429 and 500', async () => {
    const { k8s, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    k8s.faults.add({ kind: 'drop', op: 'secrets.patch' });
    expect((await store.commit(prepared.record, changes(NEW))).summary).toMatch(/^already committed/);
    expect(held(k8s).data.JWT_SECRET).toBe(NEW.JWT_SECRET);

    const b = await fresh();
    const p2 = await b.store.prepare(await b.store.read(), changes(NEW), new Date());
    b.k8s.faults.add({ kind: 'throttle', op: 'secrets.patch' });
    b.k8s.faults.add({ kind: 'error500', op: 'secrets.patch' });
    expect((await b.store.commit(p2.record, changes(NEW))).summary).toMatch(/patched/);
  });

  it('refuses to restore over values someone else wrote after the commit', async () => {
    const { k8s, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    const committed = await store.commit(prepared.record, changes(NEW));
    k8s.handler.writeSecret('bi', 'bi-secrets', { JWT_SECRET: 'hand-edit' });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('other');
    const e = await store.restore(committed.record!, changes(OLD), NEW).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_STORE_CHANGED' });
    expect((e as { hint: string }).hint).toContain('kubectl -n bi get secret bi-secrets -o yaml');
    expect(held(k8s).data.JWT_SECRET).toBe('hand-edit');
  });

  it("knows its own journal records from another Secret's", async () => {
    const { store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    expect(await store.owner(prepared.record)).toBeUndefined();
    expect(await store.owner({ ...prepared.record, name: 'other' })).toMatch(/Secret bi\/other, not /);
    expect(await store.owner({ type: 'vault-kv' })).toMatch(/^a vault-kv store/);
    await expect(store.commit({ ...prepared.record, name: 'other' }, changes(NEW))).rejects.toMatchObject({
      code: 'ERR_JOURNAL_CORRUPT',
    });
  });

  it('reads the kubeconfig from KUBECONFIG with a context; refuses an unknown context and plain http elsewhere', async () => {
    const k8s = await startKubernetesStandIn();
    running.push(k8s);
    k8s.handler.putSecret('bi', 'bi-secrets', OLD);
    vi.stubEnv('KUBECONFIG', await kubeconfigFile(k8s, { context: 'prod' }));
    const store = KubernetesStore.open({
      type: 'kubernetes',
      namespace: 'bi',
      name: 'bi-secrets',
      context: 'prod',
    });
    expect((await store.read()).values.get('API_KEY')).toBe(OLD.API_KEY);
    expect(() =>
      KubernetesStore.open({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets', context: 'staging' }),
    ).toThrow(/no context "staging"/);

    const dir = dirs[0]!;
    const remote = path.join(dir, 'remote');
    await writeFile(remote, k8s.kubeconfig().replace(/http:\/\/127\.0\.0\.1:\d+/, 'http://k8s.example.com'));
    expect(() =>
      KubernetesStore.open(
        { type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' },
        { kubeconfig: remote },
      ),
    ).toThrow(/plain http/);
  });

  it('refuses a kubeconfig it cannot parse without quoting it (it holds tokens)', async () => {
    const dir = await makeOwnedDir('rekey-k8s-store-', { base: tmpdir() });
    dirs.push(dir);
    const file = path.join(dir, 'broken');
    await writeFile(file, 'users:\n  - name: u\n    user: { token: "tok-canary-9999\n  : [\n');
    const e = (() => {
      try {
        KubernetesStore.open({ type: 'kubernetes', namespace: 'bi', name: 's' }, { kubeconfig: file });
      } catch (x) {
        return x as Error & { cause?: unknown };
      }
      return undefined;
    })();
    expect(e).toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
      message: expect.stringMatching(/^kubernetes: the kubeconfig cannot be read/),
    });
    expect(JSON.stringify({ m: e?.message, c: String(e?.cause ?? '') })).not.toContain('tok-canary');
  });

  it('says the Secret does not exist, and maps a refused token to ERR_STORE_AUTH', async () => {
    const k8s = await startKubernetesStandIn({ token: 'right' });
    running.push(k8s);
    const missing = KubernetesStore.open(
      { type: 'kubernetes', namespace: 'bi', name: 'absent' },
      { kubeconfig: await kubeconfigFile(k8s, { token: 'right' }) },
    );
    await expect(missing.read()).rejects.toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
      message: 'kubernetes: Secret bi/absent does not exist',
    });
    const wrong = KubernetesStore.open(
      { type: 'kubernetes', namespace: 'bi', name: 'absent' },
      { kubeconfig: await kubeconfigFile(k8s, { token: 'wrong' }) },
    );
    await expect(wrong.read()).rejects.toMatchObject({ code: 'ERR_STORE_AUTH' });
  });
});
