/**
 * Automatic rollback (DESIGN.md): revert targets in reverse order, restore the env file from the
 * backup (atomically), run the rollback command when a deploy had started, verify the OLD credentials,
 * record the outcome. Every step is idempotent, so `recover` can run it again after a crash.
 *
 * If any of it fails, the journal is kept and the result says which service holds which credential
 * (by key, never by value) and which command completes the repair: exit 4.
 */
import { RekeyError } from '../lib/errors.js';
import { faultPoint } from '../lib/faults.js';
import { safeMessage } from '../lib/redact.js';
import { deployNow } from './deploy-step.js';
import { rollbackStep } from './plan.js';
import { asRekeyError, beforeClose, errorInfo, type RotationResult, type Run, verifyStep } from './run.js';

/**
 * Rolls a run back after `failure` (raised by step `failedStep`).
 *
 * @example
 * return rollBack(run, err, 'verify');
 */
export async function rollBack(run: Run, failure: RekeyError, failedStep: string): Promise<RotationResult> {
  const j = run.journal;
  const first = j.status !== 'rolling-back';
  if (first) {
    j.status = 'rolling-back';
    j.failure = { step: failedStep, code: failure.code, message: failure.message };
    await run.saveBestEffort();
    run.deps.progress.note(`${failedStep} failed: ${failure.message}; rolling back`);
  }
  const problems: string[] = [];
  const state: Record<string, string> = {};

  // 1. Targets, in reverse order of the journal (late-staged single-credential targets first).
  for (const jt of [...j.targets].reverse()) {
    if (jt.state === 'reverted') {
      state[jt.key] = 'old value (reverted)';
      continue;
    }
    if (jt.state === 'pending') {
      state[jt.key] = 'old value (never changed)';
      continue;
    }
    try {
      const t = run.target(jt.key);
      await run.step(
        rollbackStep('revert', jt.key),
        `revert ${jt.key}`,
        async () => {
          jt.state = 'reverting';
          await run.saveBestEffort();
          await t.revert(run.targetCtx(jt, { forward: false }), jt.old, jt.new);
          jt.state = 'reverted';
        },
        { forward: false },
      );
      state[jt.key] = 'old value (reverted)';
    } catch (e) {
      const err = asRekeyError(e);
      problems.push(`${jt.key}: revert failed: ${err.message}`);
      state[jt.key] =
        err.state ?? `UNKNOWN: may hold the new value (kept in the journal); revert failed (${err.code})`;
    }
  }

  // 2. The store (the env file, from the backup).
  const { store } = run.deps;
  try {
    let held: string | undefined;
    await run.step(
      rollbackStep('restore'),
      store.titles.restore,
      async () => {
        const done = await restore(run);
        held = done.held;
        return done.summary;
      },
      { forward: false },
    );
    // Another writer won the compare-and-set: their values stay, and the result says so.
    state[store.label] = held ?? 'old values (restored from the backup)';
    if (held !== undefined) run.warnings.push(`${store.label}: ${held}`);
  } catch (e) {
    const err = asRekeyError(e);
    problems.push(`${store.label}: ${err.message}`);
    state[store.label] = `not restored (${err.code}); ${keptOf(run)}`;
  }

  // 3. The rollback command, when consumers may have been redeployed with new values.
  const deployer = run.deps.deployer;
  const deployStep = j.steps.find((s) => s.id === 'deploy');
  const deployStarted =
    deployStep !== undefined && deployStep.state !== 'pending' && deployStep.state !== 'skipped';
  if (deployer && deployStarted) {
    const command = deployer.rollbackCommand;
    try {
      await run.step(
        rollbackStep('rollback-deploy'),
        `rollback: ${command}`,
        () => deployNow(run, deployer, 'rollback'),
        {
          forward: false,
        },
      );
    } catch (e) {
      const err = asRekeyError(e);
      problems.push(`rollback command: ${err.message}`);
      for (const d of err.details) problems.push(`  ${d}`);
    }
  }

  // 4. The old credentials, verified (skipped when something above failed: the table would only
  // repeat it, and a rejected password costs a Grafana login attempt).
  if (problems.length === 0) {
    try {
      await run.step(rollbackStep('verify-old'), 'verify the old values', () => verifyOld(run), {
        forward: false,
      });
    } catch (e) {
      const err = asRekeyError(e);
      problems.push(`verify old values: ${err.message}`);
      for (const d of err.details) problems.push(`  ${d}`);
    }
  }

  if (problems.length > 0) {
    const e = new RekeyError(
      'ERR_ROLLBACK_FAILED',
      `rollback incomplete after ${failedStep} failed (${failure.code}): ${problems[0]}`,
      {
        details: [
          ...problems.slice(1),
          'what each part holds now:',
          ...Object.entries(state).map(([k, v]) => `  ${k}: ${v}`),
          'to finish: fix the cause above, then run `rekey recover` (it resumes this rollback; safe to repeat)',
        ],
      },
    );
    const result = run.result('needs-attention', { error: errorInfo(e), state });
    await run.deps.hooks?.completed?.(result, j);
    return result;
  }
  const rolledBack = run.result('rolled-back', { error: errorInfo(failure), state });
  const held = await beforeClose(run, rolledBack);
  if (held) return held;
  await faultPoint('close', 'begin');
  try {
    await run.store.close(j, 'rolled-back');
  } catch (e) {
    // Every service is back on its old value; only the journal could not be removed. A later
    // `rekey recover` redoes this (idempotent) rollback and removes it.
    run.journalWriteError ??= safeMessage(e);
  }
  if (run.journalWriteError !== undefined) {
    run.warnings.push(
      `the journal could not be written (${run.journalWriteError}); every service was returned to its old value, but run \`rekey recover\` once the disk has room so the journal is closed`,
    );
  }
  const result = run.result('rolled-back', { error: errorInfo(failure), state });
  await run.deps.hooks?.completed?.(result, j);
  return result;
}

/**
 * Puts the old values back in the store when it holds the new ones; no-op when it holds the old (or
 * another writer's: then `held` says so).
 */
async function restore(run: Run): Promise<{ summary: string; held?: string }> {
  const j = run.journal;
  const old = j.targets.flatMap((jt) =>
    Object.entries(jt.old).map(([key, value]) => ({ key, value, after: jt.key })),
  );
  const next = Object.assign({}, ...j.targets.map((jt) => jt.new));
  const done = await run.deps.store.restore(j.store, old, next, run.guard);
  if (done.record !== undefined) {
    j.store = done.record;
    await run.saveBestEffort();
  }
  return { summary: done.summary, ...(done.held === undefined ? {} : { held: done.held }) };
}

/** Where the store keeps the old values, for the result (a damaged record must not hide the rollback's outcome). */
function keptOf(run: Run): string {
  try {
    return run.deps.store.kept(run.journal.store);
  } catch (e) {
    return `old values: ${safeMessage(e)}`;
  }
}

function verifyOld(run: Run): Promise<string> {
  return verifyStep(
    run,
    run.pairs().map(({ target, cur }) => ({ target, next: cur })),
    'old values not accepted',
  );
}
