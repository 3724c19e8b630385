/**
 * The demo app's pure parts: configuration from the env file, the runner's command line, password
 * hashes, API key checks, key ids, and the status and pid files.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiKeyMatches, apiKeys } from '../../demo/app/apikeys.js';
import { AppConfigError, configFromValues, envFileFrom, loadConfig } from '../../demo/app/config.js';
import { hashPassword, verifyPassword } from '../../demo/app/passwords.js';
import { claimPidfile, releasePidfile } from '../../demo/app/pidfile.js';
import { parseRunnerArgs, UsageError } from '../../demo/app/runner-args.js';
import { STATUS_FILE, statusWriter } from '../../demo/app/status.js';
import { jwtKeys, keyId, signToken, verifyToken } from '../../demo/app/tokens.js';
import { tempDir } from '../helpers/tmp.js';

const REQUIRED = {
  POSTGRES_USER: 'bi_app',
  POSTGRES_PASSWORD: 'pg-Secret-1234567',
  POSTGRES_DB: 'business_intelligence',
  REDIS_PASSWORD: 'redis-Secret-1234567',
  JWT_SECRET: 'jwt-Secret-12345678901234567890',
  API_SECRET_KEY: 'api-Secret-12345678901234567890',
};
const values = (extra: Record<string, string> = {}) => new Map(Object.entries({ ...REQUIRED, ...extra }));

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = configFromValues(values({ JWT_SECRET_PREVIOUS: '' }), '.env');
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(config.sessionTtl).toBe(3600);
    expect(config.postgres).toMatchObject({ host: '127.0.0.1', port: 5432 });
    expect(config.redis).toMatchObject({ host: '127.0.0.1', port: 6379 });
    expect(config.jwt.previous).toBe('');
    expect(config.apiKey.previous).toBe('');
  });

  it('names every missing or invalid key and never a value', () => {
    const bad = values({ POSTGRES_PASSWORD: '', APP_PORT: '80a', JWT_SECRET: 'short-secret' });
    bad.delete('API_SECRET_KEY');
    let error: unknown;
    try {
      configFromValues(bad, '.env.production');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/POSTGRES_PASSWORD is missing or empty/);
    expect(message).toMatch(/API_SECRET_KEY is missing or empty/);
    expect(message).toMatch(/APP_PORT must be an integer/);
    expect(message).toMatch(/JWT_SECRET is shorter than 16 characters/);
    expect(message).not.toContain('short-secret');
    expect(message).not.toContain('80a');
  });

  it('reads the env file as compose does (quotes, export, comments)', async () => {
    const dir = await tempDir();
    const file = path.join(dir, '.env');
    const lines = Object.entries(REQUIRED).map(([k, v]) => `export ${k}="${v}" # comment`);
    await writeFile(file, `# app\n${lines.join('\n')}\nAPP_PORT=0\n`);
    const config = await loadConfig(file);
    expect(config.postgres.password).toBe(REQUIRED.POSTGRES_PASSWORD);
    expect(config.http.port).toBe(0);
    await expect(loadConfig(path.join(dir, 'missing'))).rejects.toThrow(/cannot read env file .*ENOENT/);
  });

  it('takes the env file from --env-file, else REKEY_DEMO_ENV_FILE', () => {
    expect(envFileFrom(['--env-file', 'a'], { REKEY_DEMO_ENV_FILE: 'b' })).toBe('a');
    expect(envFileFrom(['--env-file=c'], {})).toBe('c');
    expect(envFileFrom([], { REKEY_DEMO_ENV_FILE: 'b' })).toBe('b');
    expect(envFileFrom([], {})).toBeUndefined();
  });
});

describe('runner command line', () => {
  it('defaults the state dir to the env file directory and the pidfile into it', () => {
    const options = parseRunnerArgs(['--env-file', '/srv/bi/.env.production'], {});
    expect(options).toMatchObject({
      envFile: '/srv/bi/.env.production',
      stateDir: '/srv/bi',
      pidFile: '/srv/bi/app.pid',
      workers: 2,
      readyTimeoutMs: 30_000,
      drainTimeoutMs: 10_000,
      logFile: undefined,
    });
  });

  it('refuses unknown options (there is no way to pass a secret) and bad numbers', () => {
    expect(() => parseRunnerArgs(['--env-file', 'f', '--password', 'x'], {})).toThrow(UsageError);
    expect(() => parseRunnerArgs(['--env-file', 'f', '--workers', '1.5'], {})).toThrow(/--workers/);
    expect(() => parseRunnerArgs(['--env-file', 'f', '--ready-timeout', '0'], {})).toThrow(/--ready-timeout/);
    expect(() => parseRunnerArgs([], {})).toThrow(/--env-file FILE .* is required/);
  });
});

describe('password hashes', () => {
  it('verifies the right password only, salted (two hashes of one password differ)', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await hashPassword('correct horse')).not.toBe(hash);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsf', hash)).toBe(false);
    expect(await verifyPassword('correct horse', undefined)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain')).toBe(false);
  });
});

describe('API keys', () => {
  it('accepts the current and a non-empty previous key, nothing else', () => {
    const keys = apiKeys('current-key-123', 'previous-key-456');
    expect(apiKeyMatches(keys, 'current-key-123')).toBe(true);
    expect(apiKeyMatches(keys, 'previous-key-456')).toBe(true);
    expect(apiKeyMatches(keys, 'current-key-12')).toBe(false);
    expect(apiKeyMatches(keys, '')).toBe(false);
    expect(apiKeyMatches(keys, undefined)).toBe(false);
    expect(apiKeyMatches(keys, ['current-key-123'])).toBe(false);
    expect(apiKeyMatches(apiKeys('current-key-123', ''), '')).toBe(false);
  });
});

describe('JWT keys', () => {
  it('uses the first 8 hex of SHA-256 as kid and verifies by kid', async () => {
    expect(keyId('abc')).toBe('ba7816bf');
    const old = jwtKeys('old-secret-0123456789');
    const token = await signToken(old, { sub: 'analyst', sid: 's1' }, 60);
    const rotated = jwtKeys('new-secret-0123456789', 'old-secret-0123456789');
    expect(await verifyToken(rotated, token)).toEqual({
      sub: 'analyst',
      sid: 's1',
      kid: keyId('old-secret-0123456789'),
    });
    expect(await verifyToken(jwtKeys('new-secret-0123456789'), token)).toBeUndefined();
    expect(await verifyToken(old, await signToken(old, { sub: 'analyst', sid: 's1' }, -10))).toBeUndefined();
  });
});

describe('status and pid files', () => {
  it('writes the latest snapshot atomically, collapsing bursts', async () => {
    const dir = await tempDir();
    let n = 0;
    const writer = statusWriter(dir, () => ({
      generation: ++n,
      pid: process.pid,
      startedAt: 'x',
      updatedAt: 'x',
      workers: [],
      lastReload: null,
      stopping: false,
    }));
    for (let i = 0; i < 20; i++) writer.changed();
    await writer.flush();
    const written = JSON.parse(await readFile(path.join(dir, STATUS_FILE), 'utf8'));
    expect(written.generation).toBe(n);
    expect(n).toBeLessThan(20);
  });

  it('refuses a pidfile held by a live process, takes over a stale one, removes only its own', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'app.pid');
    await writeFile(file, `${process.ppid}\n`);
    await expect(claimPidfile(file)).rejects.toThrow(/already running/);
    await writeFile(file, '999999999\n');
    await claimPidfile(file);
    expect((await readFile(file, 'utf8')).trim()).toBe(String(process.pid));
    await releasePidfile(file);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });
});
