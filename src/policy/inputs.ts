/**
 * Gathers what the status computation reads, from disk, at the moment it is called: the audit log,
 * the journal history and a pending journal, the env file's annotation, outstanding change requests
 * and the scheduler's state. Damaged sources become warnings, not failures: a status that refuses to
 * show anything because one history file is torn would hide every overdue secret.
 */
import type { LoadedConfig } from '../config/load.js';
import { recordedTrigger } from '../config/triggers.js';
import { readIfExists } from '../core/fsx.js';
import { JournalStore } from '../core/journal.js';
import { inspectLock } from '../core/lock.js';
import { safeMessage } from '../core/redact.js';
import { parseEnv, readAnnotation, readEnvFile } from '../envfile/index.js';
import { type ArchivedRotation, eventsFromAudit, eventsFromJournal, mergeEvents } from './events.js';
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

/**
 * Reads the inputs of {@link computeStatus} for a loaded config.
 *
 * @example
 * const report = computeStatus(statusConfigOf(loaded), await readPolicyInputs(loaded), new Date());
 */
export async function readPolicyInputs(loaded: LoadedConfig): Promise<PolicyInputs> {
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
  const annotationsBefore = await backupAnnotations(history);
  const pending = await soft('pending journal', undefined as RotationEvent | undefined, () =>
    pendingEvent(loaded.stateDir, store),
  );
  const annotation = await soft('env file annotation', undefined as Date | undefined, async () =>
    readAnnotation((await readEnvFile(loaded.envFile)).doc),
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
  loaded: LoadedConfig,
  store: JournalStore,
  onSkip: (file: string) => void,
): Promise<ArchivedRotation[]> {
  const ownsRoot = loaded.stateDir === loaded.stateRoot;
  const stores = ownsRoot ? [store] : [store, new JournalStore(loaded.stateRoot)];
  const out: ArchivedRotation[] = [];
  for (const s of stores) {
    for (const h of (await s.history(onSkip)) as unknown as ArchivedRotation[]) {
      if (h === null || typeof h !== 'object') continue;
      const envFile = (h as { envFile?: unknown }).envFile;
      if (typeof envFile === 'string' ? envFile === loaded.env.realPath : s === store) out.push(h);
    }
  }
  return out;
}

/**
 * The annotation each successful rotation's backup holds (the env file as it was before it), for
 * the backups still on disk. Only the annotation line is kept.
 */
async function backupAnnotations(history: readonly ArchivedRotation[]): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  for (const h of history) {
    if (h.outcome !== 'rotated' || typeof h.backupPath !== 'string') continue;
    try {
      const text = await readIfExists(h.backupPath);
      const when = text === undefined ? undefined : readAnnotation(parseEnv(text, h.backupPath));
      if (when) out.set(h.id, when);
    } catch {
      // an unreadable or unparsable backup only loses this hint
    }
  }
  return out;
}

/**
 * A rotation whose journal is still pending: `running` while its holder lives, else `interrupted`
 * (it awaits `rekey recover`). Only names, never values, leave this function.
 */
async function pendingEvent(stateDir: string, store: JournalStore): Promise<RotationEvent | undefined> {
  const j = await store.read();
  if (j === undefined) return undefined;
  const lock = await inspectLock(stateDir);
  return {
    id: j.id,
    kind: j.kind,
    time: new Date(j.createdAt),
    keys: j.targets.map((t) => t.key),
    outcome:
      lock.state === 'held' || (lock.state === 'unknown' && !lock.reason.startsWith('empty'))
        ? 'running'
        : 'interrupted',
    trigger: recordedTrigger(j),
    source: 'journal',
    ...(j.meta.unattended === true ? { unattended: true } : {}),
  };
}

/**
 * The parts of a loaded config the status computation reads.
 *
 * @example
 * computeStatus(statusConfigOf(loaded), inputs, new Date());
 */
export function statusConfigOf(loaded: LoadedConfig): StatusConfig {
  return { stack: loaded.stack, policy: loaded.config.policy, secrets: loaded.config.secrets };
}

/**
 * Reads the state on disk and computes the status of every secret at `now`.
 *
 * @example
 * const report = await readStatus(await loadConfig('rekey.yaml'));
 * report.secrets.filter((s) => s.overdue).map((s) => s.key);
 */
export async function readStatus(loaded: LoadedConfig, now: Date = new Date()): Promise<StatusReport> {
  return computeStatus(statusConfigOf(loaded), await readPolicyInputs(loaded), now);
}
