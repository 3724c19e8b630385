/**
 * `rekey recover`: finish or undo a rotation a killed process left behind. The store decides
 * (`Store.position`): the new values → roll forward (deploy, invalidate, verify, finish); the old
 * values, or some of each → roll back; anything else → exit 4 (someone edited it). A rollback that was under way is resumed. A deploy or
 * rollback command the killed process left running is waited for (or ended) first. Safe to run
 * any number of times; with nothing pending it only clears a stale lock.
 */

import os from 'node:os';
import { formatDuration } from '../lib/duration.js';
import { ERROR_CODES, type ErrorCode, RekeyError } from '../lib/errors.js';
import { acquireOrTakeOver } from '../lib/lock.js';
import { groupAlive } from '../lib/process-alive.js';
import { settleLeftOver } from '../lib/process-group.js';
import { redactor, safeMessage } from '../lib/redact.js';
import { execute, releaseStackLock, removeTempsOf } from './engine.js';
import { type Journal, JournalStore } from './journal.js';
import { refuseForeignJournal } from './journal-owner.js';
import type { Values } from './ports.js';
import { rollBack } from './rollback.js';
import { type EngineDeps, nothingToDo, type RotationResult, Run } from './run.js';

/**
 * @example
 * const r = await recover(deps);
 * r.outcome; // 'nothing-to-do' | 'rotated' | 'rolled-back' | 'needs-attention'
 */
export async function recover(deps: EngineDeps): Promise<RotationResult> {
  const store = new JournalStore(deps.stateDir);
  // Before the lock is taken over: a journal of another env file is not ours to finish or undo.
  await refuseForeignJournal(await store.read().catch(() => undefined), deps.store, store.file);
  // The lock across machines first: a killed run's Lease is taken over once it expired (its holder
  // stopped renewing without releasing it); a live holder (another pod) is refused: ERR_LOCKED.
  // Holding it, a lock file left by another host (the killed pod, on a shared volume) is stale.
  const stack = await deps.stackLock?.acquire({ takeOverStale: true });
  let taken: Awaited<ReturnType<typeof acquireOrTakeOver>>;
  try {
    taken = await acquireOrTakeOver(deps.stateDir, 'recover', {
      otherHostsEnded: deps.stackLock !== undefined,
    });
  } catch (e) {
    await releaseStackLock(deps);
    throw e;
  }
  const { lock, tookOver } = taken;
  const started = new Date();
  try {
    if (stack?.tookOverFrom)
      deps.progress.note(
        `took over the ${deps.stackLock?.name} of ${stack.tookOverFrom} (expired: it stopped renewing)`,
      );
    if (tookOver)
      deps.progress.note(
        `took over the lock of pid ${tookOver.pid} on ${tookOver.host} (${tookOver.command}, ended)`,
      );
    await removeTempsOf(deps);
    const journal = await store.read();
    if (journal === undefined) return nothingToDo('recover', started);
    await refuseForeignJournal(journal, deps.store, store.file);
    const env = (await deps.store.read()).values;
    const targets = await deps.makeTargets(env);
    // Register the journal's values before anything can print: the secret keys of each target (a
    // role name in `userKey` is not secret); every value of a target the config no longer knows.
    for (const t of journal.targets) {
      const secretKeys = targets.find((x) => x.key === t.key)?.secretKeys;
      for (const [k, v] of [...Object.entries(t.old), ...Object.entries(t.new)]) {
        if (secretKeys === undefined || secretKeys.includes(k)) redactor.add(k, v);
      }
    }
    const run = new Run(deps, store, journal, new Map(targets.map((t) => [t.key, t])));
    deps.progress.note(`recovering rotation ${journal.id} (${journal.kind}, trigger ${journal.trigger})`);
    const leftOver = await settleLeftOverCommand(run);
    const withLeftOver = (r: RotationResult): RotationResult =>
      leftOver === undefined ? r : { ...r, leftOverCommand: leftOver };

    if (journal.status === 'rolling-back') {
      const f = journal.failure ?? { step: 'unknown', code: 'ERR_INTERRUPTED', message: 'interrupted' };
      return withLeftOver(await rollBack(run, new RekeyError(knownCode(f.code), f.message), f.step));
    }
    const label = deps.store.label;
    const position = await deps.store.position(journal.store, oldValues(journal), newValues(journal));
    if (position === 'new') {
      deps.progress.note(`the ${label} holds the new values: rolling forward`);
      return withLeftOver(await execute(run));
    }
    if (position === 'old' || position === 'partial') {
      deps.progress.note(
        position === 'old'
          ? `the ${label} holds the old values: rolling back`
          : `the ${label} holds some of the new values: rolling back`,
      );
      const running = journal.steps.find((s) => s.state === 'running' || s.state === 'failed');
      return withLeftOver(
        await rollBack(
          run,
          new RekeyError(
            'ERR_INTERRUPTED',
            `the rotation was interrupted${running ? ` during ${running.id}` : ''}`,
          ),
          running?.id ?? 'unknown',
        ),
      );
    }
    throw deps.store.conflict(journal.store);
  } finally {
    await lock
      .release()
      .catch((e) => deps.progress.note(`warning: could not remove the lock: ${safeMessage(e)}`));
    await releaseStackLock(deps);
  }
}

/** Every old (new) value of the journal's targets, by env key. */
function oldValues(j: Journal): Values {
  return Object.assign({}, ...j.targets.map((t) => t.old));
}
function newValues(j: Journal): Values {
  return Object.assign({}, ...j.targets.map((t) => t.new));
}

/** A journaled failure's code, when rekey knows it (the journal is data); ERR_JOURNAL_CORRUPT else. */
function knownCode(code: string): ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
    ? (code as ErrorCode)
    : 'ERR_JOURNAL_CORRUPT';
}

/**
 * A deploy or rollback command the killed rotation left running (journaled with its process group):
 * waits for it to end, up to what is left of its timeout, then ends it; only then may recover deploy
 * again (two deploys at once could leave either one's result, or break both). Says which.
 */
async function settleLeftOverCommand(run: Run): Promise<RotationResult['leftOverCommand']> {
  const { journal, deps } = run;
  const c = journal.command;
  if (c === undefined) return undefined;
  const started = Date.now();
  const what = `the ${c.label} command of the interrupted rotation (process group ${c.pid})`;
  if (journal.host !== os.hostname()) {
    // Its processes are on another machine: nothing here can see or end them.
    run.warnings.push(`${what} ran on ${journal.host}: make sure it ended there`);
    deps.progress.note(`warning: ${what} ran on ${journal.host}; cannot tell whether it still runs`);
    return undefined;
  }
  const left = Date.parse(c.startedAt) + c.timeoutMs - started;
  const waitMs = Math.max(0, Math.min(c.timeoutMs, Number.isFinite(left) ? left : c.timeoutMs));
  if (groupAlive(c.pid, c.procStart)) {
    deps.progress.note(
      `${what} still runs: waiting up to ${formatDuration(waitMs)} for it to end (what is left of its timeout), then ending it`,
    );
  }
  const outcome = await settleLeftOver(c, waitMs);
  const ms = Date.now() - started;
  if (outcome !== 'not running') {
    deps.progress.note(
      outcome === 'waited'
        ? `${what} ended by itself after ${formatDuration(ms)}`
        : `${what} did not end within its timeout: ended it (${outcome === 'ended' ? 'SIGTERM' : 'SIGKILL'})`,
    );
  }
  delete journal.command;
  await (journal.status === 'rolling-back' ? run.saveBestEffort() : run.save());
  return { label: c.label, pid: c.pid, outcome, ms };
}
