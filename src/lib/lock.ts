/**
 * One rotation per stack at a time: a lock file created with O_EXCL in the state directory, holding
 * who took it (pid, host, start time, command). A lock whose holder died on this host (a zombie
 * counts as dead: see process-alive.ts) is reported as stale, never silently broken: `rekey recover`
 * takes it over.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RekeyError } from './errors.js';
import { ensurePrivateDir, readIfExists, removeDurably, writeFileExclusive } from './fsx.js';
import { processAlive, processStart } from './process-alive.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
  /** The holder's start time in clock ticks since boot (/proc), so a reused pid is not taken for it. */
  procStart?: string;
}

export interface Lock {
  readonly holder: LockHolder;
  release(): Promise<void>;
}

/**
 * `otherHostsEnded`: the caller holds a lock shared by every host that may take this one (a
 * Kubernetes Lease), so a holder on another host has ended (a pod that was killed and replaced by one
 * of another name, on a shared volume): its lock is stale, as a dead holder's on this host.
 */
export interface LockOptions {
  readonly otherHostsEnded?: boolean;
}

export type LockState =
  | { state: 'free' }
  | { state: 'held'; holder: LockHolder }
  | { state: 'stale'; holder: LockHolder }
  | { state: 'unknown'; reason: string };

export function lockPath(stateDir: string): string {
  return path.join(stateDir, 'lock');
}

/** Reads the lock and tells whether its holder is alive. Changes nothing. */
export async function inspectLock(stateDir: string, options: LockOptions = {}): Promise<LockState> {
  return judgeLock(stateDir, await readIfExists(lockPath(stateDir)), options);
}

/** What a lock file's text says of its holder (the file's age decides for an unreadable one). */
async function judgeLock(
  stateDir: string,
  text: string | undefined,
  options: LockOptions = {},
): Promise<LockState> {
  if (text === undefined) return { state: 'free' };
  let holder: LockHolder;
  try {
    holder = JSON.parse(text) as LockHolder;
  } catch {
    // Created but not yet written by its holder (a few microseconds), or torn by a crash in between.
    const st = await fs.stat(lockPath(stateDir)).catch(() => undefined);
    const old = st !== undefined && Date.now() - st.mtimeMs > 10_000;
    return { state: 'unknown', reason: old ? 'empty lock file left by a crash' : 'lock being taken' };
  }
  if (holder.host === os.hostname() && !processAlive(holder.pid, holder.procStart))
    return { state: 'stale', holder };
  if (holder.host !== os.hostname() && options.otherHostsEnded === true) return { state: 'stale', holder };
  return { state: 'held', holder };
}

const takeable = (l: LockState) =>
  l.state === 'stale' || (l.state === 'unknown' && l.reason.startsWith('empty'));

/**
 * Takes the stack's lock or throws ERR_LOCKED (a live holder, named) / ERR_LOCK_STALE (a dead one).
 *
 * @example
 * const lock = await acquireLock('.rekey', 'rotate');
 * try { ... } finally { await lock.release(); }
 */
export async function acquireLock(
  stateDir: string,
  command: string,
  options: LockOptions = {},
): Promise<Lock> {
  await ensurePrivateDir(stateDir);
  const procStart = processStart(process.pid);
  const holder: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    command,
    ...(procStart ? { procStart } : {}),
  };
  // writeFileExclusive links a synced temp file into place: a reader never sees the lock empty.
  if (await writeFileExclusive(lockPath(stateDir), JSON.stringify(holder))) return makeLock(stateDir, holder);
  throw lockError(await inspectLock(stateDir, options));
}

/**
 * Takes the lock, taking over a stale one (holder dead on this host). Used by `recover`, which
 * finishes whatever the dead holder left. A live holder still gets ERR_LOCKED.
 */
export async function acquireOrTakeOver(
  stateDir: string,
  command: string,
  options: LockOptions = {},
): Promise<{ lock: Lock; tookOver?: LockHolder }> {
  try {
    return { lock: await acquireLock(stateDir, command, options) };
  } catch (e) {
    if (!(e instanceof RekeyError) || e.code !== 'ERR_LOCK_STALE') {
      if (!takeable(await inspectLock(stateDir, options))) throw e;
    }
  }
  // Judge the very text we are about to move aside: another recover may have taken the lock over
  // since the check above, and its live lock must not be taken in turn.
  const judged = await readIfExists(lockPath(stateDir));
  const verdict = await judgeLock(stateDir, judged, options);
  if (judged !== undefined && !takeable(verdict)) throw lockError(verdict);
  // Move the stale lock aside (rename is atomic) and check it is byte for byte the one judged stale;
  // if another process replaced it meanwhile, put that one back (link: never over a newer lock).
  const aside = `${lockPath(stateDir)}.stale-${randomBytes(4).toString('hex')}`;
  await fs.rename(lockPath(stateDir), aside).catch(() => {});
  const movedText = await readIfExists(aside);
  if (movedText !== undefined && movedText !== judged) {
    await fs.link(aside, lockPath(stateDir)).catch(() => {});
    await fs.rm(aside, { force: true });
    throw lockError(await inspectLock(stateDir, options));
  }
  let moved: LockHolder | undefined;
  try {
    moved = movedText ? (JSON.parse(movedText) as LockHolder) : undefined;
  } catch {
    moved = undefined;
  }
  await removeDurably(aside);
  const lock = await acquireLock(stateDir, command, options);
  return moved === undefined ? { lock } : { lock, tookOver: moved };
}

function makeLock(stateDir: string, holder: LockHolder): Lock {
  let released = false;
  return {
    holder,
    async release() {
      if (released) return;
      released = true;
      const text = await readIfExists(lockPath(stateDir));
      if (text !== undefined && JSON.parse(text).pid === holder.pid) await removeDurably(lockPath(stateDir));
    },
  };
}

function lockError(seen: LockState): RekeyError {
  if (seen.state === 'stale') {
    return new RekeyError(
      'ERR_LOCK_STALE',
      `a rotation by pid ${seen.holder.pid} on ${seen.holder.host} (started ${seen.holder.startedAt}) died without finishing`,
    );
  }
  if (seen.state === 'held') {
    return new RekeyError(
      'ERR_LOCKED',
      `locked by \`rekey ${seen.holder.command}\`, pid ${seen.holder.pid} on ${seen.holder.host}, started ${seen.holder.startedAt}`,
    );
  }
  if (seen.state === 'unknown') return new RekeyError('ERR_LOCKED', `the stack is locked (${seen.reason})`);
  return new RekeyError(
    'ERR_LOCKED',
    'the lock changed hands while it was being taken; run the command again',
  );
}
