/**
 * Issue 12, PostgreSQL `checkFootholds`: the read-only look of `rekey verify --trigger compromise`
 * and `recover`. Real PostgreSQL; the attacker holds an admin login (the superuser) and a session of
 * the app role. Each foothold is played first, then the check must name it, change nothing (the role
 * stays, the session stays open, the state file keeps its bytes), and keep no secret in the state
 * file: names, a hash of each verifier (never the verifier nor the password), a time. Fails on the
 * code before (no checkFootholds, no verifier fingerprints).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { asSuperuser, createLoginRole } from '../../../demo/stack/postgres-roles.js';
import { postgresTarget, scramVerifier } from '../../../src/targets/postgres/index.js';
import type { EvictionFinding, Target, Values } from '../../../src/targets/types.js';
import { record } from '../../helpers/resilience.js';
import { usePostgres } from '../../helpers/services.js';
import { tempDir } from '../../helpers/tmp.js';
import { Canaries, ctxOf, pgSecret, rotateOnce } from './helpers.js';

const KEY = 'POSTGRES_PASSWORD';
const DB = 'bi';
const SUITE = 'postgres target in process (checkFootholds, single)';

describe('postgres checkFootholds: what an attacker with an admin login left behind', () => {
  const server = usePostgres();
  const canaries = new Canaries();
  let stateDir = '';
  let password = '';
  const file = () => path.join(stateDir, `postgres-roles-${KEY}.json`);
  beforeAll(async () => {
    stateDir = await tempDir('rekey-pg-footholds-');
    password = canaries.next();
    await createLoginRole(server(), { name: 'app', password, database: DB });
    await createLoginRole(server(), { name: 'reporting', password: canaries.next() });
  });

  /** The target; with `admin`, the superuser connects (it may read pg_authid). */
  const target = (admin = true): Target =>
    postgresTarget(
      pgSecret(server(), {
        key: KEY,
        user: 'app',
        database: DB,
        ...(admin ? { admin: { user: 'postgres', passwordKey: 'PG_ADMIN' } } : {}),
      }),
      {
        env: new Map(admin ? [['PG_ADMIN', server().superuserPassword]] : []),
        configDir: '/',
        stateDir,
      },
    );

  const rotate = async (trigger: 'scheduled' | 'compromise') => {
    password = (await rotateOnce(target(), trigger, { [KEY]: password }, { key: KEY, canaries }))[KEY] ?? '';
  };

  /** checkFootholds, asserting it changed nothing in the state file. */
  const look = async (admin = true): Promise<EvictionFinding[]> => {
    const before = await fs.readFile(file(), 'utf8');
    const t = target(admin);
    const found = await t.checkFootholds!(ctxOf('compromise'), { [KEY]: password });
    expect(await fs.readFile(file(), 'utf8')).toBe(before);
    expect(canaries.foundIn(JSON.stringify(found))).toEqual([]);
    return [...found];
  };
  const of = (found: EvictionFinding[], foothold: EvictionFinding['foothold']) =>
    found.filter((f) => f.foothold === foothold);

  /** A session of `user` the attacker keeps open. */
  const session = async (user: string, pw: string): Promise<pg.Client> => {
    const c = new pg.Client({ host: server().host, port: server().port, user, password: pw, database: DB });
    c.on('error', () => {});
    await c.connect();
    return c;
  };

  it('after a rotation, the state file keeps names and verifier hashes only; nothing is found', async () => {
    await rotate('scheduled');
    const text = await fs.readFile(file(), 'utf8');
    const doc = JSON.parse(text);
    expect(doc.roles).toEqual(expect.arrayContaining(['app', 'postgres', 'reporting']));
    expect(Object.keys(doc.verifiers)).toEqual(expect.arrayContaining(['app', 'reporting']));
    expect(doc.verifiers.app).toMatch(/^[0-9a-f]{64}$/);
    expect(canaries.foundIn(text)).toEqual([]);
    const verifier = await asSuperuser(server(), async (c) =>
      String((await c.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")).rows[0]?.rolpassword),
    );
    expect(verifier).toMatch(/^SCRAM-SHA-256\$/);
    expect(text).not.toContain(verifier.split('$')[2]?.split(':')[0] ?? 'x'); // its stored key
    expect((await fs.stat(file())).mode & 0o777).toBe(0o600);
    // Widened by hand: the next rotation writes it 0600 again (it holds verifier hashes).
    await fs.chmod(file(), 0o644);
    await rotate('scheduled');
    expect((await fs.stat(file())).mode & 0o777).toBe(0o600);

    const found = await look();
    expect(found.map((f) => [f.foothold, f.status])).toEqual([
      ['users', 'clean'],
      ['passwords', 'clean'],
      ['sessions', 'clean'],
    ]);
  });

  it('names the LOGIN role the attacker created, and leaves it', async () => {
    await asSuperuser(server(), (c) =>
      c.query(`CREATE ROLE backdoor LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(canaries.next()))}`),
    );
    const users = of(await look(), 'users');
    record({
      kind: 'eviction',
      suite: SUITE,
      service: 'PostgreSQL',
      foothold: 'LOGIN role the attacker created (verify --trigger compromise)',
      result: 'reported',
      ok:
        users.length === 1 &&
        users[0]?.status === 'reported' &&
        (users[0]?.text.includes('backdoor') ?? false),
    });
    expect(users).toHaveLength(1);
    expect(users[0]?.status).toBe('reported');
    expect(users[0]?.text).toContain('backdoor');
    expect(users[0]?.text).not.toMatch(/\bapp\b|\breporting\b/);
    const still = await asSuperuser(
      server(),
      async (c) => (await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'backdoor'")).rowCount,
    );
    expect(still).toBe(1);
    await asSuperuser(server(), (c) => c.query('DROP ROLE backdoor'));
  });

  it('names the role whose password the attacker changed', async () => {
    await asSuperuser(server(), (c) =>
      c.query(`ALTER ROLE reporting PASSWORD ${pg.escapeLiteral(scramVerifier(canaries.next()))}`),
    );
    const passwords = of(await look(), 'passwords');
    record({
      kind: 'eviction',
      suite: SUITE,
      service: 'PostgreSQL',
      foothold: "another role's password changed (verify --trigger compromise)",
      result: 'reported',
      ok:
        passwords.length === 1 &&
        passwords[0]?.status === 'reported' &&
        (passwords[0]?.text.includes('reporting') ?? false),
    });
    expect(passwords).toHaveLength(1);
    expect(passwords[0]?.status).toBe('reported');
    expect(passwords[0]?.text).toContain('reporting');
    expect(passwords[0]?.text).not.toMatch(/\bapp\b/);
  });

  it('says it could not check the passwords when the connecting role may not read pg_authid', async () => {
    const passwords = of(await look(false), 'passwords');
    expect(passwords).toHaveLength(1);
    expect(passwords[0]?.status).toBe('unchecked');
    expect(passwords[0]?.text).toMatch(/^could not check .*pg_authid is superuser-only and app is not one/);
  });

  it('reports the session kept open across a rotation; a compromise rotation ends it', async () => {
    const attacker = await session('app', password);
    try {
      await rotate('scheduled');
      const sessions = of(await look(), 'sessions');
      expect(sessions).toHaveLength(1);
      expect(sessions[0]?.status).toBe('reported');
      expect(sessions[0]?.text).toMatch(/^1 session of role app opened before the last rotation/);
      // The look ended nothing: the attacker's session still answers.
      expect((await attacker.query('SELECT 1 AS one')).rows).toHaveLength(1);

      await rotate('compromise');
      const after = of(await look(), 'sessions');
      const gone = await attacker.query('SELECT 1').then(
        () => false,
        () => true,
      );
      record({
        kind: 'eviction',
        suite: SUITE,
        service: 'PostgreSQL',
        foothold: 'session kept open with the old password',
        result: 'removed',
        ok: gone && after[0]?.status === 'clean',
      });
      expect(gone).toBe(true);
      expect(after.map((f) => f.status)).toEqual(['clean']);
    } finally {
      await attacker.end().catch(() => {});
    }
  });
});

describe('postgres alternating: a session of the idle role, opened with its older password', () => {
  const server = usePostgres();
  const canaries = new Canaries();
  let stateDir = '';
  let env: Values = {};
  const USER_KEY = 'POSTGRES_USER';
  beforeAll(async () => {
    stateDir = await tempDir('rekey-pg-footholds-alt-');
    const pw = canaries.next();
    await createLoginRole(server(), { name: 'app', password: pw, database: DB });
    env = { [USER_KEY]: 'app', [KEY]: pw };
  });
  const target = (): Target =>
    postgresTarget(
      pgSecret(server(), {
        key: KEY,
        user: 'app',
        database: DB,
        strategy: 'alternating',
        roles: ['app_blue', 'app_green'],
        userKey: USER_KEY,
        admin: { user: 'postgres', passwordKey: 'PG_ADMIN' },
      }),
      { env: new Map([['PG_ADMIN', server().superuserPassword]]), configDir: '/', stateDir },
    );
  const rotate = async (trigger: 'scheduled' | 'compromise') => {
    env = await rotateOnce(target(), trigger, env, { key: KEY, canaries });
  };
  const sessions = async () =>
    [...(await target().checkFootholds!(ctxOf('compromise'), env))]
      .filter((f) => f.foothold === 'sessions')
      .map((f) => [f.status, f.text.replace(/\(\d{4}-[^)]*\)/, '(T)')]);

  it('is reported while its role is retired, and ended by the compromise rotation that reuses the role', async () => {
    await rotate('scheduled'); // app → app_blue
    expect(env[USER_KEY]).toBe('app_blue');
    const attacker = new pg.Client({
      host: server().host,
      port: server().port,
      user: 'app_blue',
      password: env[KEY],
      database: DB,
    });
    attacker.on('error', () => {});
    await attacker.connect();
    try {
      await rotate('scheduled'); // app_blue → app_green; app_blue keeps its password (no compromise)
      expect(await sessions()).toEqual([
        ['reported', expect.stringMatching(/^1 session of the retired role app_blue still open/)],
        ['clean', 'no session of role app_green opened before the last rotation (T)'],
      ]);
      expect((await attacker.query('SELECT 1 AS one')).rows).toHaveLength(1); // the look ended nothing

      await rotate('compromise'); // app_green → app_blue, with a new password
      expect(env[USER_KEY]).toBe('app_blue');
      const gone = await attacker.query('SELECT 1').then(
        () => false,
        () => true,
      );
      record({
        kind: 'eviction',
        suite: 'postgres target in process (alternating)',
        service: 'PostgreSQL',
        foothold: 'session of the idle role opened with its older password (the role is reused)',
        result: 'removed',
        ok: gone,
      });
      expect(gone).toBe(true);
      expect((await sessions()).map(([status]) => status)).toEqual(['clean', 'clean']);
    } finally {
      await attacker.end().catch(() => {});
    }
  });
});
