/**
 * The write-ahead journal of a rotation (after Vault's WAL): written and fsynced before each step
 * begins and after it ends, holding old and new values, so a killed process can always be finished
 * or undone by `rekey recover`. Mode 0600 in a 0700 state directory. When the rotation ends it is
 * archived without values (history/<id>.json) and removed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Trigger } from '../config/schema.js';
import { RekeyError } from '../lib/errors.js';
import { simulatedDiskFull } from '../lib/faults.js';
import { ensurePrivateDir, readIfExists, removeDurably, writeFileAtomic } from '../lib/fsx.js';
import type { Phase, RollbackPhase, StepRef } from './plan.js';
import type { StoreRecord, Values } from './ports.js';

/**
 * 2: the store's own record (`store`) replaces version 1's top-level env file fields (envFile,
 * backupPath, envBeforeSha256, envAfterSha256, annotation); {@link JournalStore.read} converts a
 * version-1 journal, so a rotation killed under the previous release still recovers.
 */
export const JOURNAL_VERSION = 2;

/** The journal versions this release reads (older ones converted when read). */
export const READABLE_JOURNAL_VERSIONS: ReadonlySet<unknown> = new Set([1, JOURNAL_VERSION]);

export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';
export type TargetState = 'pending' | 'staging' | 'staged' | 'tested' | 'finished' | 'reverting' | 'reverted';

export interface JournalStep {
  id: string;
  phase: Phase | RollbackPhase;
  target?: string;
  state: StepState;
  startedAt?: string;
  endedAt?: string;
  ms?: number;
  /** Error code and one redacted line. */
  error?: { code: string; message: string };
}

export interface JournalTarget {
  key: string;
  type: string;
  state: TargetState;
  old: Values;
  new: Values;
  /**
   * What the target noted about the live service and its saved configuration that the service itself
   * cannot tell later (Redis: whether its config file may still hold the new password). Words only,
   * never a value; written through `TargetContext.facts`. Absent in journals of older versions.
   */
  facts?: Record<string, string>;
}

/**
 * A deploy or rollback command's process group, journaled once it is spawned and before it may
 * start: a killed rekey leaves it running, and `recover` waits for it (or ends it) before going on.
 * Optional (journals written before it existed have none).
 */
export interface JournalCommand {
  /** The group's id: the pid of its leader, `/bin/sh -c <command>`. */
  pid: number;
  /** The leader's start time (clock ticks since boot, /proc): a reused pid is not taken for it. */
  procStart?: string;
  label: 'deploy' | 'rollback';
  startedAt: string;
  /** The command's timeout (deploy.timeout) when it started. */
  timeoutMs: number;
}

export interface JournalMeta {
  ticket?: string;
  operator?: string;
  requestId?: string;
  breakGlass?: string;
  attachments?: string[];
  only?: string[];
  [extra: string]: unknown;
}

export interface Journal {
  version: typeof JOURNAL_VERSION;
  id: string;
  kind: 'rotate' | 'rollback';
  trigger: Trigger;
  status: 'running' | 'rolling-back';
  createdAt: string;
  pid: number;
  host: string;
  /** What the store journaled at prepare (src/engine/ports.ts `StoreRecord`): its own handles, no value. */
  store: StoreRecord;
  /** A local file holding the old values (the env file's backup), when the store keeps one. */
  backupFile?: string;
  purgeSessions: boolean;
  steps: JournalStep[];
  targets: JournalTarget[];
  meta: JournalMeta;
  /** Set when rollback began: what failed. */
  failure?: { step: string; code: string; message: string };
  /** Set while a deploy or rollback command runs (see {@link JournalCommand}). */
  command?: JournalCommand;
}

/** The journal file of a state directory. */
export class JournalStore {
  readonly file: string;
  readonly historyDir: string;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, 'journal.json');
    this.historyDir = path.join(stateDir, 'history');
  }

  /** The pending journal, or undefined when no rotation is in flight. */
  async read(): Promise<Journal | undefined> {
    const text = await readIfExists(this.file);
    if (text === undefined) return undefined;
    let j: Journal;
    try {
      j = JSON.parse(text) as Journal;
    } catch {
      throw new RekeyError('ERR_JOURNAL_CORRUPT', `${this.file} is not valid JSON`);
    }
    if (j !== null && typeof j === 'object' && (j as { version?: unknown }).version === 1)
      j = fromVersion1(j);
    if (
      j === null ||
      typeof j !== 'object' ||
      j.version !== JOURNAL_VERSION ||
      !Array.isArray(j.steps) ||
      !Array.isArray(j.targets) ||
      j.store === null ||
      typeof j.store !== 'object' ||
      typeof j.store.type !== 'string'
    ) {
      throw new RekeyError(
        'ERR_JOURNAL_CORRUPT',
        `${this.file} has an unknown format (version ${String(j?.version)})`,
      );
    }
    return j;
  }

  /** Durably writes the journal (atomic replace, fsync, 0600). */
  async write(j: Journal): Promise<void> {
    simulatedDiskFull(this.file);
    await ensurePrivateDir(this.stateDir);
    await writeFileAtomic(this.file, `${JSON.stringify(j, null, 2)}\n`, { mode: 0o600, forceMode: true });
  }

  /** Archives the journal without any value, then removes it. */
  async close(j: Journal, outcome: string): Promise<string> {
    simulatedDiskFull(this.file);
    await ensurePrivateDir(this.historyDir);
    const archived = path.join(this.historyDir, `${j.id}.json`);
    await writeFileAtomic(archived, `${JSON.stringify(withoutValues(j, outcome), null, 2)}\n`, {
      mode: 0o600,
    });
    await removeDurably(this.file);
    return archived;
  }

  /** Archived rotations (without values), oldest first; unreadable archives are skipped and named to `onSkip`. */
  async history(onSkip?: (file: string) => void): Promise<Array<ReturnType<typeof withoutValues>>> {
    const names = await fs.readdir(this.historyDir).catch(() => [] as string[]);
    const out: Array<{ at: number; name: string; h: ReturnType<typeof withoutValues> }> = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const text = await readIfExists(path.join(this.historyDir, name));
      if (text === undefined) continue;
      try {
        const h = JSON.parse(text);
        out.push({ at: createdAtMs(h), name, h });
      } catch {
        // A damaged archive (atomic writes rule out a torn one, but disks and people can still
        // damage files): skip it rather than lose the whole history.
        onSkip?.(name);
      }
    }
    // By creation time to the millisecond: ids (and so file names) carry the second only, and two
    // rotations in one second would otherwise be ordered by their random suffix.
    out.sort((a, b) => a.at - b.at || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out.map((x) => x.h);
  }
}

/** An archive's `createdAt` in ms, 0 when it has none (such archives sort first, by name). */
function createdAtMs(h: unknown): number {
  const at = h !== null && typeof h === 'object' ? (h as { createdAt?: unknown }).createdAt : undefined;
  const ms = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/**
 * A version-1 journal (the env file's fields at its top level) as version 2: those fields become the
 * env file store's record (src/stores/env-file/), the backup its `backupFile`.
 */
function fromVersion1(old: Journal): Journal {
  const { envFile, backupPath, envBeforeSha256, envAfterSha256, annotation, ...rest } =
    old as unknown as Omit<Journal, 'store'> &
      Record<'envFile' | 'backupPath' | 'envBeforeSha256' | 'envAfterSha256' | 'annotation', unknown>;
  return {
    ...rest,
    version: JOURNAL_VERSION,
    store: { type: 'env-file', envFile, backupPath, envBeforeSha256, envAfterSha256, annotation },
    ...(typeof backupPath === 'string' ? { backupFile: backupPath } : {}),
  };
}

/** The journal with every value removed (key names and states kept). */
export function withoutValues(j: Journal, outcome: string) {
  const { targets, ...rest } = j;
  return {
    ...rest,
    outcome,
    closedAt: new Date().toISOString(),
    targets: targets.map((t) => ({ key: t.key, type: t.type, state: t.state, keys: Object.keys(t.new) })),
  };
}

/** Marks a step's start or end in the journal object (the caller writes it). */
export function markStep(
  j: Journal,
  step: StepRef,
  state: StepState,
  error?: { code: string; message: string },
): JournalStep {
  let s = j.steps.find((x) => x.id === step.id);
  if (s === undefined) {
    s = {
      id: step.id,
      phase: step.phase,
      state: 'pending',
      ...(step.target === undefined ? {} : { target: step.target }),
    };
    j.steps.push(s);
  }
  const now = new Date();
  if (state === 'running') {
    s.startedAt = now.toISOString();
    delete s.endedAt;
    delete s.error;
  } else if (state !== 'pending') {
    s.endedAt = now.toISOString();
    if (s.startedAt !== undefined) s.ms = now.getTime() - Date.parse(s.startedAt);
  }
  s.state = state;
  if (error !== undefined) s.error = error;
  return s;
}
