/** Small Redis helpers for the purge benchmark: key counts per db, waiting for lazy frees. */
import type { RawRedis } from './redis-client.js';

/** `{ keys, expires }` of each db from `INFO keyspace`. */
export async function keyspace(r: RawRedis): Promise<Map<number, { keys: number; expires: number }>> {
  const info = await r.text(['INFO', 'keyspace']);
  const dbs = new Map<number, { keys: number; expires: number }>();
  for (const m of info.matchAll(/^db(\d+):keys=(\d+),expires=(\d+)/gm)) {
    dbs.set(Number(m[1]), { keys: Number(m[2]), expires: Number(m[3]) });
  }
  return dbs;
}

/** Resolves once Redis has no lazy-free work pending (`lazyfree_pending_objects:0`). */
export async function lazyFreeDone(r: RawRedis, pollMs = 5, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await r.text(['INFO', 'memory']);
    if (/^lazyfree_pending_objects:0\r?$/m.test(info)) return;
    if (Date.now() > deadline) throw new Error('lazy free still pending after 60 s');
    await new Promise((res) => setTimeout(res, pollMs));
  }
}
