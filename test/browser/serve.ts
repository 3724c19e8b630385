/**
 * `rekey serve` of a test stack through the built CLI, on a free port: resolves once it listens, with
 * its metrics URL and its root (the dashboard); stopped with SIGTERM after each test.
 */
import { afterEach } from 'vitest';
import type { CliResult, Stack } from '../engine/stack.js';

export interface Served {
  /** `http://host:port/metrics` as the server printed it. */
  readonly metrics: string;
  /** `http://host:port/`. */
  readonly root: string;
  readonly done: Promise<CliResult>;
  stop(): Promise<CliResult>;
}

/** Starts `rekey serve --port 0 ...args` in the stack's folder. */
export async function startServe(s: Stack, args: readonly string[] = []): Promise<Served> {
  const { child, done } = s.start(['serve', '--port', '0', ...args]);
  let err = '';
  const metrics = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (b) => {
      err += b;
      const m = /serving Prometheus metrics on (\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    done.then((r) => reject(new Error(`rekey serve exited ${r.code}: ${r.stderr}`)));
  });
  return {
    metrics,
    root: new URL('/', metrics).href,
    done,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return done;
    },
  };
}

/** `startServe` for a test file: every server it starts is stopped after each test. */
export function useServe(): (s: Stack, args?: readonly string[]) => Promise<Served> {
  let running: Served[] = [];
  afterEach(async () => {
    await Promise.all(running.map((x) => x.stop()));
    running = [];
  });
  return async (s, args) => {
    const x = await startServe(s, args);
    running.push(x);
    return x;
  };
}
