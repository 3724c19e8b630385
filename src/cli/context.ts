/** Wiring shared by the commands: load the config, build the engine's dependencies. */
import { type LoadedConfig, loadConfig } from '../config/load.js';
import type { Progress } from '../engine/progress.js';
import type { RotationControl, RotationHooks } from '../engine/run.js';
import type { StackDeps } from '../governance/stack-deps.js';
import type { Logger } from '../lib/log.js';
import { log } from '../lib/log.js';
import type { storeOpener } from './store.js';

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

/**
 * Loads the config as every command does: a store stack's `${NAME}` reads its store (the config
 * layer knows no store adapter, so the CLI hands it the opener).
 *
 * @example
 * const loaded = await loadStack(globals.config);
 */
export async function loadStack(
  configPath: string | undefined,
  opener?: ReturnType<typeof storeOpener>,
): Promise<LoadedConfig> {
  // The store module (and its env-file store) is loaded only for a store stack's `${NAME}`: a
  // command that only reads, like `rekey status`, starts without it.
  let reader = opener?.reader;
  return loadConfig(configPath, {
    openStore: (config, dir) => async () => {
      reader ??= (await import('./store.js')).storeOpener().reader;
      return reader(config, dir)();
    },
  });
}

/**
 * Loads the config and wires the engine's dependencies: the store (the env file, or the managed store
 * of `store:`), targets, deployer (a command or Kubernetes rollouts), verifier.
 */
export async function openStack(globals: GlobalOptions, options: StackOptions): Promise<StackDeps> {
  // What only a rotation-like command needs, loaded when one runs (not by `rekey status`).
  const [
    { openDeployer },
    { createTargets },
    { createVerifier },
    { stackLockFor },
    { stackStore, storeOpener },
  ] = await Promise.all([
    import('../deploy/index.js'),
    import('../targets/index.js'),
    import('../verify/index.js'),
    import('./stack-lock.js'),
    import('./store.js'),
  ]);
  const opener = storeOpener();
  const loaded: LoadedConfig = await loadStack(globals.config, opener);
  const stackLock = await stackLockFor(loaded);
  return {
    loaded,
    store: await stackStore(loaded, opener.open, { allowUnignored: globals.allowUnignored ?? false }),
    stateDir: loaded.stateDir,
    stack: loaded.stack,
    makeTargets: (env) =>
      createTargets(loaded.config.secrets, {
        env,
        configDir: loaded.dir,
        stateDir: loaded.stateDir,
        ...(loaded.config.sessions?.redis?.evictUnknown ? { evictUnknown: true } : {}),
      }),
    // Loaded on demand: node-redis is only needed when sessions are configured.
    makeSessions: async (env) =>
      loaded.config.sessions
        ? (await import('../sessions/index.js')).createSessions(loaded.config, env)
        : undefined,
    ...(loaded.config.deploy
      ? { deployer: await openDeployer(loaded.config.deploy, loaded.dir, loaded.config.store) }
      : {}),
    verifier: createVerifier(loaded.config),
    progress: options.progress,
    log: options.logger ?? log,
    ...(options.control ? { control: options.control } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(stackLock ? { stackLock } : {}),
    concurrency: loaded.config.concurrency,
  };
}
