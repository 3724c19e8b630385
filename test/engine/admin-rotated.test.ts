/**
 * An admin password that another secret of the same rotation rotates: PostgreSQL secrets (one
 * `single`, one `alternating`) whose `admin` is a superuser whose own password PG_ADMIN_PASSWORD is a
 * third secret, and a Redis app user whose `admin` is the default user, whose password
 * REDIS_ADMIN_PASSWORD is rotated too. The targets read the env file once, at the start: once the
 * admin secret's stage ran (PostgreSQL: the old password stops working at once) or its finish ran
 * (Redis: the old one is removed, and on compromise every connection of the user is closed), the
 * other secrets' admin work must still get in. The admin secrets come FIRST in rekey.yaml here, the
 * worst order. Real PostgreSQL and Redis, the real CLI, scheduled and compromise rotations in turn.
 *
 * Before: a compromise rotation of this stack failed every time (the readers' finish, after the
 * commit, logged in as admin with the env file's old value: "password authentication failed"; or
 * Redis closed a reader's admin connection under it), and a scheduled one failed at random when the
 * concurrent stages met the admin's new password (a clean rollback, but no rotation).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { asSuperuser } from '../../demo/stack/postgres-roles.js';
import { envValues, parseEnv } from '../../src/envfile/index.js';
import { ALPHANUMERIC, generate } from '../../src/lib/generate.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { scramVerifier } from '../../src/targets/postgres/scram.js';
import { usePostgres, useRedis } from '../helpers/services.js';
import { startCli } from './stack.js';

const pw = () => generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC });
const INITIAL = {
  PG_ADMIN_PASSWORD: pw(),
  APP_PASSWORD: pw(),
  BI_PASSWORD: pw(),
  REDIS_ADMIN_PASSWORD: pw(),
  REDIS_APP_PASSWORD: pw(),
};
const postgres = usePostgres();
const redis = useRedis({ password: INITIAL.REDIS_ADMIN_PASSWORD });
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
});

async function stack() {
  const p = postgres();
  const r = redis();
  await asSuperuser(p, async (c) => {
    const verifier = (s: string) => pg.escapeLiteral(scramVerifier(s));
    await c.query(`CREATE ROLE ar_super LOGIN SUPERUSER PASSWORD ${verifier(INITIAL.PG_ADMIN_PASSWORD)}`);
    await c.query(`CREATE ROLE ar_app LOGIN PASSWORD ${verifier(INITIAL.APP_PASSWORD)}`);
    await c.query('CREATE ROLE ar_bi NOLOGIN');
    await c.query(
      `CREATE ROLE ar_blue LOGIN INHERIT IN ROLE ar_bi PASSWORD ${verifier(INITIAL.BI_PASSWORD)}`,
    );
  });
  const app = createClient({ socket: { port: r.port, reconnectStrategy: false }, password: r.password });
  await app.connect();
  await app.sendCommand(['ACL', 'SETUSER', 'app', 'on', `>${INITIAL.REDIS_APP_PASSWORD}`, '~app:*', '+@all']);
  await app.sendCommand(['CONFIG', 'REWRITE']);
  await app.destroy();

  const dir = await makeOwnedDir('rekey-admin-rotated-', {
    base: process.env.REKEY_STACK_TMPDIR || undefined,
  });
  dirs.push(dir);
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(
    envFile,
    `${Object.entries({ ...INITIAL, BI_USER: 'ar_blue' })
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  await fs.writeFile(path.join(dir, '.gitignore'), '.env.production\n.env.production.backup-*\n.rekey/\n');
  const pgAt = `type: postgres, host: 127.0.0.1, port: ${p.port}, database: postgres, sslmode: disable`;
  const pgAdmin = 'admin: { user: ar_super, passwordKey: PG_ADMIN_PASSWORD }';
  const redisAt = `type: redis, host: 127.0.0.1, port: ${r.port}`;
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    [
      'envFile: .env.production',
      'secrets:',
      `  - { key: PG_ADMIN_PASSWORD, ${pgAt}, user: ar_super }`,
      `  - { key: REDIS_ADMIN_PASSWORD, ${redisAt}, user: default }`,
      `  - { key: APP_PASSWORD, ${pgAt}, user: ar_app, ${pgAdmin} }`,
      `  - { key: BI_PASSWORD, ${pgAt}, user: ar_bi, strategy: alternating, roles: [ar_blue, ar_green], userKey: BI_USER, memberOf: ar_bi, ${pgAdmin} }`,
      `  - { key: REDIS_APP_PASSWORD, ${redisAt}, user: app, admin: { user: default, passwordKey: REDIS_ADMIN_PASSWORD } }`,
      '',
    ].join('\n'),
  );
  return { dir, envFile };
}

/** 'ok' or the refusal, for each credential as the env file holds it, and for the previous values. */
async function logins(values: ReadonlyMap<string, string>) {
  const p = postgres();
  const pgLogin = async (user: string, password: string) => {
    const c = new pg.Client({ host: '127.0.0.1', port: p.port, database: 'postgres', user, password });
    c.on('error', () => {});
    try {
      await c.connect();
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? 'error';
    } finally {
      await c.end().catch(() => {});
    }
  };
  const redisLogin = async (username: string, password: string) => {
    const c = createClient({ socket: { port: redis().port, reconnectStrategy: false }, username, password });
    c.on('error', () => {});
    try {
      await c.connect();
      return 'ok';
    } catch (err) {
      return String((err as Error).message).split(' ')[0] ?? 'error';
    } finally {
      if (c.isOpen) c.destroy();
    }
  };
  const get = (k: string) => values.get(k) ?? '';
  return {
    PG_ADMIN_PASSWORD: await pgLogin('ar_super', get('PG_ADMIN_PASSWORD')),
    APP_PASSWORD: await pgLogin('ar_app', get('APP_PASSWORD')),
    BI_PASSWORD: await pgLogin(get('BI_USER'), get('BI_PASSWORD')),
    REDIS_ADMIN_PASSWORD: await redisLogin('default', get('REDIS_ADMIN_PASSWORD')),
    REDIS_APP_PASSWORD: await redisLogin('app', get('REDIS_APP_PASSWORD')),
  };
}

const everyOk = {
  PG_ADMIN_PASSWORD: 'ok',
  APP_PASSWORD: 'ok',
  BI_PASSWORD: 'ok',
  REDIS_ADMIN_PASSWORD: 'ok',
  REDIS_APP_PASSWORD: 'ok',
};

describe('an admin password rotated by another secret of the same rotation', () => {
  let s: Awaited<ReturnType<typeof stack>>;
  const readEnv = async () => envValues(parseEnv(await fs.readFile(s.envFile, 'utf8')));
  const cli = (args: string[], env: Record<string, string> = {}) =>
    startCli(args, s.dir, { ...process.env, NO_COLOR: '1', ...env }).done;

  it('scheduled and compromise rotations succeed, every service accepts exactly the env file', async () => {
    s = await stack();
    expect(await logins(await readEnv())).toEqual(everyOk);
    for (const trigger of ['compromise', 'scheduled', 'compromise', 'scheduled']) {
      const before = await readEnv();
      const r = await cli(['rotate', '--trigger', trigger, '--yes', '--json']);
      expect(r.code, `${trigger}: ${r.stderr}`).toBe(0);
      const doc = JSON.parse(r.stdout) as { outcome: string; steps: Array<{ id: string }> };
      expect(doc.outcome).toBe('rotated');
      // The readers' finish before the admin secrets' (the plan's order).
      const ids = doc.steps.map((x) => x.id);
      expect(ids.indexOf('finish:APP_PASSWORD')).toBeLessThan(ids.indexOf('finish:PG_ADMIN_PASSWORD'));
      expect(ids.indexOf('finish:REDIS_APP_PASSWORD')).toBeLessThan(
        ids.indexOf('finish:REDIS_ADMIN_PASSWORD'),
      );
      const after = await readEnv();
      for (const k of Object.keys(INITIAL)) {
        expect(after.get(k), k).not.toBe(before.get(k));
        // Neither value printed (the admin's new one is tried by the readers too).
        for (const v of [before.get(k), after.get(k)]) expect(r.stdout + r.stderr).not.toContain(v);
      }
      expect(await logins(after), trigger).toEqual(everyOk);
      // The old values are refused (alternating: the retired role keeps its password on a scheduled
      // rotation, by design; on compromise it loses it).
      const old = await logins(before);
      expect(old.PG_ADMIN_PASSWORD).toBe('28P01');
      expect(old.APP_PASSWORD).toBe('28P01');
      expect(old.REDIS_ADMIN_PASSWORD).toBe('WRONGPASS');
      expect(old.REDIS_APP_PASSWORD).toBe('WRONGPASS');
      if (trigger === 'compromise') expect(old.BI_PASSWORD).toBe('28P01');
    }
  }, 180_000);

  it('a rollback after verify restores every old value; a crash after the commit is recovered', async () => {
    // Verify fails: everything is reverted, the admin secrets first (reverse order), so the readers'
    // reverts log in with the env file's admin password again.
    const before = await readEnv();
    const failed = await cli(['rotate', '--trigger', 'compromise', '--yes'], { REKEY_FAIL_AT: 'verify' });
    expect(failed.code, failed.stderr).not.toBe(0);
    expect(failed.stderr).toMatch(/rolled back/i);
    expect(await readEnv()).toEqual(before);
    expect(await logins(before)).toEqual(everyOk);
    // Killed right after the admin's own stage (its old password refused now), before the commit:
    // recover rolls back, and every service accepts the env file's (old) values again.
    const early = await cli(['rotate', '--trigger', 'compromise', '--yes'], {
      REKEY_CRASH_AT: 'stage:PG_ADMIN_PASSWORD@end',
    });
    expect(early.code).not.toBe(0);
    expect((await logins(before)).PG_ADMIN_PASSWORD).toBe('28P01');
    const rolledBack = await cli(['recover', '--yes']);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(await readEnv()).toEqual(before);
    expect(await logins(before)).toEqual(everyOk);
    // Killed as the readers' finish begins, after the commit: recover finishes the rotation.
    const crashed = await cli(['rotate', '--trigger', 'compromise', '--yes'], {
      REKEY_CRASH_AT: 'finish:APP_PASSWORD@begin',
    });
    expect(crashed.code).not.toBe(0);
    const recovered = await cli(['recover', '--yes']);
    expect(recovered.code, recovered.stderr).toBe(0);
    const after = await readEnv();
    expect(after.get('PG_ADMIN_PASSWORD')).not.toBe(before.get('PG_ADMIN_PASSWORD'));
    expect(await logins(after)).toEqual(everyOk);
    expect((await logins(before)).PG_ADMIN_PASSWORD).toBe('28P01');
  }, 120_000);
});
