/**
 * The scheduler with an injected clock and rotate function: it rotates due unattended secrets,
 * skips those not due, retries with exponential backoff, and stops after N failed runs ("needs
 * attention", persisted in schedule.json) until a successful rotation clears it.
 */
import { describe, expect, it } from 'vitest';
import type { SecretConfig } from '../../src/config/schema.js';
import { isRekeyError, RekeyError } from '../../src/lib/errors.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Clock } from '../../src/policy/schedule/clock.js';
import { runFailure, runSucceeded } from '../../src/policy/schedule/outcome.js';
import { type AttemptResult, Scheduler, type ScheduleSettings } from '../../src/policy/schedule/scheduler.js';
import { ScheduleStore } from '../../src/policy/schedule/store.js';
import {
  allowedUnattendedTypes,
  assertSchedulable,
  assertUnattendedAllowed,
} from '../../src/policy/schedule/unattended.js';
import { computeStatus } from '../../src/policy/status.js';
import type { RotationEvent } from '../../src/policy/types.js';
import { tempDir } from '../helpers/tmp.js';
import { ago, event, inputs, NOW, SECRETS, secret, statusConfig } from './helpers.js';

class FakeClock implements Clock {
  t = NOW.getTime();
  readonly sleeps: number[] = [];
  now(): Date {
    return new Date(this.t);
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
}

type Script = (key: string, attempt: number) => AttemptResult | Error;

interface Harness {
  scheduler: Scheduler;
  clock: FakeClock;
  store: ScheduleStore;
  events: RotationEvent[];
  calls: Array<{ key: string; at: string }>;
}

async function harness(
  options: {
    secrets?: SecretConfig[];
    events?: RotationEvent[];
    settings?: Partial<ScheduleSettings>;
    script?: Script;
    random?: () => number;
    /** Called before each status read; an Error returned is thrown by it. */
    statusFault?: () => Error | undefined;
  } = {},
): Promise<Harness> {
  const clock = new FakeClock();
  const store = new ScheduleStore(await tempDir('rekey-schedule-'));
  const events = [...(options.events ?? [])];
  const calls: Harness['calls'] = [];
  const config = statusConfig(options.secrets ?? SECRETS);
  const attempts = new Map<string, number>();
  const script: Script = options.script ?? (() => ({ outcome: 'rotated' }));
  const scheduler = new Scheduler({
    settings: {
      cron: '0 3 * * *',
      jitterMs: 0,
      retries: 0,
      backoffMs: 60_000,
      maxFailures: 3,
      allowedTypes: allowedUnattendedTypes(),
      ...options.settings,
    },
    clock,
    random: options.random ?? (() => 0),
    status: async () => {
      const fault = options.statusFault?.();
      if (fault) throw fault;
      return computeStatus(config, inputs({ events, schedule: await store.read() }), clock.now());
    },
    rotate: async (key) => {
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      calls.push({ key, at: clock.now().toISOString() });
      const r = script(key, n);
      if (r instanceof Error) throw r;
      if (r.outcome === 'rotated' || r.outcome === 'rolled-back') {
        events.push(event({ time: clock.now(), keys: [key], outcome: r.outcome, unattended: true }));
      }
      return r;
    },
    store,
    log: silentLogger,
  });
  return { scheduler, clock, store, events, calls };
}

const overdue = (...keys: string[]) => keys.map((k) => event({ time: ago(95), keys: [k] }));
const fresh = (...keys: string[]) => keys.map((k) => event({ time: ago(10), keys: [k] }));

describe('Scheduler.runOnce', () => {
  it('rotates a due unattended secret, skips one not due, never touches one without unattended', async () => {
    const h = await harness({
      events: [...overdue('JWT_SECRET', 'POSTGRES_PASSWORD'), ...fresh('REDIS_PASSWORD')],
    });
    const run = await h.scheduler.runOnce();
    expect(h.calls.map((c) => c.key)).toEqual(['POSTGRES_PASSWORD']);
    expect(run.results).toEqual([
      { key: 'POSTGRES_PASSWORD', outcome: 'rotated', attempts: 1 },
      { key: 'REDIS_PASSWORD', outcome: 'skipped', attempts: 0, detail: expect.stringMatching(/^not due/) },
    ]);
    const state = await h.store.read();
    expect(state.secrets.POSTGRES_PASSWORD).toEqual({
      consecutiveFailures: 0,
      lastAttemptAt: NOW.toISOString(),
      lastSuccessAt: NOW.toISOString(),
    });
    expect(state.lastRun).toEqual({ at: NOW.toISOString(), rotated: ['POSTGRES_PASSWORD'], failed: [] });
    // The next run finds nothing due.
    await h.scheduler.runOnce();
    expect(h.calls).toHaveLength(1);
  });

  it('rotates secrets due soon (in their warning window) and never rotated ones', async () => {
    const h = await harness({ events: [event({ time: ago(80), keys: ['POSTGRES_PASSWORD'] })] });
    const run = await h.scheduler.runOnce();
    expect(run.results.map((r) => [r.key, r.outcome])).toEqual([
      ['POSTGRES_PASSWORD', 'rotated'],
      ['REDIS_PASSWORD', 'rotated'],
    ]);
  });

  it('rotates only types allowed to be unattended', async () => {
    const h = await harness({
      secrets: [
        secret('JWT_SECRET', 'jwt', { unattended: true }),
        secret('REDIS_PASSWORD', 'redis', { unattended: true }),
      ],
    });
    await h.scheduler.runOnce();
    expect(h.calls.map((c) => c.key)).toEqual(['REDIS_PASSWORD']);
    const allowing = await harness({
      secrets: [secret('JWT_SECRET', 'jwt', { unattended: true })],
      settings: { allowedTypes: allowedUnattendedTypes(['jwt']) },
    });
    await allowing.scheduler.runOnce();
    expect(allowing.calls.map((c) => c.key)).toEqual(['JWT_SECRET']);
  });

  it('retries a rolled-back rotation with exponential backoff, then counts one failed run', async () => {
    const h = await harness({
      events: overdue('POSTGRES_PASSWORD', 'REDIS_PASSWORD'),
      settings: { retries: 3, backoffMs: 60_000 },
      script: (key, n) =>
        key === 'POSTGRES_PASSWORD' && n < 4
          ? { outcome: 'rolled-back', error: { code: 'ERR_VERIFY_FAILED', message: 'verification failed' } }
          : { outcome: 'rotated' },
    });
    const run = await h.scheduler.runOnce();
    expect(run.results[0]).toEqual({ key: 'POSTGRES_PASSWORD', outcome: 'rotated', attempts: 4 });
    expect(h.clock.sleeps).toEqual([60_000, 120_000, 240_000]);
    expect(h.calls.map((c) => c.at)).toEqual([
      NOW.toISOString(),
      new Date(NOW.getTime() + 60_000).toISOString(),
      new Date(NOW.getTime() + 180_000).toISOString(),
      new Date(NOW.getTime() + 420_000).toISOString(),
      new Date(NOW.getTime() + 420_000).toISOString(), // REDIS_PASSWORD, one at a time after it
    ]);
    expect((await h.store.read()).secrets.POSTGRES_PASSWORD?.consecutiveFailures).toBe(0);
  });

  it('stops after maxFailures failed runs: needs attention, no more attempts, until a rotation clears it', async () => {
    const h = await harness({
      events: overdue('POSTGRES_PASSWORD', 'REDIS_PASSWORD'),
      settings: { retries: 1, backoffMs: 1000, maxFailures: 3 },
      script: (key) =>
        key === 'POSTGRES_PASSWORD'
          ? {
              outcome: 'rolled-back',
              error: { code: 'ERR_TARGET_UNREACHABLE', message: 'connection refused' },
            }
          : { outcome: 'rotated' },
    });
    const outcomes: string[] = [];
    for (let day = 0; day < 5; day++) {
      const run = await h.scheduler.runOnce();
      outcomes.push(run.results.find((r) => r.key === 'POSTGRES_PASSWORD')!.outcome);
      h.clock.t += 86_400_000;
    }
    expect(outcomes).toEqual(['failed', 'failed', 'needs-attention', 'skipped', 'skipped']);
    expect(h.calls.filter((c) => c.key === 'POSTGRES_PASSWORD')).toHaveLength(6); // 3 runs × (1 + 1 retry)
    const state = (await h.store.read()).secrets.POSTGRES_PASSWORD;
    expect(state).toMatchObject({
      consecutiveFailures: 3,
      lastError: { code: 'ERR_TARGET_UNREACHABLE', message: 'connection refused' },
      needsAttention: {
        reason: '3 failed runs in a row; last: ERR_TARGET_UNREACHABLE: connection refused',
        kind: 'failures',
      },
    });
    // Status shows it.
    const report = computeStatus(
      statusConfig(),
      inputs({ events: h.events, schedule: await h.store.read() }),
      h.clock.now(),
    );
    expect(report.secrets.find((s) => s.key === 'POSTGRES_PASSWORD')?.state).toBe('needs-attention');

    // Someone fixes Postgres and rotates by hand: the next run clears the state.
    h.events.push(event({ time: h.clock.now(), keys: ['POSTGRES_PASSWORD'], trigger: 'scheduled' }));
    h.clock.t += 1000;
    const run = await h.scheduler.runOnce();
    expect(run.results.find((r) => r.key === 'POSTGRES_PASSWORD')).toMatchObject({
      outcome: 'skipped',
      detail: expect.stringMatching(/^not due/),
    });
    expect((await h.store.read()).secrets.POSTGRES_PASSWORD).toBeUndefined();
  });

  it('a rejected credential (rolled back with ERR_TARGET_AUTH) is never retried; other secrets still rotate', async () => {
    const h = await harness({
      events: overdue('POSTGRES_PASSWORD', 'REDIS_PASSWORD'),
      settings: { retries: 3 },
      script: (key) =>
        key === 'POSTGRES_PASSWORD'
          ? { outcome: 'rolled-back', error: { code: 'ERR_TARGET_AUTH', message: 'password rejected' } }
          : { outcome: 'rotated' },
    });
    const run = await h.scheduler.runOnce();
    expect(h.calls.map((c) => c.key)).toEqual(['POSTGRES_PASSWORD', 'REDIS_PASSWORD']);
    expect(h.clock.sleeps).toEqual([]);
    expect(run.results.map((r) => [r.key, r.outcome, r.attempts])).toEqual([
      ['POSTGRES_PASSWORD', 'needs-attention', 1],
      ['REDIS_PASSWORD', 'rotated', 1],
    ]);
    expect((await h.store.read()).secrets.POSTGRES_PASSWORD?.needsAttention).toMatchObject({
      kind: 'auth',
      reason: expect.stringMatching(/^ERR_TARGET_AUTH: password rejected/),
    });
  });

  it('a rotation the engine could not repair needs attention at once and ends the run', async () => {
    const h = await harness({
      events: overdue('POSTGRES_PASSWORD', 'REDIS_PASSWORD'),
      settings: { retries: 3 },
      script: () => ({
        outcome: 'needs-attention',
        error: { code: 'ERR_ROLLBACK_FAILED', message: 'rollback incomplete' },
      }),
    });
    const run = await h.scheduler.runOnce();
    expect(run.results).toEqual([
      {
        key: 'POSTGRES_PASSWORD',
        outcome: 'needs-attention',
        attempts: 1,
        detail: 'ERR_ROLLBACK_FAILED: rollback incomplete',
      },
      {
        key: 'REDIS_PASSWORD',
        outcome: 'skipped',
        attempts: 0,
        detail: 'not attempted: the rotation of POSTGRES_PASSWORD needs attention',
      },
    ]);
    expect(h.calls).toHaveLength(1);
    expect((await h.store.read()).secrets.POSTGRES_PASSWORD?.needsAttention?.reason).toBe(
      'ERR_ROLLBACK_FAILED: rollback incomplete',
    );
  });

  it('retries a held lock, not what a retry cannot fix', async () => {
    const locked = await harness({
      events: overdue('POSTGRES_PASSWORD'),
      secrets: [secret('POSTGRES_PASSWORD', 'postgres', { unattended: true })],
      settings: { retries: 2 },
      script: (_k, n) =>
        n === 1 ? new RekeyError('ERR_LOCKED', 'a rotation is running') : { outcome: 'rotated' },
    });
    expect((await locked.scheduler.runOnce()).results[0]).toMatchObject({ outcome: 'rotated', attempts: 2 });

    const refused = await harness({
      events: overdue('POSTGRES_PASSWORD'),
      secrets: [secret('POSTGRES_PASSWORD', 'postgres', { unattended: true })],
      settings: { retries: 2 },
      script: () => new RekeyError('ERR_APPROVAL_MISSING', 'approvals missing'),
    });
    expect((await refused.scheduler.runOnce()).results[0]).toEqual({
      key: 'POSTGRES_PASSWORD',
      outcome: 'failed',
      attempts: 1,
      detail: 'ERR_APPROVAL_MISSING: approvals missing',
    });
  });

  it('does not rotate again what another process rotated while it waited', async () => {
    let h: Harness | undefined;
    h = await harness({
      events: overdue('POSTGRES_PASSWORD'),
      secrets: [secret('POSTGRES_PASSWORD', 'postgres', { unattended: true })],
      settings: { retries: 2 },
      script: (key) => {
        // The lock is held by a person rotating it by hand.
        h!.events.push(event({ time: h!.clock.now(), keys: [key], trigger: 'personnel' }));
        return new RekeyError('ERR_LOCKED', 'a rotation is running');
      },
    });
    const run = await h.scheduler.runOnce();
    expect(run.results[0]).toEqual({
      key: 'POSTGRES_PASSWORD',
      outcome: 'skipped',
      attempts: 1,
      detail: 'rotated meanwhile',
    });
    expect(h.calls).toHaveLength(1);
  });
});

describe('Scheduler.run', () => {
  it('waits for the next cron time plus jitter, runs, and stops when aborted', async () => {
    const abort = new AbortController();
    const h = await harness({
      events: overdue('POSTGRES_PASSWORD'),
      secrets: [secret('POSTGRES_PASSWORD', 'postgres', { unattended: true })],
      settings: { cron: '0 3 * * *', jitterMs: 10 * 60_000 },
      random: () => 0.5,
      script: () => {
        abort.abort();
        return { outcome: 'rotated' };
      },
    });
    await h.scheduler.run(abort.signal);
    expect(h.calls).toEqual([{ key: 'POSTGRES_PASSWORD', at: '2026-06-02T03:05:00.000Z' }]);
    // Long waits are cut into pieces of at most 15 minutes.
    expect(Math.max(...h.clock.sleeps)).toBeLessThanOrEqual(15 * 60_000);
    expect((await h.store.read()).lastRun?.rotated).toEqual(['POSTGRES_PASSWORD']);
  });

  it('a run that fails to start (config broken by an edit) does not end the daemon: it runs again next time', async () => {
    const abort = new AbortController();
    let reads = 0;
    const h = await harness({
      events: overdue('POSTGRES_PASSWORD'),
      secrets: [secret('POSTGRES_PASSWORD', 'postgres', { unattended: true })],
      statusFault: () =>
        ++reads === 1 ? new RekeyError('ERR_CONFIG_INVALID', 'rekey.yaml: bad edit') : undefined,
      script: () => {
        abort.abort();
        return { outcome: 'rotated' };
      },
    });
    await h.scheduler.run(abort.signal);
    // The first cron time's run failed before rotating; the next day's rotated.
    expect(h.calls).toEqual([{ key: 'POSTGRES_PASSWORD', at: '2026-06-03T03:00:00.000Z' }]);
  });

  it('stopping while it retries is not a failed run: nothing counted toward needs-attention', async () => {
    const abort = new AbortController();
    const h = await harness({
      events: overdue('POSTGRES_PASSWORD'),
      secrets: [secret('POSTGRES_PASSWORD', 'postgres', { unattended: true })],
      settings: { retries: 3, maxFailures: 1 },
      script: () => {
        abort.abort(); // SIGTERM arrives: the engine rolls the rotation back
        return { outcome: 'rolled-back', error: { code: 'ERR_INTERRUPTED', message: 'interrupted' } };
      },
    });
    const run = await h.scheduler.runOnce(abort.signal);
    expect(run.results).toEqual([
      { key: 'POSTGRES_PASSWORD', outcome: 'skipped', attempts: 1, detail: 'stopping' },
    ]);
    expect((await h.store.read()).secrets.POSTGRES_PASSWORD?.consecutiveFailures ?? 0).toBe(0);
    expect((await h.store.read()).secrets.POSTGRES_PASSWORD?.needsAttention).toBeUndefined();
  });

  it('computes cron times, and refuses an invalid expression', async () => {
    const h = await harness({ settings: { cron: '*/15 * * * *' } });
    expect(h.scheduler.nextRun(new Date('2026-06-01T12:07:00Z'))?.toISOString()).toBe(
      '2026-06-01T12:15:00.000Z',
    );
    let err: unknown;
    try {
      await harness({ settings: { cron: 'every day' } });
    } catch (e) {
      err = e;
    }
    expect(isRekeyError(err, 'ERR_CONFIG_INVALID')).toBe(true);
  });
});

describe('unattended types', () => {
  it('allows postgres and redis by default, others only when named', () => {
    const secrets = [
      secret('POSTGRES_PASSWORD', 'postgres', { unattended: true }),
      secret('JWT_SECRET', 'jwt', { unattended: true }),
      secret('API_SECRET_KEY', 'api-key'),
    ];
    let err: unknown;
    try {
      assertUnattendedAllowed(secrets, allowedUnattendedTypes());
    } catch (e) {
      err = e;
    }
    expect(isRekeyError(err, 'ERR_UNATTENDED_REFUSED')).toBe(true);
    expect((err as Error).message).toMatch(/JWT_SECRET: type jwt may not be rotated unattended/);
    expect(() => assertUnattendedAllowed(secrets, allowedUnattendedTypes(['jwt']))).not.toThrow();
    expect(() => allowedUnattendedTypes(['jwtt'])).toThrow(/unknown type jwtt/);
  });

  it('refuses to schedule when no secret is unattended, or one of a type not allowed', () => {
    const none = [secret('POSTGRES_PASSWORD', 'postgres'), secret('JWT_SECRET', 'jwt')];
    expect(() => assertSchedulable(none, allowedUnattendedTypes())).toThrow(
      /no secret has `unattended: true`/,
    );
    const jwt = [secret('JWT_SECRET', 'jwt', { unattended: true })];
    expect(() => assertSchedulable(jwt, allowedUnattendedTypes())).toThrow(/may not be rotated unattended/);
    expect(() => assertSchedulable(jwt, allowedUnattendedTypes(['jwt']))).not.toThrow();
  });
});

describe('the outcome of a run', () => {
  const run = (...outcomes: Array<'rotated' | 'failed' | 'needs-attention' | 'skipped'>) => ({
    at: '2026-06-01T03:00:00.000Z',
    results: outcomes.map((outcome, i) => ({ key: `K${i}`, outcome, attempts: 1 })),
  });

  it('succeeds when every secret was rotated or skipped', () => {
    expect(runSucceeded(run('rotated', 'skipped'))).toBe(true);
    expect(runFailure(run('rotated', 'skipped'))).toBeUndefined();
    expect(runSucceeded(run('rotated', 'failed'))).toBe(false);
  });

  it('ends with needs attention before failed', () => {
    const attention = runFailure(run('failed', 'needs-attention'));
    expect(isRekeyError(attention, 'ERR_NEEDS_ATTENTION')).toBe(true);
    expect(attention?.message).toBe('unattended rotation stopped for K1');
    const failed = runFailure(run('rotated', 'failed'));
    expect(isRekeyError(failed, 'ERR_ROTATION_FAILED')).toBe(true);
    expect(failed?.message).toBe('unattended rotation failed for K1');
  });
});

describe('ScheduleStore', () => {
  it('writes schedule.json atomically with mode 0600 and clears keys', async () => {
    const store = new ScheduleStore(await tempDir('rekey-store-'));
    expect(await store.read()).toEqual({ version: 1, secrets: {} });
    await store.update((s) => {
      s.secrets.A = { consecutiveFailures: 3, needsAttention: { since: NOW.toISOString(), reason: 'r' } };
      s.secrets.B = { consecutiveFailures: 1 };
    }, NOW);
    const { promises: fs } = await import('node:fs');
    expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
    expect(await store.clear(['A', 'Z'])).toEqual(['A']);
    expect(Object.keys((await store.read()).secrets)).toEqual(['B']);
    expect(await store.clear([])).toEqual(['B']);
    await fs.writeFile(store.file, '{"version": 2}');
    await expect(store.read()).rejects.toThrow(/unknown format/);
  });
});
