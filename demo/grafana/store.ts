/**
 * The stand-in's "database": one JSON file holding what Grafana keeps in `grafana.db` that matters to
 * a password rotation — the users (salted hashes only), the login attempts of the brute-force
 * limiter and the session tokens (SHA-256 of the cookie value, as Grafana stores `user_auth_token`).
 * Like Grafana's database it survives restarts: the lockout and the password both outlive a restart.
 *
 * Written atomically (temp file, fsync, rename, directory fsync) with mode 0600.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../src/core/fsx.js';
import { hashPassword, randomString, SALT_LENGTH } from './hash.js';

const storedUser = z.strictObject({
  id: z.number().int().positive(),
  uid: z.string().min(1),
  login: z.string().min(1),
  email: z.string(),
  name: z.string(),
  theme: z.string(),
  orgId: z.number().int(),
  isGrafanaAdmin: z.boolean(),
  isDisabled: z.boolean(),
  salt: z.string().min(1),
  /** PBKDF2-HMAC-SHA256 hex (see hash.ts); never the password. */
  passwordHash: z.string().regex(/^[0-9a-f]+$/),
  /** Epoch milliseconds. */
  created: z.number(),
  updated: z.number(),
});

const loginAttempt = z.strictObject({
  /** Lower-cased, as Grafana's loginattempt service stores it. */
  username: z.string(),
  ipAddress: z.string(),
  /** Epoch milliseconds. */
  created: z.number(),
});

const authToken = z.strictObject({
  userId: z.number().int(),
  /** SHA-256 hex of the `grafana_session` cookie value. */
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.number(),
});

const state = z.strictObject({
  format: z.literal('grafana-standin/1'),
  users: z.array(storedUser).min(1),
  loginAttempts: z.array(loginAttempt),
  authTokens: z.array(authToken),
});

export type StoredUser = z.infer<typeof storedUser>;
export type LoginAttempt = z.infer<typeof loginAttempt>;
export type AuthToken = z.infer<typeof authToken>;
export type StandInState = z.infer<typeof state>;

/**
 * Reads the data file; undefined when it does not exist (a first start). A file that exists but is
 * not a valid state is an error: Grafana does not silently recreate a damaged database either.
 *
 * @example
 * const existing = await loadState('/tmp/grafana/standin.json');
 */
export async function loadState(file: string): Promise<StandInState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`grafana stand-in: ${file} is not JSON`);
  }
  const parsed = state.safeParse(json);
  if (!parsed.success) throw new Error(`grafana stand-in: ${file} is not a stand-in data file`);
  return parsed.data;
}

/**
 * Writes the state atomically with mode 0600, creating the directory (0700) when needed.
 *
 * @example
 * await saveState(file, state);
 */
export async function saveState(file: string, current: StandInState): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(current, null, 2)}\n`, { mode: 0o600, forceMode: true });
}

/**
 * The state of a fresh Grafana: the main org's server admin, user id 1, created with the configured
 * admin login and password (Grafana's `ensureMainOrgAndAdminUser`, email `admin@localhost`).
 *
 * @example
 * const fresh = await initialState({ adminUser: 'admin', password: 'admin', now: Date.now() });
 */
export async function initialState(options: {
  adminUser: string;
  password: string;
  now: number;
}): Promise<StandInState> {
  const salt = randomString(SALT_LENGTH);
  return {
    format: 'grafana-standin/1',
    users: [
      {
        id: 1,
        uid: randomString(14).toLowerCase(),
        login: options.adminUser,
        email: 'admin@localhost',
        name: '',
        theme: '',
        orgId: 1,
        isGrafanaAdmin: true,
        isDisabled: false,
        salt,
        passwordHash: await hashPassword(options.password, salt),
        created: options.now,
        updated: options.now,
      },
    ],
    loginAttempts: [],
    authTokens: [],
  };
}
