/**
 * The lock across pods, through the built CLI: two rekey processes, each with its OWN state directory
 * (two pods, two disks: the lock file cannot see the other), rotating the same Kubernetes Secret on
 * the stand-in (its own process, shared). Only the Lease can keep them apart:
 * - started at the same moment, exactly one rotates; the other exits 6 (ERR_LOCKED) naming the
 *   holder and changes nothing; once the first finished, the second rotates;
 * - the holder killed (kill -9 of its process group) mid-rotation: the other pod is refused while the
 *   Lease lasts, then told the holder died (ERR_LOCK_STALE: only `recover` takes a killed run's
 *   Lease); the killed pod's `recover` takes it over once expired and undoes the rotation; then the
 *   other pod rotates.
 * Without the Lease both processes would rotate at once (the first test fails: both reach the pause).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliResult } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';
import { type Cluster, INITIAL, killStarted, type RunningCli, startCluster, waitForFile } from './pods.js';

const clusters: Cluster[] = [];
afterEach(async () => {
  killStarted();
  await Promise.all(clusters.splice(0).map((c) => c.stop()));
});

async function cluster(options: Parameters<typeof startCluster>[0] = {}) {
  const c = await startCluster(options);
  clusters.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const patches = async (c: Cluster) => (await c.log()).filter((r) => r.op === 'secrets.patch').length;
const outcome = (r: CliResult) => {
  try {
    return JSON.parse(r.stdout) as { outcome?: string; error?: { code: string; message: string } };
  } catch {
    return {};
  }
};

describe('two pods rotating one Kubernetes Secret', () => {
  it('lets exactly one of two concurrent rotations run; the other is refused naming the holder, then succeeds', async () => {
    const c = await cluster();
    const a = await c.pod('pod-a');
    const b = await c.pod('pod-b');
    // Both start at once and would pause just before their commit: only a lock holder gets there.
    const pause = (p: { dir: string }) => ({
      REKEY_PAUSE_AT: 'commit@begin',
      REKEY_PAUSE_FILE: path.join(p.dir, 'paused'),
    });
    const runs: Array<{ pod: typeof a; cli: RunningCli; result?: CliResult }> = [a, b].map((pod) => ({
      pod,
      cli: pod.start(['rotate', '--yes', '--json'], pause(pod)),
    }));
    for (const r of runs) void r.cli.done.then((res) => (r.result = res));
    const paused = async (p: { dir: string }) =>
      fs.access(path.join(p.dir, 'paused')).then(
        () => true,
        () => false,
      );
    // Until one pod is paused (holding the Lease) and the other has ended; both paused = no lock.
    const deadline = Date.now() + 90_000;
    let holder: (typeof runs)[number] | undefined;
    let refused: (typeof runs)[number] | undefined;
    for (;;) {
      const states = await Promise.all(runs.map(async (r) => ({ r, paused: await paused(r.pod) })));
      if (states.every((s) => s.paused)) break;
      holder = states.find((s) => s.paused)?.r;
      refused = runs.find((r) => r.result !== undefined);
      if (holder && refused && holder !== refused) break;
      if (Date.now() > deadline) break;
      await sleep(25);
    }
    const bothPaused = (await Promise.all(runs.map((r) => paused(r.pod)))).every(Boolean);
    const refusedDoc = refused?.result ? outcome(refused.result) : {};
    const ok = !bothPaused && refused?.result?.code === 6 && refusedDoc.error?.code === 'ERR_LOCKED';
    record({
      kind: 'concurrency',
      suite: 'kubernetes Lease lock (two pods, two disks)',
      case: 'two rotations of one Secret started at once from two pods',
      ok,
      detail: bothPaused
        ? 'both reached the commit: no lock between the pods'
        : `one rotated; the other exited ${refused?.result?.code} (${refusedDoc.error?.code ?? '?'})`,
    });
    expect(bothPaused, 'both pods reached the commit: nothing kept them apart').toBe(false);
    expect(holder && refused && holder !== refused).toBe(true);
    const h = holder!;
    const r = refused!;
    const holderPid = h.cli.child.pid;
    expect(r.result!.code).toBe(6);
    expect(refusedDoc.error?.code).toBe('ERR_LOCKED');
    expect(refusedDoc.error?.message).toContain(`/${holderPid}`);
    expect(r.result!.stderr).toContain(`/${holderPid}`);
    // The refused pod changed nothing: no Secret write (the holder is paused before its own), no journal.
    expect(await patches(c)).toBe(0);
    expect((await c.secret()).data).toEqual(INITIAL);
    expect(
      (await r.pod.stateFiles()).filter((f) => f.includes('journal') || f.startsWith('history')),
    ).toEqual([]);
    expect((await c.lease())?.holderIdentity).toMatch(new RegExp(`/${holderPid}$`));

    // The holder goes on and rotates; the Lease is released.
    await fs.rm(path.join(h.pod.dir, 'paused'));
    const done = await h.cli.done;
    expect(done.code, done.stderr).toBe(0);
    expect(outcome(done).outcome).toBe('rotated');
    const afterFirst = (await c.secret()).data;
    expect(afterFirst.JWT_SECRET).not.toBe(INITIAL.JWT_SECRET);
    expect((await c.lease())?.holderIdentity).toBeUndefined();

    // Now the other pod rotates (from the values the first one wrote).
    const second = await r.pod.run(['rotate', '--yes', '--json']);
    expect(second.code, second.stderr).toBe(0);
    const afterSecond = (await c.secret()).data;
    expect(afterSecond.JWT_SECRET).not.toBe(afterFirst.JWT_SECRET);
    expect(afterSecond.DATABASE_HOST).toBe(INITIAL.DATABASE_HOST);
  }, 180_000);

  it('keeps the other pod out while a killed holder’s Lease lasts; the killed pod’s recover takes it over after', async () => {
    const c = await cluster({ leaseDuration: '12s' });
    const a = await c.pod('pod-a');
    const b = await c.pod('pod-b');
    const pauseFile = path.join(a.dir, 'paused');
    const holder = a.start(['rotate', '--yes', '--json'], {
      REKEY_PAUSE_AT: 'commit@begin',
      REKEY_PAUSE_FILE: pauseFile,
    });
    await waitForFile(pauseFile);
    await holder.kill(); // the node lost the pod: no release, no rollback
    await fs.rm(pauseFile);
    const lease = await c.lease();
    const identity = lease?.holderIdentity;
    expect(identity).toMatch(new RegExp(`/${holder.child.pid}$`));
    const expiresAt = Date.parse(String(lease?.renewTime)) + 12_000;

    // While its Lease lasts: the other pod is refused, naming the dead holder; so is the restarted
    // pod-a (a new process, another identity).
    const [early, earlyRecover] = await Promise.all([
      b.run(['rotate', '--yes', '--json']),
      a.run(['recover', '--yes', '--json']),
    ]);
    const earlyDoc = outcome(early);
    const earlyEndedBeforeExpiry = Date.now() < expiresAt;

    // Past the Lease's expiry: rotate is told the holder died (only recover takes its Lease).
    await sleep(Math.max(0, expiresAt + 500 - Date.now()));
    const stale = await b.run(['rotate', '--yes', '--json']);
    const staleDoc = outcome(stale);
    const recovered = await a.run(['recover', '--yes', '--json']);
    const recoveredDoc = outcome(recovered);
    const after = await b.run(['rotate', '--yes', '--json']);
    const ok =
      early.code === 6 &&
      earlyDoc.error?.code === 'ERR_LOCKED' &&
      stale.code === 6 &&
      recovered.code === 0 &&
      after.code === 0;
    record({
      kind: 'concurrency',
      suite: 'kubernetes Lease lock (two pods, two disks)',
      case: 'the Lease holder is killed (kill -9) mid-rotation; the other pod tries meanwhile',
      ok,
      detail: `other pod: exit ${early.code} (${earlyDoc.error?.code}) while the Lease lasted, exit ${stale.code} (${staleDoc.error?.code}) after; killed pod's recover: ${recoveredDoc.outcome}; then the other pod: exit ${after.code}`,
    });
    expect(earlyEndedBeforeExpiry, 'the machine was too slow to try within the Lease').toBe(true);
    expect(early.code, early.stderr).toBe(6);
    expect(earlyDoc.error?.code).toBe('ERR_LOCKED');
    expect(earlyDoc.error?.message).toContain(identity!);
    expect(earlyRecover.code, earlyRecover.stderr).toBe(6);
    expect(outcome(earlyRecover).error?.code).toBe('ERR_LOCKED');
    expect(stale.code, stale.stderr).toBe(6);
    expect(staleDoc.error?.code).toBe('ERR_LOCK_STALE');
    expect(staleDoc.error?.message).toContain(identity!);
    expect(stale.stderr).toContain('rekey recover');
    // The killed pod's journal is on its own disk: its recover undoes the rotation (not committed).
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(recoveredDoc.outcome).toBe('rolled-back');
    expect(recovered.stderr).toContain(`took over the Lease bi/rekey-bi-secrets of ${identity}`);
    expect(after.code, after.stderr).toBe(0);
    expect((await c.lease())?.holderIdentity).toBeUndefined();
    expect((await c.secret()).data.JWT_SECRET).not.toBe(INITIAL.JWT_SECRET);
  }, 180_000);
  it('an unattended run (rekey schedule --once) takes the Lease too: refused beside a holder, rotates after', async () => {
    const c = await cluster();
    const a = await c.pod('pod-a');
    const b = await c.pod('pod-b', { unattended: true });
    const pauseFile = path.join(a.dir, 'paused');
    const holder = a.start(['rotate', '--yes', '--json'], {
      REKEY_PAUSE_AT: 'commit@begin',
      REKEY_PAUSE_FILE: pauseFile,
    });
    await waitForFile(pauseFile);
    const scheduled = ['schedule', '--once', '--allow-unattended', 'jwt,api-key', '--json'];
    const refused = await b.run(scheduled);
    const patchesWhileHeld = await patches(c);
    record({
      kind: 'concurrency',
      suite: 'kubernetes Lease lock (two pods, two disks)',
      case: 'rekey schedule --once in one pod while another pod rotates',
      ok: refused.code !== 0 && patchesWhileHeld === 0 && /ERR_LOCKED/.test(refused.stdout),
      detail: `schedule exit ${refused.code}; Secret writes meanwhile: ${patchesWhileHeld}`,
    });
    expect(refused.code, refused.stderr).not.toBe(0);
    expect(refused.stdout).toContain('ERR_LOCKED');
    expect(refused.stdout).toContain(`/${holder.child.pid}`);
    expect(patchesWhileHeld).toBe(0);
    expect((await c.secret()).data).toEqual(INITIAL);

    await fs.rm(pauseFile);
    expect((await holder.done).code).toBe(0);
    const afterHolder = (await c.secret()).data;
    const ran = await b.run(scheduled);
    expect(ran.code, ran.stderr).toBe(0);
    const after = (await c.secret()).data;
    expect(after.JWT_SECRET).not.toBe(afterHolder.JWT_SECRET);
    expect(after.API_SECRET_KEY).not.toBe(afterHolder.API_SECRET_KEY);
    expect((await c.lease())?.holderIdentity).toBeUndefined();
  }, 180_000);
});
