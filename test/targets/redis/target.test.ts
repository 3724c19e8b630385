/**
 * The Redis target against real throwaway servers (demo/stack/redis.ts), driven directly through the
 * Target interface: overlap, retirement, idempotency, revert, persistence across restarts in each of
 * the three ways deployments set a password, and the errors a user can meet.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startRedis } from '../../../demo/stack/redis.js';
import { isRekeyError } from '../../../src/lib/errors.js';
import { aclHash } from '../../../src/targets/redis/acl.js';
import { redisTarget } from '../../../src/targets/redis/index.js';
import type { Target } from '../../../src/targets/types.js';
import { useRedis } from '../../helpers/services.js';
import { aclPasswords, admin, canary, connect, ctx, KEY, login, secretFor, values } from './helpers.js';

const targetFor = (server: { host: string; port: number }, overrides = {}): Target =>
  redisTarget(secretFor(server, overrides), { env: new Map(), configDir: '/nonexistent' });

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isRekeyError(e) ? e.code : `not a RekeyError: ${String(e)}`),
  );

describe('describe and generate', () => {
  const t = targetFor({ host: '127.0.0.1', port: 6379 });

  it('overlaps, retires the old password and talks to a service', () => {
    const d = t.describe('scheduled');
    expect(d).toMatchObject({ fileOnly: false, overlap: true, retiresOld: true });
    expect(d.actions.join('\n')).toMatch(/ACL SETUSER default #<sha256/);
    expect(t.keys).toEqual([KEY]);
    expect(t.secretKeys).toEqual([KEY]);
  });

  it('generates a 32-character alphanumeric password', () => {
    const next = t.generate(ctx, values('old'))[KEY] ?? '';
    expect(next).toMatch(/^[A-Za-z0-9]{32}$/);
  });
});

describe('stage → finish, config mode (requirepass in redis.conf)', () => {
  const old = canary('old');
  const next = canary('new');
  const redis = useRedis({ password: old, mode: 'config' });
  const t = () => targetFor(redis());
  let held: Awaited<ReturnType<typeof connect>> | undefined;

  it('checkCurrent accepts the current password', async () => {
    await t().checkCurrent(ctx, values(old));
  });

  it('inspect detects CONFIG REWRITE of the config file', async () => {
    const notes = await t().inspect(ctx, values(old));
    expect(notes.map((n) => n.text).join('\n')).toContain(`CONFIG REWRITE of ${redis().configFile}`);
    expect(notes.every((n) => n.level === 'info')).toBe(true);
  });

  it('stage: old and new both accepted on new connections; the hash is listed', async () => {
    held = await connect(redis(), old); // authenticated before the change
    await t().stage(ctx, values(old), values(next));
    expect(await login(redis(), old)).toBe('PONG');
    expect(await login(redis(), next)).toBe('PONG');
    expect(await aclPasswords(redis(), old)).toEqual([aclHash(old), aclHash(next)]);
  });

  it('stage again changes nothing and raises nothing', async () => {
    await t().stage(ctx, values(old), values(next));
    expect(await aclPasswords(redis(), next)).toEqual([aclHash(old), aclHash(next)]);
  });

  it('test proves the new password on a new connection, and rejects a wrong one', async () => {
    await t().test(ctx, values(next));
    expect(await codeOf(t().test(ctx, values(canary('wrong'))))).toBe('ERR_TARGET_AUTH');
  });

  it('a restart between stage and finish keeps both passwords (stage persisted)', async () => {
    await redis().restart();
    expect(await login(redis(), old)).toBe('PONG');
    expect(await login(redis(), next)).toBe('PONG');
    held = await connect(redis(), old); // the restart dropped the first one
  });

  it('finish: old rejected with WRONGPASS, new accepted; the held connection survives', async () => {
    await t().finish(ctx, values(old), values(next));
    expect(await login(redis(), old)).toBe('WRONGPASS');
    expect(await login(redis(), next)).toBe('PONG');
    expect(await held?.ping()).toBe('PONG');
    expect(await aclPasswords(redis(), next)).toEqual([aclHash(next)]);
  });

  it('finish again changes nothing and raises nothing', async () => {
    await t().finish(ctx, values(old), values(next));
    expect(await aclPasswords(redis(), next)).toEqual([aclHash(next)]);
  });

  it('verify: Redis Auth PONG, old password rejected', async () => {
    const rows = await t().verify(ctx, values(next), values(old), true);
    expect(rows.map((r) => [r.name, r.ok])).toEqual([
      ['Redis Auth', true],
      ['Redis old password', true],
    ]);
    const before = await t().verify(ctx, values(old), values(next), true);
    expect(before.map((r) => r.ok)).toEqual([false, false]);
  });

  it('after a restart only the new password works; requirepass holds no stale value', async () => {
    held?.destroy();
    await redis().restart();
    expect(await login(redis(), next)).toBe('PONG');
    expect(await login(redis(), old)).toBe('WRONGPASS');
    expect(await aclPasswords(redis(), next)).toEqual([aclHash(next)]);
    expect(await admin(redis(), next, ['CONFIG', 'GET', 'requirepass'])).toEqual(['requirepass', '']);
    const conf = await readFile(redis().configFile ?? '', 'utf8');
    expect(conf).not.toContain(old);
    expect(conf).not.toContain(next);
    expect(conf).toMatch(new RegExp(`^user default on .*#${aclHash(next)} `, 'm'));
    expect(conf).not.toMatch(/^requirepass/m);
  });
});

describe('revert', () => {
  const old = canary('old');
  const next = canary('new');
  const redis = useRedis({ password: old, mode: 'config' });
  const t = () => targetFor(redis());

  it('revert when stage never ran is fine and leaves the old password alone', async () => {
    await t().revert(ctx, values(old), values(next));
    expect(await aclPasswords(redis(), old)).toEqual([aclHash(old)]);
  });

  it('revert after stage: old accepted, new rejected; twice is fine', async () => {
    const held = await connect(redis(), next).catch(() => undefined);
    expect(held).toBeUndefined();
    await t().stage(ctx, values(old), values(next));
    const viaNew = await connect(redis(), next);
    await t().revert(ctx, values(old), values(next));
    expect(await login(redis(), old)).toBe('PONG');
    expect(await login(redis(), next)).toBe('WRONGPASS');
    await t().revert(ctx, values(old), values(next));
    expect(await aclPasswords(redis(), old)).toEqual([aclHash(old)]);
    // Redis cannot end connections by password (SERVICE-FACTS): one opened with the new one lives on.
    expect(await viaNew.ping()).toBe('PONG');
    viaNew.destroy();
  });

  it('the revert is persisted: after a restart the new password is still rejected', async () => {
    await redis().restart();
    expect(await login(redis(), old)).toBe('PONG');
    expect(await login(redis(), next)).toBe('WRONGPASS');
  });

  it('revert after finish brings the old password back (rollback of a finished rotation)', async () => {
    await t().stage(ctx, values(old), values(next));
    await t().finish(ctx, values(old), values(next));
    expect(await login(redis(), old)).toBe('WRONGPASS');
    await t().revert(ctx, values(old), values(next));
    expect(await login(redis(), old)).toBe('PONG');
    expect(await login(redis(), next)).toBe('WRONGPASS');
  });
});

describe('aclfile mode', () => {
  const old = canary('old');
  const next = canary('new');
  const redis = useRedis({ password: old, mode: 'aclfile' });
  const t = () => targetFor(redis());

  it('inspect detects ACL SAVE', async () => {
    const notes = await t().inspect(ctx, values(old));
    expect(notes.map((n) => n.text).join('\n')).toContain(`ACL SAVE to ${redis().aclFile}`);
  });

  it('rotates, and after a restart only the new password works', async () => {
    await t().stage(ctx, values(old), values(next));
    expect(await readFile(redis().aclFile ?? '', 'utf8')).toContain(`#${aclHash(next)}`);
    await t().finish(ctx, values(old), values(next));
    await redis().restart();
    expect(await login(redis(), next)).toBe('PONG');
    expect(await login(redis(), old)).toBe('WRONGPASS');
    expect(await aclPasswords(redis(), next)).toEqual([aclHash(next)]);
    const acl = await readFile(redis().aclFile ?? '', 'utf8');
    expect(acl).not.toContain(aclHash(old));
    expect(acl).not.toContain(next);
  });
});

describe('cmdline mode (no config file: nothing can be persisted)', () => {
  const old = canary('old');
  const redis = useRedis({ password: old, mode: 'cmdline' });
  const t = () => targetFor(redis());

  it('inspect warns that the rotation lasts only until a restart', async () => {
    const notes = await t().inspect(ctx, values(old));
    expect(notes).toHaveLength(1);
    expect(notes[0]?.level).toBe('warn');
    expect(notes[0]?.text).toMatch(/only until Redis restarts.*deploy passes it/);
  });

  it('afterDeploy fails when the deploy restarted Redis without the new password; revert recovers', async () => {
    const next = canary('new');
    await t().stage(ctx, values(old), values(next));
    await redis().restart(); // same command line: the old password
    expect(await codeOf(t().afterDeploy?.(ctx, values(old), values(next)) ?? Promise.resolve())).toBe(
      'ERR_TARGET_AUTH',
    );
    await t().revert(ctx, values(old), values(next));
    expect(await login(redis(), old)).toBe('PONG');
    expect(await login(redis(), next)).toBe('WRONGPASS');
  });

  it('afterDeploy passes when the deploy restarted Redis with the new password; finish completes', async () => {
    const next = canary('new');
    await t().stage(ctx, values(old), values(next));
    await redis().restart({ password: next }); // the deploy passed the env file's new value
    await t().afterDeploy?.(ctx, values(old), values(next));
    await t().finish(ctx, values(old), values(next));
    expect(await login(redis(), next)).toBe('PONG');
    expect(await login(redis(), old)).toBe('WRONGPASS');
  });

  it('finish refuses to retire the old password when Redis lost the new one', async () => {
    const cur = redis().password;
    const next = canary('new');
    await t().stage(ctx, values(cur), values(next));
    await redis().restart(); // lost
    expect(await codeOf(t().finish(ctx, values(cur), values(next)))).toBe('ERR_TARGET_REJECTED');
    expect(await login(redis(), cur)).toBe('PONG');
  });
});

describe('persist setting', () => {
  const old = canary('old');
  const redis = useRedis({ password: old, mode: 'config' });

  it('acl-save on a server without an aclfile: stage refuses before changing anything', async () => {
    const next = canary('new');
    const t = targetFor(redis(), { persist: 'acl-save' });
    expect(await codeOf(t.stage(ctx, values(old), values(next)))).toBe('ERR_TARGET_REJECTED');
    expect(await aclPasswords(redis(), old)).toEqual([aclHash(old)]);
    const notes = await t.inspect(ctx, values(old));
    expect(notes[0]).toMatchObject({ level: 'warn' });
    await t.revert(ctx, values(old), values(next)); // rollback after the refusal: fine
  });

  it('none: rotates in memory only and never touches the config file', async () => {
    const next = canary('new');
    const t = targetFor(redis(), { persist: 'none' });
    const before = await readFile(redis().configFile ?? '', 'utf8');
    await t.stage(ctx, values(old), values(next));
    await t.finish(ctx, values(old), values(next));
    expect(await login(redis(), next)).toBe('PONG');
    expect(await readFile(redis().configFile ?? '', 'utf8')).toBe(before);
    await redis().restart();
    expect(await login(redis(), old)).toBe('PONG');
  });
});

describe('a non-default ACL user', () => {
  const adminPw = canary('admin');
  const redis = useRedis({ password: adminPw, mode: 'config' });

  it('rotates only that user, persisted across a restart', async () => {
    const old = canary('old');
    const next = canary('new');
    await admin(redis(), adminPw, ['ACL', 'SETUSER', 'app', 'on', `#${aclHash(old)}`, '~*', '&*', '+@all']);
    const t = targetFor(redis(), { user: 'app' });
    await t.checkCurrent(ctx, values(old));
    await t.stage(ctx, values(old), values(next));
    expect(await login(redis(), old, 'app')).toBe('PONG');
    expect(await login(redis(), next, 'app')).toBe('PONG');
    await t.finish(ctx, values(old), values(next));
    await redis().restart();
    expect(await login(redis(), next, 'app')).toBe('PONG');
    expect(await login(redis(), old, 'app')).toBe('WRONGPASS');
    expect(await login(redis(), adminPw)).toBe('PONG');
    expect(await aclPasswords(redis(), adminPw)).toEqual([aclHash(adminPw)]);
  });

  it('persistence that cannot work fails stage before anything changes; revert then only warns', async () => {
    const old = canary('old');
    const next = canary('new');
    const rules = ['on', `#${aclHash(old)}`, '~*', '&*', '+@all', '-config|rewrite'];
    await admin(redis(), adminPw, ['ACL', 'SETUSER', 'ops', ...rules]);
    const t = targetFor(redis(), { user: 'ops' });
    await t.checkCurrent(ctx, values(old));
    // What the journal would keep between stage and a revert run by another process.
    const kept: Record<string, string> = {};
    const facts = {
      get: (name: string) => kept[name],
      record: async (more: Readonly<Record<string, string>>) => void Object.assign(kept, more),
    };
    const err = await t.stage({ ...ctx, facts }, values(old), values(next)).catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_TARGET_PRIVILEGE')).toBe(true);
    expect((err as Error).message).toMatch(/CONFIG REWRITE.*NOPERM/);
    expect(await aclPasswords(redis(), adminPw, 'ops')).toEqual([aclHash(old)]);
    expect(kept).toEqual({ service: 'old', disk: 'old' });
    const warnings: string[] = [];
    const warn = { ...ctx, facts, log: { ...ctx.log, warn: (m: string) => warnings.push(m) } };
    await t.revert(warn, values(old), values(next));
    await t.revert(warn, values(old), values(next));
    expect(warnings).toHaveLength(2);
    expect(await login(redis(), old, 'ops')).toBe('PONG');
  });

  it('a user without ACL rights fails checkCurrent with ERR_TARGET_PRIVILEGE', async () => {
    const pw = canary('weak');
    await admin(redis(), adminPw, [
      'ACL',
      'SETUSER',
      'weak',
      'on',
      `#${aclHash(pw)}`,
      '~*',
      '+@read',
      '+ping',
    ]);
    const t = targetFor(redis(), { user: 'weak' });
    expect(await codeOf(t.checkCurrent(ctx, values(pw)))).toBe('ERR_TARGET_PRIVILEGE');
  });
});

describe('errors', () => {
  const old = canary('old');
  const redis = useRedis({ password: old, mode: 'config' });

  it('checkCurrent with a wrong password: ERR_TARGET_AUTH, message without the password', async () => {
    const wrong = canary('wrong');
    const err = await targetFor(redis())
      .checkCurrent(ctx, values(wrong))
      .catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_TARGET_AUTH')).toBe(true);
    expect(String((err as Error).message)).toMatch(/^REDIS_PASSWORD: Redis 127\.0\.0\.1:\d+ .*WRONGPASS/);
    expect(String((err as Error).message)).not.toContain(wrong);
  });

  it('an empty value: ERR_ENVFILE_MISSING_KEY', async () => {
    expect(await codeOf(targetFor(redis()).checkCurrent(ctx, values('')))).toBe('ERR_ENVFILE_MISSING_KEY');
  });

  it('stage with neither password accepted: ERR_TARGET_AUTH and nothing changed', async () => {
    const t = targetFor(redis());
    expect(await codeOf(t.stage(ctx, values(canary('a')), values(canary('b'))))).toBe('ERR_TARGET_AUTH');
    expect(await aclPasswords(redis(), old)).toEqual([aclHash(old)]);
  });

  it('verify reports a rejected new password as a failed row, never throws', async () => {
    const rows = await targetFor(redis()).verify(ctx, values(canary('nope')));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'Redis Auth', ok: false, expected: 'PONG' });
  });

  it('server down: ERR_TARGET_UNREACHABLE for every operation, quickly', async () => {
    const down = await startRedis({ password: old });
    const t = targetFor(down);
    await down.kill();
    const started = Date.now();
    expect(await codeOf(t.checkCurrent(ctx, values(old)))).toBe('ERR_TARGET_UNREACHABLE');
    expect(await codeOf(t.stage(ctx, values(old), values(canary('n'))))).toBe('ERR_TARGET_UNREACHABLE');
    expect(await codeOf(t.test(ctx, values(old)))).toBe('ERR_TARGET_UNREACHABLE');
    expect(Date.now() - started).toBeLessThan(3000);
    await down.stop();
  });

  it('an aborted signal stops an operation: ERR_INTERRUPTED', async () => {
    const controller = new AbortController();
    controller.abort();
    const t = targetFor(redis());
    expect(await codeOf(t.checkCurrent({ ...ctx, signal: controller.signal }, values(old)))).toBe(
      'ERR_INTERRUPTED',
    );
  });
});
