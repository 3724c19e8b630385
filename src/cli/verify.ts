/** `rekey verify`: the post-rotation validation table, against what the env file holds now. */
import { valuesOf } from '../core/engine.js';
import { RekeyError } from '../core/errors.js';
import { silentProgress } from '../core/progress.js';
import { envValues, readEnvFile } from '../envfile/index.js';
import { runChecks } from '../verify/index.js';
import { renderTable } from '../verify/table.js';
import { type GlobalOptions, openStack } from './context.js';
import { printJson, printLines } from './output.js';

export async function verifyCommand(globals: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const deps = await openStack(globals, { progress: silentProgress });
  const env = envValues((await readEnvFile(deps.loaded.envFile)).doc);
  const targets = await deps.makeTargets(env);
  const rows = await runChecks({
    config: deps.loaded.config,
    env,
    targets: targets.map((target) => ({ target, next: valuesOf(target, env) })),
    ctx: { trigger: 'scheduled', log: deps.log },
  });
  for (const t of targets) await t.close?.();
  const failed = rows.filter((r) => !r.ok);
  if (opts.json) printJson({ ok: failed.length === 0, checks: rows });
  else printLines(renderTable(rows));
  if (failed.length > 0) {
    throw new RekeyError(
      'ERR_VERIFY_FAILED',
      `${failed.length} of ${rows.length} checks failed: ${failed.map((r) => r.name).join(', ')}`,
      {
        hint: 'The stack does not accept what the env file holds; if a rotation was interrupted, run `rekey recover`.',
      },
    );
  }
}
