/** Wiring shared by the commands: load the config, build the engine's dependencies. */
import { type LoadedConfig, loadConfig } from '../config/load.js';
import type { Logger } from '../core/log.js';
import { log } from '../core/log.js';
import type { Progress } from '../core/progress.js';
import type { EngineDeps, RotationControl, RotationHooks } from '../core/run.js';
import { createSessions } from '../sessions/index.js';
import { createTarget } from '../targets/index.js';

export interface GlobalOptions {
  config?: string;
  allowUnignored?: boolean;
}

export interface StackOptions {
  progress: Progress;
  logger?: Logger;
  control?: RotationControl;
  hooks?: RotationHooks;
}

export async function openStack(globals: GlobalOptions, options: StackOptions): Promise<EngineDeps> {
  const loaded: LoadedConfig = await loadConfig(globals.config);
  return {
    loaded,
    makeTargets: (env) => loaded.config.secrets.map((s) => createTarget(s, { env, configDir: loaded.dir })),
    makeSessions: (env) => createSessions(loaded.config, env),
    progress: options.progress,
    log: options.logger ?? log,
    ...(options.control ? { control: options.control } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    allowUnignored: globals.allowUnignored ?? false,
  };
}
