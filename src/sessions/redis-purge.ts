/**
 * Deleting the keys that match a pattern without blocking Redis: SCAN (MATCH, COUNT = batch) walks
 * the keyspace a slice at a time and UNLINK removes each slice's matches. Never KEYS.
 *
 * Pipelined for speed (SERVICE-FACTS: one batch at a time took 4.5 s for 1M keys among 1M others):
 * as soon as a SCAN reply arrives, the next SCAN (it needs only the cursor) is sent, then the UNLINK
 * of the keys just found; so Redis unlinks one slice while the client reads the next. At most
 * {@link MAX_UNLINKS_IN_FLIGHT} UNLINKs wait at once, so Redis never holds more than about two slices
 * of our work ahead of other clients. Keys are read as bytes, so binary keys are purged too.
 */
import { RekeyError } from '../core/errors.js';
import type { RedisConn } from '../targets/redis/connect.js';

export const MAX_UNLINKS_IN_FLIGHT = 2;

export interface PurgeProgress {
  readonly pattern: string;
  /** SCAN calls so far. */
  readonly batches: number;
  /** Keys removed so far (UNLINK's count: duplicates SCAN returns twice are not counted twice). */
  readonly purged: number;
  readonly elapsedMs: number;
}

type ScanReply = [Buffer, Buffer[]];

/**
 * Removes every key matching `pattern` in the connection's current db; returns how many were removed.
 *
 * @example
 * const n = await purgePattern(conn, 'session:*', { batch: 1000 });
 */
export async function purgePattern(
  conn: RedisConn,
  pattern: string,
  options: { batch: number; onProgress?: (p: PurgeProgress) => void; signal?: AbortSignal },
): Promise<number> {
  const started = Date.now();
  const count = String(options.batch);
  const scan = (cursor: string) =>
    conn.commandRaw<ScanReply>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', count]);
  const unlinks: Promise<number>[] = [];
  let purged = 0;
  let batches = 0;
  let pending: Promise<ScanReply> | undefined = scan('0');
  try {
    while (pending) {
      const [cursorBuf, keys]: ScanReply = await pending;
      batches++;
      const cursor: string = cursorBuf.toString();
      if (options.signal?.aborted) throw interrupted(pattern, purged);
      pending = cursor === '0' ? undefined : scan(cursor);
      if (keys.length > 0) unlinks.push(conn.command<number>(['UNLINK', ...keys.map(asArg)]));
      while (unlinks.length > MAX_UNLINKS_IN_FLIGHT) purged += Number(await unlinks.shift());
      options.onProgress?.({ pattern, batches, purged, elapsedMs: Date.now() - started });
    }
    for (const u of unlinks.splice(0)) purged += Number(await u);
  } finally {
    // On failure, settle what is still in flight so no rejection goes unhandled.
    await Promise.allSettled([...unlinks, ...(pending ? [pending] : [])]);
  }
  options.onProgress?.({ pattern, batches, purged, elapsedMs: Date.now() - started });
  return purged;
}

/**
 * A key as a string when it is valid UTF-8 (node-redis writes string arguments in one piece, but
 * two socket writes per Buffer: measured 25% slower), else as the raw bytes.
 */
function asArg(key: Buffer): string | Buffer {
  const text = key.toString('utf8');
  return text.includes('\ufffd') ? key : text;
}

function interrupted(pattern: string, purged: number): RekeyError {
  return new RekeyError('ERR_INTERRUPTED', `session purge of ${pattern} interrupted after ${purged} keys`);
}
