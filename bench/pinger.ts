/**
 * The latency probe, run as its own process (`fork`), so its timing does not depend on the event loop
 * of the process doing the purge: one connection, a PING about every millisecond (the next one 1 ms
 * after the previous reply, never two at once), each timed with the monotonic clock.
 *
 * Protocol (IPC): the parent sends `{ type: 'start', host, port }` with the password in
 * `BENCH_REDIS_PASSWORD` of this process's environment (never argv); we answer `{ type: 'ready' }`
 * after the first PONG; on `{ type: 'stop' }` we answer `{ type: 'samples', at, ms }` (send times as
 * epoch ms with sub-ms precision, latencies in ms) and exit.
 */
import { RawRedis } from './redis-client.js';

interface Start {
  type: 'start';
  host: string;
  port: number;
}

const PING = ['PING'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(start: Start): Promise<void> {
  const client = await RawRedis.open(start.host, start.port, process.env.BENCH_REDIS_PASSWORD);
  const at: number[] = [];
  const ms: number[] = [];
  let running = true;
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') running = false;
  });
  await client.send(PING);
  process.send?.({ type: 'ready' });
  while (running) {
    const t0 = performance.now();
    await client.send(PING);
    const t1 = performance.now();
    at.push(performance.timeOrigin + t0);
    ms.push(t1 - t0);
    await sleep(1);
  }
  await client.close();
  process.send?.({ type: 'samples', at, ms }, () => process.exit(0));
}

// Never outlive the benchmark that started us.
process.on('disconnect', () => process.exit(0));

process.once('message', (m: Start) => {
  if (m.type !== 'start') return;
  main(m).catch((err: unknown) => {
    process.send?.({ type: 'error', message: String((err as Error).message) }, () => process.exit(1));
  });
});
