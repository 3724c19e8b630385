/**
 * The runner's status file, `<state>/app-status.json`, rewritten atomically on every change so a
 * deploy script can poll it:
 *
 *   { "generation": 2, "pid": 4242, "startedAt": "…", "updatedAt": "…",
 *     "workers": [{ "id": 3, "pid": 4250, "generation": 2, "state": "ready" }, …],
 *     "lastReload": { "ok": true, "generation": 2, "startedAt": "…", "at": "…", "error": null } }
 *
 * `generation` is the generation of the last reload that completed (the initial start is 1);
 * `lastReload` describes the latest attempt, finished at `at`. A deploy that sent SIGHUP at time T
 * waits until `lastReload.startedAt >= T` (reloads requested during a reload are coalesced into one
 * that starts after it), then reads `lastReload.ok`.
 */
import path from 'node:path';
import { writeFileAtomic } from '../../src/lib/fsx.js';

export type WorkerState = 'starting' | 'ready' | 'stopping';

export interface WorkerStatus {
  id: number;
  pid: number | undefined;
  generation: number;
  state: WorkerState;
}

export interface ReloadStatus {
  ok: boolean;
  /** The generation this attempt started (it is the current one only when `ok`). */
  generation: number;
  startedAt: string;
  /** When it finished. */
  at: string;
  error: string | null;
}

export interface RunnerStatus {
  generation: number;
  pid: number;
  startedAt: string;
  updatedAt: string;
  workers: WorkerStatus[];
  lastReload: ReloadStatus | null;
  /** True once the primary is shutting down. */
  stopping: boolean;
}

/** The status file's name inside the state directory. */
export const STATUS_FILE = 'app-status.json';

/**
 * Writes snapshots one after another (never two writes at once), always the latest state: calls
 * made while a write runs collapse into one more write.
 *
 * @example
 * const status = statusWriter('/tmp/demo/state', () => supervisor.snapshot());
 * status.changed(); // ... await status.flush();
 */
export function statusWriter(stateDir: string, snapshot: () => RunnerStatus) {
  const file = path.join(stateDir, STATUS_FILE);
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  let lastError: unknown;
  const changed = () => {
    if (queued) return;
    queued = true;
    running = running.then(async () => {
      queued = false;
      const text = `${JSON.stringify({ ...snapshot(), updatedAt: new Date().toISOString() }, null, 2)}\n`;
      await writeFileAtomic(file, text, { mode: 0o644 }).catch((err: unknown) => {
        lastError = err;
      });
    });
  };
  return {
    file,
    changed,
    /** Resolves once every requested write is done; rejects with the last write error, if any. */
    async flush(): Promise<void> {
      await running;
      if (lastError !== undefined) {
        const err = lastError;
        lastError = undefined;
        throw err;
      }
    },
  };
}
