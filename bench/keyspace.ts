/**
 * The purge benchmark's keyspace: N session keys (`session:<32 hex>`, like the demo app's, each with a
 * TTL as the app sets it) among M other keys (`cache:<n>`), all with 64-byte values, written with
 * real pipelined SET/MSET batches (1000 keys per command, a bounded number of commands in flight).
 */
import { randomBytes } from 'node:crypto';
import type { RawRedis } from './redis-client.js';

export interface KeyspaceSpec {
  readonly sessions: number;
  readonly others: number;
  /** Bytes per value (64 in the issue). */
  readonly valueBytes: number;
  /** Where the sessions go (db 0, or a dedicated db for the FLUSHDB ASYNC method). */
  readonly sessionDb: number;
  readonly otherDb: number;
  /** Session TTL in seconds (the demo app's SESSION_TTL default). */
  readonly sessionTtl: number;
}

const BATCH = 1000;
const IN_FLIGHT = 16;

/** `count` printable random values of `n` bytes each, concatenated (random: nothing to share). */
function values(count: number, n: number): string {
  return randomBytes(Math.ceil((count * n * 3) / 4) + 3)
    .toString('base64')
    .replace(/[+/=]/g, 'x')
    .slice(0, count * n);
}

/** `SET session:<hex> <value> EX <ttl>` commands, one per session. */
function sessionChunk(count: number, valueBytes: number, ttl: number): string[][] {
  const hex = randomBytes(16 * count).toString('hex');
  const vals = values(count, valueBytes);
  const ex = String(ttl);
  return Array.from({ length: count }, (_, i) => [
    'SET',
    `session:${hex.slice(i * 32, i * 32 + 32)}`,
    vals.slice(i * valueBytes, (i + 1) * valueBytes),
    'EX',
    ex,
  ]);
}

/** One `MSET cache:<n> <value> ...` command. */
function otherChunk(from: number, count: number, valueBytes: number): string[] {
  const vals = values(count, valueBytes);
  const args = ['MSET'];
  for (let i = 0; i < count; i++) {
    args.push(`cache:${from + i}`, vals.slice(i * valueBytes, (i + 1) * valueBytes));
  }
  return args;
}

/**
 * Writes the keyspace through `clients` (one per db: index = db number's client). Resolves with the
 * time it took, in ms.
 *
 * @example
 * await loadKeyspace({ 0: r0 }, { sessions: 1e6, others: 1e6, valueBytes: 64, sessionDb: 0, otherDb: 0, sessionTtl: 3600 });
 */
export async function loadKeyspace(clientFor: (db: number) => RawRedis, spec: KeyspaceSpec): Promise<number> {
  const started = performance.now();
  const jobs: Array<() => Promise<unknown>> = [];
  const sessionClient = clientFor(spec.sessionDb);
  const otherClient = clientFor(spec.otherDb);
  const rounds = Math.max(Math.ceil(spec.sessions / BATCH), Math.ceil(spec.others / BATCH));
  for (let r = 0; r < rounds; r++) {
    const s = Math.min(BATCH, spec.sessions - r * BATCH);
    if (s > 0) {
      jobs.push(async () => {
        await sessionClient.pipeline(sessionChunk(s, spec.valueBytes, spec.sessionTtl));
      });
    }
    const o = Math.min(BATCH, spec.others - r * BATCH);
    if (o > 0) jobs.push(() => otherClient.send(otherChunk(r * BATCH, o, spec.valueBytes)));
  }
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      if (job) await job();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return performance.now() - started;
}
