/**
 * Process groups: ending one, and settling one a killed rekey left running (the deploy or rollback
 * command named in the journal). Used by the command runner (src/lib/command.ts) and by `recover`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RekeyError } from './errors.js';
import { groupAlive } from './process-alive.js';

/** Sends `signal` to the process group `pid` (nothing if it is gone). */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export type LeftOver = 'not running' | 'waited' | 'ended' | 'killed';

/**
 * A command a killed rekey left running (its process group, as journaled): waits up to `waitMs` for
 * it to end; then ends it (SIGTERM to the group, `graceMs`, SIGKILL). Says which: `not running`
 * (already over, or the pid now belongs to another process), `waited` (it ended by itself), `ended`
 * (by SIGTERM), `killed` (by SIGKILL). Throws ERR_NEEDS_ATTENTION if it outlives SIGKILL.
 *
 * @example
 * await settleLeftOver({ pid: 4242, procStart: '991' }, 60_000); // 'waited'
 */
export async function settleLeftOver(
  group: { pid: number; procStart?: string },
  waitMs: number,
  graceMs = 5000,
): Promise<LeftOver> {
  const alive = () => groupAlive(group.pid, group.procStart);
  const until = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (alive()) {
      if (Date.now() >= deadline) return false;
      await sleep(100);
    }
    return true;
  };
  if (!alive()) return 'not running';
  if (await until(waitMs)) return 'waited';
  killGroup(group.pid, 'SIGTERM');
  if (await until(graceMs)) return 'ended';
  killGroup(group.pid, 'SIGKILL');
  if (await until(5000)) return 'killed';
  throw new RekeyError('ERR_NEEDS_ATTENTION', `process group ${group.pid} still runs after SIGKILL`, {
    hint: `Find out why its processes cannot end (\`ps -o pid,stat,args -g ${group.pid}\`), then run \`rekey recover\` again.`,
  });
}
