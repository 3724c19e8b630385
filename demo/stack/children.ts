/**
 * Server processes that never outlive us. Every server is spawned through {@link spawnServer}: it is
 * killed (and its temp dir removed) when this process exits, on SIGINT/SIGTERM/SIGHUP when nobody
 * else handles them, and, through setpriv's parent-death signal, even when we are SIGKILLed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { removeOwnedDirSync } from '../../src/lib/owned-dir.js';
import { minimalEnv, type Wrap, wrapCommand } from './exec.js';

interface Tracked {
  child: ChildProcess;
  /** Sent at exit: SIGQUIT for postgres (immediate shutdown, frees shared memory), SIGKILL for redis. */
  signal: NodeJS.Signals;
}

const children = new Set<Tracked>();
const dirs = new Set<string>();
let hooked = false;

function reapAll(): void {
  for (const entry of children) {
    try {
      if (entry.child.exitCode === null && entry.child.signalCode === null) entry.child.kill(entry.signal);
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of dirs) {
    try {
      removeOwnedDirSync(dir);
    } catch (error) {
      // best effort at exit; a refusal (not a folder we marked) is said, never forced
      process.stderr.write(`${(error as Error).message}\n`);
    }
  }
  dirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Only act like the default handler when nobody else listens; otherwise they own the shutdown and
  // the 'exit' hook (or the parent-death signal) still reaps the servers.
  if (process.listenerCount(signal) > 1) return;
  reapAll();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', reapAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

/**
 * Removes `dir` when this process exits, unless the returned function is called first.
 *
 * @example
 * const untrack = trackDir(root); // ... later, after rm(root): untrack();
 */
export function trackDir(dir: string): () => void {
  hook();
  dirs.add(dir);
  return () => {
    dirs.delete(dir);
  };
}

/** A running server process. */
export interface ServerProcess {
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** True until the process has exited. */
  alive(): boolean;
  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILL; resolves once the process is gone. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export interface SpawnServerOptions extends Wrap {
  /** stdout and stderr are appended to this file. */
  logFile: string;
  /** Signal used when this process exits with the server still running. */
  exitSignal: NodeJS.Signals;
  /** Working directory (one the server's user can enter). */
  cwd?: string;
  /**
   * Let the server outlive this process (`rekey demo --keep`): no parent-death signal, not killed at
   * exit. The caller records its pid and stops it later.
   */
  persistent?: boolean;
}

/**
 * Starts a long-running server in its own process group (a terminal's Ctrl-C does not reach it; we
 * stop it), with a minimal environment and its output appended to `logFile`. The child does not keep
 * Node's event loop alive.
 *
 * @example
 * const proc = await spawnServer('redis-server', [configFile], { logFile, exitSignal: 'SIGKILL', deathSignal: 'SIGKILL' });
 * await proc.stop('SIGTERM');
 */
export async function spawnServer(
  cmd: string,
  args: readonly string[],
  options: SpawnServerOptions,
): Promise<ServerProcess> {
  hook();
  const [file, argv] = await wrapCommand(
    cmd,
    args,
    options.persistent ? { user: options.user, deathSignal: undefined } : options,
  );
  const fd = openSync(options.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(file, argv, {
      stdio: ['ignore', fd, fd],
      env: minimalEnv(),
      cwd: options.cwd,
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  const entry: Tracked = { child, signal: options.exitSignal };
  const tracked = new Set<Tracked>([entry]);
  if (!options.persistent) children.add(entry);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(entry);
      tracked.delete(entry);
      resolve();
    });
    child.once('error', () => {
      children.delete(entry);
      tracked.delete(entry);
      resolve();
    });
  });
  child.unref();
  const alive = () => child.exitCode === null && child.signalCode === null && tracked.has(entry);
  return {
    pid: child.pid ?? -1,
    exited,
    alive,
    async stop(signal, timeoutMs = 30_000) {
      if (!alive()) return exited;
      child.ref(); // keep Node alive until the exit is seen
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      if ((await Promise.race([exited, timeout])) === 'timeout') child.kill('SIGKILL');
      clearTimeout(timer);
      return exited;
    },
  };
}
