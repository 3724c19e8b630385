/**
 * `rekey verify`: the post-rotation validation table, against what the env file holds now. With
 * `--trigger compromise`, also the eviction checks on their own ("what an attacker could still use"):
 * each target's read-only `checkFootholds` with the env file's values. Changes nothing anywhere.
 * Exit 1 when a check fails (ERR_VERIFY_FAILED) or a foothold is FOUND (ERR_FOOTHOLD_FOUND); a
 * foothold that could not be checked is said, and does not fail.
 */
import type { Trigger } from '../config/schema.js';
import { valuesOf } from '../engine/engine.js';
import { footholdReport } from '../engine/eviction.js';
import { silentProgress } from '../engine/progress.js';
import { RekeyError } from '../lib/errors.js';
import { runChecks } from '../verify/index.js';
import { renderTable } from '../verify/table.js';
import { type GlobalOptions, openStack } from './context.js';
import { printJson, printLines } from './output.js';
import { renderEviction } from './report.js';

export async function verifyCommand(
  globals: GlobalOptions,
  opts: { json?: boolean; trigger?: Trigger },
): Promise<void> {
  const deps = await openStack(globals, { progress: silentProgress });
  const env = (await deps.store.read()).values;
  const targets = await deps.makeTargets(env);
  let rows: Awaited<ReturnType<typeof runChecks>>;
  let eviction: Awaited<ReturnType<typeof footholdReport>> | undefined;
  try {
    rows = await runChecks({
      config: deps.loaded.config,
      env,
      targets: targets.map((target) => ({ target, next: valuesOf(target, env) })),
      ctx: { trigger: 'scheduled', log: deps.log },
    });
    if (opts.trigger === 'compromise') {
      eviction = await footholdReport(
        targets.map((target) => ({ target, cur: valuesOf(target, env) })),
        { trigger: 'compromise', log: deps.log },
        `the ${deps.store.label}`,
      );
    }
  } finally {
    for (const t of targets) await t.close?.();
  }
  const failed = rows.filter((r) => !r.ok);
  const found = (eviction ?? []).filter((f) => f.status === 'reported');
  if (opts.json) {
    printJson({
      ok: failed.length === 0 && found.length === 0,
      checks: rows,
      ...(eviction ? { eviction } : {}),
    });
  } else printLines([...renderTable(rows), ...(eviction ? ['', ...renderEviction(eviction)] : [])]);
  if (failed.length > 0) {
    throw new RekeyError(
      'ERR_VERIFY_FAILED',
      `${failed.length} of ${rows.length} checks failed: ${failed.map((r) => r.name).join(', ')}`,
      {
        hint: 'The stack does not accept what the env file holds; if a rotation was interrupted, run `rekey recover`.',
      },
    );
  }
  if (found.length > 0) {
    throw new RekeyError(
      'ERR_FOOTHOLD_FOUND',
      `${found.length} foothold${found.length === 1 ? '' : 's'} an attacker could still use: ${[...new Set(found.map((f) => `${f.foothold} (${f.service})`))].join(', ')}`,
    );
  }
}
