/**
 * The Lease lock across rekey pods, through the real client-node and the stand-in's Lease API: of two
 * concurrent acquirers exactly one wins and the other is refused naming the holder (the race decided
 * by the API server's create / resourceVersion CAS); a dead holder's Lease is taken over once it has
 * expired, and the old holder then learns it lost it; release lets the next pod in at once.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../demo/stand-ins/kubernetes.js';
import { isRekeyError } from '../../src/lib/errors.js';
import { connectKube } from '../../src/lib/kube.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { LeaseLock, type LeaseLockOptions } from '../../src/stores/kubernetes/lease.js';
import { record } from '../helpers/resilience.js';

const running: KubernetesStandIn[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

async function fresh() {
  const k8s = await startKubernetesStandIn();
  running.push(k8s);
  const dir = await makeOwnedDir('rekey-k8s-lease-', { base: tmpdir() });
  dirs.push(dir);
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, k8s.kubeconfig(), { mode: 0o600 });
  // Each pod has its own client (its own connections), as two CronJob pods would.
  const lock = (identity: string, extra: Partial<LeaseLockOptions> = {}) =>
    new LeaseLock(connectKube({ kubeconfig, backoffMs: 5 }), {
      namespace: 'bi',
      name: 'rekey-bi',
      identity,
      ...extra,
    });
  return { k8s, lock };
}

const holderOf = (k8s: KubernetesStandIn) =>
  (k8s.handler.lease('bi', 'rekey-bi') as { spec: { holderIdentity?: string } } | undefined)?.spec
    .holderIdentity;

describe('Lease lock across pods', () => {
  it('lets exactly one of two concurrent acquirers win; the other is refused naming the holder', async () => {
    for (const existing of [false, true]) {
      const { k8s, lock } = await fresh();
      if (existing) {
        // A released Lease left by an earlier run: both race to replace it at the same resourceVersion.
        const first = lock('earlier-pod');
        await first.acquire();
        await first.release();
      }
      const a = lock('pod-a/1');
      const b = lock('pod-b/1');
      const results = await Promise.allSettled([a.acquire(), b.acquire()]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      const winner = results[0]!.status === 'fulfilled' ? 'pod-a/1' : 'pod-b/1';
      const ok =
        won.length === 1 &&
        lost.length === 1 &&
        isRekeyError(lost[0], 'ERR_LOCKED') &&
        holderOf(k8s) === winner;
      record({
        kind: 'concurrency',
        suite: 'kubernetes Lease lock',
        case: `two pods acquire ${existing ? 'a released' : 'a missing'} Lease at once`,
        ok,
        detail: ok
          ? `one won (${winner}), the other was refused (ERR_LOCKED)`
          : `${won.length} won, ${lost.length} refused`,
      });
      expect(won).toHaveLength(1);
      expect(lost[0]).toMatchObject({
        code: 'ERR_LOCKED',
        message: expect.stringMatching(
          new RegExp(`^another rekey \\(${winner}\\) holds Lease bi/rekey-bi until `),
        ),
      });
      expect(holderOf(k8s)).toBe(winner);
      const writes = k8s.log().filter((r) => r.op === 'leases.create' || r.op === 'leases.update');
      // The loser's write reached the API server and was refused there (409), not skipped by luck.
      expect(writes.some((r) => r.status === 409)).toBe(true);
    }
  });

  it('refuses while the holder renews, and takes over a dead holder once its Lease has expired', async () => {
    const { k8s, lock } = await fresh();
    const a = lock('pod-a/1', { durationSeconds: 30 });
    await a.acquire();
    await a.renew();
    await expect(lock('pod-b/1').acquire()).rejects.toMatchObject({ code: 'ERR_LOCKED' });

    // pod-a died (no more renewals); 31 s later by pod-b's clock its claim has expired.
    const later = lock('pod-b/1', { now: () => new Date(Date.now() + 31_000) });
    await later.acquire();
    expect(holderOf(k8s)).toBe('pod-b/1');
    expect(k8s.handler.lease('bi', 'rekey-bi')).toMatchObject({ spec: { leaseTransitions: 1 } });
    // Had pod-a only stalled, it learns it lost the lock at its next renewal, and must stop.
    await expect(a.renew()).rejects.toMatchObject({
      code: 'ERR_LOCKED',
      message: 'rekey no longer holds Lease bi/rekey-bi: another pod took it over',
    });
    await a.release(); // not ours: changes nothing
    expect(holderOf(k8s)).toBe('pod-b/1');
  });

  it('lets the next pod in at once after a release; acquiring again while holding renews', async () => {
    const { k8s, lock } = await fresh();
    const a = lock('pod-a/1');
    await a.acquire();
    await a.acquire();
    await a.release();
    expect(holderOf(k8s)).toBeUndefined();
    await lock('pod-b/1').acquire();
    expect(holderOf(k8s)).toBe('pod-b/1');
    // Every time it sent was a MicroTime the API server accepts (the stand-in refuses milliseconds).
    expect(k8s.log().filter((r) => r.status === 400)).toEqual([]);
  });
  it('refuses a killed holder’s expired Lease with ERR_LOCK_STALE when asked to, and says whom it took over from', async () => {
    const { k8s, lock } = await fresh();
    await lock('pod-a/1', { durationSeconds: 30 }).acquire(); // pod-a is killed: never released
    const later = (identity: string) => lock(identity, { now: () => new Date(Date.now() + 31_000) });
    await expect(later('pod-b/1').acquire({ stale: 'refuse' })).rejects.toMatchObject({
      code: 'ERR_LOCK_STALE',
      message: expect.stringContaining('pod-a/1'),
    });
    expect(holderOf(k8s)).toBe('pod-a/1');
    await expect(later('pod-b/1').acquire({ stale: 'take' })).resolves.toEqual({ tookOverFrom: 'pod-a/1' });
    expect(holderOf(k8s)).toBe('pod-b/1');
    // A released Lease is free, even to a pod that refuses stale ones.
    await lock('pod-b/1').release();
    await expect(lock('pod-c/1').acquire({ stale: 'refuse' })).resolves.toEqual({});
  });
});
