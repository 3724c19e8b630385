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
import { registerSecretValues } from '../config/load.js';
import type { Trigger } from '../config/schema.js';
import {
  assertLeadsTo,
  assertUnique,
  checkEnvFileFolder,
  checkGit,
  type EnvChange,
  editEnv,
  envValues,
  formatBackupTime,
  readEnvFile,
  writeBackup,
  writeEnvFile,
} from '../envfile/index.js';
import { RekeyError } from '../lib/errors.js';
import { faultPoint } from '../lib/faults.js';
import { removeStaleTemps, resolveSymlink } from '../lib/fsx.js';
import { sha256 } from '../lib/hash.js';
import { acquireLock } from '../lib/lock.js';
import { redactor, safeMessage } from '../lib/redact.js';
import { currentEnv, deployNow, envFileModeOf } from './deploy-step.js';
import { evictionReport } from './eviction.js';
import { JOURNAL_VERSION, type Journal, type JournalMeta, JournalStore } from './journal.js';
import { buildPlan, type Plan } from './plan.js';
import type { PlanNote, SessionInvalidator, Target, TargetContext, Values } from './ports.js';
import { rollBack } from './rollback.js';
import {
  asRekeyError,
  beforeClose,
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
  readonly env: ReadonlyMap<string, string>;
  readonly envText: string;
  /** The file the env file path led to at preflight (symlinks followed): the only file rekey writes. */
  readonly envRealPath: string;
  readonly sessions?: SessionInvalidator;
  /** Per key: what inspecting the live service found (plan only). */
  readonly notes: Readonly<Record<string, readonly PlanNote[]>>;
  /** Per key: the current credential's check, 'ok' or the redacted failure. */
  readonly current: Readonly<Record<string, string>>;
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
  const { loaded } = deps;
  await checkGit(loaded.envFile, { allowUnignored: deps.allowUnignored ?? false });
  await checkEnvFileFolder(loaded.envFile);
  const envFile = await readEnvFile(loaded.envFile);
  const env = envValues(envFile.doc);
  for (const s of loaded.config.secrets) registerSecretValues(s, env);
  const targets = await deps.makeTargets(env);
  const sessions = await deps.makeSessions?.(env);
  const plan = buildPlan({
    secrets: targets.map((t) => {
      const d = t.describe(req.trigger);
      return {
        key: t.key,
        type: t.type,
        overlap: d.overlap,
        fileOnly: d.fileOnly,
        hasAfterDeploy: t.afterDeploy !== undefined,
        actions: d.actions,
      };
    }),
    trigger: req.trigger,
    ...(req.only ? { only: req.only } : {}),
    ...(req.force ? { force: true } : {}),
    ...(deps.deployer ? { deploy: { command: deps.deployer.command } } : {}),
    ...(sessions
      ? {
          sessions: {
            describe: sessions.describe(),
            ...(sessions.on ? { on: sessions.on } : {}),
          },
        }
      : {}),
    verifyChecks: deps.verifier.checks,
  });
  const selected = plan.keys.map((k) => targets.find((t) => t.key === k)!);
  assertUnique(
    envFile.doc,
    selected.flatMap((t) => t.keys),
    path.basename(loaded.envFile),
  );

  const ctx: TargetContext = { trigger: req.trigger, log: deps.log };
  const notes: Record<string, PlanNote[]> = {};
  const current: Record<string, string> = {};
  for (const t of selected) {
    const cur = valuesOf(t, env);
    if (options.inspect) {
      notes[t.key] = await t
        .inspect(ctx, cur)
        .catch((e) => [{ level: 'warn' as const, text: `inspect failed: ${safeMessage(e)}` }]);
    }
    if (options.checkCurrent !== false) {
      try {
        await t.checkCurrent(ctx, cur);
        current[t.key] = 'ok';
      } catch (e) {
        current[t.key] = `${asRekeyError(e).code}: ${safeMessage(e)}`;
      }
    }
  }
  return {
    plan,
    targets,
    selected,
    env,
    envText: envFile.text,
    envRealPath: envFile.realPath,
    ...(sessions ? { sessions } : {}),
    notes,
    current,
  };
}

/** Throws ERR_PREFLIGHT (nothing changed) when a target rejects its current credential. */
function assertCurrentAccepted(pre: Preflight): void {
  const failed = Object.entries(pre.current).filter(([, v]) => v !== 'ok');
  if (failed.length === 0) return;
  const [key, why] = failed[0]!;
  const code = why.split(':')[0] as RekeyError['code'];
  throw new RekeyError(
    code === 'ERR_TARGET_AUTH' || code === 'ERR_TARGET_UNREACHABLE' || code === 'ERR_ENVFILE_MISSING_KEY'
      ? code
      : 'ERR_PREFLIGHT',
    `preflight: ${key} does not accept its current credential (${why.slice(why.indexOf(':') + 2)}); nothing was changed`,
    { details: failed.slice(1).map(([k, v]) => `${k}: ${v}`) },
  );
}

/** A temp file in the state directory older than this was left by a killed process. */
const STALE_TEMP_AGE_MS = 60_000;

/** Removes temp files a killed rekey left beside the env file and in the state directory (under the lock). */
export async function removeTempsOf(deps: EngineDeps): Promise<void> {
  const real = await resolveSymlink(deps.loaded.envFile);
  let n = await removeStaleTemps(path.dirname(real), path.basename(real));
  // Other processes (approvals, audit appends, the scheduler) write in the state directory without
  // the stack's lock: only temp files older than any write in progress count as left behind.
  for (const dir of ['', 'history', 'logs'])
    n += await removeStaleTemps(path.join(deps.loaded.stateDir, dir), undefined, STALE_TEMP_AGE_MS);
  if (n > 0) deps.progress.note(`removed ${n} temp file${n === 1 ? '' : 's'} left by an interrupted write`);
}

/** The env-file values a target owns (missing keys as empty strings). */
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
  const store = new JournalStore(deps.loaded.stateDir);
  const lock = await acquireLock(deps.loaded.stateDir, req.fixedValues ? 'rollback' : 'rotate');
  let run: Run | undefined;
  try {
    if ((await store.read()) !== undefined) {
      throw new RekeyError('ERR_RECOVERY_PENDING', 'an interrupted rotation is pending');
    }
    await removeTempsOf(deps);
    const pre = await preflight(deps, req);
    assertCurrentAccepted(pre);
    deps.progress.note(
      `${req.fixedValues ? 'rolling back' : 'rotating'} ${pre.plan.keys.join(', ')} of stack ${deps.loaded.stack} (trigger ${req.trigger})`,
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
      run = await prepare(deps, store, pre, req);
    } catch (e) {
      // No journal, nothing changed: running the same command again must be allowed.
      if ((await store.read().catch(() => 'unreadable')) === undefined) await deps.hooks?.notStarted?.(e);
      throw e;
    }
    return await execute(run);
  } finally {
    // A failure to remove the lock must not hide the rotation's own outcome or error.
    await lock
      .release()
      .catch((e) => deps.progress.note(`warning: could not remove the lock: ${safeMessage(e)}`));
  }
}

async function prepare(
  deps: EngineDeps,
  store: JournalStore,
  pre: Preflight,
  req: RotateRequest,
): Promise<Run> {
  const now = (deps.now ?? (() => new Date()))();
  const id = `${formatBackupTime(now)}-${randomBytes(3).toString('hex')}`;
  const ctx: TargetContext = { trigger: req.trigger, log: deps.log };

  deps.progress.begin('prepare', 'generate new values, back up the env file, write the journal');
  const entries = pre.selected.map((t) => {
    const cur = valuesOf(t, pre.env);
    const next = req.fixedValues ? fixed(t, req.fixedValues) : t.generate(ctx, cur);
    for (const k of t.secretKeys) redactor.add(k, next[k]);
    return { t, cur, next };
  });
  const changes: EnvChange[] = entries.flatMap(({ t, next }) =>
    Object.entries(next).map(([key, value]) => ({ key, value, after: t.key })),
  );
  const envFile = await readEnvFile(deps.loaded.envFile);
  if (envFile.text !== pre.envText || envFile.realPath !== pre.envRealPath) {
    throw new RekeyError(
      'ERR_ENVFILE_CHANGED',
      'the env file changed during preflight; nothing was changed',
      {
        hint: 'Run the command again.',
      },
    );
  }
  const after = editEnv(envFile.doc, changes, { annotation: now });
  // The backup must hold exactly the bytes the new text was derived from.
  const backupPath = await writeBackup(pre.envRealPath, now, { expected: envFile.text });
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
    envFile: envFile.realPath,
    backupPath,
    envBeforeSha256: sha256(envFile.text),
    envAfterSha256: sha256(after),
    annotation: now.toISOString(),
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
  deps.progress.end('prepare', 'ok', `backup ${path.basename(backupPath)}`);
  const run = new Run(deps, store, journal, new Map(pre.targets.map((t) => [t.key, t])));
  run.warnings.push(...pre.plan.warnings);
  pendingText.set(run, after);
  return run;
}

/** The new env text, kept in memory only (the journal holds its hash). */
const pendingText = new WeakMap<Run, string>();

function fixed(t: Target, values: ReadonlyMap<string, string>): Values {
  return Object.fromEntries(t.keys.map((k) => [k, values.get(k) ?? '']));
}

/** Executes the pending steps of a run in order; any failure before finish rolls back. */
export async function execute(run: Run): Promise<RotationResult> {
  const steps = run.journal.steps.filter((s) => s.state !== 'done' && s.state !== 'skipped');
  for (const s of steps) {
    const title = stepTitle(s.id);
    try {
      await runStep(run, s.id, title);
    } catch (e) {
      const err = asRekeyError(e);
      if (s.phase === 'finish') return needsAttentionAfterFinish(run, s.id, err);
      return rollBack(run, err, s.id);
    }
  }
  const eviction = await evictionReport(run.journal, (key) => run.target(key), run.ctx);
  const result = run.result('rotated', eviction ? { eviction } : {});
  const held = await beforeClose(run, result);
  if (held) return held;
  await faultPoint('close', 'begin');
  const archived = await run.store.close(run.journal, 'rotated');
  run.deps.log.debug(`journal archived at ${archived}`);
  await run.deps.hooks?.completed?.(result, run.journal);
  return result;
}

function stepTitle(id: string): string {
  const [phase, key] = id.split(':');
  return key ? `${phase} ${key}` : (phase ?? id);
}

async function runStep(run: Run, id: string, title: string): Promise<void> {
  const [phase, key] = id.split(':') as [string, string | undefined];
  const j = run.journal;
  switch (phase) {
    case 'stage':
    case 'test': {
      const jt = run.journalTarget(key!);
      const t = run.target(key!);
      await run.step(id, title, async () => {
        if (phase === 'stage') {
          jt.state = 'staging';
          await run.save();
          await t.stage(run.targetCtx(jt), jt.old, jt.new);
          jt.state = 'staged';
        } else {
          await t.test(run.ctx, jt.new);
          jt.state = 'tested';
        }
      });
      return;
    }
    case 'commit':
      await run.step(id, 'write the env file atomically', () => commit(run));
      return;
    case 'deploy': {
      const deployer = run.deps.deployer;
      if (!deployer) return run.skip(id, 'deploy', 'no deploy command configured');
      await run.step(id, `deploy: ${deployer.command}`, () => deployNow(run, deployer, 'deploy'));
      return;
    }
    case 'invalidate': {
      if (key === 'sessions') {
        const sessions = await run.deps.makeSessions?.(await currentEnv(run));
        if (!j.purgeSessions || !sessions)
          return run.skip(id, 'invalidate sessions', 'not configured for this trigger');
        await run.step(id, 'invalidate sessions', async () =>
          sessions.invalidate(run.ctx, await currentEnv(run)),
        );
        return;
      }
      const jt = run.journalTarget(key!);
      const t = run.target(key!);
      await run.step(id, title, async () => {
        await t.afterDeploy?.(run.ctx, jt.old, jt.new);
      });
      return;
    }
    case 'verify':
      await run.step(id, 'verify: the validation table', () => verifyNew(run));
      return;
    case 'finish': {
      const jt = run.journalTarget(key!);
      const t = run.target(key!);
      await run.step(
        id,
        title,
        async () => {
          await t.finish(run.ctx, jt.old, jt.new);
          jt.state = 'finished';
        },
        { forward: false },
      );
      return;
    }
    default:
      throw new RekeyError('ERR_JOURNAL_CORRUPT', `unknown step ${id} in the journal`);
  }
}

async function commit(run: Run): Promise<string> {
  const j = run.journal;
  // The env file was resolved once, at preflight (the journal holds that real path): a symlink
  // swapped since must not send the new values to another file. Checked before anything is read.
  await assertLeadsTo(run.deps.loaded.envFile, j.envFile);
  const { text: nowText } = await readEnvFile(j.envFile);
  const nowSha = sha256(nowText);
  if (nowSha === j.envAfterSha256) return 'already committed';
  const text = pendingText.get(run);
  if (text === undefined) throw new RekeyError('ERR_INTERNAL', 'commit without the new env text');
  if (nowSha !== j.envBeforeSha256) {
    throw new RekeyError(
      'ERR_ENVFILE_CHANGED',
      'the env file was edited during the rotation; it was not replaced',
      {
        hint: 'Rotate again once nobody else edits the env file.',
      },
    );
  }
  const control = run.deps.control;
  const write = () =>
    writeEnvFile(run.deps.loaded.envFile, text, {
      mode: envFileModeOf(run),
      realPath: j.envFile,
    });
  await (control ? control.criticalSection('writing the env file', write) : write());
  return `${path.basename(run.deps.loaded.envFile)} replaced`;
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

async function needsAttentionAfterFinish(run: Run, stepId: string, err: RekeyError): Promise<RotationResult> {
  const key = stepId.split(':')[1];
  const e = new RekeyError(
    'ERR_NEEDS_ATTENTION',
    `the new values are live and verified, but retiring the old ${key} failed: ${err.message}`,
    {
      hint: 'Fix the cause, then run `rekey recover` to finish retiring the old credentials.',
      details: [
        'env file: new values (committed)',
        `${key}: new value accepted; old value may still be accepted`,
        'then: rekey recover',
      ],
    },
  );
  const result = run.result('needs-attention', { error: errorInfo(e) });
  await run.deps.hooks?.completed?.(result, run.journal);
  return result;
}
