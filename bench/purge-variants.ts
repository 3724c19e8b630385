/**
 * The purge implementations tried while tuning src/sessions/redis-purge.ts, kept here so the
 * comparison in bench/results/purge.md can be re-run (`npm run bench -- purge --variants`). Each
 * removes the keys matching `pattern` from the connection's db and returns how many it removed.
 * The one that won is the one in src/sessions/redis-purge.ts; these are not used by rekey.
 */

import { PURGE_SCRIPT } from '../src/sessions/redis-purge.js';
import type { RedisArg, RedisConn } from '../src/targets/redis/connect.js';

export type PurgeFn = (conn: RedisConn, pattern: string) => Promise<number>;

export interface Variant {
  readonly id: string;
  readonly what: string;
  readonly run: PurgeFn;
}

type ScanReply = [Buffer, Buffer[]];

const asText = (key: Buffer): RedisArg => {
  const text = key.toString('utf8');
  return text.includes('\ufffd') ? key : text;
};

/** SCAN, then UNLINK the batch, then the next SCAN: one round trip at a time (SERVICE-FACTS' 4.5 s). */
function sequential(count: number): PurgeFn {
  return async (conn, pattern) => {
    let cursor = '0';
    let purged = 0;
    do {
      const [c, keys] = await conn.commandRaw<ScanReply>([
        'SCAN',
        cursor,
        'MATCH',
        pattern,
        'COUNT',
        String(count),
      ]);
      cursor = c.toString();
      if (keys.length > 0) purged += Number(await conn.command(['UNLINK', ...keys.map(asText)]));
    } while (cursor !== '0');
    return purged;
  };
}

/**
 * The implementation rekey had before this benchmark: the next SCAN is sent as soon as a cursor
 * arrives, the UNLINK of the keys just found right after it, at most `inFlight` UNLINKs waiting.
 */
function pipelined(
  count: number,
  inFlight: number,
  keyArg: (k: Buffer) => RedisArg,
  extra: string[] = [],
): PurgeFn {
  return async (conn, pattern) => {
    const scan = (cursor: string) =>
      conn.commandRaw<ScanReply>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count), ...extra]);
    const unlinks: Promise<number>[] = [];
    let purged = 0;
    let pending: Promise<ScanReply> | undefined = scan('0');
    while (pending) {
      const [cursorBuf, keys]: ScanReply = await pending;
      const cursor = cursorBuf.toString();
      pending = cursor === '0' ? undefined : scan(cursor);
      if (keys.length > 0) unlinks.push(conn.command<number>(['UNLINK', ...keys.map(keyArg)]));
      while (unlinks.length > inFlight) purged += Number(await unlinks.shift());
    }
    for (const u of unlinks.splice(0)) purged += Number(await u);
    return purged;
  };
}

/**
 * Server-side batches: rekey's own script (one EVAL runs SCAN COUNT `step` + UNLINK on the server, so
 * the keys never travel to the client and back, repeating until `maxKeys` keys were examined or
 * `budgetUs` microseconds of server time were spent; budget 0: one SCAN per call), driven with other
 * settings than rekey's.
 */
function scripted(step: number, maxKeys: number, budgetUs: number): PurgeFn {
  return async (conn, pattern) => {
    let cursor = '0';
    let purged = 0;
    do {
      const [c, deleted] = await conn.command<[string, number]>([
        'EVAL',
        PURGE_SCRIPT,
        '0',
        cursor,
        pattern,
        String(step),
        String(maxKeys),
        String(budgetUs),
      ]);
      cursor = String(c);
      purged += Number(deleted);
    } while (cursor !== '0');
    return purged;
  };
}

/** Every variant tried, in the order they were tried. */
export const VARIANTS: readonly Variant[] = [
  { id: 'seq-1000', what: 'SCAN 1000 → UNLINK, one round trip at a time', run: sequential(1000) },
  {
    id: 'pipe-1000',
    what: 'previous rekey: SCAN 1000 pipelined with UNLINK, 2 UNLINKs in flight, keys as text',
    run: pipelined(1000, 2, asText),
  },
  { id: 'pipe-5000', what: 'same, SCAN COUNT 5000', run: pipelined(5000, 2, asText) },
  { id: 'pipe-1000-deep', what: 'same, 8 UNLINKs in flight', run: pipelined(1000, 8, asText) },
  {
    id: 'pipe-1000-buf',
    what: 'same, keys sent back as Buffers (no UTF-8 round trip)',
    run: pipelined(1000, 2, (k) => k),
  },
  {
    id: 'pipe-1000-type',
    what: 'same, SCAN … TYPE string',
    run: pipelined(1000, 2, asText, ['TYPE', 'string']),
  },
  {
    id: 'lua-1000',
    what: 'EVAL: SCAN 1000 + UNLINK on the server, one SCAN per call',
    run: scripted(1000, 1000, 0),
  },
  {
    id: 'lua-100x10',
    what: 'EVAL: SCAN 100 + UNLINK, up to 1000 keys per call',
    run: scripted(100, 1000, 1e9),
  },
  {
    id: 'lua-100-250us',
    what: 'EVAL: SCAN 100 + UNLINK, up to 10000 keys or 0.25 ms per call',
    run: scripted(100, 10_000, 250),
  },
  {
    id: 'lua-100-500us',
    what: 'EVAL: SCAN 100 + UNLINK, up to 10000 keys or 0.5 ms per call',
    run: scripted(100, 10_000, 500),
  },
  {
    id: 'lua-100-1ms',
    what: 'EVAL: SCAN 100 + UNLINK, up to 10000 keys or 1 ms per call',
    run: scripted(100, 10_000, 1000),
  },
  {
    id: 'lua-100x10-1ms',
    what: 'EVAL: SCAN 100 + UNLINK, up to 1000 keys or 1 ms per call',
    run: scripted(100, 1000, 1000),
  },
  {
    id: 'lua-100x10-500us',
    what: 'EVAL: SCAN 100 + UNLINK, up to 1000 keys or 0.5 ms per call (kept, as src/sessions/redis-purge.ts)',
    run: scripted(100, 1000, 500),
  },
  {
    id: 'lua-100-2ms',
    what: 'EVAL: SCAN 100 + UNLINK, up to 10000 keys or 2 ms per call',
    run: scripted(100, 10_000, 2000),
  },
];
