/**
 * Loading rekey.yaml: YAML → `${NAME}` interpolation (env file, then environment) → zod validation →
 * paths made absolute (relative to the config file) and the env file loaded.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { envValues, judgeEnvFileMode, type LoadedEnvFile, readEnvFile } from '../envfile/index.js';
import { parseDuration } from '../lib/duration.js';
import { RekeyError } from '../lib/errors.js';
import { redactor } from '../lib/redact.js';
import { isSecretType, ownedKeys, SECRET_TYPES, secretProblem } from '../targets/registry.js';
import { ENVIRONMENT, interpolate, storeSource } from './interpolate.js';
import { configSchema, type ParsedConfig, type SecretConfig } from './schema.js';
import { stackState } from './stack-state.js';
import { type StoreConfig, storeIdentity, storeSchema } from './store.js';

export const DEFAULT_CONFIG = 'rekey.yaml';

export interface LoadedConfig {
  /** The validated config, `${NAME}` resolved. */
  readonly config: ParsedConfig;
  /** Absolute path of rekey.yaml. */
  readonly path: string;
  /** Folder of rekey.yaml; relative paths in it are relative to this. */
  readonly dir: string;
  /** Name of the stack (config `stack`, else the config folder's name). */
  readonly stack: string;
  /**
   * Absolute path of the env file, as configured (may be a symlink). Undefined for a store stack
   * (`store:` set): its values live in the store, and rekey reads or writes no env file for it.
   */
  readonly envFile: string | undefined;
  /**
   * The stack's identity: the env file's real path (symlinks resolved) when the config was loaded,
   * or for a store stack the store's ({@link storeIdentity}, e.g. `vault-kv:http://…/secret/bi/prod`).
   */
  readonly envRealPath: string;
  /**
   * Absolute path of this stack's state directory (journal, lock, history, schedule, requests, logs):
   * the configured `stateDir` when this stack owns it, else `<stateDir>/stacks/<stackKey>/`.
   */
  readonly stateDir: string;
  /** Absolute path of the configured `stateDir`, shared by the stacks of a folder (audit chain head and key). */
  readonly stateRoot: string;
  /** `<slug>-<hash>` of the env file's real path: which stack a record belongs to. */
  readonly stackKey: string;
  /** The env file as read when the config was loaded; undefined for a store stack. */
  readonly env: LoadedEnvFile | undefined;
  /**
   * A store stack's values now (what `${NAME}` and the audit fingerprints read), when the caller
   * gave {@link LoadOptions.openStore}; undefined for an env-file stack.
   */
  readonly readStore?: () => Promise<ReadonlyMap<string, string>>;
}

/** Reads a store's values (the CLI builds the store: the config layer knows no adapter). */
export type StoreReader = () => Promise<ReadonlyMap<string, string>>;

export interface LoadOptions {
  /** Builds the reader of a store stack's values; without it `${NAME}` reads the environment only. */
  readonly openStore?: (store: StoreConfig, dir: string) => StoreReader;
}

/** A loaded config without the env file: every path and setting, no secret value. */
export type StackConfig = Omit<LoadedConfig, 'env' | 'readStore'>;

/**
 * Gives `${NAME}` its env-file values: called once with the env file's absolute path and the names
 * the config refers to (never a managed secret's key: those are refused before any lookup).
 */
export type EnvLookup = (envFile: string, names: ReadonlySet<string>) => Promise<ReadonlyMap<string, string>>;

/**
 * Gives `${NAME}` a store stack's values (its non-managed fields: a managed key is refused before any
 * lookup); called once, only when the config refers to a name outside the `store:` section.
 */
export type StoreLookup = (
  store: StoreConfig,
  dir: string,
  names: ReadonlySet<string>,
) => Promise<ReadonlyMap<string, string>>;

/**
 * Reads and validates a config. Every problem is an ERR_CONFIG_* (exit 2) naming the path in the file.
 *
 * @example
 * const loaded = await loadConfig('rekey.yaml');
 * loaded.config.secrets.map((s) => s.key); // ['JWT_SECRET', ...]
 */
export async function loadConfig(
  configPath = DEFAULT_CONFIG,
  options: LoadOptions = {},
): Promise<LoadedConfig> {
  let env: LoadedEnvFile | undefined;
  let values: ReadonlyMap<string, string> = new Map();
  let reader: StoreReader | undefined;
  const stack = await loadStackConfig(
    configPath,
    async (envFile) => {
      env = await readEnvFile(envFile, { judgeMode: false });
      values = envValues(env.doc);
      return values;
    },
    async (store, dir, names) => {
      if (names.size === 0 || options.openStore === undefined) return new Map();
      reader ??= options.openStore(store, dir);
      values = await reader();
      return values;
    },
  );
  // Judged against the configured mode: a 0640 file is what `envFileMode: "0640"` asks for.
  if (env) judgeEnvFileMode(env, Number.parseInt(stack.config.envFileMode ?? '0600', 8));
  for (const secret of stack.config.secrets) registerSecretValues(secret, values);
  // Keys that name a secret (DEMO_USER_PASSWORD, a webhook TOKEN) are masked too, managed or not.
  redactor.addEnv(values);
  const store = stack.config.store;
  if (store !== undefined && options.openStore !== undefined) reader ??= options.openStore(store, stack.dir);
  return { ...stack, env, ...(reader ? { readStore: reader } : {}) };
}

/**
 * Reads and validates a config like {@link loadConfig}, taking env-file values for `${NAME}` only
 * from `envLookup`: the part every command shares, and all `rekey serve` loads (its lookup keeps
 * only the names referred to). A `${KEY}` of a managed secret is refused before any value is looked
 * up, so its value is never copied.
 *
 * @example
 * const stack = await loadStackConfig('rekey.yaml', async () => new Map());
 */
export async function loadStackConfig(
  configPath: string,
  envLookup: EnvLookup,
  storeLookup: StoreLookup = async () => new Map(),
): Promise<StackConfig> {
  const abs = path.resolve(configPath);
  let text: string;
  try {
    text = await fs.readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new RekeyError('ERR_CONFIG_NOT_FOUND', `no config at ${abs}`);
    throw new RekeyError('ERR_IO', `cannot read ${abs}: ${code}`);
  }
  const file = path.basename(abs);
  const raw = parseYaml(text, abs);
  const dir = path.dirname(abs);

  const rawStore = (raw as { store?: unknown }).store;
  // A store stack: its section is resolved from the environment only (it says where the store is);
  // the rest of the config reads the store's non-managed fields, then the environment.
  const store =
    rawStore === undefined || rawStore === null
      ? undefined
      : storeSchema.safeParse(interpolate(rawStore, (n) => process.env[n], 'store', ENVIRONMENT)).data;
  const envFileRaw = (raw as { envFile?: unknown }).envFile;
  if (rawStore === undefined && (typeof envFileRaw !== 'string' || envFileRaw.length === 0)) {
    throw new RekeyError(
      'ERR_CONFIG_INVALID',
      `${file}: envFile: required (the env file to rotate), or a store: section`,
    );
  }
  // With a store, `envFile:` (kept by `rekey migrate`) names where the values came from: not read.
  const envFile =
    rawStore === undefined
      ? path.resolve(dir, String(interpolate(envFileRaw, (n) => process.env[n], 'envFile', ENVIRONMENT)))
      : undefined;
  // Secret keys are env-file key names (a `${...}` is not one), so the raw YAML already names them.
  const secretKeys = rawSecretKeys(raw);
  const names = new Set<string>();
  const outsideStore = Object.fromEntries(Object.entries(raw as object).filter(([k]) => k !== 'store'));
  interpolate(outsideStore, (name) => {
    if (!secretKeys.has(name)) names.add(name);
    return '';
  });
  const values =
    envFile !== undefined
      ? await envLookup(envFile, names)
      : store !== undefined && names.size > 0
        ? await storeLookup(store, dir, names)
        : new Map<string, string>();
  const refs: Array<{ name: string; where: string }> = [];
  const resolved = interpolate(
    raw,
    (name, where) => {
      if (secretKeys.has(name)) throw secretReferenceError(file, where, name);
      if (where === 'store' || where.startsWith('store.')) return process.env[name];
      refs.push({ name, where });
      return values.get(name) ?? process.env[name];
    },
    '',
    rawStore === undefined || rawStore === null
      ? undefined
      : storeSource(store === undefined ? 'named in `store:`' : storeIdentity(store)),
  );
  const config = validate(resolved, file);
  refuseSecretReferences(config, refs, file);

  checkReferences(config, file);
  // The env file's real path keys the stack's state (a missing file is reported where it is read);
  // a store stack's identity is its store's, so its state stays put whatever the folder holds.
  const envRealPath =
    config.store !== undefined
      ? storeIdentity(config.store)
      : await fs.realpath(envFile as string).catch(() => envFile as string);
  const state = await stackState(path.resolve(dir, config.stateDir), envRealPath);
  return {
    config,
    path: abs,
    dir,
    stack: config.stack ?? path.basename(dir),
    envFile,
    envRealPath,
    ...state,
  };
}

/**
 * The env keys the raw (unvalidated) config names as secrets ({@link ownedKeys}); a secret of an
 * unknown type (refused by validation) by its `key`.
 */
function rawSecretKeys(raw: unknown): Set<string> {
  const out = new Set<string>();
  const secrets = (raw as { secrets?: unknown }).secrets;
  if (!Array.isArray(secrets)) return out;
  for (const s of secrets as Array<Record<string, unknown> | null>) {
    if (s === null || typeof s !== 'object') continue;
    for (const k of rawOwnedKeys(s)) if (typeof k === 'string') out.add(k);
  }
  return out;
}

/**
 * The secret keys of one unvalidated secret, read by its type's `ownedKeys` (a null field is absent;
 * what is not a string is dropped by the caller); its `key` when its type is unknown or the type's
 * function cannot read the fields (validation then refuses the secret).
 */
function rawOwnedKeys(s: Record<string, unknown>): readonly unknown[] {
  if (!isSecretType(s.type)) return [s.key];
  const shaped = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v === null ? undefined : v]));
  try {
    return ownedKeys(shaped as SecretConfig).secret;
  } catch {
    return [s.key];
  }
}

/**
 * The stack's values now: its env file's (read again, so a finished rotation's values are seen), or
 * a store stack's store (through the reader the CLI gave the loaded config). Every value is
 * registered with the redactor before it is returned, as loading does for the env file: whatever
 * later prints an error or a finding cannot carry one of them.
 *
 * @example
 * (await stackValues(loaded)).get('JWT_SECRET');
 */
export async function stackValues(loaded: LoadedConfig): Promise<ReadonlyMap<string, string>> {
  let values: ReadonlyMap<string, string>;
  if (loaded.envFile !== undefined)
    values = envValues((await readEnvFile(loaded.envFile, { judgeMode: false })).doc);
  else if (loaded.readStore !== undefined) values = await loaded.readStore();
  else throw new RekeyError('ERR_INTERNAL', 'a store stack was loaded without its store');
  for (const secret of loaded.config.secrets) registerSecretValues(secret, values);
  redactor.addEnv(values);
  return values;
}

/** Registers the current values of a secret's keys with the redactor. */
export function registerSecretValues(secret: SecretConfig, values: ReadonlyMap<string, string>): void {
  for (const key of secretKeysOf(secret)) redactor.add(key, values.get(key));
}

/** Env keys whose values are secret for this secret config (the key itself and its grace/admin slots). */
export function secretKeysOf(secret: SecretConfig): readonly string[] {
  return ownedKeys(secret).secret;
}

/**
 * `${KEY}` of a managed secret would copy its value into the config: into deploy commands (argv,
 * logs), URLs, checks — and a stale copy at that. Secrets reach the deploy only through `passEnv`.
 */
function refuseSecretReferences(
  config: ParsedConfig,
  refs: ReadonlyArray<{ name: string; where: string }>,
  file: string,
): void {
  const secret = new Set(config.secrets.flatMap(secretKeysOf));
  const bad = refs.find((r) => secret.has(r.name));
  if (bad) throw secretReferenceError(file, bad.where, bad.name);
}

function secretReferenceError(file: string, where: string, name: string): RekeyError {
  return new RekeyError(
    'ERR_CONFIG_INVALID',
    `${file}: ${where}: \${${name}} would copy a managed secret into the config`,
    {
      hint: 'Leave secrets in the env file: a deploy command gets them with `deploy.passEnv` (as variables, never argv).',
    },
  );
}

/** Milliseconds of a duration the schema already validated. */
export function ms(duration: string): number {
  const v = parseDuration(duration);
  if (v === undefined) throw new RekeyError('ERR_CONFIG_INVALID', `not a duration: ${duration}`);
  return v;
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const line = err.linePos?.[0]?.line;
    const where = line === undefined ? path.basename(file) : `${path.basename(file)} line ${line}`;
    const what = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new RekeyError('ERR_CONFIG_INVALID', `${where}: ${what}`);
  }
  const value = doc.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RekeyError('ERR_CONFIG_INVALID', `${path.basename(file)}: expected a mapping at the top level`);
  }
  return value;
}

function validate(value: unknown, file: string): ParsedConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${describeIssue(issue)}`);
  throw new RekeyError('ERR_CONFIG_INVALID', `${file}: ${lines[0]}`, { details: lines.slice(1, 6) });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator === 'type') {
        return `expected type to be one of ${SECRET_TYPES.join(', ')}`;
      }
      return issue.message;
    case 'invalid_type':
      return `expected ${issue.expected}${issue.input === undefined ? ' (missing)' : ''}`;
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

/** `['secrets', 3, 'port']` → `secrets[3].port`. */
export function formatPath(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of p) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(top level)';
}

/** Cross-field rules zod cannot express locally. */
function checkReferences(config: ParsedConfig, file: string): void {
  const fail = (where: string, msg: string) => {
    throw new RekeyError('ERR_CONFIG_INVALID', `${file}: ${where}: ${msg}`);
  };
  const seen = new Map<string, number>();
  config.secrets.forEach((s, i) => {
    for (const k of ownedKeys(s).written) {
      const prev = seen.get(k);
      if (prev !== undefined) fail(`secrets[${i}]`, `key ${k} is already managed by secrets[${prev}]`);
      seen.set(k, i);
    }
    // The type's own cross-field rules (src/targets/<type>/config.ts).
    const problem = secretProblem(s);
    if (problem) fail(`secrets[${i}].${problem.field}`, problem.message);
  });
  const sessions = config.sessions?.redis;
  if (sessions) {
    const modes = [
      sessions.patterns !== undefined,
      sessions.flushDb !== undefined,
      sessions.flushAll === true,
    ];
    if (modes.filter(Boolean).length !== 1) {
      fail('sessions.redis', 'set exactly one of patterns, flushDb or flushAll');
    }
    const redis = config.secrets.filter((s) => s.type === 'redis');
    if (sessions.secret !== undefined && !redis.some((s) => s.key === sessions.secret)) {
      fail('sessions.redis.secret', `no redis secret has key ${sessions.secret}`);
    }
    if (redis.length === 0)
      fail('sessions.redis', 'needs a secret of type redis (its server holds the sessions)');
  }
  config.verify.forEach((c, i) => {
    if ('jwtKey' in c && !config.secrets.some((s) => s.type === 'jwt' && s.key === c.jwtKey)) {
      fail(`verify[${i}].jwtKey`, `no jwt secret has key ${c.jwtKey}`);
    }
  });
  if (config.approvals) {
    for (const role of config.approvals.require) {
      if (!config.approvals.roles[role])
        fail('approvals.roles', `no principals listed for required role ${role}`);
    }
  }
}
