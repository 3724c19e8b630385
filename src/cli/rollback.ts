/** `rekey rollback [--backup PATH]`: return the stack, live services included, to a backup's values. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { rotate } from '../core/engine.js';
import { RekeyError } from '../core/errors.js';
import { RotationControl } from '../core/run.js';
import { envValues, listBackups, parseEnv } from '../envfile/index.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openStack } from './context.js';
import { progressFor } from './progress.js';
import { report } from './report.js';
import { installInterruptHandler } from './signals.js';

export async function rollbackCommand(
  globals: GlobalOptions,
  opts: { backup?: string; json?: boolean; yes?: boolean; operator?: string; ticket?: string },
): Promise<void> {
  const progress = progressFor();
  const control = new RotationControl();
  const deps = await openStack(globals, { progress, control });
  const backup = opts.backup ? path.resolve(opts.backup) : (await listBackups(deps.loaded.envFile))[0];
  if (backup === undefined)
    throw new RekeyError('ERR_BACKUP_NOT_FOUND', `no backup of ${path.basename(deps.loaded.envFile)} found`);
  let text: string;
  try {
    text = await fs.readFile(backup, 'utf8');
  } catch {
    throw new RekeyError('ERR_BACKUP_NOT_FOUND', `cannot read the backup ${backup}`);
  }
  const values = envValues(parseEnv(text, path.basename(backup)));
  const current = envValues(deps.loaded.env.doc);
  const keys = deps.loaded.config.secrets
    .filter((s) =>
      [s.key, ...('previousKey' in s && s.previousKey ? [s.previousKey] : [])].some(
        (k) => values.get(k) !== current.get(k),
      ),
    )
    .map((s) => s.key);
  if (keys.length === 0) {
    report(
      {
        id: '',
        kind: 'rollback',
        outcome: 'nothing-to-do',
        keys: [],
        startedAt: new Date().toISOString(),
        endedAt: new Date().toISOString(),
        ms: 0,
        steps: [],
        checks: [],
        warnings: [`the env file already holds the values of ${path.basename(backup)}`],
      },
      opts.json,
    );
    return;
  }
  await confirm(
    `Return ${keys.join(', ')} to the values of ${path.basename(backup)}, live services included?`,
    opts.yes,
  );
  const uninstall = installInterruptHandler(control);
  try {
    const result = await rotate(deps, {
      trigger: 'scheduled',
      only: keys,
      force: true,
      fixedValues: values,
      meta: {
        rollbackFrom: backup,
        ...(opts.operator ? { operator: opts.operator } : {}),
        ...(opts.ticket ? { ticket: opts.ticket } : {}),
      },
    });
    progress.stop();
    report(result, opts.json);
  } finally {
    progress.stop();
    uninstall();
  }
}
