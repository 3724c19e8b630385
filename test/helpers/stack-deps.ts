/**
 * The part of the engine's dependencies the CLI derives from the loaded config (src/cli/context.ts):
 * the env file store (with the configured mode; git's check relaxed, as `--allow-unignored`), the
 * state directory and the stack's name, with the config itself beside them (`StackDeps`).
 */
import type { LoadedConfig } from '../../src/config/load.js';
import { createEnvFileStore } from '../../src/stores/env-file/index.js';

export function stackDeps(loaded: LoadedConfig, options: { allowUnignored?: boolean } = {}) {
  return {
    loaded,
    store: createEnvFileStore(loaded.envFile as string, {
      ...(loaded.config.envFileMode === undefined
        ? {}
        : { mode: Number.parseInt(loaded.config.envFileMode, 8) }),
      allowUnignored: options.allowUnignored ?? true,
    }),
    stateDir: loaded.stateDir,
    stack: loaded.stack,
  };
}
