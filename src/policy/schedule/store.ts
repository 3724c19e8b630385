/**
 * `<stateDir>/schedule.json`: what `rekey schedule` remembers between runs (consecutive failures and
 * the "needs attention" state of each secret). No values. Written atomically (temp file, fsync,
 * rename), mode 0600 in the private state directory.
 */
import path from 'node:path';
import { RekeyError } from '../../core/errors.js';
import { ensurePrivateDir, readIfExists, writeFileAtomic } from '../../core/fsx.js';
import type { ScheduleFile } from '../types.js';

export const SCHEDULE_FILE = 'schedule.json';

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

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, SCHEDULE_FILE);
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

  /** Read, change, write back atomically; returns what was written. */
  async update(change: (state: ScheduleFile) => void, now: Date = new Date()): Promise<ScheduleFile> {
    const state = await this.read();
    change(state);
    state.updatedAt = now.toISOString();
    await ensurePrivateDir(this.stateDir);
    await writeFileAtomic(this.file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600, forceMode: true });
    return state;
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
