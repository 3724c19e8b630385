/**
 * Unattended scheduled rotation. At each cron time (croner), plus a random jitter, the scheduler
 * rotates, one at a time, every secret that is marked `unattended`, of an allowed type, and due (in
 * its warning window, overdue, or never rotated). A rotation that fails and rolled back is retried
 * with exponential backoff; a run whose attempts all failed counts one failure, and after
 * `maxFailures` failed runs in a row the secret "needs attention": no more attempts until a successful
 * rotation (by hand or otherwise) or `rekey schedule --clear KEY`. A credential the service rejects
 * (ERR_TARGET_AUTH) needs attention at once and is never retried: each try is a failed login, and
 * Grafana locks the user out after 5 in 5 minutes. An outcome the engine could not repair (exit 4)
 * needs attention at once and ends the run.
 *
 * Time, status and rotation are injected, so tests drive it with a fake clock and a fake rotate.
 */
import { Cron } from 'croner';
import { ms } from '../../config/load.js';
import type { ParsedConfig, SecretType } from '../../config/schema.js';
import { EXIT, exitCodeOf, RekeyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { safeMessage } from '../../lib/redact.js';
import type { AttentionKind, ScheduleFile, SecretStatus, StatusReport } from '../types.js';
import { type Clock, sleepUntil } from './clock.js';
import type { ScheduleStore } from './store.js';

export interface ScheduleSettings {
  readonly cron: string;
  readonly jitterMs: number;
  readonly retries: number;
  readonly backoffMs: number;
  readonly maxFailures: number;
  readonly allowedTypes: ReadonlySet<SecretType>;
}

/**
 * The `schedule:` section with its defaults (also when the section is absent).
 *
 * @example
 * scheduleSettingsOf(loaded.config, allowedUnattendedTypes()).cron; // '0 3 * * *'
 */
export function scheduleSettingsOf(
  config: ParsedConfig,
  allowedTypes: ReadonlySet<SecretType>,
): ScheduleSettings {
  const s = config.schedule ?? {
    cron: '0 3 * * *',
    jitter: '10m',
    retries: 3,
    backoff: '1m',
    maxFailures: 3,
  };
  return {
    cron: s.cron,
    jitterMs: ms(s.jitter),
    retries: s.retries,
    backoffMs: ms(s.backoff),
    maxFailures: s.maxFailures,
    allowedTypes,
  };
}

/** What one attempt to rotate returned (a RotationResult fits). */
export interface AttemptResult {
  readonly outcome: string;
  readonly id?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Rotates one secret; resolves with the engine's result or throws (nothing changed). */
export type RotateOne = (key: string) => Promise<AttemptResult>;

export interface SchedulerDeps {
  readonly settings: ScheduleSettings;
  readonly clock: Clock;
  /** The status of every secret, read from disk at the time of the call. */
  readonly status: () => Promise<StatusReport>;
  readonly rotate: RotateOne;
  readonly store: ScheduleStore;
  readonly log: Logger;
  /** In [0, 1), for the jitter (default Math.random). */
  readonly random?: () => number;
}

export type KeyOutcome = 'rotated' | 'failed' | 'needs-attention' | 'skipped';

export interface KeyResult {
  readonly key: string;
  readonly outcome: KeyOutcome;
  readonly attempts: number;
  /** Why it was skipped, or the last error. */
  readonly detail?: string;
  readonly rotationId?: string;
}

export interface RunReport {
  readonly at: string;
  readonly results: readonly KeyResult[];
}

/** The code of a credential the service rejected (wrong password, user locked out). */
const AUTH_REJECTED = 'ERR_TARGET_AUTH';

/** Whether a secret is due for unattended rotation. */
function isDue(s: SecretStatus): boolean {
  return s.overdue || s.dueSoon;
}

/**
 * @example
 * const scheduler = new Scheduler({ settings, clock: systemClock, status, rotate, store, log });
 * await scheduler.run(abort.signal); // until aborted
 */
export class Scheduler {
  readonly #cron: Cron;

  constructor(private readonly deps: SchedulerDeps) {
    try {
      this.#cron = new Cron(deps.settings.cron, { paused: true });
    } catch (e) {
      throw new RekeyError('ERR_CONFIG_INVALID', `schedule.cron: ${safeMessage(e)}`, {
        hint: 'Write a cron expression such as "0 3 * * *" (03:00 every day).',
      });
    }
  }

  /** The first cron time strictly after `after`, or undefined when the expression never fires again. */
  nextRun(after: Date): Date | undefined {
    return this.#cron.nextRun(after) ?? undefined;
  }

  /** Runs at every cron time (plus jitter) until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, log, settings } = this.deps;
    const random = this.deps.random ?? Math.random;
    while (!signal.aborted) {
      const next = this.nextRun(clock.now());
      if (next === undefined) {
        log.warn(`schedule.cron "${settings.cron}" has no future run: stopping`);
        return;
      }
      const at = new Date(next.getTime() + Math.floor(random() * settings.jitterMs));
      log.info(`next run at ${at.toISOString()} (cron ${settings.cron})`);
      await sleepUntil(clock, at, signal);
      if (signal.aborted) return;
      try {
        await this.runOnce(signal);
      } catch (e) {
        // A run that could not even start (rekey.yaml broken by an edit, schedule.json unreadable, a
        // full disk) must not end the daemon: say why, and try again at the next cron time.
        log.error(`the scheduled run failed: ${safeMessage(e)}; trying again at the next cron time`);
      }
    }
  }

  /** One scheduled run now: rotate each due unattended secret, one at a time. */
  async runOnce(signal?: AbortSignal): Promise<RunReport> {
    const { clock, store } = this.deps;
    const at = clock.now();
    const report = await this.deps.status();
    await this.#clearRecovered(report);
    const results: KeyResult[] = [];
    let stop: string | undefined;
    for (const s of report.secrets) {
      if (!s.unattended || !this.deps.settings.allowedTypes.has(s.type)) continue;
      const skip = stop ?? (signal?.aborted ? 'stopping' : this.#skipReason(s));
      if (skip !== undefined) {
        results.push({ key: s.key, outcome: 'skipped', attempts: 0, detail: skip });
        continue;
      }
      const { fatal, ...r } = await this.#rotateWithRetries(s.key, signal);
      results.push(r);
      if (fatal) stop = `not attempted: the rotation of ${s.key} needs attention`;
    }
    await store.update((f) => {
      f.lastRun = {
        at: at.toISOString(),
        rotated: results.filter((r) => r.outcome === 'rotated').map((r) => r.key),
        failed: results
          .filter((r) => r.outcome === 'failed' || r.outcome === 'needs-attention')
          .map((r) => r.key),
      };
    }, clock.now());
    for (const r of results) this.#logResult(r);
    return { at: at.toISOString(), results };
  }

  #skipReason(s: SecretStatus): string | undefined {
    if (s.schedule?.needsAttention) return `needs attention since ${s.schedule.needsAttention.since}`;
    if (!isDue(s)) return `not due (due ${s.dueAt ?? 'now'})`;
    return undefined;
  }

  /** A secret that needed attention and was rotated since (by hand) is cleared. */
  async #clearRecovered(report: StatusReport): Promise<void> {
    const isRecovered = (key: string, st: ScheduleFile['secrets'][string]): boolean => {
      if (!st.needsAttention) return false;
      const s = report.secrets.find((x) => x.key === key);
      return s?.lastRotated !== undefined && Date.parse(s.lastRotated) > Date.parse(st.needsAttention.since);
    };
    const state = await this.deps.store.read();
    if (!Object.entries(state.secrets).some(([key, st]) => isRecovered(key, st))) return;
    const recovered: string[] = [];
    // Judged again and cleared in one locked update: a state recorded meanwhile is never lost.
    await this.deps.store.update((f) => {
      for (const [key, st] of Object.entries(f.secrets)) {
        if (!isRecovered(key, st)) continue;
        delete f.secrets[key];
        recovered.push(key);
      }
    }, this.deps.clock.now());
    if (recovered.length > 0)
      this.deps.log.info(`cleared "needs attention" of ${recovered.join(', ')}: rotated since`);
  }

  async #rotateWithRetries(key: string, signal?: AbortSignal): Promise<KeyResult & { fatal?: true }> {
    const { settings, clock, log } = this.deps;
    let attempts = 0;
    let last: { code: string; message: string } = { code: 'ERR_INTERNAL', message: 'not attempted' };
    for (let i = 0; i <= settings.retries; i++) {
      if (i > 0) {
        const wait = settings.backoffMs * 2 ** (i - 1);
        log.info(`${key}: retry ${i} of ${settings.retries} in ${Math.round(wait / 1000)} s`);
        await clock.sleep(wait, signal);
      }
      if (signal?.aborted) break;
      // Another process (a person, a second scheduler) may have rotated it meanwhile.
      const fresh = (await this.deps.status()).secrets.find((s) => s.key === key);
      if (fresh !== undefined && !isDue(fresh)) {
        return { key, outcome: 'skipped', attempts, detail: 'rotated meanwhile' };
      }
      attempts++;
      const verdict = await this.#attempt(key);
      if (verdict.kind === 'rotated') {
        await this.#record(key, { ok: true });
        return { key, outcome: 'rotated', attempts, ...(verdict.id ? { rotationId: verdict.id } : {}) };
      }
      last = verdict.error;
      if (verdict.kind === 'auth') {
        const reason = `${last.code}: ${last.message} (a rejected credential is not retried: each try counts toward the service's lockout)`;
        await this.#record(key, { ok: false, error: last, attention: reason, kind: 'auth' });
        return { key, outcome: 'needs-attention', attempts, detail: reason };
      }
      if (verdict.kind === 'fatal') {
        const reason = `${last.code}: ${last.message}`;
        await this.#record(key, { ok: false, error: last, attention: reason, kind: 'inconsistent' });
        return { key, outcome: 'needs-attention', attempts, detail: reason, fatal: true };
      }
      log.warn(`${key}: attempt ${attempts} failed: ${last.code}: ${last.message}`);
      if (verdict.kind === 'final') break;
    }
    // Stopped (SIGTERM, Ctrl-C) while retrying or mid-rotation: the rotation rolled back because we
    // asked it to, which says nothing about the secret; not a failed run.
    if (signal?.aborted) return { key, outcome: 'skipped', attempts, detail: 'stopping' };
    // The count is read inside the locked update: a `schedule --clear` just before it is not undone.
    const attention = await this.#record(key, {
      ok: false,
      error: last,
      attention: (failures) =>
        failures >= settings.maxFailures
          ? `${failures} failed runs in a row; last: ${last.code}: ${last.message}`
          : undefined,
      kind: 'failures',
    });
    return attention
      ? { key, outcome: 'needs-attention', attempts, detail: attention }
      : { key, outcome: 'failed', attempts, detail: `${last.code}: ${last.message}` };
  }

  /**
   * One rotation, classified: `retry` for failures that changed nothing and may pass later (rolled back,
   * exit 1; the lock held by another rotation), `final` for those a retry cannot fix (config, approvals,
   * a pending recovery), `auth` for a credential the service rejected (in preflight, or at a step that
   * then rolled back: retrying would only add failed logins), `fatal` for an inconsistent state only a
   * human can repair (exit 4).
   */
  async #attempt(
    key: string,
  ): Promise<
    | { kind: 'rotated'; id?: string }
    | { kind: 'retry' | 'final' | 'auth' | 'fatal'; error: { code: string; message: string } }
  > {
    try {
      const r = await this.deps.rotate(key);
      if (r.outcome === 'rotated') return { kind: 'rotated', ...(r.id ? { id: r.id } : {}) };
      const error = r.error ?? { code: 'ERR_ROTATION_FAILED', message: `outcome ${r.outcome}` };
      if (r.outcome === 'needs-attention') return { kind: 'fatal', error };
      return { kind: error.code === AUTH_REJECTED ? 'auth' : 'retry', error };
    } catch (e) {
      const code = exitCodeOf(e);
      const error = {
        code: e instanceof RekeyError ? e.code : 'ERR_INTERNAL',
        message: safeMessage(e),
      };
      if (code === EXIT.needsAttention) return { kind: 'fatal', error };
      if (error.code === AUTH_REJECTED) return { kind: 'auth', error };
      if (code === EXIT.failedRolledBack || (e instanceof RekeyError && e.code === 'ERR_LOCKED')) {
        return { kind: 'retry', error };
      }
      return { kind: 'final', error };
    }
  }

  /**
   * Records an attempt in one locked update of schedule.json. `attention` is the reason for "needs
   * attention", or a function of the failure count (this one included) as read under the lock.
   * Returns the reason recorded, if any.
   */
  async #record(
    key: string,
    r:
      | { ok: true }
      | {
          ok: false;
          error: { code: string; message: string };
          attention?: string | ((failures: number) => string | undefined);
          kind?: AttentionKind;
        },
  ): Promise<string | undefined> {
    const now = this.deps.clock.now().toISOString();
    let reason: string | undefined;
    await this.deps.store.update((f) => {
      const prev = f.secrets[key] ?? { consecutiveFailures: 0 };
      if (r.ok) {
        f.secrets[key] = { consecutiveFailures: 0, lastAttemptAt: now, lastSuccessAt: now };
        return;
      }
      const failures = prev.consecutiveFailures + 1;
      reason = typeof r.attention === 'function' ? r.attention(failures) : r.attention;
      f.secrets[key] = {
        ...prev,
        consecutiveFailures: failures,
        lastAttemptAt: now,
        lastError: r.error,
        ...(reason ? { needsAttention: { since: now, reason, ...(r.kind ? { kind: r.kind } : {}) } } : {}),
      };
    }, this.deps.clock.now());
    return reason;
  }

  #logResult(r: KeyResult): void {
    const { log } = this.deps;
    const what = `${r.key}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`;
    if (r.outcome === 'rotated') log.info(`${what}${r.rotationId ? `, rotation ${r.rotationId}` : ''}`);
    else if (r.outcome === 'skipped') log.debug(what);
    else if (r.outcome === 'needs-attention') log.error(`${what}: no more unattended attempts until cleared`);
    else log.warn(what);
  }
}
