/**
 * Whether a process (or a process group) is alive: the one liveness check every lock, journal record
 * and pidfile asks. A zombie is dead: a killed process whose parent does not reap it (a container
 * without an init, a parent killed too) keeps its pid, so `kill(pid, 0)` still succeeds, but it runs
 * nothing and holds nothing. A pid now used by another process (same pid, other start time) is dead
 * too. Reads `/proc` where it exists; elsewhere falls back to `kill(pid, 0)`.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  /** Field 3: R, S, D, T, Z (zombie), X (dead)... */
  readonly state: string;
  /** Field 5: the process group id. */
  readonly pgrp: number;
  /** Field 22: start time in clock ticks since boot. */
  readonly start: string;
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself hold spaces
 * and ')': the fields after it are counted from the LAST ')'.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(' ');
  const [state, , pgrp] = rest;
  const start = rest[19];
  if (!state || pgrp === undefined || start === undefined) return undefined;
  return { state, pgrp: Number(pgrp), start };
}

function procStat(pid: number | string): ProcStat | undefined | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (e) {
    // ENOENT: no such process (where /proc exists); anything else: no /proc to ask.
    return (e as NodeJS.ErrnoException).code === 'ENOENT' && hasProc() ? undefined : null;
  }
}

let procMounted: boolean | undefined;
function hasProc(): boolean {
  if (procMounted === undefined) {
    try {
      readFileSync('/proc/self/stat');
      procMounted = true;
    } catch {
      procMounted = false;
    }
  }
  return procMounted;
}

const zombie = (s: ProcStat) => s.state === 'Z' || s.state === 'X' || s.state === 'x';

/**
 * The start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`), to tell
 * it from a later process that reuses its pid; undefined without /proc or for no such process.
 *
 * @example
 * processStart(process.pid); // '1234567'
 */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start ?? undefined;
}

/**
 * True when `pid` runs (not a zombie) and, if `start` is given and /proc can tell, started then.
 *
 * @example
 * processAlive(holder.pid, holder.procStart); // false for a killed, unreaped holder
 */
export function processAlive(pid: number, start?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const st = procStat(pid);
  if (st === undefined) return false;
  if (st !== null) return !zombie(st) && (start === undefined || st.start === start);
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while any process of the process group `pgid` runs (zombies aside). `leaderStart` is the start
 * time of the group's leader when it was recorded: a leader pid now held by another process means
 * the group ended long ago (a pid is never handed out while a group of that id exists).
 *
 * @example
 * groupAlive(deploy.pid, deploy.procStart); // the deploy or something it started still runs
 */
export function groupAlive(pgid: number, leaderStart?: string): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  const leader = procStat(pgid);
  if (leader === null) {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  if (leader !== undefined && leaderStart !== undefined && leader.start !== leaderStart) return false;
  if (leader !== undefined && leader.pgrp === pgid && !zombie(leader)) return true;
  // The leader is gone or a zombie: a member it started may still run.
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return false;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (st && st.pgrp === pgid && !zombie(st)) return true;
  }
  return false;
}
