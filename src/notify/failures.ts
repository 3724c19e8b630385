/**
 * Deliveries given up on, kept for `rekey serve`'s /metrics (`rekey_notifications_failed_total`): the
 * rotation and `rekey serve` are separate processes, so each failure is appended as one JSON line to
 * `<stateDir>/notify-failures.jsonl` and the server counts the lines at each scrape. A line holds the
 * event, the webhook's origin (never its path or query: a Slack webhook's path is a credential), the
 * attempts and the reason (`HTTP 500`, `ECONNREFUSED`); never a body, a key or a value.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const FAILURES_FILE = 'notify-failures.jsonl';

export interface NotifyFailure {
  readonly time: string;
  readonly event: string;
  /** The webhook's origin (`https://hooks.slack.com`). */
  readonly origin: string;
  readonly attempts: number;
  readonly reason: string;
}

export interface NotifyFailureCount {
  readonly event: string;
  readonly origin: string;
  readonly count: number;
}

/**
 * Appends a failure (one line, one write: concurrent rekey processes do not interleave).
 *
 * @example
 * await recordFailure(loaded.stateDir, { time, event: 'completed', origin: 'https://hooks.slack.com', attempts: 3, reason: 'HTTP 500' });
 */
export async function recordFailure(stateDir: string, f: NotifyFailure): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const line = `${JSON.stringify({ time: f.time, event: f.event, origin: f.origin, attempts: f.attempts, reason: f.reason })}\n`;
  await fs.appendFile(path.join(stateDir, FAILURES_FILE), line, { mode: 0o600 });
}

/**
 * The failures recorded in a state directory, counted per event and origin (none when the file does
 * not exist; a torn or foreign line is skipped).
 *
 * @example
 * for (const c of await countFailures(loaded.stateDir)) counter.inc({ event: c.event, origin: c.origin }, c.count);
 */
export async function countFailures(stateDir: string): Promise<NotifyFailureCount[]> {
  let text: string;
  try {
    text = await fs.readFile(path.join(stateDir, FAILURES_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const counts = new Map<string, NotifyFailureCount>();
  for (const line of text.split('\n')) {
    let x: unknown;
    try {
      x = JSON.parse(line);
    } catch {
      continue;
    }
    const { event, origin } = (x ?? {}) as { event?: unknown; origin?: unknown };
    if (typeof event !== 'string' || typeof origin !== 'string') continue;
    const id = `${event}\n${origin}`;
    counts.set(id, { event, origin, count: (counts.get(id)?.count ?? 0) + 1 });
  }
  return [...counts.values()];
}
