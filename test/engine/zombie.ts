/**
 * Real zombies for the liveness tests: a process that exited and whose parent never reaps it, as a
 * killed `rekey` is in a container whose pid 1 does not reap (or under a parent that never waits).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';

/** Field 3 of /proc/<pid>/stat (counted after the last ')': the name may hold spaces and ')'). */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Shell (for a background subshell) that waits until its parent shell has become `sleep` (exec): a
 * shell reaps a finished background job between commands, so the job must outlive the `exec`.
 */
const AFTER_EXEC =
  'read -r _ _ _ parent _ </proc/self/stat; while [ "$(cat /proc/$parent/comm)" != sleep ]; do sleep 0.02; done';

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
  const child = spawn('/bin/sh', ['-c', `(${AFTER_EXEC}) & echo $!; exec sleep 120`], {
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

/** The signal that ended a zombie (from its exit status, field 52 of /proc/<pid>/stat), if any. */
export function zombieSignal(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[49]);
    return Number.isInteger(status) && (status & 0x7f) !== 0 ? status & 0x7f : undefined;
  } catch {
    return undefined;
  }
}

/** Pids whose process group is `pgid` (from /proc). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface Unreaped {
  /** rekey's pid. */
  readonly pid: number;
  /** Its parent, which never reaps it (also the leader of the process group they share). */
  readonly parent: number;
  /** Waits until rekey is a zombie (it was killed or exited) and returns the signal that ended it. */
  dead(ms?: number): Promise<number | undefined>;
  /** SIGKILLs every process of the group but the parent: what a killed machine leaves. */
  killGroupButParent(): void;
  /** Ends the parent (the zombie goes to a reaper, or to a pid 1 that does not reap either). */
  release(): Promise<void>;
}

/**
 * Runs `node <cli> <args>` under a parent that never reaps it: `sh` starts rekey in the background
 * (same process group), prints its pid, then becomes `sleep` (exec), which never waits. A killed
 * rekey therefore stays a zombie, as in a container whose pid 1 does not reap. Output goes to
 * `<cwd>/unreaped.out` and `unreaped.err`.
 *
 * @example
 * const u = await startUnreaped(CLI, ['rotate', '--yes'], dir, env); await u.dead(); ...; await u.release();
 */
export async function startUnreaped(
  cli: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<Unreaped> {
  const parent = spawn(
    '/bin/sh',
    [
      '-c',
      `(${AFTER_EXEC}; exec "$0" "$@" </dev/null >unreaped.out 2>unreaped.err) & echo $!; exec sleep 600`,
      process.execPath,
      cli,
      ...args,
    ],
    { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  const group = parent.pid!;
  return {
    pid,
    parent: group,
    async dead(ms = 60_000) {
      const deadline = Date.now() + ms;
      while (procState(pid) !== 'Z') {
        if (Date.now() > deadline) throw new Error(`rekey (pid ${pid}) still runs after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return zombieSignal(pid);
    },
    killGroupButParent() {
      for (const p of groupMembers(group)) {
        if (p === group) continue;
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    },
    async release() {
      if (parent.exitCode === null && parent.signalCode === null) {
        parent.kill('SIGKILL');
        await once(parent, 'close');
      }
    },
  };
}
