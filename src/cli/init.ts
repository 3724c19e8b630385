/** `rekey init [--env-file PATH]`: write a commented rekey.yaml detected from the env file. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { renderInitConfig } from '../config/init.js';
import { DEFAULT_CONFIG } from '../config/load.js';
import { envValues, readEnvFile } from '../envfile/index.js';
import { RekeyError } from '../lib/errors.js';
import { writeFileExclusive } from '../lib/fsx.js';
import { detectSecrets } from '../targets/registry.js';
import type { GlobalOptions } from './context.js';
import { printJson, printLines } from './output.js';

export async function initCommand(
  globals: GlobalOptions,
  opts: { envFile?: string; json?: boolean },
): Promise<void> {
  const configPath = path.resolve(globals.config ?? DEFAULT_CONFIG);
  if (existsSync(configPath)) throw new RekeyError('ERR_CONFIG_EXISTS', `${configPath} already exists`);
  const envFile = path.resolve(opts.envFile ?? '.env.production');
  const env = envValues((await readEnvFile(envFile)).doc);
  const dir = path.dirname(configPath);
  const detected = renderInitConfig(path.relative(dir, envFile) || envFile, env, detectSecrets(env), {
    hasDeployScript: existsSync(path.join(dir, 'scripts', 'deploy.sh')),
  });
  if (detected.keys.length === 0) {
    throw new RekeyError('ERR_USAGE', `no known secret keys in ${path.basename(envFile)}`, {
      hint: 'Write rekey.yaml by hand (docs/configuration.md); generic secrets use `type: generic`.',
    });
  }
  if (!(await writeFileExclusive(configPath, detected.lines.join('\n'), 0o644))) {
    throw new RekeyError('ERR_CONFIG_EXISTS', `${configPath} already exists`);
  }
  if (opts.json) printJson({ ok: true, config: configPath, keys: detected.keys });
  else
    printLines([
      `wrote ${configPath} with ${detected.keys.join(', ')}`,
      'next: review it, then `rekey plan`',
    ]);
}
