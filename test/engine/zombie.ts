/**
 * Real zombies for the liveness tests: a process that exited and whose parent never reaps it, as a
 * killed `rekey` is in a container whose pid 1 does not reap (or under a parent that never waits).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** Field 3 of /proc/<pid>/stat (counted after the last ')': the name may hold spaces and ')'). */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Waits until `pid` is a zombie (state Z), or throws after `ms`. */
export async function untilZombie(pid: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (procState(pid) !== 'Z') {
    if (Date.now() > deadline)
      throw new Error(`pid ${pid} did not become a zombie (state ${procState(pid)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Zombie {
  /** The zombie's pid. */
  readonly pid: number;
  /** The parent that never reaps it. */
  readonly parent: number;
  /** Ends the parent (the zombie is then reparented to a reaper, or to a pid 1 that does not reap). */
  release(): Promise<void>;
}

/**
 * A zombie: `sh` starts a short command in the background, prints its pid, then becomes `sleep`
 * (exec), which never waits for children, so the exited command stays a zombie until `release()`.
 *
 * @example
 * const z = await makeZombie(); try { ... z.pid ... } finally { await z.release(); }
 */
export async function makeZombie(): Promise<Zombie> {
  const child = spawn('/bin/sh', ['-c', 'true & echo $!; exec sleep 120'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  await untilZombie(pid);
  return {
    pid,
    parent: child.pid!,
    async release() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'close');
      }
    },
  };
}
