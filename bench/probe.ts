/** Starts the latency probe (pinger.ts) in its own process and collects its samples. */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PINGER = fileURLToPath(new URL('./pinger.js', import.meta.url));

/** PING send times (epoch ms) and latencies (ms). */
export interface ProbeSamples {
  readonly at: number[];
  readonly ms: number[];
}

export interface Probe {
  /** Stops the probe; resolves with every sample it took. */
  stop(): Promise<ProbeSamples>;
}

/**
 * Forks the probe, connects it (the password travels in its environment, not argv) and waits for its
 * first PONG.
 *
 * @example
 * const probe = await startProbe({ host: '127.0.0.1', port, password });
 * // ... the work to observe ...
 * const { at, ms } = await probe.stop();
 */
export async function startProbe(target: { host: string; port: number; password: string }): Promise<Probe> {
  const child = fork(PINGER, [], {
    env: { PATH: process.env.PATH ?? '', BENCH_REDIS_PASSWORD: target.password },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Array<{ type: string; [k: string]: unknown }> = [];
  let notify: (() => void) | undefined;
  child.on('message', (m: { type: string }) => {
    messages.push(m);
    notify?.();
  });
  const next = (type: string, timeoutMs: number) =>
    new Promise<{ type: string; [k: string]: unknown }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`latency probe: no '${type}' in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const i = messages.findIndex((m) => m.type === type || m.type === 'error');
        if (i < 0) return;
        const [m] = messages.splice(i, 1);
        clearTimeout(timer);
        notify = undefined;
        if (m?.type === 'error') reject(new Error(`latency probe: ${String(m.message)}`));
        else if (m) resolve(m);
      };
      notify = check;
      check();
    });
  child.send({ type: 'start', host: target.host, port: target.port });
  await next('ready', 10_000);
  return {
    async stop() {
      const done = next('samples', 30_000);
      child.send({ type: 'stop' });
      const m = await done;
      return { at: m.at as number[], ms: m.ms as number[] };
    },
  };
}
