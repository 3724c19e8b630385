/**
 * Gathers what the status computation reads, from disk, at the moment it is called: the audit log,
 * the journal history and a pending journal, the env file's annotation, outstanding change requests
 * and the scheduler's state. Damaged sources become warnings, not failures: a status that refuses to
 * show anything because one history file is torn would hide every overdue secret.
 */
import type { StackConfig } from '../config/load.js';
import { journalBackupFile, journalEnvFile } from '../config/stack-state.js';
import { JournalStore } from '../engine/journal.js';
import { readAnnotationOnly } from '../envfile/index.js';
import { inspectLock } from '../lib/lock.js';
import { safeMessage } from '../lib/redact.js';
import { type ArchivedRotation, eventsFromAudit, eventsFromJournal, mergeEvents } from './events.js';
import { FileCache } from './file-cache.js';
import { type PendingNames, readPendingNames } from './pending.js';
import { emptySchedule, ScheduleStore } from './schedule/store.js';
import { auditRecords, outstandingApprovals } from './sources.js';
import { computeStatus, type StatusConfig } from './status.js';
import type {
  OutstandingApproval,
  PolicyInputs,
  RotationEvent,
  ScheduleFile,
  StatusReport,
} from './types.js';

export interface InputOptions {
  /**
   * The annotation dates of the env file and the backups, kept per file while it is unchanged
   * (`rekey serve` keeps one for its lifetime; by default a new one, so everything is read).
   */
  readonly annotations?: FileCache<Date | undefined>;
  /** The pending journal's names, kept while it is unchanged (by default a new cache). */
  readonly pending?: FileCache<PendingNames>;
}

/**
 * Reads the inputs of {@link computeStatus} for a loaded config. Of the env file and the backups it
 * reads only the annotation line (see `readAnnotationOnly`): never a value.
 *
 * @example
 * const report = computeStatus(statusConfigOf(loaded), await readPolicyInputs(loaded), new Date());
 */
export async function readPolicyInputs(
  loaded: StackConfig,
  options: InputOptions = {},
): Promise<PolicyInputs> {
  const annotations = options.annotations ?? new FileCache<Date | undefined>();
  const warnings: string[] = [];
  const soft = async <T>(what: string, fallback: T, read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (e) {
      warnings.push(`${what}: ${safeMessage(e)}`);
      return fallback;
    }
  };

  const audit = await soft('audit log', [] as RotationEvent[], async () =>
    eventsFromAudit(await auditRecords(loaded)),
  );
  const store = new JournalStore(loaded.stateDir);
  const history = await soft('journal history', [] as ArchivedRotation[], () =>
    stackHistory(loaded, store, (file) => warnings.push(`journal history: ${file} is unreadable, skipped`)),
  );
  const journal = eventsFromJournal(history);
  const annotationsBefore = await backupAnnotations(history, annotations);
  const pending = await soft('pending journal', undefined as RotationEvent | undefined, () =>
    pendingEvent(loaded.stateDir, store, options.pending ?? new FileCache<PendingNames>()),
  );
  // A store stack has no annotation: its last rotation is read from the audit log and the history.
  const envFile = loaded.envFile;
  const annotation =
    envFile === undefined
      ? undefined
      : await soft('env file annotation', undefined as Date | undefined, () =>
          annotations.get(envFile, readAnnotationOnly),
        );
  const approvals = await soft('change requests', [] as OutstandingApproval[], () =>
    outstandingApprovals(loaded),
  );
  const schedule = await soft('schedule state', emptySchedule() as ScheduleFile, () =>
    new ScheduleStore(loaded.stateDir).read(),
  );
  const events = mergeEvents(audit, journal);
  if (pending && !events.some((e) => e.id === pending.id)) events.push(pending);
  return { events, ...(annotation ? { annotation } : {}), annotationsBefore, approvals, schedule, warnings };
}

/**
 * The archived rotations of this stack: its own state directory's, and those an earlier version
 * archived in the shared state root, each kept only when it names this stack's env file (one written
 * before archives named it belongs to the stack that owns the root).
 */
async function stackHistory(
  loaded: StackConfig,
  store: JournalStore,
  onSkip: (file: string) => void,
): Promise<ArchivedRotation[]> {
  const ownsRoot = loaded.stateDir === loaded.stateRoot;
  const stores = ownsRoot ? [store] : [store, new JournalStore(loaded.stateRoot)];
  const out: ArchivedRotation[] = [];
  for (const s of stores) {
    for (const h of (await s.history(onSkip)) as unknown as ArchivedRotation[]) {
      if (h === null || typeof h !== 'object') continue;
      const envFile = journalEnvFile(h);
      if (envFile !== undefined ? envFile === loaded.envRealPath : s === store) out.push(h);
    }
  }
  return out;
}

/**
 * The annotation each successful rotation's backup holds (the env file as it was before it), for
 * the backups still on disk. Only the annotation line is read, once per backup while it is unchanged.
 */
async function backupAnnotations(
  history: readonly ArchivedRotation[],
  annotations: FileCache<Date | undefined>,
): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  for (const h of history) {
    const backup = journalBackupFile(h);
    if (h.outcome !== 'rotated' || backup === undefined) continue;
    try {
      const when = await annotations.get(backup, readAnnotationOnly);
      if (when) out.set(h.id, when);
    } catch {
      // a missing or unreadable backup only loses this hint
    }
  }
  return out;
}

/**
 * A rotation whose journal is still pending: `running` while its holder lives, else `interrupted`
 * (it awaits `rekey recover`). The journal is read without its values (`pending.ts`), once per change.
 */
async function pendingEvent(
  stateDir: string,
  store: JournalStore,
  cache: FileCache<PendingNames>,
): Promise<RotationEvent | undefined> {
  let j: PendingNames;
  try {
    j = await cache.get(store.file, readPendingNames);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const lock = await inspectLock(stateDir);
  return {
    id: j.id,
    kind: j.kind,
    time: new Date(j.createdAt),
    keys: [...j.keys],
    outcome:
      lock.state === 'held' || (lock.state === 'unknown' && !lock.reason.startsWith('empty'))
        ? 'running'
        : 'interrupted',
    trigger: j.trigger,
    source: 'journal',
    ...(j.unattended ? { unattended: true } : {}),
  };
}

/**
 * The parts of a loaded config the status computation reads.
 *
 * @example
 * computeStatus(statusConfigOf(loaded), inputs, new Date());
 */
export function statusConfigOf(loaded: StackConfig): StatusConfig {
  return { stack: loaded.stack, policy: loaded.config.policy, secrets: loaded.config.secrets };
}

/**
 * Reads the state on disk and computes the status of every secret at `now`.
 *
 * @example
 * const report = await readStatus(await loadConfig('rekey.yaml'));
 * report.secrets.filter((s) => s.overdue).map((s) => s.key);
 */
export async function readStatus(loaded: StackConfig, now: Date = new Date()): Promise<StatusReport> {
  return computeStatus(statusConfigOf(loaded), await readPolicyInputs(loaded), now);
}
