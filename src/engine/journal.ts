/**
 * The write-ahead journal of a rotation (after Vault's WAL): written and fsynced before each step
 * begins and after it ends, holding old and new values, so a killed process can always be finished
 * or undone by `rekey recover`. Mode 0600 in a 0700 state directory. When the rotation ends it is
 * archived without values (history/<id>.json) and removed.
 *
 * Since version 3 the file (still `journal.json`, so an older release finding it refuses it as
 * damaged instead of missing a pending rotation) is an append-only log: a snapshot, then one record
 * per write holding what changed (./journal-log.ts, src/lib/record-log.ts). A journal of version 1
 * or 2 (one JSON document, left by a killed older release) is still read, and replaced by a
 * version-3 snapshot at the first write.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Trigger } from '../config/schema.js';
import { RekeyError } from '../lib/errors.js';
import { simulatedDiskFull } from '../lib/faults.js';
import { ensurePrivateDir, ioError, readIfExists, removeDurably, writeFileAtomic } from '../lib/fsx.js';
import { foldRecords, parseLog } from '../lib/record-log.js';
import { JournalLog, type ListSpec } from './journal-log.js';
import type { Phase, RollbackPhase, StepRef } from './plan.js';
import type { StoreRecord, Values } from './ports.js';

/**
 * 3: the file is an append-only log of records (a snapshot, then changes) instead of one JSON
 * document; the journal itself is as in version 2.
 * 2: the store's own record (`store`) replaces version 1's top-level env file fields (envFile,
 * backupPath, envBeforeSha256, envAfterSha256, annotation); {@link JournalStore.read} converts a
 * version-1 journal, so a rotation killed under the previous release still recovers.
 */
export const JOURNAL_VERSION = 3;

/** The journal versions this release reads (older ones converted when read). */
export const READABLE_JOURNAL_VERSIONS: ReadonlySet<unknown> = new Set([1, 2, JOURNAL_VERSION]);

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

/**
 * How a write tells which steps and targets changed (./journal-log.ts): field by field, an object
 * field (a step's error, a target's values and facts) by reference: replace it, never change it in
 * place. Every field is listed: a field added to JournalStep or JournalTarget and not here is a
 * compile error below.
 */
const STEP_FIELDS = ['id', 'phase', 'target', 'state', 'startedAt', 'endedAt', 'ms', 'error'] as const;
const TARGET_FIELDS = ['key', 'type', 'state', 'old', 'new', 'facts'] as const;
type Unlisted<T, Listed extends readonly unknown[]> = Exclude<keyof T, Listed[number]>;
const allStepFields: [Unlisted<JournalStep, typeof STEP_FIELDS>] extends [never] ? true : never = true;
const allTargetFields: [Unlisted<JournalTarget, typeof TARGET_FIELDS>] extends [never] ? true : never = true;
void allStepFields;
void allTargetFields;

const STEPS: ListSpec<JournalStep> = {
  key: 'id',
  copy: (s) => ({ ...s }),
  same: (s, c) =>
    s.state === c.state &&
    s.startedAt === c.startedAt &&
    s.endedAt === c.endedAt &&
    s.ms === c.ms &&
    s.error === c.error &&
    s.id === c.id &&
    s.phase === c.phase &&
    s.target === c.target,
};

const TARGETS: ListSpec<JournalTarget> = {
  key: 'key',
  copy: (t) => ({ ...t }),
  same: (t, c) =>
    t.state === c.state &&
    t.facts === c.facts &&
    t.new === c.new &&
    t.old === c.old &&
    t.key === c.key &&
    t.type === c.type,
};

/** The journal file of a state directory. */
export class JournalStore {
  readonly file: string;
  readonly historyDir: string;
  /** The log this store appends to (what it last wrote, and what its writes cost). */
  readonly log: JournalLog;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, 'journal.json');
    this.historyDir = path.join(stateDir, 'history');
    this.log = new JournalLog(this.file, { steps: STEPS, targets: TARGETS });
  }

  /** The pending journal, or undefined when no rotation is in flight. */
  async read(): Promise<Journal | undefined> {
    const bytes = await fs.readFile(this.file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw ioError('read', this.file, e);
    });
    if (bytes === undefined) return undefined;
    let j = journalDocument(bytes, this.file) as Journal;
    const version = (j as { version?: unknown } | null)?.version;
    if (version === 1) j = fromVersion1(j);
    // Version 2 is version 3's journal in one JSON document.
    else if (version === 2) j = { ...j, version: JOURNAL_VERSION };
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

  /**
   * Durably records the journal: what changed since this store's last write, appended as one record
   * (one fdatasync); the first write, and any write after the file changed under it, replaces the
   * file by a snapshot (atomic, 0600). Not to be called again before the previous call returned.
   */
  async write(j: Journal): Promise<void> {
    simulatedDiskFull(this.file);
    await this.log.write(j as unknown as Record<string, unknown>);
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
    this.log.forget();
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

/**
 * The document a journal file holds, not yet checked: one JSON document (versions 1 and 2), else
 * the fold of its records (version 3), a torn last record left out. `reviver` is given to JSON.parse
 * (to drop values as they are parsed). Throws ERR_JOURNAL_CORRUPT naming the damage.
 *
 * @example
 * journalDocument(await fs.readFile('.rekey/journal.json'), '.rekey/journal.json'); // { version: 3, ... }
 */
export function journalDocument(
  bytes: Buffer,
  file: string,
  reviver?: (key: string, value: unknown) => unknown,
): unknown {
  if (bytes[0] === 0x7b /* { */) {
    try {
      return JSON.parse(bytes.toString('utf8'), reviver as Parameters<typeof JSON.parse>[1]);
    } catch {
      throw new RekeyError('ERR_JOURNAL_CORRUPT', `${file} is not valid JSON`);
    }
  }
  const { records, damage } = parseLog(bytes, reviver);
  if (damage !== undefined) {
    throw new RekeyError(
      'ERR_JOURNAL_CORRUPT',
      `${file}: record ${damage.record} (at byte ${damage.offset}) is damaged (${damage.reason}); it is not the last, so no crash explains it`,
    );
  }
  const doc = foldRecords(records);
  if (typeof doc === 'string') throw new RekeyError('ERR_JOURNAL_CORRUPT', `${file}: ${doc}`);
  return doc;
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
