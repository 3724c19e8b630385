/**
 * Documented fault-injection points for the fault tests (and for rehearsing a failure on a staging
 * stack). Inert unless the variable is set.
 *
 * - `REKEY_CRASH_AT=<step>[@begin|@end]`: the process kills itself with SIGKILL (a real kill -9) right
 *   after the journal records the step's start (`@begin`), or right after the step's work, before the
 *   journal records its end (`@end`, the default). `<step>` is a step id from `rekey plan --json`
 *   (`stage:REDIS_PASSWORD`, `commit`, `revert:POSTGRES_PASSWORD`, `restore`, ...) or a bare phase
 *   (`stage`), which matches the phase's first step.
 *   `close@begin` is the point after a finished rotation's (or rollback's) `beforeClose` hook (the
 *   audit record) and before its journal is closed.
 *   `migrate-store` is the point of `rekey migrate` after the store was written and read back, before
 *   rekey.yaml is rewritten.
 * - `REKEY_FAIL_AT=<step>[@begin|@end]`: the step fails with ERR_INJECTED_FAULT at that point.
 * - `REKEY_PAUSE_AT=<step>[@begin|@end]` with `REKEY_PAUSE_FILE=<path>`: at that point rekey writes
 *   the step id to the file and waits until the file is removed (a test stops a service meanwhile).
 * - `REKEY_DISK_FULL_AT=<step>[@begin|@end]`: from that point on, every journal write fails with
 *   ENOSPC, as on a full disk.
 *
 * A real process dies anywhere, not only here: the tests also kill at random times.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { RekeyError } from './errors.js';

/** Where a fault may fire: a step (its id and phase, as the engine's typed steps carry them) or a named point. */
export type FaultSite = string | { readonly id: string; readonly phase: string };

function matches(spec: string | undefined, site: FaultSite, when: 'begin' | 'end'): boolean {
  if (!spec) return false;
  const { id, phase } = typeof site === 'string' ? { id: site, phase: site } : site;
  const at = spec.lastIndexOf('@');
  const [where, point] = at < 0 ? [spec, 'end'] : [spec.slice(0, at), spec.slice(at + 1)];
  return point === when && (where === id || where === phase);
}

const fired = new Set<string>();
let diskFull = false;

/** Throws ENOSPC once `REKEY_DISK_FULL_AT` was reached (the journal store calls it before writing). */
export function simulatedDiskFull(file: string): void {
  if (diskFull) {
    throw new RekeyError('ERR_IO', `cannot write ${file}: ENOSPC (simulated by REKEY_DISK_FULL_AT)`);
  }
}

/** Called by the step runner at each boundary (and by a few named points: `prepare`, `close`, `migrate-store`). */
export async function faultPoint(site: FaultSite, when: 'begin' | 'end'): Promise<void> {
  const { id, phase } = typeof site === 'string' ? { id: site, phase: site } : site;
  if (matches(process.env.REKEY_CRASH_AT, site, when)) process.kill(process.pid, 'SIGKILL');
  if (matches(process.env.REKEY_DISK_FULL_AT, site, when)) diskFull = true;
  const pauseFile = process.env.REKEY_PAUSE_FILE;
  if (pauseFile && matches(process.env.REKEY_PAUSE_AT, site, when) && !fired.has(`pause:${id}`)) {
    fired.add(`pause:${id}`);
    writeFileSync(pauseFile, `${id}@${when}\n`);
    while (existsSync(pauseFile)) await new Promise((r) => setTimeout(r, 20));
  }
  // A bare phase fails once (its first step), so a rollback through the same phase can proceed.
  if (matches(process.env.REKEY_FAIL_AT, site, when) && !fired.has(phase)) {
    fired.add(phase);
    throw new RekeyError('ERR_INJECTED_FAULT', `injected failure at ${id}@${when} (REKEY_FAIL_AT)`);
  }
}
