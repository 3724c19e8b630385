/**
 * The config as `rekey serve` holds it: every path and setting, no secret value. The env file is read
 * only when rekey.yaml refers to one of its keys with `${NAME}` (never a managed secret's: refused),
 * and then only those names are kept; nothing is registered with the redactor. The result is kept
 * while rekey.yaml and the env file are unchanged (their `stat`), so a scrape re-reads neither.
 * A store stack's `${NAME}` is taken from the process environment only: a scrape never calls the
 * store (its state, audit log and history are all `serve` reads).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG, loadStackConfig, type StackConfig, type StoreLookup } from '../config/load.js';
import { envValues, readEnvFile } from '../envfile/index.js';
import { statKey } from './file-cache.js';

/**
 * Loads (and reloads when changed) one config for `rekey serve`.
 *
 * @example
 * const configs = new ServeConfig('rekey.yaml');
 * const stack = await configs.load(); // reads rekey.yaml
 * await configs.load(); // unchanged: reads nothing
 */
export class ServeConfig {
  #cached?: { configKey: string; env?: { file: string; key: string }; stack: StackConfig };

  /**
   * `storeLookup`: a store stack's `${NAME}` values (the names the config refers to, nothing else),
   * as the env file's named values are read for an env-file stack; without it such a config is
   * refused (ERR_CONFIG_INTERPOLATION).
   */
  constructor(
    readonly configPath: string = DEFAULT_CONFIG,
    readonly storeLookup?: StoreLookup,
  ) {}

  /** The config, loaded afresh when rekey.yaml or the env file it draws on changed. Throws ERR_CONFIG_*. */
  async load(): Promise<StackConfig> {
    const abs = path.resolve(this.configPath);
    const configKey = await keyOf(abs);
    const c = this.#cached;
    if (c !== undefined && configKey !== undefined && c.configKey === configKey) {
      if (c.env === undefined || (await keyOf(c.env.file)) === c.env.key) return c.stack;
    }
    let env: { file: string; key: string } | undefined;
    const stack = await loadStackConfig(
      abs,
      async (envFile, names) => {
        if (names.size === 0) return new Map();
        env = { file: envFile, key: (await keyOf(envFile)) ?? '' };
        return namedValues(envFile, names);
      },
      this.storeLookup,
    );
    this.#cached = { configKey: configKey ?? '', ...(env ? { env } : {}), stack };
    return stack;
  }

  /** What is held, for tests and inspection. */
  held(): StackConfig | undefined {
    return this.#cached?.stack;
  }
}

/** The values of `names` in the env file, and nothing else of it (the parse is dropped at once). */
async function namedValues(envFile: string, names: ReadonlySet<string>): Promise<Map<string, string>> {
  const all = envValues((await readEnvFile(envFile)).doc);
  const out = new Map<string, string>();
  for (const n of names) {
    const v = all.get(n);
    if (v !== undefined) out.set(n, v);
  }
  all.clear();
  return out;
}

async function keyOf(file: string): Promise<string | undefined> {
  return fs.stat(file).then(statKey, () => undefined);
}
