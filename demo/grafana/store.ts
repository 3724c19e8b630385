/**
 * The stand-in's "database": one JSON file holding what Grafana keeps in `grafana.db` that matters to
 * a password rotation — the users (salted hashes only), the login attempts of the brute-force
 * limiter, the session tokens (SHA-256 of the cookie value, as Grafana stores `user_auth_token`) and
 * the service accounts with their tokens (SHA-256 of the `glsa_` key: a token value is never stored).
 * Like Grafana's database it survives restarts: the lockout and the password both outlive a restart.
 *
 * Written atomically (temp file, fsync, rename, directory fsync) with mode 0600.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../src/lib/fsx.js';
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
  /** The `authTokenId` of /api/user/revoke-auth-token (absent in data files of older stand-ins). */
  id: z.number().int().positive().optional(),
  userId: z.number().int(),
  /** SHA-256 hex of the `grafana_session` cookie value. */
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.number(),
});

/** A service account: a user row in Grafana (its id comes from the users' sequence), org-scoped. */
const serviceAccount = z.strictObject({
  id: z.number().int().positive(),
  name: z.string().min(1),
  login: z.string().min(1),
  orgId: z.number().int(),
  role: z.enum(['None', 'Viewer', 'Editor', 'Admin']),
  isDisabled: z.boolean(),
  created: z.number(),
});

/** A service-account token (Grafana's `api_key` row): the hash of the key, never the key. */
const saToken = z.strictObject({
  id: z.number().int().positive(),
  serviceAccountId: z.number().int().positive(),
  name: z.string().min(1),
  /** SHA-256 hex of the `glsa_…` key. */
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.number(),
  /** Epoch milliseconds, or null for a token that never expires (`secondsToLive` 0). */
  expires: z.number().nullable(),
});

/** The last id handed out per table (autoincrement: a deleted row's id is never reused). */
const sequences = z.strictObject({
  user: z.number().int(),
  authToken: z.number().int(),
  apiKey: z.number().int(),
});

const state = z.strictObject({
  format: z.literal('grafana-standin/1'),
  users: z.array(storedUser).min(1),
  loginAttempts: z.array(loginAttempt),
  authTokens: z.array(authToken),
  serviceAccounts: z.array(serviceAccount).default([]),
  saTokens: z.array(saToken).default([]),
  sequences: sequences.optional(),
});

export type StoredUser = z.infer<typeof storedUser>;
export type LoginAttempt = z.infer<typeof loginAttempt>;
export type AuthToken = z.infer<typeof authToken>;
export type ServiceAccount = z.infer<typeof serviceAccount>;
export type SaToken = z.infer<typeof saToken>;
export type StandInState = z.infer<typeof state>;
export type Sequence = keyof z.infer<typeof sequences>;

/**
 * The next id of `table`, as an autoincrement column hands it out (never one used before).
 *
 * @example
 * const id = nextId(state, 'apiKey'); // 1, then 2, …
 */
export function nextId(current: StandInState, table: Sequence): number {
  const seq = current.sequences ?? {
    user: Math.max(0, ...current.users.map((u) => u.id), ...current.serviceAccounts.map((a) => a.id)),
    authToken: Math.max(0, ...current.authTokens.map((t) => t.id ?? 0)),
    apiKey: Math.max(0, ...current.saTokens.map((t) => t.id)),
  };
  seq[table] += 1;
  current.sequences = seq;
  return seq[table];
}

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
  const loaded = parsed.data;
  // Sessions written by an older stand-in had no id: number them, as a migration would.
  for (const t of loaded.authTokens) if (t.id === undefined) t.id = nextId(loaded, 'authToken');
  return loaded;
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
    serviceAccounts: [],
    saTokens: [],
  };
}
