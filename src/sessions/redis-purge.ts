/**
 * Deleting the keys that match a pattern without blocking Redis. Never KEYS.
 *
 * The work is done on the server, one small slice per call: a Lua script ({@link PURGE_SCRIPT}) runs
 * `SCAN cursor MATCH pattern COUNT 100` + `UNLINK` of what it found, again and again, until it has
 * examined `batch` keys or spent {@link CALL_BUDGET_US} of server time, and returns the cursor; the
 * client sends the next call. So no key travels to the client and back (half the client CPU, no
 * protocol work for 2 × N keys), and no call holds Redis for much more than half a millisecond
 * however dense the matches are (a SCAN COUNT 1000 + UNLINK pair took 3.5 ms on a 2-core VM, and
 * other clients wait for it). Measured in bench/results/purge-variants.md: Redis's own CPU is the
 * same whichever way the purge is driven; the budget decides how long other clients wait.
 *
 * When the server refuses the script (an ACL user without +@scripting, EVAL renamed away, a server
 * that refuses scripts under maxmemory), the purge goes on from the same cursor on the client:
 * SCAN (MATCH, COUNT = batch), the next SCAN sent as soon as a cursor arrives, the UNLINK of the
 * keys just found right after it, at most {@link MAX_UNLINKS_IN_FLIGHT} UNLINKs waiting. Keys are
 * read as bytes, so binary keys are purged too, either way.
 */
import { ErrorReply } from 'redis';
import { RekeyError } from '../lib/errors.js';
import type { RedisConn } from '../lib/redis.js';

/** Server time one scripted call may spend before it returns (µs); a SCAN step may overrun it. */
export const CALL_BUDGET_US = 500;
/** SCAN COUNT of one step inside the script. */
export const SCRIPT_SCAN_STEP = 100;
/** Client-side fallback: UNLINKs sent but not yet answered, at most. */
export const MAX_UNLINKS_IN_FLIGHT = 2;

/**
 * ARGV: cursor, pattern, SCAN step, keys to examine at most, budget in µs. Returns
 * `{cursor, deleted, scans}`. `replicate_commands` lets Redis < 5 replicate the UNLINKs after the
 * non-deterministic SCAN/TIME (a no-op since 5). Keys are UNLINKed 1000 at a time (Lua's `unpack`
 * has a stack limit).
 */
export const PURGE_SCRIPT = `if redis.replicate_commands then redis.replicate_commands() end
local cursor, pattern, step = ARGV[1], ARGV[2], ARGV[3]
local most, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local function now() local t = redis.call('TIME') return tonumber(t[1]) * 1000000 + tonumber(t[2]) end
local start = now()
local deleted, scans = 0, 0
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', step)
  cursor = r[1]
  scans = scans + 1
  local keys = r[2]
  for i = 1, #keys, 1000 do
    deleted = deleted + redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))
  end
until cursor == '0' or scans * step >= most or now() - start >= budget
return {cursor, deleted, scans}`;

export interface PurgeProgress {
  readonly pattern: string;
  /** SCAN calls so far (server-side steps included). */
  readonly batches: number;
  /** Keys removed so far (UNLINK's count: duplicates SCAN returns twice are not counted twice). */
  readonly purged: number;
  readonly elapsedMs: number;
  /** Where the keys are found: 'script' (on the server) or 'client' (the fallback). */
  readonly via?: 'script' | 'client';
}

export interface PurgeOptions {
  /** Keys examined per round trip (SCAN COUNT on the client path). */
  readonly batch: number;
  readonly onProgress?: (p: PurgeProgress) => void;
  readonly signal?: AbortSignal;
}

/** Where a purge stands; both paths continue from it. */
interface State {
  cursor: string;
  batches: number;
  purged: number;
  via: 'script' | 'client';
  readonly started: number;
}

type ScanReply = [Buffer, Buffer[]];

/**
 * Removes every key matching `pattern` in the connection's current db; returns how many were removed.
 *
 * @example
 * const n = await purgePattern(conn, 'session:*', { batch: 1000 });
 */
export async function purgePattern(conn: RedisConn, pattern: string, options: PurgeOptions): Promise<number> {
  const state: State = { cursor: '0', batches: 0, purged: 0, via: 'script', started: Date.now() };
  try {
    await scripted(conn, pattern, options, state);
  } catch (err) {
    // The server answered with an error: scripting is not allowed here. Anything else (a lost
    // connection, a timeout, an abort) is not something the client path would fare better with.
    if (!(err instanceof ErrorReply) || options.signal?.aborted) throw err;
    state.via = 'client';
    await pipelined(conn, pattern, options, state);
  }
  report(pattern, options, state);
  return state.purged;
}

function report(pattern: string, options: PurgeOptions, s: State): void {
  options.onProgress?.({
    pattern,
    batches: s.batches,
    purged: s.purged,
    elapsedMs: Date.now() - s.started,
    via: s.via,
  });
}

async function scripted(
  conn: RedisConn,
  pattern: string,
  options: PurgeOptions,
  state: State,
): Promise<void> {
  const step = String(Math.min(options.batch, SCRIPT_SCAN_STEP));
  const most = String(options.batch);
  const budget = String(CALL_BUDGET_US);
  do {
    // The pattern travels as given; the reply's cursor and counts are plain numbers.
    const [cursor, deleted, scans] = await conn.command<[string, number, number]>([
      'EVAL',
      PURGE_SCRIPT,
      '0',
      state.cursor,
      pattern,
      step,
      most,
      budget,
    ]);
    state.cursor = String(cursor);
    state.batches += Number(scans);
    state.purged += Number(deleted);
    if (options.signal?.aborted) throw interrupted(pattern, state.purged);
    if (state.cursor !== '0') report(pattern, options, state);
  } while (state.cursor !== '0');
}

async function pipelined(
  conn: RedisConn,
  pattern: string,
  options: PurgeOptions,
  state: State,
): Promise<void> {
  const count = String(options.batch);
  const scan = (cursor: string) =>
    conn.commandRaw<ScanReply>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', count]);
  const unlinks: Promise<number>[] = [];
  let pending: Promise<ScanReply> | undefined = scan(state.cursor);
  try {
    while (pending) {
      const [cursorBuf, keys]: ScanReply = await pending;
      state.batches++;
      state.cursor = cursorBuf.toString();
      if (options.signal?.aborted) throw interrupted(pattern, state.purged);
      pending = state.cursor === '0' ? undefined : scan(state.cursor);
      if (keys.length > 0) {
        const unlink = conn.command<number>(['UNLINK', ...keys.map(asArg)]);
        // Awaited below, maybe only after the next SCAN: until then a rejection must not count as
        // unhandled (Node would end the process in the middle of the invalidate step).
        unlink.catch(() => {});
        unlinks.push(unlink);
      }
      while (unlinks.length > MAX_UNLINKS_IN_FLIGHT) state.purged += Number(await unlinks.shift());
      if (pending) report(pattern, options, state);
    }
    for (const u of unlinks.splice(0)) state.purged += Number(await u);
  } finally {
    // On failure, settle what is still in flight so no rejection goes unhandled.
    await Promise.allSettled([...unlinks, ...(pending ? [pending] : [])]);
  }
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
