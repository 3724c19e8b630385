/**
 * `<stateDir>/schedule.json`: what `rekey schedule` remembers between runs (consecutive failures and
 * the "needs attention" state of each secret). No values. Written atomically (temp file, fsync,
 * rename), mode 0600 in the private state directory. Every read-modify-write holds the lock of
 * `<stateDir>/locks/schedule` (the project's lock: a live holder is waited for, a dead one taken
 * over), so `rekey schedule --clear` racing the daemon never loses either update.
 */
import path from 'node:path';
import { RekeyError } from '../../lib/errors.js';
import { ensurePrivateDir, readIfExists, writeFileAtomic } from '../../lib/fsx.js';
import { type WaitOptions, withLock } from '../../lib/lock-wait.js';
import type { ScheduleFile } from '../types.js';

export const SCHEDULE_FILE = 'schedule.json';

/** The folder of the lock that serialises updates of schedule.json, inside the state directory. */
export const SCHEDULE_LOCK_DIR = path.join('locks', 'schedule');

/**
 * The state before any run.
 *
 * @example
 * emptySchedule(); // { version: 1, secrets: {} }
 */
export function emptySchedule(): ScheduleFile {
  return { version: 1, secrets: {} };
}

/**
 * Reads and updates the scheduler's state file.
 *
 * @example
 * const store = new ScheduleStore(loaded.stateDir);
 * await store.update((s) => { delete s.secrets.POSTGRES_PASSWORD; });
 */
export class ScheduleStore {
  readonly file: string;
  readonly lockDir: string;

  constructor(
    readonly stateDir: string,
    private readonly lockOptions: WaitOptions = {},
  ) {
    this.file = path.join(stateDir, SCHEDULE_FILE);
    this.lockDir = path.join(stateDir, SCHEDULE_LOCK_DIR);
  }

  /** The state, or an empty one when the file does not exist. Throws ERR_SCHEDULE_CORRUPT. */
  async read(): Promise<ScheduleFile> {
    const text = await readIfExists(this.file);
    if (text === undefined) return emptySchedule();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new RekeyError('ERR_SCHEDULE_CORRUPT', `${this.file} is not valid JSON`);
    }
    const f = doc as Partial<ScheduleFile> | null;
    if (
      f === null ||
      typeof f !== 'object' ||
      f.version !== 1 ||
      typeof f.secrets !== 'object' ||
      !f.secrets
    ) {
      throw new RekeyError('ERR_SCHEDULE_CORRUPT', `${this.file} has an unknown format`);
    }
    return f as ScheduleFile;
  }

  /**
   * Read, change, write back atomically, holding the schedule lock throughout (another updater, in
   * this process or another, waits); returns what was written. Throws ERR_LOCKED when a live holder
   * keeps the lock longer than the wait (15 s by default).
   */
  async update(change: (state: ScheduleFile) => void, now: Date = new Date()): Promise<ScheduleFile> {
    await ensurePrivateDir(this.stateDir);
    return withLock(
      this.lockDir,
      'schedule',
      async () => {
        const state = await this.read();
        change(state);
        state.updatedAt = now.toISOString();
        await writeFileAtomic(this.file, `${JSON.stringify(state, null, 2)}\n`, {
          mode: 0o600,
          forceMode: true,
        });
        return state;
      },
      this.lockOptions,
    );
  }

  /**
   * Clears the "needs attention" state and failure count of the keys named (every key when empty).
   * Returns the keys that were cleared.
   */
  async clear(keys: readonly string[], now: Date = new Date()): Promise<string[]> {
    const cleared: string[] = [];
    await this.update((s) => {
      for (const k of Object.keys(s.secrets)) {
        if (keys.length > 0 && !keys.includes(k)) continue;
        delete s.secrets[k];
        cleared.push(k);
      }
    }, now);
    return cleared;
  }
}
