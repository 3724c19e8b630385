/**
 * Ending the sessions of a retired credential on `--trigger compromise`: `pg_terminate_backend` for
 * each client backend of the role, never our own (`pg_backend_pid()`). A session the connected role
 * may not see or signal (it needs the privileges of that role, or pg_signal_backend) is counted, not
 * fatal: the caller warns.
 */
import type pg from 'pg';
import { errorCode } from './connect.js';

/** How long to wait for each session to end (PostgreSQL 14+). */
const WAIT_MS = 5_000;

export interface Terminated {
  /** Sessions ended. */
  readonly ended: number;
  /** Sessions the connected role may not end (no privilege) or not even see. */
  readonly denied: number;
}

/**
 * Ends the sessions of `role` whose backend started before `startedBefore` (a server timestamp as
 * text; the server's now() when omitted).
 *
 * @example
 * const { ended, denied } = await terminateSessions(client, 'app_blue');
 */
export async function terminateSessions(
  client: pg.ClientBase,
  role: string,
  startedBefore?: string,
): Promise<Terminated> {
  // backend_start and backend_type are NULL for sessions the connected role may not inspect.
  const { rows } = await client.query<{ pid: number; visible: boolean }>(
    `SELECT pid, backend_start IS NOT NULL AS visible FROM pg_stat_activity
      WHERE usename = $1 AND coalesce(backend_type, 'client backend') = 'client backend'
        AND pid <> pg_backend_pid() AND (backend_start IS NULL OR backend_start < coalesce($2::timestamptz, now()))`,
    [role, startedBefore ?? null],
  );
  // PostgreSQL 14+ can wait until the session is gone, so the count is what really ended.
  const version = Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v);
  const terminate =
    version >= 140000
      ? `SELECT pg_terminate_backend($1, ${WAIT_MS}) AS ok`
      : 'SELECT pg_terminate_backend($1) AS ok';
  let ended = 0;
  let denied = 0;
  for (const { pid, visible } of rows) {
    if (!visible) {
      denied++;
      continue;
    }
    try {
      const r = await client.query<{ ok: boolean }>(terminate, [pid]);
      // false: the session ended on its own in the meantime, or did not end within WAIT_MS.
      if (r.rows[0]?.ok === true) ended++;
    } catch (err) {
      if (errorCode(err) !== '42501') throw err;
      denied++;
    }
  }
  return { ended, denied };
}

/**
 * How many client sessions `role` has now (for plan notes).
 *
 * @example
 * await countSessions(client, 'app'); // 3
 */
export async function countSessions(client: pg.ClientBase, role: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE usename = $1 AND coalesce(backend_type, 'client backend') = 'client backend'
        AND pid <> pg_backend_pid()`,
    [role],
  );
  return rows[0]?.n ?? 0;
}

/**
 * A session count in words.
 *
 * @example
 * sessions(1); // '1 session'
 */
export function sessions(n: number): string {
  return `${n} session${n === 1 ? '' : 's'}`;
}
