/**
 * The deploy (or rollback) command as a journaled step: its process group named in the journal
 * before it may start (so `recover` can wait for it or end it), its output redacted and kept in a
 * log file, a failure turned into ERR_DEPLOY_* with the last lines (by the injected `Deployer`). Used by the engine and by
 * rollback alike (neither imports the other for it).
 */
import path from 'node:path';
import { processStart } from '../lib/process-alive.js';
import type { Deployer } from './ports.js';
import type { Run } from './run.js';

/** Runs the deploy (or rollback) command; throws ERR_DEPLOY_* with the last lines of output. */
export async function deployNow(run: Run, deployer: Deployer, label: 'deploy' | 'rollback'): Promise<string> {
  const env = await run.currentValues();
  const timeoutMs = deployer.timeoutMs;
  let result: { readonly ms: number; readonly note?: string };
  try {
    result = await deployer.run(label, {
      env,
      // Lets a deploy script tell rekey's own rollback from an operator's (scripts/deploy.sh does).
      extraEnv: { REKEY_PHASE: label, REKEY_ROTATION_ID: run.journal.id },
      secretKeys: [...run.targets.values()].flatMap((t) => t.secretKeys),
      logFile: path.join(run.deps.stateDir, 'logs', `${run.journal.id}-${label}.log`),
      // The journal names the command's process group before it may start: a killed rekey leaves
      // it running, and `recover` waits for it (or ends it) before deploying again.
      started: async (pid) => {
        const procStart = processStart(pid);
        run.journal.command = {
          pid,
          ...(procStart === undefined ? {} : { procStart }),
          label,
          startedAt: new Date().toISOString(),
          timeoutMs,
        };
        await (label === 'rollback' ? run.saveBestEffort() : run.save());
      },
    });
  } finally {
    // Ended (or never started): the step's own journal write records that it is gone.
    delete run.journal.command;
  }
  return `done in ${(result.ms / 1000).toFixed(1)} s${result.note === undefined ? '' : ` (${result.note})`}`;
}
