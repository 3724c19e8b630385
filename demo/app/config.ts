/**
 * The demo app's configuration, read once at start from the env file (the file rekey rotates), never
 * from argv. Errors name keys and the file, never a value.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { envValues, parseEnv } from '../../src/envfile/index.js';
import { readStoreFields, storeOf } from './store.js';

/** Everything the app needs, parsed and checked. */
export interface AppConfig {
  /** The env file this was read from. */
  envFile: string;
  postgres: { host: string; port: number; user: string; password: string; database: string };
  redis: { host: string; port: number; password: string };
  jwt: { current: string; previous: string };
  apiKey: { current: string; previous: string };
  http: { host: string; port: number };
  /** Lifetime of a session and of its token, in seconds. */
  sessionTtl: number;
}

/** The environment variable naming the env file when `--env-file` is not given. */
export const ENV_FILE_VARIABLE = 'REKEY_DEMO_ENV_FILE';

/** Shortest JWT_SECRET accepted: HS256 with a guessable key is no protection. */
export const MIN_JWT_SECRET_LENGTH = 16;

/** A configuration problem; the message names keys and the file, never a value. */
export class AppConfigError extends Error {
  override name = 'AppConfigError';
}

/**
 * Reads and checks the env file. Throws {@link AppConfigError} naming every missing or invalid key.
 * When the env file names a secret store (VAULT_ADDR, AWS_SSM_PREFIX or AWS_SECRET_ID), the store is
 * read too and its fields win over the file's (demo/app/store.ts): the `rekey demo --store …` variants.
 *
 * @example
 * const config = await loadConfig('/srv/bi/.env.production');
 * config.postgres.user; // 'bi_app'
 */
export async function loadConfig(envFile: string): Promise<AppConfig> {
  let text: string;
  try {
    text = await readFile(envFile, 'utf8');
  } catch (e) {
    throw new AppConfigError(
      `cannot read env file ${envFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const values = envValues(parseEnv(text, envFile));
  if (storeOf(values) === undefined) return configFromValues(values, envFile);
  const fields = await readStoreFields(values, path.dirname(envFile)).catch((e: unknown) => {
    throw new AppConfigError(`${envFile}: ${(e as Error).message}`);
  });
  return configFromValues(new Map([...values, ...fields]), envFile);
}

/**
 * Builds the configuration from env file values (already parsed).
 *
 * @example
 * const config = configFromValues(envValues(parseEnv(text)), '.env.production');
 */
export function configFromValues(values: ReadonlyMap<string, string>, envFile: string): AppConfig {
  const problems: string[] = [];
  const text = (key: string, fallback?: string): string => {
    const value = values.get(key);
    if (value !== undefined && value !== '') return value;
    if (fallback === undefined) problems.push(`${key} is missing or empty`);
    return fallback ?? '';
  };
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const raw = values.get(key);
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    problems.push(`${key} must be an integer from ${min} to ${max}`);
    return fallback;
  };
  const config: AppConfig = {
    envFile,
    postgres: {
      host: text('POSTGRES_HOST', '127.0.0.1'),
      port: integer('POSTGRES_PORT', 5432, 1, 65535),
      user: text('POSTGRES_USER'),
      password: text('POSTGRES_PASSWORD'),
      database: text('POSTGRES_DB'),
    },
    redis: {
      host: text('REDIS_HOST', '127.0.0.1'),
      port: integer('REDIS_PORT', 6379, 1, 65535),
      password: text('REDIS_PASSWORD'),
    },
    jwt: { current: text('JWT_SECRET'), previous: values.get('JWT_SECRET_PREVIOUS') ?? '' },
    apiKey: { current: text('API_SECRET_KEY'), previous: values.get('API_SECRET_KEY_PREVIOUS') ?? '' },
    http: { host: text('APP_HOST', '127.0.0.1'), port: integer('APP_PORT', 8000, 0, 65535) },
    sessionTtl: integer('SESSION_TTL', 3600, 1, 30 * 24 * 3600),
  };
  if (config.jwt.current !== '' && config.jwt.current.length < MIN_JWT_SECRET_LENGTH) {
    problems.push(`JWT_SECRET is shorter than ${MIN_JWT_SECRET_LENGTH} characters`);
  }
  if (problems.length > 0) throw new AppConfigError(`${envFile}: ${problems.join('; ')}`);
  return config;
}

/**
 * The env file path: `--env-file PATH` (or `--env-file=PATH`) in `argv`, else `$REKEY_DEMO_ENV_FILE`.
 * Undefined when neither is given.
 *
 * @example
 * envFileFrom(['--env-file', '.env.production'], process.env); // '.env.production'
 */
export function envFileFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--env-file') return argv[i + 1];
    if (arg?.startsWith('--env-file=')) return arg.slice('--env-file='.length);
  }
  const fromEnv = env[ENV_FILE_VARIABLE];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}
