/**
 * The stack lock through the engine, in-process: the real Lease adapter (src/stores/kubernetes/
 * stack-lock.ts) over client-node against the Kubernetes API stand-in, driving fake targets, a fake
 * store and a fake deployer (test/engine/fake/fakes.ts). Proves: a Lease held by another pod refuses
 * the rotation before anything changes; a Lease lost mid-run (taken over, or not renewable) stops the
 * run at the next step and rolls it back; the Lease is renewed while a long step runs and released at
 * the end; a killed run's Lease is refused to `rotate` (ERR_LOCK_STALE) and taken over by `recover`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../demo/stand-ins/kubernetes.js';
import { rotate } from '../../src/engine/engine.js';
import { JournalStore } from '../../src/engine/journal.js';
import type { Deployer, DeployRequest } from '../../src/engine/ports.js';
import { silentProgress } from '../../src/engine/progress.js';
import { recover } from '../../src/engine/recover.js';
import type { EngineDeps } from '../../src/engine/run.js';
import { connectKube } from '../../src/lib/kube.js';
import { silentLogger } from '../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { LeaseLock } from '../../src/stores/kubernetes/lease.js';
import { LeaseStackLock } from '../../src/stores/kubernetes/stack-lock.js';
import { createVerifier } from '../../src/verify/index.js';
import { FakeService, FakeStore, FakeTarget } from '../engine/fake/fakes.js';
import { record } from '../helpers/resilience.js';

const running: KubernetesStandIn[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

const OLD = 'token-old-Zm9vYmFyYmF6';
const LEASE = 'rekey-bi-secrets';

/** A deployer whose deploy runs `during` first (another pod acts while the rotation runs). */
class HookedDeployer implements Deployer {
  readonly command = 'fake-deploy';
  readonly rollbackCommand = 'fake-rollback';
  readonly timeoutMs = 10_000;
  readonly runs: string[] = [];
  during: (() => Promise<void>) | undefined;
  async run(label: 'deploy' | 'rollback', request: DeployRequest): Promise<{ ms: number }> {
    await request.started(process.pid);
    this.runs.push(label);
    if (label === 'deploy') await this.during?.();
    return { ms: 1 };
  }
}

async function setUp(durationSeconds = 30) {
  const k8s = await startKubernetesStandIn();
  running.push(k8s);
  const dir = await makeOwnedDir('rekey-k8s-lock-', { base: process.env.REKEY_STACK_TMPDIR || tmpdir() });
  dirs.push(dir);
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, k8s.kubeconfig(), { mode: 0o600 });
  const kube = () => connectKube({ kubeconfig, backoffMs: 5 });
  const service = new FakeService('TOKEN', OLD, true);
  const store = new FakeStore(new Map([['TOKEN', OLD]]));
  const deployer = new HookedDeployer();
  const stateDir = path.join(dir, '.rekey');
  const deps = (identity: string, extra: Partial<EngineDeps> = {}): EngineDeps => ({
    store,
    stateDir,
    stack: 'bi',
    makeTargets: () => [new FakeTarget(service)],
    deployer,
    verifier: createVerifier({
      verify: [],
      verifyPolicy: { deadline: '1s', attemptTimeout: '1s', successes: 1 },
    }),
    progress: silentProgress,
    log: silentLogger,
    stackLock: new LeaseStackLock(kube(), { namespace: 'bi', name: LEASE, identity, durationSeconds }),
    ...extra,
  });
  const lease = () =>
    k8s.handler.lease('bi', LEASE) as
      | { spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }
      | undefined;
  return { k8s, kube, service, store, deployer, deps, lease, stateDir };
}

describe('the stack lock (Lease) through the engine', () => {
  it('refuses a rotation while another pod holds the Lease, naming it; nothing changes', async () => {
    const s = await setUp();
    const other = new LeaseLock(s.kube(), { namespace: 'bi', name: LEASE, identity: 'pod-b/7' });
    await other.acquire();
    await expect(rotate(s.deps('pod-a/1'), { trigger: 'scheduled' })).rejects.toMatchObject({
      code: 'ERR_LOCKED',
      message: expect.stringContaining('pod-b/7'),
    });
    expect(s.store.values.get('TOKEN')).toBe(OLD);
    expect(s.service.calls).toEqual([]);
    expect(await new JournalStore(s.stateDir).read()).toBeUndefined();
    expect(s.lease()?.spec.holderIdentity).toBe('pod-b/7');
    // The local lock was given back: once pod-b is done, the same pod rotates.
    await other.release();
    const r = await rotate(s.deps('pod-a/1'), { trigger: 'scheduled' });
    expect(r.outcome).toBe('rotated');
    expect(s.lease()?.spec.holderIdentity, 'released at the end').toBeUndefined();
  });

  it('renews the Lease while a step runs longer than the Lease lasts, and releases it at the end', async () => {
    const s = await setUp(5);
    const renewals: string[] = [];
    s.deployer.during = async () => {
      // 6 s of deploy: the 5 s Lease must be renewed (every ~1.7 s) to stay ours.
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        renewals.push(String(s.lease()?.spec.renewTime));
      }
    };
    const r = await rotate(s.deps('pod-a/1'), { trigger: 'scheduled' });
    expect(r.outcome).toBe('rotated');
    expect(new Set(renewals).size, 'renewTime moved while the deploy ran').toBeGreaterThanOrEqual(3);
    expect(s.lease()?.spec.holderIdentity).toBeUndefined();
  }, 20_000);

  it('stops at the next step and rolls back when another pod took the Lease over mid-run', async () => {
    const s = await setUp(5);
    const lock = new LeaseStackLock(s.kube(), {
      namespace: 'bi',
      name: LEASE,
      identity: 'pod-a/1',
      durationSeconds: 5,
    });
    s.deployer.during = async () => {
      // pod-a stalls; by pod-b's clock its Lease has expired, and pod-b (recover) takes it over.
      const later = new LeaseLock(s.kube(), {
        namespace: 'bi',
        name: LEASE,
        identity: 'pod-b/7',
        now: () => new Date(Date.now() + 10_000),
      });
      await later.acquire();
      await lock.renewOnce(); // pod-a's next renewal learns it
    };
    const r = await rotate(s.deps('pod-a/1', { stackLock: lock }), { trigger: 'scheduled' });
    const ok =
      r.outcome === 'rolled-back' && r.error?.code === 'ERR_LOCKED' && s.store.values.get('TOKEN') === OLD;
    record({
      kind: 'concurrency',
      suite: 'kubernetes Lease lock',
      case: 'another pod takes the Lease over mid-rotation (during the deploy)',
      ok,
      detail: `${r.outcome} (${r.error?.code ?? 'no error'}); the new holder keeps the Lease`,
    });
    expect(r.outcome).toBe('rolled-back');
    expect(r.error).toMatchObject({
      code: 'ERR_LOCKED',
      message: expect.stringContaining('another pod took it over'),
    });
    // Stopped at the step after the deploy: nothing verified or finished, every later step pending.
    expect(r.steps.filter((st) => st.phase === 'finish').map((st) => st.state)).toEqual(['pending']);
    expect(s.store.values.get('TOKEN'), 'the store holds the old value again').toBe(OLD);
    expect([...s.service.accepted]).toEqual([OLD]);
    expect(s.deployer.runs).toEqual(['deploy', 'rollback']);
    expect(s.lease()?.spec.holderIdentity, 'never released from under pod-b').toBe('pod-b/7');
  }, 20_000);

  it('stops and rolls back when the Lease cannot be renewed for two thirds of its duration', async () => {
    const s = await setUp(5);
    s.deployer.during = async () => {
      s.k8s.faults.add({ kind: 'denied', op: 'leases.update', count: 1000 });
      await new Promise((r) => setTimeout(r, 4000));
    };
    const r = await rotate(s.deps('pod-a/1'), { trigger: 'scheduled' });
    s.k8s.faults.clear();
    const ok =
      r.outcome === 'rolled-back' && r.error?.code === 'ERR_LOCKED' && s.store.values.get('TOKEN') === OLD;
    record({
      kind: 'concurrency',
      suite: 'kubernetes Lease lock',
      case: 'the Lease cannot be renewed mid-rotation (403 on every update)',
      ok,
      detail: `${r.outcome} (${r.error?.code ?? 'no error'}) before the Lease could expire`,
    });
    expect(r.outcome).toBe('rolled-back');
    expect(r.error).toMatchObject({
      code: 'ERR_LOCKED',
      message: expect.stringContaining('could not renew'),
    });
    expect(s.store.values.get('TOKEN')).toBe(OLD);
    expect([...s.service.accepted]).toEqual([OLD]);
  }, 20_000);

  it('refuses a killed run’s expired Lease to rotate (ERR_LOCK_STALE); recover takes it over', async () => {
    const s = await setUp(5);
    // A killed pod: it took the Lease and never released it.
    await new LeaseLock(s.kube(), {
      namespace: 'bi',
      name: LEASE,
      identity: 'pod-dead/1',
      durationSeconds: 5,
    }).acquire();
    const expired = () => new Date(Date.now() + 6000);
    const stale = (identity: string) =>
      new LeaseStackLock(s.kube(), {
        namespace: 'bi',
        name: LEASE,
        identity,
        durationSeconds: 5,
        now: expired,
      });
    await expect(
      rotate(s.deps('pod-b/2', { stackLock: stale('pod-b/2') }), { trigger: 'scheduled' }),
    ).rejects.toMatchObject({
      code: 'ERR_LOCK_STALE',
      message: expect.stringContaining('pod-dead/1'),
    });
    expect(s.service.calls).toEqual([]);
    const r = await recover(s.deps('pod-b/2', { stackLock: stale('pod-b/2') }));
    expect(r.outcome).toBe('nothing-to-do');
    expect(s.lease()?.spec.holderIdentity, 'recover took it over, then released it').toBeUndefined();
    expect((await rotate(s.deps('pod-b/2'), { trigger: 'scheduled' })).outcome).toBe('rotated');
  }, 20_000);
  it('judges a lock file left on a shared volume by a pod of another name stale only while holding the Lease', async () => {
    const s = await setUp(5);
    // The killed pod's lock file on the PVC: its host (pod name) is not this one, so no pid can be checked.
    await mkdir(s.stateDir, { recursive: true, mode: 0o700 });
    const left = {
      pid: 1,
      host: 'rekey-29016-killed',
      startedAt: new Date().toISOString(),
      command: 'rotate',
    };
    await writeFile(path.join(s.stateDir, 'lock'), JSON.stringify(left), { mode: 0o600 });
    // Without a lock across hosts nothing tells whether that pod still runs: refused, as before.
    const { stackLock: _none, ...unlocked } = s.deps('pod-b/2');
    await expect(rotate(unlocked, { trigger: 'scheduled' })).rejects.toMatchObject({ code: 'ERR_LOCKED' });
    // Holding the Lease, no other pod runs this stack: the file is stale; rotate sends to recover,
    // and recover takes it over (then the Lease and the file are released).
    await expect(rotate(s.deps('pod-b/2'), { trigger: 'scheduled' })).rejects.toMatchObject({
      code: 'ERR_LOCK_STALE',
      message: expect.stringContaining('rekey-29016-killed'),
    });
    expect(s.lease()?.spec.holderIdentity, 'the refused rotate gave the Lease back').toBeUndefined();
    expect((await recover(s.deps('pod-b/2'))).outcome).toBe('nothing-to-do');
    expect((await rotate(s.deps('pod-b/2'), { trigger: 'scheduled' })).outcome).toBe('rotated');
    expect(s.lease()?.spec.holderIdentity).toBeUndefined();
  }, 20_000);
  it('a Lease that cannot be released ends the rotation as done, with a warning naming what frees it', async () => {
    const s = await setUp(30);
    const notes: string[] = [];
    const progress = { begin() {}, end() {}, note: (t: string) => notes.push(t) };
    const r = await rotate(
      s.deps('pod-a/1', {
        progress,
        hooks: {
          // After the rotation ended, before the lock is released: the API server refuses Lease writes.
          completed: async () => s.k8s.faults.add({ kind: 'denied', op: 'leases.update', count: 100 }),
        },
      }),
      { trigger: 'scheduled' },
    );
    s.k8s.faults.clear();
    expect(r.outcome).toBe('rotated');
    expect(notes.join('\n')).toMatch(/could not release the Lease bi\/rekey-bi-secrets .*`rekey recover`/);
    expect(s.lease()?.spec.holderIdentity).toBe('pod-a/1');
    // The local lock file was still removed: this pod's next run is not blocked by it.
    await expect(rotate(s.deps('pod-a/1'), { trigger: 'scheduled' })).resolves.toMatchObject({
      outcome: 'rotated',
    });
  }, 20_000);
});
