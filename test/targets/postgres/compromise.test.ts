/**
 * Issue 12, PostgreSQL: a compromise rotation reports LOGIN roles an attacker could have added —
 * roles neither rekey.yaml nor the previous rotation's list (names only, in the state directory)
 * knows — by name, and says what it cannot check. Real PostgreSQL. Fails on the code before issue
 * 12 (no list, no findings).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { asSuperuser, createLoginRole } from '../../../demo/stack/postgres-roles.js';
import { postgresTarget, scramVerifier } from '../../../src/targets/postgres/index.js';
import { record } from '../../helpers/resilience.js';
import { usePostgres } from '../../helpers/services.js';
import { tempDir } from '../../helpers/tmp.js';
import { Canaries, pgSecret, rotateOnce } from './helpers.js';

const KEY = 'POSTGRES_PASSWORD';
const DB = 'bi';

describe('postgres compromise: LOGIN roles nobody configured', () => {
  const server = usePostgres();
  const canaries = new Canaries();
  let stateDir = '';
  let password = '';
  beforeAll(async () => {
    stateDir = await tempDir('rekey-pg-roles-');
    password = canaries.next();
    await createLoginRole(server(), { name: 'app', password, database: DB });
  });

  const rotate = async (trigger: 'scheduled' | 'compromise') => {
    const t = postgresTarget(pgSecret(server(), { key: KEY, user: 'app', database: DB }), {
      env: new Map(),
      configDir: '/',
      stateDir,
    });
    password = (await rotateOnce(t, trigger, { [KEY]: password }, { key: KEY, canaries }))[KEY] ?? '';
    return t.evictions?.() ?? [];
  };

  it('a scheduled rotation keeps the names of the LOGIN roles (no password) and reports nothing', async () => {
    expect(await rotate('scheduled')).toEqual([]);
    const text = await fs.readFile(path.join(stateDir, `postgres-roles-${KEY}.json`), 'utf8');
    expect(JSON.parse(text).roles).toContain('app');
    expect(JSON.parse(text).roles).toContain('postgres');
    expect(canaries.foundIn(text)).toEqual([]);
  });

  it('a compromise rotation names the LOGIN role added since, and says what it cannot check', async () => {
    const evil = canaries.next();
    await asSuperuser(server(), (c) =>
      c.query(`CREATE ROLE backdoor LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(evil))}`),
    );
    await asSuperuser(server(), (c) => c.query('CREATE ROLE not_a_login NOLOGIN'));
    const findings = await rotate('compromise');
    const users = findings.filter((f) => f.foothold === 'users');
    const suite = 'postgres target in process (single)';
    record({
      kind: 'eviction',
      suite,
      service: 'PostgreSQL',
      foothold: 'LOGIN role the attacker created',
      result: 'reported',
      ok:
        users.length === 1 &&
        users[0]?.status === 'reported' &&
        (users[0]?.text.includes('backdoor') ?? false),
    });
    record({
      kind: 'eviction',
      suite,
      service: 'PostgreSQL',
      foothold: "another role's password changed",
      result: 'not checkable',
      ok: findings.find((f) => f.foothold === 'passwords')?.status === 'unchecked',
    });
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ status: 'reported' });
    expect(users[0]?.text).toContain('backdoor');
    expect(users[0]?.text).not.toContain('not_a_login');
    expect(users[0]?.text).not.toMatch(/\bpostgres\b|\bapp\b/);
    expect(findings.find((f) => f.foothold === 'passwords')?.status).toBe('unchecked');
    expect(canaries.foundIn(JSON.stringify(findings))).toEqual([]);
    // The next compromise rotation knows it (it was present at this one): clean.
    expect((await rotate('compromise')).find((f) => f.foothold === 'users')?.status).toBe('clean');
  });
});
