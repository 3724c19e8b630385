/**
 * Issue 12, Redis `checkFootholds` (read-only, for `rekey verify --trigger compromise` and recover),
 * attacker first: with the stolen password the attacker adds a password of their own and keeps a
 * connection open before any rotation → both are reported; after a compromise rotation → clean. A
 * password given to another ACL user after the last rotation is reported by name from the list kept
 * in the state directory (names and counts only, 0600), also by another process; a connection older
 * than a scheduled rotation's finish is reported. Nothing is changed by the check. Through the admin
 * connection the same works for a least-privileged app user; without it, 'unchecked' with the reason.
 * (The Redis target had no checkFootholds before: every assertion fails on the old code.)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../../src/lib/owned-dir.js';
import { writeKnownUsers } from '../../../src/targets/redis/footholds.js';
import { redisTarget } from '../../../src/targets/redis/index.js';
import type { EvictionFinding, Target, TargetContext, Values } from '../../../src/targets/types.js';
import { record } from '../../helpers/resilience.js';
import { useRedis } from '../../helpers/services.js';
import { aclPasswords, admin, canary, connect, login, secretFor, values } from './helpers.js';

const compromise: TargetContext = { trigger: 'compromise', log: silentLogger };
const scheduled: TargetContext = { trigger: 'scheduled', log: silentLogger };
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

const statusOf = (f: readonly EvictionFinding[]) => Object.fromEntries(f.map((x) => [x.foothold, x.status]));
const textOf = (f: readonly EvictionFinding[], foothold: string) =>
  f.find((x) => x.foothold === foothold)?.text ?? '';

/** A whole rotation of one target, in process (preflight, stage, test, finish). */
async function rotateTarget(t: Target, ctx: TargetContext, cur: Values): Promise<Values> {
  await t.checkCurrent(ctx, cur);
  const next = values(canary('next'));
  await t.stage(ctx, cur, next);
  await t.test(ctx, next);
  await t.finish(ctx, cur, next);
  return next;
}

const row = (
  suite: string,
  foothold: string,
  result: 'removed' | 'reported' | 'not checkable',
  ok: boolean,
) => record({ kind: 'eviction', suite, service: 'Redis (footholds check)', foothold, result, ok });

describe('redis checkFootholds (default user, config file)', () => {
  const old = canary('old');
  const redis = useRedis({ password: old });

  it('attacker first: their password and open connection reported; after a compromise rotation clean', async () => {
    const stateDir = await makeOwnedDir('rekey-redis-footholds-');
    dirs.push(stateDir);
    const env = { env: new Map<string, string>(), configDir: '.', stateDir };
    const t = redisTarget(secretFor(redis()), env);

    // The attacker, with the stolen password, before any rotation.
    const theirs = canary('attacker');
    const attacker = await connect(redis(), old);
    await attacker.sendCommand(['ACL', 'SETUSER', 'default', `>${theirs}`]);
    const hashesBefore = await aclPasswords(redis(), old);

    const found = await t.checkFootholds?.(scheduled, values(old));
    const suite = 'redis checkFootholds in process (config)';
    const ok1 = statusOf(found ?? []).passwords === 'reported';
    row(suite, 'password the attacker added before any rotation', 'reported', ok1);
    expect(statusOf(found ?? [])).toEqual({
      passwords: 'reported',
      users: 'unchecked',
      connections: 'unchecked',
    });
    expect(textOf(found ?? [], 'passwords')).toContain(
      "user default holds 1 password besides the env file's current one",
    );
    expect(textOf(found ?? [], 'users')).toContain('no list of ACL users from a previous rotation');
    expect(textOf(found ?? [], 'connections')).toMatch(
      /^1 open connection of user default \(age \d+ s\): could not tell/,
    );
    const dump = JSON.stringify(found);
    expect(dump).not.toMatch(/[0-9a-f]{64}/);
    expect(dump).not.toContain(theirs);
    expect(dump).not.toContain(old);
    // Read-only: nothing changed.
    expect(await aclPasswords(redis(), old)).toEqual(hashesBefore);
    expect(await attacker.ping()).toBe('PONG');
    expect((await fs.readdir(stateDir)).filter((f) => f !== '.rekey-owned')).toEqual([]);

    const next = await rotateTarget(t, compromise, values(old));
    const after = await t.checkFootholds?.(compromise, next);
    const clean = after?.every((f) => f.status === 'clean') ?? false;
    row(suite, 'password and connection of the attacker, after the compromise rotation', 'removed', clean);
    expect(statusOf(after ?? [])).toEqual({ passwords: 'clean', users: 'clean', connections: 'clean' });
    expect(await login(redis(), theirs)).toBe('WRONGPASS');
    if (attacker.isOpen) attacker.destroy();

    // The list: names and counts only, 0600.
    const file = path.join(stateDir, 'redis-users-REDIS_PASSWORD.json');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(await fs.readFile(file, 'utf8'));
    expect(doc.users).toEqual({ default: 1 });
    expect(JSON.stringify(doc)).not.toMatch(/[0-9a-f]{64}/);

    // After the rotation, the attacker (say with the admin's password) gives a new user a password:
    // another process (no preflight of its own) reports it by name, from the list.
    await admin(redis(), next.REDIS_PASSWORD ?? '', [
      'ACL',
      'SETUSER',
      'backdoor',
      'on',
      `>${canary('bd')}`,
      '~*',
      '+@all',
    ]);
    const later = await redisTarget(secretFor(redis()), env).checkFootholds?.(compromise, next);
    const ok2 =
      statusOf(later ?? []).users === 'reported' && textOf(later ?? [], 'users').includes('backdoor (1)');
    row(suite, 'password given to a new ACL user after the last rotation (another process)', 'reported', ok2);
    expect(statusOf(later ?? []).users).toBe('reported');
    expect(textOf(later ?? [], 'users')).toContain('backdoor (1)');
    expect(await login(redis(), canary('x'), 'backdoor')).toBe('WRONGPASS'); // still there, untouched
    await admin(redis(), next.REDIS_PASSWORD ?? '', ['ACL', 'DELUSER', 'backdoor']);
    await admin(redis(), next.REDIS_PASSWORD ?? '', ['ACL', 'SETUSER', 'default', 'resetpass', `>${old}`]);
  });

  it('a connection older than a scheduled rotation is reported (it may hold the retired password)', async () => {
    const stateDir = await makeOwnedDir('rekey-redis-footholds-');
    dirs.push(stateDir);
    const t = redisTarget(secretFor(redis()), { env: new Map(), configDir: '.', stateDir });
    const held = await connect(redis(), old);
    await sleep(1500);
    const next = await rotateTarget(t, scheduled, values(old));
    const found = await t.checkFootholds?.(scheduled, next);
    const ok = statusOf(found ?? []).connections === 'reported';
    row(
      'redis checkFootholds in process (config)',
      'connection opened before a scheduled rotation',
      'reported',
      ok,
    );
    expect(statusOf(found ?? [])).toEqual({ passwords: 'clean', users: 'clean', connections: 'reported' });
    expect(textOf(found ?? [], 'connections')).toMatch(
      /^1 open connection of user default .*; 1 opened before/,
    );
    expect(await held.ping()).toBe('PONG'); // reported, not closed
    held.destroy();
    await admin(redis(), next.REDIS_PASSWORD ?? '', ['ACL', 'SETUSER', 'default', 'resetpass', `>${old}`]);
  });
});

describe('redis compromise finish in another process than preflight (recover)', () => {
  const old = canary('old');
  const redis = useRedis({ password: old });

  it("compares other users with the last rotation's list instead of saying 'not checked'", async () => {
    const stateDir = await makeOwnedDir('rekey-redis-footholds-');
    dirs.push(stateDir);
    const env = { env: new Map<string, string>(), configDir: '.', stateDir };
    const first = await rotateTarget(redisTarget(secretFor(redis()), env), scheduled, values(old));
    // The compromise rotation's preflight, stage and test run in one process …
    const t1 = redisTarget(secretFor(redis()), env);
    await t1.checkCurrent(compromise, first);
    const next = values(canary('next'));
    await t1.stage(compromise, first, next);
    // … the attacker gives a new user a password, and rekey is killed: recover finishes.
    const pw = first.REDIS_PASSWORD ?? '';
    await admin(redis(), pw, ['ACL', 'SETUSER', 'backdoor', 'on', `>${canary('bd')}`, '~*', '+@all']);
    const t2 = redisTarget(secretFor(redis()), env);
    await t2.finish(compromise, first, next);
    const users = (t2.evictions?.() ?? []).filter((f) => f.foothold === 'users');
    const ok =
      users.length === 1 &&
      users[0]?.status === 'reported' &&
      (users[0]?.text.includes('backdoor (1)') ?? false);
    row(
      'redis compromise finish by recover (config)',
      'password given to a new ACL user, finish in another process',
      'reported',
      ok,
    );
    expect(users.map((f) => f.status)).toEqual(['reported']);
    expect(users[0]?.text).toContain('backdoor (1)');
    // The list keeps backdoor at 0 passwords: it stays reported afterwards.
    const later = await t2.checkFootholds?.(compromise, next);
    expect(statusOf(later ?? []).users).toBe('reported');
    const np = next.REDIS_PASSWORD ?? '';
    await admin(redis(), np, ['ACL', 'DELUSER', 'backdoor']);
    await admin(redis(), np, ['ACL', 'SETUSER', 'default', 'resetpass', `>${old}`]);
  });
});

describe('redis checkFootholds through the admin connection (least-privileged app user, aclfile)', () => {
  const adminPw = canary('admin');
  const redis = useRedis({ password: adminPw, mode: 'aclfile' });

  it('without admin: unchecked with the reason; with admin: the checks run as the admin', async () => {
    const old = canary('old');
    await admin(redis(), adminPw, [
      'ACL',
      'SETUSER',
      'app',
      'reset',
      'on',
      `>${old}`,
      '~app:*',
      '-@all',
      '+@read',
      '+@write',
    ]);
    const stateDir = await makeOwnedDir('rekey-redis-footholds-');
    dirs.push(stateDir);
    const secret = secretFor(redis(), { user: 'app' });
    const bare = await redisTarget(secret, { env: new Map(), configDir: '.', stateDir }).checkFootholds?.(
      scheduled,
      values(old),
    );
    row(
      'redis checkFootholds (aclfile, app user without admin)',
      'anything (the user may not read ACLs)',
      'not checkable',
      bare?.every((f) => f.status === 'unchecked') ?? false,
    );
    expect(statusOf(bare ?? [])).toEqual({
      passwords: 'unchecked',
      users: 'unchecked',
      connections: 'unchecked',
    });
    expect(textOf(bare ?? [], 'passwords')).toMatch(
      /ACL GETUSER failed \(NOPERM .*; configure `admin` for REDIS_PASSWORD\)$/,
    );

    const env = new Map([['REDIS_ADMIN_PASSWORD', adminPw]]);
    const t = redisTarget(
      { ...secret, admin: { user: 'default', passwordKey: 'REDIS_ADMIN_PASSWORD' } },
      { env, configDir: '.', stateDir },
    );
    const pool = await connect(redis(), old, 'app');
    // The attacker with the admin's password adds one to app.
    await admin(redis(), adminPw, ['ACL', 'SETUSER', 'app', `>${canary('attacker')}`]);
    const found = await t.checkFootholds?.(scheduled, values(old));
    row(
      'redis checkFootholds (aclfile, admin connection)',
      'password added to the app user',
      'reported',
      statusOf(found ?? []).passwords === 'reported',
    );
    expect(statusOf(found ?? []).passwords).toBe('reported');
    expect(textOf(found ?? [], 'connections')).toMatch(/^1 open connection of user app/);

    const next = await rotateTarget(t, compromise, values(old));
    const after = await t.checkFootholds?.(compromise, next);
    row(
      'redis checkFootholds (aclfile, admin connection)',
      'password and connections of the app user, after the compromise rotation',
      'removed',
      after?.every((f) => f.status === 'clean') ?? false,
    );
    expect(statusOf(after ?? [])).toEqual({ passwords: 'clean', users: 'clean', connections: 'clean' });
    if (pool.isOpen) pool.destroy();
    expect(JSON.stringify([bare, found, after])).not.toContain(adminPw);
  });
});

describe('the kept list of users', () => {
  it('is written 0600 even over a file widened by hand', async () => {
    const dir = await makeOwnedDir('rekey-redis-users-');
    try {
      const file = path.join(dir, 'redis-users-REDIS_PASSWORD.json');
      await writeKnownUsers(file, { default: 1 });
      await fs.chmod(file, 0o644);
      await writeKnownUsers(file, { default: 1 });
      expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    } finally {
      await removeOwnedDir(dir);
    }
  });
});
