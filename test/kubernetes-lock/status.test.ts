/**
 * `rekey status` of a stack whose store is a Kubernetes Secret shows the stack's Lease (the lock
 * across pods): free, or held by whom until when, human and `--json`, through the built CLI against
 * the Kubernetes API stand-in. Another pod's claim is made with rekey's own LeaseLock from this process.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectKube } from '../../src/lib/kube.js';
import { LeaseLock } from '../../src/stores/kubernetes/lease.js';
import { type KubeStack, makeKubeStack, NAMESPACE } from '../kubernetes/kube-stack.js';

interface StatusDoc {
  ok: boolean;
  lock?: { type: string; name: string; state: string; holder?: string; expires?: string };
}

describe('rekey status and the Lease', () => {
  const stacks: KubeStack[] = [];
  afterAll(async () => {
    for (const s of stacks) await s.stop();
  });

  it('shows the Lease free, then held by another pod until its expiry (human and --json)', async () => {
    const s = await makeKubeStack();
    stacks.push(s);
    const free = await s.run(['status', '--json']);
    expect(free.code, free.stderr).toBe(0);
    expect((JSON.parse(free.stdout) as StatusDoc).lock).toEqual({
      type: 'lease',
      name: `${NAMESPACE}/rekey-bi-secrets`,
      state: 'free',
    });

    const other = new LeaseLock(connectKube({ kubeconfig: path.join(s.dir, 'kubeconfig') }), {
      namespace: NAMESPACE,
      name: 'rekey-bi-secrets',
      identity: 'pod-b/4242',
      durationSeconds: 120,
    });
    const before = Date.now();
    await other.acquire();
    const held = await s.run(['status', '--json']);
    expect(held.code, held.stderr).toBe(0);
    const lock = (JSON.parse(held.stdout) as StatusDoc).lock!;
    expect(lock).toMatchObject({ state: 'held', holder: 'pod-b/4242' });
    const expires = Date.parse(lock.expires!);
    expect(expires).toBeGreaterThanOrEqual(before + 119_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 121_000);

    const human = await s.run(['status']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout + human.stderr).toContain(
      `lock: Lease ${NAMESPACE}/rekey-bi-secrets held by pod-b/4242 until ${lock.expires} unless it renews`,
    );

    await other.release();
    const after = await s.run(['status', '--json']);
    expect((JSON.parse(after.stdout) as StatusDoc).lock?.state).toBe('free');
  });
});
