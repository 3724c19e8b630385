/**
 * The rotation protocol (DESIGN.md): preflight → prepare → stage → test → commit → deploy →
 * invalidate → verify → finish, any failure in stage..verify rolled back (rollback.ts), a killed
 * process finished or undone by `recover` (recover.ts).
 *
 * Invariants kept here:
 * - the journal durably holds old and new values before any service learns a new one (prepare);
 * - the backup durably holds the old env file before it is replaced (prepare, before commit);
 * - old credentials are retired (finish) only after every check passed (verify);
 * - the env file is replaced atomically, only if it still holds exactly what the backup holds.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Trigger } from '../config/schema.js';
import { RekeyError } from '../lib/errors.js';
import { faultPoint } from '../lib/faults.js';
import { removeStaleTemps } from '../lib/fsx.js';
import { mapLimit } from '../lib/limit.js';
import { acquireLock } from '../lib/lock.js';
import { redactor, safeMessage } from '../lib/redact.js';
import { compactUtc } from '../lib/time.js';
import { deployNow } from './deploy-step.js';
import { evictionReport } from './eviction.js';
import {
  JOURNAL_VERSION,
  type Journal,
  type JournalMeta,
  type JournalStep,
  JournalStore,
} from './journal.js';
import { buildPlan, type Plan } from './plan.js';
import {
  closeShared,
  type PlanNote,
  type SessionInvalidator,
  type SharedMemo,
  type StoreChange,
  type StoreSnapshot,
  type Target,
  type TargetContext,
  type Values,
} from './ports.js';
import { rollBack } from './rollback.js';
import {
  asRekeyError,
  beforeClose,
  DEFAULT_CONCURRENCY,
  type EngineDeps,
  errorInfo,
  type RotationResult,
  Run,
  verifyStep,
} from './run.js';

export interface RotateRequest {
  readonly trigger: Trigger;
  readonly only?: readonly string[];
  readonly force?: boolean;
  readonly meta?: JournalMeta;
  /** `rekey rollback`: rotate to these values (a backup's) instead of generated ones. */
  readonly fixedValues?: ReadonlyMap<string, string>;
}

export interface Preflight {
  readonly plan: Plan;
  readonly targets: readonly Target[];
  readonly selected: readonly Target[];
  /** What the store held at preflight (prepare refuses when it changed since). */
  readonly snapshot: StoreSnapshot;
  /** The store's values at preflight (`snapshot.values`). */
  readonly env: ReadonlyMap<string, string>;
  readonly sessions?: SessionInvalidator;
  /** Per key: what inspecting the live service found (plan only). */
  readonly notes: Readonly<Record<string, readonly PlanNote[]>>;
  /** Per key: the current credential's check, 'ok' or the error it failed with (its message redacted). */
  readonly current: Readonly<Record<string, 'ok' | RekeyError>>;
}

/**
 * One line for a current credential's check: `ok`, or the failure's code and redacted message.
 *
 * @example
 * currentText(pre.current.REDIS_PASSWORD); // 'ERR_TARGET_AUTH: WRONGPASS …'
 */
export function currentText(c: 'ok' | RekeyError): string {
  return c === 'ok' ? 'ok' : `${c.code}: ${safeMessage(c)}`;
}

/**
 * The read-only checks and the plan (`rekey plan`, and the first phase of `rotate`). Changes nothing.
 * Throws for what makes a rotation impossible (bad env file, tracked by git, unknown keys).
 */
export async function preflight(
  deps: EngineDeps,
  req: RotateRequest,
  options: { inspect?: boolean; checkCurrent?: boolean } = {},
): Promise<Preflight> {
  const { store } = deps;
  await store.check();
  await deps.deployer?.check?.();
  const snapshot = await store.read();
  const env = snapshot.values;
  const targets = await deps.makeTargets(env);
  // Before anything can print: the values of every configured target's secret keys.
  for (const t of targets) for (const k of t.secretKeys) redactor.add(k, env.get(k));
  const sessions = await deps.makeSessions?.(env);
  const built = buildPlan({
    secrets: targets.map((t) => {
      const d = t.describe(req.trigger);
      return {
        key: t.key,
        type: t.type,
        overlap: d.overlap,
        fileOnly: d.fileOnly,
        hasAfterDeploy: t.afterDeploy !== undefined,
        actions: d.actions,
        reads: readsOf(t),
      };
    }),
    trigger: req.trigger,
    ...(req.only ? { only: req.only } : {}),
    ...(req.force ? { force: true } : {}),
    ...(deps.deployer
      ? {
          deploy: {
            command: deps.deployer.command,
            ...(deps.deployer.title === undefined ? {} : { title: deps.deployer.title }),
          },
        }
      : {}),
    ...(sessions
      ? {
          sessions: {
            describe: sessions.describe(),
            ...(sessions.on ? { on: sessions.on } : {}),
          },
        }
      : {}),
    verifyChecks: deps.verifier.checks,
    store: { label: store.label, commitTitle: store.titles.commit },
  });
  // What else acts on the store (plan only): its warnings join the plan's.
  const storeNotes = options.inspect
    ? await (store.inspect?.() ?? Promise.resolve([])).catch((e): PlanNote[] => [
        { level: 'warn', text: `inspecting the ${store.label} failed: ${safeMessage(e)}` },
      ])
    : [];
  const plan: Plan = {
    ...built,
    warnings: [...built.warnings, ...storeNotes.filter((n) => n.level === 'warn').map((n) => n.text)],
  };
  const selected = plan.keys.map((k) => targets.find((t) => t.key === k)!);
  store.checkKeys(
    snapshot,
    selected.flatMap((t) => t.keys),
  );

  // One memo for the checks of every target (one admin check per server): closed after them.
  const shared: SharedMemo = new Map();
  const ctx: TargetContext = { trigger: req.trigger, log: deps.log, shared };
  const notes: Record<string, PlanNote[]> = {};
  const current: Record<string, 'ok' | RekeyError> = {};
  // Each target's checks are read-only and independent: run up to `concurrency` at once, results
  // kept in config order.
  const found = await mapLimit(selected, deps.concurrency ?? DEFAULT_CONCURRENCY, async (t) => {
    const cur = valuesOf(t, env);
    const note = options.inspect
      ? await t
          .inspect(ctx, cur)
          .catch((e) => [{ level: 'warn' as const, text: `inspect failed: ${safeMessage(e)}` }])
      : undefined;
    let check: 'ok' | RekeyError | undefined;
    if (options.checkCurrent !== false) {
      try {
        await t.checkCurrent(ctx, cur);
        check = 'ok';
      } catch (e) {
        check = asRekeyError(e);
      }
    }
    return { note, check };
  }).finally(() => closeShared(shared));
  selected.forEach((t, i) => {
    const { note, check } = found[i]!;
    if (note !== undefined) notes[t.key] = note;
    if (check !== undefined) current[t.key] = check;
  });
  return {
    plan,
    targets,
    selected,
    snapshot,
    env,
    ...(sessions ? { sessions } : {}),
    notes,
    current,
  };
}

/** Throws ERR_PREFLIGHT (nothing changed) when a target rejects its current credential. */
function assertCurrentAccepted(pre: Preflight): void {
  const failed = Object.entries(pre.current).flatMap(([k, v]) => (v === 'ok' ? [] : [[k, v] as const]));
  if (failed.length === 0) return;
  const [key, err] = failed[0]!;
  const { code } = err;
  throw new RekeyError(
    code === 'ERR_TARGET_AUTH' || code === 'ERR_TARGET_UNREACHABLE' || code === 'ERR_ENVFILE_MISSING_KEY'
      ? code
      : 'ERR_PREFLIGHT',
    `preflight: ${key} does not accept its current credential (${safeMessage(err)}); nothing was changed`,
    { details: failed.slice(1).map(([k, v]) => `${k}: ${currentText(v)}`) },
  );
}

/** A temp file in the state directory older than this was left by a killed process. */
const STALE_TEMP_AGE_MS = 60_000;

/** Removes temp files a killed rekey left beside the store (the env file) and in the state directory (under the lock). */
export async function removeTempsOf(deps: EngineDeps): Promise<void> {
  let n = (await deps.store.cleanUp?.()) ?? 0;
  // Other processes (approvals, audit appends, the scheduler) write in the state directory without
  // the stack's lock: only temp files older than any write in progress count as left behind.
  for (const dir of ['', 'history', 'logs'])
    n += await removeStaleTemps(path.join(deps.stateDir, dir), undefined, STALE_TEMP_AGE_MS);
  if (n > 0) deps.progress.note(`removed ${n} temp file${n === 1 ? '' : 's'} left by an interrupted write`);
}

/** The store's values a target owns (missing keys as empty strings). */
export function valuesOf(t: Target, env: ReadonlyMap<string, string>): Values {
  return Object.fromEntries(t.keys.map((k) => [k, env.get(k) ?? '']));
}

/**
 * A whole rotation under the stack's lock. Returns the result for rotated, rolled-back and
 * needs-attention outcomes; throws (having changed nothing) when preflight refuses.
 *
 * @example
 * const result = await rotate(deps, { trigger: 'scheduled' });
 * result.outcome; // 'rotated'
 */
export async function rotate(deps: EngineDeps, req: RotateRequest): Promise<RotationResult> {
  const store = new JournalStore(deps.stateDir);
  // The lock across machines first (a second pod, with its own disk or a shared one, is refused
  // here: ERR_LOCKED; a Lease left by a killed run, ERR_LOCK_STALE, is only taken over by `rekey
  // recover`). Holding it, a lock file left by another host (a killed pod) is known stale.
  await deps.stackLock?.acquire();
  let lock: Awaited<ReturnType<typeof acquireLock>>;
  try {
    lock = await acquireLock(deps.stateDir, req.fixedValues ? 'rollback' : 'rotate', {
      otherHostsEnded: deps.stackLock !== undefined,
    });
  } catch (e) {
    await releaseStackLock(deps);
    throw e;
  }
  let run: Run | undefined;
  try {
    if ((await store.read()) !== undefined) {
      throw new RekeyError('ERR_RECOVERY_PENDING', 'an interrupted rotation is pending');
    }
    await removeTempsOf(deps);
    const pre = await preflight(deps, req);
    assertCurrentAccepted(pre);
    deps.progress.note(
      `${req.fixedValues ? 'rolling back' : 'rotating'} ${pre.plan.keys.join(', ')} of stack ${deps.stack} (trigger ${req.trigger})`,
    );
    for (const w of pre.plan.warnings) deps.progress.note(`warning: ${w}`);
    await deps.hooks?.authorize?.({
      plan: pre.plan,
      meta: { ...req.meta, ...(req.only ? { only: [...req.only] } : {}) },
    });
    try {
      if (deps.control?.interrupted) {
        throw new RekeyError('ERR_ABORTED', 'interrupted before anything changed');
      }
      assertStackLocked(deps);
      run = await prepare(deps, store, pre, req);
    } catch (e) {
      // No journal, nothing changed: running the same command again must be allowed.
      if ((await store.read().catch(() => 'unreadable')) === undefined) await deps.hooks?.notStarted?.(e);
      throw e;
    }
    try {
      deps.hooks?.started?.(run.journal);
    } catch {
      // a notification must never stop a rotation
    }
    return await execute(run);
  } finally {
    // A failure to remove the lock must not hide the rotation's own outcome or error.
    await lock
      .release()
      .catch((e) => deps.progress.note(`warning: could not remove the lock: ${safeMessage(e)}`));
    await releaseStackLock(deps);
  }
}

/** Throws why the stack lock (the Lease) is no longer ours: a run never goes on unlocked. */
function assertStackLocked(deps: EngineDeps): void {
  const lost = deps.stackLock?.lost();
  if (lost !== undefined) throw lost;
}

/** Gives the stack lock up; a failure is a warning, never the run's outcome (recover frees it later). */
export async function releaseStackLock(deps: EngineDeps): Promise<void> {
  const lock = deps.stackLock;
  if (lock === undefined) return;
  await lock
    .release()
    .catch((e) =>
      deps.progress.note(
        `warning: could not release the ${lock.name} (${safeMessage(e)}); once it expires, the next rotation asks for \`rekey recover\`, which frees it`,
      ),
    );
}

async function prepare(
  deps: EngineDeps,
  store: JournalStore,
  pre: Preflight,
  req: RotateRequest,
): Promise<Run> {
  const now = (deps.now ?? (() => new Date()))();
  const id = `${compactUtc(now)}-${randomBytes(3).toString('hex')}`;
  const ctx: TargetContext = { trigger: req.trigger, log: deps.log };

  deps.progress.begin('prepare', `generate new values, back up the ${deps.store.label}, write the journal`);
  const entries = pre.selected.map((t) => {
    const cur = valuesOf(t, pre.env);
    const next = req.fixedValues ? fixed(t, req.fixedValues) : t.generate(ctx, cur);
    for (const k of t.secretKeys) redactor.add(k, next[k]);
    return { t, cur, next };
  });
  // Throws (nothing changed) when the store changed since preflight; keeps the old values durably.
  const prepared = await deps.store.prepare(pre.snapshot, storeChanges(entries), now);
  await faultPoint('prepare', 'begin');
  const journal: Journal = {
    version: JOURNAL_VERSION,
    id,
    kind: req.fixedValues ? 'rollback' : 'rotate',
    trigger: req.trigger,
    status: 'running',
    createdAt: now.toISOString(),
    pid: process.pid,
    host: os.hostname(),
    store: prepared.record,
    ...(prepared.backupFile === undefined ? {} : { backupFile: prepared.backupFile }),
    purgeSessions: pre.plan.purgeSessions,
    steps: pre.plan.steps.map((s) => ({
      id: s.id,
      phase: s.phase,
      ...(s.target ? { target: s.target } : {}),
      state: s.id === 'prepare' ? 'done' : 'pending',
    })),
    targets: entries.map(({ t, cur, next }) => ({
      key: t.key,
      type: t.type,
      state: 'pending',
      old: cur,
      new: next,
    })),
    meta: { ...req.meta, ...(req.only ? { only: [...req.only] } : {}) },
  };
  await store.write(journal);
  await faultPoint('prepare', 'end');
  deps.progress.end('prepare', 'ok', prepared.summary);
  const run = new Run(deps, store, journal, new Map(pre.targets.map((t) => [t.key, t])));
  run.warnings.push(...pre.plan.warnings);
  return run;
}

/**
 * What a rotation writes to the store, from the journal's (or prepare's) targets: every new value,
 * a new key placed after its secret's primary key. Derived the same way in every process, so a
 * commit after a crash writes exactly what prepare recorded.
 */
function storeChanges(
  entries: ReadonlyArray<{ readonly t: { readonly key: string }; readonly next: Values }>,
) {
  return entries.flatMap(({ t, next }): StoreChange[] =>
    Object.entries(next).map(([key, value]) => ({ key, value, after: t.key })),
  );
}

function fixed(t: Target, values: ReadonlyMap<string, string>): Values {
  return Object.fromEntries(t.keys.map((k) => [k, values.get(k) ?? '']));
}

/**
 * Executes the pending steps of a run in order; any failure before finish rolls back. Consecutive
 * steps of one phase on different targets run concurrently, up to `deps.concurrency` at once (see
 * {@link batchesOf}); every step is still journaled "running" before its work and "done" after.
 */
export async function execute(run: Run): Promise<RotationResult> {
  const steps = run.journal.steps.filter((s) => s.state !== 'done' && s.state !== 'skipped');
  const limit = run.deps.concurrency ?? DEFAULT_CONCURRENCY;
  for (const batch of batchesOf(run, steps)) {
    const failure = await runBatch(run, batch, limit).finally(() => closeShared(run.shared));
    if (failure !== undefined) {
      const { step, err } = failure;
      if (step.phase === 'finish') return needsAttentionAfterFinish(run, step, err);
      return rollBack(run, err, step.id);
    }
  }
  const eviction = await evictionReport(
    run.journal,
    (key) => run.target(key),
    run.ctx,
    `the ${run.deps.store.label}`,
  );
  const result = run.result('rotated', eviction ? { eviction } : {});
  const held = await beforeClose(run, result);
  if (held) return held;
  await faultPoint('close', 'begin');
  const archived = await run.store.close(run.journal, 'rotated');
  run.deps.log.debug(`journal archived at ${archived}`);
  await run.deps.hooks?.completed?.(result, run.journal);
  return result;
}

/** The step's target; ERR_JOURNAL_CORRUPT for a step of a target's phase that names none. */
function targetOf(s: JournalStep): string {
  if (s.target === undefined)
    throw new RekeyError('ERR_JOURNAL_CORRUPT', `step ${s.id} of the journal names no target`);
  return s.target;
}

/**
 * Runs one batch: its lanes (each a target's steps, in order) with at most `limit` lanes in flight.
 * After a failure no new step starts; the steps already running are let finish (each journals its
 * own end), then the first failure is returned for the rollback, which reverts every target that
 * left `pending` (staged or mid-stage alike).
 */
async function runBatch(
  run: Run,
  lanes: readonly (readonly JournalStep[])[],
  limit: number,
): Promise<{ step: JournalStep; err: RekeyError } | undefined> {
  let failure: { step: JournalStep; err: RekeyError } | undefined;
  await mapLimit(lanes, lanes.length === 1 ? 1 : limit, async (lane) => {
    for (const s of lane) {
      if (failure !== undefined) return;
      try {
        // The safe point between steps: a lost stack lock stops the run here (rolled back after).
        assertStackLocked(run.deps);
        await runStep(run, s);
      } catch (e) {
        failure ??= { step: s, err: asRekeyError(e) };
        return;
      }
    }
  });
  return failure;
}

/**
 * The pending steps cut into batches of lanes. A lane is one target's consecutive steps; a batch is
 * consecutive lanes of the same kind on different targets, run concurrently:
 * - overlap targets' stages, then their tests (the old credential stays valid meanwhile);
 * - single-password targets' stage+test lanes (each still tested right after its own stage; all of
 *   them after every overlap target, right before the commit, as the plan orders them);
 * - the targets' invalidate steps, and their finish steps.
 * Everything else (commit, deploy, the session purge, verify) is a batch of its own, as is a step
 * of a `type: command` target and one whose target rekey.yaml no longer configures (its own step
 * reports that). Two targets of which one reads a key the other writes (an admin password rotated
 * by another secret) are never in one batch: the plan puts the reader's step first (readersFirst).
 */
export function batchesOf(run: Run, steps: readonly JournalStep[]): JournalStep[][][] {
  // Targets of which one reads a key another writes (an admin password rotated by another secret);
  // usually none, so the pairwise check below stays off the common path (1000 roles, one batch).
  const writers = new Map([...run.targets.values()].flatMap((t) => t.keys.map((k) => [k, t.key] as const)));
  const involved = new Set<string>();
  for (const t of run.targets.values()) {
    for (const k of readsOf(t)) {
      const writer = writers.get(k);
      if (writer !== undefined && writer !== t.key) involved.add(t.key).add(writer);
    }
  }
  /** Whether one of the two reads a key the other writes: never in one batch. */
  const related = (a: string, b: string) => {
    if (!involved.has(a) || !involved.has(b)) return false;
    const reads = (x: string, y: string) => {
      const tx = run.targets.get(x);
      return tx !== undefined && readsOf(tx).some((k) => writers.get(k) === y);
    };
    return reads(a, b) || reads(b, a);
  };
  const lanes: JournalStep[][] = [];
  for (const s of steps) {
    const last = lanes.at(-1);
    const prev = last?.at(-1);
    if (
      last !== undefined &&
      prev !== undefined &&
      s.target !== undefined &&
      prev.target === s.target &&
      prev.phase === 'stage' &&
      s.phase === 'test'
    )
      last.push(s);
    else lanes.push([s]);
  }
  const batches: JournalStep[][][] = [];
  let kind: string | undefined;
  let keys = new Set<string>();
  for (const lane of lanes) {
    const k = laneKind(run, lane);
    const key = lane[0]?.target;
    const batch = batches.at(-1);
    if (
      k !== undefined &&
      k === kind &&
      batch !== undefined &&
      key !== undefined &&
      !keys.has(key) &&
      !(involved.has(key) && [...keys].some((other) => related(key, other)))
    ) {
      batch.push(lane);
      keys.add(key);
    } else {
      batches.push([lane]);
      kind = k;
      keys = new Set(key === undefined ? [] : [key]);
    }
  }
  return batches;
}

/** The keys a target reads but does not write (its `admin`'s password). */
function readsOf(t: Target): string[] {
  return t.secretKeys.filter((k) => !t.keys.includes(k));
}

/** A lane's kind (lanes of one kind may run together), or undefined for a lane that runs alone. */
function laneKind(run: Run, lane: readonly JournalStep[]): string | undefined {
  const first = lane[0];
  if (first?.target === undefined) return undefined;
  const phases = lane.map((s) => s.phase).join('+');
  if (!['stage', 'test', 'stage+test', 'invalidate', 'finish'].includes(phases)) return undefined;
  const t = run.targets.get(first.target);
  // A `type: command` target runs the user's script, which may not expect a twin beside it.
  if (t === undefined || t.type === 'command') return undefined;
  if (first.phase !== 'stage' && first.phase !== 'test') return phases;
  try {
    return `${phases}/${t.describe(run.journal.trigger).overlap ? 'overlap' : 'single'}`;
  } catch {
    return undefined;
  }
}

async function runStep(run: Run, s: JournalStep): Promise<void> {
  const j = run.journal;
  switch (s.phase) {
    case 'stage':
    case 'test': {
      const key = targetOf(s);
      const jt = run.journalTarget(key);
      const t = run.target(key);
      await run.step(s, `${s.phase} ${key}`, async () => {
        if (s.phase === 'stage') {
          jt.state = 'staging';
          await run.save();
          await t.stage({ ...run.targetCtx(jt), shared: run.shared }, jt.old, jt.new);
          jt.state = 'staged';
        } else {
          await t.test(run.ctx, jt.new);
          jt.state = 'tested';
        }
      });
      return;
    }
    case 'commit':
      await run.step(s, run.deps.store.titles.commit, () => commit(run));
      return;
    case 'deploy': {
      const deployer = run.deps.deployer;
      if (!deployer) return run.skip(s, 'deploy', 'no deploy command configured');
      await run.step(s, `deploy: ${deployer.command}`, () => deployNow(run, deployer, 'deploy'));
      return;
    }
    case 'invalidate': {
      if (s.target === undefined) {
        // The session purge (the plan's `invalidate:sessions`, a step of no target).
        const sessions = await run.deps.makeSessions?.(await run.currentValues());
        if (!j.purgeSessions || !sessions)
          return run.skip(s, 'invalidate sessions', 'not configured for this trigger');
        await run.step(s, 'invalidate sessions', async () =>
          sessions.invalidate(run.ctx, await run.currentValues()),
        );
        return;
      }
      const jt = run.journalTarget(s.target);
      const t = run.target(s.target);
      await run.step(s, `invalidate ${s.target}`, async () => {
        await t.afterDeploy?.(run.ctx, jt.old, jt.new);
      });
      return;
    }
    case 'verify':
      await run.step(s, 'verify: the validation table', () => verifyNew(run));
      return;
    case 'finish': {
      const key = targetOf(s);
      const jt = run.journalTarget(key);
      const t = run.target(key);
      await run.step(
        s,
        `finish ${key}`,
        async () => {
          await t.finish({ ...run.ctx, shared: run.shared }, jt.old, jt.new);
          jt.state = 'finished';
        },
        { forward: false },
      );
      return;
    }
    default:
      throw new RekeyError('ERR_JOURNAL_CORRUPT', `unknown step ${s.id} in the journal`);
  }
}

/** Writes the new values to the store, compare-and-set; journals the store's updated record if any. */
async function commit(run: Run): Promise<string> {
  const j = run.journal;
  const changes = storeChanges(j.targets.map((jt) => ({ t: jt, next: jt.new })));
  const done = await run.deps.store.commit(j.store, changes, run.guard);
  if (done.record !== undefined) {
    j.store = done.record;
    await run.save();
  }
  return done.summary;
}

function verifyNew(run: Run): Promise<string> {
  const targets = run.pairs().map(({ target, cur, next }) => ({
    target,
    next,
    previous: cur,
    retired: !target.describe(run.journal.trigger).overlap,
  }));
  return verifyStep(run, targets, 'verification failed');
}

async function needsAttentionAfterFinish(
  run: Run,
  step: JournalStep,
  err: RekeyError,
): Promise<RotationResult> {
  const key = step.target;
  const e = new RekeyError(
    'ERR_NEEDS_ATTENTION',
    `the new values are live and verified, but retiring the old ${key} failed: ${err.message}`,
    {
      hint: 'Fix the cause, then run `rekey recover` to finish retiring the old credentials.',
      details: [
        `${run.deps.store.label}: new values (committed)`,
        `${key}: new value accepted; old value may still be accepted`,
        'then: rekey recover',
      ],
    },
  );
  const result = run.result('needs-attention', { error: errorInfo(e) });
  await run.deps.hooks?.completed?.(result, run.journal);
  return result;
}
