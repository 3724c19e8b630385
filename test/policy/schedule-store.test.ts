/**
 * schedule.json read-modify-write under the project's lock: concurrent updaters (interleaved in one
 * process, and two processes of the built code) never lose an update; a lock left by a dead holder is
 * taken over; a live holder is waited for, then named in ERR_LOCKED.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/lib/errors.js';
import { lockPath } from '../../src/lib/lock.js';
import { silentLogger } from '../../src/lib/log.js';
import { Scheduler } from '../../src/policy/schedule/scheduler.js';
import { ScheduleStore } from '../../src/policy/schedule/store.js';
import { allowedUnattendedTypes } from '../../src/policy/schedule/unattended.js';
import { computeStatus } from '../../src/policy/status.js';
import type { ScheduleFile } from '../../src/policy/types.js';
import { holdLock } from '../helpers/lock-holder.js';
import { record } from '../helpers/resilience.js';
import { entries, tempDir } from '../helpers/tmp.js';
import { inputs, NOW, secret, statusConfig } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIST_STORE = path.join(ROOT, 'dist/src/policy/schedule/store.js');

const bump = (store: ScheduleStore) =>
  store.update((s) => {
    const prev = s.secrets.K ?? { consecutiveFailures: 0 };
    s.secrets.K = { ...prev, consecutiveFailures: prev.consecutiveFailures + 1 };
  });

/** A node process running `body` with `store` = a ScheduleStore of `dir`, from the built code. */
function child(dir: string, body: string): ChildProcess {
  const script = `import { ScheduleStore } from ${JSON.stringify(DIST_STORE)};
const store = new ScheduleStore(${JSON.stringify(dir)});
${body}`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function exitOf(p: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  p.stderr?.on('data', (d) => {
    stderr += d;
  });
  const [code] = (await once(p, 'exit')) as [number | null];
  return { code, stderr };
}

describe('schedule.json updates', { timeout: 120_000 }, () => {
  it('two interleaved updaters in one process: no update lost', async () => {
    const dir = await tempDir('rekey-schedule-race-');
    const store = new ScheduleStore(dir);
    const N = 25;
    const run = async () => {
      for (let i = 0; i < N; i++) await bump(store);
    };
    await Promise.all([run(), run()]);
    const got = (await store.read()).secrets.K?.consecutiveFailures;
    record({
      kind: 'concurrency',
      suite: 'schedule-store',
      case: `2 interleaved updaters × ${N} updates of schedule.json (one process)`,
      ok: got === 2 * N,
      detail: `${got} of ${2 * N} updates kept`,
    });
    expect(got).toBe(2 * N);
  });

  it('two processes updating at once (the daemon and `schedule --clear`): no update lost', async () => {
    const dir = await tempDir('rekey-schedule-race-');
    const N = 30;
    const body = `for (let i = 0; i < ${N}; i++) await store.update((s) => {
  const prev = s.secrets.K ?? { consecutiveFailures: 0 };
  s.secrets.K = { ...prev, consecutiveFailures: prev.consecutiveFailures + 1 };
});`;
    const results = await Promise.all([exitOf(child(dir, body)), exitOf(child(dir, body))]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const got = (await new ScheduleStore(dir).read()).secrets.K?.consecutiveFailures;
    record({
      kind: 'concurrency',
      suite: 'schedule-store',
      case: `2 processes × ${N} updates of schedule.json`,
      ok: got === 2 * N,
      detail: `${got} of ${2 * N} updates kept`,
    });
    expect(got).toBe(2 * N);
    // The write is atomic and the lock released: no temp file or lock left behind.
    expect((await entries(dir)).sort()).toEqual(['locks', 'schedule.json']);
    await expect(fs.stat(lockPath(path.join(dir, 'locks', 'schedule')))).rejects.toThrow(/ENOENT/);
  });

  it('a live holder is waited for, then named (ERR_LOCKED); once it is killed, its lock is taken over', async () => {
    const dir = await tempDir('rekey-schedule-lock-');
    const store = new ScheduleStore(dir, { waitMs: 400 });
    // A process that takes the schedule lock (the project's lock, as update does) and hangs on to it.
    const holder = await holdLock(store.lockDir, 'schedule');
    try {
      const started = Date.now();
      const err = await bump(store).catch((e: unknown) => e);
      expect(isRekeyError(err, 'ERR_LOCKED'), String(err)).toBe(true);
      expect((err as Error).message).toContain(`pid ${holder.pid}`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect((await store.read()).secrets.K).toBeUndefined();
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
    // Killed while holding it: the lock names a dead process, which the next update takes over.
    await expect(fs.stat(lockPath(store.lockDir))).resolves.toBeDefined();
    await bump(store);
    expect((await store.read()).secrets.K?.consecutiveFailures).toBe(1);
  });

  it('the scheduler counts failures under the lock: a `schedule --clear` landing mid-run is not undone', async () => {
    /** A store where `schedule --clear` (another process) runs right after the next read made outside an update. */
    class RacedStore extends ScheduleStore {
      armed = false;
      inUpdate = 0;
      override async read(): Promise<ScheduleFile> {
        const state = await super.read();
        if (this.armed && this.inUpdate === 0) {
          this.armed = false;
          await new ScheduleStore(this.stateDir).clear([]);
        }
        return state;
      }
      override async update(change: (s: ScheduleFile) => void, now?: Date): Promise<ScheduleFile> {
        this.inUpdate++;
        try {
          return await super.update(change, now);
        } finally {
          this.inUpdate--;
        }
      }
    }
    const store = new RacedStore(await tempDir('rekey-schedule-race-'));
    // Two failed runs already: this one is the third (maxFailures 3).
    await store.update((s) => {
      s.secrets.POSTGRES_PASSWORD = { consecutiveFailures: 2 };
    });
    const config = statusConfig([secret('POSTGRES_PASSWORD', 'postgres', { unattended: true })]);
    const scheduler = new Scheduler({
      settings: {
        cron: '0 3 * * *',
        jitterMs: 0,
        retries: 0,
        backoffMs: 1000,
        maxFailures: 3,
        allowedTypes: allowedUnattendedTypes(),
      },
      clock: { now: () => NOW, sleep: async () => {} },
      status: async () => computeStatus(config, inputs({ schedule: await store.read() }), NOW),
      rotate: async () => {
        store.armed = true; // the person runs `rekey schedule --clear` while this attempt fails
        return { outcome: 'rolled-back', error: { code: 'ERR_TARGET_UNREACHABLE', message: 'down' } };
      },
      store,
      log: silentLogger,
    });
    const run = await scheduler.runOnce();
    store.armed = false;
    const st = (await store.read()).secrets.POSTGRES_PASSWORD;
    // Whenever the clear landed, what is recorded agrees with itself and with the run's result: a
    // "3 failed runs in a row" over a count the clear reset would block the secret for nothing.
    const failures = st?.consecutiveFailures ?? 0;
    const reason = st?.needsAttention?.reason;
    if (reason !== undefined) expect(reason).toMatch(new RegExp(`^${failures} failed runs in a row`));
    expect(failures >= 3).toBe(reason !== undefined);
    expect(run.results[0]?.outcome).toBe(reason === undefined ? 'failed' : 'needs-attention');
  });
});
